"""
Tests of denoise, denoise_map and denoise_cube with the bundled models.
"""
import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.coordinates import SkyCoord
from astropy.io import fits
from sunpy.coordinates import frames

from sunpy_enhance.denoise import (
    DenoiseUncertainty,
    denoise,
    denoise_cube,
    denoise_map,
    estimate_noise,
    resolve_model,
)
from sunpy_enhance.denoise.network import build_unet
from sunpy_enhance.denoise.training import export_denoiser
from sunpy_enhance.hmi import is_hmi_magnetogram, nominal_noise

SIGMA = 2.6e-3


def blobs(n=96, seed=0, amplitude=4 * SIGMA):
    yy, xx = np.mgrid[:n, :n]
    rng = np.random.default_rng(seed)
    scene = np.zeros((n, n))
    for _ in range(8):
        cy, cx, w, a = rng.uniform(0, n), rng.uniform(0, n), rng.uniform(3, 10), rng.uniform(-1, 1)
        scene += a * amplitude * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * w ** 2))
    return scene


@pytest.fixture(scope="module")
def noisy_scene():
    clean = blobs()
    noisy = clean + SIGMA * np.random.default_rng(1).standard_normal(clean.shape)
    return clean, noisy


@pytest.fixture(scope="module")
def plain_model(tmp_path_factory):
    """An untrained non-Bayesian denoiser (for the errors that need one)."""
    path = tmp_path_factory.mktemp("plain") / "model"
    state = {"config": {"architecture": {"name": "unet", "channels": 4, "depth": 2, "bayesian": False,
                                         "dropout": 0.0, "residual": True},
                        "sources": [], "weights": [], "batch_size": 1, "patch_size": 16,
                        "learning_rate": 0.0, "seed": 0},
             "step": 0, "elapsed_s": 0.0}
    return export_denoiser(build_unet(channels=4, depth=2), path, name="plain", description="", noise=1.0,
                           unit="", state=state, data="none", held_out="none")


def test_short_names_resolve_to_bundled_models():
    assert resolve_model("polarimetry").name == "denoise-polarimetry"
    assert resolve_model("denoise-polarimetry").name == "denoise-polarimetry"
    with pytest.raises(ValueError, match="No model"):
        resolve_model("no-such-model")


def test_denoise_reduces_noise_and_keeps_shape(noisy_scene):
    clean, noisy = noisy_scene
    out = denoise(noisy, noise=SIGMA)
    assert out.shape == noisy.shape and out.dtype == np.float32
    assert np.std(out - clean) < np.std(noisy - clean) / 2


def test_denoise_is_scale_equivariant(noisy_scene):
    _, noisy = noisy_scene
    a = denoise(noisy, noise=SIGMA)
    b = denoise(noisy * 1000, noise=SIGMA * 1000)
    np.testing.assert_allclose(b / 1000, a, rtol=1e-4, atol=1e-6)


def test_noise_is_estimated_when_not_given(noisy_scene):
    _, noisy = noisy_scene
    a = denoise(noisy)
    b = denoise(noisy, noise=estimate_noise(noisy))
    np.testing.assert_array_equal(a, b)


def test_odd_sizes_and_nans(noisy_scene):
    _, noisy = noisy_scene
    image = np.array(noisy[:37, :53])
    image[5, 7] = np.nan
    out = denoise(image, noise=SIGMA)
    assert out.shape == (37, 53)
    assert np.isnan(out[5, 7]) and np.isfinite(np.delete(out.ravel(), 5 * 53 + 7)).all()


def test_tiling_matches_a_single_pass(noisy_scene):
    _, noisy = noisy_scene
    whole = denoise(noisy, noise=SIGMA)
    tiled = denoise(noisy, noise=SIGMA, tile_size=32, batch_size=3)
    # Tiles have 32-pixel margins, beyond the network's reach; only float round-off differs.
    np.testing.assert_allclose(tiled, whole, atol=1e-3 * SIGMA)


def test_stacks_are_denoised_image_by_image(noisy_scene):
    _, noisy = noisy_scene
    stack = np.stack([noisy[:48, :48], noisy[48:, 48:], noisy[:48, 48:]]).reshape(3, 1, 48, 48)
    out = denoise(stack, noise=SIGMA)
    assert out.shape == stack.shape
    np.testing.assert_allclose(out[1, 0], denoise(noisy[48:, 48:], noise=SIGMA), atol=1e-3 * SIGMA)


