"""
Aligned input/target patches for training Enhance, and real HMI patches for forward consistency.
"""
import collections

import astropy.units as u
import keras
import numpy as np

from sunpy_enhance.degrade import HMI_PIXEL_SCALE, training_pair

__all__ = ["PairBank", "PatchDataset", "dihedral", "validation_patches"]


def dihedral(image, k):
    """The ``k``-th (0–7) of the 8 rotations/reflections of the square, on the first two axes."""
    out = np.rot90(image, k % 4, axes=(0, 1))
    return out[:, ::-1] if k >= 4 else out


class PairBank:
    """
    Degraded input/target pairs of a set of frames, each observed with several sub-pixel grid phases.

    Parameters
    ----------
    frames : list of `~sunpy_enhance.enhance.training.frames.Frame`
        Normalised high-resolution frames (I/Ic or kG).
    phases : int, optional
        Sampling phases per frame; each is a different, equally valid HMI observation of the frame.
    seed : int, optional
        Seed of the phases.
    input_psf, target_psf : callable, optional
        ``f(pixel_scale) -> kernel`` overriding the HMI PSF and the 28 cm Airy target.
    """

    def __init__(self, frames, *, phases=8, seed=0, input_psf=None, target_psf=None):
        rng = np.random.default_rng(seed)
        self.inputs, self.targets, self.names = [], [], []
        shared = collections.Counter(frame.scene for frame in frames if frame.scene)
        repeats = []
        for frame in frames:
            ratio = (HMI_PIXEL_SCALE / frame.pixel_scale).to_value(u.one)
            kwargs = {}
            if input_psf is not None:
                kwargs["input_psf"] = input_psf(frame.pixel_scale)
            if target_psf is not None:
                kwargs["target_psf"] = target_psf(frame.pixel_scale)
            for _ in range(phases):
                offset = tuple(rng.uniform(0, ratio, size=2))
                x, y = training_pair(frame.data, frame.pixel_scale, offset=offset, boundary=frame.boundary,
                                     **kwargs)
                self.inputs.append(x.astype(np.float32))
                self.targets.append(y.astype(np.float32))
                self.names.append(frame.name)
                repeats.append(shared[frame.scene] if frame.scene else 1)
        # patches drawn in proportion to area, a scene's area counted once however many frames show it
        self.weights = np.array([x.size for x in self.inputs], dtype=float) / repeats
        self.weights /= self.weights.sum()

    def sample(self, rng, size):
        """One random input patch of ``size``² and its ``(2 size)²`` target, randomly rotated/reflected."""
        i = rng.choice(len(self.inputs), p=self.weights)
        x, y = self.inputs[i], self.targets[i]
        if min(x.shape) < size:
            msg = f"Frame {self.names[i]} gives {x.shape} HMI pixels, fewer than the patch size {size}."
            raise ValueError(msg)
        r = rng.integers(0, x.shape[0] - size + 1)
        c = rng.integers(0, x.shape[1] - size + 1)
        k = rng.integers(8)
        return (dihedral(x[r:r + size, c:c + size], k),
                dihedral(y[2 * r:2 * r + 2 * size, 2 * c:2 * c + 2 * size], k))


def _noise_levels(rng, count, noise, noise_min):
    """One noise σ per patch, uniform between ``noise_min`` and ``noise`` (just ``noise`` when they are equal)."""
    low = noise if noise_min is None else noise_min
    return rng.uniform(low, noise, size=count) if low < noise else np.full(count, float(noise))


def validation_patches(bank, size, count, *, offset, noise, noise_min=None, seed=1):
    """
    Fixed validation batch: ``count`` patches from a bank of held-out frames, noise added once (each patch's σ
    drawn between ``noise_min`` and ``noise``).

    Returns
    -------
    x, y : `numpy.ndarray`
        ``(count, size, size, 1)`` inputs and ``(count, 2size, 2size, 2)`` targets (channel 1 = 1: supervised),
        both in network units (minus ``offset``).
    """
    rng = np.random.default_rng(seed)
    xs, ys = zip(*(bank.sample(rng, size) for _ in range(count)))
    x = np.stack(xs)[..., None] - offset
    x = x + _noise_levels(rng, count, noise, noise_min)[:, None, None, None] * rng.standard_normal(x.shape)
    y = np.stack(ys)[..., None] - offset
    y = np.concatenate([y, np.ones_like(y)], axis=-1)
    return x.astype(np.float32), y.astype(np.float32)


