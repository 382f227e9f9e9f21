"""
What to ask JSOC for: the HMI series the package knows, record-set strings and ``im_patch`` cutouts.

Nothing here talks to JSOC. `record_set` builds JSOC's record-set strings
(``hmi.M_45s[2014.03.01_00:00:00_TAI-2014.03.01_01:00:00_TAI@720s]{magnetogram}``) from times and cadences, snapped
to the series' ``T_REC`` slots; `im_patch` builds the cutout requests of JSOC's ``im_patch`` processing from sunpy
coordinates. `sunpy_enhance.net.jsoc` submits them (searches, exports) and `sunpy_enhance.net.exports` fetches the
files.
"""
import re
from collections import namedtuple

import astropy.units as u
import numpy as np

__all__ = ["HMI_SERIES", "cutout_process", "hmi_series", "im_patch", "record_set"]

HMISeries = namedtuple("HMISeries", ["segment", "measurement", "cadence", "description"])

#: HMI series the package knows: JSOC segment, measurement (``"continuum"``/``"magnetogram"``),
#: slot cadence in seconds and a description. The ``_dcon``/``_dconS`` series are already deconvolved
#: (stray light removed): they can be fetched, not enhanced (`sunpy_enhance.hmi.check_not_deconvolved`).
HMI_SERIES = {
    "hmi.Ic_45s": HMISeries("continuum", "continuum", 45, "continuum intensity, 45 s"),
    "hmi.Ic_720s": HMISeries("continuum", "continuum", 720, "continuum intensity, 720 s"),
    "hmi.Ic_noLimbDark_720s": HMISeries("continuum", "continuum", 720,
                                        "continuum intensity with limb darkening removed, 720 s"),
    "hmi.Ic_45s_dcon": HMISeries("continuum", "continuum", 45,
                                 "continuum intensity from JSOC-deconvolved filtergrams, 45 s"),
    "hmi.Ic_720s_dcon": HMISeries("continuum", "continuum", 720,
                                  "continuum intensity from JSOC-deconvolved filtergrams, 720 s"),
    "hmi.Ic_720s_dconS": HMISeries("continuum", "continuum", 720,
                                   "continuum intensity from JSOC-deconvolved Stokes images, 720 s"),
    "hmi.M_45s": HMISeries("magnetogram", "magnetogram", 45, "line-of-sight magnetogram, 45 s"),
    "hmi.M_720s": HMISeries("magnetogram", "magnetogram", 720, "line-of-sight magnetogram, 720 s"),
    "hmi.M_45s_dcon": HMISeries("magnetogram", "magnetogram", 45,
                                "line-of-sight magnetogram from JSOC-deconvolved filtergrams, 45 s"),
    "hmi.M_720s_dcon": HMISeries("magnetogram", "magnetogram", 720,
                                 "line-of-sight magnetogram from JSOC-deconvolved filtergrams, 720 s"),
    "hmi.M_720s_dconS": HMISeries("magnetogram", "magnetogram", 720,
                                  "line-of-sight magnetogram from JSOC-deconvolved Stokes images, 720 s"),
}
_SERIES_BY_LOWER = {name.lower(): name for name in HMI_SERIES}

# T_REC slots of the HMI observables: TRECEPOC = 1993.01.01_00:00:00_TAI, TRECSTEP = cadence.
_TREC_EPOCH = "1993-01-01T00:00:00"


@u.quantity_input
def hmi_series(measurement, *, cadence: u.s = 45 * u.s, deconvolved=False, limb_darkening_removed=False):
    """
    The name of the HMI series holding a measurement.

    Parameters
    ----------
    measurement : {"continuum", "magnetogram"}
    cadence : `~astropy.units.Quantity`, optional
        45 s or 720 s.
    deconvolved : bool, optional
        The series built from JSOC's deconvolved filtergrams (``*_dcon``).
    limb_darkening_removed : bool, optional
        ``hmi.Ic_noLimbDark_720s`` (continuum, 720 s only).

    Returns
    -------
    str

    Examples
    --------
    >>> import astropy.units as u
    >>> from sunpy_enhance.net.records import hmi_series
    >>> hmi_series("magnetogram", cadence=720 * u.s)
    'hmi.M_720s'
    >>> hmi_series("continuum", deconvolved=True)
    'hmi.Ic_45s_dcon'
    """
    seconds = int(round(cadence.to_value(u.s)))
    if seconds not in (45, 720):
        msg = f"HMI observables come at 45 s or 720 s cadence, not {cadence}"
        raise ValueError(msg)
    if measurement not in ("continuum", "magnetogram"):
        msg = f"measurement must be 'continuum' or 'magnetogram', not {measurement!r}"
        raise ValueError(msg)
    if limb_darkening_removed:
        if measurement != "continuum" or seconds != 720 or deconvolved:
            msg = "limb-darkening-removed data exist only as hmi.Ic_noLimbDark_720s (continuum, 720 s)"
            raise ValueError(msg)
        return "hmi.Ic_noLimbDark_720s"
    name = f"hmi.{'Ic' if measurement == 'continuum' else 'M'}_{seconds}s"
    return name + "_dcon" if deconvolved else name


