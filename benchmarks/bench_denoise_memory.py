"""
Peak memory and time of one ``denoise`` call, each case in a fresh process (the numbers of the denoise guide's
"Engines, tiles and memory" table).

The peak is the process's own resident-set high-water mark (``VmHWM`` of ``/proc/self/status``, Linux): the whole
process, Python, NumPy and the engine included. ``ru_maxrss`` is not used because a process started from a large
one inherits its parent's value.

Usage::

    nice -n 10 python benchmarks/bench_denoise_memory.py [--cases 704x387 2048x2048 704x387:samples=4]
        [--engine auto] [--tile-size 512]

Quote the results with the machine they ran on (CPU, cores, other load).
"""
import argparse
import json
import subprocess
import sys

CASE = """
import json, re, sys, time
import numpy as np
from sunpy_enhance.denoise import denoise
from sunpy_enhance.models import load_model
rows, cols, samples, engine, tile = json.loads(sys.argv[1])
x = (10 * np.random.default_rng(0).standard_normal((rows, cols))).astype(np.float32)
start = time.perf_counter()
denoise(x, model="hmi-magnetogram", noise=10.0, uncertainty=bool(samples), samples=samples, engine=engine,
        tile_size=tile)
seconds = time.perf_counter() - start
peak = int(re.search(r"VmHWM:\\s*(\\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
used = load_model("denoise-hmi-magnetogram", engine=engine).engine
print(json.dumps({"peak_bytes": peak, "seconds": seconds, "engine": used}))
"""


def run_case(case, engine, tile_size):
    shape, _, options = case.partition(":")
    rows, cols = (int(n) for n in shape.split("x"))
    samples = int(options.split("=")[1]) if options.startswith("samples=") else 0
    done = subprocess.run([sys.executable, "-c", CASE, json.dumps([rows, cols, samples, engine, tile_size])],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", default=["704x387", "2048x2048", "704x387:samples=4"],
                        help="ROWSxCOLS, optionally :samples=N (Monte-Carlo dropout, with uncertainty)")
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--tile-size", type=int, default=512)
    args = parser.parse_args()
    print(f"{'case':<22} {'engine':<12} {'peak (GB)':>10} {'time (s)':>9}")
    for case in args.cases:
        result = run_case(case, args.engine, args.tile_size)
        print(f"{case:<22} {result['engine']:<12} {result['peak_bytes'] / 1e9:>10.2f} {result['seconds']:>9.1f}")


if __name__ == "__main__":
    main()
