"""
Bad options and bad inputs end in a one-line error that names the argument and what is allowed, before any
work starts; bad calls of the Python API in a clear exception.
"""
import argparse

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
    (["denoise", "a.npy", "-o", "b.npy", "--samples", "-1"], "argument --samples: must be an integer ≥ 0, not '-1'"),
    (["denoise", "a.npy", "-o", "b.npy", "--cycles", "0"], "argument --cycles: must be an integer ≥ 1, not '0'"),
    (["denoise", "a.npy", "-o", "b.npy", "--noise", "-3"], "argument --noise: must be a number > 0, not '-3'"),
    (["denoise", "a.npy", "-o", "b.npy", "--samples", "many"],
     "argument --samples: must be an integer ≥ 0, not 'many'"),
])
def test_bad_options_are_refused_by_name_and_range(tmp_path, capsys, argv, expected):
    if argv[0] in ("fetch", "batch"):
        argv = [*argv, "--output-dir", str(tmp_path / "out")]
    elif argv[0] == "enhance":
        argv = [*argv, "-o", str(tmp_path / "out.fits")]
    assert expected in _usage_error(capsys, argv)
    assert list(tmp_path.iterdir()) == []


def test_bad_poll_interval_is_refused_before_submitting(jsoc, tmp_path, capsys):
    argv = ["fetch", "--jsoc-url", jsoc.url, "--output-dir", str(tmp_path), "--series", "hmi.M_45s",
            "--start", "2014-03-01", "--email", REGISTERED_EMAIL, "--poll-interval", "-1"]
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
        argv = [command, str(source), "-o", str(tmp_path / "o.fits")]
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


# -- one option set, one output convention, one progress switch (issue 20) ---------------------------------------
def _subparser(command):
    from sunpy_enhance.cli import build_parser

    (subparsers,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return subparsers.choices[command]


def _enhancement_options(command):
    """Each option of the command's enhancement group: its spellings, choices, default and kind of action."""
    group = next(g for g in _subparser(command)._action_groups if g.title.startswith("enhancement"))
    return {a.option_strings[0]: (tuple(a.option_strings), a.choices, a.default, type(a).__name__)
            for a in group._group_actions if a.dest not in ("enhance", "enhanced_dir")}


def test_enhance_batch_and_fetch_share_one_set_of_enhancement_options():
    options = {command: _enhancement_options(command) for command in ("enhance", "batch", "fetch")}
    assert options["enhance"] == options["batch"] == options["fetch"]
    assert set(options["enhance"]) == {"--kind", "--model", "--engine", "--device", "--precision", "--tile-size",
                                       "--quiet-sun", "--keep-input-units", "--allow-non-hmi", "--allow-any-scale",
                                       "--compression"}


def test_allow_and_quiet_sun_options_reach_the_enhance_step_of_batch(tmp_path, capsys, tiny_enhance_models):
    from jsoc_server import write_hmi_file

    from sunpy_enhance.io import read_header, save_map_atomic
    from sunpy_enhance.sample import synthetic_hmi_map

    coarse = synthetic_hmi_map("magnetogram", shape=(32, 32))
    coarse.meta["cdelt1"] = coarse.meta["cdelt2"] = 0.6  # not HMI's 0.504"
    source = save_map_atomic(coarse, tmp_path / "in" / "coarse.fits")
    argv = ["batch", str(source), "--output-dir", str(tmp_path / "out"), "--serial", "--retries", "0",
            "--model", str(tiny_enhance_models["magnetogram"])]
    assert main(argv) == 1
    assert "pixel scale" in capsys.readouterr().out
    assert main([*argv, "--allow-any-scale"]) == 0
    continuum = write_hmi_file(tmp_path / "in", "hmi.Ic_45s", size=32)
    assert main(["batch", str(continuum), "--output-dir", str(tmp_path / "out"), "--serial", "--quiet-sun", "12345",
                 "--keep-input-units", "--model", str(tiny_enhance_models["continuum"])]) == 0
    (output,) = (tmp_path / "out").glob("hmi.ic_45s*.enhanced.fits")
    header = read_header(output)
    assert header["ENHQSUN"] == 12345 and header["ENHUNIT"].startswith("input units")


@pytest.mark.parametrize("argv", [["enhance", "--sample", "continuum", "-o", "x.fits"],
                                  ["batch", "x.fits", "--output-dir", "out"], ["fetch", "--output-dir", "out"],
                                  ["denoise", "a.npy", "-o", "b.npy"], ["train-denoiser", "run"]])
def test_progress_is_switched_one_way_everywhere(argv, monkeypatch):
    import os
    import sys

    from sunpy_enhance.cli import build_parser, show_progress

    parser = build_parser()
    assert show_progress(parser.parse_args([*argv, "--progress"])) is True
    assert show_progress(parser.parse_args([*argv, "--no-progress"])) is False
    leader, follower = os.openpty()  # by default: shown when stderr is a terminal, else not
    with open(follower, "w") as terminal, open(os.devnull, "w") as devnull:
        for stream, expected in ((terminal, True), (devnull, False)):
            monkeypatch.setattr(sys, "stderr", stream)
            assert show_progress(parser.parse_args(argv)) is expected
    os.close(leader)


def test_output_dir_for_many_files_and_the_old_spelling(tmp_path, capsys):
    from sunpy_enhance.cli import build_parser

    parser = build_parser()
    for argv in (["batch", "x.fits"], ["fetch"], ["evaluate", "--kind", "continuum", "--data", "d"]):
        args = parser.parse_args([*argv, "--output-dir", "folder"])
        assert str(args.output_dir) == "folder" and capsys.readouterr().err == ""
        args = parser.parse_args([*argv, "-o", "folder"])  # the old spelling: still works, with a note
        assert str(args.output_dir) == "folder"
        assert "-o for a folder is deprecated" in capsys.readouterr().err
        assert "one of the arguments --output-dir is required" in _usage_error(capsys, argv)
        assert "-o " not in _subparser(argv[0]).format_usage().replace("--output-dir", "")  # not advertised


def test_denoise_output_with_o_and_the_old_positional(tmp_path, capsys):
    image = np.random.default_rng(0).normal(0, 1e-2, (32, 32)).astype(np.float32)
    np.save(tmp_path / "in.npy", image)
    assert main(["denoise", str(tmp_path / "in.npy"), "-o", str(tmp_path / "new.npy"), "--noise", "0.01"]) == 0
    assert "deprecated" not in capsys.readouterr().err
    assert main(["denoise", str(tmp_path / "in.npy"), str(tmp_path / "old.npy"), "--noise", "0.01"]) == 0
    assert "the output as a second positional argument is deprecated; use -o/--output" in capsys.readouterr().err
    np.testing.assert_array_equal(np.load(tmp_path / "new.npy"), np.load(tmp_path / "old.npy"))
    assert main(["denoise", str(tmp_path / "in.npy")]) == 1
    assert "give the output file: -o/--output OUTPUT" in capsys.readouterr().err
    assert main(["denoise", str(tmp_path / "in.npy"), str(tmp_path / "a.npy"), "-o", str(tmp_path / "b.npy")]) == 1
    assert "give only -o/--output" in capsys.readouterr().err
