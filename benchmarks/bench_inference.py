"""
Inference speed of the Enhance network: throughput, tiling overhead, peak memory and achieved FLOP rate.

Prints tables (and writes JSON with ``--json``):

1. The machine, and its reference FLOP rate: the best of several large matrix products
   (4096 × 4096, float32 and bfloat16) in the same framework and with the same threads.
2. Throughput of `sunpy_enhance.enhance.enhance_array` (normalisation, NaN filling, tiling, network) on
   400², 1024² and 4096² inputs in float32 and bfloat16: input Mpixel/s, achieved GFLOP/s, that rate as a
   fraction of the float32 matrix product; the same fraction for the network calls alone (their own
   time and the pixels they computed, tile overlaps included: the network's achieved FLOP rate); and the
   peak resident memory (RSS) of the process. Every case runs in a fresh subprocess, so its peak RSS is
   its own.
3. Tiling overhead on a 1024² map: the network applied tile by tile (``sunpy_enhance.tiling.apply_tiled``)
   and all of `sunpy_enhance.enhance.enhance_map` (WCS, μ, limb darkening, quiet-Sun level, NaN filling,
   header), with the default tile size and tiles of 1024, 512 and 256 pixels, against one bare model call
   on the whole image.

The reference here is the framework's own matrix product, which can be far below what the machine can do
(TensorFlow reached 89 GFLOP/s where numpy's OpenBLAS reached 189 on a 2-core AVX2 CPU): for the truth
about an engine, use ``benchmarks/bench_engines.py``, whose reference is the best float32 GEMM of the
machine and which compares the inference engines (ONNX Runtime, TensorFlow, Keras on JAX). This script
times the engine ``"auto"`` picks for each precision; bfloat16 is measured even where the CPU only
emulates it (``SUNPY_ENHANCE_EMULATE_BFLOAT16=1``).

The network's FLOPs are counted from the architecture of the model (its convolution kernels, at the input
resolution before the ×2 upsampling and at four times as many pixels after it; element-wise layers are
not counted): about 1.1 MFLOP per input pixel for the published network.

Usage::

    python benchmarks/bench_inference.py                      # everything (about 10 min on 2 cores)
    python benchmarks/bench_inference.py --sizes 400 1024 --repeats 5
    python benchmarks/bench_inference.py --device gpu        # TensorFlow on its GPU
    python benchmarks/bench_inference.py --backend jax --sizes 1024 4096   # Keras 3 on JAX (CPU or GPU)

With ``--backend jax`` the model is rebuilt from its Keras weights on JAX and run through ``jax.jit`` in
batches of equal-shaped tiles sized to the accelerator's memory (``sunpy_enhance.tiling.tiles_per_batch``);
the tiling overhead section is skipped there. Run on an otherwise idle machine: other processes on the
same cores make every number meaningless.
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SUNPY_ENHANCE_EMULATE_BFLOAT16", "1")  # measure bfloat16 also where it is emulated

MATMUL_N = 4096


# --------------------------------------------------------------------------------------------- machine
def cpu_flags():
    """The CPU's feature flags (``/proc/cpuinfo``; empty where the system does not say)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def machine_info():
    """A short description of this machine: CPU model, cores, vector extensions, memory, frameworks."""
    info = {"python": platform.python_version(), "platform": platform.platform()}
    cpu, flags = platform.processor() or "unknown", cpu_flags()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu in ("unknown", "x86_64", ""):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["cpu"] = cpu
    info["cores"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile")
    info["vector_extensions"] = " ".join(f for f in wanted if f in flags) or "none reported"
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 1e9, 1)
    except ImportError:
        pass
    return info


def _framework_info(backend):
    info = {}
    import keras

    info["keras"] = f"{keras.__version__} ({keras.backend.backend()} backend)"
    if backend == "tensorflow":
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
        info["gpus"] = [d.name for d in tf.config.list_physical_devices("GPU")]
    else:
        import jax

        info["jax"] = jax.__version__
        info["devices"] = [str(d) for d in jax.devices()]
    return info


