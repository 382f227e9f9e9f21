"""
End-to-end test of the "Try it in your browser" page (web/): a real headless Chromium, no mocks.

The built page (web/dist) is served on 127.0.0.1 with the cross-origin-isolation headers (so ONNX Runtime Web
gets its threads), an HMI-like FITS file made by `sunpy_enhance.sample` is given to the page's file input,
the enhanced FITS file is downloaded through the page's link and compared with `enhance_map` on the same file
with the same model: the data to 1e-3 I/Ic (continuum) and 0.5 G (magnetogram), the WCS exactly. Bad input
(a non-HMI map, a corrupt file, an image too large for a browser) must give a clear message in the page.

Needs Debian's ``chromium`` (``CHROMIUM=...`` for another) and either a built page or node + npm to build it
(``npm ci && npm run build`` in web/, done here when web/dist is missing or carries other models than the package);
skips with the reason otherwise.
The screenshot of the viewer goes to ``SUNPY_ENHANCE_SCREENSHOT`` when set (the docs use
``docs/images/browser_viewer.png``), else to the test's temporary folder. Timings are printed (``-s``).
"""
import functools
import http.server
import json
import shutil
import subprocess
import threading
import time
import warnings
from os import environ
from pathlib import Path

import numpy as np
import pytest
from browser_cdp import Browser, find_chromium

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
DIST = WEB / "dist"

pytestmark = pytest.mark.slow


# -- fixtures -------------------------------------------------------------------------------------------------------
def _dist_is_current():
    """web/dist is built and carries the package's models as they are now (same ONNX files, same cards' steps)."""
    import hashlib

    if not ((DIST / "index.html").is_file() and (DIST / "models" / "manifest.json").is_file()):
        return False
    models = ROOT / "sunpy_enhance" / "data" / "models"
    for entry in json.loads((DIST / "models" / "manifest.json").read_text())["models"]:
        onnx, card = models / entry["name"] / "model.onnx", models / entry["name"] / "card.json"
        if entry["source"] != "package":
            continue
        if not onnx.is_file() or hashlib.sha256(onnx.read_bytes()).hexdigest() != entry["sha256"]:
            return False
        if json.loads(card.read_text()).get("consistency") != entry["consistency"]:
            return False
    return True


@pytest.fixture(scope="session")
def web_dist():
    """
    web/dist, built (npm ci && npm run build) when it is missing or older than the package's models and npm is
    there; else skip.
    """
    if not _dist_is_current():
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            pytest.skip("the browser page is not built (web/dist) or carries older models than the package, and "
                        "node/npm are not installed to build it")
        import fcntl

        with open(WEB / ".build.lock", "w") as lock:  # pytest-xdist workers build it once
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not _dist_is_current():
                if not (WEB / "node_modules").is_dir():
                    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
                subprocess.run([npm, "run", "build"], cwd=WEB, check=True)
    manifest = json.loads((DIST / "models" / "manifest.json").read_text())
    kinds = {m["kind"] for m in manifest["models"]}
    if not {"continuum", "magnetogram"} <= kinds:
        pytest.skip(f"the built page lacks a model (has {sorted(kinds)}); rebuild with tf2onnx or model.onnx files")
    return DIST


def _serve(directory, isolation_headers):
    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                          ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm"}

        def end_headers(self):
            if isolation_headers:
                self.send_header("Cross-Origin-Opener-Policy", "same-origin")
                self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            self.send_header("Cache-Control", "no-cache")
            super().end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture(scope="session")
def server(web_dist):
    """A static server for web/dist with COOP/COEP (cross-origin isolation: threads for ONNX Runtime Web)."""
    httpd = _serve(web_dist, isolation_headers=True)
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser():
    if find_chromium() is None:
        pytest.skip("no chromium executable (apt-get install chromium; or set CHROMIUM=/path/to/chrome)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        with Browser() as b:
            yield b


@pytest.fixture
def page(browser, server):
    p = browser.open(server)
    p.wait_for("['idle', 'error'].includes(document.body.dataset.state)", timeout=60)
    message = p.evaluate("document.getElementById('message').textContent")
    assert p.evaluate("document.body.dataset.state") == "idle", message
    return p


# -- inputs ---------------------------------------------------------------------------------------------------------
def _write_rice_int32(smap, path, bscale, bzero):
    """As JSOC delivers hmi.Ic_45s: Rice tile-compressed 32-bit integers with BSCALE/BZERO/BLANK."""
    from astropy.io import fits

    header = fits.Header(smap.fits_header)
    raw = np.round((smap.data.astype(np.float64) - bzero) / bscale)
    raw = np.where(np.isfinite(raw), raw, -2147483648).astype(np.int32)
    hdu = fits.CompImageHDU(raw, header=header, compression_type="RICE_1")
    hdu.header["BSCALE"], hdu.header["BZERO"], hdu.header["BLANK"] = bscale, bzero, -2147483648
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)


