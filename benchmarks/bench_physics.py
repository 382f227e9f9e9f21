"""
Benchmark of the physics layer: the forward model against real HMI, Richardson–Lucy timing and memory,
and the forward-consistency residual of RL, Enhance and plain interpolation on real HMI data.

Usage::

    nice -n 10 python benchmarks/bench_physics.py [FIGURE_PATH] [--skip-full-disk] [--iterations N]

Prints three tables:

(a) MURaM quiet-Sun simulation degraded with the Enhance-modified HMI PSF against a real HMI quiet-Sun
    patch: granulation contrast and power-spectrum agreement; saves a figure like the paper's Fig. 5
    (default ``docs/images/muram_vs_hmi_power_spectrum.png``);
(b) Richardson–Lucy wall time for 400² and 4096² inputs (the latter with NaN off-disk corners, in a
    child process so its peak RSS is its own);
(c) forward residual (re-observe with the HMI PSF, bin 2×2, compare with the input) on the Enhance
    sample cutouts for bilinear and bicubic ×2, the published Enhance output and RL at several
    iteration counts, plus the granulation contrast (continuum) and flux ratio (magnetogram).

Parts (a) and (c) read ``../shared/data`` next to the repository and are skipped, with a message, when
it is absent.
"""
import argparse
import multiprocessing
import os
import platform
import resource
import sys
import time
from pathlib import Path

import astropy.units as u
import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DEFAULT_FIGURE = ROOT / "docs" / "images" / "muram_vs_hmi_power_spectrum.png"


