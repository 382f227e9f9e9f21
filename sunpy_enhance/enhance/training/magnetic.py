"""
Real high-resolution line-of-sight magnetograms as training truth, and the noise of real HMI magnetograms.

The magnetogram model learns what a 28 cm telescope would see of *real* fields: every high-resolution
polarimetric map of the shared corpus is turned into B_los (G → kG) with a stated calibration:

* **BBSO/GST NIRIS** (1.6 m, Fe I 1564.8 nm, 0.083″/px): B_z of an inversion, used as it is (zero-padded
  borders cut). Two scenes of NOAA 12665 on 2017-07-13: 20:15 UT (plage, pores, network; four frames minutes
  apart) and 16:20 UT (penumbra, pores, plage; a neural-network inversion with a −9 G offset, removed).
* **SST/CRISP** circular polarisation (plage and pore, 0.059″/px), the published denoising network's clean
  version (Díaz Baso et al. 2019). Its wavelength position is not recorded, so the weak-field approximation
  (V ∝ B_los · dI/dλ) cannot be evaluated from the data. V/Ic is therefore scaled by one factor so that the
  99.5th percentile of |B| at the 28 cm view equals that of the NIRIS 20:15 plage at the same view
  (the factor is recorded in the frame's notes): the WFA's linearity in B is what is assumed;
* **Hinode SP** (Fe I 6301.5 Å, 0.16″/px assumed: Hinode SP's sampling, consistent with the granulation's
  autocorrelation length in the cube's continuum): our weak-field fit of Stokes V to −C g_eff λ₀² dI/dλ
  with the line's g_eff = 1.67 (`hinode_weak_field`). The cube's own ``Bpar.idl`` is the same map (correlation
  1.000) divided by 1.80, i.e. made with another constant; ours follows from the line's atomic data. The
  WFA saturates in the umbra (kG fields are underestimated there). The sunspot is
  only 40 HMI pixels across, so it is mirrored to twice its size (a continuous extension with no new edges)
  and used for training only.

Held out for validation (never trained on): the last 30% of the columns of every NIRIS 20:15 frame, of the
NIRIS 16:20 scene and of the SST map (the same columns of all four 20:15 frames, so that the scene's evolution
cannot leak), and the whole radiative-MHD active region ``muram_ar_bz_192km.npy`` (its source states no
licence, so it is used for validation only, upsampled ×2 by cubic splines to 0.1325″ so that it can be
degraded; its finest scale is not real).

**Real HMI magnetograms** (the SHARP line-of-sight maps) carry HMI's own noise. `hmi_noise_sigma` measures
it from the pixel-to-pixel differences of weak-field pixels; the self-supervised loss on real data
(`~sunpy_enhance.enhance.training.train.ForwardConsistentTrainer`) re-corrupts each real patch with that noise
level (input y + z, target y − z, Recorrupted-to-Recorrupted, Pang et al. 2021), so that the network cannot
learn to reproduce the noise.
"""
from pathlib import Path

import astropy.units as u
import numpy as np
from scipy import ndimage

from sunpy_enhance.enhance.training.frames import Frame
from sunpy_enhance.io import read_array

__all__ = [
    "HELD_OUT_COLUMNS",
    "hinode_weak_field",
    "hmi_noise_sigma",
    "real_magnetogram_frames",
    "weak_field_statistics",
]

#: Fraction of the columns of each NIRIS and SST frame held out for validation.
HELD_OUT_COLUMNS = 0.3

_NIRIS_2015 = ["gst_niris_bz_2017-07-13T20-15-49.fits"] + [f"gst_niris_bz_tracking_frame_{i}.fits"
                                                           for i in (1, 2, 3)]
_NIRIS_1620 = "gst_niris_sdnn_bz_2017-07-13T16-20-12.fits"
_NIRIS_SCALE = 0.083 * u.arcsec
_NIRIS_CROP = slice(50, 670)
_SST_SCALE = 0.059 * u.arcsec
_HINODE_SCALE = 0.16 * u.arcsec
_MURAM_SCALE = 0.265 * u.arcsec


def hmi_noise_sigma(image, *, weak=0.05):
    """
    Noise of a magnetogram from the differences of neighbouring weak-field pixels.

    Parameters
    ----------
    image : `numpy.ndarray`
        Magnetogram (any unit; NaN allowed).
    weak : float, optional
        Pixels with |B| below this (same unit) count as weak field (noise-dominated at HMI resolution).

    Returns
    -------
    float
        σ in the unit of ``image``: 1.4826 × the median absolute horizontal difference / √2 over pixel pairs
        that are both weak. HMI's PSF correlates neighbours a little, so this is a slight underestimate.
    """
    a, b = image[:, :-1], image[:, 1:]
    keep = np.isfinite(a) & np.isfinite(b) & (np.abs(a) < weak) & (np.abs(b) < weak)
    d = (a - b)[keep]
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2))


