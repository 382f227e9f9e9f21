// FITS reading and writing for the page: 2-D images, plain (BITPIX 8/16/32/64/-32/-64 with BSCALE, BZERO,
// BLANK) or tile-compressed (RICE_1, GZIP_1, GZIP_2, NOCOMPRESS; quantised floats with or without
// subtractive dithering), as JSOC delivers HMI data. Plain JavaScript, no dependencies; runs in the
// browser and in Node (the tests and the benchmark use it to write inputs).

const BLOCK = 2880;

export class FitsError extends Error {}

/** A number to be written as a FITS float (with a decimal point) even when it is integral. */
export class Float {
  constructor(value) { this.value = value; }
}

// ---------------------------------------------------------------------------------------------------------
// Header

function parseValue(text) {
  const t = text.trim();
  if (t.startsWith("'")) {
    // string: '' is a quote; trailing blanks are not significant
    let out = "";
    for (let i = 1; i < t.length; i++) {
      if (t[i] === "'") {
        if (t[i + 1] === "'") { out += "'"; i++; continue; }
        return { value: out.replace(/\s+$/, ""), rest: t.slice(i + 1) };
      }
      out += t[i];
    }
    return { value: out.replace(/\s+$/, ""), rest: "" };
  }
  const slash = t.indexOf("/");
  const v = (slash >= 0 ? t.slice(0, slash) : t).trim();
  if (v === "T") return { value: true };
  if (v === "F") return { value: false };
  if (v === "") return { value: null };
  const n = Number(v.replace(/[dD]/, "E"));
  return { value: Number.isNaN(n) ? v : n };
}

/** A FITS header: ordered 80-character cards and a keyword index (first occurrence wins, as in astropy). */
export class Header {
  constructor(cards = []) {
    this.cards = cards; // raw card strings (80 chars)
  }

  static parse(text) {
    const cards = [];
    for (let i = 0; i + 80 <= text.length; i += 80) {
      const card = text.slice(i, i + 80);
      if (card.startsWith("END") && card.slice(3).trim() === "") return { header: new Header(cards), end: i + 80 };
      cards.push(card);
    }
    return { header: new Header(cards), end: -1 };
  }

  keyOf(card) {
    return card.slice(0, 8).trim().toUpperCase();
  }

  has(key) {
    return this.find(key) >= 0;
  }

  find(key) {
    key = key.toUpperCase();
    return this.cards.findIndex((c) => this.keyOf(c) === key && c.slice(8, 10) === "= ");
  }

  get(key, fallback = undefined) {
    const i = this.find(key);
    if (i < 0) return fallback;
    let { value } = parseValue(this.cards[i].slice(10));
    // long strings (OGIP CONTINUE convention)
    let j = i + 1;
    while (typeof value === "string" && value.endsWith("&") && j < this.cards.length && this.keyOf(this.cards[j]) === "CONTINUE") {
      value = value.slice(0, -1) + parseValue(this.cards[j].slice(8)).value;
      j++;
    }
    return value;
  }

  /** All COMMENT/HISTORY texts of a kind. */
  texts(key) {
    return this.cards.filter((c) => this.keyOf(c) === key).map((c) => c.slice(8).replace(/\s+$/, ""));
  }

  /** Remove every card of these keywords (with their CONTINUE cards). */
  remove(...keys) {
    const drop = new Set(keys.map((k) => k.toUpperCase()));
    const out = [];
    let dropping = false;
    for (const c of this.cards) {
      const k = this.keyOf(c);
      if (k === "CONTINUE" && dropping) continue;
      dropping = drop.has(k);
      if (!dropping) out.push(c);
    }
    this.cards = out;
  }

  /** Set a keyword (replacing the first card of that name, else appending before any HISTORY). */
  set(key, value, comment = "") {
    const cards = formatCards(key, value, comment);
    const i = this.find(key);
    if (i >= 0) {
      let j = i + 1;
      while (j < this.cards.length && this.keyOf(this.cards[j]) === "CONTINUE") j++;
      this.cards.splice(i, j - i, ...cards);
    } else {
      this.cards.push(...cards);
    }
  }

