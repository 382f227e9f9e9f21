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
    // radix-2 stages fused in pairs (radix-2²): half the passes over the data
    let half = 1;
    while (half * 4 <= n) {
      const step1 = n / (2 * half), step2 = n / (4 * half);
      for (let start = 0; start < n; start += 4 * half) {
        for (let k = 0; k < half; k++) {
          const w1r = cos[k * step1], w1i = sign * sin[k * step1];
          const w2r = cos[k * step2], w2i = sign * sin[k * step2];
          // w3 = w2 · e^{sign iπ/2} = w2 · (sign i)
          const w3r = -sign * w2i, w3i = sign * w2r;
          const i0 = off + start + k, i1 = i0 + half, i2 = i1 + half, i3 = i2 + half;
          let tr = re[i1] * w1r - im[i1] * w1i, ti = re[i1] * w1i + im[i1] * w1r;
          const a0r = re[i0] + tr, a0i = im[i0] + ti, a1r = re[i0] - tr, a1i = im[i0] - ti;
          tr = re[i3] * w1r - im[i3] * w1i; ti = re[i3] * w1i + im[i3] * w1r;
          const a2r = re[i2] + tr, a2i = im[i2] + ti, a3r = re[i2] - tr, a3i = im[i2] - ti;
          tr = a2r * w2r - a2i * w2i; ti = a2r * w2i + a2i * w2r;
          re[i0] = a0r + tr; im[i0] = a0i + ti; re[i2] = a0r - tr; im[i2] = a0i - ti;
          tr = a3r * w3r - a3i * w3i; ti = a3r * w3i + a3i * w3r;
          re[i1] = a1r + tr; im[i1] = a1i + ti; re[i3] = a1r - tr; im[i3] = a1i - ti;
        }
      }
      half *= 4;
    }
    if (half < n) { // one radix-2 stage left (odd log2 n)
      const step = n / (2 * half);
      for (let start = 0; start < n; start += 2 * half) {
        for (let k = 0; k < half; k++) {
          const wr = cos[k * step], wi = sign * sin[k * step];
          const a = off + start + k, b = a + half;
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

// -- the two convolutions of the step, with the ×2 grid change done in Fourier space ---------------------------------
// Re-observing bins the PSF-convolved image 2 × 2: the binning is a 2-tap box and a decimation, and decimating a
// block's spectrum is folding it, so each block needs an N-point forward and an N/2-point inverse transform.
// Projecting back convolves the 2 × 2-repeated residual: repeating is zero-stuffing and a 2-tap box, and
// zero-stuffing is repeating the spectrum, so each block needs an N/2-point forward and an N-point inverse
// transform. The results equal the plain convolutions (checked in the tests against the Python step).

function kernelSpectrum(fft, kernel, ksize, shiftSign) {
  const n = fft.n;
  const re = new Float64Array(n * n), im = new Float64Array(n * n);
  for (let a = 0; a < ksize; a++) for (let b = 0; b < ksize; b++) re[a * n + b] = Math.fround(kernel[a * ksize + b]);
  fft2(fft, re, im, -1);
  // times the box 1 + e^{shiftSign 2πik/N} along both axes
  const hr = new Float64Array(n), hi = new Float64Array(n);
  for (let k = 0; k < n; k++) { hr[k] = 1 + Math.cos((2 * Math.PI * k) / n); hi[k] = shiftSign * Math.sin((2 * Math.PI * k) / n); }
  for (let k1 = 0; k1 < n; k1++) {
    for (let k2 = 0; k2 < n; k2++) {
      const br = hr[k1] * hr[k2] - hi[k1] * hi[k2], bi = hr[k1] * hi[k2] + hi[k1] * hr[k2];
      const i = k1 * n + k2, a = re[i], b = im[i];
      re[i] = a * br - b * bi; im[i] = a * bi + b * br;
    }
  }
  return { re, im };
}

function blocksOf(h, w, L) {
  const blocks = [];
  for (let y0 = 0; y0 < h; y0 += L) for (let x0 = 0; x0 < w; x0 += L) blocks.push([y0, x0]);
  return blocks;
}

/**
 * bin2x2(PSF * frame) of two real 2H × 2W frames given row by row (frame continued symmetrically), accumulated
 * into Float64Arrays sumA (and sumB) of H × W: the sum of the four convolved children (divide by 4 for the mean).
 */
function convolveAndBin({ H, W, kernel, ksize, getA, getB = null, sumA, sumB = null, check = () => {}, part = [0, 1] }) {
  const h = 2 * H, w = 2 * W, pad = ksize >> 1;
  if (pad % 2) throw new Error("the PSF's half-size must be even");
  const n = blockSize(h, w, pad), m = n / 2, L = n - 2 * pad;
  const fft = new FFT(n), half = new FFT(m);
  const K = kernelSpectrum(fft, kernel, ksize, +1);
  const re = new Float64Array(n * n), im = new Float64Array(n * n);
  const fre = new Float64Array(m * m), fim = new Float64Array(m * m);
  const rowBuf = new Float32Array(w), colIdx = new Int32Array(n);
  const fill = (target, [y0, x0], get) => {
    for (let c = 0; c < n; c++) colIdx[c] = x0 + c < w + 2 * pad ? symmetricIndex(x0 + c - pad, w) : -1;
    for (let r = 0; r < n; r++) {
      const o = r * n;
      if (y0 + r >= h + 2 * pad) { target.fill(0, o, o + n); continue; }
      get(symmetricIndex(y0 + r - pad, h), rowBuf);
      for (let c = 0; c < n; c++) target[o + c] = colIdx[c] >= 0 ? rowBuf[colIdx[c]] : 0;
    }
  };
  const emit = (src, [y0, x0], sum) => {
    const rows = Math.min(L / 2, H - y0 / 2), cols = Math.min(L / 2, W - x0 / 2);
    for (let r = 0; r < rows; r++) {
      const o = (r + pad) * m + pad, t = (y0 / 2 + r) * W + x0 / 2;
      for (let c = 0; c < cols; c++) sum[t + c] += Math.fround(src[o + c] * (1 / (n * n)));
    }
  };
  const blocks = blocksOf(h, w, L);
  const jobs = getB ? blocks.map((b) => [b, b]) : [];
  if (!getB) for (let i = 0; i < blocks.length; i += 2) jobs.push([blocks[i], blocks[i + 1] ?? null]);
  for (const [a, b] of jobs.filter((_, k) => k % part[1] === part[0])) {
    check();
    fill(re, a, getA);
    if (getB) fill(im, b, getB); else if (b) fill(im, b, getA); else im.fill(0);
    fft2(fft, re, im, -1);
    fre.fill(0); fim.fill(0);
    for (let k1 = 0; k1 < n; k1++) {
      const f1 = (k1 % m) * m;
      for (let k2 = 0; k2 < n; k2++) {
        const i = k1 * n + k2, x = re[i], y = im[i], kr = K.re[i], ki = K.im[i];
        const j = f1 + (k2 % m);
        fre[j] += x * kr - y * ki; fim[j] += x * ki + y * kr;
      }
    }
    fft2(half, fre, fim, 1);
    emit(fre, a, sumA);
    if (getB) emit(fim, b, sumB); else if (b) emit(fim, b, sumA);
  }
}

/**
 * PSF * (residual repeated 2 × 2) for an H × W residual (symmetric continuation), added in place to the 2H × 2W
 * float32 image `target` (the correction += enhanced of back_project).
 */
function upsampleConvolveAdd({ H, W, kernel, ksize, residual, target, check = () => {}, part = [0, 1] }) {
  const h = 2 * H, w = 2 * W, pad = ksize >> 1;
  if (pad % 2) throw new Error("the PSF's half-size must be even");
  const n = blockSize(h, w, pad), m = n / 2, L = n - 2 * pad, lowPad = pad / 2;
  const fft = new FFT(n), half = new FFT(m);
  const K = kernelSpectrum(fft, kernel, ksize, -1);
  const re = new Float64Array(n * n), im = new Float64Array(n * n);
  const lre = new Float64Array(m * m), lim = new Float64Array(m * m);
  const colIdx = new Int32Array(m);
  const fill = (dst, [y0, x0]) => {
    const u0 = y0 / 2, v0 = x0 / 2;
    for (let c = 0; c < m; c++) colIdx[c] = v0 + c < W + 2 * lowPad ? symmetricIndex(v0 + c - lowPad, W) : -1;
    for (let r = 0; r < m; r++) {
      const o = r * m;
      if (u0 + r >= H + 2 * lowPad) { dst.fill(0, o, o + m); continue; }
      const src = symmetricIndex(u0 + r - lowPad, H) * W;
      for (let c = 0; c < m; c++) dst[o + c] = colIdx[c] >= 0 ? residual[src + colIdx[c]] : 0;
    }
  };
  const emit = (src, [y0, x0]) => {
    const rows = Math.min(L, h - y0), cols = Math.min(L, w - x0);
    for (let r = 0; r < rows; r++) {
      const o = (r + 2 * pad) * n + 2 * pad, t = (y0 + r) * w + x0;
      for (let c = 0; c < cols; c++) target[t + c] = Math.fround(src[o + c] * (1 / (n * n))) + target[t + c];
    }
  };
  const blocks = blocksOf(h, w, L);
  for (let i = 0; i < blocks.length; i += 2) {
    if ((i / 2) % part[1] !== part[0]) continue;
    check();
    const a = blocks[i], b = blocks[i + 1] ?? null;
    fill(lre, a);
    if (b) fill(lim, b); else lim.fill(0);
    fft2(half, lre, lim, -1);
    for (let k1 = 0; k1 < n; k1++) {
      const f1 = (k1 % m) * m;
      for (let k2 = 0; k2 < n; k2++) {
        const i2 = k1 * n + k2, j = f1 + (k2 % m), x = lre[j], y = lim[j], kr = K.re[i2], ki = K.im[i2];
        re[i2] = x * kr - y * ki; im[i2] = x * ki + y * kr;
      }
    }
    fft2(fft, re, im, 1);
    emit(re, a);
    if (b) emit(im, b);
  }
}

// -- the jobs, run here or, split by block, in helper workers sharing the arrays (SharedArrayBuffer) ---------------
/** Run one share of a convolution; `spec` holds only arrays and numbers, so a helper worker can run it too. */
export function runConvolutionPart(spec) {
  const { op, H, W, kernel, ksize, part } = spec;
  if (op === "bin") {
    const { enhanced, withNan, num, den } = spec;
    const w = 2 * W;
    if (!withNan) {
      convolveAndBin({ H, W, kernel, ksize, part, sumA: num,
        getA: (y, buf) => buf.set(enhanced.subarray(y * w, (y + 1) * w)) });
    } else {
      convolveAndBin({ H, W, kernel, ksize, part, sumA: num, sumB: den,
        getA: (y, buf) => { for (let x = 0; x < w; x++) { const v = enhanced[y * w + x]; buf[x] = v === v ? v : 0; } },
        getB: (y, buf) => { for (let x = 0; x < w; x++) { const v = enhanced[y * w + x]; buf[x] = v === v ? 1 : 0; } } });
    }
  } else {
    upsampleConvolveAdd({ H, W, kernel, ksize, part, residual: spec.residual, target: spec.target });
  }
}

const shared = (typeof SharedArrayBuffer !== "undefined");
function isShared(a) { return shared && a.buffer instanceof SharedArrayBuffer; }
function sharedArray(Type, n, useShared) {
  return useShared ? new Type(new SharedArrayBuffer(n * Type.BYTES_PER_ELEMENT)) : new Type(n);
}

/** Run a convolution in shares: pool.size helper workers and this thread (pool null: here alone). */
async function runConvolution(spec, pool) {
  if (!pool || pool.size === 0) { runConvolutionPart({ ...spec, part: [0, 1] }); return; }
  const count = pool.size + 1;
  const helpers = pool.run(spec, count); // shares 0 .. size-1
  runConvolutionPart({ ...spec, part: [count - 1, count] });
  await helpers;
}

// -- degrade.reobserve_hmi ---------------------------------------------------------------------------------------------
/** HMI observing an enhanced image (2H × 2W float32, NaN allowed) again: float32 H × W. */
export async function reobserveHmi(enhanced, H, W, psf, pool = null) {
  const w = 2 * W;
  const par = pool && pool.size > 0 && isShared(enhanced);
  let withNan = false;
  for (let i = 0; i < enhanced.length; i++) if (enhanced[i] !== enhanced[i]) { withNan = true; break; }
  const num = sharedArray(Float64Array, H * W, par), den = withNan ? sharedArray(Float64Array, H * W, par) : null;
  await runConvolution({ op: "bin", H, W, kernel: psf.kernel, ksize: psf.size, enhanced, withNan, num, den }, par ? pool : null);
  const result = new Float32Array(H * W);
  if (!withNan) {
    for (let i = 0; i < H * W; i++) result[i] = num[i] / 4;
    return result;
  }
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
export async function backProject(enhanced, observed, H, W, { smoothing, psf = hmiPsf(), pool = null, onStage = () => {} }) {
  onStage("re-observing the enhanced image with HMI's PSF");
  const par = pool && pool.size > 0 && isShared(enhanced);
  const reobs = await reobserveHmi(enhanced, H, W, psf, par ? pool : null);
  const diff = new Float32Array(H * W);
  for (let i = 0; i < diff.length; i++) diff[i] = observed[i] - reobs[i];
  const smoothed = smoothNan(diff, H, W, smoothing);
  const residual = sharedArray(Float32Array, H * W, par);
  for (let i = 0; i < residual.length; i++) residual[i] = smoothed[i] === smoothed[i] ? smoothed[i] : 0;
  onStage("projecting the smoothed residual back");
  // the mirrored PSF (psf[::-1, ::-1]); the kernel is symmetric, but mirrored all the same, as in Python
  const n = psf.size;
  const flipped = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) flipped[i] = psf.kernel[n * n - 1 - i];
  await runConvolution({ op: "add", H, W, kernel: flipped, ksize: n, residual, target: enhanced }, par ? pool : null);
  return enhanced;
}

/** A float32 array the helper workers can share (SharedArrayBuffer) when the page is cross-origin isolated. */
export function sharedFloat32(n) {
  return sharedArray(Float32Array, n, shared && (typeof crossOriginIsolated === "undefined" || crossOriginIsolated));
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
