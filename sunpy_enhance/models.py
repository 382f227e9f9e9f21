"""
Bundled and user-trained models: where they are, their model cards, loading and caching (writing them:
`sunpy_enhance.export`).

A model is a directory holding

* ``saved_model/`` — a TensorFlow SavedModel (float32) with a ``serve`` signature taking a
  ``(batch, height, width, channels)`` float32 tensor;
* ``model.weights.h5`` — the same weights for rebuilding the Keras model on any Keras backend
  (JAX on GPUs without TensorFlow) or at another precision (bfloat16);
* ``model.onnx`` — the same float32 network in ONNX (opset 17, converted from the Keras model by tf2onnx and
  checked with ONNX Runtime when the model is exported), run by ONNX Runtime: the fastest engine on CPUs;
* ``card.json`` — the model card: architecture, training data, PSF, normalisation, training steps,
  hardware, validation metrics.

Bundled models live in ``sunpy_enhance/data/models/<name>/``. Each is loaded once per process and
engine (`load_model`), which picks the inference engine (ONNX Runtime, TensorFlow or Keras on JAX) and
the arithmetic (bfloat16 only where the hardware has it) for the machine.
"""
import functools
import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np

__all__ = [
    "EMULATE_BFLOAT16_ENV",
    "ENGINES",
    "MODELS_DIR",
    "ONNX_FILE",
    "THREADS_ENV",
    "LoadedModel",
    "available_models",
    "build_from_card",
    "clear_cache",
    "inference_threads",
    "load_keras_model",
    "load_model",
    "model_directory",
    "native_bfloat16",
    "read_card",
    "resolve_engine",
]

#: Where the bundled models are installed.
MODELS_DIR = Path(__file__).parent / "data" / "models"

#: Inference engines `load_model` accepts; ``"auto"`` picks one for the machine (see `resolve_engine`).
ENGINES = ("auto", "onnxruntime", "tensorflow", "jax")

#: The ONNX file of a model directory (written by `sunpy_enhance.export`).
ONNX_FILE = "model.onnx"
_PRECISIONS = ("float32", "bfloat16")
#: Environment variable that lets bfloat16 run where the hardware only emulates it (accuracy studies, tests).
EMULATE_BFLOAT16_ENV = "SUNPY_ENHANCE_EMULATE_BFLOAT16"
#: ``producer_name`` of the Enhance ONNX graphs written by ``sunpy_enhance.enhance.onnx_graph``: only their padding
#: nodes are all pads before convolutions, so only they get the zero-padded variant (`LoadedModel.interior`).
ENHANCE_ONNX_PRODUCER = "sunpy-enhance"
#: Environment variable with the threads of one inference (set by `sunpy_enhance.batch` for its workers).
THREADS_ENV = "SUNPY_ENHANCE_THREADS"

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
        A bundled model name (see `available_models`), or a directory written by
        `sunpy_enhance.export.export_model` given explicitly: a `pathlib.Path` (any path-like) or a string
        holding a path separator (``./my-model``).
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
               "sunpy_enhance.export.export_model.")
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


def load_keras_model(model, *, precision="float32"):
    """
    The Keras model of a bundled or exported model, with its weights, once per process.

    For what the inference engines of `load_model` do not run: calls with ``training=True`` (Monte-Carlo
    dropout, whose masks the ONNX and SavedModel graphs leave out). Use `load_model` for inference.

    Parameters
    ----------
    model : str or `os.PathLike`
        Bundled model name or model directory (with ``card.json`` and ``model.weights.h5``).
    precision : {"float32", "bfloat16"}, optional
        Arithmetic of the hidden layers, used as given.

    Returns
    -------
    `keras.Model`
        Cached: the same object for the same directory and precision.
    """
    if precision not in _PRECISIONS:
        msg = f"precision must be 'float32' or 'bfloat16', not {precision!r}."
        raise ValueError(msg)
    return _load_keras(str(model_directory(model).resolve()), precision)


@functools.lru_cache(maxsize=8)
def _load_keras(directory, precision):
    dtype = "mixed_bfloat16" if precision == "bfloat16" else "float32"
    keras_model = build_from_card(read_card(directory), dtype=dtype)
    keras_model.load_weights(Path(directory) / "model.weights.h5")
    return keras_model


