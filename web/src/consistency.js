// The data-consistency step of sunpy_enhance (consistency.back_project): the enhanced image observed again by
// HMI (PSF, then 2×2 binning; degrade.reobserve_hmi) is compared with the input, the difference smoothed by a
// Gaussian of the model card's σ and projected back once through the mirrored PSF. The 145 × 145 PSF is applied
// by FFT, block by block (overlap-save), two blocks at a time in one complex transform, so that a full disk
// needs no transform of the whole image.

// -- psf.hmi_psf at 0.252″/px with Enhance's parameters ---------------------------------------------------------
export const PSF_PARAMETERS = { epsilon: 0.1, omega: 2.0, k: 3.0, width: 3.4, diameterM: 0.14, wavelengthM: 6173e-10, radiusArcsec: 18 };

/** The HMI PSF (Wachter et al. 2012, Enhance modification) integrated over pixels of `pixelScale` arcsec, sum 1. */
export function hmiPsf(pixelScale = 0.252, p = PSF_PARAMETERS) {
  const half = Math.max(1, Math.ceil(p.radiusArcsec / pixelScale));
  const n = 2 * half + 1;
  const over = 5;
  const m = n * over;
  const radiusPerArcsec = Math.PI * (p.diameterM / p.wavelengthM) * (Math.PI / 180 / 3600);
  const kernel = new Float64Array(n * n);
  for (let a = 0; a < m; a++) {
    const yy = (a - (m - 1) / 2) / over;
    for (let b = 0; b < m; b++) {
      const xx = (b - (m - 1) / 2) / over;
      const r = Math.hypot(xx, yy) * pixelScale * radiusPerArcsec;
      const v = (1 - p.epsilon) * Math.exp(-((r / p.omega) ** 2)) + p.epsilon / (1 + (r / p.width) ** p.k);
      kernel[Math.floor(a / over) * n + Math.floor(b / over)] += v;
    }
  }
  let sum = 0;
  for (let i = 0; i < kernel.length; i++) sum += kernel[i];
  for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  return { kernel, size: n, half };
}

// -- FFT ----------------------------------------------------------------------------------------------------------
class FFT {
  constructor(n) {
    this.n = n;
    this.bits = Math.log2(n);
    this.rev = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let b = 0, x = i; b < this.bits; b++, x >>= 1) r = (r << 1) | (x & 1);
      this.rev[i] = r;
    }
    this.cos = new Float64Array(n / 2);
    this.sin = new Float64Array(n / 2);
    for (let i = 0; i < n / 2; i++) { this.cos[i] = Math.cos((2 * Math.PI * i) / n); this.sin[i] = Math.sin((2 * Math.PI * i) / n); }
  }

  /** In-place complex FFT of re/im[off .. off+n); sign -1 forward, +1 inverse (unnormalised). */
  transform(re, im, off, sign) {
    const n = this.n, rev = this.rev, cos = this.cos, sin = this.sin;
    for (let i = 0; i < n; i++) {
      const j = rev[i];
      if (j > i) {
        let t = re[off + i]; re[off + i] = re[off + j]; re[off + j] = t;
        t = im[off + i]; im[off + i] = im[off + j]; im[off + j] = t;
      }
    }
    for (let size = 2; size <= n; size <<= 1) {
      const halfSize = size >> 1, step = n / size;
      for (let start = 0; start < n; start += size) {
        for (let k = 0, t = 0; k < halfSize; k++, t += step) {
          const wr = cos[t], wi = sign * sin[t];
          const a = off + start + k, b = a + halfSize;
          const xr = re[b] * wr - im[b] * wi, xi = re[b] * wi + im[b] * wr;
          re[b] = re[a] - xr; im[b] = im[a] - xi;
          re[a] += xr; im[a] += xi;
        }
      }
    }
  }
}

function transposeSquare(a, n) {
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) { const t = a[i * n + j]; a[i * n + j] = a[j * n + i]; a[j * n + i] = t; }
  }
}

function fft2(fft, re, im, sign) {
  const n = fft.n;
  for (let r = 0; r < n; r++) fft.transform(re, im, r * n, sign);
  transposeSquare(re, n); transposeSquare(im, n);
  for (let r = 0; r < n; r++) fft.transform(re, im, r * n, sign);
  transposeSquare(re, n); transposeSquare(im, n);
}

/** numpy's 'symmetric' padding (scipy.ndimage's 'reflect'): index → index in [0, len). */
function symmetricIndex(i, len) {
  const period = 2 * len;
  i = ((i % period) + period) % period;
  return i < len ? i : period - 1 - i;
}

function blockSize(h, w, pad) {
  let best = null;
  for (const n of [128, 256, 512, 1024, 2048]) {
    const valid = n - 2 * pad;
    if (valid < 16) continue;
    const blocks = Math.ceil(h / valid) * Math.ceil(w / valid);
    const cost = Math.ceil(blocks / 2) * n * n * Math.log2(n) + n * n * Math.log2(n); // + the kernel's transform
    if (!best || cost < best.cost) best = { n, cost };
  }
  return best.n;
}

