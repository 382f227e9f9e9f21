"""
Tests of the science diagnostics against analytic cases.
"""
import warnings

import astropy.units as u
import matplotlib
import numpy as np
import pytest
import sunpy.map
from astropy.constants import R_sun, au
from astropy.coordinates import SkyCoord
from sunpy.coordinates import Heliocentric, frames

from sunpy_enhance.degrade import reobserve_hmi
from sunpy_enhance.diagnostics import (
    FluxBudget,
    flux_budget,
    forward_residual,
    granulation_contrast,
    magnetogram_histogram,
    plot_flux_budget,
    plot_forward_residual,
    plot_granulation_region,
    plot_magnetogram_histogram,
    plot_power_spectra,
    power_spectrum,
    quiet_sun_mask,
)
from sunpy_enhance.solar import pixel_areas

matplotlib.use("Agg")


def _hpc_map(data, scale, center=(0, 0), unit=u.G):
    ref = SkyCoord(center[0] * u.arcsec, center[1] * u.arcsec, obstime="2014-03-01T00:00:00",
                   observer="earth", frame=frames.Helioprojective)
    header = sunpy.map.make_fitswcs_header(data, ref, scale=[scale, scale] * u.arcsec / u.pix,
                                           instrument="HMI", unit=unit)
    return sunpy.map.Map(data, header)


def _refined(smap, data):
    from sunpy_enhance.header import refined_meta

    return sunpy.map.Map(data, refined_meta(smap.meta))


# --- power spectrum -------------------------------------------------------------------------------


@pytest.mark.parametrize("nu", [0.0625, 0.125, 0.25, 0.375])
def test_power_spectrum_of_a_sinusoid_peaks_at_its_frequency(nu):
    yy, xx = np.mgrid[:128, :96]
    angle = np.deg2rad(30)
    image = 5 + np.sin(2 * np.pi * nu * (xx * np.cos(angle) + yy * np.sin(angle)))
    ps = power_spectrum(image, pixel_scale=0.504 * u.arcsec)
    peak = ps.frequency[np.argmax(ps.power)]
    assert peak == pytest.approx(nu, abs=1 / 96)
    peak_angular = ps.spatial_frequency[np.argmax(ps.power)].to_value(1 / u.arcsec)
    assert peak_angular == pytest.approx(nu / 0.504, abs=1 / 96 / 0.504)
    assert ps.frequency.max() <= 0.5


def test_power_spectrum_normalisation_white_noise_and_mean():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 2.0, (128, 128))
    ps = power_spectrum(noise, window=None)
    # white noise: flat spectrum at the variance
    assert ps.power.mean() == pytest.approx(4.0, rel=0.05)
    assert ps.pixel_scale is None and ps.spatial_frequency is None
    # normalize="mean" makes the spectrum independent of the units
    a = power_spectrum(100 + noise, normalize="mean")
    b = power_spectrum(7 * (100 + noise), normalize="mean")
    np.testing.assert_allclose(a.power, b.power, rtol=1e-10)
    with pytest.raises(ValueError, match="NaN"):
        noise[3, 3] = np.nan
        power_spectrum(noise)
    assert power_spectrum(noise, region=np.s_[10:, :]).frequency.size == 59


def test_power_spectrum_of_map_uses_its_scale():
    smap = _hpc_map(np.random.default_rng(1).random((64, 64)), 0.252, unit=u.ct)
    ps = power_spectrum(smap)
    assert ps.pixel_scale == 0.252 * u.arcsec


# --- granulation contrast -------------------------------------------------------------------------


def _granulation(shape, contrast, rng):
    """Cellular pattern (~1.5" cells at 0.504"/px) scaled to a given rms contrast."""
    field = rng.standard_normal(shape)
    from scipy import ndimage

    field = ndimage.gaussian_filter(field, 1.2, mode="wrap")
    field = (field - field.mean()) / field.std()
    return 1 + contrast * field


