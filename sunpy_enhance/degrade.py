"""
The image-formation model of Enhance: what HMI and a 28 cm telescope would see of a high-resolution frame.

An observation is modelled as :math:`I = D[P * O] + N`: the object :math:`O` convolved with the
telescope's PSF :math:`P`, integrated over the detector pixels and sub-sampled by :math:`D`, plus noise
:math:`N`. From one high-resolution frame this module makes the two images Enhance is trained on:
the HMI-like input (HMI PSF, 0.504″ pixels) and the target (Airy pattern of a 28 cm aperture, 0.252″ pixels)
on grids aligned exactly 2:1, so that input pixel :math:`p` covers target pixels :math:`2p` and :math:`2p+1`.
"""
import functools
import os

import astropy.units as u
import numpy as np
from scipy import fft as sp_fft
from scipy import ndimage, signal

from sunpy_enhance.psf import airy_psf, hmi_psf

__all__ = [
    "ENHANCED_PIXEL_SCALE",
    "HMI_PIXEL_SCALE",
    "bin2x2",
    "enhanced_grid_psf",
    "observe",
    "reobserve_hmi",
    "training_pair",
    "upsample_x2",
]

#: Pixel scale of HMI full-disk images.
HMI_PIXEL_SCALE = 0.504 * u.arcsec
#: Pixel scale of Enhance's output (half the HMI pixel).
ENHANCED_PIXEL_SCALE = 0.252 * u.arcsec


def _box_kernel(width):
    """1-D box of (possibly fractional) width ``width`` pixels, centred, summing to 1."""
    half = width / 2
    n = int(np.ceil(half - 0.5))
    x = np.arange(-n, n + 1)
    # overlap of [x-0.5, x+0.5] with [-half, half]
    weights = np.clip(np.minimum(x + 0.5, half) - np.maximum(x - 0.5, -half), 0, None)
    return weights / weights.sum()


@functools.cache
def enhanced_grid_psf():
    """The HMI PSF sampled on Enhance's output grid (0.252″/px), computed once per process; read-only."""
    psf = hmi_psf(ENHANCED_PIXEL_SCALE)
    psf.flags.writeable = False
    return psf


#: Output rows convolved at once: a full-disk enhanced image (8192² px) is convolved in strips, so that
#: no FFT of the whole image (several GB in complex arithmetic) is ever held.
_STRIP_ROWS = 1024


def _convolve(frame, kernel, boundary):
    """Convolve with an odd-sized kernel, the frame continued beyond its edges; float32 stays float32."""
    pad = kernel.shape[0] // 2
    mode = {"wrap": "wrap", "reflect": "symmetric"}[boundary]
    padded = np.pad(frame, pad, mode=mode)
    kernel = kernel.astype(padded.dtype, copy=False)
    rows = frame.shape[0]
    with sp_fft.set_workers(len(os.sched_getaffinity(0))):  # pocketfft is single-threaded unless told
        if rows <= 2 * _STRIP_ROWS:
            return signal.fftconvolve(padded, kernel, mode="valid")
        out = np.empty(frame.shape, dtype=np.result_type(padded, kernel))
        for start in range(0, rows, _STRIP_ROWS):
            stop = min(start + _STRIP_ROWS, rows)
            out[start:stop] = signal.fftconvolve(padded[start:stop + 2 * pad], kernel, mode="valid")
    return out


