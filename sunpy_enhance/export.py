"""
Writing models: a trained Keras model exported as a model directory (SavedModel, Keras weights, ONNX file and
model card, `export_model`), and the ONNX file added to a model directory that lacks it (`export_onnx`).

What a model directory holds, and how models are found, read and loaded for inference, is in
`sunpy_enhance.models`; this module only writes. Exporting needs Keras (and TensorFlow with tf2onnx for the
SavedModel and the ONNX file); loading does not.
"""
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from sunpy_enhance.models import ONNX_FILE, build_from_card, clear_cache, model_directory, read_card

__all__ = ["ONNX_OPSET", "export_model", "export_onnx"]

#: ONNX opset of the exported ``model.onnx``.
ONNX_OPSET = 17

#: The fixed input on which an export compares ONNX Runtime with Keras (recorded in the card).
_ONNX_TEST_INPUT = "1 x 64 x 64 x channels, 0.1 x standard normal from numpy.random.default_rng(0), float32"


def export_model(model, directory, card, *, overwrite=False):
    """
    Write a trained Keras model as SavedModel + Keras weights + ONNX + model card, atomically.

    Parameters
    ----------
    model : `keras.Model`
        The trained model (any dtype policy; the SavedModel is exported from a float32 copy).
    directory : `os.PathLike`
        Destination; created. The model is written to a temporary sibling first and renamed into place.
    card : dict
        Model card; ``"architecture"`` is required. ``"parameters"`` is filled in, and ``"onnx"`` (see
        `export_onnx`) when the ONNX file is written.
    overwrite : bool, optional
        Replace an existing directory.

    Returns
    -------
    `pathlib.Path`

    Notes
    -----
    The SavedModel and ``model.onnx`` need Keras on its TensorFlow backend (and tf2onnx for the ONNX file);
    on another backend (JAX) only the weights and the card are written. Add the ONNX file later, on a
    machine with TensorFlow, with `export_onnx` (``sunpy-enhance export-onnx DIR``), which runs the same
    conversion and check.
    """
    import keras

    directory = Path(directory)
    if directory.exists() and not overwrite:
        msg = f"{directory} exists; pass overwrite=True to replace it."
        raise FileExistsError(msg)
    card = dict(card)
    card["architecture"] = {**card["architecture"], "parameters": int(model.count_params())}
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; an installed model must be readable by every user
    try:
        float_model = build_from_card(card, dtype="float32")
        float_model.set_weights([np.asarray(w, dtype=np.float32) for w in model.get_weights()])
        float_model.save_weights(tmp / "model.weights.h5")
        if keras.backend.backend() == "tensorflow":
            float_model.export(str(tmp / "saved_model"), format="tf_saved_model", verbose=False)
            if card["architecture"].get("name") != "enhance" and importlib.util.find_spec("tf2onnx") is None:
                from sunpy_enhance.exceptions import warn_user

                warn_user(f"tf2onnx is not installed: {directory} gets no {ONNX_FILE} (ONNX Runtime, the fastest "
                          "engine on CPUs, cannot run it). Install tf2onnx and onnx, then run "
                          f"'sunpy-enhance export-onnx {directory}'.")
                card.pop("onnx", None)
            else:
                card["onnx"] = _write_onnx(float_model, tmp, card["architecture"].get("name"))
        else:
            card.pop("onnx", None)
        (tmp / "card.json").write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def _onnx_test_input(channels):
    return (0.1 * np.random.default_rng(0).standard_normal((1, 64, 64, channels))).astype(np.float32)


def _onnx_difference(path, float_model, x):
    """Largest |ONNX Runtime - Keras| on ``x``, or None when an output's shape differs."""
    import keras
    import onnxruntime

    reference = [np.asarray(v, dtype=np.float32) for v in keras.tree.flatten(float_model(x, training=False))]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: x})
    if [o.shape for o in outputs] != [r.shape for r in reference]:
        return None, 1.0
    scale = max(1.0, *(float(np.max(np.abs(r))) for r in reference))
    return max(float(np.max(np.abs(o - r))) for o, r in zip(outputs, reference, strict=True)), scale


