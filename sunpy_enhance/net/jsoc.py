"""
The JSOC client: search and export SDO/HMI data at JSOC with drms.

It checks the email address, searches (`search_hmi`), submits exports of the record sets and cutouts that
`sunpy_enhance.net.records` builds (`request_export`), waits for them (`wait_for_export`) and lists their
files (`export_files`); `sunpy_enhance.net.exports` downloads them (with
``sunpy_enhance.net.download.download_files``: parfive, verified, atomic, cached). Errors JSOC reports (export
status 3, 4, 5, 6, 7, HTTP errors, an unknown email address) become `JSOCError` subclasses whose message says
what happened and what to do.

A registered email address is needed for exports (not for searches): pass ``email=`` or set the
``JSOC_EMAIL`` environment variable; register at http://jsoc.stanford.edu/ajax/register_email.html.
"""
import http.client
import json
import logging
import os
import re
import time
from urllib.error import HTTPError, URLError

import numpy as np

from sunpy_enhance.net.records import cutout_process, record_set

__all__ = [
    "JSOCConnectionError",
    "JSOCEmailError",
    "JSOCError",
    "JSOCExportError",
    "JSOCQueryError",
    "JSOCTimeoutError",
    "call",
    "check_export_filename",
    "export_files",
    "get_email",
    "jsoc_client",
    "request_export",
    "search_hmi",
    "server_config",
    "wait_for_export",
]

log = logging.getLogger(__name__)

REGISTER_URL = "http://jsoc.stanford.edu/ajax/register_email.html"

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


def search_hmi(series, start, end=None, *, cadence=None, keys=("T_REC", "T_OBS", "QUALITY"), server=None,
               retries=2, retry_wait=2.0):
    """
    The records of an HMI series in a time range, without exporting anything.

    Parameters
    ----------
    series, start, end, cadence
        As for `~sunpy_enhance.net.records.record_set`.
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
        As for `~sunpy_enhance.net.records.record_set`.
    cutout : dict or (SkyCoord, SkyCoord), optional
        A cutout made by `~sunpy_enhance.net.records.im_patch`, or its bottom-left and top-right corners; full
        disk without.
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
