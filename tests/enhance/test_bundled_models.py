"""
The bundled Enhance models: complete model cards, consistent artefacts, and a numeric regression guard.

The guard enhances the package's synthetic sample with each bundled model and compares statistics of
the output with those stored in ``tests/data/bundled_enhance_stats.json``. When the bundled models are
retrained on purpose, regenerate the file with ``python tests/enhance/test_bundled_models.py``.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from sunpy_enhance.enhance.api import enhance_map
from sunpy_enhance.models import available_models, load_model, read_card
from sunpy_enhance.sample import synthetic_hmi_map

STATS = Path(__file__).parents[1] / "data" / "bundled_enhance_stats.json"
KINDS = ("continuum", "magnetogram")
#: Every bundled Enhance model and its architecture: the full networks of the paper and the light ones
#: (one residual block of 32 filters) for quick looks, time series and the browser page.
MODELS = {f"enhance-{kind}{variant}": arch for kind in KINDS for variant, arch in (
    ("", {"name": "enhance", "blocks": 5, "filters": 64, "parameters": 446657}),
    ("-light", {"name": "enhance", "blocks": 1, "filters": 32, "parameters": 37729}))}


def _statistics(name):
    kind = read_card(name)["kind"]
    smap = synthetic_hmi_map(kind, shape=(64, 64), seed=3)
    out = enhance_map(smap, model=name).data.astype(float)
    return {"mean": float(np.mean(out)), "std": float(np.std(out)),
            "percentiles": [float(v) for v in np.percentile(out, [1, 25, 50, 75, 99])],
            "corner": [float(v) for v in out[10:14, 20:22].ravel()]}


@pytest.mark.parametrize("name", MODELS)
def test_card_is_complete(name):
    assert name in available_models()
    card = read_card(name)
    assert card["name"] == name and name.startswith(f"enhance-{card['kind']}")
    assert card["architecture"] == MODELS[name]
    for key in ("training_data", "psf", "normalisation", "training", "validation_metrics"):
        assert card[key], key
    training = card["training"]
    for key in ("steps_completed", "patches_seen", "wall_time_seconds", "hardware", "learning_rate"):
        assert key in training
    assert card["psf"]["input"]["omega"] == 2.0 and card["psf"]["input"]["width"] == 3.4
    assert card["psf"]["target"]["diameter_cm"] == 28


@pytest.mark.parametrize("name", MODELS)
def test_saved_model_and_keras_weights_agree(name):
    x = np.random.default_rng(0).standard_normal((1, 40, 40, 1)).astype(np.float32) * 0.05
    saved = load_model(name, engine="tensorflow")
    assert saved.keras_model is None  # TensorFlow uses the SavedModel
    from sunpy_enhance.models import build_from_card, model_directory

    rebuilt = build_from_card(saved.card)
    rebuilt.load_weights(model_directory(name) / "model.weights.h5")
    np.testing.assert_allclose(saved(x), np.asarray(rebuilt(x, training=False)), atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_numeric_regression(name):
    stored = json.loads(STATS.read_text())[name]
    measured = _statistics(name)
    scale = stored["std"]
    assert measured["mean"] == pytest.approx(stored["mean"], abs=1e-4 * scale)
    assert measured["std"] == pytest.approx(stored["std"], rel=1e-4)
    np.testing.assert_allclose(measured["percentiles"], stored["percentiles"], atol=1e-4 * scale)
    np.testing.assert_allclose(measured["corner"], stored["corner"], atol=1e-4 * scale)


if __name__ == "__main__":
    STATS.parent.mkdir(exist_ok=True)
    STATS.write_text(json.dumps({name: _statistics(name) for name in MODELS}, indent=1) + "\n")
    print(f"wrote {STATS}")


def test_real_hmi_magnetogram_sample(shared_data):
    """The bundled magnetogram model on real HMI data: G in, G out, sign kept, flux of the same order."""
    from astropy.io import fits

    from sunpy_enhance.enhance.api import enhance_array

    blos = fits.getdata(shared_data / "hmi" / "enhance_sample_blos.fits").astype(float)
    out = enhance_array(blos, kind="magnetogram")
    assert out.shape == (400, 400) and np.all(np.isfinite(out))
    strong = np.abs(blos) > 500
    binned = out.reshape(200, 2, 200, 2).mean(axis=(1, 3))
    assert np.all(np.sign(binned[strong]) == np.sign(blos[strong]))  # kG polarities are not flipped
    assert 0.5 < np.abs(out).mean() / np.abs(blos).mean() < 2
