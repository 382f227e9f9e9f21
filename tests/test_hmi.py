"""
HMI checks: plausibility of what a map claims to hold, pointing keywords.
"""
import numpy as np
import pytest
import sunpy.map

from sunpy_enhance.sample import synthetic_hmi_map


def relabel(smap, kind, data=None):
    """The map with its CONTENT/BUNIT saying ``kind`` (a mislabelled file)."""
    meta = dict(smap.meta)
    meta["content"] = "CONTINUUM INTENSITY" if kind == "continuum" else "MAGNETOGRAM"
    meta["bunit"] = "DN/s" if kind == "continuum" else "Gauss"
    return sunpy.map.Map(smap.data if data is None else data, meta)


@pytest.fixture(scope="module")
def magnetogram():
    return synthetic_hmi_map("magnetogram", shape=(64, 64))


@pytest.fixture(scope="module")
def continuum():
    return synthetic_hmi_map("continuum", shape=(64, 64))


def test_magnetogram_labelled_continuum_is_refused(magnetogram):
    from sunpy_enhance.enhance.api import enhance_map
    from sunpy_enhance.richardson_lucy import richardson_lucy_map

    wrong = relabel(magnetogram, "continuum")
    for method in (enhance_map, richardson_lucy_map):
        with pytest.raises(ValueError, match=r"signed.*magnetogram.*kind='magnetogram'"):
            method(wrong)
    with pytest.raises(ValueError, match="signed"):  # an explicit kind is checked the same way
        enhance_map(magnetogram, kind="continuum")


def test_negative_continuum_is_refused(continuum):
    from sunpy_enhance.enhance.api import enhance_array, enhance_map

    negative = relabel(continuum, "continuum", -continuum.data)
    with pytest.raises(ValueError, match="negative"):
        enhance_map(negative)
    with pytest.raises(ValueError, match="negative"):
        enhance_array(-continuum.data, kind="continuum")


def test_continuum_labelled_magnetogram_is_refused(continuum):
    from sunpy_enhance.denoise import denoise_map
    from sunpy_enhance.enhance.api import enhance_map
    from sunpy_enhance.richardson_lucy import richardson_lucy_map

    wrong = relabel(continuum, "magnetogram")
    for method in (enhance_map, richardson_lucy_map, denoise_map):
        with pytest.raises(ValueError, match=r"positive.*continuum.*kind='continuum'"):
            method(wrong)


def test_quiet_sun_must_be_positive(continuum):
    from sunpy_enhance.enhance.api import enhance_array, enhance_map

    for level in (0, -1.0, np.nan):
        with pytest.raises(ValueError, match="quiet_sun"):
            enhance_map(continuum, quiet_sun=level)
        with pytest.raises(ValueError, match="quiet_sun"):
            enhance_array(continuum.data, kind="continuum", quiet_sun=level)


def test_missing_pointing_is_refused_not_disk_centre(continuum):
    from sunpy_enhance.enhance.api import enhance_map

    for key in ("crval1", "crval2"):
        meta = dict(continuum.meta)
        meta.pop(key)
        with pytest.raises(ValueError, match=key.upper()):
            enhance_map(sunpy.map.Map(continuum.data, meta))


def test_plausible_data_pass(continuum, magnetogram):
    from sunpy_enhance.hmi import check_plausible

    check_plausible(continuum.data, "continuum")
    check_plausible(magnetogram.data, "magnetogram")
    umbra = np.full((8, 8), 2800.0)  # a cutout inside a strong umbra: all positive, but a field
    check_plausible(umbra, "magnetogram")


def sunpy_header_map(name):
    """A map with the header of one of sunpy's real HMI test headers (zeros as data)."""
    from sunpy.data.test import get_dummy_map_from_header, get_test_filepath

    return get_dummy_map_from_header(get_test_filepath(name))


