"""
Enhance what `sunpy.net.Fido` finds or fetched.

For users who already search with ``Fido.search(a.Time(...), a.jsoc.Series(...), a.jsoc.Notify(...))``:
`enhance_fido_results` takes the search results (or the files ``Fido.fetch`` returned), downloads what
is needed and writes enhanced FITS files, with one report of what was done and what failed.

JSOC results are exported with sunpy's `~sunpy.net.jsoc.JSOCClient` (so exactly the records Fido
found, cutouts included) and downloaded with ``sunpy_enhance.net.download.download_files``: verified,
atomic, retried, cached, and remembered so that a second run neither re-exports nor re-downloads.
Results from other clients are fetched with ``Fido.fetch``.
"""
import hashlib
import json
import logging
from pathlib import Path

from sunpy_enhance.exceptions import warn_user

__all__ = ["enhance_fido_results", "fetch_fido_results"]

log = logging.getLogger(__name__)


def _blocks(results):
    """The query-response tables in ``results`` (a UnifiedResponse or one table)."""
    from sunpy.net.base_client import QueryResponseTable
    from sunpy.net.fido_factory import UnifiedResponse

    if isinstance(results, UnifiedResponse):
        return list(results)
    if isinstance(results, QueryResponseTable):
        return [results]
    return None


def _query_key(block):
    """A stable description of a JSOC search (its query arguments without the email address)."""
    args = []
    for query in block.query_args:
        args.append({k: str(v) for k, v in sorted(query.items()) if k != "notify"})
    return "fido-jsoc:" + json.dumps(args, sort_keys=True)


def _jsoc_block(block, directory, *, overwrite, progress, max_conn, max_retries, retry_wait, timeout,
                poll_interval, download_timeout):
    from sunpy_enhance.net import exports
    from sunpy_enhance.net import jsoc as J

    for query in block.query_args:
        if "notify" not in query:
            msg = ("JSOC needs a registered email address to export data: add "
                   "a.jsoc.Notify('you@example.org') to Fido.search. "
                   f"Register an address at {J.REGISTER_URL}.")
            raise J.JSOCEmailError(msg)
    if len(block) != getattr(block, "_original_num_rows", len(block)):
        warn_user("JSOC exports whole searches: all the records of the original Fido search are exported and "
                  "enhanced, not only the rows kept after slicing. Narrow the search instead.")
    config = J.server_config()  # sunpy's JSOCClient talks to drms' registered "jsoc" server
    description = _query_key(block)
    manifest = Path(directory) / ".jsoc-exports" / (
        hashlib.sha1(description.encode()).hexdigest()[:16] + ".json")

    def submit():
        try:
            requests = J.call(config, "the export request (exp_request)", block.client.request_data, block)
        except J.JSOCError:
            raise
        except ValueError as exc:
            if "not registered" not in str(exc):
                raise
            # drms checked the Notify address with JSOC: "Email address is invalid or not registered"
            notify = block.query_args[0].get("notify")
            msg = (f"JSOC does not accept {notify!r} for exports: the address is not registered. Register it "
                   f"at {J.REGISTER_URL}, then search again with a.jsoc.Notify(...).")
            raise J.JSOCEmailError(msg) from exc
        requests = requests if isinstance(requests, list) else [requests]
        for request in requests:
            if request.has_failed(skip_update=True):
                J.wait_for_export(request, timeout=0)  # raises the JSOCExportError
        return requests

    return exports.fetch_exports(Path(directory), manifest, submit, config=config, description=description,
                            overwrite=overwrite, progress=progress, max_conn=max_conn,
                            max_retries=max_retries, retry_wait=retry_wait, timeout=timeout,
                            poll_interval=poll_interval, download_timeout=download_timeout)


def _records_from_parfive(results, timeout=90.0):
    """`DownloadRecord` list for what ``Fido.fetch`` returned: files (checked) and errors."""
    from sunpy_enhance.io import CorruptFileError, verify_file
    from sunpy_enhance.net.download import DownloadRecord, _describe

    records = []
    urls = list(getattr(results, "urls", [])) or [""] * len(results)
    for path, url in zip(results, urls):
        try:
            verify_file(path, checksum=True)
        except (CorruptFileError, FileNotFoundError) as exc:
            records.append(DownloadRecord(url, Path(path), "failed",
                                          f"{exc} (delete it and fetch it again)", 1))
        else:
            records.append(DownloadRecord(url, Path(path), "downloaded", "", 1))
    for error in getattr(results, "errors", []):
        reason, _ = _describe(error.exception, timeout)
        name = str(error.url).rstrip("/").rsplit("/", 1)[-1]
        records.append(DownloadRecord(str(error.url), Path(name), "failed", reason, 1))
    return records


