"""
Reading: `read_map` (one image as a Map, checked for truncation first), `read_images` (an image or a stack of
images from FITS, ``.npy``, HDF5 or IDL save files) and its 2-D form `read_array`, `read_data` (an array of any
shape with its FITS header), `read_header` and `tile_compression` (what is in a FITS file, without its data).
"""
from pathlib import Path

import numpy as np

from sunpy_enhance.io.verify import CorruptFileError, verify_file

__all__ = ["FITS_SUFFIXES", "read_array", "read_data", "read_header", "read_images", "read_map", "tile_compression"]

#: Names of FITS files, longest first (so that ``x.fits.gz`` is not taken for ``x.fits`` + ``.gz``).
FITS_SUFFIXES = (".fits.gz", ".fits.fz", ".fits", ".fts", ".fit")


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
    sunpy_enhance.io.CorruptFileError
        The file is truncated or not FITS (checked from its headers; a gzipped file is checked by the FITS
        reader as it decompresses).
    ValueError
        sunpy cannot make a map of it, or it holds more than one image.
    """
    import sunpy.map

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


def _load(path, key):
    """The array in a file: ``.npy``, FITS (first image HDU with data), HDF5 or IDL save (``key`` or the only one)."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".npy"):
        return np.load(path)
    if name.endswith(FITS_SUFFIXES + (".fts.gz", ".fit.gz")):
        from astropy.io import fits

        with fits.open(path) as hdul:
            hdu = next((h for h in hdul if h.data is not None and getattr(h, "is_image", True)), None)
            if hdu is None:
                msg = f"{path} has no image data."
                raise ValueError(msg)
            return np.array(hdu.data)
    if name.endswith((".h5", ".hdf5", ".hdf")):
        import h5py

        with h5py.File(path, "r") as f:
            if key is None:
                names = [n for n in f if isinstance(f[n], h5py.Dataset)]
                if len(names) != 1:
                    msg = f"{path} holds datasets {names}; say which one with key=."
                    raise ValueError(msg)
                key = names[0]
            return f[key][...]
    if name.endswith((".sav", ".idl")):
        from scipy.io import readsav

        content = readsav(str(path))
        if key is None:
            if len(content) != 1:
                msg = f"{path} holds {sorted(content)}; say which with key=."
                raise ValueError(msg)
            key = next(iter(content))
        return np.asarray(content[key])
    msg = (f"Cannot read {path}: use .npy, FITS (.fits, .fit, .fts, optionally .gz), HDF5 (.h5, .hdf5) or IDL "
           "save (.sav, .idl) files.")
    raise ValueError(msg)


def read_images(path, *, key=None):
    """
    Read an image or a stack of images, e.g. for training, from ``.npy``, FITS, HDF5 or IDL save files.

    Parameters
    ----------
    path : `os.PathLike`
        ``.npy``; ``.fits``/``.fit``/``.fts`` (optionally ``.gz``): the first image HDU with data;
        ``.h5``/``.hdf5``: the dataset ``key`` (or the only one); ``.sav``/``.idl``: the variable ``key``
        (or the only one).
    key : str, optional
        HDF5 dataset or IDL save variable.

    Returns
    -------
    `numpy.ndarray`
        float32, 2-D ``(y, x)`` or 3-D ``(n, y, x)``; higher dimensions are flattened into ``n``.

    Raises
    ------
    ValueError
        Another kind of file, no image data, or fewer than 2 dimensions.
    """
    data = np.asarray(_load(path, key), dtype=np.float32)
    if data.ndim < 2:
        msg = f"{path} holds a {data.ndim}-D array; images (2-D) or stacks of images are needed."
        raise ValueError(msg)
    if data.ndim > 3:
        data = data.reshape(-1, *data.shape[-2:])
    return data


def read_array(path, *, key=None, allow_nan=False):
    """
    Read one 2-D image (as ``read_images`` reads files; length-1 axes removed), in float64.

    Parameters
    ----------
    path : `os.PathLike`
    key : str, optional
        HDF5 dataset or IDL save variable (needed where the file holds more than one).
    allow_nan : bool, optional
        Keep NaN pixels (e.g. outside a SHARP region) instead of refusing the file.

    Returns
    -------
    `numpy.ndarray`
        float64 2-D array.

    Raises
    ------
    ValueError
        Another kind of file, no image data, not 2-D, or (without ``allow_nan``) non-finite pixels.
    """
    data = np.squeeze(np.asarray(_load(path, key), dtype=float))
    if data.ndim != 2:
        msg = f"{path} holds an array of shape {data.shape}; a 2-D image is needed."
        raise ValueError(msg)
    if not allow_nan and not np.all(np.isfinite(data)):
        msg = f"{path} has non-finite pixels; crop or fill them before training."
        raise ValueError(msg)
    return data