def _write_plain(smap, path, bitpix, bscale=1.0, bzero=0.0):
    from astropy.io import fits

    header = fits.Header(smap.fits_header)
    if bitpix < 0:
        hdu = fits.PrimaryHDU(smap.data.astype(np.float32 if bitpix == -32 else np.float64), header=header)
    else:
        dtype = {16: np.int16, 32: np.int32}[bitpix]
        blank = np.iinfo(dtype).min
        raw = np.round((smap.data.astype(np.float64) - bzero) / bscale)
        hdu = fits.PrimaryHDU(np.where(np.isfinite(raw), raw, blank).astype(dtype), header=header)
        hdu.header["BSCALE"], hdu.header["BZERO"], hdu.header["BLANK"] = bscale, bzero, int(blank)
    hdu.writeto(path, overwrite=True)


def _run(page, path, timeout=600):
    page.set_files("#file", [path])
    page.wait_for("['done', 'error', 'cancelled'].includes(document.body.dataset.state)", timeout=timeout)
    return page.evaluate("document.body.dataset.state"), page.evaluate("document.getElementById('message').textContent")


def _download(page, browser, timeout=60):
    for old in browser.downloads.glob("*"):
        old.unlink()
    name = page.evaluate("document.getElementById('download').download")
    page.evaluate("document.getElementById('download').click()")
    end = time.monotonic() + timeout
    target = browser.downloads / name
    while not (target.is_file() and not list(browser.downloads.glob("*.crdownload"))):
        if time.monotonic() > end:
            raise TimeoutError(f"no download of {name}")
        time.sleep(0.2)
    return target


def _page_default_model(kind):
    """The model the page uses by default for ``kind`` (the light one where bundled), from the built manifest."""
    manifest = json.loads((DIST / "models" / "manifest.json").read_text())
    return next(m["name"] for m in manifest["models"] if m["kind"] == kind and m.get("default"))


def _python_reference(path):
    """enhance_map of the file with the model the page used."""
    import sunpy.map

    from sunpy_enhance import enhance_map
    from sunpy_enhance.hmi import classify_map

    smap = sunpy.map.Map(path)
    return enhance_map(smap, model=_page_default_model(classify_map(smap)))


WCS_KEYS = ("naxis1", "naxis2", "crpix1", "crpix2", "cdelt1", "cdelt2", "crval1", "crval2", "ctype1", "ctype2",
            "cunit1", "cunit2", "pc1_1", "pc1_2", "pc2_1", "pc2_2", "crota2", "cd1_1", "cd1_2", "cd2_1", "cd2_2")


def _compare(downloaded, reference, tolerance):
    from astropy.io import fits

    with fits.open(downloaded) as hdul:
        header, data = hdul[0].header, hdul[0].data.astype(np.float64)
    expected = reference.data.astype(np.float64)
    assert data.shape == expected.shape
    assert np.array_equal(np.isnan(data), np.isnan(expected))
    diff = np.nanmax(np.abs(data - expected))
    assert diff <= tolerance, f"browser and Python differ by {diff} (tolerance {tolerance})"
    meta = reference.meta
    for key in WCS_KEYS:
        if key in meta:
            assert key.upper() in header, key
            if isinstance(meta[key], str):
                assert header[key] == meta[key], key
            else:
                assert header[key] == pytest.approx(float(meta[key]), rel=1e-12, abs=1e-15), key
        else:
            assert key.upper() not in header, key
    assert header["ENHMODEL"] == meta["enhmodel"]
    assert header["ENHMDATE"] == meta["enhmdate"]
    assert header["ENHUNIT"] == meta["enhunit"]
    assert "ENHVER" in header
    if "enhqsun" in meta:
        # Python takes μ from the WCS evaluated every 8 pixels and interpolated (sunpy_enhance.solar), the page from
        # every pixel: μ differs by up to ~1e-9 next to the limb, the quiet-Sun level by ~1e-10 (relative)
        assert header["ENHQSUN"] == pytest.approx(meta["enhqsun"], rel=1e-9)
    history = "".join(str(h) for h in header["HISTORY"])
    assert f"Enhance x2 deconvolution with model {meta['enhmodel']}" in history
    return diff


