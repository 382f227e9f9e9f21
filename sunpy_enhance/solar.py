"""
Geometry and photometry on the solar sphere: μ, the area of every pixel on the surface, and the HMI
limb-darkening law. One home for μ: every module that needs it (Enhance's normalisation, the flux budget, the
samples) calls `mu_from_map` or `sphere_geometry`.
"""
import astropy.units as u
import numpy as np
from astropy.constants import R_sun, au

from sunpy_enhance.hmi import check_pointing

__all__ = ["HMI_LIMB_DARKENING", "NorthUpView", "limb_darkening", "mu_from_map", "pixel_areas", "sphere_geometry"]


#: Coefficients a_1..a_5 of the HMI team's limb-darkening law (``hmi_limbdark``, coefficient version 2),
#: I(μ)/I(1) = 1 + Σ a_k (ln μ)^k, at 6173 Å.
HMI_LIMB_DARKENING = (0.459224, 0.132395, 0.019601, 0.000802, -4.31934e-5)


def limb_darkening(mu):
    """
    Continuum limb darkening of the Sun at 6173 Å, relative to disk centre.

    .. math:: I(\\mu)/I(1) = 1 + \\sum_{k=1}^{5} a_k (\\ln \\mu)^k

    with the coefficients of the HMI team (`HMI_LIMB_DARKENING`; Pierce & Slaughter 1977 form).

    Parameters
    ----------
    mu : array-like
        Cosine of the heliocentric angle, 0 < μ ≤ 1. NaN (off disk) stays NaN.

    Returns
    -------
    `numpy.ndarray`

    Notes
    -----
    The law agrees with Neckel & Labs (1994) at 617.3 nm to 0.1% for μ ≥ 0.2; below μ ≈ 0.1 the
    intensity falls steeply and small errors in μ (pointing, radius) matter.

    Examples
    --------
    >>> from sunpy_enhance.solar import limb_darkening
    >>> print(f"{limb_darkening(1.0):.3f} {limb_darkening(0.5):.3f}")
    1.000 0.739
    """
    mu = np.asarray(mu, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lnmu = np.log(np.where(mu > 0, mu, np.nan))
    poly = np.zeros_like(lnmu)
    for a in reversed(HMI_LIMB_DARKENING):  # Horner's scheme: 1 + x (a1 + x (a2 + ...))
        poly += a
        poly *= lnmu
    return 1 + poly


#: Pixels between the points where `_sky_coordinates` evaluates the WCS exactly.
_WCS_STEP = 8


def _sky_coordinates(wcs, y0, y1, nx, to_rad):
    """
    Longitude (wrapped to (-π, π]) and latitude, in radians, of rows ``y0:y1`` of an image ``nx`` wide.

    The WCS is evaluated exactly every `_WCS_STEP` pixels (and on the last row and column) and interpolated
    bilinearly in between: a gnomonic (TAN) projection is so smooth over a few pixels that μ changes by at most
    2e-11 across a synthetic full disk and ~1e-9 right next to the limb (where μ is steepest), at a fraction of
    the cost.
    """
    def radians(xx, yy):
        lon, lat = wcs.wcs_pix2world(xx, yy, 0)
        return np.angle(np.exp(1j * np.asarray(lon) * to_rad[0])), np.asarray(lat) * to_rad[1]

    def points(start, stop):
        return np.unique(np.append(np.arange(start, stop, _WCS_STEP), stop - 1))

    ys, xs = points(y0, y1), points(0, nx)
    if len(ys) < 2 or len(xs) < 2:  # a single row or column: nothing to interpolate between
        yy, xx = np.mgrid[y0:y1, 0:nx].astype(float)
        return radians(xx, yy)
    coarse = radians(*np.meshgrid(xs.astype(float), ys.astype(float)))

    def weights(grid, targets):
        index = np.clip(np.searchsorted(grid, targets, side="right") - 1, 0, len(grid) - 2)
        return index, (targets - grid[index]) / (grid[index + 1] - grid[index])

    iy, wy = weights(ys, np.arange(y0, y1))
    ix, wx = weights(xs, np.arange(nx))
    wy = wy[:, None]
    result = []
    for values in coarse:
        along_x = values[:, ix] * (1 - wx) + values[:, ix + 1] * wx  # each coarse row at every column
        result.append(along_x[iy] * (1 - wy) + along_x[iy + 1] * wy)
    return result


def sphere_geometry(smap, *, rows=512, area=True):
    """
    Area on the solar sphere (m²) and μ = cos(heliocentric angle) of every pixel of a helioprojective map;
    NaN off the disk.

    Each pixel's line of sight (angular distance ρ from disk centre) is intersected with the sphere of radius
    R = ``rsun_meters`` centred D = ``dsun`` away: :math:`\\mu = \\sqrt{1 - (D \\sin\\rho / R)^2}` (the exact
    spherical geometry, not the small-angle ρ/ρ_limb approximation), and the area is the pixel's solid
    angle × (distance to the surface)² / μ. Evaluated in blocks of ``rows`` rows so that a 4096² map needs
    little memory.

    Returns
    -------
    area, mu : `numpy.ndarray`
        ``area`` is None when ``area=False`` (μ alone, as `mu_from_map` needs it, costs a third less).
    """
    wcs = smap.wcs
    ny, nx = smap.data.shape
    distance = smap.dsun.to_value(u.m)
    radius = smap.rsun_meters.to_value(u.m)
    units = [u.Unit(str(unit)) for unit in wcs.wcs.cunit]
    to_rad = [unit.to(u.rad) for unit in units]
    # solid angle of a pixel at the reference point (TAN distortion is < 1e-5 across the disk)
    solid = abs(np.linalg.det(wcs.wcs.get_pc() * wcs.wcs.cdelt[:, None])) * to_rad[0] * to_rad[1]
    areas = np.empty((ny, nx)) if area else None
    mu = np.empty((ny, nx))
    for y0 in range(0, ny, rows):
        lon, lat = _sky_coordinates(wcs, y0, min(y0 + rows, ny), nx, to_rad)
        cos_rho = np.cos(lat) * np.cos(lon)
        root2 = radius ** 2 - distance ** 2 * (1 - cos_rho ** 2)
        with np.errstate(invalid="ignore"):
            root = np.where(root2 > 0, np.sqrt(root2), np.nan)
        block = slice(y0, y0 + lat.shape[0])
        mu[block] = root / radius  # cosine between the surface normal and the line of sight
        if area:
            s = distance * cos_rho - root  # observer to the near surface
            areas[block] = solid * np.cos(lat) * s ** 2 / mu[block]
    return areas, mu


def mu_from_map(smap, *, rows_per_chunk=512):
    """
    μ = cos(heliocentric angle) of every pixel of a helioprojective map; NaN off the disk.

    Parameters
    ----------
    smap : `sunpy.map.GenericMap`
        A map in helioprojective coordinates with observer distance (``DSUN_OBS``) and solar radius.
    rows_per_chunk : int, optional
        Rows evaluated at a time.

    Returns
    -------
    `numpy.ndarray`
        Same shape as the map's data (see `sphere_geometry` for the geometry).

    Raises
    ------
    ValueError
        If the map is not helioprojective, or has no pointing (``CRVAL1``/``CRVAL2``,
        `sunpy_enhance.hmi.check_pointing`): sunpy would put it at disk centre.
    """
    ctype = str(smap.wcs.wcs.ctype[0]).upper()
    if not ctype.startswith("HPLN"):
        msg = f"mu needs a helioprojective map, not one in {ctype} coordinates."
        raise ValueError(msg)
    check_pointing(smap)
    return sphere_geometry(smap, rows=rows_per_chunk, area=False)[1]


def pixel_areas(image, *, pixel_scale=None):
    """
    Area on the solar surface of every pixel.

    Parameters
    ----------
    image : `~sunpy.map.GenericMap` or `numpy.ndarray`
        A helioprojective map (full disk or cutout), a cylindrical-equal-area (CEA) map such as a SHARP,
        or an array.
    pixel_scale : `~astropy.units.Quantity`, optional
        For arrays: the pixel scale; the area is that of a pixel at disk centre seen from 1 au.

    Returns
    -------
    `~astropy.units.Quantity`
        Array of the image's shape, in cm². NaN off the solar disk.

    Notes
    -----
    For helioprojective maps each pixel's line of sight is intersected with the solar sphere (radius
    ``rsun_meters``, observer at ``dsun``): area = solid angle × distance² / μ, with μ the cosine of the
    angle between the surface normal and the line of sight. CEA pixels have the same area,
    :math:`R_\\odot^2 \\Delta\\phi \\Delta(\\sin\\theta)`, everywhere. An array without geometry gets the
    disk-centre area of its ``pixel_scale``, exact at disk centre and an underestimate by 1/μ elsewhere.
    """
    is_map = hasattr(image, "wcs") and hasattr(image, "data")
    data = np.asarray(image.data if is_map else image)
    if is_map:
        ctype = [str(c).upper() for c in image.wcs.wcs.ctype]
        if ctype[0].startswith("HPLN"):
            return (sphere_geometry(image)[0] * u.m ** 2).to(u.cm ** 2)
        if ctype[0].endswith("-CEA"):
            wcs = image.wcs.wcs
            cdelt = wcs.cdelt * np.array([u.Unit(str(c)).to(u.rad) for c in wcs.cunit])
            # CEA: y = sin(latitude) / λ (radians), λ = PV2_1, 1 by default
            lam = {(i, m): v for i, m, v in wcs.get_pv()}.get((2, 1), 1.0)
            area = (image.rsun_meters ** 2 * abs(cdelt[0] * cdelt[1]) * lam).to_value(u.cm ** 2)
            return np.full(data.shape, area) * u.cm ** 2
        if pixel_scale is None:
            msg = (f"The map's coordinates ({ctype}) are neither helioprojective nor CEA; pass pixel_scale "
                   "to use the disk-centre pixel area.")
            raise ValueError(msg)
    if pixel_scale is None:
        msg = "pixel_scale is needed for an array (e.g. 0.504 * u.arcsec for HMI)."
        raise ValueError(msg)
    scale = u.Quantity(pixel_scale, u.arcsec).to_value(u.arcsec)
    side = (scale * u.arcsec).to_value(u.rad) * (au - R_sun)
    return np.full(data.shape, side.to_value(u.cm) ** 2) * u.cm ** 2


class NorthUpView:
    """
    The rotation/reflection by multiples of 90° that brings a map's storage closest to solar north up and
    west to the right (+x along Tx, +y along Ty), and its inverse.

    HMI stores its images rotated by 180° (``CROTA2`` ≈ 180°); other sources store them north up. A network
    is only approximately equivariant under these symmetries (trained with them as augmentation, it still
    differs by tens of percent of the detail it adds), so that the same sky would give different results
    for different storage. Run in this view, it sees the same array for every storage of the same sky.
    Costs array copies only. Rotations other than multiples of 90° (HMI's ~0.1° roll) are left as they are.

    Parameters
    ----------
    smap : `sunpy.map.GenericMap`

    Examples
    --------
    >>> import numpy as np, sunpy.map
    >>> from sunpy_enhance.solar import NorthUpView
    >>> header = {"ctype1": "HPLN-TAN", "ctype2": "HPLT-TAN", "cunit1": "arcsec", "cunit2": "arcsec",
    ...           "cdelt1": 0.504, "cdelt2": 0.504, "crota2": 180.0}
    >>> view = NorthUpView(sunpy.map.Map(np.arange(4.0).reshape(2, 2), header))
    >>> view.transpose, view.flip_x, view.flip_y
    (False, True, True)
    >>> view.forward(np.arange(4.0).reshape(2, 2))
    array([[3., 2.],
           [1., 0.]])
    """

    def __init__(self, smap):
        scale = np.array([smap.scale.axis1.value, smap.scale.axis2.value])
        matrix = np.asarray(smap.rotation_matrix) * scale[None, :]  # world axis i per pixel axis j
        best = None
        for transpose in (False, True):
            for flip_x in (False, True):
                for flip_y in (False, True):
                    m = matrix[:, ::-1] if transpose else matrix.copy()
                    m[:, 0] *= -1 if flip_x else 1
                    m[:, 1] *= -1 if flip_y else 1
                    score = m[0, 0] + m[1, 1]
                    if best is None or score > best[0] + 1e-9:
                        best = (score, transpose, flip_x, flip_y)
        _, self.transpose, self.flip_x, self.flip_y = best

    @property
    def identity(self):
        """Whether the map is stored north up already."""
        return not (self.transpose or self.flip_x or self.flip_y)

    def forward(self, image):
        """A storage-ordered array (first two axes: rows, columns) in the north-up view."""
        out = np.swapaxes(image, 0, 1) if self.transpose else image
        out = out[:, ::-1] if self.flip_x else out
        return out[::-1] if self.flip_y else out

    def inverse(self, image):
        """An array in the north-up view back in the map's storage order (of any size: e.g. ×2 output)."""
        out = image[::-1] if self.flip_y else image
        out = out[:, ::-1] if self.flip_x else out
        return np.swapaxes(out, 0, 1) if self.transpose else out
