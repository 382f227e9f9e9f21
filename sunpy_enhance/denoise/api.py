"""
Denoise arrays, Maps and spectropolarimetric cubes with a trained denoising U-Net, with uncertainties.
"""
import functools
from collections import namedtuple
from pathlib import Path

import astropy.units as u
import numpy as np

from sunpy_enhance.denoise.noise import estimate_noise
from sunpy_enhance.hmi import check_plausible, is_hmi_magnetogram, nominal_noise

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


class _Network:
    """A denoiser's Keras model, its card and how to run it."""

    def __init__(self, directory, precision):
        from sunpy_enhance.models import build_from_card, read_card

        if precision not in ("float32", "bfloat16"):
            msg = f"precision must be 'float32' or 'bfloat16', not {precision!r}."
            raise ValueError(msg)
        self.directory = Path(directory)
        self.card = read_card(self.directory)
        arch = self.card["architecture"]
        if arch.get("name") != "unet":
            msg = (f"{self.directory} holds a {arch.get('name')!r} network, not a denoiser; use a model "
                   "written by sunpy_enhance.denoise.training.export_denoiser.")
            raise ValueError(msg)
        self.name = self.card.get("name", self.directory.name)
        self.bayesian = bool(arch.get("bayesian", False))
        self.multiple = 2 ** int(arch.get("depth", 2))
        self.model = build_from_card(self.card, dtype="mixed_bfloat16" if precision == "bfloat16" else "float32")
        self.model.load_weights(self.directory / "model.weights.h5")
        self.default_noise = self.card.get("input", {}).get("noise")
        self.unit = self.card.get("input", {}).get("unit", "")
        self.blind_spot = self.card.get("input", {}).get("blind_spot")

    def reset_dropout(self, seed):
        """Restart the Monte-Carlo dropout masks from ``seed`` (reproducible epistemic maps)."""
        import keras

        layers = [layer for layer in self.model.layers if isinstance(layer, keras.layers.Dropout)]
        for i, layer in enumerate(layers):
            state = layer.seed_generator.state
            state.assign(np.array([int(seed), i], dtype=state.dtype))

    def __call__(self, batch, training=False):
        return np.asarray(self.model(np.ascontiguousarray(batch, dtype=np.float32), training=training),
                          dtype=np.float32)


@functools.lru_cache(maxsize=8)
def _network(directory, precision):
    return _Network(directory, precision)


def _ceil_to(n, m):
    return -(-int(n) // m) * m


def _windows(shape, tile, multiple):
    """Tile sizes (ty, tx) and core origins covering an image of ``shape``."""
    h, w = shape
    ty = min(_ceil_to(tile, multiple), _ceil_to(h, multiple))
    tx = min(_ceil_to(tile, multiple), _ceil_to(w, multiple))
    origins = [(y, x) for y in range(0, h, ty) for x in range(0, w, tx)]
    return ty, tx, origins


def _run_images(net, images, *, tile_size, batch_size, samples, want_var, rng_seed, progress):
    """
    Run the network over a stack of noise-scaled images (n, h, w) with tiling.

    Returns mean (n, h, w), aleatoric variance (or None) and epistemic variance (or None), noise units.
    """
    n, h, w = images.shape
    # Every image is padded by reflection by the same margin, tiled or not, so that the result does
    # not depend on the tiling.
    m = _ceil_to(_MARGIN, net.multiple)
    ty, tx, origins = _windows((h, w), tile_size, net.multiple)
    ny, nx = len(range(0, h, ty)) * ty, len(range(0, w, tx)) * tx
    padded = np.pad(images, ((0, 0), (m, m + ny - h), (m, m + nx - w)), mode="reflect")
    jobs = [(i, y, x) for i in range(n) for (y, x) in origins]
    mean = np.empty((n, ny, nx), np.float32)
    alea = np.empty((n, ny, nx), np.float32) if want_var and net.bayesian else None
    epis = np.empty((n, ny, nx), np.float32) if want_var and samples else None
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc="denoise", unit="tile")
    if samples:
        net.reset_dropout(rng_seed)
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start:start + batch_size]
        batch = np.stack([padded[i, y:y + ty + 2 * m, x:x + tx + 2 * m] for i, y, x in chunk])[..., None]
        out = net(batch)
        core = (slice(None), slice(m, m + ty), slice(m, m + tx))
        mu = out[..., 0][core]
        var = np.exp(out[..., 1][core]) if alea is not None else None
        if epis is not None:
            draws = np.stack([net(batch, training=True) for _ in range(samples)])
            epis_chunk = np.var(draws[..., 0][(slice(None), *core)], axis=0)
            if var is not None:
                var = np.mean(np.exp(draws[..., 1][(slice(None), *core)]), axis=0)
        for k, (i, y, x) in enumerate(chunk):
            mean[i, y:y + ty, x:x + tx] = mu[k]
            if alea is not None:
                alea[i, y:y + ty, x:x + tx] = var[k]
            if epis is not None:
                epis[i, y:y + ty, x:x + tx] = epis_chunk[k]
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    crop = (slice(None), slice(0, h), slice(0, w))
    return (mean[crop], None if alea is None else alea[crop], None if epis is None else epis[crop])


