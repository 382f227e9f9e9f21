"""
Settings of a training run and the normalisation of each data kind (no Keras import, so it is cheap).
"""
import dataclasses

__all__ = ["CONSISTENCY", "NORMALISATION", "RUNTIME_FIELDS", "TrainingConfig"]

#: How physical values become network values: ``(value - offset) / scale``.
NORMALISATION = {
    "continuum": {"unit": "I/Ic", "offset": 1.0, "scale": 1.0,
                  "description": "intensity divided by the limb-darkening-corrected quiet-Sun level, minus 1"},
    "magnetogram": {"unit": "G", "offset": 0.0, "scale": 1000.0,
                    "description": "line-of-sight field in kG"},
}

#: The data-consistency step applied after the network (``sunpy_enhance.enhance.consistency.back_project``), written
#: into every exported card: σ (HMI pixels) of the smoothing of the residual. Chosen on the validation frames
#: of the shared corpus: for continuum σ = 2 leaves their PSNR unchanged (±0.03 dB) while σ ≤ 1 costs up to
#: 0.2 dB. For magnetograms σ = 2 too: with 10 G input noise, the whole residual (σ = 0) puts part of that noise
#: back (weak-field noise passed 11.0–11.5 G against 10.3–10.9 G with σ = 2; RMS error 1–3% higher on three of the
#: four frames), at the price of a larger forward residual on the real HMI sample (15.9 G against 14.4 G; measured
#: with the model of the noise-penalty stage).
CONSISTENCY = {
    "continuum": {"method": "one back-projection step", "smoothing_hmi_pixels": 2.0},
    "magnetogram": {"method": "one back-projection step", "smoothing_hmi_pixels": 2.0},
}

#: Settings that may change when a run is resumed (how long it goes on), unlike everything else.
RUNTIME_FIELDS = ("epochs", "max_minutes")