def test_quantities_in_and_out(noisy_scene):
    _, noisy = noisy_scene
    q = noisy * 1e3 * u.mG
    out = denoise(q, noise=SIGMA * u.G)
    assert out.unit == u.mG
    np.testing.assert_allclose(out.to_value(u.G), denoise(noisy, noise=SIGMA), rtol=1e-4, atol=1e-7)
    with pytest.raises(ValueError, match="has no unit"):
        denoise(noisy, noise=SIGMA * u.G)


def test_cycles_run_on_the_residual(noisy_scene):
    _, noisy = noisy_scene
    first = denoise(noisy, noise=SIGMA)
    found = denoise(noisy - first, noise=SIGMA)
    two = denoise(noisy, noise=SIGMA, cycles=2)
    np.testing.assert_allclose(two, first + found, atol=1e-3 * SIGMA)


def test_uncertainty_outputs(noisy_scene):
    _, noisy = noisy_scene
    out, sigma = denoise(noisy, noise=SIGMA, uncertainty=True)
    assert sigma.shape == noisy.shape and np.all(sigma > 0) and np.all(sigma < 3 * SIGMA)
    np.testing.assert_array_equal(out, denoise(noisy, noise=SIGMA))
    _, parts = denoise(noisy, noise=SIGMA, uncertainty="components")
    assert isinstance(parts, DenoiseUncertainty) and parts.epistemic is None
    np.testing.assert_allclose(parts.total, parts.aleatoric)
    _, mc = denoise(noisy, noise=SIGMA, uncertainty="components", samples=4)
    assert np.all(mc.epistemic > 0)
    np.testing.assert_allclose(mc.total ** 2, mc.aleatoric ** 2 + mc.epistemic ** 2, rtol=1e-4)
    # Monte-Carlo draws are reproducible with the same seed.
    _, again = denoise(noisy, noise=SIGMA, uncertainty="components", samples=4)
    np.testing.assert_allclose(again.epistemic, mc.epistemic, rtol=1e-5)


def test_uncertainty_tracks_the_actual_error(noisy_scene):
    clean, noisy = noisy_scene
    out, sigma = denoise(noisy, noise=SIGMA, uncertainty=True, samples=4)
    z = np.abs(out - clean) / sigma
    # Loose bounds for a 96x96 image; the benchmark measures calibration properly.
    assert 0.45 < np.mean(z <= 1) < 0.97
    assert 0.8 < np.mean(z <= 2) <= 1.0
    assert 0.2 < np.median(z) < 1.2


def test_errors(noisy_scene, plain_model):
    _, noisy = noisy_scene
    with pytest.raises(ValueError, match="2-D"):
        denoise(noisy[0])
    with pytest.raises(ValueError, match="finite"):
        denoise(np.full((8, 8), np.nan))
    with pytest.raises(ValueError, match="positive"):
        denoise(noisy, noise=-1.0)
    with pytest.raises(ValueError, match="positive"):
        denoise(np.zeros((16, 16)))
    with pytest.raises(ValueError, match="cycles"):
        denoise(noisy, cycles=0)
    with pytest.raises(ValueError, match="uncertainty"):
        denoise(noisy, uncertainty="yes")
    with pytest.raises(ValueError, match="no uncertainty head"):
        denoise(noisy, model=plain_model, uncertainty=True)
    assert denoise(noisy, model=plain_model, noise=SIGMA).shape == noisy.shape


# --------------------------------------------------------------------------------------------------
# Maps

def make_map(data, *, instrument="CRISP", unit=None, extra=None):
    ref = SkyCoord(100 * u.arcsec, -50 * u.arcsec,
                   frame=frames.Helioprojective(observer="earth", obstime="2020-07-27T08:35"))
    header = sunpy.map.header_helper.make_fitswcs_header(
        data.shape, ref, scale=[0.059, 0.059] * u.arcsec / u.pix, instrument=instrument, unit=unit)
    header.update(extra or {})
    return sunpy.map.Map(data, header)


