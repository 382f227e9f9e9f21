"""
Self-supervised denoising of polarimetric images and magnetograms, with uncertainties.

The method of Díaz Baso, de la Cruz Rodríguez & Danilovic (2019, A&A 629, A99): a U-Net trained without
clean targets (Noise2Noise from pairs of noisy observations, or blind-spot training from a single noisy
image), applied to arrays (`denoise`), Maps (`denoise_map`) and spectropolarimetric cubes
(`denoise_cube`), with a per-pixel uncertainty from a Bayesian variant (Monte-Carlo dropout and a
log-variance head), and a check that what was removed is noise (`check_residual`).
"""
from sunpy_enhance.denoise.api import (
    HMI_MAGNETOGRAM_NOISE,
    MODEL_ALIASES,
    DenoiseUncertainty,
    denoise,
    denoise_cube,
    denoise_map,
    resolve_model,
)
from sunpy_enhance.denoise.network import build_unet
from sunpy_enhance.denoise.noise import estimate_noise
from sunpy_enhance.denoise.residuals import ResidualCheck, check_residual
from sunpy_enhance.denoise.training import (
    PairSource,
    SceneSource,
    SingleImageSource,
    export_denoiser,
    train_denoiser,
)

__all__ = [
    "HMI_MAGNETOGRAM_NOISE",
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
