"""
Where in the spatial spectrum a magnetogram model gains or loses against Richardson–Lucy, on held-out real fields.

For every validation frame of the magnetogram corpus (`sunpy_enhance.enhance.training.real_magnetogram_frames`),
degraded by the Enhance recipe with 10 G of white noise (and without noise), the error of each method against the
28 cm truth is split into bands of spatial frequency, as fractions of HMI's Nyquist frequency (0.99 arcsec⁻¹,
square bands, `~sunpy_enhance.enhance.training.evaluation.unsampled_detail`):

* 0–0.4, 0.4–0.7 and 0.7–1: what HMI samples (its PSF damps the upper bands, so noise and the PSF's zeros rule
  there);
* beyond 1: what HMI's pixels cannot record. A method whose error there is below the truth's own detail there
  (the first row of each frame) supplies correct detail finer than HMI's pixels; equal, none; above, detail
  that is not there.

The bands add in quadrature to the total (an orthogonal split). The last column is the gain of the method on weak
fields: the least-squares slope of output on truth over the pixels where the truth has ``|B|`` < 100 G within
1″ (so that flux a method blurs out of strong features does not count); 1: the weak fields kept at their strength,
below 1: damped, as a denoiser does. The column before it is the correlation of the method's error with
Richardson–Lucy's from the same input.

The row "best blend" is the convex combination ``(1 - a) network + a RL`` with the ``a`` in [0, 1] that minimises
the error against the truth (an oracle, like the choice of Richardson–Lucy's setting). How little it gains over
either method measures how much of their errors the two share: structure that neither recovers from HMI's data.

Methods: the model (with its consistency step, as `~sunpy_enhance.enhance.enhance_array` returns it),
Richardson–Lucy tuned on the truth (`~sunpy_enhance.enhance.training.evaluation.best_richardson_lucy`) and bicubic
interpolation. The noise is the same as in ``sunpy-enhance evaluate`` at 10 G (seed = frame index).

Usage::

    python benchmarks/bench_magnetogram_bands.py [SHARED_DATA_DIR] [--model NAME_OR_DIR]
"""
import argparse
from pathlib import Path

import astropy.units as u
import numpy as np
from bench_magnetic_prior import print_table
from scipy import ndimage

from sunpy_enhance.degrade import ENHANCED_PIXEL_SCALE, HMI_PIXEL_SCALE, training_pair
from sunpy_enhance.enhance import enhance_array
from sunpy_enhance.enhance.training.evaluation import (
    WEAK_FIELD,
    best_richardson_lucy,
    bicubic_x2,
    crop_border,
    unsampled_detail,
)
from sunpy_enhance.enhance.training.magnetic import real_magnetogram_frames

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: Band edges as fractions of HMI's Nyquist frequency; the last band is everything beyond it.
EDGES = (0.0, 0.4, 0.7, 1.0)
NOISE = 10.0
#: Enhance-grid pixels (0.252″) around a weak-field pixel that must be weak too for the weak-field gain.
GAIN_CLEARANCE = 4


def crop(image):
    return crop_border(image, 2)


def detail_beyond(image, fraction):
    """The part of an Enhance-grid image beyond ``fraction`` of HMI's Nyquist frequency (the image for 0)."""
    if fraction == 0:
        return image
    return unsampled_detail(image, ENHANCED_PIXEL_SCALE, sampling=HMI_PIXEL_SCALE / fraction)


def band_rms(image):
    """RMS (inside the evaluation border) of the image in each band of `EDGES` and beyond HMI's Nyquist."""
    parts = [detail_beyond(image, f) for f in EDGES]
    bands = [parts[i] - parts[i + 1] for i in range(len(EDGES) - 1)] + [parts[-1]]
    return [float(np.sqrt(np.mean(crop(b) ** 2))) for b in bands]


def weak_gain(output, truth):
    t, o = crop(truth), crop(output)
    # weak field with no strong field within about 1″, so that flux blurred out of strong features does not count
    weak = np.abs(t) < WEAK_FIELD
    weak &= crop(ndimage.maximum_filter(np.abs(truth), size=2 * GAIN_CLEARANCE + 1)) < WEAK_FIELD
    return float(np.sum(o[weak] * t[weak]) / np.sum(t[weak] ** 2))


def best_blend(network, rl, truth):
    """The oracle blend weight ``a`` (clipped to [0, 1]) of ``(1 - a) network + a rl``, and the blend."""
    en, er = crop(network - truth), crop(rl - truth)
    d = en - er
    a = float(np.clip(np.sum(en * d) / np.sum(d * d), 0.0, 1.0))
    return a, (1 - a) * network + a * rl


def correlation(a, b):
    a, b = crop(a).ravel(), crop(b).ravel()
    return float(np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shared", nargs="?", type=Path, default=SHARED)
    parser.add_argument("--model", default="enhance-magnetogram")
    args = parser.parse_args()
    _, validation = real_magnetogram_frames(args.shared)
    header = ["frame", "method", "input", "total (G)",
              *[f"{lo:g}-{hi:g} Nyq" for lo, hi in zip(EDGES[:-1], EDGES[1:])], "beyond Nyq", "error corr. with RL",
              "weak-field gain"]
    rows = []
    for i, frame in enumerate(validation):
        clean_kg, truth_kg = training_pair(frame.data, frame.pixel_scale, boundary=frame.boundary)
        clean, truth = 1000.0 * clean_kg, 1000.0 * truth_kg
        hmi = clean + NOISE * np.random.default_rng(i).standard_normal(clean.shape)
        label, rl, rl_clean = best_richardson_lucy(hmi, clean, truth, NOISE)
        name = frame.name.split("/")[-1][:40]
        rows.append([name, "truth itself", "", f"{np.sqrt(np.mean(crop(truth) ** 2)):.1f}",
                     *[f"{v:.1f}" for v in band_rms(truth)], "", ""])
        outputs = {"network": (enhance_array(hmi, kind="magnetogram", model=args.model),
                               enhance_array(clean, kind="magnetogram", model=args.model)),
                   f"RL ({label})": (rl, rl_clean),
                   "bicubic": (bicubic_x2(hmi), bicubic_x2(clean))}
        blends = [best_blend(net, r, truth) for net, r in zip(outputs["network"], (rl, rl_clean))]
        outputs[f"best blend (a = {blends[0][0]:.2f} / {blends[1][0]:.2f})"] = tuple(b for _, b in blends)
        for method, pair in outputs.items():
            for which, output, reference in zip((f"{NOISE:g} G", "no noise"), pair, (rl, rl_clean)):
                error = output - truth
                rows.append([name, method, which, f"{np.sqrt(np.mean(crop(error) ** 2)):.1f}",
                             *[f"{v:.1f}" for v in band_rms(error)], f"{correlation(error, reference - truth):.3f}",
                             f"{weak_gain(output, truth):.3f}"])
    print_table(f"Error against the 28 cm truth by band of spatial frequency (model {args.model}; "
                f"HMI's Nyquist = {(0.5 / HMI_PIXEL_SCALE).to_value(1 / u.arcsec):.2f} arcsec⁻¹; "
                "the truth rows give the truth's own rms per band)", header, rows)

if __name__ == "__main__":
    main()
