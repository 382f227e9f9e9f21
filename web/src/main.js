// The page: file input, options, the worker's progress and cancel, the viewer and the download.

import { Header, writeFloat32Image } from "./fits.js";
import { Viewer } from "./viewer.js";

const $ = (id) => document.getElementById(id);
const state = (s) => { document.body.dataset.state = s; };
let manifest = { models: [] }, build = { version: "unknown" };
let worker = null, running = false, downloadUrl = null, lastResult = null;
const viewer = new Viewer($("view"), $("colourbar"));

function message(text, isError = false) {
  $("message").textContent = text;
  if (isError) state("error");
}

function newWorker() {
  worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  worker.onmessage = onWorkerMessage;
  worker.onerror = (e) => { finish(); message(`The worker failed: ${e.message ?? e}`, true); };
}

function finish() {
  running = false;
  $("cancel").disabled = true;
}

function onWorkerMessage(e) {
  const m = e.data;
  if (m.type === "progress") {
    $("progress").value = m.fraction;
    $("stage").textContent = m.stage;
  } else if (m.type === "error") {
    finish();
    $("progress").value = 0;
    $("stage").textContent = "";
    message(m.message, true);
  } else if (m.type === "result") {
    finish();
    showResult(m);
  }
}

function headerObject(cards) {
  const out = {};
  for (const c of cards) {
    if (c.slice(8, 10) !== "= ") continue;
    const k = c.slice(0, 8).trim().toLowerCase();
    if (k in out) continue;
    const raw = c.slice(10).split("/")[0].trim();
    out[k] = raw.startsWith("'") ? raw.replace(/^'|'$/g, "").trim() : Number(raw);
  }
  return out;
}

function showResult(m) {
  const name = ($("file").dataset.name || "hmi").replace(/\.(fits|fit|fts)(\.fz|\.gz)?$|\.fz$/i, "");
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = null;
  lastResult = m; // the FITS file is made when it is asked for (a full disk's is 256 MB)
  const link = $("download");
  link.href = "#";
  link.download = `${name}_enhanced.fits`;
  $("result").hidden = false;
  viewer.show({ before: m.before, after: m.out, width: m.width, height: m.height, kind: m.kind, header: headerObject(m.header) });
  const t = m.timing;
  const mem = t.jsHeap ? `, JS heap ${(t.jsHeap / 2 ** 20).toFixed(0)} MB` : "";
  $("timing").textContent = `${m.kind}, model ${m.model.name}; ${m.width / 2} × ${m.height / 2} → ${m.width} × ${m.height} px `
    + `in ${(t.totalMs / 1000).toFixed(1)} s (network ${(t.networkMs / 1000).toFixed(1)} s over ${t.tiles} tile${t.tiles > 1 ? "s" : ""}; `
    + `${t.runtime}${t.crossOriginIsolated ? "" : ", not cross-origin isolated: one thread"}${mem}). Output in ${m.units}.`;
  $("timing").dataset.timing = JSON.stringify({ ...t, width: m.width, height: m.height, model: m.model.name, kind: m.kind });
  $("warnings").replaceChildren(...m.warnings.map((w) => Object.assign(document.createElement("li"), { textContent: w })));
  message("Done. The enhanced image is shown below; the FITS file can be downloaded.");
  state("done");
}

function start(file) {
  if (!file) return;
  if (running) { worker.terminate(); newWorker(); }
  running = true;
  state("running");
  $("file").dataset.name = file.name;
  $("warnings").replaceChildren();
  $("result").hidden = true;
  message(`Working on ${file.name} (${(file.size / 2 ** 20).toFixed(1)} MB) on this computer…`);
  $("cancel").disabled = false;
  $("progress").value = 0;
  const options = {
    backend: $("backend").value,
    kind: $("kind").value || null,
    allowNonHmi: $("allow-non-hmi").checked,
    allowAnyScale: $("allow-any-scale").checked,
    tileSize: Number($("tile-size").value) || 512,
    model: { continuum: $("model-continuum").value, magnetogram: $("model-magnetogram").value },
  };
  worker.postMessage({ type: "enhance", file, options, models: manifest.models, version: build.version });
}

$("download").addEventListener("click", () => {
  if (downloadUrl || !lastResult) return;
  const m = lastResult;
  const bytes = writeFloat32Image(new Header(m.header), m.out, m.width, m.height);
  downloadUrl = URL.createObjectURL(new Blob([bytes], { type: "application/fits" }));
  $("download").href = downloadUrl;
});
$("cancel").addEventListener("click", () => {
  if (!running) return;
  worker.terminate();
  newWorker();
  finish();
  $("progress").value = 0;
  $("stage").textContent = "";
  message("Cancelled.");
  state("cancelled");
});
$("file").addEventListener("change", (e) => start(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); start(e.dataTransfer.files[0]); });
$("zoom-in").addEventListener("click", () => viewer.zoomBy(1.5));
$("zoom-out").addEventListener("click", () => viewer.zoomBy(1 / 1.5));
$("zoom-reset").addEventListener("click", () => viewer.reset());
$("split").addEventListener("input", (e) => { viewer.split = Number(e.target.value); viewer.draw(); });

async function init() {
  if (location.protocol === "file:") {
    message("Browsers do not run this page's worker and WebAssembly from a file:// address. Serve the folder "
      + "instead, e.g. `python3 -m http.server` or `npx serve` in it, then open http://localhost:8000/ "
      + "(everything still runs on this computer).", true);
    return;
  }
  try {
    [manifest, build] = await Promise.all([
      fetch("models/manifest.json").then((r) => r.json()),
      fetch("build.json").then((r) => r.json()),
    ]);
  } catch (err) {
    message(`The page's model list could not be loaded (${err.message}); was it built with npm run build?`, true);
    return;
  }
  for (const kind of ["continuum", "magnetogram"]) {
    const select = $(`model-${kind}`);
    for (const m of manifest.models.filter((x) => x.kind === kind)) {
      const opt = new Option(`${m.name}${m.light ? " (light)" : ""}${m.source === "dev-export" ? " [dev export]" : ""}`, m.name);
      opt.selected = !!m.default;
      select.add(opt);
    }
  }
  $("version").textContent = build.version;
  $("models").textContent = manifest.models.map((m) => m.name).join(", ");
  newWorker();
  state("idle");
  message(self.crossOriginIsolated ? "" : "Note: this page is not cross-origin isolated, so the network runs on one thread.");
}
init();
