"""
Training the denoising U-Net without clean targets.

Three kinds of training data, each a *source* of patches scaled by the noise level:

* `SceneSource` — scenes with little noise of their own (simulations, long exposures, other denoised
  data); each draw adds two independent realisations of white Gaussian noise, one for the input and one
  for the target (Noise2Noise), or uses the scene itself as a clean target (``mode="supervised"``, the
  reference that self-supervised training is measured against);
* `PairSource` — two noisy observations of the same scene (consecutive frames, repeated exposures):
  Noise2Noise on real noise;
* `SingleImageSource` — one noisy image or cube and nothing else: blind-spot training (Noise2Self /
  Noise2Void family); a few pixels of each patch are hidden from the input and the network learns
  to predict them from their neighbours.

`train_denoiser` trains on any mix of them, writes checkpoints and a log to a run directory, resumes
from the last checkpoint, and can stop after a wall-time limit; `export_denoiser` writes the trained
network as a model directory with its card.
"""
import json
import os
import platform
import time
from pathlib import Path

import keras
import numpy as np
from keras import ops

from sunpy_enhance.denoise.network import build_unet, unet_multiple
from sunpy_enhance.denoise.noise import estimate_noise
from sunpy_enhance.io import atomic_write, read_images  # read_images: one home of file reading, in io

__all__ = [
    "DenoiseLoss",
    "PairSource",
    "SceneSource",
    "SingleImageSource",
    "export_denoiser",
    "load_checkpoint",
    "read_images",
    "train_denoiser",
]


def _as_stacks(images, what):
    if isinstance(images, np.ndarray):
        images = [images]
    stacks = []
    for image in images:
        a = np.asarray(image, dtype=np.float32)
        if a.ndim == 2:
            a = a[None]
        elif a.ndim > 3:
            a = a.reshape(-1, *a.shape[-2:])
        if a.ndim != 3:
            msg = f"{what} must be 2-D images or stacks of them; got an array of shape {a.shape}."
            raise ValueError(msg)
        stacks.append(a)
    if not stacks:
        msg = f"No {what} given."
        raise ValueError(msg)
    return stacks


def _dihedral(rng):
    return int(rng.integers(4)), bool(rng.integers(2))


def _apply_dihedral(a, k, flip):
    a = np.rot90(a, k, axes=(-2, -1))
    if flip:
        a = a[..., ::-1]
    return a


class _PatchSampler:
    """Draws random finite patches from a list of image stacks."""

    def __init__(self, stacks, what):
        self.stacks = stacks
        sizes = np.array([s.shape[0] * s.shape[1] * s.shape[2] for s in stacks], dtype=float)
        self.p = sizes / sizes.sum()
        self.what = what

    def draw(self, rng, patch, *others):
        for _ in range(50):
            i = rng.choice(len(self.stacks), p=self.p)
            stack = self.stacks[i]
            n, h, w = stack.shape
            if h < patch or w < patch:
                continue
            k = rng.integers(n)
            y = rng.integers(h - patch + 1)
            x = rng.integers(w - patch + 1)
            sl = (k, slice(y, y + patch), slice(x, x + patch))
            out = [stack[sl]] + [o[i][sl] for o in others]
            if all(np.isfinite(o).all() for o in out):
                return out
        msg = (f"Could not find a finite {patch}×{patch} patch in the {self.what} after 50 tries: "
               "the images are smaller than the patch or mostly NaN; use a smaller patch_size.")
        raise ValueError(msg)


