"""
Evaluation of Enhance models: held-out frames with a known target, and real HMI data without one.

Two kinds of evidence are gathered:

* **Validation frames** (the held-out 30% of every high-resolution frame, degraded with the HMI PSF and
  given the training noise): PSNR and SSIM against the 28 cm target of the network (with its
  data-consistency step, as `~sunpy_enhance.enhance.enhance_array` returns it, and without it), of bicubic
  interpolation and of the best Richardson–Lucy (best of several iteration counts), photometry
  (mean of output vs input) and granulation contrast.
* **Real HMI samples** (never used in training): the forward residual (output re-observed by HMI vs the
  input), quiet-Sun contrast, photometry, the magnetic flux budget, and a comparison with the published
  Enhance outputs: the correlation of the detail each adds over bicubic interpolation.
"""
import json
from pathlib import Path

import astropy.units as u
import numpy as np
from scipy import fft, ndimage

from sunpy_enhance.degrade import ENHANCED_PIXEL_SCALE, HMI_PIXEL_SCALE, training_pair
from sunpy_enhance.diagnostics import (
    flux_budget,
    forward_residual,
    granulation_contrast,
    noise_propagation,
    plot_noise_propagation,
    power_spectrum,
)
from sunpy_enhance.enhance.api import DEFAULT_TILE_SIZE, enhance_array, resolve_model, run_network
from sunpy_enhance.io import atomic_write, read_array
from sunpy_enhance.models import model_directory, read_card
from sunpy_enhance.richardson_lucy import richardson_lucy

__all__ = ["best_richardson_lucy", "bicubic_x2", "crop_border", "detail_correlation", "evaluate_model",
           "magnetogram_noise_study", "noise_study_rows", "psnr", "quiet_highpass_std", "raw_photometry", "ssim",
           "targets_table", "unsampled_detail", "write_card_metrics", "write_report"]

#: Richardson–Lucy iteration counts tried; the best (highest PSNR) is reported.
RL_ITERATIONS = (5, 10, 20, 40)
#: Input pixels left out along each edge of a validation frame (mirror boundaries there).
BORDER = 4
#: Magnetograms: Richardson–Lucy iteration counts and variants tried (the best by RMS against the truth is
#: reported), and the input noise levels of HMI's 45 s and 720 s data (G).
RL_MAGNETOGRAM_ITERATIONS = (5, 10, 20, 40, 80)
RL_DAMPING = 2.0
MAGNETOGRAM_NOISE_LEVELS = (10.0, 6.0)
#: ``|B|`` (G) below which a pixel of the truth counts as weak field in the noise-propagation diagnostic.
WEAK_FIELD = 100.0


def bicubic_x2(image):
    """Cubic-spline ×2 interpolation on Enhance's grid (input pixel p at output coordinate 2p + 0.5)."""
    return ndimage.zoom(np.asarray(image, dtype=float), 2, order=3, mode="grid-mirror", grid_mode=True)


def psnr(estimate, truth):
    """Peak signal-to-noise ratio in dB, the peak being the truth's range (max − min)."""
    mse = np.mean((np.asarray(estimate) - truth) ** 2)
    return float(10 * np.log10((truth.max() - truth.min()) ** 2 / mse))


def ssim(estimate, truth, *, sigma=1.5):
    """Structural similarity (Wang et al. 2004) with a Gaussian window, data range of the truth."""
    x, y = np.asarray(estimate, dtype=float), np.asarray(truth, dtype=float)
    data_range = y.max() - y.min()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = ndimage.gaussian_filter(x, sigma), ndimage.gaussian_filter(y, sigma)
    sxx = ndimage.gaussian_filter(x * x, sigma) - mx**2
    syy = ndimage.gaussian_filter(y * y, sigma) - my**2
    sxy = ndimage.gaussian_filter(x * y, sigma) - mx * my
    index = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return float(index.mean())


def detail_correlation(a, b, hmi):
    """Correlation of the detail two ×2 enhancements add over bicubic interpolation of their input."""
    base = bicubic_x2(hmi)
    da, db = (np.asarray(a) - base).ravel(), (np.asarray(b) - base).ravel()
    keep = np.isfinite(da) & np.isfinite(db)
    return float(np.corrcoef(da[keep], db[keep])[0, 1])


def crop_border(image, factor=1):
    """
    The part of an image that every score is computed on: ``BORDER`` HMI pixels (``BORDER * factor`` pixels of an
    image ``factor`` times finer) cut from each side, where the network and the references see the frame's edge.
    """
    b = BORDER * factor
    return image[b:-b, b:-b]


