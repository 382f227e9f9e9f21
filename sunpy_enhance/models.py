"""
Bundled and user-trained models: export, model cards, loading and caching.

A model is a directory holding

* ``saved_model/`` — a TensorFlow SavedModel (float32) with a ``serve`` signature taking a
  ``(batch, height, width, channels)`` float32 tensor;
* ``model.weights.h5`` — the same weights for rebuilding the Keras model on any Keras backend
  (JAX on GPUs without TensorFlow) or at another precision (bfloat16);
* ``card.json`` — the model card: architecture, training data, PSF, normalisation, training steps,
  hardware, validation metrics.

Bundled models live in ``sunpy_enhance/data/models/<name>/``. Each is loaded once per process.
"""
import functools
import importlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

__all__ = [
    "MODELS_DIR",
    "LoadedModel",
    "available_models",
    "build_from_card",
    "export_model",
    "load_model",
    "model_directory",
    "read_card",
]

#: Where the bundled models are installed.
MODELS_DIR = Path(__file__).parent / "data" / "models"

# Architecture names used in model cards, and the functions that build them.
_BUILDERS = {
    "enhance": "sunpy_enhance.enhance.network:build_enhance_network",
    "unet": "sunpy_enhance.denoise.network:build_unet",
}


def available_models():
    """
    Names of the models bundled with the package.

    Returns
    -------
    list of str
    """
    if not MODELS_DIR.is_dir():
        return []
    return sorted(p.name for p in MODELS_DIR.iterdir() if (p / "card.json").is_file())


def model_directory(model):
    """
    Directory of a model given by bundled name or by path.

    Parameters
    ----------
    model : str or `os.PathLike`
        A bundled model name (see `available_models`), or a directory written by `export_model` given
        explicitly: a `pathlib.Path` (any path-like) or a string holding a path separator (``./my-model``).
        A bare name is only ever a bundled model: a folder of that name in the working directory is not
        looked at, so it cannot shadow a bundled model.

    Returns
    -------
    `pathlib.Path`

    Raises
    ------
    ValueError
        If it is neither.
    """
    separators = {"/", os.sep, os.altsep} - {None}
    explicit = not isinstance(model, str) or any(sep in model for sep in separators) or model in (".", "..")
    if explicit:
        path = Path(model)
        if (path / "card.json").is_file():
            return path
        msg = (f"No model at {str(path)!r}: it is not a directory with a card.json written by "
               "sunpy_enhance.models.export_model.")
        raise ValueError(msg)
    bundled = MODELS_DIR / model
    if (bundled / "card.json").is_file():
        return bundled
    msg = (f"No model {model!r}: it is not a bundled model ({', '.join(available_models()) or 'none'}). "
           f"For a model directory of your own give its path, e.g. './{model}'.")
    raise ValueError(msg)


def read_card(model):
    """
    The model card of a model, as a dict.

    Parameters
    ----------
    model : str or `os.PathLike`
        Bundled model name or model directory.
    """
    return json.loads((model_directory(model) / "card.json").read_text())


def _builder(name):
    try:
        target = _BUILDERS[name]
    except KeyError:
        msg = f"Unknown architecture {name!r} in model card; known: {sorted(_BUILDERS)}."
        raise ValueError(msg) from None
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def build_from_card(card, *, dtype="float32"):
    """
    Build the Keras model a card describes (without weights).

    Parameters
    ----------
    card : dict
        Model card; ``card["architecture"]`` has ``"name"`` and the builder's keyword arguments.
    dtype : str, optional
        Keras dtype policy of the hidden layers.
    """
    arch = dict(card["architecture"])
    name = arch.pop("name")
    arch.pop("parameters", None)
    return _builder(name)(dtype=dtype, **arch)


def export_model(model, directory, card, *, overwrite=False):
    """
    Write a trained Keras model as SavedModel + Keras weights + model card, atomically.

    Parameters
    ----------
    model : `keras.Model`
        The trained model (any dtype policy; the SavedModel is exported from a float32 copy).
    directory : `os.PathLike`
        Destination; created. The model is written to a temporary sibling first and renamed into place.
    card : dict
        Model card; ``"architecture"`` is required. ``"parameters"`` is filled in.
    overwrite : bool, optional
        Replace an existing directory.

    Returns
    -------
    `pathlib.Path`
    """
    import keras

    directory = Path(directory)
    if directory.exists() and not overwrite:
        msg = f"{directory} exists; pass overwrite=True to replace it."
        raise FileExistsError(msg)
    card = dict(card)
    card["architecture"] = {**card["architecture"], "parameters": int(model.count_params())}
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; an installed model must be readable by every user
    try:
        float_model = build_from_card(card, dtype="float32")
        float_model.set_weights([np.asarray(w, dtype=np.float32) for w in model.get_weights()])
        float_model.save_weights(tmp / "model.weights.h5")
        if keras.backend.backend() == "tensorflow":
            float_model.export(str(tmp / "saved_model"), format="tf_saved_model", verbose=False)
        (tmp / "card.json").write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


