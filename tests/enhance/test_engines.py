"""
Inference engines (ONNX Runtime, TensorFlow, Keras on JAX): every engine available here agrees with the
Keras SavedModel reference, the export writes and records model.onnx, ``"auto"`` picks the engine for the
machine, and bfloat16 is used only where the hardware computes it natively.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

from sunpy_enhance import models
from sunpy_enhance.cli import main
from sunpy_enhance.enhance.api import enhance_array, enhance_map
from sunpy_enhance.enhance.normalize import quiet_sun_level
from sunpy_enhance.exceptions import SunpyEnhanceUserWarning
from sunpy_enhance.models import (
    EMULATE_BFLOAT16_ENV,
    ENGINES,
    THREADS_ENV,
    LoadedModel,
    inference_threads,
    load_model,
    model_directory,
    native_bfloat16,
    read_card,
    resolve_engine,
)
from sunpy_enhance.sample import synthetic_hmi_map

KINDS = ("continuum", "magnetogram")
#: Agreement required between an engine and the Keras SavedModel, in network units: 1e-5, plus 3e-5 of the
#: value. The relative part matters only in sunspot umbrae (about -0.85 for continuum), where float32 rounding
#: through the network's 13 layers reaches 1e-5 by itself, and how far depends on the CPU's kernels. Against a
#: float64 evaluation of the same weights, on one AVX-512 machine: SavedModel 7.6e-6, ONNX Runtime 4.6e-6, Keras on
#: JAX 1.4e-5; on another (AMD EPYC, AVX-512 with BF16): SavedModel 2.2e-5 at an umbral pixel on the edge of a
#: tile (-0.86), ONNX Runtime 6.3e-6. Elsewhere the engines agree to better than 1e-5.
TOLERANCE = 1e-5
RTOL = 3e-5

# Keras on JAX runs in its own process (the Keras backend is chosen once per process). It loads every model
# given with engine="jax" and, for the last check, resolves "auto" in a process without TensorFlow and
# ONNX Runtime (sys.modules entries set to None make them unimportable).
_JAX_SCRIPT = r"""
import json, sys
import numpy as np
inputs = np.load(sys.argv[1])
models_ = json.loads(sys.argv[2])
sys.modules["tensorflow"] = None
sys.modules["onnxruntime"] = None
from sunpy_enhance.models import load_model, resolve_engine
out = {}
for key, directory in models_.items():
    out[key] = load_model(directory, engine="jax")(inputs[key])
