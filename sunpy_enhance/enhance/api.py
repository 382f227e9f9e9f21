"""
Enhance SDO/HMI continuum images and line-of-sight magnetograms: deconvolution and ×2 super-resolution.

The main path, top to bottom: `enhance_map` checks the map (`sunpy_enhance.hmi`), computes μ
(`sunpy_enhance.solar`), normalises continuum to I/Ic (``sunpy_enhance.enhance.normalize``), runs the network
in tiles (`enhance_array`, ``sunpy_enhance.tiling``, `sunpy_enhance.models`), makes the result consistent with
the data (``sunpy_enhance.enhance.consistency``), and builds the ×2 header with provenance
(``sunpy_enhance.header``).
"""
import contextlib
import functools

import astropy.units as u
import numpy as np
from scipy import ndimage

from sunpy_enhance.degrade import upsample_x2
from sunpy_enhance.enhance.consistency import back_project
from sunpy_enhance.enhance.normalize import limb_darkening_removed, quiet_sun_level
from sunpy_enhance.exceptions import warn_user
from sunpy_enhance.header import add_provenance, refined_meta
from sunpy_enhance.hmi import KINDS, check_hmi_map, check_plausible, check_quiet_sun, classify_map, missing_to_nan
from sunpy_enhance.models import load_model, model_directory, read_card
from sunpy_enhance.solar import NorthUpView, limb_darkening, mu_from_map
from sunpy_enhance.tiling import apply_tiled, tiles_per_batch

__all__ = ["DEFAULT_TILE_SIZE", "LIMB_MU", "MIN_TILE_SIZE", "enhance_array", "enhance_map", "flux_gain"]

#: Below this μ the networks are unreliable (low contrast, foreshortening; paper's limb caveat): `enhance_map`
#: warns, and its output's ``mask`` marks those pixels (their values are kept).
LIMB_MU = 0.3
#: Default tile size: tiles hold at most 512² input pixels. With ONNX Runtime a 4096² full disk peaks at 2.1 GB in
#: all, as with 640² tiles and in the same time (the peak comes from the steps after the network; 768² tiles: 2.8
#: GB); a 1024² cutout is cut into four 512² tiles (6% extra work for the overlaps).
DEFAULT_TILE_SIZE = 512
#: Images with more input pixels than this give the inference engine's memory back as soon as the network has run
#: (`~sunpy_enhance.models.LoadedModel.release_memory`): on a 4096² full disk ONNX Runtime's buffers (1.3 GB) and
#: the consistency step's 8192² arrays would otherwise add up. Smaller images keep the buffers for the next call:
#: giving them back and allocating them again cost 0.2-0.4 s per 1024² map (a fifth of a light model's time).
RELEASE_MEMORY_PIXELS = 2048 * 2048
#: Smallest tile side: each tile is widened by a margin of the network's receptive radius + 3 (16 px) on every
#: side, so a tile of 32 already costs 4x its own work, and smaller ones are mostly margin (1-pixel tiles
#: would take days for a full disk).
MIN_TILE_SIZE = 32
#: Smallest image side: the network's reflection padding needs two pixels.
_MIN_IMAGE_SIDE = 2


def _check_tile_size(tile_size):
    if isinstance(tile_size, bool) or not isinstance(tile_size, (int, np.integer)) or tile_size < MIN_TILE_SIZE:
        msg = (f"tile_size must be an integer ≥ {MIN_TILE_SIZE} (tiles of at most tile_size² input pixels; "
               f"default {DEFAULT_TILE_SIZE}), not {tile_size!r}.")
        raise ValueError(msg)


def _check_image_shape(shape):
    if min(shape) < _MIN_IMAGE_SIDE:
        msg = (f"The image is {shape[0]} × {shape[1]} pixels; Enhance needs at least {_MIN_IMAGE_SIDE} × "
               f"{_MIN_IMAGE_SIDE} pixels (and gives meaningful results on fields of tens of pixels or more).")
        raise ValueError(msg)


