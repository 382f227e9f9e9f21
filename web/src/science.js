// The science of sunpy_enhance.enhance_map, in JavaScript: validation, kind, WCS and μ, the HMI limb-darkening
// law, the quiet-Sun level, NaN filling, tile geometry, the ×2 header and the provenance. Each function names
// the Python function it follows; the numbers are computed in the same precision (float32 arrays, float64
// statistics), so the page's output equals the package's to the network's rounding.

import { Float } from "./fits.js";

export class EnhanceError extends Error {}

// -- formatting the way Python prints values in the messages ------------------------------------------------
export function pyRepr(v) {
  if (v === undefined || v === null) return "None";
  if (typeof v === "string") return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  if (typeof v === "boolean") return v ? "True" : "False";
  return pyFloat(v);
}

export function pyFloat(x) {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return `${x}.0`;
  let s = String(x);
  if (s.includes("e")) {
    const [m, e] = s.split("e");
    const exp = Number(e);
    s = `${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  return s;
}

// -- enhance.classify_map ------------------------------------------------------------------------------------
/** "continuum" or "magnetogram" from CONTENT (and sunpy's HMI measurement, its first word) or BUNIT. */
export function classifyMap(meta) {
  const content = String(meta.content ?? "").toLowerCase();
  const instrument = String(meta.instrume ?? "").toUpperCase();
  // sunpy's HMIMap.measurement is the first word of CONTENT; other maps' measurement is their wavelength
  const measurement = instrument.startsWith("HMI") ? content.split(" ")[0] : "";
  const bunit = String(meta.bunit ?? "").toLowerCase().replace(/ /g, "");
  if (content.includes("continuum") || content.includes("intensity") || measurement.includes("continuum")) return "continuum";
  if (content.includes("magnetogram") || content.includes("magnetic") || measurement.includes("magnetogram")) return "magnetogram";
  if (["dn/s", "dn", "ct/s", "counts/s"].includes(bunit)) return "continuum";
  if (["mx/cm^2", "mx/cm2", "mxcm^-2", "gauss", "g"].includes(bunit)) return "magnetogram";
  throw new EnhanceError("Cannot tell whether this map is a continuum image or a magnetogram from its metadata "
    + `(CONTENT=${pyRepr(meta.content)}, BUNIT=${pyRepr(meta.bunit)}); `
    + "pass kind='continuum' or kind='magnetogram'.");
}

/** Python's format(x, ".{p}g"). */
export function pyG(x, p) {
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  const [, e] = x.toExponential(p - 1).split("e");
  const exp = Number(e);
  const strip = (t) => (t.includes(".") ? t.replace(/0+$/, "").replace(/\.$/, "") : t);
  if (exp < -4 || exp >= p) {
    const [m] = x.toExponential(p - 1).split("e");
    return `${strip(m)}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  return strip(x.toFixed(Math.max(0, p - 1 - exp)));
}

/** Python's format(x, ".0%"). */
function pyPercent(x) {
  return `${(x * 100).toFixed(0)}%`;
}

// -- hmi.missing_to_nan -----------------------------------------------------------------------------------------
export const IMPOSSIBLE_VALUE = 1e20;
const INT32_BLANK = -2147483648;

/**
 * Set the values that cannot be data to NaN, in place: ±inf, |x| > 1e20 and the int32 BLANK -2147483648 (a
 * BLANK that was not applied). Returns the package's warning counting them, or null.
 */
export function missingToNan(data) {
  let pos = 0, neg = 0, absurd = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v === Infinity) pos++;
    else if (v === -Infinity) neg++;
    else if (Math.abs(v) > Math.fround(IMPOSSIBLE_VALUE) || v === INT32_BLANK) absurd++;
    else continue;
    data[i] = NaN;
  }
  const n = pos + neg + absurd;
  if (!n) return null;
  const parts = [[pos, "+inf"], [neg, "-inf"], [absurd, "|value| > 1e+20 or the int32 BLANK (an unapplied BLANK?)"]]
    .filter(([k]) => k).map(([k, what]) => `${k} ${what}`).join(", ");
  return `${n} pixel${n > 1 ? "s" : ""} cannot be data (${parts}): treated as missing, like NaN (left out, NaN in the output).`;
}

// -- hmi.check_plausible, check_quiet_sun, check_pointing ---------------------------------------------------------
const MAGNETOGRAM_MEDIAN_LIMIT = 5000.0;

