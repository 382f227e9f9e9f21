"""
The Enhance network written as an ONNX graph directly from its Keras weights, arranged for fast inference.

The graph computes the same function as the Keras model (`~sunpy_enhance.enhance.network.build_enhance_network`)
to float32 rounding, with three rearrangements that a general converter (tf2onnx) does not make:

* Batch normalisation is folded into the convolution before it (inference mode: a per-channel scale and offset).
* The tail (nearest-neighbour ×2 upsampling, 1-pixel reflection padding, 3×3 convolution, ReLU, 1×1 output
  convolution) runs at the input resolution. Output pixel ``(2i + a, 2j + b)`` of the 3×3 convolution over the
  upsampled image sees only input rows ``i - 1 + a, i + a`` and columns ``j - 1 + b, j + b`` (with the reflected
  border of the upsampled image equal to the input's edge pixel repeated): each of the four phases ``(a, b)``
  is a 2×2 convolution of the edge-padded input, with the 3×3 taps that fall on the same input pixel summed.
  ReLU and the 1×1 convolution act per pixel, so they run per phase before the phases are interleaved
  (``DepthToSpace``). The upsampled 64-channel image is never formed, and the tail needs 16 instead of 36
  multiply-adds per input pixel and channel pair (0.94 instead of 1.11 MFLOP per input pixel for the full
  models): the fastest arrangement ONNX Runtime was measured to run (16% faster than tf2onnx's graph on a
  544² tile, see the performance page).
* The NHWC input and output with one channel are transposed to and from ONNX Runtime's NCHW layout once.

The input and output names (``hmi``, ``output``) and layouts (NHWC float32, dynamic batch, height and width)
are those of the tf2onnx export, so every engine and the browser page run either file.
"""
import numpy as np

from sunpy_enhance.models import ENHANCE_ONNX_PRODUCER

__all__ = ["enhance_onnx_graph", "tail_taps"]


def tail_taps(kernel):
    """
    The 2×2 kernels of the four output phases of "×2 nearest upsampling, reflection padding, 3×3 convolution".

    Parameters
    ----------
    kernel : `numpy.ndarray`
        3×3 kernel, ``(out, in, 3, 3)`` (ONNX layout).

    Returns
    -------
    `numpy.ndarray`
        ``(4 * out, in, 2, 2)``: phase ``p = 2a + b`` in rows ``p * out:(p + 1) * out``, to be applied (valid
        convolution) to the input padded by one edge pixel; phase ``(a, b)`` of output ``(i, j)`` is the
        result at ``(i + a, j + b)``.
    """
    rows = {0: ((0,), (1, 2)), 1: ((0, 1), (2,))}  # phase -> the 3x3 taps that land on each of its 2 input rows
    out = kernel.shape[0]
    taps = np.zeros((4 * out, kernel.shape[1], 2, 2), dtype=np.float64)
    for a in (0, 1):
        for b in (0, 1):
            p = 2 * a + b
            for r, taps_r in enumerate(rows[a]):
                for c, taps_c in enumerate(rows[b]):
                    taps[p * out:(p + 1) * out, :, r, c] = sum(kernel[:, :, di, dj] for di in taps_r for dj in taps_c)
    return taps


def _layers(model):
    """The Enhance model's convolutions and batch normalisations, in order; checks the architecture."""
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    norms = [layer for layer in model.layers if type(layer).__name__ == "BatchNormalization"]
    blocks = (len(convs) - 4) // 2
    upsampling = [layer for layer in model.layers if type(layer).__name__ == "UpSampling2D"]
    if len(convs) != 2 * blocks + 4 or len(norms) != 2 * blocks + 1 or len(upsampling) != 1 or blocks < 0:
        msg = (f"{model.name} is not an Enhance network as build_enhance_network makes it ({len(convs)} convolutions, "
               f"{len(norms)} batch normalisations); export it with tf2onnx instead.")
        raise ValueError(msg)
    return convs, norms, blocks


def _kernel(conv, norm=None):
    """ONNX-layout kernel and bias of a Keras Conv2D (float64), with a following BatchNormalization folded in."""
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in conv.get_weights())
    kernel = kernel.transpose(3, 2, 0, 1)
    if norm is not None:
        gamma, beta, mean, variance = (np.asarray(w, dtype=np.float64) for w in norm.get_weights())
        scale = gamma / np.sqrt(variance + norm.epsilon)
        kernel = kernel * scale[:, None, None, None]
        bias = (bias - mean) * scale + beta
    return kernel, bias