def _enhance(hmi, kind, model, *, consistency=True):
    if kind == "continuum":
        return enhance_array(hmi, kind=kind, model=model, quiet_sun=1.0, consistency=consistency)
    # kG in, G for the API
    return enhance_array(hmi * 1000.0, kind=kind, model=model, consistency=consistency) / 1000.0


def raw_photometry(hmi, model):
    """
    Mean of the bare network output over the mean of its continuum input, minus 1 (I/Ic inputs).

    What the network alone does to the mean intensity, before `~sunpy_enhance.enhance.enhance_array`
    restores it (`~sunpy_enhance.enhance.flux_gain`).
    """
    model, card = resolve_model("continuum", model)
    norm = card["normalisation"]
    raw = run_network((hmi - norm["offset"]) / norm["scale"], model, card, tile_size=DEFAULT_TILE_SIZE,
                       precision="float32", progress=False, device=None) * norm["scale"] + norm["offset"]
    return float(np.mean(raw) / np.mean(hmi) - 1)


def _validation(kind, corpus, model, noise, seed, figures):
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    rows = []
    for frame in corpus.validation:
        clean, target = training_pair(frame.data, frame.pixel_scale, boundary=frame.boundary)
        hmi = clean + noise * rng.standard_normal(clean.shape)
        outputs = {"bicubic": bicubic_x2(hmi), "network": _enhance(hmi, kind, model),
                   "network_no_consistency": _enhance(hmi, kind, model, consistency=False)}
        best = None
        for n in RL_ITERATIONS:
            rl = richardson_lucy(hmi, iterations=n)
            score = psnr(crop_border(rl, 2), crop_border(target, 2))
            if best is None or score > best[0]:
                best = (score, n, rl)
        outputs["richardson-lucy"] = best[2]
        row = {"frame": frame.name, "shape": list(hmi.shape), "rl_iterations": best[1]}
        t = crop_border(target, 2)
        for name, out in outputs.items():
            o = crop_border(out, 2)
            row[f"psnr_{name}"] = psnr(o, t)
            row[f"ssim_{name}"] = ssim(o, t)
        row["photometry_network"] = float(crop_border(outputs["network"], 2).mean() / crop_border(hmi).mean() - 1) \
            if kind == "continuum" else float(crop_border(outputs["network"], 2).mean() - crop_border(hmi).mean())
        if kind == "continuum":
            row["photometry_raw_network"] = raw_photometry(hmi, model)
            for name, img in (("input", hmi), ("target", target), ("network", outputs["network"])):
                row[f"contrast_{name}"] = float(np.std(img) / np.mean(img))
        rows.append(row)
        fig, axes = plt.subplots(1, 5, figsize=(16, 3.8))
        panels = [("HMI-like input", hmi), ("bicubic", outputs["bicubic"]),
                  (f"RL ({best[1]} it.)", outputs["richardson-lucy"]), ("network", outputs["network"]),
                  ("28 cm target", target)]
        lo, hi = np.percentile(target, [1, 99])
        for ax, (title, img) in zip(axes, panels):
            ax.imshow(img, origin="lower", cmap="gray", vmin=lo, vmax=hi)
            ax.set_title(title)
            ax.set_axis_off()
        fig.suptitle(frame.name)
        path = figures / f"validation_{len(rows)}.png"
        fig.savefig(path, dpi=80, bbox_inches="tight")
        plt.close(fig)
        row["figure"] = path.name
        if len(rows) == 1:
            fig, ax = plt.subplots(figsize=(6, 4))
            for name, img, scale in (("input", hmi, 0.504), ("network", outputs["network"], 0.252),
                                     ("RL", outputs["richardson-lucy"], 0.252), ("target", target, 0.252)):
                spec = power_spectrum(img, pixel_scale=scale * u.arcsec)
                ax.loglog(spec.spatial_frequency[1:].value, spec.density[1:], label=name)
            ax.set_xlabel("spatial frequency (1/arcsec)")
            ax.set_ylabel("power per unit frequency area (arcsec$^2$)")
            ax.legend()
            fig.savefig(figures / "validation_power_spectra.png", dpi=80, bbox_inches="tight")
            plt.close(fig)
    return rows


def _rms(a, b):
    return float(np.sqrt(np.mean((np.asarray(a, dtype=float) - b) ** 2)))


