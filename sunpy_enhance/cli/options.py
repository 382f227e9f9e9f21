"""
What the subcommands share: `CommandError`, argument types and checks, and the options that mean the same thing
everywhere, defined once: the enhancement options of ``enhance``, ``batch`` and ``fetch --enhance``
(`add_enhance_options`), ``--progress/--no-progress`` (`add_progress_option`), and ``--output-dir`` for a folder of
outputs (`add_output_dir_option`; ``-o/--output`` names one output file in every command).
"""
import argparse
import math
import os
import sys
from pathlib import Path

__all__ = ["CommandError", "add_enhance_options", "add_output_dir_option", "add_progress_option", "enhance_options",
           "input_file", "integer_at_least", "not_the_input", "number_above", "number_at_least", "show_progress"]


class CommandError(Exception):
    """An error the user can fix; printed as one line without a traceback."""


def integer_at_least(minimum):
    """
    An argparse ``type`` for integers ``>= minimum``: a bad value stops the command before any work with
    ``argument --NAME: must be an integer ≥ MINIMUM, not 'VALUE'``.
    """

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            msg = f"must be an integer ≥ {minimum}, not {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse


def _number(minimum, *, inclusive):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < minimum or (value == minimum and not inclusive):
            msg = f"must be a number {'≥' if inclusive else '>'} {minimum:g}, not {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse


def number_above(minimum):
    """An argparse ``type`` for finite numbers ``> minimum`` (see `integer_at_least`)."""
    return _number(minimum, inclusive=False)


def number_at_least(minimum):
    """An argparse ``type`` for finite numbers ``>= minimum`` (see `integer_at_least`)."""
    return _number(minimum, inclusive=True)


def not_the_input(output, source):
    """
    Refuse (`CommandError`) an output path that names the input file itself, even through another path
    (``..``, a symbolic or hard link): writing there would destroy the input, with or without --overwrite.
    """
    output, source = Path(output), Path(source)
    same = output.resolve() == source.resolve()
    if not same and output.exists() and source.exists():
        same = os.path.samefile(output, source)
    if same:
        msg = f"{output} is the input file: give another output path (writing there would destroy the input)"
        raise CommandError(msg)


def input_file(path):
    """
    ``path`` as a `pathlib.Path` if it is a non-empty file; else a `CommandError` saying what it is.
    """
    path = Path(path)
    if path.is_dir():
        msg = f"{path} is a folder, not a file: give one file (the batch command takes folders)"
        raise CommandError(msg)
    if not path.is_file():
        msg = f"{path} does not exist (no such file)"
        raise CommandError(msg)
    if path.stat().st_size == 0:
        msg = f"{path.name} is empty (0 bytes): an interrupted download or copy? Fetch or copy it again"
        raise CommandError(msg)
    return path


def add_enhance_options(parser, *, title="enhancement"):
    """
    Add the options of the enhancement step, the same in every command that runs it (``enhance``, ``batch``,
    ``fetch --enhance``): ``--kind``, ``--model``, ``--engine``, ``--device``, ``--precision``, ``--tile-size``,
    ``--quiet-sun``, ``--keep-input-units``, ``--allow-non-hmi``, ``--allow-any-scale`` (passed to
    `~sunpy_enhance.enhance.enhance_map` by `enhance_options`) and ``--compression`` (of the output files).

    Returns
    -------
    `argparse._ArgumentGroup`
        The group that holds them (a command may add its own enhancement options to it).
    """
    from sunpy_enhance.enhance.api import DEFAULT_TILE_SIZE, MIN_TILE_SIZE
    from sunpy_enhance.io import COMPRESSIONS
    from sunpy_enhance.models import ENGINES

    group = parser.add_argument_group(title)
    group.add_argument("--kind", choices=("continuum", "magnetogram"),
                       help="what the data are (default: read from each file's header)")
    group.add_argument("--model", help="bundled model name or model directory (default: enhance-KIND)")
    group.add_argument("--engine", choices=ENGINES, default="auto",
                       help="inference engine (default auto: ONNX Runtime on CPUs; TensorFlow, JAX or ONNX "
                            "Runtime's CUDA provider on GPUs)")
    group.add_argument("--device", choices=("cpu", "gpu"), help="force a device (default: GPU if available)")
    group.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                       help="bfloat16: faster on GPUs and CPUs with AMX (up to ~2x), half the memory; fine for "
                            "magnetograms, use float32 for continuum photometry")
    group.add_argument("--tile-size", type=integer_at_least(MIN_TILE_SIZE), default=DEFAULT_TILE_SIZE, metavar="N",
                       help=f"tiles hold at most N² input pixels (default N={DEFAULT_TILE_SIZE})")
    group.add_argument("--quiet-sun", type=number_above(0), metavar="LEVEL",
                       help="continuum: quiet-Sun intensity in the data's units, after the limb-darkening "
                            "correction (default: estimated from each image)")
    group.add_argument("--keep-input-units", action="store_true",
                       help="continuum: output in the input's units instead of I/Ic")
    group.add_argument("--allow-non-hmi", action="store_true",
                       help="accept data from other instruments (at your own risk: the networks know HMI's PSF)")
    group.add_argument("--allow-any-scale", action="store_true",
                       help="accept pixel scales other than HMI's 0.504\"")
    group.add_argument("--compression", choices=COMPRESSIONS, default="keep",
                       help="tile compression of the output FITS files. keep (default): outputs of tile-compressed "
                            "(e.g. JSOC's Rice-compressed) inputs are compressed losslessly (GZIP_2: Rice would "
                            "have to quantize the float32 output), others are not; none; gzip (lossless); rice "
                            "(smallest, lossy: floats quantized to 1/16 of the noise)")
    return group


def enhance_options(args):
    """The keyword arguments of `~sunpy_enhance.enhance.enhance_map` given by `add_enhance_options`."""
    return {"kind": args.kind, "model": args.model, "engine": args.engine, "device": args.device,
            "precision": args.precision, "tile_size": args.tile_size, "quiet_sun": args.quiet_sun,
            "keep_input_units": args.keep_input_units, "allow_non_hmi": args.allow_non_hmi,
            "allow_any_scale": args.allow_any_scale}


def add_progress_option(parser):
    """``--progress/--no-progress``; read it with `show_progress`."""
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show progress bars (default: when the standard error is a terminal)")


def show_progress(args):
    """Whether to show progress: as ``--progress/--no-progress`` say, else when stderr is a terminal."""
    return sys.stderr.isatty() if args.progress is None else bool(args.progress)


class _Deprecated(argparse.Action):
    """An old spelling of an option: still works, with a note on stderr that names the new one."""

    def __init__(self, option_strings, dest, *, replacement, **kwargs):
        self.replacement = replacement
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog}: note: {option_string} for a folder is deprecated (-o/--output names one output "
              f"file in every command); use {self.replacement}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_output_dir_option(parser, description):
    """
    ``--output-dir DIR`` (required, ``args.output_dir``), for commands that write many files.

    The old spelling of ``batch`` and ``fetch``, ``-o/--output DIR``, is accepted with a deprecation note:
    everywhere else ``-o/--output`` names one output file.
    """
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--output-dir", type=Path, metavar="DIR", help=description)
    group.add_argument("-o", "--output", dest="output_dir", type=Path, action=_Deprecated,
                       replacement="--output-dir", help=argparse.SUPPRESS)