class LoadedModel:
    """
    A model ready for inference: its card and a function from a batch of images to a batch of outputs.

    Use `load_model` to get one (cached per process; it chooses the engine and precision for the machine).
    Every engine has the same call interface and gives the same result to ~1e-5 (network units).

    Parameters
    ----------
    directory : `os.PathLike`
        Model directory.
    precision : {"float32", "bfloat16"}
        Arithmetic of the hidden layers, used as given (`load_model` checks it against the hardware).
    engine : {"onnxruntime", "tensorflow", "jax"}
        ``"onnxruntime"``: ``model.onnx`` in an ONNX Runtime session (float32 only); ``"tensorflow"``: the
        SavedModel (float32) or the Keras model as one TensorFlow graph; ``"jax"``: the Keras model as one
        ``jax.jit`` function (needs Keras on its JAX backend).
    gpu : bool, optional
        ONNX Runtime: use its CUDA provider (the other engines place work on their own devices).

    Attributes
    ----------
    card : dict
        The model card.
    directory : `pathlib.Path`
    precision : str
        ``"float32"`` or ``"bfloat16"``.
    engine : str
        ``"onnxruntime"``, ``"tensorflow"`` or ``"jax"``.
    keras_model : `keras.Model` or None
        The Keras model when the engine runs one (not for ONNX Runtime and the TensorFlow SavedModel).
    interior : callable or None
        ONNX Runtime with an Enhance graph written by ``sunpy_enhance.enhance.onnx_graph``: the same network with
        zero instead of reflection padding before every convolution, which ONNX Runtime folds into the
        convolutions (15-20% faster). Its output equals the model's except within the receptive radius of the
        batch's edges, so it serves only where those edges are interior tile boundaries
        (``sunpy_enhance.enhance.api.run_network`` redoes the image border with the model itself). None
        for the other engines and graphs.
    """

    def __init__(self, directory, precision="float32", engine="tensorflow", *, gpu=False):
        if precision not in _PRECISIONS:
            msg = f"precision must be 'float32' or 'bfloat16', not {precision!r}."
            raise ValueError(msg)
        if engine not in ENGINES[1:]:
            msg = f"engine must be one of {', '.join(map(repr, ENGINES[1:]))} here, not {engine!r}."
            raise ValueError(msg)
        self.directory = Path(directory)
        self.card = read_card(self.directory)
        self.precision = precision
        self.engine = engine
        self.keras_model = None
        self.interior = None
        self._gpu = bool(gpu)
        if engine == "onnxruntime":
            self._init_onnxruntime()
        elif engine == "tensorflow":
            self._init_tensorflow()
        else:
            self._init_jax()

    def _init_onnxruntime(self):
        if self.precision != "float32":
            msg = ("engine='onnxruntime' runs the float32 model.onnx; use precision='float32', or engine='tensorflow' "
                   "or 'jax' for bfloat16.")
            raise ValueError(msg)
        path = self.directory / ONNX_FILE
        if not path.is_file():
            msg = (f"{self.directory} has no {ONNX_FILE} for engine='onnxruntime'; write it with "
                   f"'sunpy-enhance export-onnx {self.directory}' or use engine='tensorflow'.")
            raise ValueError(msg)
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = inference_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # no memory plan per input shape: tiles come in several shapes, and ONNX Runtime keeps a block for each
        # (four full-disk tile shapes: 4.6 GB peak with plans, 2.6 GB without, same speed; the arena stays on:
        # without it every layer's output is allocated afresh and the network runs at half speed)
        options.enable_mem_pattern = False
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if self._gpu else ["CPUExecutionProvider"]
        self._session = ort.InferenceSession(str(path), options, providers=providers)
        self._input_name = self._session.get_inputs()[0].name
        self._call = self._onnx_call
        self._sessions = [self._session]
        zero_padded = _zero_padded_enhance_graph(path)
        if zero_padded is not None:
            interior = ort.InferenceSession(zero_padded, options, providers=providers)
            self._sessions.append(interior)
            self.interior = functools.partial(self._run, lambda batch: interior.run(None, {self._input_name: batch})[0])

    def _onnx_call(self, batch):
        return self._session.run(None, {self._input_name: batch})[0]

    def _init_tensorflow(self):
        import keras

        saved = self.directory / "saved_model"
        if self.precision == "float32" and saved.is_dir():
            import tensorflow as tf

            self._saved = tf.saved_model.load(str(saved))
            self._call = self._saved.serve
            return
        if keras.backend.backend() != "tensorflow":
            msg = (f"engine='tensorflow' in {self.precision} needs Keras on its TensorFlow backend; this process runs "
                   f"Keras on {keras.backend.backend()!r}.")
            raise ValueError(msg)
        import tensorflow as tf

        self._build_keras()
        # one graph instead of layer-by-layer execution: TensorFlow then fuses convolutions, bias
        # and activations (oneDNN); in bfloat16 on a 2-core AVX-512 CPU 1.3x faster, half the memory
        spec = tf.TensorSpec([None, None, None, None], tf.float32)
        self._call = tf.function(self._keras_call, input_signature=[spec])

    def _init_jax(self):
        if "keras" not in sys.modules and not _installed("tensorflow"):
            os.environ.setdefault("KERAS_BACKEND", "jax")
        import keras

        if keras.backend.backend() != "jax":
            msg = (f"engine='jax' needs Keras on its JAX backend (set KERAS_BACKEND=jax before Python imports "
                   f"keras); this process runs Keras on {keras.backend.backend()!r}.")
            raise ValueError(msg)
        self._build_keras()
        self._call = self._jax_function()

    def _build_keras(self):
        dtype = "mixed_bfloat16" if self.precision == "bfloat16" else "float32"
        self.keras_model = build_from_card(self.card, dtype=dtype)
        self.keras_model.load_weights(self.directory / "model.weights.h5")

    def _keras_call(self, batch):
        return self.keras_model(batch, training=False)

    def _jax_function(self):
        """The Keras model as one compiled (``jax.jit``) function of its input batch."""
        import jax

        model = self.keras_model
        trainable = [v.value for v in model.trainable_variables]
        frozen = [v.value for v in model.non_trainable_variables]
        # float32 means float32: no TF32 tensor-core products on recent NVIDIA GPUs (~1e-3 relative error)
        precision = "highest" if self.precision == "float32" else "default"

        @jax.jit
        def forward(batch):
            with jax.default_matmul_precision(precision):
                out, _ = model.stateless_call(trainable, frozen, batch, training=False)
            return out

        return forward

    def accelerator_memory(self, device=None):
        """
        Free memory (bytes) of the GPU this model runs on, or None when it runs on the CPU.

        Used to send several tiles to a GPU at once (``sunpy_enhance.tiling.tiles_per_batch``). With
        TensorFlow and ONNX Runtime the total comes from ``nvidia-smi`` when it is on the PATH (they do not
        report it); otherwise 8 GB are assumed.

        Parameters
        ----------
        device : {"cpu", "gpu"}, optional
            The device forced by the caller, if any.
        """
        if device == "cpu":
            return None
        if self.engine == "onnxruntime":
            return (_nvidia_free_memory() or 8e9) if self._gpu else None
        if self.engine == "jax":
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

    def release_memory(self):
        """
        Give back the memory the engine keeps between calls, e.g. once all tiles of an image are done.

        ONNX Runtime (CPU) keeps its largest activations in an arena for the next call (2.6 GB for full-disk
        tiles); released, they do not add to the memory of what follows the network (the consistency step
        of a full disk). The next call allocates them again. A no-op for the other engines.
        """
        if self.engine != "onnxruntime" or self._gpu:
            return
        import onnxruntime as ort

        options = ort.RunOptions()
        options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        channels = self._session.get_inputs()[0].shape[-1]
        tiny = np.zeros((1, 8, 8, channels if isinstance(channels, int) else 1), dtype=np.float32)
        for session in self._sessions:
            session.run(None, {self._input_name: tiny}, options)  # the arena shrinks at the end of this run

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
        return self._run(self._call, batch)

    @staticmethod
    def _run(call, batch):
        """``call`` on a contiguous float32 batch; its output as a float32 array (every engine, `interior` too)."""
        return np.asarray(call(np.ascontiguousarray(batch, dtype=np.float32)), dtype=np.float32)

    def __repr__(self):
        return f"<LoadedModel {self.card.get('name', self.directory.name)!r} ({self.precision}, {self.engine})>"


