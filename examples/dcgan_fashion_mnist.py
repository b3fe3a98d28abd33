"""A DCGAN on Fashion-MNIST (offline), the Keras "DCGAN to generate face images" program's
way: a ``GAN`` model that overrides ``compile`` (two optimizers and a loss, as keyword
arguments) and ``train_step``, ``Mean`` trackers listed in its ``metrics`` property (``fit``
resets them each epoch and reports them in ``History``), and a callback that saves a PNG
grid of samples at the end of every epoch.

The generator mirrors the discriminator with ``Conv2DTranspose`` layers, each followed by
``BatchNormalization`` and ``LeakyReLU``; images are 28x28x1 in [0, 1].

    python examples/dcgan_fashion_mnist.py --epochs 20 --out dcgan_samples
    python examples/dcgan_fashion_mnist.py --epochs 1 --samples 512 --out /tmp/dcgan   # a short run
    python examples/dcgan_fashion_mnist.py --epochs 20 --out dcgan_samples --resume    # go on
"""
from __future__ import annotations

import argparse
import os

import numpy as np

import deepgrad as keras
from deepgrad import layers, ops
from deepgrad.compat import tensorflow as tf

LATENT_DIM = 128


def build_discriminator():
    """28x28x1 image -> a logit: the log-odds that it was generated."""
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(64, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Flatten(),
        layers.Dropout(0.2),
        layers.Dense(1),
    ], name="discriminator")


def build_generator(latent_dim=LATENT_DIM):
    """A latent vector -> a 28x28x1 image in [0, 1]."""
    return keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        layers.Dense(7 * 7 * 128),
        layers.Reshape((7, 7, 128)),
        layers.Conv2DTranspose(128, kernel_size=4, strides=2, padding="same"),
        layers.BatchNormalization(),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(64, kernel_size=4, strides=2, padding="same"),
        layers.BatchNormalization(),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, kernel_size=5, padding="same", activation="sigmoid"),
    ], name="generator")


class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim=LATENT_DIM, seed=1337):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")

    def compile(self, d_optimizer, g_optimizer, loss_fn, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    @property
    def metrics(self):
        return [self.d_loss_metric, self.g_loss_metric]

    def sample_latent(self, batch_size):
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def label_noise(self, shape):
        """Noise added to the labels (the Keras program's "important trick")."""
        return 0.05 * keras.random.uniform(shape, seed=self.seed_generator)

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        batch_size = real_images.shape[0]

        # the discriminator: generated images are labelled 1, real ones 0
        generated_images = self.generator(self.sample_latent(batch_size), training=True)
        combined_images = ops.concatenate([generated_images, real_images], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        labels = labels + self.label_noise(labels.shape)
        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images, training=True)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

        # the generator: its images should be called real (0); only its weights move
        random_latent_vectors = self.sample_latent(batch_size)
        misleading_labels = ops.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(random_latent_vectors, training=True), training=True)
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))

        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}