@u.quantity_input
def observe(frame, pixel_scale: u.arcsec, kernel, output_scale: u.arcsec, *, origin=(0.0, 0.0),
            shape=None, boundary="reflect"):
    """
    Observe a high-resolution frame with a telescope PSF and a detector of coarser pixels.

    Parameters
    ----------
    frame : `numpy.ndarray`
        2-D high-resolution image (e.g. a MURaM intensity or magnetic-field snapshot).
    pixel_scale : `~astropy.units.Quantity`
        Angular size of a pixel of ``frame``.
    kernel : `numpy.ndarray`
        The PSF sampled at ``pixel_scale`` (see `~sunpy_enhance.psf.hmi_psf`), summing to 1.
    output_scale : `~astropy.units.Quantity`
        Angular size of a detector pixel; must be coarser than ``pixel_scale``.
    origin : tuple of float, optional
        Position (row, column) in ``frame`` pixel coordinates (0-based, pixel centres at integers) of
        the *lower-left corner* of the first detector pixel, i.e. the sub-pixel phase of the sampling.
    shape : tuple of int, optional
        Number of detector pixels (rows, columns); by default as many as fit in the frame.
    boundary : {"reflect", "wrap"}, optional
        How the frame continues beyond its edges: mirrored, or periodic (a simulation box).

    Returns
    -------
    `numpy.ndarray`
        The observed image. Each pixel is the PSF-convolved frame averaged over the pixel's area
        (a box of ``output_scale``), evaluated with cubic-spline interpolation.
    """
    ratio = (output_scale / pixel_scale).to_value(u.one)
    if ratio < 1:
        msg = f"output_scale ({output_scale}) must be coarser than the frame's pixel_scale ({pixel_scale})."
        raise ValueError(msg)
    blurred = _convolve(np.asarray(frame, dtype=float), kernel, boundary)
    box = _box_kernel(ratio)
    mode = {"wrap": "wrap", "reflect": "reflect"}[boundary]
    blurred = ndimage.convolve1d(blurred, box, axis=0, mode=mode)
    blurred = ndimage.convolve1d(blurred, box, axis=1, mode=mode)
    if shape is None:
        shape = tuple(int(np.floor((n - 0.5 - o) / ratio)) for n, o in zip(frame.shape, origin))
    centres = [o + ratio * (np.arange(n) + 0.5) for o, n in zip(origin, shape)]
    rows, cols = np.meshgrid(*centres, indexing="ij")
    return ndimage.map_coordinates(blurred, [rows, cols], order=3, mode="grid-wrap" if boundary == "wrap"
                                   else "mirror")


@u.quantity_input
def training_pair(frame, pixel_scale: u.arcsec, *, offset=(0.0, 0.0), input_psf=None, target_psf=None,
                  boundary="reflect"):
    """
    The HMI-like input and the 28 cm diffraction-limited target of one high-resolution frame.

    Parameters
    ----------
    frame : `numpy.ndarray`
        2-D high-resolution frame, already normalised (I/Ic for intensity, kG for a magnetogram).
    pixel_scale : `~astropy.units.Quantity`
        Its pixel scale; must be finer than 0.252″.
    offset : tuple of float, optional
        Sub-pixel phase (rows, columns) of the sampling grid, in frame pixels, 0 ≤ offset < 0.504″/pixel_scale.
        Different offsets give different, equally valid, observations of the same frame.
    input_psf, target_psf : `numpy.ndarray`, optional
        Kernels sampled at ``pixel_scale``. Defaults: the Enhance-modified HMI PSF
        (`~sunpy_enhance.psf.hmi_psf`) and the Airy pattern of a 28 cm aperture at 6173 Å
        (`~sunpy_enhance.psf.airy_psf`).
    boundary : {"reflect", "wrap"}, optional
        ``"wrap"`` for periodic simulation boxes.

    Returns
    -------
    input, target : `numpy.ndarray`
        The input at 0.504″/px, shape ``(n, m)``, and the target at 0.252″/px, shape ``(2n, 2m)``.
        Input pixel ``(i, j)`` covers exactly target pixels ``(2i:2i+2, 2j:2j+2)``.

    Notes
    -----
    This is the recipe of Díaz Baso & Asensio Ramos (2018): input degraded with the HMI PSF of
    Wachter et al. (2012) modified to :math:`\\omega = 2, W = 3.4`, target with the Airy function of
    a telescope twice HMI's diameter. Noise is added at training time, not here.
    """
    if input_psf is None:
        input_psf = hmi_psf(pixel_scale)
    if target_psf is None:
        target_psf = airy_psf(pixel_scale)
    origin = tuple(float(o) - 0.5 for o in offset)
    hmi = observe(frame, pixel_scale, input_psf, HMI_PIXEL_SCALE, origin=origin, boundary=boundary)
    target = observe(frame, pixel_scale, target_psf, ENHANCED_PIXEL_SCALE, origin=origin,
                     shape=(2 * hmi.shape[0], 2 * hmi.shape[1]), boundary=boundary)
    return hmi, target


