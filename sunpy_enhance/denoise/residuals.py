"""
Is what the denoiser removed only noise? Tests of the residual (input − output).

Díaz Baso et al. (2019) tell users to check that the residual is flat, structure-free noise; this makes
that check a function with numbers: the residual's level against the expected noise, its spatial
autocorrelation (white noise has none), its large-scale structure and its correlation with the denoised
image (signal taken away shows up as residual that looks like the signal).
"""
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from sunpy_enhance.denoise.noise import estimate_noise
from sunpy_enhance.exceptions import warn_user

__all__ = ["ResidualCheck", "check_residual"]

_MAD_TO_STD = 1.482602218505602

#: Lags (dy, dx) at which the residual's autocorrelation is tested.
LAGS = ((0, 1), (1, 0), (1, 1), (1, -1), (0, 2), (2, 0))


@dataclass
class ResidualCheck:
    """
    Result of `check_residual`.

    Attributes
    ----------
    expected_noise : float
        The noise level the residual is compared with (data units).
    level : float
        Robust standard deviation of the residual divided by ``expected_noise`` (1 for pure noise).
    autocorrelation : dict
        ``{(dy, dx): ρ}``, the residual's normalised autocorrelation at small lags (0 for white noise).
    structure : float
        Standard deviation of the residual smoothed with a Gaussian of ``smoothing`` pixels, divided by
        what white noise of the residual's level would give (1 for white noise).
    signal_correlation : float
        Pearson correlation of the residual with the denoised image (0 when no signal was removed).
    pixels : int
        Finite pixels used.
    problems : list of str
        What looks wrong, in words; empty when the residual looks like noise.
    """

    expected_noise: float
    level: float
    autocorrelation: dict
    structure: float
    signal_correlation: float
    pixels: int
    problems: list = field(default_factory=list)

    @property
    def is_noise(self):
        """True when every test passed."""
        return not self.problems

    def __str__(self):
        lines = [
            f"Residual check ({self.pixels} pixels): {'looks like white noise' if self.is_noise else 'NOT noise-like'}",
            f"  level (residual std / expected noise {self.expected_noise:.4g}): {self.level:.3f}   [0.8 .. 1.2]",
            "  autocorrelation: " + ", ".join(f"{k}: {v:+.3f}" for k, v in self.autocorrelation.items()),
            f"  large-scale structure (1 = white): {self.structure:.2f}   [< 2]",
            f"  correlation with the denoised image: {self.signal_correlation:+.3f}",
        ]
        lines += [f"  ! {p}" for p in self.problems]
        return "\n".join(lines)


def _lag_products(r, valid, dy, dx):
    h, w = r.shape[-2:]
    ys0, ys1 = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs0, xs1 = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    a, b = r[..., ys0, xs0], r[..., ys1, xs1]
    m = valid[..., ys0, xs0] & valid[..., ys1, xs1]
    return float(np.sum(a[m] * b[m])), int(m.sum())