/** Refuse data that cannot be what `kind` says (a mislabelled file), with the package's messages. */
export function checkPlausible(data, kind) {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (Number.isFinite(data[i])) n++;
  if (n === 0) return;
  let values = new Float64Array(n);
  for (let i = 0, k = 0; i < data.length; i++) if (Number.isFinite(data[i])) values[k++] = data[i];
  if (values.length > 1000000) { // a full disk: a regular sample tells as well
    const step = Math.floor(values.length / 1000000);
    const sub = new Float64Array(Math.ceil(values.length / step));
    for (let i = 0, k = 0; i < values.length; i += step, k++) sub[k] = values[i];
    values = sub;
  }
  let min = Infinity, negatives = 0;
  for (const v of values) { if (v < min) min = v; if (v < 0) negatives++; }
  const med = median(Float64Array.from(values));
  if (kind === "continuum") {
    const negative = negatives / values.length;
    const spread = median(values.map((v) => Math.abs(v - med)));
    if (negative > 0.01 && Math.abs(med) <= 3 * spread) {
      throw new EnhanceError("The data are labelled continuum intensity but their values are signed around zero "
        + `(median ${pyG(med, 3)}, ${pyPercent(negative)} negative), as a magnetogram's are: check 'continuum: positive `
        + "intensities' failed. If this is a magnetogram, pass kind='magnetogram' (or correct the "
        + "file's CONTENT/BUNIT keywords).");
    }
    if (negative > 0.01 || med <= 0) {
      throw new EnhanceError(`The data are labelled continuum intensity but ${pyPercent(negative)} of the values are `
        + `negative (median ${pyG(med, 3)}): check 'continuum: positive intensities' failed. Continuum `
        + "intensity cannot be negative: check the calibration (BZERO/BSCALE, a subtracted "
        + "background), or pass kind='magnetogram' if this is a magnetogram.");
    }
  } else if (min > 0 && med > MAGNETOGRAM_MEDIAN_LIMIT) {
    throw new EnhanceError(`The data are labelled a magnetogram but every value is positive with a median of ${pyG(med, 4)} `
      + "(G): check 'magnetogram: a line-of-sight field' failed, no field is that strong over a whole "
      + "field of view; these look like continuum intensities (DN/s). If so, pass kind='continuum' (or "
      + "correct the file's CONTENT/BUNIT keywords).");
  }
}

export function checkQuietSun(level) {
  if (Number.isFinite(level) && level > 0) return;
  throw new EnhanceError(`The quiet-Sun intensity estimated from the data is ${pyFloat(level)}, not positive: these are not `
    + "continuum intensities. Check kind= and the calibration, or pass quiet_sun= explicitly.");
}

export function checkPointing(meta) {
  const missing = ["crval1", "crval2"].filter((k) => !(k in meta)).map((k) => k.toUpperCase());
  if (missing.length) {
    throw new EnhanceError(`The map has no pointing: ${missing.join(" and ")} missing from its header, so where it lies on `
      + "the disk (and so mu and the limb darkening) cannot be known; sunpy would silently assume disk "
      + "centre. Restore the keywords from the original file (JSOC exports have them), or enhance the bare "
      + "array (enhance_array, or sunpy-enhance enhance --raw), which makes no limb-darkening correction.");
  }
}

// -- the WCS (FITS WCS papers I and II; zenithal TAN, the projection of HMI images) ----------------------------
const UNIT_TO_DEG = { deg: 1, arcsec: 1 / 3600, arcmin: 1 / 60, rad: 180 / Math.PI, mas: 1 / 3.6e6 };

function unitToDeg(cunit) {
  const u = String(cunit ?? "deg").trim().toLowerCase();
  if (u === "") return 1;
  if (u in UNIT_TO_DEG) return UNIT_TO_DEG[u];
  return null;
}

/**
 * The linear part of a map's WCS: CRPIX, CDELT, the PC matrix (from PCi_j, CDi_j or CROTA2), units and projection.
 * Follows sunpy's GenericMap (scale, rotation_matrix) and astropy's handling of CROTA2.
 */
