"""
The JSOC client: find and export SDO/HMI data from JSOC with drms: series, record sets, cutouts, exports, downloads.

The helpers build JSOC record-set strings
(``hmi.M_45s[2014.03.01_00:00:00_TAI-2014.03.01_01:00:00_TAI@720s]{magnetogram}``) from times and
cadences, ``im_patch`` cutout requests from sunpy coordinates, submit the export with ``drms``, wait for
it, and hand the download to `sunpy_enhance.net.exports`
(which downloads with ``sunpy_enhance.net.download.download_files``: parfive, verified, atomic,
cached). Errors JSOC reports (export status 3, 4, 5, 6, 7, HTTP errors, an unknown
email address) become `JSOCError` subclasses whose message says what happened and what to do.

A registered email address is needed for exports (not for searches): pass ``email=`` or set the
``JSOC_EMAIL`` environment variable; register at http://jsoc.stanford.edu/ajax/register_email.html.
"""
import http.client
import json
import logging
import os
import re
import time
from collections import namedtuple
from urllib.error import HTTPError, URLError

import astropy.units as u
import numpy as np

__all__ = [
    "HMI_SERIES",
    "JSOCConnectionError",
    "JSOCEmailError",
    "JSOCError",
    "JSOCExportError",
    "JSOCQueryError",
    "JSOCTimeoutError",
    "call",
    "check_export_filename",
    "cutout_process",
    "export_files",
    "get_email",
    "hmi_series",
    "im_patch",
    "jsoc_client",
    "record_set",
    "request_export",
    "search_hmi",
    "server_config",
    "wait_for_export",
]

log = logging.getLogger(__name__)

REGISTER_URL = "http://jsoc.stanford.edu/ajax/register_email.html"

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

# JSOC export status codes (jsoc_fetch op=exp_status) and what they mean for a user.
_STATUS_TEXT = {
    3: "the request is too large for one export",
    4: "JSOC rejected the request",
    5: "the export has expired on the server",
    6: "JSOC does not know this request id",
    7: "the export failed on the server",
}


class JSOCError(RuntimeError):
    """Base class of the errors raised when talking to JSOC."""


class JSOCEmailError(JSOCError, ValueError):
    """No email address was given, or JSOC does not accept it for exports."""


class JSOCQueryError(JSOCError, ValueError):
    """A search was refused by JSOC (unknown series, bad record set) or found no records."""


class JSOCExportError(JSOCError):
    """
    An export request failed; ``status`` is JSOC's status code and ``request_id`` the request.
    """

    def __init__(self, message, *, status=None, request_id=None):
        super().__init__(message)
        self.status = status
        self.request_id = request_id


class JSOCTimeoutError(JSOCError, TimeoutError):
    """JSOC did not finish an export in the time allowed; ``request_id`` can be picked up later."""

    def __init__(self, message, *, request_id=None):
        super().__init__(message)
        self.request_id = request_id


class JSOCConnectionError(JSOCError, ConnectionError):
    """JSOC could not be reached or answered with an HTTP error or something that is not JSON."""


def get_email(email=None):
    """
    The email address for JSOC exports: ``email`` if given, else ``$JSOC_EMAIL``.

    Parameters
    ----------
    email : str, optional
        An address registered at JSOC.

    Returns
    -------
    str

    Raises
    ------
    JSOCEmailError
        Neither is set, or the value is not an email address.

    Examples
    --------
    >>> from sunpy_enhance.net.jsoc import get_email
    >>> get_email("someone@example.org")
    'someone@example.org'
    """
    if email is None:
        email = os.environ.get("JSOC_EMAIL", "").strip() or None
    if email is None:
        msg = ("JSOC needs a registered email address to export data: pass email=... (or --email) or set "
               f"the JSOC_EMAIL environment variable. Register an address at {REGISTER_URL}.")
        raise JSOCEmailError(msg)
    if "@" not in email:
        msg = f"{email!r} is not an email address; JSOC needs the address you registered at {REGISTER_URL}."
        raise JSOCEmailError(msg)
    return email


