"""
=======================================================
Fetching HMI data from JSOC and enhancing them
=======================================================

Most analyses start from a date, a region and an email address registered at JSOC, not from files.
This example shows the two ways sunpy-enhance turns those into enhanced maps:

1. with the package's own JSOC helpers (built on ``drms``): one call that finds the records, exports
   them (full disk or a cutout), downloads them with progress bars and retries, and a second call
   that enhances them;
2. with `sunpy.net.Fido`, for those who already search that way: the search results are handed to
   `~sunpy_enhance.net.fido.enhance_fido_results`.

Both keep their downloads in a cache folder where complete files are never fetched again and partial
files never carry a final name, so an interrupted run can simply be started again.

.. note::
   This example needs the internet and a JSOC-registered email address (set ``JSOC_EMAIL``), so it is
   not run when the documentation is built. Register an address at
   http://jsoc.stanford.edu/ajax/register_email.html.
"""
import os
from pathlib import Path

import astropy.units as u
import matplotlib.pyplot as plt
import sunpy.map
from astropy.coordinates import SkyCoord
from sunpy.coordinates import frames
from sunpy.net import Fido
from sunpy.net import attrs as a

from sunpy_enhance.files import enhance_files
from sunpy_enhance.net.exports import fetch_hmi
from sunpy_enhance.net.fido import enhance_fido_results
from sunpy_enhance.net.jsoc import search_hmi
from sunpy_enhance.net.records import hmi_series, im_patch
from sunpy_enhance.visualization import plot_before_after

email = os.environ.get("JSOC_EMAIL")  # or write your registered address here
work = Path("jsoc_example")

###############################################################################
# Which series? `~sunpy_enhance.net.records.hmi_series` names it: here line-of-sight magnetograms at
# 720 s cadence (less noisy than the 45 s ones, about 5 G instead of 10 G). The same function gives
# the continuum series, the limb-darkening-removed continuum and JSOC's own deconvolved (``_dcon``)
# products.
series = hmi_series("magnetogram", cadence=720 * u.s)
print(series)

###############################################################################
# Searching needs no email and exports nothing: what does JSOC hold for the first hour of
# 2014-03-01, one record every 12 minutes? (Times are UTC; JSOC's ``T_REC`` are TAI.)
records = search_hmi(series, "2014-03-01T00:00", "2014-03-01T01:00", cadence=12 * u.min)
print(records)

###############################################################################
# Full-disk HMI images are 4096 × 4096 pixels (tens of MB each); a cutout keeps exports small. Give
# the box with sunpy coordinates, here a 200″ × 150″ box around an active region, following solar
# rotation so that every frame shows the same region.
centre = SkyCoord(-280 * u.arcsec, 260 * u.arcsec, frame=frames.Helioprojective, observer="earth",
                  obstime="2014-03-01T00:00")
box = im_patch(center=centre, width=200 * u.arcsec, height=150 * u.arcsec, tracking=True)

###############################################################################
# One call exports and downloads. The export and its files are remembered in
# ``jsoc_example/raw/.jsoc-exports/``: running this line again returns at once, and after an
# interruption it downloads only the missing files (from the same export, while JSOC keeps it).
downloads = fetch_hmi(series, "2014-03-01T00:00", "2014-03-01T01:00", cadence=12 * u.min, cutout=box,
                      email=email, directory=work / "raw")
print(downloads)

###############################################################################
# Enhance the files. Each result is written atomically as ``<name>.<key>.enhanced.fits`` with its
# provenance in the header; files already enhanced are skipped, and a file that fails is reported
# (with the reason) without stopping the others.
report = enhance_files(downloads.paths, work / "enhanced")
print(report)

###############################################################################
# Compare the first frame with its enhanced version: same field, half the pixel size.
before = sunpy.map.Map(downloads.paths[0])
after = report.maps()[0]
fig = plot_before_after(before, after)
plt.show()

###############################################################################
# The same with Fido
# ------------------
# A Fido search of JSOC needs the series and, to export, the registered address
# (``a.jsoc.Notify``); a cutout can be added with ``a.jsoc.Cutout``. Hand the results to
# `~sunpy_enhance.net.fido.enhance_fido_results`: it exports exactly what Fido found, downloads it
# (verified, retried, cached) and enhances it. Here: continuum images, one every 6 minutes.
found = Fido.search(a.Time("2014-03-01T00:00", "2014-03-01T00:30"),
                    a.jsoc.Series(hmi_series("continuum")), a.Sample(6 * u.min),
                    a.jsoc.Notify(email))
print(found)

fido_report = enhance_fido_results(found, work / "enhanced_fido", download_dir=work / "raw_fido")
print(fido_report)

###############################################################################
# Files already fetched with ``Fido.fetch`` work too:
#
# .. code-block:: python
#
#     files = Fido.fetch(found, path="jsoc_example/raw_fido/{file}")
#     fido_report = enhance_fido_results(files, "jsoc_example/enhanced_fido")
#
# Failed downloads (``files.errors``) then appear in the report as failed records.

###############################################################################
# From the command line
# ---------------------
# The same in one command; it exits with status 1 and lists every failure, and running it again
# finishes what is missing:
#
# .. code-block:: bash
#
#     sunpy-enhance fetch --series hmi.M_720s --start 2014-03-01T00:00 --end 2014-03-01T01:00 \
#         --cadence 12m --cutout -280 260 200 150 --track --output-dir jsoc_example/raw --enhance
