"""
Tests of the noise estimate and of the residual check.
"""
import numpy as np
import pytest
from scipy import ndimage

from sunpy_enhance.denoise import check_residual, estimate_noise
from sunpy_enhance.exceptions import SunpyEnhanceUserWarning


@pytest.fixture
def scene():
    yy, xx = np.mgrid[:200, :200]
    return np.sin(xx / 9.0) * np.cos(yy / 13.0) + 2 * np.exp(-((xx - 100) ** 2 + (yy - 60) ** 2) / 300.0)


@pytest.mark.parametrize("sigma", [1e-3, 0.1, 10.0])
def test_estimate_noise_white(scene, sigma):
    rng = np.random.default_rng(0)
    noisy = scene * sigma * 5 + sigma * rng.standard_normal(scene.shape)
    assert estimate_noise(noisy) == pytest.approx(sigma, rel=0.05)


def test_estimate_noise_ignores_nans_and_pools_stacks(scene):
    rng = np.random.default_rng(1)
    noisy = scene + 0.2 * rng.standard_normal((3, *scene.shape))
    noisy[0, :50] = np.nan
    assert estimate_noise(noisy) == pytest.approx(0.2, rel=0.05)
    with pytest.raises(ValueError, match="finite"):
        estimate_noise(np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match="2×2"):
        estimate_noise(np.zeros((1, 10)))


def test_estimate_noise_underestimates_correlated_noise():
    rng = np.random.default_rng(2)
    correlated = ndimage.gaussian_filter(rng.standard_normal((200, 200)), 1.0)
    assert estimate_noise(correlated) < 0.5 * correlated.std()


def test_white_residual_passes(scene):
    rng = np.random.default_rng(3)
    noisy = scene + 0.1 * rng.standard_normal(scene.shape)
    check = check_residual(noisy, scene, noise=0.1)
    assert check.is_noise and not check.problems
    assert check.level == pytest.approx(1.0, abs=0.05)
    assert all(abs(v) < 0.05 for v in check.autocorrelation.values())
    assert check.structure == pytest.approx(1.0, abs=0.3)
    assert "looks like white noise" in str(check)


def test_removed_signal_is_detected_and_warned(scene):
    rng = np.random.default_rng(4)
    noisy = scene + 0.1 * rng.standard_normal(scene.shape)
    with pytest.warns(SunpyEnhanceUserWarning, match="not structure-free noise"):
        check = check_residual(noisy, 0.8 * scene, noise=0.1)
    assert not check.is_noise
    assert check.signal_correlation > 0.5 and check.structure > 2


def test_kept_noise_and_wrong_level_are_detected(scene):
    rng = np.random.default_rng(5)
    noise = 0.1 * rng.standard_normal(scene.shape)
    noisy = scene + noise
    # Only half of the noise removed: the residual is weaker than the noise.
    check = check_residual(noisy, scene + 0.5 * noise, noise=0.1, warn=False)
    assert check.level == pytest.approx(0.5, abs=0.05)
    assert any("weaker" in p for p in check.problems)
    # Correct output, but the noise level given is twice too low.
    check = check_residual(noisy, scene, noise=0.05, warn=False)
    assert any("stronger" in p for p in check.problems)


def test_correlated_residual_is_detected(scene):
    rng = np.random.default_rng(6)
    correlated = ndimage.gaussian_filter(rng.standard_normal(scene.shape), 1.0)
    correlated *= 0.1 / correlated.std()
    check = check_residual(scene + correlated, scene, noise=0.1, warn=False)
    assert any("correlated" in p for p in check.problems)
    assert check.autocorrelation[(0, 1)] > 0.5


def test_nans_stacks_and_errors(scene):
    rng = np.random.default_rng(7)
    noisy = scene + 0.1 * rng.standard_normal((2, *scene.shape))
    out = np.broadcast_to(scene, noisy.shape).copy()
    out[0, :20] = np.nan
    check = check_residual(noisy, out, noise=0.1)
    assert check.is_noise and check.pixels == 2 * scene.size - 20 * 200
    # Without a noise level it is estimated from the noisy image.
    assert check_residual(noisy, out).expected_noise == pytest.approx(0.1, rel=0.05)
    with pytest.raises(ValueError, match="same shape"):
        check_residual(noisy, scene[:10])
    with pytest.raises(ValueError, match="too few"):
        check_residual(np.zeros((4, 4)), np.zeros((4, 4)), noise=1)
