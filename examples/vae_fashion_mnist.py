"""A convolutional variational autoencoder on Fashion-MNIST (offline), the Keras "Variational
AutoEncoder" program's way: a ``Sampling`` layer draws z = mean + exp(log_var / 2) eps with
``deepgrad.random`` (a ``SeedGenerator``, so runs repeat), encoder and decoder are functional
models, and a ``VAE`` model with a custom ``train_step`` minimises

    reconstruction = mean over images of sum over pixels of binary cross-entropy(x, x_hat)
    kl = mean over images of -1/2 sum_j (1 + log_var_j - mean_j^2 - exp(log_var_j))

reporting both (and their sum, ``loss``) through ``Mean`` trackers. Writes a PNG of test
images over their reconstructions, and a PNG of the decoder's images over a grid of the 2-D
latent space.

    python examples/vae_fashion_mnist.py --epochs 10 --out vae_out
"""
from __future__ import annotations

import argparse
import os

import numpy as np

import deepgrad as keras
from deepgrad import layers, ops
from deepgrad.compat import tensorflow as tf

LATENT_DIM = 2


class Sampling(layers.Layer):
    """(z_mean, z_log_var) -> z = z_mean + exp(z_log_var / 2) * eps, eps ~ N(0, 1)."""

    def __init__(self, seed=1337, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def noise(self, shape):
        return keras.random.normal(shape, seed=self.seed_generator)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = self.noise(z_mean.shape)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def build_encoder(latent_dim=LATENT_DIM):
    encoder_inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    return keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")


def build_decoder(latent_dim=LATENT_DIM):
    latent_inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(latent_inputs, decoder_outputs, name="decoder")


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def losses_of(self, data):
        """(total, reconstruction, kl) for a batch of images."""
        z_mean, z_log_var, z = self.encoder(data, training=True)
        reconstruction = self.decoder(z, training=True)
        reconstruction_loss = ops.mean(ops.sum(keras.losses.binary_crossentropy(data, reconstruction),
                                               axis=(1, 2)))
        kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
        kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
        return reconstruction_loss + kl_loss, reconstruction_loss, kl_loss

    def train_step(self, data):
        if isinstance(data, tuple):
            data = data[0]
        with tf.GradientTape() as tape:
            total_loss, reconstruction_loss, kl_loss = self.losses_of(data)
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {"loss": self.total_loss_tracker.result(),
                "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                "kl_loss": self.kl_loss_tracker.result()}

    def test_step(self, data):
        if isinstance(data, tuple):
            data = data[0]
        total_loss, reconstruction_loss, kl_loss = self.losses_of(data)
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {m.name: m.result() for m in self.metrics}


def _grid(tiles, rows, columns):
    """(rows * columns, 28, 28) images -> one (rows * 28, columns * 28) image."""
    return np.asarray(tiles).reshape(rows, columns, 28, 28).transpose(0, 2, 1, 3).reshape(rows * 28, columns * 28)


def plot_reconstructions(vae, images, path, n=10):
    """Row 1: test images; row 2: their reconstructions (decoded z_mean)."""
    z_mean, _, _ = vae.encoder.predict(images[:n], verbose=0)
    decoded = vae.decoder.predict(z_mean, verbose=0)
    both = np.concatenate([images[:n, ..., 0], decoded[..., 0]])
    keras.utils.save_img(path, _grid(both, 2, n)[..., None], scale=True)


def plot_latent_space(vae, path, n=15, scale=2.0):
    """The decoder's image at each point of an n x n grid over [-scale, scale]^2 of the latent plane."""
    grid_x = np.linspace(-scale, scale, n)
    grid_y = np.linspace(-scale, scale, n)[::-1]
    z = np.stack(np.meshgrid(grid_x, grid_y), axis=-1).reshape(-1, 2).astype(np.float32)
    decoded = vae.decoder.predict(z, verbose=0)[..., 0]
    keras.utils.save_img(path, _grid(decoded, n, n)[..., None], scale=True)


def load_images(samples=None):
    (x_train, _), (x_test, _) = keras.datasets.fashion_mnist.load_data()
    x_train = (x_train[:samples] if samples else x_train).astype("float32")[..., None] / 255.0
    return x_train, x_test.astype("float32")[..., None] / 255.0


def main(epochs=10, batch_size=128, samples=None, out="vae_out", verbose=1, seed=0):
    keras.utils.set_random_seed(seed)
    os.makedirs(out, exist_ok=True)
    x_train, x_test = load_images(samples)
    vae = VAE(build_encoder(), build_decoder())
    vae.compile(optimizer=keras.optimizers.Adam())
    history = vae.fit(x_train, epochs=epochs, batch_size=batch_size, verbose=verbose)
    plot_reconstructions(vae, x_test, os.path.join(out, "reconstructions.png"))
    plot_latent_space(vae, os.path.join(out, "latent_space.png"))
    return vae, history


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--samples", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--out", default="vae_out", help="folder for the PNGs")
    args = parser.parse_args()
    main(args.epochs, args.batch_size, args.samples, args.out)