class SceneSource:
    """
    Training patches from scenes with (almost) no noise, with synthetic white Gaussian noise added.

    Parameters
    ----------
    scenes : array or list of arrays
        Images ``(y, x)`` or stacks ``(n, y, x)`` in data units; NaN pixels are never used.
    noise : float
        Standard deviation of the noise to add, in data units. The network sees ``image / noise``.
    mode : {"noise2noise", "supervised"}, optional
        ``"noise2noise"``: the target is the scene plus a second, independent noise realisation;
        ``"supervised"``: the target is the clean scene (only to measure what clean targets would give).
    amplitude : (float, float), optional
        Each patch is multiplied by a factor drawn log-uniformly from this range (signals of many
        strengths from few scenes).
    flip_sign : bool, optional
        Multiply half of the patches by -1 (polarisation and magnetic field have no preferred sign).
    name : str, optional
        Description for the model card.
    """

    def __init__(self, scenes, noise, *, mode="noise2noise", amplitude=(1.0, 1.0), flip_sign=True, name=None):
        if mode not in ("noise2noise", "supervised"):
            msg = f"mode must be 'noise2noise' or 'supervised', not {mode!r}."
            raise ValueError(msg)
        if not noise > 0:
            msg = f"noise must be a positive number in the units of the scenes, not {noise!r}."
            raise ValueError(msg)
        self.sampler = _PatchSampler(_as_stacks(scenes, "scenes"), "scenes")
        self.noise = float(noise)
        self.mode = mode
        self.amplitude = (float(amplitude[0]), float(amplitude[1]))
        self.flip_sign = bool(flip_sign)
        self.name = name or "scenes"
        self.target_variance = 1.0 if mode == "noise2noise" else 0.0

    def _scene(self, rng, patch):
        (s,) = self.sampler.draw(rng, patch)
        lo, hi = self.amplitude
        a = np.exp(rng.uniform(np.log(lo), np.log(hi))) if hi > lo else lo
        if self.flip_sign and rng.integers(2):
            a = -a
        k, flip = _dihedral(rng)
        return _apply_dihedral(s, k, flip) * (a / self.noise)

    def sample(self, rng, patch):
        """
        One training pair in noise units.

        Returns
        -------
        x, y : `numpy.ndarray`
            ``(patch, patch)`` input and ``(patch, patch, 3)`` target: value, loss weight and the
            target's noise variance.
        """
        s = self._scene(rng, patch)
        x = s + rng.standard_normal(s.shape)
        t = s + rng.standard_normal(s.shape) if self.mode == "noise2noise" else s
        y = np.stack([t, np.ones_like(s), np.full_like(s, self.target_variance)], axis=-1)
        return x.astype(np.float32), y.astype(np.float32)

    def validation(self, n, patch, seed=12345):
        """
        A fixed set of noisy inputs and their clean truth (noise units), to monitor training.
        """
        rng = np.random.default_rng(seed)
        xs, ts = [], []
        for _ in range(n):
            s = self._scene(rng, patch)
            xs.append(s + rng.standard_normal(s.shape))
            ts.append(s)
        return np.asarray(xs, np.float32)[..., None], np.asarray(ts, np.float32)

    def describe(self):
        return {"kind": "scenes + synthetic white Gaussian noise", "mode": self.mode, "name": self.name,
                "noise": self.noise, "amplitude": list(self.amplitude), "flip_sign": self.flip_sign,
                "images": [list(s.shape) for s in self.sampler.stacks]}


class PairSource:
    """
    Training patches from pairs of noisy observations of the same scene (Noise2Noise).

    Parameters
    ----------
    first, second : array or list of arrays
        Matching images or stacks: ``second[i]`` observes the same scene as ``first[i]`` with
        independent noise (e.g. consecutive frames, repeated exposures).
    noise : float
        Noise standard deviation of ``first`` in data units (estimated when None).
    second_noise : float, optional
        Noise of ``second``, when different (then the roles are never swapped).
    name : str, optional
        Description for the model card.
    """

    def __init__(self, first, second, noise=None, *, second_noise=None, name=None):
        a = _as_stacks(first, "first images")
        b = _as_stacks(second, "second images")
        if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b)):
            msg = ("first and second must be matching lists of images with equal shapes, got "
                   f"{[x.shape for x in a]} and {[y.shape for y in b]}.")
            raise ValueError(msg)
        if noise is None:
            noise = float(np.median([estimate_noise(x) for x in a]))
        self.noise = float(noise)
        self.second_noise = None if second_noise is None else float(second_noise)
        self.swap = second_noise is None
        self.sampler = _PatchSampler(a, "first images")
        self.second = b
        self.name = name or "pairs"
        ratio = 1.0 if second_noise is None else self.second_noise / self.noise
        self.target_variance = ratio ** 2

    def sample(self, rng, patch):
        x, t = self.sampler.draw(rng, patch, self.second)
        if self.swap and rng.integers(2):
            x, t = t, x
        k, flip = _dihedral(rng)
        x = _apply_dihedral(x, k, flip) / self.noise
        t = _apply_dihedral(t, k, flip) / self.noise
        y = np.stack([t, np.ones_like(t), np.full_like(t, self.target_variance)], axis=-1)
        return x.astype(np.float32), y.astype(np.float32)

    def describe(self):
        return {"kind": "pairs of independent noisy observations (Noise2Noise)", "name": self.name,
                "noise": self.noise, "second_noise": self.second_noise,
                "images": [list(s.shape) for s in self.sampler.stacks]}