def server_config(server=None):
    """
    A `drms.ServerConfig` for ``server``.

    Parameters
    ----------
    server : None, str or `drms.ServerConfig`
        `None` or ``"jsoc"``: the public JSOC at Stanford. A name registered with drms. A base URL
        (``"http://host:port/"``) of a server laid out like JSOC (``cgi-bin/ajax/jsoc_info``,
        ``jsoc_fetch``, ``checkAddress.sh``; files under the same URL), such as a mirror or a
        test server. Or a ready `drms.ServerConfig`.

    Returns
    -------
    `drms.ServerConfig`

    Examples
    --------
    >>> from sunpy_enhance.net.jsoc import server_config
    >>> server_config("http://127.0.0.1:8080/").url_jsoc_fetch
    'http://127.0.0.1:8080/cgi-bin/ajax/jsoc_fetch'
    """
    import drms
    from drms.config import _server_configs

    if server is None:
        server = "jsoc"
    if isinstance(server, drms.ServerConfig):
        return server
    if re.match(r"https?://", server):
        base = server if server.endswith("/") else server + "/"
        return drms.ServerConfig(
            name=f"JSOC at {base}",
            cgi_baseurl=base + "cgi-bin/ajax/",
            cgi_show_series="show_series",
            cgi_jsoc_info="jsoc_info",
            cgi_jsoc_fetch="jsoc_fetch",
            cgi_check_address="checkAddress.sh",
            http_download_baseurl=base,
        )
    try:
        return _server_configs[server.lower()]
    except KeyError:
        msg = f"unknown JSOC server {server!r}: give 'jsoc', a drms.ServerConfig or a base URL (http://...)"
        raise ValueError(msg) from None


def _connection_error(exc, what, config):
    """Turn urllib/JSON errors into a `JSOCConnectionError` with a useful message."""
    where = config.cgi_baseurl or config.name
    if isinstance(exc, HTTPError):
        reason = http.client.responses.get(exc.code, "error")
        msg = (f"JSOC answered HTTP {exc.code} ({reason}) to {what} at {where}. The server has a "
               "problem: try again in a few minutes (http://jsoc.stanford.edu/ shows its status).")
    elif isinstance(exc, URLError):
        msg = (f"cannot reach JSOC at {where} for {what}: {exc.reason}. Check the network connection; "
               "JSOC is sometimes down for maintenance.")
    elif isinstance(exc, (TimeoutError, OSError)):
        msg = f"the connection to JSOC at {where} failed during {what}: {exc}. Try again later."
    else:
        msg = f"JSOC at {where} sent an answer to {what} that is not JSON ({exc}); try again later."
    return JSOCConnectionError(msg)


def call(config, what, func, *args, retries=0, retry_wait=2.0, **kwargs):
    """Call a drms function, retrying idempotent calls on server errors, translating exceptions."""
    if retries < 0:
        msg = f"retries must be an integer ≥ 0, not {retries!r}."
        raise ValueError(msg)
    for attempt in range(retries + 1):
        try:
            return func(*args, **kwargs)
        except (HTTPError, URLError, OSError, ValueError) as exc:
            if isinstance(exc, ValueError) and not isinstance(exc, json.JSONDecodeError):
                raise
            if isinstance(exc, HTTPError) and exc.code < 500:
                raise _connection_error(exc, what, config) from exc
            if attempt == retries:
                raise _connection_error(exc, what, config) from exc
            log.info("JSOC %s failed (%s); retrying in %.1f s", what, exc, retry_wait)
            time.sleep(retry_wait * 2**attempt)
    raise AssertionError("unreachable")


def jsoc_client(email=None, *, server=None, check_email=True, retry_wait=2.0):
    """
    A `drms.Client`, with its email address checked with JSOC.

    Parameters
    ----------
    email : str, optional
        Address registered at JSOC (default ``$JSOC_EMAIL``); not needed for searches.
    server : see `server_config`, optional
    check_email : bool, optional
        Ask the server whether the address is registered (one request, retried once on failure).
    retry_wait : float, optional
        Seconds before that retry.

    Returns
    -------
    `drms.Client`

    Raises
    ------
    JSOCEmailError
        JSOC says the address is not registered.
    JSOCConnectionError
        JSOC could not be reached.
    """
    import drms

    config = server_config(server)
    client = drms.Client(config)
    if email is not None:
        email = get_email(email)
        if check_email and config.check_supported("email"):
            try:
                # drms asks the server (checkAddress.sh) when the address is set
                call(config, "the email check", setattr, client, "email", email, retries=1,
                      retry_wait=retry_wait)
            except JSOCConnectionError:
                raise
            except ValueError as exc:
                msg = (f"JSOC does not accept {email!r} for exports: the address is not registered. "
                       f"Register it at {REGISTER_URL} (and answer the confirmation email), then pass "
                       "it with email=... or JSOC_EMAIL.")
                raise JSOCEmailError(msg) from exc
        else:
            client._email = email  # drms' setter would ask a server that cannot check addresses
    return client


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
    >>> from sunpy_enhance.net.jsoc import hmi_series
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
    >>> from sunpy_enhance.net.jsoc import record_set
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
        The arguments of JSOC's ``im_patch``; pass as ``cutout=`` to `request_export` or
        `~sunpy_enhance.net.exports.fetch_hmi`, or as ``process={"im_patch": ...}`` to `drms.Client.export`.

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
    >>> from sunpy_enhance.net.jsoc import im_patch
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
    if cutout is None:
        return None
    if isinstance(cutout, dict):
        return {"im_patch": dict(cutout)}
    if isinstance(cutout, (tuple, list)) and len(cutout) == 2:
        return {"im_patch": im_patch(cutout[0], cutout[1], obstime=start)}
    msg = "cutout must be the dict made by im_patch(...) or a (bottom_left, top_right) pair of SkyCoords"
    raise TypeError(msg)


