"""
sunpy-enhance: sharper SDO/HMI data.

Deconvolution and ×2 super-resolution of HMI continuum images and line-of-sight magnetograms with the
Enhance network (Díaz Baso & Asensio Ramos 2018, A&A 614, A5), the Richardson–Lucy baseline, and
self-supervised denoising of polarimetric images and magnetograms with uncertainties (Díaz Baso,
de la Cruz Rodríguez & Danilovic 2019, A&A 629, A99). JSOC download helpers live in `sunpy_enhance.net`,
Dask batch processing in `sunpy_enhance.batch`, diagnostics in `sunpy_enhance.diagnostics`.
"""
import os

# TensorFlow's C++ runtime logs start-up noise to stderr, e.g. "failed call to cuInit: CUDA error" on every
# CPU-only run, at ERROR level (so level 2 does not hide it with TensorFlow 2.21): quiet unless the user set
# the variable. Every module of the package is imported after this one, so this runs before TensorFlow loads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from sunpy_enhance.denoise import check_residual, denoise, denoise_cube, denoise_map
from sunpy_enhance.enhance import enhance_array, enhance_map
from sunpy_enhance.exceptions import SunpyEnhanceUserWarning, SunpyEnhanceWarning
from sunpy_enhance.files import enhance_file, enhance_files
from sunpy_enhance.hmi import classify_map
from sunpy_enhance.models import available_models, load_model
from sunpy_enhance.richardson_lucy import richardson_lucy, richardson_lucy_map
from sunpy_enhance.version import __version__

__all__ = [
    "SunpyEnhanceUserWarning",
    "SunpyEnhanceWarning",
    "__version__",
    "available_models",
    "check_residual",
    "classify_map",
    "denoise",
    "denoise_cube",
    "denoise_map",
    "enhance_array",
    "enhance_file",
    "enhance_files",
    "enhance_map",
    "load_model",
    "richardson_lucy",
    "richardson_lucy_map",
]
