"""
SDO/HMI facts and map checks: pixel scale, what a map holds (continuum or magnetogram), nominal magnetogram
noise, and the refusal of maps the HMI-specific methods are not made for. One home for "is this HMI, and
what kind?", used by Enhance, Richardson–Lucy and the denoiser alike.
"""
import re

import astropy.units as u
import numpy as np

from sunpy_enhance.exceptions import warn_user

__all__ = [
    "HMI_MAGNETOGRAM_NOISE",
    "HMI_SCALE_TOLERANCE",
    "IMPOSSIBLE_VALUE",
    "KINDS",
    "check_hmi_map",
    "check_not_deconvolved",
    "check_plausible",
    "check_pointing",
    "check_quiet_sun",
    "classify_map",
    "deconvolved_series",
    "is_hmi_magnetogram",
    "map_scale_arcsec",
    "missing_to_nan",
    "nominal_noise",
    "undeconvolved_series",
]

#: The data kinds the Enhance networks exist for.
KINDS = ("continuum", "magnetogram")

#: Nominal per-pixel noise of HMI line-of-sight magnetograms by cadence in seconds
#: (Liu et al. 2012, Sol. Phys. 279, 295: about 10 G at 45 s and about 6 G at 720 s).
HMI_MAGNETOGRAM_NOISE = {45: 10.0 * u.G, 720: 6.0 * u.G}

#: Accepted relative deviation of a map's pixel scale from HMI's 0.504″ (HMI's own CDELT varies by <1%).
HMI_SCALE_TOLERANCE = 0.03
_HMI_SCALE = 0.504


#: Values of larger magnitude cannot be HMI data (continuum ~1e5 DN/s, fields ~1e4 G): an unapplied BLANK
#: (1e30) or a corrupted value. They are treated as missing.
IMPOSSIBLE_VALUE = 1e20
#: The BLANK of HMI's int32 FITS files; found in the data when it was not applied (read as raw integers).
_INT32_BLANK = -2147483648


def missing_to_nan(data, mask=None, *, dtype=np.float32):
    """
    A float copy of ``data`` with every missing pixel set to NaN, warning once about values that cannot be data.

    Missing are: NaN; ``+inf`` and ``-inf``; values of magnitude beyond `IMPOSSIBLE_VALUE` (1e20) and the int32 BLANK
    -2147483648 (BLANKs that were not applied); the masked pixels of a `numpy.ma.MaskedArray` and of
    ``mask``. The methods of the package then treat them as they treat off-disk pixels: left out of the
    computation, NaN in the output, never spreading into their neighbours.

    Parameters
    ----------
    data : array-like
        The image (a `numpy.ma.MaskedArray` is honoured).
    mask : array-like of bool, optional
        True where a pixel is missing (e.g. a sunpy Map's ``mask``).
    dtype : dtype, optional
        Of the copy.

    Returns
    -------
    `numpy.ndarray`

    Warns
    -----
    SunpyEnhanceUserWarning
        One warning that counts the infinite and impossible values (NaN and masked pixels are expected and
        not reported).
    """
    masked = np.ma.getmaskarray(data) if np.ma.isMaskedArray(data) else None
    raw = np.ma.getdata(data)
    blank = (raw == _INT32_BLANK) if np.issubdtype(np.asarray(raw).dtype, np.number) else False
    out = np.array(raw, dtype=dtype)  # a copy, never the caller's array
    if out.ndim == 0:
        return out
    with np.errstate(invalid="ignore"):
        positive, negative = np.isposinf(out), np.isneginf(out)
        absurd = (np.abs(out) > IMPOSSIBLE_VALUE) & ~positive & ~negative
    absurd |= blank & ~absurd
    counts = [(int(positive.sum()), "+inf"), (int(negative.sum()), "-inf"),
              (int(absurd.sum()), f"|value| > {IMPOSSIBLE_VALUE:.0e} or the int32 BLANK (an unapplied BLANK?)")]
    n_bad = sum(n for n, _ in counts)
    if n_bad:
        parts = ", ".join(f"{n} {what}" for n, what in counts if n)
        warn_user(f"{n_bad} pixel{'s' if n_bad > 1 else ''} cannot be data ({parts}): treated as missing, like "
                  "NaN (left out, NaN in the output).")
        out[positive | negative | absurd] = np.nan
    for extra in (masked, mask):
        if extra is not None and np.any(extra):
            out[np.broadcast_to(np.asarray(extra, dtype=bool), out.shape)] = np.nan
    return out