def best_richardson_lucy(hmi, clean, truth, sigma):
    """
    The Richardson–Lucy reference of the magnetogram evaluation: the run closest to the truth.

    Both variants (offset, and damped with threshold ``RL_DAMPING`` × ``sigma``) are run for every count of
    `RL_MAGNETOGRAM_ITERATIONS` on the noisy input; the one with the lowest RMS error against the truth (inside
    the evaluation border) is kept and run again on the noise-free input. The choice uses the truth, so it is a
    better-tuned reference than any fixed setting a user could pick.

    Parameters
    ----------
    hmi, clean : `numpy.ndarray`
        The noisy and the noise-free HMI-like inputs (G).
    truth : `numpy.ndarray`
        The 28 cm truth on Enhance's grid (G).
    sigma : float
        The input noise σ (G).

    Returns
    -------
    label : str
        The setting, e.g. ``"20 it., offset"``.
    noisy, noise_free : `numpy.ndarray`
        Its outputs for the two inputs.
    """
    best = None
    for damping in (None, RL_DAMPING):
        for n in RL_MAGNETOGRAM_ITERATIONS:
            kwargs = {"iterations": n, "damping": damping, "noise": sigma if damping else None}
            out = richardson_lucy(hmi, **kwargs)
            score = _rms(crop_border(out, 2), crop_border(truth, 2))
            if best is None or score < best[0]:
                best = (score, kwargs, out)
    score, kwargs, noisy = best
    label = f"{kwargs['iterations']} it." + (f", damped T={RL_DAMPING}" if kwargs["damping"] else ", offset")
    return label, noisy, richardson_lucy(clean, **kwargs)


def unsampled_detail(image, pixel_scale: u.arcsec, *, sampling: u.arcsec = HMI_PIXEL_SCALE):
    """
    The part of an image at spatial frequencies beyond the Nyquist frequency of a coarser sampling.

    HMI's 0.504″ pixels record spatial frequencies up to 1/(2 × 0.504″) = 0.99 arcsec⁻¹ along each axis; finer
    detail of the scene (the 28 cm view reaches 2.2 arcsec⁻¹ at 617 nm) is folded into lower frequencies by the
    sampling and cannot be told apart from them. A restoration that got every frequency HMI records exactly right
    and added nothing beyond would differ from the truth by exactly this image, so its RMS is the error of that
    ideal band-limited restoration. A method can only go below it by supplying the missing detail from its
    prior (a network trained on similar scenes can; a linear deconvolution cannot, Richardson–Lucy's
    positivity only a little), which makes it the yardstick for how much of a gap to a target is within
    reach on a given frame.

    The spectrum is taken with the discrete cosine transform, i.e. of the image mirrored at its edges, so that
    the frame's edges add no spurious high frequencies.

    Parameters
    ----------
    image : array-like
        The truth, e.g. the 28 cm view on Enhance's grid.
    pixel_scale : `~astropy.units.Quantity`
        Its pixel scale (finer than ``sampling``).
    sampling : `~astropy.units.Quantity`, optional
        The coarser pixel scale whose Nyquist frequency sets the limit; HMI's by default.

    Returns
    -------
    `numpy.ndarray`
        The image's components above the Nyquist frequency along either axis, same shape and unit.
    """
    image = np.asarray(image, dtype=float)
    ratio = (pixel_scale / sampling).to_value(u.one)
    if not 0 < ratio < 1:
        msg = f"pixel_scale ({pixel_scale}) must be finer than the sampling ({sampling})."
        raise ValueError(msg)
    spectrum = fft.dctn(image, norm="ortho")
    # DCT-II index k of N samples is the frequency k / (2 N) cycles per pixel; Nyquist of the sampling: ratio / 2
    beyond = [np.arange(n) / (2 * n) > ratio / 2 for n in image.shape]
    mask = beyond[0][:, None] | beyond[1][None, :]
    return fft.idctn(np.where(mask, spectrum, 0.0), norm="ortho")


def _rms_beyond_hmi_nyquist(image):
    """RMS, inside the evaluation border, of an Enhance-grid image's detail beyond HMI's Nyquist frequency."""
    return float(np.sqrt(np.mean(crop_border(unsampled_detail(image, ENHANCED_PIXEL_SCALE), 2) ** 2)))


