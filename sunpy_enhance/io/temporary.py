"""
The hidden temporary files of the atomic writers and downloads (`make_temporary`), and the removal of those that
killed writers left behind (`remove_stale_temporaries`).
"""
import os
import re
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["STALE_AFTER", "make_temporary", "remove_stale_temporaries"]


#: Seconds after which the temporary file of a writer on another machine (or with a process id since reused)
#: that has not been written to is taken for the orphan of a killed writer (`remove_stale_temporaries`).
STALE_AFTER = 3600.0
_REUSED_PID_AFTER = 86400.0
#: ``.<name>.<writer tag>-<pid>-<random>.part[<suffix>]``, as `make_temporary` names them.
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.(?P<tag>[0-9a-f]{8})-(?P<pid>[0-9]+)-[a-z0-9_]{8}\.part"
                        r"(?:\.weights)?(?:\.[^./\\]+)?")
_cleaned_folders = set()
_cleaned_lock = threading.Lock()


def make_temporary(path, *, keep_suffix=True):
    """
    Create an empty temporary file next to ``path``, to write ``path`` under, and return it.

    The name, ``.<name>.<writer>-<pid>-<random>.part<suffix>``, is hidden, unpredictable (`tempfile.mkstemp`)
    and says which process on which machine writes it (``<writer>`` stands for the host and its process-id
    namespace); ``<suffix>`` is the suffix of ``path`` (so that writers that go by it, such as `numpy.save`,
    write the right format; ``.weights.h5`` whole, as Keras requires it) unless ``keep_suffix`` is False. The
    first call for a folder in each process removes from it the temporary files that killed writers left
    (`remove_stale_temporaries`).

    Parameters
    ----------
    path : `os.PathLike`
        The file that will be written.
    keep_suffix : bool, optional
        End the name with ``.part`` + the suffix of ``path`` (else with ``.part``).

    Returns
    -------
    `pathlib.Path`
    """
    path = Path(path)
    with _cleaned_lock:
        first = path.parent.resolve() not in _cleaned_folders
    if first:
        remove_stale_temporaries(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_writer_tag()}-{os.getpid()}-",
                               suffix=".part" + (_suffix(path) if keep_suffix else ""), dir=path.parent)
    os.close(fd)
    return Path(tmp)


def _suffix(path):
    return ".weights.h5" if path.name.endswith(".weights.h5") else path.suffix


def remove_stale_temporaries(folder):
    """
    Remove the temporary files of killed writers (`make_temporary`'s) from ``folder``.

    A writer killed (SIGKILL, out of memory, power cut) cannot delete its temporary file. Such a file is
    removed when its name is one `make_temporary` gives and its writer is gone: a process of this machine
    that no longer runs, or, when that cannot be told (another machine on a shared file system, a process id
    that may have been reused), when it has not been written to for `STALE_AFTER` seconds (a day for a
    running process id). Nothing else is touched: not other hidden or ``.part`` files, not links, not folders.

    Parameters
    ----------
    folder : `os.PathLike`

    Returns
    -------
    list of `pathlib.Path`
        The files removed.
    """
    removed = []
    with _cleaned_lock:
        _cleaned_folders.add(Path(folder).resolve())
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    tag, now = _writer_tag(), time.time()
    for entry in entries:
        match = _TEMPORARY.fullmatch(entry.name)
        if match is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if match["tag"] != tag:
            stale = age > STALE_AFTER
        else:
            stale = not _process_alive(int(match["pid"])) or age > _REUSED_PID_AFTER
        if stale:
            try:
                os.unlink(entry.path)
            except OSError:
                continue
            removed.append(Path(entry.path))
    if removed:
        import logging

        logging.getLogger(__name__).info("removed %d temporary file(s) of killed writers from %s: %s",
                                         len(removed), folder, ", ".join(p.name for p in removed))
    return removed


def _writer_tag():
    """8 hex digits for this machine and process-id namespace: process ids compare only within one."""
    import hashlib
    import socket

    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return hashlib.sha1(f"{socket.gethostname()}|{namespace}".encode()).hexdigest()[:8]


def _process_alive(pid):
    if os.name == "nt":  # os.kill would terminate it; on Windows only the age tells
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: it exists
        return True
    return True