def _write_onnx(float_model, directory, architecture, attempts=5):
    """
    Write ``directory/model.onnx`` for a float32 Keras model, check it with ONNX Runtime against Keras on fixed
    inputs, and return the card's ``"onnx"`` record.

    Enhance networks (``architecture`` ``"enhance"``) are written directly from their weights
    (``sunpy_enhance.enhance.onnx_graph``: batch normalisation folded, the upsampling tail at the input
    resolution); other networks (the denoising U-Net) are converted by tf2onnx (TensorFlow backend). tf2onnx
    1.17's graph optimiser is not deterministic: now and then it drops the final Squeeze of a network, so that
    the output gains an axis. Every file is therefore checked on two inputs (the fixed 1 × 64 × 64 one and a
    2 × 40 × 52 one: dynamic batch and non-square sizes) for shapes and values, and a tf2onnx conversion is
    made again when it fails, up to ``attempts`` times.
    """
    import keras
    import onnx
    import onnxruntime

    channels = int(float_model.inputs[0].shape[-1])
    path = Path(directory) / ONNX_FILE
    tmp = path.with_name(f".{path.name}.part")
    x = _onnx_test_input(channels)
    other = (0.1 * np.random.default_rng(1).standard_normal((2, 40, 52, channels))).astype(np.float32)
    if architecture == "enhance":
        from sunpy_enhance.enhance.onnx_graph import enhance_onnx_graph

        convert, attempts = (lambda: enhance_onnx_graph(float_model, opset=ONNX_OPSET)), 1  # deterministic
        converter = "sunpy_enhance.enhance.onnx_graph (BatchNorm folded, upsampling tail at input resolution)"
    else:
        import tensorflow as tf
        import tf2onnx

        spec = (tf.TensorSpec((None, None, None, channels), tf.float32, name=float_model.inputs[0].name),)

        def convert():
            proto, _ = tf2onnx.convert.from_keras(float_model, input_signature=spec, opset=ONNX_OPSET)
            for value in (*proto.graph.input, *proto.graph.output):  # name the dynamic axes
                for dim, label in zip(value.type.tensor_type.shape.dim, ("batch", "height", "width")):
                    if not dim.HasField("dim_value"):
                        dim.dim_param = label
            return proto

        converter = f"tf2onnx {tf2onnx.__version__}"
    for _ in range(attempts):
        proto = convert()
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
        difference, scale = _onnx_difference(tmp, float_model, x)
        second, _ = _onnx_difference(tmp, float_model, other)
        if difference is not None and second is not None and difference <= 1e-4 * scale and second <= 1e-4 * scale:
            break  # (NaN fails both comparisons)
    else:
        tmp.unlink()
        msg = (f"The ONNX model of {directory} differs from the Keras model (output shape or values) on the test "
               f"inputs ({converter}, {attempts} attempt(s), onnxruntime {onnxruntime.__version__}); not written.")
        raise RuntimeError(msg)
    os.replace(tmp, path)
    record = {"file": ONNX_FILE, "opset": ONNX_OPSET, "converter": converter,
              "onnxruntime_checked": onnxruntime.__version__, "max_abs_difference_to_keras": difference,
              "test_input": _ONNX_TEST_INPUT,
              "input": f"NHWC float32 (batch, height, width, {channels}); batch, height and width dynamic"}
    if any(isinstance(layer, keras.layers.Dropout) for layer in float_model.layers):
        record["note"] = ("inference mode: dropout inactive; Monte-Carlo dropout samples need the Keras model "
                          "(model.weights.h5)")
    return record


def export_onnx(model):
    """
    Write ``model.onnx`` for an exported model from its Keras weights and record it in the model card.

    The conversion and check are those of `export_model` (which calls the same code when a model is
    trained or re-exported): Enhance networks written directly (``sunpy_enhance.enhance.onnx_graph``), others
    by tf2onnx; opset `ONNX_OPSET`, dynamic batch, height and width, float32 NHWC input; the ONNX model is
    run with ONNX Runtime on a fixed 64 × 64 input and compared with the Keras
    model. The card's ``"onnx"`` record holds the file, opset, converter and ONNX Runtime versions and the
    largest absolute difference (network units). Nothing else in the directory changes.

    Parameters
    ----------
    model : str or `os.PathLike`
        Bundled model name or model directory (with ``card.json`` and ``model.weights.h5``).

    Returns
    -------
    dict
        The ``"onnx"`` record of the card.

    Raises
    ------
    RuntimeError
        If the ONNX model differs from the Keras model by more than 1e-4 (relative to the output's size).
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        msg = f"ONNX export needs Keras on its TensorFlow backend, not {keras.backend.backend()!r}."
        raise RuntimeError(msg)
    directory = model_directory(model)
    card = read_card(directory)
    float_model = build_from_card(card, dtype="float32")
    float_model.load_weights(directory / "model.weights.h5")
    card["onnx"] = _write_onnx(float_model, directory, card["architecture"].get("name"))
    tmp = directory / ".card.json.part"
    tmp.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, directory / "card.json")
    clear_cache()
    return card["onnx"]
