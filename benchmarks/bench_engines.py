"""
Inference engines against the machine's physical floor: how close each engine comes to the best matrix product.

Prints (and writes JSON with ``--json``):

1. The machine: CPU model, cores, vector extensions (avx2, avx512f, avx512_bf16, amx), whether bfloat16 is
   native (`sunpy_enhance.models.native_bfloat16`), library versions.
2. Reference rates: the **best float32 GEMM** numpy's BLAS reaches (``np.dot`` of two 4096² float32
   matrices, threads = cores, best of several runs) — the physical floor of any convolution network on
   this machine — and TensorFlow's own float32 matmul rate on the same cores, for comparison. OpenBLAS picks
   its kernels by CPU model and can pick slow ones: on AMD Zen 4/5 (AVX-512) it runs its AVX2 kernels at half
   the speed its AVX-512 ("SkylakeX") kernels reach there. So the GEMM is measured with OpenBLAS's own choice
   and with each kernel family the CPU's vector extensions allow (``OPENBLAS_CORETYPE``, `BLAS_KERNELS`), and
   the fastest is the reference; every later process of the run uses that kernel.
3. Per engine × model, on a 1024² map: `~sunpy_enhance.enhance.enhance_map` end to end (best of the
   timed runs), the network's FLOPs (counted from the model's convolution kernels), the achieved GFLOP/s,
   the time over the floor (FLOPs / best GEMM), one bare network call on the whole image, the network on
   tiles (``sunpy_enhance.tiling.apply_tiled``, default tile size) over the bare call, and the peak RSS.
   Every engine × model runs in a fresh process (peak memory is its own; Keras on JAX needs its backend),
   which measures the GEMM again just before and after its timed runs: the floor of each row uses the
   best of those. On a machine shared with other work this helps only partly (a GEMM of a second gets a
   different share of the cores than a run of a minute): compare engines with the head-to-head line.
4. ONNX Runtime against TensorFlow in one process, alternating bare calls on one tile of the default size
   (a 1056 × 544 window): their speed ratio under the same conditions.
5. Each light model against its full one (when the light models are installed), in one process, alternating,
   default engine: enhance_map on a ``--size``² map and the bare network on a 544² tile, as speed-ups, next to
   the ratio of their FLOPs. ``--no-light`` skips it.
6. A 4096² full disk (`sunpy_enhance.sample.synthetic_full_disk_map`, NaN off the disk) with the default
   engine: time, time over the floor of the whole image, the fraction of its pixels the network computed
   (tiles wholly off the disk are skipped; overlaps count), peak RSS. Minutes on a 2-core CPU; ``--no-full-disk``
   skips it.

Usage::

    python benchmarks/bench_engines.py                         # all engines, bundled Enhance models, full disk
    python benchmarks/bench_engines.py --engines onnxruntime tensorflow --models enhance-continuum
    python benchmarks/bench_engines.py --json engines.json --repeats 3

Run it on an otherwise idle machine when the numbers matter; the ratios (time over the floor, tiled over
bare) are measured in the same run, so they stay meaningful on a machine shared with other work, but the
absolute times do not.
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

_EMULATE = os.environ.get("SUNPY_ENHANCE_EMULATE_BFLOAT16")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import cpu_flags, flops_per_pixel, machine_info, table  # noqa: E402

if _EMULATE is None:  # bench_inference asks for emulated bfloat16; this benchmark reports the hardware's own
    os.environ.pop("SUNPY_ENHANCE_EMULATE_BFLOAT16", None)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

GEMM_N = 4096
#: OpenBLAS kernel families (``OPENBLAS_CORETYPE``) tried for the reference GEMM, by the CPU flag they need
#: ("" is OpenBLAS's own choice). A numpy built on another BLAS ignores the variable: every try then measures
#: the same library.
BLAS_KERNELS = {"": None, "Haswell": "avx2", "Zen": "avx2", "SkylakeX": "avx512f", "Cooperlake": "avx512_bf16",
                "SapphireRapids": "amx_tile"}


def _cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def _best(func, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times), times


# ------------------------------------------------------------------------------------------------- cases
def _gemm_gflops(repeats):
    """Best float32 GEMM rate of numpy's BLAS in this process (threads = cores, set by the parent's environment)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((GEMM_N, GEMM_N), dtype=np.float32)
    b = rng.standard_normal((GEMM_N, GEMM_N), dtype=np.float32)
    np.dot(a, b)
    best, times = _best(lambda: np.dot(a, b), repeats)
    return 2 * GEMM_N**3 / best / 1e9, times


