"""
Enhance (Díaz Baso & Asensio Ramos 2018): deconvolution and ×2 super-resolution of HMI maps.

The main path is in ``sunpy_enhance.enhance.api``; its normalisation, consistency step, network and training
live beside it.
"""
from sunpy_enhance.enhance.api import DEFAULT_TILE_SIZE, LIMB_MU, enhance_array, enhance_map, flux_gain

__all__ = ["DEFAULT_TILE_SIZE", "LIMB_MU", "enhance_array", "enhance_map", "flux_gain"]
