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
