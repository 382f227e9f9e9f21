#!/usr/bin/env node
// Benchmark of the built page in headless Chromium: a 1024² HMI-like continuum cutout and a 4096² full disk.
//
//   npm run bench -- [--sizes 1024,4096] [--model PATH.onnx] [--tile-size N] [--chromium PATH] [--timeout S]
//
// The inputs are made here (an HMI-like header, a granulation-like texture times the limb darkening, NaN off
// the disk); the page is served from a copy of dist/ with the cross-origin-isolation headers; Chromium (Debian's,
// never a downloaded one) is driven over the DevTools protocol with Node's WebSocket (Node 20:
// --experimental-websocket, which `npm run bench` passes). --model PATH.onnx adds that network to the copy's
// manifest as the default continuum model (e.g. an untrained light-architecture export for timing,
// tools/export_dev_onnx.py --timing-light). Reports wall time, the worker's own timings, the WASM threads and
// the peak memory (resident set of all Chromium processes, sampled every 0.25 s) and their CPU time (on a
// machine shared with other jobs the wall time overstates; the CPU time does not).

import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Float, Header, formatCards, writeImage } from "./src/fits.js";
import { limbDarkening } from "./src/science.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const sizes = opt("sizes", "1024,4096").split(",").map(Number);
const modelArg = opt("model", null);
const chromium = opt("chromium", process.env.CHROMIUM ?? "/usr/bin/chromium");
const timeoutS = Number(opt("timeout", 3600));
const tileSize = opt("tile-size", null);

// -- inputs ---------------------------------------------------------------------------------------------------------
function hmiHeader(size, fullDisk) {
  const h = new Header([]);
  const set = (k, v) => h.cards.push(...formatCards(k, v));
  const centre = fullDisk ? [0, 0] : [-150, 120];
  set("CTYPE1", "HPLN-TAN"); set("CTYPE2", "HPLT-TAN"); set("CUNIT1", "arcsec"); set("CUNIT2", "arcsec");
  set("CDELT1", new Float(0.504)); set("CDELT2", new Float(0.504));
  set("CRPIX1", new Float((size + 1) / 2 + 0.3)); set("CRPIX2", new Float((size + 1) / 2 - 0.2));
  set("CRVAL1", new Float(centre[0])); set("CRVAL2", new Float(centre[1])); set("CROTA2", new Float(179.93));
  set("DSUN_OBS", new Float(148520000000.0)); set("RSUN_REF", new Float(696000000.0));
  set("HGLN_OBS", new Float(0)); set("HGLT_OBS", new Float(-7.2)); set("DATE-OBS", "2014-03-01T00:01:30.000");
  set("TELESCOP", "SDO/HMI"); set("INSTRUME", "HMI_FRONT2"); set("DETECTOR", "HMI"); set("WAVELNTH", new Float(6173));
  set("CONTENT", "CONTINUUM INTENSITY"); set("BUNIT", "DN/s");
  return h;
}

function texture(size, seed = 1) {
  // a smoothed random field, 3.7% rms: the granulation's contrast at HMI resolution (not its shape)
  let s = seed;
  const rand = () => { s = (s * 16807) % 2147483647; return s / 2147483647 - 0.5; };
  const a = new Float32Array(size * size).map(rand);
  const b = new Float32Array(size * size);
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < size; j++) for (let i = 1; i < size - 1; i++) b[j * size + i] = (a[j * size + i - 1] + a[j * size + i] + a[j * size + i + 1]) / 3;
    for (let j = 1; j < size - 1; j++) for (let i = 0; i < size; i++) a[j * size + i] = (b[(j - 1) * size + i] + b[j * size + i] + b[(j + 1) * size + i]) / 3;
  }
  let ss = 0;
  for (const v of a) ss += v * v;
  const k = 0.037 / Math.sqrt(ss / a.length);
  return a.map((v) => v * k);
}

function makeInput(size, dir) {
  const fullDisk = size >= 4096;
  const h = hmiHeader(size, fullDisk);
  const t = texture(size);
  const data = new Float32Array(size * size);
  const rsunArcsec = (Math.asin(696e6 / 148.52e9) * 180 * 3600) / Math.PI;
  const cx = (size + 1) / 2 + 0.3 - 1, cy = (size + 1) / 2 - 0.2 - 1;
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      // small-angle μ, good enough for a benchmark input (the page computes the exact one)
      const x = fullDisk ? (i - cx) * 0.504 : (i - cx) * 0.504 + 150, y = fullDisk ? (j - cy) * 0.504 : (j - cy) * 0.504 - 120;
      const r = Math.hypot(x, y) / rsunArcsec;
      const mu = r < 1 ? Math.sqrt(1 - r * r) : NaN;
      data[j * size + i] = mu === mu ? 60000 * limbDarkening(mu) * (1 + t[j * size + i]) : NaN;
    }
  }
  const file = path.join(dir, `hmi_like_${size}.fits`);
  fs.writeFileSync(file, writeImage(h, data, size, size, -32));
  return file;
}

