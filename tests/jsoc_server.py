"""
A JSOC look-alike: a real threaded HTTP server on 127.0.0.1 that speaks the JSOC CGI API.

drms (through a `drms.ServerConfig` pointing here) and parfive talk to it over real sockets, so the
tests exercise the same code paths as a session against ``jsoc.stanford.edu``:

- ``/cgi-bin/ajax/jsoc_info?op=series_struct|rs_list|rs_summary`` (series description, record lists),
- ``/cgi-bin/ajax/jsoc_fetch?op=exp_request|exp_status`` (export requests and their status),
- ``/cgi-bin/ajax/checkAddress.sh`` (is an email address registered for exports),
- ``/cgi-bin/ajax/show_series``,
- ``/SUM<n>/D<n>/S00000/<file>`` (the exported FITS files, with ``Content-Length``, ``HEAD`` and ``Range``).

The JSON follows the shapes JSOC returns (keys drms reads: ``status``, ``requestid``, ``error``,
``method``, ``protocol``, ``dir``, ``data``, ``tarfile``, ``keywords``, ``wait``; rs_list's
``keywords``/``segments``/``count``/``runtime``/``status``); keyword values are strings, as JSOC sends them.

Exported files are generated on the fly, one per record: a Rice-compressed image extension after an
empty primary HDU, integer data with ``BSCALE``/``BZERO``/``BLANK`` as JSOC writes them (continuum
``BZERO=97304, BSCALE=3``; magnetograms ``BSCALE=0.1``), and a header built from the real hmi.Ic_45s
header sunpy ships (``resampled_hmi.fits``) with the geometry of a small native-resolution field
(0.504″/px, ``CROTA2`` ≈ 180° as for HMI) near disk centre and the times of the record. Data are
synthetic (seeded noise plus a spot or a bipole), small (``size`` × ``size``, default 96).
``im_patch`` cutouts really cut the requested box out of that field through its WCS.

Failures are injected by setting attributes or queuing faults, see `JSOCLookalike`.
"""
import io
import json
import posixpath
import re
import socket
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote_plus, urlsplit

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time, TimeDelta
from astropy.wcs import WCS

__all__ = [
    "REGISTERED_EMAIL",
    "SERIES",
    "JSOCLookalike",
    "corrupted",
    "hmi_like_fits_bytes",
    "jsoc",
    "jsoc_filename",
    "write_hmi_file",
]

REGISTERED_EMAIL = "solar.user@example.org"

#: Series the look-alike knows: segment, slot step (s), camera, CONTENT, BUNIT, BZERO, BSCALE.
SERIES = {
    "hmi.M_45s": ("magnetogram", 45, 2, "MAGNETOGRAM", "Gauss", 0.0, 0.1),
    "hmi.M_720s": ("magnetogram", 720, 3, "MAGNETOGRAM", "Gauss", 0.0, 0.1),
    "hmi.M_45s_dcon": ("magnetogram", 45, 2, "MAGNETOGRAM", "Gauss", 0.0, 0.1),
    "hmi.M_720s_dcon": ("magnetogram", 720, 3, "MAGNETOGRAM", "Gauss", 0.0, 0.1),
    "hmi.M_720s_dconS": ("magnetogram", 720, 3, "MAGNETOGRAM", "Gauss", 0.0, 0.1),
    "hmi.Ic_45s": ("continuum", 45, 2, "CONTINUUM INTENSITY", "DN/s", 97304.0, 3.0),
    "hmi.Ic_720s": ("continuum", 720, 3, "CONTINUUM INTENSITY", "DN/s", 97304.0, 3.0),
    "hmi.Ic_45s_dcon": ("continuum", 45, 2, "CONTINUUM INTENSITY", "DN/s", 97304.0, 3.0),
    "hmi.Ic_720s_dcon": ("continuum", 720, 3, "CONTINUUM INTENSITY", "DN/s", 97304.0, 3.0),
    "hmi.Ic_720s_dconS": ("continuum", 720, 3, "CONTINUUM INTENSITY", "DN/s", 97304.0, 3.0),
    "hmi.Ic_noLimbDark_720s": ("continuum", 720, 3, "CONTINUUM INTENSITY", "DN/s", 97304.0, 3.0),
}
_SERIES_LOWER = {name.lower(): name for name in SERIES}
_EPOCH = Time("1993-01-01T00:00:00", scale="tai")  # TRECEPOC of the HMI observables
_BLANK = -2147483648
_TIME_KEYS = ("T_REC", "T_OBS", "DATE__OBS", "DATE", "TRECEPOC")