def _run_blind_spot(net, images, *, cell, radius, tile_size, batch_size, rng_seed, progress):
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
            m, v, _ = _run_images(net, masked, tile_size=tile_size, batch_size=batch_size, samples=0,
                                  want_var=True, rng_seed=rng_seed, progress=progress)
            mu[:, yy, xx] = m[:, yy, xx]
            prior[:, yy, xx] = v[:, yy, xx]
    mean = (mu + prior * images) / (1.0 + prior)
    return mean, prior / (1.0 + prior), None


def _predict(net, images, *, samples, want_var, tile_size, batch_size, rng_seed, progress):
    """Mean, aleatoric and epistemic variances (noise units) of a stack of noise-scaled images."""
    if net.blind_spot:
        return _run_blind_spot(net, images, cell=int(net.blind_spot["cell"]), radius=int(net.blind_spot["radius"]),
                               tile_size=tile_size, batch_size=batch_size, rng_seed=rng_seed, progress=progress)
    return _run_images(net, images, samples=samples, want_var=want_var, tile_size=tile_size,
                       batch_size=batch_size, rng_seed=rng_seed, progress=progress)


def _check_uncertainty_arg(uncertainty):
    if uncertainty not in (False, True, "components"):
        msg = f"uncertainty must be False, True or 'components', not {uncertainty!r}."
        raise ValueError(msg)


