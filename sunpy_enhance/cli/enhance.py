"""
``sunpy-enhance enhance``: enhance one HMI FITS file (or the built-in synthetic sample).
"""
import sys
from pathlib import Path

from sunpy_enhance.cli import (
    CommandError,
    add_enhance_options,
    add_progress_option,
    enhance_options,
    input_file,
    not_the_input,
    show_progress,
)

__all__ = ["register", "run"]


def register(subparsers):
    parser = subparsers.add_parser(
        "enhance", help="deconvolve and super-resolve (x2) an HMI continuum image or magnetogram",
        description="Deconvolve an SDO/HMI FITS file and super-resolve it x2 (0.504\"/px -> 0.252\"/px) "
                    "with the Enhance network; writes a FITS file (atomically) and optionally a PNG.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("input", nargs="?", type=Path, help="HMI FITS file")
    source.add_argument("--sample", choices=("continuum", "magnetogram"),
                        help="use the package's synthetic HMI-like sample (no download) instead of a file")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output FITS file")
    parser.add_argument("--png", type=Path, help="also write a before/after figure")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_progress_option(parser)
    add_enhance_options(parser)
    parser.set_defaults(func=run)


def _read(path):
    from sunpy_enhance.io import read_map

    return read_map(input_file(path))


def run(args):
    from sunpy_enhance.io import file_identity

    for target in (args.output, args.png):
        if target is not None and args.input is not None:
            not_the_input(target, args.input)
        if target is not None and target.exists() and not args.overwrite:
            raise CommandError(f"{target} exists; pass --overwrite to replace it")
    identity = file_identity(args.output)  # if another run writes the output meanwhile, this one says it lost
    if args.sample:
        from sunpy_enhance.sample import synthetic_hmi_map

        smap = synthetic_hmi_map(args.sample)
        print(f"using the synthetic HMI-like {args.sample} sample (not an observation)", file=sys.stderr)
    else:
        smap = _read(args.input)
    from sunpy_enhance.enhance.api import enhance_map
    from sunpy_enhance.io import atomic_write, output_compression, save_map_atomic

    compression = output_compression(args.compression, args.input)
    try:
        out = enhance_map(smap, progress=show_progress(args), **enhance_options(args))
    except KeyError as exc:
        raise CommandError(f"missing metadata keyword {exc}; is this an HMI level-1.5 file?") from None
    save_map_atomic(out, args.output, overwrite=args.overwrite, expect=identity, compression=compression)
    print(f"wrote {args.output} ({out.data.shape[1]}x{out.data.shape[0]} px, {out.scale.axis1:.3f})")
    if args.png:
        import matplotlib

        matplotlib.use("agg")
        from sunpy_enhance.visualization import plot_before_after

        truth = None
        if args.sample:  # the synthetic sample has a known answer: show it beside the output
            from sunpy_enhance.sample import synthetic_truth

            truth = synthetic_truth(smap.data.shape, kind=args.sample)
        fig = plot_before_after(smap, out, truth=truth)
        atomic_write(args.png, lambda tmp: fig.savefig(tmp, dpi=110, format="png"), overwrite=True)
        print(f"wrote {args.png}")
    return 0