class SingleImageSource:
    """
    Blind-spot training patches from noisy images alone (Noise2Self / Noise2Void family).

    In each patch one pixel in every ``cell × cell`` block is *hidden*: its input value is replaced by
    that of a random neighbour within ``radius`` pixels, and the loss is computed on the hidden pixels
    only, against their original noisy values. A network cannot learn to copy noise it does not see,
    so with white noise it learns the clean signal.

    Parameters
    ----------
    images : array or list of arrays
        Noisy images or stacks, data units.
    noise : float, optional
        Noise standard deviation in data units (estimated when None).
    cell : int, optional
        One hidden pixel per ``cell × cell`` block (4: 6% of the pixels).
    radius : int, optional
        Replacement values come from within this distance.
    name : str, optional
        Description for the model card.

    Notes
    -----
    Blind-spot training assumes that the noise of a pixel cannot be predicted from its neighbours. With
    spatially correlated noise (MOMFBD restorations, interpolated data) it learns to keep part of the
    noise; use pairs of observations (`PairSource`) for such data.
    """

    def __init__(self, images, noise=None, *, cell=4, radius=2, name=None):
        stacks = _as_stacks(images, "noisy images")
        if noise is None:
            noise = float(np.median([estimate_noise(s) for s in stacks]))
        self.noise = float(noise)
        self.cell = int(cell)
        self.radius = int(radius)
        self.sampler = _PatchSampler(stacks, "noisy images")
        self.name = name or "noisy images"
        self.target_variance = 1.0
        offsets = [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)
                   if (dy, dx) != (0, 0)]
        self._offsets = np.array(offsets)

    def sample(self, rng, patch):
        (a,) = self.sampler.draw(rng, patch)
        k, flip = _dihedral(rng)
        t = _apply_dihedral(a, k, flip) / self.noise
        c = self.cell
        ny, nx = patch // c, patch // c
        yy = (np.arange(ny)[:, None] * c + rng.integers(c, size=(ny, nx))).ravel()
        xx = (np.arange(nx)[None, :] * c + rng.integers(c, size=(ny, nx))).ravel()
        off = self._offsets[rng.integers(len(self._offsets), size=yy.size)]
        # A neighbour beyond the edge is replaced by the one opposite (never the pixel itself).
        sy, sx = yy + off[:, 0], xx + off[:, 1]
        sy = np.where((sy < 0) | (sy > patch - 1), yy - off[:, 0], sy)
        sx = np.where((sx < 0) | (sx > patch - 1), xx - off[:, 1], sx)
        x = np.array(t, copy=True)
        x[yy, xx] = t[sy, sx]
        w = np.zeros_like(t)
        w[yy, xx] = 1.0
        y = np.stack([t, w, np.full_like(t, self.target_variance)], axis=-1)
        return x.astype(np.float32), y.astype(np.float32)

    def describe(self):
        return {"kind": "single noisy images, blind-spot (Noise2Self/Noise2Void)", "name": self.name,
                "noise": self.noise, "cell": self.cell, "radius": self.radius,
                "images": [list(s.shape) for s in self.sampler.stacks]}


# --------------------------------------------------------------------------------------------------
# Loss

