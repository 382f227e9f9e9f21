"""
Tiled inference: apply a fully convolutional network to an image of any size in bounded memory.

The image is cut into tiles that overlap by ``margin`` input pixels on every inner side. Each tile is
processed on its own and only its central part — at least ``margin`` pixels away from any inner edge —
is kept. When ``margin`` is at least the network's receptive radius, every kept output pixel was computed
from exactly the input pixels it would see in a single whole-image pass, so the tiled result equals
whole-image inference (up to floating-point summation order): there are no seams. Tiles at the image
border end at the border, where the network sees the same reflection padding as on the whole image.

Networks that pool (the denoising U-Net halves the resolution twice) give the same output for a pixel only
when it sits at the same place in the pooling grid: with ``multiple=4`` every window starts on a multiple of 4
and has a size that is one, so that tiling does not move any pixel in that grid.
"""
import numpy as np

__all__ = ["apply_tiled", "tile_slices", "tiles_per_batch"]


def _bounds(n, parts):
    """Split ``n`` pixels into ``parts`` parts of (nearly) equal length."""
    edges = [i * n // parts for i in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _window_length(n, parts, margin):
    """Total length of the windows when ``n`` pixels are split in ``parts`` cores with ``margin`` overlaps."""
    return n + 2 * margin * (parts - 1) if parts > 1 else n


def _grid(shape, tile_size, margin):
    """
    Cores per axis (rows, columns) with cores of at most ``tile_size²`` pixels and the least computation.

    Among the splits whose cores hold at most ``tile_size²`` pixels, the one with the smallest total
    window area (cores plus overlaps) wins; ties go to fewer tiles. Cores need not be square: a 1024²
    image in tiles of 768² becomes two 1024 × 512 strips (one overlap) rather than four 512² squares.
    """
    ny, nx = shape
    budget = tile_size * tile_size
    best = None
    for rows in range(1, ny + 1):
        core_rows = -(-ny // rows)
        max_cols = budget // core_rows
        if max_cols < 1:
            continue
        cols = -(-nx // max_cols)
        cost = (_window_length(ny, rows, margin) * _window_length(nx, cols, margin), rows * cols)
        if best is None or cost < best[0]:
            best = (cost, (rows, cols))
        if cols == 1:  # more rows only add overlap
            break
    return best[1]


def tile_slices(shape, tile_size, margin, *, multiple=1):
    """
    The tiles covering an image: for each, the input window and the part of it that is kept.

    Parameters
    ----------
    shape : tuple of int
        Image shape (rows, columns).
    tile_size : int
        The kept core of a tile holds at most ``tile_size²`` input pixels (memory scales with it);
        windows add up to ``margin`` on each inner side. Cores are rectangles of (nearly) equal size,
        arranged so that the overlaps cost the least computation: no thin leftover tiles, and a 1024²
        image with ``tile_size=768`` is cut into two 1024 × 512 strips (3% extra work), not four squares.
    margin : int
        Overlap discarded on each inner side.
    multiple : int, optional
        Every core and window starts on a multiple of this and, unless it ends at the image's edge, has a
        length that is one (the margin is rounded up to a multiple); ``tile_size`` then counts in blocks of
        ``multiple`` pixels (a core holds at most ``(multiple * (tile_size // multiple))²`` pixels, or one
        block when ``tile_size < multiple``). For networks that pool (see the module's description).

    Returns
    -------
    list of tuple
        ``(window, core, core_in_window)``: slices of the image read, of the image written, and of the
        window that is kept — all in input pixels.
    """
    if tile_size < 1 or margin < 0 or multiple < 1:
        msg = f"tile_size and multiple must be ≥ 1 and margin ≥ 0 (got {tile_size}, {multiple}, {margin})."
        raise ValueError(msg)
    tiles = []
    m = int(multiple)
    blocks = (-(-shape[0] // m), -(-shape[1] // m))
    rows, cols = _grid(blocks, max(tile_size // m, 1), -(-margin // m))
    margin = -(-margin // m) * m
    row_bounds = [(min(a * m, shape[0]), min(b * m, shape[0])) for a, b in _bounds(blocks[0], rows)]
    col_bounds = [(min(a * m, shape[1]), min(b * m, shape[1])) for a, b in _bounds(blocks[1], cols)]
    for r0, r1 in row_bounds:
        wr0, wr1 = max(r0 - margin, 0), min(r1 + margin, shape[0])
        for c0, c1 in col_bounds:
            wc0, wc1 = max(c0 - margin, 0), min(c1 + margin, shape[1])
            tiles.append(((slice(wr0, wr1), slice(wc0, wc1)),
                          (slice(r0, r1), slice(c0, c1)),
                          (slice(r0 - wr0, r1 - wr0), slice(c0 - wc0, c1 - wc0))))
    return tiles


def tiles_per_batch(window_shape, memory_bytes, *, filters=64, upscale=2, bytes_per_value=4, live_maps=3,
                    max_batch=64):
    """
    How many tiles of one shape fit in a batch on an accelerator with ``memory_bytes`` free.

    A conservative estimate from the activations of a fully convolutional network of ``filters``
    channels: ``live_maps`` feature maps are alive at once, the largest ones at the output resolution.

    Parameters
    ----------
    window_shape : tuple of int
        Input pixels of one tile window (rows, columns).
    memory_bytes : float
        Device memory the batch may use.
    filters, upscale, bytes_per_value, live_maps : int, optional
        Channels of the hidden layers, output pixels per input pixel along an axis, bytes of one value
        (4 for float32, 2 for bfloat16), feature maps alive at the same time.
    max_batch : int, optional
        Upper bound.

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> from sunpy_enhance.tiling import tiles_per_batch
    >>> tiles_per_batch((1056, 1056), 60e9)  # 1024² tiles (3.4 GB each) on a GPU with 60 GB free
    17
    """
    per_tile = live_maps * filters * bytes_per_value * window_shape[0] * window_shape[1] * upscale**2
    return int(max(1, min(max_batch, memory_bytes // per_tile)))


#: Tiles partly over unused pixels are cut down to the used part of their core, rounded out to this many input
#: pixels (so that few different window shapes arise: engines that compile per shape compile few).
_SHRINK_STEP = 32


def _shrink(tile, unused, margin, step, shape):
    """``tile`` with its core cut down to the bounding box of its used pixels (rounded out to ``step``)."""
    window, core, keep = tile
    used = ~unused[core]
    bounds = []
    for axis, (part, n) in enumerate(zip(core, shape, strict=True)):
        hits = np.flatnonzero(used.any(axis=1 - axis))
        lo = part.start + hits[0] // step * step
        hi = min(part.start + -(-(hits[-1] + 1) // step) * step, part.stop)
        bounds.append((lo, hi, max(lo - margin, 0), min(hi + margin, n)))
    if all(lo == part.start and hi == part.stop for (lo, hi, _, _), part in zip(bounds, core, strict=True)):
        return tile
    return (tuple(slice(w0, w1) for _, _, w0, w1 in bounds), tuple(slice(lo, hi) for lo, hi, _, _ in bounds),
            tuple(slice(lo - w0, hi - w0) for lo, hi, w0, _ in bounds))


def apply_tiled(func, image, *, tile_size, margin, upscale=2, progress=False, batch_size=1, unused=None,
                multiple=1, channels=1):
    """
    Apply ``func`` to an image (or each image of a stack) tile by tile and assemble the output.

    Parameters
    ----------
    func : callable
        ``func(batch)`` with ``batch`` of shape ``(n, h, w, 1)`` float32, returning
        ``(n, upscale*h, upscale*w, channels)`` (e.g. a `~sunpy_enhance.models.LoadedModel`).
    image : `numpy.ndarray`
        2-D finite image in network units, or a stack of them ``(images, rows, cols)``: the tiles of all
        images go through the same batches.
    tile_size : int
        Largest kept core of a tile in input pixels (see `tile_slices`); memory scales with
        ``batch_size * (tile_size + 2 margin)²``.
    margin : int
        Overlap, at least the network's receptive radius for seam-free output.
    upscale : int, optional
        Output pixels per input pixel along each axis.
    progress : bool, optional
        Show a progress bar over tiles.
    batch_size : int, optional
        Tiles of the same window shape sent to ``func`` together (for accelerators; see
        `tiles_per_batch`). The result does not depend on it.
    unused : `numpy.ndarray` of bool, optional
        Pixels (rows, cols) whose output is not wanted (e.g. off the solar disk), the same for every image of
        a stack. Tiles whose core holds only such pixels are not computed and come out NaN: on a full-disk
        image this skips the corners. The others are computed over the bounding box of the used pixels of
        their core only (rounded out to 32 input pixels), the rest of the core coming out NaN: on a full disk
        this spares the network much of the sky (0.84 instead of 1.07 image pixels computed on a 4096²
        full disk with the default tile size).
    multiple : int, optional
        Windows start on multiples of this and have sizes that are (`tile_slices`); an image whose size is not
        one is first extended by reflection at its bottom and right (and the output cropped back). For
        networks that pool.
    channels : int, optional
        Channels of ``func``'s output. With 1 only the first channel is kept.

    Returns
    -------
    `numpy.ndarray`
        float32 output of shape ``(upscale*rows, upscale*cols)``, preceded by the images' axis for a stack and
        followed by one of length ``channels`` when ``channels > 1``.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim not in (2, 3):
        msg = f"apply_tiled takes an image (2-D) or a stack of images (3-D), not a {image.ndim}-D array."
        raise ValueError(msg)
    if batch_size < 1:
        msg = f"batch_size must be at least 1, not {batch_size}."
        raise ValueError(msg)
    stack = image if image.ndim == 3 else image[None]
    rows, cols = stack.shape[1:]
    extra = (-rows % multiple, -cols % multiple)
    if any(extra):
        stack = np.pad(stack, ((0, 0), (0, extra[0]), (0, extra[1])), mode="reflect")
        if unused is not None:
            unused = np.pad(unused, ((0, extra[0]), (0, extra[1])), mode="edge")
    s = upscale
    out = np.empty((stack.shape[0], stack.shape[1] * s, stack.shape[2] * s, channels), dtype=np.float32)
    tiles = tile_slices(stack.shape[1:], tile_size, margin, multiple=multiple)
    if unused is not None:
        # Tiles of unused pixels only are not computed; the others only over the used part of their core.
        margin = -(-margin // multiple) * multiple  # as tile_slices rounded it
        step = multiple * -(-_SHRINK_STEP // multiple)
        kept = []
        for tile in tiles:
            core = tile[1]
            computed = None if np.all(unused[core]) else _shrink(tile, unused, margin, step, stack.shape[1:])
            if computed is not None:
                kept.append(computed)
            if computed is None or computed[1] != core:  # what is left of the core is not computed
                out[:, core[0].start * s:core[0].stop * s, core[1].start * s:core[1].stop * s] = np.nan
        tiles = kept
    # batches of tiles whose windows have the same shape (border tiles are smaller)
    by_shape = {}
    for i in range(stack.shape[0]):
        for tile in tiles:
            window = tile[0]
            shape = (window[0].stop - window[0].start, window[1].stop - window[1].start)
            by_shape.setdefault(shape, []).append((i, tile))
    batches = [group[k:k + batch_size] for group in by_shape.values() for k in range(0, len(group), batch_size)]
    total = sum(len(batch) for batch in batches)
    bar = None
    if progress and total > 1:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="tiles", unit="tile")
    for batch in batches:
        results = np.asarray(func(np.stack([stack[i][window] for i, (window, _, _) in batch])[..., None]))
        for (i, (_, core, keep)), result in zip(batch, results[..., :channels], strict=True):
            out[i, core[0].start * s:core[0].stop * s, core[1].start * s:core[1].stop * s] = \
                result[keep[0].start * s:keep[0].stop * s, keep[1].start * s:keep[1].stop * s]
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()
    out = out[:, :rows * s, :cols * s]
    if channels == 1:
        out = out[..., 0]
    return out if image.ndim == 3 else out[0]
