"""
Enhance HMI FITS files in batches: one call per file, a report of what was done, failed or skipped.

`enhance_file` handles one file from start to finish (read, enhance, write atomically with provenance)
and returns a small picklable `FileRecord`, so it can run anywhere, e.g. on a Dask worker.
`enhance_files` loops over it, never stops at a failing file, and returns an `EnhanceReport`. A file
whose output already exists (complete, and made by the same model and precision) is skipped, so an
interrupted batch can simply be run again.

Each input has its own output, ``<name>.<key>.enhanced.fits`` (`output_path`): the key is a hash of the
input's absolute path, so ``day1/x.fits``, ``day2/x.fits`` and ``x.fits.gz`` never share one. The output of a
tile-compressed input (JSOC's files are Rice-compressed) is tile-compressed too, losslessly (``compression=``).
"""
import hashlib
import logging
import math
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

from sunpy_enhance.io import FITS_SUFFIXES, read_header, read_map

__all__ = ["EnhanceReport", "FileRecord", "enhance_file", "enhance_files", "existing_output", "output_path"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileRecord:
    """
    The outcome for one input.

    Attributes
    ----------
    source : str
        The input file (or, for a download that failed, its URL).
    output : str or None
        The enhanced FITS file, when there is one.
    status : str
        ``"done"``, ``"skipped"`` (output already there) or ``"failed"``.
    reason : str
        Why it failed or was skipped.
    seconds : float
        Time spent on it (the last attempt).
    attempts : int
        How many times it was tried (more than 1 only when ``retries`` was given and it failed).
    """

    source: str
    output: str | None
    status: str
    reason: str = ""
    seconds: float = 0.0
    attempts: int = 1


class EnhanceReport(list):
    """
    A list of `FileRecord`, one per input, in input order.
    """

    def _with(self, status):
        return [r for r in self if r.status == status]

    @property
    def done(self):
        """Records of the files enhanced by this call."""
        return self._with("done")

    @property
    def skipped(self):
        """Records of the files whose output was already there."""
        return self._with("skipped")

    @property
    def failed(self):
        """Records of the inputs that could not be downloaded, read or enhanced."""
        return self._with("failed")

    @property
    def ok(self):
        """`True` when nothing failed."""
        return not self.failed

    @property
    def outputs(self):
        """Paths of all enhanced files now on disk (done or skipped)."""
        return [Path(r.output) for r in self if r.status in ("done", "skipped")]

    def maps(self):
        """
        The enhanced maps (read from the output files).

        Returns
        -------
        list of `sunpy.map.GenericMap`
        """
        import sunpy.map

        return [sunpy.map.Map(path) for path in self.outputs]

    def __str__(self):
        lines = [f"{len(self)} files: {len(self.done)} enhanced, {len(self.skipped)} already done, "
                 f"{len(self.failed)} failed"]
        lines += [f"  FAILED {Path(r.source).name}{f' ({r.attempts} attempts)' if r.attempts > 1 else ''}: {r.reason}"
                  for r in self.failed]
        return "\n".join(lines)


def output_path(path, output_dir):
    """
    Where `enhance_file` writes the result for ``path``: ``<output_dir>/<name>.<key>.enhanced.fits``.

    ``<name>`` is the input's file name without its FITS suffix (``.fits``, ``.fits.gz``, …) and ``<key>``
    the first 8 hexadecimal digits of the SHA-256 of the input's absolute path (symbolic links resolved).
    So every input has its own output, also inputs of the same name in different folders (``day1/x.fits``,
    ``day2/x.fits``) or compressed and not (``x.fits``, ``x.fits.gz``); the same input, however its path
    is written, always has the same one. An input that is moved gets a new key (it is enhanced again).

    Examples
    --------
    >>> from sunpy_enhance.files import output_path
    >>> output_path("/data/hmi.m_45s.20140301_000000_TAI.2.magnetogram.fits", "/out").name
    'hmi.m_45s.20140301_000000_TAI.2.magnetogram.4213b331.enhanced.fits'
    """
    path = Path(path)
    name = path.name
    for suffix in FITS_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    key = hashlib.sha256(str(path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return Path(output_dir) / f"{name}.{key}.enhanced.fits"


def _kind_of_header(header):
    from sunpy_enhance.hmi import classify_map

    class _Meta:  # classify_map reads only .meta
        meta = {key.lower(): value for key, value in header.items() if key not in ("COMMENT", "HISTORY", "")}

    try:
        return classify_map(_Meta)
    except ValueError:
        return None


def _made_otherwise(target, enhance_kwargs):
    """
    Why the existing output ``target`` does not answer the request (another model, precision, unit or quiet-Sun
    level), or "".

    Compares the model name and creation date (``ENHMODEL``, ``ENHMDATE``) and the precision asked for
    (``ENHPREQ``; for older outputs the precision in the ``HISTORY``) with ``enhance_kwargs``; for continuum
    outputs also the units (``ENHUNIT``: I/Ic, or the input's with ``keep_input_units``) and, when
    ``quiet_sun`` is given as a number, the quiet-Sun level (``ENHQSUN``). The tile compression is no reason:
    the values are the same.
    """
    from sunpy_enhance.models import read_card

    header = read_header(target)  # the image's header, also when it is tile-compressed
    made_with = (str(header.get("ENHMODEL", "")), str(header.get("ENHMDATE", "")))
    precision = header.get("ENHPREQ")
    if precision is None:
        history = "".join(str(card) for card in header.get("HISTORY", []))  # cards wrap long lines
        found = re.search(r"Enhance\s*x2.*?\((bfloat16|float32|float16)", history, re.DOTALL)
        precision = found.group(1) if found else "unknown"
    model = enhance_kwargs.get("model")
    if model is None:
        kind = enhance_kwargs.get("kind") or _kind_of_header(header)
        model = f"enhance-{kind}" if kind else None
    reasons = []
    if model is not None:
        try:
            card = read_card(model)
        except (OSError, ValueError) as exc:
            return f"cannot tell which model it needs ({exc})"
        wanted = (str(card.get("name")), str(card.get("created", "")))
        if made_with != wanted:
            reasons.append(f"made by model {made_with[0]} ({made_with[1]}), not {wanted[0]} ({wanted[1]})")
    asked = str(enhance_kwargs.get("precision", "float32"))
    if precision != asked:
        reasons.append(f"made in {precision}, not {asked}")
    if "ENHQSUN" in header:  # a continuum output
        made_keep = str(header.get("ENHUNIT", "")).startswith("input units")
        if made_keep != bool(enhance_kwargs.get("keep_input_units", False)):
            reasons.append("made in the input's units, not I/Ic" if made_keep
                           else "made in I/Ic, not the input's units")
        level = enhance_kwargs.get("quiet_sun")
        try:
            level = None if level is None else float(level)
        except TypeError:  # a Quantity with a unit: compared in enhance_map's terms only, not here
            level = None
        if level is not None and not math.isclose(float(header["ENHQSUN"]), level, rel_tol=1e-6):
            reasons.append(f"made with the quiet-Sun level {float(header['ENHQSUN']):g}, not {level:g}")
    return "; ".join(reasons)


def _output_state(path, output_dir, enhance_kwargs):
    """(target, "") when a complete output made as asked exists; (None, why) when it must be made (again)."""
    from sunpy_enhance.io import CorruptFileError, verify_file

    target = output_path(path, output_dir)
    if not target.exists():
        return None, ""
    try:
        verify_file(target)
    except CorruptFileError as exc:
        log.info("redoing %s: the existing output is incomplete (%s)", target, exc)
        return None, f"the existing output was incomplete ({exc})"
    why = _made_otherwise(target, enhance_kwargs)
    if why:
        log.info("redoing %s: the existing output was %s", target, why)
        return None, f"the existing output was {why}"
    return target, ""


def existing_output(path, output_dir, **enhance_kwargs):
    """
    The complete output of ``path`` in ``output_dir`` when there is one made as asked, else None.

    Reads only the output's FITS headers (`sunpy_enhance.io.verify_file`) and the model card:
    cheap, no model is loaded. A truncated output (an interrupted write from before outputs were written
    atomically, a full disk) does not count, nor one made by another model (name and creation date) or
    in another precision than ``enhance_kwargs`` ask for (``model=``, ``kind=``, ``precision=``, as for
    `enhance_file`).

    Returns
    -------
    `pathlib.Path` or None
    """
    return _output_state(path, output_dir, enhance_kwargs)[0]


def enhance_file(path, output_dir, *, overwrite=False, compression="keep", **enhance_kwargs):
    """
    Enhance one HMI FITS file and write the result as FITS, atomically and with its provenance.

    Parameters
    ----------
    path : path-like
        An HMI continuum or line-of-sight magnetogram FITS file (e.g. as exported by JSOC).
    output_dir : path-like
        Where to write ``<name>.enhanced.fits`` (see `output_path`); created if needed.
    overwrite : bool, optional
        Enhance again even when the output exists.
    compression : {"keep", "none", "gzip", "rice"}, optional
        Tile compression of the output (`sunpy_enhance.io.output_compression`). ``"keep"`` (default): the
        output of a tile-compressed input (such as JSOC's Rice-compressed files) is tile-compressed too,
        losslessly (``GZIP_2`` without quantization: Rice would have to quantize the float32 output), and
        that of a plain input is plain. ``"none"``: plain; ``"gzip"``: lossless; ``"rice"``: smallest, lossy
        (`sunpy_enhance.io.image_hdu`).
    **enhance_kwargs
        Passed to `sunpy_enhance.enhance.enhance_map` (``model=``, ``kind=``, ``tile_size=``, …).

    Returns
    -------
    FileRecord
        Status ``"done"``, or ``"skipped"`` when a complete output made by the same model (name and
        creation date) and precision was already there; an output made otherwise is made again (the
        record's ``reason`` says why).

    Raises
    ------
    FileNotFoundError, ValueError, OSError
        The file is missing, incomplete, unreadable or not suitable for Enhance (the message says why).
    FileExistsError
        Another process wrote the same output while this one was working: this result is not saved, the
        other one is kept (the message says so).

    Notes
    -----
    The output is written to a temporary file in ``output_dir`` and renamed into place, so it is either
    complete or absent. Besides what `~sunpy_enhance.enhance.enhance_map` records (``HISTORY``,
    ``ENHVER``, ``ENHMODEL``, ``ENHMDATE``), the header names the source file (``ENHSRC``) and the
    precision asked for (``ENHPREQ``).
    This function only depends on its arguments and the file system, so it can be sent to a worker
    process (e.g. with Dask); `enhance_files` is a loop over it.
    """
    from sunpy_enhance.io import file_identity, output_compression

    started = time.perf_counter()
    path = Path(path)
    target = output_path(path, output_dir)
    output_compression(compression)  # a bad value fails before any work
    identity = file_identity(target)  # if another process writes the output meanwhile, we lose, and say so
    why = ""
    if not overwrite:
        done, why = _output_state(path, output_dir, enhance_kwargs)
        if done is not None:  # skipped: no model is loaded
            return FileRecord(str(path), str(target), "skipped", "output already exists")
    from sunpy_enhance.enhance.api import enhance_map
    from sunpy_enhance.header import add_provenance
    from sunpy_enhance.io import save_map_atomic

    smap = read_map(path)
    enhanced = enhance_map(smap, **enhance_kwargs)
    meta = enhanced.meta  # a new map made by enhance_map: ours to annotate
    add_provenance(meta, f"enhanced from {path.name}", enhsrc=path.name,
                   enhpreq=str(enhance_kwargs.get("precision", "float32")))
    save_map_atomic(enhanced, target, overwrite=True, expect=identity,
                    compression=output_compression(compression, path))
    return FileRecord(str(path), str(target), "done", f"redone: {why}" if why else "",
                      time.perf_counter() - started)


def enhance_or_record(path, output_dir, overwrite, enhance_kwargs):
    """`enhance_file`, with any error turned into a ``failed`` record (what a batch worker runs)."""
    started = time.perf_counter()
    try:
        return enhance_file(path, output_dir, overwrite=overwrite, **enhance_kwargs)
    except Exception as exc:  # a batch never stops at one bad file; the reason goes into the report
        return FileRecord(str(path), None, "failed", f"{type(exc).__name__}: {exc}",
                          time.perf_counter() - started)


def enhance_files(paths, output_dir, *, overwrite=False, callback=None, retries=0, progress=False, compression="keep",
                  **enhance_kwargs):
    """
    Enhance many HMI FITS files; a failing file is recorded, not raised, and the rest go on.

    The files are enhanced one after the other in this process; `sunpy_enhance.batch.enhance_batch` spreads
    them over the workers of a Dask cluster.

    Parameters
    ----------
    paths : iterable of path-like
        Input FITS files.
    output_dir : path-like
        Where the ``*.enhanced.fits`` files go.
    overwrite : bool, optional
        Redo files whose output exists (by default they are skipped).
    callback : callable, optional
        Called with each `FileRecord` as soon as it is known (e.g. to print progress).
    retries : int, optional
        How many more times a failing file is tried before it is reported as failed.
    progress : bool, optional
        Show a progress bar over files (`tqdm.auto`: a widget in notebooks, text in a terminal).
    compression : {"keep", "none", "gzip", "rice"}, optional
        Tile compression of the outputs, as for `enhance_file`.
    **enhance_kwargs
        Passed to `sunpy_enhance.enhance.enhance_map`.

    Returns
    -------
    EnhanceReport
        One record per input (done, skipped or failed with the reason).

    Examples
    --------
    >>> from sunpy_enhance.files import enhance_files
    >>> files = ["hmi.ic_45s.20140301_000000_TAI.2.continuum.fits"]
    >>> report = enhance_files(files, "enhanced")  # doctest: +SKIP
    >>> print(report)  # doctest: +SKIP
    1 files: 1 enhanced, 0 already done, 0 failed
    """
    from sunpy_enhance.io import output_compression

    output_compression(compression)  # a bad value fails before any work
    enhance_kwargs = {**enhance_kwargs, "compression": compression}  # enhance_file's own option
    output_dir = Path(output_dir)
    paths = list(paths)
    report = EnhanceReport()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(paths), desc="files", unit="file")
    try:
        for path in paths:
            for attempt in range(1, int(retries) + 2):
                record = enhance_or_record(path, output_dir, overwrite, enhance_kwargs)
                if record.status != "failed":
                    break
                if attempt <= retries:
                    log.warning("%s failed (attempt %d of %d), trying again: %s", Path(path).name, attempt,
                                retries + 1, record.reason)
            if attempt > 1:
                record = replace(record, attempts=attempt)
            report.append(record)
            if bar is not None:
                bar.update(1)
            if callback is not None:
                callback(record)
    finally:
        if bar is not None:
            bar.close()
    return report