@keras.saving.register_keras_serializable(package="sunpy_enhance")
class DenoiseLoss(keras.losses.Loss):
    """
    Weighted squared error of the denoised value, plus the Gaussian negative log-likelihood of the
    log-variance head for a Bayesian network.

    ``y_true`` has three channels: the target value, the loss weight of each pixel (0 or 1; blind-spot
    training weighs only the hidden pixels) and the variance of the target's own noise in noise units
    ``σ_t²`` (1 for a noisy target, 0 for a clean one). With the predicted log-variance ``h`` the
    likelihood term is ``0.5 [log v + (y - μ)² / v]``, ``v = σ_t² + exp(h)``; it sees ``μ`` through a
    stop-gradient, so it trains the head alone, and ``exp(h)`` estimates the squared error of ``μ``
    with respect to the clean signal.

    Parameters
    ----------
    bayesian : bool
        Whether ``y_pred`` has the log-variance channel.
    """

    def __init__(self, bayesian=False, name="denoise_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.bayesian = bool(bayesian)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        target, weight, tvar = y_true[..., 0], y_true[..., 1], y_true[..., 2]
        mean = y_pred[..., 0]
        loss = ops.square(target - mean)
        if self.bayesian:
            h = ops.clip(y_pred[..., 1], -16.0, 8.0)
            v = tvar + ops.exp(h)
            r2 = ops.square(target - ops.stop_gradient(mean))
            loss = loss + 0.5 * (ops.log(v) + r2 / v)
        total = ops.sum(weight * loss, axis=(1, 2))
        count = ops.maximum(ops.sum(weight, axis=(1, 2)), 1.0)
        return total / count

    def get_config(self):
        return {**super().get_config(), "bayesian": self.bayesian}


# --------------------------------------------------------------------------------------------------
# The training loop

def _batch(sources, weights, rng, batch_size, patch):
    xs, ys = [], []
    for _ in range(batch_size):
        src = sources[rng.choice(len(sources), p=weights)]
        x, y = src.sample(rng, patch)
        xs.append(x)
        ys.append(y)
    return np.asarray(xs)[..., None], np.asarray(ys)


def _learning_rate(step, steps, lr):
    """Constant for 80% of the steps, then a linear decay to a tenth."""
    knee = 0.8 * steps
    if step < knee:
        return lr
    return lr * (1.0 - 0.9 * min(1.0, (step - knee) / max(steps - knee, 1)))


def _save_atomic(model, path):
    atomic_write(path, model.save, overwrite=True)


def load_checkpoint(run_dir):
    """
    The network and training state of a run directory written by `train_denoiser`.

    Parameters
    ----------
    run_dir : `os.PathLike`

    Returns
    -------
    model : `keras.Model`
        Compiled, with its optimizer state.
    state : dict
        ``step``, ``elapsed_s`` and the run's configuration.
    """
    run_dir = Path(run_dir)
    path = run_dir / "checkpoint.keras"
    if not path.is_file():
        msg = f"No checkpoint in {run_dir}: it has no checkpoint.keras."
        raise FileNotFoundError(msg)
    model = keras.models.load_model(path)
    state = json.loads((run_dir / "state.json").read_text())
    return model, state


def _validate(model, validation, bayesian):
    x, t = validation
    out = np.asarray(model(x, training=False))
    mean = out[..., 0]
    err = mean - t
    metrics = {"val_rmse_sigma": float(np.sqrt(np.mean(err ** 2))),
               "val_input_rmse_sigma": float(np.sqrt(np.mean((x[..., 0] - t) ** 2)))}
    if bayesian:
        s = np.sqrt(np.exp(out[..., 1]))
        z = np.abs(err) / s
        metrics["val_within_1sigma"] = float(np.mean(z <= 1))
        metrics["val_within_2sigma"] = float(np.mean(z <= 2))
    return metrics


def train_denoiser(sources, run_dir, *, steps=2000, weights=None, architecture=None, batch_size=16,
                   patch_size=64, learning_rate=5e-4, validation=None, checkpoint_every=200,
                   log_every=50, time_limit=None, seed=0, precision="float32", resume=True, progress=True):
    """
    Train (or go on training) a denoising U-Net from sources of noisy training patches.

    Parameters
    ----------
    sources : source or list of sources
        `SceneSource`, `PairSource` and/or `SingleImageSource` instances. They must share a noise
        scaling convention (each divides by its own noise level), so they can be mixed.
    run_dir : `os.PathLike`
        Where the checkpoint (``checkpoint.keras``), the state (``state.json``) and the log
        (``log.jsonl``) are written. Keep it outside the source tree.
    steps : int, optional
        Total optimisation steps of the run (counting those already done when resuming).
    weights : list of float, optional
        Probability of drawing each patch from each source (default: equal).
    architecture : dict, optional
        Keyword arguments of `~sunpy_enhance.denoise.network.build_unet` (default: 32 channels,
        depth 2, Bayesian).
    batch_size, patch_size : int, optional
        Patches per step and their side (a multiple of ``2**depth``).
    learning_rate : float, optional
        Adam learning rate; constant for 80% of ``steps``, then decaying linearly to a tenth.
    validation : tuple of arrays, optional
        ``(inputs, clean)`` in noise units (e.g. `SceneSource.validation`), evaluated every
        ``log_every`` steps: RMS error in units of σ and, for a Bayesian network, the fraction of
        pixels within 1σ and 2σ.
    checkpoint_every : int, optional
        Steps between checkpoints (also written at the end and when ``time_limit`` stops the run).
    log_every : int, optional
        Steps between log lines.
    time_limit : float, optional
        Stop, with a checkpoint, after this many seconds of this call; run again to go on.
    seed : int, optional
        Seeds the initial weights (through `keras.utils.set_random_seed`, which also seeds Python's,
        NumPy's and the backend's global generators); the patches of step ``k`` are drawn from a
        generator seeded with ``(seed, k)``, so a resumed run sees the same data as an uninterrupted one.
    precision : {"float32", "bfloat16"}, optional
        Arithmetic of the hidden layers during training (``"bfloat16"``: mixed precision, about twice as
        fast on CPUs with AMX or AVX-512-BF16; weights and outputs stay float32, and the exported model
        is float32). Fixed for a run.
    resume : bool, optional
        Continue from the checkpoint in ``run_dir`` if there is one (else start afresh, overwriting).
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    model : `keras.Model`
        The trained network.
    state : dict
        ``step``, ``elapsed_s``, ``config`` and the last log entry ``last``.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_enhance.denoise.training import SceneSource, train_denoiser
    >>> yy, xx = np.mgrid[:64, :64]
    >>> scene = np.sin(xx / 5.0) * np.cos(yy / 7.0)
    >>> source = SceneSource(scene, noise=0.5)
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as run:
    ...     model, state = train_denoiser(source, run, steps=2, batch_size=2, patch_size=16,
    ...                                   architecture={"channels": 4, "depth": 2}, progress=False)
    >>> state["step"]
    2
    """
    if not isinstance(sources, (list, tuple)):
        sources = [sources]
    sources = list(sources)
    if weights is None:
        weights = np.full(len(sources), 1.0 / len(sources))
    else:
        weights = np.asarray(weights, dtype=float)
        if weights.shape != (len(sources),) or np.any(weights < 0) or weights.sum() <= 0:
            msg = f"weights must be {len(sources)} non-negative numbers, not {weights!r}."
            raise ValueError(msg)
        weights = weights / weights.sum()
    arch = {"channels": 32, "depth": 2, "bayesian": True, "dropout": None, "residual": True}
    arch.update(architecture or {})
    if arch.get("dropout") is None:
        arch["dropout"] = 0.1 if arch["bayesian"] else 0.0
    multiple = unet_multiple(arch["depth"])
    if patch_size % multiple:
        msg = f"patch_size must be a multiple of {multiple} for a U-Net of depth {arch['depth']}, not {patch_size}."
        raise ValueError(msg)

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = run_dir / "checkpoint.keras"
    if precision not in ("float32", "bfloat16"):
        msg = f"precision must be 'float32' or 'bfloat16', not {precision!r}."
        raise ValueError(msg)
    config = {"architecture": {"name": "unet", **arch}, "precision": precision, "batch_size": int(batch_size),
              "patch_size": int(patch_size), "learning_rate": float(learning_rate), "seed": int(seed),
              "sources": [s.describe() for s in sources], "weights": weights.tolist()}
    if resume and ckpt.is_file():
        model, state = load_checkpoint(run_dir)
        old = state["config"]
        if old["architecture"] != config["architecture"] or old.get("precision", "float32") != precision:
            msg = (f"The checkpoint in {run_dir} is of another architecture or precision "
                   f"({old['architecture']}, {old.get('precision', 'float32')}; asked for "
                   f"{config['architecture']}, {precision}); use another run directory or resume=False.")
            raise ValueError(msg)
        step, elapsed, last = int(state["step"]), float(state["elapsed_s"]), state.get("last")
    else:
        keras.utils.set_random_seed(int(seed))  # reproducible initial weights
        model = build_unet(**arch, dtype="mixed_bfloat16" if precision == "bfloat16" else "float32")
        # No XLA: on CPUs it doubles the time of the first step and does not speed up the others.
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=DenoiseLoss(arch["bayesian"]),
                      jit_compile=False)
        step, elapsed, last = 0, 0.0, None
        atomic_write(run_dir / "log.jsonl", lambda tmp: tmp.write_text(""), overwrite=True)
    state = {"step": step, "elapsed_s": elapsed, "config": config, "last": last}

    def checkpoint():
        _save_atomic(model, ckpt)
        text = json.dumps(state, indent=1)
        atomic_write(run_dir / "state.json", lambda tmp: tmp.write_text(text), overwrite=True)

    bar = None
    if progress and step < steps:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, initial=step, desc="train-denoiser", unit="step")
    start = time.monotonic()
    last_ckpt = step
    losses = []
    try:
        while step < steps:
            rng = np.random.default_rng([int(seed), step])
            x, y = _batch(sources, weights, rng, batch_size, patch_size)
            model.optimizer.learning_rate.assign(_learning_rate(step, steps, learning_rate))
            loss = float(np.asarray(model.train_on_batch(x, y)))
            if not np.isfinite(loss):
                msg = (f"The training loss became {loss} at step {step}; lower the learning rate or check "
                       "the data for extreme values.")
                raise FloatingPointError(msg)
            losses.append(loss)
            step += 1
            state["step"] = step
            state["elapsed_s"] = elapsed + time.monotonic() - start
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}")
            if step % log_every == 0 or step == steps:
                entry = {"step": step, "loss": float(np.mean(losses)),
                         "lr": _learning_rate(step - 1, steps, learning_rate),
                         "elapsed_s": round(state["elapsed_s"], 1)}
                if validation is not None:
                    entry.update(_validate(model, validation, arch["bayesian"]))
                losses = []
                state["last"] = entry
                with open(run_dir / "log.jsonl", "a") as f:
                    f.write(json.dumps(entry) + "\n")
            if step - last_ckpt >= checkpoint_every:
                checkpoint()
                last_ckpt = step
            if time_limit is not None and time.monotonic() - start > time_limit:
                break
    finally:
        if bar is not None:
            bar.close()
        if step != last_ckpt or not ckpt.is_file():
            checkpoint()
    return model, state


