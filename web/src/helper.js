// A helper worker of the consistency step: runs its share of a convolution's blocks on arrays shared with the
// main worker (SharedArrayBuffer), so that the PSF convolutions use every core, as the network does.
import { runConvolutionPart } from "./consistency.js";

self.onmessage = (e) => {
  try {
    runConvolutionPart(e.data);
    self.postMessage({ ok: true });
  } catch (err) {
    self.postMessage({ ok: false, message: String(err?.message ?? err) });
  }
};
