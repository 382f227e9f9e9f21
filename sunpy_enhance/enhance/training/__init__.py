"""
Training Enhance models: frames, real magnetogram truths, patches, the training loop, evaluation.

The names below are imported on first use, so that ``sunpy_enhance.enhance.training.config`` (used by the command
line to describe its options) does not import Keras and TensorFlow.
"""
import importlib

__all__ = [
    "NORMALISATION",
    "Corpus",
    "Frame",
    "TrainingConfig",
    "convergence",
    "frames_from_paths",
    "normalize_continuum_frame",
    "quiet_sun_mask",
    "read_array",
    "real_magnetogram_frames",
    "shared_corpus",
    "synthetic_corpus",
    "train_enhance",
    "training_stages",
]

_WHERE = {
    "NORMALISATION": "config", "TrainingConfig": "config",
    "Corpus": "corpus", "frames_from_paths": "corpus", "shared_corpus": "corpus", "synthetic_corpus": "corpus",
    "Frame": "frames", "normalize_continuum_frame": "frames", "quiet_sun_mask": "frames", "read_array": "frames",
    "real_magnetogram_frames": "magnetic",
    "train_enhance": "train",
    "convergence": "history", "training_stages": "history",
}


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__():
    return sorted(__all__)
