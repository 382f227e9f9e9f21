"""
The ``sunpy-enhance`` command line.

Each subcommand lives in its own module of this package and provides ``register(subparsers)``, which
adds its parser and sets ``func`` to the function that runs it. Errors the user can fix are raised as
`CommandError` (or `ValueError`, `OSError`) and printed as one line; the exit status is then 1.

Options that mean the same thing are defined once, here, and have the same names everywhere: the enhancement
options of ``enhance``, ``batch`` and ``fetch --enhance`` (`add_enhance_options`), ``--progress/--no-progress``
(`add_progress_option`), ``-o/--output`` for one output file and ``--output-dir`` for a folder of outputs
(`add_output_dir_option`).
"""
import argparse
import importlib
import pkgutil
import sys

from sunpy_enhance.cli.options import (
    CommandError,
    add_enhance_options,
    add_output_dir_option,
    add_progress_option,
    enhance_options,
    input_file,
    integer_at_least,
    not_the_input,
    number_above,
    number_at_least,
    show_progress,
)

__all__ = ["CommandError", "add_enhance_options", "add_output_dir_option", "add_progress_option", "enhance_options",
           "input_file", "integer_at_least", "main", "not_the_input", "number_above", "number_at_least",
           "show_progress"]


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
