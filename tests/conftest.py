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
