"""
Tests of the Richardson–Lucy baseline: grid layout, exact tiled convolution, convergence, NaN safety,
damping, signed data, and the Map output's WCS and header.
"""
import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.coordinates import SkyCoord
from scipy.signal import fftconvolve
from sunpy.coordinates import frames

from sunpy_enhance.psf import hmi_psf
from sunpy_enhance.richardson_lucy import (
    _TiledConvolver,
    richardson_lucy,
    richardson_lucy_map,
    upsample_bilinear_x2,
)


def _gaussian_psf(sigma, half):
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    k = np.exp(-(yy ** 2 + xx ** 2) / (2 * sigma ** 2))
    return k / k.sum()


def _scene(shape, rng, n=25):
    """Positive smooth-ish scene: a floor plus Gaussian blobs of 1–2 px."""
    yy, xx = np.indices(shape)
    scene = np.full(shape, 1.0)
    for _ in range(n):
        y, x = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        width = rng.uniform(1, 2)
        scene += rng.uniform(0.2, 1.0) * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * width ** 2))
    return scene


# --- grid -----------------------------------------------------------------------------------------


def test_bilinear_x2_layout_matches_refined_grid():
    """Output pixel q is centred on input coordinate (q - 0.5) / 2: a ramp is reproduced exactly."""
    yy, xx = np.indices((7, 9), dtype=float)
    ramp = 3 * yy - 2 * xx + 5
    out = upsample_bilinear_x2(ramp)
    assert out.shape == (14, 18)
    qy, qx = np.indices(out.shape, dtype=float)
    expected = 3 * (qy - 0.5) / 2 - 2 * (qx - 0.5) / 2 + 5
    np.testing.assert_allclose(out[1:-1, 1:-1], expected[1:-1, 1:-1], atol=1e-12)
    # clamped, not extrapolated, beyond the outermost input centres: the first output row (input
    # coordinate -0.25) equals the interpolation of the first input row itself
    first_row = upsample_bilinear_x2(ramp[:1])
    np.testing.assert_allclose(first_row[0], first_row[1], atol=1e-12)
    np.testing.assert_allclose(out[0], first_row[0], atol=1e-12)
    np.testing.assert_allclose(out[:, 0], upsample_bilinear_x2(ramp[:, :1])[:, 0], atol=1e-12)
    # mean of each 2x2 block is the input pixel in the interior (the interpolation is unbiased)
    binned = out.reshape(7, 2, 9, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(binned[1:-1, 1:-1], ramp[1:-1, 1:-1], atol=1e-12)


def test_rl_zero_iterations_is_the_bilinear_interpolation():
    rng = np.random.default_rng(0)
    image = 1 + 0.1 * rng.random((20, 24))
    np.testing.assert_allclose(richardson_lucy(image, iterations=0), upsample_bilinear_x2(image), rtol=1e-6)


# --- convolution engine ---------------------------------------------------------------------------


@pytest.mark.parametrize("max_fft", [4096, 256, 160])
def test_tiled_convolution_point_source_and_full_convolution(max_fft):
    psf = hmi_psf(0.504 * u.arcsec)  # 73 x 73
    shape = (150, 170)
    conv = _TiledConvolver(psf, shape, max_fft=max_fft, dtype=np.float64)
    point = np.zeros(shape)
    point[80, 90] = 1
    out = np.full(shape, np.nan)
    for sl, tile in conv.convolve_tiles(point):
        out[sl] = tile
    np.testing.assert_allclose(out[80 - 36:80 + 37, 90 - 36:90 + 37], psf, atol=1e-12)
    rng = np.random.default_rng(1)
    image = rng.random(shape)
    for sl, tile in conv.convolve_tiles(image):
        out[sl] = tile
    np.testing.assert_allclose(out, fftconvolve(image, psf, mode="same"), atol=1e-10)
    # the adjoint is the correlation
    asym = rng.random((5, 7))
    conv = _TiledConvolver(asym, shape, max_fft=max_fft, dtype=np.float64)
    for sl, tile in conv.convolve_tiles(image, "adjoint"):
        out[sl] = tile
    np.testing.assert_allclose(out, fftconvolve(image, asym[::-1, ::-1], mode="same"), atol=1e-10)


def test_rl_tiled_equals_single_tile():
    rng = np.random.default_rng(2)
    image = _scene((60, 50), rng)
    one = richardson_lucy(image, iterations=8, max_fft_size=4096)
    tiled = richardson_lucy(image, iterations=8, max_fft_size=200)
    np.testing.assert_allclose(tiled, one, rtol=2e-5)


# --- convergence ----------------------------------------------------------------------------------


def _blurred_problem(rng, shape=(64, 64), pad=20, psf_sigma=1.5):
    psf = _gaussian_psf(psf_sigma, 8)
    big = _scene((shape[0] + 2 * pad, shape[1] + 2 * pad), rng, n=60)
    blurred = fftconvolve(big, psf, mode="same")
    crop = (slice(pad, pad + shape[0]), slice(pad, pad + shape[1]))
    return big[crop], blurred[crop], psf


def test_rl_on_noiseless_blurred_image_converges_towards_truth():
    rng = np.random.default_rng(3)
    truth, data, psf = _blurred_problem(rng)
    inner = (slice(10, -10), slice(10, -10))
    errors = []
    for n in (0, 5, 20, 100):
        out = richardson_lucy(data, iterations=n, psf=psf, upsample=False)
        errors.append(np.sqrt(np.mean((out[inner] - truth[inner]) ** 2)))
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.4 * errors[0]
    # the model of the final estimate reproduces the data
    out = richardson_lucy(data, iterations=100, psf=psf, upsample=False)
    assert np.abs(fftconvolve(out, psf, mode="same") - data)[inner].max() < 0.02 * data.mean()


def test_rl_conserves_flux_on_a_periodic_free_scene():
    rng = np.random.default_rng(4)
    truth, data, psf = _blurred_problem(rng)
    out = richardson_lucy(data, iterations=30, psf=psf, upsample=False)
    assert out.mean() == pytest.approx(data.mean(), rel=5e-3)


# --- missing data ---------------------------------------------------------------------------------


def test_nan_pixels_stay_nan_and_do_not_leak():
    rng = np.random.default_rng(5)
    truth, data, psf = _blurred_problem(rng)
    holed = data.copy()
    holed[20:30, 25:40] = np.nan
    out = richardson_lucy(holed, iterations=40, psf=psf, upsample=False)
    assert np.isnan(out[20:30, 25:40]).all()
    out[20:30, 25:40] = 0
    assert np.isfinite(out).all()
    # next to the hole the deconvolution is as good as in the rest of the field
    full = richardson_lucy(data, iterations=40, psf=psf, upsample=False)
    ring = np.zeros(data.shape, bool)
    ring[16:34, 21:44] = True
    ring[20:30, 25:40] = False
    err_ring_holed = np.sqrt(np.mean((out[ring] - truth[ring]) ** 2))
    err_ring_full = np.sqrt(np.mean((full[ring] - truth[ring]) ** 2))
    assert err_ring_holed < 1.5 * err_ring_full
    far = (slice(45, 60), slice(45, 60))
    np.testing.assert_allclose(out[far], full[far], rtol=2e-3)


def test_nan_layout_on_the_x2_grid():
    image = np.ones((30, 30))
    image[3, 4] = np.nan
    image[:, -2:] = np.nan  # an "off-disk" strip
    out = richardson_lucy(image, iterations=5)
    expected = np.repeat(np.repeat(np.isnan(image), 2, 0), 2, 1)
    np.testing.assert_array_equal(np.isnan(out), expected)
    # a flat field stays flat (to float32 precision) even next to the missing pixels
    np.testing.assert_allclose(out[~expected], 1, rtol=1e-4)


def test_all_nan_and_bad_arguments_raise():
    with pytest.raises(ValueError, match="no finite"):
        richardson_lucy(np.full((8, 8), np.nan))
    with pytest.raises(ValueError, match="2-D"):
        richardson_lucy(np.ones(8))
    with pytest.raises(ValueError, match="noise"):
        richardson_lucy(np.ones((8, 8)), damping=2)
    with pytest.raises(ValueError, match="odd"):
        richardson_lucy(np.ones((8, 8)), psf=np.ones((4, 4)))
    with pytest.raises(ValueError, match="negative"):
        richardson_lucy(np.array([[1.0, -1.0], [1.0, 1.0]]), offset=0.5)
    with pytest.raises(ValueError, match="iterations"):
        richardson_lucy(np.ones((8, 8)), iterations=-1)


# --- damping, signed data -------------------------------------------------------------------------


def test_damping_limits_noise_amplification():
    rng = np.random.default_rng(6)
    sigma = 0.01
    truth, data, psf = _blurred_problem(rng)
    noisy = data + sigma * rng.standard_normal(data.shape)
    inner = (slice(10, -10), slice(10, -10))
    plain = richardson_lucy(noisy, iterations=200, psf=psf, upsample=False)
    damped = richardson_lucy(noisy, iterations=200, psf=psf, upsample=False, damping=2, noise=sigma)
    err_plain = np.sqrt(np.mean((plain[inner] - truth[inner]) ** 2))
    err_damped = np.sqrt(np.mean((damped[inner] - truth[inner]) ** 2))
    assert err_damped < err_plain
    # on a flat, noisy field the damped iteration does not amplify the noise (it starts from the data,
    # so keeps about its noise), the undamped one doubles it
    flat = 1 + sigma * rng.standard_normal((60, 60))
    plain = richardson_lucy(flat, iterations=50, psf=psf, upsample=False)
    damped = richardson_lucy(flat, iterations=50, psf=psf, upsample=False, damping=3, noise=sigma)
    assert damped[inner].std() < 1.2 * sigma
    assert plain[inner].std() > 1.6 * sigma


def test_signed_data_symmetric_in_polarity_and_offset_consistent():
    rng = np.random.default_rng(7)
    truth, data, psf = _blurred_problem(rng)
    bipole = (data - data.mean()) * 500  # G, both signs
    pos = richardson_lucy(bipole, iterations=30, psf=psf, upsample=False)
    neg = richardson_lucy(-bipole, iterations=30, psf=psf, upsample=False)
    scale = np.abs(pos).max()
    # flipping the polarity flips the result, to ~10% of the deconvolution's own change
    change = np.abs(pos - bipole).max()
    assert np.abs(pos + neg).max() < 0.2 * change
    assert scale > np.abs(bipole).max()  # it did deconvolve (sharpened the peaks)
    # an explicit, larger offset converges to the same least-squares solution within a few percent
    big = richardson_lucy(bipole, iterations=30, psf=psf, upsample=False, offset=1e3 * np.abs(bipole).max())
    assert np.abs(big - pos).max() < 0.15 * change


# --- Map ------------------------------------------------------------------------------------------


def _hmi_map(data, rotation=0 * u.deg):
    ref = SkyCoord(120 * u.arcsec, -80 * u.arcsec, obstime="2014-03-01T00:00:00", observer="earth",
                   frame=frames.Helioprojective)
    header = sunpy.map.make_fitswcs_header(data, ref, reference_pixel=[10.3, 7.8] * u.pix,
                                           scale=[0.504, 0.504] * u.arcsec / u.pix, rotation_angle=rotation,
                                           instrument="HMI", telescope="SDO/HMI", unit=u.G,
                                           wavelength=6173 * u.AA)
    header["datamin"] = float(np.nanmin(data))
    return sunpy.map.Map(data, header)


@pytest.mark.parametrize("rotation", [0 * u.deg, 179.93 * u.deg])
def test_map_output_wcs_is_the_refined_grid(rotation):
    rng = np.random.default_rng(8)
    data = 300 * rng.standard_normal((24, 30))
    smap = _hmi_map(data, rotation)
    meta_before = dict(smap.meta)
    out = richardson_lucy_map(smap, iterations=3)
    assert dict(smap.meta) == meta_before  # input untouched
    assert out.data.shape == (48, 60)
    assert u.allclose(u.Quantity([out.scale.axis1, out.scale.axis2]), 0.252 * u.arcsec / u.pix)
    py, px = np.mgrid[0:24:5, 0:30:7]
    world_in = smap.wcs.pixel_to_world(px, py)
    world_out = out.wcs.pixel_to_world(2 * px + 0.5, 2 * py + 0.5)
    assert np.all(world_in.separation(world_out) < 1e-6 * u.arcsec)
    assert out.unit == smap.unit
    assert out.meta["enhmeth"] == "richardson-lucy"
    assert out.meta["rliter"] == 3
    assert out.meta["rloffset"] > 0  # signed data: offset recorded
    assert "datamin" not in out.meta
    assert "Richardson-Lucy" in out.meta["history"]


def test_map_nan_and_validation():
    data = np.ones((16, 16))
    data[:, :3] = np.nan
    smap = _hmi_map(data)
    out = richardson_lucy_map(smap, iterations=2)
    assert np.isnan(out.data[:, :6]).all() and np.isfinite(out.data[:, 6:]).all()
    aia_like = sunpy.map.Map(np.ones((16, 16)), dict(smap.meta, instrume="AIA", telescop="SDO/AIA"))
    with pytest.raises(ValueError, match="not from SDO/HMI"):
        richardson_lucy_map(aia_like, iterations=1)
    assert richardson_lucy_map(aia_like, iterations=1, allow_non_hmi=True).data.shape == (32, 32)
    coarse = sunpy.map.Map(np.ones((16, 16)), dict(smap.meta, cdelt1=1.0, cdelt2=1.0))
    with pytest.raises(ValueError, match="0.504"):
        richardson_lucy_map(coarse, iterations=1)
    assert richardson_lucy_map(coarse, iterations=1, allow_any_scale=True).data.shape == (32, 32)


def test_map_damping_noise_quantity():
    rng = np.random.default_rng(9)
    smap = _hmi_map(20 * rng.standard_normal((20, 20)))
    out = richardson_lucy_map(smap, iterations=5, damping=2, noise=10 * u.G)
    assert out.meta["rldamp"] == 2
    with pytest.raises(u.UnitConversionError):
        richardson_lucy_map(smap, iterations=1, damping=2, noise=1 * u.s)


@pytest.mark.shared_data
def test_rl_forward_residual_on_the_enhance_sample(shared_data):
    """On real HMI, RL (20 iterations) re-observes to within ~1% of its input, much closer than bilinear."""
    from astropy.io import fits

    from sunpy_enhance.diagnostics import forward_residual, granulation_contrast

    image = fits.getdata(shared_data / "hmi" / "enhance_sample_continuum.fits").astype(float)
    rl = richardson_lucy(image, iterations=20)
    res_rl = forward_residual(image, rl).mean_relative
    res_bilinear = forward_residual(image, upsample_bilinear_x2(image)).mean_relative
    assert res_rl < 0.012
    assert res_rl < 0.5 * res_bilinear
    # and it sharpens the granulation towards the 28 cm contrast
    assert granulation_contrast(rl, pixel_scale=0.252 * u.arcsec) > 1.5 * granulation_contrast(image)


def test_rl_and_enhance_outputs_share_grid_and_header(tiny_enhance_models):
    """RL and Enhance outputs of one map lie on the same ×2 grid: they compare pixel by pixel."""
    from sunpy_enhance.enhance.api import enhance_map

    rng = np.random.default_rng(10)
    smap = _hmi_map(200 * rng.standard_normal((24, 30)), 179.93 * u.deg)
    rl = richardson_lucy_map(smap, iterations=2)
    en = enhance_map(smap, kind="magnetogram", model=tiny_enhance_models["magnetogram"])
    assert rl.data.shape == en.data.shape
    for key in ("crpix1", "crpix2", "cdelt1", "cdelt2", "crval1", "crval2", "naxis1", "naxis2"):
        assert rl.meta[key] == pytest.approx(en.meta[key], rel=1e-12), key
    py, px = np.mgrid[0:48:7, 0:60:9]
    assert np.all(rl.wcs.pixel_to_world(px, py).separation(en.wcs.pixel_to_world(px, py)) < 1e-9 * u.arcsec)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, 1e30, -2147483648.0])
