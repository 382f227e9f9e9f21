"""
JSOC helpers: record sets, cutouts, email handling, and drms exports against the JSOC look-alike.
"""
import json
import os
import socket

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.coordinates import SkyCoord
from jsoc_server import REGISTERED_EMAIL, jsoc
from sunpy.coordinates import frames

from sunpy_enhance.io import verify_file
from sunpy_enhance.net import exports
from sunpy_enhance.net import jsoc as J
from sunpy_enhance.net import records as R

FAST = {"progress": False, "retry_wait": 0.0, "poll_interval": 0.01}


def api_calls(server, op):
    return sum(1 for _, _, query in server.log if query.get("op") == op)


def file_gets(server):
    return [path for method, path, _ in server.log if method == "GET" and path.startswith("/SUM")]


def leftovers(directory):
    return sorted(p.name for p in directory.rglob("*.part"))


# -- record sets, series, email -------------------------------------------------------------------
def test_record_set_single_time_snaps_to_slot():
    # 00:00:20 UTC is 00:00:55 TAI; the nearest 45 s slot is 00:00:45 TAI
    assert R.record_set("hmi.M_45s", "2014-03-01 00:00:20") == (
        "hmi.M_45s[2014.03.01_00:00:45_TAI]{magnetogram}")
    # 720 s slots are on the 12-minute marks (TAI)
    assert R.record_set("HMI.IC_720S", "2014-03-01 00:05") == (
        "hmi.Ic_720s[2014.03.01_00:00:00_TAI]{continuum}")
    assert R.record_set("hmi.Ic_noLimbDark_720s", "2014-03-01 00:07").startswith(
        "hmi.Ic_noLimbDark_720s[2014.03.01_00:12:00_TAI]")


def test_record_set_range_and_cadence():
    rs = R.record_set("hmi.M_45s", "2014-03-01T00:00:00", "2014-03-01T01:00:00", cadence=12 * u.min)
    assert rs == "hmi.M_45s[2014.03.01_00:00:35_TAI-2014.03.01_01:00:35_TAI@720s]{magnetogram}"
    assert R.record_set("hmi.M_45s", "2014-03-01", "2014-03-01 00:10", cadence="90s").endswith(
        "@90s]{magnetogram}")
    assert "@" not in R.record_set("hmi.M_720s", "2014-03-01", "2014-03-02")
    with pytest.raises(ValueError, match="multiple of the 45 s cadence"):
        R.record_set("hmi.M_45s", "2014-03-01", "2014-03-02", cadence=100 * u.s)
    with pytest.raises(ValueError, match="must come after its start"):
        R.record_set("hmi.M_45s", "2014-03-02", "2014-03-01")
    with pytest.raises(ValueError, match="needs a time range"):
        R.record_set("hmi.M_45s", "2014-03-02", cadence=90 * u.s)
    with pytest.raises(ValueError, match="unknown HMI series 'aia.lev1'"):
        R.record_set("aia.lev1", "2014-03-01")


def test_hmi_series_names():
    assert R.hmi_series("continuum") == "hmi.Ic_45s"
    assert R.hmi_series("magnetogram", cadence=720 * u.s, deconvolved=True) == "hmi.M_720s_dcon"
    assert R.hmi_series("continuum", cadence=12 * u.min, limb_darkening_removed=True) == (
        "hmi.Ic_noLimbDark_720s")
    assert set(R.HMI_SERIES) >= {R.hmi_series(m, cadence=c * u.s, deconvolved=d)
                                 for m in ("continuum", "magnetogram")
                                 for c in (45, 720) for d in (False, True)}
    with pytest.raises(ValueError, match="45 s or 720 s"):
        R.hmi_series("continuum", cadence=90 * u.s)
    with pytest.raises(ValueError, match="only as hmi.Ic_noLimbDark_720s"):
        R.hmi_series("magnetogram", cadence=720 * u.s, limb_darkening_removed=True)


def test_email_from_argument_or_environment(monkeypatch):
    monkeypatch.setenv("JSOC_EMAIL", "env@example.org")
    assert J.get_email() == "env@example.org"
    assert J.get_email("arg@example.org") == "arg@example.org"
    monkeypatch.delenv("JSOC_EMAIL")
    with pytest.raises(J.JSOCEmailError, match="JSOC_EMAIL") as info:
        J.get_email()
    assert "register_email" in str(info.value)
    with pytest.raises(J.JSOCEmailError, match="not an email address"):
        J.get_email("nobody")