def map_scale_arcsec(smap):
    """The map's pixel scale along each axis in arcsec/px, or None when it is not an angle (e.g. CEA degrees
    are angles but not helioprojective ones: they are returned converted, and fail the HMI check)."""
    try:
        return np.abs(u.Quantity([smap.scale.axis1, smap.scale.axis2]).to_value(u.arcsec / u.pix))
    except u.UnitConversionError:
        return None


#: Projection codes of heliographic grids, as named in the messages.
_PROJECTIONS = {"CEA": "cylindrical equal-area (CEA)", "CAR": "plate carrée (CAR)"}


def _refuse_heliographic_grid(smap, consequence):
    """
    Refuse a map reprojected to a heliographic grid (Carrington or Stonyhurst longitude/latitude axes).

    Such maps (SHARP CEA cutouts, synoptic maps) are interpolated from the detector pixels: their sampling
    and effective PSF are not HMI's, and differ across the field. Comparing their degrees to 0.504″ would
    give a misleading reason, and an override would not help, so none is offered.
    """
    ctype1 = str(smap.meta.get("ctype1", "")).strip().upper()
    ctype2 = str(smap.meta.get("ctype2", "")).strip().upper()
    if not (ctype1[:4] in ("CRLN", "HGLN") or ctype2[:4] in ("CRLT", "HGLT")):
        return
    code = ctype1.rsplit("-", 1)[-1] if "-" in ctype1 else ""
    grid = _PROJECTIONS.get(code, f"{code} projection" if code else "longitude-latitude grid")
    frame = "Carrington" if ctype1.startswith("CRLN") else "Stonyhurst"
    msg = (f"This map is reprojected to a heliographic {grid} grid in {frame} coordinates (CTYPE1={ctype1!r}, "
           f"{smap.scale.axis1:.3g}), as the SHARP CEA series (hmi.sharp_cea_720s) and synoptic maps are: "
           f"{consequence}. Its pixels are interpolated from HMI's, so neither HMI's 0.504\"/px sampling nor its "
           "PSF holds for them. Use data on HMI's own helioprojective grid instead: the native-frame SHARP "
           "cutouts (hmi.sharp_720s), or full-disk HMI data or a cutout of them "
           "(sunpy-enhance fetch --cutout, or fetch_hmi(..., cutout=...)).")
    raise ValueError(msg)


#: JSOC names of HMI's deconvolved (stray-light corrected) products: ``hmi.M_45s_dcon``, ``hmi.Ic_720s_dconS``,
#: ``hmi.S_720s_dconS``, ``hmi.lev1_dcon``, … (``_dcon``: the filtergrams were deconvolved; ``_dconS``: the Stokes
#: images; Norton et al. 2025).
_DECONVOLVED_SERIES = re.compile(r"\bhmi\.[a-z0-9_]*?_dcons?(?![a-z0-9])", re.IGNORECASE)
#: Header keywords that name the series a record came from or was computed from.
_PROVENANCE_KEYWORDS = ("source", "series", "content", "history", "comment")


def deconvolved_series(text):
    """
    The first name of an HMI deconvolved series (``hmi.…_dcon`` or ``hmi.…_dconS``) in ``text``, or None.

    Examples
    --------
    >>> from sunpy_enhance.hmi import deconvolved_series
    >>> deconvolved_series("hmi.S_720s_dconS[2022.09.28_19:00:00_TAI][3]")
    'hmi.S_720s_dconS'
    >>> deconvolved_series("hmi.m_45s_dcon.20140301_000045_TAI.2.magnetogram.fits")
    'hmi.m_45s_dcon'
    >>> deconvolved_series("hmi.M_720s") is None
    True
    """
    match = _DECONVOLVED_SERIES.search(str(text))
    return match.group(0) if match else None