def enhance_onnx_graph(model, *, opset):
    """
    An Enhance Keras model (float32 weights) as an ONNX model, arranged for inference (see the module docstring).

    Parameters
    ----------
    model : `keras.Model`
        Built by `~sunpy_enhance.enhance.network.build_enhance_network` (any number of blocks and filters).
    opset : int
        ONNX opset.

    Returns
    -------
    `onnx.ModelProto`
        Checked with `onnx.checker`.

    Raises
    ------
    ValueError
        If the model does not have the Enhance architecture.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    convs, norms, blocks = _layers(model)
    initializers, nodes = [], []

    def constant(name, values, dtype=np.float32):
        initializers.append(numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name

    def node(op, inputs, name, **attributes):
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attributes))
        return name

    def conv(x, name, kernel, bias, *, relu=False):
        y = node("Conv", [x, constant(f"{name}.w", kernel), constant(f"{name}.b", bias)], name)
        return node("Relu", [y], f"{name}.relu") if relu else y

    constant("pad1", [0, 0, 1, 1, 0, 0, 1, 1], np.int64)

    def reflect(x, name):
        return node("Pad", [x, "pad1"], f"{name}.pad", mode="reflect")

    x = node("Transpose", ["hmi"], "nchw", perm=[0, 3, 1, 2])
    first = conv(reflect(x, "conv0"), "conv0", *_kernel(convs[0]), relu=True)
    x = first
    for k in range(blocks):
        y = conv(reflect(x, f"block{k}.a"), f"block{k}.a", *_kernel(convs[1 + 2 * k], norms[2 * k]), relu=True)
        y = conv(reflect(y, f"block{k}.b"), f"block{k}.b", *_kernel(convs[2 + 2 * k], norms[2 * k + 1]))
        x = node("Add", [x, y], f"block{k}.add")
    y = conv(reflect(x, "skip"), "skip", *_kernel(convs[2 * blocks + 1], norms[2 * blocks]))
    x = node("Add", [y, first], "skip.add")

    kernel, bias = _kernel(convs[2 * blocks + 2])
    filters = kernel.shape[0]
    edge = node("Pad", [x, "pad1"], "tail.edge", mode="edge")
    x = conv(edge, "tail.phases", tail_taps(kernel), np.tile(bias, 4), relu=True)
    out_kernel, out_bias = _kernel(convs[2 * blocks + 3])  # (1, filters, 1, 1)
    pointwise = np.zeros((4, 4 * filters, 1, 1))
    for p in range(4):
        pointwise[p, p * filters:(p + 1) * filters] = out_kernel[0]
    x = conv(x, "tail.output", pointwise, np.tile(out_bias, 4))
    constant("phase.axes", [1, 2, 3], np.int64)
    phases = []
    for a in (0, 1):
        for b in (0, 1):
            p = 2 * a + b
            end = [p + 1, -1 if a == 0 else np.iinfo(np.int64).max, -1 if b == 0 else np.iinfo(np.int64).max]
            phases.append(node("Slice", [x, constant(f"phase{p}.start", [p, a, b], np.int64),
                                         constant(f"phase{p}.end", end, np.int64), "phase.axes"], f"phase{p}"))
    x = node("Concat", phases, "phases", axis=1)
    x = node("DepthToSpace", [x], "interleaved", blocksize=2, mode="CRD")
    node("Transpose", [x], "output", perm=[0, 2, 3, 1])
    graph = helper.make_graph(
        nodes, model.name,
        [helper.make_tensor_value_info("hmi", TensorProto.FLOAT, ["batch", "height", "width", 1])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", "height2", "width2", 1])],
        initializers)
    # the oldest IR version that holds the opset (IR 8 for opset 17), not the onnx package's newest: runtimes
    # refuse IR versions newer than they know (ONNX Runtime Web 1.30 reads at most 13)
    ir_version = min(ir for _, ir, ops, *_ in helper.VERSION_TABLE if ops >= opset)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir_version,
                              producer_name=ENHANCE_ONNX_PRODUCER)
    onnx.checker.check_model(proto)
    return proto