def _fill_nan(image):
    """Replace NaN by the nearest finite value, so the network sees a plateau, not a cliff, at the limb."""
    bad = ~np.isfinite(image)
    if not bad.any():
        return image, bad
    if bad.all():
        msg = "The image has no finite pixel."
        raise ValueError(msg)
    idx = ndimage.distance_transform_edt(bad, return_distances=False, return_indices=True)
    return image[tuple(idx)], bad


def _check_device(device):
    if device not in (None, "cpu", "gpu"):
        msg = f"device must be 'cpu', 'gpu' or None (automatic), not {device!r}."
        raise ValueError(msg)


def _device_scope(device, engine):
    """Where TensorFlow or JAX place the computation; ONNX Runtime chose its provider when it was loaded."""
    if device is None or engine == "onnxruntime":
        return contextlib.nullcontext()
    if engine == "jax":
        import jax

        return jax.default_device(jax.devices("cpu")[0]) if device == "cpu" else contextlib.nullcontext()
    import tensorflow as tf

    if device == "gpu" and not tf.config.list_physical_devices("GPU"):
        msg = "device='gpu' was asked for but TensorFlow sees no GPU; use device=None or 'cpu'."
        raise ValueError(msg)
    return tf.device("/GPU:0" if device == "gpu" else "/CPU:0")


def resolve_model(kind, model):
    model = model if model is not None else f"enhance-{kind}"
    card = read_card(model_directory(model))
    if card.get("kind") != kind:
        msg = f"Model {model!r} is a {card.get('kind')!r} model; a {kind!r} model is needed for these data."
        raise ValueError(msg)
    return model, card


def _doubled(index):
    """The output slice (×2 grid) of an input slice ``start:`` or ``:stop`` or ``:``."""
    return slice(None if index.start is None else 2 * index.start, None if index.stop is None else 2 * index.stop)


def _redo_border(net, filled, bad, out, margin, tiled):
    """
    Compute again, with the model itself, the band of ``margin`` input pixels along the image's border of ``out``.

    ``out`` came from the zero-padded network (`~sunpy_enhance.models.LoadedModel.interior`), exact at least
    ``margin`` pixels inside every tile edge, so everywhere but along the image's own border. Each side is redone
    on a strip ``2 * margin`` pixels wide, whose inner edge is then ``margin`` pixels from the band.
    """
    width, band = 2 * margin, 2 * margin  # input strip; output band (``margin`` input pixels)
    for rows, cols, outer in ((slice(0, width), slice(None), np.s_[:band]),
                              (slice(-width, None), slice(None), np.s_[-band:]),
                              (slice(None), slice(0, width), np.s_[:, :band]),
                              (slice(None), slice(-width, None), np.s_[:, -band:])):
        strip_bad = bad[rows, cols]
        strip = tiled(net, filled[rows, cols], unused=strip_bad if strip_bad.any() else None)
        target = out[_doubled(rows), _doubled(cols)]  # a view: the strip's place in the output
        target[outer] = strip[outer]


def run_network(network_input, model, card, *, tile_size, precision, progress, device, engine="auto"):
    _check_device(device)
    filled, bad = _fill_nan(network_input)
    net = load_model(model, precision=precision, engine=engine, device=device)
    margin = int(card.get("receptive_radius", 13)) + 3
    free = net.accelerator_memory(device)
    batch_size = 1
    if free:  # a GPU: send as many equal-shaped tiles at once as fit in 60% of its free memory
        window = (min(tile_size, filled.shape[0]) + 2 * margin, min(tile_size, filled.shape[1]) + 2 * margin)
        batch_size = tiles_per_batch(window, 0.6 * free, bytes_per_value=2 if net.precision == "bfloat16" else 4)
    tiled = functools.partial(apply_tiled, tile_size=tile_size, margin=margin, upscale=2, batch_size=batch_size)
    with _device_scope(device, net.engine):
        if net.interior is None or min(filled.shape) <= 2 * margin:
            out = tiled(net, filled, progress=progress, unused=bad if bad.any() else None)
        else:
            out = tiled(net.interior, filled, progress=progress, unused=bad if bad.any() else None)
            _redo_border(net, filled, bad, out, margin, tiled)
    if filled.size > RELEASE_MEMORY_PIXELS:
        net.release_memory()  # what follows (consistency step, header) does not need the network's buffers
    if bad.any():
        out[np.repeat(np.repeat(bad, 2, axis=0), 2, axis=1)] = np.nan
    return out