/**
 * Convolve two real H × W frames (given row by row) with a real odd-sized kernel, frames continued
 * symmetrically beyond their edges (degrade._convolve with boundary "reflect"): the output of frame A goes to
 * putA(y, x0, values, offset, count), of frame B (if any) to putB. With only A, pairs of blocks share a transform.
 * getA(y, buffer) fills buffer (length W) with row y. `check()` is called between blocks (cancellation).
 */
export function convolveFrames({ h, w, kernel, ksize, getA, putA, getB = null, putB = null, check = () => {} }) {
  const pad = ksize >> 1;
  const n = blockSize(h, w, pad);
  const L = n - 2 * pad;
  const fft = new FFT(n);
  // the kernel's spectrum (the kernel flipped is not needed: a convolution, as fftconvolve computes)
  const kre = new Float64Array(n * n), kim = new Float64Array(n * n);
  for (let a = 0; a < ksize; a++) for (let b = 0; b < ksize; b++) kre[a * n + b] = Math.fround(kernel[a * ksize + b]);
  fft2(fft, kre, kim, -1);
  const scale = 1 / (n * n);
  const colIdx = new Int32Array(n);
  const rowBuf = new Float32Array(w), rowBufB = new Float32Array(w);
  const re = new Float64Array(n * n), im = new Float64Array(n * n);
  const blocks = [];
  for (let y0 = 0; y0 < h; y0 += L) for (let x0 = 0; x0 < w; x0 += L) blocks.push([y0, x0]);
  const jobs = [];
  if (getB) for (const b of blocks) jobs.push([b, b]);
  else for (let i = 0; i < blocks.length; i += 2) jobs.push([blocks[i], blocks[i + 1] ?? null]);

  const fill = (target, [y0, x0], get, buf) => {
    // padded-frame rows y0 .. y0+n (padded coordinate = frame coordinate + pad)
    for (let c = 0; c < n; c++) {
      const xp = x0 + c; // padded column
      colIdx[c] = xp < w + 2 * pad ? symmetricIndex(xp - pad, w) : -1;
    }
    for (let r = 0; r < n; r++) {
      const yp = y0 + r;
      const o = r * n;
      if (yp >= h + 2 * pad) { target.fill(0, o, o + n); continue; }
      get(symmetricIndex(yp - pad, h), buf);
      for (let c = 0; c < n; c++) target[o + c] = colIdx[c] >= 0 ? buf[colIdx[c]] : 0;
    }
  };
  const out = new Float64Array(n);
  const emit = (src, [y0, x0], put) => {
    const rows = Math.min(L, h - y0), cols = Math.min(L, w - x0);
    for (let r = 0; r < rows; r++) {
      const o = (r + 2 * pad) * n + 2 * pad;
      for (let c = 0; c < cols; c++) out[c] = src[o + c] * scale;
      put(y0 + r, x0, out, 0, cols);
    }
  };
  for (const [blockA, blockB] of jobs) {
    check();
    fill(re, blockA, getA, rowBuf);
    if (getB) fill(im, blockB, getB, rowBufB);
    else if (blockB) fill(im, blockB, getA, rowBufB);
    else im.fill(0);
    fft2(fft, re, im, -1);
    for (let i = 0; i < n * n; i++) {
      const a = re[i], b = im[i];
      re[i] = a * kre[i] - b * kim[i];
      im[i] = a * kim[i] + b * kre[i];
    }
    fft2(fft, re, im, 1);
    emit(re, blockA, putA);
    if (getB) emit(im, blockB, putB);
    else if (blockB) emit(im, blockB, putA);
  }
}

// -- degrade.reobserve_hmi ---------------------------------------------------------------------------------------------
/** HMI observing an enhanced image (2H × 2W float32, NaN allowed) again: float32 H × W. */
export function reobserveHmi(enhanced, H, W, psf, check) {
  const h = 2 * H, w = 2 * W;
  let hasNan = false;
  for (let i = 0; i < enhanced.length; i++) if (enhanced[i] !== enhanced[i]) { hasNan = true; break; }
  const num = new Float64Array(H * W);
  const binInto = (target) => (y, x0, values, off, count) => {
    const row = (y >> 1) * W;
    for (let c = 0; c < count; c++) target[row + ((x0 + c) >> 1)] += Math.fround(values[off + c]);
  };
  const result = new Float32Array(H * W);
  if (!hasNan) {
    convolveFrames({ h, w, kernel: psf.kernel, ksize: psf.size, check,
      getA: (y, buf) => buf.set(enhanced.subarray(y * w, (y + 1) * w)), putA: binInto(num) });
    for (let i = 0; i < H * W; i++) result[i] = num[i] / 4;
    return result;
  }
  const den = new Float64Array(H * W);
  convolveFrames({ h, w, kernel: psf.kernel, ksize: psf.size, check,
    getA: (y, buf) => { for (let x = 0; x < w; x++) { const v = enhanced[y * w + x]; buf[x] = v === v ? v : 0; } },
    putA: binInto(num),
    getB: (y, buf) => { for (let x = 0; x < w; x++) { const v = enhanced[y * w + x]; buf[x] = v === v ? 1 : 0; } },
    putB: binInto(den) });
  for (let j = 0; j < H; j++) {
    for (let i = 0; i < W; i++) {
      const a = 2 * j * w + 2 * i;
      const children = enhanced[a] === enhanced[a] && enhanced[a + 1] === enhanced[a + 1]
        && enhanced[a + w] === enhanced[a + w] && enhanced[a + w + 1] === enhanced[a + w + 1];
      const d = Math.fround(den[j * W + i] / 4);
      result[j * W + i] = children && d > 1e-6 ? Math.fround(num[j * W + i] / 4) / d : NaN;
    }
  }
  return result;
}