# -- cutouts ----------------------------------------------------------------------------------------
def test_im_patch_from_corners_matches_sunpy_cutout():
    from sunpy.net import attrs as a

    bl = SkyCoord(-100 * u.arcsec, -50 * u.arcsec, frame=frames.Helioprojective, observer="earth",
                  obstime="2014-03-01T00:00")
    tr = SkyCoord(20 * u.arcsec, 30 * u.arcsec, frame=frames.Helioprojective, observer="earth",
                  obstime="2014-03-01T00:00")
    patch = R.im_patch(bl, tr)
    assert patch == pytest.approx(a.jsoc.Cutout(bl, top_right=tr).value)
    assert (patch["x"], patch["y"], patch["width"], patch["height"]) == (-40.0, -10.0, 120.0, 80.0)
    assert patch["t"] == 1 and patch["locunits"] == "arcsec"
    assert R.im_patch(bl, width=120 * u.arcsec, height=80 * u.arcsec) == patch
    tracked = R.im_patch(bl, tr, tracking=True, nan_off_limb=True)
    assert tracked["t"] == 0 and tracked["c"] == 1


def test_im_patch_centre_other_frames_and_obstime():
    hgs = SkyCoord(10 * u.deg, 20 * u.deg, frame=frames.HeliographicStonyhurst, obstime="2014-03-01")
    patch = R.im_patch(center=hgs, width=60 * u.arcsec, height=60 * u.arcsec)
    expected = hgs.transform_to(frames.Helioprojective(observer="earth", obstime="2014-03-01"))
    assert patch["x"] == pytest.approx(expected.Tx.to_value(u.arcsec))
    assert patch["y"] == pytest.approx(expected.Ty.to_value(u.arcsec))
    no_time = SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=frames.Helioprojective, observer="earth")
    with pytest.raises(ValueError, match="no obstime"):
        R.im_patch(center=no_time, width=10 * u.arcsec, height=10 * u.arcsec)
    patch = R.im_patch(center=no_time, width=10 * u.arcsec, height=10 * u.arcsec, obstime="2015-01-01")
    assert patch["t_ref"].startswith("2015-01-01T00:00:00")
    with pytest.raises(ValueError, match="needs width and height"):
        R.im_patch(center=hgs)
    with pytest.raises(ValueError, match="has no area"):
        R.im_patch(SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=frames.Helioprojective, observer="earth",
                            obstime="2014-03-01"),
                   SkyCoord(-10 * u.arcsec, 10 * u.arcsec, frame=frames.Helioprojective, observer="earth",
                            obstime="2014-03-01"))


def test_server_config_from_url():
    config = J.server_config("http://127.0.0.1:5555")
    assert config.url_jsoc_info == "http://127.0.0.1:5555/cgi-bin/ajax/jsoc_info"
    assert config.url_check_address == "http://127.0.0.1:5555/cgi-bin/ajax/checkAddress.sh"
    assert config.http_download_baseurl == "http://127.0.0.1:5555/"
    assert J.server_config().name == "JSOC"
    with pytest.raises(ValueError, match="unknown JSOC server"):
        J.server_config("nowhere")


# -- search -----------------------------------------------------------------------------------------
def test_search_hmi(jsoc):
    table = J.search_hmi("hmi.M_45s", "2014-03-01T00:00:00", "2014-03-01T00:30:00", cadence=6 * u.min,
                         server=jsoc.url)
    assert len(table) == 5
    assert list(table["T_REC"]) == [f"2014.03.01_00:{m:02d}:45_TAI" for m in (0, 6, 12, 18, 24)]
    assert list(table["QUALITY"]) == [0] * 5
    assert api_calls(jsoc, "rs_list") == 1
    assert api_calls(jsoc, "exp_request") == 0  # searching exports nothing


def test_search_retries_server_errors(jsoc):
    jsoc.api_errors["rs_list"] = 1
    table = J.search_hmi("hmi.M_45s", "2014-03-01", server=jsoc.url, retry_wait=0)
    assert len(table) == 1
    jsoc.api_errors["rs_list"] = 10
    with pytest.raises(J.JSOCConnectionError, match=r"HTTP 500 \(Internal Server Error\) to the record"):
        J.search_hmi("hmi.M_45s", "2014-03-01", server=jsoc.url, retry_wait=0)
    assert api_calls(jsoc, "rs_list") == 2 + 3


