"""
The training corpus of the bundled models, built from the project's shared real-data folder.

This module records exactly which frames, pixel scales, crops and held-out parts the bundled models were
trained and validated on, so that ``sunpy-enhance train --corpus shared`` reproduces them. Anyone with
better data passes their own frames instead (``--frame PATH:SCALE``).
"""
import dataclasses
from pathlib import Path

import astropy.units as u
import numpy as np

from sunpy_enhance.enhance.training.frames import Frame, normalize_continuum_frame, quiet_sun_mask
from sunpy_enhance.enhance.training.magnetic import real_magnetogram_frames
from sunpy_enhance.io import read_array

__all__ = [
    "DATA_CREDITS",
    "Corpus",
    "continuum_frames",
    "credits_for",
    "frames_from_paths",
    "real_hmi_continuum",
    "real_hmi_magnetograms",
    "shared_corpus",
    "synthetic_corpus",
]

#: Who made the data of the shared corpus and on what terms, by file-name prefix (see the docs' data credits
#: page); written into every exported model card (``data_credits``).
DATA_CREDITS = {
    "highres/muram_qs": "MURaM quiet-Sun simulation (Voegler et al. 2005; recipe of Cheung et al. 2010), frame from "
                        "HelioML/HelioML book/03",
    "highres/sst_crisp": "SST/CRISP wide-band image (Swedish 1-m Solar Telescope, Institute for Solar Physics), "
                         "from cdiazbas/torchmfbd",
    "highres/sunrise_imax": "Sunrise/IMaX (Sunrise balloon mission, MPS and partners), from cdiazbas/torchmfbd",
    "magnetograms/gst_niris_bz_2017": "BBSO/GST NIRIS (Big Bear Solar Observatory, NJIT), from "
                                      "deepsuncode/SolarUnet-magnetic-tracking (MIT)",
    "magnetograms/gst_niris_sdnn": "BBSO/GST NIRIS (Big Bear Solar Observatory, NJIT), inversion from "
                                   "Kaa65/SDNNStokesInversion (MIT)",
    "magnetograms/muram_ar": "MURaM-like active-region simulation from jacksmithy1/mflex (no licence stated; "
                             "validation only)",
    "denoise/sst_crisp": "SST/CRISP polarimetry (Swedish 1-m Solar Telescope) and its denoised version by "
                         "Diaz Baso et al. 2019, from cdiazbas/denoiser",
    "hinode/st": "Hinode SP (JAXA/NAOJ with NASA, ESA, STFC; Hinode data policy), cube from aasensio/aussois",
    "hmi/": "SDO/HMI (NASA/SDO and the HMI science team), SHARP and sample files from mbobra/SHARPs, "
            "fernandesi2244/HMI-Data-Analysis, HelioML/HelioML and cdiazbas/enhance",
}


def credits_for(names):
    """
    The `DATA_CREDITS` entries of every corpus file named in ``names`` (frame notes or file names).

    A corpus path that names a file (not only a folder) also counts when it is part of a file name with its ``/``
    written as ``_``: arrays derived from it and saved under a flat name, such as
    ``hmi_observed_magnetograms_gst_niris_bz_2017-07-13T20-15-49_train.npy`` from ``benchmarks/denoise_data.py``.
    """
    text = " ".join(str(n) for n in names)
    return [credit for prefix, credit in DATA_CREDITS.items()
            if prefix in text or (not prefix.endswith("/") and prefix.replace("/", "_") in text)]


#: Fraction of each frame's columns held out for validation (never used in training).
HELD_OUT = 0.3

# (relative path, pixel scale in arcsec, boundary, crop in pixels)
_CONTINUUM_SOURCES = (
    ("highres/muram_qs_continuum_48km.npy", 0.0662, "wrap", 0),
    ("highres/sst_crisp_wb8542_sunspot_2020-07-27.fits", 0.059, "reflect", 10),
    ("highres/sunrise_imax_qs_focus.fits", 0.055, "reflect", 60),
)


@dataclasses.dataclass
class Corpus:
    """
    Training frames, held-out validation frames and target-less real HMI images (network units before centring).
    """

    train: list
    validation: list
    real_hmi: list
    real_hmi_names: list
    notes: list


def continuum_frames(root):
    """The normalised continuum frames of the shared corpus (see the module docstring)."""
    root = Path(root)
    frames = []
    for rel, scale, boundary, crop in _CONTINUUM_SOURCES:
        data = read_array(root / rel)
        frames.append(normalize_continuum_frame(data, scale * u.arcsec, name=Path(rel).name, boundary=boundary,
                                                crop=crop))
    return frames