def magnetogram_noise_study(frame, model, *, noise_levels=MAGNETOGRAM_NOISE_LEVELS, seed=0, figure=None):
    """
    RMS error against the 28 cm truth and noise propagation of the network, bicubic and Richardson–Lucy.

    The frame (kG) is degraded by the Enhance recipe (`~sunpy_enhance.degrade.training_pair`); for each noise
    level white noise of that σ (G) is added; every method runs on the noisy and on the noise-free input. The
    RMS against the truth is taken on both: on the noisy input it is the figure of merit, on the noise-free one
    it tells what a method loses without any noise (what its prior or its stopping point costs), so that a gap
    to Richardson–Lucy can be put down to noise or to the method. The propagated noise is the difference of the
    two outputs (`~sunpy_enhance.diagnostics.noise_propagation`), in weak-field (``|B|`` < `WEAK_FIELD` in the
    truth) and strong-field pixels. Richardson–Lucy is `best_richardson_lucy`.

    The frame's ``rms_truth_beyond_hmi_nyquist`` (`unsampled_detail`) is the error of an ideal restoration of
    what HMI samples: below it only detail supplied by a method's prior can take the RMS. Each method's error is
    split the same way (``rms_beyond_hmi_nyquist_<method>``): where it is below the truth's, the method supplies
    correct detail finer than HMI's pixels; where it equals it, none; above it, detail that is not there.

    Returns
    -------
    dict
        ``rms_truth_beyond_hmi_nyquist`` (G), and one entry per noise level (``"10G"``, ``"6G"``) with
        ``rms_<method>``, ``rms_noise_free_<method>`` and ``rms_beyond_hmi_nyquist_<method>``
        (G), ``weak_<method>`` and ``strong_<method>`` (propagated noise, G), the RL setting, and the ratios to
        the best RL and to bicubic.
    """
    clean_kg, truth_kg = training_pair(frame.data, frame.pixel_scale, boundary=frame.boundary)
    clean, truth = clean_kg * 1000.0, truth_kg * 1000.0
    rng = np.random.default_rng(seed)
    result = {"frame": frame.name, "shape": list(clean.shape),
              "rms_truth_beyond_hmi_nyquist": _rms_beyond_hmi_nyquist(truth)}
    props = {}
    for sigma in noise_levels:
        hmi = clean + sigma * rng.standard_normal(clean.shape)
        rl_label, rl_noisy, rl_clean = best_richardson_lucy(hmi, clean, truth, sigma)
        outputs = {"network": (enhance_array(hmi, kind="magnetogram", model=model),
                               enhance_array(clean, kind="magnetogram", model=model)),
                   "bicubic": (bicubic_x2(hmi), bicubic_x2(clean)),
                   "richardson-lucy": (rl_noisy, rl_clean)}
        row = {"rl_setting": rl_label}
        t = crop_border(truth, 2)
        for name, (noisy, noise_free) in outputs.items():
            row[f"rms_{name}"] = _rms(crop_border(noisy, 2), t)
            row[f"rms_noise_free_{name}"] = _rms(crop_border(noise_free, 2), t)
            row[f"rms_beyond_hmi_nyquist_{name}"] = _rms_beyond_hmi_nyquist(noisy - truth)
            prop = noise_propagation(crop_border(noisy, 2), crop_border(noise_free, 2), t, threshold=WEAK_FIELD * u.G,
                                     pixel_scale=0.252 * u.arcsec)
            row[f"weak_{name}"] = float(prop.weak_rms.to_value(u.G))
            row[f"strong_{name}"] = float(prop.strong_rms.to_value(u.G))
            props[(sigma, name)] = prop
        row["weak_fraction"] = props[(sigma, "network")].weak_fraction
        row["ratio_to_rl"] = row["rms_network"] / row["rms_richardson-lucy"]
        row["ratio_to_bicubic"] = row["rms_network"] / row["rms_bicubic"]
        result[f"{sigma:g}G"] = row
    if figure is not None:
        import matplotlib.pyplot as plt

        sigma = noise_levels[0]
        fig, ax = plt.subplots(figsize=(6, 4))
        names = ("network", "bicubic", "richardson-lucy")
        plot_noise_propagation([props[(sigma, n)] for n in names], list(names), ax=ax)
        ax.set_title(f"{frame.name}: {sigma:g} G input noise, propagated (weak / strong rms)", fontsize=8)
        fig.savefig(figure, dpi=80, bbox_inches="tight")
        plt.close(fig)
        result["noise_figure"] = Path(figure).name
    return result


