"""
The Enhance network ("keepsize") in Keras 3.

A fully convolutional residual network that maps an image at the HMI pixel scale to one with twice as
many pixels a side. It has no fixed input size: the same weights apply to a 50×50 training patch and to
a tile of a full-disk image.
"""
import keras
from keras import layers

from sunpy_enhance.layers import ReflectionPadding2D

__all__ = ["build_enhance_network", "receptive_radius"]


def _conv(x, filters, *, dtype, l2, activation=None, kernel_size=3, name=None, initializer="he_normal"):
    regularizer = keras.regularizers.L2(l2) if l2 else None
    if kernel_size > 1:
        x = ReflectionPadding2D(kernel_size // 2, dtype=dtype)(x)
    return layers.Conv2D(filters, kernel_size, padding="valid", activation=activation,
                         kernel_initializer=initializer, kernel_regularizer=regularizer,
                         dtype=dtype, name=name)(x)


def build_enhance_network(*, blocks=5, filters=64, l2=0.0, dtype="float32", name="enhance"):
    """
    Build the Enhance network of Díaz Baso & Asensio Ramos (2018).

    Input → conv3×3+ReLU (``x0``) → ``blocks`` residual blocks (conv-BN-ReLU-conv-BN plus identity,
    no activation after the sum) → conv3×3+BN added to ``x0`` → nearest-neighbour ×2 upsampling →
    conv3×3+ReLU → linear conv1×1 with one output channel. Every 3×3 convolution is preceded by a
    1-pixel reflection padding, so the output is exactly twice the input size.

    Parameters
    ----------
    blocks : int, optional
        Number of residual blocks (5 as published; 1 for the light variant).
    filters : int, optional
        Filters of every convolution (64 as published; 32 for the light variant).
    l2 : float, optional
        ℓ2 regularisation of the kernels (the paper: 1e-6 continuum, 1e-5 magnetograms).
    dtype : str, optional
        Keras dtype policy of the hidden layers: ``"float32"`` or ``"mixed_bfloat16"``. The last layer
        always computes in float32 so that the output is not quantised.
    name : str, optional
        Model name.

    Returns
    -------
    `keras.Model`
        Input shape ``(None, None, None, 1)``, output ``(None, 2H, 2W, 1)``, float32.

    Notes
    -----
    With the defaults the network has 446,657 parameters (445,249 trainable), as published; the
    light variant (1 block, 32 filters) has 37,729.

    Examples
    --------
    >>> from sunpy_enhance.enhance.network import build_enhance_network
    >>> build_enhance_network().count_params()
    446657
    """
    inputs = keras.Input(shape=(None, None, 1), name="hmi", dtype="float32")
    x0 = _conv(inputs, filters, dtype=dtype, l2=l2, activation="relu")
    x = x0
    for _ in range(blocks):
        y = _conv(x, filters, dtype=dtype, l2=l2)
        y = layers.BatchNormalization(dtype=dtype)(y)
        y = layers.Activation("relu", dtype=dtype)(y)
        y = _conv(y, filters, dtype=dtype, l2=l2)
        y = layers.BatchNormalization(dtype=dtype)(y)
        x = layers.Add(dtype=dtype)([x, y])
    x = _conv(x, filters, dtype=dtype, l2=l2)
    x = layers.BatchNormalization(dtype=dtype)(x)
    x = layers.Add(dtype=dtype)([x, x0])
    x = layers.UpSampling2D(2, interpolation="nearest", dtype=dtype)(x)
    x = _conv(x, filters, dtype=dtype, l2=l2, activation="relu")
    # The output starts at zero (the quiet-Sun level in network units) instead of at a random field
    # ~1 in amplitude, which would cost the first epochs of training.
    outputs = _conv(x, 1, dtype="float32", l2=l2, kernel_size=1, name="output", initializer="zeros")
    return keras.Model(inputs, outputs, name=name)


def receptive_radius(blocks=5):
    """
    Input pixels on each side of a pixel that can influence its output.

    Each 3×3 convolution at the input resolution widens the receptive field by one pixel: the first
    convolution, two per residual block and the one before the long skip. The convolution after the
    upsampling adds half an input pixel, rounded up.

    Parameters
    ----------
    blocks : int
        Residual blocks of the network.

    Returns
    -------
    int
    """
    return 1 + 2 * blocks + 1 + 1
