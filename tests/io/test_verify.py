"""
Is a file complete and intact: the FITS structure check and the CHECKSUM/DATASUM check of `verify_file`.
"""
import numpy as np
import pytest
from astropy.io import fits

from sunpy_enhance.io import CorruptFileError, verify_file


def test_verify_file_finds_truncation_and_wrong_content(tmp_path):
    path = tmp_path / "a.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((40, 40), dtype=np.float64))]).writeto(path)
    complete = path.read_bytes()
    verify_file(path)
    # last block without its padding is fine (data complete)
    path.write_bytes(complete[:-100])
    verify_file(path)
    path.write_bytes(complete[: 2880 + 1000])
    with pytest.raises(CorruptFileError, match="header of HDU 1 is cut off"):
        verify_file(path)
    path.write_bytes(complete[: 2 * 2880 + 1000])
    with pytest.raises(CorruptFileError, match=r"truncated: HDU 1 needs bytes up to 18560"):
        verify_file(path)
    path.write_bytes(b"<!DOCTYPE html><html>Service unavailable</html>")
    with pytest.raises(CorruptFileError, match="not a FITS file"):
        verify_file(path)
    path.write_bytes(b"")
    with pytest.raises(CorruptFileError, match="empty"):
        verify_file(path)
    path.write_bytes(complete)
    with pytest.raises(CorruptFileError, match="server announced 99"):
        verify_file(path, expected_size=99)
    path.write_bytes(complete + b"X" * 3000)
    with pytest.raises(CorruptFileError, match="unexpected bytes"):
        verify_file(path)
    other = tmp_path / "notes.txt"
    other.write_text("not FITS, only its size is checked")
    verify_file(other)


# -- happy path and cache -----------------------------------------------------------------------------


def test_checksums_are_checked_only_where_present(tmp_path):
    plain = tmp_path / "plain.fits"
    fits.PrimaryHDU(np.ones((16, 16), dtype=np.float32)).writeto(plain)
    verify_file(plain, checksum=True)  # no CHECKSUM/DATASUM: the structural check only
    summed = tmp_path / "summed.fits"
    fits.PrimaryHDU(np.ones((16, 16), dtype=np.float32)).writeto(summed, checksum=True)
    verify_file(summed, checksum=True)
    body = bytearray(summed.read_bytes())
    body[2880 + 4] ^= 0x01
    summed.write_bytes(bytes(body))
    with pytest.raises(CorruptFileError, match=r"summed.fits is corrupted: .*Datasum verification failed"):
        verify_file(summed, checksum=True)
