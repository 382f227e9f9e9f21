"""
enhance_map / enhance_array behaviour, with small models trained in the session.
"""
import copy

import astropy.units as u
import numpy as np
import pytest
import sunpy.map

from sunpy_enhance.degrade import bin2x2, upsample_x2
from sunpy_enhance.enhance.api import LIMB_MU, classify_map, enhance_array, enhance_map, flux_gain
from sunpy_enhance.exceptions import SunpyEnhanceUserWarning
from sunpy_enhance.io import save_map_atomic
from sunpy_enhance.sample import synthetic_hmi_map
from sunpy_enhance.solar import limb_darkening, mu_from_map


@pytest.fixture(scope="module")
def continuum():
    return synthetic_hmi_map("continuum", shape=(60, 50))


@pytest.fixture(scope="module")
def magnetogram():
    return synthetic_hmi_map("magnetogram", shape=(48, 40))


def test_continuum_map(continuum, tiny_enhance_models):
    before_data = continuum.data.copy()
    before_meta = copy.deepcopy(dict(continuum.meta))
    out = enhance_map(continuum, model=tiny_enhance_models["continuum"])
    assert isinstance(out, sunpy.map.GenericMap)
    assert out.data.shape == (120, 100)
    assert out.data.dtype == np.float32
    assert u.allclose(u.Quantity(out.scale), u.Quantity(continuum.scale) / 2)
    assert out.unit == u.dimensionless_unscaled
    assert out.meta["enhmodel"] == "tiny-continuum"
    assert "Enhance x2" in out.meta["history"]
    # nothing of the caller's is modified
    np.testing.assert_array_equal(continuum.data, before_data)
    assert dict(continuum.meta) == before_meta


def test_quiet_sun_level_recovered(tiny_enhance_models):
    quiet = synthetic_hmi_map("continuum", shape=(50, 50), spot=False)
    out = enhance_map(quiet, model=tiny_enhance_models["continuum"])
    assert out.meta["enhqsun"] == pytest.approx(60000, rel=0.01)  # the sample's disk-centre level


def test_keep_input_units(continuum, tiny_enhance_models):
    """Input units = I/Ic x quiet-Sun level x limb darkening at each output pixel's own mu."""
    normalised = enhance_map(continuum, model=tiny_enhance_models["continuum"])
    restored = enhance_map(continuum, model=tiny_enhance_models["continuum"], keep_input_units=True)
    expected = normalised.data * normalised.meta["enhqsun"] * limb_darkening(mu_from_map(normalised))
    np.testing.assert_allclose(restored.data, expected, rtol=1e-5)
    assert restored.unit == continuum.unit


def test_continuum_mean_is_conserved(tiny_enhance_models):
    """The enhanced continuum keeps the input's mean I/Ic over the field (NaN pixels excluded)."""
    limb = synthetic_hmi_map("continuum", shape=(40, 40), center=(960, 0) * u.arcsec, spot=False)
    with pytest.warns(SunpyEnhanceUserWarning, match="limb"):
        out = enhance_map(limb, model=tiny_enhance_models["continuum"])
    mu = mu_from_map(limb)
    normalised_input = limb.data / limb_darkening(mu) / out.meta["enhqsun"]
    assert np.nanmean(out.data) == pytest.approx(np.nanmean(normalised_input), rel=1e-5)


def test_flux_gain():
    original = np.array([[1.0, 2.0], [np.nan, 1.0]])
    enhanced = np.repeat(np.repeat(original, 2, 0), 2, 1) * 1.1
    assert flux_gain(enhanced, original) == pytest.approx(1 / 1.1, rel=1e-6)


def test_magnetogram_map(magnetogram, tiny_enhance_models):
    out = enhance_map(magnetogram, model=tiny_enhance_models["magnetogram"])
    assert out.unit == magnetogram.unit
    assert out.data.shape == (96, 80)
    assert classify_map(magnetogram) == "magnetogram"


def test_off_disk_nan_never_leaks(tiny_enhance_models):
    limb = synthetic_hmi_map("continuum", shape=(40, 40), center=(960, 0) * u.arcsec, spot=False)
    with pytest.warns(SunpyEnhanceUserWarning, match="limb"):
        out = enhance_map(limb, model=tiny_enhance_models["continuum"])
    off_disk = ~np.isfinite(mu_from_map(limb))
    assert 0.1 < off_disk.mean() < 0.9
    expected_nan = np.repeat(np.repeat(off_disk | ~np.isfinite(limb.data), 2, 0), 2, 1)
    assert np.array_equal(np.isnan(out.data), expected_nan)
    # on-disk output is independent of what the off-disk pixels hold (NaN, huge values, zeros)
    for fill in (1e6, 0.0):
        altered = sunpy.map.Map(np.where(off_disk, fill, limb.data), limb.meta)
        with pytest.warns(SunpyEnhanceUserWarning, match="limb"):
            out2 = enhance_map(altered, model=tiny_enhance_models["continuum"])
        np.testing.assert_array_equal(out.data[~expected_nan], out2.data[~expected_nan])


