"""
The magnetogram noise study of ``sunpy-enhance evaluate``: RMS against the truth from noisy and noise-free input,
propagated noise, the truth's detail beyond HMI's Nyquist frequency, and the report that shows them.
"""
import astropy.units as u
import numpy as np
import pytest

from sunpy_enhance.enhance.training.evaluation import (
    magnetogram_noise_study,
    noise_study_rows,
    unsampled_detail,
    write_report,
)
from sunpy_enhance.enhance.training.frames import Frame


@pytest.fixture(scope="module")
def frame():
    """A 25″ kG frame at 0.083″/px: a 1.2 kG pore, two 300 G plage knots and a weak 20 G mixed background."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[:300, :300]

    def blob(cy, cx, width, amplitude):
        return amplitude * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * width ** 2))

    data = blob(150, 150, 12, 1.2) + blob(70, 220, 6, 0.3) + blob(230, 80, 5, -0.3)
    data += 0.02 * rng.standard_normal(data.shape)
    return Frame(data=data, pixel_scale=0.083 * u.arcsec, name="pore")


@pytest.fixture(scope="module")
def study(frame):
    return magnetogram_noise_study(frame, "enhance-magnetogram-light", noise_levels=(10.0, 6.0))


def test_noise_free_errors_do_not_depend_on_the_noise_level(study):
    for method in ("network", "bicubic"):
        assert study["10G"][f"rms_noise_free_{method}"] == pytest.approx(study["6G"][f"rms_noise_free_{method}"],
                                                                        rel=1e-6)


def test_noise_raises_the_error_of_every_method(study):
    row = study["10G"]
    for method in ("network", "bicubic", "richardson-lucy"):
        assert row[f"rms_{method}"] > row[f"rms_noise_free_{method}"] > 0


def report_text(study, path):
    """The report of `write_report` for a metrics record holding only ``study``."""
    metrics = {"kind": "magnetogram", "model": "m", "noise": 0.01, "summary": {}, "validation": [],
               "noise_study": [study],
               "real_hmi": {"file": "f", "detail_correlation_with_published": 0.0, "figure": "r.png",
                            **{k: {"a": 1.0} for k in ("network", "network-no-consistency", "published",
                                                       "richardson-lucy-20", "bicubic")}}}
    write_report(metrics, path)
    return path.read_text()


def test_report_shows_the_noise_free_errors(study, tmp_path):
    text = report_text(study, tmp_path / "report.md")
    assert "RMS from noise-free input: network / RL" in text
    row = study["10G"]
    assert (f"{row['rms_noise_free_network']:.1f} / {row['rms_noise_free_richardson-lucy']:.1f} | "
            f"{study['rms_truth_beyond_hmi_nyquist']:.1f} / {row['rms_beyond_hmi_nyquist_network']:.1f} / "
            f"{row['rms_beyond_hmi_nyquist_richardson-lucy']:.1f} |") in text


def test_noise_study_rows_are_the_report_table(study, tmp_path):
    """One row per noise level, all with the same columns, and each row is a line of the report."""
    rows = noise_study_rows([study])
    assert [r["input noise"] for r in rows] == ["10 G", "6 G"]
    assert len({tuple(r) for r in rows}) == 1
    assert rows[0]["network / RL"] == f"{study['10G']['ratio_to_rl']:.3f}"
    lines = report_text(study, tmp_path / "report.md").splitlines()
    assert "| " + " | ".join(rows[0]) + " |" in lines
    for row in rows:
        assert "| " + " | ".join(row.values()) + " |" in lines


@pytest.mark.parametrize(("period", "beyond"), [(2.0, False), (1.3, False), (0.8, True), (0.6, True)])
def test_unsampled_detail_is_what_lies_beyond_hmi_nyquist(period, beyond):
    """A 100 G ripple of a given period (″) on a 0.252″ grid, with a 50 G slow one: HMI's 0.504″ pixels sample
    periods longer than 1.008″ only; a shorter one is unsampled detail in full (rms 100/√2 G), the slow one never."""
    y, x = np.mgrid[:200, :180] * 0.252
    image = 100 * np.cos(2 * np.pi * x / period + 0.3) + 50 * np.sin(2 * np.pi * y / 3.1)
    rms = np.sqrt(np.mean(unsampled_detail(image, 0.252 * u.arcsec) ** 2))
    if beyond:
        assert rms == pytest.approx(100 / np.sqrt(2), rel=0.01)
    else:
        assert rms < 0.06 * 100 / np.sqrt(2)


def test_unsampled_detail_needs_a_finer_grid():
    with pytest.raises(ValueError, match="finer than the sampling"):
        unsampled_detail(np.zeros((8, 8)), 0.6 * u.arcsec)


def test_truth_beyond_nyquist_bounds_the_band_limited_methods(study):
    """Bicubic interpolation restores nothing beyond HMI's Nyquist frequency, so its noise-free error is at least
    the truth's detail there."""
    floor = study["rms_truth_beyond_hmi_nyquist"]
    assert 0 < floor <= study["10G"]["rms_noise_free_bicubic"]


def test_error_beyond_nyquist_is_part_of_the_error(study):
    """Each method's error beyond HMI's Nyquist frequency is a part of its whole error (an orthogonal split), and
    bicubic interpolation, which cannot put back finer detail, errs there by at least about the truth's own."""
    for level in ("10G", "6G"):
        row = study[level]
        for method in ("network", "bicubic", "richardson-lucy"):
            assert 0 < row[f"rms_beyond_hmi_nyquist_{method}"] < row[f"rms_{method}"]
        assert row["rms_beyond_hmi_nyquist_bicubic"] > 0.9 * study["rms_truth_beyond_hmi_nyquist"]
