// sunpy_enhance.enhance_map for the page: the same steps in the same order and precision, with the network
// supplied by the caller (ONNX Runtime Web in the worker; anything with the same contract in tests).

import { imageHeader } from "./fits.js";
import { backProject, fluxGain, hmiPsf, sharedFloat32 } from "./consistency.js";
import {
  addProvenance, checkHmiMap, checkPlausible, checkQuietSun, classifyMap, EnhanceError, fillNan, finiteValues, limbDarkening,
  limbDarkeningRemoved, mapWcs, missingToNan, muFromMap, northUpView, quietSunLevel, refineHeader, tileSlices, toView,
  fromView,
} from "./science.js";

export const KINDS = ["continuum", "magnetogram"];
export const LIMB_MU = 0.3;
/** The largest image the page accepts: an HMI full disk. */
export const MAX_PIXELS = 4096 * 4096;

/** Bytes the page needs for an image of `pixels` input pixels (float32 input, output ×4, work arrays). */
export function memoryEstimate(pixels) {
  return pixels * 4 * (4 /* input, μ, physical, filled */ + 4 /* output */ + 2 /* consistency */);
}

/**
 * Check an image's size before its data are read: refuse what the page cannot hold, with the reason.
 */
export function checkSize(width, height) {
  const pixels = width * height;
  if (!(width > 0 && height > 0)) throw new EnhanceError("The FITS image is empty (NAXIS1 or NAXIS2 is 0).");
  if (pixels > MAX_PIXELS) {
    const gb = (memoryEstimate(pixels) / 2 ** 30).toFixed(1);
    throw new EnhanceError(`This image is too large for the page: ${width} × ${height} pixels would need about `
      + `${gb} GB of memory in the browser (the enhanced image alone is ${2 * width} × ${2 * height}). The page `
      + "handles images up to 4096 × 4096 pixels, an HMI full disk; for larger data use the Python package "
      + "(sunpy_enhance.enhance_map), which streams tiles from disk.");
  }
}

/**
 * Enhance one image.
 *
 * @param {object} a
 * @param {Float32Array} a.data      input pixels, row-major (NAXIS1 fastest)
 * @param {object} a.image           the image description of fits.findImage (header, width, height, compressed)
 * @param {object} a.model           manifest entry: name, kind, created, normalisation, consistency, receptive_radius
 * @param {Function} a.network       async (Float32Array window, rows, cols) => Float32Array (2rows × 2cols)
 * @param {Function} a.progress      (fraction, stage) => void
 * @param {Function} a.check         throws to cancel; called between steps
 */