# -- tests ----------------------------------------------------------------------------------------------------------
def test_continuum_rice_compressed_matches_python(page, browser, tmp_path):
    from sunpy_enhance.sample import synthetic_hmi_map

    path = tmp_path / "hmi_ic_45s_cutout.fits"
    _write_rice_int32(synthetic_hmi_map("continuum", shape=(160, 200)), path, bscale=0.0625, bzero=32768.0)
    start = time.monotonic()
    state, message = _run(page, path)
    wall = time.monotonic() - start
    assert state == "done", message
    timing = json.loads(page.evaluate("document.getElementById('timing').dataset.timing"))
    downloaded = _download(page, browser)
    diff = _compare(downloaded, _python_reference(path), 1e-3)
    shot = Path(environ.get("SUNPY_ENHANCE_SCREENSHOT") or tmp_path / "browser_viewer.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, document.getElementById('result').offsetTop)")
    page.screenshot(shot, selector="#result")
    assert shot.stat().st_size > 10_000
    print(f"\ncontinuum 200x160 (Rice int32): page {wall:.1f} s wall, {timing['totalMs'] / 1e3:.1f} s in the worker, "
          f"network {timing['networkMs'] / 1e3:.1f} s, {timing['runtime']}; max |browser - Python| = {diff:.2e} I/Ic")


@pytest.mark.parametrize("bitpix", [16, -64])
def test_magnetogram_plain_matches_python(page, browser, tmp_path, bitpix):
    from sunpy_enhance.sample import synthetic_hmi_map

    path = tmp_path / f"hmi_m_45s_bitpix{bitpix}.fits"
    _write_plain(synthetic_hmi_map("magnetogram", shape=(96, 128)), path, bitpix, bscale=0.1, bzero=0.0)
    state, message = _run(page, path)
    assert state == "done", message
    timing = json.loads(page.evaluate("document.getElementById('timing').dataset.timing"))
    diff = _compare(_download(page, browser), _python_reference(path), 0.5)
    print(f"\nmagnetogram 128x96 (BITPIX {bitpix}): {timing['totalMs'] / 1e3:.1f} s, {timing['runtime']}; "
          f"max |browser - Python| = {diff:.3f} G")


@pytest.mark.parametrize(("compression", "dtype"),
                         [("RICE_1", np.float32), ("GZIP_1", np.int16), ("GZIP_2", np.float32)])
def test_tile_compressed_variants(page, browser, tmp_path, compression, dtype):
    """Floats quantised with subtractive dithering (astropy's default), GZIP tiles, shuffled GZIP; 2-D tiles."""
    from astropy.io import fits

    from sunpy_enhance.sample import synthetic_hmi_map

    smap = synthetic_hmi_map("magnetogram", shape=(72, 88))
    data = np.round(smap.data).astype(dtype) if dtype == np.int16 else smap.data.astype(dtype)
    hdu = fits.CompImageHDU(data, header=fits.Header(smap.fits_header), compression_type=compression,
                            tile_shape=(16, 32))
    path = tmp_path / f"hmi_m_{compression}.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    state, message = _run(page, path)
    assert state == "done", message
    diff = _compare(_download(page, browser), _python_reference(path), 0.5)
    print(f"\n{compression} {np.dtype(dtype).name}: max |browser - Python| = {diff:.3f} G")


@pytest.mark.parametrize("kind", ["continuum", "magnetogram"])
def test_limb_cutout_matches_python(page, browser, tmp_path, kind):
    """Off-disk pixels: NaN filling, tiles skipped, the NaN-aware consistency step, the limb warning."""
    import astropy.units as u

    from sunpy_enhance.sample import synthetic_hmi_map

    path = tmp_path / f"limb_{kind}.fits"
    _write_plain(synthetic_hmi_map(kind, shape=(96, 112), center=(940, 60) * u.arcsec, spot=False), path, -32)
    state, message = _run(page, path)
    assert state == "done", message
    assert "closer to the limb than mu = 0.3" in page.evaluate("document.getElementById('warnings').textContent")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same limb warning, from Python
        reference = _python_reference(path)
    diff = _compare(_download(page, browser), reference, 1e-3 if kind == "continuum" else 0.5)
    print(f"\nlimb {kind}: max |browser - Python| = {diff:.2e}")


