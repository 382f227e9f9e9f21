"""
==========================================================
A full disk: limb darkening, μ, and where Enhance applies
==========================================================

The Enhance continuum network works in units of the local quiet-Sun intensity, I/Ic. On a full-disk
HMI image the quiet Sun is about twice as bright at disk centre as near the limb, so
`~sunpy_enhance.enhance.enhance_map` first divides every pixel by the limb-darkening law at that
pixel's μ = cos θ (θ the heliocentric angle), computed from the map's coordinates, and then by one
quiet-Sun level for the whole image.

This example shows that normalisation on a full-disk map, and what happens towards the limb.

.. note::
   What is shown, honestly: a real HMI full disk is 4096 × 4096 pixels and enhancing it takes minutes
   on a laptop CPU (see :ref:`performance`), too long for building this documentation. The full-disk
   map below therefore has the geometry of an HMI full disk (same observer, same disk) but 8 times
   coarser pixels (4.03″), and is only *normalised*, not enhanced. Enhancement is then run on two
   native-resolution (0.504″/px) cutouts, one near disk centre and one near the limb. The intensities
   are synthetic: a smooth limb-darkened disk with noise, not observed granulation.
"""

import warnings

import astropy.units as u
import matplotlib.pyplot as plt
import numpy as np
import sunpy.map
from astropy.coordinates import SkyCoord
from sunpy.coordinates import frames
from sunpy.map.header_helper import make_fitswcs_header

from sunpy_enhance.enhance.api import LIMB_MU, enhance_map
from sunpy_enhance.enhance.normalize import quiet_sun_level
from sunpy_enhance.exceptions import SunpyEnhanceUserWarning
from sunpy_enhance.sample import synthetic_hmi_map
from sunpy_enhance.solar import limb_darkening, mu_from_map

###############################################################################
# A full-disk map with HMI's geometry on 2014-03-01 (observer 0.993 au from the Sun, 7.2° below the
# solar equator), 512 × 512 pixels of 4.032″ (8 × 0.504″), in DN/s. Off-disk pixels are NaN, as in
# HMI level-1.5 images. Like HMI's, the image is rotated by 180° (``CROTA2``), so solar north is
# at the bottom of the pixel grid: the maps below are plotted as stored, and their axes say where
# north is.
obstime = "2014-03-01T00:01:30"
observer = SkyCoord(
    0 * u.deg,
    -7.2 * u.deg,
    1.4852e11 * u.m,
    frame=frames.HeliographicStonyhurst,
    obstime=obstime,
)
centre = SkyCoord(
    0 * u.arcsec,
    0 * u.arcsec,
    frame=frames.Helioprojective(observer=observer, obstime=obstime),
)
header = make_fitswcs_header(
    (512, 512),
    centre,
    scale=[8 * 0.504] * 2 * u.arcsec / u.pix,
    rotation_angle=180 * u.deg,
    telescope="SDO/HMI",
    instrument="HMI",
    wavelength=6173 * u.AA,
    unit=u.Unit("DN/s"),
)
header.update({"content": "CONTINUUM INTENSITY", "rsun_ref": 696_000_000.0})
geometry = sunpy.map.Map(np.zeros((512, 512)), header)
mu = mu_from_map(geometry)

rng = np.random.default_rng(0)
disk = 62000.0 * limb_darkening(mu) * (1 + 0.01 * rng.standard_normal(mu.shape))
full_disk = sunpy.map.Map(disk.astype(np.float32), header)
print(
    f"disk radius {full_disk.rsun_obs:.1f}; μ from {np.nanmin(mu):.3f} to {np.nanmax(mu):.3f}"
)

###############################################################################
# The normalisation, step by step, with the functions `~sunpy_enhance.enhance.enhance_map` uses:
# `~sunpy_enhance.solar.mu_from_map`, `~sunpy_enhance.solar.limb_darkening` (the HMI team's
# law, :math:`I(\mu)/I(1) = 1 + \sum_k a_k (\ln\mu)^k`) and ``sunpy_enhance.enhance.normalize.quiet_sun_level``.
ld = limb_darkening(mu)
level = quiet_sun_level(full_disk.data / ld)
normalised = full_disk.data / ld / level
print(f"quiet-Sun level at disk centre: {level:.0f} DN/s")

fig = plt.figure(figsize=(13, 4.3), layout="constrained")
ax = fig.add_subplot(1, 3, 1, projection=full_disk)
full_disk.plot(axes=ax, cmap="gray", title="Input, DN/s")
ax = fig.add_subplot(1, 3, 2, projection=full_disk)
mu_map = sunpy.map.Map(mu, header)
im = mu_map.plot(axes=ax, cmap="viridis", title="μ = cos θ from the map's WCS")
ax.contour(mu, levels=[LIMB_MU], colors="w", linewidths=1)
fig.colorbar(im, ax=ax, shrink=0.8, label="μ (white: μ = 0.3)")
ax = fig.add_subplot(1, 3, 3, projection=full_disk)
im = sunpy.map.Map(normalised, header).plot(
    axes=ax,
    cmap="gray",
    vmin=0.95,
    vmax=1.05,
    title="I / (limb darkening × quiet-Sun level)",
)
fig.colorbar(im, ax=ax, shrink=0.8, label="I/Ic")
plt.show()

