"""
File sizes of enhanced outputs: plain, tile-compressed losslessly (what ``compression="keep"`` writes for a
Rice-compressed input) and Rice-compressed (lossy), against the Rice-compressed input.

The inputs are the package's synthetic HMI-like maps (`sunpy_enhance.sample`), written as JSOC writes HMI
data: ``RICE_1`` tile compression of int32 values with ``BSCALE`` 0.1 G (magnetograms) or 3 DN/s
(continuum). Each is enhanced with the bundled model and written with `sunpy_enhance.io.save_map_atomic`
(``compression=None``, ``"gzip"``, ``"rice"``); the script prints the sizes and their ratios, and the largest
difference of the Rice output from the computed values (the gzip output is checked to be bit for bit equal).

Usage::

    python benchmarks/bench_compression.py                 # 400² cutouts of both kinds
    python benchmarks/bench_compression.py --full-disk 1024  # also a full disk of 1024² (NaN off the disk)
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits

from sunpy_enhance.enhance.api import enhance_map
from sunpy_enhance.io import read_map, save_fits_atomic, save_map_atomic
from sunpy_enhance.sample import synthetic_full_disk_map, synthetic_hmi_map

#: BZERO, BSCALE of the HMI series (as JSOC exports them).
SCALING = {"magnetogram": (0.0, 0.1), "continuum": (97304.0, 3.0)}
_BLANK = -2147483648


def jsoc_like(smap, kind, path):
    """Write ``smap`` as JSOC does: empty primary HDU, RICE_1-compressed int32 with BZERO/BSCALE/BLANK."""
    bzero, bscale = SCALING[kind]
    finite = np.isfinite(smap.data)
    raw = np.full(smap.data.shape, _BLANK, dtype=np.int32)
    raw[finite] = np.round((smap.data[finite] - bzero) / bscale).astype(np.int32)
    header = smap.fits_header
    for key in ("BLANK", "BZERO", "BSCALE"):
        header.remove(key, ignore_missing=True)
    hdu = fits.CompImageHDU(raw, header, compression_type="RICE_1")
    hdu.header["BLANK"], hdu.header["BZERO"], hdu.header["BSCALE"] = _BLANK, bzero, bscale
    return save_fits_atomic([hdu], path)


def measure(name, smap, kind, folder):
    source = jsoc_like(smap, kind, folder / f"{name}.fits")
    out = enhance_map(read_map(source))
    sizes = {}
    for compression in (None, "gzip", "rice"):
        path = save_map_atomic(out, folder / f"{name}.{compression}.enhanced.fits", compression=compression)
        sizes[compression] = path.stat().st_size
        back = read_map(path).data
        if compression == "gzip":
            assert np.array_equal(back, out.data, equal_nan=True), "gzip output differs"
        if compression == "rice":
            rice_error = float(np.nanmax(np.abs(back - out.data)))
    plain, unit = sizes[None], "G" if kind == "magnetogram" else "I/Ic"
    print(f"{name}, {out.data.shape[1]}x{out.data.shape[0]} output; input (Rice int32) {source.stat().st_size:,d} B")
    print(f"    plain {plain:,d} B; lossless gzip {sizes['gzip']:,d} B ({sizes['gzip'] / plain:.2f} of plain); "
          f"rice {sizes['rice']:,d} B ({sizes['rice'] / plain:.2f} of plain, max |error| {rice_error:.3g} {unit})")

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full-disk", type=int, metavar="SIZE", help="also a synthetic full disk of SIZE² pixels")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for kind in ("magnetogram", "continuum"):
            measure(f"{kind} 400² cutout", synthetic_hmi_map(kind, shape=(400, 400)), kind, folder)
            if args.full_disk:
                measure(f"{kind} full disk", synthetic_full_disk_map(kind, size=args.full_disk), kind, folder)


if __name__ == "__main__":
    main()
