"""
How much bfloat16 inference differs from float32, against the noise the networks were trained with.

Enhances the shared HMI samples (``../shared/data/hmi/enhance_sample_continuum.fits``, already I/Ic, and
``enhance_sample_blos.fits``, G; 200² cutouts of an active region) with the bundled models in float32 and
in bfloat16 (mixed precision: bfloat16 hidden layers, float32 output layer) and prints the differences:
maximum, 99.9th percentile and RMS of |bf16 − f32|, the RMS in units of the training noise (1e-3 Ic for
continuum, 10 G for magnetograms; Díaz Baso & Asensio Ramos 2018), and the change of one science number
per kind (RMS granulation contrast; total unsigned flux). Synthetic HMI-like maps
(`sunpy_enhance.sample.synthetic_hmi_map`, 400²) are added so the script also runs without the shared data.

Usage::

    python benchmarks/bench_precision.py [--data-dir ../shared/data/hmi] [--no-synthetic]

Re-run it whenever the bundled models change: the numbers depend on the weights.
"""
import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# measure bfloat16's accuracy on any machine, also where the CPU only emulates it (the package would otherwise
# warn and compute float32 there: sunpy_enhance.models.native_bfloat16)
os.environ.setdefault("SUNPY_ENHANCE_EMULATE_BFLOAT16", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import machine_info, table

NOISE = {"continuum": (1e-3, "Ic"), "magnetogram": (10.0, "G")}
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hmi"


def _science(kind, image):
    finite = image[np.isfinite(image)]
    if kind == "continuum":
        return "contrast", float(np.std(finite) / np.mean(finite))
    return "unsigned flux (G px)", float(np.sum(np.abs(finite)))


def compare(kind, name, f32, bf16):
    diff = np.abs(bf16.astype(np.float64) - f32.astype(np.float64))
    diff = diff[np.isfinite(diff)]
    sigma, unit = NOISE[kind]
    label, a = _science(kind, f32)
    _, b = _science(kind, bf16)
    rms = float(np.sqrt(np.mean(diff**2)))
    return {"input": name, "kind": kind, "unit": unit, "max": float(diff.max()),
            "p999": float(np.percentile(diff, 99.9)), "rms": rms, "rms_over_noise": rms / sigma,
            "science": label, "science_f32": a, "science_rel_change": (b - a) / a}


def run_array(data, kind, model):
    from sunpy_enhance.enhance.api import enhance_array

    extra = {"quiet_sun": 1.0} if kind == "continuum" else {}
    return [enhance_array(data, kind=kind, model=model, precision=p, **extra) for p in ("float32", "bfloat16")]


def run_map(smap, model):
    from sunpy_enhance.enhance.api import enhance_map

    return [enhance_map(smap, model=model, precision=p).data for p in ("float32", "bfloat16")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-synthetic", action="store_true")
    args = parser.parse_args(argv)

    from astropy.io import fits

    from sunpy_enhance.models import available_models, read_card

    print("Machine:", ", ".join(f"{k}={v}" for k, v in machine_info().items()))
    rows, results = [], []
    files = {"continuum": "enhance_sample_continuum.fits", "magnetogram": "enhance_sample_blos.fits"}
    for kind in ("continuum", "magnetogram"):
        model = f"enhance-{kind}"
        if model not in available_models():
            print(f"{model}: not bundled in this checkout; skipped")
            continue
        card = read_card(model)
        print(f"{model}: created {card.get('created')}")
        cases = []
        path = args.data_dir / files[kind]
        if path.is_file():
            data = fits.getdata(path).astype(np.float64)
            cases.append((f"{path.name} (real HMI, 200²)", *run_array(data, kind, model)))
        else:
            print(f"{path}: absent; shared-data case skipped")
        if not args.no_synthetic:
            from sunpy_enhance.sample import synthetic_hmi_map

            cases.append(("synthetic_hmi_map (400²)", *run_map(synthetic_hmi_map(kind, shape=(400, 400)), model)))
        for name, f32, bf16 in cases:
            res = compare(kind, name, f32, bf16)
            results.append(res)
            u = res["unit"]
            rows.append([res["input"], f"{res['max']:.3g} {u}", f"{res['p999']:.3g} {u}", f"{res['rms']:.3g} {u}",
                         f"{res['rms_over_noise']:.2f}", f"{res['science']} {res['science_rel_change']:+.2e}"])
    if not rows:
        print("nothing to compare")
        return 1
    print("\n|bfloat16 - float32| of the enhanced images (training noise: 1e-3 Ic, 10 G)")
    print(table(["input", "max", "99.9th pct", "RMS", "RMS / training noise", "relative change"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
