"""
Figures for enhanced maps.
"""
import astropy.units as u
import numpy as np

__all__ = ["plot_before_after"]


def plot_before_after(before, after, *, fig=None, zoom=None):
    """
    Show an HMI map and its enhanced version side by side, on the same world coordinates.

    Parameters
    ----------
    before, after : `sunpy.map.GenericMap`
        Input and output of `~sunpy_enhance.enhance.enhance_map`.
    fig : `matplotlib.figure.Figure`, optional
    zoom : int, optional
        Show only the central ``zoom`` input pixels a side (and the corresponding output).

    Returns
    -------
    `matplotlib.figure.Figure`
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    if zoom is not None:
        ny, nx = before.data.shape
        r0, c0 = max((ny - zoom) // 2, 0), max((nx - zoom) // 2, 0)
        before = before.submap([c0, r0] * u.pix, top_right=[c0 + zoom - 1, r0 + zoom - 1] * u.pix)
        after = after.submap([2 * c0, 2 * r0] * u.pix, top_right=[2 * (c0 + zoom) - 1, 2 * (r0 + zoom) - 1] * u.pix)
    fig = fig or plt.figure(figsize=(11, 5))
    magnetogram = "magnetogram" in str(before.measurement).lower()
    finite = after.data[np.isfinite(after.data)]
    if magnetogram:
        lim = float(np.percentile(np.abs(finite), 99.5)) if finite.size else 1
        kwargs = {"cmap": "gray", "norm": Normalize(-lim, lim)}
    else:
        kwargs = {"cmap": "gray"}
    for i, (smap, title) in enumerate(((before, "HMI (0.504\"/px)"), (after, "Enhanced (0.252\"/px)"))):
        ax = fig.add_subplot(1, 2, i + 1, projection=smap)
        data = smap.data
        if not magnetogram:
            good = data[np.isfinite(data)]
            lo, hi = np.percentile(good, [0.5, 99.5]) if good.size else (0, 1)
            kwargs = {"cmap": "gray", "norm": Normalize(lo, hi)}
        smap.plot(axes=ax, title=title, **kwargs)
        ax.coords[0].set_axislabel("Helioprojective longitude")
        ax.coords[1].set_axislabel("Helioprojective latitude" if i == 0 else " ")
    fig.tight_layout()
    return fig
