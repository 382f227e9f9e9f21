"""
Point spread functions of SDO/HMI and of diffraction-limited telescopes.

All PSFs here are azimuthally symmetric functions of the angular distance
:math:`\\theta` from the source, written in the dimensionless radius
:math:`r = \\pi D \\theta / \\lambda` (aperture diameter :math:`D`, wavelength :math:`\\lambda`).
They are returned as normalised 2-D kernels (sum = 1) integrated over the
pixels of the requested scale, or as profiles evaluated at given angles.
"""
import astropy.units as u
import numpy as np
from scipy.special import j1

__all__ = [
    "ENHANCE_APERTURE",
    "ENHANCE_MODIFIED",
    "HMI_APERTURE",
    "HMI_WAVELENGTH",
    "WACHTER_REFERENCE",
    "airy_profile",
    "airy_psf",
    "hmi_psf",
    "hmi_psf_profile",
    "kernel_from_profile",
]

#: Diameter of the HMI aperture.
HMI_APERTURE = 14 * u.cm
#: Central wavelength of the Fe I line HMI observes.
HMI_WAVELENGTH = 6173 * u.AA
#: Diameter of the diffraction-limited telescope Enhance emulates (twice HMI's).
ENHANCE_APERTURE = 28 * u.cm

#: Parameters of the HMI PSF of Wachter et al. (2012), their reference values.
WACHTER_REFERENCE = {"epsilon": 0.1, "omega": 1.8, "k": 3.0, "width": 3.0}
#: The modification of Díaz Baso & Asensio Ramos (2018): a broader core and tail so that a
#: degraded MURaM simulation has the power spectrum of real HMI quiet Sun.
ENHANCE_MODIFIED = {"epsilon": 0.1, "omega": 2.0, "k": 3.0, "width": 3.4}

# Oversampling used to integrate a profile over the area of each kernel pixel.
_OVERSAMPLE = 5


def _dimensionless_radius(theta, diameter, wavelength):
    theta = u.Quantity(theta, u.arcsec).to_value(u.rad)
    return np.pi * (diameter / wavelength).to_value(u.one) * theta


@u.quantity_input
def hmi_psf_profile(theta: u.arcsec, *, epsilon=0.1, omega=2.0, k=3.0, width=3.4,
                    diameter: u.m = HMI_APERTURE, wavelength: u.m = HMI_WAVELENGTH):
    """
    The azimuthally symmetric HMI PSF of Wachter et al. (2012), unnormalised.

    .. math::

        P(r) = (1 - \\epsilon)\\, e^{-(r/\\omega)^2} + \\epsilon\\, [1 + (r/W)^k]^{-1},
        \\qquad r = \\pi D \\theta / \\lambda

    Parameters
    ----------
    theta : `~astropy.units.Quantity`
        Angular distance from the source.
    epsilon, omega, k, width : float, optional
        :math:`\\epsilon`, :math:`\\omega`, :math:`k` and :math:`W`. The defaults are the values
        Enhance used (`ENHANCE_MODIFIED`); `WACHTER_REFERENCE` holds the published ones.
    diameter, wavelength : `~astropy.units.Quantity`, optional
        Aperture and wavelength that set the radius scale (HMI: 14 cm, 6173 Å).

    Returns
    -------
    `numpy.ndarray`
        The profile, 1 at :math:`\\theta = 0`.

    Notes
    -----
    The Lorentzian-like wing (:math:`k = 3`) falls as :math:`\\theta^{-3}` and carries about 44% of the
    light with the Enhance parameters, so kernels need a wide support (see `hmi_psf`).

    References
    ----------
    * Wachter, R. et al. 2012, Sol. Phys. 275, 261, :doi:`10.1007/s11207-011-9709-6`
    * Díaz Baso, C. J. & Asensio Ramos, A. 2018, A&A 614, A5, :doi:`10.1051/0004-6361/201731344`
    """
    r = _dimensionless_radius(theta, diameter, wavelength)
    return (1 - epsilon) * np.exp(-((r / omega) ** 2)) + epsilon / (1 + (r / width) ** k)