def bin2x2(image):
    """
    Average 2×2 blocks of pixels: the inverse of Enhance's ×2 sampling.

    NaN in any of the four pixels makes the binned pixel NaN. Odd trailing rows or columns are dropped.
    """
    image = np.asarray(image)
    ny, nx = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    return image[:ny, :nx].reshape(ny // 2, 2, nx // 2, 2).mean(axis=(1, 3))


def upsample_x2(image):
    """
    A smooth image on Enhance's ×2 grid, by linear interpolation: the forward counterpart of `bin2x2`.

    Output pixels ``2p`` and ``2p + 1`` lie at input coordinates ``p - 1/4`` and ``p + 1/4`` (they subdivide
    input pixel ``p``), so each is ¾ of its parent plus ¼ of the neighbour on its side, along each axis.
    Where that neighbour is NaN or beyond the edge, the slope on the other side is continued (the parent's
    value if that is missing too), so that planes are reproduced exactly and NaN spreads no further than
    the children of NaN pixels. For slowly varying quantities (limb darkening, μ), not for images to enhance.
    """
    image = np.asarray(image)
    for axis in (0, 1):
        n = image.shape[axis]
        parent = np.repeat(image, 2, axis=axis)
        index = np.repeat(np.arange(n), 2) + np.tile([-1, 1], n)  # p - 1 for child 2p, p + 1 for child 2p + 1
        inside = (index >= 0) & (index < n)
        shape = [1, 1]
        shape[axis] = 2 * n
        inside = inside.reshape(shape)
        neighbour = np.take(image, np.clip(index, 0, n - 1), axis=axis)
        opposite = np.take(image, np.clip(2 * np.repeat(np.arange(n), 2) - index, 0, n - 1), axis=axis)
        # beyond the edge or at NaN: the slope of the other side continued (exact for planes; the parent
        # itself when that side is missing too)
        neighbour = np.where(inside & np.isfinite(neighbour), neighbour, 2 * parent - opposite)
        neighbour = np.where(np.isfinite(neighbour), neighbour, parent)
        image = 0.75 * parent + 0.25 * neighbour
    return image


def reobserve_hmi(enhanced, *, psf=None):
    """
    Observe an Enhance output (0.252″/px) with HMI again: HMI PSF, then 2×2 binning to 0.504″/px.

    This is the forward-consistency check: for a faithful enhancement the result matches the HMI
    input up to noise and the small difference between the 28 cm and the infinitely sharp object.

    Parameters
    ----------
    enhanced : `numpy.ndarray`
        The enhanced image, 0.252″/px. NaN marks missing pixels (off the disk, outside a region).
    psf : `numpy.ndarray`, optional
        HMI PSF sampled at 0.252″/px; default `~sunpy_enhance.psf.hmi_psf` with Enhance's parameters.

    Returns
    -------
    `numpy.ndarray`
        Image on the HMI grid, half the size of ``enhanced``; float32 for a float32 input, else float64.

    Notes
    -----
    Missing pixels are left out by normalised convolution: each re-observed pixel is the PSF-weighted
    mean of the valid pixels it sees, so a NaN never spreads. A binned pixel is NaN when any of its 2×2
    enhanced pixels is, or when valid pixels carry less than 10⁻⁶ of its PSF weight.
    """
    if psf is None:
        psf = enhanced_grid_psf()
    data = np.asarray(enhanced)
    data = data if data.dtype == np.float32 else data.astype(np.float64)
    valid = np.isfinite(data)
    if valid.all():
        return bin2x2(_convolve(data, psf, "reflect"))
    num = bin2x2(_convolve(np.where(valid, data, 0), psf, "reflect"))
    den = bin2x2(_convolve(valid.astype(data.dtype), psf, "reflect"))
    children = bin2x2(valid.astype(np.float32)) == 1
    del valid
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(children & (den > 1e-6), num / den, np.nan).astype(data.dtype, copy=False)
