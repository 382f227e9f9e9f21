"""
High-resolution frames for training: reading, quiet-Sun normalisation and contrast matching.
"""
import dataclasses

import astropy.units as u
import numpy as np
from scipy import ndimage

from sunpy_enhance.degrade import HMI_PIXEL_SCALE, training_pair
from sunpy_enhance.io import read_array  # re-exported: sunpy_enhance.enhance.training.read_array
from sunpy_enhance.psf import hmi_psf

__all__ = [
    "HMI_QUIET_SUN_CONTRAST",
    "Frame",
    "normalize_continuum_frame",
    "quiet_sun_mask",
    "read_array",
]

#: rms granulation contrast of real HMI quiet Sun at disk centre (science.md, measured on the shared patch).
HMI_QUIET_SUN_CONTRAST = 0.037


@dataclasses.dataclass
class Frame:
    """
    A high-resolution frame ready for degradation.

    Attributes
    ----------
    data : `numpy.ndarray`
        2-D image in network units before centring: I/Ic for continuum, kG for magnetograms.
    pixel_scale : `~astropy.units.Quantity`
        Its pixel scale.
    name : str
        Where it came from.
    boundary : {"reflect", "wrap"}
        ``"wrap"`` for periodic simulation boxes.
    notes : str
        What was done to it (normalisation, contrast factor, synthetic field recipe) for the model card.
    scene : str
        The piece of Sun it shows, when other frames show it too (consecutive frames of one observation):
        training draws patches from such frames as if they were one frame, so a scene observed four times
        is not sampled four times as often. Empty: a scene of its own.
    """

    data: np.ndarray
    pixel_scale: u.Quantity
    name: str
    boundary: str = "reflect"
    notes: str = ""
    scene: str = ""

    def split(self, fraction):
        """
        Split along the last axis into a training part and a held-out part of ``fraction`` of the columns.

        The two parts never share a pixel; each is degraded on its own (mirror boundaries), so no
        validation pixel is ever seen in training.
        """
        cut = int(round(self.data.shape[1] * (1 - fraction)))
        train = dataclasses.replace(self, data=self.data[:, :cut], name=f"{self.name}[train]", boundary="reflect")
        held = dataclasses.replace(self, data=self.data[:, cut:], name=f"{self.name}[validation]",
                                   boundary="reflect")
        return train, held


@u.quantity_input
def quiet_sun_mask(image, pixel_scale: u.arcsec, *, smoothing=2 * u.arcsec, threshold=0.85,
                   margin=3 * u.arcsec):
    """
    Pixels of a continuum image that belong to the quiet Sun (outside spots and pores and their surroundings).

    The image is smoothed over ``smoothing`` (to average out granulation); pixels darker than
    ``threshold`` × the median are magnetic features, grown by ``margin``; the rest is quiet Sun.

    Returns
    -------
    `numpy.ndarray`
        Boolean mask, True for quiet Sun.
    """
    sigma = (smoothing / pixel_scale).to_value(u.one)
    smooth = ndimage.gaussian_filter(image, sigma)
    dark = smooth < threshold * np.median(smooth)
    grow = int(np.ceil((margin / pixel_scale).to_value(u.one)))
    if grow:
        dark = ndimage.binary_dilation(dark, iterations=grow)
    return ~dark


@u.quantity_input
def normalize_continuum_frame(image, pixel_scale: u.arcsec, *, name="frame", boundary="reflect",
                              contrast=HMI_QUIET_SUN_CONTRAST, crop=0, floor=0.02):
    """
    Turn a high-resolution intensity frame into I/Ic with HMI's quiet-Sun contrast once degraded.

    Frames differ in wavelength (MURaM's bolometric intensity, SST 8542 Å wide-band, IMaX 5250 Å) and
    therefore in granulation contrast. Each frame is divided by its quiet-Sun mean and then stretched
    linearly about 1, ``I' = 1 + α (I/Ic − 1)``, with ``α`` chosen so that the frame degraded to HMI
    (HMI PSF, 0.504″ pixels) has the rms quiet-Sun contrast of real HMI at 6173 Å (3.7%). Degradation is
    linear, so the match is exact; the 28 cm target is stretched by the same α. Darker features scale
    with it and are floored at ``floor`` (I/Ic).

    Parameters
    ----------
    image : `numpy.ndarray`
    pixel_scale : `~astropy.units.Quantity`
    name, boundary : str, optional
        Recorded in the `Frame`.
    contrast : float, optional
        Target quiet-Sun contrast at HMI resolution; ``None`` keeps the frame's own.
    crop : int, optional
        Pixels removed from each edge first (e.g. an apodised border).
    floor : float, optional
        Lowest I/Ic after stretching.

    Returns
    -------
    `Frame`
    """
    if crop:
        image = image[crop:-crop, crop:-crop]
    qs = quiet_sun_mask(image, pixel_scale)
    data = image / image[qs].mean()
    alpha = 1.0
    if contrast is not None:
        hmi, _ = training_pair(data, pixel_scale, input_psf=hmi_psf(pixel_scale),
                               target_psf=np.ones((1, 1)), boundary=boundary)
        ratio = (HMI_PIXEL_SCALE / pixel_scale).to_value(u.one)
        qs_hmi = ndimage.zoom(qs.astype(float), 1 / ratio, order=0)[:hmi.shape[0], :hmi.shape[1]] > 0.5
        qs_hmi = ndimage.binary_erosion(qs_hmi, iterations=2)
        values = hmi[:qs_hmi.shape[0], :qs_hmi.shape[1]][qs_hmi]
        alpha = contrast / (values.std() / values.mean())
        data = np.maximum(1 + alpha * (data - 1), floor)
    notes = (f"divided by the quiet-Sun mean ({qs.mean():.0%} of the frame is quiet Sun), "
             f"contrast stretched by alpha={alpha:.3f} to {contrast:.1%} at HMI resolution, floor {floor}")
    return Frame(data=data, pixel_scale=pixel_scale, name=name, boundary=boundary, notes=notes)