def real_hmi_continuum(root):
    """
    Real HMI continuum images without a target, in I/Ic: the quiet-Sun patch and the SHARP 377 continuum.

    The Enhance sample (``hmi/enhance_sample_continuum.fits``) is *not* used: it is kept for evaluation.
    """
    root = Path(root)
    images, names = [], []
    qs = read_array(root / "hmi/hmi_qs_patch_dns.npy")
    images.append(qs / qs.mean())
    names.append("hmi/hmi_qs_patch_dns.npy")
    sharp = read_array(root / "hmi/sharp/hmi.sharp_cea_720s.377.20110215_020000_TAI.continuum.fits")
    sharp = sharp / sharp[quiet_sun_mask(sharp, 0.5 * u.arcsec)].mean()
    images.append(sharp)
    names.append("hmi/sharp/hmi.sharp_cea_720s.377.20110215_020000_TAI.continuum.fits (CEA)")
    return images, names


def real_hmi_magnetograms(root):
    """
    Real HMI line-of-sight magnetograms (SHARP CEA cut-outs, 720 s) in kG, without a target.

    The Enhance sample (``hmi/enhance_sample_blos.fits``) is *not* used: it is kept for evaluation.
    """
    images, names = [], []
    for path in sorted((Path(root) / "hmi/sharp").glob("*.magnetogram.fits")):
        data = read_array(path, allow_nan=True) / 1000.0
        if min(data.shape) >= 64 and np.isfinite(data).mean() > 0.5:
            images.append(data)
            names.append(f"hmi/sharp/{path.name}")
    return images, names


def shared_corpus(root, kind):
    """
    The corpus of the bundled ``kind`` model.

    Parameters
    ----------
    root : `os.PathLike`
        The shared data folder (``../shared/data``).
    kind : {"continuum", "magnetogram"}

    Returns
    -------
    `Corpus`
    """
    if kind == "continuum":
        train, validation = zip(*(f.split(HELD_OUT) for f in continuum_frames(root)))
        real, names = real_hmi_continuum(root)
    elif kind == "magnetogram":
        train, validation = real_magnetogram_frames(root)
        real, names = real_hmi_magnetograms(root)
    else:
        msg = f"kind must be 'continuum' or 'magnetogram', not {kind!r}."
        raise ValueError(msg)
    notes = [f"{f.name} ({f.pixel_scale:.4f}/px, {f.data.shape[1]}x{f.data.shape[0]} px): {f.notes}"
             for f in (*train, *validation)]
    return Corpus(list(train), list(validation), [np.asarray(r, dtype=np.float32) for r in real], names, notes)


def frames_from_paths(specs, kind):
    """
    Frames from user specifications ``"PATH:SCALE_ARCSEC[:wrap]"`` (continuum in any units; magnetograms in G).
    """
    frames = []
    for spec in specs:
        parts = str(spec).split(":")
        if len(parts) < 2:
            msg = f"Frame {spec!r} must be given as PATH:PIXEL_SCALE_ARCSEC[:wrap]."
            raise ValueError(msg)
        path, scale = parts[0], float(parts[1]) * u.arcsec
        boundary = "wrap" if len(parts) > 2 and parts[2] == "wrap" else "reflect"
        data = read_array(path)
        if kind == "continuum":
            frames.append(normalize_continuum_frame(data, scale, name=Path(path).name, boundary=boundary))
        else:
            frames.append(Frame(data=data / 1000.0, pixel_scale=scale, name=Path(path).name, boundary=boundary,
                                notes="divided by 1000 (G to kG)"))
    return frames


def synthetic_corpus(kind, *, shape=(80, 80), seed=0):
    """
    A small corpus made of the package's synthetic scenes (`sunpy_enhance.sample.synthetic_scene`).

    For tests and tutorials: it needs no data files. Models trained on it are toys.

    Parameters
    ----------
    kind : {"continuum", "magnetogram"}
    shape : tuple of int
        Size of each scene in HMI pixels.
    seed : int

    Returns
    -------
    `Corpus`
    """
    from sunpy_enhance.degrade import HMI_PIXEL_SCALE, observe
    from sunpy_enhance.psf import hmi_psf
    from sunpy_enhance.sample import synthetic_scene

    scale = HMI_PIXEL_SCALE / 4
    to_units = 1.0 if kind == "continuum" else 1e-3  # G -> kG
    frames = []
    for i in range(3):
        scene = synthetic_scene(shape, kind=kind, spot=i == 0, seed=seed + i) * to_units
        frames.append(Frame(data=scene, pixel_scale=scale, name=f"synthetic-{kind}-{seed + i}",
                            notes="synthetic scene of sunpy_enhance.sample"))
    train = frames[:2]
    validation = [frames[2]]
    real = synthetic_scene(shape, kind=kind, spot=True, seed=seed + 10) * to_units
    real = observe(real, scale, hmi_psf(scale), HMI_PIXEL_SCALE, origin=(-0.5, -0.5), shape=shape)
    return Corpus(train, validation, [real.astype(np.float32)], ["synthetic HMI-like image"],
                  [f"{f.name}: {f.notes}" for f in frames])
