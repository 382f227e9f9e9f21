"""
The x2 refined grid: header values and world coordinates of every pixel centre.
"""
import warnings

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.coordinates import SkyCoord
from sunpy.coordinates import frames
from sunpy.map.header_helper import make_fitswcs_header

from sunpy_enhance.header import STALE_KEYWORDS, add_provenance, refined_meta


def _map(kind, shape=(40, 50)):
    observer = SkyCoord(0 * u.deg, -7 * u.deg, 1 * u.AU, frame=frames.HeliographicStonyhurst,
                        obstime="2014-03-01")
    ref = SkyCoord(200 * u.arcsec, -300 * u.arcsec,
                   frame=frames.Helioprojective(observer=observer, obstime="2014-03-01"))
    rotation = {"pc": 12 * u.deg, "cd": 12 * u.deg, "crota": 179.93 * u.deg}[kind]
    header = make_fitswcs_header(np.zeros(shape), ref, reference_pixel=[20.3, 17.8] * u.pix,
                                 scale=[0.504, 0.504] * u.arcsec / u.pix, rotation_angle=rotation,
                                 instrument="HMI", telescope="SDO/HMI")
    if kind == "cd":
        pc = np.array([[header.pop("pc1_1"), header.pop("pc1_2")], [header.pop("pc2_1"), header.pop("pc2_2")]])
        cdelt = np.array([header.pop("cdelt1"), header.pop("cdelt2")])
        cd = pc * cdelt[:, None]
        for i in range(2):
            for j in range(2):
                header[f"cd{i + 1}_{j + 1}"] = cd[i, j]
    if kind == "crota":
        for key in ("pc1_1", "pc1_2", "pc2_1", "pc2_2"):
            header.pop(key)
        header["crota2"] = 179.93
    header.update({"r_sun": 1900.0, "datamin": 1.0, "datamax": 2.0, "blank": -32768, "totvals": 2000})
    return sunpy.map.Map(np.random.default_rng(0).random(shape), header)


@pytest.mark.parametrize("kind", ["pc", "cd", "crota"])
def test_every_input_pixel_centre_lands_at_2p_plus_half(kind):
    smap = _map(kind)
    fine = sunpy.map.Map(np.zeros((80, 100)), refined_meta(smap.meta))
    rows, cols = np.mgrid[0:40, 0:50]
    before = smap.pixel_to_world(cols.ravel() * u.pix, rows.ravel() * u.pix)
    after = fine.pixel_to_world((2 * cols.ravel() + 0.5) * u.pix, (2 * rows.ravel() + 0.5) * u.pix)
    assert np.max(before.separation(after).to_value(u.arcsec)) < 1e-6
    # and the refined pixels are half the size
    assert u.allclose(u.Quantity(fine.scale), u.Quantity(smap.scale) / 2)


def test_header_values_and_stale_keywords():
    smap = _map("crota")
    original = dict(smap.meta)
    meta = refined_meta(smap.meta)
    assert meta["crpix1"] == pytest.approx(2 * original["crpix1"] - 0.5)
    assert meta["crpix2"] == pytest.approx(2 * original["crpix2"] - 0.5)
    assert meta["cdelt1"] == pytest.approx(original["cdelt1"] / 2)
    assert meta["crota2"] == original["crota2"]
    assert meta["crval1"] == original["crval1"]
    assert meta["r_sun"] == pytest.approx(2 * original["r_sun"])
    assert not any(key in meta for key in STALE_KEYWORDS)
    assert dict(smap.meta) == original  # the caller's metadata is untouched


def test_cd_matrix_is_halved():
    smap = _map("cd")
    meta = refined_meta(smap.meta)
    for key in ("cd1_1", "cd1_2", "cd2_1", "cd2_2"):
        assert meta[key] == pytest.approx(smap.meta[key] / 2)


def test_provenance_and_fits_round_trip(tmp_path):
    smap = _map("crota")
    meta = add_provenance(refined_meta(smap.meta), "test step", enhmodel="tiny")
    fine = sunpy.map.Map(np.ones((80, 100), dtype=np.float32), meta)
    path = tmp_path / "fine.fits"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fine.save(path)
        back = sunpy.map.Map(path)
    assert "sunpy-enhance" in str(back.meta["history"])
    assert back.meta["enhmodel"] == "tiny"
    c = back.pixel_to_world(10 * u.pix, 20 * u.pix)
    assert c.separation(fine.pixel_to_world(10 * u.pix, 20 * u.pix)) < 1e-6 * u.arcsec


def test_long_keyword_rejected():
    with pytest.raises(ValueError, match="longer than 8"):
        add_provenance(refined_meta({}), "x", toolongkey=1)


def test_provenance_in_a_fits_header():
    # outputs that are not maps (denoised cubes) get the same keywords in their FITS header
    from astropy.io import fits

    header = fits.Header({"OBSERVER": "test"})
    header.add_history("earlier step")
    assert add_provenance(header, "denoised with model x", enhmeth="denoise", enhmodel="x") is header
    assert header["ENHMETH"] == "denoise" and header["ENHMODEL"] == "x" and header["ENHVER"]
    assert list(header["HISTORY"])[0] == "earlier step"
    assert "".join(list(header["HISTORY"])[1:]).endswith("denoised with model x")
    before = len(header["HISTORY"])
    with pytest.raises(ValueError, match="longer than 8"):
        add_provenance(header, "x", toolongkey=1)
    assert "TOOLONGKEY" not in header and len(header["HISTORY"]) == before  # nothing written
