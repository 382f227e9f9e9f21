"""
Synthetic HMI-like maps the package can make on any machine, without downloads.

They are *not* real observations: a cellular granulation pattern (and, on request, a sunspot or bipolar
magnetic region) made at 4× HMI resolution, observed through the HMI PSF and 0.504″ pixels with the
package's own forward model (`sunpy_enhance.degrade`), with HMI-like noise, limb darkening and a header
modelled on real ``hmi.Ic_45s`` / ``hmi.M_45s`` headers (helioprojective WCS, CROTA2 ≈ 180°, observer
keywords). They exist for quick starts, doctests and tests of the machinery, not for science.
"""
import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from scipy import ndimage
from scipy.spatial import cKDTree

from sunpy_enhance.degrade import ENHANCED_PIXEL_SCALE, HMI_PIXEL_SCALE, observe
from sunpy_enhance.psf import airy_psf, hmi_psf
from sunpy_enhance.solar import limb_darkening

__all__ = ["synthetic_full_disk_map", "synthetic_hmi_map", "synthetic_scene", "synthetic_truth"]

_OVERSAMPLE = 4
_DATE = "2014-03-01T00:01:30"
_DSUN = 148_520_000_000.0  # m, HMI on 2014-03-01
_RSUN_REF = 696_000_000.0  # m