def flux_gain(enhanced, original):
    """
    The factor that makes an enhanced continuum image's mean intensity equal the original's.

    The PSF redistributes light but neither creates nor removes it, so the mean over the field of view
    of the true (deconvolved) image equals that of the observed one. The network conserves it only
    approximately (its bare output is typically 0.5-2 % brighter or darker); `enhance_array` multiplies
    continuum outputs by this one factor. Local photometry is left to the network (see the forward
    residual, `sunpy_enhance.diagnostics.forward_residual`).

    Parameters
    ----------
    enhanced : `numpy.ndarray`
        Enhanced image, twice the size of ``original``; NaN exactly at the 2 × 2 children of the
        missing input pixels, so that both means cover the same area.
    original : `numpy.ndarray`
        The input image in the same units; NaN where missing.

    Returns
    -------
    `numpy.float32`
        mean(original) / mean(enhanced) over their finite pixels.
    """
    return np.float32(np.nanmean(original, dtype=np.float64) / np.nanmean(enhanced, dtype=np.float64))


def enhance_array(array, *, kind, model=None, quiet_sun=None, tile_size=DEFAULT_TILE_SIZE, precision="float32",
                  device=None, progress=False, consistency=True, engine="auto"):
    """
    Enhance a plain array sampled at HMI's 0.504″/px; returns an array at 0.252″/px.

    Parameters
    ----------
    array : `numpy.ndarray`
        2-D image: continuum intensity (any units) or line-of-sight field in G. NaN marks missing pixels;
        so do ``±inf``, values beyond ±1e20 (unapplied BLANKs, with a warning that counts them,
        `sunpy_enhance.hmi.missing_to_nan`) and the masked pixels of a `numpy.ma.MaskedArray`.
    kind : {"continuum", "magnetogram"}
    model : str or `os.PathLike`, optional
        Bundled model name or model directory; default ``"enhance-<kind>"``.
    quiet_sun : float, optional
        Quiet-Sun intensity in the array's units (continuum); default: estimated robustly
        (``sunpy_enhance.enhance.normalize.quiet_sun_level``). A plain array carries no pointing, so no
        limb-darkening correction is made: continuum arrays should come from near disk centre, or have the
        limb darkening removed already (`enhance_map` does both from the map's WCS).
    tile_size, precision, device, progress, engine
        See `enhance_map`.
    consistency : bool, optional
        Apply the model's data-consistency step (``sunpy_enhance.enhance.consistency.back_project``, as its card
        says); ``False`` returns the bare network output, for diagnostics and comparisons.

    Returns
    -------
    `numpy.ndarray`
        float32 array twice the size: I/Ic for continuum, G for magnetograms.
    """
    if kind not in KINDS:
        msg = f"kind must be one of {KINDS}, not {kind!r}."
        raise ValueError(msg)
    data = missing_to_nan(array)  # float32: the network computes in float32 (or less) anyway
    if data.ndim != 2:
        msg = f"A 2-D image is needed, not an array of shape {data.shape}."
        raise ValueError(msg)
    _check_image_shape(data.shape)
    _check_tile_size(tile_size)
    check_plausible(data, kind)
    model, card = resolve_model(kind, model)
    norm = card["normalisation"]
    if kind == "continuum":
        level = quiet_sun_level(data) if quiet_sun is None else float(quiet_sun)
        check_quiet_sun(level, given=quiet_sun is not None)
        physical = data / np.float32(level)
    else:
        physical = data
    network_input = (physical - norm["offset"]) / norm["scale"]
    out = run_network(network_input, model, card, tile_size=tile_size, precision=precision,
                      progress=progress, device=device, engine=engine)
    out *= np.float32(norm["scale"])  # in place: on a full disk each copy of the output is 270 MB
    out += np.float32(norm["offset"])
    if consistency and "consistency" in card:
        out = back_project(out, physical, smoothing=card["consistency"]["smoothing_hmi_pixels"])
    if kind == "continuum":
        out *= flux_gain(out, physical)
    return out.astype(np.float32, copy=False)


