"""
The magnetogram noise study of ``sunpy-enhance evaluate``: RMS against the truth from noisy and noise-free input,
propagated noise, and the report that shows them.
"""
import astropy.units as u
import numpy as np
import pytest

from sunpy_enhance.enhance.training.evaluation import magnetogram_noise_study, write_report
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


def test_report_shows_the_noise_free_errors(study, tmp_path):
    metrics = {"kind": "magnetogram", "model": "m", "noise": 0.01, "summary": {}, "validation": [],
               "noise_study": [study],
               "real_hmi": {"file": "f", "detail_correlation_with_published": 0.0, "figure": "r.png",
                            **{k: {"a": 1.0} for k in ("network", "network-no-consistency", "published",
                                                       "richardson-lucy-20", "bicubic")}}}
    path = tmp_path / "report.md"
    write_report(metrics, path)
    text = path.read_text()
    assert "RMS from noise-free input: network / RL" in text
    row = study["10G"]
    assert (f"{row['rms_noise_free_network']:.1f} / {row['rms_noise_free_richardson-lucy']:.1f}") in text
