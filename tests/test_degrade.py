"""
Tests of the forward model: observation, training pairs, 2×2 binning, re-observation, and the
degraded MURaM simulation against real HMI quiet Sun.
"""
import astropy.units as u
import numpy as np
import pytest

from sunpy_enhance.degrade import (
    ENHANCED_PIXEL_SCALE,
    HMI_PIXEL_SCALE,
    bin2x2,
    observe,
    reobserve_hmi,
    training_pair,
)
from sunpy_enhance.diagnostics import granulation_contrast, power_spectrum
from sunpy_enhance.psf import hmi_psf


def test_pixel_scales():
    assert HMI_PIXEL_SCALE == 0.504 * u.arcsec
    assert ENHANCED_PIXEL_SCALE == 0.252 * u.arcsec


def test_bin2x2_inverts_nearest_upsampling_and_propagates_nan():
    a = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(bin2x2(np.repeat(np.repeat(a, 2, 0), 2, 1)), a)
    b = np.ones((4, 5))
    b[0, 0] = np.nan
    out = bin2x2(b)
    assert out.shape == (2, 2)
    assert np.isnan(out[0, 0]) and np.isfinite(out[1:, :]).all() and np.isfinite(out[0, 1])


def test_observe_conserves_a_flat_field_and_the_mean_of_a_periodic_frame():
    kernel = hmi_psf(0.1 * u.arcsec, radius=3 * u.arcsec)
    flat = np.full((120, 120), 3.0)
    np.testing.assert_allclose(observe(flat, 0.1 * u.arcsec, kernel, 0.5 * u.arcsec), 3.0, rtol=1e-12)
    rng = np.random.default_rng(1)
    frame = rng.random((200, 200))
    # detector pixels tiling the frame exactly: first corner on the frame's own corner
    out = observe(frame, 0.1 * u.arcsec, kernel, 0.5 * u.arcsec, boundary="wrap", origin=(-0.5, -0.5))
    assert out.shape == (40, 40)
    assert out.mean() == pytest.approx(frame.mean(), rel=1e-3)
    assert out.std() < frame.std() / 5


def test_observe_rejects_finer_output():
    with pytest.raises(ValueError, match="coarser"):
        observe(np.ones((10, 10)), 0.5 * u.arcsec, np.ones((1, 1)), 0.1 * u.arcsec)


def test_training_pair_shapes_and_levels():
    rng = np.random.default_rng(2)
    frame = 1 + 0.1 * rng.standard_normal((152, 152))
    hmi, target = training_pair(frame, 0.0662 * u.arcsec, boundary="wrap")
    assert target.shape == (2 * hmi.shape[0], 2 * hmi.shape[1])
    assert hmi.shape == (19, 19)  # floor((152 - 0.5 + 0.5) / 7.61)
    assert hmi.mean() == pytest.approx(1, abs=5e-3) and target.mean() == pytest.approx(1, abs=5e-3)
    # the 28 cm target keeps more contrast than the HMI-like input
    assert target.std() > hmi.std()


def test_reobserve_hmi_of_a_flat_image_and_of_nearest_upsampling():
    np.testing.assert_allclose(reobserve_hmi(np.full((40, 40), 2.0)), 2.0, rtol=1e-12)
    rng = np.random.default_rng(3)
    scene = rng.random((60, 60))
    out = reobserve_hmi(scene)
    assert out.shape == (30, 30)
    # the same as convolving at 0.252"/px and binning by hand (interior, away from the mirrored edges)
    from scipy.signal import fftconvolve

    psf = hmi_psf(0.252 * u.arcsec)
    big = np.pad(scene, 72, mode="symmetric")
    manual = bin2x2(fftconvolve(big, psf, mode="valid"))
    np.testing.assert_allclose(out, manual, rtol=1e-10)


@pytest.mark.shared_data
def test_degraded_muram_matches_real_hmi_quiet_sun(shared_data):
    """The paper's check: MURaM degraded with the modified HMI PSF has real HMI's granulation contrast."""
    frame = np.load(shared_data / "highres" / "muram_qs_continuum_48km.npy").astype(float)
    frame /= frame.mean()
    hmi_like, target = training_pair(frame, 0.0662 * u.arcsec, boundary="wrap")
    real = np.load(shared_data / "hmi" / "hmi_qs_patch_dns.npy").astype(float)
    c_hmi_like = granulation_contrast(hmi_like, region=np.s_[:, :])
    c_real = granulation_contrast(real, region=np.s_[:, :])
    c_target = granulation_contrast(target, region=np.s_[:, :])
    assert c_real == pytest.approx(0.037, abs=0.001)
    assert c_hmi_like == pytest.approx(c_real, abs=0.003)
    assert 0.07 < c_target < 0.10
    # power spectra of the relative fluctuations agree within a factor 2 from 0.05 to 0.3 px⁻¹
    ps_sim = power_spectrum(hmi_like, normalize="mean")
    ps_real = power_spectrum(real, normalize="mean")
    nu = np.linspace(0.05, 0.3, 11)
    ratio = np.interp(nu, ps_sim.frequency, ps_sim.power) / np.interp(nu, ps_real.frequency, ps_real.power)
    assert np.all(np.abs(np.log10(ratio)) < np.log10(2))
    # with the reference (narrower) PSF the degraded simulation is too sharp
    from sunpy_enhance.psf import WACHTER_REFERENCE

    sharper, _ = training_pair(frame, 0.0662 * u.arcsec, boundary="wrap",
                               input_psf=hmi_psf(0.0662 * u.arcsec, **WACHTER_REFERENCE))
    assert granulation_contrast(sharper, region=np.s_[:, :]) > c_hmi_like + 0.002


def test_convolution_in_strips_equals_the_whole_image(monkeypatch):
    from sunpy_enhance import degrade

    image = np.random.default_rng(3).standard_normal((130, 70))
    kernel = np.random.default_rng(4).random((9, 9))
    whole = degrade._convolve(image, kernel, "reflect")
    monkeypatch.setattr(degrade, "_STRIP_ROWS", 16)
    np.testing.assert_allclose(degrade._convolve(image, kernel, "reflect"), whole, atol=1e-12)
    assert degrade._convolve(image.astype(np.float32), kernel, "reflect").dtype == np.float32


def test_upsample_x2_is_exact_for_planes_and_inverts_bin2x2():
    """On Enhance's ×2 grid (children at p ∓ 1/4) a plane is reproduced exactly, edges included."""
    from sunpy_enhance.degrade import bin2x2, upsample_x2

    y, x = np.mgrid[0:7, 0:9].astype(float)
    plane = 2.0 + 0.3 * x - 0.7 * y
    up = upsample_x2(plane)
    assert up.shape == (14, 18)
    yy, xx = (np.arange(14) - 0.5) / 2, (np.arange(18) - 0.5) / 2  # child centres in input pixel coordinates
    expected = 2.0 + 0.3 * xx[None, :] - 0.7 * yy[:, None]
    np.testing.assert_allclose(up, expected, atol=1e-12)
    np.testing.assert_allclose(bin2x2(up), plane, atol=1e-12)
    # NaN spreads to its own children only
    holed = plane.copy()
    holed[3, 4] = np.nan
    out = upsample_x2(holed)
    assert np.isnan(out).sum() == 4 and np.isnan(out[6:8, 8:10]).all()
