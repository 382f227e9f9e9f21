"""
Batch enhancement on a Dask LocalCluster (2 worker processes): same outputs as the serial path, failures
retried then reported while the rest finish, re-runs skip, one model load per worker, the CLI.
"""
import importlib.util
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from jsoc_server import write_hmi_file

from sunpy_enhance.batch import _close, _local_threads, default_workers, enhance_batch, local_client
from sunpy_enhance.cli import main
from sunpy_enhance.exceptions import SunpyEnhanceUserWarning
from sunpy_enhance.files import enhance_files, output_path
from sunpy_enhance.io import tile_compression

TIMES = ["2014-03-01T00:00:00", "2014-03-01T00:00:45", "2014-03-01T00:01:30", "2014-03-01T00:02:15"]


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes with one TensorFlow thread each (as on a 2-core machine)."""
    with local_client(2, intra_op_threads=1) as c:
        yield c
        c.cluster.close()


@pytest.fixture
def magnetograms(tmp_path):
    return [write_hmi_file(tmp_path / "in", "hmi.M_45s", t, size=40) for t in TIMES]


def _load_counts(client):
    """Per worker: how many times a model was actually built (cache misses) and reused (hits)."""
    def counts():
        from sunpy_enhance.models import _load

        info = _load.cache_info()
        return info.misses, info.hits

    return client.run(counts)


def test_dask_outputs_identical_to_serial(tmp_path, magnetograms, client, tiny_enhance_models):
    model = tiny_enhance_models["magnetogram"]
    serial = enhance_files(magnetograms, tmp_path / "serial", model=model)
    seen = []
    dask = enhance_batch(magnetograms, tmp_path / "dask", client=client, model=model, callback=seen.append)
    assert [r.status for r in serial] == ["done"] * 4
    assert [r.status for r in dask] == ["done"] * 4
    assert sorted(seen, key=lambda r: r.source) == sorted(dask, key=lambda r: r.source)
    # records in input order, naming the inputs as given
    assert [r.source for r in dask] == [str(p) for p in magnetograms]
    # the inputs are Rice-compressed (as JSOC's): both outputs are compressed too, losslessly
    assert {tile_compression(p) for p in serial.outputs + dask.outputs} == {"GZIP_2"}
    for a, b in zip(serial.maps(), dask.maps(), strict=True):
        assert a.data.shape == (80, 80)
        np.testing.assert_array_equal(a.data, b.data)  # bit for bit
        for key in ("enhsrc", "enhmodel", "enhver", "crpix1", "crval2", "cdelt1", "t_rec"):
            assert a.meta[key] == b.meta[key]
    # both workers took part, and each built the model once however many files it enhanced
    counts = _load_counts(client)
    assert len(counts) == 2
    assert all(misses == 1 for misses, _ in counts.values()), counts
    assert sum(hits for _, hits in counts.values()) >= 2
    # one inference thread per worker, as asked, on the default engine (ONNX Runtime on this CPU)
    def engine_threads():
        from sunpy_enhance.models import load_model

        net = load_model(model)
        return net.engine, net._session.get_session_options().intra_op_num_threads

    assert set(client.run(engine_threads).values()) == {("onnxruntime", 1)}


def test_failing_file_is_retried_then_reported_and_rerun_skips(tmp_path, magnetograms, client, tiny_enhance_models):
    model = tiny_enhance_models["magnetogram"]
    corrupt = tmp_path / "in" / "corrupt.fits"
    corrupt.write_bytes(magnetograms[0].read_bytes()[:4000])
    inputs = [magnetograms[0], corrupt, magnetograms[1], tmp_path / "in" / "missing.fits"]
    out = tmp_path / "out"
    report = enhance_batch(inputs, out, client=client, retries=2, model=model)
    assert [r.status for r in report] == ["done", "failed", "done", "failed"]
    assert report[1].attempts == 3 and report[3].attempts == 3
    assert report[0].attempts == 1
    assert "corrupt.fits is truncated" in report[1].reason
    assert "no such file" in report[3].reason
    assert "FAILED corrupt.fits (3 attempts): CorruptFileError" in str(report)
    assert not report.ok
    # only complete outputs, nothing partial left behind
    assert sorted(p.name for p in out.iterdir()) == sorted(output_path(p, ".").name for p in magnetograms[:2])
    stamps = {p: os.stat(p).st_mtime_ns for p in report.outputs}

    again = enhance_batch(inputs[:3], out, client=client, retries=0, model=model)
    assert [r.status for r in again] == ["skipped", "failed", "skipped"]
    assert again[1].attempts == 1
    assert {p: os.stat(p).st_mtime_ns for p in again.outputs} == stamps  # not rewritten


def test_scheduler_address(tmp_path, magnetograms, client, tiny_enhance_models):
    """A scheduler address (how a multi-machine cluster is used) runs the same code; the caller's client stays."""
    model = tiny_enhance_models["magnetogram"]
    report = enhance_batch(magnetograms[:2], tmp_path / "out", client=client.scheduler.address, retries=1,
                           model=model)
    assert [r.status for r in report] == ["done", "done"]
    assert client.status == "running"
    with pytest.raises(ValueError, match="local cluster only"):
        enhance_batch(magnetograms, tmp_path / "x", client=client, n_workers=3, model=model)