// -- consistency._smooth: Gaussian (scipy.ndimage.gaussian_filter, truncate 4, mode reflect), NaN-aware ----------
function gaussianWeights(sigma) {
  const r = Math.trunc(4 * sigma + 0.5);
  const w = new Float64Array(2 * r + 1);
  let s = 0;
  for (let i = -r; i <= r; i++) { w[i + r] = Math.exp((-0.5 / (sigma * sigma)) * i * i); s += w[i + r]; }
  for (let i = 0; i < w.length; i++) w[i] /= s;
  return { w, r };
}

function gaussianFilter(image, H, W, sigma) {
  const { w, r } = gaussianWeights(sigma);
  const tmp = new Float32Array(H * W), out = new Float32Array(H * W);
  const line = new Float64Array(Math.max(H, W) + 2 * r);
  const pass = (src, dst, len, count, stride, step) => {
    for (let k = 0; k < count; k++) {
      const base = k * step;
      for (let i = -r; i < len + r; i++) line[i + r] = src[base + symmetricIndex(i, len) * stride];
      for (let i = 0; i < len; i++) {
        let s = 0;
        for (let t = 0; t <= 2 * r; t++) s += w[t] * line[i + t];
        dst[base + i * stride] = s;
      }
    }
  };
  pass(image, tmp, H, W, W, 1); // axis 0 first, as scipy
  pass(tmp, out, W, H, 1, W);
  return out;
}

export function smoothNan(image, H, W, sigma) {
  if (!sigma) return image;
  let valid = true;
  for (let i = 0; i < image.length; i++) if (image[i] !== image[i]) { valid = false; break; }
  if (valid) return gaussianFilter(image, H, W, sigma);
  const num = gaussianFilter(image.map((v) => (v === v ? v : 0)), H, W, sigma);
  const den = gaussianFilter(image.map((v) => (v === v ? 1 : 0)), H, W, sigma);
  const out = new Float32Array(H * W);
  for (let i = 0; i < out.length; i++) out[i] = image[i] === image[i] ? num[i] / den[i] : NaN;
  return out;
}

// -- consistency.back_project ---------------------------------------------------------------------------------------------
/** One back-projection step, in place on `enhanced` (2H × 2W float32); `observed` H × W float32. */
export function backProject(enhanced, observed, H, W, { smoothing, psf = hmiPsf(), check = () => {}, onStage = () => {} }) {
  onStage("re-observing the enhanced image with HMI's PSF");
  const reobs = reobserveHmi(enhanced, H, W, psf, check);
  const diff = new Float32Array(H * W);
  for (let i = 0; i < diff.length; i++) diff[i] = observed[i] - reobs[i];
  let residual = smoothNan(diff, H, W, smoothing);
  for (let i = 0; i < residual.length; i++) if (residual[i] !== residual[i]) residual[i] = 0;
  onStage("projecting the smoothed residual back");
  const w = 2 * W;
  // the mirrored PSF (psf[::-1, ::-1]); the kernel is symmetric, but mirrored all the same, as in Python
  const n = psf.size;
  const flipped = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) flipped[i] = psf.kernel[n * n - 1 - i];
  convolveFrames({ h: 2 * H, w, kernel: flipped, ksize: n, check,
    getA: (y, buf) => { const row = (y >> 1) * W; for (let x = 0; x < w; x++) buf[x] = residual[row + (x >> 1)]; },
    putA: (y, x0, values, off, count) => {
      const o = y * w + x0;
      for (let c = 0; c < count; c++) enhanced[o + c] = Math.fround(values[off + c]) + enhanced[o + c];
    } });
  return enhanced;
}

// -- enhance.flux_gain --------------------------------------------------------------------------------------------------------
export function nanMean(a) {
  let s = 0, n = 0;
  for (let i = 0; i < a.length; i++) { const v = a[i]; if (v === v) { s += v; n++; } }
  return s / n;
}

export function fluxGain(enhanced, original) {
  return Math.fround(nanMean(original) / nanMean(enhanced));
}
