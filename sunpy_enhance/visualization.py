"""
Figures for enhanced maps.
"""
import astropy.units as u
import numpy as np

__all__ = ["plot_before_after"]


def _north_up(smap):
    """The map rotated so that solar north is up (display only: bilinear interpolation, NaN outside)."""
    angle = smap.rotation_matrix
    if np.allclose(angle, np.eye(2), atol=1e-6):
        return smap
    return smap.rotate(order=1, missing=np.nan)


def _unit_label(smap, magnetogram):
    if magnetogram:
        unit = smap.unit
        return f"B$_{{LOS}}$ [{unit.to_string('latex_inline') if unit is not None else 'G'}]"
    unit = smap.unit
    return "I / I$_c$" if unit is None or unit == u.one else f"intensity [{unit.to_string('latex_inline')}]"


def plot_before_after(before, after, *, truth=None, fig=None, zoom=None, north_up=True):
    """
    Show an HMI map and its enhanced version side by side (and a truth, when there is one), solar north up.

    Parameters
    ----------
    before, after : `sunpy.map.GenericMap`
        Input and output of `~sunpy_enhance.enhance.enhance_map`.
    truth : `sunpy.map.GenericMap` or `numpy.ndarray`, optional
        What the output aims at, on the output's grid (e.g. `sunpy_enhance.sample.synthetic_truth` of a
        synthetic sample): drawn as a third panel on the output's scale.
    fig : `matplotlib.figure.Figure`, optional
    zoom : int, optional
        Show only the central ``zoom`` input pixels a side (and the corresponding output).
    north_up : bool, optional
        Rotate the maps for display so that solar north is up (HMI maps are stored about 180° rotated).
        Only the figure is affected; the rotation interpolates bilinearly.

    Returns
    -------
    `matplotlib.figure.Figure`
    """
    import matplotlib.pyplot as plt
    import sunpy.map
    from matplotlib.colors import Normalize

    if truth is not None and not isinstance(truth, sunpy.map.GenericMap):
        truth = sunpy.map.Map(np.asarray(truth, dtype=np.float32), after.meta)
    if zoom is not None:
        ny, nx = before.data.shape
        r0, c0 = max((ny - zoom) // 2, 0), max((nx - zoom) // 2, 0)
        before = before.submap([c0, r0] * u.pix, top_right=[c0 + zoom - 1, r0 + zoom - 1] * u.pix)
        box = ([2 * c0, 2 * r0] * u.pix, [2 * (c0 + zoom) - 1, 2 * (r0 + zoom) - 1] * u.pix)
        after = after.submap(box[0], top_right=box[1])
        truth = None if truth is None else truth.submap(box[0], top_right=box[1])
    panels = [(before, "HMI (0.504\"/px)"), (after, "Enhanced (0.252\"/px)")]
    if truth is not None:
        panels.append((truth, "28 cm truth (0.252\"/px)"))
    if north_up:
        panels = [(_north_up(smap), title) for smap, title in panels]
    fig = fig or plt.figure(figsize=(5.5 * len(panels), 5))
    magnetogram = "magnetogram" in str(before.measurement).lower() or "magnetogram" in str(
        before.meta.get("content", "")).lower()
    finite = panels[1][0].data[np.isfinite(panels[1][0].data)]
    if magnetogram:
        lim = float(np.percentile(np.abs(finite), 99.5)) if finite.size else 1
        out_norm = Normalize(-lim, lim)
    else:
        lo, hi = np.percentile(finite, [0.5, 99.5]) if finite.size else (0, 1)
        out_norm = Normalize(lo, hi)
    for i, (smap, title) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1, projection=smap)
        norm = out_norm
        if i == 0 and not magnetogram:  # the input may be in other units (DN/s)
            good = smap.data[np.isfinite(smap.data)]
            lo, hi = np.percentile(good, [0.5, 99.5]) if good.size else (0, 1)
            norm = Normalize(lo, hi)
        elif i == 0:
            norm = Normalize(-out_norm.vmax, out_norm.vmax)
        image = smap.plot(axes=ax, title=title, cmap="gray", norm=norm)
        ax.coords[0].set_axislabel("Helioprojective longitude")
        ax.coords[1].set_axislabel("Helioprojective latitude" if i == 0 else " ")
        fig.colorbar(image, ax=ax, shrink=0.8, pad=0.02, label=_unit_label(smap, magnetogram))
    fig.subplots_adjust(wspace=0.45)
    return fig