@u.quantity_input
def airy_profile(theta: u.arcsec, *, diameter: u.m = ENHANCE_APERTURE, wavelength: u.m = HMI_WAVELENGTH):
    """
    The Airy pattern :math:`[2 J_1(x)/x]^2` of a circular, unobstructed aperture, 1 at the centre.

    Parameters
    ----------
    theta : `~astropy.units.Quantity`
        Angular distance from the source.
    diameter, wavelength : `~astropy.units.Quantity`, optional
        Aperture (default 28 cm, the telescope Enhance emulates) and wavelength (6173 Å).

    Returns
    -------
    `numpy.ndarray`

    Notes
    -----
    The first dark ring is at :math:`x = 3.8317`, i.e. :math:`\\theta = 1.22\\,\\lambda/D`
    (0.555″ for 28 cm at 6173 Å).
    """
    x = _dimensionless_radius(theta, diameter, wavelength)
    out = np.ones_like(x, dtype=float)
    nonzero = x != 0
    out[nonzero] = (2 * j1(x[nonzero]) / x[nonzero]) ** 2
    return out


def kernel_from_profile(profile, pixel_scale, half_size):
    """
    Sample a radial profile on a square grid, integrating it over each pixel, and normalise it.

    Parameters
    ----------
    profile : callable
        ``profile(theta)`` with ``theta`` an angle `~astropy.units.Quantity`.
    pixel_scale : `~astropy.units.Quantity`
        Angular size of a kernel pixel.
    half_size : int
        The kernel has ``2 * half_size + 1`` pixels a side, the source in the central pixel.

    Returns
    -------
    `numpy.ndarray`
        The kernel, summing to 1.
    """
    n = 2 * half_size + 1
    sub = (np.arange(n * _OVERSAMPLE) - (n * _OVERSAMPLE - 1) / 2) / _OVERSAMPLE
    yy, xx = np.meshgrid(sub, sub, indexing="ij")
    theta = np.hypot(xx, yy) * u.Quantity(pixel_scale, u.arcsec)
    fine = profile(theta)
    kernel = fine.reshape(n, _OVERSAMPLE, n, _OVERSAMPLE).sum(axis=(1, 3))
    return kernel / kernel.sum()


def _half_size(pixel_scale, radius):
    return max(1, int(np.ceil((radius / pixel_scale).to_value(u.one))))


@u.quantity_input
def hmi_psf(pixel_scale: u.arcsec, *, radius: u.arcsec = 18 * u.arcsec, **parameters):
    """
    The HMI PSF as a normalised 2-D kernel at a given pixel scale.

    Parameters
    ----------
    pixel_scale : `~astropy.units.Quantity`
        Angular size of a kernel pixel (0.504″ for HMI itself, 0.252″ for Enhance's output grid,
        the simulation's scale when degrading a high-resolution frame).
    radius : `~astropy.units.Quantity`, optional
        Half-width of the kernel's support. The default, 18″, holds about 98% of the light of the
        infinite profile (its :math:`\\theta^{-3}` wing); the kernel is renormalised to sum to 1.
    **parameters
        ``epsilon``, ``omega``, ``k``, ``width``, ``diameter``, ``wavelength`` of `hmi_psf_profile`.

    Returns
    -------
    `numpy.ndarray`
        Square kernel of odd size, the source in the central pixel, summing to 1.

    Examples
    --------
    >>> import astropy.units as u
    >>> from sunpy_enhance.psf import hmi_psf
    >>> kernel = hmi_psf(0.504 * u.arcsec)
    >>> kernel.shape
    (73, 73)
    >>> float(kernel.sum())
    1.0
    """
    return kernel_from_profile(lambda t: hmi_psf_profile(t, **parameters), pixel_scale,
                               _half_size(pixel_scale, radius))


@u.quantity_input
def airy_psf(pixel_scale: u.arcsec, *, diameter: u.m = ENHANCE_APERTURE,
             wavelength: u.m = HMI_WAVELENGTH, radius: u.arcsec = 6 * u.arcsec):
    """
    The Airy PSF of a diffraction-limited circular aperture as a normalised 2-D kernel.

    Parameters
    ----------
    pixel_scale : `~astropy.units.Quantity`
        Angular size of a kernel pixel.
    diameter, wavelength : `~astropy.units.Quantity`, optional
        Aperture (default 28 cm) and wavelength (6173 Å).
    radius : `~astropy.units.Quantity`, optional
        Half-width of the support (default 6″, about ten dark rings for 28 cm).

    Returns
    -------
    `numpy.ndarray`
        Square kernel of odd size summing to 1.
    """
    return kernel_from_profile(lambda t: airy_profile(t, diameter=diameter, wavelength=wavelength),
                               pixel_scale, _half_size(pixel_scale, radius))
