"""
Downloads through parfive against the JSOC look-alike: cache, retries, verification, no partial files.
"""
import numpy as np
import pytest
from astropy.io import fits
from jsoc_server import REGISTERED_EMAIL, jsoc

from sunpy_enhance.io import CorruptFileError, verify_file
from sunpy_enhance.io.temporary import _TEMPORARY
from sunpy_enhance.net.download import DownloadReport, download_files

FAST = {"progress": False, "retry_wait": 0.0, "timeout": 5.0}


@pytest.fixture
def exported(jsoc):
    """Three exported magnetogram files: (server, [(name, url)])."""
    import drms

    client = drms.Client(jsoc.server_config(), email=REGISTERED_EMAIL)
    request = client.export("hmi.M_45s[2014.03.01_00:00:00_TAI/2m]{magnetogram}", method="url",
                            protocol="fits")
    request.wait(sleep=0.01)
    files = list(zip(request.urls.filename, request.urls.url))
    assert len(files) == 3
    return jsoc, files


def leftovers(directory):
    """Files that must never remain: partial downloads."""
    return sorted(p.name for p in directory.rglob("*.part"))


def file_gets(server, name):
    return sum(1 for method, path, _ in server.log if method == "GET" and path.endswith(name))


# -- verify_file --------------------------------------------------------------------------------------
def test_verify_file_accepts_complete_fits(tmp_path, exported):
    server, files = exported
    path = tmp_path / files[0][0]
    path.write_bytes(server.files[next(k for k in server.files if k.endswith(files[0][0]))])
    verify_file(path)
    verify_file(path, expected_size=path.stat().st_size)
    with fits.open(path) as hdul:
        assert hdul[1].data.shape == (server.file_size, server.file_size)


def test_download_then_cache(tmp_path, exported):
    server, files = exported
    names, urls = zip(*files)
    report = download_files(urls, tmp_path, max_conn=3, **FAST)
    assert isinstance(report, DownloadReport)
    assert report.ok
    assert [r.status for r in report] == ["downloaded"] * 3
    assert [p.name for p in report.paths] == list(names)  # the order of the request
    for name in names:
        verify_file(tmp_path / name)
        assert file_gets(server, name) == 1
    assert leftovers(tmp_path) == []

    again = download_files(urls, tmp_path, **FAST)
    assert [r.status for r in again] == ["cached"] * 3
    assert all(file_gets(server, name) == 1 for name in names)  # nothing fetched again

    forced = download_files(urls[:1], tmp_path, overwrite=True, **FAST)
    assert forced[0].status == "downloaded"
    assert file_gets(server, names[0]) == 2


def test_incomplete_cached_file_is_replaced(tmp_path, exported):
    server, files = exported
    name, url = files[0]
    complete = server.files[next(k for k in server.files if k.endswith(name))]
    (tmp_path / name).write_bytes(complete[: len(complete) // 2])  # e.g. left by another tool
    report = download_files([url], tmp_path, **FAST)
    assert report[0].status == "downloaded"
    assert (tmp_path / name).read_bytes() == complete


def test_filenames_must_match_urls(tmp_path):
    with pytest.raises(ValueError, match="one name per URL"):
        download_files(["http://127.0.0.1:1/a.fits"], tmp_path, filenames=["a.fits", "b.fits"], **FAST)
    with pytest.raises(ValueError, match="same file name"):
        download_files(["http://127.0.0.1:1/x/a.fits", "http://127.0.0.1:1/y/a.fits"], tmp_path, **FAST)


# -- failures -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("fault", "reason"), [
    ("500", "HTTP 500 Internal Server Error"),
    ("drop", "the connection dropped after "),
    ("truncate", "is truncated: HDU 1 needs bytes up to"),
    ("html", "is not a FITS file (it starts with b'<!DOCTYPE html>"),
])
def test_transient_fault_is_retried(tmp_path, exported, fault, reason):
    server, files = exported
    name, url = files[0]
    server.add_fault(fault, match=name)
    report = download_files([url], tmp_path, **FAST)
    record = report[0]
    assert record.status == "downloaded"
    assert record.attempts == 2
    assert reason in record.reason
    verify_file(tmp_path / name)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(("fault", "reason"), [
    ("500", "HTTP 500 Internal Server Error"),
    ("drop", "the connection dropped after "),
    ("truncate", "is truncated"),
])
def test_persistent_fault_fails_cleanly(tmp_path, exported, fault, reason):
    server, files = exported
    (name, url), (other_name, other_url) = files[0], files[1]
    server.add_fault(fault, times=10, match=name)
    report = download_files([url, other_url], tmp_path, max_retries=2, max_conn=2, **FAST)
    assert not report.ok
    assert [r.status for r in report] == ["failed", "downloaded"]
    assert reason in report[0].reason
    assert report[0].attempts == 3
    assert file_gets(server, name) == 3
    assert f"FAILED {name}" in str(report)
    assert not (tmp_path / name).exists()  # nothing under the final name
    assert leftovers(tmp_path) == []
    verify_file(tmp_path / other_name)


