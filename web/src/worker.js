// The page's Web Worker: reads the FITS file, runs the science of enhance.js with ONNX Runtime Web, and sends
// progress, the result and the enhanced FITS file back. Nothing leaves the machine: the file is read from the
// user's disk and the only requests are for the page's own files (the runtime and the models).

import { blobSource, findImage, FitsError, readImage } from "./fits.js";
import { checkSize, enhanceImage } from "./enhance.js";
import { EnhanceError } from "./science.js";

const base = new URL("../", import.meta.url).href; // dist/
let ort = null, ortFlavour = null;
const sessions = new Map();

async function loadOrt(backend) {
  const wantGpu = backend === "webgpu" || (backend === "auto" && self.navigator?.gpu);
  let adapter = null;
  if (wantGpu && self.navigator?.gpu) {
    try { adapter = await self.navigator.gpu.requestAdapter(); } catch { adapter = null; }
  }
  if (backend === "webgpu" && !adapter) {
    throw new EnhanceError("WebGPU was asked for but this browser offers no WebGPU adapter; choose WASM.");
  }
  const flavour = adapter ? "webgpu" : "wasm";
  if (ort && ortFlavour === flavour) return { ort, flavour };
  const url = `${base}ort/${flavour === "webgpu" ? "ort.webgpu.min.mjs" : "ort.wasm.min.mjs"}`;
  ort = await import(url);
  ortFlavour = flavour;
  ort.env.wasm.wasmPaths = `${base}ort/`;
  const cores = self.navigator?.hardwareConcurrency || 1;
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.max(1, Math.min(cores, 16)) : 1;
  ort.env.wasm.simd = true;
  sessions.clear();
  return { ort, flavour };
}

async function session(model, backend) {
  const { flavour } = await loadOrt(backend);
  const key = `${model.name}:${flavour}`;
  if (!sessions.has(key)) {
    const response = await fetch(`${base}models/${model.file}`);
    if (!response.ok) throw new EnhanceError(`The model file ${model.file} could not be loaded (${response.status}).`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const options = {
      executionProviders: flavour === "webgpu" ? ["webgpu", "wasm"] : ["wasm"],
      graphOptimizationLevel: "all",
      enableMemPattern: false, // tiles differ in shape at the borders
    };
    sessions.set(key, await ort.InferenceSession.create(bytes, options));
  }
  return { s: sessions.get(key), flavour };
}

// helper workers for the consistency step's convolutions: one per further core (needs cross-origin isolation)
let pool;
function helperPool() {
  if (pool !== undefined) return pool;
  const size = Math.min(self.navigator?.hardwareConcurrency || 1, 8) - 1;
  if (!self.crossOriginIsolated || size < 1) return (pool = null);
  const workers = Array.from({ length: size }, () => new Worker(new URL("./helper.js", import.meta.url), { type: "module" }));
  pool = {
    size,
    run: (spec, count) => Promise.all(workers.map((w, k) => new Promise((resolve, reject) => {
      w.onmessage = (e) => (e.data.ok ? resolve() : reject(new Error(e.data.message)));
      w.onerror = (e) => reject(new Error(e.message));
      w.postMessage({ ...spec, part: [k, count] });
    }))),
  };
  return pool;
}

function post(type, payload = {}, transfer = []) {
  self.postMessage({ type, ...payload }, transfer);
}

function describeError(err) {
  if (err instanceof EnhanceError || err instanceof FitsError) return err.message;
  if (err instanceof RangeError || /memory|allocation|OOM/i.test(String(err?.message ?? err))) {
    return "The browser ran out of memory for this image. Close other tabs, use a smaller cutout, or the "
      + `Python package for full-disk data. (${err?.message ?? err})`;
  }
  return `Unexpected error: ${err?.message ?? err}`;
}

async function enhance(msg) {
  const t0 = performance.now();
  const { file, options, models, version } = msg;
  const source = blobSource(file);
  post("progress", { fraction: 0, stage: "reading the FITS header" });
  const image = await findImage(source);
  checkSize(image.width, image.height);
  const data = await readImage(source, image, (f) => post("progress", { fraction: 0, stage: `decompressing (${Math.round(100 * f)}%)` }));
  const tRead = performance.now();
  let runtime = "", flavour = null, threads = 1;
  let netMs = 0;
  let net = null;
  const network = async (win, rows, cols) => {
    const t = performance.now();
    const input = new ort.Tensor("float32", win, [1, rows, cols, 1]);
    const result = await net.run({ [net.inputNames[0]]: input });
    const output = result[net.outputNames[0]];
    const values = output.data instanceof Float32Array ? output.data : await output.getData();
    netMs += performance.now() - t;
    input.dispose?.();
    return values;
  };
  const resolveModel = (kind) => {
    const choice = options.model?.[kind];
    const candidates = models.filter((m) => m.kind === kind);
    const chosen = candidates.find((m) => m.name === choice) ?? candidates.find((m) => m.default) ?? candidates[0];
    if (!chosen) throw new EnhanceError(`This page was built without a ${kind} model.`);
    return chosen;
  };
  // the session is created once the kind (hence the model) is known: wrap the network
  const lazyNetwork = async (win, rows, cols) => {
    if (!net) {
      post("progress", { fraction: 0.03, stage: "loading the network" });
      const { s, flavour: f } = await session(chosenModel, options.backend ?? "auto");
      net = s; flavour = f;
      threads = f === "wasm" ? ort.env.wasm.numThreads : 0;
      runtime = `onnxruntime-web ${ort.env.versions?.web ?? ""} ${f}${f === "wasm" ? ` with ${threads} thread${threads > 1 ? "s" : ""}` : ""} in the browser`;
    }
    return network(win, rows, cols);
  };
  let chosenModel = null;
  const result = await enhanceImage({
    data, image, network: lazyNetwork, kind: options.kind || null,
    allowNonHmi: !!options.allowNonHmi, allowAnyScale: !!options.allowAnyScale, tileSize: options.tileSize ?? 512,
    version, runtime: () => runtime,
    resolveModel: (kind) => (chosenModel = resolveModel(kind)),
    progress: (fraction, stage) => post("progress", { fraction, stage }),
    pool: helperPool(),
  });
  const tDone = performance.now();
  const memory = self.performance?.memory?.usedJSHeapSize ?? null;
  post("result", {
    out: result.out, width: result.width, height: result.height,
    before: data, // normalised input (I/Ic or G), the "before" of the viewer
    header: result.header.cards, kind: result.kind, units: result.units, warnings: result.warnings,
    model: chosenModel,
    timing: { totalMs: tDone - t0, readMs: tRead - t0, stages: { read: +((tRead - t0) / 1000).toFixed(3), ...result.stages }, networkMs: netMs, tiles: result.tiles, peakTile: result.peakTile,
      backend: flavour, threads, runtime, crossOriginIsolated: self.crossOriginIsolated, jsHeap: memory },
  }, [...(result.out.buffer instanceof ArrayBuffer ? [result.out.buffer] : []), data.buffer]);
}

self.onmessage = async (e) => {
  const msg = e.data;
  try {
    if (msg.type === "enhance") await enhance(msg);
  } catch (err) {
    post("error", { message: describeError(err) });
  }
};
post("ready", { crossOriginIsolated: self.crossOriginIsolated, hardwareConcurrency: self.navigator?.hardwareConcurrency });