def test_refuses_non_hmi(continuum, tiny_enhance_models):
    meta = dict(continuum.meta, instrume="AIA_3", telescop="SDO/AIA", detector="AIA")
    aia = sunpy.map.Map(continuum.data, meta)
    with pytest.raises(ValueError, match="allow_non_hmi"):
        enhance_map(aia, model=tiny_enhance_models["continuum"])
    out = enhance_map(aia, kind="continuum", model=tiny_enhance_models["continuum"], allow_non_hmi=True)
    assert out.data.shape == (120, 100)


def test_refuses_wrong_scale(continuum, tiny_enhance_models):
    resampled = continuum.resample([25, 30] * u.pix)
    with pytest.raises(ValueError, match="0.504"):
        enhance_map(resampled, model=tiny_enhance_models["continuum"])


def test_unclassifiable_map_asks_for_kind(continuum, tiny_enhance_models):
    meta = dict(continuum.meta, content="", bunit="")
    unknown = sunpy.map.Map(continuum.data, meta)
    with pytest.raises(ValueError, match="kind="):
        enhance_map(unknown, model=tiny_enhance_models["continuum"])
    assert enhance_map(unknown, kind="continuum", model=tiny_enhance_models["continuum"]).data.shape == (120, 100)


def test_model_kind_mismatch(magnetogram, tiny_enhance_models):
    with pytest.raises(ValueError, match="continuum"):
        enhance_map(magnetogram, model=tiny_enhance_models["continuum"])


def test_array_api(tiny_enhance_models):
    rng = np.random.default_rng(0)
    field = 100 * rng.standard_normal((30, 20))
    field[3, 4] = np.nan
    out = enhance_array(field, kind="magnetogram", model=tiny_enhance_models["magnetogram"])
    assert isinstance(out, np.ndarray) and out.shape == (60, 40)
    assert np.isnan(out[6:8, 8:10]).all() and np.isfinite(out).sum() == out.size - 4
    with pytest.raises(ValueError, match="2-D"):
        enhance_array(field[0], kind="magnetogram", model=tiny_enhance_models["magnetogram"])
    with pytest.raises(ValueError, match="kind"):
        enhance_array(field, kind="dopplergram")


def test_bfloat16_close_to_float32(continuum, tiny_enhance_models, monkeypatch):
    monkeypatch.setenv("SUNPY_ENHANCE_EMULATE_BFLOAT16", "1")  # bfloat16 also where the CPU only emulates it
    f32 = enhance_map(continuum, model=tiny_enhance_models["continuum"])
    bf16 = enhance_map(continuum, model=tiny_enhance_models["continuum"], precision="bfloat16")
    diff = f32.data - bf16.data
    # a toy model: bfloat16 keeps ~3 significant digits per layer; the real models are measured in benchmarks/
    assert 0 < np.sqrt(np.nanmean(diff**2)) < 0.05 * np.nanstd(f32.data)


def test_input_without_limb_darkening_is_recognised(tiny_enhance_models):
    """An hmi.Ic_noLimbDark_720s-like image (limb darkening already divided out) is not divided again."""
    import sunpy.map

    strip = synthetic_hmi_map("continuum", shape=(24, 1900), center=(470, 0) * u.arcsec, spot=False)
    mu = mu_from_map(strip)
    flat = sunpy.map.Map(strip.data / limb_darkening(mu), strip.meta)
    with pytest.warns(SunpyEnhanceUserWarning, match="limb"):
        darkened = enhance_map(strip, model=tiny_enhance_models["continuum"])
    with pytest.warns(SunpyEnhanceUserWarning, match="limb"):
        removed = enhance_map(flat, model=tiny_enhance_models["continuum"])
    assert "already removed" in removed.meta["history"]
    assert "already removed" not in darkened.meta["history"]
    # both are normalised to the same I/Ic
    np.testing.assert_allclose(removed.data, darkened.data, rtol=2e-4, atol=2e-4)
    with pytest.warns(SunpyEnhanceUserWarning, match="limb"):
        restored = enhance_map(flat, model=tiny_enhance_models["continuum"], keep_input_units=True)
    assert np.nanmedian(restored.data) == pytest.approx(np.nanmedian(flat.data), rel=0.01)