  addText(key, text) {
    for (let i = 0; i < Math.max(1, text.length); i += 72) this.cards.push(pad80(key.padEnd(8) + text.slice(i, i + 72)));
  }

  /** Plain object of keyword → value (lower-case keys, first occurrence), like sunpy's meta. */
  toMeta() {
    const meta = {};
    for (const c of this.cards) {
      const k = this.keyOf(c);
      if (!k || c.slice(8, 10) !== "= " || k.toLowerCase() in meta) continue;
      meta[k.toLowerCase()] = this.get(k);
    }
    return meta;
  }

  toBytes() {
    const text = [...this.cards, pad80("END")].join("");
    const n = Math.ceil(text.length / BLOCK) * BLOCK;
    const bytes = new Uint8Array(n).fill(32);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0x7f;
    return bytes;
  }
}

function pad80(s) {
  return s.length >= 80 ? s.slice(0, 80) : s.padEnd(80);
}

/** FITS representation of a number, as astropy writes it (a float keeps its decimal point). */
export function formatNumber(x) {
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return String(x);
  let s = String(x);
  if (s.includes("e")) {
    const [m, e] = s.split("e");
    const exp = Number(e);
    s = `${m.includes(".") ? m : m + ".0"}E${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  return s;
}

function formatCards(key, value, comment) {
  key = key.toUpperCase().padEnd(8);
  let v;
  if (value instanceof Float) {
    v = formatNumber(value.value);
    if (!/[.E]/.test(v)) v += ".0";
    v = v.padStart(20);
  } else if (typeof value === "boolean") v = (value ? "T" : "F").padStart(20);
  else if (typeof value === "number") {
    v = Number.isInteger(value) ? String(value) : formatNumber(value);
    if (Number.isInteger(value) && Math.abs(value) >= 1e16) v = formatNumber(value);
    v = v.padStart(20);
  } else {
    const s = String(value).replace(/'/g, "''");
    if (s.length <= 68) {
      v = `'${s.padEnd(8)}'`;
    } else {
      // OGIP long string: pieces ending in &, continued
      const out = [];
      let rest = s;
      let first = true;
      while (rest.length) {
        const take = rest.length > 67 ? 67 : rest.length;
        let piece = rest.slice(0, take);
        if (piece.endsWith("'") && !piece.endsWith("''")) piece = piece.slice(0, -1);
        rest = rest.slice(piece.length);
        const amp = rest.length ? "&" : "";
        out.push(pad80((first ? key + "= " : "CONTINUE  ") + `'${piece}${amp}'`));
        first = false;
      }
      return out;
    }
  }
  const card = `${key}= ${v}` + (comment ? ` / ${comment}` : "");
  return [pad80(card)];
}

// ---------------------------------------------------------------------------------------------------------
// Reading: a source is anything with size and async read(offset, length) -> Uint8Array

export function bytesSource(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return { size: u8.length, read: async (o, n) => u8.subarray(o, Math.min(o + n, u8.length)) };
}

export function blobSource(blob) {
  return {
    size: blob.size,
    read: async (o, n) => new Uint8Array(await blob.slice(o, Math.min(o + n, blob.size)).arrayBuffer()),
  };
}

async function readHeader(source, offset) {
  let text = "";
  for (let pos = offset; ; pos += BLOCK) {
    if (pos + BLOCK > source.size) {
      throw new FitsError(pos === 0 || text.length === 0 && pos === offset && offset === 0
        ? "This is not a FITS file: it is shorter than one 2880-byte FITS block."
        : "The FITS file ends inside a header (truncated or corrupt file).");
    }
    const block = await source.read(pos, BLOCK);
    let chunk = "";
    for (let i = 0; i < block.length; i++) chunk += String.fromCharCode(block[i]);
    if (offset === 0 && pos === 0 && !chunk.startsWith("SIMPLE  =")) {
      throw new FitsError("This is not a FITS file: it does not begin with the SIMPLE keyword.");
    }
    text += chunk;
    const { header, end } = Header.parse(text);
    if (end >= 0) return { header, dataStart: pos + BLOCK };
    if (text.length > 2880 * 2000) throw new FitsError("The FITS header has no END card (corrupt file).");
  }
}

function dataSize(h) {
  const naxis = h.get("NAXIS", 0);
  if (!naxis) return 0;
  let n = 1;
  for (let i = 1; i <= naxis; i++) n *= h.get(`NAXIS${i}`, 0);
  return (Math.abs(h.get("BITPIX")) / 8) * h.get("GCOUNT", 1) * (h.get("PCOUNT", 0) + n);
}

/**
 * The HDUs of a FITS file: headers and where their data lie; reads only headers.
 * Returns [{header, dataStart, dataBytes}].
 */
export async function listHDUs(source, maxHDUs = 16) {
  const hdus = [];
  let offset = 0;
  while (offset < source.size && hdus.length < maxHDUs) {
    const { header, dataStart } = await readHeader(source, offset);
    const dataBytes = dataSize(header);
    hdus.push({ header, dataStart, dataBytes });
    offset = dataStart + Math.ceil(dataBytes / BLOCK) * BLOCK;
    if (offset + BLOCK > source.size) break;
  }
  return hdus;
}

/** Description of the first 2-D image of a file (plain or tile-compressed), without reading its data. */
export async function findImage(source) {
  const hdus = await listHDUs(source);
  for (const hdu of hdus) {
    const h = hdu.header;
    if (h.get("XTENSION") === "BINTABLE" && h.get("ZIMAGE") === true) {
      const naxis = h.get("ZNAXIS");
      if (naxis === 2 || (naxis === 3 && h.get("ZNAXIS3") === 1)) {
        return { ...hdu, compressed: true, width: h.get("ZNAXIS1"), height: h.get("ZNAXIS2"), bitpix: h.get("ZBITPIX") };
      }
    } else if ((hdu.header.get("SIMPLE") === true || h.get("XTENSION") === "IMAGE")) {
      const naxis = h.get("NAXIS", 0);
      if (naxis === 2 || (naxis === 3 && h.get("NAXIS3") === 1)) {
        return { ...hdu, compressed: false, width: h.get("NAXIS1"), height: h.get("NAXIS2"), bitpix: h.get("BITPIX") };
      }
    }
  }
  throw new FitsError("The FITS file holds no 2-D image (neither in its primary HDU nor in an image or "
    + "tile-compressed extension).");
}

/** The image's header as the map sees it: a compressed image's Z keywords turned back into image keywords. */
export function imageHeader(image) {
  const h = new Header([...image.header.cards]);
  if (!image.compressed) return h;
  const out = new Header([]);
  const zmap = { ZSIMPLE: "SIMPLE", ZBITPIX: "BITPIX", ZNAXIS: "NAXIS", ZNAXIS1: "NAXIS1", ZNAXIS2: "NAXIS2",
    ZNAXIS3: "NAXIS3", ZEXTEND: "EXTEND", ZBLOCKED: "BLOCKED", ZTENSION: "XTENSION", ZPCOUNT: "PCOUNT",
    ZGCOUNT: "GCOUNT", ZHECKSUM: "CHECKSUM", ZDATASUM: "DATASUM" };
  const tableKeys = /^(XTENSION|BITPIX|NAXIS\d*|PCOUNT|GCOUNT|TFIELDS|TTYPE\d+|TFORM\d+|TUNIT\d+|TSCAL\d+|TZERO\d+|TNULL\d+|TDIM\d+|THEAP|ZIMAGE|ZTILE\d+|ZCMPTYPE|ZNAME\d+|ZVAL\d+|ZMASKCMP|ZQUANTIZ|ZDITHER0|ZBLANK|CHECKSUM|DATASUM|EXTNAME)$/;
  for (const c of h.cards) {
    const k = h.keyOf(c);
    if (k in zmap) out.cards.push(pad80(zmap[k].padEnd(8) + c.slice(8)));
    else if (!tableKeys.test(k)) out.cards.push(c);
  }
  return out;
}

function readBigEndian(bytes, bitpix, count) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = Math.abs(bitpix) / 8;
  if (bytes.byteLength < count * size) throw new FitsError("The FITS file ends inside the image data (truncated file).");
  let out;
  switch (bitpix) {
    case 8: out = new Float64Array(count); for (let i = 0; i < count; i++) out[i] = bytes[i]; break;
    case 16: out = new Float64Array(count); for (let i = 0; i < count; i++) out[i] = dv.getInt16(2 * i); break;
    case 32: out = new Float64Array(count); for (let i = 0; i < count; i++) out[i] = dv.getInt32(4 * i); break;
    case 64: out = new Float64Array(count); for (let i = 0; i < count; i++) out[i] = Number(dv.getBigInt64(8 * i)); break;
    case -32: out = new Float32Array(count); for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i); break;
    case -64: out = new Float64Array(count); for (let i = 0; i < count; i++) out[i] = dv.getFloat64(8 * i); break;
    default: throw new FitsError(`Unsupported BITPIX ${bitpix}.`);
  }
  return out;
}

/** Scale raw values to physical ones (BSCALE, BZERO; BLANK → NaN for integers), into a Float32Array. */
function scaleInto(raw, bitpix, bscale, bzero, blank) {
  const n = raw.length;
  const out = new Float32Array(n);
  const isInt = bitpix > 0;
  const hasBlank = isInt && blank !== undefined && blank !== null;
  if (bscale === 1 && bzero === 0) {
    for (let i = 0; i < n; i++) out[i] = hasBlank && raw[i] === blank ? NaN : raw[i];
  } else {
    for (let i = 0; i < n; i++) out[i] = hasBlank && raw[i] === blank ? NaN : raw[i] * bscale + bzero;
  }
  return out;
}

/** Read the image data as float32 physical values (row-major, first FITS axis fastest). */
export async function readImage(source, image, onProgress = () => {}) {
  const { width, height } = image;
  if (!image.compressed) {
    const h = image.header;
    const bitpix = h.get("BITPIX");
    const count = width * height;
    const bytes = await source.read(image.dataStart, count * Math.abs(bitpix) / 8);
    const raw = readBigEndian(bytes, bitpix, count);
    return scaleInto(raw, bitpix, h.get("BSCALE", 1), h.get("BZERO", 0), h.get("BLANK"));
  }
  return readCompressed(source, image, onProgress);
}

// ---------------------------------------------------------------------------------------------------------
// Tile compression (Pence et al. 2010; the FITS standard 4.0, section 10)

const NONZERO_COUNT = (() => {
  const t = new Uint8Array(256);
  for (let i = 1; i < 256; i++) t[i] = 32 - Math.clz32(i);
  return t;
})();

/** Rice decompression of one tile (cfitsio's fits_rdecomp, fits_rdecomp_short, fits_rdecomp_byte). */
export function riceDecompress(c, nx, bytepix, blocksize) {
  const out = bytepix === 4 ? new Int32Array(nx) : bytepix === 2 ? new Int16Array(nx) : new Uint8Array(nx);
  const [fsbits, fsmax, bbits] = bytepix === 4 ? [5, 25, 32] : bytepix === 2 ? [4, 14, 16] : [3, 6, 8];
  let p = 0;
  const next = () => {
    if (p >= c.length) throw new FitsError("Rice-compressed data end early (corrupt file).");
    return c[p++];
  };
  let lastpix = 0;
  for (let k = 0; k < bytepix; k++) lastpix = (lastpix * 256) + next();
  if (bytepix === 4) lastpix |= 0;
  else if (bytepix === 2) lastpix = (lastpix << 16) >> 16;
  let b = next();
  let nbits = 8;
  const wrap = bytepix === 4 ? (v) => v | 0 : bytepix === 2 ? (v) => (v << 16) >> 16 : (v) => v & 0xff;
  for (let i = 0; i < nx;) {
    nbits -= fsbits;
    while (nbits < 0) { b = ((b << 8) | next()) >>> 0; nbits += 8; }
    const fs = (b >>> nbits) - 1;
    b &= (1 << nbits) - 1;
    const imax = Math.min(i + blocksize, nx);
    if (fs < 0) {
      for (; i < imax; i++) out[i] = lastpix;
    } else if (fs === fsmax) {
      for (; i < imax; i++) {
        let k = bbits - nbits;
        let diff = k >= 32 ? 0 : (b << k) >>> 0;
        for (k -= 8; k >= 0; k -= 8) { b = next(); diff = (diff | (b << k)) >>> 0; }
        if (nbits > 0) { b = next(); diff = (diff | (b >>> -k)) >>> 0; b &= (1 << nbits) - 1; } else b = 0;
        diff = (diff & 1) === 0 ? diff >>> 1 : ~(diff >>> 1);
        lastpix = wrap(diff + lastpix);
        out[i] = lastpix;
      }
    } else {
      for (; i < imax; i++) {
        while (b === 0) { nbits += 8; b = next(); }
        const nzero = nbits - NONZERO_COUNT[b];
        nbits -= nzero + 1;
        b ^= 1 << nbits;
        nbits -= fs;
        while (nbits < 0) { b = ((b << 8) | next()) >>> 0; nbits += 8; }
        let diff = ((nzero << fs) | (b >>> nbits)) >>> 0;
        b &= (1 << nbits) - 1;
        diff = (diff & 1) === 0 ? diff >>> 1 : ~(diff >>> 1);
        lastpix = wrap(diff + lastpix);
        out[i] = lastpix;
      }
    }
  }
  return out;
}

async function gunzip(bytes) {
  if (typeof DecompressionStream === "undefined") throw new FitsError("This browser cannot decompress GZIP tiles.");
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

let RANDOM = null;
/** The FITS standard's 10000 uniform random numbers for subtractive dithering. */
function ditherRandoms() {
  if (RANDOM) return RANDOM;
  RANDOM = new Float64Array(10000);
  const a = 16807, m = 2147483647;
  let seed = 1;
  for (let i = 0; i < 10000; i++) {
    const temp = a * seed;
    seed = temp - m * Math.trunc(temp / m);
    RANDOM[i] = seed / m;
  }
  return RANDOM;
}

function columnLayout(h) {
  const n = h.get("TFIELDS");
  const cols = {};
  let offset = 0;
  const sizes = { L: 1, X: 1, B: 1, I: 2, J: 4, K: 8, A: 1, E: 4, D: 8, C: 8, M: 16, P: 8, Q: 16 };
  for (let i = 1; i <= n; i++) {
    const form = String(h.get(`TFORM${i}`)).trim();
    const m = /^(\d*)([LXBIJKAEDCMPQ])([A-Z]?)/.exec(form);
    if (!m) throw new FitsError(`Unsupported table column format ${form}.`);
    const repeat = m[1] === "" ? 1 : Number(m[1]);
    const code = m[2];
    const width = code === "X" ? Math.ceil(repeat / 8) : repeat * sizes[code];
    cols[String(h.get(`TTYPE${i}`)).trim().toUpperCase()] = { offset, code, elem: m[3], repeat };
    offset += width;
  }
  return cols;
}

function readCell(dv, rowStart, col) {
  const o = rowStart + col.offset;
  switch (col.code) {
    case "P": return [dv.getInt32(o), dv.getInt32(o + 4)];
    case "Q": return [Number(dv.getBigInt64(o)), Number(dv.getBigInt64(o + 8))];
    case "E": return dv.getFloat32(o);
    case "D": return dv.getFloat64(o);
    case "J": return dv.getInt32(o);
    case "I": return dv.getInt16(o);
    case "K": return Number(dv.getBigInt64(o));
    default: throw new FitsError(`Unsupported column type ${col.code} in a compressed image.`);
  }
}

async function readCompressed(source, image, onProgress) {
  const h = image.header;
  const { width, height } = image;
  const zbitpix = h.get("ZBITPIX");
  const cmp = String(h.get("ZCMPTYPE", "")).trim().toUpperCase();
  if (!["RICE_1", "RICE_ONE", "GZIP_1", "GZIP_2", "NOCOMPRESS"].includes(cmp)) {
    throw new FitsError(`Tile compression ${cmp} is not supported here (only RICE_1, GZIP_1, GZIP_2); `
      + "uncompress the file first, e.g. with funpack or astropy.");
  }
  const params = {};
  for (let i = 1; h.has(`ZNAME${i}`); i++) params[String(h.get(`ZNAME${i}`)).trim().toUpperCase()] = h.get(`ZVAL${i}`);
  const blocksize = params.BLOCKSIZE ?? 32;
  const tileW = h.get("ZTILE1", width);
  const tileH = h.get("ZTILE2", 1);
  const quantiz = String(h.get("ZQUANTIZ", zbitpix < 0 ? "NO_DITHER" : "")).trim().toUpperCase();
  const dither0 = h.get("ZDITHER0", 1);
  const zblankKey = h.get("ZBLANK");
  const bscale = h.get("BSCALE", 1), bzero = h.get("BZERO", 0), blank = h.get("BLANK");
  const cols = columnLayout(h);
  const rowBytes = h.get("NAXIS1"), nrows = h.get("NAXIS2");
  const tableBytes = rowBytes * nrows;
  const heapStart = h.get("THEAP", tableBytes);
  const all = await source.read(image.dataStart, image.dataBytes);
  if (all.length < image.dataBytes) throw new FitsError("The FITS file ends inside the compressed image (truncated file).");
  const dv = new DataView(all.buffer, all.byteOffset, all.byteLength);
  const out = new Float32Array(width * height);
  const tilesX = Math.ceil(width / tileW), tilesY = Math.ceil(height / tileH);
  if (tilesX * tilesY !== nrows) throw new FitsError("The compressed image's tiles do not match its table (corrupt file).");
  const floatImage = zbitpix < 0;
  const rand = floatImage && quantiz.startsWith("SUBTRACTIVE_DITHER") ? ditherRandoms() : null;
  for (let row = 0; row < nrows; row++) {
    const tx = row % tilesX, ty = Math.floor(row / tilesX);
    const x0 = tx * tileW, y0 = ty * tileH;
    const tw = Math.min(tileW, width - x0), th = Math.min(tileH, height - y0);
    const n = tw * th;
    const rs = row * rowBytes;
    let values; // Float64Array of tile values in physical or quantised units
    let quantised = false;
    let desc = cols.COMPRESSED_DATA ? readCell(dv, rs, cols.COMPRESSED_DATA) : [0, 0];
    let method = cmp;
    let elemBitpix = zbitpix;
    if (desc[0] === 0) {
      // a tile stored without the image's compression (e.g. floats that could not be quantised)
      if (cols.GZIP_COMPRESSED_DATA && readCell(dv, rs, cols.GZIP_COMPRESSED_DATA)[0] > 0) {
        desc = readCell(dv, rs, cols.GZIP_COMPRESSED_DATA); method = "GZIP_1";
      } else if (cols.UNCOMPRESSED_DATA && readCell(dv, rs, cols.UNCOMPRESSED_DATA)[0] > 0) {
        desc = readCell(dv, rs, cols.UNCOMPRESSED_DATA); method = "NOCOMPRESS";
        elemBitpix = { B: 8, I: 16, J: 32, K: 64, E: -32, D: -64 }[cols.UNCOMPRESSED_DATA.elem] ?? zbitpix;
      }
    } else if (floatImage) {
      quantised = true;
      elemBitpix = 32;
    }
    const [count, off] = desc;
    const start = heapStart + off;
    if (start + count > all.length || count < 0) throw new FitsError("A compressed tile points outside the file (corrupt file).");
    const bytes = all.subarray(start, start + count);
    if (method === "RICE_1" || method === "RICE_ONE") {
      const bytepix = params.BYTEPIX ?? (floatImage ? 4 : Math.abs(zbitpix) / 8);
      values = riceDecompress(bytes, n, bytepix, blocksize);
    } else if (method === "GZIP_1" || method === "GZIP_2" || method === "NOCOMPRESS") {
      let raw = method === "NOCOMPRESS" ? bytes : await gunzip(bytes);
      const size = Math.abs(elemBitpix) / 8;
      if (method === "GZIP_2" && size > 1) { // unshuffle: all first bytes, then all second bytes, ...
        const un = new Uint8Array(raw.length);
        for (let i = 0; i < n; i++) for (let k = 0; k < size; k++) un[i * size + k] = raw[k * n + i];
        raw = un;
      }
      values = readBigEndian(raw, elemBitpix, n);
    }
    const zscale = quantised ? readCell(dv, rs, cols.ZSCALE) : 1;
    const zzero = quantised ? readCell(dv, rs, cols.ZZERO) : 0;
    const zblank = cols.ZBLANK ? readCell(dv, rs, cols.ZBLANK) : zblankKey;
    let iseed = 0, nextrand = 0;
    if (quantised && rand) {
      iseed = ((row + 1) - 1 + dither0 - 1) % 10000;
      nextrand = Math.trunc(rand[iseed] * 500);
    }
    for (let j = 0; j < th; j++) {
      for (let i = 0; i < tw; i++) {
        const v = values[j * tw + i];
        let phys;
        if (quantised) {
          if (v === zblank || (zblank === undefined && v === -2147483647)) phys = NaN;
          else if (rand && quantiz === "SUBTRACTIVE_DITHER_2" && v === -2147483646) phys = 0;
          else if (rand) phys = (v - rand[nextrand] + 0.5) * zscale + zzero;
          else phys = v * zscale + zzero;
          if (rand && ++nextrand === 10000) {
            iseed = (iseed + 1) % 10000;
            nextrand = Math.trunc(rand[iseed] * 500);
          }
        } else if (floatImage) {
          phys = v;
        } else {
          const nul = zblank ?? blank;
          phys = nul !== undefined && v === nul ? NaN : v * bscale + bzero;
        }
        out[(y0 + j) * width + x0 + i] = phys;
      }
    }
    if (row % 64 === 0) onProgress(row / nrows);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Writing

/** A FITS file (one primary HDU, BITPIX -32) holding a float32 image with a header's keywords. */
export function writeFloat32Image(header, data, width, height) {
  const h = new Header([]);
  h.cards.push(...formatCards("SIMPLE", true, "conforms to FITS standard"));
  h.cards.push(...formatCards("BITPIX", -32, "array data type"));
  h.cards.push(...formatCards("NAXIS", 2, "number of array dimensions"));
  h.cards.push(...formatCards("NAXIS1", width));
  h.cards.push(...formatCards("NAXIS2", height));
  const structural = /^(SIMPLE|BITPIX|NAXIS\d*|EXTEND|XTENSION|PCOUNT|GCOUNT|BSCALE|BZERO|BLANK|END)$/;
  for (const c of header.cards) if (!structural.test(header.keyOf(c))) h.cards.push(c);
  const head = h.toBytes();
  const dataBytes = Math.ceil((width * height * 4) / BLOCK) * BLOCK;
  const out = new Uint8Array(head.length + dataBytes);
  out.set(head, 0);
  const dv = new DataView(out.buffer, head.length, width * height * 4);
  for (let i = 0; i < width * height; i++) dv.setFloat32(4 * i, data[i]);
  return out;
}

/** A FITS file holding an image with raw integer or float values and a header (for tests/benchmarks). */
export function writeImage(header, raw, width, height, bitpix) {
  const h = new Header([]);
  h.cards.push(...formatCards("SIMPLE", true));
  h.cards.push(...formatCards("BITPIX", bitpix));
  h.cards.push(...formatCards("NAXIS", 2));
  h.cards.push(...formatCards("NAXIS1", width));
  h.cards.push(...formatCards("NAXIS2", height));
  const structural = /^(SIMPLE|BITPIX|NAXIS\d*|EXTEND|END)$/;
  for (const c of header.cards) if (!structural.test(header.keyOf(c))) h.cards.push(c);
  const head = h.toBytes();
  const size = Math.abs(bitpix) / 8;
  const out = new Uint8Array(head.length + Math.ceil((width * height * size) / BLOCK) * BLOCK);
  out.set(head, 0);
  const dv = new DataView(out.buffer, head.length);
  for (let i = 0; i < width * height; i++) {
    if (bitpix === -32) dv.setFloat32(4 * i, raw[i]);
    else if (bitpix === -64) dv.setFloat64(8 * i, raw[i]);
    else if (bitpix === 32) dv.setInt32(4 * i, raw[i]);
    else if (bitpix === 16) dv.setInt16(2 * i, raw[i]);
  }
  return out;
}

export { formatCards };
