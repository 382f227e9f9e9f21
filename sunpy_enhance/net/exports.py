"""
Fetching HMI data from JSOC to a folder, resumably: submit (or find) the export, wait, download and verify,
with a manifest next to the files that records the export requests so that an interrupted fetch resumes
instead of asking JSOC again. The JSOC client itself is `sunpy_enhance.net.jsoc`.
"""
import hashlib
import json
import logging
from pathlib import Path

from sunpy_enhance.io import atomic_write
from sunpy_enhance.net.jsoc import (
    JSOCExportError,
    JSOCQueryError,
    call,
    check_export_filename,
    export_files,
    get_email,
    jsoc_client,
    request_export,
    server_config,
    wait_for_export,
)
from sunpy_enhance.net.records import cutout_process, record_set

__all__ = ["default_directory", "fetch_export", "fetch_exports", "fetch_hmi"]

log = logging.getLogger(__name__)


def default_directory():
    import sunpy

    return Path(sunpy.config.get("downloads", "download_dir")).expanduser() / "jsoc"


def _manifest_path(directory, ds, process, config):
    key = json.dumps({"ds": ds, "process": process, "server": config.cgi_baseurl or config.name},
                     sort_keys=True)
    return Path(directory) / ".jsoc-exports" / (hashlib.sha1(key.encode()).hexdigest()[:16] + ".json")


def _check_options(*, max_conn, max_retries, retry_wait, timeout, poll_interval, download_timeout,
                   download_deadline=None):
    """Refuse impossible options before anything is asked of JSOC (a bad one would fail only later)."""
    checks = [("max_conn", max_conn, 1, True, "an integer ≥ 1"),
              ("max_retries", max_retries, 0, True, "an integer ≥ 0"),
              ("retry_wait", retry_wait, 0, False, "a number ≥ 0"),
              ("timeout", timeout, 0, False, "a number > 0 or None"),
              ("poll_interval", poll_interval, 0, False, "a number > 0"),
              ("download_timeout", download_timeout, 0, False, "a number > 0"),
              ("download_deadline", download_deadline, 0, False, "a number > 0 or None")]
    for name, value, minimum, integer, allowed in checks:
        if name in ("timeout", "download_deadline") and value is None:
            continue
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # not NaN
        if ok and integer:
            ok = float(value).is_integer() and value >= minimum
        elif ok:
            ok = value >= minimum if name == "retry_wait" else value > minimum
        if not ok:
            msg = f"{name} must be {allowed}, not {value!r}."
            raise ValueError(msg)


def _write_json_atomically(path, payload):
    text = json.dumps(payload, indent=1)
    atomic_write(path, lambda tmp: tmp.write_text(text), overwrite=True)


def fetch_hmi(series, start, end=None, *, cadence=None, cutout=None, email=None, directory=None,
              server=None, request_id=None, overwrite=False, progress=True, max_conn=2, max_retries=3,
              retry_wait=2.0, timeout=None, poll_interval=5.0, download_timeout=90.0, download_deadline=None):
    """
    Find, export and download HMI records in one call; files already downloaded are not fetched again.

    Parameters
    ----------
    series : str
        One of `~sunpy_enhance.net.records.HMI_SERIES`, e.g. ``"hmi.M_45s"`` (see
        `~sunpy_enhance.net.records.hmi_series`).
    start, end, cadence
        As for `~sunpy_enhance.net.records.record_set`: one record (the slot nearest ``start``) or a range,
        every ``cadence``.
    cutout : dict or (SkyCoord, SkyCoord), optional
        A cutout made by `~sunpy_enhance.net.records.im_patch`, or its corners; full disk without.
    email : str, optional
        Registered address (default ``$JSOC_EMAIL``); needed only when an export must be submitted.
    directory : path-like, optional
        Download (cache) directory; default ``<sunpy download dir>/jsoc``.
    server : see `~sunpy_enhance.net.jsoc.server_config`, optional
    request_id : str, optional
        Pick up an export submitted before (e.g. after a `~sunpy_enhance.net.jsoc.JSOCTimeoutError`)
        instead of a new one.
    overwrite : bool, optional
        Download again files already present.
    progress : bool, optional
        Show download progress bars.
    max_conn, max_retries, retry_wait, download_timeout, download_deadline
        Passed to ``sunpy_enhance.net.download.download_files`` (``download_timeout`` as ``timeout``,
        ``download_deadline`` as ``deadline``: seconds a file may take in all, by default scaled by its size);
        ``retry_wait`` also spaces retries of failed status queries.
    timeout : float, optional
        Seconds to wait for JSOC to stage the export (default: as long as it takes).
    poll_interval : float, optional
        Seconds between export status queries.

    Returns
    -------
    ``sunpy_enhance.net.download.DownloadReport``
        One record per file (``downloaded``, ``cached`` or ``failed`` with the reason); ``.paths``
        lists the files on disk.

    Raises
    ------
    JSOCEmailError, JSOCQueryError, JSOCExportError, JSOCTimeoutError, JSOCConnectionError

    Notes
    -----
    The export (request id and file list) is remembered in ``<directory>/.jsoc-exports/``. Run
    again with the same arguments, the call returns at once when every file is present and complete,
    and otherwise reuses the same export (while JSOC keeps it, a few days) to download only the
    missing files; a new export is submitted only when the old one has expired.

    Examples
    --------
    >>> from sunpy_enhance.net.exports import fetch_hmi
    >>> report = fetch_hmi("hmi.M_45s", "2014-03-01 00:00", email="you@example.org")  # doctest: +SKIP
    >>> report.paths  # doctest: +SKIP
    [PosixPath('.../jsoc/hmi.m_45s.20140301_000000_TAI.2.magnetogram.fits')]
    """
    _check_options(max_conn=max_conn, max_retries=max_retries, retry_wait=retry_wait, timeout=timeout,
                   poll_interval=poll_interval, download_timeout=download_timeout,
                   download_deadline=download_deadline)
    directory = Path(directory) if directory is not None else default_directory()
    ds = record_set(series, start, end, cadence=cadence)
    process = cutout_process(cutout, start)
    config = server_config(server)

    def submit():
        client = jsoc_client(get_email(email), server=config, retry_wait=retry_wait)
        return [request_export(series, start, end, cadence=cadence, cutout=cutout, client=client)]

    return fetch_exports(directory, _manifest_path(directory, ds, process, config), submit, config=config,
                          description=ds, request_ids=[request_id] if request_id else None,
                          overwrite=overwrite, progress=progress, max_conn=max_conn, max_retries=max_retries,
                          retry_wait=retry_wait, timeout=timeout, poll_interval=poll_interval,
                          download_timeout=download_timeout, download_deadline=download_deadline)