def test_impossible_pixel_is_missing_not_spreading(bad):
    from sunpy_enhance.exceptions import SunpyEnhanceUserWarning
    from sunpy_enhance.sample import synthetic_hmi_map

    smap = synthetic_hmi_map("continuum", shape=(64, 64))
    data = smap.data.copy()
    data[10, 20] = bad
    with pytest.warns(SunpyEnhanceUserWarning, match=r"1 pixel.*treated as missing") as record:
        out = richardson_lucy_map(sunpy.map.Map(data, smap.meta), iterations=5)
    assert sum("treated as missing" in str(w.message) for w in record) == 1
    expected = np.ones((128, 128), dtype=bool)
    expected[20:22, 40:42] = False
    np.testing.assert_array_equal(np.isfinite(out.data), expected)
    np.testing.assert_array_equal(out.mask, ~expected)
    # the array function too, and masked arrays are missing where masked
    with pytest.warns(SunpyEnhanceUserWarning, match="treated as missing"):
        arr = richardson_lucy(data, iterations=5)
    np.testing.assert_array_equal(np.isfinite(arr), expected)
    mask = np.zeros(data.shape, dtype=bool)
    mask[10, 20] = True
    arr = richardson_lucy(np.ma.MaskedArray(np.where(mask, 0.0, data), mask=mask), iterations=5)
    np.testing.assert_array_equal(np.isfinite(arr), expected)
