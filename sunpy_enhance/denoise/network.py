"""
The denoising U-Net (Díaz Baso, de la Cruz Rodríguez & Danilovic 2019) in Keras 3, and its Bayesian
variant with Monte-Carlo dropout and a log-variance head.

The network works on images scaled by their noise level (``image / sigma``): a pixel value of 1 is one
standard deviation of the noise. It is fully convolutional; height and width must be multiples of
``2**depth`` (`sunpy_enhance.denoise.api` pads and crops for you).

A rebuild of the *published* Bayesian network (Keras 2, zero padding, a separate log-variance branch)
is here too, only to run it as a peer on its own published weights (`build_published_bayes_unet`,
`load_published_weights`).
"""
import keras
import numpy as np
from keras import layers, ops

from sunpy_enhance.layers import ReflectionPadding2D

__all__ = [
    "StopGradient",
    "build_published_bayes_unet",
    "build_unet",
    "load_published_weights",
    "unet_multiple",
]


@keras.saving.register_keras_serializable(package="sunpy_enhance")
class StopGradient(layers.Layer):
    """
    Identity in the forward pass; blocks gradients in the backward pass.

    The log-variance head of the Bayesian U-Net reads the denoising trunk's features through this
    layer, so that learning the uncertainty never changes the denoised image.
    """

    def call(self, inputs):
        return ops.stop_gradient(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


def _conv(x, filters, *, dtype, activation="relu", kernel_size=3, name=None):
    if kernel_size > 1:
        x = ReflectionPadding2D(kernel_size // 2, dtype=dtype)(x)
    return layers.Conv2D(filters, kernel_size, padding="valid", activation=activation,
                         kernel_initializer="he_normal", dtype=dtype, name=name)(x)


def _block(x, filters, *, dtype, dropout):
    for _ in range(2):
        x = _conv(x, filters, dtype=dtype)
        if dropout:
            x = layers.Dropout(dropout, dtype=dtype)(x)
    return x


def unet_multiple(depth=2):
    """
    The number that the height and width of a U-Net input must be a multiple of.

    Parameters
    ----------
    depth : int
        Number of 2×2 max-pooling steps.

    Returns
    -------
    int
        ``2**depth``.
    """
    return 2 ** int(depth)


def build_unet(*, channels=32, depth=2, bayesian=False, dropout=None, residual=True, growth=2,
               dtype="float32", name="denoise_unet"):
    """
    Build the denoising U-Net of Díaz Baso et al. (2019), optionally Bayesian.

    Each level is a block of two reflection-padded 3×3 convolutions with ReLU; the encoder halves the
    resolution with 2×2 max pooling and multiplies the channels by ``growth``; the decoder doubles the
    resolution with nearest-neighbour upsampling followed by a reflection-padded 3×3 convolution, and
    concatenates the encoder's features of the same level (skip connection). A linear 1×1 convolution
    makes the output. No batch normalisation.

    Parameters
    ----------
    channels : int, optional
        Channels of the first level (32 as published).
    depth : int, optional
        Number of pooling steps (2 as published).
    bayesian : bool, optional
        Add Monte-Carlo dropout after every convolution block and a second output, the log of the
        variance of the error of the denoised value (see Notes).
    dropout : float, optional
        Dropout rate; defaults to 0.1 when ``bayesian`` and 0 otherwise.
    residual : bool, optional
        Predict a correction that is added to the input (the output is ``input + correction``). This
        keeps strong signals (a sunspot in a magnetogram is hundreds of σ) exactly where they are and lets
        the network spend its capacity on the noise.
    growth : int, optional
        Factor by which the channels grow at each level.
    dtype : str, optional
        Keras dtype policy of the hidden layers (``"float32"`` or ``"mixed_bfloat16"``). The output
        layers always compute in float32.
    name : str, optional
        Model name.

    Returns
    -------
    `keras.Model`
        Input ``(None, None, None, 1)`` (noise-scaled image). Output ``(None, H, W, 1)`` — the denoised
        image in the same units — or, when ``bayesian``, ``(None, H, W, 2)``: channel 0 the denoised
        image, channel 1 the log-variance ``log s²`` of its error.

    Notes
    -----
    The second output of the Bayesian network is trained with the Gaussian negative log-likelihood of
    the (noisy) training target ``y``: ``0.5 [log v + (y - μ)² / v]`` with ``v = σ_t² + s²``, where
    ``σ_t`` is the known noise of the target in the scaled units (1 for Noise2Noise and blind-spot
    training, 0 with clean targets). The head therefore learns ``s²``, the expected squared error of the
    denoised value with respect to the *clean* signal, and not the noise of the target, which is what a
    user of the denoised image needs. The spread of the outputs under Monte-Carlo dropout (calling the
    model with ``training=True``) is the epistemic part. The head reads the trunk's features through
    `StopGradient`, so it never alters the denoised image.

    With the defaults the network has 517,153 parameters, the Bayesian one 535,682.

    References
    ----------
    * Díaz Baso, C. J., de la Cruz Rodríguez, J., Danilovic, S. 2019, A&A 629, A99,
      :doi:`10.1051/0004-6361/201936069`
    * Ronneberger, O., Fischer, P., Brox, T. 2015, MICCAI, :doi:`10.1007/978-3-319-24574-4_28`
    * Kendall, A., Gal, Y. 2017, NeurIPS, "What uncertainties do we need in Bayesian deep learning for
      computer vision?"

    Examples
    --------
    >>> from sunpy_enhance.denoise.network import build_unet
    >>> model = build_unet(channels=8, depth=2, bayesian=True)
    >>> model.output_shape
    (None, None, None, 2)
    """
    depth = int(depth)
    if depth < 0:
        msg = f"depth must be 0 or more, not {depth}."
        raise ValueError(msg)
    if dropout is None:
        dropout = 0.1 if bayesian else 0.0
    dropout = float(dropout)
    if not 0.0 <= dropout < 1.0:
        msg = f"dropout must be in [0, 1), not {dropout}."
        raise ValueError(msg)

    inputs = keras.Input(shape=(None, None, 1), name="noisy", dtype="float32")
    x = inputs
    skips = []
    width = int(channels)
    for _ in range(depth):
        x = _block(x, width, dtype=dtype, dropout=dropout)
        skips.append((x, width))
        x = layers.MaxPooling2D(2, dtype=dtype)(x)
        width = int(width * growth)
    x = _block(x, width, dtype=dtype, dropout=dropout)
    for skip, width in reversed(skips):
        x = layers.UpSampling2D(2, interpolation="nearest", dtype=dtype)(x)
        x = _conv(x, width, dtype=dtype)
        x = layers.Concatenate(dtype=dtype)([skip, x])
        x = _block(x, width, dtype=dtype, dropout=dropout)
    features = x
    # A zero-initialised residual output starts as the identity (the input is already the best guess).
    mean = layers.Conv2D(1, 1, activation=None, dtype="float32", name="correction" if residual else "mean",
                         kernel_initializer="zeros" if residual else "glorot_uniform")(features)
    if residual:
        mean = layers.Add(dtype="float32", name="mean")([inputs, mean])
    if not bayesian:
        return keras.Model(inputs, mean, name=name)

    h = StopGradient(dtype=dtype)(features)
    h = _conv(h, int(channels), dtype=dtype)
    h = _conv(h, int(channels), dtype=dtype)
    # Start near log s² = -2 (errors of ~0.4 σ), a sensible prior for a denoiser.
    logvar = layers.Conv2D(1, 1, activation=None, dtype="float32", name="logvar",
                           bias_initializer=keras.initializers.Constant(-2.0),
                           kernel_initializer="zeros")(h)
    outputs = layers.Concatenate(dtype="float32", name="mean_logvar")([mean, logvar])
    return keras.Model(inputs, outputs, name=name)


# --------------------------------------------------------------------------------------------------
# The published network, rebuilt only to compare with it on its own weights.

def build_published_bayes_unet():
    """
    Rebuild the published Bayesian U-Net of Díaz Baso et al. (2019) in Keras 3, to load its weights.

    Same layers and order as the authors' Keras 2.1.6 model ``model_regression_dropout_var``: a U-Net
    (32 start channels, depth 2, zero "same" padding, 2×2 convolution after each upsampling) for the
    mean, and a separate branch of eight 3×3 convolutions from the input for the log-variance, which is
    ``-|x| - 12`` of its last 1×1 convolution. It works in the units of the data (continuum intensity),
    not scaled by the noise. The dropout rate it was trained with is not stored with its weights; this
    rebuild has none, so it gives the aleatoric uncertainty only.

    Returns
    -------
    `keras.Model`
        Input ``(None, H, W, 1)`` with H, W multiples of 4; output ``(None, H, W, 2)``: channel 0 the
        mean, channel 1 the log-variance.
    """
    inputs = keras.Input(shape=(None, None, 1), name="input")

    def conv(x, filters, size=3, activation="relu", name=None):
        return layers.Conv2D(filters, size, padding="same", activation=activation, name=name)(x)

    c1 = conv(conv(inputs, 32, name="conv2d_1"), 32, name="conv2d_2")
    x = layers.MaxPooling2D()(c1)
    c2 = conv(conv(x, 64, name="conv2d_3"), 64, name="conv2d_4")
    x = layers.MaxPooling2D()(c2)
    x = conv(conv(x, 128, name="conv2d_5"), 128, name="conv2d_6")
    x = conv(layers.UpSampling2D()(x), 64, 2, name="conv2d_7")
    x = conv(conv(layers.Concatenate()([c2, x]), 64, name="conv2d_8"), 64, name="conv2d_9")
    x = conv(layers.UpSampling2D()(x), 32, 2, name="conv2d_10")
    x = conv(conv(layers.Concatenate()([c1, x]), 32, name="conv2d_11"), 32, name="conv2d_12")
    mean = conv(x, 1, 1, activation=None, name="linear_output")
    v = inputs
    for k in range(13, 21):
        v = conv(v, 32, name=f"conv2d_{k}")
    v = conv(v, 1, 1, activation=None, name="conv2d_21")
    logvar = layers.Lambda(lambda t: -ops.abs(t) - 12.0, name="variance_output")(v)
    outputs = layers.Concatenate()([mean, logvar])
    return keras.Model(inputs, outputs, name="published_bayes_unet")


def load_published_weights(model, path):
    """
    Load the authors' Keras 2 HDF5 weights into `build_published_bayes_unet`.

    Parameters
    ----------
    model : `keras.Model`
        From `build_published_bayes_unet`.
    path : `os.PathLike`
        ``*_bayes_weights.hdf5`` from the published repository.

    Returns
    -------
    `keras.Model`
        ``model``, with its weights set.
    """
    import h5py

    with h5py.File(path, "r") as f:
        for layer in model.layers:
            if not isinstance(layer, layers.Conv2D):
                continue
            group = f[layer.name][layer.name]
            kernel = np.asarray(group["kernel:0"])
            bias = np.asarray(group["bias:0"])
            layer.set_weights([kernel, bias])
    return model