def test_impossible_values_are_missing_with_the_python_warning(page, browser, tmp_path):
    """+-inf and |x| > 1e20 (e.g. an unapplied BLANK) are missing like NaN, with the package's one warning."""
    from sunpy_enhance import SunpyEnhanceUserWarning
    from sunpy_enhance.sample import synthetic_hmi_map

    smap = synthetic_hmi_map("magnetogram", shape=(64, 80))
    data = smap.data.copy()
    data[5, 7], data[30, 40], data[50, 3] = np.inf, -np.inf, 3e25
    path = tmp_path / "with_bad_pixels.fits"
    from astropy.io import fits

    fits.PrimaryHDU(data, header=fits.Header(smap.fits_header)).writeto(path)
    state, message = _run(page, path)
    assert state == "done", message
    with pytest.warns(SunpyEnhanceUserWarning) as record:
        reference = _python_reference(path)
    python_warnings = [str(w.message) for w in record if "cannot be data" in str(w.message)]
    assert python_warnings
    assert python_warnings[0] in page.evaluate("document.getElementById('warnings').textContent")
    _compare(_download(page, browser), reference, 0.5)


def test_non_hmi_file_is_refused_with_the_python_message(page, tmp_path):
    import sunpy.map

    from sunpy_enhance import enhance_map
    from sunpy_enhance.sample import synthetic_hmi_map

    smap = synthetic_hmi_map("continuum", shape=(48, 48))
    meta = dict(smap.meta)
    meta.update(instrume="AIA_3", telescop="SDO/AIA", detector="AIA")
    path = tmp_path / "aia.fits"
    sunpy.map.Map(smap.data, meta).save(path, overwrite=True)
    with pytest.raises(ValueError) as python_error:
        enhance_map(sunpy.map.Map(path))
    state, message = _run(page, path)
    assert state == "error"
    assert message == str(python_error.value)


def test_wrong_pixel_scale_is_refused_with_the_python_message(page, tmp_path):
    import sunpy.map

    from sunpy_enhance import enhance_map
    from sunpy_enhance.sample import synthetic_hmi_map

    smap = synthetic_hmi_map("magnetogram", shape=(48, 48))
    meta = dict(smap.meta)
    meta.update(cdelt1=0.6, cdelt2=0.6)
    path = tmp_path / "resampled.fits"
    sunpy.map.Map(smap.data, meta).save(path, overwrite=True)
    with pytest.raises(ValueError) as python_error:
        enhance_map(sunpy.map.Map(path))
    state, message = _run(page, path)
    assert state == "error"
    assert message == str(python_error.value)


@pytest.mark.parametrize("case", ["magnetogram labelled continuum", "continuum labelled magnetogram", "no CRVAL"])
def test_mislabelled_or_unpointed_data_are_refused_with_the_python_message(page, tmp_path, case):
    import sunpy.map

    from sunpy_enhance import enhance_map
    from sunpy_enhance.sample import synthetic_hmi_map

    if case == "no CRVAL":
        smap = synthetic_hmi_map("continuum", shape=(48, 48))
        meta = {k: v for k, v in smap.meta.items() if k not in ("crval1", "crval2")}
    else:
        data_kind, label = case.split(" labelled ")
        smap = synthetic_hmi_map(data_kind, shape=(48, 48))
        meta = dict(smap.meta)
        meta.update(content="CONTINUUM INTENSITY" if label == "continuum" else "MAGNETOGRAM",
                    bunit="DN/s" if label == "continuum" else "Mx/cm2")
    path = tmp_path / "suspicious.fits"
    sunpy.map.Map(smap.data, meta).save(path, overwrite=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError) as python_error:
            enhance_map(sunpy.map.Map(path))
    state, message = _run(page, path)
    assert state == "error"
    assert message == str(python_error.value)