def _jsoc_time(t):
    """``2014.03.01_00:00:45_TAI`` for an astropy Time."""
    return t.tai.strftime("%Y.%m.%d_%H:%M:%S_TAI")


def _parse_jsoc_time(text):
    """Parse ``2014.03.01_00:00:45_TAI`` (seconds optional, fractional allowed)."""
    m = re.fullmatch(r"(\d{4})\.(\d{2})\.(\d{2})(?:_(\d{2}):(\d{2})(?::(\d{2}(?:\.\d*)?))?)?(?:_TAI)?",
                     text.strip())
    if m is None:
        raise ValueError(f"bad time {text!r}")
    y, mo, d, hh, mm, ss = m.groups()
    return Time(f"{y}-{mo}-{d}T{hh or '00'}:{mm or '00'}:{ss or '00'}", scale="tai")


def _parse_duration(text):
    """JSOC durations: ``3600s``, ``12m``, ``1h``, ``1d`` (bare numbers are seconds)."""
    m = re.fullmatch(r"([\d.]+)([smhd]?)", text.strip())
    if m is None:
        raise ValueError(f"bad duration {text!r}")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def jsoc_filename(series, t_rec, camera, segment):
    """The file name JSOC gives an export of one record (``{series}.{T_REC:A}.{CAMERA}.{segment}``)."""
    stamp = t_rec.tai.strftime("%Y%m%d_%H%M%S_TAI")
    return f"{series.lower()}.{stamp}.{camera}.{segment}.fits"


def _base_header():
    """The real hmi.Ic_45s header shipped by sunpy, without structural cards."""
    from sunpy.data.test import get_test_filepath

    with warnings.catch_warnings():
        # The file's BLANK card on float data makes astropy warn; the header is all we need.
        warnings.simplefilter("ignore")
        with fits.open(get_test_filepath("resampled_hmi.fits")) as hdul:
            header = hdul[0].header.copy()
    for key in ("SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "BLANK", "BZERO", "BSCALE"):
        header.remove(key, ignore_missing=True, remove_all=True)
    return header


_BASE_HEADER = None


def _source(series, t_rec, t_obs):
    """
    The ``SOURCE`` keyword: the records an observable was computed from, as the HMI pipeline names them. The 720 s
    observables come from the Stokes images (``hmi.S_720s``, deconvolved: ``hmi.S_720s_dcon``/``_dconS``), the
    45 s ones from the level-1 filtergrams (``hmi.lev1``, deconvolved: ``hmi.lev1_dcon``).
    """
    suffix = series[series.find("_dcon"):] if "_dcon" in series else ""
    if SERIES[series][1] == 720:
        return f"hmi.S_720s{suffix}[{_jsoc_time(t_rec)}]"
    return f"hmi.lev1{suffix}[{t_obs.utc.strftime('%Y.%m.%d_%H:%M:%S')}_UTC]"


def record_header(series, t_rec, size):
    """A realistic header for one record of ``series`` at slot time ``t_rec`` (a ``size``² field)."""
    global _BASE_HEADER
    if _BASE_HEADER is None:
        _BASE_HEADER = _base_header()
    segment, step, camera, content, bunit, bzero, bscale = SERIES[series]
    header = _BASE_HEADER.copy()
    t_obs = t_rec - TimeDelta(5.0, format="sec")
    date_obs = (t_obs - TimeDelta(step / 2, format="sec")).utc
    header["T_REC"] = _jsoc_time(t_rec)
    header["T_OBS"] = _jsoc_time(t_obs)
    header["DATE-OBS"] = date_obs.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-4]
    header["CADENCE"] = float(step)
    header["TRECSTEP"] = float(step)
    header["CAMERA"] = camera
    header["CONTENT"] = content
    header["BUNIT"] = bunit
    header["SOURCE"] = _source(series, t_rec, t_obs)
    # Native HMI sampling, a field centred near disk centre; CROTA2 ~ 180 deg as in the real header.
    header["CDELT1"] = header["CDELT2"] = 0.504295
    header["CRPIX1"] = header["CRPIX2"] = (size + 1) / 2
    header["CRVAL1"], header["CRVAL2"] = 30.0, -20.0
    for key in ("DATAMIN", "DATAMAX", "DATAMEAN", "DATARMS", "DATASKEW", "DATAKURT", "DATAMEDN",
                "DATAMIN2", "DATAMAX2", "DATAMEA2", "DATARMS2", "DATASKE2", "DATAKUR2", "DATAMED2",
                "TOTVALS", "DATAVALS", "MISSVALS", "SATVALS"):
        header.remove(key, ignore_missing=True)
    header["RECNUM"] = int(round((t_rec - _EPOCH).to_value("s") / step))
    return header


