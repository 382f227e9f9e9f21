"""
Batch enhancement on Dask: 1 worker against 2 (or more) on a batch of HMI-like cutouts.

Writes a batch of synthetic HMI-like continuum cutouts (`sunpy_enhance.sample.synthetic_hmi_map`; kept
in ``--workdir`` for the next run), enhances them serially in this process (`enhance_files`, the
reference output), then with `sunpy_enhance.batch.enhance_batch` on local Dask clusters of single-threaded
worker processes with one TensorFlow thread each, and prints a table: wall time, files/s, speed-up over
1 worker, and whether the outputs equal the serial ones bit for bit. Cluster start-up and model loading
(once per worker, done before the clock starts) are not timed; reading, enhancing and writing the files is.
A last row uses 1 worker with as many TensorFlow threads as cores, for comparison.

Usage::

    python benchmarks/bench_dask.py                      # 8 cutouts of 400², 1 and 2 workers
    python benchmarks/bench_dask.py --files 16 --size 512 --workers 1 2 4
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import machine_info, table


def make_inputs(workdir, n_files, size):
    """``n_files`` synthetic continuum cutouts of ``size``² (different scenes and places), as FITS."""
    import astropy.units as u

    from sunpy_enhance.io import save_map_atomic
    from sunpy_enhance.sample import synthetic_hmi_map

    folder = Path(workdir) / f"inputs_{size}"
    paths = []
    for i in range(n_files):
        path = folder / f"hmi_like_{size}_{i:02d}.continuum.fits"
        if not path.exists():
            centre = (-300 + 80 * i, 150 - 40 * i) * u.arcsec
            save_map_atomic(synthetic_hmi_map("continuum", shape=(size, size), center=centre, seed=i), path)
        paths.append(path)
    return paths


def _warm(path, scratch, model, precision):
    """Run in each process before timing: imports, model loading, the first inference, one file written."""
    from sunpy_enhance.files import enhance_file

    record = enhance_file(path, Path(scratch) / str(os.getpid()), overwrite=True, model=model, precision=precision)
    return record.status


def _compare(report, reference):
    import sunpy.map

    worst = 0.0
    for a, b in zip(report.outputs, reference.outputs, strict=True):
        da, db = sunpy.map.Map(a).data, sunpy.map.Map(b).data
        if da.shape != db.shape:
            return float("inf")
        worst = max(worst, float(np.nanmax(np.abs(da - db))) if da.size else 0.0)
    return worst


def run_dask(paths, out_dir, *, workers, threads, model, precision, scratch):
    from sunpy_enhance.batch import enhance_batch, local_client

    with local_client(workers, intra_op_threads=threads) as client:
        client.wait_for_workers(workers)
        client.run(_warm, str(paths[0]), str(scratch), model, precision)
        start = time.perf_counter()
        report = enhance_batch(paths, out_dir, client=client, overwrite=True, model=model, precision=precision)
        seconds = time.perf_counter() - start
        client.cluster.close()
    return report, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--size", type=int, default=400)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--model", default="enhance-continuum")
    parser.add_argument("--precision", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "sunpy-enhance-bench-dask")
    args = parser.parse_args(argv)

    from sunpy_enhance.files import enhance_files

    machine = machine_info()
    cores = machine["cores"]
    print("Machine:", ", ".join(f"{k}={v}" for k, v in machine.items()))
    paths = make_inputs(args.workdir, args.files, args.size)
    print(f"{len(paths)} synthetic HMI-like continuum cutouts of {args.size}² in {paths[0].parent}")

    out_root = args.workdir / "outputs"
    shutil.rmtree(out_root, ignore_errors=True)
    _warm(paths[0], out_root / "warm-up", args.model, args.precision)
    start = time.perf_counter()
    serial = enhance_files(paths, out_root / "serial", model=args.model, precision=args.precision)
    serial_s = time.perf_counter() - start
    if not serial.ok:
        print(serial)
        return 1

    rows = [["serial (this process)", f"{cores}", f"{serial_s:.1f}", f"{len(paths) / serial_s:.3f}", "", "reference"]]
    runs = [(w, 1) for w in sorted(set(args.workers) | {1})] + ([(1, cores)] if cores > 1 else [])
    base = None
    for workers, threads in runs:
        report, seconds = run_dask(paths, out_root / f"dask_{workers}x{threads}", workers=workers, threads=threads,
                                   model=args.model, precision=args.precision, scratch=out_root / "warm-up")
        if not report.ok:
            print(report)
            return 1
        if (workers, threads) == (1, 1):
            base = seconds
        diff = _compare(report, serial)
        same = "identical" if diff == 0 else f"max |diff| {diff:.2e}"
        speedup = f"{base / seconds:.2f}x" if threads == 1 else ""
        rows.append([f"Dask, {workers} worker(s) x {threads} thread(s)", f"{workers * threads}", f"{seconds:.1f}",
                     f"{len(paths) / seconds:.3f}", speedup, same])
        print(f"  {workers} worker(s) x {threads} thread(s): {seconds:.1f} s", flush=True)
    print(f"\nBatch of {len(paths)} cutouts of {args.size}² ({args.precision}); speed-up relative to 1 worker x "
          "1 thread")
    print(table(["run", "cores used", "time (s)", "files/s", "speed-up", "outputs vs serial"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