export function mapWcs(meta) {
  const ctype1 = String(meta.ctype1 ?? ""), ctype2 = String(meta.ctype2 ?? "");
  const helioprojective = ctype1.startsWith("HPLN") && ctype2.startsWith("HPLT");
  const hasCd = ["cd1_1", "cd1_2", "cd2_1", "cd2_2"].some((k) => k in meta);
  let cdelt1 = meta.cdelt1, cdelt2 = meta.cdelt2;
  let pc;
  if ("pc1_1" in meta || "pc1_2" in meta || "pc2_1" in meta || "pc2_2" in meta) {
    pc = [[meta.pc1_1 ?? 1, meta.pc1_2 ?? 0], [meta.pc2_1 ?? 0, meta.pc2_2 ?? 1]];
  } else if (hasCd) {
    const cd = [[meta.cd1_1 ?? 0, meta.cd1_2 ?? 0], [meta.cd2_1 ?? 0, meta.cd2_2 ?? 0]];
    // sunpy: the scale is the length of each CD column, the rest is the PC matrix
    cdelt1 = Math.hypot(cd[0][0], cd[1][0]);
    cdelt2 = Math.hypot(cd[0][1], cd[1][1]);
    const det = cd[0][0] * cd[1][1] - cd[0][1] * cd[1][0];
    if (det < 0) cdelt2 = -cdelt2;
    pc = [[cd[0][0] / cdelt1, cd[0][1] / cdelt2], [cd[1][0] / cdelt1, cd[1][1] / cdelt2]];
  } else {
    const rho = ((meta.crota2 ?? meta.crota1 ?? 0) * Math.PI) / 180;
    const lam = (cdelt2 ?? 1) / (cdelt1 ?? 1);
    pc = [[Math.cos(rho), -lam * Math.sin(rho)], [Math.sin(rho) / lam, Math.cos(rho)]];
  }
  return {
    helioprojective,
    projection: ctype1.length >= 8 ? ctype1.slice(5, 8) : "",
    crpix: [meta.crpix1 ?? 0, meta.crpix2 ?? 0],
    cdelt: [cdelt1 ?? 1, cdelt2 ?? 1],
    crval: [meta.crval1 ?? 0, meta.crval2 ?? 0],
    cunit: [meta.cunit1 ?? (helioprojective ? "arcsec" : "deg"), meta.cunit2 ?? (helioprojective ? "arcsec" : "deg")],
    pc,
    lonpole: meta.lonpole,
  };
}

/**
 * solar.NorthUpView: the rotation/reflection by multiples of 90° that brings the storage closest to solar north up
 * and west right (the network runs in that view, so that the result does not depend on how the map is stored).
 */
export function northUpView(wcs) {
  const m = [[wcs.pc[0][0] * wcs.cdelt[0], wcs.pc[0][1] * wcs.cdelt[1]],
    [wcs.pc[1][0] * wcs.cdelt[0], wcs.pc[1][1] * wcs.cdelt[1]]];
  let best = null;
  for (const transpose of [false, true]) {
    for (const flipX of [false, true]) {
      for (const flipY of [false, true]) {
        const t = transpose ? [[m[0][1], m[0][0]], [m[1][1], m[1][0]]] : [[m[0][0], m[0][1]], [m[1][0], m[1][1]]];
        const score = (flipX ? -t[0][0] : t[0][0]) + (flipY ? -t[1][1] : t[1][1]);
        if (best === null || score > best.score + 1e-9) best = { score, transpose, flipX, flipY };
      }
    }
  }
  return { transpose: best.transpose, flipX: best.flipX, flipY: best.flipY,
    identity: !(best.transpose || best.flipX || best.flipY) };
}

/** An (h, w) storage-ordered image in the north-up view: { data, height, width } (NorthUpView.forward). */
export function toView(src, h, w, view) {
  const vh = view.transpose ? w : h, vw = view.transpose ? h : w;
  const out = new Float32Array(vh * vw);
  for (let r = 0; r < vh; r++) {
    const r1 = view.flipY ? vh - 1 - r : r;
    for (let c = 0; c < vw; c++) {
      const c1 = view.flipX ? vw - 1 - c : c;
      out[r * vw + c] = view.transpose ? src[c1 * w + r1] : src[r1 * w + c1];
    }
  }
  return { data: out, height: vh, width: vw };
}

