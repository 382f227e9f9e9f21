"""
Bad options and bad inputs end in a one-line error that names the argument and what is allowed, before any
work starts; bad calls of the Python API in a clear exception.
"""
import numpy as np
import pytest
from jsoc_server import REGISTERED_EMAIL, jsoc

from sunpy_enhance.cli import main


def _usage_error(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(("argv", "expected"), [
    (["fetch", "--retries", "-1"], "argument --retries: must be an integer ≥ 0, not '-1'"),
    (["fetch", "--poll-interval", "-1"], "argument --poll-interval: must be a number > 0, not '-1'"),
    (["fetch", "--poll-interval", "nan"], "argument --poll-interval: must be a number > 0, not 'nan'"),
    (["fetch", "--timeout", "0"], "argument --timeout: must be a number > 0, not '0'"),
    (["fetch", "--tile-size", "1"], "argument --tile-size: must be an integer ≥ 32, not '1'"),
    (["enhance", "--sample", "continuum", "--tile-size", "1"], "argument --tile-size: must be an integer ≥ 32"),
    (["batch", "x.fits", "--tile-size", "10"], "argument --tile-size: must be an integer ≥ 32, not '10'"),
    (["batch", "x.fits", "--retries", "-2"], "argument --retries: must be an integer ≥ 0, not '-2'"),
    (["batch", "x.fits", "--workers", "0"], "argument --workers: must be an integer ≥ 1, not '0'"),
    (["denoise", "a.npy", "b.npy", "--samples", "-1"], "argument --samples: must be an integer ≥ 0, not '-1'"),
    (["denoise", "a.npy", "b.npy", "--cycles", "0"], "argument --cycles: must be an integer ≥ 1, not '0'"),
    (["denoise", "a.npy", "b.npy", "--noise", "-3"], "argument --noise: must be a number > 0, not '-3'"),
    (["denoise", "a.npy", "b.npy", "--samples", "many"], "argument --samples: must be an integer ≥ 0, not 'many'"),
])
def test_bad_options_are_refused_by_name_and_range(tmp_path, capsys, argv, expected):
    argv = [*argv, "-o", str(tmp_path / "out")] if argv[0] in ("fetch", "enhance", "batch") else argv
    assert expected in _usage_error(capsys, argv)
    assert list(tmp_path.iterdir()) == []


def test_bad_poll_interval_is_refused_before_submitting(jsoc, tmp_path, capsys):
    argv = ["fetch", "--jsoc-url", jsoc.url, "-o", str(tmp_path), "--series", "hmi.M_45s", "--start", "2014-03-01",
            "--email", REGISTERED_EMAIL, "--poll-interval", "-1"]
    assert "--poll-interval" in _usage_error(capsys, argv)
    assert jsoc.log == []


def test_python_fetch_options_are_checked_before_submitting(jsoc, tmp_path):
    from sunpy_enhance.net import exports

    for option, value in (("max_retries", -1), ("poll_interval", -1), ("poll_interval", 0), ("timeout", 0),
                          ("retry_wait", -1), ("download_timeout", 0), ("max_conn", 0)):
        with pytest.raises(ValueError, match=f"{option} must be"):
            exports.fetch_hmi("hmi.M_45s", "2014-03-01", email=REGISTERED_EMAIL, directory=tmp_path,
                              server=jsoc.url, progress=False, **{option: value})
    assert jsoc.log == []


@pytest.mark.parametrize("command", ["enhance", "denoise"])
def test_empty_file_and_folder_as_input(tmp_path, capsys, command):
    empty = tmp_path / "empty.fits"
    empty.touch()
    folder = tmp_path / "folder.fits"
    folder.mkdir()
    for source, expected in ((empty, "empty.fits is empty (0 bytes)"), (folder, "folder.fits is a folder")):
        argv = ([command, str(source), "-o", str(tmp_path / "o.fits")] if command == "enhance"
                else [command, str(source), str(tmp_path / "o.fits")])
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert expected in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.fits").exists()


def test_enhance_map_refuses_arrays_and_none():
    from sunpy_enhance.enhance.api import enhance_map

    for value in (None, np.zeros((64, 64))):
        with pytest.raises(TypeError, match=r"sunpy Map.*enhance_array.*sunpy\.map\.Map\(data, header\)"):
            enhance_map(value)


def test_one_pixel_wide_image_and_tiny_tiles():
    from sunpy_enhance.enhance.api import enhance_array, enhance_map
    from sunpy_enhance.sample import synthetic_hmi_map

    for shape in ((1, 64), (64, 1), (1, 1)):
        with pytest.raises(ValueError, match=r"at least 2 × 2 pixels"):
            enhance_array(np.ones(shape), kind="magnetogram")
    with pytest.raises(ValueError, match="at least 2 × 2 pixels"):
        enhance_map(synthetic_hmi_map("magnetogram", shape=(1, 32)))
    for call in (lambda: enhance_array(np.ones((8, 8)), kind="magnetogram", tile_size=1),
                 lambda: enhance_map(synthetic_hmi_map("magnetogram", shape=(8, 8)), tile_size=8)):
        with pytest.raises(ValueError, match=r"tile_size must be an integer ≥ 32"):
            call()


def test_denoise_samples_must_not_be_negative():
    from sunpy_enhance.denoise import denoise

    with pytest.raises(ValueError, match="samples must be"):
        denoise(np.zeros((16, 16)), noise=1.0, uncertainty=True, samples=-1)