def _canonical_series(series):
    name = _SERIES_BY_LOWER.get(str(series).strip().lower())
    if name is None:
        msg = (f"unknown HMI series {series!r}; sunpy-enhance works with "
               f"{', '.join(HMI_SERIES)}")
        raise ValueError(msg)
    return name


def _jsoc_time(t):
    return t.tai.strftime("%Y.%m.%d_%H:%M:%S_TAI")


def _seconds(value, what):
    """Seconds from a Quantity, a number (s), an astropy TimeDelta or a string like '12m'."""
    from astropy.time import TimeDelta

    if isinstance(value, TimeDelta):
        return float(value.to_value(u.s))
    if isinstance(value, u.Quantity):
        return float(value.to_value(u.s))
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([\d.]+)\s*(s|m|min|h|d)?\s*", value)
        if m is None:
            msg = f"cannot read {what} {value!r}; use e.g. '45s', '12m', '1h' or an astropy Quantity"
            raise ValueError(msg)
        return float(m.group(1)) * {None: 1, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}[m.group(2)]
    return float(value)


def record_set(series, start, end=None, *, cadence=None):
    """
    The JSOC record-set string for one time or a time range of an HMI series.

    Parameters
    ----------
    series : str
        One of `HMI_SERIES` (case-insensitive).
    start : time-like
        Anything `sunpy.time.parse_time` reads. Without ``end``, the record whose slot (``T_REC``)
        is nearest to it.
    end : time-like, optional
        End of a range; records with ``start <= T_REC <= end``.
    cadence : `~astropy.units.Quantity`, str or float (seconds), optional
        Take one record every ``cadence`` in the range (``@`` in JSOC's syntax); a multiple of the
        series cadence.

    Returns
    -------
    str

    Examples
    --------
    >>> import astropy.units as u
    >>> from sunpy_enhance.net.records import record_set
    >>> record_set("hmi.M_45s", "2014-03-01 00:00:20")
    'hmi.M_45s[2014.03.01_00:00:45_TAI]{magnetogram}'
    >>> record_set("hmi.m_720s", "2014-03-01T00:00", "2014-03-01T01:00", cadence=12 * u.min)
    'hmi.M_720s[2014.03.01_00:00:35_TAI-2014.03.01_01:00:35_TAI@720s]{magnetogram}'
    """
    from astropy.time import Time, TimeDelta
    from sunpy.time import parse_time

    name = _canonical_series(series)
    info = HMI_SERIES[name]
    t0 = parse_time(start)
    if end is None:
        if cadence is not None:
            msg = "a cadence needs a time range: give end=..."
            raise ValueError(msg)
        epoch = Time(_TREC_EPOCH, scale="tai")
        slot = np.round((t0.tai - epoch).to_value(u.s) / info.cadence)
        t_rec = epoch + TimeDelta(slot * info.cadence, format="sec")
        return f"{name}[{_jsoc_time(t_rec)}]{{{info.segment}}}"
    t1 = parse_time(end)
    if t1 <= t0:
        msg = f"the end of the time range ({t1.isot}) must come after its start ({t0.isot})"
        raise ValueError(msg)
    sample = ""
    if cadence is not None:
        step = _seconds(cadence, "cadence")
        ratio = step / info.cadence
        if step <= 0 or abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            msg = (f"the cadence ({step:g} s) must be a multiple of the {info.cadence} s cadence of {name}, "
                   f"e.g. {info.cadence * max(1, round(ratio)):g} s")
            raise ValueError(msg)
        sample = f"@{int(round(step))}s"
    return f"{name}[{_jsoc_time(t0)}-{_jsoc_time(t1)}{sample}]{{{info.segment}}}"