def _rss_mb():
    """Peak resident memory of this process so far, MB (ru_maxrss is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb():
    """Current resident memory, MB (Linux /proc; NaN elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _table(title, header, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


# ---------------------------------------------------------------------------------------------------
# (a) MURaM vs HMI


BANDS = ((0.03, 0.15), (0.15, 0.30), (0.30, 0.45))


def spectral_agreement(ps_a, ps_b):
    """
    Agreement of two spectra (px⁻¹ axes): the geometric-mean ratio a/b in frequency bands, and the rms
    of log10(a/b) from 0.03 to 0.45 px⁻¹, ps_b interpolated onto ps_a's rings.
    """
    b_on_a = np.interp(ps_a.frequency, ps_b.frequency, ps_b.power)
    log_ratio = np.log10(ps_a.power / b_on_a)
    bands = [10 ** log_ratio[(ps_a.frequency >= lo) & (ps_a.frequency < hi)].mean() for lo, hi in BANDS]
    keep = (ps_a.frequency >= BANDS[0][0]) & (ps_a.frequency < BANDS[-1][1])
    return bands, float(np.sqrt(np.mean(log_ratio[keep] ** 2)))


def part_muram(figure):
    from sunpy_enhance.degrade import training_pair
    from sunpy_enhance.diagnostics import forward_residual, granulation_contrast, power_spectrum
    from sunpy_enhance.psf import WACHTER_REFERENCE, hmi_psf
    from sunpy_enhance.richardson_lucy import richardson_lucy, upsample_bilinear_x2

    scale = 0.0662 * u.arcsec
    frame = np.load(SHARED / "highres" / "muram_qs_continuum_48km.npy").astype(float)
    frame /= frame.mean()
    real = np.load(SHARED / "hmi" / "hmi_qs_patch_dns.npy").astype(float)
    t0 = time.perf_counter()
    hmi_like, target = training_pair(frame, scale, boundary="wrap")
    t_pair = time.perf_counter() - t0
    reference, _ = training_pair(frame, scale, boundary="wrap", input_psf=hmi_psf(scale, **WACHTER_REFERENCE))
    rng = np.random.default_rng(0)
    noisy = hmi_like + 1e-3 * rng.standard_normal(hmi_like.shape)

    def contrast(image):
        return granulation_contrast(image, region=np.s_[:, :])

    rows = [
        ["real HMI quiet Sun (hmi_qs_patch_dns.npy)", real.shape, "0.504", f"{100 * contrast(real):.2f}%"],
        ["MURaM degraded, HMI PSF ω=2, W=3.4 (Enhance)", hmi_like.shape, "0.504",
         f"{100 * contrast(hmi_like):.2f}%"],
        ["  same + 1e-3 Ic noise", noisy.shape, "0.504", f"{100 * contrast(noisy):.2f}%"],
        ["MURaM degraded, HMI PSF ω=1.8, W=3 (Wachter)", reference.shape, "0.504",
         f"{100 * contrast(reference):.2f}%"],
        ["MURaM, 28 cm Airy target", target.shape, "0.252", f"{100 * contrast(target):.2f}%"],
        ["MURaM at 48 km (no PSF)", frame.shape, "0.0662", f"{100 * contrast(frame):.2f}%"],
    ]
    _table(f"(a) Granulation contrast σ/⟨I⟩ (whole field); training_pair on 1000² took {t_pair:.1f} s",
           ["image", "shape", "″/px", "contrast"], rows)

    ps_real = power_spectrum(real, pixel_scale=0.504 * u.arcsec, normalize="mean")
    ps_sim = power_spectrum(hmi_like, pixel_scale=0.504 * u.arcsec, normalize="mean")
    ps_noisy = power_spectrum(noisy, pixel_scale=0.504 * u.arcsec, normalize="mean")
    ps_ref = power_spectrum(reference, pixel_scale=0.504 * u.arcsec, normalize="mean")
    ps_target = power_spectrum(target, pixel_scale=0.252 * u.arcsec, normalize="mean")
    rows = []
    for name, ps in [("Enhance-modified PSF", ps_sim), ("  + 1e-3 noise", ps_noisy),
                     ("Wachter reference PSF", ps_ref)]:
        bands, rms = spectral_agreement(ps, ps_real)
        rows.append([name, *[f"{b:.2f}" for b in bands], f"{rms:.3f}"])
    _table("Power spectrum, degraded MURaM / real HMI (of I/<I>, Hann window): geometric-mean ratio per band",
           ["degradation", *[f"{lo}–{hi} px⁻¹" for lo, hi in BANDS], "rms log10 ratio 0.03–0.45"],
           rows)

    # the forward residual of a perfect 28 cm image, and RL on the degraded simulation (truth known)
    perfect = forward_residual(hmi_like, target)
    perfect_noisy = forward_residual(noisy, target)
    rows = [["perfect 28 cm target", f"{100 * perfect.mean_relative:.2f}%",
             f"{100 * perfect_noisy.mean_relative:.2f}%", f"{100 * contrast(target):.2f}%", "0"]]
    for name, out in [("bilinear ×2", upsample_bilinear_x2(noisy)),
                      ("RL 20 it.", richardson_lucy(noisy, iterations=20)),
                      ("RL 50 it.", richardson_lucy(noisy, iterations=50))]:
        err = np.sqrt(np.mean((out - target) ** 2)) / np.sqrt(np.mean((target - target.mean()) ** 2))
        rows.append([name, f"{100 * forward_residual(hmi_like, out).mean_relative:.2f}%",
                     f"{100 * forward_residual(noisy, out).mean_relative:.2f}%",
                     f"{100 * contrast(out):.2f}%",
                     f"{err:.2f}"])
    _table("MURaM: forward residual ⟨|R−I|⟩/⟨|I|⟩ against the noiseless / noisy (1e-3) HMI-like "
           "input, "
           "and error vs the 28 cm target (rms / target's rms contrast)",
           ["output", "residual (noiseless in)", "residual (noisy in)", "contrast", "rel. error vs target"],
           rows)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, axr) = plt.subplots(2, 1, figsize=(6.4, 6.4), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1.3]})
    for ps, label, style in [(ps_real, "HMI quiet Sun (real)", dict(color="k", lw=2)),
                             (ps_sim, "MURaM ⊛ HMI PSF (ω=2, W=3.4), 0.504″", dict(color="tab:blue")),
                             (ps_ref, "MURaM ⊛ HMI PSF (Wachter ω=1.8, W=3)",
                              dict(color="tab:blue", ls=":")),
                             (ps_target, "MURaM ⊛ Airy 28 cm, 0.252″", dict(color="tab:red"))]:
        ax.loglog(ps.spatial_frequency.to_value(1 / u.arcsec), ps.density, label=label, **style)
    ax.axvline(1 / (2 * 0.504), color="0.6", lw=0.8, ls="--")
    ax.text(1 / (2 * 0.504), ax.get_ylim()[0] * 3, " HMI Nyquist", color="0.4", fontsize=8)
    ax.set_ylabel("power of I/⟨I⟩ per unit frequency area [arcsec$^2$]")
    ax.set_title("Degraded MURaM vs real HMI quiet Sun")
    ax.legend(fontsize=8, loc="lower left")
    for ps, style in [(ps_sim, dict(color="tab:blue")), (ps_ref, dict(color="tab:blue", ls=":"))]:
        f = ps.spatial_frequency.to_value(1 / u.arcsec)
        real_on = np.interp(ps.frequency, ps_real.frequency, ps_real.power)
        axr.semilogx(f, ps.power / real_on, **style)
    axr.axhline(1, color="k", lw=0.8)
    axr.set_ylim(0, 2.5)
    axr.set_ylabel("sim / real")
    axr.set_xlabel("spatial frequency [arcsec$^{-1}$]")
    fig.tight_layout()
    figure = Path(figure)
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=110)
    plt.close(fig)
    print(f"\nfigure written to {figure}")


