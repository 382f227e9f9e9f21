"""
Tiled inference: apply a fully convolutional network to an image of any size in bounded memory.

The image is cut into tiles that overlap by ``margin`` input pixels on every inner side. Each tile is
processed on its own and only its central part — at least ``margin`` pixels away from any inner edge —
is kept. When ``margin`` is at least the network's receptive radius, every kept output pixel was computed
from exactly the input pixels it would see in a single whole-image pass, so the tiled result equals
whole-image inference (up to floating-point summation order): there are no seams. Tiles at the image
border end at the border, where the network sees the same reflection padding as on the whole image.
"""
import numpy as np

__all__ = ["tile_slices", "apply_tiled"]


def _starts(n, core):
    return list(range(0, n, core))


def tile_slices(shape, tile_size, margin):
    """
    The tiles covering an image: for each, the input window and the part of it that is kept.

    Parameters
    ----------
    shape : tuple of int
        Image shape (rows, columns).
    tile_size : int
        Side of the kept core of a tile (input pixels); windows add up to ``margin`` on each side.
    margin : int
        Overlap discarded on each inner side.

    Returns
    -------
    list of tuple
        ``(window, core, core_in_window)``: slices of the image read, of the image written, and of the
        window that is kept — all in input pixels.
    """
    if tile_size < 1 or margin < 0:
        msg = f"tile_size must be ≥ 1 and margin ≥ 0 (got {tile_size}, {margin})."
        raise ValueError(msg)
    tiles = []
    for r0 in _starts(shape[0], tile_size):
        r1 = min(r0 + tile_size, shape[0])
        wr0, wr1 = max(r0 - margin, 0), min(r1 + margin, shape[0])
        for c0 in _starts(shape[1], tile_size):
            c1 = min(c0 + tile_size, shape[1])
            wc0, wc1 = max(c0 - margin, 0), min(c1 + margin, shape[1])
            tiles.append(((slice(wr0, wr1), slice(wc0, wc1)),
                          (slice(r0, r1), slice(c0, c1)),
                          (slice(r0 - wr0, r1 - wr0), slice(c0 - wc0, c1 - wc0))))
    return tiles


def apply_tiled(func, image, *, tile_size, margin, upscale=2, progress=False):
    """
    Apply ``func`` to an image tile by tile and assemble the output.

    Parameters
    ----------
    func : callable
        ``func(batch)`` with ``batch`` of shape ``(1, h, w, 1)`` float32, returning
        ``(1, upscale*h, upscale*w, 1)`` (e.g. a `~sunpy_enhance.models.LoadedModel`).
    image : `numpy.ndarray`
        2-D finite image in network units.
    tile_size : int
        Kept core of each tile in input pixels; memory scales with ``(tile_size + 2 margin)²``.
    margin : int
        Overlap, at least the network's receptive radius for seam-free output.
    upscale : int, optional
        Output pixels per input pixel along each axis.
    progress : bool, optional
        Show a progress bar over tiles.

    Returns
    -------
    `numpy.ndarray`
        float32 output of shape ``(upscale*rows, upscale*cols)``.
    """
    image = np.asarray(image, dtype=np.float32)
    out = np.empty((image.shape[0] * upscale, image.shape[1] * upscale), dtype=np.float32)
    tiles = tile_slices(image.shape, tile_size, margin)
    iterator = tiles
    if progress and len(tiles) > 1:
        from tqdm.auto import tqdm

        iterator = tqdm(tiles, desc="tiles", unit="tile")
    s = upscale
    for window, core, keep in iterator:
        result = np.asarray(func(image[window][None, :, :, None]))[0, :, :, 0]
        out[core[0].start * s:core[0].stop * s, core[1].start * s:core[1].stop * s] = \
            result[keep[0].start * s:keep[0].stop * s, keep[1].start * s:keep[1].stop * s]
    return out
