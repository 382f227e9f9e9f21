"""
Shared test configuration: the shared real-data folder, the ``--remote-data`` switch.
"""
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "agg")

#: Real solar data next to the repository (never committed); tests that need it skip without it.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_addoption(parser):
    parser.addoption("--remote-data", action="store_true", default=False,
                     help="run tests that need the internet (JSOC; set JSOC_EMAIL)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--remote-data"):
        return
    skip = pytest.mark.skip(reason="needs the internet: run with --remote-data (and JSOC_EMAIL set)")
    for item in items:
        if "remote_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data():
    """Path to ../shared/data, or skip the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared real-data folder {SHARED_DATA} is absent (it is never shipped with the package)")
    return SHARED_DATA


def _train_tiny(kind, directory):
    from sunpy_enhance.enhance.training.corpus import synthetic_corpus
    from sunpy_enhance.enhance.training.train import TrainingConfig, train_enhance

    config = TrainingConfig(kind=kind, blocks=5, filters=8, steps_per_epoch=4, epochs=2, batch_size=8,
                            patch_size=24, phases=1, validation_count=4, validation_size=16,
                            forward_per_batch=2, learning_rate=1e-3)
    train_enhance(synthetic_corpus(kind), directory / "run", config, export_to=directory / "model",
                  model_name=f"tiny-{kind}", verbose=0)
    return directory / "model"


@pytest.fixture(scope="session")
def tiny_enhance_models(tmp_path_factory):
    """
    Small Enhance models (5 blocks, 8 filters) trained in the test session by the project's own training
    code on synthetic scenes: ``{"continuum": dir, "magnetogram": dir}``. Toys for testing the machinery.
    """
    root = tmp_path_factory.mktemp("tiny_models")
    return {kind: _train_tiny(kind, root / kind) for kind in ("continuum", "magnetogram")}