# ------------------------------------------------------------------------------------------------ FLOPs
def flops_per_pixel(card):
    """
    Floating-point operations of the network per *input* pixel, from its convolution kernels.

    A convolution with a ``kh × kw × cin × cout`` kernel costs ``2 kh kw cin cout`` FLOP per output
    position (multiply and add); layers after the ×``upscale`` upsampling see ``upscale²`` positions per
    input pixel. Reflection padding keeps the size, so every convolution has one position per pixel.
    """
    from sunpy_enhance.models import build_from_card

    model = build_from_card(card)
    upscale = int(card.get("upscale", 2))
    factor, total = 1, 0
    for layer in model.layers:
        name = type(layer).__name__
        if name == "UpSampling2D":
            factor = upscale**2
        elif name == "Conv2D":
            total += 2 * int(np.prod(layer.kernel.shape)) * factor
    return total


# ------------------------------------------------------------------------------------------------ cases
def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def _image(size, seed=0):
    rng = np.random.default_rng(seed)
    return (1.0 + 0.04 * rng.standard_normal((size, size))).astype(np.float32)


def _timed(func, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return times


def case_matmul(args):
    import tensorflow as tf

    out = {}
    with _device(args.device):
        for dtype in ("float32", "bfloat16"):
            a = tf.cast(tf.random.normal((MATMUL_N, MATMUL_N), seed=1), dtype)
            b = tf.cast(tf.random.normal((MATMUL_N, MATMUL_N), seed=2), dtype)
            tf.linalg.matmul(a, b).numpy()
            times = _timed(lambda a=a, b=b: tf.linalg.matmul(a, b).numpy(), 5)
            out[dtype] = 2 * MATMUL_N**3 / min(times) / 1e9
    return {"matmul_gflops": out}


def case_matmul_jax(args):
    import jax
    import jax.numpy as jnp

    out = {}
    n = 8192 if jax.devices()[0].platform == "gpu" else MATMUL_N
    for dtype in ("float32", "bfloat16"):
        a = jax.random.normal(jax.random.PRNGKey(1), (n, n), dtype=dtype)
        b = jax.random.normal(jax.random.PRNGKey(2), (n, n), dtype=dtype)
        product = jax.jit(jnp.matmul)
        product(a, b).block_until_ready()
        times = _timed(lambda a=a, b=b, product=product: product(a, b).block_until_ready(), 5)
        out[dtype] = 2 * n**3 / min(times) / 1e9
    return {"matmul_gflops": out, "matmul_n": n}


def _device(device):
    import contextlib

    if device is None:
        return contextlib.nullcontext()
    import tensorflow as tf

    return tf.device("/GPU:0" if device == "gpu" else "/CPU:0")


def case_throughput(args):
    from sunpy_enhance.enhance.api import enhance_array
    from sunpy_enhance.models import LoadedModel

    # time the network calls themselves (all tiles, overlap included) besides the whole of enhance_array
    network = {"seconds": 0.0, "pixels": 0}
    plain_call = LoadedModel.__call__

    def timed_call(self, batch):
        start = time.perf_counter()
        out = plain_call(self, batch)
        network["seconds"] += time.perf_counter() - start
        network["pixels"] += int(np.prod(batch.shape[:3]))
        return out

    LoadedModel.__call__ = timed_call
    image = _image(args.size)
    started = time.perf_counter()
    # warm-up: model loading and first-call set-up, on a small image through the same path
    enhance_array(_image(256, 1), kind="continuum", model=args.model, quiet_sun=1.0, precision=args.precision,
                  device=args.device)
    load_s = time.perf_counter() - started
    repeats = 1 if args.size >= 2048 else args.repeats
    times, network_rates = [], []
    for _ in range(repeats):
        network.update(seconds=0.0, pixels=0)
        times += _timed(lambda: enhance_array(image, kind="continuum", model=args.model, quiet_sun=1.0,
                                              precision=args.precision, device=args.device,
                                              tile_size=args.tile_size), 1)
        network_rates.append(network["pixels"] / network["seconds"])
    return {"times": times, "load_s": load_s, "peak_rss_mb": _peak_rss_mb(),
            "network_pixels_per_s": max(network_rates), "network_pixels": network["pixels"]}


def case_tiling(args):
    import astropy.units as u
    import sunpy.map

    from sunpy_enhance.enhance.api import enhance_map
    from sunpy_enhance.models import load_model, read_card
    from sunpy_enhance.sample import synthetic_hmi_map

    small = synthetic_hmi_map("continuum", shape=(64, 64), center=(0, 0) * u.arcsec)
    meta = dict(small.meta)
    n = args.size
    meta.update({"naxis1": n, "naxis2": n, "crpix1": (n + 1) / 2, "crpix2": (n + 1) / 2})
    smap = sunpy.map.Map(_image(n) * 60000.0, meta)
    card = read_card(args.model)
    norm = card["normalisation"]
    net = load_model(args.model, precision="float32")
    bare_input = ((_image(n) - norm["offset"]) / norm["scale"])[None, :, :, None]
    from sunpy_enhance.tiling import apply_tiled

    margin = int(card.get("receptive_radius", 13)) + 3
    variants = {"bare": lambda: net(bare_input)}
    for tile in _tile_sizes():
        # the network on tiles only (what tiling costs) ...
        variants[f"tiled{tile}"] = lambda tile=tile: apply_tiled(net, bare_input[0, :, :, 0], tile_size=tile,
                                                                 margin=margin)
        # ... and all of enhance_map (WCS, μ, limb darkening, quiet-Sun level, NaN filling, header)
        variants[f"map{tile}"] = lambda tile=tile: enhance_map(smap, model=args.model, tile_size=tile,
                                                               device=args.device)
    out = {key: [] for key in variants}
    with _device(args.device):
        for func in variants.values():  # warm-up: every tile shape once
            func()
        for _ in range(args.repeats):  # interleaved, so that slow drifts of the machine hit all alike
            for key, func in variants.items():
                out[key] += _timed(func, 1)
    return out


def _default_tile():
    try:
        from sunpy_enhance.enhance.api import DEFAULT_TILE_SIZE
    except ImportError:
        return 1024
    return DEFAULT_TILE_SIZE


def _tile_sizes():
    return sorted({_default_tile(), 1024, 512, 256}, reverse=True)


def case_jax(args):
    """The throughput case on Keras 3's JAX backend (jitted; tiles batched to the GPU's memory)."""
    import jax

    from sunpy_enhance.models import load_model, read_card
    from sunpy_enhance.tiling import tiles_per_batch

    out = case_throughput(args)
    free = load_model(args.model, precision=args.precision).accelerator_memory()
    margin = int(read_card(args.model).get("receptive_radius", 13)) + 3
    tile = min(args.tile_size, args.size) + 2 * margin
    out["tiles_per_batch"] = tiles_per_batch((tile, tile), 0.6 * free, bytes_per_value=2 if args.precision ==
                                             "bfloat16" else 4) if free else 1
    out["device"] = str(jax.devices()[0])
    return out


CASES = {"matmul": case_matmul, "matmul_jax": case_matmul_jax, "throughput": case_throughput,
         "tiling": case_tiling, "jax": case_jax, "framework": lambda args: _framework_info(args.backend)}


def _run_case(args, case, **extra):
    """Run one case in a fresh Python process and return its JSON result."""
    cmd = [sys.executable, __file__, "--case", case, "--model", args.model, "--repeats", str(args.repeats),
           "--tile-size", str(args.tile_size), "--backend", args.backend]
    if args.device:
        cmd += ["--device", args.device]
    for key, value in extra.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    env = {**os.environ, "KERAS_BACKEND": args.backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        msg = f"case {case} {extra} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        raise RuntimeError(msg)
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------------------------- tables
def table(headers, rows):
    """A plain-text table (also valid reStructuredText 'simple table' syntax)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), rule]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.append(rule)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[400, 1024, 4096],
                        help="input sizes of the throughput section (none: skip it)")
    parser.add_argument("--precisions", nargs="+", default=["float32", "bfloat16"],
                        choices=["float32", "bfloat16"])
    parser.add_argument("--model", default="enhance-continuum")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tile-size", type=int, help="tile side (default: the package's default)")
    parser.add_argument("--device", choices=["cpu", "gpu"])
    parser.add_argument("--backend", choices=["tensorflow", "jax"], default="tensorflow")
    parser.add_argument("--no-tiling", action="store_true", help="skip the tiling-overhead section")
    parser.add_argument("--tiling-size", type=int, default=1024, help="map size of the tiling section")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--precision", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tile_size is None:
        args.tile_size = _default_tile()

    if args.case:  # a subprocess: one measurement, printed as JSON
        print(json.dumps(CASES[args.case](args)))
        return 0

    from sunpy_enhance.models import read_card

    card = read_card(args.model)
    fpp = flops_per_pixel(card)
    machine = {**machine_info(), **_run_case(args, "framework")}
    results = {"machine": machine, "model": card.get("name"), "model_created": card.get("created"),
               "flops_per_input_pixel": fpp, "throughput": [], "tiling": None}
    print("Machine:", ", ".join(f"{k}={v}" for k, v in machine.items()))
    print(f"Model {card.get('name')} ({card['architecture']}); {fpp / 1e6:.3f} MFLOP per input pixel")
    print(f"Backend {args.backend}, device {args.device or 'default'}, tile size {args.tile_size}")

    measured = _run_case(args, "matmul" if args.backend == "tensorflow" else "matmul_jax")
    reference = results["matmul_gflops"] = measured["matmul_gflops"]
    n = measured.get("matmul_n", MATMUL_N)
    print(f"\nReference: {n}x{n} matrix product: float32 {reference['float32']:.1f} GFLOP/s, "
          f"bfloat16 {reference['bfloat16']:.1f} GFLOP/s (framework defaults: on recent NVIDIA GPUs JAX "
          "computes float32 products with TF32 tensor cores)" if args.backend == "jax" else
          f"\nReference: {n}x{n} matrix product: float32 {reference['float32']:.1f} GFLOP/s, "
          f"bfloat16 {reference['bfloat16']:.1f} GFLOP/s")

    rows = []
    for size in args.sizes:
        for precision in args.precisions:
            case = "jax" if args.backend == "jax" else "throughput"
            res = _run_case(args, case, size=size, precision=precision)
            best = min(res["times"])
            gflops = size * size * fpp / best / 1e9
            frac = f"{gflops / reference['float32']:.0%}"
            net_rate = res.get("network_pixels_per_s")
            net_frac = f"{net_rate * fpp / 1e9 / reference['float32']:.0%}" if net_rate else "n/a"
            row = {"size": size, "precision": precision, "seconds_best": best,
                   "network_gflops": net_rate * fpp / 1e9 if net_rate else None,
                   "seconds_median": float(np.median(res["times"])), "runs": len(res["times"]),
                   "mpix_per_s": size * size / best / 1e6, "gflops": gflops, "peak_rss_mb": res["peak_rss_mb"],
                   "load_s": res["load_s"], **{k: res[k] for k in ("tiles_per_batch", "device") if k in res}}
            results["throughput"].append(row)
            rows.append([f"{size}²", precision, f"{best:.3f}", f"{row['mpix_per_s']:.3f}", f"{gflops:.0f}", frac,
                         net_frac, f"{row['peak_rss_mb']:.0f}", len(res["times"])])
            extra = f" on {res['device']}, {res['tiles_per_batch']} tile(s) per batch" if "device" in res else ""
            print(f"  {size}² {precision}: {best:.3f} s{extra}", flush=True)
    bf16 = {r["size"]: r for r in results["throughput"] if r["precision"] == "bfloat16"}
    f32 = {r["size"]: r for r in results["throughput"] if r["precision"] == "float32"}
    if rows:
        print("\nThroughput (input pixels; time = best of runs; GFLOP/s from the architecture's FLOPs)")
        print(table(["input", "precision", "time (s)", "Mpixel/s", "GFLOP/s", "of f32 matmul",
                     "network alone, of f32 matmul", "peak RSS (MB)", "runs"], rows))
    speedups = {s: f32[s]["seconds_best"] / bf16[s]["seconds_best"] for s in f32 if s in bf16}
    if speedups:
        print("bfloat16 speed-up over float32: " + ", ".join(f"{s}²: {v:.2f}x" for s, v in speedups.items()))
        results["bf16_speedup"] = speedups

    if args.backend == "tensorflow" and not args.no_tiling:
        res = _run_case(args, "tiling", size=args.tiling_size)
        bare = min(res["bare"])
        rows = [["one bare model call on the whole image", "", f"{bare:.3f}", "1.00"]]
        for tile in _tile_sizes():
            default = " (default)" if tile == _default_tile() else ""
            for key, label in (("tiled", "network on tiles (apply_tiled)"), ("map", "enhance_map, all steps")):
                best = min(res[f"{key}{tile}"])
                rows.append([label, f"{tile}{default}", f"{best:.3f}", f"{best / bare:.2f}"])
        results["tiling"] = {k: min(v) for k, v in res.items()}
        print(f"\nTiling overhead on a {args.tiling_size}² map (float32; best of runs)")
        print(table(["", "tile_size", "time (s)", "ratio"], rows))

    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
