#!/usr/bin/env node
// Build the "Try it in your browser" page into web/dist/: `npm ci && npm run build` (in web/).
//
// * the page's own files (src/) are copied as they are: plain ES modules, no bundler;
// * ONNX Runtime Web and coi-serviceworker are copied from node_modules (installed from npm at the versions
//   pinned in package-lock.json), never from anywhere else;
// * the models: for each Enhance model of the package (sunpy_enhance/data/models/<name>/card.json, in this
//   checkout, else in the installed package), its model.onnx when the package ships one; otherwise a
//   development export of its SavedModel with tf2onnx (tools/export_dev_onnx.py; needs Python with tensorflow
//   and tf2onnx; cached in web/.cache/ by the SavedModel's hash). models/manifest.json is made from the cards.
//
// Options: --no-webgpu (leave out the 26 MB WebGPU runtime), --models DIR (another models directory).

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const dist = path.join(here, "dist");
const args = process.argv.slice(2);
const withWebgpu = !args.includes("--no-webgpu");
const modelsArg = args.includes("--models") ? args[args.indexOf("--models") + 1] : process.env.SUNPY_ENHANCE_MODELS;

const log = (...a) => console.log("[build]", ...a);
const copy = (from, to) => { fs.mkdirSync(path.dirname(to), { recursive: true }); fs.copyFileSync(from, to); };

function python() {
  const candidates = [process.env.PYTHON, path.join(root, ".venv", "bin", "python"), "python3", "python"].filter(Boolean);
  for (const p of candidates) {
    try { execFileSync(p, ["-c", "import sys"], { stdio: "ignore" }); return p; } catch { /* next */ }
  }
  return null;
}

function modelsDirectory() {
  if (modelsArg) return path.resolve(modelsArg);
  const checkout = path.join(root, "sunpy_enhance", "data", "models");
  if (fs.existsSync(checkout)) return checkout;
  const py = python();
  if (py) {
    try {
      return execFileSync(py, ["-c", "import importlib.resources as r; print(r.files('sunpy_enhance') / 'data' / 'models')"],
        { encoding: "utf8" }).trim();
    } catch { /* not installed */ }
  }
  throw new Error("No sunpy_enhance models found (neither in this checkout nor in an installed package).");
}

function hashDirectory(dir) {
  const h = createHash("sha256");
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else { h.update(path.relative(dir, p)); h.update(fs.readFileSync(p)); }
    }
  };
  walk(dir);
  return h.digest("hex").slice(0, 16);
}

function devExport(name, savedModel) {
  const key = hashDirectory(savedModel);
  const cached = path.join(here, ".cache", "dev-onnx", name, `${key}.onnx`);
  if (fs.existsSync(cached)) return cached;
  const py = python();
  if (!py) throw new Error("no Python to export the SavedModel with");
  log(`dev export of ${name}: tf2onnx on its SavedModel (the package ships no model.onnx yet)`);
  execFileSync(py, [path.join(here, "tools", "export_dev_onnx.py"), savedModel, cached],
    { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: "3" } });
  return cached;
}

