"""
Development stand-in for the fast-inference work: export a bundled model's SavedModel to ONNX.

The page takes ``sunpy_enhance/data/models/<name>/model.onnx`` when the package ships it. Until then
``npm run build`` calls this script for every bundled Enhance model without one, writing
``web/dist/models/<name>/model.onnx`` (never into the package). The export is tf2onnx, opset 17,
input ``hmi`` NHWC float32 with one channel and dynamic batch, height and width.

Usage::

    python web/tools/export_dev_onnx.py SAVED_MODEL_DIR OUTPUT.onnx
    python web/tools/export_dev_onnx.py --timing-light OUTPUT.onnx   # untrained light architecture, timing only
"""
import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


def _light_timing_model():
    """The light architecture (1 residual block, 32 filters) with random weights: for timing only."""
    import keras
    from keras import layers

    def conv(x, filters, act=None, k=3):
        if k > 1:
            x = layers.Lambda(lambda t: keras.ops.pad(t, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect"))(x)
        return layers.Conv2D(filters, k, padding="valid", activation=act)(x)

    inp = keras.Input((None, None, 1), name="hmi")
    x0 = conv(inp, 32, "relu")
    y = layers.ReLU()(layers.BatchNormalization()(conv(x0, 32)))
    x = layers.Add()([x0, layers.BatchNormalization()(conv(y, 32))])
    x = layers.Add()([layers.BatchNormalization()(conv(x, 32)), x0])
    x = layers.UpSampling2D(2)(x)
    x = conv(x, 32, "relu")
    return keras.Model(inp, conv(x, 1, k=1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timing-light", action="store_true",
                        help="export the untrained light architecture (1 block, 32 filters), for timing only")
    parser.add_argument("paths", nargs="+", help="SAVED_MODEL_DIR OUTPUT.onnx, or OUTPUT.onnx with --timing-light")
    args = parser.parse_args(argv)
    if len(args.paths) != (1 if args.timing_light else 2):
        parser.error("give SAVED_MODEL_DIR OUTPUT.onnx, or --timing-light OUTPUT.onnx")
    if args.timing_light:
        args.source, args.output = None, Path(args.paths[0])
    else:
        args.source, args.output = args.paths[0], Path(args.paths[1])
    import tensorflow as tf
    import tf2onnx

    spec = (tf.TensorSpec([None, None, None, 1], tf.float32, name="hmi"),)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if args.timing_light:
        model = _light_timing_model()
        function = tf.function(lambda x: model(x, training=False))
    else:
        loaded = tf.saved_model.load(args.source)
        function = tf.function(lambda x: loaded.serve(x))
    tf2onnx.convert.from_function(function, input_signature=spec, opset=17, output_path=str(args.output))
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    sys.exit(main())
