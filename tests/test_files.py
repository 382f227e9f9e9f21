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
from sunpy_enhance.io import verify_file


@pytest.fixture
def hmi_files(tmp_path):
    """A magnetogram and a continuum file as JSOC exports them (Rice-compressed, full headers)."""
    return [write_hmi_file(tmp_path / "in", "hmi.M_45s", "2014-03-01T00:00:00", size=48),
            write_hmi_file(tmp_path / "in", "hmi.Ic_45s", "2014-03-01T00:00:00", size=48)]


def models_for(tiny_enhance_models, path):
    return tiny_enhance_models["magnetogram" if "magnetogram" in path.name else "continuum"]


def test_output_path_is_unique_per_input(tmp_path):
    # the same name in two folders, or compressed and not: distinct outputs, named after the input
    names = {output_path(p, "out") for p in ("a/b/hmi.m_45s.x.magnetogram.fits", "c/hmi.m_45s.x.magnetogram.fits",
                                              "a/b/hmi.m_45s.x.magnetogram.fits.gz")}
    assert len(names) == 3
    assert all(n.name.startswith("hmi.m_45s.x.magnetogram.") and n.name.endswith(".enhanced.fits") for n in names)
    # the same input however it is written (relative, absolute, through ..) has one output
    (tmp_path / "d").mkdir()
    assert output_path(tmp_path / "x.fits", "out") == output_path(tmp_path / "d" / ".." / "x.fits", "out")
    assert os.path.dirname(output_path("x.fits", "out")) == "out"


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


# -- outputs: unique per input, provenance checked, never the input, one winner -----------------------------
def test_same_name_in_two_folders_and_gzipped_get_distinct_outputs(tmp_path, tiny_enhance_models):
    import gzip

    day1 = write_hmi_file(tmp_path / "day1", "hmi.M_45s", "2014-03-01T00:00:00", size=32)
    day2 = write_hmi_file(tmp_path / "day2", "hmi.M_45s", "2014-03-02T00:00:00", size=32)
    day2 = day2.rename(day2.with_name(day1.name))  # the same file name, other data
    zipped = day1.with_name(day1.name + ".gz")
    zipped.write_bytes(gzip.compress(write_hmi_file(tmp_path / "other", "hmi.M_45s", "2014-03-03T00:00:00",
                                                    size=32).read_bytes()))
    inputs = [day1, day2, zipped]
    report = enhance_files(inputs, tmp_path / "out", model=tiny_enhance_models["magnetogram"])
    assert [r.status for r in report] == ["done"] * 3
    assert len(set(report.outputs)) == 3
    assert [sunpy.map.Map(p).meta["t_rec"][:10] for p in report.outputs] == ["2014.03.01", "2014.03.02",
                                                                            "2014.03.03"]
    again = enhance_files(inputs, tmp_path / "out", model=tiny_enhance_models["magnetogram"])
    assert [r.status for r in again] == ["skipped"] * 3


def test_provenance_is_checked_before_skipping(tmp_path, hmi_files, tiny_enhance_models, monkeypatch):
    monkeypatch.setenv("SUNPY_ENHANCE_EMULATE_BFLOAT16", "1")
    source, out_dir = hmi_files[0], tmp_path / "out"
    tiny = tiny_enhance_models["magnetogram"]
    assert enhance_file(source, out_dir, model=tiny).status == "done"
    assert enhance_file(source, out_dir, model=tiny).status == "skipped"
    other = enhance_file(source, out_dir)  # the bundled model this time: made by another model, redone
    assert other.status == "done" and "tiny-magnetogram" in other.reason
    assert sunpy.map.Map(other.output).meta["enhmodel"] == "enhance-magnetogram"
    assert enhance_file(source, out_dir, model="enhance-magnetogram").status == "skipped"
    redone = enhance_file(source, out_dir, precision="bfloat16")
    assert redone.status == "done" and "float32" in redone.reason
    assert enhance_file(source, out_dir, precision="bfloat16").status == "skipped"


def test_batch_never_takes_its_outputs_or_temporaries_as_inputs(tmp_path, hmi_files, tiny_enhance_models):
    from sunpy_enhance.cli.batch import collect_inputs

    folder = tmp_path / "in"
    record = enhance_file(hmi_files[0], folder, model=tiny_enhance_models["magnetogram"])  # outputs beside inputs
    (folder / ".hmi.x.enhanced.fits.k2j3h4.part.fits").write_bytes(b"orphan of a killed run")
    (folder / (hmi_files[1].name + ".part")).write_bytes(b"orphan of a killed download")
    found = collect_inputs([folder])
    assert sorted(found) == sorted(hmi_files)
    assert record.output not in map(str, found)


