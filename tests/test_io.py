"""
The one atomic writer: umask without races, unpredictable temporary names, no partial files.
"""
import json
import os
import stat
import threading

import pytest

from sunpy_enhance.sample import synthetic_hmi_map


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield 0o027
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_writes_follow_the_umask_without_changing_it(tmp_path, umask_027, monkeypatch):
    from sunpy_enhance.io import save_map_atomic

    changes = []

    def no_umask(mask):  # os.umask changes the mask of every thread: the package must never call it
        changes.append((threading.current_thread().name, mask))
        raise AssertionError(f"os.umask({mask:#o}) called")

    monkeypatch.setattr(os, "umask", no_umask)
    path = save_map_atomic(synthetic_hmi_map("magnetogram", shape=(16, 16)), tmp_path / "m.fits")
    assert changes == []
    assert _mode(path) == 0o640


def test_file_umask_from_proc_and_from_a_probe_file(umask_027):
    from sunpy_enhance import io

    assert io.file_umask() == 0o027
    assert io._umask_from_probe() == 0o026  # only the bits a 0o666 file can show


def test_temporary_names_are_unpredictable(tmp_path):
    # a symlink planted under the temporary name a writer would use must not redirect its write
    from sunpy_enhance.net import exports

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    manifest = tmp_path / ".jsoc-exports" / "abc.json"
    manifest.parent.mkdir()
    for guess in (f"abc.json.{os.getpid()}.tmp", ".abc.json.tmp", "abc.json.tmp"):
        (manifest.parent / guess).symlink_to(victim)
    exports._write_json_atomically(manifest, {"request_ids": ["JSOC_1"], "files": []})
    assert victim.read_text() == "precious"
    assert json.loads(manifest.read_text())["request_ids"] == ["JSOC_1"]
    assert not manifest.is_symlink()
