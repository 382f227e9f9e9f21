"""
``sunpy-enhance export-onnx``: write ``model.onnx`` for exported models and record it in their cards.
"""
from sunpy_enhance.cli.options import CommandError

__all__ = ["register", "run"]


def register(subparsers):
    parser = subparsers.add_parser(
        "export-onnx", help="write model.onnx (ONNX Runtime, the fastest CPU engine) for exported models",
        description="Convert exported models (bundled names or directories written by 'train --export') to "
                    "ONNX from their Keras weights, with the same conversion and check as every export: "
                    "tf2onnx, opset 17, dynamic batch/height/width, compared with Keras on a fixed 64x64 input "
                    "by ONNX Runtime. Writes model.onnx next to the SavedModel and the 'onnx' record of "
                    "card.json; nothing else changes.")
    parser.add_argument("models", nargs="+", metavar="MODEL", help="bundled model name or model directory")
    parser.set_defaults(func=run)


def run(args):
    from sunpy_enhance.export import export_onnx
    from sunpy_enhance.models import model_directory

    for model in args.models:
        directory = model_directory(model)
        try:
            record = export_onnx(directory)
        except ImportError as exc:
            raise CommandError(f"ONNX export needs tf2onnx, onnx and onnxruntime ({exc})") from None
        print(f"wrote {directory / record['file']} (opset {record['opset']}, {record['converter']}; max |ONNX Runtime "
              f"{record['onnxruntime_checked']} - Keras| = {record['max_abs_difference_to_keras']:.2g})")
    return 0
