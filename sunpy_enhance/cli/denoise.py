"""
``sunpy-enhance denoise``: denoise a Map, an image or a spectropolarimetric cube.

Examples::

    sunpy-enhance denoise hmi_m_45s.fits -o hmi_m_45s_denoised.fits --uncertainty
    sunpy-enhance denoise stokes_q.npy -o stokes_q_clean.npy --noise 2.6e-3 --check
    sunpy-enhance denoise crisp_cube.fits -o crisp_cube_clean.fits --cube --stokes 1 2 3 --cycles 2
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from sunpy_enhance.cli.options import (
    CommandError,
    add_progress_option,
    input_file,
    integer_at_least,
    not_the_input,
    number_above,
    show_progress,
)
from sunpy_enhance.models import ENGINES

__all__ = ["register", "run"]


def register(subparsers):
    p = subparsers.add_parser(
        "denoise",
        help="denoise a Map, an image or a Stokes cube (with per-pixel uncertainty)",
        description="Denoise with a trained U-Net (Díaz Baso et al. 2019). A 2-D FITS file with a solar "
                    "WCS is treated as a Map (HMI magnetograms get the HMI model and noise automatically); "
                    "3-D and larger arrays as cubes with --cube, else as stacks of images.",
    )
    p.add_argument("input", metavar="INPUT", help=".fits or .npy")
    p.add_argument("-o", "--output", metavar="OUTPUT", help="output file, .fits or .npy")
    p.add_argument("legacy_output", nargs="?", help=argparse.SUPPRESS)  # the old spelling: INPUT OUTPUT
    p.add_argument("--model", default=None,
                   help="polarimetry, hmi-magnetogram, a bundled name or a model directory "
                        "(default: hmi-magnetogram for HMI magnetogram Maps, else polarimetry)")
    p.add_argument("--noise", type=number_above(0), nargs="+", default=None,
                   help="noise standard deviation in data units (one per Stokes parameter with --cube); "
                        "estimated when not given")
    p.add_argument("--cycles", type=integer_at_least(1), default=1, help="passes over the residual (default 1)")
    p.add_argument("--uncertainty", action="store_true",
                   help="also write the per-pixel standard deviation (FITS extension UNCERT, with the "
                        "map's WCS for Maps, or <OUTPUT>_uncertainty.npy)")
    p.add_argument("--samples", type=integer_at_least(0), default=0,
                   help="Monte-Carlo dropout passes for the epistemic part")
    p.add_argument("--cube", action="store_true", help="treat INPUT as a (time, Stokes, wavelength, y, x) cube")
    p.add_argument("--stokes", type=int, nargs="+", default=[1, 2, 3],
                   help="Stokes indices to denoise with --cube (default 1 2 3)")
    p.add_argument("--stokes-axis", type=int, default=None, help="Stokes axis of the cube (default 1 for 5-D)")
    p.add_argument("--check", action="store_true", help="test that the residual is noise and print the result")
    p.add_argument("--precision", choices=["float32", "bfloat16"], default="float32")
    p.add_argument("--engine", choices=ENGINES, default="auto",
                   help="inference engine (default auto: ONNX Runtime on CPUs; --samples always runs Keras)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    add_progress_option(p)
    p.set_defaults(func=run)


def _output(args):
    """The output file: -o/--output, or (deprecated) a second positional argument."""
    if args.legacy_output is not None:
        if args.output is not None:
            msg = f"two outputs given ({args.legacy_output} and -o {args.output}): give only -o/--output OUTPUT"
            raise CommandError(msg)
        print("sunpy-enhance denoise: note: the output as a second positional argument is deprecated; use "
              "-o/--output OUTPUT", file=sys.stderr)
        return Path(args.legacy_output)
    if args.output is None:
        msg = "give the output file: -o/--output OUTPUT (.fits or .npy)"
        raise CommandError(msg)
    return Path(args.output)


def _is_map_file(path):
    from sunpy_enhance.io import read_header

    header = read_header(path)
    return header.get("NAXIS") == 2 and "CTYPE1" in header


def _provenance_header(header, model, history, **keywords):
    """
    The FITS header of a denoised array or cube: the input's (if any) without the keywords that describe its
    pixel values, with the provenance every method writes (`sunpy_enhance.header.add_provenance`).
    """
    from astropy.io import fits

    from sunpy_enhance.denoise.api import resolve_model
    from sunpy_enhance.header import STALE_KEYWORDS, add_provenance
    from sunpy_enhance.models import read_card

    card = read_card(resolve_model(model))
    name = str(card.get("name"))
    header = fits.Header() if header is None else header.copy()
    for key in STALE_KEYWORDS:
        header.remove(key, ignore_missing=True, remove_all=True)
    return add_provenance(header, f"{history} with model {name}", enhmeth="denoise", enhmodel=name,
                          enhmdate=str(card.get("created", "")), **keywords)


def _suffix(path):
    name = Path(path).name.lower()
    if name.endswith(".npy"):
        return "npy"
    if name.endswith((".fits", ".fit", ".fts", ".fits.gz")):
        return "fits"
    msg = f"{path}: use .fits or .npy."
    raise CommandError(msg)


def run(args):
    import astropy.units as u

    from sunpy_enhance.denoise.api import denoise, denoise_cube, denoise_map, save_denoised, uncertainty_path
    from sunpy_enhance.denoise.residuals import check_residual

    src, dst = input_file(args.input), _output(args)
    not_the_input(dst, src)
    targets = [dst] + ([uncertainty_path(dst)] if args.uncertainty and dst.name.lower().endswith(".npy") else [])
    for target in targets:
        if target.exists() and not args.overwrite:
            msg = f"{target} exists; use --overwrite to replace it."
            raise CommandError(msg)
    kind_in, kind_out = _suffix(src), _suffix(dst)
    noise = args.noise
    common = {"cycles": args.cycles, "samples": args.samples, "precision": args.precision, "engine": args.engine,
              "progress": show_progress(args)}

    if args.cube:
        from sunpy_enhance.io import read_data

        data, header = read_data(src)
        model = args.model or "polarimetry"
        result = denoise_cube(data, model=model, noise=noise, stokes=args.stokes, stokes_axis=args.stokes_axis,
                              uncertainty=args.uncertainty, **common)
        out, std = result if args.uncertainty else (result, None)
        stokes = ",".join(str(s) for s in args.stokes)
        if kind_out == "fits":
            header = _provenance_header(header, model, f"denoised Stokes indices {stokes}, {args.cycles} cycle(s)",
                                        dnstokes=stokes, dncycles=args.cycles)
        save_denoised(dst, out, std, header=header if kind_out == "fits" else None, overwrite=args.overwrite)
        if args.check:
            axis = args.stokes_axis if args.stokes_axis is not None else {5: 1, 4: 0}.get(data.ndim, 0)
            for s in args.stokes:
                a, b = np.take(data, s, axis=axis), np.take(out, s, axis=axis)
                print(f"Stokes index {s}:")
                print(check_residual(a, b, warn=False))
        print(f"wrote {dst}")
        return 0

    if noise is not None and len(noise) != 1:
        msg = "--noise takes one number unless --cube is given."
        raise CommandError(msg)
    if kind_in == "fits" and _is_map_file(src):
        from sunpy_enhance.io import read_map

        smap = read_map(src)
        quantity = None
        if noise is not None:
            quantity = noise[0] * (smap.unit if smap.unit is not None else u.dimensionless_unscaled)
        out = denoise_map(smap, model=args.model, noise=quantity, uncertainty=args.uncertainty, **common)
        if args.check:
            print(check_residual(smap.data, out.data, out.meta["dnnoise"], warn=False))
        std = np.asarray(out.uncertainty.array, np.float32) if args.uncertainty else None
        if kind_out == "npy":
            save_denoised(dst, out.data, std, overwrite=args.overwrite)
        else:
            header = out.fits_header
            uheader = None
            if args.uncertainty:
                # Same WCS as the data, so that sunpy.map.Map(OUTPUT) gives the uncertainty as a second Map.
                uheader = header.copy()
                uheader["EXTNAME"] = "UNCERT"
                uheader.add_history("Standard deviation of the error of the denoised data (sunpy-enhance).")
            save_denoised(dst, out.data, std, header=header, uncertainty_header=uheader, overwrite=args.overwrite)
        print(f"wrote {dst} (model {out.meta['enhmodel']}, noise {out.meta['dnnoise']:.4g} {smap.unit or ''}, "
              f"{out.meta['dnnoisrc']})")
        return 0

    from sunpy_enhance.io import read_data

    data, header = read_data(src)
    data = np.asarray(data, dtype=np.float32)
    model = args.model or "polarimetry"
    result = denoise(data, model=model, noise=None if noise is None else noise[0], uncertainty=args.uncertainty,
                     **common)
    out, std = result if args.uncertainty else (result, None)
    if args.check:
        print(check_residual(data, out, None if noise is None else noise[0], warn=False))
    if kind_out == "fits":
        header = _provenance_header(header, model, f"denoised, {args.cycles} cycle(s)", dncycles=args.cycles)
    save_denoised(dst, out, std, header=header if kind_out == "fits" else None, overwrite=args.overwrite)
    print(f"wrote {dst}")
    return 0