def synthetic_scene(shape, *, kind="continuum", spot=True, seed=0):
    """
    A high-resolution (0.126″/px) synthetic photospheric scene.

    Parameters
    ----------
    shape : tuple of int
        Shape in *HMI* pixels; the scene is 4× larger along each axis.
    kind : {"continuum", "magnetogram"}
        Intensity in I/Ic, or line-of-sight field in G.
    spot : bool, optional
        Add a sunspot (continuum) or a bipolar region (magnetogram).
    seed : int, optional

    Returns
    -------
    `numpy.ndarray`
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape[0] * _OVERSAMPLE, shape[1] * _OVERSAMPLE
    scale = HMI_PIXEL_SCALE.to_value(u.arcsec) / _OVERSAMPLE
    # Granules: cells around random centres ~1.4" apart; lanes where two cells meet.
    n_cells = int(ny * nx * scale**2 / 1.4**2) + 1
    centres = rng.uniform(0, 1, size=(n_cells, 2)) * [ny, nx]
    yy, xx = np.mgrid[0:ny, 0:nx]
    dist, _ = cKDTree(centres).query(np.column_stack([yy.ravel(), xx.ravel()]), k=2)
    lane = (dist[:, 1] - dist[:, 0]).reshape(ny, nx) * scale  # arcsec from the nearest lane
    granulation = np.tanh(lane / 0.25) - 0.55
    granulation = ndimage.gaussian_filter(granulation, 0.6)
    cy, cx = ny * 0.55, nx * 0.45
    r = np.hypot(yy - cy, xx - cx) * scale  # arcsec from the feature centre
    if kind == "continuum":
        image = 1 + 0.16 * (granulation - granulation.mean()) / granulation.std()
        if spot:
            umbra = 1 / (1 + np.exp((r - 4.0) / 0.4))
            penumbra = 1 / (1 + np.exp((r - 9.0) / 0.6))
            angle = np.arctan2(yy - cy, xx - cx)
            filaments = 0.12 * np.sin(40 * angle + rng.uniform(0, 2 * np.pi))
            image = image * (1 - penumbra) + penumbra * (0.75 + filaments)
            image = image * (1 - umbra) + umbra * 0.12
        return image
    if kind == "magnetogram":
        lanes = np.clip(0.35 - lane, 0, None) / 0.35
        polarity = ndimage.gaussian_filter(rng.standard_normal((ny, nx)), 3.0 / scale, mode="wrap")
        field = 900 * lanes**3 * np.sign(polarity) * (np.abs(polarity) > 0.5 * polarity.std())
        if spot:
            d = 7.0 / scale
            for sign, (oy, ox) in ((1, (0, -d)), (-1, (0, d))):
                rr = np.hypot(yy - cy - oy, xx - cx - ox) * scale
                field = field + sign * 2200 / (1 + np.exp((rr - 3.0) / 0.7))
        return field
    msg = f"kind must be 'continuum' or 'magnetogram', not {kind!r}."
    raise ValueError(msg)


def synthetic_truth(shape, *, kind="continuum", spot=True, seed=0):
    """
    What Enhance aims at for a `synthetic_hmi_map`: its scene seen by a 28 cm telescope at 0.252″/px.

    The scene of `synthetic_scene` is observed with the Airy PSF of a 28 cm diffraction-limited aperture
    at 6173 Å and 0.252″ pixels, without noise, on the grid of ``enhance_map(synthetic_hmi_map(...))``:
    output pixel ``(i, j)`` of the enhanced map and of this array look at the same point of the scene.
    This is the "truth" against which to judge an enhanced synthetic map (a real HMI map has none).

    Parameters
    ----------
    shape : tuple of int
        Shape of the *HMI* map; the result is twice as large along each axis.
    kind : {"continuum", "magnetogram"}, optional
        I/Ic (not divided by any quiet-Sun level) or line-of-sight field in G.
    spot : bool, optional
    seed : int, optional
        As given to `synthetic_hmi_map`.

    Returns
    -------
    `numpy.ndarray`

    Examples
    --------
    >>> from sunpy_enhance.sample import synthetic_truth
    >>> synthetic_truth((32, 40), kind="magnetogram").shape
    (64, 80)
    """
    fine_scale = HMI_PIXEL_SCALE / _OVERSAMPLE
    return observe(synthetic_scene(shape, kind=kind, spot=spot, seed=seed), fine_scale, airy_psf(fine_scale),
                   ENHANCED_PIXEL_SCALE, origin=(-0.5, -0.5), shape=(2 * shape[0], 2 * shape[1]))


def synthetic_hmi_map(kind="continuum", *, shape=(200, 200), center=(-150, 120) * u.arcsec, spot=True,
                      seed=0, noise=True):
    """
    A synthetic HMI-like continuum image or line-of-sight magnetogram as a `sunpy.map.Map`.

    The scene of `synthetic_scene` is observed with the (Enhance-modified) HMI PSF and 0.504″ pixels,
    given HMI-like noise (1e-3 Ic; 10 G), and — for continuum — multiplied by the limb darkening at each
    pixel and a disk-centre level of 60,000 DN/s. The header follows real HMI 45 s headers.

    Parameters
    ----------
    kind : {"continuum", "magnetogram"}, optional
    shape : tuple of int, optional
        Pixels (rows, columns).
    center : `~astropy.units.Quantity`, optional
        Helioprojective longitude and latitude of the field centre.
    spot : bool, optional
        Include a sunspot / bipolar region.
    seed : int, optional
    noise : bool, optional
        Add the HMI-like noise; ``False`` gives the same observation without it (for measuring what a
        method makes of the noise, `~sunpy_enhance.diagnostics.noise_propagation`).

    Returns
    -------
    `sunpy.map.GenericMap`

    Examples
    --------
    >>> from sunpy_enhance.sample import synthetic_hmi_map
    >>> m = synthetic_hmi_map("magnetogram", shape=(32, 32))
    >>> m.instrument, m.measurement, m.data.shape
    ('HMI FRONT2', 'magnetogram', (32, 32))
    """
    import sunpy.map
    from sunpy.coordinates import frames
    from sunpy.map.header_helper import make_fitswcs_header

    rng = np.random.default_rng(seed + 1)
    fine = synthetic_scene(shape, kind=kind, spot=spot, seed=seed)
    kernel = hmi_psf(HMI_PIXEL_SCALE / _OVERSAMPLE)
    data = observe(fine, HMI_PIXEL_SCALE / _OVERSAMPLE, kernel, HMI_PIXEL_SCALE, origin=(-0.5, -0.5),
                   shape=shape)
    observer = SkyCoord(0 * u.deg, -7.2 * u.deg, _DSUN * u.m, frame=frames.HeliographicStonyhurst,
                        obstime=_DATE)
    ref = SkyCoord(*center, frame=frames.Helioprojective(observer=observer, obstime=_DATE))
    header = make_fitswcs_header(
        np.empty(shape), ref, scale=[HMI_PIXEL_SCALE.value] * 2 * u.arcsec / u.pix, rotation_angle=180 * u.deg,
        telescope="SDO/HMI", instrument="HMI", wavelength=6173 * u.AA,
        unit=u.Unit("DN/s") if kind == "continuum" else u.Unit("Mx/cm2"))
    header.update({"detector": "HMI", "instrume": "HMI_FRONT2", "rsun_ref": _RSUN_REF, "quality": 0,
                   "t_rec": _DATE + "_TAI", "cadence": 45.0, "history": "synthetic HMI-like map made by "
                   "sunpy_enhance.sample.synthetic_hmi_map; not an observation"})
    if kind == "continuum":
        header["content"] = "CONTINUUM INTENSITY"
        data = data + (1e-3 if noise else 0.0) * rng.standard_normal(shape)
        smap = sunpy.map.Map(data, header)
        from sunpy_enhance.solar import mu_from_map

        data = data * 60000.0 * limb_darkening(mu_from_map(smap))
    else:
        header["content"] = "MAGNETOGRAM"
        data = data + (10.0 if noise else 0.0) * rng.standard_normal(shape)
    return sunpy.map.Map(data.astype(np.float32), header)


def synthetic_full_disk_map(kind="continuum", *, size=4096, seed=0):
    """
    A synthetic HMI-like full-disk map (4096² at 0.504″/px by default), NaN off the disk.

    The disk carries a random granulation-like texture (3.7% rms, ~2″ correlation) times the HMI
    limb-darkening law for continuum, or a weak random field (~20 G) for magnetograms. The header follows
    a real ``hmi.Ic_45s`` full-disk header (disk centre at the image centre, CROTA2 ≈ 180°). For timing,
    memory and geometry checks at full-disk size; the texture is not realistic photosphere.

    Parameters
    ----------
    kind : {"continuum", "magnetogram"}, optional
    size : int, optional
        Pixels a side; 4096 is HMI's.
    seed : int, optional

    Returns
    -------
    `sunpy.map.GenericMap`
    """
    import sunpy.map
    from sunpy.coordinates import frames
    from sunpy.map.header_helper import make_fitswcs_header

    from sunpy_enhance.solar import mu_from_map

    rng = np.random.default_rng(seed)
    observer = SkyCoord(0 * u.deg, -7.2 * u.deg, _DSUN * u.m, frame=frames.HeliographicStonyhurst,
                        obstime=_DATE)
    ref = SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=frames.Helioprojective(observer=observer, obstime=_DATE))
    header = make_fitswcs_header(
        (size, size), ref, reference_pixel=[(size - 1) / 2 + 0.3, (size - 1) / 2 - 0.2] * u.pix,
        scale=[HMI_PIXEL_SCALE.value] * 2 * u.arcsec / u.pix, rotation_angle=179.93 * u.deg,
        telescope="SDO/HMI", instrument="HMI", wavelength=6173 * u.AA,
        unit=u.Unit("DN/s") if kind == "continuum" else u.Unit("Mx/cm2"))
    header.update({"detector": "HMI", "instrume": "HMI_FRONT2", "rsun_ref": _RSUN_REF, "t_rec": _DATE + "_TAI",
                   "content": "CONTINUUM INTENSITY" if kind == "continuum" else "MAGNETOGRAM",
                   "history": "synthetic HMI-like full disk made by sunpy_enhance.sample; not an observation"})
    texture = ndimage.gaussian_filter(rng.standard_normal((size, size)).astype(np.float32), 2.0)
    texture /= texture.std()
    smap = sunpy.map.Map(texture, header)
    mu = mu_from_map(smap)
    if kind == "continuum":
        data = 60000.0 * limb_darkening(mu) * (1 + 0.037 * texture)
    else:
        data = 20.0 * texture * np.where(np.isfinite(mu), 1.0, np.nan)
    return sunpy.map.Map(data.astype(np.float32), header)