first = next(iter(models_.values()))
assert resolve_engine("auto", first) == "jax", resolve_engine("auto", first)
assert load_model(first).engine == "jax"
import keras
assert keras.backend.backend() == "jax", keras.backend.backend()
np.savez(sys.argv[3], **out)
"""


def _network_input(kind, directory, shape=(96, 96)):
    """The package's synthetic HMI sample (a sunspot or a bipole) in the model's network units."""
    data = synthetic_hmi_map(kind, shape=shape, seed=3).data.astype(np.float32)
    norm = read_card(directory)["normalisation"]
    physical = data / quiet_sun_level(data) if kind == "continuum" else data
    return ((physical - norm["offset"]) / norm["scale"]).astype(np.float32)[None, :, :, None]


@pytest.fixture(scope="module")
def model_dirs(tiny_enhance_models):
    """Every Enhance model to check: the bundled ones and the tiny ones trained (and exported) by the tests."""
    dirs = {f"bundled-{kind}": model_directory(f"enhance-{kind}") for kind in KINDS}
    dirs.update({f"tiny-{kind}": tiny_enhance_models[kind] for kind in KINDS})
    return dirs


@pytest.fixture(scope="module")
def jax_outputs(model_dirs, tmp_path_factory):
    """Outputs of every model run by Keras on JAX in a subprocess (None when JAX is not installed)."""
    if importlib.util.find_spec("jax") is None:
        return None
    tmp = tmp_path_factory.mktemp("jax_engine")
    inputs = {key: _network_input(key.split("-")[1], d) for key, d in model_dirs.items()}
    np.savez(tmp / "in.npz", **inputs)
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(JAX_PLATFORMS="cpu", PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-c", _JAX_SCRIPT, str(tmp / "in.npz"),
                           json.dumps({k: str(v) for k, v in model_dirs.items()}), str(tmp / "out.npz")],
                          env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(np.load(tmp / "out.npz"))


@pytest.mark.parametrize("key", ["bundled-continuum", "bundled-magnetogram", "tiny-continuum", "tiny-magnetogram"])
def test_every_engine_agrees_with_the_saved_model(key, model_dirs, jax_outputs):
    directory = model_dirs[key]
    x = _network_input(key.split("-")[1], directory)
    reference = LoadedModel(directory, "float32", "tensorflow")  # the Keras SavedModel
    assert reference.keras_model is None and hasattr(reference, "_saved")
    expected = reference(x)
    assert expected.shape == (1, 192, 192, 1)
    on_onnx = load_model(directory, engine="onnxruntime")
    assert on_onnx.engine == "onnxruntime" and on_onnx.keras_model is None
    np.testing.assert_allclose(on_onnx(x), expected, rtol=RTOL, atol=TOLERANCE)
    pair = np.concatenate([x[:, :40, :52], x[:, 50:90, 30:82]])  # dynamic batch, non-square
    np.testing.assert_allclose(on_onnx(pair), reference(pair), rtol=RTOL, atol=TOLERANCE)
    # the TensorFlow engine through Keras (as for bfloat16), not only through the SavedModel
    keras_graph = LoadedModel(directory, "float32", "tensorflow")
    keras_graph._build_keras()
    np.testing.assert_allclose(np.asarray(keras_graph._keras_call(x)), expected, rtol=RTOL, atol=TOLERANCE)
    if jax_outputs is not None:
        np.testing.assert_allclose(jax_outputs[key], expected, rtol=RTOL, atol=TOLERANCE)


@pytest.mark.parametrize("kind", KINDS)
def test_engines_agree_end_to_end(kind):
    """Through enhance_array (NaN filling, tiling, consistency step): ONNX Runtime and TensorFlow agree."""
    smap = synthetic_hmi_map(kind, shape=(80, 120), seed=4)
    data = smap.data.astype(np.float32)
    data[5:9, 30:40] = np.nan
    scale = read_card(f"enhance-{kind}")["normalisation"]["scale"]
    outs = {engine: enhance_array(data, kind=kind, engine=engine, tile_size=48)
            for engine in ("onnxruntime", "tensorflow")}
    np.testing.assert_array_equal(np.isnan(outs["onnxruntime"]), np.isnan(outs["tensorflow"]))
    assert np.nanmax(np.abs(outs["onnxruntime"] - outs["tensorflow"])) / scale < 2 * TOLERANCE
    default = enhance_array(data, kind=kind, tile_size=48)
    np.testing.assert_array_equal(default, outs["onnxruntime"])  # auto is ONNX Runtime on this CPU


@pytest.mark.parametrize("key", ["bundled-continuum", "bundled-magnetogram", "tiny-continuum", "tiny-magnetogram"])
def test_card_records_the_onnx_export(key, model_dirs):
    directory = model_dirs[key]
    record = read_card(directory)["onnx"]
    assert record["file"] == "model.onnx" and (directory / "model.onnx").is_file()
    assert record["opset"] == 17
    assert record["converter"].startswith("sunpy_enhance.enhance.onnx_graph ")  # written directly, not by tf2onnx
    assert record["onnxruntime_checked"].count(".") >= 1  # a version
    assert 0 <= record["max_abs_difference_to_keras"] < TOLERANCE
    import onnx

    graph = onnx.load(str(directory / "model.onnx")).graph
    dims = graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", "height", "width", 1]
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_unknown_engine_is_refused(tiny_enhance_models):
    model = tiny_enhance_models["continuum"]
    for call in (lambda: load_model(model, engine="nonsense"),
                 lambda: resolve_engine("nonsense", model),
                 lambda: enhance_array(np.zeros((20, 20), np.float32) + 1, kind="continuum", model=model,
                                       engine="nonsense")):
        with pytest.raises(ValueError, match="'auto', 'onnxruntime', 'tensorflow', 'jax'") as info:
            call()
        assert "nonsense" in str(info.value)
    with pytest.raises(SystemExit):  # argparse: invalid choice
        main(["enhance", "--sample", "continuum", "-o", "x.fits", "--engine", "nonsense"])


def test_auto_engine_choice(tmp_path, tiny_enhance_models, monkeypatch):
    model = tiny_enhance_models["continuum"]
    assert ENGINES == ("auto", "onnxruntime", "tensorflow", "jax")
    # this machine: a CPU, no GPU
    assert resolve_engine("auto", model) == "onnxruntime"
    assert load_model(model).engine == "onnxruntime"
    assert resolve_engine("tensorflow", model) == "tensorflow"
    # a model without model.onnx (e.g. exported on a JAX machine) runs on TensorFlow
    bare = tmp_path / "no-onnx"
    shutil.copytree(model, bare)
    (bare / "model.onnx").unlink()
    assert resolve_engine("auto", bare) == "tensorflow"
    assert load_model(bare).engine == "tensorflow"
    with pytest.raises(ValueError, match="export-onnx"):
        load_model(bare, engine="onnxruntime")
    # on a GPU: ONNX Runtime's CUDA provider when installed, otherwise TensorFlow, or JAX when Keras runs on it
    monkeypatch.setattr(models, "_gpu_visible", lambda: True)
    monkeypatch.setattr(models, "_onnxruntime_cuda", lambda: False)
    assert resolve_engine("auto", model) == "tensorflow"
    assert resolve_engine("auto", model, device="cpu") == "onnxruntime"
    monkeypatch.setattr(models, "_onnxruntime_cuda", lambda: True)
    assert resolve_engine("auto", model) == "onnxruntime"
    assert resolve_engine("auto", model, precision="bfloat16") == "tensorflow"
    monkeypatch.setattr(models, "_keras_backend", lambda: "jax")
    monkeypatch.setattr(models, "_onnxruntime_cuda", lambda: False)
    assert resolve_engine("auto", model) == "jax"


def test_onnxruntime_uses_the_cores(tiny_enhance_models, monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert inference_threads() == len(os.sched_getaffinity(0))
    net = load_model(tiny_enhance_models["continuum"], engine="onnxruntime")
    options = net._session.get_session_options()
    assert options.intra_op_num_threads == inference_threads()
    import onnxruntime

    assert options.graph_optimization_level == onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert net._session.get_providers() == ["CPUExecutionProvider"]
    # the arena given back after an image (run_network does it) is taken again by the next call, same result
    x = (0.05 * np.random.default_rng(2).standard_normal((1, 40, 40, 1))).astype(np.float32)
    before = net(x)
    net.release_memory()
    np.testing.assert_array_equal(net(x), before)
    load_model(tiny_enhance_models["continuum"], engine="tensorflow").release_memory()  # no-op there
    monkeypatch.setenv(THREADS_ENV, "1")
    assert inference_threads() == 1


def test_zero_padded_interior_is_exact_inside_and_redone_at_the_border(tiny_enhance_models):
    """ONNX Runtime runs tiles with zero padding; run_network redoes the image border with the model itself."""
    from sunpy_enhance.enhance.api import run_network

    model = tiny_enhance_models["continuum"]
    net = load_model(model, engine="onnxruntime")
    assert net.interior is not None  # an Enhance graph written by onnx_graph
    card = read_card(model)
    margin = card["receptive_radius"] + 3
    x = (0.05 * np.random.default_rng(4).standard_normal((1, 70, 90, 1))).astype(np.float32)
    whole, inner = net(x)[0, :, :, 0], net.interior(x)[0, :, :, 0]
    core = np.s_[2 * margin:-2 * margin, 2 * margin:-2 * margin]
    np.testing.assert_allclose(inner[core], whole[core], atol=TOLERANCE)  # exact away from the edges
    assert np.abs(inner - whole).max() > 100 * TOLERANCE  # not at them: the border must be redone
    out = run_network(x[0, :, :, 0], model, card, tile_size=32, precision="float32", progress=False, device=None,
                      engine="onnxruntime")
    np.testing.assert_allclose(out, whole, atol=TOLERANCE)  # tiles and border band: the model's own result
    assert LoadedModel(model, "float32", "tensorflow").interior is None


def test_engine_memory_given_back_only_after_large_images(tiny_enhance_models, monkeypatch):
    from sunpy_enhance.enhance import api
    from sunpy_enhance.models import LoadedModel

    released = []
    monkeypatch.setattr(LoadedModel, "release_memory", lambda self: released.append(self.engine))
    monkeypatch.setattr(api, "RELEASE_MEMORY_PIXELS", 48 * 48)
    image = 1 + 0.01 * np.random.default_rng(3).standard_normal((48, 48))
    model = tiny_enhance_models["continuum"]
    api.enhance_array(image, kind="continuum", model=model, engine="onnxruntime")
    assert released == []  # a small image: the buffers stay for the next one
    api.enhance_array(np.pad(image, ((0, 1), (0, 0)), mode="reflect"), kind="continuum", model=model,
                      engine="onnxruntime")
    assert released == ["onnxruntime"]


def test_bfloat16_needs_native_hardware(monkeypatch):
    monkeypatch.delenv(EMULATE_BFLOAT16_ENV, raising=False)
    monkeypatch.setattr(models, "_cpu_flags", lambda: frozenset({"avx", "avx2", "fma"}))
    assert not native_bfloat16()
    for flag in ("avx512_bf16", "amx_bf16", "bf16"):
        monkeypatch.setattr(models, "_cpu_flags", lambda flag=flag: frozenset({"avx2", flag}))
        assert native_bfloat16()
    monkeypatch.setattr(models, "_gpu_compute_capability", lambda: 9.0)
    assert native_bfloat16(gpu=True)
    monkeypatch.setattr(models, "_gpu_compute_capability", lambda: 7.5)
    assert not native_bfloat16(gpu=True)
    monkeypatch.setenv(EMULATE_BFLOAT16_ENV, "1")
    assert native_bfloat16(gpu=True)


def test_bfloat16_without_hardware_warns_once_and_runs_float32(monkeypatch):
    """On this AVX2 CPU (no AVX-512 BF16, no AMX) bfloat16 would be emulated and slower: float32 instead."""
    monkeypatch.delenv(EMULATE_BFLOAT16_ENV, raising=False)
    real_flags = models._cpu_flags()
    if {"avx512_bf16", "amx_bf16", "bf16"} & real_flags:
        monkeypatch.setattr(models, "_cpu_flags", lambda: frozenset({"avx2", "fma"}))
    monkeypatch.setattr(models, "_WARNED", set())
    smap = synthetic_hmi_map("magnetogram", shape=(48, 48), seed=1)
    f32 = enhance_map(smap)
    with pytest.warns(SunpyEnhanceUserWarning, match="no native bfloat16 arithmetic") as record:
        bf16 = enhance_map(smap, precision="bfloat16")
    assert len([w for w in record if "bfloat16" in str(w.message)]) == 1
    np.testing.assert_array_equal(bf16.data, f32.data)
    assert "(float32, onnxruntime)" in str(bf16.meta["history"]).replace("\n", "")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process: no second warning
        again = enhance_map(smap, precision="bfloat16")
        net = load_model("enhance-magnetogram", precision="bfloat16")
    np.testing.assert_array_equal(again.data, f32.data)
    assert net.precision == "float32"


def test_emulated_bfloat16_when_asked(tiny_enhance_models, monkeypatch):
    """SUNPY_ENHANCE_EMULATE_BFLOAT16=1 runs bfloat16 anyway (accuracy studies), on a Keras engine."""
    monkeypatch.setenv(EMULATE_BFLOAT16_ENV, "1")
    net = load_model(tiny_enhance_models["magnetogram"], precision="bfloat16")
    assert (net.precision, net.engine) == ("bfloat16", "tensorflow")
    with pytest.raises(ValueError, match="float32 model.onnx"):
        load_model(tiny_enhance_models["magnetogram"], precision="bfloat16", engine="onnxruntime")


def test_export_onnx_command(tmp_path, tiny_enhance_models, capsys):
    """sunpy-enhance export-onnx adds model.onnx and the card record to a model without them."""
    directory = tmp_path / "model"
    shutil.copytree(tiny_enhance_models["magnetogram"], directory)
    (directory / "model.onnx").unlink()
    card = read_card(directory)
    del card["onnx"]
    (directory / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    weights = (directory / "model.weights.h5").read_bytes()
    assert main(["export-onnx", str(directory)]) == 0
    assert "model.onnx (opset 17, sunpy_enhance.enhance.onnx_graph" in capsys.readouterr().out
    new_card = read_card(directory)
    assert new_card["onnx"]["max_abs_difference_to_keras"] < TOLERANCE
    assert {k: v for k, v in new_card.items() if k != "onnx"} == card  # nothing else changed
    assert (directory / "model.weights.h5").read_bytes() == weights
    x = _network_input("magnetogram", directory, shape=(40, 40))
    np.testing.assert_allclose(load_model(directory, engine="onnxruntime")(x),
                               LoadedModel(directory, "float32", "tensorflow")(x), rtol=RTOL, atol=TOLERANCE)
    assert sorted(p.name for p in directory.iterdir()) == ["card.json", "model.onnx", "model.weights.h5",
                                                           "saved_model"]
