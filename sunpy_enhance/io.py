"""
Writing results safely: never over an existing file unless asked, never a partial file under the final name.
"""
import os
import tempfile
import warnings
from pathlib import Path

__all__ = ["atomic_write", "file_identity", "file_umask", "save_fits_atomic", "save_map_atomic"]

_UNSET = object()


def save_map_atomic(smap, path, *, overwrite=False, expect=_UNSET):
    """
    Save a map as FITS: written to a temporary file in the same folder, then renamed into place.

    A crash or interruption leaves either the old file or nothing under ``path``, never a truncated one.

    Parameters
    ----------
    smap : `sunpy.map.GenericMap`
    path : `os.PathLike`
        Destination ``.fits`` file.
    overwrite : bool, optional
        Replace an existing file.
    expect : tuple or None, optional
        See `atomic_write`.

    Returns
    -------
    `pathlib.Path`

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False, or another process wrote it since ``expect``.
    """

    def write(tmp):
        with warnings.catch_warnings():
            # astropy notes that long HISTORY/keyword values are split into CONTINUE cards: expected.
            warnings.filterwarnings("ignore", message=".*[Cc]ard is too long.*")
            smap.save(tmp, filetype="fits", overwrite=True)

    return atomic_write(path, write, overwrite=overwrite, expect=expect)


def save_fits_atomic(hdul, path, *, overwrite=False, expect=_UNSET):
    """
    Write an `~astropy.io.fits.HDUList` (or a list of HDUs) to ``path`` through `atomic_write`.

    Parameters
    ----------
    hdul : `~astropy.io.fits.HDUList` or list of HDUs
    path : `os.PathLike`
        Destination; a name ending in ``.gz`` is gzip-compressed, as astropy does.
    overwrite : bool, optional
        Replace an existing file.
    expect : tuple or None, optional
        See `atomic_write`.

    Returns
    -------
    `pathlib.Path`

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False, or another process wrote it since ``expect``.
    """
    from astropy.io import fits

    hdul = hdul if isinstance(hdul, fits.HDUList) else fits.HDUList(list(hdul))

    def write(tmp):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]ard is too long.*")
            hdul.writeto(tmp, overwrite=True)

    return atomic_write(path, write, overwrite=overwrite, expect=expect)


def file_identity(path):
    """
    What identifies the file at ``path`` now (device, inode, size, modification time), or None if there is none.

    Take it when a long computation whose result will go to ``path`` starts, and pass it to `atomic_write`
    (``expect=``): if another process has written ``path`` in the meantime, the write is refused instead of
    both processes reporting that they wrote it.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def atomic_write(path, writer, *, overwrite=False, expect=_UNSET):
    """
    Write a file atomically: ``writer(tmp)`` writes a temporary file next to ``path``, which is then renamed.

    The temporary file has an unpredictable name (`tempfile.mkstemp`: ``.<name>.<random>.part<suffix>``,
    the suffix of ``path`` kept so that writers that go by it, such as `numpy.save`, write the right
    format); it gets the permissions a newly created file would have (``0o666`` less the umask) and is
    deleted if ``writer`` raises or the process is interrupted. So ``path`` holds either its previous
    content or the complete new file, never a partial one.

    Parameters
    ----------
    path : `os.PathLike`
        The destination.
    writer : callable
        Called with the temporary `pathlib.Path`; writes the whole file there (it exists, empty, and may
        be overwritten).
    overwrite : bool, optional
        Replace an existing file. Without it the file is put in place only if nothing is there at that
        moment (a hard link, which cannot clobber): a writer that loses a race with another gets
        `FileExistsError`.
    expect : tuple or None, optional
        The `file_identity` of ``path`` when the caller started the work whose result this is (None: there
        was no file). If ``path`` has changed since (another process wrote it), nothing is written and
        `FileExistsError` says so; when there was no file, the result is put in place only if there still
        is none, even with ``overwrite``.

    Returns
    -------
    `pathlib.Path`

    Raises
    ------
    FileExistsError
        If ``path`` exists (before or after writing) and ``overwrite`` is False, or another process wrote it
        since ``expect``.
    """
    path = Path(path)
    if expect is not _UNSET and file_identity(path) != expect:
        raise FileExistsError(_lost(path))
    if path.exists() and not overwrite:
        msg = f"{path} exists; pass overwrite=True (--overwrite) to replace it."
        raise FileExistsError(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        writer(tmp)
        os.chmod(tmp, 0o666 & ~file_umask())  # mkstemp makes the file private; a normal file follows the umask
        if expect is not _UNSET and expect is not None and file_identity(path) != expect:
            raise FileExistsError(_lost(path))
        if overwrite and (expect is _UNSET or expect is not None):
            os.replace(tmp, path)
        else:
            _rename_no_clobber(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _lost(path):
    return (f"{path} was written by another process while this one was working: this result was not saved "
            "(the other one is there). Run again (with overwrite=True, --overwrite) to replace it.")


def _rename_no_clobber(tmp, path):
    """Rename ``tmp`` to ``path`` unless ``path`` exists, atomically where the file system has hard links."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(_lost(path)) from None
    except OSError:  # no hard links here (some network or FAT file systems): check, then rename
        if path.exists():
            msg = f"{path} exists; pass overwrite=True (--overwrite) to replace it."
            raise FileExistsError(msg) from None
        os.replace(tmp, path)


def file_umask():
    """
    The process's file-creation mask, read without changing it.

    `os.umask` can only be read by setting it, which for a moment changes it for every thread of the
    process; instead the mask is read from ``/proc/self/status`` (Linux) or, failing that, from the
    permissions of a file created with mode ``0o666`` in a private temporary folder.

    Returns
    -------
    int
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _umask_from_probe()


def _umask_from_probe():
    with tempfile.TemporaryDirectory() as folder:
        probe = os.path.join(folder, "probe")
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        return 0o666 & ~os.stat(probe).st_mode
