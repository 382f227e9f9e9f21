"""
=============================================
Training a small Enhance model on your frames
=============================================

The bundled models learned from particular simulations and observations (see :ref:`models`). If you
have better high-resolution frames (a simulation of the phenomenon you study, observations from a large
telescope) or a different instrument in mind, you can train your own model with the same code.

This example trains a deliberately tiny model (2 residual blocks of 16 filters instead of 5 of 64) for
under a minute on the package's synthetic scenes, shows its learning curve, and applies it to a map.
The recipe is the published one: each high-resolution frame is observed through the HMI PSF and
0.504″ pixels to make the input, and through a 28 cm diffraction-limited telescope and 0.252″ pixels
to make the target; the network learns to map one to the other. A tiny model trained for seconds is
a toy: the point is the workflow, which is the same for a real run (hours, the published architecture,
your frames).

With your own data, build the frames with `~sunpy_enhance.enhance.training.frames_from_paths` (files and their
pixel scales) or `~sunpy_enhance.enhance.training.Frame` (arrays), or run the same training from a shell::

    sunpy-enhance train --kind continuum --frame muram_snapshot.fits:0.0662:wrap \\
        --frame sst_frame.fits:0.059 --run-dir runs/my-model --export models/my-model --name my-model

See :ref:`retraining` for the choices that matter (frames, normalisation, noise, length of training).
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from sunpy_enhance.diagnostics import plot_power_spectra, power_spectrum
from sunpy_enhance.enhance.api import enhance_map
from sunpy_enhance.enhance.training import TrainingConfig, synthetic_corpus, train_enhance
from sunpy_enhance.models import read_card
from sunpy_enhance.sample import synthetic_hmi_map

###############################################################################
# The corpus: three synthetic high-resolution scenes (0.126″/px), two for training and one held out
# for validation, plus one HMI-like image without a target for the forward-consistency loss (the
# output, observed again by HMI, must give back the input). A real corpus holds simulation snapshots
# or observations at much better resolution than 0.252″ (`~sunpy_enhance.enhance.training.shared_corpus`
# builds the bundled models' one).
corpus = synthetic_corpus("continuum", shape=(80, 80), seed=0)
for note in corpus.notes:
    print(note)

###############################################################################
# The settings: a small network, small patches, a few hundred patches in all. Everything else
# (learning rate schedule, ℓ2 regularisation, the 10⁻³ Ic input noise) follows the published recipe
# (see `~sunpy_enhance.enhance.training.TrainingConfig`).
config = TrainingConfig(
    kind="continuum",
    blocks=2,
    filters=16,
    patch_size=24,
    batch_size=8,
    steps_per_epoch=12,
    epochs=8,
    learning_rate=1e-3,
    phases=2,
    validation_count=16,
    validation_size=20,
    forward_per_batch=2,
    seed=0,
)

###############################################################################
# Train. ``run_dir`` receives checkpoints and a CSV log; running the same call again resumes from the
# last checkpoint (here a temporary folder: use a real one for real runs). ``export_to`` writes the
# best checkpoint as a model directory with its card, usable wherever a bundled model name is.
work = Path(tempfile.mkdtemp(prefix="sunpy-enhance-training-"))
card = train_enhance(
    corpus,
    work / "run",
    config,
    export_to=work / "model",
    model_name="tiny-continuum",
    verbose=0,
)
t = card["training"]
print(
    f"{t['epochs_completed']} epochs, {t['patches_seen']} patches in {t['wall_time_seconds']:.0f} s; "
    f"best held-out MSE {t['best_validation_mse']:.2e} at epoch {t['best_epoch'] + 1}"
)

###############################################################################
# The learning curve, from the run's ``log.csv``: the training loss (which includes the
# forward-consistency term and the ℓ2 penalty) and the mean squared error on the held-out frame.
log = np.genfromtxt(work / "run" / "log.csv", delimiter=",", names=True)
print("logged columns:", ", ".join(log.dtype.names))
epochs = log["epoch"] + 1
fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
ax.semilogy(epochs, log["loss"], "o-", label="training loss")
ax.semilogy(epochs, log["val_loss"], "s-", label="held-out MSE")
ax.set_xlabel("epoch")
ax.set_ylabel("loss (network units: I/Ic − 1)")
ax.set_title(f"Learning curve ({config.blocks} blocks × {config.filters} filters)")
ax.legend()
plt.show()

###############################################################################
# The exported model carries its card, like the bundled ones:
print(
    {
        key: read_card(work / "model")[key]
        for key in ("name", "kind", "architecture", "upscale")
    }
)

###############################################################################
# Apply it exactly like a bundled model, by passing its directory as ``model=``, and compare with the
# bundled ``enhance-continuum`` model on the same HMI-like map.
hmi = synthetic_hmi_map("continuum", shape=(100, 100), seed=21)
tiny = enhance_map(hmi, model=work / "model")
bundled = enhance_map(hmi)

fig, axes = plt.subplots(1, 3, figsize=(13, 4.4), layout="constrained")
panels = [
    (hmi.data / np.nanmedian(hmi.data), "HMI-like input (÷ median)"),
    (tiny.data, f"tiny model, {t['wall_time_seconds']:.0f} s of training"),
    (bundled.data, "bundled enhance-continuum"),
]
for ax, (image, title) in zip(axes, panels):
    low, high = np.percentile(image, [1, 99])
    ax.imshow(image, origin="lower", cmap="gray", vmin=low, vmax=high)
    ax.set_title(title)
    ax.set_axis_off()
plt.show()

###############################################################################
# The tiny model has learned little more than a mild sharpening; the bundled model, about 30 times
# larger and trained for hours on simulations and observations, restores granulation. Their quiet-Sun
# power spectra (away from the spot) show how far each goes beyond HMI's resolution.
region_in, region_out = np.s_[0:45, 55:100], np.s_[0:90, 110:200]
spectra = [
    power_spectrum(hmi, region=region_in, normalize="mean"),
    power_spectrum(tiny, region=region_out, normalize="mean"),
    power_spectrum(bundled, region=region_out, normalize="mean"),
]
fig, ax = plt.subplots(figsize=(6.5, 4.5))
plot_power_spectra(spectra, ["HMI-like input", "tiny model", "bundled model"], ax=ax)
plt.show()

# sphinx_gallery_thumbnail_number = 2
