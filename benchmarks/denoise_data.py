"""
Training scenes and held-out evaluation scenes for the bundled denoisers, built from ``../shared/data``.

One place defines which real data each bundled model may train on and which are kept out for
evaluation, so that the training command (``write_training_scenes``) and the benchmark
(``bench_denoise.py``) cannot drift apart. Derived arrays are written outside the repository
(default ``/work/runs/denoise/data``); nothing here is shipped with the package.

Polarimetry (σ = 2.6e-3 Ic):

* trained on: Hinode SP Stokes V / Ic (``hinode/stV_rebinned.idl``, all 51 wavelengths) rows 0–95, and
  the SST/CRISP 8542 wide-band sunspot image (``highres/sst_crisp_wb8542_sunspot_2020-07-27.fits``, its
  central 640×640 pixels) as relative intensity fluctuations scaled by 0.05 (polarimetric amplitudes,
  CRISP pixel scale);
* held out: Hinode Stokes V rows 96–127 (never seen), the published network's denoised synthetic
  penumbra and SST/CRISP images (``denoise/*reference_denoised.npy``; never seen).

HMI magnetograms (σ = 10 G):

* trained on: SHARP CEA line-of-sight magnetograms of HARPs 1422, 1425, 1441, 1445, 1446, 1449, 1455,
  1456, 1457, 1460 (27 maps, 2012-03-06/07), and the real high-resolution magnetograms of the Enhance
  magnetogram corpus (`sunpy_enhance.enhance.training.magnetic`: BBSO/GST NIRIS, SST/CRISP, Hinode SP)
  observed with HMI's PSF at 0.504″/px, their training columns only (``hmi_observed_frames("train")``);
* held out: HARP 377 (NOAA 11158, 2011-02-15) and HARP 1447 (4 maps), never seen; the same frames'
  validation columns (the last 30% of each frame) and the MURaM active region, never seen
  (``hmi_observed_frames("validation")``) — HMI truths without HMI's noise (SHARP maps carry 5–6 G of
  720 s noise, which bounds any measured noise reduction).

Usage::

    python benchmarks/denoise_data.py [OUTDIR]
"""
import sys
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
OUTDIR = Path("/work/runs/denoise/data")

POLARIMETRY_NOISE = 2.6e-3
HMI_NOISE = 10.0
HINODE_TRAIN_ROWS = slice(0, 96)
HINODE_HELDOUT_ROWS = slice(96, 128)
HMI_HELDOUT_HARPS = ("377", "1447")


def _hinode_v_over_ic():
    from scipy.io import readsav

    stokes_i = readsav(str(SHARED / "hinode" / "stI_rebinned.idl"))["sti"]
    stokes_v = readsav(str(SHARED / "hinode" / "stV_rebinned.idl"))["stv"]
    # Continuum = first wavelength; quiet-Sun level = its 75th percentile (the map is half sunspot).
    ic = np.percentile(stokes_i[..., 0], 75)
    return np.moveaxis(stokes_v / ic, -1, 0).astype(np.float32)  # (51, 128, 128)


def polarimetry_training_scenes():
    """Dict name -> stack of training scenes (Ic units)."""
    from astropy.io import fits

    v = _hinode_v_over_ic()[:, HINODE_TRAIN_ROWS, :]
    wb = fits.getdata(SHARED / "highres" / "sst_crisp_wb8542_sunspot_2020-07-27.fits").astype(np.float64)
    ny, nx = wb.shape
    wb = wb[ny // 2 - 320:ny // 2 + 320, nx // 2 - 320:nx // 2 + 320]
    fluct = 0.05 * (wb / np.median(wb) - 1.0)
    return {"hinode_v_train": v, "sst_wb_fluctuations": fluct.astype(np.float32)[None]}


def polarimetry_heldout():
    """Dict name -> clean truth image(s) for held-out evaluation (Ic units)."""
    v = _hinode_v_over_ic()[:, HINODE_HELDOUT_ROWS, :]
    keep = np.std(v, axis=(1, 2)) > 0.5 * POLARIMETRY_NOISE  # wavelengths with signal above the noise
    return {
        "hinode_v_heldout": v[keep],
        "published_synthetic_denoised": np.load(
            SHARED / "denoise" / "synthetic_polarization_reference_denoised.npy").astype(np.float32),
        "published_sst_denoised": np.load(
            SHARED / "denoise" / "sst_crisp_polarization_reference_denoised.npy").astype(np.float32),
    }


def hmi_files(held_out=False):
    files = sorted((SHARED / "hmi" / "sharp").glob("hmi.sharp_cea_720s.*.magnetogram.fits"))
    harp = [f.name.split(".")[2] for f in files]
    return [f for f, h in zip(files, harp) if (h in HMI_HELDOUT_HARPS) == held_out]


def hmi_heldout():
    """Dict name -> held-out SHARP magnetograms (G), NaNs replaced by 0."""
    from astropy.io import fits

    out = {}
    for f in hmi_files(held_out=True):
        with fits.open(f) as hdul:
            data = np.nan_to_num(np.asarray(hdul[1].data, dtype=np.float32))
        out[f.name.split(".magnetogram")[0].replace("hmi.sharp_cea_720s.", "sharp_")] = data
    return out


def hmi_observed_frames(part):
    """
    Dict name -> the Enhance magnetogram corpus's frames of real magnetic structure (BBSO/GST NIRIS, SST/CRISP,
    Hinode SP, a MURaM active region; see ``sunpy_enhance.enhance.training.magnetic``) observed by HMI (G): truths
    at HMI's resolution without HMI's noise (their own instruments' noise, a few G, smoothed by HMI's PSF).

    ``part`` is ``"train"`` (the training columns of each frame) or ``"validation"`` (the held-out columns).
    Each frame is observed with HMI's PSF at 0.504″/px, exactly as the Enhance model's inputs are made.
    """
    from sunpy_enhance.degrade import training_pair
    from sunpy_enhance.enhance.training.corpus import shared_corpus

    corpus = shared_corpus(SHARED, "magnetogram")
    frames = {"train": corpus.train, "validation": corpus.validation}[part]
    out = {}
    for frame in frames:
        hmi, _ = training_pair(frame.data, frame.pixel_scale, boundary=frame.boundary)
        out[frame.name.replace(".npy", "").replace(".fits", "")] = (1000.0 * hmi).astype(np.float32)
    return out


def write_training_scenes(outdir=OUTDIR):
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, stack in polarimetry_training_scenes().items():
        path = outdir / f"polarimetry_{name}.npy"
        np.save(path, stack)
        written.append(path)
    for name, image in hmi_observed_frames("train").items():
        path = outdir / f"hmi_observed_{_safe(name)}.npy"
        np.save(path, image)
        written.append(path)
    return written


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_")


if __name__ == "__main__":
    for p in write_training_scenes(sys.argv[1] if len(sys.argv) > 1 else OUTDIR):
        print(p)
    for f in hmi_files():
        print(f)
