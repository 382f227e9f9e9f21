"""
Enhance many HMI files on a Dask cluster: one task per file, on one machine or many.

`enhance_batch` sends `sunpy_enhance.files.enhance_file` to the workers of a `dask.distributed`
cluster, one task per file. Each worker process loads a model once (`sunpy_enhance.models.load_model`
caches it per process) and keeps it for all the files it gets; each output is written atomically, with
its provenance, by the worker that made it. A file that fails is tried again (``retries`` times) and
then reported; it never stops the other files. Files whose output is already complete are skipped, so
an interrupted batch is resumed by running the same call again; they are recognised before any cluster
is started, so a re-run with nothing left to do starts no workers and loads no model.

Without a ``client`` a `distributed.LocalCluster` sized to the machine is started for the call and shut
down afterwards. To use several machines, start a scheduler and workers there (``dask scheduler``,
``dask worker``) and pass the scheduler's address: the code is the same; inputs and ``output_dir`` must
then be on a file system all workers see under the same path.
"""
import logging
import os
import sys
import uuid
from dataclasses import replace
from pathlib import Path

from distributed.diagnostics.plugin import WorkerPlugin

from sunpy_enhance.files import EnhanceReport, FileRecord, enhance_or_record, existing_output
from sunpy_enhance.models import THREADS_ENV

__all__ = ["default_workers", "enhance_batch", "local_client"]

log = logging.getLogger(__name__)

#: Memory one worker needs for a 4096² full disk with the default tiles in float32 (peak RSS measured at
#: 2.1 GB with 512² tiles and ONNX Runtime; see the performance page of the documentation).
WORKER_MEMORY = 3.5e9

#: How long to wait for a scheduler given by address.
CONNECT_TIMEOUT = "30s"

# The inference thread count this process was configured with by `_configure_threads`.
_THREADS = None


def default_workers(memory_per_worker=WORKER_MEMORY):
    """
    How many worker processes this machine can run: one per CPU core, fewer if memory is short.

    Parameters
    ----------
    memory_per_worker : float, optional
        Bytes one worker needs (default ``WORKER_MEMORY``, 3.5 GB: full-disk images, default tiles, float32).

    Returns
    -------
    int
        At least 1.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        import psutil

        available = psutil.virtual_memory().available
    except ImportError:  # psutil comes with distributed; without it, trust the core count
        return cores
    return max(1, min(cores, int(available // memory_per_worker)))


def _local_threads(n_workers):
    """TensorFlow threads per worker when ``n_workers`` share this machine's cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // max(1, int(n_workers)))


def _thread_environment(intra_op_threads):
    n = str(int(intra_op_threads))
    # ONNX Runtime sessions (sunpy_enhance.models) read THREADS_ENV; TensorFlow reads its own variables
    return {THREADS_ENV: n, "TF_NUM_INTRAOP_THREADS": n, "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": n}


def local_client(n_workers=None, *, intra_op_threads=None, **cluster_kwargs):
    """
    Start a `distributed.LocalCluster` of single-threaded worker processes set up for inference.

    Parameters
    ----------
    n_workers : int, optional
        Worker processes; default `default_workers`.
    intra_op_threads : int, optional
        TensorFlow threads inside each worker; default: the cores shared out among the workers
        (with 2 workers on 2 cores, 1 each), so that workers do not compete for cores.
    **cluster_kwargs
        Passed to `distributed.LocalCluster` (e.g. ``dashboard_address=":8787"`` for the dashboard,
        which is off by default; ``memory_limit``).

    Returns
    -------
    `distributed.Client`
        Close it (``client.close(); client.cluster.close()``, or use it as a context manager) when done.
    """
    from distributed import Client, LocalCluster

    n_workers = default_workers() if n_workers is None else int(n_workers)
    if n_workers < 1:
        msg = f"n_workers must be at least 1, not {n_workers}."
        raise ValueError(msg)
    if intra_op_threads is None:
        intra_op_threads = _local_threads(n_workers)
    options = {"threads_per_worker": 1, "processes": True, "dashboard_address": None}
    options.update(cluster_kwargs)
    env = {**_thread_environment(intra_op_threads), **options.pop("env", {})}
    cluster = LocalCluster(n_workers=n_workers, env=env, **options)
    client = Client(cluster)
    client.register_plugin(_TensorFlowThreads(intra_op_threads), name="sunpy-enhance-tensorflow-threads")
    return client