/** A (vh, vw) image in the north-up view back in storage order (NorthUpView.inverse). */
export function fromView(src, vh, vw, view) {
  const h = view.transpose ? vw : vh, w = view.transpose ? vh : vw;
  const out = new Float32Array(h * w);
  for (let sr = 0; sr < h; sr++) {
    for (let sc = 0; sc < w; sc++) {
      const r1 = view.transpose ? sc : sr, c1 = view.transpose ? sr : sc;
      const r = view.flipY ? vh - 1 - r1 : r1, c = view.flipX ? vw - 1 - c1 : c1;
      out[sr * w + sc] = src[r * vw + c];
    }
  }
  return out;
}

/** sunpy's smap.scale in arcsec/px per axis, or null when the axes are not angles (validation.map_scale_arcsec). */
export function mapScaleArcsec(wcs) {
  const f = wcs.cunit.map(unitToDeg);
  if (f.some((x) => x === null)) return null;
  return [Math.abs(wcs.cdelt[0] * f[0] * 3600), Math.abs(wcs.cdelt[1] * f[1] * 3600)];
}

function quantityString(value, cunit) {
  return `${pyFloat(value)} ${String(cunit).trim() || "deg"} / pix`;
}

// -- validation.check_hmi_map -----------------------------------------------------------------------------------
const HMI_SCALE = 0.504;
const HMI_SCALE_TOLERANCE = 0.03;
const CONSEQUENCE = "the Enhance networks are trained on HMI's PSF and pixel scale and would give wrong results";

export function checkHmiMap(meta, wcs, { allowNonHmi = false, allowAnyScale = false } = {}) {
  const instrument = ["instrume", "telescop", "detector"].map((k) => String(meta[k] ?? "")).join(" ").toUpperCase();
  if (!instrument.includes("HMI") && !allowNonHmi) {
    throw new EnhanceError(`This map is not from SDO/HMI (INSTRUME=${pyRepr(meta.instrume)}): ${CONSEQUENCE}. `
      + "Pass allow_non_hmi=True if your data are HMI-like (0.504\"/px, ~1.1\" resolution at 6173 Å).");
  }
  const scale = mapScaleArcsec(wcs);
  const native = scale !== null && scale.every((s) => Math.abs(s / HMI_SCALE - 1) < HMI_SCALE_TOLERANCE);
  if (!native && !allowAnyScale) {
    throw new EnhanceError(`The map's pixel scale (${quantityString(wcs.cdelt[0], wcs.cunit[0])}, `
      + `${quantityString(wcs.cdelt[1], wcs.cunit[1])}) is not HMI's native 0.504"/px: `
      + `${CONSEQUENCE}. Use native-resolution helioprojective HMI data (not resampled or remapped, e.g. `
      + "not SHARP CEA), or pass allow_any_scale=True if you know the sampling is equivalent.");
  }
  return scale;
}

// -- normalize.mu_from_map ------------------------------------------------------------------------------------------
const AU = 149597870700;
const RSUN_SUNPY = 695700000; // sunpy.sun.constants.radius (IAU 2015 nominal)
const D2R = Math.PI / 180;

/**
 * μ of every pixel of a helioprojective map as float32 (NaN off the disk): the exact spherical geometry of
 * mu_from_map, with the pixel → (longitude, latitude) of a TAN projection evaluated as wcslib does.
 * Returns {mu, warnings}.
 */
