"""
=========================================================
Denoising a polarimetric image, with its uncertainty map
=========================================================

Weak polarisation signals (Stokes Q, U, V) are often buried in noise. The denoiser of
Díaz Baso et al. (2019) recovers them from their spatial coherence, and its Bayesian variant says,
pixel by pixel, how far the result may be from the truth.

This example builds a synthetic Stokes V image (a pore with a ring of penumbral-like filaments and
a few magnetic elements), adds white noise at the level of SST/CRISP observations
(σ = 2.6 × 10⁻³ of the continuum intensity), denoises it as a `~sunpy.map.Map` with the bundled
``"polarimetry"`` model, and compares the result, and its uncertainty, with the truth. It then checks
that what was removed is plain noise, and finishes with an HMI magnetogram, for which the HMI model is
picked automatically.
"""
import astropy.units as u
import matplotlib.colors
import matplotlib.pyplot as plt
import numpy as np
import sunpy.map
from astropy.coordinates import SkyCoord
from sunpy.coordinates import frames

from sunpy_enhance.denoise import check_residual, denoise_map

###############################################################################
# A synthetic Stokes V scene, in units of the continuum intensity.
rng = np.random.default_rng(42)
n = 256
yy, xx = np.mgrid[:n, :n].astype(float)
r = np.hypot(yy - 128, xx - 118)
theta = np.arctan2(yy - 128, xx - 118)
filaments = 1 + 0.6 * np.cos(36 * theta + 3 * np.sin(5 * theta))
truth = 0.012 * np.exp(-(r / 22) ** 2)                              # the pore
truth += 0.006 * np.exp(-((r - 50) / 14) ** 2) * filaments          # penumbral filaments
for _ in range(25):                                                  # small magnetic elements
    cy, cx = rng.uniform(0, n, 2)
    truth += rng.choice([-1, 1]) * rng.uniform(2e-3, 6e-3) * np.exp(
        -((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rng.uniform(1.5, 4) ** 2))

sigma = 2.6e-3
noisy = truth + sigma * rng.standard_normal(truth.shape)

###############################################################################
# Wrap the noisy image in a Map (CRISP-like sampling, 0.059″ per pixel).
reference = SkyCoord(150 * u.arcsec, -220 * u.arcsec,
                     frame=frames.Helioprojective(observer="earth", obstime="2020-07-27T08:35"))
header = sunpy.map.header_helper.make_fitswcs_header(
    noisy.shape, reference, scale=[0.059, 0.059] * u.arcsec / u.pix, instrument="CRISP",
    observatory="SST", wavelength=6302 * u.AA)
noisy_map = sunpy.map.Map(noisy, header)

###############################################################################
# Denoise it. ``uncertainty=True`` attaches the per-pixel standard deviation to the output Map;
# ``samples`` adds the Monte-Carlo-dropout (epistemic) part to the network's own estimate
# (aleatoric). The output is on the same grid, with provenance in its metadata.
denoised_map = denoise_map(noisy_map, model="polarimetry", noise=sigma * u.dimensionless_unscaled,
                           uncertainty=True, samples=8)
std = denoised_map.uncertainty.array
print({key: denoised_map.meta[key] for key in ("enhmeth", "enhmodel", "dnnoise", "dnnoisrc", "dncycles")})

error = denoised_map.data - truth
print(f"RMS error: input {np.std(noisy - truth):.2e}, denoised {np.sqrt(np.mean(error ** 2)):.2e} "
      f"({sigma / np.sqrt(np.mean(error ** 2)):.1f}x less)")
print(f"truth within ±1σ: {np.mean(np.abs(error) <= std):.0%}, within ±2σ: {np.mean(np.abs(error) <= 2 * std):.0%}")

###############################################################################
# The images: input, output, truth, and the uncertainty next to the actual error.
lim = 0.012
fig, axes = plt.subplots(2, 3, figsize=(13, 8.5), constrained_layout=True)
panels = [(noisy, "noisy Stokes V / Ic"), (denoised_map.data, "denoised"), (truth, "truth"),
          (noisy - denoised_map.data, "residual (input − output)")]
for ax, (image, title) in zip(axes.ravel(), panels):
    im = ax.imshow(image, origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set_title(title)
fig.colorbar(im, ax=axes[0, :], shrink=0.8, label="Stokes V / Ic")
im = axes[1, 1].imshow(std / sigma, origin="lower", cmap="magma", vmin=0, vmax=0.6)
axes[1, 1].set_title("predicted σ (units of the noise)")
fig.colorbar(im, ax=axes[1, 1], shrink=0.8)
im = axes[1, 2].imshow(np.abs(error) / sigma, origin="lower", cmap="magma", vmin=0, vmax=0.6)
axes[1, 2].set_title("|denoised − truth| (units of the noise)")
fig.colorbar(im, ax=axes[1, 2], shrink=0.8)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])