def _zero_padded_enhance_graph(path):
    """
    The serialized ONNX model of ``path`` with every padding before a convolution made zero padding, for an Enhance
    graph written by ``sunpy_enhance.enhance.onnx_graph`` (producer ``sunpy-enhance``); None for other graphs, and
    where the onnx package (a dependency) is missing: the tiles then run the model itself, 6-7% slower.
    """
    try:
        import onnx
    except ImportError:
        return None

    proto = onnx.load(str(path))
    if proto.producer_name != ENHANCE_ONNX_PRODUCER:
        return None
    for node in proto.graph.node:
        if node.op_type == "Pad":
            for attribute in node.attribute:
                if attribute.name == "mode":
                    attribute.s = b"constant"
    return proto.SerializeToString()


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
def _load(directory, precision, engine, gpu):
    return LoadedModel(directory, precision, engine, gpu=gpu)


def clear_cache():
    """
    Forget the models loaded so far (`load_model`, `load_keras_model`): the next call reads the model
    directory again, e.g. after `sunpy_enhance.export.export_onnx` added its ONNX file.
    """
    _load.cache_clear()
    _load_keras.cache_clear()


# ------------------------------------------------------------------------------------------------ hardware
def _installed(module):
    if module in sys.modules:  # None there means "not importable"
        return sys.modules[module] is not None
    return importlib.util.find_spec(module) is not None