def hinode_weak_field(root):
    """
    The Hinode SP cube's weak-field longitudinal field, fitted here, and the one it ships (``Bpar.idl``).

    B_los = −Σ V dI/dλ / (C Σ (dI/dλ)²) per pixel, C = 4.67e-13 λ₀² g_eff (λ in Å, B in G), with
    Fe I 6301.5 Å (g_eff = 1.67), over the 51 wavelengths of the cube.

    Returns
    -------
    fitted, shipped : `numpy.ndarray`
        Both in G, (128, 128).
    """
    from scipy.io import readsav

    root = Path(root)
    stokes_i = readsav(root / "hinode/stI_rebinned.idl")["sti"].astype(float)
    stokes_v = readsav(root / "hinode/stV_rebinned.idl")["stv"].astype(float)
    lam = readsav(root / "hinode/wavelengthAxis.idl")["lambda"].astype(float)
    didl = np.gradient(stokes_i, lam, axis=2)
    c = 4.67e-13 * 6301.5**2 * 1.67
    fitted = -np.sum(stokes_v * didl, axis=2) / (c * np.sum(didl**2, axis=2))
    shipped = readsav(root / "hinode/Bpar.idl")["bpar"].astype(float)
    return fitted, shipped


def _sst_raw(root):
    v = np.load(Path(root) / "denoise/sst_crisp_polarization_reference_denoised.npy").astype(float)
    return np.squeeze(v)


def _target_percentile(data, pixel_scale, q=99.5):
    from sunpy_enhance.degrade import training_pair

    _, target = training_pair(data, pixel_scale)
    return float(np.percentile(np.abs(target), q))


def real_magnetogram_frames(root):
    """
    Training and validation frames of real magnetic structure, in kG (see the module docstring).

    Parameters
    ----------
    root : `os.PathLike`
        The shared data folder (``../shared/data``).

    Returns
    -------
    train, validation : list of `~sunpy_enhance.enhance.training.frames.Frame`
    """
    root = Path(root)
    mag = root / "magnetograms"
    train, validation = [], []
    niris = []
    for name in _NIRIS_2015:
        data = read_array(mag / name)[_NIRIS_CROP, _NIRIS_CROP] / 1000.0
        niris.append(Frame(data=data, pixel_scale=_NIRIS_SCALE, name=f"magnetograms/{name}",
                           notes="BBSO/GST NIRIS B_z (G/1000), NOAA 12665 2017-07-13 20:15 UT scene, "
                                 "border cut to [50:670, 50:670]",
                           scene="GST/NIRIS NOAA 12665 2017-07-13 20:15 UT"))
    for i, frame in enumerate(niris):
        tr, va = frame.split(HELD_OUT_COLUMNS)
        train.append(tr)
        if i == 0:  # one validation copy of the held-out columns (the others are the same scene)
            validation.append(va)
    data = read_array(mag / _NIRIS_1620)[_NIRIS_CROP, _NIRIS_CROP]
    offset = float(np.median(data[np.abs(data) < 50]))
    sdnn = Frame(data=(data - offset) / 1000.0, pixel_scale=_NIRIS_SCALE, name=f"magnetograms/{_NIRIS_1620}",
                 notes=f"BBSO/GST NIRIS B_z from a neural-network inversion, 16:20 UT scene; offset {offset:.1f} G "
                       "(median of |B| < 50 G) removed")
    tr, va = sdnn.split(HELD_OUT_COLUMNS)
    train.append(tr)
    validation.append(va)

    v = _sst_raw(root)
    scale = _target_percentile(niris[0].data, _NIRIS_SCALE) / _target_percentile(v, _SST_SCALE)
    sst = Frame(data=v * scale, pixel_scale=_SST_SCALE,
                name="denoise/sst_crisp_polarization_reference_denoised.npy",
                notes=f"SST/CRISP Stokes V/Ic (denoised by the published network) x {scale * 1000:.4g} G per "
                      "unit V/Ic: one factor matching the 99.5th percentile of |B| at the 28 cm view to the "
                      "NIRIS 20:15 plage (weak-field approximation: B proportional to V)")
    tr, va = sst.split(HELD_OUT_COLUMNS)
    train.append(tr)
    validation.append(va)

    fitted, shipped = hinode_weak_field(root)
    agreement = float(np.corrcoef(fitted.ravel(), shipped.ravel())[0, 1])
    ratio = float(np.sum(fitted * shipped) / np.sum(shipped**2))
    mirrored = np.pad(fitted, ((0, fitted.shape[0]), (0, fitted.shape[1])), mode="symmetric") / 1000.0
    train.append(Frame(data=mirrored, pixel_scale=_HINODE_SCALE, name="hinode/stV_rebinned.idl",
                       notes=f"Hinode SP weak-field B_los (G/1000) fitted to Stokes V (Fe I 6301.5, g_eff 1.67), "
                             f"0.16 arcsec/px assumed, mirrored to 256x256, training only; the cube's Bpar.idl is "
                             f"the same map (correlation {agreement:.3f}) / {ratio:.2f}"))

    muram = np.load(mag / "muram_ar_bz_192km.npy").astype(float)
    muram = ndimage.zoom(muram, 2, order=3, mode="grid-mirror", grid_mode=True) / 1000.0
    validation.append(Frame(data=muram, pixel_scale=_MURAM_SCALE / 2, name="magnetograms/muram_ar_bz_192km.npy",
                            notes="radiative-MHD active region B_z (G/1000), cubic x2 to 0.1325 arcsec; "
                                  "validation only (no licence stated)"))
    return train, validation


def weak_field_statistics(images, *, threshold=0.03):
    """
    Fraction of pixels with |B| below ``threshold`` (kG) and the median |B|, over a list of images.

    Returns
    -------
    dict
        ``weak_fraction``, ``median_abs`` (same unit as the images) and ``pixels``.
    """
    values = np.concatenate([np.abs(np.asarray(i, dtype=float))[np.isfinite(i)].ravel() for i in images])
    return {"weak_fraction": float(np.mean(values < threshold)), "median_abs": float(np.median(values)),
            "pixels": int(values.size)}