def test_denoise_map_keeps_grid_and_adds_provenance(noisy_scene):
    _, noisy = noisy_scene
    smap = make_map(noisy)
    meta_before = dict(smap.meta)
    out = denoise_map(smap, noise=SIGMA * u.dimensionless_unscaled, uncertainty=True)
    assert type(out) is type(smap)
    assert dict(smap.meta) == meta_before  # the input is untouched
    np.testing.assert_array_equal(out.data, denoise(noisy, noise=SIGMA))
    # the provenance every method writes (header.add_provenance), with the method and the model
    assert out.meta["enhmeth"] == "denoise" and out.meta["enhmodel"] == "denoise-polarimetry"
    assert out.meta["enhver"] and "dnmodel" not in out.meta and "dnvers" not in out.meta
    assert out.meta["dnnoise"] == pytest.approx(SIGMA)
    assert out.meta["dnnoisrc"] == "given" and out.meta["dncycles"] == 1
    assert "denoised with model denoise-polarimetry" in out.meta["history"]
    for px in [(0, 0), (10.5, 70.25), (95, 95)]:
        a, b = smap.pixel_to_world(*px * u.pix), out.pixel_to_world(*px * u.pix)
        assert a.separation(b) < 1e-6 * u.arcsec
    assert out.uncertainty.array.shape == noisy.shape and np.all(out.uncertainty.array > 0)
    assert out.fits_header["ENHMODEL"] == "denoise-polarimetry" and out.fits_header["ENHMETH"] == "denoise"


def test_denoise_map_estimates_noise_for_generic_maps(noisy_scene):
    _, noisy = noisy_scene
    out = denoise_map(make_map(noisy))
    assert out.meta["dnnoisrc"] == "estimated from the data"
    assert out.meta["dnnoise"] == pytest.approx(SIGMA, rel=0.15)
    assert out.uncertainty is None


def test_denoise_map_rejects_arrays_and_bad_units(noisy_scene):
    _, noisy = noisy_scene
    with pytest.raises(TypeError, match="sunpy Map"):
        denoise_map(noisy)
    gauss = make_map(noisy * 1e3, unit=u.G)
    with pytest.raises(ValueError, match="does not convert"):
        denoise_map(gauss, model="polarimetry", noise=3 * u.s)


def test_hmi_magnetograms_are_recognised():
    from sunpy.data.test import get_test_filepath

    sharp = sunpy.map.Map((np.zeros((10, 10)), _read_header(get_test_filepath("hmi_sharp_magnetogram.header"))))
    assert is_hmi_magnetogram(sharp)
    continuum = sunpy.map.Map(get_test_filepath("resampled_hmi.fits"))
    assert not is_hmi_magnetogram(continuum)
    assert nominal_noise(continuum) == 10 * u.G  # a 45 s series
    m720 = make_map(np.zeros((8, 8)), instrument="HMI", unit=u.G, extra={"cadence": 720.0})
    assert is_hmi_magnetogram(m720) and nominal_noise(m720) == 6 * u.G
    odd = make_map(np.zeros((8, 8)), instrument="HMI", unit=u.G, extra={"cadence": 135.0})
    assert nominal_noise(odd) is None
    assert not is_hmi_magnetogram(make_map(np.zeros((8, 8)), unit=u.G))


def _read_header(path):
    from astropy.io.fits import Header

    return dict(Header.fromtextfile(str(path)))


def test_hmi_magnetogram_map_gets_the_hmi_model_without_being_told():
    rng = np.random.default_rng(2)
    field = 300 * np.exp(-((np.mgrid[:64, :64] - 32) ** 2).sum(0) / 200.0)
    noisy = field + 10 * rng.standard_normal(field.shape)
    smap = make_map(noisy, instrument="HMI", unit=u.G, extra={"cadence": 45.0})
    out = denoise_map(smap)
    assert out.meta["enhmodel"] == "denoise-hmi-magnetogram"
    assert out.meta["dnnoise"] == pytest.approx(10.0)
    assert out.meta["dnnoisrc"] == "HMI nominal for the cadence"
    assert np.std(out.data - field) < np.std(noisy - field) / 2


