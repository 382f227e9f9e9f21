"""
Downloads that survive bad connections: parfive with a cache, retries and verified, atomic files.

Every file is downloaded under a hidden temporary name (``.<name>.<writer>-<pid>-<random>.part``, see
`sunpy_enhance.io.make_temporary`) next to its final place and only renamed to its final name once it is
complete and intact: as long as the server announced it (``Content-Length``), for FITS files with every
HDU's header and data present and, where the file carries them, its ``CHECKSUM``/``DATASUM`` keywords
matching its bytes. So a file under its final name is always complete, and a file already present and
intact is not fetched again: an interrupted batch, run again, downloads only what is missing. A server
that sends too slowly does not hold a download forever: each file has a deadline (`download_deadline`).
"""
import asyncio
import concurrent.futures
import contextlib
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from sunpy_enhance.io.verify import CorruptFileError, _is_fits_name, verify_file

__all__ = ["MIN_RATE", "DownloadRecord", "DownloadReport", "download_deadline", "download_files"]

log = logging.getLogger(__name__)

#: HTTP statuses worth retrying; any other 4xx means the request itself is wrong.
_RETRY_STATUSES = {408, 425, 429}

#: The slowest average rate (bytes per second) the default deadline of a download allows (`download_deadline`).
MIN_RATE = 20_000
#: The size the default deadline assumes when the server does not announce one (a full-disk HMI file is ~15 MB).
_UNKNOWN_SIZE = 64 * 2**20


@dataclass(frozen=True)
class DownloadRecord:
    """
    What happened to one URL.

    Attributes
    ----------
    url : str
        Where the file came from.
    path : `pathlib.Path`
        Its final place on disk; it exists (and is complete) unless ``status`` is ``"failed"``.
    status : str
        ``"downloaded"``, ``"cached"`` (already present and complete, not fetched) or ``"failed"``.
    reason : str
        Why it failed (or, for a successful download, what went wrong on earlier attempts).
    attempts : int
        Download attempts made (0 for a cached file).
    """

    url: str
    path: Path
    status: str
    reason: str = ""
    attempts: int = 0


class DownloadReport(list):
    """
    A list of `DownloadRecord`, one per requested URL, in the order requested.
    """

    @property
    def paths(self):
        """Paths of the files that are present and complete (downloaded or cached)."""
        return [r.path for r in self if r.status != "failed"]

    @property
    def failed(self):
        """The records of the files that could not be downloaded."""
        return [r for r in self if r.status == "failed"]

    @property
    def ok(self):
        """`True` when no file failed."""
        return not self.failed

    def __str__(self):
        counts = {s: sum(r.status == s for r in self) for s in ("downloaded", "cached", "failed")}
        lines = [f"{len(self)} files: {counts['downloaded']} downloaded, {counts['cached']} already "
                 f"present, {counts['failed']} failed"]
        lines += [f"  FAILED {r.path.name}: {r.reason} (after {r.attempts} attempts)" for r in self.failed]
        return "\n".join(lines)


def download_deadline(size, *, timeout=90.0, min_rate=MIN_RATE):
    """
    The seconds a download of ``size`` bytes may take in all, by default: ``timeout + size / min_rate``.

    Parameters
    ----------
    size : int or None
        The size the server announced (``Content-Length``); None when it announced none (64 MiB is
        assumed then).
    timeout : float, optional
        Seconds granted for the start (connection, first bytes), as for `download_files`.
    min_rate : float, optional
        The slowest average rate (bytes per second) tolerated; 20 kB/s by default.

    Returns
    -------
    float

    Examples
    --------
    >>> from sunpy_enhance.net.download import download_deadline
    >>> download_deadline(15_000_000)  # a full-disk HMI image: 90 s + 15 MB at 20 kB/s
    840.0
    """
    return float(timeout) + (_UNKNOWN_SIZE if size is None else int(size)) / float(min_rate)


def _check_base_name(name, directory):
    """Refuse a file name that is not a plain name inside ``directory`` (``..``, separators, absolute)."""
    separators = {"/", "\\", os.sep, os.altsep} - {None}
    if (not name or name in (".", "..") or any(sep in name for sep in separators) or "\0" in name
            or Path(name).is_absolute()):
        msg = (f"refusing to download to {name!r}: a file name must be a plain name inside {directory} "
               "(no path separators, not '.' or '..'); nothing was written")
        raise ValueError(msg)


def _describe(exc, timeout):
    """A one-line reason for a parfive error, and whether retrying may help."""
    import aiohttp
    from parfive.utils import MultiPartDownloadError

    if isinstance(exc, MultiPartDownloadError):
        exc = exc.response
    if isinstance(exc, aiohttp.ClientResponse):
        retry = exc.status >= 500 or exc.status in _RETRY_STATUSES
        return f"HTTP {exc.status} {exc.reason or ''}".strip(), retry
    if isinstance(exc, CorruptFileError):
        return str(exc), True
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return f"timed out: the server sent nothing for {timeout:g} s", True
    if isinstance(exc, aiohttp.ClientPayloadError):
        m = re.search(r"received (\d+) of (\d+) bytes", str(exc))
        if m:
            return f"the connection dropped after {m.group(1)} of {m.group(2)} bytes", True
        return f"the connection dropped before the file was complete ({exc})", True
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection before the file was complete", True
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to the server ({exc})", True
    text = str(exc) or "no details"
    return f"{type(exc).__name__}: {text}", True


