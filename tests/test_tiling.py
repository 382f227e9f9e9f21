"""
Tiled inference equals whole-image inference.
"""
import numpy as np
import pytest

from sunpy_enhance.models import load_model
from sunpy_enhance.tiling import apply_tiled, tile_slices


@pytest.mark.parametrize(("shape", "tile", "margin"), [((100, 70), 32, 5), ((17, 200), 64, 0), ((5, 5), 8, 3)])
def test_cores_cover_the_image_exactly_once(shape, tile, margin):
    count = np.zeros(shape, dtype=int)
    for window, core, keep in tile_slices(shape, tile, margin):
        count[core] += 1
        # the kept part of the window is the core
        assert window[0].start + keep[0].start == core[0].start
        assert window[1].start + keep[1].stop == core[1].stop
        # inner edges have the full margin
        assert core[0].start - window[0].start in (0, margin) or window[0].start == 0
    assert np.all(count == 1)


@pytest.mark.parametrize(("shape", "tile", "grid"), [((1024, 1024), 768, (1, 2)), ((4096, 4096), 1024, (4, 4)),
                                                    ((4096, 4096), 768, (5, 6)), ((300, 200), 512, (1, 1))])
def test_tiles_respect_the_pixel_budget_with_least_overlap(shape, tile, grid):
    tiles = tile_slices(shape, tile, 16)
    assert len(tiles) == grid[0] * grid[1]
    assert all((c[0].stop - c[0].start) * (c[1].stop - c[1].start) <= tile * tile for _, c, _ in tiles)


def test_bad_tile_arguments():
    with pytest.raises(ValueError, match="tile_size"):
        tile_slices((10, 10), 0, 2)


def test_tiled_equals_whole_image_on_1024(tiny_enhance_models):
    net = load_model(tiny_enhance_models["continuum"])
    rng = np.random.default_rng(3)
    image = (0.04 * rng.standard_normal((1024, 1024))).astype(np.float32)
    whole = net(image[None, :, :, None])[0, :, :, 0]
    for tile in (200, 256, 384):
        tiled = apply_tiled(net, image, tile_size=tile, margin=16)
        assert np.max(np.abs(tiled - whole)) <= 1e-4


def test_too_small_margin_makes_seams(tiny_enhance_models):
    """The test above can fail: without enough overlap the tiles differ from the whole image."""
    net = load_model(tiny_enhance_models["continuum"])
    image = (0.04 * np.random.default_rng(4).standard_normal((96, 96))).astype(np.float32)
    whole = net(image[None, :, :, None])[0, :, :, 0]
    tiled = apply_tiled(net, image, tile_size=32, margin=2)
    assert np.max(np.abs(tiled - whole)) > 1e-4


def test_tiles_wholly_unused_are_skipped_and_nan():
    calls = []

    def upsample(batch):
        calls.append(batch.shape)
        return np.repeat(np.repeat(batch, 2, axis=1), 2, axis=2)

    image = np.arange(120 * 90, dtype=np.float32).reshape(120, 90)
    tiles = tile_slices(image.shape, 40, 4)
    first = tiles[0][1]  # the core of the first tile
    assert first[0].start == first[1].start == 0 and len(tiles) > 2
    unused = np.zeros(image.shape, dtype=bool)
    unused[first] = True  # exactly the first core
    unused[-3:, -3:] = True  # part of the last tile only: that tile is still computed
    out = apply_tiled(upsample, image, tile_size=40, margin=4, unused=unused)
    full = apply_tiled(upsample, image, tile_size=40, margin=4)
    assert len(calls) == 2 * len(tiles) - 1  # the second call computed all tiles, the first all but one
    skipped = (slice(0, 2 * first[0].stop), slice(0, 2 * first[1].stop))
    assert np.all(np.isnan(out[skipped]))
    keep = np.ones(out.shape, dtype=bool)
    keep[skipped] = False
    np.testing.assert_array_equal(out[keep], full[keep])


