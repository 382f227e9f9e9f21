"""
Tests of ``sunpy-enhance denoise`` and ``sunpy-enhance train-denoiser``.
"""
import json

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.coordinates import SkyCoord
from astropy.io import fits
from sunpy.coordinates import frames

from sunpy_enhance.cli import main
from sunpy_enhance.denoise import denoise
from sunpy_enhance.models import read_card

SIGMA = 2.6e-3


@pytest.fixture(scope="module")
def noisy():
    yy, xx = np.mgrid[:64, :64]
    clean = 0.01 * np.exp(-((yy - 30) ** 2 + (xx - 20) ** 2) / 80.0)
    return (clean + SIGMA * np.random.default_rng(0).standard_normal(clean.shape)).astype(np.float32)


def test_denoise_npy_with_uncertainty_and_check(noisy, tmp_path, capsys):
    np.save(tmp_path / "in.npy", noisy)
    status = main(["denoise", str(tmp_path / "in.npy"), str(tmp_path / "out.npy"), "--noise", str(SIGMA),
                   "--uncertainty", "--check"])
    assert status == 0
    out = np.load(tmp_path / "out.npy")
    np.testing.assert_allclose(out, denoise(noisy, noise=SIGMA), rtol=1e-6)
    assert np.all(np.load(tmp_path / "out_uncertainty.npy") > 0)
    assert "Residual check" in capsys.readouterr().out
    # The output exists now: refuse to overwrite without --overwrite.
    assert main(["denoise", str(tmp_path / "in.npy"), str(tmp_path / "out.npy")]) == 1
    assert "exists" in capsys.readouterr().err


def test_denoise_map_fits(noisy, tmp_path, capsys):
    ref = SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=frames.Helioprojective(observer="earth", obstime="2020-01-01"))
    header = sunpy.map.header_helper.make_fitswcs_header(noisy.shape, ref, scale=[0.06, 0.06] * u.arcsec / u.pix)
    sunpy.map.Map(noisy, header).save(tmp_path / "map.fits")
    assert main(["denoise", str(tmp_path / "map.fits"), str(tmp_path / "den.fits"), "--noise", str(SIGMA),
                 "--uncertainty"]) == 0
    assert "model denoise-polarimetry" in capsys.readouterr().out
    with fits.open(tmp_path / "den.fits") as hdul:
        assert hdul[0].header["ENHMODEL"] == "denoise-polarimetry" and hdul[0].header["ENHMETH"] == "denoise"
        assert hdul[0].header["CRVAL1"] == pytest.approx(header["crval1"])
        assert hdul["UNCERT"].data.shape == noisy.shape
    out, sigma = sunpy.map.Map(tmp_path / "den.fits")  # data and uncertainty, both Maps on the same grid
    np.testing.assert_allclose(out.data, denoise(noisy, noise=SIGMA), rtol=1e-5, atol=1e-9)
    assert sigma.meta["extname"] == "UNCERT" and np.all(sigma.data > 0)
    here = out.pixel_to_world(3 * u.pix, 5 * u.pix)
    assert here.separation(sigma.pixel_to_world(3 * u.pix, 5 * u.pix)) < 1e-9 * u.arcsec


