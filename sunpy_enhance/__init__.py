"""
sunpy-enhance: sharper SDO/HMI data.

Deconvolution and ×2 super-resolution of HMI continuum images and line-of-sight magnetograms with the
Enhance network (Díaz Baso & Asensio Ramos 2018), and self-supervised denoising of polarimetric images and
magnetograms with uncertainties (Díaz Baso et al. 2019).
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sunpy-enhance")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