export function muFromMap(meta, wcs, width, height) {
  const warnings = [];
  checkPointing(meta);
  if (wcs.projection !== "TAN") {
    throw new EnhanceError(`The map's projection ${wcs.projection || "(none)"} is not supported here (HMI images use TAN).`);
  }
  let dsun = meta.dsun_obs;
  if (!(dsun > 0)) {
    dsun = AU;
    warnings.push("The header has no DSUN_OBS: the observer is assumed at 1 AU from the Sun for μ.");
  }
  const rsun = meta.rsun_ref > 0 ? meta.rsun_ref : RSUN_SUNPY;
  const f = wcs.cunit.map(unitToDeg);
  const [a0, d0] = [wcs.crval[0] * f[0] * D2R, wcs.crval[1] * f[1] * D2R];
  // zenithal projections: native pole at the reference point; LONPOLE 180° unless δ0 = 90°
  const phip = (wcs.lonpole ?? (wcs.crval[1] * f[1] >= 90 ? 0 : 180)) * D2R;
  const sind0 = Math.sin(d0), cosd0 = Math.cos(d0);
  const [[p11, p12], [p21, p22]] = wcs.pc;
  const [c1, c2] = [wcs.cdelt[0] * f[0], wcs.cdelt[1] * f[1]]; // degrees
  const mu = new Float32Array(width * height);
  const ratio = dsun / rsun;
  for (let j = 0; j < height; j++) {
    const dy = j + 1 - wcs.crpix[1];
    for (let i = 0; i < width; i++) {
      const dx = i + 1 - wcs.crpix[0];
      const x = c1 * (p11 * dx + p12 * dy);
      const y = c2 * (p21 * dx + p22 * dy);
      // TAN: native spherical coordinates
      const r = Math.hypot(x, y);
      const phi = r === 0 ? 0 : Math.atan2(x, -y);
      const theta = Math.atan2(180 / Math.PI, r);
      // native → celestial
      const st = Math.sin(theta), ct = Math.cos(theta);
      const dphi = phi - phip;
      const cdp = Math.cos(dphi);
      const lat = Math.asin(Math.max(-1, Math.min(1, st * sind0 + ct * cosd0 * cdp)));
      const lon = a0 + Math.atan2(-ct * Math.sin(dphi), st * cosd0 - ct * sind0 * cdp);
      const cosRho = Math.cos(lon) * Math.cos(lat);
      const sinRho = Math.sqrt(Math.max(1 - cosRho * cosRho, 0));
      const q = ratio * sinRho;
      mu[j * width + i] = Math.sqrt(1 - q * q); // NaN off the disk
    }
  }
  return { mu, warnings };
}

// -- normalize: limb darkening, quiet-Sun level -----------------------------------------------------------------
export const HMI_LIMB_DARKENING = [0.459224, 0.132395, 0.019601, 0.000802, -4.31934e-5];

/** I(μ)/I(1) = 1 + Σ a_k (ln μ)^k in float64 (normalize.limb_darkening). */
export function limbDarkening(mu) {
  const lnmu = mu > 0 ? Math.log(mu) : NaN;
  let poly = 0;
  for (let k = HMI_LIMB_DARKENING.length - 1; k >= 0; k--) { poly += HMI_LIMB_DARKENING[k]; poly *= lnmu; }
  return 1 + poly;
}

const SAMPLE_LIMIT = 1 << 18;

/** The k-th smallest value of a (reordered in place; Hoare's selection). */
function select(a, k) {
  let lo = 0, hi = a.length - 1;
  while (hi > lo) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) { const t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    if (k <= j) hi = j; else if (k >= i) lo = i; else return a[k];
  }
  return a[k];
}

/** numpy's median of finite values: the middle value, or the mean of the two middle ones (a is reordered). */
function median(a) {
  const n = a.length;
  if (n % 2) return select(a, (n - 1) / 2);
  const upper = select(a, n / 2);
  let lower = -Infinity;
  for (let i = 0; i < n / 2; i++) if (a[i] > lower) lower = a[i]; // after selection a[0 .. n/2) ≤ upper
  return (lower + upper) / 2;
}

/** normalize.quiet_sun_level on an array of finite float64 values (consumed). */
export function quietSunLevel(values, { iterations = 5, clip = 2.5 } = {}) {
  let v = values;
  if (v.length > SAMPLE_LIMIT) {
    const step = Math.ceil(v.length / SAMPLE_LIMIT);
    const sub = new Float64Array(Math.ceil(v.length / step));
    for (let i = 0, k = 0; i < v.length; i += step, k++) sub[k] = v[i];
    v = sub;
  }
  if (v.length === 0) throw new EnhanceError("The image has no finite pixel to measure the quiet-Sun level on.");
  let level = median(Float64Array.from(v));
  const dev = new Float64Array(v.length);
  for (let it = 0; it < iterations; it++) {
    for (let i = 0; i < v.length; i++) dev[i] = Math.abs(v[i] - level);
    const spread = 1.4826 * median(Float64Array.from(dev));
    if (spread === 0) break;
    let n = 0;
    for (let i = 0; i < v.length; i++) if (dev[i] < clip * spread) n++;
    if (n === 0) break;
    level = pairwiseMean(v, (i) => dev[i] < clip * spread, n);
  }
  return level;
}

/** numpy's pairwise summation (blocks of 8 unrolled, 128-element leaves), for means that agree to the last bit. */
function pairwiseSum(a, lo, n) {
  if (n < 8) {
    let s = 0;
    for (let i = 0; i < n; i++) s += a[lo + i];
    return s;
  }
  if (n <= 128) {
    const r = [a[lo], a[lo + 1], a[lo + 2], a[lo + 3], a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]];
    let i;
    for (i = 8; i < n - (n % 8); i += 8) for (let k = 0; k < 8; k++) r[k] += a[lo + i + k];
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[lo + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, lo, n2) + pairwiseSum(a, lo + n2, n - n2);
}

