"""
Science diagnostics: can an enhanced (or deconvolved) HMI image be trusted?

The measurements solar physicists use to judge Enhance's output (Díaz Baso & Asensio Ramos 2018):

* `power_spectrum`: azimuthally averaged spatial power spectrum (the paper's Fig. 5);
* `granulation_contrast`: rms intensity contrast of the quiet Sun, with automatic selection of quiet
  pixels (`quiet_sun_mask`) or an explicit region;
* `flux_budget`: signed and unsigned magnetic flux of input and output on the pixels' true areas
  (`pixel_areas`), and their ratios;
* `forward_residual`: the output observed again by HMI (PSF + 2×2 binning) compared with the input;
* `magnetogram_histogram`: 2-D histogram of input against output field (the paper's Fig. 9);
* `noise_propagation`: what a deconvolver makes of the input's noise, in weak- and strong-field pixels and as
  a power spectrum.

Every function takes `~sunpy.map.GenericMap` objects or plain arrays; each has a ``plot_*`` helper that
draws on a given Matplotlib axes and returns it.
"""
from sunpy_enhance.diagnostics.images import (
    ForwardResidual,
    PowerSpectrum,
    forward_residual,
    granulation_contrast,
    plot_forward_residual,
    plot_granulation_region,
    plot_power_spectra,
    power_spectrum,
    quiet_sun_mask,
)
from sunpy_enhance.diagnostics.magnetic import (
    FluxBudget,
    MagnetogramHistogram,
    NoisePropagation,
    flux_budget,
    magnetogram_histogram,
    noise_propagation,
    plot_flux_budget,
    plot_magnetogram_histogram,
    plot_noise_propagation,
)

__all__ = [
    "FluxBudget",
    "ForwardResidual",
    "MagnetogramHistogram",
    "NoisePropagation",
    "PowerSpectrum",
    "flux_budget",
    "forward_residual",
    "granulation_contrast",
    "magnetogram_histogram",
    "noise_propagation",
    "plot_flux_budget",
    "plot_forward_residual",
    "plot_granulation_region",
    "plot_magnetogram_histogram",
    "plot_noise_propagation",
    "plot_power_spectra",
    "power_spectrum",
    "quiet_sun_mask",
]