def quiet_highpass_std(image, hmi, *, smoothing=2.0, limit=50.0):
    """
    Standard deviation (G) of the high-pass part of an enhanced magnetogram over the quiet region of its input.

    Quiet: input pixels whose ``|B|`` smoothed over ``smoothing`` HMI pixels is below ``limit`` G. High-pass: the
    image minus its Gaussian smoothing over ``smoothing`` output pixels. This is where a network that
    sharpens noise shows it: at HMI resolution the quiet Sun is mostly noise.
    """
    quiet = ndimage.gaussian_filter(np.abs(np.asarray(hmi, dtype=float)), smoothing) < limit
    quiet = np.repeat(np.repeat(quiet, 2, axis=0), 2, axis=1)
    image = np.asarray(image, dtype=float)
    high = image - ndimage.gaussian_filter(image, smoothing)
    return float(np.std(crop_border(high, 2)[crop_border(quiet, 2)]))


def _real_samples(kind, root, model, figures):
    import matplotlib.pyplot as plt

    name = {"continuum": "enhance_sample_continuum", "magnetogram": "enhance_sample_blos"}[kind]
    hmi = read_array(Path(root) / "hmi" / f"{name}.fits", allow_nan=True)
    published = read_array(Path(root) / "hmi" / f"{name}_published_output.fits", allow_nan=True)
    qs = {"quiet_sun": 1.0} if kind == "continuum" else {}
    ours = enhance_array(hmi, kind=kind, model=model, **qs)
    bare = enhance_array(hmi, kind=kind, model=model, consistency=False, **qs)
    rl = richardson_lucy(hmi, iterations=20)
    result = {"file": f"hmi/{name}.fits", "detail_correlation_with_published": detail_correlation(ours, published, hmi),
              "detail_correlation_with_published_no_consistency": detail_correlation(bare, published, hmi)}
    for label, out in (("network", ours), ("network-no-consistency", bare), ("published", published),
                       ("richardson-lucy-20", rl), ("bicubic", bicubic_x2(hmi))):
        fr = forward_residual(hmi, out, border=BORDER)
        entry = {"forward_mean_relative": fr.mean_relative, "forward_mean_pixel_relative": fr.mean_pixel_relative,
                 "forward_rms": fr.rms}
        if kind == "continuum":
            entry["quiet_sun_contrast"] = granulation_contrast(out, pixel_scale=0.252 * u.arcsec)
            entry["photometry"] = float(np.mean(out) / np.mean(hmi) - 1)
        else:
            budget = flux_budget(hmi, out)
            entry["quiet_highpass_std"] = quiet_highpass_std(out, hmi)
            entry["unsigned_flux_ratio"] = budget.unsigned_ratio
            entry["signed_flux_change_over_unsigned"] = float(
                (budget.output_signed - budget.input_signed) / budget.input_unsigned)
        result[label] = entry
    if kind == "continuum":
        result["photometry_raw_network"] = raw_photometry(hmi, model)
        result["input_quiet_sun_contrast"] = granulation_contrast(hmi, pixel_scale=0.504 * u.arcsec)
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.8))
    lim = np.percentile(np.abs(published), 99.5)
    norm = {"vmin": -lim, "vmax": lim} if kind == "magnetogram" else dict(zip(("vmin", "vmax"),
                                                                             np.percentile(published, [0.5, 99.5])))
    for ax, (title, img) in zip(axes, (("HMI", hmi), ("published Enhance", published), ("this model", ours),
                                       ("Richardson-Lucy 20", rl))):
        ax.imshow(img, origin="lower", cmap="gray", **norm)
        ax.set_title(title)
        ax.set_axis_off()
    fig.savefig(figures / f"real_{kind}.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    result["figure"] = f"real_{kind}.png"
    return result


def evaluate_model(kind, shared_root, output_dir, *, model=None, seed=0):
    """
    Evaluate an Enhance model on the held-out corpus and the real HMI samples; write a Markdown report.

    Parameters
    ----------
    kind : {"continuum", "magnetogram"}
    shared_root : `os.PathLike`
        The shared data folder (``../shared/data``) holding the corpus and the HMI samples.
    output_dir : `os.PathLike`
        Where ``report.md``, ``metrics.json`` and the figures go.
    model : str or `os.PathLike`, optional
        Bundled model name or directory; default ``"enhance-<kind>"``.
    seed : int, optional
        Seed of the validation noise.

    Returns
    -------
    dict
        The metrics (also in ``metrics.json``).
    """
    import matplotlib

    matplotlib.use("agg")
    from sunpy_enhance.enhance.training.corpus import shared_corpus

    model = model or f"enhance-{kind}"
    card = read_card(model_directory(model))
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    corpus = shared_corpus(shared_root, kind)
    noise = card.get("training", {}).get("noise") or (1e-3 if kind == "continuum" else 1e-2)
    metrics = {"model": card.get("name"), "kind": kind, "noise": noise,
               "validation": _validation(kind, corpus, model, noise, seed, output_dir),
               "real_hmi": _real_samples(kind, shared_root, model, output_dir)}
    if kind == "magnetogram":
        metrics["noise_study"] = [magnetogram_noise_study(frame, model, seed=seed + i,
                                                          figure=output_dir / f"noise_{i + 1}.png")
                                  for i, frame in enumerate(corpus.validation)]
    metrics["summary"] = _summary(kind, metrics)
    text = json.dumps(metrics, indent=1)
    atomic_write(output_dir / "metrics.json", lambda tmp: tmp.write_text(text), overwrite=True)
    write_report(metrics, output_dir / "report.md")
    return metrics


def _summary(kind, metrics):
    val = metrics["validation"]
    real = metrics["real_hmi"]
    s = {
        "min_psnr_gain_over_bicubic_db": min(r["psnr_network"] - r["psnr_bicubic"] for r in val),
        "min_psnr_gain_over_best_rl_db": min(r["psnr_network"] - r["psnr_richardson-lucy"] for r in val),
        "forward_residual_real": real["network"]["forward_mean_pixel_relative" if kind == "continuum"
                                                 else "forward_rms"],
        "detail_correlation_with_published": real["detail_correlation_with_published"],
    }
    if kind == "continuum":
        s["max_abs_photometry_validation"] = max(abs(r["photometry_network"]) for r in val)
        s["photometry_real"] = real["network"]["photometry"]
        s["quiet_sun_contrast_real"] = real["network"]["quiet_sun_contrast"]
    else:
        s["unsigned_flux_ratio_real"] = real["network"]["unsigned_flux_ratio"]
        s["signed_flux_change_over_unsigned_real"] = real["network"]["signed_flux_change_over_unsigned"]
        s["quiet_highpass_std_real"] = real["network"]["quiet_highpass_std"]
        s["quiet_highpass_std_published"] = real["published"]["quiet_highpass_std"]
        study = metrics.get("noise_study", [])
        for level in MAGNETOGRAM_NOISE_LEVELS:
            rows = [r[f"{level:g}G"] for r in study]
            if rows:
                s[f"max_rms_ratio_to_rl_{level:g}G"] = max(r["ratio_to_rl"] for r in rows)
                s[f"max_rms_ratio_to_bicubic_{level:g}G"] = max(r["ratio_to_bicubic"] for r in rows)
        rows = [r[f"{MAGNETOGRAM_NOISE_LEVELS[0]:g}G"] for r in study]
        if rows:
            s["max_propagated_noise_weak_10G"] = max(r["weak_network"] for r in rows)
            s["max_propagated_noise_strong_10G"] = max(r["strong_network"] for r in rows)
    return s


_TARGETS = {
    "continuum": [
        ("PSNR gain over bicubic, every validation frame (dB)", "min_psnr_gain_over_bicubic_db", ">= 3",
         lambda v: v >= 3),
        ("PSNR gain over best RL, every validation frame (dB)", "min_psnr_gain_over_best_rl_db", ">= 1.5",
         lambda v: v >= 1.5),
        ("|mean output / mean input - 1|, validation", "max_abs_photometry_validation", "<= 0.002",
         lambda v: v <= 0.002),
        ("mean output / mean input - 1, real sample", "photometry_real", "|.| <= 0.002", lambda v: abs(v) <= 0.002),
        ("forward residual, real sample (mean relative)", "forward_residual_real", "<= 0.010", lambda v: v <= 0.010),
        ("quiet-Sun contrast, real sample", "quiet_sun_contrast_real", "0.065-0.08", lambda v: 0.065 <= v <= 0.08),
        ("detail correlation with published", "detail_correlation_with_published", ">= 0.8", lambda v: v >= 0.8),
    ],
    "magnetogram": [
        ("PSNR gain over bicubic, every validation frame (dB)", "min_psnr_gain_over_bicubic_db", "(no target)",
         None),
        ("PSNR gain over best RL, every validation frame (dB)", "min_psnr_gain_over_best_rl_db", "(no target)",
         None),
        ("RMS / best RL, every validation frame, 10 G noise", "max_rms_ratio_to_rl_10G", "<= 0.85",
         lambda v: v <= 0.85),
        ("RMS / bicubic, every validation frame, 10 G noise", "max_rms_ratio_to_bicubic_10G", "<= 0.8",
         lambda v: v <= 0.8),
        ("RMS / best RL, every validation frame, 6 G noise", "max_rms_ratio_to_rl_6G", "<= 0.85",
         lambda v: v <= 0.85),
        ("RMS / bicubic, every validation frame, 6 G noise", "max_rms_ratio_to_bicubic_6G", "<= 0.8",
         lambda v: v <= 0.8),
        ("propagated noise from 10 G, weak field |B| < 100 G (G rms, worst frame)", "max_propagated_noise_weak_10G",
         "<= 11", lambda v: v <= 11),
        ("propagated noise from 10 G, strong field (G rms, worst frame)", "max_propagated_noise_strong_10G",
         "<= 25", lambda v: v <= 25),
        ("forward residual, real sample (G rms)", "forward_residual_real", "<= 13", lambda v: v <= 13),
        ("unsigned flux ratio output/input, real sample", "unsigned_flux_ratio_real", "0.95-1.2",
         lambda v: 0.95 <= v <= 1.2),
        ("signed-flux change / unsigned flux, real sample", "signed_flux_change_over_unsigned_real", "|.| <= 0.03",
         lambda v: abs(v) <= 0.03),
        ("quiet-region high-pass std, real sample (G)", "quiet_highpass_std_real",
         "<= published network's", None),
        ("detail correlation with published", "detail_correlation_with_published", "(no target)", None),
    ],
}


def targets_table(kind, summary):
    """Rows (what, measured, target, met) of the issue's targets for a summary."""
    rows = []
    for what, key, target, check in _TARGETS[kind]:
        if key not in summary:
            continue
        value = summary[key]
        if key == "quiet_highpass_std_real":
            check = lambda v, ref=summary["quiet_highpass_std_published"]: v <= ref  # noqa: E731
            target = f"<= {summary['quiet_highpass_std_published']:.3g} (published network)"
        met = "" if check is None else ("yes" if check(value) else "NO")
        rows.append((what, value, target, met))
    return rows


def write_card_metrics(model_dir, metrics, *, output=None):
    """
    Record an evaluation (`evaluate_model`'s result) as ``validation_metrics`` in a model's card.json.

    Parameters
    ----------
    model_dir : `os.PathLike`
        The model's directory (`sunpy_enhance.models.model_directory`).
    metrics : dict
        `evaluate_model`'s result.
    output : `os.PathLike`, optional
        Write the card with the metrics there instead of into ``model_dir`` (which is then left as it is),
        e.g. for a bundled model of an installed package; an existing file is replaced.

    Returns
    -------
    `pathlib.Path`
        The card written (atomically).
    """
    card_path = Path(model_dir) / "card.json"
    card = json.loads(card_path.read_text())
    kind = metrics["kind"]
    card["validation_metrics"] = {"summary": metrics["summary"],
                                  "targets": [dict(zip(("quantity", "measured", "target", "met"), row, strict=True))
                                              for row in targets_table(kind, metrics["summary"])],
                                  "validation_frames": metrics["validation"],
                                  "noise_study": metrics.get("noise_study", []),
                                  "real_hmi": metrics["real_hmi"]}
    text = json.dumps(card, indent=2) + "\n"
    target = card_path if output is None else Path(output)
    atomic_write(target, lambda tmp: tmp.write_text(text), overwrite=True)
    return target


def noise_study_rows(noise_study):
    """
    The table of `magnetogram_noise_study` results: one row per frame and input noise level, as text.

    The report of `evaluate_model` and the model-card pages of the documentation both show this table.

    Parameters
    ----------
    noise_study : list of dict
        `magnetogram_noise_study` results (as recorded in a card's ``metrics["noise_study"]``).

    Returns
    -------
    list of dict
        Column heading to formatted cell (G, or a ratio), in display order; every row has the same columns.
    """
    rows = []
    for frame in noise_study:
        for level, q in frame.items():
            if not isinstance(q, dict):
                continue
            rows.append({
                "frame": frame["frame"],
                "input noise": level.replace("G", " G"),
                "RMS network": f"{q['rms_network']:.1f}",
                "RMS bicubic": f"{q['rms_bicubic']:.1f}",
                "RMS best RL (setting)": f"{q['rms_richardson-lucy']:.1f} ({q['rl_setting']})",
                "network / RL": f"{q['ratio_to_rl']:.3f}",
                "network / bicubic": f"{q['ratio_to_bicubic']:.3f}",
                "RMS from noise-free input: network / RL":
                    f"{q['rms_noise_free_network']:.1f} / {q['rms_noise_free_richardson-lucy']:.1f}",
                "beyond HMI's Nyquist: truth / network error / RL error":
                    f"{frame['rms_truth_beyond_hmi_nyquist']:.1f} / {q['rms_beyond_hmi_nyquist_network']:.1f} / "
                    f"{q['rms_beyond_hmi_nyquist_richardson-lucy']:.1f}",
                "noise passed, weak field: network / bicubic / RL":
                    f"{q['weak_network']:.1f} / {q['weak_bicubic']:.1f} / {q['weak_richardson-lucy']:.1f}",
                "strong field: network / bicubic / RL":
                    f"{q['strong_network']:.1f} / {q['strong_bicubic']:.1f} / {q['strong_richardson-lucy']:.1f}",
            })
    return rows


def write_report(metrics, path):
    """Write the Markdown report of `evaluate_model`."""
    kind = metrics["kind"]
    lines = [f"# Evaluation of `{metrics['model']}` ({kind})", "",
             f"Validation inputs carry Gaussian noise of {metrics['noise']} (network units).", "",
             "## Targets", "", "| quantity | measured | target | met |", "|---|---|---|---|"]
    for what, value, target, met in targets_table(kind, metrics["summary"]):
        lines.append(f"| {what} | {value:.4g} | {target} | {met} |")
    lines += ["", "## Held-out validation frames", "",
              "| frame | PSNR bicubic | PSNR RL (it.) | PSNR network | PSNR network without consistency step "
              "| SSIM bicubic | SSIM RL | SSIM network |", "|---|---|---|---|---|---|---|---|"]
    for r in metrics["validation"]:
        lines.append(f"| {r['frame']} | {r['psnr_bicubic']:.2f} | {r['psnr_richardson-lucy']:.2f} "
                     f"({r['rl_iterations']}) | {r['psnr_network']:.2f} | {r['psnr_network_no_consistency']:.2f} | "
                     f"{r['ssim_bicubic']:.3f} | {r['ssim_richardson-lucy']:.3f} | {r['ssim_network']:.3f} |")
    if kind == "continuum":
        lines += ["", "| frame | contrast input | contrast network | contrast target | photometry | "
                  "photometry of the bare network |", "|---|---|---|---|---|---|"]
        for r in metrics["validation"]:
            lines.append(f"| {r['frame']} | {r['contrast_input']:.4f} | {r['contrast_network']:.4f} | "
                         f"{r['contrast_target']:.4f} | {r['photometry_network']:+.4f} | "
                         f"{r['photometry_raw_network']:+.4f} |")
    if metrics.get("noise_study"):
        rows = noise_study_rows(metrics["noise_study"])
        lines += ["", "## Noise: RMS against the 28 cm truth and propagated noise (G)", "",
                  "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(row.values()) + " |" for row in rows]
        lines += ["", "Beyond HMI's Nyquist: the RMS of the truth's detail above 0.99 arcsec⁻¹ (`unsampled_detail`), "
                  "the error of an ideal restoration of everything HMI samples, and the part of each method's error "
                  "(noisy input) there. An error below the truth's means correct detail finer than HMI's pixels; "
                  "equal, none; above, detail that is not there."]
        lines += [""] + [f"![noise]({r['noise_figure']})" for r in metrics["noise_study"] if "noise_figure" in r]
    lines += [""] + [f"![{r['frame']}]({r['figure']})" for r in metrics["validation"]]
    lines += ["", "![power spectra](validation_power_spectra.png)", "", "## Real HMI sample", ""]
    real = metrics["real_hmi"]
    lines.append(f"File `{real['file']}`; detail correlation with the published Enhance output: "
                 f"{real['detail_correlation_with_published']:.3f}.")
    lines += ["", "| output | " + " | ".join(k for k in real["network"]) + " |",
              "|---|" + "---|" * len(real["network"])]
    for label in ("network", "network-no-consistency", "published", "richardson-lucy-20", "bicubic"):
        lines.append(f"| {label} | " + " | ".join(f"{v:.4g}" for v in real[label].values()) + " |")
    if "input_quiet_sun_contrast" in real:
        lines.append(f"\nInput quiet-Sun contrast: {real['input_quiet_sun_contrast']:.4f}. The bare network changes "
                     f"the mean intensity by {real['photometry_raw_network']:+.4f} (relative) before "
                     "the consistency step and `flux_gain` restore it.")
    lines += ["", f"![real]({real['figure']})", ""]
    text = "\n".join(lines)
    atomic_write(path, lambda tmp: tmp.write_text(text), overwrite=True)