def test_plain_outputs_on_request_and_bad_compression_before_any_cluster(tmp_path, magnetograms, client,
                                                                          tiny_enhance_models):
    report = enhance_batch(magnetograms[:2], tmp_path / "out", client=client, compression="none",
                           model=tiny_enhance_models["magnetogram"])
    assert [tile_compression(p) for p in report.outputs] == [None, None]
    with pytest.raises(ValueError, match="compression must be one of"):
        enhance_batch(magnetograms, tmp_path / "bad", client="tcp://127.0.0.1:1", compression="bzip2")


def test_bad_scheduler_address(tmp_path, magnetograms, monkeypatch):
    monkeypatch.setattr("sunpy_enhance.batch.CONNECT_TIMEOUT", "2s")
    with pytest.raises(OSError, match="Cannot reach the Dask scheduler"):
        enhance_batch(magnetograms, tmp_path / "x", client="tcp://127.0.0.1:1")


def test_serial_retries(tmp_path, tiny_enhance_models):
    missing = tmp_path / "missing.fits"
    report = enhance_files([missing], tmp_path / "out", retries=1, model=tiny_enhance_models["magnetogram"])
    assert report[0].status == "failed" and report[0].attempts == 2


def test_cli_batch(tmp_path, magnetograms, client, tiny_enhance_models, capsys):
    model = str(tiny_enhance_models["magnetogram"])
    out = tmp_path / "out"
    # a directory as input; the existing cluster by address
    assert main(["batch", str(tmp_path / "in"), "--output-dir", str(out), "--model", model,
                 "--scheduler", client.scheduler.address]) == 0
    captured = capsys.readouterr()
    assert "4 files: 4 enhanced, 0 already done, 0 failed" in captured.out
    assert "[4/4] done" in captured.err
    assert sorted(p.name for p in out.iterdir()) == sorted(output_path(p, ".").name for p in magnetograms)
    # run again, serially, with one bad file: the others are skipped, the bad one fails, exit status 1
    bad = tmp_path / "bad.fits"
    bad.write_bytes(b"not a FITS file")
    assert main(["batch", *map(str, magnetograms), str(bad), "--output-dir", str(out), "--model", model, "--serial",
                 "--retries", "0"]) == 1
    captured = capsys.readouterr()
    assert "5 files: 0 enhanced, 4 already done, 1 failed" in captured.out
    assert "FAILED bad.fits" in captured.out
    assert main(["batch", str(tmp_path / "nothing"), "--output-dir", str(out)]) == 1
    assert "no such file or directory" in capsys.readouterr().err


def test_worker_sizing():
    assert default_workers() >= 1
    assert default_workers(memory_per_worker=1e18) == 1  # memory-bound
    assert _local_threads(1) == len(os.sched_getaffinity(0))
    assert _local_threads(10**6) == 1


