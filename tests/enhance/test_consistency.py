import numpy as np
import pytest
from scipy import ndimage

from sunpy_enhance.degrade import reobserve_hmi
from sunpy_enhance.diagnostics import forward_residual
from sunpy_enhance.enhance.consistency import back_project


def _scene(shape=(96, 96), seed=0):
    """A granulation-like scene at 0.252″/px: smoothed noise around 1."""
    rng = np.random.default_rng(seed)
    return 1 + 0.1 * ndimage.gaussian_filter(rng.standard_normal(shape), 2, mode="wrap")


def test_a_consistent_image_is_left_unchanged():
    scene = _scene()
    out = back_project(scene, reobserve_hmi(scene), smoothing=2)
    np.testing.assert_allclose(out, scene, atol=1e-12)


@pytest.mark.parametrize("smoothing", [0, 1, 2])
def test_a_wrong_level_is_removed_in_one_step(smoothing):
    scene = _scene()
    out = back_project(scene + 0.05, reobserve_hmi(scene), smoothing=smoothing)
    np.testing.assert_allclose(out, scene, atol=1e-10)


def test_large_scale_errors_are_corrected_and_fine_detail_kept():
    scene = _scene(seed=1)
    yy, xx = np.mgrid[:96, :96]
    blob = 0.1 * np.exp(-((yy - 48) ** 2 + (xx - 40) ** 2) / (2 * 12.0 ** 2))  # e.g. a brightened umbra
    wrong = scene + blob
    observed = reobserve_hmi(scene)
    out = back_project(wrong, observed, smoothing=2)
    before = forward_residual(observed, wrong, border=8).rms
    after = forward_residual(observed, out, border=8).rms
    assert after < 0.3 * before
    assert np.sqrt(np.mean((out - scene) ** 2)) < 0.3 * np.sqrt(np.mean(blob ** 2))
    # the sub-HMI-pixel detail the estimate carries is not smoothed away
    detail = wrong - ndimage.uniform_filter(wrong, 4)
    kept = out - ndimage.uniform_filter(out, 4)
    assert np.corrcoef(detail.ravel(), kept.ravel())[0, 1] > 0.98


def test_float32_stays_float32_and_nan_does_not_spread():
    scene = _scene().astype(np.float32)
    observed = reobserve_hmi(scene)
    assert observed.dtype == np.float32
    wrong = scene + np.float32(0.02)
    wrong[:, :20] = np.nan
    observed_nan = observed.copy()
    observed_nan[:, :10] = np.nan
    out = back_project(wrong, observed_nan, smoothing=2)
    assert out.dtype == np.float32
    assert np.isnan(out[:, :20]).all()
    assert np.isfinite(out[:, 20:]).all()
    # away from the missing part the level is corrected as without it
    np.testing.assert_allclose(out[:, 60:], scene[:, 60:], atol=2e-3)


def test_shape_mismatch_is_explained():
    with pytest.raises(ValueError, match="not twice"):
        back_project(np.ones((10, 10)), np.ones((10, 10)), smoothing=1)


def test_reobserve_hmi_leaves_nan_out():
    scene = _scene()
    holed = scene.copy()
    holed[40:44, 40:44] = np.nan
    out = reobserve_hmi(holed)
    assert np.isnan(out[20:22, 20:22]).all()
    assert np.isfinite(out).sum() == out.size - 4
    np.testing.assert_allclose(out[:, 40:], reobserve_hmi(scene)[:, 40:], atol=5e-3)
