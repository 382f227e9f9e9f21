"""
Writing results safely: never over an existing file unless asked, never a partial file under the final name.
"""
import os
import tempfile
import warnings
from pathlib import Path

__all__ = ["atomic_write", "file_umask", "save_fits_atomic", "save_map_atomic"]


def save_map_atomic(smap, path, *, overwrite=False):
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

    Returns
    -------
    `pathlib.Path`

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    """

    def write(tmp):
        with warnings.catch_warnings():
            # astropy notes that long HISTORY/keyword values are split into CONTINUE cards: expected.
            warnings.filterwarnings("ignore", message=".*[Cc]ard is too long.*")
            smap.save(tmp, filetype="fits", overwrite=True)

    return atomic_write(path, write, overwrite=overwrite)


def save_fits_atomic(hdul, path, *, overwrite=False):
    """
    Write an `~astropy.io.fits.HDUList` (or a list of HDUs) to ``path`` through `atomic_write`.

    Parameters
    ----------
    hdul : `~astropy.io.fits.HDUList` or list of HDUs
    path : `os.PathLike`
        Destination; a name ending in ``.gz`` is gzip-compressed, as astropy does.
    overwrite : bool, optional
        Replace an existing file.

    Returns
    -------
    `pathlib.Path`

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    from astropy.io import fits

    hdul = hdul if isinstance(hdul, fits.HDUList) else fits.HDUList(list(hdul))

    def write(tmp):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]ard is too long.*")
            hdul.writeto(tmp, overwrite=True)

    return atomic_write(path, write, overwrite=overwrite)


def atomic_write(path, writer, *, overwrite=False):
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

    Returns
    -------
    `pathlib.Path`

    Raises
    ------
    FileExistsError
        If ``path`` exists (before or after writing) and ``overwrite`` is False.
    """
    path = Path(path)
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
        if overwrite:
            os.replace(tmp, path)
        else:
            _rename_no_clobber(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _rename_no_clobber(tmp, path):
    """Rename ``tmp`` to ``path`` unless ``path`` exists, atomically where the file system has hard links."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        msg = (f"{path} was written by another process while this one was working; this result was not "
               "saved. Pass overwrite=True (--overwrite) to replace it.")
        raise FileExistsError(msg) from None
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
