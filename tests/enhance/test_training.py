"""
Training data and the training loop: normalisation, alignment, batches, forward operator, resume, export.
"""
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys

import astropy.units as u
import numpy as np
import pytest

from sunpy_enhance.degrade import reobserve_hmi, training_pair
from sunpy_enhance.enhance.network import build_enhance_network
from sunpy_enhance.enhance.training.config import TrainingConfig
from sunpy_enhance.enhance.training.corpus import DATA_CREDITS, credits_for, synthetic_corpus
from sunpy_enhance.enhance.training.dataset import PairBank, PatchDataset, dihedral
from sunpy_enhance.enhance.training.frames import Frame, normalize_continuum_frame
from sunpy_enhance.enhance.training.history import convergence, training_stages
from sunpy_enhance.enhance.training.train import ForwardConsistentTrainer, train_enhance
from sunpy_enhance.models import EMULATE_BFLOAT16_ENV, build_from_card, load_model, read_card
from sunpy_enhance.sample import synthetic_scene

SCALE = 0.126 * u.arcsec


@pytest.fixture(scope="module")
def frame():
    return normalize_continuum_frame(synthetic_scene((60, 60), spot=True, seed=5) * 3e4, SCALE, name="scene")


def test_contrast_matched_to_hmi(frame):
    hmi, target = training_pair(frame.data, SCALE)
    quiet = hmi[:12, :12]  # a corner away from the spot
    assert quiet.mean() == pytest.approx(1, abs=0.03)
    assert "alpha=" in frame.notes
    assert target.shape == (2 * hmi.shape[0], 2 * hmi.shape[1])


def test_dihedral_group():
    a = np.arange(12).reshape(3, 4)
    images = [dihedral(a, k) for k in range(8)]
    assert len({im.tobytes() + bytes(im.shape) for im in images}) == 8


def test_patch_batches(frame):
    bank = PairBank([frame], phases=2, seed=0)
    real = [np.ones((40, 40), dtype=np.float32), np.full((30, 30), np.nan, dtype=np.float32)]
    real[1][5:25, 5:25] = 1.0
    data = PatchDataset(bank, patch_size=16, batch_size=6, steps=3, noise=1e-3, offset=1.0, real_images=real,
                        forward_per_batch=2, seed=4)
    x, y = data[0]
    assert x.shape == (6, 16, 16, 1) and y.shape == (6, 32, 32, 2)
    np.testing.assert_array_equal(y[:4, ..., 1], 1)
    np.testing.assert_array_equal(y[4:, ..., 1], 0)
    assert np.all(np.isfinite(x))  # real patches with NaN are never drawn
    np.testing.assert_allclose(x[4:], 0, atol=1e-6)  # real images of ones, centred
    # reproducible from the seed, and new patches every step
    np.testing.assert_array_equal(data[0][0], x)
    assert not np.array_equal(data[1][0], x)
    # the input of each pair is its target observed by HMI: noise level as asked
    clean = PatchDataset(bank, patch_size=16, batch_size=4, steps=1, noise=0.0, offset=1.0, seed=4)[0][0]
    noisy = PatchDataset(bank, patch_size=16, batch_size=4, steps=1, noise=1e-3, offset=1.0, seed=4)[0][0]
    assert np.std(noisy - clean) == pytest.approx(1e-3, rel=0.1)


def test_per_patch_noise_between_the_limits(frame):
    """Each supervised patch gets its own σ, drawn between noise_min and noise (HMI's 720 s and 45 s levels)."""
    bank = PairBank([frame], phases=1, seed=0)
    kwargs = {"patch_size": 16, "batch_size": 64, "steps": 1, "offset": 1.0, "seed": 3}
    clean = PatchDataset(bank, noise=0.0, **kwargs)[0][0]
    noisy = PatchDataset(bank, noise=0.010, noise_min=0.006, **kwargs)[0][0]
    sigma = np.std(noisy - clean, axis=(1, 2, 3))
    assert sigma.min() > 0.0055 and sigma.max() < 0.0106
    assert sigma.max() - sigma.min() > 0.003  # a range, not one level