def _run_download(downloader):
    """
    Run a parfive download in an event loop of our own that is closed afterwards.

    parfive's ``download()`` leaves its loop (with signal handlers) open; when it is later garbage
    collected from another thread it raises "signal only works in main thread". Here the loop is
    closed, and Ctrl-C cancels the transfers (parfive then deletes its partial files) before
    `KeyboardInterrupt` propagates. Inside a running loop (Jupyter) the download runs in a thread.
    """

    def run():
        loop = asyncio.new_event_loop()
        try:
            task = loop.create_task(downloader.run_download())
            try:
                return loop.run_until_complete(task)
            except BaseException:
                task.cancel()
                with contextlib.suppress(BaseException):
                    loop.run_until_complete(task)
                raise
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def _announced_size(resp):
    headers = getattr(resp, "headers", None)
    if headers is None or headers.get("Content-Encoding", "identity") != "identity":
        return None
    length = headers.get("Content-Length")
    return int(length) if length is not None and length.isdigit() else None


def _start_deadline(url, part, size, overdue, seconds):
    """
    Cancel the download task running now (the one of ``url``) if it is not done in ``seconds``.

    Called from parfive's filename callback, which runs in the file's own task; the cancelled task deletes
    its partial file, and ``overdue[url]`` says why it ended.
    """
    task = asyncio.current_task()
    if task is None:  # not inside parfive's event loop: nothing to time
        return

    def expire():
        if task.done():
            return
        try:
            received = part.stat().st_size
        except OSError:
            received = 0
        total = f"of {size} " if size is not None else ""
        overdue[url] = (f"too slow: {received} {total}bytes arrived within the deadline of {seconds:.3g} s (about "
                        f"{received / seconds / 1000:.3g} kB/s); on a slow connection pass a larger deadline= or "
                        "a smaller min_rate=")
        task.cancel()

    asyncio.get_running_loop().call_later(seconds, expire)