def onnx_flops_per_pixel(model):
    """
    FLOPs per input pixel of the convolutions in a model's ``model.onnx`` as ONNX Runtime runs them: fewer than
    the Keras network's (`flops_per_pixel`) where the graph computes the same function with fewer operations
    (`sunpy_enhance.enhance.onnx_graph` runs the upsampling tail at the input resolution). Convolutions after an
    upsampling node (Tile, Resize, Upsample) count four positions per input pixel.
    """
    import onnx

    from sunpy_enhance.models import ONNX_FILE, model_directory

    graph = onnx.load(str(model_directory(model) / ONNX_FILE)).graph
    shapes = {init.name: tuple(init.dims) for init in graph.initializer}
    factor, total = 1, 0
    for node in graph.node:
        if node.op_type in ("Tile", "Resize", "Upsample"):
            factor = 4
        elif node.op_type == "Conv":
            total += 2 * int(np.prod(shapes[node.input[1]])) * factor
    return total


def _best_blas_kernel(args, threads):
    """The reference GEMM: each OpenBLAS kernel family this CPU can run, in its own process; the fastest."""
    flags = cpu_flags()
    rates = {}
    for kernel, flag in BLAS_KERNELS.items():
        if flag is not None and flag not in flags:
            continue
        env = {**threads, "OPENBLAS_CORETYPE": kernel} if kernel else threads
        rates[kernel or "default"] = _run(args, "gemm", env=env)
    best = max(rates, key=lambda k: rates[k]["gflops"])
    return best, rates


def case_gemm(args):
    """Best float32 GEMM of numpy's BLAS (threads = cores, set through the environment by the parent)."""
    gflops, times = _gemm_gflops(args.gemm_repeats)
    info = {}
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        info = {"blas": f"{blas.get('name')} {blas.get('version')}"}
    except Exception:  # numpy < 1.25 or an unusual build: the name is only informative
        pass
    return {"gflops": gflops, "times": times, **info}


def case_tf_matmul(args):
    import tensorflow as tf

    a = tf.random.normal((GEMM_N, GEMM_N), seed=1)
    b = tf.random.normal((GEMM_N, GEMM_N), seed=2)
    tf.linalg.matmul(a, b).numpy()
    best, _ = _best(lambda: tf.linalg.matmul(a, b).numpy(), args.gemm_repeats)
    return {"gflops": 2 * GEMM_N**3 / best / 1e9, "tensorflow": tf.__version__}


def _map(kind, size):
    """A synthetic HMI map of ``size``² at disk centre (a sunspot or a bipole in granulation or noise)."""
    import astropy.units as u

    from sunpy_enhance.sample import synthetic_hmi_map

    return synthetic_hmi_map(kind, shape=(size, size), center=(0, 0) * u.arcsec, seed=1)


