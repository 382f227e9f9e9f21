"""
Training Enhance models: the paper's recipe, forward consistency, checkpoints, export.
"""
import csv
import dataclasses
import datetime
import json
import os
import platform
import time
from pathlib import Path

import keras
import numpy as np
from keras import ops

from sunpy_enhance.degrade import enhanced_grid_psf
from sunpy_enhance.enhance.network import build_enhance_network, receptive_radius
from sunpy_enhance.enhance.training.config import CONSISTENCY, NORMALISATION, RUNTIME_FIELDS, TrainingConfig
from sunpy_enhance.enhance.training.corpus import credits_for
from sunpy_enhance.enhance.training.dataset import PairBank, PatchDataset, validation_patches
from sunpy_enhance.export import export_model
from sunpy_enhance.io import atomic_write
from sunpy_enhance.psf import ENHANCE_MODIFIED

__all__ = ["NORMALISATION", "ForwardConsistentTrainer", "TrainingConfig", "train_enhance"]

#: File in a run directory recording the weights the run started from (see `_previous_run`).
LINEAGE = "initialised_from.json"


#: Weak field for ``weak_field_weight``: 100 G in network units (kG), the threshold of the noise diagnostic.
WEAK_FIELD = 0.1

#: Supervised patches per batch that also enter noise-free, for the noise-propagation penalty (``noise_weight``).
NOISE_TWINS = 8


def _psf_kernel_tensor():
    kernel = enhanced_grid_psf().astype(np.float32)
    return kernel[:, :, None, None]