def undeconvolved_series(series):
    """
    The series of the same observable before deconvolution: ``hmi.M_720s_dconS`` → ``hmi.M_720s``.

    Examples
    --------
    >>> from sunpy_enhance.hmi import undeconvolved_series
    >>> undeconvolved_series("hmi.Ic_720s_dconS"), undeconvolved_series("hmi.m_45s_dcon")
    ('hmi.Ic_720s', 'hmi.m_45s')
    """
    return re.sub(r"_dcons?(?![a-z0-9])", "", str(series), flags=re.IGNORECASE)


def check_not_deconvolved(smap=None, *, series=None,
                          consequence="the Enhance networks would deconvolve it a second time"):
    """
    Refuse data that JSOC has already deconvolved (the ``*_dcon``/``*_dconS`` series).

    These products have had HMI's stray light removed by Richardson–Lucy deconvolution with an
    Airy⊗Lorentzian PSF (Norton et al. 2025). The Enhance networks (and Richardson–Lucy with the HMI PSF) are
    made for data still blurred by HMI's PSF: applied again they over-sharpen, amplify the noise and
    invent structure, with nothing in the output to show it.

    Parameters
    ----------
    smap : `sunpy.map.GenericMap`, optional
        A map; deconvolved when a header keyword that names where its data came from (``SOURCE``, the
        pipeline's input records, or ``SERIES``, ``CONTENT``, ``HISTORY``, ``COMMENT``) names a ``_dcon``
        series.
    series : str, optional
        A JSOC series name; deconvolved when it contains ``_dcon``.
    consequence : str, optional
        What goes wrong with such data, for the message.

    Raises
    ------
    ValueError
        Saying that the data are already deconvolved, and which series to use instead.

    Notes
    -----
    Refused rather than warned about: the result would look plausible (only sharper) and be wrong, and the
    non-deconvolved series of the same observations is always in the same archive.

    Examples
    --------
    >>> from sunpy_enhance.hmi import check_not_deconvolved
    >>> check_not_deconvolved(series="hmi.M_720s")
    >>> check_not_deconvolved(series="hmi.M_720s_dconS")
    Traceback (most recent call last):
    ...
    ValueError: hmi.M_720s_dconS is already deconvolved: ...
    """
    if series is not None and "_dcon" in str(series).lower():
        where, instead = f"{series} is already deconvolved", undeconvolved_series(series)
    elif smap is not None:
        for key in _PROVENANCE_KEYWORDS:
            found = deconvolved_series(smap.meta.get(key, ""))
            if found:
                break
        else:
            return
        where = f"This map is already deconvolved (its {key.upper()} keyword names {found})"
        instead = _observable_series(smap) or undeconvolved_series(found)
    else:
        return
    msg = (f"{where}: JSOC's deconvolved HMI series have had HMI's stray light removed by Richardson-Lucy "
           f"deconvolution (Norton et al. 2025), so {consequence}. Enhance's networks (like Richardson-Lucy with "
           "the HMI PSF) expect data blurred by the non-deconvolved HMI PSF: applied again they over-sharpen and "
           f"amplify noise. Use the non-deconvolved series {instead} instead.")
    raise ValueError(msg)


