"""
Checks that a map is what the HMI-specific methods of this package are made for.
"""
import astropy.units as u
import numpy as np

__all__ = ["HMI_SCALE_TOLERANCE", "check_hmi_map", "map_scale_arcsec"]

#: Accepted relative deviation of a map's pixel scale from HMI's 0.504″ (HMI's own CDELT varies by <1%).
HMI_SCALE_TOLERANCE = 0.03
_HMI_SCALE = 0.504


def map_scale_arcsec(smap):
    """The map's pixel scale along each axis in arcsec/px, or None when it is not an angle (e.g. CEA degrees
    are angles but not helioprojective ones: they are returned converted, and fail the HMI check)."""
    try:
        return np.abs(u.Quantity([smap.scale.axis1, smap.scale.axis2]).to_value(u.arcsec / u.pix))
    except u.UnitConversionError:
        return None


def check_hmi_map(smap, *, allow_non_hmi=False, allow_any_scale=False, consequence="results would be wrong"):
    """
    Refuse maps that are not native-resolution SDO/HMI, unless the caller allows them.

    Parameters
    ----------
    smap : `sunpy.map.GenericMap`
    allow_non_hmi, allow_any_scale : bool
        The user's overrides.
    consequence : str
        What goes wrong with such data, for the error message.

    Returns
    -------
    `numpy.ndarray` or None
        The pixel scale (arcsec/px per axis), None when it is not an angle.

    Raises
    ------
    ValueError
        Not HMI (without ``allow_non_hmi``), or not sampled at ~0.504″/px (without ``allow_any_scale``).
    """
    instrument = " ".join(str(smap.meta.get(k, "")) for k in ("instrume", "telescop", "detector")).upper()
    if "HMI" not in instrument and not allow_non_hmi:
        msg = (f"This map is not from SDO/HMI (INSTRUME={smap.meta.get('instrume')!r}): {consequence}. "
               "Pass allow_non_hmi=True if your data are HMI-like (0.504\"/px, ~1.1\" resolution at 6173 Å).")
        raise ValueError(msg)
    scale = map_scale_arcsec(smap)
    native = scale is not None and np.all(np.abs(scale / _HMI_SCALE - 1) < HMI_SCALE_TOLERANCE)
    if not native and not allow_any_scale:
        msg = (f"The map's pixel scale ({smap.scale.axis1}, {smap.scale.axis2}) is not HMI's native 0.504\"/px: "
               f"{consequence}. Use native-resolution helioprojective HMI data (not resampled or remapped, e.g. "
               "not SHARP CEA), or pass allow_any_scale=True if you know the sampling is equivalent.")
        raise ValueError(msg)
    return scale
