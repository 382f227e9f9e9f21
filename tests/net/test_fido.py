"""
The Fido path: sunpy's own JSOCClient searches and exports against the JSOC look-alike.

sunpy's `~sunpy.net.jsoc.JSOCClient` builds its drms clients with ``drms.Client()``, i.e. the server
drms has registered under the name "jsoc"; it takes no server argument. These tests point that
registration at the look-alike (``drms.config._server_configs["jsoc"]``, restored afterwards by
monkeypatch): a configuration entry, not a mock: sunpy, drms and parfive run unchanged and talk HTTP
to 127.0.0.1.
"""
import gc
import warnings

import drms.config
import pytest
import sunpy.map
from jsoc_server import REGISTERED_EMAIL, jsoc
from sunpy.net import Fido
from sunpy.net import attrs as a

from sunpy_enhance.io import verify_file
from sunpy_enhance.net.fido import enhance_fido_results, fetch_fido_results
from sunpy_enhance.net.jsoc import JSOCEmailError, JSOCExportError

FAST = {"progress": False, "retry_wait": 0.0, "poll_interval": 0.01}
TIME = a.Time("2014-03-01T00:00:00", "2014-03-01T00:02:00")


@pytest.fixture
def local_jsoc(jsoc, monkeypatch):
    """The look-alike as drms' (and so sunpy's) default "jsoc" server."""
    monkeypatch.setitem(drms.config._server_configs, "jsoc", jsoc.server_config())
    return jsoc


# parfive's Downloader.download (which Fido.fetch uses) never closes its event loop; when that loop
# is garbage-collected it emits ResourceWarnings ("unclosed event loop", its self-pipe sockets) which
# filterwarnings = error would turn into failures of whichever test runs then. Our own downloads run
# in loops we close (sunpy_enhance.net.download); the fixture below collects parfive's before leaving.
pytestmark = [
    pytest.mark.filterwarnings("ignore:unclosed event loop:ResourceWarning"),
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
]


@pytest.fixture(autouse=True)
def _collect_parfive_loops():
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def ops(server):
    return [q.get("op") for _, _, q in server.log if q.get("op")]


def test_fido_search_reaches_the_lookalike(local_jsoc):
    found = Fido.search(TIME, a.jsoc.Series("hmi.M_45s"))
    assert len(found[0]) == 3
    assert list(found[0]["T_REC"]) == ["2014.03.01_00:00:45_TAI", "2014.03.01_00:01:30_TAI",
                                       "2014.03.01_00:02:15_TAI"]
    assert "rs_list" in ops(local_jsoc)


def test_enhance_search_results(local_jsoc, tmp_path, tiny_enhance_models):
    found = Fido.search(TIME, a.jsoc.Series("hmi.M_45s"), a.jsoc.Notify(REGISTERED_EMAIL))
    seen = []
    report = enhance_fido_results(found, tmp_path / "out", download_dir=tmp_path / "raw",
                                  callback=seen.append, model=tiny_enhance_models["magnetogram"], **FAST)
    assert [r.status for r in report] == ["done"] * 3 and seen == list(report)
    (request,) = [q for _, _, q in local_jsoc.log if q.get("op") == "exp_request"]
    assert request["notify"] == REGISTERED_EMAIL
    assert request["ds"].startswith("hmi.M_45s[2014.03.01_00:00:35_TAI-2014.03.01_00:02:35_TAI]")
    maps = report.maps()
    assert [m.data.shape for m in maps] == [(192, 192)] * 3
    assert [m.meta["t_rec"] for m in maps] == list(found[0]["T_REC"])
    assert all(m.meta["enhmodel"] == "tiny-magnetogram" for m in maps)

    # run again: no export, no download, no enhancement
    calls = len(local_jsoc.log)
    again = enhance_fido_results(found, tmp_path / "out", download_dir=tmp_path / "raw",
                                 model=tiny_enhance_models["magnetogram"], **FAST)
    assert [r.status for r in again] == ["skipped"] * 3
    assert len(local_jsoc.log) == calls


def test_enhance_files_fetched_by_fido(local_jsoc, tmp_path, tiny_enhance_models):
    local_jsoc.instant = True  # spares drms' fixed 5 s wait in sunpy's fetch
    found = Fido.search(TIME, a.jsoc.Series("hmi.Ic_45s"), a.jsoc.Notify(REGISTERED_EMAIL))
    files = Fido.fetch(found, path=str(tmp_path / "raw" / "{file}"), progress=False, sleep=0)
    assert len(files) == 3 and not files.errors
    report = enhance_fido_results(files, tmp_path / "out", model=tiny_enhance_models["continuum"], **FAST)
    assert [r.status for r in report] == ["done"] * 3
    assert [sunpy.map.Map(p).meta["enhsrc"] for p in report.outputs] == [
        p.rsplit("/", 1)[-1] for p in files]


