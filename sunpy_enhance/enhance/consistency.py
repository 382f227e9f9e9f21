"""
Data consistency: make an enhanced image agree with the HMI image it came from.

An enhancement :math:`x` of an HMI image :math:`y` is consistent when HMI, observing it again, would
record :math:`y` up to noise: :math:`A x \\approx y`, with :math:`A` the HMI PSF followed by 2×2 binning
(`~sunpy_enhance.degrade.reobserve_hmi`). A network trained on simulations meets this only where real
data resemble its training set; on a real sunspot, for example, the bundled continuum network alone
brightens the umbra by ~0.1 I/Ic, which re-observed is a 2% mismatch with the very image it enhanced.

One step of iterative back-projection (Irani & Peleg 1991) removes such errors:

.. math::

    x' = x + P^{T} * U\\left[G_\\sigma * (y - A x)\\right]

where :math:`U` repeats each HMI pixel over its 2×2 enhanced pixels and :math:`P^T` is the mirrored
PSF. The residual is first smoothed by a Gaussian :math:`G_\\sigma` (σ in HMI pixels), so that the step
corrects only the scales HMI measures well and does not put the input's noise back into the image.
Scales larger than σ are corrected almost entirely in one step (the field's mean exactly); the fine
structure the network added, which HMI's PSF barely transmits, is left alone.
"""
import numpy as np
from scipy import ndimage

from sunpy_enhance.degrade import _convolve, enhanced_grid_psf, reobserve_hmi

__all__ = ["back_project"]


def _smooth(image, sigma):
    """Gaussian smoothing that ignores NaN pixels (normalised convolution) and keeps them NaN."""
    if not sigma:
        return image
    valid = np.isfinite(image)
    if valid.all():
        return ndimage.gaussian_filter(image, sigma, mode="reflect")
    num = ndimage.gaussian_filter(np.where(valid, image, 0), sigma, mode="reflect")
    den = ndimage.gaussian_filter(valid.astype(image.dtype), sigma, mode="reflect")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid, num / den, np.nan).astype(image.dtype, copy=False)


def back_project(enhanced, observed, *, smoothing, psf=None):
    """
    One back-projection step: correct an enhanced image so that HMI would see it as ``observed``.

    Parameters
    ----------
    enhanced : `numpy.ndarray`
        The enhanced image at 0.252″/px, in the same units as ``observed``; NaN where missing.
    observed : `numpy.ndarray`
        The HMI image it was made from (0.504″/px), half its size; NaN where missing.
    smoothing : float
        Standard deviation, in HMI pixels, of the Gaussian applied to the residual before it is
        projected back; 0 projects the whole residual (noise included).
    psf : `numpy.ndarray`, optional
        HMI PSF at 0.252″/px; default `~sunpy_enhance.psf.hmi_psf` with Enhance's parameters
        (`~sunpy_enhance.degrade.enhanced_grid_psf`).

    Returns
    -------
    `numpy.ndarray`
        The corrected image, same shape and dtype as ``enhanced`` (float32 stays float32); NaN where
        ``enhanced`` is NaN. Pixels whose HMI pixel is missing receive only the correction spread
        from their valid neighbours.

    Notes
    -----
    The step is linear in the residual and leaves a consistent image unchanged. With smoothing σ ≳ 1
    it does not change what the network resolves below an HMI pixel; it fixes large-scale photometric
    and flux errors (see the module docstring). The bundled models' cards record the σ chosen on their
    validation frames.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_enhance.enhance.consistency import back_project
    >>> from sunpy_enhance.degrade import reobserve_hmi
    >>> scene = 1 + 0.05 * np.random.default_rng(0).standard_normal((64, 64))
    >>> estimate = scene + 0.02  # right detail, wrong level
    >>> corrected = back_project(estimate, reobserve_hmi(scene), smoothing=2)
    >>> bool(abs(corrected.mean() - scene.mean()) < 1e-6)
    True
    """
    enhanced = np.asarray(enhanced)
    dtype = np.float32 if enhanced.dtype == np.float32 else np.float64
    enhanced = enhanced.astype(dtype, copy=False)
    observed = np.asarray(observed, dtype=dtype)
    if enhanced.shape != (2 * observed.shape[0], 2 * observed.shape[1]):
        msg = (f"The enhanced image's shape {enhanced.shape} is not twice the observed image's "
               f"{observed.shape}; back_project corrects a ×2 enhancement with its own HMI input.")
        raise ValueError(msg)
    if psf is None:
        psf = enhanced_grid_psf()
    residual = _smooth(observed - reobserve_hmi(enhanced, psf=psf), smoothing)
    residual = np.nan_to_num(residual, nan=0.0, copy=False)
    correction = _convolve(np.repeat(np.repeat(residual, 2, axis=0), 2, axis=1), psf[::-1, ::-1], "reflect")
    correction += enhanced  # in place: on a full disk every copy of the image is 270 MB
    return correction
