"""
Richardson–Lucy deconvolution of HMI data onto Enhance's ×2 grid: the classical baseline.

Díaz Baso & Asensio Ramos (2018) compared Enhance with the Richardson–Lucy (RL) algorithm applied to
the HMI image interpolated bilinearly to 0.252″/px and deconvolved with the HMI PSF sampled at that
scale. This module does the same, on arrays (`richardson_lucy`) and on Maps (`richardson_lucy_map`,
whose output has exactly the grid and header handling of Enhance's output), with:

* FFT convolutions in overlapping tiles (overlap–save), so a 4096² full disk (8192² output) needs a few
  output-sized float32 buffers and nothing more, and the result is the same as with one big FFT;
* missing data (NaN, off-disk pixels, and everything beyond the array's edges) excluded from the
  likelihood, and NaN again in the output;
* the damped iteration of White (1994), optional;
* signed data (magnetograms) handled through an offset (see `richardson_lucy`, Notes).
"""
import astropy.units as u
import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from sunpy_enhance.degrade import ENHANCED_PIXEL_SCALE, HMI_PIXEL_SCALE
from sunpy_enhance.hmi import HMI_SCALE_TOLERANCE, check_hmi_map, check_plausible, classify_map, missing_to_nan
from sunpy_enhance.psf import hmi_psf

__all__ = ["richardson_lucy", "richardson_lucy_map", "upsample_bilinear_x2"]

# Exponent of White's damping function (the value of IRAF/STSDAS ``lucy`` and MATLAB ``deconvlucy``).
_DAMPING_EXPONENT = 10
# Largest FFT side used for one tile; bounds the FFT work memory (~2 × 2240² × 8 bytes per buffer).
_DEFAULT_MAX_FFT = 2048
# Offset given to signed data, in units of max |data|, when the caller does not choose one.
_SIGNED_OFFSET_FACTOR = 10.0


def upsample_bilinear_x2(image):
    """
    Bilinear interpolation onto the ×2 refined grid of ``sunpy_enhance.header.refined_meta``.

    Input pixel ``p`` (0-based, centre at integer coordinate ``p``) is subdivided into output pixels
    ``2p`` and ``2p + 1``, so its centre lies at output coordinate ``2p + 0.5``; output pixel ``q`` has
    its centre at input coordinate ``(q - 0.5) / 2``. Hence, along each axis,
    ``out[2p] = 0.75 in[p] + 0.25 in[p-1]`` and ``out[2p+1] = 0.75 in[p] + 0.25 in[p+1]``, the edge pixels
    being repeated beyond the array (the interpolation is clamped, never extrapolated).

    Parameters
    ----------
    image : array-like
        2-D image without NaN.

    Returns
    -------
    `numpy.ndarray`
        Twice the size of ``image`` along each axis, float32 if ``image`` is float32, else float64.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_enhance.richardson_lucy import upsample_bilinear_x2
    >>> upsample_bilinear_x2(np.array([[0.0, 4.0]]))[0]
    array([0., 1., 3., 4.])
    """
    image = np.asarray(image)
    if image.ndim != 2:
        msg = f"upsample_bilinear_x2 takes a 2-D image, got {image.ndim} dimensions."
        raise ValueError(msg)
    dtype = np.float32 if image.dtype == np.float32 else np.float64
    out = np.empty((2 * image.shape[0], 2 * image.shape[1]), dtype=dtype)
    _upsample_into(out, image.astype(dtype, copy=False))
    return out


def _interpolate_x2(a, axis, out):
    """Write the ×2 bilinear interpolation of ``a`` along ``axis`` (0 or 1) into ``out``."""
    def take(arr, sl):
        return arr[sl] if axis == 0 else arr[:, sl]

    def put(sl, value):
        if axis == 0:
            out[sl] = value
        else:
            out[:, sl] = value

    n = a.shape[axis]
    put(slice(0, 1), take(a, slice(0, 1)))  # clamped edges: 0.75 a[0] + 0.25 a[0]
    put(slice(2 * n - 1, 2 * n), take(a, slice(n - 1, n)))
    if n > 1:
        lower, upper = take(a, slice(0, n - 1)), take(a, slice(1, n))
        put(slice(2, 2 * n, 2), 0.75 * upper + 0.25 * lower)  # out[2p] = 0.75 a[p] + 0.25 a[p-1]
        put(slice(1, 2 * n - 1, 2), 0.75 * lower + 0.25 * upper)  # out[2p+1] = 0.75 a[p] + 0.25 a[p+1]


