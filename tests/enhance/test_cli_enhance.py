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


# -- --raw: cutouts without a header (issue 19) ---------------------------------------------------------------
def test_raw_fits_and_npy_cutouts_are_enhanced_as_arrays(tmp_path, tiny_enhance_models, capsys):
    import numpy as np
    import pytest
    from astropy.io import fits

    from sunpy_enhance.enhance.api import enhance_array
    from sunpy_enhance.exceptions import SunpyEnhanceUserWarning

    magnetogram = synthetic_hmi_map("magnetogram", shape=(32, 32)).data.astype(np.float64)
    continuum = synthetic_hmi_map("continuum", shape=(32, 32)).data
    fits.PrimaryHDU(magnetogram).writeto(tmp_path / "blos.fits")  # as such cutouts are shared: no header at all
    np.save(tmp_path / "ic.npy", continuum)
    models = {kind: str(path) for kind, path in tiny_enhance_models.items()}

    with pytest.warns(SunpyEnhanceUserWarning, match="no coordinates, so μ is unknown: the limb .* was not checked"):
        assert main(["enhance", str(tmp_path / "blos.fits"), "--raw", "--kind", "magnetogram", "--pixel-scale",
                     "0.504", "-o", str(tmp_path / "blos_x2.fits"), "--model", models["magnetogram"]]) == 0
    assert "0.252 arcsec/px" in capsys.readouterr().out
    with fits.open(tmp_path / "blos_x2.fits") as hdul:
        assert len(hdul) == 1  # plain FITS, as the input
        out, header = hdul[0].data, hdul[0].header
    np.testing.assert_array_equal(out, enhance_array(magnetogram, kind="magnetogram", model=models["magnetogram"]))
    assert header["ENHMODEL"] == "tiny-magnetogram" and header["ENHSRC"] == "blos.fits"
    assert header["BUNIT"] == "G" and "CTYPE1" not in header
    assert "image without coordinates (--raw" in "".join(header["HISTORY"])

    with pytest.warns(SunpyEnhanceUserWarning, match="no limb-darkening correction was applied"):
        assert main(["enhance", str(tmp_path / "ic.npy"), "--raw", "--kind", "continuum", "-o",
                     str(tmp_path / "ic_x2.npy"), "--model", models["continuum"], "--quiet-sun", "60000"]) == 0
    expected = enhance_array(continuum, kind="continuum", model=models["continuum"], quiet_sun=60000.0)
    np.testing.assert_array_equal(np.load(tmp_path / "ic_x2.npy"), expected)
    with pytest.warns(SunpyEnhanceUserWarning, match="μ is unknown"):
        assert main(["enhance", str(tmp_path / "ic.npy"), "--raw", "--kind", "continuum", "-o",
                     str(tmp_path / "ic_dn.fits"), "--model", models["continuum"], "--quiet-sun", "60000",
                     "--keep-input-units"]) == 0
    np.testing.assert_array_equal(fits.getdata(tmp_path / "ic_dn.fits"), expected * np.float32(60000))
    assert fits.getheader(tmp_path / "ic_dn.fits")["ENHQSUN"] == 60000
    assert not list(tmp_path.glob(".*part*"))


def test_raw_refuses_what_it_cannot_do(tmp_path, capsys):
    import numpy as np
    from astropy.io import fits

    fits.PrimaryHDU(np.ones((16, 16), np.float32)).writeto(tmp_path / "bare.fits")
    base = ["enhance", str(tmp_path / "bare.fits"), "-o", str(tmp_path / "o.fits")]
    for extra, expected in (([], "It has no coordinates: to enhance a bare image at HMI's 0.504\"/px, add --raw "
                                 "--kind continuum or --raw --kind magnetogram"),
                            (["--raw"], "--raw needs --kind continuum or --kind magnetogram"),
                            (["--raw", "--kind", "magnetogram", "--pixel-scale", "0.6"],
                             "--pixel-scale 0.6 is not HMI's 0.504\"/px"),
                            (["--kind", "magnetogram", "--pixel-scale", "0.504"], "--pixel-scale is for --raw"),
                            (["--raw", "--kind", "magnetogram", "--png", str(tmp_path / "p.png")],
                             "not available with --raw")):
        assert main([*base, *extra]) == 1
        err = capsys.readouterr().err
        assert expected in err and len(err.strip().splitlines()) == 1
    assert main(["enhance", str(tmp_path / "bare.fits"), "--raw", "--kind", "magnetogram", "-o",
                 str(tmp_path / "o.png")]) == 1
    assert "with --raw the output is .fits" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bare.fits"]


def test_raw_real_published_sample(shared_data, tmp_path, tiny_enhance_models):
    """The Enhance authors' HMI sample cutouts are bare 200² FITS arrays."""
    import pytest
    from astropy.io import fits

    from sunpy_enhance.exceptions import SunpyEnhanceUserWarning

    with pytest.warns(SunpyEnhanceUserWarning, match="μ is unknown"):
        assert main(["enhance", str(shared_data / "hmi" / "enhance_sample_blos.fits"), "--raw", "--kind",
                     "magnetogram", "-o", str(tmp_path / "out.fits"),
                     "--model", str(tiny_enhance_models["magnetogram"])]) == 0
    assert fits.getdata(tmp_path / "out.fits").shape == (400, 400)


def test_enhance_keeps_the_inputs_compression(tmp_path, tiny_enhance_models):
    from jsoc_server import write_hmi_file

    from sunpy_enhance.io import tile_compression

    source = write_hmi_file(tmp_path, "hmi.M_45s", size=32)  # Rice-compressed, as JSOC exports it
    model = str(tiny_enhance_models["magnetogram"])
    for compression, expected in (("keep", "GZIP_2"), ("none", None), ("rice", "RICE_1")):
        out = tmp_path / f"{compression}.fits"
        assert main(["enhance", str(source), "-o", str(out), "--model", model, "--compression", compression]) == 0
        assert tile_compression(out) == expected
    assert main(["enhance", "--sample", "magnetogram", "-o", str(tmp_path / "s.fits"), "--model", model]) == 0
    assert tile_compression(tmp_path / "s.fits") is None  # no input file: plain