def test_fido_fetch_errors_are_reported(local_jsoc, tmp_path, tiny_enhance_models):
    local_jsoc.instant = True
    local_jsoc.add_fault("404", match="000130_TAI")
    found = Fido.search(TIME, a.jsoc.Series("hmi.M_45s"), a.jsoc.Notify(REGISTERED_EMAIL))
    files = Fido.fetch(found, path=str(tmp_path / "raw" / "{file}"), progress=False, sleep=0)
    assert len(files.errors) == 1
    report = enhance_fido_results(files, tmp_path / "out", model=tiny_enhance_models["magnetogram"], **FAST)
    assert sorted(r.status for r in report) == ["done", "done", "failed"]
    (failed,) = report.failed
    assert failed.reason == "download failed: HTTP 404 Not Found"
    assert failed.source.endswith("hmi.m_45s.20140301_000130_TAI.2.magnetogram.fits")


def test_download_failure_in_search_path(local_jsoc, tmp_path, tiny_enhance_models):
    local_jsoc.add_fault("drop", times=10, match="000130_TAI")
    found = Fido.search(TIME, a.jsoc.Series("hmi.M_45s"), a.jsoc.Notify(REGISTERED_EMAIL))
    report = enhance_fido_results(found, tmp_path / "out", download_dir=tmp_path / "raw", max_retries=1,
                                  model=tiny_enhance_models["magnetogram"], **FAST)
    assert [r.status for r in report] == ["done", "failed", "done"]
    assert report[1].reason.startswith("download failed: the connection dropped")
    assert not list((tmp_path / "raw").glob("*.part"))
    assert not (tmp_path / "raw" / "hmi.m_45s.20140301_000130_TAI.2.magnetogram.fits").exists()


def test_fetch_only(local_jsoc, tmp_path):
    found = Fido.search(a.Time("2014-03-01T00:11", "2014-03-01T00:13"), a.jsoc.Series("hmi.M_720s"),
                        a.jsoc.Notify(REGISTERED_EMAIL))
    downloads = fetch_fido_results(found, tmp_path, **FAST)
    assert [r.status for r in downloads] == ["downloaded"]
    verify_file(downloads.paths[0])


def test_email_problems(local_jsoc, tmp_path):
    found = Fido.search(TIME, a.jsoc.Series("hmi.M_45s"))
    with pytest.raises(JSOCEmailError, match=r"add a.jsoc.Notify.*at http://jsoc.stanford.edu/ajax/register"):
        fetch_fido_results(found, tmp_path, **FAST)
    found = Fido.search(TIME, a.jsoc.Series("hmi.M_45s"), a.jsoc.Notify("stranger@example.org"))
    with pytest.raises(JSOCEmailError, match="'stranger@example.org' for exports: the address is not regis"):
        fetch_fido_results(found, tmp_path, **FAST)
    assert "exp_request" not in ops(local_jsoc)


def test_export_refused(local_jsoc, tmp_path):
    local_jsoc.request_error = (3, "Request exceeds max byte limit of 100000MB")
    found = Fido.search(TIME, a.jsoc.Series("hmi.M_45s"), a.jsoc.Notify(REGISTERED_EMAIL))
    with pytest.raises(JSOCExportError, match="status 3") as info:
        fetch_fido_results(found, tmp_path, **FAST)
    assert info.value.status == 3
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


@pytest.mark.remote_data
def test_real_jsoc_fido_search_and_fetch(tmp_path):
    import os

    email = os.environ.get("JSOC_EMAIL")
    if not email:
        pytest.skip("set JSOC_EMAIL to an address registered at JSOC")
    found = Fido.search(a.Time("2014-03-01T00:00", "2014-03-01T00:13"), a.jsoc.Series("hmi.M_720s"),
                        a.jsoc.Notify(email))
    assert len(found[0]) >= 1
    downloads = fetch_fido_results(found, tmp_path, poll_interval=5.0, timeout=900)
    assert downloads.ok
    assert sunpy.map.Map(downloads.paths[0]).measurement == "magnetogram"


def test_enhancing_a_deconvolved_series_is_refused_before_exporting(local_jsoc, tmp_path):
    found = Fido.search(a.Time("2014-03-01T00:11", "2014-03-01T00:13"), a.jsoc.Series("hmi.M_720s_dconS"),
                        a.jsoc.Notify(REGISTERED_EMAIL))
    assert len(found[0]) == 1
    with pytest.raises(ValueError, match=r"hmi.M_720s_dconS is already deconvolved: .*series hmi.M_720s instead"):
        enhance_fido_results(found, tmp_path / "out", download_dir=tmp_path / "raw", **FAST)
    assert "exp_request" not in ops(local_jsoc)
    assert not (tmp_path / "raw").exists()