def _in_map_units(value, smap):
    """A plain number, or an astropy Quantity converted to the map's unit (e.g. DN/s)."""
    if not isinstance(value, u.Quantity):
        return float(value)
    if smap.unit is None:
        msg = f"quiet_sun={value} has a unit but the map has none (BUNIT); pass a plain number in the map's units."
        raise ValueError(msg)
    try:
        return float(value.to_value(smap.unit))
    except u.UnitConversionError:
        msg = f"quiet_sun={value} cannot be converted to the map's unit ({smap.unit})."
        raise ValueError(msg) from None


def enhance_map(smap, *, kind=None, model=None, quiet_sun=None, keep_input_units=False,
                tile_size=DEFAULT_TILE_SIZE, precision="float32", device=None, engine="auto",
                allow_non_hmi=False, allow_any_scale=False, progress=False):
    """
    Deconvolve an HMI map and super-resolve it ×2 with the Enhance network.

    The result is what a diffraction-limited telescope of 28 cm (twice HMI's aperture) would have seen,
    sampled at 0.252″/px, on a grid that overlays the input exactly: output pixels ``2p`` and ``2p + 1``
    subdivide input pixel ``p``.

    Parameters
    ----------
    smap : `sunpy.map.GenericMap`
        An HMI continuum image (``hmi.Ic_45s``, ``hmi.Ic_720s``, …) or line-of-sight magnetogram
        (``hmi.M_45s``, ``hmi.M_720s``) at native 0.504″/px, full disk or cutout. Not modified.
    kind : {"continuum", "magnetogram"}, optional
        What the map holds; by default read from its metadata (`classify_map`).
    model : str or `os.PathLike`, optional
        Bundled model name or model directory; default ``"enhance-<kind>"``.
    quiet_sun : float or `~astropy.units.Quantity`, optional
        Quiet-Sun intensity (after limb-darkening correction): a number in the map's units, or a Quantity
        (e.g. ``60000 * u.Unit("DN/s")``) converted to them; default estimated.
    keep_input_units : bool, optional
        Return continuum intensities in the input's units (DN/s, limb darkening restored) instead of I/Ic.
    tile_size : int, optional
        Tiles of at most ``tile_size²`` input pixels (rectangles arranged for the least overlap) are
        processed one at a time; memory scales with the tile, not the image. The result does not
        depend on it.
    precision : {"float32", "bfloat16"}, optional
        bfloat16 (hidden layers only) is faster where the hardware has bfloat16 arithmetic (GPU tensor
        cores, AMX: up to ~2x; AVX-512 BF16: ~1.1-1.3x) and uses half the memory. Fine for magnetograms
        (differences ~3 G); for continuum photometry use float32 (differences ~1-3e-3 Ic, up to three times
        the noise). On hardware without native bfloat16 (`sunpy_enhance.models.native_bfloat16`) it would be
        slower: a warning says so and float32 is used. See the documentation's performance page.
    device : {"cpu", "gpu"}, optional
        Force a device; by default a GPU is used when one is visible.
    engine : {"auto", "onnxruntime", "tensorflow", "jax"}, optional
        Inference engine. ``"auto"``: ONNX Runtime on CPUs (the fastest there), TensorFlow, Keras on JAX or
        ONNX Runtime's CUDA provider on GPUs (`sunpy_enhance.models.resolve_engine`). All engines give the
        same result to ~1e-5 in network units; the Keras model of the card is the reference.
    allow_non_hmi, allow_any_scale : bool, optional
        Accept maps from other instruments, or not sampled at ~0.504″/px, at your own risk.
    progress : bool, optional
        Show a progress bar over tiles.

    Returns
    -------
    `sunpy.map.GenericMap`
        The enhanced map, 0.252″/px. Continuum: I/Ic, the intensity divided by the limb-darkening law
        and the quiet-Sun level (``BUNIT`` empty, the level in ``ENHQSUN``), unless ``keep_input_units``.
        Magnetograms: G, as the input. Off-disk and missing pixels (NaN, ±inf, values beyond ±1e20 and the
        pixels of the map's ``mask`` in the input) are NaN. The output's ``mask`` marks the pixels not to be
        trusted: the 2 × 2 children of each off-disk or missing input pixel, and of each input pixel closer to
        the limb than μ = `~sunpy_enhance.enhance.LIMB_MU` (0.3), whose enhanced values are kept but are
        unreliable (see Notes).
        Provenance in ``HISTORY``, ``ENHVER`` (package version), ``ENHMODEL`` and ``ENHMDATE`` (model name
        and creation date). A FITS file written from the map (``out.save(...)``, ``sunpy-enhance enhance``)
        holds the data and header only, not the mask: there the missing pixels are NaN, and the μ < 0.3
        pixels are found again (to within an output pixel at their edge) with
        ``sunpy_enhance.solar.mu_from_map(out) < LIMB_MU``.

    Raises
    ------
    ValueError
        For non-HMI data, a pixel scale other than 0.504″, or a map whose kind cannot be told.

    Warns
    -----
    SunpyEnhanceUserWarning
        When part of the field lies closer to the limb than μ = 0.3 (those pixels are masked in the output).

    Notes
    -----
    * Continuum images are normalised per pixel with the HMI team's limb-darkening law at the pixel's μ,
      computed from the map's WCS, then by a robust quiet-Sun level, and the network sees I/Ic − 1.
      Magnetograms are divided by 1000 (kG). The network was trained on such inputs with noise of
      1e-3 Ic and 10 G respectively.
    * Images whose limb darkening was already removed (``hmi.Ic_noLimbDark_720s``) are recognised from the
      data (``sunpy_enhance.enhance.normalize.limb_darkening_removed``) and only divided by the quiet-Sun level; the
      history says which normalisation was used.
    * Near the limb (μ < 0.3) granulation contrast is low and foreshortened; the networks, trained on
      disk-centre data, are unreliable there (Díaz Baso & Asensio Ramos 2018). Those pixels are enhanced
      like the others and their values kept, but a warning is given and the output's ``mask`` marks them.
      Maps not in helioprojective coordinates have no μ: nothing is masked for the limb.
    * The network's output is then made consistent with the input (``sunpy_enhance.enhance.consistency.back_project``):
      the output observed again by HMI is compared with the map and the difference, smoothed as the model's
      card says (σ = 2 HMI pixels for continuum, none for magnetograms), is projected back once. This
      corrects what the network gets wrong on scales HMI resolves (e.g. umbral intensities darker than its
      training set) without touching the sub-pixel detail it adds. Continuum outputs are finally scaled
      so that their mean I/Ic equals the input's (`flux_gain`).
    * Magnetogram enhancement reallocates flux (kG concentrations are strengthened, the total unsigned
      flux changes little); check it with `sunpy_enhance.diagnostics`.
    * The network runs on the map's data turned by a multiple of 90° (or reflected) to solar north up and
      west right (`sunpy_enhance.solar.NorthUpView`), and its output is turned back to the input's storage:
      the network is only approximately symmetric, and run as stored, the same sky stored at CROTA2 = 0° and
      180° (HMI's) gave results differing by about two thirds of the finest detail it adds; now they agree
      to float32 rounding. It costs array copies only.
    * Off-disk (NaN) pixels are replaced by the nearest on-disk value before inference, so they never
      feed into on-disk output pixels; they are NaN again in the output.

    References
    ----------
    * Díaz Baso, C. J. & Asensio Ramos, A. 2018, A&A 614, A5, :doi:`10.1051/0004-6361/201731344`

    Examples
    --------
    >>> from sunpy_enhance import enhance_map
    >>> from sunpy_enhance.sample import synthetic_hmi_map
    >>> hmi = synthetic_hmi_map("continuum", shape=(64, 64))
    >>> out = enhance_map(hmi)  # doctest: +SKIP
    >>> out.data.shape  # doctest: +SKIP
    (128, 128)
    """
    import sunpy.map

    if not isinstance(smap, sunpy.map.GenericMap):
        msg = (f"enhance_map needs a sunpy Map, not {type(smap).__name__}: for a plain array use "
               "enhance_array(array, kind=...), or wrap it in a Map (sunpy.map.Map(data, header)).")
        raise TypeError(msg)
    _check_tile_size(tile_size)
    if np.ndim(smap.data) == 2:
        _check_image_shape(np.shape(smap.data))
    check_hmi_map(smap, allow_non_hmi=allow_non_hmi, allow_any_scale=allow_any_scale,
                  consequence="the Enhance networks are trained on HMI's PSF and pixel scale and would give wrong "
                              "results")
    kind = kind or classify_map(smap)
    if kind not in KINDS:
        msg = f"kind must be one of {KINDS}, not {kind!r}."
        raise ValueError(msg)
    data = missing_to_nan(smap.data, smap.mask)  # float32 throughout: a full disk is 16.8 Mpixel
    check_plausible(data, kind)
    helioprojective = getattr(smap.coordinate_frame, "name", "") == "helioprojective"
    mu = None
    if helioprojective:
        mu = mu_from_map(smap).astype(np.float32)
        on_disk = np.isfinite(mu)
        if not on_disk.any():
            msg = "No pixel of this map is on the solar disk; Enhance works on on-disk data only."
            raise ValueError(msg)
        if np.any(mu[on_disk & np.isfinite(data)] < LIMB_MU):
            warn_user(f"Part of the field is closer to the limb than mu = {LIMB_MU}: the Enhance networks were "
                      "trained on disk-centre data and are unreliable there (low contrast, foreshortening); "
                      "those pixels are kept but marked in the output's mask.")
        data = np.where(on_disk, data, np.float32(np.nan))
    # pixels the output must not be trusted at: off-disk and missing (NaN in the output), and μ below LIMB_MU
    untrusted = ~np.isfinite(data)
    if mu is not None:
        untrusted |= mu < LIMB_MU  # off-disk μ is NaN: already untrusted
    else:
        warn_user("The map is not in helioprojective coordinates: no limb-darkening correction and no limb "
                  "check were applied.")
    model, card = resolve_model(kind, model)
    # the engine and precision really used (bfloat16 falls back to float32 without hardware support)
    net = load_model(model, precision=precision, engine=engine, device=device)
    precision, engine = net.precision, net.engine
    meta = refined_meta(smap.meta)
    # the network runs on the north-up view of the data, so that the result does not depend on how the map is
    # stored (HMI: rotated by 180°); the output goes back to the input's storage, matching its WCS
    view = NorthUpView(smap)
    if kind == "continuum":
        ld_mu = mu  # μ for the limb-darkening law; None when the input is already free of it
        if mu is not None and limb_darkening_removed(data, mu):
            ld_mu = None
        if ld_mu is not None:  # the law is evaluated once, for the quiet-Sun level and the network input
            data = data / limb_darkening(ld_mu).astype(np.float32)
        level = quiet_sun_level(data) if quiet_sun is None else _in_map_units(quiet_sun, smap)
        check_quiet_sun(level, given=quiet_sun is not None)
        out = view.inverse(enhance_array(view.forward(data), kind=kind, model=model, quiet_sun=level,
                                         tile_size=tile_size, precision=precision, device=device, progress=progress,
                                         engine=engine))
        if keep_input_units:
            if ld_mu is not None:  # the law at the output pixels, interpolated from the input's
                out *= upsample_x2(limb_darkening(ld_mu).astype(np.float32))
            out *= np.float32(level)
            units = "input units" + ("" if ld_mu is None else " (limb darkening restored)")
        else:
            meta["bunit"] = ""
            units = ("I/Ic (divided by the HMI limb-darkening law and the quiet-Sun level)" if ld_mu is not None
                     else "I/Ic (divided by the quiet-Sun level; the input's limb darkening was already removed)")
        meta["enhqsun"] = level
    else:
        out = view.inverse(enhance_array(view.forward(data), kind=kind, model=model, tile_size=tile_size,
                                         precision=precision, device=device, progress=progress, engine=engine))
        units = "G"
    add_provenance(meta, f"Enhance x2 deconvolution with model {card.get('name')} ({precision}, {engine}); output "
                         f"in {units}",
                   enhmodel=str(card.get("name")), enhmdate=str(card.get("created", "")),
                   enhunit=units[:60])
    mask = np.repeat(np.repeat(untrusted, 2, axis=0), 2, axis=1)
    return sunpy.map.Map(out.astype(np.float32, copy=False), meta, mask=mask)
