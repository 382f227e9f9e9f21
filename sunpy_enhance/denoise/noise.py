"""
Noise-level estimation for images whose noise is white (uncorrelated from pixel to pixel).
"""
import numpy as np

__all__ = ["estimate_noise"]

# 1 / Φ⁻¹(3/4): converts a median absolute deviation of Gaussian values into a standard deviation.
_MAD_TO_STD = 1.482602218505602


def estimate_noise(image, *, axes=(-2, -1)):
    """
    Estimate the standard deviation of white Gaussian noise in an image from its finest-scale detail.

    The estimate is the median absolute deviation of the diagonal Haar wavelet coefficients of
    every 2×2 block of pixels, ``(a - b - c + d) / 2``, scaled to a standard deviation (Donoho &
    Johnstone 1994). Those coefficients have exactly the noise's variance when the noise is white, and a
    smooth signal cancels in them; the median ignores the few blocks where sharp structure does not
    cancel.

    Parameters
    ----------
    image : array-like
        An image or a stack of images; non-finite pixels are ignored.
    axes : tuple of int, optional
        The two spatial axes. The estimate pools every image of a stack.

    Returns
    -------
    float
        Noise standard deviation in the units of ``image``.

    Raises
    ------
    ValueError
        If the image is smaller than 2×2 or has no finite 2×2 block.

    Notes
    -----
    Spatially correlated noise (images restored with MOMFBD, resampled or interpolated data such as
    SHARP CEA maps) has less power at the pixel scale than its variance, so this *underestimates*
    it. Pass the noise level explicitly when you know it.

    References
    ----------
    Donoho, D. L., Johnstone, I. M. 1994, Biometrika 81, 425, :doi:`10.1093/biomet/81.3.425`

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_enhance.denoise.noise import estimate_noise
    >>> rng = np.random.default_rng(0)
    >>> yy, xx = np.mgrid[:256, :256]
    >>> image = np.sin(xx / 20.0) + 0.1 * rng.standard_normal((256, 256))
    >>> round(estimate_noise(image), 2)
    0.1
    """
    a = np.moveaxis(np.asarray(image, dtype=np.float64), axes, (-2, -1))
    if a.shape[-2] < 2 or a.shape[-1] < 2:
        msg = f"Cannot estimate the noise of an image of shape {a.shape[-2:]}: it needs at least 2×2 pixels."
        raise ValueError(msg)
    ny, nx = (a.shape[-2] // 2) * 2, (a.shape[-1] // 2) * 2
    a = a[..., :ny, :nx]
    d = (a[..., 0::2, 0::2] - a[..., 0::2, 1::2] - a[..., 1::2, 0::2] + a[..., 1::2, 1::2]) / 2.0
    d = d[np.isfinite(d)]
    if d.size == 0:
        msg = "Cannot estimate the noise: the image has no 2×2 block of finite pixels."
        raise ValueError(msg)
    return float(_MAD_TO_STD * np.median(np.abs(d - np.median(d))))