def test_denoise_cube_fits(noisy, tmp_path, capsys):
    rng = np.random.default_rng(1)
    cube = SIGMA * rng.standard_normal((1, 4, 2, 32, 32)).astype(np.float32)
    cube[:, 0] += 1
    fits.writeto(tmp_path / "cube.fits", cube, fits.Header({"OBSERVER": "test", "DATAMEAN": 0.25}))
    assert main(["denoise", str(tmp_path / "cube.fits"), "-o", str(tmp_path / "c.fits"), "--cube", "--stokes", "3",
                 "--noise", str(SIGMA), "--check", "--uncertainty"]) == 0
    text = capsys.readouterr().out
    assert "Stokes index 3" in text
    with fits.open(tmp_path / "c.fits") as hdul:
        out, header = hdul[0].data, hdul[0].header
        np.testing.assert_array_equal(out[:, :3], cube[:, :3])
        assert out[:, 3].std() < cube[:, 3].std() / 2
        assert np.all(np.isnan(hdul["UNCERT"].data[:, :3])) and np.all(hdul["UNCERT"].data[:, 3] > 0)
        # the input's header, less what described its values, with the provenance of every method
        assert header["OBSERVER"] == "test" and "DATAMEAN" not in header
        assert (header["ENHMETH"], header["ENHMODEL"], header["DNSTOKES"], header["DNCYCLES"]) == \
            ("denoise", "denoise-polarimetry", "3", 1)
        assert "ENHVER" in header and "DNVERS" not in header and "DNMODEL" not in header
        assert "denoised Stokes indices 3, 1 cycle(s) with model denoise-polarimetry" in "".join(header["HISTORY"])
    # an existing output is kept without --overwrite (checked before any work)
    assert main(["denoise", str(tmp_path / "cube.fits"), "-o", str(tmp_path / "c.fits"), "--cube"]) == 1
    assert "exists" in capsys.readouterr().err
    # a .npy cube output: the uncertainty beside it
    assert main(["denoise", str(tmp_path / "cube.fits"), "-o", str(tmp_path / "c.npy"), "--cube", "--noise",
                 str(SIGMA), "--uncertainty"]) == 0
    assert np.load(tmp_path / "c_uncertainty.npy").shape == cube.shape


def test_denoise_array_fits_has_provenance(noisy, tmp_path):
    np.save(tmp_path / "in.npy", noisy)
    assert main(["denoise", str(tmp_path / "in.npy"), "-o", str(tmp_path / "out.fits"), "--noise", str(SIGMA)]) == 0
    header = fits.getheader(tmp_path / "out.fits")
    assert header["ENHMETH"] == "denoise" and header["ENHMODEL"] == "denoise-polarimetry"


def test_denoise_errors(tmp_path, capsys):
    assert main(["denoise", str(tmp_path / "missing.npy"), str(tmp_path / "o.npy")]) == 1
    assert "does not exist" in capsys.readouterr().err
    np.save(tmp_path / "a.npy", np.zeros((8, 8)))
    assert main(["denoise", str(tmp_path / "a.npy"), str(tmp_path / "o.txt")]) == 1
    assert main(["denoise", str(tmp_path / "a.npy"), str(tmp_path / "o.npy"), "--noise", "1", "2"]) == 1


def test_train_denoiser_command_trains_resumes_and_exports(tmp_path, capsys):
    yy, xx = np.mgrid[:64, :64]
    np.save(tmp_path / "scene.npy", np.sin(xx / 6.0) * np.cos(yy / 9.0))
    args = ["train-denoiser", str(tmp_path / "run"), "--scenes", str(tmp_path / "scene.npy"), "--noise", "0.3",
            "--channels", "4", "--batch-size", "2", "--patch-size", "16", "--no-progress",
            "--export", str(tmp_path / "model"), "--name", "tiny", "--unit", "Ic", "--data-note", "a sine"]
    assert main(args + ["--steps", "2", "--time-limit", "0"]) == 0
    assert "run the same command again" in capsys.readouterr().out
    assert not (tmp_path / "model").exists()
    assert main(args + ["--steps", "3"]) == 0
    assert "model written to" in capsys.readouterr().out
    card = read_card(tmp_path / "model")
    assert card["name"] == "tiny" and card["training"]["steps"] == 3 and card["data"] == "a sine"
    assert card["input"]["noise"] == 0.3 and card["input"]["unit"] == "Ic"
    assert json.loads((tmp_path / "run" / "state.json").read_text())["step"] == 3
    # The exported model denoises through the denoise command.
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((20, 20)))
    assert main(["denoise", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "--model", str(tmp_path / "model")]) == 0


