"""The GAN and VAE examples' first training steps against Keras 3 (PyTorch backend): the same
architecture, the same weights, the same latent vectors and noise give the same losses, and
the same weights after the optimisers' first updates."""
import importlib.util
import os
import sys

import keras
import numpy as np
import pytest
import torch

import deepgrad as dg

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _fashion(n):
    (x, _), _ = dg.datasets.fashion_mnist.load_data()
    return (x[:n].astype("float32") / 255.0)[..., None]


def _keras_grads(loss, variables):
    return torch.autograd.grad(loss, [v.value for v in variables])


def _keras_dcgan_models():
    L = keras.layers
    discriminator = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        L.Conv2D(64, kernel_size=4, strides=2, padding="same"), L.LeakyReLU(negative_slope=0.2),
        L.Conv2D(128, kernel_size=4, strides=2, padding="same"), L.LeakyReLU(negative_slope=0.2),
        L.Flatten(), L.Dropout(0.0), L.Dense(1)])
    generator = keras.Sequential([
        keras.Input(shape=(128,)), L.Dense(7 * 7 * 128), L.Reshape((7, 7, 128)),
        L.Conv2DTranspose(128, kernel_size=4, strides=2, padding="same"), L.BatchNormalization(),
        L.LeakyReLU(negative_slope=0.2),
        L.Conv2DTranspose(64, kernel_size=4, strides=2, padding="same"), L.BatchNormalization(),
        L.LeakyReLU(negative_slope=0.2),
        L.Conv2D(1, kernel_size=5, padding="same", activation="sigmoid")])
    return discriminator, generator


@pytest.mark.slow
def test_dcgan_first_steps_match_keras():
    example = load_example("dcgan_fashion_mnist")
    dg.utils.set_random_seed(0)
    gan = example.GAN(example.build_discriminator(), example.build_generator())
    for layer in gan.discriminator.layers:  # the one random draw the two cannot share: dropout's mask
        if type(layer).__name__ == "Dropout":
            layer.rate = 0.0
    kd, kg = _keras_dcgan_models()
    kd.set_weights(gan.discriminator.get_weights())
    kg.set_weights(gan.generator.get_weights())

    rng = np.random.default_rng(5)
    batch, steps = 8, 2
    real = [_fashion(batch * steps)[i * batch:(i + 1) * batch] for i in range(steps)]
    latents = [rng.normal(size=(batch, 128)).astype("float32") for _ in range(2 * steps)]
    noises = [0.05 * rng.uniform(size=(2 * batch, 1)).astype("float32") for _ in range(steps)]
    draws, noise_draws = iter(latents), iter(noises)
    gan.sample_latent = lambda n: next(draws)
    gan.label_noise = lambda shape: next(noise_draws)
    gan.compile(d_optimizer=dg.optimizers.Adam(2e-4, beta_1=0.5), g_optimizer=dg.optimizers.Adam(2e-4, beta_1=0.5),
                loss_fn=dg.losses.BinaryCrossentropy(from_logits=True))

    d_opt, g_opt = keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5)
    loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
    for step in range(steps):
        ours = gan.train_on_batch(real[step], return_dict=True)
        # Keras, the PyTorch way (the Keras torch guide's GAN step)
        z1, z2, noise = latents[2 * step], latents[2 * step + 1], noises[step]
        combined = keras.ops.concatenate([kg(z1, training=True), real[step]], axis=0)
        labels = keras.ops.concatenate([keras.ops.ones((batch, 1)), keras.ops.zeros((batch, 1))], axis=0) + noise
        d_loss = loss_fn(labels, kd(combined, training=True))
        grads = _keras_grads(d_loss, kd.trainable_weights)
        with torch.no_grad():
            d_opt.apply(grads, kd.trainable_weights)
        g_loss = loss_fn(keras.ops.zeros((batch, 1)), kd(kg(z2, training=True), training=True))
        grads = _keras_grads(g_loss, kg.trainable_weights)
        with torch.no_grad():
            g_opt.apply(grads, kg.trainable_weights)
        # train_on_batch starts from reset trackers: each step's logs are that step's losses
        assert gan.d_loss_metric.count == 1
        assert ours["d_loss"] == pytest.approx(float(d_loss), abs=1e-5)
        assert ours["g_loss"] == pytest.approx(float(g_loss), abs=1e-5)
    for ours_w, theirs_w in zip(gan.generator.get_weights() + gan.discriminator.get_weights(),
                                kg.get_weights() + kd.get_weights()):
        np.testing.assert_allclose(ours_w, theirs_w, atol=2e-5, rtol=1e-4)


