"""
The one atomic writer: umask without races, unpredictable temporary names, no partial files.
"""
import json
import os
import stat
import threading

import pytest

from sunpy_enhance.sample import synthetic_hmi_map


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield 0o027
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_writes_follow_the_umask_without_changing_it(tmp_path, umask_027, monkeypatch):
    from sunpy_enhance.io import save_map_atomic

    changes = []

    def no_umask(mask):  # os.umask changes the mask of every thread: the package must never call it
        changes.append((threading.current_thread().name, mask))
        raise AssertionError(f"os.umask({mask:#o}) called")

    monkeypatch.setattr(os, "umask", no_umask)
    path = save_map_atomic(synthetic_hmi_map("magnetogram", shape=(16, 16)), tmp_path / "m.fits")
    assert changes == []
    assert _mode(path) == 0o640


def test_file_umask_from_proc_and_from_a_probe_file(umask_027):
    from sunpy_enhance import io

    assert io.file_umask() == 0o027
    assert io.write._umask_from_probe() == 0o026  # only the bits a 0o666 file can show


def test_temporary_names_are_unpredictable(tmp_path):
    # a symlink planted under the temporary name a writer would use must not redirect its write
    from sunpy_enhance.net import exports

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    manifest = tmp_path / ".jsoc-exports" / "abc.json"
    manifest.parent.mkdir()
    for guess in (f"abc.json.{os.getpid()}.tmp", ".abc.json.tmp", "abc.json.tmp"):
        (manifest.parent / guess).symlink_to(victim)
    exports._write_json_atomically(manifest, {"request_ids": ["JSOC_1"], "files": []})
    assert victim.read_text() == "precious"
    assert json.loads(manifest.read_text())["request_ids"] == ["JSOC_1"]
    assert not manifest.is_symlink()


@pytest.mark.parametrize("overwrite", [True, False])
def test_writer_that_raises_midway_leaves_nothing_under_the_final_name(tmp_path, overwrite):
    from sunpy_enhance.io import atomic_write

    target = tmp_path / "result.fits"
    if overwrite:
        target.write_text("previous")

    def writer(tmp):
        tmp.write_text("half a file")
        raise KeyboardInterrupt  # Ctrl-C in the middle of writing

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, writer, overwrite=overwrite)
    assert sorted(p.name for p in tmp_path.iterdir()) == (["result.fits"] if overwrite else [])
    if overwrite:
        assert target.read_text() == "previous"


def test_save_fits_atomic_and_no_clobber(tmp_path):
    import numpy as np
    from astropy.io import fits

    from sunpy_enhance.io import save_fits_atomic, save_map_atomic

    path = save_fits_atomic(fits.HDUList([fits.PrimaryHDU(np.ones((4, 4), np.float32))]), tmp_path / "a.fits")
    assert fits.getdata(path).shape == (4, 4)
    with pytest.raises(FileExistsError, match="overwrite"):
        save_fits_atomic(fits.HDUList([fits.PrimaryHDU(np.zeros(2))]), path)
    with pytest.raises(FileExistsError, match="overwrite"):
        save_map_atomic(synthetic_hmi_map("magnetogram", shape=(8, 8)), path)
    assert fits.getdata(path).shape == (4, 4)


# -- reading: the one home of the package's file reads -------------------------------------------------------
def test_read_map_checks_the_file_before_sunpy_reads_it(tmp_path):
    import numpy as np
    from astropy.io import fits
    from jsoc_server import write_hmi_file

    from sunpy_enhance.io import CorruptFileError, read_map

    good = write_hmi_file(tmp_path, "hmi.M_45s", size=32)  # Rice-compressed, as JSOC exports it
    smap = read_map(good)
    assert smap.data.shape == (32, 32) and smap.meta["t_rec"].startswith("2014.03.01")
    with pytest.raises(FileNotFoundError, match="missing.fits: no such file"):
        read_map(tmp_path / "missing.fits")
    truncated = tmp_path / "truncated.fits"
    truncated.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(CorruptFileError, match="truncated.fits is truncated.*; download it again"):
        read_map(truncated)
    headerless = tmp_path / "headerless.fits"
    fits.PrimaryHDU(np.ones((8, 8), np.float32)).writeto(headerless)
    with pytest.raises(ValueError, match=r"headerless.fits cannot be read as a map \(MapMetaValidationError"):
        read_map(headerless)
    two = tmp_path / "two.fits"
    header = smap.fits_header
    header.remove("BLANK", ignore_missing=True)  # the data are float now
    fits.HDUList([fits.PrimaryHDU(), *(fits.ImageHDU(smap.data, header) for _ in range(2))]).writeto(two)
    with pytest.raises(ValueError, match="two.fits holds 2 images; one HMI image per file is needed"):
        read_map(two)