@dataclasses.dataclass
class TrainingConfig:
    """
    Settings of a training run. Defaults follow Díaz Baso & Asensio Ramos (2018) where they apply.

    Attributes
    ----------
    kind : {"continuum", "magnetogram"}
    blocks, filters : int
        Architecture (5, 64 as published; 1, 32 for the light variant).
    learning_rate : float
        Adam learning rate (1e-4).
    batch_size : int
        Patches per step (32), including ``forward_per_batch`` real HMI patches.
    patch_size : int
        Input patch side (50; targets are twice that).
    steps_per_epoch, epochs : int
        Length of the run; patches are drawn afresh each step.
    l2 : float or None
        Kernel ℓ2 regularisation; None: 1e-6 continuum, 1e-5 magnetogram.
    noise : float or None
        Gaussian noise added to inputs, network units; None: 1e-3 (I/Ic), 1e-2 (kG, HMI's 45 s noise).
    noise_min : float or None
        With it, each patch's noise σ is drawn uniformly between ``noise_min`` and ``noise``; None: the same as
        ``noise`` for continuum, 6e-3 kG for magnetograms (HMI's 720 s noise), so that the magnetogram model
        is trained across the range of HMI's 45 s and 720 s data.
    recorrupt : bool or None
        Self-supervision on the real HMI patches: each is re-corrupted with noise of its own measured level
        (`~sunpy_enhance.enhance.training.magnetic.hmi_noise_sigma`), input ``y + z`` and measurement-domain target
        ``y − z``, so that the network cannot learn to reproduce the data's noise. None: on for magnetograms.
    weak_field_weight : float
        Magnetograms: weight, in the supervised loss, of the target pixels with ``|B|`` < 100 G (the others weigh 1;
        the loss is the weighted mean). Real magnetograms are mostly weak field, but an unweighted MSE is ruled
        by the few kG pixels, so that the network learns to sharpen everywhere and amplifies the input noise
        where there is little field. 1 (the default) is the plain MSE; must be 1 for continuum.
    field_scale_min : float
        Magnetograms: each supervised patch's field, input and target alike, is multiplied by a factor drawn
        log-uniformly between ``field_scale_min`` and 1 before the noise is added. The HMI forward model is
        linear in B, so a scaled pair is as exact as the original; it shows the network plage and network
        weaker than the training scenes (real HMI magnetograms are mostly weak field) at the same noise, instead of
        teaching it that weak fine structure is noise. What it assumes is that a weaker region at 28 cm looks
        like a stronger one with its field scaled (a lower filling factor), not like a differently shaped one.
        1 (the default) leaves the fields as they are; must be 1 for continuum.
    noise_weight : float
        Weight of the noise-propagation penalty: the mean square (weighted as the supervised loss) of the
        difference between the outputs of a noisy input and of its noise-free twin, on
        `~sunpy_enhance.enhance.training.train.NOISE_TWINS` patches per batch (the batch grows by as many).
        0 (the default) leaves it out.
    forward_weight : float
        Weight of the forward-consistency loss (0 disables it).
    forward_per_batch : int
        Real HMI patches per batch for the forward-consistency loss.
    phases : int
        Sub-pixel sampling phases per frame.
    validation_count, validation_size : int
        Held-out validation patches and their size.
    precision : {"float32", "bfloat16"}
        bfloat16 computes the hidden layers in bfloat16 (output layer float32).
    seed : int
    max_minutes : float or None
        Stop (keeping the best checkpoint) after this wall time. It belongs to one invocation: a resumed run
        may set another, and the card keeps the last one (``wall_time_seconds`` counts every invocation).
    """

    kind: str = "continuum"
    blocks: int = 5
    filters: int = 64
    learning_rate: float = 1e-4
    batch_size: int = 32
    patch_size: int = 50
    steps_per_epoch: int = 100
    epochs: int = 20
    l2: float | None = None
    noise: float | None = None
    noise_min: float | None = None
    recorrupt: bool | None = None
    weak_field_weight: float = 1.0
    field_scale_min: float = 1.0
    noise_weight: float = 0.0
    forward_weight: float = 1.0
    forward_per_batch: int = 8
    phases: int = 8
    validation_count: int = 64
    validation_size: int = 24
    precision: str = "float32"
    seed: int = 0
    max_minutes: float | None = None

    def __post_init__(self):
        if self.kind not in NORMALISATION:
            msg = f"kind must be one of {sorted(NORMALISATION)}, not {self.kind!r}."
            raise ValueError(msg)
        if self.l2 is None:
            self.l2 = 1e-6 if self.kind == "continuum" else 1e-5
        if self.noise is None:
            self.noise = 1e-3 if self.kind == "continuum" else 1e-2
        if self.noise_min is None:
            self.noise_min = self.noise if self.kind == "continuum" else min(6e-3, self.noise)
        if not 0 <= self.noise_min <= self.noise:
            msg = f"noise_min ({self.noise_min}) must lie between 0 and noise ({self.noise})."
            raise ValueError(msg)
        if self.recorrupt is None:
            self.recorrupt = self.kind == "magnetogram"
        if self.weak_field_weight <= 0 or (self.kind == "continuum" and self.weak_field_weight != 1):
            msg = (f"weak_field_weight must be positive, and 1 for continuum, not {self.weak_field_weight} "
                   f"({self.kind}).")
            raise ValueError(msg)
        if not 0 < self.field_scale_min <= 1 or (self.kind == "continuum" and self.field_scale_min != 1):
            msg = (f"field_scale_min must lie in (0, 1], and be 1 for continuum, not {self.field_scale_min} "
                   f"({self.kind}).")
            raise ValueError(msg)
        if self.noise_weight < 0:
            msg = f"noise_weight must be 0 or positive, not {self.noise_weight}."
            raise ValueError(msg)
        if self.precision not in ("float32", "bfloat16"):
            msg = f"precision must be 'float32' or 'bfloat16', not {self.precision!r}."
            raise ValueError(msg)
