"""
The ``sunpy-enhance`` command line.

Each subcommand lives in its own module of this package and provides ``register(subparsers)``, which
adds its parser and sets ``func`` to the function that runs it. Errors the user can fix are raised as
`CommandError` (or `ValueError`, `OSError`) and printed as one line; the exit status is then 1.
"""
import argparse
import importlib
import math
import os
import pkgutil
import sys
from pathlib import Path

__all__ = ["CommandError", "input_file", "integer_at_least", "main", "not_the_input", "number_above",
           "number_at_least"]


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


def build_parser():
    from sunpy_enhance.version import __version__

    parser = argparse.ArgumentParser(
        prog="sunpy-enhance",
        description="Deconvolve, super-resolve and denoise SDO/HMI and polarimetric solar images.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(subparsers)
    return parser


def main(argv=None):
    """
    Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        status = args.func(args)
    except (CommandError, ValueError, OSError) as exc:
        print(f"sunpy-enhance {args.command}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"sunpy-enhance {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
