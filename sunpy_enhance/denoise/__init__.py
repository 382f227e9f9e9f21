"""
Self-supervised denoising of polarimetric images and magnetograms, with uncertainties.

The method of Díaz Baso, de la Cruz Rodríguez & Danilovic (2019, A&A 629, A99): a U-Net trained without
clean targets (Noise2Noise from pairs of noisy observations, or blind-spot training from a single noisy
image), applied to arrays (`denoise`), Maps (`denoise_map`) and spectropolarimetric cubes
(`denoise_cube`), with a per-pixel uncertainty from a Bayesian variant (Monte-Carlo dropout and a
log-variance head), and a check that what was removed is noise (`check_residual`).
"""
from sunpy_enhance.denoise.api import (
    MODEL_ALIASES,
    DenoiseUncertainty,
    denoise,
    denoise_cube,
    denoise_map,
    resolve_model,
)
from sunpy_enhance.denoise.noise import estimate_noise
from sunpy_enhance.denoise.residuals import ResidualCheck, check_residual

# Names that need Keras (and so TensorFlow) are imported on first use, to keep this import light.
_LAZY = {
    "build_unet": "sunpy_enhance.denoise.network",
    "PairSource": "sunpy_enhance.denoise.training",
    "SceneSource": "sunpy_enhance.denoise.training",
    "SingleImageSource": "sunpy_enhance.denoise.training",
    "export_denoiser": "sunpy_enhance.denoise.training",
    "train_denoiser": "sunpy_enhance.denoise.training",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__():
    return sorted(__all__)


__all__ = [
    "MODEL_ALIASES",
    "DenoiseUncertainty",
    "PairSource",
    "ResidualCheck",
    "SceneSource",
    "SingleImageSource",
    "build_unet",
    "check_residual",
    "denoise",
    "denoise_cube",
    "denoise_map",
    "estimate_noise",
    "export_denoiser",
    "resolve_model",
    "train_denoiser",
]