###############################################################################
# A radial profile: the input falls from disk centre to the limb following the law; the normalised
# image is flat, so the network sees the same I/Ic wherever the granulation is.
radius = np.sqrt(1 - mu**2)  # r / R_sun of each pixel
order = np.argsort(radius[np.isfinite(radius)])
r_sorted = radius[np.isfinite(radius)][order]
fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
axes[0].plot(
    r_sorted,
    (full_disk.data / level)[np.isfinite(radius)][order],
    ",",
    alpha=0.3,
    color="gray",
    label="pixels (input / level)",
)
grid = np.linspace(0, 0.9999, 400)
axes[0].plot(
    grid,
    limb_darkening(np.sqrt(1 - grid**2)),
    color="tab:red",
    label="HMI limb-darkening law",
)
axes[0].axvline(np.sqrt(1 - LIMB_MU**2), color="k", ls=":", lw=1)
axes[0].text(np.sqrt(1 - LIMB_MU**2), 0.45, "μ = 0.3 ", fontsize=9, ha="right")
axes[0].set_xlabel("r / R$_\\odot$")
axes[0].set_ylabel("I / I(disk centre)")
axes[0].legend(markerscale=20)
axes[1].plot(
    r_sorted, normalised[np.isfinite(radius)][order], ",", alpha=0.3, color="gray"
)
axes[1].set_ylim(0.9, 1.1)
axes[1].set_xlabel("r / R$_\\odot$")
axes[1].set_ylabel("I/Ic after normalisation")
plt.show()

###############################################################################
# Now two cutouts at HMI's native 0.504″/px: one 300″ from disk centre (μ ≈ 0.95) and one 920″ from
# it, close to the limb (μ from about 0.2 to 0.4 across the cutout). Enhance warns when
# any on-disk pixel has μ < 0.3: there, granulation is foreshortened and its contrast low, and the
# networks, trained on disk-centre data, are unreliable. It still enhances those pixels and keeps their
# values, but the output map's ``mask`` marks them (with any off-disk or missing pixels).
near_centre = synthetic_hmi_map(
    "continuum", shape=(100, 100), center=(-300, 0) * u.arcsec, spot=False, seed=1
)
near_limb = synthetic_hmi_map(
    "continuum", shape=(100, 100), center=(-920, 0) * u.arcsec, spot=False, seed=2
)

enhanced_centre = enhance_map(near_centre)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", SunpyEnhanceUserWarning)
    enhanced_limb = enhance_map(near_limb)
for warning in caught:
    print(f"{warning.category.__name__}: {warning.message}")
print(f"masked output pixels: near centre {enhanced_centre.mask.mean():.0%}, near the limb "
      f"{enhanced_limb.mask.mean():.0%}")

###############################################################################
# Input (DN/s, limb darkening included) and output (I/Ic, limb darkening removed) of both cutouts.
# sunpy's ``plot`` leaves masked pixels blank: the μ < 0.3 part of the near-limb output is not shown
# (its values are still in ``enhanced_limb.data``). The synthetic granulation here is drawn the same
# everywhere, without foreshortening; on real data the limb-ward granulation is also squeezed along the
# radial direction and of lower contrast.
fig = plt.figure(figsize=(11, 9.5), layout="constrained")
for row, (before, after, name) in enumerate(
    (
        (near_centre, enhanced_centre, "300″ from centre"),
        (near_limb, enhanced_limb, "920″ from centre"),
    )
):
    ax = fig.add_subplot(2, 2, 2 * row + 1, projection=before)
    before.plot(axes=ax, cmap="gray", title=f"HMI-like input, {name} (DN/s)")
    ax = fig.add_subplot(2, 2, 2 * row + 2, projection=after)
    low, high = np.nanpercentile(after.data, [1, 99])
    after.plot(
        axes=ax, cmap="gray", vmin=low, vmax=high, title=f"Enhanced, {name} (I/Ic)"
    )
    mu_cut = mu_from_map(before)
    trusted = after.data[~after.mask]
    print(
        f"{name}: μ from {np.nanmin(mu_cut):.2f} to {np.nanmax(mu_cut):.2f}; "
        f"output mean I/Ic {np.nanmean(after.data):.3f} "
        f"(unmasked pixels: {np.mean(trusted):.3f})"
    )
plt.show()

###############################################################################
# For a whole disk, the same call works on the 4096² image (``enhance_map(sunpy.map.Map(path))``): it
# is processed in tiles of ``tile_size`` input pixels (512 by default), so the memory needed does not
# grow with the image. Pass ``progress=True`` to see the tiles go by, and consider
# ``precision="bfloat16"`` on CPUs with AVX-512/AMX and on GPUs (:ref:`guide-tiles-devices`).