def test_granulation_contrast_of_a_synthetic_pattern_excludes_a_spot():
    rng = np.random.default_rng(2)
    image = _granulation((160, 160), 0.037, rng)
    quiet = granulation_contrast(image, region=np.s_[:, :])
    assert quiet == pytest.approx(0.037, rel=0.02)
    yy, xx = np.indices(image.shape)
    spot = np.hypot(yy - 80, xx - 50) < 12
    image[spot] = 0.3  # an umbra
    polluted = granulation_contrast(image, region=np.s_[:, :])
    assert polluted > 2 * quiet
    mask = quiet_sun_mask(image)
    assert not (mask & spot).any()
    assert mask.mean() > 0.6
    auto = granulation_contrast(image)
    assert auto == pytest.approx(0.037, rel=0.1)
    # explicit overrides
    assert granulation_contrast(image, region=np.s_[:, 100:]) == pytest.approx(
        image[:, 100:].std() / image[:, 100:].mean())
    region = np.zeros(image.shape, bool)
    region[100:, 100:] = True
    assert granulation_contrast(image, region=region) == pytest.approx(image[100:, 100:].std()
                                                                        / image[100:, 100:].mean())
    with pytest.raises(TypeError):
        granulation_contrast(image, region=[1, 2])
    with pytest.raises(ValueError, match="no pixel"):
        granulation_contrast(image, region=np.s_[0:0, :])


def test_granulation_contrast_skycoord_region_on_a_map():
    rng = np.random.default_rng(3)
    image = _granulation((100, 100), 0.05, rng)
    smap = _hpc_map(image, 0.504, unit=u.ct)
    corners = SkyCoord([-10, 10] * u.arcsec, [-5, 15] * u.arcsec, frame=smap.coordinate_frame)
    x, y = smap.wcs.world_to_pixel(corners)
    sl = np.s_[int(round(y[0])):int(round(y[1])) + 1, int(round(x[0])):int(round(x[1])) + 1]
    assert granulation_contrast(smap, region=corners) == pytest.approx(image[sl].std() / image[sl].mean())
    with pytest.raises(ValueError, match="needs a Map"):
        granulation_contrast(image, region=corners)


def test_quiet_sun_mask_excludes_the_limb_gradient_and_nan():
    yy, xx = np.indices((200, 200))
    rng = np.random.default_rng(4)
    image = _granulation((200, 200), 0.03, rng)
    image *= np.clip(1 - 0.004 * np.clip(xx - 120, 0, None), 0.1, None)  # strong darkening on the right
    image[:, 190:] = np.nan
    mask = quiet_sun_mask(image)
    assert mask[:, :100].mean() > 0.8
    assert not mask[:, 150:].any()


# --- flux -----------------------------------------------------------------------------------------


def test_pixel_areas_at_disk_centre_and_whole_disk():
    smap = _hpc_map(np.zeros((41, 41)), 0.504)
    area = pixel_areas(smap)
    expected = ((0.504 * u.arcsec).to_value(u.rad) * (smap.dsun - smap.rsun_meters)) ** 2
    assert area[20, 20].to_value(u.cm ** 2) == pytest.approx(expected.to_value(u.cm ** 2), rel=1e-6)
    # arrays: the disk-centre pixel at 1 au
    arr = pixel_areas(np.zeros((3, 3)), pixel_scale=0.504 * u.arcsec)
    assert u.isclose(arr[1, 1], ((0.504 * u.arcsec).to_value(u.rad) * (au - R_sun)) ** 2, rtol=1e-12)
    # a whole disk: the areas add up to the visible part of the sphere
    full = _hpc_map(np.zeros((300, 300)), 7.0)
    areas = pixel_areas(full)
    radius, distance = full.rsun_meters, full.dsun
    visible = 2 * np.pi * radius ** 2 * (1 - radius / distance)
    assert (np.nansum(areas) / visible).to_value(u.one) == pytest.approx(1, abs=0.02)
    assert np.isnan(areas[0, 0])