class PatchDataset(keras.utils.PyDataset):
    """
    Batches of training patches drawn afresh every step, reproducible from a seed.

    Each batch holds ``batch_size - forward_per_batch`` supervised patches (HMI-like input with Gaussian
    noise of a σ drawn per patch between ``noise_min`` and ``noise``, 28 cm target; with ``field_scale_min`` < 1
    the noise-free input and the target of each are first multiplied by one factor drawn log-uniformly between
    ``field_scale_min`` and 1, which needs ``offset`` 0, i.e. magnetograms) followed by
    ``forward_per_batch`` real HMI patches without a target, used by the forward-consistency loss, and
    then, with ``noise_twins``, the noise-free inputs of the first ``noise_twins`` supervised patches (their
    targets repeated), for the noise-propagation penalty of
    `~sunpy_enhance.enhance.training.train.ForwardConsistentTrainer`. Values
    are in network units: the physical value minus ``offset`` (1 for I/Ic, so that the network sees a
    zero-centred signal; 0 for kG).

    The targets array has two channels: the target, and 1 for supervised / 0 for forward patches. For a
    forward patch the first channel holds its measurement-domain target repeated ×2 (so that a 2×2 average
    gives it back): the real patch itself, or, with ``real_noise`` (one σ per real image), the
    re-corrupted pair of Recorrupted-to-Recorrupted: input ``y + z``, target ``y − z`` with
    ``z ~ N(0, σ²)``, whose noises are independent when σ is the data's own noise level.
    """

    def __init__(self, bank, *, patch_size=50, batch_size=32, steps=100, noise=1e-3, noise_min=None, offset=0.0,
                 field_scale_min=1.0, real_images=(), real_noise=None, forward_per_batch=0, noise_twins=0, seed=0,
                 **kwargs):
        super().__init__(**kwargs)
        self.bank = bank
        self.patch_size = patch_size
        self.batch_size = batch_size
        self.steps = steps
        self.noise = noise
        self.noise_min = noise_min
        self.offset = offset
        if field_scale_min != 1 and (offset != 0 or not 0 < field_scale_min < 1):
            msg = (f"field_scale_min ({field_scale_min}) must lie in (0, 1], and scaling needs offset 0 "
                   f"(magnetograms), not {offset}.")
            raise ValueError(msg)
        self.field_scale_min = float(field_scale_min)
        self.real_images = [np.asarray(r, dtype=np.float32) for r in real_images]
        self.real_noise = None if real_noise is None else [float(s) for s in real_noise]
        self.forward_per_batch = forward_per_batch if self.real_images else 0
        self.noise_twins = int(noise_twins)
        if not 0 <= self.noise_twins <= batch_size - self.forward_per_batch:
            msg = (f"noise_twins ({noise_twins}) must lie between 0 and the supervised patches per batch "
                   f"({batch_size - self.forward_per_batch}).")
            raise ValueError(msg)
        self.seed = seed
        self.epoch = 0
        if self.real_images:
            areas = np.array([r.size for r in self.real_images], dtype=float)
            self._real_weights = areas / areas.sum()

    def __len__(self):
        return self.steps

    def on_epoch_end(self):
        self.epoch += 1

    def __getitem__(self, index):
        rng = np.random.default_rng([self.seed, self.epoch, index])
        n_sup = self.batch_size - self.forward_per_batch
        size = self.patch_size
        xs, ys = zip(*(self.bank.sample(rng, size) for _ in range(n_sup)))
        sigma = _noise_levels(rng, n_sup, self.noise, self.noise_min)
        clean = np.stack(xs)
        y = np.stack(ys)
        if self.field_scale_min < 1:
            factor = np.exp(rng.uniform(np.log(self.field_scale_min), 0.0, size=n_sup))[:, None, None]
            clean, y = clean * factor, y * factor
        x = clean + sigma[:, None, None] * rng.standard_normal((n_sup, size, size))
        flag = np.ones_like(y)
        if self.forward_per_batch:
            inputs, targets = [], []
            while len(inputs) < self.forward_per_batch:
                i = rng.choice(len(self.real_images), p=self._real_weights)
                img = self.real_images[i]
                r = rng.integers(0, img.shape[0] - size + 1)
                c = rng.integers(0, img.shape[1] - size + 1)
                patch = img[r:r + size, c:c + size]
                if not np.all(np.isfinite(patch)):  # real images may have NaN outside the region of interest
                    continue
                patch = dihedral(patch, rng.integers(8))
                z = 0.0 if self.real_noise is None else self.real_noise[i] * rng.standard_normal(patch.shape)
                inputs.append(patch + z)
                targets.append(np.repeat(np.repeat(patch - z, 2, axis=0), 2, axis=1))
            x = np.concatenate([x, np.stack(inputs)])
            y = np.concatenate([y, np.stack(targets)])
            flag = np.concatenate([flag, np.zeros((self.forward_per_batch, 2 * size, 2 * size))])
        if self.noise_twins:
            k = self.noise_twins
            x = np.concatenate([x, clean[:k]])
            y = np.concatenate([y, y[:k]])
            flag = np.concatenate([flag, np.ones((k, 2 * size, 2 * size))])
        x = (x - self.offset)[..., None].astype(np.float32)
        y = np.stack([y - self.offset, flag], axis=-1).astype(np.float32)
        return x, y