def _synthetic_data(series, t_rec, size):
    """Seeded synthetic photosphere: granulation-like noise and a spot, or noise and a bipole (G)."""
    segment = SERIES[series][0]
    seed = int(round((t_rec - _EPOCH).to_value("s"))) % (2**31)
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] - (size - 1) / 2
    if segment == "continuum":
        cells = rng.standard_normal((size // 4 + 1, size // 4 + 1))
        granulation = np.kron(cells, np.ones((4, 4)))[:size, :size]
        spot = 1 - 0.7 * np.exp(-((x - size / 8) ** 2 + (y + size / 10) ** 2) / (2 * (size / 12) ** 2))
        data = 50000.0 * (1 + 0.03 * granulation) * spot
    else:
        bipole = 900.0 * (np.exp(-((x - size / 6) ** 2 + y**2) / (2 * (size / 14) ** 2))
                          - np.exp(-((x + size / 6) ** 2 + y**2) / (2 * (size / 14) ** 2)))
        data = bipole + 8.0 * rng.standard_normal((size, size))
    return data.astype(np.float32)


def hmi_like_fits_bytes(data, header, bzero, bscale):
    """Encode ``data`` as JSOC does: empty primary HDU + RICE_1-compressed int32 with BZERO/BSCALE/BLANK."""
    finite = np.isfinite(data)
    raw = np.full(data.shape, _BLANK, dtype=np.int32)
    raw[finite] = np.round((data[finite] - bzero) / bscale).astype(np.int32)
    hdu = fits.CompImageHDU(data=raw, header=header, compression_type="RICE_1")
    hdu.header["BLANK"] = _BLANK
    hdu.header["BZERO"] = bzero
    hdu.header["BSCALE"] = bscale
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buffer, checksum=True)  # JSOC's exports carry them
    return buffer.getvalue()


def corrupted(body):
    """``body`` (a FITS file) with one byte inside the data of its last HDU changed: size and structure kept."""
    with fits.open(io.BytesIO(body), disable_image_compression=True) as hdul:
        info = hdul[-1].fileinfo()
    position = info["datLoc"] + min(10, max(info["datSpan"] - 1, 0))
    changed = bytearray(body)
    changed[position] ^= 0xFF
    return bytes(changed)


def write_hmi_file(directory, series="hmi.M_45s", time="2014-03-01T00:00:00", size=96):
    """
    Write the file the look-alike would export for one record (no server needed); return its path.
    """
    from pathlib import Path

    step = SERIES[series][1]
    t = Time(time, scale="utc").tai
    t_rec = _EPOCH + TimeDelta(round((t - _EPOCH).to_value("s") / step) * step, format="sec")
    path = Path(directory) / jsoc_filename(series, t_rec, SERIES[series][2], SERIES[series][0])
    path.parent.mkdir(parents=True, exist_ok=True)
    data, header = _synthetic_data(series, t_rec, size), record_header(series, t_rec, size)
    path.write_bytes(hmi_like_fits_bytes(data, header, *SERIES[series][5:7]))
    return path


def _cutout(data, header, patch):
    """Cut the im_patch box (centre x, y and width, height in arcsec) out of ``data``."""
    # only the geometry: the full header makes astropy.wcs warn (CRDER = 'nan' strings, datfix)
    geometry = fits.Header()
    for key in ("CTYPE1", "CTYPE2", "CUNIT1", "CUNIT2", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "CDELT1",
                "CDELT2", "CROTA2"):
        geometry[key] = header[key]
    geometry["NAXIS"], geometry["NAXIS1"], geometry["NAXIS2"] = 2, data.shape[1], data.shape[0]
    wcs = WCS(geometry)
    cx, cy = float(patch["x"]), float(patch["y"])
    hw, hh = float(patch["width"]) / 2, float(patch["height"]) / 2
    corners = np.array([[cx - hw, cy - hh], [cx + hw, cy - hh], [cx - hw, cy + hh], [cx + hw, cy + hh]])
    px, py = wcs.wcs_world2pix(corners[:, 0] / 3600, corners[:, 1] / 3600, 0)
    # the pixels whose centres the box spans
    x0, x1 = (int(np.clip(v, 0, data.shape[1])) for v in (np.round(px.min()), np.round(px.max()) + 1))
    y0, y1 = (int(np.clip(v, 0, data.shape[0])) for v in (np.round(py.min()), np.round(py.max()) + 1))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None, None
    header = header.copy()
    header["CRPIX1"] -= x0
    header["CRPIX2"] -= y0
    return data[y0:y1, x0:x1], header


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class JSOCLookalike:
    """
    The JSOC look-alike server; use as a context manager (``with JSOCLookalike() as jsoc:``).

    Attributes that inject failures (all off by default):

    - ``pending_polls``: number of ``exp_status`` answers with status 1 before the export is done
      (default 1; the ``exp_request`` answer itself always says status 2, queued, as JSOC's does).
    - ``request_error``: ``(status, message)`` returned by ``exp_request`` (3 = too large, 4 = bad request).
    - ``status_error``: ``(status, message)`` returned by ``exp_status`` once the export "finishes"
      (4/5/7 = failed or expired); ``(6, ...)`` is also used for unknown request ids.
    - ``api_errors``: ``{"exp_request": n, "exp_status": n, "rs_list": n, ...}``: the next n calls of
      that operation get HTTP 500.
    - ``max_export_mb``: exports estimated larger than this get status 3.
    - ``instant``: ``exp_request`` answers status 0 with the file list at once, as JSOC does for
      ``url_quick`` exports of online data (spares drms' 5 s first wait in tests of sunpy's client).
    - ``file_size``: side of the generated images (pixels).
    - ``hostile_filenames``: a list of names that replace the exported file names, in turn (a hostile or
      broken server: ``"../../x.fits"``, an absolute path, ``"evil.sh"``); the files are served under
      them (and under the normalised path the client may ask for).

    File faults are queued with `add_fault`: each GET of a file consumes one fault, if any:
    ``"500"`` (HTTP 500), ``"404"``, ``"drop"`` (headers promise the whole file, half is sent, the
    connection is closed), ``"truncate"`` (a FITS file cut short served with a matching
    ``Content-Length``: HTTP cannot tell), ``"html"`` (an HTML error page with status 200),
    ``"stall"`` (half the file, then silence for ``stall_seconds``), ``"trickle"`` (the whole file,
    ``trickle_bytes`` every ``trickle_interval`` seconds: never silent long enough for a read timeout, but
    slow enough to take minutes), ``"corrupt"`` (the file with one byte of its data changed: same size,
    same ``Content-Length``, FITS structure intact; only its ``CHECKSUM``/``DATASUM`` tell).

    Exported files carry ``CHECKSUM`` and ``DATASUM`` keywords, as JSOC's FITS exports do.

    ``log`` lists ``(method, path, query)`` of every request, ``served`` counts complete file bodies.
    """

    def __init__(self, *, file_size=96, registered=(REGISTERED_EMAIL,)):
        self.file_size = file_size
        self.registered = set(registered)
        self.pending_polls = 1
        self.request_error = None
        self.status_error = None
        self.api_errors = {}
        self.max_export_mb = 100000.0
        self.instant = False
        self.stall_seconds = 3.0
        self.trickle_bytes = 64
        self.trickle_interval = 0.05
        self.hostile_filenames = None
        self.log = []
        self.served = {}
        self.files = {}
        self.exports = {}
        self._faults = []
        self._lock = threading.Lock()
        self._counter = 0
        self._closing = threading.Event()
        self._server = None
        self._thread = None

    # -- life cycle -------------------------------------------------------------------------------
    def start(self):
        handler = type("Handler", (_Handler,), {"jsoc": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        """Base URL, ``http://127.0.0.1:<port>/``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def server_config(self):
        """A `drms.ServerConfig` for this server, laid out like JSOC's."""
        import drms

        return drms.ServerConfig(
            name="JSOC-lookalike",
            cgi_baseurl=self.url + "cgi-bin/ajax/",
            cgi_show_series="show_series",
            cgi_jsoc_info="jsoc_info",
            cgi_jsoc_fetch="jsoc_fetch",
            cgi_check_address="checkAddress.sh",
            http_download_baseurl=self.url,
        )

    def add_fault(self, kind, times=1, match=""):
        """
        Queue ``times`` faults of ``kind`` for the next GETs of files whose path contains ``match``
        (see the class docstring). Give ``match`` (a file name) when several files download in
        parallel, so that the HEAD parfive sends first and the GET that follows see the same fault.
        """
        if kind not in ("500", "404", "drop", "truncate", "html", "stall", "trickle", "corrupt"):
            raise ValueError(kind)
        with self._lock:
            self._faults.extend([(kind, match)] * times)

    def _next_fault(self, path, consume):
        with self._lock:
            for i, (kind, match) in enumerate(self._faults):
                if match in path:
                    if consume:
                        del self._faults[i]
                    return kind
        return None

    def _api_error(self, op):
        with self._lock:
            n = self.api_errors.get(op, 0)
            if n > 0:
                self.api_errors[op] = n - 1
                return True
        return False

    # -- record sets ------------------------------------------------------------------------------
    def parse_record_set(self, ds):
        """``(series, [slot times], camera filter, segments)`` for a record-set string."""
        m = re.fullmatch(r"\s*([\w.]+)\s*((?:\[[^\]]*\])*)\s*(?:\{([^}]*)\})?\s*", ds)
        if m is None:
            raise ValueError(f"cannot parse record set {ds!r}")
        name, filters, segs = m.groups()
        series = _SERIES_LOWER.get(name.lower())
        if series is None:
            raise KeyError(name)
        filters = re.findall(r"\[([^\]]*)\]", filters)
        step = SERIES[series][1]
        times = []
        if filters and filters[0].strip():
            times = self._slots(filters[0], step)
        camera = filters[1].strip() if len(filters) > 1 and filters[1].strip() else None
        segments = [s.strip() for s in segs.split(",") if s.strip()] if segs else None
        return series, times, camera, segments

    @staticmethod
    def _slots(spec, step):
        def slot_index(t):
            return (t - _EPOCH).to_value("s") / step

        sample = None
        if "@" in spec:
            spec, sample = spec.split("@")
            sample = _parse_duration(sample)
        if "/" in spec:
            start, duration = spec.split("/")
            t0 = _parse_jsoc_time(start)
            first = int(np.ceil(slot_index(t0) - 1e-9))
            t1 = t0 + TimeDelta(_parse_duration(duration), format="sec")
            last = int(np.ceil(slot_index(t1) - 1e-9)) - 1
        elif re.search(r"TAI\s*-", spec) or re.search(r"\d-\d{4}\.", spec):
            start, end = re.split(r"(?<=TAI)-|(?<=\d)-(?=\d{4}\.)", spec, maxsplit=1)
            first = int(np.ceil(slot_index(_parse_jsoc_time(start)) - 1e-9))
            last = int(np.floor(slot_index(_parse_jsoc_time(end)) + 1e-9))
        else:
            first = last = int(np.floor(slot_index(_parse_jsoc_time(spec)) + 0.5))
        indices = np.arange(first, last + 1)
        if sample is not None:
            every = max(1, int(round(sample / step)))
            indices = indices[::every]
        if len(indices) > 5000:
            raise ValueError("record set too long for the look-alike")
        return [_EPOCH + TimeDelta(i * step, format="sec") for i in indices]

    # -- JSON operations --------------------------------------------------------------------------
    def series_struct(self, ds):
        series = _SERIES_LOWER.get(ds.split("[")[0].strip().lower())
        if series is None:
            return {"status": 1, "error": f"Series name '{ds}' does not exist"}
        segment = SERIES[series][0]
        header = record_header(series, _EPOCH + TimeDelta(0, format="sec"), 4)
        keywords = []
        for key, value in header.items():
            if key in ("COMMENT", "HISTORY", ""):
                continue
            name = key.replace("-", "__")
            if name in _TIME_KEYS:
                kind = "time"
            elif isinstance(value, bool) or isinstance(value, str):
                kind = "string"
            elif isinstance(value, int):
                kind = "int"
            else:
                kind = "double"
            keywords.append({"name": name, "type": kind, "recscope": "variable", "defval": "",
                             "units": "none", "note": ""})
        return {
            "note": f"{series} (look-alike)", "retention": 10000, "unitsize": 32, "archive": 1,
            "tapegroup": 1, "primekeys": ["T_REC", "CAMERA"], "dbindex": ["T_REC"],
            "primekeysinfo": [{"name": "T_REC", "slotted": 1, "step": f"{SERIES[series][1]}s"},
                              {"name": "CAMERA", "slotted": 0}],
            "keywords": keywords, "links": [],
            "segments": [{"name": segment, "type": "int", "units": SERIES[series][4], "protocol": "fits",
                          "dims": "4096x4096", "note": segment}],
            "status": 0,
        }

    def rs_list(self, query):
        ds = query.get("ds", "")
        try:
            series, times, camera, segments = self.parse_record_set(ds)
        except KeyError as exc:
            return {"status": 1, "error": f"Series name '{exc.args[0]}' does not exist"}
        except ValueError as exc:
            return {"status": 1, "error": f"Bad record-set query: {exc}"}
        if camera is not None and camera != str(SERIES[series][2]):
            times = []
        n = int(query.get("n", 0) or 0)
        if n > 0:
            times = times[:n]
        elif n < 0:
            times = times[n:]
        headers = [record_header(series, t, self.file_size) for t in times]
        result = {"count": len(times), "runtime": 0.01, "status": 0}
        keys = [k for k in query.get("key", "").split(",") if k]
        if keys:
            if "**ALL**" in keys:
                keys = [k.replace("-", "__") for k in headers[0].keys()
                        if k not in ("COMMENT", "HISTORY", "")] if headers else ["T_REC"]
            keyword_list = []
            for key in keys:
                values = []
                for header in headers:
                    fits_key = key.replace("__", "-")
                    if key == "*recnum*":
                        values.append(str(header["RECNUM"]))
                    elif key == "QUALITY":
                        values.append("0x00000000")
                    elif fits_key in header:
                        values.append(str(header[fits_key]))
                    else:
                        values.append("MISSING")
                keyword_list.append({"name": key, "values": values})
            result["keywords"] = keyword_list
        seg_names = [s for s in query.get("seg", "").split(",") if s]
        if seg_names:
            result["segments"] = [
                {"name": s, "values": [f"/SUM1/D{h['RECNUM']}/S00000/{s}.fits" for h in headers],
                 "dims": [f"{self.file_size}x{self.file_size}"] * len(headers)}
                for s in seg_names]
        if query.get("R") == "1":
            result["recinfo"] = [{"name": f"{series}[{_jsoc_time(t)}][{SERIES[series][2]}]", "online": "Y"}
                                 for t in times]
        return result

    def check_address(self, query):
        # drms quote_plus()es the address before urlencode()ing the query, so it arrives encoded twice.
        address = unquote_plus(query.get("address", ""))
        if "@" not in address:
            return {"status": -2, "msg": "Not a valid email address"}
        if address in self.registered:
            return {"status": 2, "msg": "Address registered"}
        return {"status": 4, "msg": "Address has neither been validated nor registered"}

    def exp_request(self, query):
        notify = query.get("notify", "")
        if notify not in self.registered:
            return {"status": 4, "error": f"The notify address {notify!r} is not registered for exports"}
        if self.request_error is not None:
            status, message = self.request_error
            return {"status": status, "error": message}
        try:
            series, times, camera, segments = self.parse_record_set(query.get("ds", ""))
        except KeyError as exc:
            return {"status": 4, "error": f"Series name '{exc.args[0]}' does not exist"}
        except ValueError as exc:
            return {"status": 4, "error": f"Bad record-set query: {exc}"}
        if not times:
            return {"status": 4, "error": "No records in the requested record set"}
        size_mb = 32.0 * len(times)
        if size_mb > self.max_export_mb:
            return {"status": 3, "error": f"Request exceeds max byte limit of {self.max_export_mb:g}MB",
                    "size": size_mb}
        process = query.get("process=n", "0")
        patch = None
        for part in process.split("|")[1:]:
            name, _, args = part.partition(",")
            if name == "im_patch":
                patch = dict(item.split("=", 1) for item in args.split(",") if "=" in item)
        with self._lock:
            self._counter += 1
            requestid = f"JSOC_{Time.now().strftime('%Y%m%d')}_{self._counter:03d}"
            directory = f"/SUM{58 + self._counter}/D{1000 + self._counter}/S00000"
        segment = SERIES[series][0]
        data = []
        for t in times:
            header = record_header(series, t, self.file_size)
            image = _synthetic_data(series, t, self.file_size)
            out_series = series
            if patch is not None:
                image, header = _cutout(image, header, patch)
                if image is None:
                    return {"status": 4, "error": "im_patch: the requested box lies outside the images"}
                out_series = f"{series}_mod"
            filename = jsoc_filename(out_series, t, SERIES[series][2], segment)
            if self.hostile_filenames:
                filename = self.hostile_filenames[len(data) % len(self.hostile_filenames)]
            body = hmi_like_fits_bytes(image, header, *SERIES[series][5:7])
            self.files[f"{directory}/{filename}"] = body
            self.files[posixpath.normpath(f"{directory}/{filename}")] = body
            data.append({"record": f"{out_series}[{_jsoc_time(t)}][{SERIES[series][2]}]{{{segment}}}",
                         "filename": filename})
        self.exports[requestid] = {"polls": 0, "dir": directory, "data": data, "size": size_mb,
                                   "method": query.get("method", "url"),
                                   "protocol": query.get("protocol", "fits").upper()}
        if self.instant:
            self.exports[requestid]["polls"] = self.pending_polls
            return self.exp_status({"requestid": requestid})
        return {"status": 2, "requestid": requestid, "method": query.get("method", "url"),
                "protocol": query.get("protocol", "fits").upper(), "wait": 1, "rcount": len(times),
                "size": size_mb}

    def exp_status(self, query):
        requestid = query.get("requestid", "")
        export = self.exports.get(requestid)
        if export is None:
            return {"status": 6, "requestid": requestid, "error": f"Request {requestid} not found"}
        with self._lock:
            export["polls"] += 1
            polls = export["polls"]
        if polls <= self.pending_polls:
            return {"status": 1, "requestid": requestid, "wait": 1, "method": export["method"],
                    "protocol": export["protocol"]}
        if self.status_error is not None:
            status, message = self.status_error
            return {"status": status, "requestid": requestid, "error": message}
        return {
            "status": 0, "requestid": requestid, "method": export["method"], "protocol": export["protocol"],
            "dir": export["dir"], "wait": 0, "size": export["size"], "rcount": len(export["data"]),
            "count": len(export["data"]), "exptime": Time.now().strftime("%Y-%m-%d %H:%M:%S"),
            "tarfile": "", "keywords": "", "data": export["data"],
        }


class _Handler(BaseHTTPRequestHandler):
    jsoc = None  # set on the subclass made by JSOCLookalike.start
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def _json(self, payload, status=200):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status, text):
        body = f"<html><body><h1>{status} {text}</h1></body></html>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self._dispatch()

    def do_GET(self):
        self._dispatch()

    def _dispatch(self):
        jsoc = self.jsoc
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        jsoc.log.append((self.command, parts.path, query))
        path = parts.path
        try:
            if path.startswith("/cgi-bin/ajax/"):
                cgi = path.rsplit("/", 1)[-1]
                op = query.get("op", cgi)
                if jsoc._api_error(op):
                    return self._error(500, "Internal Server Error")
                if cgi == "jsoc_info" and op == "series_struct":
                    return self._json(jsoc.series_struct(query.get("ds", "")))
                if cgi == "jsoc_info" and op == "rs_list":
                    return self._json(jsoc.rs_list(query))
                if cgi == "jsoc_info" and op == "rs_summary":
                    result = jsoc.rs_list(query)
                    return self._json({k: result[k] for k in ("count", "runtime", "status") if k in result})
                if cgi == "jsoc_fetch" and op == "exp_request":
                    return self._json(jsoc.exp_request(query))
                if cgi == "jsoc_fetch" and op == "exp_status":
                    return self._json(jsoc.exp_status(query))
                if cgi == "checkAddress.sh":
                    return self._json(jsoc.check_address(query))
                if cgi == "show_series":
                    return self._json({"names": [{"name": s, "primekeys": "T_REC, CAMERA", "note": s}
                                                 for s in SERIES], "n": len(SERIES), "status": 0})
                return self._error(404, "Not Found")
            return self._file(path)
        except (BrokenPipeError, ConnectionResetError):
            return None
        except Exception as exc:  # a bug in the look-alike: answer as a broken CGI would
            return self._error(500, f"Internal Server Error ({type(exc).__name__}: {exc})")

    def _file(self, path):
        jsoc = self.jsoc
        body = jsoc.files.get(path)
        if body is None:
            return self._error(404, "Not Found")
        # GETs consume the queued faults; a HEAD (parfive sends one first) sees the file the next GET
        # will serve, so "truncate" and "html" are consistent between the two, as on a real server.
        fault = jsoc._next_fault(path, consume=self.command == "GET")
        if self.command == "HEAD" and fault not in ("truncate", "html"):
            fault = None
        if fault == "500":
            return self._error(500, "Internal Server Error")
        if fault == "404":
            return self._error(404, "Not Found")
        if fault == "html":
            page = b"<!DOCTYPE html><html><body>JSOC is down for maintenance</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(page)
            return None
        if fault == "truncate":
            body = body[: len(body) // 2]
        if fault == "corrupt":
            body = corrupted(body)
        start, end = 0, len(body) - 1
        status = 200
        ranged = self.headers.get("Range")
        if ranged and fault is None:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", ranged.strip())
            if m:
                start = int(m.group(1) or 0)
                end = min(int(m.group(2)) if m.group(2) else len(body) - 1, len(body) - 1)
                status = 206
        chunk = body[start: end + 1]
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(chunk)))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
        self.end_headers()
        if self.command == "HEAD":
            return None
        if fault == "trickle":
            step = max(1, int(jsoc.trickle_bytes))
            for i in range(0, len(chunk), step):
                if jsoc._closing.is_set():
                    break
                self.wfile.write(chunk[i:i + step])  # the client closing raises BrokenPipeError: handled
                self.wfile.flush()
                jsoc._closing.wait(jsoc.trickle_interval)
            return None
        if fault in ("drop", "stall"):
            self.wfile.write(chunk[: len(chunk) // 2])
            self.wfile.flush()
            if fault == "stall":
                jsoc._closing.wait(jsoc.stall_seconds)
                try:
                    self.wfile.write(chunk[len(chunk) // 2:])
                    self.wfile.flush()
                except OSError:
                    pass
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None
        self.wfile.write(chunk)
        with jsoc._lock:
            jsoc.served[path] = jsoc.served.get(path, 0) + 1
        return None


@pytest.fixture
def jsoc():
    """A running `JSOCLookalike` (import this fixture into a test module to use it)."""
    with JSOCLookalike() as server:
        yield server


if __name__ == "__main__":  # a manual run: python tests/jsoc_server.py, then point a client at it
    with JSOCLookalike() as server:
        print(f"JSOC look-alike at {server.url} (registered email: {REGISTERED_EMAIL}); Ctrl-C stops it")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