def download_files(urls, directory, *, filenames=None, overwrite=False, max_conn=4, max_splits=1,
                   max_retries=3, retry_wait=2.0, timeout=90.0, deadline=None, min_rate=MIN_RATE, progress=True):
    """
    Download files into a cache directory, skipping complete ones, retrying failures.

    Parameters
    ----------
    urls : iterable of str
        HTTP(S) URLs.
    directory : path-like
        Where the files go (created if needed). Files already there under their final names and
        complete and intact (see `verify_file`, with ``checksum=True``) are not downloaded again unless
        ``overwrite`` is set; files there but incomplete or corrupted are replaced.
    filenames : iterable of str, optional
        File names, one per URL; by default the last part of each URL. Each must be a plain name
        inside ``directory`` (no path separators, not ``.`` or ``..``): anything else raises `ValueError`
        before anything is written.
    overwrite : bool, optional
        Download even the files already present.
    max_conn : int, optional
        Files downloaded in parallel.
    max_splits : int, optional
        Parallel connections per file (JSOC asks for 1).
    max_retries : int, optional
        Further attempts for files that failed with a transient error (HTTP 5xx, a dropped, stalled or
        too slow connection, a truncated or corrupted file). HTTP 4xx other than 408/429 are not retried.
    retry_wait : float, optional
        Seconds before the first retry; doubled for each further one.
    timeout : float, optional
        Seconds without data (or to connect) after which a download is abandoned and retried.
    deadline : float, optional
        Seconds a file may take in all, from the server's answer to its last byte, after which its download
        is abandoned (and retried): a server that trickles bytes, never silent for ``timeout``, cannot hold
        it forever. By default scaled by the size the server announces (`download_deadline`:
        ``timeout + size / min_rate``).
    min_rate : float, optional
        The slowest average rate (bytes per second) the default deadline tolerates; lower it on a slow
        connection.
    progress : bool, optional
        Show parfive's progress bars.

    Returns
    -------
    DownloadReport
        One `DownloadRecord` per URL: ``downloaded``, ``cached`` or ``failed`` with the reason.

    Notes
    -----
    A file is written under a hidden temporary name (``.<name>.<writer>-<pid>-<random>.part``) and renamed
    (`os.replace`, atomic) only once it has the size the server announced and, for FITS, all its HDUs and
    matching checksums (where it has them): no partial or damaged file ever carries the final name, and the
    temporary file is deleted when an attempt fails or runs past its deadline, or on Ctrl-C. One left by a
    process that was killed (SIGKILL) is removed by the next download into that folder
    (`sunpy_enhance.io.remove_stale_temporaries`). A file that fails is retried from its start:
    parfive deletes partial files, so byte ranges are not resumed, but the files already complete are
    kept, so a re-run after an interruption fetches only what is missing.
    Only one process at a time should download into the same directory.
    """
    import aiohttp
    import parfive

    from sunpy_enhance.io import make_temporary, remove_stale_temporaries

    for name, value, minimum in (("max_conn", max_conn, 1), ("max_splits", max_splits, 1),
                                 ("max_retries", max_retries, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            msg = f"{name} must be an integer ≥ {minimum}, not {value!r}."
            raise ValueError(msg)
    if not (timeout > 0 and retry_wait >= 0):
        msg = f"timeout must be > 0 and retry_wait ≥ 0 (seconds), not {timeout!r} and {retry_wait!r}."
        raise ValueError(msg)
    if not ((deadline is None or deadline > 0) and min_rate > 0):
        msg = f"deadline (seconds, or None) and min_rate (bytes/s) must be > 0, not {deadline!r} and {min_rate!r}."
        raise ValueError(msg)
    directory = Path(directory)
    urls = list(urls)
    if filenames is None:
        filenames = [url.rstrip("/").rsplit("/", 1)[-1] for url in urls]
    filenames = [str(name) for name in filenames]
    if len(filenames) != len(urls):
        msg = f"got {len(urls)} URLs but {len(filenames)} file names; give one name per URL"
        raise ValueError(msg)
    if len(set(filenames)) != len(filenames):
        msg = "two URLs would be saved under the same file name; give distinct filenames"
        raise ValueError(msg)
    for name in filenames:
        _check_base_name(name, directory)
    directory.mkdir(parents=True, exist_ok=True)

    remove_stale_temporaries(directory)  # left by downloads or writes that were killed
    records = {}
    pending = {}
    for url, name in zip(urls, filenames):
        final = directory / name
        if final.exists() and not overwrite:
            try:
                verify_file(final, checksum=True)
            except CorruptFileError as exc:
                log.info("replacing incomplete or corrupted cached file %s: %s", final, exc)
                final.unlink()
            else:
                records[url] = DownloadRecord(url, final, "cached")
                continue
        pending[url] = final

    reasons, parts = {}, {}
    attempts = dict.fromkeys(pending, 0)
    session = parfive.SessionConfig(
        timeouts=aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout),
        file_progress=progress,
    )
    try:
        for attempt in range(max_retries + 1):
            if not pending:
                break
            if attempt:
                wait = retry_wait * 2 ** (attempt - 1)
                log.info("retrying %d file(s) in %.1f s (attempt %d of %d)", len(pending), wait, attempt + 1,
                         max_retries + 1)
                time.sleep(wait)
            sizes, overdue = {}, {}
            downloader = parfive.Downloader(max_conn=max_conn, max_splits=max_splits, progress=progress,
                                            overwrite=True, config=session)
            for url, final in pending.items():
                attempts[url] += 1

                def target(*args, _url=url, _final=final, _sizes=sizes, _overdue=overdue):
                    # parfive passes (response, url) once the server has answered, from the file's own task:
                    # keep the announced size for the check, make the temporary file (parfive overwrites it,
                    # and deletes it if the attempt fails) and start the file's deadline
                    for arg in args:
                        if not isinstance(arg, str):
                            _sizes[_url] = _announced_size(arg)
                    size = _sizes.get(_url)
                    part = parts[_url] = make_temporary(_final, keep_suffix=False)
                    seconds = deadline if deadline is not None else download_deadline(size, timeout=timeout,
                                                                                      min_rate=min_rate)
                    _start_deadline(_url, part, size, _overdue, seconds)
                    return part

                downloader.enqueue_file(url, filename=target)
            results = _run_download(downloader)

            cancelled = [e for e in results.errors
                         if isinstance(e.exception, asyncio.CancelledError) and e.url not in overdue]
            if cancelled:
                raise KeyboardInterrupt
            for error in results.errors:
                if error.url in overdue:
                    reasons[error.url] = overdue[error.url]
                    continue
                reason, retry = _describe(error.exception, timeout)
                reasons[error.url] = reason
                if not retry:
                    final = pending.pop(error.url)
                    records[error.url] = DownloadRecord(error.url, final, "failed", reason,
                                                        attempts[error.url])
            for path, url in zip(results, results.urls):
                final = pending[url]
                try:
                    verify_file(path, expected_size=sizes.get(url), is_fits=_is_fits_name(final), checksum=True)
                except CorruptFileError as exc:
                    Path(path).unlink(missing_ok=True)
                    reasons[url] = str(exc).replace(Path(path).name, final.name)
                    continue
                os.replace(path, final)
                pending.pop(url)
                earlier = f"succeeded after: {reasons[url]}" if url in reasons else ""
                records[url] = DownloadRecord(url, final, "downloaded", earlier, attempts[url])
        for url, final in pending.items():
            records[url] = DownloadRecord(url, final, "failed", reasons.get(url, "not downloaded"),
                                          attempts[url])
        pending = {}
    finally:
        for part in parts.values():  # an attempt that failed or was interrupted: leave no partial file behind
            part.unlink(missing_ok=True)
    return DownloadReport(records[url] for url in urls)
