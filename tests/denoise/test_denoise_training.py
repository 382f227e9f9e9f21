"""
Tests of self-supervised training: patch sources, loss, the resumable training loop and export.
"""
import json

import numpy as np
import pytest
import tensorflow as tf

from sunpy_enhance.denoise.training import (
    DenoiseLoss,
    PairSource,
    SceneSource,
    SingleImageSource,
    export_denoiser,
    load_checkpoint,
    read_images,
    train_denoiser,
)
from sunpy_enhance.models import read_card

TINY = {"channels": 4, "depth": 2, "bayesian": False}


def smooth_scene(n=96, seed=0):
    yy, xx = np.mgrid[:n, :n]
    rng = np.random.default_rng(seed)
    scene = np.zeros((n, n))
    for _ in range(6):
        cy, cx, w, a = rng.uniform(0, n), rng.uniform(0, n), rng.uniform(4, 12), rng.uniform(-3, 3)
        scene += a * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * w ** 2))
    return scene.astype(np.float32)


def test_scene_source_noise2noise_statistics():
    scene = smooth_scene()
    src = SceneSource(scene, noise=0.5)
    rng = np.random.default_rng(0)
    xs, ys = zip(*(src.sample(rng, 32) for _ in range(64)))
    x, y = np.array(xs), np.array(ys)
    assert x.shape == (64, 32, 32) and y.shape == (64, 32, 32, 3)
    # Input and target carry independent unit-variance noise: their difference has variance 2.
    assert np.var(x - y[..., 0]) == pytest.approx(2.0, rel=0.05)
    assert np.all(y[..., 1] == 1) and np.all(y[..., 2] == 1)
    assert abs(np.corrcoef((x - y[..., 0]).ravel()[:-1], (x - y[..., 0]).ravel()[1:])[0, 1]) < 0.05


def test_scene_source_supervised_target_is_the_scaled_scene():
    scene = np.full((40, 40), 2.0, np.float32)
    src = SceneSource(scene, noise=0.5, mode="supervised", flip_sign=False)
    x, y = src.sample(np.random.default_rng(1), 16)
    np.testing.assert_allclose(y[..., 0], 4.0)  # 2 / 0.5
    assert np.all(y[..., 2] == 0)
    assert np.std(x - 4.0) == pytest.approx(1.0, rel=0.2)


def test_scene_source_amplitude_and_sign():
    src = SceneSource(np.ones((20, 20)), noise=1.0, mode="supervised", amplitude=(0.5, 2.0))
    values = [src.sample(np.random.default_rng(k), 8)[1][0, 0, 0] for k in range(200)]
    mags = np.abs(values)
    assert mags.min() >= 0.5 - 1e-6 and mags.max() <= 2.0 + 1e-6
    assert 0.3 < np.mean(np.array(values) > 0) < 0.7


def test_scene_source_skips_nan_and_rejects_bad_input():
    scene = smooth_scene(64)
    scene[:, :40] = np.nan
    src = SceneSource(scene, noise=1.0)
    for k in range(10):
        x, y = src.sample(np.random.default_rng(k), 16)
        assert np.isfinite(x).all() and np.isfinite(y).all()
    with pytest.raises(ValueError, match="finite 32"):
        SceneSource(scene, noise=1.0).sample(np.random.default_rng(0), 32)
    with pytest.raises(ValueError, match="positive"):
        SceneSource(scene, noise=0)
    with pytest.raises(ValueError, match="mode"):
        SceneSource(scene, noise=1, mode="clean")


def test_pair_source_estimates_noise_and_scales():
    rng = np.random.default_rng(3)
    scene = smooth_scene(128)
    a = scene + 0.2 * rng.standard_normal(scene.shape)
    b = scene + 0.2 * rng.standard_normal(scene.shape)
    src = PairSource(a, b)
    assert src.noise == pytest.approx(0.2, rel=0.1)
    x, y = src.sample(np.random.default_rng(0), 32)
    assert np.std(x - y[..., 0]) == pytest.approx(np.sqrt(2), rel=0.15)
    with pytest.raises(ValueError, match="matching"):
        PairSource(a, b[:64])
    uneven = PairSource(a, b, noise=0.2, second_noise=0.4)
    assert uneven.target_variance == pytest.approx(4.0)