def _observable_series(smap):
    """``hmi.M_720s``-like name of a map's observable from its kind and cadence, or None when they do not say."""
    try:
        kind = classify_map(smap)
        cadence = float(smap.meta.get("cadence", smap.meta.get("trecstep")))
    except (TypeError, ValueError):
        return None
    seconds = min((45, 720), key=lambda c: abs(c - cadence))
    if abs(seconds - cadence) > 0.2 * seconds:
        return None
    return f"hmi.{'Ic' if kind == 'continuum' else 'M'}_{seconds}s"


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
        Always for a map reprojected to a heliographic grid (``CTYPE1`` ``CRLN-…``/``HGLN-…``, e.g. the
        CEA maps of the SHARP series ``hmi.sharp_cea_720s``): no option makes its pixels HMI's. Always for
        data JSOC has already deconvolved (`check_not_deconvolved`).
    """
    instrument = " ".join(str(smap.meta.get(k, "")) for k in ("instrume", "telescop", "detector")).upper()
    if "HMI" not in instrument and not allow_non_hmi:
        msg = (f"This map is not from SDO/HMI (INSTRUME={smap.meta.get('instrume')!r}): {consequence}. "
               "Pass allow_non_hmi=True if your data are HMI-like (0.504\"/px, ~1.1\" resolution at 6173 Å).")
        raise ValueError(msg)
    _refuse_heliographic_grid(smap, consequence)
    check_not_deconvolved(smap, consequence=consequence)
    scale = map_scale_arcsec(smap)
    native = scale is not None and np.all(np.abs(scale / _HMI_SCALE - 1) < HMI_SCALE_TOLERANCE)
    if not native and not allow_any_scale:
        msg = (f"The map's pixel scale ({smap.scale.axis1}, {smap.scale.axis2}) is not HMI's native 0.504\"/px: "
               f"{consequence}. Use native-resolution helioprojective HMI data (not resampled or remapped, e.g. "
               "not SHARP CEA), or pass allow_any_scale=True if you know the sampling is equivalent.")
        raise ValueError(msg)
    return scale


def classify_map(smap):
    """
    Tell an HMI continuum image from a line-of-sight magnetogram by its metadata.

    Uses, in order, the HMI ``CONTENT`` keyword, sunpy's ``measurement`` and the ``BUNIT`` keyword.

    Parameters
    ----------
    smap : `sunpy.map.GenericMap`

    Returns
    -------
    str
        ``"continuum"`` or ``"magnetogram"``.

    Raises
    ------
    ValueError
        When the metadata do not say; pass ``kind=`` to `~sunpy_enhance.enhance.enhance_map` then.
    """
    content = str(smap.meta.get("content", "")).lower()
    measurement = str(smap.meta.get("measurement", "") or "").lower()
    bunit = str(smap.meta.get("bunit", "")).lower().replace(" ", "")
    if "continuum" in content or "intensity" in content or "continuum" in measurement:
        return "continuum"
    if "magnetogram" in content or "magnetic" in content or "magnetogram" in measurement:
        return "magnetogram"
    if bunit in ("dn/s", "dn", "ct/s", "counts/s"):
        return "continuum"
    if bunit in ("mx/cm^2", "mx/cm2", "mxcm^-2", "gauss", "g"):
        return "magnetogram"
    msg = ("Cannot tell whether this map is a continuum image or a magnetogram from its metadata "
           f"(CONTENT={smap.meta.get('content')!r}, BUNIT={smap.meta.get('bunit')!r}); "
           "pass kind='continuum' or kind='magnetogram'.")
    raise ValueError(msg)


#: Above this median a "magnetogram" whose values are all positive is not one: line-of-sight fields stay below
#: ~4000 G even in umbrae, while continuum intensities are ~1e4-1e5 DN/s.
_MAGNETOGRAM_MEDIAN_LIMIT = 5000.0


def check_plausible(data, kind):
    """
    Refuse data that cannot be what ``kind`` says: a mislabelled file gives wrong science without an error.

    Checks, on the finite values:

    * ``"continuum"``: intensities are positive. Values signed around zero (more than 1% negative, the
      median within the spread of the values) are a magnetogram's (or a contrast image's); other
      negative values, or a median that is not positive, are no calibrated intensity.
    * ``"magnetogram"``: values all positive with a median above 5000 G are a continuum image (in DN/s)
      and no line-of-sight field.

    Parameters
    ----------
    data : `numpy.ndarray`
        The image, NaN where missing.
    kind : {"continuum", "magnetogram"}

    Raises
    ------
    ValueError
        Saying which check failed and what to do.
    """
    values = np.asarray(data)
    values = values[np.isfinite(values)]
    if values.size == 0 or kind not in KINDS:
        return
    if values.size > 250_000:  # a large image: a regular sample of a quarter million values tells as well
        values = values[:: values.size // 250_000]
    median = float(np.median(values))
    if kind == "continuum":
        negative = np.count_nonzero(values < 0) / values.size
        spread = float(np.median(np.abs(values - median)))
        if negative > 0.01 and abs(median) <= 3 * spread:
            msg = (f"The data are labelled continuum intensity but their values are signed around zero (median "
                   f"{median:.3g}, {negative:.0%} negative), as a magnetogram's are: check 'continuum: positive "
                   "intensities' failed. If this is a magnetogram, pass kind='magnetogram' (or correct the "
                   "file's CONTENT/BUNIT keywords).")
            raise ValueError(msg)
        if negative > 0.01 or median <= 0:
            msg = (f"The data are labelled continuum intensity but {negative:.0%} of the values are negative "
                   f"(median {median:.3g}): check 'continuum: positive intensities' failed. Continuum "
                   "intensity cannot be negative: check the calibration (BZERO/BSCALE, a subtracted "
                   "background), or pass kind='magnetogram' if this is a magnetogram.")
            raise ValueError(msg)
    elif float(values.min()) > 0 and median > _MAGNETOGRAM_MEDIAN_LIMIT:
        msg = (f"The data are labelled a magnetogram but every value is positive with a median of {median:.4g} "
               f"(G): check 'magnetogram: a line-of-sight field' failed, no field is that strong over a whole "
               "field of view; these look like continuum intensities (DN/s). If so, pass kind='continuum' (or "
               "correct the file's CONTENT/BUNIT keywords).")
        raise ValueError(msg)


def check_quiet_sun(level, *, given):
    """
    Refuse a quiet-Sun intensity that is not positive and finite.

    Parameters
    ----------
    level : float
    given : bool
        Whether the user gave it (``quiet_sun=``) or it was estimated from the data.

    Raises
    ------
    ValueError
    """
    if np.isfinite(level) and level > 0:
        return
    if given:
        msg = (f"quiet_sun must be the positive quiet-Sun intensity in the data's units, not {level!r}; "
               "leave quiet_sun=None to estimate it from the data.")
    else:
        msg = (f"The quiet-Sun intensity estimated from the data is {level!r}, not positive: these are not "
               "continuum intensities. Check kind= and the calibration, or pass quiet_sun= explicitly.")
    raise ValueError(msg)


def check_pointing(smap):
    """
    Refuse a helioprojective map without pointing keywords (``CRVAL1``/``CRVAL2``).

    Without them sunpy puts the reference pixel at disk centre, so μ, the limb darkening and the limb
    check would be computed for the wrong place on the disk (several percent of intensity off on a limb
    cutout), silently.

    Raises
    ------
    ValueError
        Naming the missing keywords.
    """
    missing = [key.upper() for key in ("crval1", "crval2") if key not in smap.meta]
    if missing:
        msg = (f"The map has no pointing: {' and '.join(missing)} missing from its header, so where it lies on "
               "the disk (and so mu and the limb darkening) cannot be known; sunpy would silently assume disk "
               "centre. Restore the keywords from the original file (JSOC exports have them), or enhance the bare "
               "array (enhance_array, or sunpy-enhance enhance --raw), which makes no limb-darkening correction.")
        raise ValueError(msg)


def is_hmi_magnetogram(smap):
    """
    Whether a map is an HMI line-of-sight magnetogram: HMI by its instrument, a magnetogram by
    `classify_map` (``CONTENT``, sunpy's ``measurement``, ``BUNIT``).
    """
    instrument = " ".join(str(smap.meta.get(k, "")) for k in ("instrume", "telescop", "detector")).upper()
    if "HMI" not in instrument:
        return False
    try:
        return classify_map(smap) == "magnetogram"
    except ValueError:
        return False


def nominal_noise(smap):
    """
    The nominal per-pixel noise of an HMI magnetogram from its ``CADENCE`` keyword (45 s or 720 s), or None.
    """
    try:
        cadence = float(smap.meta.get("cadence"))
    except (TypeError, ValueError):
        return None
    key = min(HMI_MAGNETOGRAM_NOISE, key=lambda c: abs(c - cadence))
    if abs(key - cadence) > 0.2 * key:
        return None
    return HMI_MAGNETOGRAM_NOISE[key]