def test_sharp_cea_is_refused_as_reprojected_not_for_its_scale():
    from sunpy_enhance.enhance.api import enhance_map
    from sunpy_enhance.hmi import check_hmi_map
    from sunpy_enhance.richardson_lucy import richardson_lucy_map

    cea = sunpy_header_map("hmi_cea_sharp_magnetogram.header")  # CTYPE1 = 'CRLN-CEA', 0.03 deg/px
    for options in ({}, {"allow_any_scale": True}, {"allow_any_scale": True, "allow_non_hmi": True}):
        with pytest.raises(ValueError, match=r"reprojected to a heliographic cylindrical equal-area \(CEA\)") as info:
            check_hmi_map(cea, **options)
        message = str(info.value)
        assert "CTYPE1='CRLN-CEA'" in message
        assert "hmi.sharp_720s" in message and "sunpy-enhance fetch --cutout" in message
        assert "allow_" not in message  # no override can make these pixels HMI's
        assert "0.504\"/px" in message and "is not HMI's native" not in message
    for method in (enhance_map, richardson_lucy_map):
        with pytest.raises(ValueError, match="SHARP CEA series"):
            method(cea, allow_any_scale=True)

    stonyhurst = dict(cea.meta, ctype1="HGLN-CAR", ctype2="HGLT-CAR")
    with pytest.raises(ValueError, match=r"plate carrée \(CAR\) grid in Stonyhurst"):
        check_hmi_map(sunpy.map.Map(cea.data, stonyhurst))


def test_native_frame_sharp_passes_the_hmi_check():
    from sunpy_enhance.hmi import check_hmi_map

    native = sunpy_header_map("hmi_sharp_magnetogram.header")  # HPLN-TAN at 0.504"/px: what to use instead
    scale = check_hmi_map(native)
    np.testing.assert_allclose(scale, 0.504, rtol=0.01)


@pytest.mark.parametrize(("series", "source", "instead"), [
    ("hmi.M_720s_dconS", "hmi.S_720s_dconS", "hmi.M_720s"),
    ("hmi.Ic_720s_dconS", "hmi.S_720s_dconS", "hmi.Ic_720s"),
    ("hmi.M_45s_dcon", "hmi.lev1_dcon", "hmi.M_45s"),
])
def test_deconvolved_maps_are_refused(tmp_path, series, source, instead):
    from jsoc_server import write_hmi_file

    from sunpy_enhance.enhance.api import enhance_map
    from sunpy_enhance.hmi import check_hmi_map

    smap = sunpy.map.Map(write_hmi_file(tmp_path, series, size=32))  # as JSOC exports it: SOURCE names the input
    assert smap.meta["source"].startswith(source + "[")
    pattern = (rf"already deconvolved \(its SOURCE keyword names {source}\).*expect data blurred by the "
               rf"non-deconvolved HMI PSF.*Use the non-deconvolved series {instead} instead")
    with pytest.raises(ValueError, match=pattern):
        enhance_map(smap)
    with pytest.raises(ValueError, match="already deconvolved"):  # no override lets it through
        check_hmi_map(smap, allow_non_hmi=True, allow_any_scale=True)

    plain = sunpy.map.Map(write_hmi_file(tmp_path / "plain", instead, size=32))
    assert "_dcon" not in plain.meta["source"]
    check_hmi_map(plain)


def test_deconvolved_series_names():
    from sunpy_enhance.hmi import check_not_deconvolved, deconvolved_series, undeconvolved_series

    assert deconvolved_series("hmi.m_720s_dcons.20220928_190000_TAI.3.magnetogram.fits") == "hmi.m_720s_dcons"
    assert deconvolved_series("HISTORY computed from hmi.lev1_dcon[2014.03.01_00:00:40_UTC]") == "hmi.lev1_dcon"
    for text in ("hmi.M_720s", "hmi.S_720s[2014.06.09_23:48:00_TAI]", "aia.lev1_dconvolve", "", None):
        assert deconvolved_series(text) is None
    assert undeconvolved_series("hmi.sharp_720s_dconS") == "hmi.sharp_720s"
    check_not_deconvolved(series="hmi.Ic_720s")
    with pytest.raises(ValueError, match=r"^hmi.V_720s_dconS is already deconvolved: .* series hmi.V_720s inst"):
        check_not_deconvolved(series="hmi.V_720s_dconS")
