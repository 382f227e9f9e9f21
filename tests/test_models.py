"""
Resolving model names and paths: bundled names resolve only to the package, user models only to paths given
explicitly.
"""
import json
import shutil
from pathlib import Path

import pytest

from sunpy_enhance.models import MODELS_DIR, model_directory, read_card


def _decoy(directory, name):
    """A folder that looks like a model (a card.json naming itself) in ``directory``."""
    decoy = directory / name
    decoy.mkdir()
    (decoy / "card.json").write_text(json.dumps({"name": "decoy", "kind": "continuum"}))
    return decoy


def test_folder_in_working_directory_does_not_shadow_bundled_model(tmp_path, monkeypatch):
    _decoy(tmp_path, "enhance-continuum")
    monkeypatch.chdir(tmp_path)
    assert model_directory("enhance-continuum") == MODELS_DIR / "enhance-continuum"
    assert read_card("enhance-continuum")["name"] == "enhance-continuum"


def test_user_model_only_as_an_explicit_path(tmp_path, monkeypatch):
    decoy = _decoy(tmp_path, "my-model")
    monkeypatch.chdir(tmp_path)
    # a bare name is never a folder of the working directory: the message says how to give it
    with pytest.raises(ValueError, match=r"\./my-model"):
        model_directory("my-model")
    assert model_directory("./my-model") == Path("./my-model")
    assert model_directory(str(decoy)) == decoy
    assert model_directory(Path("my-model")) == Path("my-model")  # a pathlib.Path is explicit
    # a Path that is not a model is refused, even when a bundled model has that name
    with pytest.raises(ValueError, match="card.json"):
        model_directory(Path("enhance-continuum"))


def test_bundled_name_with_a_copied_damaged_folder(tmp_path, monkeypatch):
    # a damaged copy of a bundled model in the working directory is never loaded instead of it
    copy = tmp_path / "enhance-magnetogram"
    shutil.copytree(MODELS_DIR / "enhance-magnetogram", copy)
    (copy / "model.weights.h5").write_bytes(b"not a model")
    monkeypatch.chdir(tmp_path)
    assert model_directory("enhance-magnetogram").resolve() == (MODELS_DIR / "enhance-magnetogram").resolve()


def test_loading_and_writing_are_two_modules():
    # sunpy_enhance.models finds, reads and loads models; sunpy_enhance.export writes them (and imports models,
    # never the other way round)
    import ast
    import inspect

    import sunpy_enhance.models as models
    from sunpy_enhance import export

    for name in ("export_model", "export_onnx", "ONNX_OPSET"):
        assert name in export.__all__ and not hasattr(models, name)
        assert getattr(export, name) is not None
    imported = {node.module for node in ast.walk(ast.parse(inspect.getsource(models)))
                if isinstance(node, ast.ImportFrom)}
    assert "sunpy_enhance.export" not in imported
    assert export.ONNX_OPSET == 17 and models.ONNX_FILE == "model.onnx"


def test_clear_cache_reloads():
    from sunpy_enhance.models import clear_cache, load_keras_model, load_model

    net = load_model("denoise-polarimetry", engine="onnxruntime")
    assert load_model("denoise-polarimetry", engine="onnxruntime") is net  # cached
    clear_cache()
    assert load_model("denoise-polarimetry", engine="onnxruntime") is not net
    with pytest.raises(ValueError, match="precision"):
        load_keras_model("denoise-polarimetry", precision="float16")


def test_every_bundled_card_credits_its_data_in_one_place():
    """``data_credits`` is a top-level list of every bundled card (Enhance and denoisers alike), nowhere else."""
    import json

    from sunpy_enhance.models import MODELS_DIR, available_models

    for name in available_models():
        card = json.loads((MODELS_DIR / name / "card.json").read_text())
        assert isinstance(card["data_credits"], list) and card["data_credits"], name
        assert all(isinstance(c, str) and len(c) > 20 for c in card["data_credits"]), name
        nested = [k for k, v in card.items() if isinstance(v, dict) and "data_credits" in v]
        assert nested == [], (name, nested)
