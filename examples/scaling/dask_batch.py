"""
==================================================
Enhancing many files with Dask
==================================================

A season of HMI data is thousands of full-disk images. `sunpy_enhance.batch.enhance_batch` sends one
task per file to a `Dask <https://distributed.dask.org>`__ cluster: on your laptop, a local cluster of
one worker process per core; on a cluster, as many workers as you start. Each worker loads the model
once and keeps it for all its files, writes each result atomically next to its provenance, retries a
file that fails, and never lets one bad file stop the others. Files already done are skipped, so an
interrupted batch is resumed by running the same call again.

.. note::
   This example is shown, not run, when the documentation is built: it starts worker processes and
   reads files you have to download first (see
   :ref:`sphx_glr_generated_gallery_jsoc_jsoc_fetch_and_enhance.py`). To try it without downloads, the
   first cell writes a few synthetic HMI-like files instead.

Dask starts its workers as new Python processes, which import this script again. As a script, the
work must therefore be done only in the main process: that is what the ``if MAIN:`` lines are for
(``MAIN`` is ``__name__ == "__main__"``). In a notebook or an interactive session you can leave them
out.
"""

from pathlib import Path

import sunpy.map

from sunpy_enhance.batch import default_workers, enhance_batch, local_client
from sunpy_enhance.files import enhance_files
from sunpy_enhance.io import save_map_atomic
from sunpy_enhance.sample import synthetic_hmi_map

MAIN = __name__ == "__main__"  # False in the worker processes Dask starts

###############################################################################
# Some input files. With real data these are the FITS files `sunpy_enhance.net.exports.fetch_hmi` or
# ``Fido.fetch`` downloaded; here, six synthetic HMI-like continuum cutouts.
raw = Path("hmi_raw")
paths = [raw / f"synthetic_{i}.continuum.fits" for i in range(6)]
if MAIN:
    raw.mkdir(exist_ok=True)
    for i, path in enumerate(paths):
        if not path.exists():
            hmi = synthetic_hmi_map("continuum", shape=(256, 256), seed=i)
            save_map_atomic(hmi, path)

###############################################################################
# On one machine
# --------------
# Without a ``client``, `~sunpy_enhance.batch.enhance_batch` starts a local cluster for the call, one
# worker process per core (fewer if memory is short: each worker is budgeted a few GB for full-disk
# images), shares the cores out as inference threads, and shuts it down at the end.
if MAIN:
    print("workers this machine can run:", default_workers())
    report = enhance_batch(paths, "hmi_enhanced", progress=True)
    print(report)

###############################################################################
# The report has one record per input, in order, with what happened and how long it took; the
# outputs are ``<name>.<key>.enhanced.fits`` in the output folder (``<key>``, a hash of the input's path,
# keeps inputs of the same name in different folders apart).
if MAIN:
    for record in report:
        print(
            f"{Path(record.source).name:32s} {record.status:8s} {record.seconds:6.1f} s"
        )
    maps = report.maps()
    print(maps[0].scale, maps[0].meta["enhmodel"])

###############################################################################
# Run it again: everything is already done, so every file is skipped in an instant. After an
# interruption (a killed job, a full disk) only the missing outputs are made.
if MAIN:
    print(enhance_batch(paths, "hmi_enhanced", n_workers=2))

###############################################################################
# Options of `~sunpy_enhance.enhance.enhance_map` go through: a model, bfloat16 arithmetic (faster on
# GPUs and CPUs with AMX; fine for magnetograms, not for continuum photometry), a tile size. Here into
# another folder, so nothing is skipped.
if MAIN:
    report_bf16 = enhance_batch(
        paths, "hmi_enhanced_bf16", n_workers=2, precision="bfloat16", tile_size=512
    )
    print(report_bf16)

###############################################################################
# Reusing a cluster
# -----------------
# Starting workers and loading TensorFlow takes a few seconds per worker. When you process several
# batches, start the cluster once with `~sunpy_enhance.batch.local_client` and pass the client; it
# is left open for the next call. Its dashboard shows the tasks as they run.
if MAIN:
    client = local_client(n_workers=2, dashboard_address=":8787")
    try:
        print("dashboard:", client.dashboard_link)
        first = enhance_batch(paths[:3], "hmi_enhanced_reused", client=client)
        second = enhance_batch(paths[3:], "hmi_enhanced_reused", client=client)
    finally:
        client.close()
        client.cluster.close()
    print(first, second, sep="\n")

###############################################################################
# Many machines
# -------------
# Start a scheduler on one machine and workers on the others (or let your HPC centre's
# ``dask-jobqueue`` do it), with the inputs and the output folder on a file system all of them see
# under the same path::
#
#     dask scheduler                                   # on the head node: prints tcp://10.0.0.1:8786
#     dask worker tcp://10.0.0.1:8786 --nthreads 1     # on each compute node, one per core or GPU
#
# Then pass the scheduler's address instead of a client: the call is otherwise the same.
#
# .. code-block:: python
#
#     report = enhance_batch(sorted(Path("/shared/hmi/2014-03").glob("*.fits")),
#                            "/shared/hmi/2014-03-enhanced", client="tcp://10.0.0.1:8786",
#                            retries=2, precision="bfloat16")
#     print(report)
#     for record in report.failed:
#         print(record.source, record.reason)

###############################################################################
# Without Dask
# ------------
# `sunpy_enhance.files.enhance_files` does the same in this process, one file after the other, with
# the same report and the same skipping of finished files. The outputs are identical: both call
# `sunpy_enhance.files.enhance_file` for each input.
if MAIN:
    serial = enhance_files(paths, "hmi_enhanced_serial")
    print(serial)
    dask_output = sunpy.map.Map(report.outputs[0]).data
    serial_output = sunpy.map.Map(serial.outputs[0]).data
    print("serial and Dask outputs identical:", (dask_output == serial_output).all())
