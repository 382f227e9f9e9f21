"""
``sunpy-enhance fetch`` against the JSOC look-alike: fetch, enhance, report failures, resume.
"""
import pytest
import sunpy.map
from jsoc_server import REGISTERED_EMAIL, jsoc

from sunpy_enhance.cli import main
from sunpy_enhance.io import tile_compression


def fetch(server, tmp_path, *extra):
    return main(["fetch", "--jsoc-url", server.url, "--output-dir", str(tmp_path / "raw"), "--poll-interval", "0.01",
                 "--retry-wait", "0", "--no-progress", *extra])


def test_fetch_and_enhance_then_rerun(jsoc, tmp_path, capsys, tiny_enhance_models):
    args = ["--series", "hmi.M_720s", "--start", "2014-03-01T00:00", "--end", "2014-03-01T00:30",
            "--email", REGISTERED_EMAIL, "--enhance", "--model", str(tiny_enhance_models["magnetogram"])]
    assert fetch(jsoc, tmp_path, *args) == 0
    out = capsys.readouterr().out
    assert "downloads: 2 files: 2 downloaded, 0 already present, 0 failed" in out
    assert out.count("enhanced  hmi.m_720s.") == 2
    enhanced = sorted((tmp_path / "raw" / "enhanced").glob("*.enhanced.fits"))
    assert {tile_compression(p) for p in enhanced} == {"GZIP_2"}  # JSOC's are Rice-compressed: lossless here
    assert [sunpy.map.Map(p).meta["t_rec"] for p in enhanced] == ["2014.03.01_00:12:00_TAI",
                                                                  "2014.03.01_00:24:00_TAI"]
    calls = len(jsoc.log)
    assert fetch(jsoc, tmp_path, *args) == 0
    out = capsys.readouterr().out
    assert "2 already present" in out and out.count("skipped ") == 2
    assert len(jsoc.log) == calls  # nothing asked of JSOC


def test_failures_exit_nonzero_and_rerun_finishes(jsoc, tmp_path, capsys, tiny_enhance_models):
    args = ["--series", "hmi.M_45s", "--start", "2014-03-01T00:00", "--end", "2014-03-01T00:02",
            "--email", REGISTERED_EMAIL, "--retries", "1", "--enhance",
            "--model", str(tiny_enhance_models["magnetogram"])]
    jsoc.add_fault("500", times=2, match="000130_TAI")
    assert fetch(jsoc, tmp_path, *args) == 1
    captured = capsys.readouterr()
    assert ("FAILED    hmi.m_45s.20140301_000130_TAI.2.magnetogram.fits: download failed: HTTP 500 "
            "Internal Server Error (after 2 attempts)") in captured.out
    assert captured.out.count("enhanced  ") == 2
    assert "1 file(s) failed; run the same command again" in captured.err
    # the server recovers: the re-run fetches and enhances only the missing file
    assert fetch(jsoc, tmp_path, *args) == 0
    out = capsys.readouterr().out
    assert "1 downloaded, 2 already present" in out
    assert out.count("enhanced  ") == 1 and out.count("skipped ") == 2
    assert len(list((tmp_path / "raw" / "enhanced").glob("*.enhanced.fits"))) == 3


def test_enhancement_failure_is_reported(jsoc, tmp_path, capsys, tiny_enhance_models):
    # a continuum file with the magnetogram model: enhance_map refuses, the command says why
    args = ["--series", "hmi.Ic_45s", "--start", "2014-03-01T00:00", "--email", REGISTERED_EMAIL, "--enhance",
            "--model", str(tiny_enhance_models["magnetogram"])]
    assert fetch(jsoc, tmp_path, *args) == 1
    out = capsys.readouterr().out
    assert "FAILED    hmi.ic_45s.20140301_000045_TAI.2.continuum.fits: ValueError: Model" in out


