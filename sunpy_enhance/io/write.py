"""
Writing, safely: never over an existing file unless asked, never a partial file under the final name
(`atomic_write`, `save_map_atomic`, `save_fits_atomic`); tile compression of outputs (`COMPRESSIONS`,
`output_compression`, `image_hdu`).
"""
import contextlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from sunpy_enhance.io.read import tile_compression
from sunpy_enhance.io.temporary import make_temporary

__all__ = ["COMPRESSIONS", "atomic_write", "file_identity", "file_umask", "image_hdu", "output_compression",
           "save_fits_atomic", "save_map_atomic"]

_UNSET = object()

#: What ``compression=`` of the writers accepts for outputs (see `output_compression`).
COMPRESSIONS = ("keep", "none", "gzip", "rice")


# --------------------------------------------------------------------------------------------------
# Tile compression of outputs


def output_compression(compression, source=None):
    """
    The tile compression an output gets: None (a plain image), ``"gzip"`` or ``"rice"``.

    Parameters
    ----------
    compression : {"keep", "none", "gzip", "rice"}
        ``"keep"``: tile-compressed (``"gzip"``, lossless) when ``source`` is tile-compressed (as JSOC's
        Rice-compressed HMI files are), plain otherwise. ``"none"``: plain. ``"gzip"``, ``"rice"``: see
        `image_hdu`.
    source : `os.PathLike`, optional
        The input file the output is made from (None: no file, e.g. the synthetic sample).

    Returns
    -------
    str or None

    Raises
    ------
    ValueError
        For another ``compression``.
    """
    if compression not in COMPRESSIONS:
        msg = f"compression must be one of {COMPRESSIONS}, not {compression!r}."
        raise ValueError(msg)
    if compression == "none":
        return None
    if compression == "keep":
        return "gzip" if source is not None and tile_compression(source) is not None else None
    return compression


def image_hdu(data, header=None, compression=None):
    """
    An HDU for an output image: plain, or tile-compressed.

    Parameters
    ----------
    data : `numpy.ndarray`
    header : `astropy.io.fits.Header`, optional
    compression : {None, "gzip", "rice"}, optional
        None: a `~astropy.io.fits.PrimaryHDU`. Otherwise a `~astropy.io.fits.CompImageHDU` (an extension
        after an empty primary HDU; `sunpy.map.Map` and `astropy.io.fits.getdata` read it as usual):

        * ``"gzip"``: ``GZIP_2`` (byte-shuffled gzip) with ``quantize_level=0``, i.e. *no* quantization:
          lossless for floating-point data too (NaN included; every bit is kept). In the FITS tile
          compression convention (and astropy) only the gzip algorithms can compress floating-point pixels
          without quantizing them: Rice works on integers, so a float image compressed with ``RICE_1`` is
          always quantized first. The output of a Rice-compressed input is therefore gzip-compressed when
          it is to be lossless (``compression="keep"``).
        * ``"rice"``: ``RICE_1``. Integer data are kept exactly; floating-point data are quantized first
          (lossy): to 1/16 of the noise measured in each tile (``quantize_level=16``, astropy's default),
          with subtractive dithering that keeps zeros exact (``SUBTRACTIVE_DITHER_2``) and a seed from the
          data's checksum, so that the same image always gives the same file. Smallest files; the values
          differ from the computed ones by up to half a quantization step.

    Returns
    -------
    `astropy.io.fits.PrimaryHDU` or `astropy.io.fits.CompImageHDU`
    """
    from astropy.io import fits

    _check_compression(compression)
    if compression is None:
        return fits.PrimaryHDU(data, header)
    data = np.ascontiguousarray(data)  # astropy's quantizer needs C order (a rotated view is not)
    if compression == "gzip":
        return fits.CompImageHDU(data, header, compression_type="GZIP_2", quantize_level=0.0)
    return fits.CompImageHDU(data, header, compression_type="RICE_1", quantize_level=16.0,
                             quantize_method=2, dither_seed=-1)  # SUBTRACTIVE_DITHER_2, DITHER_SEED_CHECKSUM


def _check_compression(compression):
    if compression not in (None, "gzip", "rice"):
        msg = f"compression must be None, 'gzip' or 'rice', not {compression!r}."
        raise ValueError(msg)


# --------------------------------------------------------------------------------------------------
# Writing



@contextlib.contextmanager
def _long_cards_expected():
    """astropy notes that long HISTORY/keyword values are split into CONTINUE cards: expected, not worth a warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]ard is too long.*")
        yield


def save_map_atomic(smap, path, *, overwrite=False, expect=_UNSET, compression=None):
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
    compression : {None, "gzip", "rice"}, optional
        Tile compression (`image_hdu`; ``"gzip"`` is lossless). Default: a plain image.

    Returns
    -------
    `pathlib.Path`

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False, or another process wrote it since ``expect``.
    """

    def write(tmp):
        with _long_cards_expected():
            if compression is None:
                smap.save(tmp, filetype="fits", overwrite=True)
            else:  # sunpy builds the header and calls hdu_type(data=, header=)
                smap.save(tmp, filetype="fits", overwrite=True,
                          hdu_type=lambda data, header: image_hdu(data, header, compression))

    _check_compression(compression)  # a bad value fails before anything is written
    return atomic_write(path, write, overwrite=overwrite, expect=expect)


def save_fits_atomic(hdul, path, *, overwrite=False, expect=_UNSET):
    """
    Write an `~astropy.io.fits.HDUList` (or a list of HDUs) to ``path`` through `atomic_write`.

    Parameters
    ----------
    hdul : `~astropy.io.fits.HDUList` or list of HDUs
        A list that starts with an extension (such as a tile-compressed `image_hdu`) gets an empty primary
        HDU in front.
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

    if not isinstance(hdul, fits.HDUList):
        hdus = list(hdul)
        if hdus and not isinstance(hdus[0], fits.PrimaryHDU):  # e.g. an image_hdu that is tile-compressed
            hdus.insert(0, fits.PrimaryHDU())
        hdul = fits.HDUList(hdus)

    def write(tmp):
        with _long_cards_expected():
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

    The temporary file has a hidden, unpredictable name (`make_temporary`:
    ``.<name>.<writer>-<pid>-<random>.part<suffix>``, the suffix of ``path`` kept so that writers that go by
    it, such as `numpy.save`, write the right format); it gets the permissions a newly created file would
    have (``0o666`` less the umask) and is deleted if ``writer`` raises or the process is interrupted. So
    ``path`` holds either its previous content or the complete new file, never a partial one. If the process
    is killed (SIGKILL), the next writer in the folder removes the file (`remove_stale_temporaries`).

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
    tmp = make_temporary(path)
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


