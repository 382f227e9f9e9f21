"""
Tests of the PSF kernels: normalisation, analytic properties, and the exact 2:1 grids of the degradation.
"""
import astropy.units as u
import numpy as np
import pytest
from scipy.special import jn_zeros

from sunpy_enhance.degrade import observe, training_pair
from sunpy_enhance.psf import (
    ENHANCE_APERTURE,
    ENHANCE_MODIFIED,
    HMI_APERTURE,
    HMI_WAVELENGTH,
    WACHTER_REFERENCE,
    airy_profile,
    airy_psf,
    hmi_psf,
    hmi_psf_profile,
    kernel_from_profile,
)


@pytest.mark.parametrize("scale", [0.0662, 0.252, 0.504, 1.0])
def test_kernels_sum_to_one_and_are_centred(scale):
    for kernel in (hmi_psf(scale * u.arcsec), airy_psf(scale * u.arcsec),
                   hmi_psf(scale * u.arcsec, **WACHTER_REFERENCE)):
        assert kernel.ndim == 2 and kernel.shape[0] == kernel.shape[1] and kernel.shape[0] % 2 == 1
        assert kernel.sum() == pytest.approx(1, abs=1e-12)
        assert np.all(kernel >= 0)
        c = kernel.shape[0] // 2
        assert np.unravel_index(np.argmax(kernel), kernel.shape) == (c, c)
        # azimuthal symmetry: the kernel is invariant under transposition and flips
        np.testing.assert_allclose(kernel, kernel.T, atol=1e-15)
        np.testing.assert_allclose(kernel, kernel[::-1, ::-1], atol=1e-15)


def test_hmi_kernel_support_holds_the_tail():
    # ±18" at 0.252"/px = ±72 px: the default kernel reaches 18" in every direction
    assert hmi_psf(0.252 * u.arcsec).shape == (145, 145)
    assert hmi_psf(0.504 * u.arcsec).shape == (73, 73)
    # the light of the infinite profile beyond the default 18" radius is small: integrate the
    # profile numerically in 2-D (2π θ P(θ) dθ) inside and outside
    theta = np.linspace(0, 2000, 2_000_001)
    profile = hmi_psf_profile(theta * u.arcsec) * theta
    inside = np.trapezoid(profile[theta <= 18], theta[theta <= 18])
    total = np.trapezoid(profile, theta)
    assert 0.95 < inside / total < 0.995


def test_point_source_gives_back_the_psf():
    """Observing a point source with detector pixels equal to the frame's returns the kernel itself."""
    kernel = hmi_psf(0.504 * u.arcsec)
    h = kernel.shape[0] // 2
    frame = np.zeros((3 * h, 3 * h + 10))
    y0, x0 = 50, 61
    frame[y0, x0] = 1.0
    image = observe(frame, 0.504 * u.arcsec, kernel, 0.504 * u.arcsec, origin=(-0.5, -0.5),
                    boundary="wrap")
    assert image.shape == frame.shape
    np.testing.assert_allclose(np.roll(image, (h - y0, h - x0), axis=(0, 1))[:2 * h + 1, :2 * h + 1],
                               kernel, atol=1e-12)


def test_kernel_matches_profile_shape():
    """Away from the centre, pixel-integrated kernel values follow the profile."""
    scale = 0.1 * u.arcsec
    kernel = hmi_psf(scale, radius=5 * u.arcsec)
    c = kernel.shape[0] // 2
    theta = np.arange(5, 40) * scale
    expected = hmi_psf_profile(theta)
    measured = kernel[c, c + 5:c + 40]
    ratio = measured / expected
    # constant ratio (the normalisation) up to the pixel-integration error
    np.testing.assert_allclose(ratio / ratio.mean(), 1, rtol=5e-3)


def test_airy_first_zero_at_1_22_lambda_over_d():
    first_zero = (jn_zeros(1, 1)[0] / np.pi * HMI_WAVELENGTH / ENHANCE_APERTURE).to_value(u.one) * u.rad
    in_units_of_lambda_over_d = (first_zero / (HMI_WAVELENGTH / ENHANCE_APERTURE * u.rad)).to_value(u.one)
    assert in_units_of_lambda_over_d == pytest.approx(1.2197, abs=1e-4)
    assert float(airy_profile(first_zero)) < 1e-20
    # the first minimum of the sampled profile sits there, 0.555" for 28 cm at 6173 Å
    theta = np.linspace(0.01, 0.8, 79_001) * u.arcsec
    profile = airy_profile(theta)
    first_min = theta[np.argmax(np.diff(profile) > 0)]
    assert first_min.to_value(u.arcsec) == pytest.approx(first_zero.to_value(u.arcsec), abs=2e-5)
    assert first_zero.to_value(u.arcsec) == pytest.approx(0.555, abs=1e-3)
    # and it scales as 1/D: twice as far out for the 14 cm aperture
    assert float(airy_profile(2 * first_zero, diameter=HMI_APERTURE)) < 1e-20


