"""
``sunpy-enhance enhance``: enhance one HMI FITS file (or the built-in synthetic sample), or with ``--raw`` an image
without a header (a cutout as a plain FITS or ``.npy`` array).
"""
import sys
from pathlib import Path

from sunpy_enhance.cli.options import (
    CommandError,
    add_enhance_options,
    add_progress_option,
    enhance_options,
    input_file,
    not_the_input,
    number_above,
    show_progress,
)

__all__ = ["register", "run"]


def register(subparsers):
    parser = subparsers.add_parser(
        "enhance", help="deconvolve and super-resolve (x2) an HMI continuum image or magnetogram",
        description="Deconvolve an SDO/HMI FITS file and super-resolve it x2 (0.504\"/px -> 0.252\"/px) "
                    "with the Enhance network; writes a FITS file (atomically) and optionally a PNG.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("input", nargs="?", type=Path,
                        help="HMI FITS file (with --raw: a FITS or .npy image without a header)")
    source.add_argument("--sample", choices=("continuum", "magnetogram"),
                        help="use the package's synthetic HMI-like sample (no download) instead of a file")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="output FITS file (with --raw: .fits, or .npy for a plain array)")
    parser.add_argument("--png", type=Path, help="also write a before/after figure")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_progress_option(parser)
    add_enhance_options(parser)
    raw = parser.add_argument_group("images without a header (--raw)")
    raw.add_argument("--raw", action="store_true",
                     help="INPUT is a bare image (FITS without coordinates, or .npy) sampled at HMI's 0.504\"/px: "
                          "enhanced as an array; needs --kind. Without coordinates μ is unknown, so continuum is not "
                          "corrected for limb darkening and the limb is not checked (a warning says so)")
    raw.add_argument("--pixel-scale", type=number_above(0), metavar="ARCSEC",
                     help="with --raw: the image's pixel scale in arcsec; it must be HMI's 0.504 (the default "
                          "assumption) unless --allow-any-scale")
    parser.set_defaults(func=run)


def _read(path):
    from sunpy_enhance.io import read_header, read_map

    path = input_file(path)
    try:
        return read_map(path)
    except ValueError as exc:
        bare = path.name.lower().endswith(".npy")
        if not bare and "cannot be read as a map" in str(exc):
            try:
                bare = "CTYPE1" not in read_header(path)
            except (OSError, ValueError):
                bare = False
        if bare:  # a cutout saved without its header
            msg = (f"{exc}. It has no coordinates: to enhance a bare image at HMI's 0.504\"/px, add --raw "
                   "--kind continuum or --raw --kind magnetogram")
            raise CommandError(msg) from None
        raise


def _check_outputs(args):
    for target in (args.output, args.png):
        if target is not None and args.input is not None:
            not_the_input(target, args.input)
        if target is not None and target.exists() and not args.overwrite:
            raise CommandError(f"{target} exists; pass --overwrite to replace it")


def run(args):
    from sunpy_enhance.io import file_identity

    if args.raw:
        return _run_raw(args)
    if args.pixel_scale is not None:
        raise CommandError("--pixel-scale is for --raw images; a map's pixel scale is read from its header")
    _check_outputs(args)
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


def _raw_output_kind(path):
    name = path.name.lower()
    if name.endswith(".npy"):
        return "npy"
    if name.endswith((".fits", ".fit", ".fts", ".fits.gz")):
        return "fits"
    raise CommandError(f"{path}: with --raw the output is .fits (or .fit, .fts, .fits.gz) or .npy")


