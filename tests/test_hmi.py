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
