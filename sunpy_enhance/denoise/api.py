"""
Denoise arrays, Maps and spectropolarimetric cubes with a trained denoising U-Net, with uncertainties.
"""
import functools
from collections import namedtuple
from pathlib import Path

import astropy.units as u
import numpy as np

from sunpy_enhance.denoise.noise import estimate_noise
from sunpy_enhance.hmi import check_hmi_map, check_plausible, is_hmi_magnetogram, nominal_noise

__all__ = [
    "MODEL_ALIASES",
    "DenoiseUncertainty",
    "denoise",
    "denoise_cube",
    "denoise_map",
    "resolve_model",
    "save_denoised",
    "uncertainty_path",
]

#: Short names accepted for the bundled denoisers.
MODEL_ALIASES = {
    "polarimetry": "denoise-polarimetry",
    "hmi-magnetogram": "denoise-hmi-magnetogram",
}

#: Pixels added on each side of an image or tile (by reflection) so that the result does not depend on
#: the tiling: more than the network's reach (26 pixels for depth 2).
_MARGIN = 32

DenoiseUncertainty = namedtuple("DenoiseUncertainty", ["total", "aleatoric", "epistemic"])
DenoiseUncertainty.__doc__ = """
Per-pixel standard deviations of the error of a denoised image, in the units of the data.

Attributes
----------
total : `numpy.ndarray`
    ``sqrt(aleatoric**2 + epistemic**2)``.
aleatoric : `numpy.ndarray`
    From the network's log-variance head: the expected error given what the noisy data allow.
epistemic : `numpy.ndarray` or None
    Spread of the denoised value under Monte-Carlo dropout (the network's own uncertainty); None when
    no Monte-Carlo samples were drawn (``samples=0``).
"""


def resolve_model(model):
    """
    The directory of a denoiser given by short name, bundled name or path.

    Parameters
    ----------
    model : str or `os.PathLike`
        ``"polarimetry"``, ``"hmi-magnetogram"``, a bundled model name (``"denoise-polarimetry"``) or a
        directory written by `~sunpy_enhance.denoise.training.export_denoiser`.

    Returns
    -------
    `pathlib.Path`
    """
    from sunpy_enhance.models import model_directory

    if isinstance(model, str) and model in MODEL_ALIASES:
        model = MODEL_ALIASES[model]
    return model_directory(model)


class _Denoiser:
    """
    A denoiser from the model store: what its card says, its network on the inference engine that
    `~sunpy_enhance.models.load_model` chose, and — only for Monte-Carlo dropout, which the engines do not
    run — its Keras model (`~sunpy_enhance.models.load_keras_model`).
    """

    def __init__(self, model, precision, engine):
        from sunpy_enhance.models import load_model, read_card

        directory = resolve_model(model)
        self.card = read_card(directory)
        arch = self.card.get("architecture", {})
        if arch.get("name") != "unet":
            msg = (f"{directory} holds a {arch.get('name')!r} network, not a denoiser; use a model "
                   "written by sunpy_enhance.denoise.training.export_denoiser.")
            raise ValueError(msg)
        self.net = load_model(directory, precision=precision, engine=engine)
        self.directory = self.net.directory
        self.name = self.card.get("name", directory.name)
        self.bayesian = bool(arch.get("bayesian", False))
        self.multiple = 2 ** int(arch.get("depth", 2))
        self.blind_spot = self.card.get("input", {}).get("blind_spot")

    def __call__(self, batch):
        """The deterministic pass: ``(n, h, w, 1)`` → ``(n, h, w, 1 or 2)`` (mean, log-variance)."""
        return self.net(batch)

    def _keras(self):
        from sunpy_enhance.models import load_keras_model

        return load_keras_model(self.directory, precision=self.net.precision)

    def reset_dropout(self, seed):
        """Restart the Monte-Carlo dropout masks from ``seed`` (reproducible epistemic maps)."""
        import keras

        layers = [layer for layer in self._keras().layers if isinstance(layer, keras.layers.Dropout)]
        for i, layer in enumerate(layers):
            state = layer.seed_generator.state
            state.assign(np.array([int(seed), i], dtype=state.dtype))

    def draws(self, batch, samples):
        """``samples`` passes with Monte-Carlo dropout: ``(samples, n, h, w, channels)``."""
        model = self._keras()
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        return np.stack([np.asarray(model(batch, training=True), dtype=np.float32) for _ in range(samples)])