function pairwiseMean(v, keep, n) {
  const kept = new Float64Array(n);
  for (let i = 0, k = 0; i < v.length; i++) if (keep(i)) kept[k++] = v[i];
  return pairwiseSum(kept, 0, n) / n;
}

/** Finite values of a float32 image (optionally divided elementwise), as float64, in C order. */
export function finiteValues(image, where = null) {
  let n = 0;
  for (let i = 0; i < image.length; i++) if (Number.isFinite(image[i]) && (!where || where(i))) n++;
  const out = new Float64Array(n);
  for (let i = 0, k = 0; i < image.length; i++) if (Number.isFinite(image[i]) && (!where || where(i))) out[k++] = image[i];
  return out;
}

/** normalize.limb_darkening_removed: true, false, or null when the field does not reach both rings. */
export function limbDarkeningRemoved(image, mu, { minPixels = 2000 } = {}) {
  const f09 = Math.fround(0.9), f03 = Math.fround(0.3), f06 = Math.fround(0.6);
  const ok = (i) => Number.isFinite(image[i]) && Number.isFinite(mu[i]);
  const select = (test) => {
    let n = 0;
    for (let i = 0; i < image.length; i++) if (ok(i) && test(mu[i])) n++;
    const idx = new Int32Array(n);
    for (let i = 0, k = 0; i < image.length; i++) if (ok(i) && test(mu[i])) idx[k++] = i;
    return idx;
  };
  const centreIdx = select((m) => m >= f09), outerIdx = select((m) => m >= f03 && m <= f06);
  if (centreIdx.length < minPixels || outerIdx.length < minPixels) return null;
  const pick = (idx, divide) => Float64Array.from(idx, (i) => (divide ? image[i] / limbDarkening(mu[i]) : image[i]));
  const unevenness = (c, o) => Math.abs(Math.log(quietSunLevel(o) / quietSunLevel(c)));
  const asIs = unevenness(pick(centreIdx, false), pick(outerIdx, false));
  const divided = unevenness(pick(centreIdx, true), pick(outerIdx, true));
  return asIs < divided;
}

// -- enhance._fill_nan: nearest finite value (exact Euclidean distance transform with indices) --------------------
/**
 * Replace NaN by the value of the nearest finite pixel (Felzenszwalb & Huttenlocher's exact EDT, carrying the
 * index of the nearest pixel). Equidistant ties may resolve differently from scipy's; that changes only which of
 * two equally near limb values an off-disk pixel copies. Returns {filled, bad} (bad: Uint8Array or null).
 */
export function fillNan(image, width, height) {
  const n = width * height;
  let nBad = 0;
  for (let i = 0; i < n; i++) if (!Number.isFinite(image[i])) nBad++;
  if (nBad === 0) return { filled: image, bad: null };
  if (nBad === n) throw new EnhanceError("The image has no finite pixel.");
  const bad = new Uint8Array(n);
  for (let i = 0; i < n; i++) bad[i] = Number.isFinite(image[i]) ? 0 : 1;
  const INF = 1e20;
  // pass 1: along columns, distance to the nearest good pixel in the same column
  const colNear = new Int32Array(n); // row index of nearest good in column, -1 if none
  for (let x = 0; x < width; x++) {
    let last = -1;
    for (let y = 0; y < height; y++) { if (!bad[y * width + x]) last = y; colNear[y * width + x] = last; }
    last = -1;
    for (let y = height - 1; y >= 0; y--) {
      const i = y * width + x;
      if (!bad[i]) last = y;
      if (last >= 0 && (colNear[i] < 0 || last - y < y - colNear[i])) colNear[i] = last;
    }
  }
  // pass 2: along rows, the lower envelope of the parabolas (x - q)² + f(q)
  const filled = new Float32Array(n);
  const f = new Float64Array(width), v = new Int32Array(width), z = new Float64Array(width + 1);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const r = colNear[row + x];
      f[x] = r < 0 ? INF : (r - y) * (r - y);
    }
    let k = -1;
    for (let q = 0; q < width; q++) {
      if (f[q] >= INF) continue;
      let s = 0;
      while (k >= 0) {
        const p = v[k];
        s = ((f[q] + q * q) - (f[p] + p * p)) / (2 * q - 2 * p);
        if (s <= z[k]) k--; else break;
      }
      if (k < 0) { k = 0; v[0] = q; z[0] = -Infinity; z[1] = Infinity; } else { k++; v[k] = q; z[k] = s; z[k + 1] = Infinity; }
    }
    k = 0;
    for (let q = 0; q < width; q++) {
      while (z[k + 1] < q) k++;
      const i = row + q;
      const px = v[k];
      filled[i] = bad[i] ? image[colNear[row + px] * width + px] : image[i];
    }
  }
  return { filled, bad };
}