def case_engine(args):
    """
    One engine and model on a 1024² map: enhance_map, one bare call, the network on tiles as enhance_map runs it
    (``run_network``: default tiles; with ONNX Runtime the zero-padded graph on the tiles and the model itself on
    the image's border band).
    """
    from sunpy_enhance.enhance.api import DEFAULT_TILE_SIZE, enhance_map, run_network
    from sunpy_enhance.models import load_model, read_card

    card = read_card(args.model)
    kind = card["kind"]
    smap = _map(kind, args.size)
    norm = card["normalisation"]
    physical = smap.data / np.nanmedian(smap.data) if kind == "continuum" else smap.data
    image = ((physical - norm["offset"]) / norm["scale"]).astype(np.float32)
    started = time.perf_counter()
    net = load_model(args.model, engine=args.engine)
    load_s = time.perf_counter() - started
    variants = {
        "map": lambda: enhance_map(smap, model=args.model, engine=args.engine),
        "bare": lambda: net(image[None, :, :, None]),
        "tiled": lambda: run_network(image, args.model, card, tile_size=DEFAULT_TILE_SIZE, precision="float32",
                                     progress=False, device=None, engine=args.engine),
    }
    warm = _map(kind, 128)
    enhance_map(warm, model=args.model, engine=args.engine)
    map_rss = None
    if net.engine == "jax":  # XLA compiles every new shape: once before timing
        for func in variants.values():
            func()
            map_rss = map_rss or _peak_rss_mb()  # after enhance_map, before the bare whole-image call
    out = {key: [] for key in variants}
    # the floor measured in the same process, around the timed runs: on a shared machine the load changes
    gemm = [_gemm_gflops(3)[0]]
    for _ in range(args.repeats):  # interleaved, so that changes of the machine's load hit all alike
        for key, func in variants.items():
            out[key].append(_best(func, 1)[0])
            map_rss = map_rss or _peak_rss_mb()
    gemm.append(_gemm_gflops(3)[0])
    return {"times": out, "engine": net.engine, "precision": net.precision, "load_s": load_s,
            "map_peak_rss_mb": map_rss, "peak_rss_mb": _peak_rss_mb(), "gemm_gflops": gemm}


def case_full_disk(args):
    """The default engine on a synthetic 4096² full disk: one timed run after a warm-up on a small map."""
    from sunpy_enhance.enhance.api import enhance_map
    from sunpy_enhance.models import LoadedModel, load_model
    from sunpy_enhance.sample import synthetic_full_disk_map

    smap = synthetic_full_disk_map(size=4096)
    enhance_map(_map("continuum", 128), model=args.model, engine=args.engine)
    computed = {"pixels": 0}
    plain = LoadedModel.__call__

    def counting(self, batch):
        computed["pixels"] += int(np.prod(batch.shape[:3]))
        return plain(self, batch)

    LoadedModel.__call__ = counting
    net = load_model(args.model, engine=args.engine)
    if net.interior is not None:  # ONNX Runtime's zero-padded graph on the tiles: count its pixels too
        interior = net.interior

        def counting_interior(batch):
            computed["pixels"] += int(np.prod(batch.shape[:3]))
            return interior(batch)

        net.interior = counting_interior
    rss_before = _peak_rss_mb()
    started = time.perf_counter()
    out = enhance_map(smap, model=args.model, engine=args.engine)
    seconds = time.perf_counter() - started
    peak = _peak_rss_mb()
    gemm = _gemm_gflops(3)[0]  # after the run: its memory is not counted in the peak
    return {"seconds": seconds, "network_pixels": computed["pixels"], "peak_rss_mb": peak,
            "rss_before_mb": rss_before, "gemm_gflops": gemm,
            "engine": load_model(args.model, engine=args.engine).engine,
            "finite_fraction": float(np.isfinite(out.data).mean())}