###############################################################################
# Is the uncertainty honest? If it is, the error divided by the predicted σ is a unit Gaussian.
# The network learnt how large its errors are from its training scenes, where weak fine structure
# hides under the noise; on a scene as smooth as this one its errors are smaller than that, so its σ
# is on the safe side (more than 68% of the pixels within ±1σ). The benchmark
# ``benchmarks/bench_denoise.py`` measures the calibration on held-out data.
z = error / std
fig, ax = plt.subplots(figsize=(6, 4))
bins = np.linspace(-4, 4, 81)
ax.hist(z.ravel(), bins=bins, density=True, histtype="step", label="(denoised − truth) / σ")
ax.plot(bins, np.exp(-bins ** 2 / 2) / np.sqrt(2 * np.pi), "k--", label="unit Gaussian")
ax.set_xlabel("normalised error")
ax.legend()

###############################################################################
# What was removed should be structure-free noise of the expected level. `check_residual` tests its
# level, whiteness, large-scale structure and correlation with the output, and warns otherwise.
print(check_residual(noisy, denoised_map.data, noise=sigma, warn=False))

###############################################################################
# An HMI magnetogram: the HMI model and the nominal 45 s noise (10 G) are chosen from the metadata.
field = 900 * np.exp(-((yy - 100) ** 2 + (xx - 90) ** 2) / 150) - 700 * np.exp(
    -((yy - 160) ** 2 + (xx - 170) ** 2) / 300)
field += sum(rng.choice([-1, 1]) * rng.uniform(30, 150) * np.exp(
    -((yy - cy) ** 2 + (xx - cx) ** 2) / 6) for cy, cx in rng.uniform(0, n, (40, 2)))
hmi_header = sunpy.map.header_helper.make_fitswcs_header(
    field.shape, reference, scale=[0.504, 0.504] * u.arcsec / u.pix, instrument="HMI", unit=u.G)
hmi_header["cadence"] = 45.0
magnetogram = sunpy.map.Map(field + 10 * rng.standard_normal(field.shape), hmi_header)
clean_magnetogram = denoise_map(magnetogram, uncertainty=True)
print(clean_magnetogram.meta["enhmodel"], clean_magnetogram.meta["dnnoise"], "G,",
      clean_magnetogram.meta["dnnoisrc"])

sigma_map = sunpy.map.Map(clean_magnetogram.uncertainty.array, clean_magnetogram.meta)
fig = plt.figure(figsize=(13, 4.2), layout="constrained")
panels = [(magnetogram, "HMI-like magnetogram, 10 G noise", "gray", (-60, 60)),
          (clean_magnetogram, "denoised", "gray", (-60, 60)),
          (sigma_map, "predicted σ (G)", "magma", (0, 6))]
for k, (m, title, cmap, (lo, hi)) in enumerate(panels):
    ax = fig.add_subplot(1, 3, k + 1, projection=m)
    im = m.plot(axes=ax, cmap=cmap, norm=matplotlib.colors.Normalize(lo, hi), title=title)
    fig.colorbar(im, ax=ax, shrink=0.8, label="G")

plt.show()