def denoise(array, *, model="polarimetry", noise=None, cycles=1, uncertainty=False, samples=0,
            tile_size=512, batch_size=8, precision="float32", seed=0, progress=False):
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
        Images larger than this are processed in overlapping tiles of this size (memory).
    batch_size : int, optional
        Tiles per network call.
    precision : {"float32", "bfloat16"}, optional
        Arithmetic of the hidden layers.
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
    net = _network(str(resolve_model(model).resolve()), precision)
    if uncertainty and not net.bayesian:
        msg = (f"Model {net.name!r} has no uncertainty head; use a Bayesian model (the bundled ones are) "
               "or uncertainty=False.")
        raise ValueError(msg)
    finite = np.isfinite(data)
    if not finite.any():
        msg = "The array has no finite pixel to denoise."
        raise ValueError(msg)
    sigma = _noise_value(noise, data, unit)
    shape = data.shape
    images = np.where(finite, data, 0.0).reshape(-1, *shape[-2:]) / sigma
    run = functools.partial(_predict, net, tile_size=int(tile_size), batch_size=int(batch_size),
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
                tile_size=512, batch_size=8, precision="float32", progress=False):
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
    cycles, uncertainty, samples, tile_size, batch_size, precision, progress
        As for `denoise`. With ``uncertainty`` the map's ``uncertainty`` attribute is an
        `~astropy.nddata.StdDevUncertainty` of the total standard deviation.

    Returns
    -------
    `~sunpy.map.GenericMap`
        Same class, data shape, WCS and metadata as ``smap``, with the denoised data, keys ``DNMODEL``
        (model), ``DNNOISE`` (noise level used, map units), ``DNNOISRC`` (where it came from),
        ``DNCYCLES`` and ``DNVERS`` (software version), and a ``HISTORY`` line. The input map is not
        modified.

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
    >>> clean.meta["dnmodel"]
    'denoise-hmi-magnetogram'
    """
    import sunpy.map
    from astropy.nddata import StdDevUncertainty

    from sunpy_enhance.version import __version__

    if not isinstance(smap, sunpy.map.GenericMap):
        msg = f"denoise_map needs a sunpy Map, not {type(smap).__name__}; use denoise() for arrays."
        raise TypeError(msg)
    _check_uncertainty_arg(uncertainty)
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
                     progress=progress)
    out, std = result if uncertainty else (result, None)
    net = _network(str(resolve_model(model).resolve()), precision)
    meta = smap.meta.copy()
    meta["dnmodel"] = net.name
    meta["dnnoise"] = sigma
    meta["dnnoisrc"] = source
    meta["dncycles"] = int(cycles)
    meta["dnvers"] = f"sunpy-enhance {__version__}"
    line = (f"Denoised with sunpy-enhance {__version__} model {net.name}, noise {sigma:.4g}"
            f"{' ' + str(smap.unit) if smap.unit is not None else ''} ({source}), {int(cycles)} cycle(s).")
    meta["history"] = (meta.get("history", "") + "\n" + line).strip()
    for key in ("datamin", "datamax", "datamean", "datamedn", "datarms", "datakurt", "dataskew",
                "datap01", "datap10", "datap25", "datap75", "datap90", "datap95", "datap98", "datap99"):
        meta.pop(key, None)
    kwargs = {}
    if std is not None:
        kwargs["uncertainty"] = StdDevUncertainty(std, unit=smap.unit)
    return type(smap)(out, meta, plot_settings=dict(smap.plot_settings), **kwargs)


# --------------------------------------------------------------------------------------------------
# Cubes

def _read_cube(path):
    from sunpy_enhance.io import read_data  # the package's one home of file reading

    return read_data(path)


def denoise_cube(cube, *, model="polarimetry", noise=None, stokes=(1, 2, 3), stokes_axis=None, cycles=1,
                 uncertainty=False, samples=0, batch_size=16, tile_size=512, precision="float32",
                 output=None, overwrite=False, progress=False):
    """
    Denoise a spectropolarimetric cube, image by image, in batches.

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
    cycles, uncertainty, samples, tile_size, precision, progress
        As for `denoise` (``uncertainty`` may be True only: the total standard deviation).
    batch_size : int, optional
        Images (tiles) per network call.
    output : `os.PathLike`, optional
        Also write the result there (atomically, `save_denoised`): FITS (header of the input plus
        provenance keys; the uncertainty in an extension named ``UNCERT``) or ``.npy`` (the uncertainty
        beside it as ``<name>_uncertainty.npy``).
    overwrite : bool, optional
        Replace existing output files (the uncertainty file of a ``.npy`` output included); without it
        they are checked before any work starts.

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
    header = None
    if isinstance(cube, (str, Path)):
        cube, header = _read_cube(cube)
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
    if output is not None and not overwrite:
        _refuse_existing(output, uncertainty, "overwrite=True")
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
        images = part.reshape(-1, *part.shape[-2:])
        den = np.empty_like(images)
        sd = np.empty_like(images) if uncertainty else None
        for start in range(0, len(images), batch_size):
            res = denoise(images[start:start + batch_size], model=model, noise=sigma, cycles=cycles,
                          uncertainty=uncertainty, samples=samples, tile_size=tile_size, batch_size=batch_size,
                          precision=precision, progress=progress)
            if uncertainty:
                den[start:start + batch_size], sd[start:start + batch_size] = res
            else:
                den[start:start + batch_size] = res
        out[index] = den.reshape(part.shape)
        if uncertainty:
            std[index] = sd.reshape(part.shape)
    if output is not None:
        _write_cube(output, out, std, header, model=model, cycles=cycles, stokes=stokes, overwrite=overwrite)
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


def _write_cube(output, out, std, header, *, model, cycles, stokes, overwrite):
    from sunpy_enhance.version import __version__

    output = Path(output)
    if output.name.lower().endswith(".npy"):
        save_denoised(output, out, std, overwrite=overwrite)
        return
    from astropy.io import fits

    hdr = fits.Header() if header is None else header.copy()
    for key in ("BZERO", "BSCALE", "BLANK"):
        hdr.remove(key, ignore_missing=True)
    net = _network(str(resolve_model(model).resolve()), "float32")
    hdr["DNMODEL"] = (net.name, "sunpy-enhance denoiser")
    hdr["DNCYCLES"] = (int(cycles), "denoising cycles")
    hdr["DNSTOKES"] = (",".join(str(s) for s in stokes) if stokes is not None else "all", "denoised indices")
    hdr["DNVERS"] = f"sunpy-enhance {__version__}"
    hdr.add_history(f"Denoised with sunpy-enhance {__version__} model {net.name}.")
    save_denoised(output, out, std, header=hdr, overwrite=overwrite)
