// Before/after viewer: the input (left of the slider) and the enhanced image (right) on one canvas, solar north
// up (the header's rotation undone), with zoom (wheel, buttons), pan (drag) and a colour bar in I/Ic or G.

function percentiles(values, ps) {
  const finite = [];
  const step = Math.max(1, Math.floor(values.length / 200000));
  for (let i = 0; i < values.length; i += step) if (values[i] === values[i]) finite.push(values[i]);
  finite.sort((a, b) => a - b);
  return ps.map((p) => (finite.length ? finite[Math.min(finite.length - 1, Math.floor((p / 100) * finite.length))] : 0));
}

/** Display range and colour map for a kind: grey for I/Ic, grey symmetric about 0 for G. */
export function displayRange(kind, before) {
  if (kind === "magnetogram") {
    const [lo, hi] = percentiles(before, [0.5, 99.5]);
    const m = Math.max(100, Math.abs(lo), Math.abs(hi));
    return { lo: -m, hi: m, label: "B_LOS [G]" };
  }
  const [lo, hi] = percentiles(before, [0.2, 99.8]);
  return { lo, hi, label: "I/Ic" };
}

function toBitmapCanvas(values, width, height, lo, hi) {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(width, height);
  const px = img.data;
  const k = 255 / (hi - lo || 1);
  for (let i = 0; i < width * height; i++) {
    const v = values[i];
    const o = 4 * i;
    if (v !== v) { px[o] = 40; px[o + 1] = 40; px[o + 2] = 60; px[o + 3] = 255; continue; }
    const g = Math.max(0, Math.min(255, (v - lo) * k));
    px[o] = px[o + 1] = px[o + 2] = g;
    px[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

/** The 2 × 2 screen matrix that puts solar north up and west right for a header's PC/CD/CROTA2. */
export function northUpMatrix(header) {
  const get = (k, d) => { const v = header[k]; return v === undefined ? d : Number(v); };
  let m;
  if ("pc1_1" in header || "pc2_2" in header || "pc1_2" in header || "pc2_1" in header) {
    m = [[get("pc1_1", 1), get("pc1_2", 0)], [get("pc2_1", 0), get("pc2_2", 1)]];
  } else if ("cd1_1" in header || "cd2_2" in header) {
    m = [[get("cd1_1", 1), get("cd1_2", 0)], [get("cd2_1", 0), get("cd2_2", 1)]];
  } else {
    const r = (get("crota2", 0) * Math.PI) / 180;
    m = [[Math.cos(r), -Math.sin(r)], [Math.sin(r), Math.cos(r)]];
  }
  const s1 = Math.sign(get("cdelt1", 1)) || 1, s2 = Math.sign(get("cdelt2", 1)) || 1;
  m = [[m[0][0] * s1, m[0][1] * s2], [m[1][0] * s1, m[1][1] * s2]];
  const norm = Math.sqrt(Math.abs(m[0][0] * m[1][1] - m[0][1] * m[1][0])) || 1;
  // screen x = world x (west right); screen y = -world y (north up)
  return [[m[0][0] / norm, m[0][1] / norm], [-m[1][0] / norm, -m[1][1] / norm]];
}

export class Viewer {
  constructor(canvas, colourbar) {
    this.canvas = canvas;
    this.colourbar = colourbar;
    this.split = 0.5;
    this.zoom = 1;
    this.pan = [0, 0];
    this.attach();
  }

  show({ before, after, width, height, kind, header }) {
    // width, height: of the enhanced image; before is width/2 × height/2
    this.w = width; this.h = height;
    this.range = displayRange(kind, before);
    this.beforeCanvas = toBitmapCanvas(before, width / 2, height / 2, this.range.lo, this.range.hi);
    this.afterCanvas = toBitmapCanvas(after, width, height, this.range.lo, this.range.hi);
    this.matrix = northUpMatrix(header);
    this.zoom = 1; this.pan = [0, 0];
    this.drawColourbar();
    this.draw();
  }

  fit() {
    const cw = this.canvas.width, ch = this.canvas.height;
    const [[a, c], [b, d]] = this.matrix;
    // extent of the rotated image
    const corners = [[0, 0], [this.w, 0], [0, this.h], [this.w, this.h]].map(([x, y]) => [a * x + c * y, b * x + d * y]);
    const xs = corners.map((p) => p[0]), ys = corners.map((p) => p[1]);
    const bw = Math.max(...xs) - Math.min(...xs), bh = Math.max(...ys) - Math.min(...ys);
    return { scale: Math.min(cw / bw, ch / bh), cx: (Math.max(...xs) + Math.min(...xs)) / 2, cy: (Math.max(...ys) + Math.min(...ys)) / 2 };
  }

  draw() {
    const ctx = this.canvas.getContext("2d");
    const cw = this.canvas.width, ch = this.canvas.height;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#111";
    ctx.fillRect(0, 0, cw, ch);
    if (!this.afterCanvas) return;
    const { scale, cx, cy } = this.fit();
    const s = scale * this.zoom;
    const [[a, c], [b, d]] = this.matrix;
    const e = cw / 2 - s * cx + this.pan[0];
    const f = ch / 2 - s * cy + this.pan[1];
    ctx.imageSmoothingEnabled = s < 1;
    const splitX = this.split * cw;
    // before: left of the split
    ctx.save();
    ctx.beginPath(); ctx.rect(0, 0, splitX, ch); ctx.clip();
    ctx.setTransform(s * a, s * b, s * c, s * d, e, f);
    ctx.drawImage(this.beforeCanvas, 0, 0, this.w, this.h);
    ctx.restore();
    ctx.save();
    ctx.beginPath(); ctx.rect(splitX, 0, cw - splitX, ch); ctx.clip();
    ctx.setTransform(s * a, s * b, s * c, s * d, e, f);
    ctx.drawImage(this.afterCanvas, 0, 0, this.w, this.h);
    ctx.restore();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.strokeStyle = "#ffcc00"; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(splitX, 0); ctx.lineTo(splitX, ch); ctx.stroke();
    ctx.font = "15px sans-serif";
    const tag = (text, x) => {
      const tw = ctx.measureText(text).width;
      ctx.fillStyle = "rgba(0, 0, 0, 0.6)";
      ctx.fillRect(x - 6, 6, tw + 12, 22);
      ctx.fillStyle = "#ffcc00";
      ctx.fillText(text, x, 22);
    };
    tag("HMI (before)", 12);
    const label = "Enhanced ×2 (after)";
    tag(label, cw - ctx.measureText(label).width - 12);
    // north arrow
    ctx.fillStyle = "rgba(0, 0, 0, 0.6)";
    ctx.fillRect(6, ch - 72, 30, 66);
    ctx.strokeStyle = ctx.fillStyle = "#ffcc00"; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(21, ch - 14); ctx.lineTo(21, ch - 48); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(15, ch - 42); ctx.lineTo(21, ch - 50); ctx.lineTo(27, ch - 42); ctx.stroke();
    ctx.fillText("N", 16, ch - 54);
  }

  drawColourbar() {
    const cb = this.colourbar;
    const ctx = cb.getContext("2d");
    const { lo, hi, label } = this.range;
    ctx.clearRect(0, 0, cb.width, cb.height);
    const x0 = 10, x1 = cb.width - 10, y0 = 6, bh = 14;
    const grad = ctx.createLinearGradient(x0, 0, x1, 0);
    grad.addColorStop(0, "#000"); grad.addColorStop(1, "#fff");
    ctx.fillStyle = grad; ctx.fillRect(x0, y0, x1 - x0, bh);
    ctx.strokeStyle = "#888"; ctx.strokeRect(x0, y0, x1 - x0, bh);
    ctx.fillStyle = "#222"; ctx.font = "12px sans-serif";
    const ticks = 5;
    const digits = Math.abs(hi - lo) < 5 ? 2 : 0;
    for (let t = 0; t <= ticks; t++) {
      const v = lo + ((hi - lo) * t) / ticks;
      const x = x0 + ((x1 - x0) * t) / ticks;
      ctx.fillRect(x, y0 + bh, 1, 4);
      const text = v.toFixed(digits);
      const tw = ctx.measureText(text).width;
      ctx.fillText(text, Math.min(Math.max(x - tw / 2, 0), cb.width - tw), y0 + bh + 16);
    }
    ctx.fillText(label, (cb.width - ctx.measureText(label).width) / 2, y0 + bh + 32);
  }

  zoomBy(factor, at = null) {
    const cw = this.canvas.width, ch = this.canvas.height;
    const [px, py] = at ?? [cw / 2, ch / 2];
    // keep the point under the cursor fixed
    this.pan[0] = (this.pan[0] - (px - cw / 2)) * factor + (px - cw / 2);
    this.pan[1] = (this.pan[1] - (py - ch / 2)) * factor + (py - ch / 2);
    this.zoom *= factor;
    this.draw();
  }

  reset() { this.zoom = 1; this.pan = [0, 0]; this.draw(); }

  attach() {
    const cv = this.canvas;
    let drag = null;
    const pos = (ev) => {
      const r = cv.getBoundingClientRect();
      return [((ev.clientX - r.left) * cv.width) / r.width, ((ev.clientY - r.top) * cv.height) / r.height];
    };
    cv.addEventListener("wheel", (ev) => { ev.preventDefault(); this.zoomBy(ev.deltaY < 0 ? 1.25 : 0.8, pos(ev)); }, { passive: false });
    cv.addEventListener("pointerdown", (ev) => {
      const [x, y] = pos(ev);
      const nearSplit = Math.abs(x - this.split * cv.width) < 12;
      drag = { mode: nearSplit ? "split" : "pan", x, y, pan: [...this.pan] };
      cv.setPointerCapture(ev.pointerId);
    });
    cv.addEventListener("pointermove", (ev) => {
      const [x, y] = pos(ev);
      cv.style.cursor = Math.abs(x - this.split * cv.width) < 12 ? "ew-resize" : "grab";
      if (!drag) return;
      if (drag.mode === "split") this.split = Math.min(1, Math.max(0, x / cv.width));
      else this.pan = [drag.pan[0] + x - drag.x, drag.pan[1] + y - drag.y];
      this.draw();
    });
    cv.addEventListener("pointerup", () => { drag = null; });
    cv.addEventListener("dblclick", () => this.reset());
  }
}
