"""
Training Enhance models: frames, synthetic magnetograms, patches, the training loop.
"""
from sunpy_enhance.training.corpus import Corpus, frames_from_paths, shared_corpus
from sunpy_enhance.training.frames import Frame, normalize_continuum_frame, quiet_sun_mask, read_array
from sunpy_enhance.training.magnetic import synthetic_magnetogram
from sunpy_enhance.training.train import NORMALISATION, TrainingConfig, train_enhance

__all__ = [
    "NORMALISATION",
    "Corpus",
    "Frame",
    "TrainingConfig",
    "frames_from_paths",
    "normalize_continuum_frame",
    "quiet_sun_mask",
    "read_array",
    "shared_corpus",
    "synthetic_magnetogram",
    "train_enhance",
]