def case_head_to_head(args):
    """
    ONNX Runtime and TensorFlow in one process, alternating bare calls on one default-size tile: their speed
    ratio under the same conditions (on a shared machine the load changes between separate processes).
    """
    from sunpy_enhance.enhance.api import DEFAULT_TILE_SIZE
    from sunpy_enhance.models import load_model, read_card

    card = read_card(args.model)
    margin = int(card.get("receptive_radius", 13)) + 3
    # the tiles of a 1024² map with the default tile size: 1024 x 512 cores, windows of 1056 x 544
    shape = (args.size + 2 * margin, args.size // 2 + 2 * margin) if args.size > DEFAULT_TILE_SIZE else \
        (args.size, args.size)
    x = (0.05 * np.random.default_rng(0).standard_normal((1, *shape, 1))).astype(np.float32)
    nets = {engine: load_model(args.model, engine=engine) for engine in ("onnxruntime", "tensorflow")}
    for net in nets.values():
        net(x)
    times = {engine: [] for engine in nets}
    for _ in range(args.repeats + 1):
        for engine, net in nets.items():
            times[engine].append(_best(lambda net=net: net(x), 1)[0])
    return {"shape": shape, "times": times}


def case_light(args):
    """
    Each light model against its full model in one process, alternating, with the default engine: enhance_map
    on a map of ``--size``² and the bare network on one default-size tile (a speed ratio that holds on a
    shared machine), and the network FLOPs of both.
    """
    from sunpy_enhance.enhance.api import enhance_map
    from sunpy_enhance.models import load_model, read_card

    out = {}
    for kind in ("continuum", "magnetogram"):
        names = (f"enhance-{kind}", f"enhance-{kind}-light")
        smap = _map(kind, args.size)
        x = (0.05 * np.random.default_rng(0).standard_normal((1, 544, 544, 1))).astype(np.float32)
        nets = {name: load_model(name) for name in names}
        for name in names:
            enhance_map(_map(kind, 128), model=name)
            nets[name](x)
        times = {name: {"map": [], "bare": []} for name in names}
        for _ in range(args.repeats):
            for name in names:
                times[name]["map"].append(_best(lambda name=name, smap=smap: enhance_map(smap, model=name), 1)[0])
                times[name]["bare"].append(_best(lambda net=nets[name], x=x: net(x), 1)[0])
        out[kind] = {"times": times, "engine": nets[names[0]].engine,
                     "flops_per_pixel": {name: flops_per_pixel(read_card(name)) for name in names}}
    return out


def case_versions(args):
    info = {}
    for name in ("onnxruntime", "tensorflow", "keras", "jax"):
        try:
            info[name] = __import__(name).__version__
        except ImportError:
            pass
    from sunpy_enhance.models import native_bfloat16

    info["native_bfloat16_cpu"] = native_bfloat16()
    return info


CASES = {"gemm": case_gemm, "tf_matmul": case_tf_matmul, "engine": case_engine, "full_disk": case_full_disk,
         "head_to_head": case_head_to_head, "light": case_light, "versions": case_versions}


def _run(args, case, env=None, **extra):
    """Run one case in a fresh Python process; its JSON result."""
    cmd = [sys.executable, __file__, "--case", case, "--repeats", str(args.repeats), "--size", str(args.size),
           "--gemm-repeats", str(args.gemm_repeats)]
    for key, value in extra.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore", **(env or {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=environment, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        msg = f"case {case} {extra} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        raise RuntimeError(msg)
    return json.loads(lines[-1])


def _engine_env(engine):
    if engine == "jax":
        return {"KERAS_BACKEND": "jax"}
    return {"KERAS_BACKEND": "tensorflow"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="+", default=["onnxruntime", "tensorflow", "jax"],
                        choices=["onnxruntime", "tensorflow", "jax"])
    parser.add_argument("--models", nargs="+", default=["enhance-continuum", "enhance-magnetogram"])
    parser.add_argument("--size", type=int, default=1024, help="map size of the per-engine table")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per variant (best is reported)")
    parser.add_argument("--gemm-repeats", type=int, default=7)
    parser.add_argument("--no-full-disk", action="store_true")
    parser.add_argument("--no-table", action="store_true", help="skip the per-engine table (section 3)")
    parser.add_argument("--no-light", action="store_true", help="skip the light-against-full section")
    parser.add_argument("--full-disk-model", default="enhance-continuum")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(CASES[args.case](args)))
        return 0

    cores = _cores()
    threads = {v: str(cores) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    machine = {**machine_info(), **_run(args, "versions"), "load_average": os.getloadavg()}
    print("Machine:", ", ".join(f"{k}={v}" for k, v in machine.items()), flush=True)
    kernel, by_kernel = _best_blas_kernel(args, threads)
    gemm = {**by_kernel[kernel], "kernel": kernel, "by_kernel": {k: v["gflops"] for k, v in by_kernel.items()}}
    if kernel != "default":
        threads["OPENBLAS_CORETYPE"] = kernel  # the in-process floor of every row below uses the same kernel
    tf_matmul = _run(args, "tf_matmul")
    floor_rate = gemm["gflops"]
    kernels = ", ".join(f"{k} {v:.0f}" for k, v in gemm["by_kernel"].items())
    print(f"\nReference: best float32 GEMM (numpy np.dot {GEMM_N}², {gemm.get('blas', 'BLAS')}, {cores} threads, "
          f"best of {args.gemm_repeats}): {floor_rate:.1f} GFLOP/s with kernel {kernel} (by OpenBLAS kernel: "
          f"{kernels}); TensorFlow float32 matmul: {tf_matmul['gflops']:.1f} GFLOP/s", flush=True)
    results = {"machine": machine, "gemm": gemm, "tf_matmul": tf_matmul, "engines": [], "full_disk": None,
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}

    from sunpy_enhance.models import read_card

    fpp = {model: flops_per_pixel(read_card(model)) for model in args.models + [args.full_disk_model]}
    rows = []
    for model in [] if args.no_table else args.models:
        flops = fpp[model] * args.size**2
        for engine in args.engines:
            try:
                res = _run(args, "engine", env={**threads, **_engine_env(engine)}, engine=engine, model=model)
            except RuntimeError as exc:
                print(f"  {engine} / {model}: not run ({str(exc).splitlines()[-1][:200]})", flush=True)
                continue
            t = {k: min(v) for k, v in res["times"].items()}
            # the floor of this row: the best GEMM measured in the same process, just before and after its runs
            row_rate = max(res["gemm_gflops"])
            floor = flops / (row_rate * 1e9)
            graph_floor = (onnx_flops_per_pixel(model) * args.size**2 / (row_rate * 1e9)
                           if res["engine"] == "onnxruntime" else floor)
            row = {"engine": res["engine"], "model": model, "size": args.size, "flops": flops, "gemm_gflops": row_rate,
                   "map_over_graph_floor": t["map"] / graph_floor,
                   "map_s": t["map"], "bare_s": t["bare"], "tiled_s": t["tiled"], "gflops": flops / t["map"] / 1e9,
                   "map_over_floor": t["map"] / floor, "bare_over_floor": t["bare"] / floor,
                   "tiled_over_bare": t["tiled"] / t["bare"], "map_over_bare": t["map"] / t["bare"],
                   "peak_rss_mb": res["peak_rss_mb"], "map_peak_rss_mb": res["map_peak_rss_mb"],
                   "times": res["times"], "load_s": res["load_s"]}
            results["engines"].append(row)
            rows.append([row["engine"], model, f"{t['map']:.2f}", f"{flops / 1e9:.0f}", f"{row['gflops']:.0f}",
                         f"{row_rate:.0f}", f"{row['map_over_floor']:.2f}", f"{row['map_over_graph_floor']:.2f}",
                         f"{t['bare']:.2f}",
                         f"{row['bare_over_floor']:.2f}", f"{t['tiled']:.2f}", f"{row['tiled_over_bare']:.2f}",
                         f"{row['map_peak_rss_mb']:.0f}", f"{row['peak_rss_mb']:.0f}"])
            print(f"  {engine} / {model}: enhance_map {t['map']:.2f} s, bare {t['bare']:.2f} s, tiled "
                  f"{t['tiled']:.2f} s", flush=True)
    if rows:
        print(f"\n{args.size}² map, float32, best of {args.repeats} interleaved runs; floor = network FLOPs / the best "
              "GEMM measured in the same process around the runs")
        print("(x floor: the Keras network's FLOPs; x graph floor: the FLOPs the engine's graph computes, fewer in "
              "ONNX Runtime's model.onnx)")
        print(table(["engine", "model", "enhance_map (s)", "GFLOP", "GFLOP/s", "GEMM (GFLOP/s)", "x floor",
                     "x graph floor",
                     "bare call (s)", "bare x floor", "tiled (s)", "tiled / bare", "enhance_map peak RSS (MB)",
                     "peak RSS with bare call (MB)"], rows))

    if {"onnxruntime", "tensorflow"} <= set(args.engines):
        res = _run(args, "head_to_head", env=threads, model=args.models[0])
        best = {engine: min(v) for engine, v in res["times"].items()}
        results["head_to_head"] = {**res, "model": args.models[0]}
        print(f"\nHead to head, one process, alternating bare calls on a {res['shape'][0]} x {res['shape'][1]} tile "
              f"({args.models[0]}; best of {len(res['times']['onnxruntime'])}): ONNX Runtime "
              f"{best['onnxruntime']:.2f} s, TensorFlow {best['tensorflow']:.2f} s, TensorFlow / ONNX Runtime "
              f"{best['tensorflow'] / best['onnxruntime']:.2f}", flush=True)

    from sunpy_enhance.models import available_models

    if not args.no_light and {"enhance-continuum-light", "enhance-magnetogram-light"} <= set(available_models()):
        res = _run(args, "light", env=threads)
        results["light"] = res
        rows = []
        for kind, r in res.items():
            full, light = f"enhance-{kind}", f"enhance-{kind}-light"
            best = {name: {k: min(v) for k, v in r["times"][name].items()} for name in (full, light)}
            rows.append([kind, r["engine"], f"{best[full]['map']:.2f}", f"{best[light]['map']:.2f}",
                         f"{best[full]['map'] / best[light]['map']:.1f}",
                         f"{best[full]['bare'] / best[light]['bare']:.1f}",
                         f"{r['flops_per_pixel'][full] / r['flops_per_pixel'][light]:.1f}"])
        print(f"\nLight against full models, one process, alternating (best of {args.repeats}); enhance_map on a "
              f"{args.size}² map, bare network on a 544² tile")
        print(table(["kind", "engine", "full enhance_map (s)", "light enhance_map (s)", "speed-up enhance_map",
                     "speed-up network", "FLOP ratio"], rows), flush=True)

    if not args.no_full_disk:
        model = args.full_disk_model
        res = _run(args, "full_disk", env=threads, model=model, engine="auto")
        pixels = 4096**2
        floor = pixels * fpp[model] / (res["gemm_gflops"] * 1e9)
        graph_floor = pixels * (onnx_flops_per_pixel(model) if res["engine"] == "onnxruntime" else fpp[model]) / (
            res["gemm_gflops"] * 1e9)
        results["full_disk"] = {**res, "model": model, "floor_s": floor, "over_floor": res["seconds"] / floor,
                                "over_graph_floor": res["seconds"] / graph_floor,
                                "computed_fraction": res["network_pixels"] / pixels}
        print("\n4096² synthetic full disk (NaN off the disk), default engine, one run")
        print(table(["engine", "model", "time (s)", "GEMM (GFLOP/s)", "x floor (whole image)",
                     "x graph floor (whole image)", "network pixels / image pixels", "Mpixel/s", "peak RSS (MB)"],
                    [[res["engine"], model, f"{res['seconds']:.1f}", f"{res['gemm_gflops']:.0f}",
                      f"{res['seconds'] / floor:.2f}", f"{res['seconds'] / graph_floor:.2f}",
                      f"{res['network_pixels'] / pixels:.2f}", f"{pixels / res['seconds'] / 1e6:.3f}",
                      f"{res['peak_rss_mb']:.0f}"]]))
    results["load_average_after"] = os.getloadavg()
    print(f"\nload average before {machine['load_average']}, after {results['load_average_after']} "
          f"({platform.node()}, {cores} cores)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