def save_grid(images, path, columns=8):
    """A PNG of ``images`` (n, 28, 28, 1) in [0, 1], ``columns`` per row."""
    images = np.asarray(images)[..., 0]
    rows = -(-len(images) // columns)
    grid = np.zeros((rows * 28, columns * 28), np.float32)
    for k, img in enumerate(images):  # one tile per image
        r, c = divmod(k, columns)
        grid[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28] = img
    keras.utils.save_img(path, grid[..., None], scale=True)


class GANMonitor(keras.callbacks.Callback):
    """Saves a grid of ``num_img`` generated images at the end of every epoch."""

    def __init__(self, out_dir, num_img=64, latent_dim=LATENT_DIM, seed=42):
        super().__init__()
        self.out_dir, self.num_img = out_dir, num_img
        # the same latent points every epoch, so the grids show the generator's progress
        self.latent = np.random.default_rng(seed).normal(size=(num_img, latent_dim)).astype(np.float32)
        self.paths = []

    def on_epoch_end(self, epoch, logs=None):
        images = self.model.generator.predict(self.latent, verbose=0)
        path = os.path.join(self.out_dir, f"generated_epoch_{epoch + 1:03d}.png")
        save_grid(images, path)
        self.paths.append(path)
        # both networks so far, so that a long run that is stopped leaves a model behind and can
        # go on with --resume
        self.model.generator.save_weights(os.path.join(self.out_dir, "generator.weights.safetensors"))
        self.model.discriminator.save_weights(os.path.join(self.out_dir, "discriminator.weights.safetensors"))


def standing_statistics(generator, count=1024, latent_dim=LATENT_DIM, seed=7):
    """Set the generator's BatchNormalization moving mean and variance to the batch statistics
    of ``count`` samples (one training-mode pass at ``momentum = 0``): the statistics that go
    with its current weights. Averaged weights need this, since the moving statistics gathered
    along training belong to the weights of each step, not to their average."""
    norms = [layer for layer in generator.layers if isinstance(layer, layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    z = np.random.default_rng(seed).normal(size=(count, latent_dim)).astype(np.float32)
    try:
        for layer in norms:
            layer.momentum = 0.0
        generator(z, training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum


class GeneratorAverage(keras.callbacks.Callback):
    """An exponential moving average of the generator's weights, kept beside training and saved
    each epoch as ``generator_ema.weights.safetensors`` with its own batch-norm statistics
    (``standing_statistics``): averaged GAN generators give cleaner samples than the last
    iterate (Yazici et al., 2019, "The unusual effectiveness of averaging in GAN training")."""

    def __init__(self, out_dir, momentum=0.999, resume=False):
        super().__init__()
        self.out_dir, self.momentum, self.resume = out_dir, momentum, resume
        self.average = None

    def path(self):
        return os.path.join(self.out_dir, "generator_ema.weights.safetensors")

    def on_train_begin(self, logs=None):
        generator = self.model.generator
        if self.resume and os.path.exists(self.path()):
            current = generator.get_weights()
            generator.load_weights(self.path())
            self.average = generator.get_weights()
            generator.set_weights(current)
        else:
            self.average = [np.array(w, copy=True) for w in generator.get_weights()]

    def on_train_batch_end(self, batch, logs=None):
        # average <- m average + (1 - m) weights, in place
        for average, weights in zip(self.average, self.model.generator.get_weights()):
            average *= self.momentum
            average += (1.0 - self.momentum) * weights

    def on_epoch_end(self, epoch, logs=None):
        generator = self.model.generator
        current = generator.get_weights()
        generator.set_weights(self.average)
        standing_statistics(generator, latent_dim=self.model.latent_dim)
        generator.save_weights(self.path())
        generator.set_weights(current)


def load_images(samples=None):
    """Fashion-MNIST train and test images as (n, 28, 28, 1) floats in [0, 1]."""
    (x_train, _), (x_test, _) = keras.datasets.fashion_mnist.load_data()
    images = np.concatenate([x_train, x_test])
    if samples:
        images = images[:samples]
    return (images.astype("float32") / 255.0)[..., None]


def main(epochs=20, batch_size=64, samples=None, out="dcgan_samples", learning_rate=2e-4, verbose=1, seed=0,
         average=0.999, resume=False):
    keras.utils.set_random_seed(seed)
    os.makedirs(out, exist_ok=True)
    images = load_images(samples)
    gan = GAN(discriminator=build_discriminator(), generator=build_generator())
    if resume:  # the networks of an earlier run in ``out`` (the optimizers start afresh)
        gan.generator.load_weights(os.path.join(out, "generator.weights.safetensors"))
        gan.discriminator.load_weights(os.path.join(out, "discriminator.weights.safetensors"))
    gan.compile(d_optimizer=keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.5),
                loss_fn=keras.losses.BinaryCrossentropy(from_logits=True))
    monitor = GANMonitor(out)
    callbacks = [monitor] + ([GeneratorAverage(out, average, resume)] if average else [])
    history = gan.fit(images, epochs=epochs, batch_size=batch_size, callbacks=callbacks, verbose=verbose)
    return gan, history, monitor.paths


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--samples", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--out", default="dcgan_samples", help="folder for the PNG grids and the weights")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--average", type=float, default=0.999,
                        help="momentum of the generator's weight average (0: none)")
    parser.add_argument("--resume", action="store_true", help="start from the networks saved in --out")
    args = parser.parse_args()
    main(args.epochs, args.batch_size, args.samples, args.out, seed=args.seed, average=args.average,
         resume=args.resume)