def _run_raw(args):
    """
    ``--raw``: enhance a bare image with `~sunpy_enhance.enhance.enhance_array`, written as FITS (tile-compressed
    as ``--compression`` says) or ``.npy``, atomically, with provenance in the FITS header.
    """
    import numpy as np

    from sunpy_enhance.enhance.api import enhance_array, resolve_model
    from sunpy_enhance.enhance.normalize import quiet_sun_level
    from sunpy_enhance.exceptions import warn_user
    from sunpy_enhance.header import add_provenance
    from sunpy_enhance.hmi import HMI_SCALE_TOLERANCE, missing_to_nan
    from sunpy_enhance.io import (
        atomic_write,
        file_identity,
        image_hdu,
        output_compression,
        read_array,
        save_fits_atomic,
    )
    from sunpy_enhance.models import load_model

    if args.sample:
        raise CommandError("--raw is for an INPUT file without a header, not for --sample")
    if args.kind is None:
        raise CommandError("--raw needs --kind continuum or --kind magnetogram: a bare image does not say what it "
                           "holds")
    if args.png is not None:
        raise CommandError("--png draws maps with their coordinates; it is not available with --raw")
    scale = 0.504 if args.pixel_scale is None else args.pixel_scale
    if abs(scale / 0.504 - 1) >= HMI_SCALE_TOLERANCE and not args.allow_any_scale:
        raise CommandError(f"--pixel-scale {scale:g} is not HMI's 0.504\"/px: the Enhance networks are trained on "
                           "HMI's PSF and pixel scale and would give wrong results. Resample the image to 0.504\"/px "
                           "first (or pass --allow-any-scale, at your own risk)")
    source = input_file(args.input)
    kind_out = _raw_output_kind(args.output)
    _check_outputs(args)
    identity = file_identity(args.output)  # if another run writes the output meanwhile, this one says it lost
    data = missing_to_nan(read_array(source, allow_nan=True))  # float32, NaN where missing (with a warning)
    limb = ("the limb (μ < 0.3, where the networks are unreliable) was not checked" if args.kind == "magnetogram"
            else "no limb-darkening correction was applied (the field is taken to be near disk centre) and the "
                 "limb (μ < 0.3, where the networks are unreliable) was not checked")
    warn_user(f"--raw: {source.name} has no coordinates, so μ is unknown: {limb}. Enhance a map with its HMI "
              "header for both.")
    model, card = resolve_model(args.kind, args.model)
    net = load_model(model, precision=args.precision, engine=args.engine, device=args.device)  # what really runs
    level = None
    if args.kind == "continuum":  # the level enhance_array would estimate, known here for the header and units
        level = quiet_sun_level(data) if args.quiet_sun is None else args.quiet_sun
    out = enhance_array(data, kind=args.kind, model=model, quiet_sun=level, tile_size=args.tile_size,
                        precision=net.precision, device=args.device, progress=show_progress(args), engine=net.engine)
    if level is not None and args.keep_input_units:
        out = out * np.float32(level)
    if kind_out == "npy":
        atomic_write(args.output, lambda tmp: np.save(tmp, out), overwrite=args.overwrite, expect=identity)
    else:
        from astropy.io import fits

        if args.kind == "magnetogram":
            units = "G"
        elif args.keep_input_units:
            units = "input units"
        else:
            units = "I/Ic (divided by the quiet-Sun level; no limb-darkening correction: mu unknown)"
        meta = {"bunit": "G" if args.kind == "magnetogram" else ""}
        add_provenance(meta, f"Enhance x2 deconvolution of {source.name}, an image without coordinates (--raw, "
                             f"{scale:g} arcsec/px in, {scale / 2:g} arcsec/px out), with model {card.get('name')} "
                             f"({net.precision}, {net.engine}); output in {units}",
                       enhmeth="enhance", enhmodel=str(card.get("name")), enhmdate=str(card.get("created", "")),
                       enhunit=units[:60], enhsrc=source.name, enhpreq=args.precision)
        header = fits.Header()
        for key, value in meta.items():
            if key == "history":
                for line in value.split("\n"):
                    header.add_history(line)
            else:
                header[key.upper()] = value
        if level is not None:
            header["ENHQSUN"] = float(level)
        hdu = image_hdu(out, header, output_compression(args.compression, source))
        save_fits_atomic([hdu], args.output, overwrite=args.overwrite, expect=identity)
    print(f"wrote {args.output} ({out.shape[1]}x{out.shape[0]} px, {scale / 2:g} arcsec/px)")
    return 0
