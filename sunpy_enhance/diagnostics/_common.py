"""
Helpers shared by the diagnostics: Map or array in, pixel scale, regions, axes.
"""

import astropy.units as u
import numpy as np
from scipy import ndimage


def _is_map(obj):
    try:
        from sunpy.map import GenericMap
    except ImportError:  # pragma: no cover - sunpy is a dependency
        return False
    return isinstance(obj, GenericMap)


def _data(obj):
    data = obj.data if _is_map(obj) else obj
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 2:
        msg = f"Expected a 2-D image or a Map, got an array of {data.ndim} dimensions."
        raise ValueError(msg)
    return data


def _scale_arcsec(obj, pixel_scale):
    """Pixel scale in arcsec per pixel: given explicitly, or from the Map, or None."""
    if pixel_scale is not None:
        scale = u.Quantity(pixel_scale)
        if scale.unit.is_equivalent(u.arcsec / u.pix):
            scale = scale * u.pix
        return float(scale.to_value(u.arcsec))
    if _is_map(obj):
        try:
            scale = u.Quantity([obj.scale.axis1, obj.scale.axis2]).to_value(u.arcsec / u.pix)
        except u.UnitConversionError:
            return None
        return float(np.mean(scale))
    return None


def _region_mask(obj, shape, region):
    """A boolean mask of ``shape`` from a mask, a tuple of slices or a SkyCoord box."""
    if region is None:
        return None
    if isinstance(region, np.ndarray) and region.dtype == bool:
        if region.shape != shape:
            msg = f"The region mask has shape {region.shape}, the image {shape}."
            raise ValueError(msg)
        return region
    try:
        from astropy.coordinates import SkyCoord
    except ImportError:  # pragma: no cover
        SkyCoord = ()
    mask = np.zeros(shape, dtype=bool)
    if isinstance(region, SkyCoord):
        if not _is_map(obj):
            msg = "A SkyCoord region needs a Map (its WCS turns the coordinates into pixels)."
            raise ValueError(msg)
        if region.size < 2:
            msg = "A SkyCoord region needs at least two points (e.g. bottom-left and top-right corners)."
            raise ValueError(msg)
        x, y = obj.wcs.world_to_pixel(region)
        x0, x1 = int(np.floor(np.min(x) + 0.5)), int(np.floor(np.max(x) + 0.5)) + 1
        y0, y1 = int(np.floor(np.min(y) + 0.5)), int(np.floor(np.max(y) + 0.5)) + 1
        mask[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = True
    elif isinstance(region, tuple) and all(isinstance(s, slice) for s in region):
        mask[region] = True
    else:
        msg = ("region must be a boolean mask of the image's shape, a tuple of slices "
               "(e.g. np.s_[10:90, 20:120]) or a SkyCoord holding the box's corners.")
        raise TypeError(msg)
    if not mask.any():
        msg = "The region selects no pixel of the image."
        raise ValueError(msg)
    return mask


def _nan_gaussian(image, sigma):
    """Gaussian smoothing ignoring NaN (normalised convolution); NaN where no valid pixel is near."""
    valid = np.isfinite(image)
    num = ndimage.gaussian_filter(np.where(valid, image, 0.0), sigma, mode="nearest")
    den = ndimage.gaussian_filter(valid.astype(float), sigma, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-3, num / den, np.nan)


def _ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    return ax
