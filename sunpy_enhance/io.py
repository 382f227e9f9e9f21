"""
Reading and writing files: the one home of the package's file I/O.

Reading: `read_map` (one image as a Map, checked for truncation first), `read_array` (a 2-D image from FITS,
``.npy`` or HDF5), `read_data` (an array of any shape, with its FITS header), `read_header` and
`tile_compression` (what is in a FITS file, without reading its data).

Writing, safely: never over an existing file unless asked, never a partial file under the final name
(`atomic_write`, `save_map_atomic`, `save_fits_atomic`); tile compression of outputs (`COMPRESSIONS`,
`output_compression`, `image_hdu`).
"""
import os
import re
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

__all__ = ["COMPRESSIONS", "FITS_SUFFIXES", "STALE_AFTER", "atomic_write", "file_identity", "file_umask", "image_hdu",
           "make_temporary", "output_compression", "read_array", "read_data", "read_header", "read_images", "read_map",
           "remove_stale_temporaries", "save_fits_atomic", "save_map_atomic", "tile_compression"]

_UNSET = object()

#: Names of FITS files, longest first (so that ``x.fits.gz`` is not taken for ``x.fits`` + ``.gz``).
FITS_SUFFIXES = (".fits.gz", ".fits.fz", ".fits", ".fts", ".fit")

#: What ``compression=`` of the writers accepts for outputs (see `output_compression`).
COMPRESSIONS = ("keep", "none", "gzip", "rice")


# --------------------------------------------------------------------------------------------------
# Reading

def read_map(path):
    """
    Read one image from a FITS file as a `sunpy.map.GenericMap`, after checking that the file is complete.

    Parameters
    ----------
    path : `os.PathLike`

    Returns
    -------
    `sunpy.map.GenericMap`

    Raises
    ------
    FileNotFoundError
        No such file.
    sunpy_enhance.net.download.CorruptFileError
        The file is truncated or not FITS (checked from its headers; a gzipped file is checked by the FITS
        reader as it decompresses).
    ValueError
        sunpy cannot make a map of it, or it holds more than one image.
    """
    import sunpy.map

    from sunpy_enhance.net.download import CorruptFileError, verify_file

    path = Path(path)
    if not path.is_file():
        msg = f"{path}: no such file"
        raise FileNotFoundError(msg)
    try:  # a gzipped file is checked by the FITS reader as it decompresses; others here, headers only
        verify_file(path, is_fits=not path.name.lower().endswith(".gz"))
    except CorruptFileError as exc:
        msg = f"{exc}; download it again"
        raise CorruptFileError(msg) from None
    try:
        smap = sunpy.map.Map(path)
    except Exception as exc:  # sunpy raises many kinds for unreadable files; one line is enough
        msg = f"{path.name} cannot be read as a map ({type(exc).__name__}: {exc})"
        raise ValueError(msg) from None
    if isinstance(smap, list):
        msg = f"{path.name} holds {len(smap)} images; one HMI image per file is needed"
        raise ValueError(msg)
    return smap


def _first_image(hdul, path):
    hdu = next((h for h in hdul if h.data is not None), None)
    if hdu is None:
        msg = f"{path} has no data."
        raise ValueError(msg)
    return hdu


def read_header(path):
    """
    The header of the first HDU of a FITS file that holds data (the image's header for a tile-compressed file,
    whose primary HDU is empty).

    Raises
    ------
    ValueError
        If no HDU holds data.
    """
    from astropy.io import fits

    with fits.open(path) as hdul:
        for hdu in hdul:
            if isinstance(hdu, fits.CompImageHDU) or hdu.header.get("NAXIS", 0) > 0:
                return hdu.header.copy()
    msg = f"{path} has no data."
    raise ValueError(msg)


def tile_compression(path):
    """
    How the image of a FITS file is tile-compressed (``"RICE_1"``, ``"GZIP_1"``, ``"GZIP_2"``,
    ``"HCOMPRESS_1"``, ``"PLIO_1"``), or None when it is not (a plain image, or a ``.npy`` file).
    """
    from astropy.io import fits

    if not Path(path).name.lower().endswith(FITS_SUFFIXES):
        return None
    with fits.open(path) as hdul:
        for hdu in hdul:
            if isinstance(hdu, fits.CompImageHDU):
                return str(hdu.compression_type)
            if hdu.header.get("NAXIS", 0) > 0:
                return None
    return None


def read_data(path):
    """
    Read an array of any shape and its header: from ``.npy`` (memory-mapped, no header) or the first HDU of
    a FITS file that holds data (axes in numpy order).

    Returns
    -------
    data : `numpy.ndarray`
    header : `astropy.io.fits.Header` or None

    Raises
    ------
    ValueError
        Another kind of file, or a FITS file without data.
    """
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".npy"):
        return np.load(path, mmap_mode="r"), None
    if name.endswith((".fits", ".fit", ".fts", ".fits.gz")):
        from astropy.io import fits

        with fits.open(path) as hdul:
            hdu = _first_image(hdul, path)
            return np.array(hdu.data), hdu.header.copy()
    msg = f"Cannot read a cube from {path}: use .npy or FITS."
    raise ValueError(msg)