def _read_manifest(manifest_path):
    if manifest_path is None or not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
    except ValueError:
        return None
    if not isinstance(manifest, dict) or "files" not in manifest or "request_ids" not in manifest:
        return None
    try:
        for name, _ in manifest["files"]:
            check_export_filename(name)
    except (TypeError, ValueError) as exc:
        # not written by us (we check the names before writing it): keep the request ids, not the names
        log.warning("ignoring the file list of %s: %s", manifest_path, exc)
        manifest = {**manifest, "files": None}
    return manifest


def fetch_exports(directory, manifest_path, submit, *, config, description, request_ids=None, overwrite,
                   progress, max_conn, max_retries, retry_wait, timeout, poll_interval, download_timeout,
                   download_deadline=None):
    """
    Download the files of one or more exports, remembering them in a manifest.

    ``submit()`` submits new exports and returns the `drms.ExportRequest` list; it is called only when
    neither the files on disk nor an earlier export (``request_ids`` or the manifest's) serve.
    """
    import drms

    from sunpy_enhance.io import verify_file
    from sunpy_enhance.net.download import DownloadRecord, DownloadReport, download_files

    manifest = _read_manifest(manifest_path) if request_ids is None else None
    if manifest is not None and manifest["files"] and not overwrite:
        cached = []
        for name, url in manifest["files"]:
            try:
                verify_file(directory / name, checksum=True)
            except OSError:
                break
            cached.append(DownloadRecord(url, directory / name, "cached"))
        else:
            log.info("all %d files of %s already in %s", len(cached), description, directory)
            return DownloadReport(cached)

    requests = None
    reuse = request_ids or (manifest or {}).get("request_ids")
    if reuse:
        client = jsoc_client(server=config)
        try:
            requests = []
            for rid in reuse:
                request = call(config, "the export status (exp_status)", client.export_from_id, rid,
                                retries=max_retries, retry_wait=retry_wait)
                requests.append(wait_for_export(request, timeout=timeout, poll_interval=poll_interval))
        except (JSOCExportError, drms.DrmsExportError) as exc:
            if request_ids is not None:
                raise
            log.info("earlier export %s is no longer available (%s); submitting a new one", reuse, exc)
            requests = None
    if requests is None:
        requests = submit()
        log.info("JSOC export %s submitted for %s", ", ".join(str(r.id) for r in requests), description)
        requests = [wait_for_export(r, timeout=timeout, poll_interval=poll_interval) for r in requests]
    files = [f for request in requests for f in export_files(request)]
    if not files:
        ids = ", ".join(str(r.id) for r in requests)
        msg = f"JSOC export {ids} of {description} holds no files: no data were recorded for these times"
        raise JSOCQueryError(msg)
    if manifest_path is not None:
        _write_json_atomically(manifest_path, {"request_ids": [r.id for r in requests],
                                               "description": description, "files": files})
    names, urls = zip(*files)
    return download_files(urls, directory, filenames=names, overwrite=overwrite, max_conn=max_conn,
                          max_splits=1, max_retries=max_retries, retry_wait=retry_wait,
                          timeout=download_timeout, deadline=download_deadline, progress=progress)


def fetch_export(request_id, directory=None, *, server=None, overwrite=False, progress=True, max_conn=2,
                 max_retries=3, retry_wait=2.0, timeout=None, poll_interval=5.0, download_timeout=90.0,
                 download_deadline=None):
    """
    Download the files of an export submitted before (by `request_export`, `fetch_hmi`, drms or the
    JSOC web page), waiting for it if it is still being staged.

    Parameters
    ----------
    request_id : str
        The request id, ``JSOC_YYYYMMDD_NNN``.
    directory, server, overwrite, progress, max_conn, max_retries, retry_wait, timeout
        As for `fetch_hmi`.
    poll_interval, download_timeout, download_deadline
        As for `fetch_hmi`.

    Returns
    -------
    ``sunpy_enhance.net.download.DownloadReport``

    Raises
    ------
    JSOCExportError
        JSOC does not know the request (status 6) or it failed or expired.
    JSOCTimeoutError, JSOCConnectionError
    """
    _check_options(max_conn=max_conn, max_retries=max_retries, retry_wait=retry_wait, timeout=timeout,
                   poll_interval=poll_interval, download_timeout=download_timeout,
                   download_deadline=download_deadline)
    directory = Path(directory) if directory is not None else default_directory()
    config = server_config(server)

    def submit():
        raise AssertionError("fetch_export never submits")

    return fetch_exports(directory, None, submit, config=config, description=request_id,
                          request_ids=[request_id], overwrite=overwrite, progress=progress, max_conn=max_conn,
                          max_retries=max_retries, retry_wait=retry_wait, timeout=timeout,
                          poll_interval=poll_interval, download_timeout=download_timeout,
                          download_deadline=download_deadline)