def test_read_array_from_fits_npy_and_hdf5(tmp_path):
    import h5py
    import numpy as np
    from astropy.io import fits
    from jsoc_server import write_hmi_file

    from sunpy_enhance.io import read_array

    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "a.npy", image[None])  # a length-1 axis is dropped
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(image)]).writeto(tmp_path / "a.fits")
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["image"] = image
    for name in ("a.npy", "a.fits", "a.h5"):
        data = read_array(tmp_path / name)
        assert data.dtype == np.float64
        np.testing.assert_array_equal(data, image)
    rice = read_array(write_hmi_file(tmp_path, "hmi.M_45s", size=16), allow_nan=True)
    assert rice.shape == (16, 16)

    with h5py.File(tmp_path / "two.h5", "w") as f:
        f["a"], f["b"] = image, image
    with pytest.raises(ValueError, match=r"holds datasets \['a', 'b'\]; say which one with key="):
        read_array(tmp_path / "two.h5")
    np.testing.assert_array_equal(read_array(tmp_path / "two.h5", key="b"), image)
    np.save(tmp_path / "cube.npy", np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"holds an array of shape \(2, 3, 4\); a 2-D image is needed"):
        read_array(tmp_path / "cube.npy")
    fits.PrimaryHDU().writeto(tmp_path / "empty.fits")
    with pytest.raises(ValueError, match="empty.fits has no image data"):
        read_array(tmp_path / "empty.fits")
    image[0, 0] = np.nan
    np.save(tmp_path / "nan.npy", image)
    with pytest.raises(ValueError, match="has non-finite pixels"):
        read_array(tmp_path / "nan.npy")
    assert np.isnan(read_array(tmp_path / "nan.npy", allow_nan=True)[0, 0])


def test_read_data_any_shape_with_its_header(tmp_path):
    import numpy as np
    from astropy.io import fits

    from sunpy_enhance.io import read_data

    cube = np.random.default_rng(0).normal(size=(1, 4, 2, 8, 8)).astype(np.float32)
    np.save(tmp_path / "c.npy", cube)
    data, header = read_data(tmp_path / "c.npy")
    assert isinstance(data, np.memmap) and header is None  # large cubes are not loaded at once
    np.testing.assert_array_equal(data, cube)
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(cube, fits.Header({"OBSERVER": "me"}))]).writeto(tmp_path / "c.fits")
    data, header = read_data(tmp_path / "c.fits")
    np.testing.assert_array_equal(data, cube)
    assert header["OBSERVER"] == "me"
    fits.PrimaryHDU().writeto(tmp_path / "empty.fits")
    with pytest.raises(ValueError, match="empty.fits has no data"):
        read_data(tmp_path / "empty.fits")
    with pytest.raises(ValueError, match=r"Cannot read a cube from .*c.txt: use .npy or FITS"):
        read_data(tmp_path / "c.txt")


def test_read_header_and_tile_compression_without_reading_the_data(tmp_path):
    import numpy as np
    from astropy.io import fits
    from jsoc_server import write_hmi_file

    from sunpy_enhance.io import read_header, tile_compression

    rice = write_hmi_file(tmp_path, "hmi.Ic_45s", size=16)
    assert tile_compression(rice) == "RICE_1"
    header = read_header(rice)  # the image's header, not the empty primary HDU's
    assert header["CONTENT"] == "CONTINUUM INTENSITY" and header["NAXIS1"] == 16
    plain = tmp_path / "plain.fits"
    fits.PrimaryHDU(np.ones((4, 4), np.float32), fits.Header({"CTYPE1": "HPLN-TAN"})).writeto(plain)
    assert tile_compression(plain) is None and read_header(plain)["CTYPE1"] == "HPLN-TAN"
    np.save(tmp_path / "a.npy", np.ones((4, 4)))
    assert tile_compression(tmp_path / "a.npy") is None
    fits.PrimaryHDU().writeto(tmp_path / "empty.fits")
    with pytest.raises(ValueError, match="empty.fits has no data"):
        read_header(tmp_path / "empty.fits")


def test_the_readers_of_the_package_are_those_of_io(tmp_path):
    import numpy as np

    from sunpy_enhance import io
    from sunpy_enhance.denoise import training as denoise_training
    from sunpy_enhance.enhance import training

    assert training.read_array is io.read_array  # the training APIs' names, kept
    assert denoise_training.read_images is io.read_images
    np.save(tmp_path / "c.npy", np.ones((2, 4, 4)))
    data, header = io.read_data(tmp_path / "c.npy")
    assert header is None and data.shape == (2, 4, 4)


def test_read_images_and_read_array_read_the_same_files(tmp_path):
    """One reader behind both: a stack for training, one 2-D image for frames, from every supported format."""
    import h5py
    import numpy as np
    from astropy.io import fits

    from sunpy_enhance.io import read_array, read_images

    stack = np.arange(2 * 5 * 6, dtype=np.float64).reshape(2, 5, 6)
    np.save(tmp_path / "s.npy", stack)
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(stack)]).writeto(tmp_path / "s.fits")  # first HDU without data
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f["cube"] = stack
    for name in ("s.npy", "s.fits", "s.h5"):
        images = read_images(tmp_path / name)
        assert images.dtype == np.float32 and images.shape == (2, 5, 6)
        np.testing.assert_array_equal(images, stack)
        with pytest.raises(ValueError, match=r"shape \(2, 5, 6\); a 2-D image is needed"):
            read_array(tmp_path / name)
    np.save(tmp_path / "one.npy", stack[:1])
    image = read_array(tmp_path / "one.npy")
    assert image.dtype == np.float64 and image.shape == (5, 6)
    assert read_images(tmp_path / "one.npy").shape == (1, 5, 6)
    (tmp_path / "s.txt").write_text("1 2 3")
    for reader in (read_images, read_array):
        with pytest.raises(ValueError, match=r"Cannot read .*s.txt: use .npy, FITS .* HDF5 .* IDL save"):
            reader(tmp_path / "s.txt")