# ---------------------------------------------------------------------------------------------------
# (b) RL timing


def synthetic_disk(n, rng, radius_fraction=0.94):
    """A continuum-like full disk: granulation-like noise, limb darkening, NaN outside the disk."""
    field = rng.standard_normal((n, n)).astype(np.float32)
    field = ndimage.gaussian_filter(field, 1.2)
    field *= 0.037 / field.std()
    yy, xx = np.ogrid[:n, :n]
    r = np.hypot(yy - (n - 1) / 2, xx - (n - 1) / 2) / (radius_fraction * n / 2)
    mu = np.sqrt(np.clip(1 - r ** 2, 0, None))
    image = (1 + field) * (1 - 0.6 * (1 - mu)).astype(np.float32)
    image[r >= 1] = np.nan
    return image


def _time_rl_child(n, iterations, queue):
    from sunpy_enhance.richardson_lucy import richardson_lucy

    image = synthetic_disk(n, np.random.default_rng(1))
    before = _current_rss_mb()
    t0 = time.perf_counter()
    out = richardson_lucy(image, iterations=iterations)
    elapsed = time.perf_counter() - t0
    queue.put({"n": n, "time": elapsed, "rss_before": before, "rss_peak": _rss_mb(),
               "nan_fraction": float(np.isnan(out).mean()), "shape": out.shape})


