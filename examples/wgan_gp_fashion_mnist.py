"""A Wasserstein GAN with gradient penalty (WGAN-GP) on Fashion-MNIST (offline), the Keras
"WGAN-GP" program's way: a ``WGAN`` model whose ``compile`` takes two optimizers and two
loss functions as keyword arguments, a ``train_step`` that trains the critic ``d_steps``
times per generator step, and the gradient penalty

    gp = mean over the batch of (|d critic(x_hat) / d x_hat|_2 - 1)^2,
    x_hat = real + alpha (fake - real), alpha ~ U(0, 1) per image,

computed with a ``GradientTape`` nested in the critic's tape: the critic's loss contains a
gradient, so its update needs the gradient of that gradient (``create_graph``).

Images are scaled to [-1, 1]; the generator ends in ``tanh``. A PNG grid of samples is saved
at the end of every epoch.

    python examples/wgan_gp_fashion_mnist.py --epochs 20 --out wgan_samples
"""
from __future__ import annotations

import argparse
import os

import numpy as np

import deepgrad as keras
from deepgrad import layers, ops
from deepgrad.compat import tensorflow as tf

LATENT_DIM = 128


def build_critic():
    """28x28x1 image in [-1, 1] -> an unbounded score (higher: more real)."""
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.ZeroPadding2D((2, 2)),  # 32x32, as the Keras program pads
        layers.Conv2D(64, 5, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, 5, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Dropout(0.3),
        layers.Flatten(),
        layers.Dropout(0.2),
        layers.Dense(1),
    ], name="critic")


def build_generator(latent_dim=LATENT_DIM):
    return keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        layers.Dense(7 * 7 * 128, use_bias=False),
        layers.BatchNormalization(),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Reshape((7, 7, 128)),
        layers.Conv2DTranspose(64, 4, strides=2, padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh"),
    ], name="generator")


def discriminator_loss(real_img, fake_img):
    """Wasserstein critic loss: E[D(fake)] - E[D(real)]."""
    return ops.mean(fake_img) - ops.mean(real_img)


def generator_loss(fake_img):
    return -ops.mean(fake_img)


class WGAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim=LATENT_DIM, discriminator_extra_steps=3, gp_weight=10.0,
                 seed=1337):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_steps = discriminator_extra_steps
        self.gp_weight = gp_weight
        self.seed_generator = keras.random.SeedGenerator(seed)

    def compile(self, d_optimizer, g_optimizer, d_loss_fn, g_loss_fn, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.d_loss_fn = d_loss_fn
        self.g_loss_fn = g_loss_fn

    def gradient_penalty(self, batch_size, real_images, fake_images):
        """mean((|grad_x critic(x)| - 1)^2) at points between the real and the fake images."""
        alpha = keras.random.uniform((batch_size, 1, 1, 1), seed=self.seed_generator)
        interpolated = real_images + alpha * (fake_images - real_images)
        with tf.GradientTape() as gp_tape:
            gp_tape.watch(interpolated)
            pred = self.discriminator(interpolated, training=True)
        grads = gp_tape.gradient(pred, [interpolated])[0]
        norm = ops.sqrt(ops.sum(ops.square(grads), axis=[1, 2, 3]))
        return ops.mean((norm - 1.0) ** 2)

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        batch_size = real_images.shape[0]
        for _ in range(self.d_steps):
            random_latent_vectors = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
            with tf.GradientTape() as tape:
                fake_images = self.generator(random_latent_vectors, training=True)
                fake_logits = self.discriminator(fake_images, training=True)
                real_logits = self.discriminator(real_images, training=True)
                d_cost = self.d_loss_fn(real_img=real_logits, fake_img=fake_logits)
                gp = self.gradient_penalty(batch_size, real_images, fake_images)
                d_loss = d_cost + gp * self.gp_weight
            d_gradient = tape.gradient(d_loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply_gradients(zip(d_gradient, self.discriminator.trainable_variables))

        random_latent_vectors = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            generated_images = self.generator(random_latent_vectors, training=True)
            gen_img_logits = self.discriminator(generated_images, training=True)
            g_loss = self.g_loss_fn(gen_img_logits)
        gen_gradient = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(gen_gradient, self.generator.trainable_variables))
        return {"d_loss": d_loss, "g_loss": g_loss, "gp": gp}


class GANMonitor(keras.callbacks.Callback):
    """A PNG grid of ``num_img`` samples (the same latent points each epoch) after every epoch."""

    def __init__(self, out_dir, num_img=64, latent_dim=LATENT_DIM, seed=42):
        super().__init__()
        self.out_dir, self.paths = out_dir, []
        self.latent = np.random.default_rng(seed).normal(size=(num_img, latent_dim)).astype(np.float32)

    def on_epoch_end(self, epoch, logs=None):
        images = (self.model.generator.predict(self.latent, verbose=0)[..., 0] + 1.0) / 2.0
        columns = 8
        rows = -(-len(images) // columns)
        tiles = np.zeros((rows * columns, 28, 28), np.float32)
        tiles[:len(images)] = images
        grid = tiles.reshape(rows, columns, 28, 28).transpose(0, 2, 1, 3).reshape(rows * 28, columns * 28)
        path = os.path.join(self.out_dir, f"generated_epoch_{epoch + 1:03d}.png")
        keras.utils.save_img(path, grid[..., None], scale=True)
        self.paths.append(path)


def load_images(samples=None):
    (x_train, _), _ = keras.datasets.fashion_mnist.load_data()
    x = x_train[:samples] if samples else x_train
    return ((x.astype("float32") - 127.5) / 127.5)[..., None]  # [-1, 1]


def main(epochs=20, batch_size=64, samples=None, out="wgan_samples", d_steps=3, verbose=1, seed=0):
    keras.utils.set_random_seed(seed)
    os.makedirs(out, exist_ok=True)
    wgan = WGAN(build_critic(), build_generator(), discriminator_extra_steps=d_steps)
    wgan.compile(d_optimizer=keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.9),
                 g_optimizer=keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.9),
                 d_loss_fn=discriminator_loss, g_loss_fn=generator_loss)
    monitor = GANMonitor(out)
    history = wgan.fit(load_images(samples), epochs=epochs, batch_size=batch_size, callbacks=[monitor],
                       verbose=verbose)
    return wgan, history, monitor.paths


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--samples", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--d-steps", type=int, default=3, help="critic updates per generator update")
    parser.add_argument("--out", default="wgan_samples", help="folder for the PNG grids")
    args = parser.parse_args()
    main(args.epochs, args.batch_size, args.samples, args.out, args.d_steps)