def search_hmi(series, start, end=None, *, cadence=None, keys=("T_REC", "T_OBS", "QUALITY"), server=None,
               retries=2, retry_wait=2.0):
    """
    The records of an HMI series in a time range, without exporting anything.

    Parameters
    ----------
    series, start, end, cadence
        As for `record_set`.
    keys : sequence of str, optional
        JSOC keywords to return.
    server : see `server_config`, optional
    retries : int, optional
        Further tries after an HTTP 5xx answer or a network error.
    retry_wait : float, optional
        Seconds before the first retry, doubled for each further one.

    Returns
    -------
    `astropy.table.Table`
        One row per record; ``QUALITY`` as an integer (0 = good).

    Raises
    ------
    JSOCQueryError
        JSOC refused the query.
    JSOCConnectionError
        JSOC could not be reached.
    """
    from astropy.table import Table
    from drms import DrmsQueryError

    client = jsoc_client(server=server)
    config = client._server
    ds = record_set(series, start, end, cadence=cadence).split("{")[0]
    try:
        frame = call(config, "the record search (rs_list)", client.query, ds, key=list(keys),
                      skip_conversion=["QUALITY"], retries=retries, retry_wait=retry_wait)
    except DrmsQueryError as exc:
        msg = f"JSOC refused the search {ds}: {exc}"
        raise JSOCQueryError(msg) from exc
    table = Table()
    for key in keys:
        values = list(frame[key]) if key in frame else []
        if key == "QUALITY":
            values = [int(str(v), 16) if str(v).lower().startswith("0x") else int(float(v)) for v in values]
        table[key] = values if values else np.array([], dtype=str)
    return table


def _export_error(exc, request_id):
    """A `JSOCExportError` from a drms export error (its message ends with ``[status=N]``)."""
    text = str(exc)
    m = re.search(r"\[status=(-?\d+)\]", text)
    status = int(m.group(1)) if m else None
    detail = re.sub(r"\s*\[status=-?\d+\]\s*$", "", text)
    meaning = _STATUS_TEXT.get(status, "the export failed")
    advice = {
        3: "Ask for a shorter time range, a coarser cadence or a cutout, or split the request.",
        4: "Check the series, the times, the cutout and the email address.",
        5: "Submit the export again (exports are kept on the server for a few days).",
        6: "Check the request id, or submit the export again.",
        7: "Try again later; if it keeps failing, report it to JSOC.",
    }.get(status, "Try again later.")
    rid = f" {request_id}" if request_id else ""
    msg = f"JSOC export{rid} failed (status {status}): {meaning}: {detail}. {advice}"
    return JSOCExportError(msg, status=status, request_id=request_id)


def request_export(series, start, end=None, *, cadence=None, cutout=None, email=None, server=None,
                   client=None):
    """
    Submit an export of HMI records as FITS files (method ``url``) and return at once.

    Parameters
    ----------
    series, start, end, cadence
        As for `record_set`.
    cutout : dict or (SkyCoord, SkyCoord), optional
        A cutout made by `im_patch`, or its bottom-left and top-right corners; full disk without.
    email : str, optional
        Registered address (default ``$JSOC_EMAIL``).
    server : see `server_config`, optional
    client : `drms.Client`, optional
        A client made by `jsoc_client` (then ``email`` and ``server`` are not used).

    Returns
    -------
    `drms.ExportRequest`
        Pass it to `wait_for_export`.

    Raises
    ------
    JSOCEmailError, JSOCExportError, JSOCConnectionError
    """
    from drms import DrmsExportError

    if client is None:
        client = jsoc_client(get_email(email), server=server)
    ds = record_set(series, start, end, cadence=cadence)
    process = cutout_process(cutout, start)
    request = call(client._server, "the export request (exp_request)", client.export, ds, method="url",
                    protocol="fits", process=process)
    if request.has_failed(skip_update=True):
        try:
            request.wait(timeout=0)
        except DrmsExportError as exc:
            raise _export_error(exc, request.id) from exc
    return request