def read_array(path, *, key=None, allow_nan=False):
    """
    Read a 2-D image from FITS (first HDU with data), ``.npy`` or HDF5 (dataset ``key``).

    Parameters
    ----------
    path : `os.PathLike`
    key : str, optional
        HDF5 dataset name (required for HDF5 files with more than one dataset).
    allow_nan : bool, optional
        Keep NaN pixels (e.g. outside a SHARP region) instead of refusing the file.

    Returns
    -------
    `numpy.ndarray`
        float64 2-D array (length-1 axes removed).

    Raises
    ------
    ValueError
        No image data, not 2-D, or (without ``allow_nan``) non-finite pixels.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        data = np.load(path)
    elif suffix in (".h5", ".hdf5", ".hdf"):
        import h5py

        with h5py.File(path, "r") as f:
            if key is None:
                names = [n for n in f if isinstance(f[n], h5py.Dataset)]
                if len(names) != 1:
                    msg = f"{path} holds datasets {names}; say which one with key=."
                    raise ValueError(msg)
                key = names[0]
            data = f[key][...]
    else:
        from astropy.io import fits

        with fits.open(path) as hdul:
            data = next((h.data for h in hdul if h.data is not None), None)
        if data is None:
            msg = f"{path} has no image data."
            raise ValueError(msg)
    data = np.squeeze(np.asarray(data, dtype=float))
    if data.ndim != 2:
        msg = f"{path} holds an array of shape {data.shape}; a 2-D image is needed."
        raise ValueError(msg)
    if not allow_nan and not np.all(np.isfinite(data)):
        msg = f"{path} has non-finite pixels; crop or fill them before training."
        raise ValueError(msg)
    return data


def read_images(path, *, key=None):
    """
    Read an image or a stack of images for training from ``.npy``, FITS or IDL save files.

    Parameters
    ----------
    path : `os.PathLike`
        ``.npy``; ``.fits``/``.fit``/``.fts`` (optionally ``.gz``): the first HDU with data;
        ``.sav``/``.idl``: the variable ``key`` (or the only one).
    key : str, optional
        Variable of an IDL save file.

    Returns
    -------
    `numpy.ndarray`
        float32, 2-D ``(y, x)`` or 3-D ``(n, y, x)``; higher dimensions are flattened into ``n``.
    """
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".npy"):
        data = np.load(path)
    elif name.endswith((".fits", ".fit", ".fts", ".fits.gz", ".fts.gz", ".fit.gz")):
        from astropy.io import fits

        with fits.open(path) as hdul:
            hdu = next((h for h in hdul if h.data is not None and getattr(h, "is_image", True)), None)
            if hdu is None:
                msg = f"{path} has no image data."
                raise ValueError(msg)
            data = np.array(hdu.data)
    elif name.endswith((".sav", ".idl")):
        from scipy.io import readsav

        content = readsav(str(path))
        if key is None:
            if len(content) != 1:
                msg = f"{path} holds {sorted(content)}; say which with key=."
                raise ValueError(msg)
            key = next(iter(content))
        data = np.asarray(content[key])
    else:
        msg = f"Cannot read {path}: use .npy, FITS (.fits, .fit, .fts) or IDL save (.sav, .idl) files."
        raise ValueError(msg)
    data = np.asarray(data, dtype=np.float32)
    if data.ndim < 2:
        msg = f"{path} holds a {data.ndim}-D array; training needs images (2-D) or stacks of images."
        raise ValueError(msg)
    if data.ndim > 3:
        data = data.reshape(-1, *data.shape[-2:])
    return data


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
        with warnings.catch_warnings():
            # astropy notes that long HISTORY/keyword values are split into CONTINUE cards: expected.
            warnings.filterwarnings("ignore", message=".*[Cc]ard is too long.*")
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


# --------------------------------------------------------------------------------------------------
# Temporary files

#: Seconds after which the temporary file of a writer on another machine (or with a process id since reused)
#: that has not been written to is taken for the orphan of a killed writer (`remove_stale_temporaries`).
STALE_AFTER = 3600.0
_REUSED_PID_AFTER = 86400.0
#: ``.<name>.<writer tag>-<pid>-<random>.part[<suffix>]``, as `make_temporary` names them.
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.(?P<tag>[0-9a-f]{8})-(?P<pid>[0-9]+)-[a-z0-9_]{8}\.part(?:\.[^./\\]+)?")
_cleaned_folders = set()
_cleaned_lock = threading.Lock()


def make_temporary(path, *, keep_suffix=True):
    """
    Create an empty temporary file next to ``path``, to write ``path`` under, and return it.

    The name, ``.<name>.<writer>-<pid>-<random>.part<suffix>``, is hidden, unpredictable (`tempfile.mkstemp`)
    and says which process on which machine writes it (``<writer>`` stands for the host and its process-id
    namespace); ``<suffix>`` is the suffix of ``path`` (so that writers that go by it, such as `numpy.save`,
    write the right format) unless ``keep_suffix`` is False. The first call for a folder in each process
    removes from it the temporary files that killed writers left (`remove_stale_temporaries`).

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
                               suffix=".part" + (path.suffix if keep_suffix else ""), dir=path.parent)
    os.close(fd)
    return Path(tmp)


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