def test_not_found_is_not_retried(tmp_path, exported):
    server, files = exported
    name, url = files[0]
    server.add_fault("404", match=name)
    report = download_files([url], tmp_path, **FAST)
    assert report[0].status == "failed"
    assert report[0].reason == "HTTP 404 Not Found"
    assert report[0].attempts == 1
    assert list(tmp_path.iterdir()) == []


def test_stalled_server_times_out_and_retries(tmp_path, exported):
    server, files = exported
    name, url = files[0]
    server.stall_seconds = 5.0
    server.add_fault("stall", match=name)
    report = download_files([url], tmp_path, **{**FAST, "timeout": 0.5})
    assert report[0].status == "downloaded"
    assert "timed out: the server sent nothing for 0.5 s" in report[0].reason
    verify_file(tmp_path / name)
    assert leftovers(tmp_path) == []


def test_slow_server_within_timeout_succeeds(tmp_path, exported):
    server, files = exported
    name, url = files[0]
    server.stall_seconds = 0.3
    server.add_fault("stall", match=name)
    report = download_files([url], tmp_path, **{**FAST, "timeout": 5.0})
    assert report[0].status == "downloaded"
    assert report[0].attempts == 1


def test_unreachable_server(tmp_path):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    report = download_files([f"http://127.0.0.1:{port}/a.fits"], tmp_path, max_retries=1, **FAST)
    assert report[0].status == "failed"
    assert "cannot connect to the server" in report[0].reason
    assert list(tmp_path.iterdir()) == []


# -- too slow, corrupted ------------------------------------------------------------------------------
def test_trickling_server_ends_at_the_deadline_without_a_partial_file(tmp_path, exported):
    import time

    server, files = exported
    (name, url), (other_name, other_url) = files[0], files[1]
    server.add_fault("trickle", times=10, match=name)  # 64 bytes every 50 ms: never silent for `timeout`
    started = time.monotonic()
    report = download_files([url, other_url], tmp_path, max_retries=1, max_conn=2,
                            **{**FAST, "timeout": 5.0, "deadline": 1.0})
    assert time.monotonic() - started < 15  # the whole file would take ~20 s per attempt
    record = report[0]
    assert record.status == "failed" and record.attempts == 2
    assert record.reason.startswith("too slow: ")
    assert "bytes arrived within the deadline of 1 s" in record.reason and "deadline=" in record.reason
    assert report[1].status == "downloaded"  # the other file is not held up
    verify_file(tmp_path / other_name, checksum=True)
    assert not (tmp_path / name).exists()
    assert leftovers(tmp_path) == []