def test_train_denoiser_needs_data_and_noise_for_scenes(tmp_path, capsys):
    assert main(["train-denoiser", str(tmp_path / "r")]) == 1
    assert "no training data" in capsys.readouterr().err
    np.save(tmp_path / "s.npy", np.zeros((32, 32)))
    assert main(["train-denoiser", str(tmp_path / "r"), "--scenes", str(tmp_path / "s.npy")]) == 1
    assert "--noise" in capsys.readouterr().err


def test_train_denoiser_scene_groups_have_their_own_weights(tmp_path, capsys):
    yy, xx = np.mgrid[:32, :32]
    np.save(tmp_path / "a.npy", np.sin(xx / 4.0))
    np.save(tmp_path / "b.npy", np.cos(yy / 5.0))
    base = ["train-denoiser", str(tmp_path / "run"), "--scenes", str(tmp_path / "a.npy"),
            "--scenes", str(tmp_path / "b.npy"), "--noise", "0.3", "--channels", "4", "--batch-size", "2",
            "--patch-size", "16", "--no-progress", "--steps", "1"]
    assert main(base + ["--weights", "1"]) == 1
    assert "--weights needs 2 numbers" in capsys.readouterr().err
    assert main(base + ["--weights", "0.7", "0.3"]) == 0
    config = json.loads((tmp_path / "run" / "state.json").read_text())["config"]
    assert [s["name"] for s in config["sources"]] == [str(tmp_path / "a.npy"), str(tmp_path / "b.npy")]


# -- writes: atomic, never over what exists without --overwrite -----------------------------------------
def test_uncertainty_file_is_not_overwritten_without_overwrite(noisy, tmp_path, capsys):
    np.save(tmp_path / "in.npy", noisy)
    precious = tmp_path / "out_uncertainty.npy"
    np.save(precious, np.arange(3.0))
    status = main(["denoise", str(tmp_path / "in.npy"), str(tmp_path / "out.npy"), "--noise", str(SIGMA),
                   "--uncertainty"])
    assert status == 1
    err = capsys.readouterr().err
    assert "out_uncertainty.npy exists" in err and "--overwrite" in err
    np.testing.assert_array_equal(np.load(precious), np.arange(3.0))
    assert not (tmp_path / "out.npy").exists()
    # with --overwrite both are written
    assert main(["denoise", str(tmp_path / "in.npy"), str(tmp_path / "out.npy"), "--noise", str(SIGMA),
                 "--uncertainty", "--overwrite"]) == 0
    assert np.load(precious).shape == noisy.shape


def _failing_writeto(monkeypatch):
    """Make astropy's writer fail halfway, as a full disk does: some bytes written, then an OSError."""
    import errno

    def writeto(self, fileobj, *args, **kwargs):
        with open(fileobj, "wb") as f:
            f.write(b"SIMPLE  =                    T" + b" " * 50)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fits.HDUList, "writeto", writeto)


@pytest.mark.parametrize("kind", ["map", "array", "cube"])
def test_failed_write_leaves_the_previous_output(noisy, tmp_path, capsys, monkeypatch, kind):
    options = ["--cube", "--stokes", "0", "--stokes-axis", "0"] if kind == "cube" else []
    if kind == "cube":
        fits.writeto(tmp_path / "in.fits", np.stack([noisy, noisy]))
    elif kind == "map":
        ref = SkyCoord(0 * u.arcsec, 0 * u.arcsec,
                       frame=frames.Helioprojective(observer="earth", obstime="2020-01-01"))
        header = sunpy.map.header_helper.make_fitswcs_header(noisy.shape, ref, scale=[0.06, 0.06] * u.arcsec / u.pix)
        sunpy.map.Map(noisy, header).save(tmp_path / "in.fits")
    else:
        fits.writeto(tmp_path / "in.fits", noisy)
    previous = tmp_path / "out.fits"
    previous.write_bytes(b"the previous result")
    _failing_writeto(monkeypatch)
    status = main(["denoise", str(tmp_path / "in.fits"), str(previous), "--noise", str(SIGMA), "--overwrite",
                   *options])
    assert status == 1
    assert "No space left" in capsys.readouterr().err
    assert previous.read_bytes() == b"the previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.fits", "out.fits"]  # no temporary left