export async function enhanceImage({ data, image, model, network, kind = null, allowNonHmi = false,
  allowAnyScale = false, tileSize = 512, progress = () => {}, check = () => {}, version = "unknown",
  runtime = "", resolveModel = null, pool = null }) {
  const W = image.width, H = image.height;
  const stages = {};
  let mark = performance.now();
  const lap = (name) => { const t = performance.now(); stages[name] = +(((stages[name] ?? 0) + t - mark) / 1000).toFixed(3); mark = t; };
  const header = imageHeader(image);
  const meta = header.toMeta();
  const warnings = [];
  const wcs = mapWcs(meta);
  checkHmiMap(meta, wcs, { allowNonHmi, allowAnyScale });
  kind = kind || classifyMap(meta);
  if (!KINDS.includes(kind)) throw new EnhanceError(`kind must be one of ('continuum', 'magnetogram'), not '${kind}'.`);
  const missing = missingToNan(data);
  if (missing) warnings.push(missing);
  checkPlausible(data, kind);
  if (resolveModel) model = resolveModel(kind);
  if (model.kind !== kind) {
    throw new EnhanceError(`Model '${model.name}' is a '${model.kind}' model; a '${kind}' model is needed for these data.`);
  }
  progress(0, "geometry: μ of every pixel from the header's WCS");
  let mu = null;
  if (wcs.helioprojective) {
    const r = muFromMap(meta, wcs, W, H);
    mu = r.mu;
    warnings.push(...r.warnings);
    let onDisk = false, nearLimb = false;
    const limb = Math.fround(LIMB_MU);
    for (let i = 0; i < mu.length; i++) {
      const m = mu[i];
      if (m === m) {
        onDisk = true;
        if (m < limb && data[i] === data[i]) nearLimb = true;
      } else data[i] = NaN;
    }
    if (!onDisk) throw new EnhanceError("No pixel of this map is on the solar disk; Enhance works on on-disk data only.");
    if (nearLimb) {
      warnings.push(`Part of the field is closer to the limb than mu = ${LIMB_MU}: the Enhance networks were `
        + "trained on disk-centre data and are unreliable there (low contrast, foreshortening).");
    }
  } else {
    warnings.push("The map is not in helioprojective coordinates: no limb-darkening correction and no limb "
      + "check were applied.");
  }
  check();
  lap("geometry");
  const norm = model.normalisation;
  let level = null, units, ldApplied = false;
  let physical;
  if (kind === "continuum") {
    progress(0.02, "normalisation: limb darkening and the quiet-Sun level");
    let useLd = mu !== null;
    if (mu !== null && limbDarkeningRemoved(data, mu) === true) useLd = false;
    if (useLd) {
      for (let i = 0; i < data.length; i++) data[i] = data[i] / Math.fround(limbDarkening(mu[i]));
      ldApplied = true;
    }
    level = quietSunLevel(finiteValues(data));
    checkQuietSun(level);
    const l32 = Math.fround(level);
    physical = data; // in place: data / 1.0, then / float32(level)
    for (let i = 0; i < physical.length; i++) physical[i] = physical[i] / l32;
    units = ldApplied ? "I/Ic (divided by the HMI limb-darkening law and the quiet-Sun level)"
      : "I/Ic (divided by the quiet-Sun level; the input's limb darkening was already removed)";
  } else {
    physical = data;
    units = "G";
  }
  mu = null;
  check();
  // the network runs on the north-up view of the data (solar.NorthUpView), the output goes back to the storage order
  const view = northUpView(wcs);
  let VH = H, VW = W;
  if (!view.identity) ({ data: physical, height: VH, width: VW } = toView(physical, H, W, view));
  // network units
  const off = Math.fround(norm.offset), sc = Math.fround(norm.scale);
  let netIn = new Float32Array(physical.length);
  for (let i = 0; i < netIn.length; i++) netIn[i] = (physical[i] - off) / sc;
  lap("normalisation");
  let { filled, bad } = fillNan(netIn, VW, VH);
  netIn = null; // a full disk's arrays are 64 MB each: let them go as soon as they are used
  lap("fill");
  // tiles (tiling.apply_tiled): margin = receptive radius + 3, tiles whose core is all unused are skipped
  const margin = Math.trunc(model.receptive_radius ?? 13) + 3;
  const w2 = 2 * VW;
  let out = pool ? sharedFloat32(4 * VW * VH) : new Float32Array(4 * VW * VH); // shared with the helper workers
  let tiles = tileSlices([VH, VW], tileSize, margin);
  const allBad = (t) => {
    if (!bad) return false;
    const [r0, r1, c0, c1] = t.core;
    for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) if (!bad[r * VW + c]) return false;
    return true;
  };
  for (const t of tiles.filter(allBad)) {
    const [r0, r1, c0, c1] = t.core;
    for (let r = 2 * r0; r < 2 * r1; r++) out.fill(NaN, r * w2 + 2 * c0, r * w2 + 2 * c1);
  }
  tiles = tiles.filter((t) => !allBad(t));
  const netShare = kind === "continuum" || model.consistency ? 0.85 : 0.97;
  let peakTile = 0;
  for (let k = 0; k < tiles.length; k++) {
    check();
    progress(0.03 + (netShare - 0.03) * (k / tiles.length), `network: tile ${k + 1} of ${tiles.length}`);
    const [wr0, wr1, wc0, wc1] = tiles[k].win;
    const rows = wr1 - wr0, cols = wc1 - wc0;
    peakTile = Math.max(peakTile, rows * cols);
    const win = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) win.set(filled.subarray((wr0 + r) * VW + wc0, (wr0 + r) * VW + wc1), r * cols);
    const res = await network(win, rows, cols);
    const [k0, k1, kc0, kc1] = tiles[k].keep;
    const [r0, , c0] = tiles[k].core;
    const rc = 2 * cols;
    for (let r = 2 * k0; r < 2 * k1; r++) {
      out.set(res.subarray(r * rc + 2 * kc0, r * rc + 2 * kc1), (2 * r0 + r - 2 * k0) * w2 + 2 * c0);
    }
  }
  if (bad) {
    for (let j = 0; j < VH; j++) {
      for (let i = 0; i < VW; i++) {
        if (!bad[j * VW + i]) continue;
        const a = 2 * j * w2 + 2 * i;
        out[a] = out[a + 1] = out[a + w2] = out[a + w2 + 1] = NaN;
      }
    }
  }
  filled = null;
  bad = null;
  for (let i = 0; i < out.length; i++) out[i] = Math.fround(out[i] * sc) + off;
  check();
  lap("network");
  if (model.consistency) {
    const base = netShare;
    let stage = 0;
    await backProject(out, physical, VH, VW, {
      smoothing: model.consistency.smoothing_hmi_pixels, psf: hmiPsf(), pool,
      onStage: (s) => progress(base + (1 - base) * 0.5 * stage++, `consistency: ${s}`),
    });
  }
  if (kind === "continuum") {
    const g = fluxGain(out, physical);
    for (let i = 0; i < out.length; i++) out[i] = out[i] * g;
  }
  if (!view.identity) out = fromView(out, 2 * VH, 2 * VW, view);
  lap("consistency");
  progress(1, "done");
  // the output header (header.refined_meta, add_provenance)
  const outHeader = refineHeader(header);
  if (kind === "continuum") {
    outHeader.set("BUNIT", "");
    outHeader.set("ENHQSUN", level);
  }
  const rt = typeof runtime === "function" ? runtime() : runtime;
  addProvenance(outHeader, `Enhance x2 deconvolution with model ${model.name} (float32, ${rt || "onnxruntime-web"}); `
    + `output in ${units}`, version, {
    ENHMODEL: String(model.name), ENHMDATE: String(model.created ?? ""), ENHUNIT: units.slice(0, 60),
  });
  return { out, width: 2 * W, height: 2 * H, header: outHeader, kind, units, warnings, level, tiles: tiles.length, peakTile, stages };
}