// -- the page, served with COOP/COEP ----------------------------------------------------------------------------------
function prepareSite() {
  const dist = path.join(here, "dist");
  if (!fs.existsSync(path.join(dist, "index.html"))) throw new Error("web/dist is missing: npm ci && npm run build");
  const site = fs.mkdtempSync(path.join(os.tmpdir(), "enhance-bench-site-"));
  fs.cpSync(dist, site, { recursive: true });
  if (modelArg && modelArg.endsWith(".onnx")) {
    const manifestPath = path.join(site, "models", "manifest.json");
    const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8"));
    const base = manifest.models.find((m) => m.kind === "continuum");
    for (const m of manifest.models) if (m.kind === "continuum") m.default = false;
    fs.mkdirSync(path.join(site, "models", "bench-model"), { recursive: true });
    fs.copyFileSync(modelArg, path.join(site, "models", "bench-model", "model.onnx"));
    manifest.models.push({ ...base, name: `bench:${path.basename(path.dirname(modelArg))}`, file: "bench-model/model.onnx", default: true, light: true });
    fs.writeFileSync(manifestPath, JSON.stringify(manifest));
  }
  return site;
}

function serve(dir) {
  const types = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
    ".json": "application/json", ".wasm": "application/wasm" };
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(new URL(req.url, "http://x").pathname);
    let file = path.join(dir, path.normalize(url));
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, "index.html");
    fs.readFile(file, (err, body) => {
      if (err) { res.writeHead(404).end(); return; }
      res.writeHead(200, { "Content-Type": types[path.extname(file)] ?? "application/octet-stream",
        "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" });
      res.end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

// -- Chromium over the DevTools protocol --------------------------------------------------------------------------------
async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "enhance-bench-chromium-"));
  const proc = spawn(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    `--user-data-dir=${profile}`, "--remote-debugging-port=0", "about:blank"], { stdio: "ignore" });
  const portFile = path.join(profile, "DevToolsActivePort");
  for (let i = 0; i < 200 && !fs.existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 100));
  const port = Number(fs.readFileSync(portFile, "utf8").split("\n")[0]);
  const target = await (await fetch(`http://127.0.0.1:${port}/json/new?about:blank`, { method: "PUT" })).json();
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  let id = 0;
  const pending = new Map();
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); }
  };
  const send = (method, params = {}) => new Promise((resolve, reject) => {
    const n = ++id;
    pending.set(n, (m) => (m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
    ws.send(JSON.stringify({ id: n, method, params }));
  });
  const evaluate = async (expression) => (await send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true })).result.value;
  const close = async () => {
    ws.close();
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill();
    await exited;
    fs.rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  };
  return { proc, send, evaluate, close };
}

function treeStats(rootPid) {
  // resident memory (bytes) and CPU time (s) of a process and all its descendants (Linux /proc)
  const children = new Map();
  const rss = new Map(), cpu = new Map();
  for (const p of fs.readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ppid = Number(fields[1]);
      rss.set(Number(p), Number(fields[21]) * 4096);
      cpu.set(Number(p), (Number(fields[11]) + Number(fields[12])) / 100);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(p));
    } catch { /* gone */ }
  }
  let total = 0, seconds = 0;
  const stack = [rootPid];
  while (stack.length) {
    const p = stack.pop();
    total += rss.get(p) ?? 0;
    seconds += cpu.get(p) ?? 0;
    stack.push(...(children.get(p) ?? []));
  }
  return { rss: total, cpu: seconds };
}

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "enhance-bench-"));
  const site = prepareSite();
  const server = await serve(site);
  const url = `http://127.0.0.1:${server.address().port}/`;
  const results = [];
  for (const size of sizes) {
    const input = makeInput(size, work);
    const b = await launch();
    try {
      await b.send("Page.enable");
      await b.send("Page.navigate", { url });
      for (let i = 0; i < 300; i++) {
        if (await b.evaluate("['idle','error'].includes(document.body?.dataset.state)")) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const doc = await b.send("DOM.getDocument", { depth: 0 });
      const node = await b.send("DOM.querySelector", { nodeId: doc.root.nodeId, selector: "#file" });
      if (tileSize) await b.evaluate(`document.getElementById('tile-size').value = ${Number(tileSize)}`);
      let peak = 0, cpuEnd = 0;
      const cpuStart = treeStats(b.proc.pid).cpu;
      const sampler = setInterval(() => {
        const st = treeStats(b.proc.pid);
        peak = Math.max(peak, st.rss);
        cpuEnd = st.cpu;
      }, 250);
      const t0 = performance.now();
      await b.send("DOM.setFileInputFiles", { nodeId: node.nodeId, files: [input] });
      let state;
      for (;;) {
        state = await b.evaluate("document.body.dataset.state");
        if (["done", "error", "cancelled"].includes(state) || performance.now() - t0 > timeoutS * 1000) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const wall = (performance.now() - t0) / 1000;
      clearInterval(sampler);
      cpuEnd = Math.max(cpuEnd, treeStats(b.proc.pid).cpu);
      const message = await b.evaluate("document.getElementById('message').textContent");
      const timing = JSON.parse((await b.evaluate("document.getElementById('timing').dataset.timing")) ?? "null");
      const r = { size, state, wallS: +wall.toFixed(2), chromiumCpuS: +(cpuEnd - cpuStart).toFixed(1),
        peakRssMB: Math.round(peak / 2 ** 20), message: state === "done" ? undefined : message,
        workerS: timing && +(timing.totalMs / 1000).toFixed(2), networkS: timing && +(timing.networkMs / 1000).toFixed(2),
        stagesS: timing?.stages, tiles: timing?.tiles, threads: timing?.threads, runtime: timing?.runtime, model: timing?.model };
      results.push(r);
      console.log(JSON.stringify(r));
    } finally {
      await b.close();
    }
  }
  server.close();
  fs.rmSync(site, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
  console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model}), load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
}

main().catch((err) => { console.error(err); process.exit(1); });
