"""
Tests of the denoising U-Net and of the rebuild of the published Bayesian network.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

from sunpy_enhance.denoise.network import (
    StopGradient,
    build_published_bayes_unet,
    build_unet,
    load_published_weights,
    unet_multiple,
)
from sunpy_enhance.models import build_from_card


def test_published_parameter_counts():
    # 32 start channels, depth 2: the size quoted in the build_unet docstring.
    assert build_unet().count_params() == 517153
    assert build_unet(bayesian=True).count_params() == 535682


@pytest.mark.parametrize("shape", [(16, 16), (24, 40), (64, 32)])
def test_fully_convolutional_shapes(shape):
    model = build_unet(channels=4, depth=2, bayesian=True)
    out = model(np.zeros((2, *shape, 1), np.float32))
    assert out.shape == (2, *shape, 2)
    plain = build_unet(channels=4, depth=2)
    assert plain(np.zeros((1, *shape, 1), np.float32)).shape == (1, *shape, 1)


def test_residual_network_starts_as_identity():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 32, 32, 1)).astype(np.float32)
    model = build_unet(channels=4, depth=2, bayesian=True)
    out = np.asarray(model(x))
    np.testing.assert_allclose(out[..., 0], x[..., 0], atol=1e-6)
    # The log-variance head starts at -2 everywhere.
    np.testing.assert_allclose(out[..., 1], -2.0, atol=1e-6)


def test_non_residual_network_is_not_identity():
    x = np.random.default_rng(0).standard_normal((1, 32, 32, 1)).astype(np.float32)
    out = np.asarray(build_unet(channels=4, depth=2, residual=False)(x))
    assert not np.allclose(out, x)


def test_reflection_padding_has_no_edge_effects_on_a_constant_image():
    # With reflection padding a constant image stays constant up to the edges (zero padding would not).
    model = build_unet(channels=4, depth=2, residual=False)
    out = np.asarray(model(np.full((1, 32, 32, 1), 3.0, np.float32)))[0, ..., 0]
    assert np.ptp(out) < 1e-5 * max(1.0, np.abs(out).max())


def test_variance_head_does_not_train_the_trunk():
    model = build_unet(channels=4, depth=1, bayesian=True)
    rng = np.random.default_rng(5)
    model.set_weights([0.3 * rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()])
    x = tf.constant(np.random.default_rng(2).standard_normal((2, 16, 16, 1)), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        out = model(x, training=False)
        mean_loss = tf.reduce_sum(out[..., 0] ** 2)
        var_loss = tf.reduce_sum(out[..., 1] ** 2) + tf.reduce_sum(out[..., 1])
    mean_grads = tape.gradient(mean_loss, model.trainable_weights)
    var_grads = tape.gradient(var_loss, model.trainable_weights)
    trunk = [i for i, g in enumerate(mean_grads) if g is not None and float(tf.reduce_max(tf.abs(g))) > 0]
    head = [i for i, g in enumerate(var_grads) if g is not None and float(tf.reduce_max(tf.abs(g))) > 0]
    assert trunk and head
    assert not set(trunk) & set(head)


def test_mc_dropout_is_stochastic_only_in_training_mode():
    model = build_unet(channels=4, depth=1, bayesian=True, dropout=0.3)
    # Give the correction layer weights so that dropout changes the output.
    w = model.get_layer("correction").get_weights()
    model.get_layer("correction").set_weights([np.ones_like(w[0]) * 0.1, w[1]])
    x = np.random.default_rng(3).standard_normal((1, 16, 16, 1)).astype(np.float32)
    a, b = np.asarray(model(x, training=False)), np.asarray(model(x, training=False))
    np.testing.assert_array_equal(a, b)
    c, d = np.asarray(model(x, training=True)), np.asarray(model(x, training=True))
    assert not np.allclose(c[..., 0], d[..., 0])


def test_invalid_arguments():
    with pytest.raises(ValueError, match="depth"):
        build_unet(depth=-1)
    with pytest.raises(ValueError, match="dropout"):
        build_unet(dropout=1.5)
    assert unet_multiple(2) == 4
    assert unet_multiple(3) == 8


def test_build_from_card_uses_this_builder():
    card = {"architecture": {"name": "unet", "channels": 4, "depth": 2, "bayesian": True, "dropout": 0.1,
                             "residual": True, "parameters": 123}}
    model = build_from_card(card)
    assert model.output_shape == (None, None, None, 2)
    assert isinstance(model.get_layer(index=-1), keras.layers.Layer)


def test_stop_gradient_layer_serialises():
    layer = StopGradient()
    config = layer.get_config()
    assert isinstance(StopGradient.from_config(config), StopGradient)


@pytest.mark.shared_data
def test_published_network_rebuild_reproduces_published_output(shared_data):
    d = shared_data / "denoise"
    model = load_published_weights(build_published_bayes_unet(),
                                   d / "reference_bayes_unet_simulation_weights.hdf5")
    noisy = np.load(d / "synthetic_polarization_noisy.npy").astype(np.float32)
    out = np.asarray(model(noisy[None, :, :, None]))[0]
    published = np.load(d / "synthetic_polarization_reference_bayes_mean_logvar.npy")
    # The published file is (outputs, batch, y, x, 1) with output 0 the log-variance and 1 the mean.
    np.testing.assert_allclose(out[..., 0], published[1, 0, :, :, 0], atol=1e-6)
    np.testing.assert_allclose(out[..., 1], published[0, 0, :, :, 0], atol=1e-4)
