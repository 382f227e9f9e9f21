"""
μ, limb darkening and the quiet-Sun level.
"""
import astropy.units as u
import numpy as np
import pytest
from sunpy.coordinates import Heliocentric
from sunpy.map.maputils import all_coordinates_from_map

from sunpy_enhance.enhance.normalize import quiet_sun_level
from sunpy_enhance.sample import synthetic_hmi_map
from sunpy_enhance.solar import limb_darkening, mu_from_map


def test_limb_darkening_law():
    assert limb_darkening(1.0) == pytest.approx(1.0)
    mu = np.linspace(0.2, 1, 81)
    # Neckel & Labs (1994) polynomial at 617.3 nm (science.md): agrees to 0.1% for mu >= 0.2
    a = [0.31445, 1.35342, -1.82654, 2.35725, -1.68781, 0.48922]
    neckel = sum(c * mu**k for k, c in enumerate(a))
    assert np.max(np.abs(limb_darkening(mu) / neckel - 1)) < 1.5e-3
    assert np.all(np.diff(limb_darkening(mu)) > 0)
    assert np.isnan(limb_darkening(np.nan))


def test_mu_matches_line_of_sight_geometry():
    """μ is the cosine between the surface normal and the direction to the observer."""
    smap = synthetic_hmi_map("magnetogram", shape=(24, 24), center=(700, -500) * u.arcsec, spot=False)
    mu = mu_from_map(smap)
    coords = all_coordinates_from_map(smap).transform_to(
        Heliocentric(observer=smap.observer_coordinate, obstime=smap.date))
    point = np.stack([coords.x.to_value(u.m), coords.y.to_value(u.m), coords.z.to_value(u.m)])
    observer = np.array([0, 0, smap.dsun.to_value(u.m)])[:, None, None]
    to_observer = observer - point
    to_observer /= np.linalg.norm(to_observer, axis=0)
    normal = point / np.linalg.norm(point, axis=0)
    expected = np.sum(normal * to_observer, axis=0)
    assert np.nanmax(np.abs(mu - expected)) < 1e-6
    assert 0.3 < np.nanmin(mu) < np.nanmax(mu) < 0.9


def test_mu_is_nan_off_disk():
    smap = synthetic_hmi_map("magnetogram", shape=(40, 40), center=(965, 0) * u.arcsec, spot=False)
    mu = mu_from_map(smap)
    assert np.isnan(mu).any() and np.isfinite(mu).any()
    # off-disk pixels are exactly those seen farther from disk centre than the limb, asin(R/D)
    coords = all_coordinates_from_map(smap)
    rho = np.arccos(np.cos(coords.Tx) * np.cos(coords.Ty))
    limb = np.arcsin((smap.rsun_meters / smap.dsun).decompose())
    assert np.array_equal(np.isnan(mu), (rho > limb))


def test_quiet_sun_level_ignores_a_spot():
    rng = np.random.default_rng(0)
    image = 1 + 0.037 * rng.standard_normal((200, 200))
    yy, xx = np.mgrid[0:200, 0:200]
    image[np.hypot(yy - 100, xx - 100) < 50] = 0.3  # a sunspot over 20% of the field
    image[0, 0] = np.nan
    assert quiet_sun_level(image * 5e4) == pytest.approx(5e4, rel=3e-3)
    with pytest.raises(ValueError, match="no finite pixel"):
        quiet_sun_level(np.full((3, 3), np.nan))
