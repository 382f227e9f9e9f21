"""
The magnetogram model's training truths against real HMI magnetograms, as HMI sees them.

For every frame of the magnetogram corpus (`sunpy_enhance.enhance.training.real_magnetogram_frames`) observed by
the HMI forward model (PSF, 0.504″ pixels, no noise), and for the real HMI maps of the shared folder (the 33 SHARP
line-of-sight magnetograms, the Enhance sample), prints:

* the fraction of pixels with |B| < 30 G, the median |B| and the rms of B;
* the noise level measured from neighbouring weak-field pixels (`hmi_noise_sigma`; real maps only have noise);
* the power spectrum density (G² arcsec², `PowerSpectrum.density`) in three bands of angular frequency.

Usage::

    python benchmarks/bench_magnetic_prior.py [SHARED_DATA_DIR]
"""
import sys
from pathlib import Path

import astropy.units as u
import numpy as np

from sunpy_enhance.degrade import training_pair
from sunpy_enhance.diagnostics import power_spectrum
from sunpy_enhance.enhance.training.corpus import real_hmi_magnetograms
from sunpy_enhance.enhance.training.magnetic import hmi_noise_sigma, real_magnetogram_frames, weak_field_statistics
from sunpy_enhance.io import read_array

SHARED = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1].parent / "shared" / "data"
BANDS = ((0.1, 0.3), (0.3, 0.6), (0.6, 0.99))  # arcsec⁻¹, up to HMI's Nyquist


def largest_finite_box(image):
    """The largest block of whole rows and columns without NaN (SHARPs have NaN outside the region)."""
    rows = np.where(np.all(np.isfinite(image), axis=1))[0]
    cols = np.where(np.all(np.isfinite(image[rows]), axis=0))[0] if rows.size else []
    if len(rows) < 16 or len(cols) < 16:
        return None
    return image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def row(name, images_g, noise=True):
    stats = weak_field_statistics([i / 1000.0 for i in images_g])
    bands = []
    spectra = [power_spectrum(box, pixel_scale=0.504 * u.arcsec) for box in
               (largest_finite_box(i) for i in images_g) if box is not None and np.all(np.isfinite(box))]
    for lo, hi in BANDS:
        values = []
        for s in spectra:
            f = s.spatial_frequency.to_value(1 / u.arcsec)
            keep = (f >= lo) & (f < hi)
            if keep.any():
                values.append(np.mean(s.density[keep]))
        bands.append(f"{np.exp(np.mean(np.log(values))):.3g}" if values else "-")
    sigma = np.median([hmi_noise_sigma(i, weak=50.0) for i in images_g]) if noise else float("nan")
    rms = np.sqrt(np.mean(np.concatenate([i[np.isfinite(i)] ** 2 for i in images_g])))
    return [name, f"{stats['weak_fraction']:.2f}", f"{1000 * stats['median_abs']:.1f}", f"{rms:.0f}",
            "-" if not noise else f"{sigma:.1f}", *bands]


def main():
    train, validation = real_magnetogram_frames(SHARED)
    rows = []
    for group, frames in (("train", train), ("validation", validation)):
        for frame in frames:
            hmi, _ = training_pair(frame.data, frame.pixel_scale, boundary=frame.boundary)
            rows.append(row(f"{group}: {frame.name}", [1000.0 * hmi], noise=False))
    sharps, _ = real_hmi_magnetograms(SHARED)
    rows.append(row(f"real HMI: {len(sharps)} SHARP LOS magnetograms (720 s, CEA)", [1000.0 * s for s in sharps]))
    sample = read_array(SHARED / "hmi" / "enhance_sample_blos.fits")
    rows.append(row("real HMI: Enhance sample (enhance_sample_blos.fits)", [sample]))
    header = ["image at HMI resolution", "|B|<30 G", "median |B| (G)", "rms B (G)", "noise (G)",
              *[f"P {lo}-{hi}/arcsec (G² arcsec²)" for lo, hi in BANDS]]
    print_table("Training truths (noise-free, after the HMI forward model) against real HMI magnetograms", header,
                rows)


def print_table(title, header, rows):
    """Print a title and a table with columns as wide as their widest cell."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(title)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    main()