def _ceil_to(n, m):
    return -(-int(n) // m) * m


def _tile_function(den, *, samples, want_var):
    """
    What the tiler runs on a batch of windows, and its number of output channels: the denoised value, then
    (as asked) the aleatoric variance and the epistemic variance, all in noise units.
    """
    aleatoric = bool(want_var and den.bayesian)
    channels = 1 + aleatoric + bool(samples)

    def run(batch):
        out = den(batch)
        parts = [out[..., :1]]
        if samples:
            draws = den.draws(batch, samples)
            if aleatoric:
                parts.append(np.mean(np.exp(draws[..., 1:2]), axis=0))
            parts.append(np.var(draws[..., :1], axis=0))
        elif aleatoric:
            parts.append(np.exp(out[..., 1:2]))
        return np.concatenate(parts, axis=-1)

    return run, channels


def _tiles_per_call(shape, tile_size, margin, multiple, batch_size):
    """
    At most ``batch_size`` tiles per network call, and never more input pixels than one full window of
    ``tile_size``: the memory is set by ``tile_size`` whatever the batch size and the image.
    """
    from sunpy_enhance.tiling import tile_slices

    largest = max((w[0].stop - w[0].start) * (w[1].stop - w[1].start)
                  for w, _, _ in tile_slices(shape, tile_size, margin, multiple=multiple))
    budget = (max(tile_size // multiple, 1) * multiple + 2 * margin) ** 2
    return max(1, min(int(batch_size), budget // largest))


def _run_images(den, images, *, tile_size, batch_size, samples, want_var, rng_seed, progress):
    """
    Run the network over a stack of noise-scaled images (n, h, w), tile by tile
    (`sunpy_enhance.tiling.apply_tiled`).

    Returns mean (n, h, w), aleatoric variance (or None) and epistemic variance (or None), noise units.
    """
    from sunpy_enhance.tiling import apply_tiled

    n, h, w = images.shape
    # Every image is padded by reflection by the same margin, so that the result does not depend on the
    # tiling: tiles overlap by that margin and start on the network's pooling grid (multiple=).
    m = _ceil_to(_MARGIN, den.multiple)
    padded = np.pad(images, ((0, 0), (m, m + _ceil_to(h, den.multiple) - h), (m, m + _ceil_to(w, den.multiple) - w)),
                    mode="reflect")
    func, channels = _tile_function(den, samples=samples, want_var=want_var)
    per_call = _tiles_per_call(padded.shape[1:], tile_size, m, den.multiple, batch_size)
    if samples:
        den.reset_dropout(rng_seed)
    out = apply_tiled(func, padded, tile_size=tile_size, margin=m, upscale=1, progress=progress, batch_size=per_call,
                      multiple=den.multiple, channels=channels)
    out = out.reshape(*out.shape[:3], channels)[:, m:m + h, m:m + w]
    mean = out[..., 0]
    alea = out[..., 1] if want_var and den.bayesian else None
    epis = out[..., -1] if samples else None
    return mean, alea, epis


def _run_blind_spot(den, images, *, cell, radius, tile_size, batch_size, rng_seed, progress):
    """
    Inference with a network trained by blind-spot masking (noise units).

    Each pixel is predicted from its neighbours only, as in training: ``cell²`` passes, each hiding one
    pixel per ``cell × cell`` block behind the value of a random neighbour, give the prediction ``μ``
    and the variance ``s²`` of the clean value at the hidden pixels. The pixel's own noisy value ``x``
    is then put back with the Gaussian posterior for unit noise (Laine et al. 2019):
    ``(μ + s² x) / (1 + s²)``, variance ``s² / (1 + s²)``. Without it a blind-spot network blurs
    strong, sharp signals that it cannot predict from the neighbours.
    """
    h, w = images.shape[-2:]
    rng = np.random.default_rng(rng_seed)
    offsets = np.array([(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)
                        if (dy, dx) != (0, 0)])
    mu = np.empty_like(images)
    prior = np.empty_like(images)
    for oy in range(cell):
        for ox in range(cell):
            yy, xx = np.meshgrid(np.arange(oy, h, cell), np.arange(ox, w, cell), indexing="ij")
            yy, xx = yy.ravel(), xx.ravel()
            off = offsets[rng.integers(len(offsets), size=yy.size)]
            sy, sx = yy + off[:, 0], xx + off[:, 1]
            sy = np.where((sy < 0) | (sy > h - 1), yy - off[:, 0], sy).clip(0, h - 1)
            sx = np.where((sx < 0) | (sx > w - 1), xx - off[:, 1], sx).clip(0, w - 1)
            masked = np.array(images, copy=True)
            masked[:, yy, xx] = images[:, sy, sx]
            m, v, _ = _run_images(den, masked, tile_size=tile_size, batch_size=batch_size, samples=0,
                                  want_var=True, rng_seed=rng_seed, progress=progress)
            mu[:, yy, xx] = m[:, yy, xx]
            prior[:, yy, xx] = v[:, yy, xx]
    mean = (mu + prior * images) / (1.0 + prior)
    return mean, prior / (1.0 + prior), None


def _predict(den, images, *, samples, want_var, tile_size, batch_size, rng_seed, progress):
    """
    Mean, aleatoric and epistemic variances (noise units) of a stack of noise-scaled images.

    ``den`` is a `_Denoiser`, or anything with its ``bayesian``, ``multiple`` and ``blind_spot`` attributes and
    its call (``reset_dropout`` and ``draws`` too when ``samples`` > 0): ``benchmarks/bench_denoise.py`` runs
    training checkpoints through it.
    """
    if den.blind_spot:
        return _run_blind_spot(den, images, cell=int(den.blind_spot["cell"]), radius=int(den.blind_spot["radius"]),
                               tile_size=tile_size, batch_size=batch_size, rng_seed=rng_seed, progress=progress)
    return _run_images(den, images, samples=samples, want_var=want_var, tile_size=tile_size,
                       batch_size=batch_size, rng_seed=rng_seed, progress=progress)


def _check_uncertainty_arg(uncertainty):
    if uncertainty not in (False, True, "components"):
        msg = f"uncertainty must be False, True or 'components', not {uncertainty!r}."
        raise ValueError(msg)


def denoise(array, *, model="polarimetry", noise=None, cycles=1, uncertainty=False, samples=0,
            tile_size=512, batch_size=8, precision="float32", engine="auto", seed=0, progress=False):
    """
    Denoise an image or a stack of images with a trained denoising U-Net.

    Parameters
    ----------
    array : array-like or `~astropy.units.Quantity`
        An image ``(y, x)`` or a stack ``(..., y, x)``; every image of a stack is denoised on its own
        with the same noise level. Non-finite pixels are ignored and stay non-finite.
    model : str or `os.PathLike`, optional
        ``"polarimetry"`` (default), ``"hmi-magnetogram"``, a bundled model name or a model directory.
    noise : float or `~astropy.units.Quantity`, optional
        Standard deviation of the noise, in the units of ``array`` (a Quantity is converted to them).
        Estimated from the data when not given (`~sunpy_enhance.denoise.noise.estimate_noise`),
        which underestimates spatially correlated noise: give it when you know it.
    cycles : int, optional
        Number of passes. Each pass after the first runs the network on the residual
        (input − output) and adds back what it finds there — signal that an earlier pass took for noise
        (the "cycles" of the published code). Check the residual with
        `~sunpy_enhance.denoise.residuals.check_residual` to decide.
    uncertainty : bool or "components", optional
        Also return the per-pixel standard deviation of the error of the denoised image (needs a
        Bayesian model): ``True`` returns ``(denoised, total)``, ``"components"`` returns
        ``(denoised, DenoiseUncertainty(total, aleatoric, epistemic))``.
    samples : int, optional
        Monte-Carlo dropout passes for the epistemic part of the uncertainty (0: aleatoric only; the
        published authors found the epistemic part about ten times smaller). The denoised image itself
        is always the deterministic pass. Ignored by blind-spot models (below).
    tile_size : int, optional
        Images are processed in overlapping tiles of at most ``tile_size²`` pixels
        (`sunpy_enhance.tiling.apply_tiled`); memory is set by it: about 0.6 GB at the default 512 on a CPU.
    batch_size : int, optional
        Most tiles (or small images of a stack) per network call; a call never holds more pixels than one
        tile of ``tile_size``, so a larger batch does not raise the memory.
    precision : {"float32", "bfloat16"}, optional
        Arithmetic of the hidden layers; bfloat16 only where the hardware has it
        (`~sunpy_enhance.models.load_model`).
    engine : {"auto", "onnxruntime", "tensorflow", "jax"}, optional
        Inference engine (`~sunpy_enhance.models.resolve_engine`; ``"auto"``: ONNX Runtime on CPUs for
        float32). Monte-Carlo dropout (``samples``) always runs the Keras model.
    seed : int, optional
        Seed of the Monte-Carlo dropout masks.
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    denoised : `numpy.ndarray` or `~astropy.units.Quantity`
        Same shape and kind as ``array`` (float32 for arrays).
    uncertainty : `numpy.ndarray` or `DenoiseUncertainty`
        Only when asked for, in the units of ``array``.

    Raises
    ------
    ValueError
        If the array has fewer than two dimensions, no finite pixel, the noise is not positive, or an
        uncertainty is asked of a model without a variance head.

    Notes
    -----
    A model trained by blind-spot masking alone (its card has ``input.blind_spot``) predicts each pixel
    from its neighbours in ``cell²`` masked passes and then weighs the pixel's own value back in with
    the Gaussian posterior for the known noise (Laine et al. 2019); its uncertainty is that posterior's.

    The network sees ``array / noise``: it was trained on white noise of unit variance in these units,
    so a model trained at one noise level applies at another, as long as the signal, measured in units
    of the noise, looks like what it was trained on. The uncertainty is that of the first pass. It is
    calibrated for white Gaussian noise of the given level; it is too small when the noise is
    underestimated or correlated.

    References
    ----------
    * Díaz Baso, C. J., de la Cruz Rodríguez, J., Danilovic, S. 2019, A&A 629, A99,
      :doi:`10.1051/0004-6361/201936069`
    * Laine, S., Karras, T., Lehtinen, J., Aila, T. 2019, NeurIPS, "High-quality self-supervised deep
      image denoising", arXiv:1901.10277

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_enhance.denoise import denoise
    >>> rng = np.random.default_rng(1)
    >>> yy, xx = np.mgrid[:128, :128]
    >>> clean = 5e-3 * np.exp(-((xx - 64) ** 2 + (yy - 64) ** 2) / 300.0)
    >>> noisy = clean + 2.6e-3 * rng.standard_normal(clean.shape)
    >>> out, sigma = denoise(noisy, model="polarimetry", noise=2.6e-3, uncertainty=True)
    >>> bool(np.std(out - clean) < np.std(noisy - clean) / 2)
    True
    """
    _check_uncertainty_arg(uncertainty)
    unit = None
    if isinstance(array, u.Quantity):
        unit = array.unit
        data = np.asarray(array.value, dtype=np.float32)
    else:
        data = np.asarray(array, dtype=np.float32)
    if data.ndim < 2:
        msg = f"denoise needs an image (2-D) or a stack of images, not a {data.ndim}-D array."
        raise ValueError(msg)
    if int(cycles) < 1:
        msg = f"cycles must be 1 or more, not {cycles}."
        raise ValueError(msg)
    if int(samples) != samples or samples < 0:
        msg = f"samples must be an integer ≥ 0 (Monte-Carlo dropout passes), not {samples!r}."
        raise ValueError(msg)
    if int(batch_size) < 1 or int(tile_size) < 1:
        msg = f"batch_size and tile_size must be at least 1, not {batch_size!r} and {tile_size!r}."
        raise ValueError(msg)
    den = _Denoiser(model, precision, engine)
    if uncertainty and not den.bayesian:
        msg = (f"Model {den.name!r} has no uncertainty head; use a Bayesian model (the bundled ones are) "
               "or uncertainty=False.")
        raise ValueError(msg)
    finite = np.isfinite(data)
    if not finite.any():
        msg = "The array has no finite pixel to denoise."
        raise ValueError(msg)
    sigma = _noise_value(noise, data, unit)
    shape = data.shape
    images = np.where(finite, data, 0.0).reshape(-1, *shape[-2:]) / sigma
    run = functools.partial(_predict, den, tile_size=int(tile_size), batch_size=int(batch_size),
                            rng_seed=int(seed), progress=progress)
    mean, alea, epis = run(images, samples=int(samples) if uncertainty else 0, want_var=bool(uncertainty))
    residual = images - mean
    for _ in range(int(cycles) - 1):
        found, _, _ = run(residual, samples=0, want_var=False)
        mean = mean + found
        residual = residual - found
    out = (mean * sigma).reshape(shape).astype(np.float32)
    out[~finite] = np.nan
    if unit is not None:
        out = out * unit
    if not uncertainty:
        return out

    def scaled(var):
        if var is None:
            return None
        s = (np.sqrt(var) * sigma).reshape(shape).astype(np.float32)
        s[~finite] = np.nan
        return s * unit if unit is not None else s

    total = alea + (epis if epis is not None else 0.0)
    result = DenoiseUncertainty(scaled(total), scaled(alea), scaled(epis))
    return (out, result) if uncertainty == "components" else (out, result.total)


def _noise_value(noise, data, unit):
    if noise is None:
        sigma = estimate_noise(data)
    elif isinstance(noise, u.Quantity):
        if unit is None:
            if noise.unit != u.dimensionless_unscaled:
                msg = (f"noise is given in {noise.unit} but the array has no unit; pass a plain number in "
                       "the array's units or make the array a Quantity.")
                raise ValueError(msg)
            sigma = float(noise.value)
        else:
            sigma = float(noise.to_value(unit))
    else:
        sigma = float(noise)
    if not np.isfinite(sigma) or sigma <= 0:
        msg = (f"The noise level must be a positive number, not {sigma!r}"
               + (" (the estimate from the data is zero: is the image constant or quantised?)."
                  if noise is None else "."))
        raise ValueError(msg)
    return sigma


# --------------------------------------------------------------------------------------------------
# Maps

@u.quantity_input
def denoise_map(smap, *, model=None, noise: u.Quantity = None, cycles=1, uncertainty=False, samples=0,
                tile_size=512, batch_size=8, precision="float32", engine="auto", progress=False):
    """
    Denoise a `~sunpy.map.GenericMap`: Map in, Map out on the same grid, with provenance.

    Parameters
    ----------
    smap : `~sunpy.map.GenericMap`
        The map to denoise. An HMI line-of-sight magnetogram gets the ``"hmi-magnetogram"`` model and its
        nominal noise (10 G at 45 s, 6 G at 720 s) unless told otherwise.
    model : str or `os.PathLike`, optional
        Denoiser; default ``"hmi-magnetogram"`` for HMI magnetograms, ``"polarimetry"`` otherwise.
    noise : `~astropy.units.Quantity`, optional
        Noise standard deviation in units compatible with the map's. Default: HMI nominal value for HMI
        magnetograms, else estimated from the data.
    cycles, uncertainty, samples, tile_size, batch_size, precision, engine, progress
        As for `denoise`. With ``uncertainty`` the map's ``uncertainty`` attribute is an
        `~astropy.nddata.StdDevUncertainty` of the total standard deviation.

    Returns
    -------
    `~sunpy.map.GenericMap`
        Same class, data shape, WCS and metadata as ``smap``, with the denoised data and the provenance
        every method of the package writes (`sunpy_enhance.header.add_provenance`): a ``HISTORY`` line,
        ``ENHVER`` (package version), ``ENHMETH='denoise'``, ``ENHMODEL`` and ``ENHMDATE`` (model name and
        creation date), and the denoiser's own ``DNNOISE`` (noise level used, map units), ``DNNOISRC`` (where
        it came from) and ``DNCYCLES``. Keywords describing the input's pixel values (``DATAMEAN``, …,
        `sunpy_enhance.header.STALE_KEYWORDS`) are removed. The input map is not modified.

    Raises
    ------
    ValueError
        For a map reprojected to a heliographic grid (a SHARP CEA map, ``CTYPE1='CRLN-CEA'``), refused as
        by Enhance (`sunpy_enhance.hmi.check_hmi_map`): interpolation correlates the noise of neighbouring
        pixels, which the networks take to be white.

    Examples
    --------
    >>> import astropy.units as u
    >>> import numpy as np
    >>> import sunpy.map
    >>> from astropy.coordinates import SkyCoord
    >>> from sunpy.coordinates import frames
    >>> from sunpy_enhance.denoise import denoise_map
    >>> ref = SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=frames.Helioprojective(
    ...     observer="earth", obstime="2024-01-01"))
    >>> header = sunpy.map.header_helper.make_fitswcs_header(
    ...     (64, 64), ref, scale=[0.5, 0.5] * u.arcsec / u.pix, instrument="HMI", unit=u.G)
    >>> noisy = sunpy.map.Map(10 * np.random.default_rng(0).standard_normal((64, 64)), header)
    >>> clean = denoise_map(noisy, noise=10 * u.G)
    >>> clean.meta["enhmodel"], clean.meta["enhmeth"]
    ('denoise-hmi-magnetogram', 'denoise')
    """
    import sunpy.map
    from astropy.nddata import StdDevUncertainty

    from sunpy_enhance.header import STALE_KEYWORDS, add_provenance
    from sunpy_enhance.models import read_card

    if not isinstance(smap, sunpy.map.GenericMap):
        msg = f"denoise_map needs a sunpy Map, not {type(smap).__name__}; use denoise() for arrays."
        raise TypeError(msg)
    _check_uncertainty_arg(uncertainty)
    check_hmi_map(smap, allow_non_hmi=True, allow_any_scale=True,
                  consequence="the denoisers take the noise of neighbouring pixels to be independent, which "
                              "interpolation makes it not, so too little noise would be removed and the "
                              "uncertainties would be too small")
    hmi_mag = is_hmi_magnetogram(smap)
    if model is None:
        model = "hmi-magnetogram" if hmi_mag else "polarimetry"
    source = "given"
    if noise is None and hmi_mag:
        noise = nominal_noise(smap)
        source = "HMI nominal for the cadence"
    data = np.asarray(smap.data, dtype=np.float32)
    if hmi_mag:  # the label chooses the model and the noise: a continuum image labelled so must not pass
        check_plausible(data, "magnetogram")
    if noise is None:
        sigma = estimate_noise(data)
        source = "estimated from the data"
    else:
        if smap.unit is not None:
            try:
                sigma = float(noise.to_value(smap.unit))
            except u.UnitConversionError:
                msg = f"noise is in {noise.unit}, which does not convert to the map's unit {smap.unit}."
                raise ValueError(msg) from None
        else:
            sigma = float(noise.value)
    result = denoise(data, model=model, noise=sigma, cycles=cycles, uncertainty=bool(uncertainty),
                     samples=samples, tile_size=tile_size, batch_size=batch_size, precision=precision,
                     engine=engine, progress=progress)
    out, std = result if uncertainty else (result, None)
    card = read_card(resolve_model(model))
    name = str(card.get("name"))
    meta = smap.meta.copy()
    for key in STALE_KEYWORDS:
        meta.pop(key, None)
    add_provenance(meta, f"denoised with model {name}, noise {sigma:.4g}"
                         f"{' ' + str(smap.unit) if smap.unit is not None else ''} ({source}), {int(cycles)} cycle(s)",
                   enhmeth="denoise", enhmodel=name, enhmdate=str(card.get("created", "")), dnnoise=sigma,
                   dnnoisrc=source, dncycles=int(cycles))
    kwargs = {}
    if std is not None:
        kwargs["uncertainty"] = StdDevUncertainty(std, unit=smap.unit)
    return type(smap)(out, meta, plot_settings=dict(smap.plot_settings), **kwargs)


# --------------------------------------------------------------------------------------------------
# Cubes

def denoise_cube(cube, *, model="polarimetry", noise=None, stokes=(1, 2, 3), stokes_axis=None, cycles=1,
                 uncertainty=False, samples=0, batch_size=16, tile_size=512, precision="float32", engine="auto",
                 progress=False):
    """
    Denoise a spectropolarimetric cube, image by image, in batches.

    To write the result to a file, atomically, use `save_denoised` (or ``sunpy-enhance denoise --cube``,
    which also records the provenance in the FITS header).

    Parameters
    ----------
    cube : array-like or `os.PathLike`
        ``(time, stokes, wavelength, y, x)`` (or any shape ending in ``y, x`` with a Stokes axis), as an
        array or a ``.npy``/FITS file (FITS axes in numpy order). Polarimetric cubes are usually in
        units of the continuum intensity.
    model : str or `os.PathLike`, optional
        Denoiser (default ``"polarimetry"``).
    noise : float or sequence of float, optional
        Noise of each denoised Stokes parameter (one number for all, or one per entry of ``stokes``),
        in the cube's units. Estimated per Stokes parameter from all its images when not given.
    stokes : sequence of int or None, optional
        Indices along the Stokes axis to denoise (default Q, U, V = 1, 2, 3); the others (Stokes I)
        are copied unchanged. None denoises every image of the cube.
    stokes_axis : int, optional
        The Stokes axis; default 1 for a 5-D cube, 0 for a 4-D one.
    cycles, uncertainty, samples, tile_size, precision, engine, progress
        As for `denoise` (``uncertainty`` may be True only: the total standard deviation).
    batch_size : int, optional
        Most images (tiles) per network call (see `denoise`).

    Returns
    -------
    denoised : `numpy.ndarray`
        float32, same shape as the cube.
    uncertainty : `numpy.ndarray`
        Only with ``uncertainty=True``; NaN for the Stokes parameters not denoised.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_enhance.denoise import denoise_cube
    >>> cube = np.random.default_rng(0).normal(0, 2.6e-3, (2, 4, 3, 32, 32))  # time, Stokes, λ, y, x
    >>> cube[:, 0] += 1.0  # Stokes I
    >>> out = denoise_cube(cube, noise=2.6e-3)
    >>> out.shape, bool(np.all(out[:, 0] == cube[:, 0].astype(np.float32)))
    ((2, 4, 3, 32, 32), True)
    >>> bool(out[:, 1:].std() < cube[:, 1:].std() / 2)
    True
    """
    if uncertainty not in (False, True):
        msg = "denoise_cube's uncertainty must be True or False."
        raise ValueError(msg)
    if isinstance(cube, (str, Path)):
        from sunpy_enhance.io import read_data

        cube, _ = read_data(cube)
    data = np.asarray(cube)
    if data.ndim < 3:
        msg = (f"A cube has at least 3 dimensions (..., y, x), not {data.ndim}; use denoise() for a single "
               "image.")
        raise ValueError(msg)
    if stokes_axis is None:
        stokes_axis = {5: 1, 4: 0}.get(data.ndim)
    if stokes is not None and stokes_axis is None:
        msg = f"Say which axis of this {data.ndim}-D cube is Stokes (stokes_axis=), or pass stokes=None."
        raise ValueError(msg)
    out = np.array(data, dtype=np.float32, copy=True)
    std = np.full(data.shape, np.nan, np.float32) if uncertainty else None
    if stokes is None:
        groups = [(None, (slice(None),) * data.ndim)]
    else:
        stokes_axis = stokes_axis % data.ndim
        if stokes_axis >= data.ndim - 2:
            msg = "The Stokes axis cannot be one of the two last (spatial) axes."
            raise ValueError(msg)
        n_stokes = data.shape[stokes_axis]
        bad = [s for s in stokes if not 0 <= s < n_stokes]
        if bad:
            msg = f"Stokes indices {bad} are outside the cube's Stokes axis of length {n_stokes}."
            raise ValueError(msg)
        groups = []
        for s in stokes:
            index = [slice(None)] * data.ndim
            index[stokes_axis] = s
            groups.append((s, tuple(index)))
    noises = np.broadcast_to(np.asarray(np.nan if noise is None else noise, dtype=float), (len(groups),))
    for (_, index), sigma in zip(groups, noises):
        part = np.asarray(data[index], dtype=np.float32)
        if not np.isfinite(sigma):
            sigma = estimate_noise(part)
        # every image of the group in one call: the tiler batches them (batch_size) in bounded memory
        res = denoise(part, model=model, noise=sigma, cycles=cycles, uncertainty=uncertainty, samples=samples,
                      tile_size=tile_size, batch_size=batch_size, precision=precision, engine=engine,
                      progress=progress)
        out[index], std_part = res if uncertainty else (res, None)
        if uncertainty:
            std[index] = std_part
    return (out, std) if uncertainty else out


def uncertainty_path(output):
    """Where a ``.npy`` output's uncertainty goes: ``<name>_uncertainty.npy`` beside it."""
    output = Path(output)
    return output.with_name(output.name[:-4] + "_uncertainty.npy")


def _refuse_existing(output, uncertainty, how):
    output = Path(output)
    targets = [output]
    if uncertainty and output.name.lower().endswith(".npy"):
        targets.append(uncertainty_path(output))
    existing = [str(t) for t in targets if t.exists()]
    if existing:
        msg = f"{' and '.join(existing)} {'exists' if len(existing) == 1 else 'exist'}; pass {how} to replace it."
        raise FileExistsError(msg)


def save_denoised(output, data, uncertainty=None, *, header=None, uncertainty_header=None, overwrite=False):
    """
    Write a denoised result, atomically: FITS (the uncertainty in an extension ``UNCERT``) or ``.npy``
    (the uncertainty beside it, `uncertainty_path`).

    Every file is written to a temporary name and renamed into place (`sunpy_enhance.io.atomic_write`), so
    an interruption, an error or a full disk leaves the previous file (or none), never a partial one.

    Parameters
    ----------
    output : `os.PathLike`
        ``.npy`` or FITS (``.fits``, ``.fit``, ``.fts``, ``.fits.gz``).
    data : `numpy.ndarray`
    uncertainty : `numpy.ndarray`, optional
    header, uncertainty_header : `astropy.io.fits.Header`, optional
        FITS headers of the data and of the ``UNCERT`` extension.
    overwrite : bool, optional
        Replace existing files; without it nothing is written if any of them (the uncertainty file of a
        ``.npy`` output included) exists.

    Raises
    ------
    FileExistsError
    """
    from sunpy_enhance.io import atomic_write, save_fits_atomic

    output = Path(output)
    if not overwrite:
        _refuse_existing(output, uncertainty is not None, "overwrite=True (--overwrite)")
    if output.name.lower().endswith(".npy"):
        if uncertainty is not None:
            atomic_write(uncertainty_path(output), lambda tmp: np.save(tmp, uncertainty), overwrite=overwrite)
        atomic_write(output, lambda tmp: np.save(tmp, data), overwrite=overwrite)
        return output
    from astropy.io import fits

    hdus = [fits.PrimaryHDU(data, header=header)]
    if uncertainty is not None:
        hdus.append(fits.ImageHDU(uncertainty, header=uncertainty_header, name="UNCERT"))
    return save_fits_atomic(fits.HDUList(hdus), output, overwrite=overwrite)