def time_rl(n, iterations):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_time_rl_child, args=(n, iterations, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def part_timing(iterations, full_disk):
    from sunpy_enhance.richardson_lucy import richardson_lucy

    rows = []
    rng = np.random.default_rng(2)
    for n in (200, 400):
        image = 1 + 0.037 * rng.standard_normal((n, n))
        richardson_lucy(image[:50, :50], iterations=1)  # warm up imports and FFT plans
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            richardson_lucy(image, iterations=iterations)
            times.append(time.perf_counter() - t0)
        rows.append([f"{n}²", f"{2 * n}²", iterations, f"{min(times):.2f} s", f"{np.median(times):.2f} s",
                     "", ""])
    if full_disk:
        for n in (4096,):
            r = time_rl(n, iterations)
            rows.append([f"{n}² full disk ({100 * r['nan_fraction']:.0f}% NaN)", f"{r['shape'][0]}²",
                         iterations,
                         f"{r['time']:.1f} s", "", f"{r['rss_before']:.0f} MB", f"{r['rss_peak']:.0f} MB"])
    load = os.getloadavg()
    _table(f"(b) Richardson–Lucy wall time ({platform.processor() or platform.machine()}, "
           f"{os.cpu_count()} CPUs, load average {load[0]:.1f}, 1 FFT thread)",
           ["input", "output", "iterations", "best", "median", "RSS at start", "peak RSS"], rows)


# ---------------------------------------------------------------------------------------------------
# (c) forward residuals on the Enhance sample


def bicubic_x2(image):
    """Cubic-spline ×2 onto the refined grid (output pixel q at input coordinate (q − 0.5)/2)."""
    q = [(np.arange(2 * n) - 0.5) / 2 for n in image.shape]
    yy, xx = np.meshgrid(*q, indexing="ij")
    return ndimage.map_coordinates(image, [yy, xx], order=3, mode="nearest")


def part_residuals():
    from astropy.io import fits

    from sunpy_enhance.diagnostics import flux_budget, forward_residual, granulation_contrast
    from sunpy_enhance.richardson_lucy import richardson_lucy, upsample_bilinear_x2

    for kind in ("continuum", "blos"):
        image = fits.getdata(SHARED / "hmi" / f"enhance_sample_{kind}.fits").astype(float)
        published = fits.getdata(SHARED / "hmi" / f"enhance_sample_{kind}_published_output.fits")
        published = published.astype(float)
        outputs = {"bilinear ×2": upsample_bilinear_x2(image), "bicubic ×2": bicubic_x2(image),
                   "Enhance (published output)": published}
        for it in (5, 10, 20, 50):
            t0 = time.perf_counter()
            outputs[f"RL {it} it."] = richardson_lucy(image, iterations=it)
            if it == 20:
                t_rl20 = time.perf_counter() - t0
        noise = 1e-3 if kind == "continuum" else 10.0
        outputs["RL 20 it., damped T=3σ"] = richardson_lucy(image, iterations=20, damping=3, noise=noise)
        rows = []
        weak = np.abs(image) < 50  # for magnetograms: weak-field pixels, where RL amplifies noise
        weak_out = np.repeat(np.repeat(weak, 2, 0), 2, 1)
        for name, out in outputs.items():
            res = forward_residual(image, out)
            res_b = forward_residual(image, out, border=10)
            row = [name, f"{100 * res.mean_relative:.2f}%", f"{100 * res.mean_pixel_relative:.2f}%"
                   if kind == "continuum" else "—", f"{100 * res_b.mean_relative:.2f}%", f"{res.rms:.4g}"]
            if kind == "continuum":
                row.append(f"{100 * granulation_contrast(out, pixel_scale=0.252 * u.arcsec):.2f}%")
            else:
                row.append(f"{flux_budget(image, out).unsigned_ratio:.3f}")
                row.append(f"{np.std(out[weak_out]):.1f} G")
            rows.append(row)
        header = ["output", "⟨|R−I|⟩/⟨|I|⟩", "⟨|R−I|/I⟩", "same, 10 px border cut",
                  "rms(R−I)"]
        if kind == "continuum":
            header.append("QS contrast (auto)")
            title = (f"(c) Forward residual on enhance_sample_continuum.fits (200², I/Ic); "
                     f"input QS contrast "
                     f"{100 * granulation_contrast(image):.2f}%; RL 20 it. took {t_rl20:.2f} s")
        else:
            header += ["unsigned flux out/in", "rms in |B_in|<50 G px"]
            title = (f"(c) Forward residual on enhance_sample_blos.fits (200², G); input rms in |B|<50 G: "
                     f"{np.std(image[weak]):.1f} G ({weak.mean():.0%} of pixels)")
        _table(title, header, rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("figure", nargs="?", default=str(DEFAULT_FIGURE),
                        help="where to save the MURaM-vs-HMI power-spectrum figure")
    parser.add_argument("--iterations", type=int, default=20, help="RL iterations for the timing (20)")
    parser.add_argument("--skip-full-disk", action="store_true", help="skip the 4096² RL timing")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {platform.platform()}")
    if SHARED.is_dir():
        part_muram(args.figure)
    else:
        print(f"\n(a) skipped: shared data folder {SHARED} is absent")
    part_timing(args.iterations, not args.skip_full_disk)
    if SHARED.is_dir():
        part_residuals()
    else:
        print(f"\n(c) skipped: shared data folder {SHARED} is absent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
