"""
Batch enhancement of FITS files: per-file records, atomic outputs with provenance, skip on re-run.
"""
import os

import numpy as np
import pytest
import sunpy.map
from astropy.io import fits
from jsoc_server import write_hmi_file

from sunpy_enhance.files import EnhanceReport, FileRecord, enhance_file, enhance_files, output_path
from sunpy_enhance.net.download import verify_file


@pytest.fixture
def hmi_files(tmp_path):
    """A magnetogram and a continuum file as JSOC exports them (Rice-compressed, full headers)."""
    return [write_hmi_file(tmp_path / "in", "hmi.M_45s", "2014-03-01T00:00:00", size=48),
            write_hmi_file(tmp_path / "in", "hmi.Ic_45s", "2014-03-01T00:00:00", size=48)]


def models_for(tiny_enhance_models, path):
    return tiny_enhance_models["magnetogram" if "magnetogram" in path.name else "continuum"]


def test_output_path():
    assert output_path("a/b/hmi.m_45s.x.magnetogram.fits", "out") == output_path(
        "c/hmi.m_45s.x.magnetogram.fits.gz", "out")
    assert str(output_path("x.fits", "out")) == os.path.join("out", "x.enhanced.fits")


def test_enhance_file_writes_x2_map_with_provenance(tmp_path, hmi_files, tiny_enhance_models):
    source = hmi_files[0]
    record = enhance_file(source, tmp_path / "out", model=tiny_enhance_models["magnetogram"])
    assert isinstance(record, FileRecord)
    assert record.status == "done"
    out = sunpy.map.Map(record.output)
    original = sunpy.map.Map(source)
    assert out.data.shape == (96, 96)
    assert out.scale.axis1.value == pytest.approx(original.scale.axis1.value / 2)
    # the same sky at the same place: the centre of the field is the same world coordinate
    assert out.center.Tx.value == pytest.approx(original.center.Tx.value, abs=0.01)
    assert out.center.Ty.value == pytest.approx(original.center.Ty.value, abs=0.01)
    assert out.meta["enhsrc"] == source.name
    assert "enhanced from " + source.name in str(out.meta["history"]).replace("\n", "")  # cards wrap at 72
    assert out.meta["enhmodel"] == "tiny-magnetogram"
    assert out.meta["t_rec"] == original.meta["t_rec"]
    assert np.isfinite(out.data).all()
    verify_file(record.output)
    assert [p.name for p in (tmp_path / "out").iterdir()] == [os.path.basename(record.output)]


def test_enhance_files_report_skip_and_overwrite(tmp_path, hmi_files, tiny_enhance_models):
    out_dir = tmp_path / "out"
    seen = []
    report = enhance_files(hmi_files[:1], out_dir, model=tiny_enhance_models["magnetogram"],
                           callback=seen.append)
    assert isinstance(report, EnhanceReport)
    assert [r.status for r in report] == ["done"] and seen == list(report)
    first_mtime = os.stat(report[0].output).st_mtime_ns

    again = enhance_files(hmi_files[:1], out_dir, model=tiny_enhance_models["magnetogram"])
    assert [r.status for r in again] == ["skipped"]
    assert os.stat(again[0].output).st_mtime_ns == first_mtime  # not rewritten
    assert again.outputs == report.outputs

    forced = enhance_files(hmi_files[:1], out_dir, overwrite=True, model=tiny_enhance_models["magnetogram"])
    assert [r.status for r in forced] == ["done"]
    assert [m.data.shape for m in forced.maps()] == [(96, 96)]


def test_incomplete_output_is_redone(tmp_path, hmi_files, tiny_enhance_models):
    out_dir = tmp_path / "out"
    target = output_path(hmi_files[0], out_dir)
    out_dir.mkdir()
    target.write_bytes(b"SIMPLE  =                    T" + b" " * 50 + b"BITPIX")  # a crashed foreign writer
    record = enhance_file(hmi_files[0], out_dir, model=tiny_enhance_models["magnetogram"])
    assert record.status == "done"
    verify_file(target)


def test_failures_are_recorded_and_the_batch_goes_on(tmp_path, hmi_files, tiny_enhance_models):
    truncated = tmp_path / "in" / "truncated.fits"
    truncated.write_bytes(hmi_files[0].read_bytes()[:5000])
    not_hmi = tmp_path / "in" / "not_hmi.fits"
    header = fits.Header({"CTYPE1": "HPLN-TAN", "CTYPE2": "HPLT-TAN", "CUNIT1": "arcsec", "CUNIT2": "arcsec",
                          "CDELT1": 0.6, "CDELT2": 0.6, "CRPIX1": 16, "CRPIX2": 16, "CRVAL1": 0, "CRVAL2": 0,
                          "DATE-OBS": "2014-03-01T00:00:00", "INSTRUME": "CAMERA1", "TELESCOP": "GROUND",
                          "HGLN_OBS": 0, "HGLT_OBS": 0, "DSUN_OBS": 1.5e11})
    fits.PrimaryHDU(np.ones((32, 32), dtype=np.float32), header).writeto(not_hmi)
    missing = tmp_path / "in" / "missing.fits"
    inputs = [truncated, hmi_files[0], not_hmi, missing]
    report = enhance_files(inputs, tmp_path / "out", model=tiny_enhance_models["magnetogram"])
    assert [r.status for r in report] == ["failed", "done", "failed", "failed"]
    assert "truncated.fits is truncated" in report[0].reason and "download it again" in report[0].reason
    assert "not from SDO/HMI" in report[2].reason
    assert "no such file" in report[3].reason
    assert not report.ok
    assert "FAILED not_hmi.fits: ValueError: This map is not from SDO/HMI" in str(report)
    # only the good file produced an output; nothing partial is left
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [output_path(hmi_files[0], ".").name]


def test_continuum_file(tmp_path, hmi_files, tiny_enhance_models):
    record = enhance_file(hmi_files[1], tmp_path / "out", model=tiny_enhance_models["continuum"])
    out = sunpy.map.Map(record.output)
    assert out.data.shape == (96, 96)
    # I/Ic (the tiny model is a toy, so only the bookkeeping is checked): the quiet-Sun level of the
    # synthetic 50000 DN/s field is recorded and the output carries no input unit
    assert out.meta["enhqsun"] == pytest.approx(50000, rel=0.1)
    assert out.meta.get("bunit", "") == ""
    assert np.isfinite(out.data).all()