class LoadedModel:
    """
    A model ready for inference: its card and a function from a batch of images to a batch of outputs.

    Use `load_model` to get one (cached per process).

    Attributes
    ----------
    card : dict
        The model card.
    directory : `pathlib.Path`
    precision : str
        ``"float32"`` or ``"bfloat16"``.
    """

    def __init__(self, directory, precision="float32"):
        import keras

        if precision not in ("float32", "bfloat16"):
            msg = f"precision must be 'float32' or 'bfloat16', not {precision!r}."
            raise ValueError(msg)
        self.directory = Path(directory)
        self.card = read_card(self.directory)
        self.precision = precision
        saved = self.directory / "saved_model"
        if precision == "float32" and keras.backend.backend() == "tensorflow" and saved.is_dir():
            import tensorflow as tf

            self._saved = tf.saved_model.load(str(saved))
            self._call = self._saved.serve
            self.keras_model = None
        else:
            dtype = "mixed_bfloat16" if precision == "bfloat16" else "float32"
            self.keras_model = build_from_card(self.card, dtype=dtype)
            self.keras_model.load_weights(self.directory / "model.weights.h5")
            self._call = self._keras_call
            if keras.backend.backend() == "jax":
                self._call = self._jax_function()
            elif keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                # one graph instead of layer-by-layer execution: TensorFlow then fuses convolutions, bias
                # and activations (oneDNN); in bfloat16 on a 2-core AVX-512 CPU 1.3x faster, half the memory
                spec = tf.TensorSpec([None, None, None, None], tf.float32)
                self._call = tf.function(self._keras_call, input_signature=[spec])

    def _keras_call(self, batch):
        return self.keras_model(batch, training=False)

    def _jax_function(self):
        """The Keras model as one compiled (``jax.jit``) function of its input batch."""
        import jax

        model = self.keras_model
        trainable = [v.value for v in model.trainable_variables]
        frozen = [v.value for v in model.non_trainable_variables]

        @jax.jit
        def forward(batch):
            out, _ = model.stateless_call(trainable, frozen, batch, training=False)
            return out

        return forward

    def accelerator_memory(self, device=None):
        """
        Free memory (bytes) of the GPU this model runs on, or None when it runs on the CPU.

        Used to send several tiles to a GPU at once (``sunpy_enhance.tiling.tiles_per_batch``). With
        TensorFlow the total comes from ``nvidia-smi`` when it is on the PATH (TensorFlow does not report
        it); otherwise 8 GB are assumed.

        Parameters
        ----------
        device : {"cpu", "gpu"}, optional
            The device forced by the caller, if any.
        """
        import keras

        if device == "cpu":
            return None
        if keras.backend.backend() == "jax":
            import jax

            dev = jax.devices()[0]
            if dev.platform != "gpu":
                return None
            stats = dev.memory_stats() or {}
            return stats["bytes_limit"] - stats.get("bytes_in_use", 0) if "bytes_limit" in stats else 8e9
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            return None
        return _nvidia_free_memory() or 8e9

    def __call__(self, batch):
        """
        Run the network on a batch.

        Parameters
        ----------
        batch : `numpy.ndarray`
            ``(n, h, w, channels)`` in the network's normalised units.

        Returns
        -------
        `numpy.ndarray`
            float32 output batch.
        """
        out = self._call(np.ascontiguousarray(batch, dtype=np.float32))
        return np.asarray(out, dtype=np.float32)

    def __repr__(self):
        return f"<LoadedModel {self.card.get('name', self.directory.name)!r} ({self.precision})>"


def _nvidia_free_memory():
    """Free memory of the first NVIDIA GPU in bytes from ``nvidia-smi``, or None."""
    import subprocess

    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits", "-i", "0"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return float(out.split()[0]) * 2**20
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


@functools.lru_cache(maxsize=16)
def _load(directory, precision):
    return LoadedModel(directory, precision)


def load_model(model, *, precision="float32"):
    """
    Load a bundled or exported model once per process.

    Parameters
    ----------
    model : str or `os.PathLike`
        Bundled model name (e.g. ``"enhance-continuum"``) or model directory.
    precision : {"float32", "bfloat16"}, optional
        Arithmetic of the hidden layers; the output layer is always float32.

    Returns
    -------
    `LoadedModel`
    """
    return _load(str(model_directory(model).resolve()), precision)