def test_tiled_batches_equal_single_tiles(tiny_enhance_models):
    """Batching equal-shaped tiles (for GPUs) gives the same image as one tile at a time."""
    from sunpy_enhance.models import load_model
    from sunpy_enhance.tiling import apply_tiled, tiles_per_batch

    net = load_model(tiny_enhance_models["continuum"])
    image = (0.04 * np.random.default_rng(5).standard_normal((160, 200))).astype(np.float32)
    calls = []

    def counting(batch):
        calls.append(batch.shape)
        return net(batch)

    single = apply_tiled(net, image, tile_size=40, margin=16)
    batched = apply_tiled(counting, image, tile_size=40, margin=16, batch_size=4)
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert max(shape[0] for shape in calls) == 4
    n_tiles = 4 * 5
    assert sum(shape[0] for shape in calls) == n_tiles and len(calls) < n_tiles
    assert tiles_per_batch((1056, 1056), 1e6) == 1
    with pytest.raises(ValueError, match="batch_size"):
        apply_tiled(net, image, tile_size=40, margin=16, batch_size=0)



def test_bfloat16_batch_identical_to_serial(tmp_path, magnetograms, client, tiny_enhance_models):
    """
    precision="bfloat16" runs on the workers as in this process: in bfloat16 where the hardware has it,
    otherwise (this AVX2 CPU) in float32, as the history says.
    """
    from sunpy_enhance.models import native_bfloat16

    model = tiny_enhance_models["magnetogram"]
    with warnings.catch_warnings():  # without native bfloat16: one warning, float32
        warnings.simplefilter("ignore", SunpyEnhanceUserWarning)
        serial = enhance_files(magnetograms[:2], tmp_path / "serial", model=model, precision="bfloat16")
    dask = enhance_batch(magnetograms[:2], tmp_path / "dask", client=client, model=model, precision="bfloat16")
    f32 = enhance_files(magnetograms[:1], tmp_path / "f32", model=model)
    native = native_bfloat16()
    for a, b in zip(serial.maps(), dask.maps(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
        assert ("(bfloat16, " if native else "(float32, ") in str(b.meta["history"]).replace("\n", "")
    difference = np.abs(serial.maps()[0].data - f32.maps()[0].data)
    if native:
        assert 0 < difference.max() < 50  # G: rounded differently, but the same image
    else:
        assert difference.max() == 0


def test_keras_model_runs_on_jax_backend(tmp_path, tiny_enhance_models):
    """
    Where TensorFlow is absent (e.g. GPU machines with only JAX), the bundled Keras weights run on Keras 3's
    JAX backend: same output as the TensorFlow SavedModel, also with batched tiles.
    """
    if importlib.util.find_spec("jax") is None:
        pytest.skip("JAX is not installed")
    from sunpy_enhance.models import load_model
    from sunpy_enhance.tiling import apply_tiled

    model = tiny_enhance_models["continuum"]
    image = (0.04 * np.random.default_rng(6).standard_normal((90, 100))).astype(np.float32)
    np.save(tmp_path / "in.npy", image)
    script = (
        "import sys, numpy as np, keras\n"
        "assert keras.backend.backend() == 'jax', keras.backend.backend()\n"
        "from sunpy_enhance.models import load_model\n"
        "from sunpy_enhance.tiling import apply_tiled\n"
        "net = load_model(sys.argv[1], engine='jax')\n"
        "assert net.keras_model is not None\n"
        "image = np.load(sys.argv[2])\n"
        "np.save(sys.argv[3], apply_tiled(net, image, tile_size=40, margin=16, batch_size=3))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", script, str(model), str(tmp_path / "in.npy"),
                           str(tmp_path / "out.npy")], env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    on_jax = np.load(tmp_path / "out.npy")
    on_tf = apply_tiled(load_model(model, engine="tensorflow"), image, tile_size=40, margin=16)
    assert on_jax.shape == (180, 200)
    np.testing.assert_allclose(on_jax, on_tf, atol=1e-5)


def test_a_failing_shutdown_is_logged_not_raised(caplog):
    """A cluster that times out while shutting down must not replace the batch's report by an error."""
    class SlowToClose:
        class cluster:  # stands for a LocalCluster
            @staticmethod
            def close():
                raise TimeoutError("workers did not stop in time")

        def close(self):
            pass

    with caplog.at_level("WARNING", logger="sunpy_enhance.batch"):
        _close(SlowToClose())
    assert "did not shut down cleanly" in caplog.text
