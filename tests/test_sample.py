"""The synthetic sample maps and the 28 cm truth behind them."""
import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from scipy import ndimage

from sunpy_enhance.header import refined_meta
from sunpy_enhance.sample import synthetic_hmi_map, synthetic_truth


def _pole_centre(data, sign):
    """Field-weighted centroid (row, column) of one pole of the bipolar region, above 1200 G."""
    weights = np.clip(sign * np.asarray(data, dtype=float) - 1200.0, 0, None)
    return ndimage.center_of_mass(weights)


@pytest.mark.parametrize("sign", [1, -1])
def test_truth_lies_on_the_enhanced_grid(sign):
    # The same pole, seen by HMI and by the 28 cm telescope, at the same place on the Sun once each
    # array is given its WCS: the HMI map's own, and the refined one enhance_map writes. The thresholded
    # centroids differ by ~0.02″ (the two PSFs spread the surrounding network field differently); a grid
    # off by half an output pixel (the original Enhance's WCS error) would put them 0.126″ apart, one
    # built with the wrong origin 0.07–0.11″.
    shape = (60, 70)
    hmi = synthetic_hmi_map("magnetogram", shape=shape, seed=2)
    truth = synthetic_truth(shape, kind="magnetogram", seed=2)
    assert truth.shape == (120, 140)
    fine = sunpy.map.Map(truth, refined_meta(hmi.meta))
    y0, x0 = _pole_centre(hmi.data, sign)
    y1, x1 = _pole_centre(truth, sign)
    seen_by_hmi = hmi.pixel_to_world(x0 * u.pix, y0 * u.pix)
    seen_at_28cm = fine.pixel_to_world(x1 * u.pix, y1 * u.pix)
    assert seen_by_hmi.separation(seen_at_28cm).to_value(u.arcsec) < 0.05


def test_truth_is_sharper_than_hmi_and_keeps_the_mean():
    shape = (48, 48)
    truth = synthetic_truth(shape, kind="continuum", spot=False, seed=4)
    hmi = synthetic_hmi_map("continuum", shape=shape, spot=False, seed=4)
    binned = truth.reshape(48, 2, 48, 2).mean(axis=(1, 3))
    hmi_ic = hmi.data / np.mean(hmi.data)
    # 28 cm granulation contrast well above HMI's; mean intensity the same scene's
    assert np.std(truth) / np.mean(truth) > 1.5 * np.std(hmi_ic)
    assert abs(np.mean(binned) - 1) < 0.02