def test_single_image_source_hides_one_pixel_per_cell():
    rng = np.random.default_rng(4)
    image = rng.standard_normal((64, 64)).astype(np.float32)
    src = SingleImageSource(image, noise=1.0, cell=4, radius=2)
    x, y = src.sample(np.random.default_rng(0), 32)
    mask = y[..., 1] == 1
    assert mask.sum() == (32 // 4) ** 2
    for by in range(8):
        for bx in range(8):
            assert mask[by * 4:(by + 1) * 4, bx * 4:(bx + 1) * 4].sum() == 1
    # Unmasked pixels are untouched; masked ones took another pixel's value from within the radius.
    np.testing.assert_array_equal(x[~mask], y[..., 0][~mask])
    target = y[..., 0]
    for j, i in zip(*np.nonzero(mask)):
        window = target[max(j - 2, 0):j + 3, max(i - 2, 0):i + 3]
        assert np.any(np.isclose(window, x[j, i]))
        assert x[j, i] != target[j, i]


def test_noise_estimated_for_single_images():
    rng = np.random.default_rng(5)
    image = smooth_scene(128) + 0.3 * rng.standard_normal((128, 128))
    assert SingleImageSource(image).noise == pytest.approx(0.3, rel=0.1)


def test_loss_matches_formula_and_stops_gradient():
    rng = np.random.default_rng(6)
    y_true = np.stack([rng.standard_normal((2, 8, 8)), np.ones((2, 8, 8)), np.ones((2, 8, 8))], -1)
    y_true[0, :4, :, 1] = 0  # half the pixels of the first sample carry no weight
    y_pred = np.stack([rng.standard_normal((2, 8, 8)), rng.uniform(-3, 1, (2, 8, 8))], -1)
    loss = np.asarray(DenoiseLoss(bayesian=True).call(tf.constant(y_true, tf.float32),
                                                      tf.constant(y_pred, tf.float32)))
    t, w, tv = y_true[..., 0], y_true[..., 1], y_true[..., 2]
    mu, h = y_pred[..., 0], y_pred[..., 1]
    v = tv + np.exp(h)
    per_pixel = (t - mu) ** 2 + 0.5 * (np.log(v) + (t - mu) ** 2 / v)
    expected = (w * per_pixel).sum(axis=(1, 2)) / w.sum(axis=(1, 2))
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    # The likelihood term does not pull on the mean: its gradient there is that of the MSE alone.
    pred = tf.Variable(y_pred, dtype=tf.float32)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(DenoiseLoss(bayesian=True).call(tf.constant(y_true, tf.float32), pred))
    grad = np.asarray(tape.gradient(value, pred))[..., 0]
    mse_grad = -2 * w * (t - mu) / w.sum(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(grad, mse_grad, rtol=1e-4, atol=1e-6)
    assert DenoiseLoss.from_config(DenoiseLoss(bayesian=True).get_config()).bayesian


def test_training_learns_to_denoise(tmp_path):
    src = SceneSource([smooth_scene(96, s) for s in range(4)], noise=1.0, amplitude=(0.5, 2))
    validation = src.validation(8, 32)
    train_denoiser(src, tmp_path, steps=60, batch_size=8, patch_size=32, learning_rate=3e-3,
                                  architecture={"channels": 8, "depth": 2, "bayesian": False},
                                  validation=validation, log_every=20, progress=False)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [20, 40, 60]
    # Trained only on noisy targets, it already removes a good part of the noise.
    assert log[-1]["val_rmse_sigma"] < 0.7 * log[-1]["val_input_rmse_sigma"]


def test_resume_continues_where_it_stopped(tmp_path):
    src = SceneSource(smooth_scene(), noise=1.0)
    kwargs = {"batch_size": 2, "patch_size": 16, "architecture": TINY, "progress": False}
    model_a, _ = train_denoiser(src, tmp_path / "a", steps=4, **kwargs)
    train_denoiser(src, tmp_path / "b", steps=2, **kwargs)
    model_b, state_b = train_denoiser(src, tmp_path / "b", steps=4, **kwargs)
    assert state_b["step"] == 4
    assert load_checkpoint(tmp_path / "b")[1]["step"] == 4
    # Same patches at the same steps, optimizer state restored: the same weights.
    for wa, wb in zip(model_a.get_weights(), model_b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="another architecture"):
        train_denoiser(src, tmp_path / "b", steps=5, **{**kwargs, "architecture": {**TINY, "channels": 8}})


def test_resuming_a_finished_run_keeps_its_last_log(tmp_path):
    # Exporting again from a finished run (the same command run twice) must not lose the card's last log.
    src = SceneSource(smooth_scene(), noise=1.0)
    kwargs = {"batch_size": 2, "patch_size": 16, "architecture": TINY, "progress": False, "log_every": 2}
    _, first = train_denoiser(src, tmp_path, steps=4, **kwargs)
    _, again = train_denoiser(src, tmp_path, steps=4, **kwargs)
    assert first["last"]["step"] == 4
    assert again["last"] == first["last"]


def test_time_limit_stops_with_a_checkpoint(tmp_path):
    src = SceneSource(smooth_scene(), noise=1.0)
    _, state = train_denoiser(src, tmp_path, steps=50, batch_size=2, patch_size=16, architecture=TINY,
                              time_limit=0, progress=False)
    assert state["step"] == 1
    assert (tmp_path / "checkpoint.keras").is_file()
    assert json.loads((tmp_path / "state.json").read_text())["step"] == 1


def test_blind_spot_and_mixed_sources_train(tmp_path):
    rng = np.random.default_rng(7)
    noisy = smooth_scene(64) + rng.standard_normal((64, 64))
    sources = [SingleImageSource(noisy, noise=1.0), SceneSource(smooth_scene(64, 1), noise=1.0)]
    _, state = train_denoiser(sources, tmp_path, steps=4, weights=[3, 1], batch_size=2, patch_size=16,
                              architecture={"channels": 4, "depth": 2, "bayesian": True}, log_every=2,
                              progress=False, precision="bfloat16")
    assert np.isfinite(state["last"]["loss"])
    assert state["config"]["precision"] == "bfloat16"
    with pytest.raises(ValueError, match="weights"):
        train_denoiser(sources, tmp_path / "x", steps=1, weights=[1], progress=False)
    with pytest.raises(ValueError, match="multiple of 4"):
        train_denoiser(sources, tmp_path / "y", steps=1, patch_size=30, progress=False)


def test_export_writes_a_card_and_loadable_weights(tmp_path):
    src = SceneSource(smooth_scene(), noise=2.0)
    model, state = train_denoiser(src, tmp_path / "run", steps=2, batch_size=2, patch_size=16,
                                  architecture={"channels": 4, "depth": 2, "bayesian": True},
                                  progress=False, precision="bfloat16")
    path = export_denoiser(model, tmp_path / "model", name="tiny", description="test", noise=2.0, unit="G",
                           state=state, data="synthetic blobs", held_out="none")
    card = read_card(path)
    assert card["architecture"]["name"] == "unet" and card["architecture"]["bayesian"]
    assert card["input"] == {"scaling": "divide by the noise standard deviation", "noise": 2.0, "unit": "G",
                             "multiple_of": 4}
    assert card["training"]["steps"] == 2 and card["data"] == "synthetic blobs"
    assert (path / "model.weights.h5").is_file() and (path / "saved_model").is_dir()


def test_read_images(tmp_path):
    from astropy.io import fits
    from scipy.io import savemat

    a = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    np.save(tmp_path / "a.npy", a)
    fits.writeto(tmp_path / "a.fits", a)
    np.testing.assert_array_equal(read_images(tmp_path / "a.npy"), a.astype(np.float32))
    np.testing.assert_array_equal(read_images(tmp_path / "a.fits"), a.astype(np.float32))
    np.save(tmp_path / "b.npy", np.zeros((2, 2, 3, 4)))
    assert read_images(tmp_path / "b.npy").shape == (4, 3, 4)
    np.save(tmp_path / "c.npy", np.zeros(5))
    with pytest.raises(ValueError, match="1-D"):
        read_images(tmp_path / "c.npy")
    with pytest.raises(ValueError, match="Cannot read"):
        read_images(tmp_path / "a.txt")


@pytest.mark.shared_data
def test_read_images_reads_shared_sharp_and_idl(shared_data):
    sharp = min((shared_data / "hmi" / "sharp").glob("*1445*magnetogram.fits"))
    assert read_images(sharp).shape == (105, 163)
    assert read_images(shared_data / "hinode" / "Bpar.idl").shape == (128, 128)


def test_blind_spot_model_is_exported_and_applied_blind(tmp_path):
    from sunpy_enhance.denoise import denoise

    rng = np.random.default_rng(8)
    noisy = smooth_scene(64) + 0.5 * rng.standard_normal((64, 64))
    src = SingleImageSource(noisy, noise=0.5)
    model, state = train_denoiser(src, tmp_path / "run", steps=2, batch_size=2, patch_size=16,
                                  architecture={"channels": 4, "depth": 2, "bayesian": True}, progress=False)
    path = export_denoiser(model, tmp_path / "model", name="bs", description="", noise=0.5, unit="",
                           state=state, data="one noisy image", held_out="none")
    assert read_card(path)["input"]["blind_spot"] == {"cell": 4, "radius": 2}
    out, sigma = denoise(noisy, model=path, noise=0.5, uncertainty=True)
    assert out.shape == noisy.shape and np.isfinite(out).all()
    # The pixel's own value is weighed back in with the Gaussian posterior: its standard deviation is
    # always below the noise.
    assert np.all(sigma < 0.5) and np.all(sigma > 0)
    plain_model, plain_state = train_denoiser(src, tmp_path / "run2", steps=1, batch_size=2, patch_size=16,
                                              architecture=TINY, progress=False)
    with pytest.raises(ValueError, match="variance head"):
        export_denoiser(plain_model, tmp_path / "m2", name="x", description="", noise=0.5, unit="",
                        state=plain_state, data="", held_out="")
