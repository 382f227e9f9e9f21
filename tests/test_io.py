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


@pytest.mark.parametrize("overwrite", [True, False])
def test_writer_that_raises_midway_leaves_nothing_under_the_final_name(tmp_path, overwrite):
    from sunpy_enhance.io import atomic_write

    target = tmp_path / "result.fits"
    if overwrite:
        target.write_text("previous")

    def writer(tmp):
        tmp.write_text("half a file")
        raise KeyboardInterrupt  # Ctrl-C in the middle of writing

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, writer, overwrite=overwrite)
    assert sorted(p.name for p in tmp_path.iterdir()) == (["result.fits"] if overwrite else [])
    if overwrite:
        assert target.read_text() == "previous"


def test_save_fits_atomic_and_no_clobber(tmp_path):
    import numpy as np
    from astropy.io import fits

    from sunpy_enhance.io import save_fits_atomic, save_map_atomic

    path = save_fits_atomic(fits.HDUList([fits.PrimaryHDU(np.ones((4, 4), np.float32))]), tmp_path / "a.fits")
    assert fits.getdata(path).shape == (4, 4)
    with pytest.raises(FileExistsError, match="overwrite"):
        save_fits_atomic(fits.HDUList([fits.PrimaryHDU(np.zeros(2))]), path)
    with pytest.raises(FileExistsError, match="overwrite"):
        save_map_atomic(synthetic_hmi_map("magnetogram", shape=(8, 8)), path)
    assert fits.getdata(path).shape == (4, 4)