# -- fetch: happy paths -----------------------------------------------------------------------------
def test_fetch_range_downloads_readable_maps_and_caches(jsoc, tmp_path):
    report = exports.fetch_hmi("hmi.Ic_720s", "2014-03-01T00:00", "2014-03-01T01:00", email=REGISTERED_EMAIL,
                         directory=tmp_path, server=jsoc.url, **FAST)
    assert report.ok and len(report) == 5
    assert [r.status for r in report] == ["downloaded"] * 5
    maps = [sunpy.map.Map(p) for p in report.paths]
    assert [m.meta["t_rec"] for m in maps] == [f"2014.03.01_00:{m:02d}:00_TAI" for m in (12, 24, 36, 48)] + [
        "2014.03.01_01:00:00_TAI"]
    for m in maps:
        assert m.measurement == "continuum"
        assert m.scale.axis1.to_value(u.arcsec / u.pix) == pytest.approx(0.504295)
        assert m.data.shape == (jsoc.file_size, jsoc.file_size)
        assert np.nanmean(m.data) == pytest.approx(50000, rel=0.1)
    assert leftovers(tmp_path) == []

    # the same call again: everything is there, nothing is asked of the server at all
    calls = len(jsoc.log)
    again = exports.fetch_hmi("hmi.Ic_720s", "2014-03-01T00:00", "2014-03-01T01:00", directory=tmp_path,
                        server=jsoc.url, **FAST)
    assert [r.status for r in again] == ["cached"] * 5
    assert len(jsoc.log) == calls

    # one file lost: the same export is reused and only that file is fetched, without an email
    report.paths[2].unlink()
    calls = len(jsoc.log)
    third = exports.fetch_hmi("hmi.Ic_720s", "2014-03-01T00:00", "2014-03-01T01:00", directory=tmp_path,
                        server=jsoc.url, **FAST)
    assert [r.status for r in third] == ["cached", "cached", "downloaded", "cached", "cached"]
    new = jsoc.log[calls:]
    assert [q.get("op") for _, _, q in new if q.get("op")] == ["exp_status"]
    assert [p for m, p, _ in new if m == "GET" and p.startswith("/SUM")] == [
        f"/SUM59/D1001/S00000/{report.paths[2].name}"]


def test_fetch_magnetogram_single_time_with_env_email(jsoc, tmp_path, monkeypatch):
    monkeypatch.setenv("JSOC_EMAIL", REGISTERED_EMAIL)
    report = exports.fetch_hmi("hmi.M_45s", "2014-03-01 00:00:20", directory=tmp_path, server=jsoc.url, **FAST)
    (path,) = report.paths
    assert path.name == "hmi.m_45s.20140301_000045_TAI.2.magnetogram.fits"
    smap = sunpy.map.Map(path)
    assert smap.measurement == "magnetogram"
    assert smap.unit == u.G
    assert np.nanmax(np.abs(smap.data)) > 500  # the bipole
    (exp_request,) = [q for _, _, q in jsoc.log if q.get("op") == "exp_request"]
    assert exp_request["notify"] == REGISTERED_EMAIL
    assert exp_request["method"] == "url" and exp_request["protocol"] == "fits"


def test_fetch_cutout(jsoc, tmp_path):
    centre = SkyCoord(35 * u.arcsec, -15 * u.arcsec, frame=frames.Helioprojective, observer="earth",
                      obstime="2014-03-01")
    patch = R.im_patch(center=centre, width=10 * u.arcsec, height=8 * u.arcsec)
    report = exports.fetch_hmi("hmi.M_45s", "2014-03-01", cutout=patch, email=REGISTERED_EMAIL, directory=tmp_path,
                         server=jsoc.url, **FAST)
    smap = sunpy.map.Map(report.paths[0])
    (exp_request,) = [q for _, _, q in jsoc.log if q.get("op") == "exp_request"]
    assert "im_patch," in exp_request["process=n"] and "width=10.0" in exp_request["process=n"]
    # the box really was cut around the requested centre, with the requested size
    assert smap.data.shape == pytest.approx((8 / 0.504295, 10 / 0.504295), abs=2)
    # (in the map's own frame: JSOC takes the box as seen from SDO)
    centre_pixel = smap.world_to_pixel(SkyCoord(centre.Tx, centre.Ty, frame=smap.coordinate_frame))
    assert centre_pixel.x.value == pytest.approx((smap.data.shape[1] - 1) / 2, abs=1)
    assert centre_pixel.y.value == pytest.approx((smap.data.shape[0] - 1) / 2, abs=1)
    # corners given as a pair of SkyCoords
    bl = SkyCoord(30 * u.arcsec, -19 * u.arcsec, frame=frames.Helioprojective, observer="earth")
    tr = SkyCoord(40 * u.arcsec, -11 * u.arcsec, frame=frames.Helioprojective, observer="earth")
    other = exports.fetch_hmi("hmi.M_45s", "2014-03-01", cutout=(bl, tr), email=REGISTERED_EMAIL,
                        directory=tmp_path / "pair", server=jsoc.url, **FAST)
    assert sunpy.map.Map(other.paths[0]).data.shape == smap.data.shape


