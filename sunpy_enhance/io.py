"""
Writing results safely: never over an existing file unless asked, never a partial file under the final name.
"""
import os
import tempfile
import warnings
from pathlib import Path

__all__ = ["save_map_atomic"]


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
    path = Path(path)
    if path.exists() and not overwrite:
        msg = f"{path} exists; pass overwrite=True (--overwrite) to replace it."
        raise FileExistsError(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part.fits", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            # astropy notes that long HISTORY/keyword values are split into CONTINUE cards: expected.
            warnings.filterwarnings("ignore", message=".*[Cc]ard is too long.*")
            smap.save(tmp, filetype="fits", overwrite=True)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; a normal file follows the umask
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask():
    """The process's file-creation mask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