function buildModels() {
  const dir = modelsDirectory();
  log(`models from ${dir}`);
  const entries = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const cardPath = path.join(dir, name, "card.json");
    if (!fs.existsSync(cardPath)) continue;
    const card = JSON.parse(fs.readFileSync(cardPath, "utf8"));
    if (!["continuum", "magnetogram"].includes(card.kind) || card.architecture?.name !== "enhance") continue;
    let onnx = path.join(dir, name, "model.onnx");
    let source = "package";
    if (!fs.existsSync(onnx)) {
      const saved = path.join(dir, name, "saved_model");
      if (!fs.existsSync(saved)) { log(`skipping ${name}: neither model.onnx nor saved_model`); continue; }
      try { onnx = devExport(name, saved); source = "dev-export"; } catch (err) {
        log(`WARNING: ${name} left out: no model.onnx in the package and the dev export failed (${err.message}). `
          + "Install tensorflow and tf2onnx in the Python used (PYTHON=...), or a package that ships model.onnx.");
        continue;
      }
    }
    const bytes = fs.readFileSync(onnx);
    const file = `${name}/model.onnx`;
    copy(onnx, path.join(dist, "models", file));
    const arch = card.architecture ?? {};
    entries.push({
      name: card.name ?? name, kind: card.kind, file, source,
      light: name.endsWith("-light") || (arch.blocks ?? 5) < 5 || (arch.filters ?? 64) < 64,
      created: card.created ?? "", architecture: arch, upscale: card.upscale ?? 2,
      receptive_radius: card.receptive_radius ?? 13, normalisation: card.normalisation,
      consistency: card.consistency ?? null, psf: card.psf?.input ?? null,
      bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex"),
    });
  }
  // the default of each kind: the light model where there is one, else the full one
  for (const kind of ["continuum", "magnetogram"]) {
    const ofKind = entries.filter((e) => e.kind === kind);
    const chosen = ofKind.find((e) => e.light) ?? ofKind[0];
    if (chosen) chosen.default = true;
    else log(`WARNING: no ${kind} model in the page`);
  }
  fs.writeFileSync(path.join(dist, "models", "manifest.json"), JSON.stringify({ models: entries }, null, 2) + "\n");
  return entries;
}

function packageVersion() {
  try {
    const text = fs.readFileSync(path.join(root, "sunpy_enhance", "_version.py"), "utf8");
    const m = /__version__\s*=\s*version\s*=\s*['"]([^'"]+)['"]/.exec(text) ?? /version\s*=\s*['"]([^'"]+)['"]/.exec(text);
    if (m) return m[1];
  } catch { /* not written */ }
  try { return execFileSync("git", ["describe", "--tags", "--always"], { cwd: root, encoding: "utf8" }).trim(); } catch { return "unknown"; }
}

function main() {
  fs.rmSync(dist, { recursive: true, force: true });
  fs.mkdirSync(dist, { recursive: true });
  // the page
  for (const f of ["index.html", "style.css"]) copy(path.join(here, "src", f), path.join(dist, f));
  for (const f of fs.readdirSync(path.join(here, "src")).filter((x) => x.endsWith(".js"))) {
    copy(path.join(here, "src", f), path.join(dist, "src", f));
  }
  // npm dependencies
  const ortDir = path.join(here, "node_modules", "onnxruntime-web", "dist");
  if (!fs.existsSync(ortDir)) throw new Error("node_modules is missing: run `npm ci` first (npm ci && npm run build).");
  const ortFiles = ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"];
  if (withWebgpu) ortFiles.push("ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm");
  for (const f of ortFiles) copy(path.join(ortDir, f), path.join(dist, "ort", f));
  for (const pkg of ["onnxruntime-web", "coi-serviceworker"]) { // their licences travel with them
    const lic = fs.readdirSync(path.join(here, "node_modules", pkg)).find((f) => /^licen[cs]e/i.test(f));
    if (lic) copy(path.join(here, "node_modules", pkg, lic), path.join(dist, "licenses", `${pkg}-${lic}`));
  }
  copy(path.join(here, "node_modules", "coi-serviceworker", "coi-serviceworker.min.js"), path.join(dist, "coi-serviceworker.min.js"));
  const ortVersion = JSON.parse(fs.readFileSync(path.join(here, "node_modules", "onnxruntime-web", "package.json"), "utf8")).version;
  const models = buildModels();
  const info = { version: packageVersion(), onnxruntimeWeb: ortVersion, webgpu: withWebgpu, models: models.map((m) => m.name) };
  fs.writeFileSync(path.join(dist, "build.json"), JSON.stringify(info, null, 2) + "\n");
  log(`web/dist ready: sunpy-enhance ${info.version}, onnxruntime-web ${ortVersion}, models ${info.models.join(", ") || "none"}`);
  if (!models.length) process.exitCode = 1;
}

main();