def test_export_pending_then_done(jsoc, tmp_path):
    jsoc.pending_polls = 4
    report = exports.fetch_hmi("hmi.M_720s", "2014-03-01", email=REGISTERED_EMAIL, directory=tmp_path,
                         server=jsoc.url, **FAST)
    assert report.ok
    assert api_calls(jsoc, "exp_status") == 5  # four "pending" answers, then done


# -- fetch: failures --------------------------------------------------------------------------------
def test_unregistered_or_missing_email(jsoc, tmp_path, monkeypatch):
    monkeypatch.delenv("JSOC_EMAIL", raising=False)
    with pytest.raises(J.JSOCEmailError, match="not registered. Register it at"):
        exports.fetch_hmi("hmi.M_45s", "2014-03-01", email="stranger@example.org", directory=tmp_path,
                    server=jsoc.url, **FAST)
    with pytest.raises(J.JSOCEmailError, match="set the JSOC_EMAIL environment variable"):
        exports.fetch_hmi("hmi.M_45s", "2014-03-01", directory=tmp_path, server=jsoc.url, **FAST)
    assert api_calls(jsoc, "exp_request") == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("where", "status", "error", "match"), [
    ("request", 3, "Request exceeds max byte limit of 100000MB",
     r"status 3\): the request is too large for one export: Request exceeds max byte.*shorter time range"),
    ("request", 4, "Series hmi.M_45s is not available for export",
     r"status 4\): JSOC rejected the request: Series hmi.M_45s is not available"),
    ("status", 4, "Processing failed: im_patch error",
     r"failed \(status 4\): JSOC rejected the request: Processing failed"),
    ("status", 5, "Request expired",
     r"status 5\): the export has expired on the server: Request expired.*Submit the export again"),
    ("status", 7, "Export failed in staging",
     r"status 7\): the export failed on the server: Export failed in staging"),
])
def test_export_status_errors(jsoc, tmp_path, where, status, error, match):
    setattr(jsoc, f"{where}_error", (status, error))
    with pytest.raises(J.JSOCExportError, match=match) as info:
        exports.fetch_hmi("hmi.M_45s", "2014-03-01", "2014-03-01 00:05", email=REGISTERED_EMAIL, directory=tmp_path,
                    server=jsoc.url, **FAST)
    assert info.value.status == status
    if where == "status":
        assert info.value.request_id.startswith("JSOC_")
    assert file_gets(jsoc) == []
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_too_large_export_from_size_limit(jsoc, tmp_path):
    jsoc.max_export_mb = 100
    with pytest.raises(J.JSOCExportError, match="too large") as info:
        exports.fetch_hmi("hmi.M_45s", "2014-03-01", "2014-03-01 01:00", email=REGISTERED_EMAIL,
                    directory=tmp_path, server=jsoc.url, **FAST)
    assert info.value.status == 3


def test_unknown_request_id(jsoc, tmp_path):
    with pytest.raises(J.JSOCExportError, match=r"JSOC_20200101_999 failed \(status 6\): JSOC does not know"):
        exports.fetch_export("JSOC_20200101_999", tmp_path, server=jsoc.url, **FAST)
    assert api_calls(jsoc, "exp_status") == 4  # the first answer and three more tries