def test_airy_kernel_normalised_at_fine_sampling_and_dark_ring_visible():
    scale = 0.02 * u.arcsec
    kernel = airy_psf(scale, radius=2 * u.arcsec)
    c = kernel.shape[0] // 2
    cut = kernel[c, c:]
    ring = int(round(0.555 / 0.02))
    assert np.argmin(cut[:40]) in (ring - 1, ring, ring + 1)
    assert cut[ring] < 1e-3 * cut[0]


def test_reference_and_modified_parameters():
    assert WACHTER_REFERENCE == {"epsilon": 0.1, "omega": 1.8, "k": 3.0, "width": 3.0}
    assert ENHANCE_MODIFIED == {"epsilon": 0.1, "omega": 2.0, "k": 3.0, "width": 3.4}
    # the formula, evaluated by hand at r = 2 (θ = 2 λ / (π D))
    theta = (2 * HMI_WAVELENGTH / (np.pi * HMI_APERTURE)).to_value(u.one) * u.rad
    ref = 0.9 * np.exp(-(2 / 1.8) ** 2) + 0.1 / (1 + (2 / 3.0) ** 3)
    mod = 0.9 * np.exp(-(2 / 2.0) ** 2) + 0.1 / (1 + (2 / 3.4) ** 3)
    assert float(hmi_psf_profile(theta, **WACHTER_REFERENCE)) == pytest.approx(ref, rel=1e-12)
    assert float(hmi_psf_profile(theta)) == pytest.approx(mod, rel=1e-12)
    # the modified PSF is broader: lower peak, more light outside 1"
    fine = 0.05 * u.arcsec
    k_ref = hmi_psf(fine, radius=4 * u.arcsec, **WACHTER_REFERENCE)
    k_mod = hmi_psf(fine, radius=4 * u.arcsec)
    c = k_ref.shape[0] // 2
    assert k_mod[c, c] < k_ref[c, c]
    yy, xx = np.mgrid[-c:c + 1, -c:c + 1] * fine.to_value(u.arcsec)
    outside = np.hypot(yy, xx) > 1
    assert k_mod[outside].sum() > k_ref[outside].sum()


def test_hmi_fwhm_about_one_arcsec():
    fine = 0.01 * u.arcsec
    kernel = hmi_psf(fine, radius=2 * u.arcsec)
    c = kernel.shape[0] // 2
    cut = kernel[c, c:] / kernel[c, c]
    half = np.argmax(cut < 0.5) * fine.to_value(u.arcsec)
    assert 0.9 < 2 * half < 1.1


def test_kernel_from_profile_generic():
    kernel = kernel_from_profile(lambda t: np.exp(-(t.to_value(u.arcsec) / 0.5) ** 2), 0.1 * u.arcsec, 10)
    assert kernel.shape == (21, 21)
    assert kernel.sum() == pytest.approx(1)


def _centroid(image):
    yy, xx = np.indices(image.shape)
    total = image.sum()
    return (yy * image).sum() / total, (xx * image).sum() / total


@pytest.mark.parametrize("offset", [(0.0, 0.0), (2.5, 6.0), (7.3, 1.1)])
def test_degraded_grids_exactly_two_to_one(offset):
    """A point source lands at input coordinate p and target coordinate 2p + 0.5 (the refined grid)."""
    scale = 0.0662 * u.arcsec
    ratio = 0.504 / 0.0662
    fine = kernel_from_profile(lambda t: np.exp(-(t.to_value(u.arcsec) / 0.8) ** 2), scale, 30)
    frame = np.zeros((400, 400))
    y0, x0 = 201, 188
    frame[y0, x0] = 1.0
    hmi, target = training_pair(frame, scale, offset=offset, input_psf=fine, target_psf=fine)
    assert target.shape == (2 * hmi.shape[0], 2 * hmi.shape[1])
    cy_in, cx_in = _centroid(hmi)
    cy_t, cx_t = _centroid(target)
    assert cy_t == pytest.approx(2 * cy_in + 0.5, abs=2e-3)
    assert cx_t == pytest.approx(2 * cx_in + 0.5, abs=2e-3)
    # and the input grid is where training_pair says: first pixel's lower-left corner at offset - 0.5
    assert cy_in == pytest.approx((y0 - (offset[0] - 0.5)) / ratio - 0.5, abs=2e-3)
    assert cx_in == pytest.approx((x0 - (offset[1] - 0.5)) / ratio - 0.5, abs=2e-3)