def test_mu_and_distance_agree_with_sunpy_coordinates():
    """The sphere intersection reproduces sunpy's Heliocentric coordinates of the same pixels."""
    from sunpy_enhance.solar import sphere_geometry

    smap = _hpc_map(np.zeros((30, 30)), 30.0, center=(200, -300))
    area, mu = sphere_geometry(smap)
    coords = sunpy.map.all_coordinates_from_map(smap)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # off-disk pixels: sunpy warns that they have no surface point
        hc = coords.transform_to(Heliocentric(observer=smap.observer_coordinate, obstime=smap.date))
    p = np.stack([getattr(hc.cartesian, k).to_value(u.m) for k in "xyz"])
    v = np.array([0, 0, smap.dsun.to_value(u.m)])[:, None, None] - p
    mu_sunpy = (p / np.linalg.norm(p, axis=0) * v).sum(0) / np.linalg.norm(v, axis=0)
    ok = np.isfinite(mu)
    assert ok.sum() == np.isfinite(mu_sunpy).sum() > 100
    np.testing.assert_allclose(mu[ok], mu_sunpy[ok], atol=1e-6)


def _bipole(shape, sigma, b0, sep):
    yy, xx = np.indices(shape, dtype=float)
    cy, cx = (shape[0] - 1) / 2, (shape[1] - 1) / 2
    pos = b0 * np.exp(-((yy - cy) ** 2 + (xx - cx + sep) ** 2) / (2 * sigma ** 2))
    neg = -b0 * np.exp(-((yy - cy) ** 2 + (xx - cx - sep) ** 2) / (2 * sigma ** 2))
    return pos + neg


def test_flux_of_a_synthetic_bipole_array():
    sigma, b0 = 3.0, 1500.0
    b = _bipole((80, 80), sigma, b0, 15)
    budget = flux_budget(b, np.repeat(np.repeat(b, 2, 0), 2, 1))
    pixel = ((0.504 * u.arcsec).to_value(u.rad) * (au - R_sun)).to(u.cm) ** 2
    expected = (b0 * 2 * np.pi * sigma ** 2 * pixel).to_value(u.cm ** 2) * u.Mx
    assert u.isclose(budget.input_positive, expected, rtol=1e-6)
    assert u.isclose(budget.input_negative, -expected, rtol=1e-6)
    assert u.isclose(budget.input_unsigned, 2 * expected, rtol=1e-6)
    assert abs(budget.input_signed) < 1e-9 * expected
    assert budget.unsigned_ratio == pytest.approx(1, abs=1e-12)
    assert budget.imbalance[0] == pytest.approx(0, abs=1e-9)
    # an output that doubles the positive pole: reported as such
    out = np.repeat(np.repeat(np.where(b > 0, 2 * b, b), 2, 0), 2, 1)
    budget = flux_budget(b, out)
    assert budget.unsigned_ratio == pytest.approx(1.5, rel=1e-9)
    assert u.isclose(budget.output_positive, 2 * expected, rtol=1e-6)


def test_flux_of_a_bipole_on_a_map_off_centre_and_radial():
    sigma, b0 = 2.0, 1000.0
    b = _bipole((60, 60), sigma, b0, 10)
    smap = _hpc_map(b, 0.504, center=(500, 300))
    up = _refined(smap, np.repeat(np.repeat(b, 2, 0), 2, 1))
    budget = flux_budget(smap, up)
    assert isinstance(budget, FluxBudget)
    assert budget.unsigned_ratio == pytest.approx(1, rel=1e-4)
    area = pixel_areas(smap)
    assert u.isclose(budget.input_positive, (b[b > 0] * area[b > 0].to_value(u.cm ** 2)).sum() * u.Mx)
    # at ~0.6 R_sun from the centre the pixel area exceeds the disk-centre one by about 1/μ
    centre = pixel_areas(_hpc_map(b, 0.504))[30, 30]
    from sunpy_enhance.solar import mu_from_map

    mu = mu_from_map(smap)[30, 30]
    assert 0.7 < mu < 0.9
    assert (area[30, 30] / centre).to_value(u.one) == pytest.approx(1 / mu, rel=2e-3)
    radial = flux_budget(smap, up, radial=True)
    assert (radial.input_positive / budget.input_positive).to_value(u.one) == pytest.approx(1 / mu, rel=0.01)
    with pytest.raises(ValueError, match="Maps"):
        flux_budget(b, np.repeat(np.repeat(b, 2, 0), 2, 1), radial=True)


