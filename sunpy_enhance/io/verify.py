"""
Is a file complete and intact? FITS structure (every header and data unit present) and ``CHECKSUM``/``DATASUM``
verification, for downloads (`sunpy_enhance.net.download`), cached files and every `~sunpy_enhance.io.read_map`.
"""
import math
import re
import warnings
from pathlib import Path

__all__ = ["CorruptFileError", "verify_file"]

_BLOCK = 2880


class CorruptFileError(OSError):
    """A downloaded or cached file is incomplete or is not what it claims to be."""


def _is_fits_name(path):
    return Path(path).name.lower().endswith((".fits", ".fit", ".fts"))


def _card_value(card):
    from astropy.io import fits

    return fits.Card.fromstring(card.decode("ascii", "replace")).value


def _check_fits(path, size):
    """Walk the HDUs of a FITS file and check that every header and data block is there."""
    name = Path(path).name
    with open(path, "rb") as f:
        offset, index = 0, 0
        while offset < size:
            f.seek(offset)
            first = f.read(80)
            expected = b"SIMPLE  =" if index == 0 else b"XTENSION="
            if not first.startswith(expected):
                if index == 0:
                    msg = f"{name} is not a FITS file (it starts with {first[:40]!r})"
                    raise CorruptFileError(msg)
                if not first.strip(b"\0 "):
                    return  # zero/blank padding after the last HDU
                msg = f"{name} has {size - offset} unexpected bytes after HDU {index - 1}"
                raise CorruptFileError(msg)
            f.seek(offset)
            keys, header_length, found_end = {}, 0, False
            while not found_end:
                block = f.read(_BLOCK)
                if len(block) < _BLOCK:
                    msg = (f"{name} is truncated: the header of HDU {index} is cut off at byte {size} "
                           "(an interrupted download?)")
                    raise CorruptFileError(msg)
                header_length += _BLOCK
                for i in range(0, _BLOCK, 80):
                    card = block[i:i + 80]
                    key = card[:8].rstrip()
                    if key == b"END":
                        found_end = True
                        break
                    if key in (b"BITPIX", b"NAXIS", b"PCOUNT", b"GCOUNT", b"GROUPS") or (
                            key.startswith(b"NAXIS") and key[5:].isdigit()):
                        keys[key.decode()] = _card_value(card)
            naxis = int(keys.get("NAXIS", 0))
            axes = [int(keys.get(f"NAXIS{i}", 0)) for i in range(1, naxis + 1)]
            if axes and axes[0] == 0 and keys.get("GROUPS") is True:
                axes = axes[1:]  # random groups
            n_elements = math.prod(axes) if naxis else 0
            bits = abs(int(keys.get("BITPIX", 8))) * int(keys.get("GCOUNT", 1)) * (
                int(keys.get("PCOUNT", 0)) + n_elements) if naxis else 0
            data_bytes = bits // 8
            data_start = offset + header_length
            if data_start + data_bytes > size:
                msg = (f"{name} is truncated: HDU {index} needs bytes up to {data_start + data_bytes} "
                       f"but the file ends at {size} (an interrupted or cut-short download?)")
                raise CorruptFileError(msg)
            offset = data_start + math.ceil(data_bytes / _BLOCK) * _BLOCK
            index += 1


def _check_checksums(path):
    """Refuse a FITS file whose ``CHECKSUM``/``DATASUM`` keywords (where present) do not match its bytes."""
    from astropy.io import fits

    name = Path(path).name
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # astropy only warns about a mismatch: collect its warnings
        try:
            # the compressed tables themselves: their sums are over the bytes stored, no decompression needed
            with fits.open(path, checksum=True, disable_image_compression=True, memmap=False) as hdul:
                len(hdul)  # load (and so check) every HDU
        except (OSError, ValueError, IndexError, TypeError) as exc:  # a header astropy cannot parse
            msg = f"{name} cannot be read as FITS ({type(exc).__name__}: {exc})"
            raise CorruptFileError(msg) from None
    failures = [str(w.message).strip().rstrip(".") for w in caught
                if re.match(r"(Checksum|Datasum) verification failed", str(w.message))]
    if failures:
        msg = (f"{name} is corrupted: {'; '.join(failures)} (its bytes differ from those its CHECKSUM/DATASUM "
               "keywords were computed from: damaged in transfer or on disk)")
        raise CorruptFileError(msg)


def verify_file(path, *, expected_size=None, is_fits=None, checksum=False):
    """
    Check that a file is complete (and intact); raise `CorruptFileError` saying what is wrong if it is not.

    Parameters
    ----------
    path : path-like
        The file.
    expected_size : int, optional
        Its size announced by the server (``Content-Length``).
    is_fits : bool, optional
        Check the FITS structure; by default when the name ends with ``.fits``, ``.fts`` or ``.fit``.
    checksum : bool, optional
        For FITS files, also check every HDU's ``CHECKSUM`` and ``DATASUM`` keywords, where present,
        against its bytes (this reads the whole file). Downloads are checked so; a file saved after being
        changed can carry stale sums (sunpy's ``Map.save`` keeps those of the file it was read from), so
        files of unknown history should not be.

    Raises
    ------
    CorruptFileError
        The file is empty, shorter or longer than announced, or (for FITS files) not a FITS file,
        missing part of a header or data unit, or (with ``checksum``) with bytes that do not match its
        checksums.

    Notes
    -----
    The structural check reads only the headers: it finds truncation (the usual damage of an interrupted
    download or of a server that cut a file short). Changed bytes of the same length are found only by
    ``checksum``, and only in files that carry the keywords (JSOC's FITS exports do).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from astropy.io import fits
    >>> from sunpy_enhance.io import verify_file, CorruptFileError
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "image.fits"
    >>> fits.PrimaryHDU(np.zeros((64, 64), dtype=np.float32)).writeto(path)
    >>> verify_file(path)
    >>> path.write_bytes(path.read_bytes()[:10000])
    10000
    >>> try:
    ...     verify_file(path)
    ... except CorruptFileError as exc:
    ...     print(str(exc).split(" (")[0])
    image.fits is truncated: HDU 0 needs bytes up to 19264 but the file ends at 10000
    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        msg = f"{path.name} is empty"
        raise CorruptFileError(msg)
    if expected_size is not None and size != int(expected_size):
        msg = f"{path.name} has {size} bytes but the server announced {int(expected_size)}"
        raise CorruptFileError(msg)
    if is_fits is None:
        is_fits = _is_fits_name(path)
    if is_fits:
        _check_fits(path, size)
        if checksum:
            _check_checksums(path)