# -- non-finite, impossible and masked values: missing, never spreading -------------------------------
@pytest.mark.parametrize("bad", [np.inf, -np.inf, 1e30, -2147483648.0])
def test_one_impossible_pixel_stays_in_its_children(bad):
    smap = synthetic_hmi_map("continuum", shape=(64, 64))
    data = smap.data.copy()
    data[10, 20] = bad
    smap = sunpy.map.Map(data, smap.meta)
    with pytest.warns(SunpyEnhanceUserWarning, match=r"1 pixel.*treated as missing") as record:
        out = enhance_map(smap)
    assert sum("treated as missing" in str(w.message) for w in record) == 1
    expected = np.ones((128, 128), dtype=bool)
    expected[20:22, 40:42] = False
    np.testing.assert_array_equal(np.isfinite(out.data), expected)
    np.testing.assert_array_equal(out.mask, ~expected)


def test_plus_and_minus_inf_together_are_counted():
    smap = synthetic_hmi_map("magnetogram", shape=(64, 64))
    data = smap.data.copy()
    data[5, 5], data[40, 30], data[50, 50] = np.inf, -np.inf, 1e30
    with pytest.warns(SunpyEnhanceUserWarning, match=r"3 pixels.*1 \+inf, 1 -inf, 1 .*1e\+20") as record:
        out = enhance_map(sunpy.map.Map(data, smap.meta))
    assert sum("treated as missing" in str(w.message) for w in record) == 1
    assert np.isfinite(out.data).sum() == 128 * 128 - 3 * 4


def test_integer_data_with_unapplied_blank(tiny_enhance_models):
    smap = synthetic_hmi_map("magnetogram", shape=(64, 64))
    data = np.round(smap.data).astype(np.int32)
    data[30, 31] = -2147483648
    with pytest.warns(SunpyEnhanceUserWarning, match="treated as missing"):
        out = enhance_map(sunpy.map.Map(data, smap.meta), model=tiny_enhance_models["magnetogram"])
    assert (~np.isfinite(out.data)).sum() == 4 and np.isnan(out.data[60:62, 62:64]).all()


def test_masks_are_honoured_and_carried(tiny_enhance_models):
    smap = synthetic_hmi_map("magnetogram", shape=(64, 64))
    mask = np.zeros(smap.data.shape, dtype=bool)
    mask[:, :8] = True
    data = smap.data.copy()
    data[:, :8] = 1e5  # masked values must not reach the network
    out = enhance_map(sunpy.map.Map(data, smap.meta, mask=mask), model=tiny_enhance_models["magnetogram"])
    np.testing.assert_array_equal(out.mask, np.repeat(np.repeat(mask, 2, axis=0), 2, axis=1))
    assert np.isnan(out.data[:, :16]).all() and np.isfinite(out.data[:, 16:]).all()
    assert np.nanmax(np.abs(out.data)) < 1e4
    # a numpy masked array given to enhance_array: masked = missing
    masked = np.ma.MaskedArray(data, mask=mask)
    arr = enhance_array(masked, kind="magnetogram", model=tiny_enhance_models["magnetogram"])
    assert np.isnan(arr[:, :16]).all() and np.isfinite(arr[:, 16:]).all()