def _configure_threads(intra_op_threads):
    """
    Set the inference threads of this (worker) process: the environment read by ONNX Runtime sessions
    and by TensorFlow when they start, and TensorFlow's pools if it already runs. Does not import
    TensorFlow (a worker that only skips files, or runs ONNX Runtime, never needs it).
    """
    global _THREADS
    if intra_op_threads is None or _THREADS == intra_op_threads:
        return
    os.environ.update(_thread_environment(intra_op_threads))
    if sys.modules.get("tensorflow") is not None:
        tf = sys.modules["tensorflow"]
        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(intra_op_threads))
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # the runtime is already initialised (an earlier batch in this worker): keep it
            log.debug("TensorFlow threads already set in this process; keeping them")
    _THREADS = intra_op_threads


class _TensorFlowThreads(WorkerPlugin):
    """Dask worker plugin: set the inference threads when a worker starts (before any model runs)."""

    def __init__(self, intra_op_threads):
        self.intra_op_threads = int(intra_op_threads)

    def setup(self, worker):
        _configure_threads(self.intra_op_threads)


def _task(path, output_dir, overwrite, enhance_kwargs, intra_op_threads):
    """What a worker runs for one file: never raises for a bad file, returns a `FileRecord`."""
    _configure_threads(intra_op_threads)
    return enhance_or_record(path, output_dir, overwrite, enhance_kwargs)


def _connect(client, n_workers, intra_op_threads):
    """The client to use and whether this call owns (and must close) it."""
    if client is None:
        return local_client(n_workers, intra_op_threads=intra_op_threads), True
    if isinstance(client, (str, os.PathLike)):
        from distributed import Client

        if n_workers is not None:
            msg = "n_workers applies to a local cluster only; give either a scheduler address or n_workers."
            raise ValueError(msg)
        try:
            return Client(str(client), timeout=CONNECT_TIMEOUT), True
        except OSError as exc:
            msg = (f"Cannot reach the Dask scheduler at {client!r} ({exc}); is `dask scheduler` running there, "
                   "and is the address (e.g. tcp://host:8786) right?")
            raise OSError(msg) from None
    if n_workers is not None:
        msg = "n_workers applies to a local cluster only; it cannot resize the cluster of a given client."
        raise ValueError(msg)
    return client, False


def _close(client):
    """Close a client (and its local cluster); a slow or failing shutdown is logged, never raised, so that
    the outputs already written and the report of the batch are not lost because of it."""
    cluster = getattr(client, "cluster", None)
    try:
        client.close()
        if cluster is not None:
            cluster.close()
    except Exception as exc:  # e.g. a TimeoutError while workers are being stopped
        log.warning("The Dask cluster did not shut down cleanly (%s: %s); the results are complete.",
                    type(exc).__name__, exc)