// -- tiling.tile_slices ----------------------------------------------------------------------------------------
function bounds(n, parts) {
  const out = [];
  for (let i = 0; i < parts; i++) out.push([Math.floor((i * n) / parts), Math.floor(((i + 1) * n) / parts)]);
  return out;
}

function windowLength(n, parts, margin) {
  return parts > 1 ? n + 2 * margin * (parts - 1) : n;
}

function grid([ny, nx], tileSize, margin) {
  const budget = tileSize * tileSize;
  let best = null;
  for (let rows = 1; rows <= ny; rows++) {
    const coreRows = Math.ceil(ny / rows);
    const maxCols = Math.floor(budget / coreRows);
    if (maxCols < 1) continue;
    const cols = Math.ceil(nx / maxCols);
    const cost = [windowLength(ny, rows, margin) * windowLength(nx, cols, margin), rows * cols];
    if (best === null || cost[0] < best[0][0] || (cost[0] === best[0][0] && cost[1] < best[0][1])) best = [cost, [rows, cols]];
    if (cols === 1) break;
  }
  return best[1];
}

/** Tiles [{win: [r0, r1, c0, c1], core: [...], keep: [...]}] of tiling.tile_slices. */
export function tileSlices(shape, tileSize, margin) {
  const [rows, cols] = grid(shape, tileSize, margin);
  const tiles = [];
  for (const [r0, r1] of bounds(shape[0], rows)) {
    const wr0 = Math.max(r0 - margin, 0), wr1 = Math.min(r1 + margin, shape[0]);
    for (const [c0, c1] of bounds(shape[1], cols)) {
      const wc0 = Math.max(c0 - margin, 0), wc1 = Math.min(c1 + margin, shape[1]);
      tiles.push({ win: [wr0, wr1, wc0, wc1], core: [r0, r1, c0, c1], keep: [r0 - wr0, r1 - wr0, c0 - wc0, c1 - wc0] });
    }
  }
  return tiles;
}

// -- header.refined_meta and add_provenance -----------------------------------------------------------------------
export const STALE_KEYWORDS = ["datamin", "datamax", "datamean", "datamedn", "datarms", "dataskew", "datakurt",
  "datavals", "missvals", "totvals", "datap01", "datap10", "datap25", "datap75", "datap90", "datap95", "datap98",
  "datap99", "blank", "bscale", "bzero", "checksum", "datasum", "zblank", "zquantiz", "zdither0"];

/** Apply header.refined_meta to a Header in place (values as Python computes them). */
export function refineHeader(header, factor = 2) {
  for (const i of [1, 2]) {
    if (header.has(`CRPIX${i}`)) header.set(`CRPIX${i}`, new Float(factor * (Number(header.get(`CRPIX${i}`)) - 0.5) + 0.5));
    if (header.has(`CDELT${i}`)) header.set(`CDELT${i}`, new Float(Number(header.get(`CDELT${i}`)) / factor));
    for (const j of [1, 2]) {
      if (header.has(`CD${i}_${j}`)) header.set(`CD${i}_${j}`, new Float(Number(header.get(`CD${i}_${j}`)) / factor));
    }
  }
  if (header.has("R_SUN")) header.set("R_SUN", new Float(Number(header.get("R_SUN")) * factor));
  header.remove(...STALE_KEYWORDS.map((k) => k.toUpperCase()));
  return header;
}

export function addProvenance(header, history, version, keywords) {
  const stamp = new Date().toISOString().slice(0, 19);
  header.addText("HISTORY", `sunpy-enhance ${version} ${stamp}: ${history}`);
  header.set("ENHVER", version);
  for (const [k, v] of Object.entries(keywords)) header.set(k, v);
  return header;
}
