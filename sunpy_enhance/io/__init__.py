"""
Reading and writing files: the one home of the package's file I/O.

- `sunpy_enhance.io.read`: `read_map` (one image as a Map, checked for truncation first), `read_images` and its
  2-D form `read_array` (FITS, ``.npy``, HDF5, IDL save), `read_data` (any shape, with the FITS header),
  `read_header` and `tile_compression` (what a FITS file holds, without its data).
- `sunpy_enhance.io.write`: never over an existing file unless asked, never a partial file under the final name
  (`atomic_write`, `save_map_atomic`, `save_fits_atomic`); tile compression of outputs (`COMPRESSIONS`,
  `output_compression`, `image_hdu`).
- `sunpy_enhance.io.verify`: is a file complete and intact (`verify_file`, `CorruptFileError`): FITS structure and
  ``CHECKSUM``/``DATASUM``, for reads and downloads alike.
- `sunpy_enhance.io.temporary`: the writers' hidden temporary files (`make_temporary`) and the removal of those
  left by killed writers (`remove_stale_temporaries`).

Every name is importable from here.
"""
from sunpy_enhance.io.read import (
    FITS_SUFFIXES,
    read_array,
    read_data,
    read_header,
    read_images,
    read_map,
    tile_compression,
)
from sunpy_enhance.io.temporary import STALE_AFTER, make_temporary, remove_stale_temporaries
from sunpy_enhance.io.verify import CorruptFileError, verify_file
from sunpy_enhance.io.write import (
    COMPRESSIONS,
    atomic_write,
    file_identity,
    file_umask,
    image_hdu,
    output_compression,
    save_fits_atomic,
    save_map_atomic,
)

__all__ = ["COMPRESSIONS", "FITS_SUFFIXES", "STALE_AFTER", "CorruptFileError", "atomic_write", "file_identity",
           "file_umask", "image_hdu", "make_temporary", "output_compression", "read_array", "read_data",
           "read_header", "read_images", "read_map", "remove_stale_temporaries", "save_fits_atomic",
           "save_map_atomic", "tile_compression", "verify_file"]