def test_corrupt_files_give_a_clear_message(page, tmp_path):
    junk = tmp_path / "not_fits.fits"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 10_000, dtype=np.uint8).tobytes())
    state, message = _run(page, junk)
    assert state == "error"
    assert "not a FITS file" in message

    from sunpy_enhance.sample import synthetic_hmi_map

    good = tmp_path / "good.fits"
    _write_plain(synthetic_hmi_map("continuum", shape=(64, 64)), good, -32)
    truncated = tmp_path / "truncated.fits"
    truncated.write_bytes(good.read_bytes()[:2880 * 3 + 100])
    state, message = _run(page, truncated)
    assert state == "error"
    assert "truncated" in message


def test_image_too_large_for_the_browser_is_refused(page, tmp_path):
    """A 20000² float32 image (1.6 GB, sparse on disk): refused from its header, before any data are read."""
    from astropy.io import fits

    from sunpy_enhance.sample import synthetic_hmi_map

    header = fits.Header(synthetic_hmi_map("continuum", shape=(8, 8)).fits_header)
    header["NAXIS1"] = header["NAXIS2"] = 20000
    head = fits.PrimaryHDU(header=header).header
    head["BITPIX"], head["NAXIS"], head["NAXIS1"], head["NAXIS2"] = -32, 2, 20000, 20000
    path = tmp_path / "huge.fits"
    text = head.tostring().encode()
    with open(path, "wb") as f:
        f.write(text)
        f.truncate(len(text) + 20000 * 20000 * 4)
    start = time.monotonic()
    state, message = _run(page, path, timeout=60)
    assert state == "error"
    assert "too large" in message and "20000 × 20000" in message
    assert time.monotonic() - start < 30


def test_cancel(page, tmp_path):
    from sunpy_enhance.sample import synthetic_hmi_map

    path = tmp_path / "cancel_me.fits"
    _write_plain(synthetic_hmi_map("magnetogram", shape=(256, 256)), path, -32)
    page.set_files("#file", [path])
    page.wait_for("document.body.dataset.state === 'running'", timeout=30)
    page.evaluate("document.getElementById('cancel').click()")
    assert page.wait_for("document.body.dataset.state === 'cancelled'", timeout=30)
    assert page.evaluate("document.getElementById('message').textContent") == "Cancelled."


def test_plain_static_server_gets_threads_through_the_service_worker(browser, web_dist):
    """Served as any static host serves it (no COOP/COEP headers, e.g. the docs site or python -m http.server),
    the bundled coi-serviceworker makes the page cross-origin isolated, so the network gets its threads."""
    httpd = _serve(web_dist, isolation_headers=False)
    try:
        page = browser.open(f"http://127.0.0.1:{httpd.server_address[1]}/")
        assert page.wait_for("self.crossOriginIsolated && document.body.dataset.state === 'idle'", timeout=60)
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_webgpu_backend_matches_python(server, tmp_path):
    """The WebGPU path, on Chromium's software WebGPU adapter (SwiftShader): slow, but the same numbers."""
    from sunpy_enhance.sample import synthetic_hmi_map

    if find_chromium() is None:
        pytest.skip("no chromium executable")
    flags = ["--enable-unsafe-webgpu", "--enable-unsafe-swiftshader", "--use-webgpu-adapter=swiftshader",
             "--enable-features=Vulkan"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        with Browser(extra_flags=flags, gpu=True) as gpu_browser:
            page = gpu_browser.open(server)
            page.wait_for("document.body.dataset.state === 'idle'", timeout=60)
            if not page.evaluate("(async () => !!(navigator.gpu && await navigator.gpu.requestAdapter()))()"):
                pytest.skip("this Chromium offers no WebGPU adapter (not even SwiftShader)")
            page.evaluate("document.getElementById('backend').value = 'webgpu'")
            path = tmp_path / "hmi_m_small.fits"
            _write_plain(synthetic_hmi_map("magnetogram", shape=(40, 48)), path, -32)
            state, message = _run(page, path)
            assert state == "done", message
            timing = json.loads(page.evaluate("document.getElementById('timing').dataset.timing"))
            assert timing["backend"] == "webgpu"
            diff = _compare(_download(page, gpu_browser), _python_reference(path), 0.5)
    print(f"\nWebGPU (SwiftShader) 48x40 magnetogram: {timing['totalMs'] / 1e3:.1f} s; "
          f"max |browser - Python| = {diff:.3f} G")