def wait_for_export(request, *, timeout=None, poll_interval=5.0, retries=3):
    """
    Wait until JSOC has staged an export.

    Parameters
    ----------
    request : `drms.ExportRequest`
    timeout : float, optional
        Seconds to wait; by default until JSOC finishes (large exports take minutes to hours).
    poll_interval : float, optional
        Seconds between status queries.
    retries : int, optional
        Consecutive failed status queries (HTTP 5xx, network errors, "request not found" just after
        submission) tolerated before giving up.

    Returns
    -------
    `drms.ExportRequest`
        The same request, finished successfully.

    Raises
    ------
    JSOCExportError
        JSOC reports a failure (status 3, 4, 5, 6, 7).
    JSOCTimeoutError
        Not finished within ``timeout``; the export continues on the server and can be picked up
        later with its ``request_id`` (``fetch_hmi(..., request_id=...)``).
    JSOCConnectionError
        The status could not be read ``retries`` times in a row.
    """
    from drms import DrmsExportError

    config = request._client._server
    started = time.monotonic()
    failures = 1 if request.status == 6 else 0  # e.g. export_from_id with an unknown id
    while True:
        try:
            finished = request.has_finished()
        except (HTTPError, URLError, OSError, json.JSONDecodeError) as exc:
            failures += 1
            if failures > retries:
                error = _connection_error(exc, f"the status of export {request.id}", config)
                msg = (f"{error} The export goes on on the server: fetch it later with "
                       f"request_id={request.id!r} (sunpy-enhance fetch --request-id {request.id}).")
                raise JSOCConnectionError(msg) from exc
            log.info("status of export %s unavailable (%s); asking again", request.id, exc)
            finished = False
        else:
            if request.status == 6 and not finished:
                failures += 1
                if failures > retries:
                    raise _export_error(DrmsExportError(f"Request {request.id} not found [status=6]"),
                                        request.id)
            else:
                failures = 0
        if finished:
            try:
                request.wait(timeout=0)  # raises for failed requests
            except DrmsExportError as exc:
                raise _export_error(exc, request.id) from exc
            return request
        if timeout is not None and time.monotonic() - started + poll_interval > timeout:
            msg = (f"JSOC has not finished export {request.id} after {time.monotonic() - started:.0f} s "
                   f"(status {request.status}: still being staged). It goes on on the server: fetch it "
                   f"later with request_id={request.id!r} (sunpy-enhance fetch --request-id {request.id}).")
            raise JSOCTimeoutError(msg, request_id=request.id)
        log.info("export %s pending (status %s); next check in %.0f s", request.id, request.status,
                 poll_interval)
        time.sleep(poll_interval)


def export_files(request):
    """
    The files of a finished export: ``[(filename, url), ...]``.

    Parameters
    ----------
    request : `drms.ExportRequest`
        Finished (see `wait_for_export`).

    Returns
    -------
    list of (str, str)

    Raises
    ------
    JSOCExportError
        A file name is not a plain FITS file name (see `check_export_filename`): nothing is written.
    """
    urls = request.urls
    files = [(str(name), str(url)) for name, url in zip(urls.filename, urls.url)]
    for name, _ in files:
        try:
            check_export_filename(name)
        except ValueError as exc:
            msg = (f"JSOC export {request.id} names a file {name!r} that sunpy-enhance will not write: {exc}; "
                   "nothing was written. The answer did not come from JSOC as expected (drms talks plain "
                   "http: check the server address, or fetch over https).")
            raise JSOCExportError(msg, request_id=request.id) from None
    return files


#: What an exported FITS file may be called: a plain base name (``hmi.m_45s.20140301_000045_TAI.2.magnetogram.fits``).
_EXPORT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*\.fits", re.IGNORECASE)


def check_export_filename(name):
    """
    Check that a file name from an export answer is a plain FITS base name, safe to join to a folder.

    Parameters
    ----------
    name : str

    Raises
    ------
    ValueError
        The name holds a path separator, ``..``, a leading dot or other characters than letters, digits
        and ``_.+-``, or does not end in ``.fits``; the message says which.
    """
    name = str(name)
    if "/" in name or "\\" in name or os.sep in name or (os.altsep and os.altsep in name):
        reason = "it holds a path separator"
    elif ".." in name:
        reason = "it holds '..'"
    elif not name.lower().endswith(".fits"):
        reason = "it does not end in .fits"
    elif _EXPORT_NAME.fullmatch(name) is None:
        reason = "only letters, digits and _.+- are allowed, not at the start a dot"
    else:
        return
    msg = f"{name!r} is not a plain FITS file name ({reason})"
    raise ValueError(msg)