class ForwardConsistentTrainer(keras.Model):
    """
    Wraps an Enhance network with the training loss: MSE to the targets plus forward consistency.

    The last ``forward_per_batch`` patches of each training batch are real HMI images without a target.
    For them the network output is re-observed inside the graph — convolved with the HMI PSF sampled at
    0.252″ (mirror-padded) and averaged over 2×2 pixels — and compared, away from the patch edges, with
    their measurement-domain target (the 2×2 average of the target channel, see
    `~sunpy_enhance.enhance.training.dataset.PatchDataset`): the input itself, or its re-corrupted twin.
    This is the same operator as `sunpy_enhance.degrade.reobserve_hmi`. The MSE to the targets uses the
    other patches. Validation batches hold targets only.

    With ``noise_weight`` > 0 the batch ends with `NOISE_TWINS` more patches: the noise-free inputs of its
    first `NOISE_TWINS` supervised patches. The difference of the two outputs of each pair is the network's
    response to that patch's input noise, the quantity `~sunpy_enhance.diagnostics.noise_propagation`
    measures; its mean square (weighted like the supervised loss) is added ``noise_weight`` times. The MSE
    alone already counts the propagated noise once, but its gradient sees it only through one noise draw;
    the pair difference measures it directly, and the weight sets how much resolution is traded for a
    quieter output.
    """

    def __init__(self, network, *, forward_weight=1.0, forward_per_batch=0, weak_field_weight=1.0, noise_weight=0.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.weak_field_weight = float(weak_field_weight)
        self.noise_weight = float(noise_weight)
        self.noise_twins = NOISE_TWINS if self.noise_weight else 0
        self.forward_weight = float(forward_weight)
        self.forward_per_batch = int(forward_per_batch) if forward_weight else 0
        self._psf = _psf_kernel_tensor() if self.forward_per_batch else None
        self._margin = receptive_radius() // 2 + 2

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    def reobserve(self, output):
        """HMI PSF then 2×2 binning of a batch of network outputs (network units)."""
        remaining = self._psf.shape[0] // 2
        padded = output
        while remaining > 0:  # mirror repeatedly when the PSF is wider than the patch
            step = min(remaining, padded.shape[1], padded.shape[2])
            # "symmetric" (edge pixel repeated), as sunpy_enhance.degrade.reobserve_hmi does
            padded = ops.pad(padded, [[0, 0], [step, step], [step, step], [0, 0]], mode="symmetric")
            remaining -= step
        blurred = ops.conv(padded, ops.convert_to_tensor(self._psf), padding="valid")
        return ops.average_pool(blurred, 2, strides=2, padding="valid")

    def supervised_loss(self, y_pred, target, reference=None):
        """
        Mean squared difference of ``y_pred`` and ``reference`` (default: the targets), pixels with
        |target| < `WEAK_FIELD` weighted by ``weak_field_weight``.
        """
        square = ops.square(y_pred - (target if reference is None else reference))
        if self.weak_field_weight == 1.0:
            return ops.mean(square)
        weight = ops.where(ops.abs(target) < WEAK_FIELD, self.weak_field_weight, 1.0)
        return ops.sum(weight * square) / ops.sum(weight)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        target = y[..., :1]
        n_fwd = self.forward_per_batch if training else 0
        n_twin = self.noise_twins if training else 0
        extra = n_fwd + n_twin  # counted from the end: the batch size may be unknown while tracing
        supervised = slice(None, -extra if extra else None)
        loss = self.supervised_loss(y_pred[supervised], target[supervised])
        if n_fwd:
            m = self._margin
            re = self.reobserve(y_pred[-extra:][:n_fwd])
            measured = ops.average_pool(target[-extra:][:n_fwd], 2, strides=2, padding="valid")
            fwd = ops.mean(ops.square(re[:, m:-m, m:-m] - measured[:, m:-m, m:-m]))
            loss = loss + self.forward_weight * fwd
        if n_twin:
            propagated = self.supervised_loss(y_pred[:n_twin], target[:n_twin], reference=y_pred[-n_twin:])
            loss = loss + self.noise_weight * propagated
        if self.losses:
            loss = loss + ops.sum(ops.stack(self.losses))
        return loss


class _Checkpoint(keras.callbacks.Callback):
    """Saves the last state (weights, optimizer, epoch) and the best weights by validation loss."""

    def __init__(self, directory, network, state):
        super().__init__()
        self.directory = Path(directory)
        self.network = network
        self.state = state

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        val = float(logs.get("val_loss", np.inf))
        if val < self.state["best_val_loss"]:
            self.state["best_val_loss"] = val
            self.state["best_epoch"] = epoch
            atomic_write(self.directory / "best.weights.h5", self.network.save_weights, overwrite=True)
        self.state["epoch"] = epoch
        self.state["wall_seconds"] = self.state["wall_before"] + time.time() - self.state["started"]
        atomic_write(self.directory / "last.weights.h5", self.network.save_weights, overwrite=True)
        variables = [np.asarray(v) for v in self.model.optimizer.variables]
        atomic_write(self.directory / "optimizer.npz", lambda tmp: np.savez(tmp, *variables), overwrite=True)
        text = json.dumps({k: v for k, v in self.state.items() if k != "started"}, indent=1)
        atomic_write(self.directory / "state.json", lambda tmp: tmp.write_text(text), overwrite=True)


class _TimeLimit(keras.callbacks.Callback):
    def __init__(self, minutes, started):
        super().__init__()
        self.seconds = minutes * 60
        self.started = started

    def on_epoch_end(self, epoch, logs=None):
        if time.time() - self.started > self.seconds:
            self.model.stop_training = True


def _hardware():
    """What trained the model: CPU, accelerators and library versions of the running Keras backend."""
    backend = keras.backend.backend()
    record = {"machine": platform.machine(), "processor": platform.processor() or platform.machine(),
              "cpu_count": os.cpu_count(), "gpus": [], "backend": backend}
    if backend == "tensorflow":
        import tensorflow as tf

        record["gpus"] = [d.name for d in tf.config.list_physical_devices("GPU")]
        record["tensorflow"] = tf.__version__
    elif backend == "jax":  # the GPU machines have JAX and no TensorFlow
        import jax

        record["gpus"] = [f"{d.platform}:{d.id} {getattr(d, 'device_kind', '')}".strip()
                          for d in jax.devices() if d.platform == "gpu"]
        record["jax"] = jax.__version__
    record["keras"] = keras.__version__
    return record


def train_enhance(corpus, run_dir, config=None, *, export_to=None, model_name=None, init_weights=None,
                  verbose=2, export_only=False, input_psf=None, target_psf=None):
    """
    Train (or resume training) an Enhance network and export the best checkpoint.

    Parameters
    ----------
    corpus : `~sunpy_enhance.enhance.training.corpus.Corpus`
        Training frames, held-out frames and target-less real HMI images.
    run_dir : `os.PathLike`
        Checkpoints (``last.weights.h5``, ``best.weights.h5``, ``optimizer.npz``, ``state.json``) and the
        CSV log (``log.csv``). If it holds a checkpoint of the same configuration, training resumes there.
    config : `TrainingConfig`, optional
    export_to : `os.PathLike`, optional
        Where to export the best model (SavedModel + weights + card) when training ends.
    model_name : str, optional
        Name written in the model card.
    init_weights : `os.PathLike`, optional
        Start a new run from these weights (e.g. a bundled model's ``model.weights.h5``), to train longer.
    verbose : int, optional
        Keras verbosity: 1 progress bar, 2 one line per epoch.
    export_only : bool, optional
        Do not train: export the best checkpoint of ``run_dir`` as it is (e.g. while a run goes on).
    input_psf, target_psf : callable, optional
        Your own PSFs: ``f(pixel_scale) -> kernel`` (a normalised 2-D array sampled at the frame's pixel
        scale, e.g. ``functools.partial(sunpy_enhance.psf.hmi_psf, omega=1.8, width=3.0)``), replacing the
        Enhance-modified HMI PSF of the inputs and the 28 cm Airy pattern of the targets. The
        forward-consistency loss keeps re-observing with the default HMI PSF. Recorded in the model card.

    Returns
    -------
    dict
        The model card (also written with the export).
    """
    config = config or TrainingConfig()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    norm = NORMALISATION[config.kind]
    offset = norm["offset"]
    config_path = run_dir / "config.json"
    identity = {k: v for k, v in dataclasses.asdict(config).items() if k not in RUNTIME_FIELDS}
    if config_path.exists():
        # Settings added after the run began took their default values in it.
        saved = {f.name: f.default for f in dataclasses.fields(TrainingConfig) if f.name not in RUNTIME_FIELDS}
        saved.update((k, v) for k, v in json.loads(config_path.read_text()).items() if k not in RUNTIME_FIELDS)
        if saved != identity:
            msg = (f"{run_dir} holds a run with another configuration ({config_path}); "
                   "use a new run directory or the same settings to resume.")
            raise ValueError(msg)
        if export_only:  # the card describes the run as it was configured
            recorded = json.loads(config_path.read_text())
            config = dataclasses.replace(config, **{k: recorded[k] for k in RUNTIME_FIELDS if k in recorded})
    else:
        text = json.dumps(dataclasses.asdict(config), indent=1)
        atomic_write(config_path, lambda tmp: tmp.write_text(text))

    dtype = "mixed_bfloat16" if config.precision == "bfloat16" else "float32"
    network = build_enhance_network(blocks=config.blocks, filters=config.filters, l2=config.l2, dtype=dtype)
    trainer = ForwardConsistentTrainer(network, forward_weight=config.forward_weight,
                                       forward_per_batch=config.forward_per_batch,
                                       weak_field_weight=config.weak_field_weight,
                                       noise_weight=config.noise_weight)
    trainer.compile(optimizer=keras.optimizers.Adam(config.learning_rate))

    bank = PairBank(corpus.train, phases=config.phases, seed=config.seed, input_psf=input_psf,
                    target_psf=target_psf)
    held = PairBank(corpus.validation, phases=2, seed=config.seed + 1, input_psf=input_psf, target_psf=target_psf)
    x_val, y_val = validation_patches(held, config.validation_size, config.validation_count, offset=offset,
                                      noise=config.noise, noise_min=config.noise_min, seed=config.seed + 2)
    real_noise = None
    if config.recorrupt and config.forward_weight:
        from sunpy_enhance.enhance.training.magnetic import hmi_noise_sigma

        real_noise = [hmi_noise_sigma(r) for r in corpus.real_hmi]
    data = PatchDataset(bank, patch_size=config.patch_size, batch_size=config.batch_size,
                        steps=config.steps_per_epoch, noise=config.noise, noise_min=config.noise_min,
                        offset=offset, field_scale_min=config.field_scale_min,
                        real_images=corpus.real_hmi if config.forward_weight else (),
                        real_noise=real_noise,
                        forward_per_batch=config.forward_per_batch, noise_twins=trainer.noise_twins,
                        seed=config.seed)

    state_path = run_dir / "state.json"
    state = {"epoch": -1, "best_val_loss": float("inf"), "best_epoch": -1, "wall_before": 0.0}
    # Build the model and optimizer so that a checkpoint can be restored into them.
    trainer(x_val[:1])
    trainer.optimizer.build(trainer.trainable_variables)
    if export_only and not state_path.exists():
        msg = f"{run_dir} has no checkpoint to export yet."
        raise ValueError(msg)
    if state_path.exists():
        state.update(json.loads(state_path.read_text()))
        state["wall_before"] = state.get("wall_seconds", 0.0)
        network.load_weights(run_dir / "last.weights.h5")
        saved_vars = np.load(run_dir / "optimizer.npz")
        for var, key in zip(trainer.optimizer.variables, saved_vars.files):
            var.assign(saved_vars[key])
    elif init_weights is not None:
        network.load_weights(init_weights)
        # Keep the lineage with the run, so that its own checkpoints can later start another stage.
        text = json.dumps(_previous_run(init_weights), indent=1)
        atomic_write(run_dir / LINEAGE, lambda tmp: tmp.write_text(text), overwrite=True)
    data.epoch = state["epoch"] + 1
    state["started"] = time.time()

    callbacks = [_Checkpoint(run_dir, network, state),
                 keras.callbacks.CSVLogger(str(run_dir / "log.csv"), append=True)]
    if config.max_minutes:
        callbacks.append(_TimeLimit(config.max_minutes, state["started"]))
    if state["epoch"] + 1 < config.epochs and not export_only:
        # Kept in state.json, so that an export made elsewhere (e.g. the SavedModel written on a TensorFlow
        # machine after a JAX run on a GPU) records the hardware that trained, not the one that exported.
        state["hardware"] = _hardware()
        trainer.fit(data, validation_data=(x_val, y_val), batch_size=config.batch_size,
                    epochs=config.epochs, initial_epoch=state["epoch"] + 1, callbacks=callbacks,
                    verbose=verbose)

    best = run_dir / "best.weights.h5"
    network.load_weights(best if best.exists() else run_dir / "last.weights.h5")
    final = json.loads(state_path.read_text()) if state_path.exists() else state
    card = {
        "name": model_name or f"enhance-{config.kind}",
        "kind": config.kind,
        "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "method": "Enhance (Díaz Baso & Asensio Ramos 2018, A&A 614, A5, doi:10.1051/0004-6361/201731344)",
        "architecture": {"name": "enhance", "blocks": config.blocks, "filters": config.filters},
        "upscale": 2,
        "receptive_radius": receptive_radius(config.blocks),
        "input_pixel_scale_arcsec": 0.504,
        "output_pixel_scale_arcsec": 0.252,
        "normalisation": norm,
        "consistency": CONSISTENCY[config.kind],
        "psf": {"input": {"model": "Wachter et al. (2012) HMI PSF, Enhance modification", **ENHANCE_MODIFIED,
                          "diameter_cm": 14, "wavelength_angstrom": 6173, "support_radius_arcsec": 18},
                "target": {"model": "Airy, circular aperture", "diameter_cm": 28, "wavelength_angstrom": 6173}},
        "training_data": {"frames": corpus.notes, "validation": "the last 30% of the columns of each frame, "
                          "degraded separately and never used for training",
                          "real_hmi_forward_consistency": list(corpus.real_hmi_names) if config.forward_weight
                          else [], "phases_per_frame": config.phases,
                          "augmentation": "8 rotations/reflections, fresh random patches every step"
                          + (f"; field of each supervised pair scaled by a factor drawn log-uniformly in "
                             f"[{config.field_scale_min}, 1]" if config.field_scale_min < 1 else ""),
                          "input_noise": {"sigma_min": config.noise_min, "sigma_max": config.noise,
                                          "unit": "network units", "drawn": "uniformly per patch"},
                          "real_hmi_self_supervision": (
                              {"method": "Recorrupted-to-Recorrupted in the measurement domain: input y + z, "
                                         "target y - z after the HMI forward model, z ~ N(0, sigma^2)",
                               "sigma_per_image": [round(v, 5) for v in real_noise]}
                              if real_noise is not None else None)},
        "data_credits": credits_for([*corpus.notes, *corpus.real_hmi_names]),
        "training": {**dataclasses.asdict(config), "epochs_completed": final["epoch"] + 1,
                     "steps_completed": (final["epoch"] + 1) * config.steps_per_epoch,
                     "patches_seen": (final["epoch"] + 1) * config.steps_per_epoch * config.batch_size,
                     "best_epoch": final["best_epoch"], "best_validation_mse": final["best_val_loss"],
                     "wall_time_seconds": round(final.get("wall_seconds", 0.0), 1),
                     "hardware": final.get("hardware") or _hardware(),
                     "run_name": run_dir.name, "validation_history": _validation_history(run_dir / "log.csv")},
        "validation_metrics": {},
    }
    if (run_dir / LINEAGE).exists():  # what the run started from, recorded when it started
        card["training"]["initialised_from"] = json.loads((run_dir / LINEAGE).read_text())
    elif init_weights is not None:  # a run begun before run directories kept their lineage
        card["training"]["initialised_from"] = _previous_run(init_weights)
    for role, psf in (("input", input_psf), ("target", target_psf)):
        if psf is not None:
            card["psf"][role] = {"model": f"user-supplied: {getattr(psf, '__name__', repr(psf))}"}
    if export_to is not None:
        export_model(network, export_to, card, overwrite=True)
    return card


def _validation_history(log):
    """The validation MSE of every epoch from a run's CSV log (4 significant digits)."""
    if not log.is_file():
        return []
    with log.open() as f:
        return [float(f"{float(row['val_loss']):.4g}") for row in csv.DictReader(f) if row.get("val_loss")]


def _previous_run(weights):
    """
    What is known of the run that produced ``weights``: its config and state when they are next to them
    (a run directory, with the run's own ``initialised_from`` when it started from other weights), or the
    ``training`` record of the model card, with its own history, when the weights are an exported model's.
    """
    weights = Path(weights)
    info = {"weights": weights.name, "run": weights.parent.name}
    card = weights.parent / "card.json"
    if card.exists():
        info["training"] = json.loads(card.read_text()).get("training", {})
    elif (weights.parent / LINEAGE).exists():
        info["initialised_from"] = json.loads((weights.parent / LINEAGE).read_text())
    for name in ("config.json", "state.json"):
        path = weights.parent / name
        if path.exists():
            info[name.split(".")[0]] = json.loads(path.read_text())
    state = info.get("state", {})
    config = info.get("config", {})
    if state and config:
        epochs = state["epoch"] + 1
        info["epochs_completed"] = epochs
        info["patches_seen"] = epochs * config["steps_per_epoch"] * config["batch_size"]
        info["wall_time_seconds"] = round(state.get("wall_seconds", 0.0), 1)
    return info