def export_denoiser(model, directory, *, name, description, noise, unit, state, data, held_out,
                    metrics=None, command=None, overwrite=False):
    """
    Write a trained denoiser as a model directory with its model card.

    Parameters
    ----------
    model : `keras.Model`
        From `train_denoiser`.
    directory : `os.PathLike`
        Model directory (see `sunpy_enhance.export.export_model`).
    name, description : str
        Model name and what it is for.
    noise : float
        Noise level of the data it was trained for, in ``unit`` (used when the user gives none).
    unit : str
        Unit of the data (``"Ic"`` for continuum intensity, ``"G"`` for Gauss).
    state : dict
        From `train_denoiser` (configuration, steps, elapsed time).
    data : str or dict
        What data the network saw.
    held_out : str or dict
        What data were kept out of training for evaluation.
    metrics : dict, optional
        Measured validation numbers.
    command : str, optional
        The command that trained it.
    overwrite : bool, optional
        Replace an existing directory.

    Returns
    -------
    `pathlib.Path`
    """
    from sunpy_enhance.enhance.training.corpus import credits_for
    from sunpy_enhance.export import export_model
    from sunpy_enhance.version import __version__

    config = state["config"]
    arch = dict(config["architecture"])
    kinds = {src.get("cell") is not None for src in config["sources"]}
    card = {
        "name": name,
        "task": "denoise",
        "description": description,
        "architecture": arch,
        "input": {"scaling": "divide by the noise standard deviation", "noise": float(noise), "unit": unit,
                  "multiple_of": unet_multiple(arch["depth"])},
        "output": (["denoised (noise units)", "log-variance of its error (noise units squared)"]
                   if arch.get("bayesian") else ["denoised (noise units)"]),
        "training": {
            "method": sorted({s["kind"] for s in config["sources"]}),
            "sources": config["sources"],
            "weights": config["weights"],
            "steps": state["step"],
            "batch_size": config["batch_size"],
            "patch_size": config["patch_size"],
            "learning_rate": config["learning_rate"],
            "seed": config["seed"],
            "wall_time_s": round(state["elapsed_s"], 1),
            "hardware": f"{platform.machine()} CPU, {os.cpu_count()} cores (shared)",
            "software": f"sunpy-enhance {__version__}, keras {keras.__version__} ({keras.backend.backend()})",
            "command": command,
            "last_log": state.get("last"),
        },
        "data": data,
        "held_out": held_out,
        "data_credits": credits_for([json.dumps([data, held_out, config["sources"]])]),
        "metrics": metrics or {},
    }
    if kinds == {True}:
        # Trained by blind-spot masking alone: inference must hide each pixel from the network too.
        if not arch.get("bayesian"):
            msg = ("A network trained by blind-spot masking alone needs the variance head (bayesian=True) to "
                   "put the pixels' own values back at inference.")
            raise ValueError(msg)
        src = config["sources"][0]
        card["input"]["blind_spot"] = {"cell": int(src["cell"]), "radius": int(src["radius"])}
    return export_model(model, directory, card, overwrite=overwrite)
