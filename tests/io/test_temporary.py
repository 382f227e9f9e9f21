"""
Temporary files of killed writers (SIGKILL): removed by the next writer in their folder, and nothing else is.
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from sunpy_enhance import io

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and process ids as on POSIX")

#: A writer that writes half its file, says where, then waits to be killed.
WRITER = """
import sys, time
from pathlib import Path
from sunpy_enhance.io import atomic_write

def writer(tmp):
    tmp.write_text("half a file")
    print(tmp, flush=True)
    time.sleep(600)

atomic_write(Path(sys.argv[1]), writer)
"""


def start_writer(target, started):
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    started.append(process)
    tmp = process.stdout.readline().strip()
    assert tmp, "the writer did not start"
    return process, tmp


def kill(process):
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait()
    process.stdout.close()


def dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def age(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def test_temporaries_of_killed_writers_are_removed_live_ones_and_user_files_kept(tmp_path):
    started = []
    try:
        killed, killed_tmp = start_writer(tmp_path / "killed.fits", started)
        live, live_tmp = start_writer(tmp_path / "live.fits", started)
        kill(killed)
        names = sorted(p.name for p in tmp_path.iterdir())
        assert [n for n in names if n.startswith(".killed.fits.")] == [os.path.basename(killed_tmp)]
        assert os.path.basename(killed_tmp).endswith(".part.fits")

        tag, gone = io.temporary._writer_tag(), dead_pid()
        user_files = [".notes", "data.fits.part", ".x.fits.k2j3h4ab.part.fits",  # another tool's, an old name
                      f"x.fits.{tag}-{gone}-abcdefgh.part",  # not hidden: not ours
                      f".y.fits.{tag}-{gone}-abcdefgh.part.fits.bak"]
        for name in user_files:
            (tmp_path / name).write_text("user data")
            age(tmp_path / name, 10 * io.STALE_AFTER)
        # a link or a folder under a name like ours is not removed either
        (tmp_path / f".link.fits.{tag}-{gone}-abcdefgh.part").symlink_to(tmp_path / ".notes")
        (tmp_path / f".dir.fits.{tag}-{gone}-abcdefgh.part").mkdir()
        # another machine's: kept while recent, removed once older than STALE_AFTER
        foreign_recent = tmp_path / f".a.fits.0123abcd-{os.getpid()}-abcdefgh.part.fits"
        foreign_old = tmp_path / f".b.fits.0123abcd-{os.getpid()}-abcdefgh.part.fits"
        for path in (foreign_recent, foreign_old):
            path.write_text("x")
        age(foreign_old, io.STALE_AFTER + 60)
        # this process's own, written long ago: its process runs, so it stays (up to a day)
        own = tmp_path / f".c.fits.{tag}-{os.getpid()}-abcdefgh.part.fits"
        own.write_text("x")
        age(own, 2 * io.STALE_AFTER)
        download = tmp_path / f".d.fits.{tag}-{gone}-abcdefgh.part"  # a killed download's
        download.write_text("x")
        before = set(tmp_path.iterdir())

        # the next writer in the folder cleans up
        io.atomic_write(tmp_path / "next.txt", lambda tmp: tmp.write_text("done"))
        removed = before - set(tmp_path.iterdir())
        assert sorted(p.name for p in removed) == sorted([os.path.basename(killed_tmp), foreign_old.name,
                                                          download.name])
        assert os.path.exists(live_tmp)  # its writer still runs
        assert (tmp_path / "next.txt").read_text() == "done"
        assert all((tmp_path / name).read_text() == "user data" for name in user_files)
    finally:
        for process in started:
            kill(process)
    assert not (tmp_path / "killed.fits").exists() and not (tmp_path / "live.fits").exists()


def test_temporary_names_say_who_writes_them(tmp_path):
    tmp = io.make_temporary(tmp_path / "out.npy")
    assert tmp.parent == tmp_path and tmp.exists() and tmp.stat().st_size == 0
    match = io.temporary._TEMPORARY.fullmatch(tmp.name)
    assert match and match["name"] == "out.npy" and int(match["pid"]) == os.getpid()
    assert tmp.name.startswith(".out.npy.") and tmp.name.endswith(".part.npy")
    assert io.make_temporary(tmp_path / "out.npy", keep_suffix=False).name.endswith(".part")
    assert io.make_temporary(tmp_path / "out.npy") != tmp  # unpredictable: a new name each time
    assert io.remove_stale_temporaries(tmp_path) == []  # this process's, and it runs
    assert io.remove_stale_temporaries(tmp_path / "missing") == []


def test_keras_weight_files_are_written_atomically_under_their_whole_suffix(tmp_path):
    """Keras saves weights only to names ending in .weights.h5: the temporary keeps that whole suffix."""
    import keras
    import numpy as np

    tmp = io.make_temporary(tmp_path / "last.weights.h5")
    assert tmp.name.endswith(".part.weights.h5")
    assert io.temporary._TEMPORARY.fullmatch(tmp.name)["name"] == "last.weights.h5"
    tmp.unlink()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    io.atomic_write(tmp_path / "last.weights.h5", model.save_weights, overwrite=True)
    io.atomic_write(tmp_path / "last.weights.h5", model.save_weights, overwrite=True)  # replaced in place
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    other.load_weights(tmp_path / "last.weights.h5")
    np.testing.assert_array_equal(other.get_weights()[0], model.get_weights()[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.weights.h5"]
