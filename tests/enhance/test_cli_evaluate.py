"""
``sunpy-enhance evaluate --update-card`` never writes into an installed package: only from a source tree, else
to an explicit ``--card-output PATH``.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sunpy_enhance
from sunpy_enhance.cli import build_parser
from sunpy_enhance.cli.evaluate import _card_target, source_tree
from sunpy_enhance.models import model_directory

PACKAGE = Path(sunpy_enhance.__file__).resolve().parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A copy of the package outside any source tree, as ``pip install`` leaves it in site-packages."""
    site = tmp_path_factory.mktemp("site-packages")
    shutil.copytree(PACKAGE, site / "sunpy_enhance", ignore=shutil.ignore_patterns("__pycache__"))
    return site


def _run_installed(site, cwd, *argv):
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-m", "sunpy_enhance", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_update_card_of_an_installed_package_is_refused_before_any_work(installed, tmp_path):
    card = installed / "sunpy_enhance" / "data" / "models" / "enhance-magnetogram" / "card.json"
    before = card.read_bytes()
    (tmp_path / "data").mkdir()
    run = _run_installed(installed, tmp_path, "evaluate", "--kind", "magnetogram", "--data", str(tmp_path / "data"),
                         "--output-dir", str(tmp_path / "report"), "--update-card")
    assert run.returncode == 1
    message = run.stderr.strip()
    assert len(message.splitlines()) == 1
    assert f"--update-card would write into the installed package ({card})" in message
    assert "only from a source tree (an editable install in a git checkout)" in message
    assert "Give --card-output PATH" in message
    assert card.read_bytes() == before
    assert not (tmp_path / "report").exists()  # refused before the evaluation started


def test_card_output_that_exists_needs_overwrite(installed, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "card.json").write_text("{}")
    argv = ["evaluate", "--kind", "magnetogram", "--data", str(tmp_path / "data"), "--output-dir",
            str(tmp_path / "report"), "--card-output", str(tmp_path / "card.json")]
    run = _run_installed(installed, tmp_path, *argv)
    assert run.returncode == 1
    assert "card.json exists; pass --overwrite to replace it" in run.stderr
    assert (tmp_path / "card.json").read_text() == "{}"


def test_where_the_card_goes(tmp_path):
    assert source_tree() == PACKAGE.parent  # these tests run from the git checkout
    bundled = model_directory("enhance-magnetogram")
    base = ["evaluate", "--kind", "magnetogram", "--data", str(tmp_path), "--output-dir", str(tmp_path / "r")]
    parse = build_parser().parse_args
    assert _card_target(parse(base), bundled) is None
    assert _card_target(parse([*base, "--update-card"]), bundled) == bundled.resolve() / "card.json"  # source tree
    mine = tmp_path / "my-model"
    assert _card_target(parse([*base, "--update-card"]), mine) == mine.resolve() / "card.json"
    assert _card_target(parse([*base, "--card-output", str(tmp_path / "c.json")]), bundled) == tmp_path / "c.json"


def test_write_card_metrics_to_another_path_leaves_the_model_alone(tmp_path):
    from sunpy_enhance.enhance.training.evaluation import write_card_metrics

    bundled = model_directory("enhance-magnetogram")
    before = (bundled / "card.json").read_bytes()
    metrics = {"kind": "magnetogram", "summary": {}, "validation": [], "noise_study": [], "real_hmi": {"x": 1}}
    written = write_card_metrics(bundled, metrics, output=tmp_path / "card.json")
    assert written == tmp_path / "card.json"
    card = json.loads(written.read_text())
    assert card["name"] == "enhance-magnetogram" and card["validation_metrics"]["real_hmi"] == {"x": 1}
    assert (bundled / "card.json").read_bytes() == before