def im_patch(bottom_left=None, top_right=None, *, center=None, width=None, height=None, obstime=None,
             tracking=False, register=False, nan_off_limb=False):
    """
    The ``im_patch`` processing request for a JSOC cutout, from sunpy coordinates.

    Give either ``bottom_left`` and ``top_right`` (or ``bottom_left`` with ``width`` and ``height``),
    or ``center`` with ``width`` and ``height``.

    Parameters
    ----------
    bottom_left, top_right, center : `~astropy.coordinates.SkyCoord`
        Corners or centre of the box; helioprojective coordinates are used as they are, other
        frames are transformed to helioprojective as seen from Earth at the coordinate's obstime.
    width, height : `~astropy.units.Quantity`, optional
        Size of the box (angles).
    obstime : time-like, optional
        The time the box refers to (JSOC's ``t_ref``) when the coordinates carry none.
    tracking : bool, optional
        Let the box follow solar rotation from ``obstime`` (the box centre must be on the disk).
    register : bool, optional
        Ask JSOC to register (interpolate) the cutouts to the reference position.
    nan_off_limb : bool, optional
        Ask JSOC to set off-limb pixels to NaN.

    Returns
    -------
    dict
        The arguments of JSOC's ``im_patch``; pass as ``cutout=`` to `~sunpy_enhance.net.jsoc.request_export`
        or `~sunpy_enhance.net.exports.fetch_hmi`, or as ``process={"im_patch": ...}`` to `drms.Client.export`.

    Notes
    -----
    The dictionary is the one `sunpy.net.jsoc.attrs.Cutout` builds (``t_ref``, ``t``, ``r``,
    ``c``, ``locunits``/``boxunits`` in arcsec, centre ``x``/``y``, ``width``/``height``). JSOC
    assumes SDO as the observer.

    Examples
    --------
    >>> import astropy.units as u
    >>> from astropy.coordinates import SkyCoord
    >>> from sunpy.coordinates import frames
    >>> from sunpy_enhance.net.records import im_patch
    >>> centre = SkyCoord(-200 * u.arcsec, 300 * u.arcsec, frame=frames.Helioprojective,
    ...                   observer="earth", obstime="2014-03-01")
    >>> patch = im_patch(center=centre, width=120 * u.arcsec, height=60 * u.arcsec)
    >>> patch["x"], patch["y"], patch["width"], patch["height"], patch["t_ref"]
    (-200.0, 300.0, 120.0, 60.0, '2014-03-01T00:00:00.000')
    """
    from astropy.coordinates import SkyCoord
    from sunpy.coordinates import Helioprojective
    from sunpy.net import attrs as a
    from sunpy.time import parse_time

    def helioprojective(coord, name):
        if not isinstance(coord, SkyCoord):
            msg = f"{name} must be an astropy SkyCoord, not {type(coord).__name__}"
            raise TypeError(msg)
        when = coord.obstime if coord.obstime is not None else (
            parse_time(obstime) if obstime is not None else None)
        if when is None:
            msg = (f"{name} has no obstime, and JSOC needs the time the box refers to: give the "
                   "coordinate an obstime or pass obstime=...")
            raise ValueError(msg)
        if coord.obstime is None:
            coord = SkyCoord(coord.frame.replicate(obstime=when))
        if not isinstance(coord.frame, Helioprojective):
            coord = coord.transform_to(Helioprojective(observer="earth", obstime=when))
        return coord

    if center is not None:
        if bottom_left is not None or top_right is not None:
            msg = "give either center (with width and height) or bottom_left/top_right, not both"
            raise ValueError(msg)
        if width is None or height is None:
            msg = "a cutout given by its center needs width and height"
            raise ValueError(msg)
        center = helioprojective(center, "center")
        bottom_left = SkyCoord(center.Tx - width / 2, center.Ty - height / 2, frame=center.frame)
        top_right = SkyCoord(center.Tx + width / 2, center.Ty + height / 2, frame=center.frame)
        width = height = None
    elif bottom_left is None:
        msg = "a cutout needs bottom_left (with top_right or width and height) or center"
        raise ValueError(msg)
    else:
        bottom_left = helioprojective(bottom_left, "bottom_left")
        if top_right is not None:
            top_right = helioprojective(top_right, "top_right").transform_to(bottom_left.frame)
    cutout = a.jsoc.Cutout(bottom_left, top_right=top_right, width=width, height=height,
                           tracking=tracking, register=register, nan_off_limb=nan_off_limb)
    value = {k: float(v) if k in ("x", "y", "width", "height") else v for k, v in cutout.value.items()}
    if value["width"] <= 0 or value["height"] <= 0:
        msg = "the cutout box has no area: top_right must lie above and to the right of bottom_left"
        raise ValueError(msg)
    return value


def cutout_process(cutout, start):
    """
    The ``process`` argument of a drms export for ``cutout`` (see `im_patch`), or None for full disk.

    Parameters
    ----------
    cutout : dict, (SkyCoord, SkyCoord) or None
        A dict made by `im_patch`, or the bottom-left and top-right corners of the box.
    start : time-like
        The time the corners refer to when they carry none.

    Returns
    -------
    dict or None
        ``{"im_patch": {...}}``.
    """
    if cutout is None:
        return None
    if isinstance(cutout, dict):
        return {"im_patch": dict(cutout)}
    if isinstance(cutout, (tuple, list)) and len(cutout) == 2:
        return {"im_patch": im_patch(cutout[0], cutout[1], obstime=start)}
    msg = "cutout must be the dict made by im_patch(...) or a (bottom_left, top_right) pair of SkyCoords"
    raise TypeError(msg)
