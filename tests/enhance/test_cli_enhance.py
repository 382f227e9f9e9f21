"""
The enhance command line.
"""
import sunpy.map

from sunpy_enhance.cli import main
from sunpy_enhance.io import save_map_atomic
from sunpy_enhance.sample import synthetic_hmi_map


def test_enhance_file_and_png(tmp_path, tiny_enhance_models, capsys):
    src = tmp_path / "hmi.fits"
    save_map_atomic(synthetic_hmi_map("magnetogram", shape=(32, 32)), src)
    out = tmp_path / "out.fits"
    png = tmp_path / "out.png"
    assert main(["enhance", str(src), "-o", str(out), "--model", str(tiny_enhance_models["magnetogram"]),
                 "--png", str(png)]) == 0
    assert sunpy.map.Map(out).data.shape == (64, 64)
    assert png.stat().st_size > 10_000
    assert not list(tmp_path.glob(".*part*"))  # no temporary files left
    # never overwrites without --overwrite
    stamp = out.stat().st_mtime_ns
    assert main(["enhance", str(src), "-o", str(out), "--model", str(tiny_enhance_models["magnetogram"])]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert out.stat().st_mtime_ns == stamp
    assert main(["enhance", str(src), "-o", str(out), "--overwrite",
                 "--model", str(tiny_enhance_models["magnetogram"])]) == 0


def test_sample_source(tmp_path, tiny_enhance_models):
    out = tmp_path / "sample.fits"
    assert main(["enhance", "--sample", "continuum", "-o", str(out),
                 "--model", str(tiny_enhance_models["continuum"])]) == 0
    assert sunpy.map.Map(out).data.shape == (400, 400)


def test_one_line_errors(tmp_path, capsys):
    assert main(["enhance", str(tmp_path / "missing.fits"), "-o", str(tmp_path / "o.fits")]) == 1
    err = capsys.readouterr().err
    assert "no such file" in err and len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.fits"
    bad.write_bytes(b"this is not FITS")  # checked (sunpy_enhance.io.read_map) before sunpy reads it
    assert main(["enhance", str(bad), "-o", str(tmp_path / "o.fits")]) == 1
    err = capsys.readouterr().err
    assert "bad.fits is not a FITS file" in err and len(err.strip().splitlines()) == 1
    cut = tmp_path / "cut.fits"
    cut.write_bytes(save_map_atomic(synthetic_hmi_map("magnetogram", shape=(32, 32)), tmp_path / "m.fits")
                    .read_bytes()[:4000])
    assert main(["enhance", str(cut), "-o", str(tmp_path / "o.fits")]) == 1
    err = capsys.readouterr().err
    assert "cut.fits is truncated" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.fits").exists()


def test_written_maps_follow_the_umask(tmp_path):
    """Outputs are written through a private temporary file but end up with the usual permissions."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        path = save_map_atomic(synthetic_hmi_map("magnetogram", shape=(8, 8)), tmp_path / "m.fits")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not list(tmp_path.glob("*.part.fits"))


def test_two_runs_writing_the_same_output_one_says_it_lost(tmp_path):
    """Two concurrent runs to one path (with --overwrite): one writes, the other says it lost, not 'wrote'."""
    import subprocess
    import sys

    out = tmp_path / "out.fits"
    out.write_text("an old result")
    argv = [sys.executable, "-m", "sunpy_enhance", "enhance", "--sample", "magnetogram", "-o", str(out),
            "--overwrite"]
    runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(run.wait(timeout=600), *run.communicate()) for run in runs]
    assert sorted(code for code, _, _ in results) == [0, 1]
    assert sum("wrote" in stdout for _, stdout, _ in results) == 1
    assert sum("written by another process" in stderr and "not saved" in stderr for _, _, stderr in results) == 1
    assert sunpy.map.Map(out).data.shape == (400, 400)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.fits"]