def test_email_missing(jsoc, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("JSOC_EMAIL", raising=False)
    assert fetch(jsoc, tmp_path, "--series", "hmi.M_45s", "--start", "2014-03-01") == 1
    err = capsys.readouterr().err
    assert err.startswith("sunpy-enhance fetch: error: JSOC needs a registered email address")
    assert len(err.strip().splitlines()) == 1


def test_jsoc_refuses(jsoc, tmp_path, capsys):
    jsoc.request_error = (3, "Request exceeds max byte limit of 100000MB")
    assert fetch(jsoc, tmp_path, "--series", "hmi.M_45s", "--start", "2014-03-01", "--end", "2014-03-02",
                 "--email", REGISTERED_EMAIL) == 1
    err = capsys.readouterr().err
    assert "failed (status 3): the request is too large for one export" in err


def test_timeout_then_request_id(jsoc, tmp_path, capsys):
    jsoc.pending_polls = 10**6
    assert fetch(jsoc, tmp_path, "--series", "hmi.M_45s", "--start", "2014-03-01",
                 "--email", REGISTERED_EMAIL, "--timeout", "0.1") == 1
    err = capsys.readouterr().err
    request_id = err.split("--request-id ")[1].split(")")[0]
    assert request_id.startswith("JSOC_")
    jsoc.pending_polls = 0
    assert fetch(jsoc, tmp_path, "--request-id", request_id) == 0
    assert "1 downloaded" in capsys.readouterr().out


def test_cutout(jsoc, tmp_path, capsys):
    assert fetch(jsoc, tmp_path, "--series", "hmi.M_45s", "--start", "2014-03-01",
                 "--email", REGISTERED_EMAIL, "--cutout", "35", "-15", "12", "6") == 0
    (path,) = (tmp_path / "raw").glob("*.fits")
    assert sunpy.map.Map(path).data.shape == pytest.approx((6 / 0.504, 12 / 0.504), abs=2)


def test_argument_errors(jsoc, tmp_path, capsys):
    assert fetch(jsoc, tmp_path, "--series", "hmi.M_45s") == 1
    assert "give --series and --start" in capsys.readouterr().err
    assert fetch(jsoc, tmp_path, "--series", "hmi.M_45s", "--start", "2014-03-01", "--cadence", "12m") == 1
    assert "--cadence needs a time range" in capsys.readouterr().err
    assert fetch(jsoc, tmp_path, "--series", "aia.lev1", "--start", "2014-03-01",
                 "--email", REGISTERED_EMAIL) == 1
    assert "unknown HMI series 'aia.lev1'" in capsys.readouterr().err


@pytest.mark.parametrize(("series", "instead"), [("hmi.M_720s_dconS", "hmi.M_720s"),
                                                 ("hmi.Ic_720s_dconS", "hmi.Ic_720s"), ("hmi.M_45s_dcon", "hmi.M_45s")])
def test_enhance_refuses_deconvolved_series_before_asking_jsoc(jsoc, tmp_path, capsys, series, instead):
    args = ["--series", series, "--start", "2014-03-01T00:00", "--email", REGISTERED_EMAIL]
    assert fetch(jsoc, tmp_path, *args, "--enhance") == 1
    err = capsys.readouterr().err
    assert err.startswith(f"sunpy-enhance fetch: error: {series} is already deconvolved: ")
    assert "expect data blurred by the non-deconvolved HMI PSF" in err
    assert f"Use the non-deconvolved series {instead} instead. Or fetch {series} without --enhance." in err
    assert jsoc.log == []  # nothing was asked of JSOC
    assert not (tmp_path / "raw").exists()
    # the data themselves can be fetched
    assert fetch(jsoc, tmp_path, *args) == 0
    assert "1 downloaded" in capsys.readouterr().out


def test_enhance_refuses_deconvolved_files_of_an_earlier_export(jsoc, tmp_path, capsys):
    assert fetch(jsoc, tmp_path, "--series", "hmi.M_720s_dconS", "--start", "2014-03-01T00:00",
                 "--email", REGISTERED_EMAIL) == 0
    capsys.readouterr()
    request_id = next(q["requestid"] for _, _, q in jsoc.log if "requestid" in q)
    # by request id the series is not known in advance: the files are downloaded, then not enhanced
    assert fetch(jsoc, tmp_path / "again", "--request-id", request_id, "--enhance") == 1
    out = capsys.readouterr().out
    assert "FAILED    hmi.m_720s_dcons.20140301_000000_TAI.3.magnetogram.fits: hmi.m_720s_dcons is already " \
           "deconvolved" in out
    assert "enhancement:" not in out
    assert not (tmp_path / "again" / "raw" / "enhanced").exists()