def test_default_deadline_scales_with_the_announced_size(tmp_path, exported):
    from sunpy_enhance.net.download import MIN_RATE, download_deadline

    assert download_deadline(15_000_000) == 90 + 15_000_000 / MIN_RATE
    assert download_deadline(2_000_000, timeout=10, min_rate=1e5) == 30
    assert download_deadline(None, timeout=0, min_rate=2**20) == 64  # no size announced: 64 MiB assumed

    server, files = exported
    name, url = files[0]
    size = len(server.files[next(k for k in server.files if k.endswith(name))])
    server.add_fault("trickle", match=name)  # ~1.3 kB/s: over the deadline for a fast minimum rate
    report = download_files([url], tmp_path, **{**FAST, "timeout": 0.5, "min_rate": 50_000})
    assert report[0].status == "downloaded" and report[0].attempts == 2
    assert f"of {size} bytes arrived within the deadline of {0.5 + size / 50_000:.3g} s" in report[0].reason
    with pytest.raises(ValueError, match="deadline"):
        download_files([url], tmp_path, deadline=0, **FAST)


def test_corrupted_bytes_are_caught_by_the_fits_checksums(tmp_path, exported):
    server, files = exported
    name, url = files[0]
    server.add_fault("corrupt", match=name)  # one data byte changed: same size, intact structure
    report = download_files([url], tmp_path, **FAST)
    record = report[0]
    assert record.status == "downloaded" and record.attempts == 2
    assert f"{name} is corrupted: " in record.reason
    assert "Datasum verification failed for HDU ('COMPRESSED_IMAGE', 1)" in record.reason
    verify_file(tmp_path / name, checksum=True)
    assert leftovers(tmp_path) == []

    server.add_fault("corrupt", times=10, match=name)
    report = download_files([url], tmp_path / "again", max_retries=1, **FAST)
    assert report[0].status == "failed" and "is corrupted" in report[0].reason
    assert not (tmp_path / "again" / name).exists()


def test_corrupted_cached_file_is_fetched_again(tmp_path, exported):
    from jsoc_server import corrupted

    server, files = exported
    name, url = files[0]
    complete = server.files[next(k for k in server.files if k.endswith(name))]
    (tmp_path / name).write_bytes(corrupted(complete))  # e.g. a bad disk block: same size, FITS structure intact
    verify_file(tmp_path / name)  # the structure alone cannot tell
    with pytest.raises(CorruptFileError, match="Datasum verification failed"):
        verify_file(tmp_path / name, checksum=True)
    report = download_files([url], tmp_path, **FAST)
    assert report[0].status == "downloaded"
    assert (tmp_path / name).read_bytes() == complete


# -- killed downloads ---------------------------------------------------------------------------------
DOWNLOADER = """
import sys
from sunpy_enhance.net.download import download_files

download_files([sys.argv[1]], sys.argv[2], progress=False, timeout=30.0, deadline=600.0)
"""


def test_a_killed_download_leaves_a_hidden_temporary_that_the_next_run_removes(tmp_path, exported):
    import os
    import signal
    import subprocess
    import sys
    import time

    if sys.platform == "win32":
        pytest.skip("SIGKILL as on POSIX")
    server, files = exported
    name, url = files[0]
    server.add_fault("trickle", match=name)  # slow enough to be killed in the middle
    process = subprocess.Popen([sys.executable, "-c", DOWNLOADER, url, str(tmp_path)])
    try:
        started = time.monotonic()
        while not leftovers(tmp_path) and time.monotonic() - started < 120:
            time.sleep(0.1)
        (orphan,) = tmp_path.glob(f".{name}.*.part")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert orphan.exists() and not (tmp_path / name).exists()  # what SIGKILL leaves
    match = _TEMPORARY.fullmatch(orphan.name)
    assert match and match["name"] == name and int(match["pid"]) == process.pid

    live = tmp_path / f".{files[1][0]}.{match['tag']}-{os.getpid()}-abcdefgh.part"
    live.write_text("being written by this (running) process")
    report = download_files([url], tmp_path, **FAST)  # the next run in the folder
    assert report[0].status == "downloaded"
    verify_file(tmp_path / name, checksum=True)
    assert not orphan.exists()
    assert live.exists()
    assert leftovers(tmp_path) == [live.name]