def test_field_scaling_scales_input_and_target_alike():
    """With field_scale_min each supervised pair is one exact pair of a weaker field: input and target share one
    factor per patch, drawn between field_scale_min and 1, before the noise."""
    rng = np.random.default_rng(5)
    frame = Frame(data=rng.standard_normal((240, 240)) * 0.3, pixel_scale=SCALE, name="field")
    bank = PairBank([frame], phases=1, seed=0)
    kwargs = {"patch_size": 16, "batch_size": 64, "steps": 1, "noise": 0.0, "seed": 2}
    plain_x, plain_y = PatchDataset(bank, **kwargs)[0]
    x, y = PatchDataset(bank, field_scale_min=0.25, **kwargs)[0]
    factor = np.sum(x * plain_x, axis=(1, 2, 3)) / np.sum(plain_x ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(x, factor[:, None, None, None] * plain_x, atol=1e-6)
    np.testing.assert_allclose(y[..., 0], factor[:, None, None] * plain_y[..., 0], atol=1e-6)
    np.testing.assert_array_equal(y[..., 1], 1)
    assert factor.min() >= 0.25 and factor.max() <= 1
    assert factor.min() < 0.35 and factor.max() > 0.8  # spread over the range
    # the noise is added after the scaling: its level is the one asked for, whatever the factor
    noisy = PatchDataset(bank, field_scale_min=0.25, **{**kwargs, "noise": 0.01})[0][0]
    assert np.std(noisy - x) == pytest.approx(0.01, rel=0.05)
    with pytest.raises(ValueError, match="offset 0"):
        PatchDataset(bank, field_scale_min=0.5, offset=1.0)
    with pytest.raises(ValueError, match="1 for continuum"):
        TrainingConfig(kind="continuum", field_scale_min=0.5)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        TrainingConfig(kind="magnetogram", field_scale_min=0)


def test_recorrupted_real_patches():
    """Real patches become input y + z and measurement-domain target y - z with z of the image's own noise."""
    frame = Frame(data=np.zeros((200, 200)), pixel_scale=SCALE, name="flat")
    bank = PairBank([frame], phases=1, seed=0)
    rng = np.random.default_rng(0)
    real = [rng.standard_normal((60, 60)).astype(np.float32) * 0.2]
    data = PatchDataset(bank, patch_size=16, batch_size=40, steps=1, noise=0.0, real_images=real,
                        real_noise=[0.01], forward_per_batch=36, seed=1)
    x, y = data[0]
    x, target = x[4:, ..., 0], y[4:, ..., 0]
    np.testing.assert_array_equal(y[4:, ..., 1], 0)
    binned = target.reshape(36, 16, 2, 16, 2).mean(axis=(2, 4))  # what the loss compares with
    np.testing.assert_array_equal(target[:, ::2, ::2], target[:, 1::2, 1::2])  # repeated x2
    z = (x - binned) / 2
    assert np.std(z) == pytest.approx(0.01, rel=0.05)
    patches = (x + binned) / 2  # the real data themselves, rotated/reflected
    assert np.isclose(np.std(patches), 0.2, rtol=0.1)
    without = PatchDataset(bank, patch_size=16, batch_size=8, steps=1, noise=0.0, real_images=real,
                           forward_per_batch=4, seed=1)[0]
    np.testing.assert_allclose(without[1][4:, ::2, ::2, 0], without[0][4:, ..., 0], atol=1e-7)  # plain: y itself


def test_hmi_noise_sigma_measures_white_noise():
    from sunpy_enhance.enhance.training.magnetic import hmi_noise_sigma

    rng = np.random.default_rng(2)
    field = np.zeros((300, 300))
    field[100:150, 100:150] = 1.0  # a kG plage patch is ignored
    field[::7, ::5] = np.nan
    assert hmi_noise_sigma(field + 0.006 * rng.standard_normal(field.shape)) == pytest.approx(0.006, rel=0.05)


def test_frames_of_one_scene_sampled_as_one(frame):
    """Four frames of one scene are drawn as often as one frame of the same area, not four times as often."""
    other = dataclasses.replace(frame, name="other")
    repeats = [dataclasses.replace(frame, name=f"repeat {i}", scene="one scene") for i in range(4)]
    bank = PairBank([other, *repeats], phases=2, seed=0)
    share = {name: bank.weights[[n == name for n in bank.names]].sum() for name in set(bank.names)}
    assert share["other"] == pytest.approx(0.5)
    assert sum(share[f"repeat {i}"] for i in range(4)) == pytest.approx(0.5)
    # the split halves of a frame keep its scene
    assert {part.scene for part in repeats[0].split(0.3)} == {"one scene"}


def test_real_magnetogram_frames(shared_data):
    """Real structure in kG; validation columns never trained on; the MHD active region is validation only."""
    from sunpy_enhance.enhance.training.magnetic import (
        hinode_weak_field,
        real_magnetogram_frames,
        weak_field_statistics,
    )

    train, validation = real_magnetogram_frames(shared_data)
    names = [f.name for f in train]
    assert sum("gst_niris_bz" in n for n in names) == 4 and any("sdnn" in n for n in names)
    assert len({f.scene for f in train if "gst_niris_bz" in f.name}) == 1  # one scene, minutes apart
    assert any("sst_crisp" in n for n in names) and any("hinode" in n for n in names)
    assert not any("muram" in n for n in names) and any("muram" in f.name for f in validation)
    for frame in train + validation:
        assert frame.pixel_scale < 0.252 * u.arcsec
        assert 0.5 < np.percentile(np.abs(frame.data), 99.5) < 3.5  # kG fields at the top
        assert frame.notes
    niris_train = train[0].data
    niris_held = validation[0].data
    assert niris_train.shape[1] + niris_held.shape[1] == 620  # a column split of one scene, no overlap
    fitted, shipped = hinode_weak_field(shared_data)
    assert np.corrcoef(fitted.ravel(), shipped.ravel())[0, 1] > 0.99
    stats = weak_field_statistics([f.data for f in validation])
    assert 0 < stats["weak_fraction"] < 1


def test_tiny_training_on_real_structure(shared_data, tmp_path):
    """The magnetogram recipe runs end to end on a small real-structure frame, and the card says what was used."""
    from sunpy_enhance.enhance.training.corpus import Corpus, real_hmi_magnetograms
    from sunpy_enhance.enhance.training.magnetic import real_magnetogram_frames

    train, validation = real_magnetogram_frames(shared_data)
    real, names = real_hmi_magnetograms(shared_data)
    corpus = Corpus([train[0]], [validation[0]], [np.asarray(r, dtype=np.float32) for r in real[:2]], names[:2],
                    ["NIRIS crop"])
    config = TrainingConfig(kind="magnetogram", blocks=1, filters=4, steps_per_epoch=2, epochs=1, batch_size=6,
                            patch_size=24, phases=1, validation_count=4, validation_size=16, forward_per_batch=2)
    assert config.recorrupt and config.noise_min == pytest.approx(0.006) and config.noise == pytest.approx(0.01)
    card = train_enhance(corpus, tmp_path / "run", config, export_to=tmp_path / "model", verbose=0)
    supervision = card["training_data"]["real_hmi_self_supervision"]
    assert "Recorrupted" in supervision["method"] and len(supervision["sigma_per_image"]) == 2
    assert all(0.001 < s < 0.01 for s in supervision["sigma_per_image"])  # kG: 1-10 G
    assert card["training_data"]["input_noise"]["sigma_min"] == pytest.approx(0.006)
    assert np.isfinite(card["training"]["best_validation_mse"])


def test_credits_for_corpus_paths_and_flat_names():
    # A derived array saved under a flat name still credits its source; unrelated names credit nothing.
    niris = DATA_CREDITS["magnetograms/gst_niris_bz_2017"]
    assert credits_for(["magnetograms/gst_niris_bz_2017-07-13T20-15-49.fits[train]"]) == [niris]
    assert credits_for(["/runs/hmi_observed_magnetograms_gst_niris_bz_2017-07-13T20-15-49_train.npy"]) == [niris]
    assert credits_for(["/runs/hmi_observed_hinode_stV_rebinned_idl.npy"]) == [DATA_CREDITS["hinode/st"]]
    assert credits_for(["hmi/enhance_sample_blos.fits"]) == [DATA_CREDITS["hmi/"]]
    assert credits_for(["my_field.npy"]) == []


def test_forward_operator_in_graph_equals_numpy():
    rng = np.random.default_rng(0)
    out = rng.standard_normal((2, 180, 180, 1)).astype(np.float32) * 0.05
    trainer = ForwardConsistentTrainer(build_enhance_network(blocks=1, filters=4), forward_per_batch=1)
    graph = np.asarray(trainer.reobserve(out))
    for i in range(2):
        np.testing.assert_allclose(graph[i, :, :, 0], reobserve_hmi(out[i, :, :, 0]), atol=2e-6)


def test_weak_field_weight_of_the_supervised_loss():
    """Pixels whose target is under 100 G weigh weak_field_weight; the loss is the weighted mean."""
    target = np.zeros((1, 2, 2, 2), dtype=np.float32)
    target[0, :, :, 0] = [[0.05, -0.09], [0.5, -1.2]]  # kG: two weak, two strong pixels
    error = np.zeros_like(target[..., :1])
    error[0, 0, 0, 0] = 0.01  # on a weak pixel only
    network = build_enhance_network(blocks=1, filters=4)
    plain = ForwardConsistentTrainer(network)
    weighted = ForwardConsistentTrainer(network, weak_field_weight=4.0)
    prediction = target[..., :1] + error
    assert float(plain.supervised_loss(prediction, target[..., :1])) == pytest.approx(1e-4 / 4)
    assert float(weighted.supervised_loss(prediction, target[..., :1])) == pytest.approx(4e-4 / 10)
    with pytest.raises(ValueError, match="weak_field_weight must be positive, and 1 for continuum"):
        TrainingConfig(kind="continuum", weak_field_weight=4.0)
    assert TrainingConfig(kind="magnetogram", weak_field_weight=4.0).weak_field_weight == 4.0


def test_noise_twins_in_the_batch(frame):
    """With noise twins the batch ends with the noise-free inputs of its first supervised patches."""
    bank = PairBank([frame], phases=1, seed=0)
    real = [np.ones((40, 40), dtype=np.float32)]
    kwargs = {"patch_size": 16, "batch_size": 8, "steps": 1, "noise": 1e-2, "offset": 1.0, "real_images": real,
              "forward_per_batch": 2, "seed": 2}
    x, y = PatchDataset(bank, noise_twins=3, **kwargs)[0]
    plain_x, plain_y = PatchDataset(bank, **kwargs)[0]
    assert x.shape == (11, 16, 16, 1) and y.shape == (11, 32, 32, 2)
    np.testing.assert_array_equal(x[:8], plain_x)  # the batch itself is unchanged
    np.testing.assert_array_equal(y[8:], y[:3])  # twins share their patches' targets
    clean = PatchDataset(bank, **{**kwargs, "noise": 0.0})[0][0]
    np.testing.assert_allclose(x[8:], clean[:3], atol=1e-7)
    assert np.std(x[8:] - x[:3]) == pytest.approx(1e-2, rel=0.1)
    with pytest.raises(ValueError, match="noise_twins"):
        PatchDataset(bank, noise_twins=7, **kwargs)


def test_noise_propagation_penalty_of_the_loss():
    """
    The penalty is noise_weight x the weighted mean square difference of each noisy output and its twin's.

    A network's loss on a batch whose twin outputs differ from the noisy ones by a known amount rises by
    exactly that; the forward-consistency and supervised parts are untouched.
    """
    from sunpy_enhance.enhance.training.train import NOISE_TWINS

    network = build_enhance_network(blocks=1, filters=4)
    n_sup, size = 10, 8
    rng = np.random.default_rng(1)
    target = (rng.standard_normal((n_sup, size, size, 1)) * 0.3).astype(np.float32)
    prediction = target + 0.01
    twins = prediction[:NOISE_TWINS].copy()
    twins[:, :2] += 0.02  # a quarter of the pixels differ by 20 G
    y = np.concatenate([target, target[:NOISE_TWINS]])
    y = np.concatenate([y, np.ones_like(y)], axis=-1)
    y_pred = np.concatenate([prediction, twins])
    weight = np.where(np.abs(target[:NOISE_TWINS]) < 0.1, 4.0, 1.0)
    square = (y_pred[:NOISE_TWINS] - twins) ** 2
    expected = 1e-4 + 3.0 * np.sum(weight * square) / np.sum(weight)
    trainer = ForwardConsistentTrainer(network, weak_field_weight=4.0, noise_weight=3.0)
    assert float(trainer.compute_loss(y=y, y_pred=y_pred)) == pytest.approx(expected, rel=1e-5)
    assert float(trainer.compute_loss(y=y[:n_sup], y_pred=y_pred[:n_sup], training=False)) == pytest.approx(1e-4)
    off = ForwardConsistentTrainer(network, weak_field_weight=4.0)
    assert off.noise_twins == 0
    with pytest.raises(ValueError, match="noise_weight must be 0 or positive"):
        TrainingConfig(kind="magnetogram", noise_weight=-1)


def test_train_resume_and_export(tmp_path, monkeypatch):
    corpus = synthetic_corpus("continuum", shape=(60, 60))
    config = TrainingConfig(kind="continuum", blocks=1, filters=8, steps_per_epoch=2, epochs=1, batch_size=6,
                            patch_size=20, phases=1, validation_count=4, validation_size=16, forward_per_batch=2)
    run = tmp_path / "run"
    train_enhance(corpus, run, config, verbose=0)
    assert json.loads((run / "state.json").read_text())["epoch"] == 0
    before = (run / "last.weights.h5").read_bytes()
    # resuming with more epochs continues from the checkpoint
    config.epochs = 2
    card = train_enhance(corpus, run, config, export_to=tmp_path / "model", model_name="toy", verbose=0)
    assert json.loads((run / "state.json").read_text())["epoch"] == 1
    assert (run / "last.weights.h5").read_bytes() != before
    assert len((run / "log.csv").read_text().strip().splitlines()) == 3  # header + 2 epochs
    assert card["training"]["epochs_completed"] == 2
    history = card["training"]["validation_history"]
    assert len(history) == 2 and min(history) == pytest.approx(card["training"]["best_validation_mse"], rel=1e-3)
    # an incompatible configuration is refused
    with pytest.raises(ValueError, match="another configuration"):
        train_enhance(corpus, run, TrainingConfig(kind="continuum", blocks=2, filters=8), verbose=0)
    # the export loads, the SavedModel and the Keras rebuild agree
    saved = read_card(tmp_path / "model")
    assert saved["architecture"] == {"name": "enhance", "blocks": 1, "filters": 8, "parameters": 2521}
    assert saved["normalisation"]["offset"] == 1.0
    # the export step also writes model.onnx, checked against Keras, and records it
    assert (tmp_path / "model" / "model.onnx").is_file()
    assert saved["onnx"]["opset"] == 17 and saved["onnx"]["max_abs_difference_to_keras"] < 1e-5
    x = np.random.default_rng(1).standard_normal((1, 24, 24, 1)).astype(np.float32) * 0.05
    f32 = load_model(tmp_path / "model", engine="tensorflow")
    assert f32.keras_model is None  # the SavedModel is used on TensorFlow
    monkeypatch.setenv(EMULATE_BFLOAT16_ENV, "1")  # bfloat16 even where the CPU only emulates it
    rebuilt = load_model(tmp_path / "model", precision="bfloat16")
    assert rebuilt.keras_model is not None and rebuilt.engine == "tensorflow"
    np.testing.assert_allclose(f32(x), rebuilt(x), atol=0.05 * np.abs(f32(x)).max() + 1e-3)


def test_frame_split_never_shares_pixels():
    data = np.arange(100.0).reshape(10, 10)
    train, held = Frame(data, SCALE, "f").split(0.3)
    assert train.data.shape == (10, 7) and held.data.shape == (10, 3)
    assert not set(train.data.ravel()) & set(held.data.ravel())


def test_user_psf_is_used_and_recorded(tmp_path):
    """A user PSF replaces the HMI one in the training pairs and is named in the card."""
    import functools

    from sunpy_enhance.psf import hmi_psf

    calls = []

    def reference_psf(scale):
        calls.append(scale)
        return hmi_psf(scale, omega=1.8, width=3.0)

    corpus = synthetic_corpus("continuum", shape=(60, 60))
    config = TrainingConfig(kind="continuum", blocks=1, filters=4, steps_per_epoch=1, epochs=1, batch_size=4,
                            patch_size=16, phases=1, validation_count=2, validation_size=16, forward_weight=0)
    card = train_enhance(corpus, tmp_path / "run", config, verbose=0, input_psf=reference_psf,
                         target_psf=functools.partial(hmi_psf, radius=2 * u.arcsec))
    assert len(calls) == 3  # two training frames and one validation frame
    assert card["psf"]["input"]["model"] == "user-supplied: reference_psf"
    assert card["psf"]["target"]["model"].startswith("user-supplied")


def test_history_of_an_exported_model_is_kept(tmp_path):
    """Training on from an exported model records that model's own training record (and its history)."""
    import json

    from sunpy_enhance.enhance.training.train import _previous_run

    model = tmp_path / "enhance-continuum"
    model.mkdir()
    (model / "model.weights.h5").write_bytes(b"")
    earlier = {"epochs_completed": 8, "initialised_from": {"run": "first", "epochs_completed": 3}}
    (model / "card.json").write_text(json.dumps({"training": earlier}))
    info = _previous_run(model / "model.weights.h5")
    assert info["run"] == "enhance-continuum"
    assert info["training"] == earlier


def test_training_stages_follow_the_chain(tmp_path):
    """A run started from an exported model's weights records that model's runs as earlier stages."""
    corpus = synthetic_corpus("continuum", shape=(60, 60))
    small = {"kind": "continuum", "blocks": 1, "filters": 8, "steps_per_epoch": 1, "batch_size": 6,
             "patch_size": 20, "phases": 1, "validation_count": 4, "validation_size": 16, "forward_per_batch": 2}
    train_enhance(corpus, tmp_path / "a", TrainingConfig(**small, epochs=2, learning_rate=1e-3), verbose=0,
                  export_to=tmp_path / "model-a")
    card = train_enhance(corpus, tmp_path / "b", TrainingConfig(**small, epochs=1, learning_rate=1e-4), verbose=0,
                         init_weights=tmp_path / "model-a" / "model.weights.h5")
    stages = training_stages(card["training"])
    assert [(s["run"], s["learning_rate"], s["epochs"]) for s in stages] == [("a", 1e-3, 2), ("b", 1e-4, 1)]
    assert len(stages[0]["validation_history"]) == 2
    assert convergence(stages[0]["validation_history"], window=1) >= 0
    assert convergence(stages[1]["validation_history"], window=1) is None  # too short to say


def test_training_stages_follow_run_directories(tmp_path):
    """Stages started from a run directory's checkpoint keep the whole lineage, and so does a later export."""
    corpus = synthetic_corpus("continuum", shape=(60, 60))
    small = {"kind": "continuum", "blocks": 1, "filters": 8, "steps_per_epoch": 1, "batch_size": 6,
             "patch_size": 20, "phases": 1, "validation_count": 4, "validation_size": 16, "forward_per_batch": 2}
    train_enhance(corpus, tmp_path / "a", TrainingConfig(**small, epochs=1, learning_rate=1e-3), verbose=0)
    train_enhance(corpus, tmp_path / "b", TrainingConfig(**small, epochs=2, learning_rate=3e-4), verbose=0,
                  init_weights=tmp_path / "a" / "best.weights.h5")
    card = train_enhance(corpus, tmp_path / "c", TrainingConfig(**small, epochs=1, learning_rate=1e-4, max_minutes=30),
                         verbose=0, init_weights=tmp_path / "b" / "best.weights.h5")
    expected = [("a", 1e-3, 1), ("b", 3e-4, 2), ("c", 1e-4, 1)]
    assert [(s["run"], s["learning_rate"], s["epochs"]) for s in training_stages(card["training"])] == expected
    # Exporting the finished run again without naming its starting weights or its time limit keeps both.
    again = train_enhance(corpus, tmp_path / "c", TrainingConfig(**small, epochs=1, learning_rate=1e-4), verbose=0,
                          export_only=True)
    assert [(s["run"], s["learning_rate"], s["epochs"]) for s in training_stages(again["training"])] == expected
    assert again["training"]["max_minutes"] == 30


_JAX_TRAINING = """
import json, sys
sys.modules["tensorflow"] = None  # as on the GPU machines: Keras 3 on JAX, no TensorFlow
import keras
assert keras.backend.backend() == "jax", keras.backend.backend()
from sunpy_enhance.enhance.training.corpus import synthetic_corpus
from sunpy_enhance.enhance.training.train import train_enhance
from sunpy_enhance.enhance.training.config import TrainingConfig
config = TrainingConfig(**json.loads(sys.argv[1]))
train_enhance(synthetic_corpus("continuum", shape=(60, 60)), sys.argv[2], config, export_to=sys.argv[3],
              model_name="toy", verbose=0)
"""


def test_training_on_jax_without_tensorflow_resumes_across_backends(tmp_path):
    """
    The GPU machines have Keras 3 on JAX and no TensorFlow: training runs there, its checkpoints resume on
    TensorFlow and back, and an export made afterwards with TensorFlow adds the SavedModel while the card
    keeps the hardware that trained.
    """
    if importlib.util.find_spec("jax") is None:
        pytest.skip("JAX is not installed")

    config = TrainingConfig(kind="continuum", blocks=1, filters=8, steps_per_epoch=2, epochs=1, batch_size=6,
                            patch_size=20, phases=1, validation_count=4, validation_size=16, forward_per_batch=2)
    run, jax_export = tmp_path / "run", tmp_path / "jax-model"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}

    def on_jax(epochs):
        settings = json.dumps({**dataclasses.asdict(config), "epochs": epochs})
        proc = subprocess.run([sys.executable, "-c", _JAX_TRAINING, settings, str(run), str(jax_export)],
                              env=env, capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]

    def iterations():  # Adam's step counter, restored from the checkpoint on resume
        return int(np.load(run / "optimizer.npz")["arr_0"])

    corpus = synthetic_corpus("continuum", shape=(60, 60))
    on_jax(1)
    card = read_card(jax_export)
    assert card["training"]["hardware"]["backend"] == "jax" and "tensorflow" not in card["training"]["hardware"]
    assert (jax_export / "model.weights.h5").is_file() and not (jax_export / "saved_model").exists()
    assert not (jax_export / "model.onnx").exists() and "onnx" not in card  # ONNX needs TensorFlow (tf2onnx)
    assert iterations() == 2
    config.epochs = 2  # JAX -> TensorFlow
    train_enhance(corpus, run, config, verbose=0)
    assert iterations() == 4
    on_jax(3)  # TensorFlow -> JAX
    assert iterations() == 6
    assert len((run / "log.csv").read_text().strip().splitlines()) == 4  # header + 3 epochs
    export = tmp_path / "model"
    config.epochs = 3
    card = train_enhance(corpus, run, config, export_to=export, model_name="toy", export_only=True, verbose=0)
    assert card["training"]["epochs_completed"] == 3
    assert card["training"]["hardware"]["backend"] == "jax"
    assert (export / "saved_model").is_dir()
    assert (export / "model.onnx").is_file() and read_card(export)["onnx"]["opset"] == 17  # --export-only too
    x = np.random.default_rng(2).standard_normal((1, 24, 24, 1)).astype(np.float32) * 0.05
    np.testing.assert_allclose(load_model(export, engine="onnxruntime")(x),
                               load_model(export, engine="tensorflow")(x), atol=1e-5)
    saved = load_model(export, engine="tensorflow")
    assert saved.keras_model is None  # the SavedModel is used on TensorFlow
    rebuilt = build_from_card(read_card(export), dtype="float32")
    rebuilt.load_weights(run / "best.weights.h5")
    np.testing.assert_allclose(saved(x), np.asarray(rebuilt(x)), atol=1e-5)
