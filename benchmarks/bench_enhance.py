"""
Benchmark of enhance_map (issue 2): tiling equivalence, full-disk memory and time, WCS round trip.

Run: ``python benchmarks/bench_enhance.py [--skip-full-disk] [--model-dir DIR]``. Prints tables.

* tiling equivalence: max |tiled − whole-image| on a 1024² input for several tile sizes (network units);
* time of ``enhance_map`` on 400² and 4096² (full disk, NaN off-disk) continuum maps, float32;
* peak resident memory of the full-disk run (a separate process, ``ru_maxrss``);
* WCS: the largest angular distance between input pixel centre p and output pixel 2p + 0.5 over a
  full-disk header, before and after a FITS save → reload.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

import astropy.units as u
import numpy as np

_CHILD = r"""
import json, resource, sys, time
import numpy as np
from sunpy_enhance.sample import synthetic_full_disk_map, synthetic_hmi_map
from sunpy_enhance.enhance.api import enhance_map
size, model, tile = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
smap = synthetic_full_disk_map(size=4096) if size == 4096 else synthetic_hmi_map("continuum", shape=(size, size))
start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
enhance_map(smap, model=model, tile_size=tile)  # warm-up: loads the model, builds the graph
t = time.perf_counter()
out = enhance_map(smap, model=model, tile_size=tile)
elapsed = time.perf_counter() - t
print(json.dumps({"seconds": elapsed, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_before_mb": start_rss / 1024, "finite_fraction": float(np.isfinite(out.data).mean())}))
"""


def run_child(size, model, tile):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(size), model, str(tile)], capture_output=True,
                          text=True, env=env, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def tiling_equivalence(model):
    from sunpy_enhance.models import load_model
    from sunpy_enhance.tiling import apply_tiled

    net = load_model(model)
    rng = np.random.default_rng(0)
    image = (0.04 * rng.standard_normal((1024, 1024))).astype(np.float32)
    whole = net(image[None, :, :, None])[0, :, :, 0]
    rows = []
    for tile in (128, 256, 384, 512):
        tiled = apply_tiled(net, image, tile_size=tile, margin=int(net.card["receptive_radius"]) + 3)
        rows.append((tile, float(np.max(np.abs(tiled - whole)))))
    return rows


def wcs_round_trip():
    import warnings

    import sunpy.map

    from sunpy_enhance.header import refined_meta
    from sunpy_enhance.sample import synthetic_full_disk_map

    smap = synthetic_full_disk_map(size=4096)
    fine = sunpy.map.Map(np.zeros((8, 8), dtype=np.float32), refined_meta(smap.meta))
    rows, cols = np.meshgrid(np.arange(0, 4096, 63), np.arange(0, 4096, 63), indexing="ij")
    before = smap.pixel_to_world(cols.ravel() * u.pix, rows.ravel() * u.pix)
    after = fine.pixel_to_world((2 * cols.ravel() + 0.5) * u.pix, (2 * rows.ravel() + 0.5) * u.pix)
    direct = float(np.nanmax(before.separation(after).to_value(u.arcsec)))
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("error")
        fine.save(f"{tmp}/fine.fits")
        back = sunpy.map.Map(f"{tmp}/fine.fits")
    reloaded = back.pixel_to_world((2 * cols.ravel() + 0.5) * u.pix, (2 * rows.ravel() + 0.5) * u.pix)
    return direct, float(np.nanmax(before.separation(reloaded).to_value(u.arcsec))), before.size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--model-dir", default="enhance-continuum")
    parser.add_argument("--skip-full-disk", action="store_true")
    parser.add_argument("--tile-size", type=int, default=None, help="default: the package's default")
    args = parser.parse_args()
    if args.tile_size is None:
        from sunpy_enhance.enhance.api import DEFAULT_TILE_SIZE

        args.tile_size = DEFAULT_TILE_SIZE
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}")
    print("\nTiling equivalence on 1024x1024 (max |tiled - whole|, network units)")
    print(f"{'tile':>6} {'max diff':>10}")
    for tile, diff in tiling_equivalence(args.model_dir):
        print(f"{tile:>6} {diff:>10.2e}")
    direct, reloaded, n = wcs_round_trip()
    print(f"\nWCS: input pixel p vs output 2p+0.5 over {n} pixels of a 4096^2 full-disk header")
    print(f"  max separation {direct:.2e} arcsec; after FITS save/reload {reloaded:.2e} arcsec")
    print("\nenhance_map, continuum, float32 (second call; the first loads the model)")
    print(f"{'input':>10} {'seconds':>9} {'Mpix/s in':>10} {'peak RSS MB':>12}")
    sizes = [400] + ([] if args.skip_full_disk else [4096])
    for size in sizes:
        r = run_child(size, args.model_dir, args.tile_size)
        print(f"{size:>5}x{size:<4} {r['seconds']:>9.2f} {size * size / r['seconds'] / 1e6:>10.3f} "
              f"{r['peak_rss_mb']:>12.0f}")


if __name__ == "__main__":
    main()
