"""
``sunpy-enhance batch``: enhance many HMI FITS files in parallel with Dask (local or multi-machine).
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
    show_progress,
)

__all__ = ["collect_inputs", "register", "run"]

_PATTERNS = ("*.fits", "*.fits.gz", "*.fits.fz", "*.fts", "*.fit")


def register(subparsers):
    parser = subparsers.add_parser(
        "batch", help="enhance many HMI FITS files in parallel (Dask; one machine or a cluster)",
        description="Enhance HMI continuum images and magnetograms, one Dask task per file. By default a local "
                    "cluster sized to this machine is started; --scheduler uses an existing (multi-machine) "
                    "cluster. Outputs <name>.<key>.enhanced.fits (one per input) are written atomically; files "
                    "already done (by the same model and precision) are skipped, so an interrupted batch is resumed "
                    "by running the same command again. A failing "
                    "file is retried, then reported; the exit status is 1 if any file failed.")
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                        help="HMI FITS files, or directories whose FITS files are all enhanced")
    add_output_dir_option(parser, "folder for the enhanced files (created if needed)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="address of a running Dask scheduler, e.g. tcp://10.0.0.1:8786 (inputs and output "
                            "directory must be on a file system every worker sees under the same path)")
    where.add_argument("--workers", type=integer_at_least(1), metavar="N",
                       help="worker processes of the local cluster (default: one per core, fewer if memory "
                            "is short)")
    where.add_argument("--serial", action="store_true", help="no Dask: enhance the files one by one here")
    parser.add_argument("--threads-per-worker", type=integer_at_least(1), metavar="T",
                        help="TensorFlow threads in each worker (default: the cores shared out among the local "
                             "workers; a remote cluster keeps its own setting)")
    parser.add_argument("--retries", type=integer_at_least(0), default=2, metavar="N",
                        help="extra attempts for a failing file before it is reported (default 2)")
    parser.add_argument("--overwrite", action="store_true", help="enhance again files that are already done")
    add_progress_option(parser)
    add_enhance_options(parser)
    parser.set_defaults(func=run)


def collect_inputs(inputs):
    """
    The input files: given files as they are, directories expanded to their FITS files (sorted).

    Outputs of sunpy-enhance (``*.enhanced.fits``) and hidden or temporary files (``.name…``, ``*.part``:
    what an interrupted write or download leaves) are never inputs: left out of directories, and skipped
    with a note when named.

    Raises
    ------
    CommandError
        When an input does not exist, or a directory holds no FITS file.
    """
    files = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found = sorted({p for pattern in _PATTERNS for p in item.glob(pattern)
                            if p.is_file() and not _not_an_input(p)})
            if not found:
                raise CommandError(f"{item}: directory holds no FITS file ({', '.join(_PATTERNS)}) other than "
                                   "outputs of sunpy-enhance")
            files.extend(found)
        elif item.exists():
            why = _not_an_input(item)
            if why:
                print(f"skipping {item}: {why}", file=sys.stderr)
                continue
            files.append(item)
        else:
            raise CommandError(f"{item}: no such file or directory")
    return files


def _not_an_input(path):
    """Why ``path`` is no input (an output or a temporary file of a run), or ""."""
    name = path.name
    if name.lower().endswith(".enhanced.fits"):
        return "an output of sunpy-enhance (*.enhanced.fits)"
    if name.startswith(".") or name.endswith(".part") or ".part." in name:
        return "a hidden or temporary file (an interrupted write or download)"
    return ""


def _printer(total):
    state = {"n": 0}

    def show(record):
        state["n"] += 1
        detail = f" ({record.seconds:.1f} s)" if record.status == "done" else f": {record.reason}"
        if record.status == "failed" and record.attempts > 1:
            detail = f" after {record.attempts} attempts{detail}"
        print(f"[{state['n']}/{total}] {record.status} {Path(record.source).name}{detail}", file=sys.stderr)

    return show


def run(args):
    from sunpy_enhance.files import enhance_files

    files = collect_inputs(args.inputs)
    kwargs = {"overwrite": args.overwrite, "retries": args.retries, "compression": args.compression,
              **enhance_options(args)}
    progress = show_progress(args)
    callback = None if progress else _printer(len(files))  # without bars, one line per file
    if args.serial:
        report = enhance_files(files, args.output_dir, progress=progress, callback=callback, **kwargs)
    else:
        from sunpy_enhance.batch import default_workers, enhance_batch

        if args.scheduler:
            where = f"the Dask cluster at {args.scheduler}"
        else:
            where = f"a local Dask cluster of {args.workers or default_workers()} worker(s)"
        print(f"enhancing {len(files)} file(s) on {where}", file=sys.stderr)
        report = enhance_batch(files, args.output_dir, client=args.scheduler, n_workers=args.workers,
                               intra_op_threads=args.threads_per_worker, progress=progress, callback=callback,
                               **kwargs)
    print(report)
    return 0 if report.ok else 1
