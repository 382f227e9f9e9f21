"""
Benchmarks of the bundled denoisers against the targets of issue 6, on data from ``../shared/data``.

Sections (all by default):

``heldout``
    Held-out synthetic data with a known truth plus white Gaussian noise (σ = 2.6e-3 Ic for the
    polarimetric model, 10 G for the HMI one; for HMI both held-out SHARP maps, whose own 720 s noise
    bounds the measurable reduction, and noise-free synthetic HMI magnetograms): residual error
    (target ≤ σ/3), correlation with the truth (target ≥ 0.95), PSNR, and calibration of the
    uncertainty (targets 68 ± 7 % within ±1σ, 95 ± 4 % within ±2σ). The published Bayesian network
    (rebuilt, on its own weights) runs on the same polarimetric data for comparison.
``selfsup``
    The same network trained for the same number of steps on the same scenes with clean targets, with
    Noise2Noise (fresh noise pairs, and one fixed pair of realisations) and with blind-spot training on
    one fixed noisy realisation: PSNR on the held-out scenes (target: self-supervised within 0.5 dB of
    clean targets). Needs the runs in ``RUNS/selfsup_*``; ``--train-selfsup STEPS`` trains them
    (resumable; about 15 min each on a shared 2-core CPU for 500 steps).
``published``
    Side by side with the published network on the real SST/CRISP image and the synthetic image of
    ``../shared/data/denoise/``: agreement, where it differs, residual checks.

Usage::

    nice -n 10 python benchmarks/bench_denoise.py [--section heldout heldout-hmi selfsup published]
        [--samples 8] [--train-selfsup 500] [--figures DIR] [--hmi-model NAME_OR_DIR] [--update-cards]

Held-out data are defined in ``benchmarks/denoise_data.py``; none of them was used for training.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import denoise_data as dd

RUNS = Path("/work/runs/denoise")


def metrics(out, truth, noisy, sigma, std=None):
    err = out - truth
    rmse = float(np.sqrt(np.mean(err ** 2)))
    peak = float(truth.max() - truth.min())
    row = {
        "rmse/σ": rmse / sigma,
        "reduction": sigma / rmse,
        "corr_in": float(np.corrcoef(noisy.ravel(), truth.ravel())[0, 1]),
        "corr_out": float(np.corrcoef(out.ravel(), truth.ravel())[0, 1]),
        "psnr_in": 20 * np.log10(peak / float(np.sqrt(np.mean((noisy - truth) ** 2)))),
        "psnr_out": 20 * np.log10(peak / rmse),
    }
    if std is not None:
        z = np.abs(err) / std
        row["in_1σ"] = float(np.mean(z <= 1))
        row["in_2σ"] = float(np.mean(z <= 2))
        row["mean_std/σ"] = float(np.mean(std)) / sigma
    return row


def oracle_wiener(noisy, truth, sigma):
    """
    The best linear (Wiener) filter for white noise of level ``sigma``, built from the truth's own power
    spectrum: no real filter knows it, so it bounds what linear denoising can reach on this image.
    """
    mean = float(truth.mean())
    power = np.abs(np.fft.fft2(truth - mean)) ** 2 / truth.size
    gain = power / (power + sigma ** 2)
    return (mean + np.fft.ifft2(gain * np.fft.fft2(noisy - mean)).real).astype(np.float32)


def table(rows, columns, title):
    print(f"\n### {title}\n")
    print("| " + " | ".join(["case"] + columns) + " |")
    print("|" + "---|" * (len(columns) + 1))
    for name, row in rows:
        cells = []
        for c in columns:
            v = row.get(c)
            cells.append("" if v is None else (f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"))
        print("| " + " | ".join([name] + cells) + " |")


def published_network():
    from sunpy_enhance.denoise.network import build_published_bayes_unet, load_published_weights

    return load_published_weights(build_published_bayes_unet(),
                                  dd.SHARED / "denoise" / "reference_bayes_unet_simulation_weights.hdf5")


def run_published(model, images):
    """The published network on images in Ic units (padded to multiples of 4 by reflection)."""
    images = np.asarray(images, np.float32)
    if images.ndim == 2:
        images = images[None]
    n, h, w = images.shape
    ph, pw = (-h) % 4, (-w) % 4
    x = np.pad(images, ((0, 0), (0, ph), (0, pw)), mode="reflect")[..., None]
    out = np.concatenate([np.asarray(model(x[i:i + 4])) for i in range(0, n, 4)])[:, :h, :w]
    return out[..., 0], np.sqrt(np.exp(out[..., 1]))


def section_heldout(samples, figures, hmi_model="hmi-magnetogram", polarimetry=True):
    from sunpy_enhance.denoise import denoise

    rng = np.random.default_rng(2024)
    columns = ["rmse/σ", "reduction", "corr_in", "corr_out", "psnr_in", "psnr_out", "in_1σ", "in_2σ",
               "mean_std/σ"]
    rows = []
    pub = published_network() if polarimetry else None
    sigma = dd.POLARIMETRY_NOISE
    for name, truth in (dd.polarimetry_heldout().items() if polarimetry else ()):
        truth = truth if truth.ndim == 3 else truth[None]
        noisy = truth + sigma * rng.standard_normal(truth.shape).astype(np.float32)
        t0 = time.time()
        out, unc = denoise(noisy, model="polarimetry", noise=sigma, uncertainty="components", samples=samples)
        dt = time.time() - t0
        rows.append((f"polarimetry / {name} ({dt:.0f} s)", metrics(out, truth, noisy, sigma, unc.total)))
        if samples:
            rows.append(("  aleatoric only", metrics(out, truth, noisy, sigma, unc.aleatoric)))
        pout, pstd = run_published(pub, noisy)
        rows.append(("  published network", metrics(pout, truth, noisy, sigma, pstd)))
        for c in (2,):
            cyc = denoise(noisy, model="polarimetry", noise=sigma, cycles=c)
            rows.append((f"  ours, {c} cycles", metrics(cyc, truth, noisy, sigma)))
    rows += heldout_hmi(np.random.default_rng(2025), samples, figures, hmi_model)
    table(rows, columns, f"Held-out synthetic data: truth + white Gaussian noise (MC samples = {samples})")
    return rows


def _hmi_group(rows, label, cases, rng, samples, model, per_case=True, figure=None):
    """Denoise each held-out HMI truth + 10 G noise; rows per case, for all together and the oracle Wiener filter."""
    sigma = dd.HMI_NOISE
    truths, noisies, outs, stds, wiener = [], [], [], [], []
    for name, truth in cases:
        noisy = truth + sigma * rng.standard_normal(truth.shape).astype(np.float32)
        out, unc = denoise_hmi(noisy, model, samples)
        if per_case:
            rows.append((f"hmi / {label}{name}", metrics(out, truth, noisy, sigma, unc.total)))
        truths.append(truth.ravel()), noisies.append(noisy.ravel()), outs.append(out.ravel())
        stds.append(unc.total.ravel()), wiener.append(oracle_wiener(noisy, truth, sigma).ravel())
        if figure and name.startswith(figure[0]):
            _figure_heldout(figure[1], truth, noisy, out, unc.total, sigma, figure[2], "G")
    t, n, o, s = (np.concatenate(a) for a in (truths, noisies, outs, stds))
    return t, n, o, s, np.concatenate(wiener)


def denoise_hmi(noisy, model, samples):
    from sunpy_enhance.denoise import denoise

    return denoise(noisy, model=model, noise=dd.HMI_NOISE, uncertainty="components", samples=samples)


def heldout_hmi(rng, samples, figures, model):
    """
    The HMI model on three kinds of held-out truth: SHARP maps as they are, the same smoothed by one
    pixel, and the held-out frames of real magnetic structure of the Enhance corpus observed by HMI.
    """
    from scipy import ndimage

    sigma, rows = dd.HMI_NOISE, []
    wiener_label = "  oracle Wiener filter (knows the truth's spectrum)"
    figure = ("sharp_377", figures, "hmi_heldout_377.png") if figures else None
    t, n, o, s, w = _hmi_group(rows, "", dd.hmi_heldout().items(), rng, samples, model, figure=figure)
    rows.append(("hmi / all held-out SHARPs", metrics(o, t, n, sigma, s)))
    rows.append((wiener_label, metrics(w, t, n, sigma)))
    weak = np.abs(t) < 50
    rows.append(("hmi / all, |B| < 50 G pixels", metrics(o[weak], t[weak], n[weak], sigma, s[weak])))
    rows.append(("hmi / all, |B| ≥ 50 G pixels", metrics(o[~weak], t[~weak], n[~weak], sigma, s[~weak])))
    # The SHARP "truths" hold their own 720 s noise (about 5-6 G, correlated by the CEA remapping), which
    # no denoiser can tell from signal under 10 G of added noise. The same maps smoothed by a 1-pixel
    # Gaussian (their own noise reduced about threefold) as truth show what that costs.
    smoothed = ((k, ndimage.gaussian_filter(v, 1.0).astype(np.float32)) for k, v in dd.hmi_heldout().items())
    t, n, o, s, w = _hmi_group(rows, "", smoothed, rng, samples, model, per_case=False)
    rows.append(("hmi / all held-out SHARPs smoothed 1 px", metrics(o, t, n, sigma, s)))
    rows.append((wiener_label, metrics(w, t, n, sigma)))
    # Realistic truths with little noise of their own: real high-resolution magnetograms (held-out columns and
    # frames of the Enhance corpus) observed by HMI.
    t, n, o, s, w = _hmi_group(rows, "real structure ", dd.hmi_observed_frames("validation").items(), rng, samples,
                               model)
    rows.append(("hmi / all real structure observed by HMI", metrics(o, t, n, sigma, s)))
    rows.append((wiener_label, metrics(w, t, n, sigma)))
    weak = np.abs(t) < 50
    rows.append(("hmi / real structure, |B| < 50 G pixels", metrics(o[weak], t[weak], n[weak], sigma, s[weak])))
    return rows


def _figure_heldout(figures, truth, noisy, out, std, sigma, name, unit):
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 5, figsize=(20, 4.5), constrained_layout=True)
    lim = 3 * sigma
    for a, img, title in zip(ax[:3], (truth, noisy, out), ("truth", "truth + noise", "denoised")):
        im = a.imshow(img, origin="lower", cmap="RdBu_r", vmin=-10 * lim, vmax=10 * lim)
        a.set_title(title)
    fig.colorbar(im, ax=ax[:3], shrink=0.7, label=unit)
    im = ax[3].imshow(out - truth, origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax[3].set_title("denoised − truth")
    fig.colorbar(im, ax=ax[3], shrink=0.7)
    im = ax[4].imshow(std, origin="lower", cmap="magma", vmin=0, vmax=sigma)
    ax[4].set_title("predicted σ")
    fig.colorbar(im, ax=ax[4], shrink=0.7)
    Path(figures).mkdir(parents=True, exist_ok=True)
    fig.savefig(Path(figures) / name, dpi=80)
    plt.close(fig)


# --------------------------------------------------------------------------------------------------

SELFSUP = ("supervised", "noise2noise", "noise2noise_fixed_pair", "blind_spot")


def _selfsup_sources():
    from sunpy_enhance.denoise.training import PairSource, SceneSource, SingleImageSource

    scenes = list(dd.polarimetry_training_scenes().values())
    sigma = dd.POLARIMETRY_NOISE
    rng = np.random.default_rng(99)
    noisy1 = [s + sigma * rng.standard_normal(s.shape).astype(np.float32) for s in scenes]
    noisy2 = [s + sigma * rng.standard_normal(s.shape).astype(np.float32) for s in scenes]
    common = {"amplitude": (1.0, 1.0), "flip_sign": False}
    return {
        "supervised": SceneSource(scenes, sigma, mode="supervised", **common),
        "noise2noise": SceneSource(scenes, sigma, mode="noise2noise", **common),
        "noise2noise_fixed_pair": PairSource(noisy1, noisy2, sigma),
        "blind_spot": SingleImageSource(noisy1, sigma),
    }


def train_selfsup(steps, minutes):
    from sunpy_enhance.denoise.training import train_denoiser

    for name, source in _selfsup_sources().items():
        print(f"training {name} to {steps} steps", flush=True)
        train_denoiser(source, RUNS / f"selfsup_{name}", steps=steps, batch_size=16, patch_size=64,
                       learning_rate=1e-3, architecture={"channels": 32, "depth": 2, "bayesian": True,
                                                         "dropout": 0.05},
                       precision="bfloat16", time_limit=60 * minutes, progress=False)


def section_selfsup():
    from sunpy_enhance.denoise.api import _predict
    from sunpy_enhance.denoise.training import load_checkpoint

    class Net:
        def __init__(self, model, blind_spot):
            self.model, self.bayesian, self.multiple, self.blind_spot = model, True, 4, blind_spot

        def __call__(self, batch, training=False):
            return np.asarray(self.model(batch, training=training), np.float32)

    sigma = dd.POLARIMETRY_NOISE
    rng = np.random.default_rng(7)
    heldout = {k: (v if v.ndim == 3 else v[None]) for k, v in dd.polarimetry_heldout().items()}
    noisy = {k: v + sigma * rng.standard_normal(v.shape).astype(np.float32) for k, v in heldout.items()}
    rows, ref = [], {}
    for name in SELFSUP:
        run = RUNS / f"selfsup_{name}"
        if not (run / "checkpoint.keras").is_file():
            print(f"(no run {run}; train with --train-selfsup STEPS)")
            continue
        model, state = load_checkpoint(run)
        src = state["config"]["sources"][0]
        net = Net(model, {"cell": src["cell"], "radius": src["radius"]} if "cell" in src else None)
        row = {"steps": float(state["step"])}
        for scene, truth in heldout.items():
            mean, _, _ = _predict(net, noisy[scene] / sigma, tile_size=512, batch_size=4, samples=0,
                                  want_var=False, rng_seed=0, progress=False)
            m = metrics(mean * sigma, truth, noisy[scene], sigma)
            row[f"psnr {scene}"] = m["psnr_out"]
            if name == "supervised":
                ref[scene] = m["psnr_out"]
            elif scene in ref:
                row[f"Δ {scene}"] = m["psnr_out"] - ref[scene]
        rows.append((name, row))
    columns = ["steps"]
    for scene in heldout:
        columns += [f"psnr {scene}", f"Δ {scene}"]
    table(rows, columns, "Self-supervised vs clean targets: PSNR (dB) on held-out scenes, Δ vs supervised")


# --------------------------------------------------------------------------------------------------

def section_published(figures):
    from sunpy_enhance.denoise import check_residual, denoise

    sigma = dd.POLARIMETRY_NOISE
    d = dd.SHARED / "denoise"
    pub = published_network()
    cases = {
        "SST/CRISP real": (np.load(d / "sst_crisp_polarization_noisy.npy"),
                           np.load(d / "sst_crisp_polarization_reference_denoised.npy")),
        "synthetic": (np.load(d / "synthetic_polarization_noisy.npy").astype(np.float32),
                      np.load(d / "synthetic_polarization_reference_denoised.npy")),
    }
    rows = []
    for name, (noisy, published) in cases.items():
        ours, std = denoise(noisy, model="polarimetry", noise=sigma, uncertainty=True)
        _, pstd = run_published(pub, noisy)
        diff = ours - published
        strong = np.abs(published) > 3 * sigma
        row = {
            "corr(ours,pub)": float(np.corrcoef(ours.ravel(), published.ravel())[0, 1]),
            "rms diff/σ": float(np.sqrt(np.mean(diff ** 2))) / sigma,
            "rms diff/σ weak": float(np.sqrt(np.mean(diff[~strong] ** 2))) / sigma,
            "rms diff/σ strong": float(np.sqrt(np.mean(diff[strong] ** 2))) / sigma if strong.any() else None,
            "std ours/pub": float(np.std(ours) / np.std(published)),
            "mean σ ours": float(np.mean(std)) / sigma,
            "mean σ pub": float(np.mean(pstd)) / sigma,
        }
        for who, out in (("ours", ours), ("pub", published)):
            chk = check_residual(noisy, out, sigma, warn=False)
            row[f"resid lvl {who}"] = chk.level
            row[f"resid ρ01 {who}"] = chk.autocorrelation[(0, 1)]
            row[f"corr(res,out) {who}"] = chk.signal_correlation
        rows.append((name, row))
        if figures:
            _figure_side_by_side(figures, name, noisy, published, ours, std, sigma)
    columns = list(rows[0][1])
    table(rows, columns, "Side by side with the published network (its outputs from ../shared/data/denoise)")


def _figure_side_by_side(figures, name, noisy, published, ours, std, sigma):
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    lim = 3 * sigma
    fig, ax = plt.subplots(2, 3, figsize=(15, 10), constrained_layout=True)
    panels = [(noisy, "noisy input"), (published, "published network"), (ours, "sunpy-enhance"),
              (noisy - published, "residual, published"), (noisy - ours, "residual, sunpy-enhance"),
              (std, "sunpy-enhance σ")]
    for a, (img, title) in zip(ax.ravel(), panels):
        if title.endswith("σ"):
            im = a.imshow(img, origin="lower", cmap="magma", vmin=0, vmax=sigma)
        else:
            im = a.imshow(img, origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim)
        a.set_title(title)
        fig.colorbar(im, ax=a, shrink=0.8)
    Path(figures).mkdir(parents=True, exist_ok=True)
    fig.savefig(Path(figures) / f"side_by_side_{name.split('/')[0].split()[0].lower()}.png", dpi=70)
    plt.close(fig)


def update_cards(rows, samples, section):
    """Write the held-out numbers into the bundled models' cards; ``section`` is the one that measured them."""
    import json

    from sunpy_enhance.models import model_directory

    wanted = {"denoise-polarimetry": "polarimetry / ", "denoise-hmi-magnetogram": "hmi / "}
    for model, prefix in wanted.items():
        entries = {name[len(prefix):].split(" (")[0]: {k: round(v, 4) for k, v in row.items()}
                   for name, row in rows if name.startswith(prefix)}
        if not entries:  # this model was not measured (--section heldout-hmi): its card keeps its numbers
            continue
        path = model_directory(model) / "card.json"
        card = json.loads(path.read_text())
        card.setdefault("metrics", {})["held_out"] = {
            "how": (f"benchmarks/bench_denoise.py --section {section}: held-out truth + white Gaussian noise of the "
                    f"card's level; rmse/σ = RMS(output - truth)/σ, in_1σ/in_2σ = fraction of pixels whose "
                    f"truth lies within ±1σ/±2σ of the output (MC dropout samples = {samples})"),
            "date": time.strftime("%Y-%m-%d"),
            "results": entries,
        }
        path.write_text(json.dumps(card, indent=2) + "\n")
        print(f"updated {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--section", nargs="+", default=["heldout", "selfsup", "published"],
                        choices=["heldout", "heldout-hmi", "selfsup", "published"],
                        help="heldout-hmi: the held-out HMI cases only")
    parser.add_argument("--hmi-model", default="hmi-magnetogram",
                        help="HMI denoiser to measure (bundled name or exported model directory)")
    parser.add_argument("--samples", type=int, default=8, help="Monte-Carlo dropout samples")
    parser.add_argument("--train-selfsup", type=int, default=None, metavar="STEPS")
    parser.add_argument("--minutes", type=float, default=20.0, help="time limit per self-supervised run")
    parser.add_argument("--figures", default=None, help="write figures to this directory")
    parser.add_argument("--update-cards", action="store_true",
                        help="write the held-out numbers into the bundled models' cards")
    args = parser.parse_args()
    if not dd.SHARED.is_dir():
        sys.exit(f"{dd.SHARED} is absent: these benchmarks need ../shared/data.")
    import os
    import platform

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores (shared); "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    if args.train_selfsup:
        train_selfsup(args.train_selfsup, args.minutes)
    if args.update_cards and args.hmi_model != "hmi-magnetogram":
        sys.exit("--update-cards writes the bundled models' cards: it cannot be combined with --hmi-model.")
    if "heldout" in args.section or "heldout-hmi" in args.section:
        rows = section_heldout(args.samples, args.figures, args.hmi_model, polarimetry="heldout" in args.section)
        if args.update_cards:
            update_cards(rows, args.samples, "heldout" if "heldout" in args.section else "heldout-hmi")
    if "selfsup" in args.section:
        section_selfsup()
    if "published" in args.section:
        section_published(args.figures)


if __name__ == "__main__":
    main()