def test_tiles_over_the_limb_compute_only_their_part_of_the_disk(tiny_enhance_models, monkeypatch):
    """A tile partly off the disk runs the network over the disk's part of its core (+ margin) only."""
    from sunpy_enhance import tiling

    monkeypatch.setattr(tiling, "_SHRINK_STEP", 4)  # 32 on a 4096² full disk; this image is 10 times smaller
    net = load_model(tiny_enhance_models["continuum"])
    computed = []

    def counting(batch):
        computed.append(batch.shape[1] * batch.shape[2])
        return net(batch)

    rng = np.random.default_rng(5)
    image = (0.04 * rng.standard_normal((400, 400))).astype(np.float32)
    yy, xx = np.mgrid[:400, :400]
    unused = np.hypot(yy - 199.5, xx - 199.5) > 190  # a disk filling the image, as HMI's does
    whole = net(image[None, :, :, None])[0, :, :, 0]
    out = apply_tiled(counting, image, tile_size=128, margin=16, unused=unused)
    full = sum((w[0].stop - w[0].start) * (w[1].stop - w[1].start) for w, _, _ in tile_slices(image.shape, 128, 16))
    assert sum(computed) < 0.95 * full  # less work than before tiles were cut down (0.94 of it)
    used = np.repeat(np.repeat(~unused, 2, axis=0), 2, axis=1)
    assert np.all(np.isfinite(out[used]))
    assert np.max(np.abs(out[used] - whole[used])) <= 1e-4
    # what came out NaN is off the disk only, and part of it was still computed (tiles round out)
    assert np.all(~used[np.isnan(out)]) and np.isnan(out).any() and np.isfinite(out[~used]).any()


def test_accelerator_batches_give_the_same_result(tiny_enhance_models, monkeypatch):
    """On a GPU several tiles go to the network at once (sized to its memory); the output is the same."""
    from sunpy_enhance.enhance.api import enhance_array
    from sunpy_enhance.models import LoadedModel

    model = tiny_enhance_models["continuum"]
    image = 1 + 0.03 * np.random.default_rng(3).standard_normal((160, 160))
    assert load_model(model).accelerator_memory() is None  # no GPU here: one tile at a time
    one_by_one = enhance_array(image, kind="continuum", model=model, quiet_sun=1.0, tile_size=40)
    batches = []
    plain_call = LoadedModel.__call__

    def spy(self, batch):
        batches.append(batch.shape[0])
        return plain_call(self, batch)

    monkeypatch.setattr(LoadedModel, "accelerator_memory", lambda self, device=None: 2e8)
    monkeypatch.setattr(LoadedModel, "__call__", spy)
    batched = enhance_array(image, kind="continuum", model=model, quiet_sun=1.0, tile_size=40)
    assert max(batches) > 1
    np.testing.assert_allclose(batched, one_by_one, atol=1e-6)


@pytest.mark.parametrize(("shape", "tile", "margin", "multiple"), [((100, 70), 32, 5, 4), ((161, 97), 48, 32, 4),
                                                                   ((9, 13), 2, 3, 4), ((64, 64), 64, 8, 8)])
def test_windows_on_the_pooling_grid(shape, tile, margin, multiple):
    # networks that pool see every pixel at the same place of their grid, whatever the tiling
    count = np.zeros(shape, dtype=int)
    for window, core, keep in tile_slices(shape, tile, margin, multiple=multiple):
        count[core] += 1
        for axis in (0, 1):
            assert window[axis].start % multiple == 0 and core[axis].start % multiple == 0
            n = shape[axis]
            assert (window[axis].stop - window[axis].start) % multiple == 0 or window[axis].stop == n
            assert window[axis].start + keep[axis].start == core[axis].start
            # inner edges keep the margin (rounded up to the grid)
            assert core[axis].start == 0 or core[axis].start - window[axis].start >= margin
        cells = (core[0].stop - core[0].start) * (core[1].stop - core[1].start)
        assert cells <= max(tile // multiple, 1) ** 2 * multiple ** 2
    assert np.all(count == 1)
    assert tile_slices(shape, tile, margin, multiple=1) == tile_slices(shape, tile, margin)


def test_stacks_channels_and_pooling_networks():
    # a stand-in for a pooling network: 2x2 block means, repeated back (its output depends on the grid), and a
    # second channel; windows that are not multiples of 2 would raise here
    def pooled(batch):
        n, h, w, _ = batch.shape
        assert h % 2 == 0 and w % 2 == 0
        blocks = batch[..., 0].reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
        mean = np.repeat(np.repeat(blocks, 2, axis=1), 2, axis=2)
        return np.stack([mean, batch[..., 0] ** 2], axis=-1)

    rng = np.random.default_rng(5)
    stack = rng.standard_normal((3, 30, 41)).astype(np.float32)
    out = apply_tiled(pooled, stack, tile_size=8, margin=4, upscale=1, multiple=2, channels=2, batch_size=5)
    assert out.shape == (3, 30, 41, 2)
    np.testing.assert_array_equal(out[..., 1], stack ** 2)
    even = np.pad(stack, ((0, 0), (0, 0), (0, 1)), mode="reflect")  # 41 columns: extended by reflection
    np.testing.assert_allclose(out[..., 0], pooled(even[..., None])[..., :41, 0], rtol=1e-6)
    # one image at a time, one channel: the same numbers
    np.testing.assert_array_equal(apply_tiled(pooled, stack[1], tile_size=8, margin=4, upscale=1, multiple=2),
                                  out[1, ..., 0])