def check_residual(noisy, denoised, noise=None, *, smoothing=3.0, warn=True):
    """
    Test whether ``noisy - denoised`` is structure-free white noise of the expected level.

    Parameters
    ----------
    noisy, denoised : array-like
        The input of the denoiser and its output, same shape ``(..., y, x)``; images of a stack are
        pooled. Non-finite pixels are ignored. Quantities are accepted (same unit).
    noise : float, optional
        The expected noise standard deviation (data units); estimated from ``noisy`` when not given.
    smoothing : float, optional
        Gaussian width (pixels) of the large-scale structure test.
    warn : bool, optional
        Emit a `~sunpy_enhance.exceptions.SunpyEnhanceUserWarning` describing the problems, if any.

    Returns
    -------
    `ResidualCheck`

    Notes
    -----
    The tests and their limits:

    * level within 0.8–1.2 of the expected noise. Below: the output still holds noise, or the noise was
      overestimated; above: signal was removed, or the noise was underestimated;
    * absolute autocorrelation at lags of one and two pixels below ``max(0.1, 5/√N)``: white noise is
      uncorrelated; a good denoiser leaves a small negative value;
    * the residual smoothed over ``smoothing`` pixels no more than twice as strong as smoothed white
      noise would be: otherwise it holds extended structure;
    * correlation with the denoised image below ``max(0.1, 5/√N)``: a residual that looks like the
      signal means the network took signal for noise (try more ``cycles``).

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_enhance.denoise.residuals import check_residual
    >>> rng = np.random.default_rng(0)
    >>> yy, xx = np.mgrid[:128, :128]
    >>> clean = np.sin(xx / 8.0)
    >>> noisy = clean + 0.1 * rng.standard_normal(clean.shape)
    >>> check_residual(noisy, clean, noise=0.1).is_noise
    True
    >>> check_residual(noisy, 0.5 * clean, noise=0.1, warn=False).is_noise  # half the signal removed
    False
    """
    a = np.asarray(getattr(noisy, "value", noisy), dtype=np.float64)
    b = np.asarray(getattr(denoised, "value", denoised), dtype=np.float64)
    if a.shape != b.shape or a.ndim < 2:
        msg = f"noisy and denoised must be images of the same shape, got {a.shape} and {b.shape}."
        raise ValueError(msg)
    r = a - b
    valid = np.isfinite(r)
    n = int(valid.sum())
    if n < 64:
        msg = f"Only {n} finite pixels: too few to test the residual."
        raise ValueError(msg)
    sigma = float(estimate_noise(a) if noise is None else getattr(noise, "value", noise))
    rv = r[valid]
    centre = np.median(rv)
    r = np.where(valid, r - centre, 0.0)
    spread = _MAD_TO_STD * np.median(np.abs(rv - centre))
    level = spread / sigma
    var = float(np.sum(r[valid] ** 2)) / n
    autocorrelation = {}
    for dy, dx in LAGS:
        s, m = _lag_products(r, valid, dy, dx)
        autocorrelation[(dy, dx)] = s / max(m, 1) / var if var > 0 else 0.0
    # Large-scale structure: smooth the residual (normalised convolution over valid pixels).
    axes_sigma = (0,) * (r.ndim - 2) + (smoothing, smoothing)
    num = ndimage.gaussian_filter(r, axes_sigma, mode="reflect")
    den = ndimage.gaussian_filter(valid.astype(float), axes_sigma, mode="reflect")
    inner = valid & (den > 0.5)
    smooth = num[inner] / den[inner]
    expected = np.sqrt(var) / (2.0 * np.sqrt(np.pi) * smoothing)
    structure = float(np.std(smooth) / expected) if expected > 0 else 0.0
    bv = b[valid]
    corr = float(np.corrcoef(rv, bv)[0, 1]) if np.std(bv) > 0 and np.std(rv) > 0 else 0.0

    tol = max(0.1, 5.0 / np.sqrt(n))
    problems = []
    if level < 0.8:
        problems.append(f"the residual ({level:.2f} of the expected noise) is weaker than the noise: the output "
                        "still holds noise, or the noise level given is too high")
    elif level > 1.2:
        problems.append(f"the residual ({level:.2f} of the expected noise) is stronger than the noise: signal "
                        "was removed, or the noise level given is too low")
    worst = max(autocorrelation, key=lambda k: abs(autocorrelation[k]))
    if abs(autocorrelation[worst]) > tol:
        problems.append(f"the residual is spatially correlated (ρ{worst} = {autocorrelation[worst]:+.2f}): it is "
                        "not white noise; the noise may be correlated, or structure was removed")
    if structure > 2.0:
        problems.append(f"the residual has large-scale structure ({structure:.1f}× white noise): extended "
                        "signal was removed")
    if corr > tol:
        problems.append(f"the residual correlates with the denoised image (r = {corr:+.2f}): signal was taken "
                        "for noise; try more cycles")
    check = ResidualCheck(sigma, float(level), autocorrelation, structure, corr, n, problems)
    if warn and problems:
        warn_user("The denoising residual is not structure-free noise: " + "; ".join(problems) + ".")
    return check