def test_output_equal_to_input_is_refused_even_with_overwrite(tmp_path, hmi_files, capsys):
    from sunpy_enhance.cli import main

    source = hmi_files[0]
    before = source.read_bytes()
    for target in (source, tmp_path / "in" / ".." / "in" / source.name):
        assert main(["enhance", str(source), "-o", str(target), "--overwrite"]) == 1
        err = capsys.readouterr().err
        assert "is the input" in err and len(err.strip().splitlines()) == 1
    assert main(["denoise", str(source), "-o", str(source), "--overwrite"]) == 1
    assert "is the input" in capsys.readouterr().err
    assert source.read_bytes() == before


def test_a_writer_that_lost_the_race_says_so(tmp_path):
    from sunpy_enhance.io import file_identity, save_map_atomic
    from sunpy_enhance.sample import synthetic_hmi_map

    target = tmp_path / "m.fits"
    smap = synthetic_hmi_map("magnetogram", shape=(8, 8))
    for existed in (False, True):
        if existed:
            save_map_atomic(smap, target, overwrite=True)
        started = file_identity(target)  # a run starts: the output is absent (or an old one)
        save_map_atomic(smap, target, overwrite=True, expect=started)  # another run finishes first
        mine = synthetic_hmi_map("magnetogram", shape=(8, 8), seed=1)
        with pytest.raises(FileExistsError, match="another process.*not saved"):
            save_map_atomic(mine, target, overwrite=True, expect=started)
        assert sunpy.map.Map(target).data[0, 0] == smap.data[0, 0]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["m.fits"]


# -- outputs keep the input's compression ---------------------------------------------------------------------
def test_output_of_a_rice_compressed_input_is_compressed_losslessly(tmp_path, hmi_files, tiny_enhance_models):
    from sunpy_enhance.enhance.api import enhance_map
    from sunpy_enhance.io import read_map, tile_compression

    source, model = hmi_files[0], tiny_enhance_models["magnetogram"]
    assert tile_compression(source) == "RICE_1"  # as JSOC exports them
    record = enhance_file(source, tmp_path / "keep", model=model)
    assert tile_compression(record.output) == "GZIP_2"
    expected = enhance_map(read_map(source), model=model).data
    assert np.array_equal(sunpy.map.Map(record.output).data, expected, equal_nan=True)  # bit for bit
    verify_file(record.output)
    assert enhance_file(source, tmp_path / "keep", model=model).status == "skipped"  # its header is read
    plain = enhance_file(source, tmp_path / "none", model=model, compression="none")
    assert tile_compression(plain.output) is None
    assert np.array_equal(fits.getdata(plain.output), expected, equal_nan=True)
    rice = enhance_files([source], tmp_path / "rice", model=model, compression="rice")
    assert tile_compression(rice[0].output) == "RICE_1"
    with pytest.raises(ValueError, match="compression must be one of"):
        enhance_file(source, tmp_path / "bad", model=model, compression="lzma")
    assert not (tmp_path / "bad").exists()


def test_output_of_a_plain_input_stays_plain(tmp_path, tiny_enhance_models):
    from sunpy_enhance.io import save_map_atomic, tile_compression
    from sunpy_enhance.sample import synthetic_hmi_map

    source = save_map_atomic(synthetic_hmi_map("magnetogram", shape=(32, 32)), tmp_path / "plain.fits")
    record = enhance_file(source, tmp_path / "out", model=tiny_enhance_models["magnetogram"])
    assert record.status == "done" and tile_compression(record.output) is None


def test_units_and_quiet_sun_level_are_checked_before_skipping(tmp_path, hmi_files, tiny_enhance_models):
    # batch and fetch --enhance take --keep-input-units and --quiet-sun: an output made otherwise is redone
    source, out_dir, model = hmi_files[1], tmp_path / "out", tiny_enhance_models["continuum"]
    assert enhance_file(source, out_dir, model=model).status == "done"
    assert enhance_file(source, out_dir, model=model, compression="none").status == "skipped"  # same values
    kept = enhance_file(source, out_dir, model=model, keep_input_units=True)
    assert kept.status == "done" and "made in I/Ic, not the input's units" in kept.reason
    assert enhance_file(source, out_dir, model=model, keep_input_units=True).status == "skipped"
    given = enhance_file(source, out_dir, model=model, keep_input_units=True, quiet_sun=48000.0)
    assert given.status == "done" and "not 48000" in given.reason
    assert enhance_file(source, out_dir, model=model, keep_input_units=True, quiet_sun=48000).status == "skipped"
    back = enhance_file(source, out_dir, model=model, quiet_sun=48000)
    assert back.status == "done" and "made in the input's units, not I/Ic" in back.reason