def test_flux_budget_common_footprint_and_shape_check():
    b = _bipole((40, 40), 2.0, 800.0, 8)
    out = np.repeat(np.repeat(b, 2, 0), 2, 1)
    out[0, 0] = np.nan  # one output pixel missing: its whole parent pixel leaves both budgets
    budget = flux_budget(b, out)
    assert budget.unsigned_ratio == pytest.approx(1, abs=1e-12)
    with pytest.raises(ValueError, match="multiple"):
        flux_budget(b, np.ones((81, 80)))


@pytest.mark.shared_data
def test_cea_pixel_areas_of_a_sharp(shared_data):
    path = sorted((shared_data / "hmi" / "sharp").glob("*377*magnetogram.fits"))[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SHARP headers carry non-standard keywords
        smap = sunpy.map.Map(path)
    area = pixel_areas(smap)
    assert np.all(area == area[0, 0])
    expected = (smap.rsun_meters * np.deg2rad(0.03)) ** 2
    assert area[0, 0].to_value(u.cm ** 2) == pytest.approx(expected.to_value(u.cm ** 2), rel=1e-3)


# --- forward residual -----------------------------------------------------------------------------


def test_forward_residual_of_a_perfect_case_is_zero():
    rng = np.random.default_rng(5)
    scene = 1 + 0.1 * rng.random((80, 60))
    result = forward_residual(reobserve_hmi(scene), scene)
    assert result.mean_relative < 1e-12 and result.rms < 1e-12
    assert result.residual.shape == (40, 30)
    # a 1% gain error shows up as 1%
    biased = forward_residual(1.01 * reobserve_hmi(scene), scene)
    assert biased.mean_relative == pytest.approx(0.01 / 1.01, rel=1e-6)
    assert biased.mean_pixel_relative == pytest.approx(0.01 / 1.01, rel=1e-6)


def test_forward_residual_nan_safe_and_map():
    rng = np.random.default_rng(6)
    scene = 1 + 0.1 * rng.random((60, 60))
    data = reobserve_hmi(scene)
    scene_nan = scene.copy()
    scene_nan[10:14, 20:30] = np.nan
    data[25, 25] = np.nan
    result = forward_residual(data, scene_nan)
    nan = np.isnan(result.residual)
    assert nan[5:7, 10:15].all() and nan[25, 25]
    assert nan.sum() == 2 * 5 + 1
    assert np.isfinite(result.mean_relative) and result.mean_relative < 0.01
    smap = _hpc_map(reobserve_hmi(scene), 0.504, unit=u.ct)
    out = forward_residual(smap, _refined(smap, scene))
    assert isinstance(out.residual, sunpy.map.GenericMap)
    assert out.residual.data.shape == (30, 30)
    with pytest.raises(ValueError, match="twice"):
        forward_residual(data, scene[:-2])


# --- magnetogram histogram ------------------------------------------------------------------------


def test_magnetogram_histogram_recovers_a_gain():
    rng = np.random.default_rng(7)
    b = rng.normal(0, 400, (80, 80))
    out = np.repeat(np.repeat(1.3 * b, 2, 0), 2, 1)
    hist = magnetogram_histogram(b, out, bins=41, limit=1000)
    assert hist.counts.shape == (41, 41)
    inside = np.abs(b) < 1000
    assert hist.counts.sum() == np.sum(inside & (np.abs(1.3 * b) < 1000))
    centres = 0.5 * (hist.input_edges[1:] + hist.input_edges[:-1])
    good = np.isfinite(hist.median_output) & (np.abs(centres) < 700)
    np.testing.assert_allclose(hist.median_output[good], 1.3 * centres[good], atol=1.3 * 25)


# --- plots ----------------------------------------------------------------------------------------


def test_plot_helpers_return_their_axes():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(8)
    image = _granulation((64, 64), 0.04, rng)
    b = _bipole((32, 32), 2.0, 800, 6)
    fig, axes = plt.subplots(2, 3)
    scale = 0.504 * u.arcsec
    ps = [power_spectrum(image, pixel_scale=scale), power_spectrum(image[:32], pixel_scale=scale)]
    assert plot_power_spectra(ps, ["a", "b"], ax=axes[0, 0]) is axes[0, 0]
    assert axes[0, 0].get_xlabel().startswith("spatial frequency [arcsec")
    assert plot_granulation_region(image, ax=axes[0, 1]) is axes[0, 1]
    up = np.repeat(np.repeat(b, 2, 0), 2, 1)
    assert plot_flux_budget(flux_budget(b, up), ax=axes[0, 2]) is axes[0, 2]
    assert plot_forward_residual(forward_residual(reobserve_hmi(up) + 1, up + 1), ax=axes[1, 0]) is axes[1, 0]
    assert plot_magnetogram_histogram(magnetogram_histogram(b, up), ax=axes[1, 1]) is axes[1, 1]
    plt.close(fig)


def test_power_spectrum_density_independent_of_sampling():
    """One scene sampled at 0.252″ and at 0.504″ has the same spectrum below the coarser Nyquist (within 10%)."""
    rng = np.random.default_rng(3)
    n = 512  # a band-limited random scene (nothing beyond 0.504″'s Nyquist, so no aliasing) on a 0.126″ grid
    ky, kx = np.meshgrid(np.fft.fftfreq(n, 0.126), np.fft.fftfreq(n, 0.126), indexing="ij")
    k = np.hypot(ky, kx)
    amplitude = np.where(k < 0.9, (k + 0.05) ** -1.5, 0.0)
    scene = np.real(np.fft.ifft2(amplitude * np.exp(2j * np.pi * rng.random((n, n)))))
    a = power_spectrum(scene[::2, ::2], pixel_scale=0.252 * u.arcsec, window=None)
    b = power_spectrum(scene[::4, ::4], pixel_scale=0.504 * u.arcsec, window=None)
    fa, fb = (s.spatial_frequency.to_value(1 / u.arcsec) for s in (a, b))
    band = (fb > 0.1) & (fb < 0.85)
    ratio = b.density[band] / np.interp(fb[band], fa, a.density)
    assert np.all(np.abs(ratio - 1) < 0.1), ratio
    per_pixel = np.median(b.power[band] / np.interp(fb[band], fa, a.power))
    assert per_pixel == pytest.approx(0.25, rel=0.1)  # the per-pixel power alone is off by the pixel-area ratio


def test_noise_propagation_by_field_strength():
    from sunpy_enhance.diagnostics import noise_propagation, plot_noise_propagation

    rng = np.random.default_rng(1)
    truth = np.zeros((128, 128))
    truth[30:80, 30:80] = 1200.0
    clean = truth
    amplifying = clean + np.where(np.abs(truth) > 100, 4.0, 1.0) * 10 * rng.standard_normal(truth.shape)
    result = noise_propagation(amplifying, clean, truth, pixel_scale=0.252 * u.arcsec)
    assert result.weak_rms.to_value(u.G) == pytest.approx(10, rel=0.05)
    assert result.strong_rms.to_value(u.G) == pytest.approx(40, rel=0.05)
    assert result.weak_fraction == pytest.approx(1 - 2500 / 128**2, rel=1e-6)
    assert result.spectrum.pixel_scale == 0.252 * u.arcsec
    with pytest.raises(ValueError, match="same grid"):
        noise_propagation(amplifying[:-1], clean)
    import matplotlib.pyplot as plt

    ax = plot_noise_propagation([result], ["test"])
    assert "/ 40.1" in ax.get_legend().get_texts()[0].get_text()
    plt.close("all")
