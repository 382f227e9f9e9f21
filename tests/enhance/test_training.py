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
from sunpy_enhance.models import build_from_card, load_model, read_card
from sunpy_enhance.network import build_enhance_network
from sunpy_enhance.sample import synthetic_scene
from sunpy_enhance.training.config import TrainingConfig
from sunpy_enhance.training.corpus import synthetic_corpus
from sunpy_enhance.training.dataset import PairBank, PatchDataset, dihedral
from sunpy_enhance.training.frames import Frame, normalize_continuum_frame
from sunpy_enhance.training.history import convergence, training_stages
from sunpy_enhance.training.magnetic import synthetic_magnetogram
from sunpy_enhance.training.train import ForwardConsistentTrainer, train_enhance

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


def test_synthetic_magnetogram_physics(frame):
    bz = synthetic_magnetogram(frame, filling="network", seed=1)
    umbra = frame.data < np.percentile(frame.data, 1)
    assert np.median(bz.data[umbra]) > 1.5  # kG in the umbra
    quiet = frame.data > 0.95
    assert np.percentile(np.abs(bz.data[quiet]), 50) < 0.1  # weak field over most of the quiet Sun
    assert np.any(bz.data[quiet] > 0.5) and np.any(bz.data[quiet] < -0.5)  # kG concentrations of both signs
    with pytest.raises(ValueError, match="filling"):
        synthetic_magnetogram(frame, filling="sunspot")


def test_forward_operator_in_graph_equals_numpy():
    rng = np.random.default_rng(0)
    out = rng.standard_normal((2, 180, 180, 1)).astype(np.float32) * 0.05
    trainer = ForwardConsistentTrainer(build_enhance_network(blocks=1, filters=4), forward_per_batch=1)
    graph = np.asarray(trainer.reobserve(out))
    for i in range(2):
        np.testing.assert_allclose(graph[i, :, :, 0], reobserve_hmi(out[i, :, :, 0]), atol=2e-6)


def test_train_resume_and_export(tmp_path):
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
    x = np.random.default_rng(1).standard_normal((1, 24, 24, 1)).astype(np.float32) * 0.05
    f32 = load_model(tmp_path / "model")
    assert f32.keras_model is None  # the SavedModel is used on TensorFlow
    rebuilt = load_model(tmp_path / "model", precision="bfloat16")
    assert rebuilt.keras_model is not None
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

    from sunpy_enhance.training.train import _previous_run

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
from sunpy_enhance.training.corpus import synthetic_corpus
from sunpy_enhance.training.train import train_enhance
from sunpy_enhance.training.config import TrainingConfig
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
    x = np.random.default_rng(2).standard_normal((1, 24, 24, 1)).astype(np.float32) * 0.05
    saved = load_model(export)
    assert saved.keras_model is None  # the SavedModel is used on TensorFlow
    rebuilt = build_from_card(read_card(export), dtype="float32")
    rebuilt.load_weights(run / "best.weights.h5")
    np.testing.assert_allclose(saved(x), np.asarray(rebuilt(x)), atol=1e-5)