def test_server_errors_while_waiting(jsoc, tmp_path):
    jsoc.api_errors["exp_status"] = 2  # transient: tolerated
    report = exports.fetch_hmi("hmi.M_45s", "2014-03-01", email=REGISTERED_EMAIL, directory=tmp_path,
                         server=jsoc.url, **FAST)
    assert report.ok
    jsoc.api_errors["exp_status"] = 100
    with pytest.raises(J.JSOCConnectionError, match=r"HTTP 500 \(Internal Server Error\) to the status of"):
        exports.fetch_hmi("hmi.M_45s", "2014-03-02", email=REGISTERED_EMAIL, directory=tmp_path,
                    server=jsoc.url, **FAST)


def test_server_error_on_export_request(jsoc, tmp_path):
    jsoc.api_errors["exp_request"] = 1
    with pytest.raises(J.JSOCConnectionError, match=r"HTTP 500 .* to the export request"):
        exports.fetch_hmi("hmi.M_45s", "2014-03-01", email=REGISTERED_EMAIL, directory=tmp_path,
                    server=jsoc.url, **FAST)
    assert api_calls(jsoc, "exp_request") == 1  # not repeated: it may have been submitted


def test_timeout_then_pick_up_by_request_id(jsoc, tmp_path):
    jsoc.pending_polls = 10**6
    with pytest.raises(J.JSOCTimeoutError, match="has not finished export JSOC_") as info:
        exports.fetch_hmi("hmi.M_45s", "2014-03-01", email=REGISTERED_EMAIL, directory=tmp_path, server=jsoc.url,
                    timeout=0.2, **FAST)
    request_id = info.value.request_id
    assert f"--request-id {request_id}" in str(info.value)
    assert file_gets(jsoc) == []
    jsoc.pending_polls = 0
    report = exports.fetch_export(request_id, tmp_path, server=jsoc.url, **FAST)
    assert report.ok and len(report) == 1
    assert api_calls(jsoc, "exp_request") == 1  # not submitted again


def test_expired_export_is_resubmitted(jsoc, tmp_path):
    args = ("hmi.M_45s", "2014-03-01", "2014-03-01 00:02")
    first = exports.fetch_hmi(*args, email=REGISTERED_EMAIL, directory=tmp_path, server=jsoc.url, **FAST)
    first.paths[0].unlink()
    jsoc.exports.clear()  # the server forgot the old export (status 6 for its id)
    second = exports.fetch_hmi(*args, email=REGISTERED_EMAIL, directory=tmp_path, server=jsoc.url, **FAST)
    assert [r.status for r in second] == ["downloaded", "cached", "cached"]
    assert api_calls(jsoc, "exp_request") == 2
    (manifest,) = (tmp_path / ".jsoc-exports").glob("*.json")
    assert json.loads(manifest.read_text())["request_ids"][0].endswith("_002")


def test_download_failures_are_reported_not_raised(jsoc, tmp_path):
    jsoc.add_fault("drop", times=10, match="000130_TAI")
    report = exports.fetch_hmi("hmi.M_45s", "2014-03-01", "2014-03-01 00:02", email=REGISTERED_EMAIL,
                         directory=tmp_path, server=jsoc.url, max_retries=1, **FAST)
    # records at 00:00:45, 00:01:30 and 00:02:15 TAI (the range is in UTC)
    assert [r.status for r in report] == ["downloaded", "failed", "downloaded"]
    assert "connection dropped" in report[1].reason
    assert not report[1].path.exists()
    assert leftovers(tmp_path) == []
    for path in report.paths:
        verify_file(path)


def test_fetch_ends_a_trickling_download_and_refetches_a_corrupted_cached_file(jsoc, tmp_path):
    from jsoc_server import corrupted

    jsoc.add_fault("trickle", times=2, match="000130_TAI")  # both attempts
    args = ("hmi.M_45s", "2014-03-01", "2014-03-01 00:02")
    report = exports.fetch_hmi(*args, email=REGISTERED_EMAIL, directory=tmp_path, server=jsoc.url, max_retries=1,
                               download_deadline=0.5, **FAST)
    assert [r.status for r in report] == ["downloaded", "failed", "downloaded"]
    assert report[1].reason.startswith("too slow: ") and not report[1].path.exists()
    assert leftovers(tmp_path) == []
    with pytest.raises(ValueError, match="download_deadline must be a number > 0 or None"):
        exports.fetch_hmi(*args, directory=tmp_path, server=jsoc.url, download_deadline=-1, **FAST)

    # a complete-looking but damaged file in the cache is not trusted: the manifest's export is reused
    first = report[0].path
    complete = first.read_bytes()
    first.write_bytes(corrupted(complete))
    again = exports.fetch_hmi(*args, directory=tmp_path, server=jsoc.url, **FAST)
    assert [r.status for r in again] == ["downloaded", "downloaded", "cached"]
    assert first.read_bytes() == complete
    assert api_calls(jsoc, "exp_request") == 1