# -- tile compression of outputs ----------------------------------------------------------------------------------
def _float_image():
    import numpy as np

    rng = np.random.default_rng(3)
    image = (rng.normal(0, 10, (64, 48)) + np.linspace(-500, 500, 48)).astype(np.float32)
    image[:4, :6] = np.nan  # off-disk pixels
    image[10, 10] = 0.0
    return image


def test_gzip_is_lossless_for_floats_and_rice_is_not(tmp_path):
    import numpy as np
    from astropy.io import fits

    from sunpy_enhance.io import image_hdu, save_fits_atomic, tile_compression

    image = _float_image()
    for compression, zcmptype in ((None, None), ("gzip", "GZIP_2"), ("rice", "RICE_1")):
        path = save_fits_atomic([image_hdu(image, fits.Header({"BUNIT": "G"}), compression)],
                                tmp_path / f"{compression}.fits")
        assert tile_compression(path) == zcmptype
        back = fits.getdata(path)  # astropy finds the image, compressed or not
        assert back.dtype.kind == "f" and back.shape == image.shape
        assert fits.getheader(path, 1 if compression else 0)["BUNIT"] == "G"
        if compression == "rice":  # quantized to 1/16 of the noise (10 G): lossy, but by far less than the noise
            assert not np.array_equal(back, image, equal_nan=True)
            assert np.nanmax(np.abs(back - image)) < 10 / 16
            assert np.array_equal(np.isnan(back), np.isnan(image)) and back[10, 10] == 0.0
        else:  # every bit kept, NaN included
            assert np.array_equal(back.view(np.uint32), image.astype(back.dtype).view(np.uint32))
    turned = np.rot90(image)  # a view, not in C order (as enhance_map's output turned back from north up)
    for compression in ("gzip", "rice"):
        path = save_fits_atomic([image_hdu(turned, compression=compression)], tmp_path / f"turned-{compression}.fits")
        np.testing.assert_allclose(fits.getdata(path), turned, atol=10 / 16)
    counts = np.arange(64 * 48, dtype=np.int32).reshape(64, 48)  # integers: Rice is lossless
    path = save_fits_atomic([image_hdu(counts, compression="rice")], tmp_path / "int.fits")
    np.testing.assert_array_equal(fits.getdata(path), counts)
    with pytest.raises(ValueError, match="compression must be None, 'gzip' or 'rice', not 'zip'"):
        image_hdu(image, compression="zip")


def test_output_compression_keeps_the_inputs(tmp_path):
    import numpy as np
    from astropy.io import fits
    from jsoc_server import write_hmi_file

    from sunpy_enhance.io import output_compression

    rice = write_hmi_file(tmp_path, "hmi.M_45s", size=16)
    plain = tmp_path / "plain.fits"
    fits.PrimaryHDU(np.ones((4, 4), np.float32)).writeto(plain)
    assert output_compression("keep", rice) == "gzip"  # lossless: Rice cannot keep float32 exactly
    assert output_compression("keep", plain) is None
    assert output_compression("keep", None) is None  # no input file (the synthetic sample)
    assert output_compression("none", rice) is None
    assert output_compression("rice", plain) == "rice" and output_compression("gzip", None) == "gzip"
    with pytest.raises(ValueError, match=r"compression must be one of \('keep', 'none', 'gzip', 'rice'\)"):
        output_compression("lossless", rice)


def test_save_map_atomic_compressed_round_trip(tmp_path):
    import astropy.units as u
    import numpy as np
    import sunpy.map

    from sunpy_enhance.io import read_map, save_map_atomic, tile_compression

    smap = synthetic_hmi_map("magnetogram", shape=(32, 40))
    path = save_map_atomic(smap, tmp_path / "m.fits", compression="gzip")
    assert tile_compression(path) == "GZIP_2"
    back = read_map(path)
    assert isinstance(back, sunpy.map.GenericMap)
    np.testing.assert_array_equal(back.data, smap.data)
    assert back.meta["telescop"] == smap.meta["telescop"]
    here = smap.pixel_to_world(3 * u.pix, 7 * u.pix)
    assert here.separation(back.pixel_to_world(3 * u.pix, 7 * u.pix)) < 1e-6 * u.arcsec
    with pytest.raises(ValueError, match="compression must be"):
        save_map_atomic(smap, tmp_path / "n.fits", compression="RICE_1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.fits"]