def inference_threads():
    """
    Threads one inference may use: ``$SUNPY_ENHANCE_THREADS`` when set (`sunpy_enhance.batch` sets it for its
    workers), otherwise every core this process may run on.
    """
    value = os.environ.get(THREADS_ENV, "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def _cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (x86 ``flags``, Arm ``Features``); empty elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def _gpu_visible():
    """Whether an NVIDIA GPU is visible to this process, found without starting TensorFlow or JAX."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    if sys.modules.get("tensorflow") is not None:
        return bool(sys.modules["tensorflow"].config.list_physical_devices("GPU"))
    nvidia = Path("/proc/driver/nvidia/gpus")
    return Path("/dev/nvidia0").exists() or (nvidia.is_dir() and any(nvidia.iterdir()))


@functools.lru_cache(maxsize=1)
def _gpu_compute_capability():
    """Compute capability of the first NVIDIA GPU (e.g. 9.0), or None when it cannot be told."""
    import subprocess

    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader", "-i", "0"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return float(out.split()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        pass
    if sys.modules.get("tensorflow") is not None:
        tf = sys.modules["tensorflow"]
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability")
            if capability:
                return capability[0] + capability[1] / 10
    return None


def native_bfloat16(gpu=False):
    """
    Whether the hardware computes in bfloat16 natively, so that ``precision="bfloat16"`` can be faster.

    CPUs: the flags ``avx512_bf16`` or ``amx_bf16`` (x86) or ``bf16`` (Arm) in /proc/cpuinfo. NVIDIA GPUs:
    compute capability 8.0 or more (Ampere and later). Elsewhere bfloat16 is emulated and slower than
    float32 (0.84-0.93x measured on a 2-core AVX2 CPU). Setting ``SUNPY_ENHANCE_EMULATE_BFLOAT16=1`` makes
    this return True everywhere (to study bfloat16's accuracy on any machine, and for tests).

    Parameters
    ----------
    gpu : bool, optional
        Ask about the GPU instead of the CPU.

    Returns
    -------
    bool
    """
    if os.environ.get(EMULATE_BFLOAT16_ENV, "").strip() not in ("", "0"):
        return True
    if gpu:
        capability = _gpu_compute_capability()
        return capability is not None and capability >= 8.0
    return bool({"avx512_bf16", "amx_bf16", "bf16"} & _cpu_flags())


_WARNED = set()


def _hardware_precision(precision, gpu):
    """``precision``, or float32 (with one warning per process) for bfloat16 on hardware without it."""
    if precision not in _PRECISIONS:
        msg = f"precision must be 'float32' or 'bfloat16', not {precision!r}."
        raise ValueError(msg)
    if precision == "float32" or native_bfloat16(gpu):
        return precision
    where = "GPU" if gpu else "CPU"
    if where not in _WARNED:
        _WARNED.add(where)
        from sunpy_enhance.exceptions import warn_user

        warn_user(f"precision='bfloat16' was asked for, but this {where} has no native bfloat16 arithmetic "
                  f"({'compute capability 8.0 or more' if gpu else 'AVX-512 BF16, AMX or Arm BF16'}), where it "
                  "would be emulated and slower than float32: running in float32 instead. Set "
                  f"{EMULATE_BFLOAT16_ENV}=1 to run emulated bfloat16 anyway (e.g. to study its accuracy).")
    return "float32"


def _keras_backend():
    """The Keras backend of this process, found without importing Keras when it is not imported yet."""
    if sys.modules.get("keras") is not None:
        return sys.modules["keras"].backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    config = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
    try:
        return json.loads(config.read_text()).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow" if _installed("tensorflow") else "jax"


def _onnxruntime_cuda():
    if not _installed("onnxruntime"):
        return False
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def _check_engine(engine):
    if engine not in ENGINES:
        msg = f"engine must be one of {', '.join(map(repr, ENGINES))}, not {engine!r}."
        raise ValueError(msg)


def resolve_engine(engine, model, *, precision="float32", device=None):
    """
    The inference engine `load_model` uses for ``engine``: itself, or for ``"auto"`` the best one here.

    ``"auto"`` chooses, in this order:

    * on a GPU (``device`` not ``"cpu"`` and an NVIDIA GPU visible): ONNX Runtime's CUDA provider when it
      is installed (onnxruntime-gpu), the model has ``model.onnx`` and the precision is float32; otherwise
      Keras on JAX when Keras runs on JAX in this process or TensorFlow is not installed; otherwise
      TensorFlow;
    * on a CPU: ONNX Runtime when the model has ``model.onnx`` and the precision is float32 (the fastest
      CPU engine: 1.5x TensorFlow on a 2-core AVX2 CPU, see the performance page); otherwise TensorFlow,
      or Keras on JAX when TensorFlow is absent or Keras runs on JAX.

    Parameters
    ----------
    engine : {"auto", "onnxruntime", "tensorflow", "jax"}
    model : str or `os.PathLike`
        Bundled model name or model directory.
    precision : {"float32", "bfloat16"}, optional
        The precision that will be used (after `native_bfloat16` was consulted).
    device : {"cpu", "gpu"}, optional
        A device forced by the caller.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        For an unknown engine (the message lists the allowed ones).
    """
    _check_engine(engine)
    if engine != "auto":
        return engine
    has_onnx = (model_directory(model) / ONNX_FILE).is_file() and _installed("onnxruntime")
    keras_engine = "jax" if _keras_backend() == "jax" or not _installed("tensorflow") else "tensorflow"
    if device != "cpu" and _gpu_visible():
        if precision == "float32" and has_onnx and _onnxruntime_cuda():
            return "onnxruntime"
        return keras_engine
    if precision == "float32" and has_onnx:
        return "onnxruntime"
    return keras_engine


def load_model(model, *, precision="float32", engine="auto", device=None):
    """
    Load a bundled or exported model once per process, on the engine and in the precision for this machine.

    Parameters
    ----------
    model : str or `os.PathLike`
        Bundled model name (e.g. ``"enhance-continuum"``) or model directory.
    precision : {"float32", "bfloat16"}, optional
        Arithmetic of the hidden layers; the output layer is always float32. bfloat16 is used only where
        the hardware computes it natively (`native_bfloat16`); elsewhere a warning (once per process) says
        so and float32 is used.
    engine : {"auto", "onnxruntime", "tensorflow", "jax"}, optional
        Inference engine; ``"auto"`` picks the fastest available here (`resolve_engine`).
    device : {"cpu", "gpu"}, optional
        A device forced by the caller (ONNX Runtime: which provider; TensorFlow and JAX place work when called).

    Returns
    -------
    `LoadedModel`
        Cached: the same object for the same model, effective precision and engine.

    Raises
    ------
    ValueError
        For an unknown engine or precision, an engine not available here, or ``device="gpu"`` with ONNX
        Runtime but no CUDA provider or GPU.
    """
    _check_engine(engine)
    if device not in (None, "cpu", "gpu"):
        msg = f"device must be 'cpu', 'gpu' or None (automatic), not {device!r}."
        raise ValueError(msg)
    directory = model_directory(model).resolve()
    gpu = device != "cpu" and _gpu_visible()
    precision = _hardware_precision(precision, gpu)
    engine = resolve_engine(engine, directory, precision=precision, device=device)
    use_cuda = engine == "onnxruntime" and gpu and _onnxruntime_cuda()
    if engine == "onnxruntime" and device == "gpu" and not use_cuda:
        msg = ("device='gpu' with engine='onnxruntime' needs a visible NVIDIA GPU and onnxruntime-gpu (its CUDA "
               "provider); use device=None or 'cpu', or another engine.")
        raise ValueError(msg)
    return _load(str(directory), precision, engine, use_cuda)