def fetch_fido_results(results, directory=None, *, overwrite=False, progress=True, max_conn=2, max_retries=3,
                       retry_wait=2.0, timeout=None, poll_interval=5.0, download_timeout=90.0):
    """
    Download the files of Fido search results (or take the files of a finished ``Fido.fetch``).

    Parameters
    ----------
    results : UnifiedResponse, QueryResponseTable, `parfive.Results` or list of path-like
        What ``Fido.search`` returned (JSOC searches need ``a.jsoc.Notify``), or what ``Fido.fetch``
        returned, or file paths.
    directory : path-like, optional
        Download directory; default ``<sunpy download dir>/jsoc``.
    overwrite, progress, max_conn, max_retries, retry_wait, timeout, poll_interval, download_timeout
        As for `sunpy_enhance.net.exports.fetch_hmi`.

    Returns
    -------
    ``sunpy_enhance.net.download.DownloadReport``
        One record per file, ``failed`` ones with the reason (``Fido.fetch`` errors included).

    Raises
    ------
    `~sunpy_enhance.net.jsoc.JSOCError`
        An export could not be made (email, JSOC status, connection).
    """
    import sunpy.net

    from sunpy_enhance.net import exports
    from sunpy_enhance.net.download import DownloadRecord, DownloadReport

    directory = Path(directory) if directory is not None else exports.default_directory()
    blocks = _blocks(results)
    if blocks is None:
        if hasattr(results, "errors"):  # parfive.Results from Fido.fetch
            return DownloadReport(_records_from_parfive(results, download_timeout))
        if isinstance(results, (str, Path)):
            results = [results]
        return DownloadReport(DownloadRecord("", Path(p), "cached") for p in results)

    report = DownloadReport()
    options = {"overwrite": overwrite, "progress": progress, "max_conn": max_conn, "max_retries": max_retries,
               "retry_wait": retry_wait, "timeout": timeout, "poll_interval": poll_interval,
               "download_timeout": download_timeout}
    for block in blocks:
        if len(block) == 0:
            continue
        if type(block.client).__name__ == "JSOCClient":
            report.extend(_jsoc_block(block, directory, **options))
        else:
            fetched = sunpy.net.Fido.fetch(block, path=str(directory / "{file}"), progress=progress,
                                           overwrite=overwrite, max_conn=max_conn)
            report.extend(_records_from_parfive(fetched, download_timeout))
    return report


def enhance_fido_results(results, output_dir, *, download_dir=None, overwrite=False, progress=True,
                         max_retries=3, retry_wait=2.0, timeout=None, poll_interval=5.0, callback=None,
                         **enhance_kwargs):
    """
    Download (if needed) and enhance Fido results; write ``*.enhanced.fits`` files and report.

    Parameters
    ----------
    results
        What ``Fido.search`` or ``Fido.fetch`` returned, or file paths (see `fetch_fido_results`).
    output_dir : path-like
        Where the enhanced FITS files go.
    download_dir : path-like, optional
        Where downloads go; default ``<sunpy download dir>/jsoc``.
    overwrite : bool, optional
        Download and enhance again what is already there.
    progress : bool, optional
        Show download progress bars.
    max_retries, retry_wait, timeout, poll_interval
        As for `sunpy_enhance.net.exports.fetch_hmi`.
    callback : callable, optional
        Called with each `~sunpy_enhance.files.FileRecord` as it is known.
    **enhance_kwargs
        Passed to `sunpy_enhance.enhance.enhance_map` (``model=``, ``tile_size=``, …).

    Returns
    -------
    `sunpy_enhance.files.EnhanceReport`
        One record per file: done, skipped (enhanced before) or failed, with the reason; failed
        downloads appear as failed records whose reason starts with "download failed".
        ``report.maps()`` reads the enhanced maps.

    Raises
    ------
    ValueError
        A JSOC search of an already deconvolved series (``hmi.M_720s_dconS``, any ``_dcon`` series), before
        anything is exported (`sunpy_enhance.hmi.check_not_deconvolved`).

    Examples
    --------
    >>> from sunpy.net import Fido, attrs as a
    >>> from sunpy_enhance.net.fido import enhance_fido_results
    >>> found = Fido.search(a.Time("2014-03-01 00:00", "2014-03-01 00:02"), a.jsoc.Series("hmi.M_45s"),
    ...                     a.jsoc.Notify("you@example.org"))  # doctest: +SKIP
    >>> report = enhance_fido_results(found, "enhanced")  # doctest: +SKIP
    >>> maps = report.maps()  # doctest: +SKIP
    """
    from sunpy_enhance.files import EnhanceReport, FileRecord, enhance_files
    from sunpy_enhance.hmi import check_not_deconvolved

    for block in _blocks(results) or []:  # before exporting anything: deconvolved data cannot be enhanced
        for query in getattr(block, "query_args", None) or []:
            check_not_deconvolved(series=query.get("series"), consequence="it cannot be enhanced")
    downloads = fetch_fido_results(results, download_dir, overwrite=overwrite, progress=progress,
                                   max_retries=max_retries, retry_wait=retry_wait, timeout=timeout,
                                   poll_interval=poll_interval)
    enhanced = iter(enhance_files(downloads.paths, output_dir, overwrite=overwrite, callback=callback,
                                  **enhance_kwargs))
    report = EnhanceReport()
    for record in downloads:
        if record.status == "failed":
            failed = FileRecord(record.url or str(record.path), None, "failed",
                                f"download failed: {record.reason}")
            if callback is not None:
                callback(failed)
            report.append(failed)
        else:
            report.append(next(enhanced))
    return report
