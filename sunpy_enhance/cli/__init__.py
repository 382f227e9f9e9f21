"""
The ``sunpy-enhance`` command line.

Each subcommand lives in its own module of this package and provides ``register(subparsers)``, which
adds its parser and sets ``func`` to the function that runs it. Errors the user can fix are raised as
`CommandError` (or `ValueError`, `OSError`) and printed as one line; the exit status is then 1.
"""
import argparse
import importlib
import pkgutil
import sys

__all__ = ["CommandError", "main"]


class CommandError(Exception):
    """An error the user can fix; printed as one line without a traceback."""


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
