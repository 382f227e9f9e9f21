"""
``sunpy-enhance fetch``: find HMI data at JSOC, download them (verified, resumable), optionally enhance them.

Examples::

    sunpy-enhance fetch --series hmi.M_45s --start 2014-03-01T00:00 --email you@example.org --output-dir data
    sunpy-enhance fetch --series hmi.Ic_720s --start 2014-03-01T00:00 --end 2014-03-01T06:00 \\
        --cadence 1h --cutout -200 300 120 120 --output-dir data --enhance

Running the same command again downloads and enhances only what is missing; the exit status is 1 when
anything failed (each failure is listed with its reason).
"""
import sys
from pathlib import Path

from sunpy_enhance.cli.options import (
    CommandError,
    add_enhance_options,
    add_output_dir_option,
    add_progress_option,
    enhance_options,
    integer_at_least,
    number_above,
    number_at_least,
    show_progress,
)
from sunpy_enhance.hmi import check_not_deconvolved, deconvolved_series

__all__ = ["register", "run"]


def register(subparsers):
    parser = subparsers.add_parser(
        "fetch", help="download HMI data from JSOC (and enhance them with --enhance)",
        description="Export HMI continuum images or magnetograms from JSOC (full disk or a cutout), download "
                    "them with retries into a folder where complete files are never fetched twice, and "
                    "optionally enhance them (x2). Needs an email address registered at JSOC "
                    "(--email or JSOC_EMAIL) to submit exports.")
    what = parser.add_argument_group("what to fetch")
    what.add_argument("--series", help="JSOC series, e.g. hmi.M_45s, hmi.Ic_720s, hmi.Ic_noLimbDark_720s, "
                                       "hmi.M_45s_dcon")
    what.add_argument("--start", help="time (UTC, ISO) of the record, or start of the range")
    what.add_argument("--end", help="end of the range (UTC); without it, the one record nearest --start")
    what.add_argument("--cadence", help="one record every CADENCE in the range, e.g. 12m, 1h, 720s")
    what.add_argument("--cutout", nargs=4, type=float, metavar=("X", "Y", "WIDTH", "HEIGHT"),
                      help="cutout centred on helioprojective X, Y (arcsec, as seen from Earth at --start) "
                           "of WIDTH x HEIGHT arcsec (JSOC im_patch); full disk without")
    what.add_argument("--track", action="store_true", help="let the cutout follow solar rotation")
    what.add_argument("--request-id", help="download an export submitted before (e.g. after a timeout)")
    jsoc = parser.add_argument_group("JSOC")
    jsoc.add_argument("--email", help="address registered at JSOC (default: $JSOC_EMAIL)")
    jsoc.add_argument("--jsoc-url", help="base URL of a JSOC-like server (mirror, test); default JSOC")
    jsoc.add_argument("--timeout", type=number_above(0), help="seconds to wait for JSOC to stage the export (default: "
                                                     "no limit)")
    jsoc.add_argument("--poll-interval", type=number_above(0), default=5.0, help="seconds between status queries")
    jsoc.add_argument("--retries", type=integer_at_least(0), default=3, help="retries per file (default 3)")
    jsoc.add_argument("--retry-wait", type=number_at_least(0), default=2.0, help="seconds before the first retry")
    add_output_dir_option(parser, "folder for the downloaded files")
    parser.add_argument("--overwrite", action="store_true", help="download (and enhance) again what exists")
    add_progress_option(parser)
    enh = add_enhance_options(parser, title="enhancement (with --enhance)")
    enh.add_argument("--enhance", action="store_true", help="enhance the files after downloading them")
    enh.add_argument("--enhanced-dir", type=Path, metavar="DIR",
                     help="folder for *.enhanced.fits (default OUTPUT_DIR/enhanced)")
    parser.set_defaults(func=run)


def _cutout(args):
    if args.cutout is None:
        return None
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from sunpy.coordinates import frames
    from sunpy.time import parse_time

    from sunpy_enhance.net.records import im_patch

    x, y, width, height = args.cutout
    centre = SkyCoord(x * u.arcsec, y * u.arcsec, frame=frames.Helioprojective, observer="earth",
                      obstime=parse_time(args.start))
    return im_patch(center=centre, width=width * u.arcsec, height=height * u.arcsec, tracking=args.track)


def _not_enhanceable(series):
    """Why data of ``series`` cannot be enhanced (it is already deconvolved), or None."""
    try:
        check_not_deconvolved(series=series, consequence="it cannot be enhanced (--enhance)")
    except ValueError as exc:
        return str(exc)
    return None


def _print_record(record):
    name = Path(record.source).name
    if record.status == "done":
        print(f"enhanced  {name} -> {record.output} ({record.seconds:.1f} s)")
    elif record.status == "skipped":
        print(f"skipped   {name} (already enhanced: {record.output})")
    else:
        print(f"FAILED    {name}: {record.reason}")


def _quiet_library_logs():
    """
    drms configures the root logger at INFO when imported, so parfive's per-error dumps would reach
    the terminal; this command prints its own one-line summaries (and keeps sunpy-enhance's retry notes).
    """
    import logging

    for name in ("parfive", "drms"):
        logging.getLogger(name).setLevel(logging.WARNING)


def run(args):
    from sunpy_enhance.net import exports, jsoc

    _quiet_library_logs()

    if args.request_id is None and (args.series is None or args.start is None):
        raise CommandError("give --series and --start (or --request-id of an earlier export)")
    if args.request_id is None and args.cadence is not None and args.end is None:
        raise CommandError("--cadence needs a time range: give --end too")
    if args.enhance and _not_enhanceable(args.series):  # before asking JSOC for anything
        raise CommandError(f"{_not_enhanceable(args.series)} Or fetch {args.series} without --enhance.")
    progress = show_progress(args)
    options = {"directory": args.output_dir, "server": args.jsoc_url, "overwrite": args.overwrite,
               "progress": progress, "max_retries": args.retries, "retry_wait": args.retry_wait,
               "timeout": args.timeout, "poll_interval": args.poll_interval}
    try:
        if args.request_id is not None:
            downloads = exports.fetch_export(args.request_id, **options)
        else:
            downloads = exports.fetch_hmi(args.series, args.start, args.end, cadence=args.cadence,
                                       cutout=_cutout(args), email=args.email, **options)
    except jsoc.JSOCError as exc:
        raise CommandError(str(exc)) from None

    for record in downloads:
        if record.status == "failed":
            print(f"FAILED    {record.path.name}: download failed: {record.reason} "
                  f"(after {record.attempts} attempts)")
    print(f"downloads: {downloads}".splitlines()[0] + f" (in {args.output_dir})")
    failed = len(downloads.failed)

    paths = downloads.paths
    if args.enhance:  # files of a deconvolved series (known by their names with --request-id) are not enhanced
        for path in [p for p in paths if _not_enhanceable(deconvolved_series(p.name))]:
            print(f"FAILED    {path.name}: {_not_enhanceable(deconvolved_series(path.name))}")
            paths.remove(path)
            failed += 1
    if args.enhance and paths:
        from sunpy_enhance.files import enhance_files

        enhanced_dir = args.enhanced_dir or args.output_dir / "enhanced"
        report = enhance_files(paths, enhanced_dir, overwrite=args.overwrite, callback=_print_record,
                               progress=progress, compression=args.compression, **enhance_options(args))
        print(f"enhancement: {report}".splitlines()[0] + f" (in {enhanced_dir})")
        failed += len(report.failed)
    if failed:
        print(f"{failed} file(s) failed; run the same command again to retry only those", file=sys.stderr)
        return 1
    return 0