class _KerasSampling(keras.layers.Layer):
    def __init__(self, eps, **kwargs):
        super().__init__(**kwargs)
        self.eps = eps

    def call(self, inputs):
        z_mean, z_log_var = inputs
        return z_mean + keras.ops.exp(0.5 * z_log_var) * keras.ops.convert_to_tensor(next(self.eps))

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def _keras_vae(eps):
    L = keras.layers
    inputs = keras.Input(shape=(28, 28, 1))
    x = L.Conv2D(32, 3, activation="relu", strides=2, padding="same")(inputs)
    x = L.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = L.Dense(16, activation="relu")(L.Flatten()(x))
    z_mean, z_log_var = L.Dense(2)(x), L.Dense(2)(x)
    encoder = keras.Model(inputs, [z_mean, z_log_var, _KerasSampling(eps)([z_mean, z_log_var])])
    latent = keras.Input(shape=(2,))
    x = L.Reshape((7, 7, 64))(L.Dense(7 * 7 * 64, activation="relu")(latent))
    x = L.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = L.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    decoder = keras.Model(latent, L.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x))
    return encoder, decoder


@pytest.mark.slow
def test_vae_first_steps_match_keras():
    example = load_example("vae_fashion_mnist")
    dg.utils.set_random_seed(0)
    vae = example.VAE(example.build_encoder(), example.build_decoder())
    rng = np.random.default_rng(6)
    batch, steps = 16, 2
    eps = [rng.normal(size=(batch, 2)).astype("float32") for _ in range(steps)]
    sampling = next(layer for layer in vae.encoder.layers if isinstance(layer, example.Sampling))
    draws = iter(eps)
    sampling.noise = lambda shape: next(draws)
    ke, kd = _keras_vae(iter(eps))
    ke.set_weights(vae.encoder.get_weights())
    kd.set_weights(vae.decoder.get_weights())
    vae.compile(optimizer=dg.optimizers.Adam())
    opt = keras.optimizers.Adam()
    data = _fashion(batch * steps)
    for step in range(steps):
        x = data[step * batch:(step + 1) * batch]
        vae.reset_metrics()
        ours = vae.train_on_batch(x, return_dict=True)
        z_mean, z_log_var, z = ke(x, training=True)
        recon = keras.ops.mean(keras.ops.sum(keras.losses.binary_crossentropy(x, kd(z, training=True)), axis=(1, 2)))
        kl = keras.ops.mean(keras.ops.sum(
            -0.5 * (1 + z_log_var - keras.ops.square(z_mean) - keras.ops.exp(z_log_var)), axis=1))
        total = recon + kl
        variables = ke.trainable_weights + kd.trainable_weights
        grads = _keras_grads(total, variables)
        with torch.no_grad():
            opt.apply(grads, variables)
        assert ours["loss"] == pytest.approx(float(total), rel=1e-5)
        assert ours["reconstruction_loss"] == pytest.approx(float(recon), rel=1e-5)
        assert ours["kl_loss"] == pytest.approx(float(kl), rel=1e-5, abs=1e-6)
    # the second step's losses already agree, so the first update did too; the weights are not
    # compared one by one: Adam moves a weight by about lr whatever its gradient's size, so where
    # a gradient is near 0 (a dead relu channel) float32 rounding shows as a sizeable step