def _hostile_name(kind, tmp_path):
    return {"parent": "../../x.fits", "absolute": str(tmp_path / "elsewhere" / "abs.fits"),
            "not fits": "evil.sh"}[kind]


@pytest.mark.parametrize("kind", ["parent", "absolute", "not fits"])
def test_hostile_export_file_names_are_refused(jsoc, tmp_path, kind):
    # a server (or a man in the middle: drms talks plain http) names the files to write outside the folder
    name = _hostile_name(kind, tmp_path)
    jsoc.hostile_filenames = [name]
    target = tmp_path / "a" / "b" / "downloads"
    with pytest.raises(J.JSOCExportError) as info:
        exports.fetch_hmi("hmi.M_45s", "2014-03-01", email=REGISTERED_EMAIL, directory=target,
                          server=jsoc.url, **FAST)
    message = str(info.value)
    assert repr(name) in message and "nothing was written" in message
    # nothing at all was written, inside the folder (not even the manifest) or outside it
    assert sorted(p for p in tmp_path.rglob("*")) == []
    assert file_gets(jsoc) == []


def test_hostile_names_in_a_manifest_are_not_trusted(jsoc, tmp_path):
    report = exports.fetch_hmi("hmi.M_45s", "2014-03-01", email=REGISTERED_EMAIL, directory=tmp_path / "d",
                               server=jsoc.url, **FAST)
    (manifest,) = (tmp_path / "d" / ".jsoc-exports").glob("*.json")
    outside = tmp_path / "outside.fits"
    outside.write_bytes(report.paths[0].read_bytes())
    content = json.loads(manifest.read_text())
    content["files"] = [["../outside.fits", url] for _, url in content["files"]]
    manifest.write_text(json.dumps(content))
    again = exports.fetch_hmi("hmi.M_45s", "2014-03-01", directory=tmp_path / "d", server=jsoc.url, **FAST)
    assert again.paths == report.paths  # the manifest's names were ignored: nothing served from outside


@pytest.mark.parametrize("name", ["../x.fits", "/tmp/x.fits", "a/b.fits", "..", "", "a\\b.fits"])
def test_download_files_refuses_names_that_leave_the_folder(tmp_path, name):
    from sunpy_enhance.net.download import download_files

    with pytest.raises(ValueError, match="nothing was written"):
        download_files(["http://127.0.0.1:1/x.fits"], tmp_path / "d", filenames=[name], progress=False)
    assert not (tmp_path / "d").exists()


def test_unreachable_server(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(J.JSOCConnectionError, match="cannot reach JSOC at http://127.0.0.1"):
        exports.fetch_hmi("hmi.M_45s", "2014-03-01", email=REGISTERED_EMAIL, directory=tmp_path,
                    server=f"http://127.0.0.1:{port}/", **FAST)


# -- the real JSOC ------------------------------------------------------------------------------------
@pytest.mark.remote_data
def test_real_jsoc_small_query_and_cutout(tmp_path):
    email = os.environ.get("JSOC_EMAIL")
    if not email:
        pytest.skip("set JSOC_EMAIL to an address registered at JSOC")
    table = J.search_hmi("hmi.M_720s", "2014-03-01T00:00", "2014-03-01T00:30")
    assert len(table) >= 2
    centre = SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=frames.Helioprojective, observer="earth",
                      obstime="2014-03-01T00:00")
    patch = R.im_patch(center=centre, width=30 * u.arcsec, height=30 * u.arcsec)
    report = exports.fetch_hmi("hmi.M_720s", "2014-03-01T00:00", cutout=patch, email=email, directory=tmp_path,
                         poll_interval=5.0, timeout=600)
    assert report.ok
    smap = sunpy.map.Map(report.paths[0])
    assert smap.measurement == "magnetogram"
    assert smap.data.shape[0] == pytest.approx(30 / 0.5, abs=4)
