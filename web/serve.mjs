#!/usr/bin/env node
// Serve a folder (default: dist) on http://127.0.0.1:8000/ with the headers that give the page threads
// (cross-origin isolation). Only for local use: `npm run serve`, or `node serve.mjs DIR PORT`.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";

const dir = path.resolve(process.argv[2] ?? "dist");
const port = Number(process.argv[3] ?? 8000);
const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
  ".css": "text/css", ".json": "application/json", ".wasm": "application/wasm", ".onnx": "application/octet-stream",
  ".png": "image/png" };
http.createServer((req, res) => {
  const url = decodeURIComponent(new URL(req.url, "http://x").pathname);
  let file = path.join(dir, path.normalize(url).replace(/^(\.\.[/\\])+/, ""));
  if (!file.startsWith(dir)) { res.writeHead(403).end(); return; }
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, "index.html");
  fs.readFile(file, (err, body) => {
    if (err) { res.writeHead(404).end("not found"); return; }
    res.writeHead(200, { "Content-Type": types[path.extname(file)] ?? "application/octet-stream",
      "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp",
      "Cross-Origin-Resource-Policy": "same-origin", "Cache-Control": "no-cache" });
    res.end(body);
  });
}).listen(port, "127.0.0.1", () => console.log(`serving ${dir} at http://127.0.0.1:${port}/`));