def _upsample_into(dest, image, block=256):
    """Bilinear ×2 of ``image`` written into ``dest`` (shape 2×), by blocks of rows to bound memory."""
    ny = image.shape[0]
    for y0 in range(0, ny, block):
        y1 = min(y0 + block, ny)
        lo, hi = max(y0 - 1, 0), min(y1 + 1, ny)
        rows = np.empty((2 * (hi - lo), image.shape[1]), dtype=dest.dtype)
        _interpolate_x2(image[lo:hi], 0, rows)
        # keep the rows of this block only (the halo rows fix the interpolation at its edges)
        part = rows[2 * (y0 - lo):2 * (y0 - lo) + 2 * (y1 - y0)]
        if y0 == 0:
            part[0] = image[0]
        if y1 == ny:
            part[-1] = image[ny - 1]
        _interpolate_x2(part, 1, dest[2 * y0:2 * y1])


class _TiledConvolver:
    """
    Linear (zero-padded) 2-D convolution of a large array with a small kernel by overlap–save FFTs.

    The array is cut into ``ny × nx`` tiles of ``core`` pixels; each tile is transformed together with
    a halo of the kernel's half-width, so the result equals the full linear convolution exactly (up to
    float rounding), with FFT buffers of one tile only.
    """

    def __init__(self, kernel, shape, *, max_fft=_DEFAULT_MAX_FFT, dtype=np.float32, workers=1):
        kernel = np.asarray(kernel, dtype=np.float64)
        self.half = (kernel.shape[0] // 2, kernel.shape[1] // 2)
        self.shape = shape
        self.dtype = dtype
        self.workers = workers
        self.cores, self.fft_shape = [], []
        for n, h in zip(shape, self.half):
            core, size = _tile_layout(n, 2 * h, max_fft)
            self.cores.append(core)
            self.fft_shape.append(size)
        self.fft_shape = tuple(self.fft_shape)
        self._block = np.zeros(self.fft_shape, dtype=dtype)
        self._otf = {}
        self._kernels = {"forward": kernel, "adjoint": kernel[::-1, ::-1]}

    def _transfer(self, which):
        if which not in self._otf:
            padded = np.zeros(self.fft_shape, dtype=np.float64)
            k = self._kernels[which]
            padded[:k.shape[0], :k.shape[1]] = k
            complex_dtype = np.complex64 if self.dtype == np.float32 else np.complex128
            self._otf[which] = sfft.rfft2(padded, workers=self.workers).astype(complex_dtype)
        return self._otf[which]

    def tiles(self):
        (ny, nx), (cy, cx) = self.shape, self.cores
        for y0 in range(0, ny, cy):
            for x0 in range(0, nx, cx):
                yield slice(y0, min(y0 + cy, ny)), slice(x0, min(x0 + cx, nx))

    def convolve_tiles(self, source, which="forward"):
        """Yield ``(core_slices, result)`` for every tile of ``kernel * source`` (or its adjoint)."""
        otf = self._transfer(which)
        hy, hx = self.half
        ny, nx = self.shape
        block = self._block
        for sy, sx in self.tiles():
            # source rows/columns [start - h, stop + h), clipped to the array; zeros beyond it
            y0, y1 = sy.start - hy, sy.stop + hy
            x0, x1 = sx.start - hx, sx.stop + hx
            block.fill(0)
            cy0, cx0 = max(y0, 0), max(x0, 0)
            cy1, cx1 = min(y1, ny), min(x1, nx)
            block[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0] = source[cy0:cy1, cx0:cx1]
            spectrum = sfft.rfft2(block, workers=self.workers)
            spectrum *= otf
            full = sfft.irfft2(spectrum, s=self.fft_shape, workers=self.workers)
            h, w = sy.stop - sy.start, sx.stop - sx.start
            yield (sy, sx), full[2 * hy:2 * hy + h, 2 * hx:2 * hx + w]


def _tile_layout(n, overlap, max_fft):
    """Tile core and FFT size along one axis: the cheapest split whose FFTs fit in ``max_fft``."""
    whole = sfft.next_fast_len(n + overlap, real=True)
    if whole <= max_fft:
        return n, whole
    best = None
    for count in range(2, n + 1):
        core = -(-n // count)
        size = sfft.next_fast_len(core + overlap, real=True)
        if size <= max_fft:
            cost = count * size * np.log2(size)
            if best is None or cost < best[0]:
                best = (cost, core, size)
        if core + overlap < max_fft / 4:
            break  # smaller tiles only add halo work
    if best is None:
        msg = (f"max_fft_size={max_fft} is too small for a PSF {overlap + 1} pixels wide; "
               f"use at least {2 * overlap}.")
        raise ValueError(msg)
    return best[1], best[2]


def _fill_nearest(image, valid):
    """Replace invalid pixels by the value of the nearest valid one (input grid, for the first guess)."""
    if valid.all():
        return image
    index = ndimage.distance_transform_edt(~valid, return_distances=False, return_indices=True)
    return image[tuple(index)]


def _check_psf(psf):
    psf = np.asarray(psf, dtype=np.float64)
    if psf.ndim != 2 or psf.shape[0] % 2 == 0 or psf.shape[1] % 2 == 0:
        msg = (f"psf must be a 2-D kernel with odd sides (the source in the central pixel), got shape "
               f"{psf.shape}; build one with sunpy_enhance.psf.hmi_psf(0.252 * u.arcsec).")
        raise ValueError(msg)
    if not np.all(np.isfinite(psf)) or psf.min() < 0 or psf.sum() <= 0:
        msg = "psf must be finite and non-negative with a positive sum."
        raise ValueError(msg)
    return psf / psf.sum()


def richardson_lucy(array, *, iterations=20, psf=None, damping=None, noise=None, offset=None,
                    upsample=True, max_fft_size=_DEFAULT_MAX_FFT, workers=1):
    """
    Richardson–Lucy deconvolution of an HMI image onto the ×2 grid (0.504″/px → 0.252″/px).

    The image is interpolated bilinearly onto the refined grid (`upsample_bilinear_x2`) and deconvolved
    with the HMI PSF sampled at 0.252″/px by ``iterations`` Richardson–Lucy iterations, as in the
    comparison of Díaz Baso & Asensio Ramos (2018).

    Parameters
    ----------
    array : array-like
        2-D image at 0.504″/px (continuum intensity in any positive unit, or a signed magnetogram).
        NaN marks missing pixels (e.g. off the solar disk); so do ``±inf``, values beyond ±1e20 (unapplied
        BLANKs; a warning counts them, `sunpy_enhance.hmi.missing_to_nan`) and masked pixels of a
        `numpy.ma.MaskedArray`.
    iterations : int, optional
        Number of RL iterations; 0 returns the bilinear interpolation.
    psf : array-like, optional
        PSF sampled at the output scale, odd-sided, renormalised to sum 1. Default: the HMI PSF with
        Enhance's parameters, ``hmi_psf(0.252 * u.arcsec)`` (145 × 145 pixels, ±18″).
    damping : float, optional
        Threshold :math:`T` of White's (1994) damped RL, in units of ``noise``: where the model and the
        data differ by less than about :math:`T` σ the update is damped towards 1, so noise is not
        amplified there. ``None`` (default) runs the undamped iteration.
    noise : float or array-like, optional
        Noise standard deviation σ of the interpolated data, in the data's units (scalar or an array
        of the output's shape); required with ``damping``.
    offset : float, optional
        Constant added to the data before the iterations and subtracted afterwards. Default: 0 for
        non-negative data, and ``10 × max|data|`` for data with negative values (see Notes).
    upsample : bool, optional
        If False, deconvolve ``array`` on its own grid (``psf`` must then be sampled at that grid's
        scale) instead of interpolating it ×2 first.
    max_fft_size : int, optional
        Largest side of the FFTs of one tile; the image is processed in overlapping tiles of about this
        size. Memory: four float32 arrays and one boolean mask of the (PSF-padded) output's size plus one
        tile's FFT buffers, about 1.5 GB of peak RSS for a 4096² full disk (8192² output).
    workers : int, optional
        Threads for each FFT (`scipy.fft`).

    Returns
    -------
    `numpy.ndarray`
        float32 image of twice the shape of ``array`` (the same shape if ``upsample=False``); output
        pixel ``q`` is centred on input coordinate ``(q - 0.5) / 2``, the layout of
        ``sunpy_enhance.header.refined_meta``. Pixels inside NaN input pixels are NaN.

    Raises
    ------
    ValueError
        If ``array`` is not 2-D, has no finite pixel, is negative with ``offset`` too small, or if
        ``damping`` is given without ``noise``.

    Notes
    -----
    **Iteration.** With data :math:`d`, mask :math:`m` (1 on finite pixels inside the array, 0 elsewhere)
    and PSF :math:`P`, the estimate :math:`x` is updated as

    .. math::

        x \\leftarrow x \\, \\frac{P^T[m\\, r]}{P^T m}, \\qquad r = \\frac{d}{P x},

    the expectation–maximisation step of the Poisson likelihood restricted to the observed pixels
    (Richardson 1972; Lucy 1974). The estimate lives on the output grid extended by the PSF's half-width
    beyond every edge, so the object just outside the field of view (or beyond the limb) is estimated too
    instead of being assumed periodic, mirrored or zero: no wrap-around, no edge ringing, and a NaN
    never enters an arithmetic operation, so it cannot leak into its neighbours. The first guess is the
    interpolated image, NaN pixels filled with their nearest valid neighbour.

    **Damping.** With ``damping=T`` the ratio is replaced by :math:`1 + F(U)\\,(r - 1)` with
    :math:`U = \\min\\{1, (d - Px)^2 / (T\\sigma)^2\\}` and
    :math:`F(U) = U^{N-1}[N - (N-1)U]`, :math:`N = 10`:
    White's (1994) damping function. White writes :math:`U` with the Poisson deviance
    :math:`2(d \\ln(d/Px) - d + Px)/T^2` of data in photon counts; HMI data are not photon counts, so
    the Gaussian (:math:`\\chi^2`) form it tends to is used, with the noise σ given explicitly.
    Díaz Baso & Asensio Ramos (2018) do not list their damping threshold; :math:`T \\approx 1`–3 with the
    data's noise is the usual range.

    **Signed data.** RL needs a positive model. A magnetogram :math:`B` is deconvolved as
    :math:`B + c` with a constant :math:`c` (``offset``), and :math:`c` is subtracted from the result. The
    image-formation model is exact under this shift (the PSF sums to 1), unlike splitting :math:`B` into
    positive and negative parts, which is wrong wherever the PSF mixes opposite polarities. The price: the
    multiplicative RL step at a pixel is proportional to :math:`x = B + c`, so a small :math:`c` would
    deconvolve positive polarities faster than negative ones. With the default :math:`c = 10\\max|B|` the
    two polarities converge within about ±10% of each other and the iteration is close to the Landweber
    (least-squares) iteration, the maximum-likelihood scheme for the Gaussian noise of magnetograms; the
    positivity of RL then no longer constrains anything.

    **Limits.** Like any maximum-likelihood deconvolution without regularisation, RL amplifies noise
    as it iterates (Díaz Baso & Asensio Ramos report ~80 G of small-scale noise added to a ~10 G
    magnetogram); damping or fewer iterations trade resolution against noise.

    References
    ----------
    * Richardson, W. H. 1972, JOSA 62, 55, :doi:`10.1364/JOSA.62.000055`
    * Lucy, L. B. 1974, AJ 79, 745, :doi:`10.1086/111605`
    * White, R. L. 1994, Proc. SPIE 2302, 95, :doi:`10.1117/12.188060`
    * Díaz Baso, C. J. & Asensio Ramos, A. 2018, A&A 614, A5, :doi:`10.1051/0004-6361/201731344`

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_enhance.richardson_lucy import richardson_lucy
    >>> image = 1 + 0.05 * np.random.default_rng(0).standard_normal((40, 40))
    >>> image[:5, :5] = np.nan
    >>> out = richardson_lucy(image, iterations=5)
    >>> out.shape, bool(np.isnan(out[:10, :10]).all()), bool(np.isfinite(out[10:, 10:]).all())
    ((80, 80), True, True)
    """
    data = missing_to_nan(array, dtype=np.float64)
    if data.ndim != 2:
        msg = f"richardson_lucy takes a 2-D image, got an array of {data.ndim} dimensions."
        raise ValueError(msg)
    if int(iterations) != iterations or iterations < 0:
        msg = f"iterations must be a non-negative integer, got {iterations!r}."
        raise ValueError(msg)
    if damping is not None:
        if noise is None:
            msg = ("damping needs the noise level: pass noise=σ in the data's units "
                   "(e.g. 1e-3 for continuum in I/Ic, 10 for a 45 s magnetogram in G).")
            raise ValueError(msg)
        if damping <= 0:
            msg = f"damping (White's threshold T, in units of the noise) must be positive, got {damping}."
            raise ValueError(msg)
    valid_in = np.isfinite(data)
    if not valid_in.any():
        msg = "The image has no finite pixel to deconvolve."
        raise ValueError(msg)
    if offset is None:
        low = float(data[valid_in].min())
        offset = _SIGNED_OFFSET_FACTOR * float(np.abs(data[valid_in]).max()) if low < 0 else 0.0
    offset = float(offset)
    if float(data[valid_in].min()) + offset < 0:
        low = float(data[valid_in].min())
        msg = (f"The data have negative values (min {low:.4g}) that offset={offset:.4g} "
               "does not lift above 0; Richardson–Lucy needs non-negative data. Leave offset=None to "
               "choose one automatically.")
        raise ValueError(msg)
    if float(data[valid_in].max()) + offset <= 0:
        msg = "The data (plus offset) are nowhere positive: Richardson–Lucy needs positive data."
        raise ValueError(msg)
    if psf is None:
        scale = ENHANCED_PIXEL_SCALE if upsample else HMI_PIXEL_SCALE
        psf = hmi_psf(scale)
    psf = _check_psf(psf)

    filled = _fill_nearest(np.where(valid_in, data, 0.0), valid_in)
    filled += offset
    filled = filled.astype(np.float32)
    del data
    factor = 2 if upsample else 1
    hy, hx = psf.shape[0] // 2, psf.shape[1] // 2
    ny, nx = factor * filled.shape[0], factor * filled.shape[1]
    # the estimate x lives on the output grid extended by the PSF half-width beyond every edge
    x = np.empty((ny + 2 * hy, nx + 2 * hx), dtype=np.float32)
    core = (slice(hy, hy + ny), slice(hx, hx + nx))
    if upsample:
        _upsample_into(x[core], filled)
    else:
        x[core] = filled
    del filled
    # first guess beyond the edges: the edge values repeated
    x[:hy, hx:hx + nx] = x[hy, hx:hx + nx]
    x[hy + ny:, hx:hx + nx] = x[hy + ny - 1, hx:hx + nx]
    x[:, :hx] = x[:, hx:hx + 1]
    x[:, hx + nx:] = x[:, hx + nx - 1:hx + nx]
    mask = np.zeros(x.shape, dtype=bool)
    valid = np.repeat(np.repeat(valid_in, factor, axis=0), factor, axis=1) if factor > 1 else valid_in
    mask[core] = valid
    d = x * mask
    sigma = None
    if damping is not None:
        sigma = np.ones(x.shape, dtype=np.float32)  # outside the data: never used (mask = 0)
        sigma[core] = np.broadcast_to(np.asarray(noise, dtype=np.float32), (ny, nx))
        sigma[core][~valid] = 1
        if not np.all(sigma > 0):
            msg = "noise must be positive on every valid pixel."
            raise ValueError(msg)
        threshold2 = np.float32(damping) ** 2

    conv = _TiledConvolver(psf, x.shape, max_fft=max_fft_size, workers=workers)
    # sensitivity normalisation 1 / P^T m (0 where no observed pixel sees the estimate pixel)
    weight = np.empty(x.shape, dtype=np.float32)
    for sl, s in conv.convolve_tiles(mask, "adjoint"):
        weight[sl] = np.where(s > 1e-6, 1 / np.maximum(s, 1e-6), 0)
    ratio = np.empty(x.shape, dtype=np.float32)
    tiny = np.float32(1e-30)
    n_exp = _DAMPING_EXPONENT
    for _ in range(int(iterations)):
        for sl, model in conv.convolve_tiles(x, "forward"):
            dd = d[sl]
            np.maximum(model, tiny, out=model)
            if sigma is None:
                np.divide(dd, model, out=model)  # model becomes the ratio d / Px
                np.multiply(model, mask[sl], out=ratio[sl])
            else:
                u2 = np.minimum((dd - model) ** 2 / (threshold2 * sigma[sl] ** 2), 1)
                damp = u2 ** (n_exp - 1) * (n_exp - (n_exp - 1) * u2)
                r = 1 + damp * (dd / model - 1)
                np.multiply(r, mask[sl], out=ratio[sl])
        for sl, correction in conv.convolve_tiles(ratio, "adjoint"):
            np.maximum(correction, 0, out=correction)
            correction *= weight[sl]
            x[sl] *= correction
    del ratio, weight, d, mask
    out = x[core].copy()
    del x
    if offset:
        out -= np.float32(offset)
    out[~valid] = np.nan
    return out


def richardson_lucy_map(smap, *, iterations=20, psf=None, damping=None, noise=None, offset=None,
                        allow_non_hmi=False, allow_any_scale=False, max_fft_size=_DEFAULT_MAX_FFT, workers=1):
    """
    Richardson–Lucy deconvolution of an HMI map onto Enhance's ×2 grid: the classical baseline.

    Parameters
    ----------
    smap : `~sunpy.map.GenericMap`
        HMI continuum image or line-of-sight magnetogram at 0.504″/px (full disk or cutout); NaN (e.g.
        off-disk) pixels stay NaN.
    iterations : int, optional
        Number of RL iterations (default 20).
    psf : array-like, optional
        PSF sampled at half the map's pixel scale; default the HMI PSF with Enhance's parameters.
    damping : float, optional
        White's (1994) damping threshold in units of ``noise`` (see `richardson_lucy`).
    noise : float or `~astropy.units.Quantity`, optional
        Noise σ of the data, in the map's unit if a Quantity (e.g. ``10 * u.G``); required with ``damping``.
    offset : float or `~astropy.units.Quantity`, optional
        Offset for signed data; default ``10 × max|data|`` for magnetograms (see `richardson_lucy`).
    allow_non_hmi : bool, optional
        Accept maps not from HMI (the PSF is HMI's all the same).
    allow_any_scale : bool, optional
        Accept maps whose scale is not 0.504″/px (within 3%, as `~sunpy_enhance.enhance.enhance_map`);
        the default PSF is then the HMI PSF sampled at half the
        map's scale.
    max_fft_size, workers : int, optional
        See `richardson_lucy`.

    Returns
    -------
    `~sunpy.map.GenericMap`
        Twice the pixels along each axis, on the grid of ``sunpy_enhance.header.refined_meta`` (the grid
        of ``enhance_map``'s output), in the input's unit, with a HISTORY card and the keywords
        ``ENHMETH='richardson-lucy'``, ``RLITER``, ``RLDAMP`` (0 if undamped) and ``RLOFFSET``.

    Raises
    ------
    ValueError
        If the map is not from HMI or not at 0.504″/px (unless allowed), or for the reasons of
        `richardson_lucy`.

    Notes
    -----
    See `richardson_lucy` for the iteration, the treatment of missing data and of signed data.

    References
    ----------
    * Díaz Baso, C. J. & Asensio Ramos, A. 2018, A&A 614, A5, :doi:`10.1051/0004-6361/201731344`

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> import sunpy.map
    >>> from astropy.coordinates import SkyCoord
    >>> from sunpy.coordinates import frames
    >>> from sunpy_enhance.richardson_lucy import richardson_lucy_map
    >>> ref = SkyCoord(0 * u.arcsec, 0 * u.arcsec, obstime="2014-03-01", observer="earth",
    ...                frame=frames.Helioprojective)
    >>> data = 1 + 0.04 * np.random.default_rng(1).standard_normal((32, 32))
    >>> header = sunpy.map.make_fitswcs_header(data, ref, scale=[0.504, 0.504] * u.arcsec / u.pix,
    ...                                        instrument="HMI")
    >>> out = richardson_lucy_map(sunpy.map.Map(data, header), iterations=3)
    >>> out.data.shape, out.scale.axis1
    ((64, 64), <Quantity 0.252 arcsec / pix>)
    """
    from sunpy.map import Map

    from sunpy_enhance.header import add_provenance, refined_meta

    scale = check_hmi_map(smap, allow_non_hmi=allow_non_hmi, allow_any_scale=allow_any_scale,
                          consequence="the HMI PSF would not describe it or would be sampled wrongly (with "
                                      "allow_any_scale the PSF is sampled at half the map's scale)")
    hmi = HMI_PIXEL_SCALE.to_value(u.arcsec)
    if scale is None or not np.all(np.abs(scale / hmi - 1) < HMI_SCALE_TOLERANCE):
        if psf is None:
            if scale is None:
                msg = "The map's pixel scale is not an angle; pass psf= sampled at the output's scale."
                raise ValueError(msg)
            psf = hmi_psf(float(np.mean(scale)) / 2 * u.arcsec)

    def _in_map_unit(value, name):
        if value is None or not isinstance(value, u.Quantity):
            return value
        if smap.unit is None:
            msg = f"{name} is a Quantity but the map has no unit; pass a plain number in the data's units."
            raise ValueError(msg)
        return value.to_value(smap.unit)

    noise = _in_map_unit(noise, "noise")
    offset = _in_map_unit(offset, "offset")
    data = missing_to_nan(smap.data, smap.mask, dtype=np.float64)
    try:
        kind = classify_map(smap)
    except ValueError:  # RL works on any image; there is then no label to check the data against
        kind = None
    check_plausible(data, kind)
    if offset is None:
        finite = data[np.isfinite(data)]
        if finite.size and finite.min() < 0:
            offset = _SIGNED_OFFSET_FACTOR * float(np.abs(finite).max())
    out = richardson_lucy(data, iterations=iterations, psf=psf, damping=damping, noise=noise,
                          offset=offset, max_fft_size=max_fft_size, workers=workers)
    meta = refined_meta(smap.meta, factor=2)
    damp_text = f", White damping T={damping} σ={noise}" if damping is not None else ""
    add_provenance(meta,
                   f"Richardson-Lucy deconvolution, {iterations} iterations{damp_text}, HMI PSF at half "
                   "the pixel scale, after bilinear x2 interpolation.",
                   ENHMETH="richardson-lucy", RLITER=int(iterations),
                   RLDAMP=float(damping) if damping is not None else 0.0,
                   RLOFFSET=float(offset or 0.0))
    return Map(out, meta, mask=~np.isfinite(out))
