"""The Enhance network written directly as ONNX: the same function as the Keras model."""
import numpy as np
import pytest
from scipy import signal

from sunpy_enhance.enhance.network import build_enhance_network
from sunpy_enhance.enhance.onnx_graph import enhance_onnx_graph, tail_taps

onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


def _upsample_reflect_conv(image, kernel):
    """Reference: nearest ×2 upsampling, 1-pixel reflection padding, 3×3 convolution (cross-correlation)."""
    up = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)
    return signal.correlate2d(np.pad(up, 1, mode="reflect"), kernel, mode="valid")


def test_tail_taps_are_the_upsampled_convolution_phase_by_phase():
    rng = np.random.default_rng(0)
    image, kernel = rng.standard_normal((7, 9)), rng.standard_normal((3, 3))
    expected = _upsample_reflect_conv(image, kernel)
    taps = tail_taps(kernel[None, None])  # (4, 1, 2, 2)
    padded = np.pad(image, 1, mode="edge")
    for a in (0, 1):
        for b in (0, 1):
            phase = signal.correlate2d(padded, taps[2 * a + b, 0], mode="valid")  # (h + 1, w + 1)
            np.testing.assert_allclose(phase[a:a + 7, b:b + 9], expected[a::2, b::2], atol=1e-12)


def _random_enhance(blocks, filters, seed):
    """An Enhance network with random weights and random batch-normalisation statistics (nothing is identity)."""
    model = build_enhance_network(blocks=blocks, filters=filters)
    rng = np.random.default_rng(seed)
    weights = []
    for w in model.get_weights():
        w = np.asarray(w)
        weights.append((0.5 + rng.random(w.shape)) if w.ndim == 1 else 0.2 * rng.standard_normal(w.shape))
    model.set_weights([w.astype(np.float32) for w in weights])
    return model


@pytest.mark.parametrize(("blocks", "filters", "shape"), [(1, 8, (1, 23, 31)), (2, 6, (2, 16, 11))])
def test_onnx_graph_equals_the_keras_model(tmp_path, blocks, filters, shape):
    model = _random_enhance(blocks, filters, seed=blocks)
    proto = enhance_onnx_graph(model, opset=17)
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(5).standard_normal((*shape, 1)).astype(np.float32)
    expected = np.asarray(model(x))
    out = session.run(None, {"hmi": x})[0]
    assert out.shape == expected.shape == (shape[0], 2 * shape[1], 2 * shape[2], 1)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    # the upsampled feature maps are never formed: no node works at the output resolution with all filters
    assert [n.op_type for n in proto.graph.node].count("DepthToSpace") == 1
    assert not {"Resize", "Tile", "Upsample"} & {n.op_type for n in proto.graph.node}
    assert proto.ir_version == 8  # what opset 17 needs, readable by older runtimes (ONNX Runtime Web 1.30: <= 13)


def test_other_architectures_are_refused():
    import keras

    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same")(inputs), name="other")
    with pytest.raises(ValueError, match="not an Enhance network"):
        enhance_onnx_graph(model, opset=17)