def test_sharp_cea_map_is_refused_as_by_enhance():
    """One rule for SHARP CEA maps (hmi.check_hmi_map): their interpolated pixels have correlated noise."""
    from sunpy.data.test import get_dummy_map_from_header, get_test_filepath

    from sunpy_enhance.enhance import enhance_map

    cea = get_dummy_map_from_header(get_test_filepath("hmi_cea_sharp_magnetogram.header"))  # CRLN-CEA, 0.03 deg
    cea = sunpy.map.Map(10 * np.random.default_rng(4).standard_normal(cea.data.shape), cea.meta)
    with pytest.raises(ValueError, match="SHARP CEA series") as refused:
        denoise_map(cea)
    with pytest.raises(ValueError, match="SHARP CEA series") as by_enhance:
        enhance_map(cea, allow_any_scale=True)
    # the same reason and advice; only the consequence differs
    for text in ("CTYPE1='CRLN-CEA'", "hmi.sharp_720s"):
        assert text in str(refused.value) and text in str(by_enhance.value)
    assert "noise of neighbouring pixels" in str(refused.value)
    with pytest.raises(ValueError, match="SHARP CEA series"):
        denoise_map(cea, model="polarimetry", noise=10 * u.G)
    # maps of other instruments at other scales still pass (CRISP at 0.059"/px above)


# --------------------------------------------------------------------------------------------------
# Cubes

@pytest.fixture(scope="module")
def cube():
    rng = np.random.default_rng(3)
    clean = np.zeros((2, 4, 2, 40, 40))
    for t in range(2):
        for s in range(1, 4):
            for w in range(2):
                clean[t, s, w] = blobs(40, seed=10 * t + 3 * s + w)
    noisy = clean + SIGMA * rng.standard_normal(clean.shape)
    noisy[:, 0] = 1.0 + 0.05 * rng.standard_normal((2, 2, 40, 40))
    return clean, noisy


def test_denoise_cube_leaves_stokes_i_and_denoises_qu_v(cube):
    clean, noisy = cube
    out, sigma = denoise_cube(noisy, noise=SIGMA, uncertainty=True, batch_size=4)
    assert out.shape == noisy.shape
    np.testing.assert_array_equal(out[:, 0], noisy[:, 0].astype(np.float32))
    assert np.all(np.isnan(sigma[:, 0])) and np.all(sigma[:, 1:] > 0)
    assert np.std(out[:, 1:] - clean[:, 1:]) < np.std(noisy[:, 1:] - clean[:, 1:]) / 2
    # One image of the cube equals denoising it alone.
    np.testing.assert_allclose(out[1, 2, 0], denoise(noisy[1, 2, 0], noise=SIGMA), atol=1e-3 * SIGMA)


def test_denoise_cube_noise_per_stokes_and_estimated(cube):
    _, noisy = cube
    scaled = noisy.copy()
    scaled[:, 3] *= 2
    out = denoise_cube(scaled, noise=[SIGMA, SIGMA, 2 * SIGMA], stokes=(1, 2, 3))
    ref = denoise_cube(noisy, noise=SIGMA)
    np.testing.assert_allclose(out[:, 3] / 2, ref[:, 3], atol=1e-3 * SIGMA)
    estimated = denoise_cube(noisy, stokes=(1,))
    np.testing.assert_array_equal(estimated[:, 2], noisy[:, 2].astype(np.float32))


def test_denoise_cube_reads_files_and_writes_none(cube, tmp_path):
    _, noisy = cube
    src = tmp_path / "cube.fits"
    fits.writeto(src, noisy.astype(np.float32))
    out, sigma = denoise_cube(src, noise=SIGMA, uncertainty=True)
    np.testing.assert_array_equal(out, denoise_cube(noisy.astype(np.float32), noise=SIGMA))
    np.save(tmp_path / "cube.npy", noisy)
    assert denoise_cube(tmp_path / "cube.npy", noise=SIGMA).shape == noisy.shape
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cube.fits", "cube.npy"]
    # writing is the file layer's (save_denoised, sunpy-enhance denoise --cube): no output= or overwrite=
    for option in ({"output": tmp_path / "out.fits"}, {"overwrite": True}):
        with pytest.raises(TypeError, match="unexpected keyword"):
            denoise_cube(noisy, noise=SIGMA, **option)


def test_denoise_cube_errors(cube):
    _, noisy = cube
    with pytest.raises(ValueError, match="outside"):
        denoise_cube(noisy, stokes=(4,))
    with pytest.raises(ValueError, match="stokes_axis"):
        denoise_cube(noisy[0, 0], noise=SIGMA)
    assert denoise_cube(noisy[0, 1], noise=SIGMA, stokes=None).shape == (2, 40, 40)
    with pytest.raises(ValueError, match="at least 3"):
        denoise_cube(noisy[0, 0, 0])
    with pytest.raises(ValueError, match="True or False"):
        denoise_cube(noisy, uncertainty="components")