def enhance_batch(paths, output_dir, *, client=None, n_workers=None, retries=2, overwrite=False,
                  intra_op_threads=None, progress=False, callback=None, compression="keep", **enhance_kwargs):
    """
    Enhance many HMI FITS files in parallel on a Dask cluster, one task per file.

    Parameters
    ----------
    paths : iterable of path-like
        Input FITS files (HMI continuum images or line-of-sight magnetograms).
    output_dir : path-like
        Where ``<name>.<key>.enhanced.fits`` is written for each input (one per input, see
        `sunpy_enhance.files.output_path`).
    client : `distributed.Client` or str, optional
        The cluster to use: a client (left open), or a scheduler address such as
        ``"tcp://10.0.0.1:8786"`` (connected to and closed by this call). By default a
        `distributed.LocalCluster` of ``n_workers`` processes is started and shut down (`local_client`).
    n_workers : int, optional
        Size of that local cluster; default `default_workers` (one per core, fewer if memory is short).
    retries : int, optional
        How many more times a failing file is tried (on whichever worker is free) before it is reported
        as failed. A worker that dies while enhancing a file counts as a failure of that file.
    overwrite : bool, optional
        Enhance again files whose output is already there (by default they are skipped).
    intra_op_threads : int, optional
        TensorFlow threads per worker. Local cluster: by default the cores divided among the workers.
        Given client: by default the workers' own setting is kept.
    progress : bool, optional
        Show a progress bar over files (`tqdm.auto`: a widget in notebooks, text in a terminal).
    callback : callable, optional
        Called on this (the client) process with each final `~sunpy_enhance.files.FileRecord` as soon as
        it is known.
    compression : {"keep", "none", "gzip", "rice"}, optional
        Tile compression of the outputs, as for `sunpy_enhance.files.enhance_file` (default ``"keep"``: the
        output of a tile-compressed input is tile-compressed too, losslessly).
    **enhance_kwargs
        Passed to `sunpy_enhance.enhance.enhance_map` on the workers (``model=``, ``precision=``,
        ``tile_size=``, ``kind=``, …).

    Returns
    -------
    `~sunpy_enhance.files.EnhanceReport`
        One record per input, in input order: ``"done"``, ``"skipped"`` or ``"failed"`` (with the reason
        of the last attempt and the number of attempts).

    Notes
    -----
    * Each worker process loads a given model once and reuses it for every file it receives. Workers
      run one file at a time (one thread each); the cores of a machine are shared out between its
      workers as inference threads (``intra_op_threads``: ONNX Runtime or TensorFlow).
    * Files whose complete output is already there are recognised here first (from the output's FITS
      headers) and reported as skipped without a task; a cluster is started (or contacted) only when
      files are left to enhance, and a local one gets no more workers than files.
    * Paths are made absolute before they are sent. On a multi-machine cluster they must name the same
      files on every worker (a shared file system mounted at the same place).
    * The outputs are identical to those of the serial `sunpy_enhance.files.enhance_files`: the same
      function enhances each file, only in another process.

    Examples
    --------
    >>> from sunpy_enhance.batch import enhance_batch
    >>> report = enhance_batch(["a.fits", "b.fits"], "enhanced", n_workers=2)  # doctest: +SKIP
    >>> print(report)  # doctest: +SKIP
    2 files: 2 enhanced, 0 already done, 0 failed
    """
    from distributed import as_completed

    from sunpy_enhance.io import output_compression

    output_compression(compression)  # a bad value fails before any cluster is started
    paths = list(paths)
    retries = int(retries)
    if retries < 0:
        msg = f"retries must be 0 or more, not {retries}."
        raise ValueError(msg)
    output_dir = os.path.abspath(output_dir)
    records = [None] * len(paths)
    if not paths:
        return EnhanceReport()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(paths), desc="files", unit="file")
    todo = []
    for index, path in enumerate(paths):  # files already done need no worker (and no model)
        done = None if overwrite else existing_output(path, output_dir, **enhance_kwargs)
        if done is None:
            todo.append(index)
            continue
        records[index] = FileRecord(str(path), str(done), "skipped", "output already exists")
        if bar is not None:
            bar.update(1)
        if callback is not None:
            callback(records[index])
    if not todo:
        if bar is not None:
            bar.close()
        return EnhanceReport(records)
    if client is None:  # our local cluster: no more workers than files, the cores shared out among them
        n_workers = min(default_workers() if n_workers is None else int(n_workers), len(todo))
        if intra_op_threads is None:
            intra_op_threads = _local_threads(n_workers)
    client, owned = _connect(client, n_workers, intra_op_threads)
    task_kwargs = {**enhance_kwargs, "compression": compression}  # enhance_file's own option
    pending = {}
    try:

        def submit(index, attempt):
            future = client.submit(_task, os.path.abspath(paths[index]), output_dir, overwrite, task_kwargs,
                                   intra_op_threads, pure=False,
                                   key=f"enhance-file-{index}-{attempt}-{uuid.uuid4().hex}")
            pending[future] = (index, attempt)
            return future

        queue = as_completed([submit(i, 1) for i in todo])
        for future in queue:
            index, attempt = pending.pop(future)
            try:
                record = future.result()
            except Exception as exc:  # the task itself could not run (a worker died, the file crashed it)
                record = FileRecord(os.path.abspath(paths[index]), None, "failed", f"{type(exc).__name__}: {exc}")
            if record.status == "failed" and attempt <= retries:
                log.warning("%s failed (attempt %d of %d), trying again: %s", Path(paths[index]).name, attempt,
                            retries + 1, record.reason)
                queue.add(submit(index, attempt + 1))
                continue
            record = replace(record, source=str(paths[index]), attempts=attempt)
            records[index] = record
            if bar is not None:
                bar.update(1)
            if callback is not None:
                callback(record)
    finally:
        for future in pending:
            future.cancel()
        if bar is not None:
            bar.close()
        if owned:
            _close(client)
    return EnhanceReport(records)