@pytest.mark.parametrize("kind", ["continuum", "magnetogram"])
def test_mask_marks_the_limb_off_disk_and_missing(kind, tiny_enhance_models, tmp_path):
    """The output mask: the 2 x 2 children of off-disk, missing and mu < LIMB_MU pixels; limb values kept."""
    smap = synthetic_hmi_map(kind, shape=(24, 160), center=(940, 0) * u.arcsec, spot=False)
    mu = mu_from_map(smap)
    on_disk = np.isfinite(mu)
    limb = on_disk & (mu < LIMB_MU)
    reliable = on_disk & (mu >= LIMB_MU)
    assert min(limb.mean(), reliable.mean(), (~on_disk).mean()) > 0.1  # the field holds all three
    data = smap.data.copy()
    row, col = np.argwhere(reliable)[len(np.argwhere(reliable)) // 2]
    data[row, col] = np.nan  # one missing pixel where mu is fine
    with pytest.warns(SunpyEnhanceUserWarning, match="limb"):
        out = enhance_map(sunpy.map.Map(data, smap.meta), model=tiny_enhance_models[kind])

    def children(pixels):
        return np.repeat(np.repeat(pixels, 2, axis=0), 2, axis=1)

    missing = ~on_disk | ~np.isfinite(data)
    np.testing.assert_array_equal(out.mask, children(missing | limb))
    # the limb pixels keep their enhanced values: only the off-disk and missing ones are NaN
    np.testing.assert_array_equal(np.isnan(out.data), children(missing))
    # the output's own mu agrees with the mask away from the mu = 0.3 boundary
    mu_out = mu_from_map(out)
    clear = ~children(missing) & (np.abs(mu_out - LIMB_MU) > 0.01)
    assert clear.mean() > 0.5
    np.testing.assert_array_equal(out.mask[clear], mu_out[clear] < LIMB_MU)
    # FITS keeps the data and header, not the mask; the limb pixels are found again from mu
    back = sunpy.map.Map(save_map_atomic(out, tmp_path / "limb.fits"))
    np.testing.assert_array_equal(back.data, out.data)
    np.testing.assert_array_equal((mu_from_map(back) < LIMB_MU)[clear], out.mask[clear])


def test_no_mask_away_from_the_limb(continuum, tiny_enhance_models):
    """A complete field at mu > LIMB_MU: nothing is masked."""
    assert np.nanmin(mu_from_map(continuum)) > LIMB_MU and np.isfinite(continuum.data).all()
    out = enhance_map(continuum, model=tiny_enhance_models["continuum"])
    assert not out.mask.any()


def test_quiet_sun_as_a_quantity(tiny_enhance_models):
    """quiet_sun may be an astropy Quantity in any unit convertible to the map's; a wrong unit is refused."""
    import astropy.units as u

    from sunpy_enhance.enhance import enhance_map
    from sunpy_enhance.sample import synthetic_hmi_map

    hmi = synthetic_hmi_map("continuum", shape=(32, 32))
    model = tiny_enhance_models["continuum"]
    plain = enhance_map(hmi, model=model, quiet_sun=60000.0)
    quantity = enhance_map(hmi, model=model, quiet_sun=3.6e6 * u.Unit("DN/min"))
    np.testing.assert_allclose(quantity.data, plain.data, rtol=1e-6)
    assert quantity.meta["enhqsun"] == pytest.approx(60000.0)
    with pytest.raises(ValueError, match="cannot be converted"):
        enhance_map(hmi, model=model, quiet_sun=1 * u.G)


def _stored_rotated(smap):
    """The same sky stored the other way round: data rotated by 180°, the rotation matrix negated (CROTA2 + 180°),
    the reference pixel moved."""
    meta = copy.deepcopy(dict(smap.meta))
    ny, nx = smap.data.shape
    for key in ("pc1_1", "pc1_2", "pc2_1", "pc2_2"):
        meta[key] = -meta[key]
    meta["crpix1"], meta["crpix2"] = nx + 1 - meta["crpix1"], ny + 1 - meta["crpix2"]
    return sunpy.map.Map(smap.data[::-1, ::-1].copy(), meta)


@pytest.mark.parametrize("kind", ["continuum", "magnetogram"])
def test_result_does_not_depend_on_storage_orientation(kind):
    """
    The same sky stored at CROTA2 ≈ 180° (as HMI stores it) and ≈ 0° gives the same enhanced sky. Run as
    stored, the bundled networks differed by 20-25% of the detail they add; the north-up view makes it exact.
    """
    smap = synthetic_hmi_map(kind, shape=(64, 56), seed=4)
    other = _stored_rotated(smap)
    # same sky: the world coordinate of a pixel and of its rotated twin agree
    ny, nx = smap.data.shape
    a = smap.pixel_to_world(3 * u.pix, 5 * u.pix)
    b = other.pixel_to_world((nx - 1 - 3) * u.pix, (ny - 1 - 5) * u.pix)
    assert a.separation(b) < 1e-6 * u.arcsec
    out, out_other = enhance_map(smap), enhance_map(other)
    back = out_other.data[::-1, ::-1]
    detail = out.data - upsample_x2(bin2x2(out.data))  # the sub-pixel detail of the output
    rms_detail = np.sqrt(np.nanmean(detail**2))
    assert np.sqrt(np.nanmean((out.data - back) ** 2)) < 0.05 * rms_detail
    np.testing.assert_allclose(back, out.data, atol=1e-4 if kind == "continuum" else 0.05)
    # and the output's WCS matches its storage: the same output pixel twins point at the same sky
    oy, ox = out.data.shape
    a = out.pixel_to_world(7 * u.pix, 2 * u.pix)
    b = out_other.pixel_to_world((ox - 1 - 7) * u.pix, (oy - 1 - 2) * u.pix)
    assert a.separation(b) < 1e-6 * u.arcsec
