"""``deepgrad train --model gan`` and ``--model vae``: generative models trained on a dataset's images.

``gan`` is a DCGAN (the Keras "DCGAN" program's networks: strided Conv2D discriminator with
LeakyReLU, a generator of Conv2DTranspose + BatchNormalization + LeakyReLU, a sigmoid image),
trained by a ``train_step`` that updates the discriminator, then the generator, each with its own
Adam (lr 2e-4, beta_1 0.5 unless ``--learning-rate`` says otherwise). ``vae`` is the Keras
"Variational AutoEncoder" program's convolutional VAE with a 2-D latent space.

The run folder holds, besides run.json, history.csv and metrics.json:

- gan: generator.deepgrad, discriminator.deepgrad, samples_epoch_NNN.png (the same latent points
  every epoch), samples.png (the last), curves.png;
- vae: encoder.deepgrad (image -> z_mean, z_log_var), decoder.deepgrad, reconstructions.png
  (test images over their reconstructions), latent_space.png (the decoder over a grid of the
  latent plane), latent_scatter.png (test images' z_mean by class), curves.png.

``--resume`` continues from the last finished epoch: the networks' weights, both optimizers'
state and the random state come back from the backup.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

GENERATIVE = ("gan", "vae")
LATENT_GAN = 128
LATENT_VAE = 2


class GenerativeError(Exception):
    """A dataset or option the generative models cannot take (the CLI prints it as its errors)."""


def _check_images(shape) -> None:
    if len(shape) != 3 or shape[0] % 4 or shape[1] % 4:
        raise GenerativeError(f"the gan and vae models take images whose height and width are multiples of 4 "
                              f"(28x28 Fashion-MNIST/MNIST, 32x32 CIFAR-10), not inputs of shape {tuple(shape)}")


# --------------------------------------------------------------------------- DCGAN
def build_discriminator(image_shape):
    """An image -> a logit: the log-odds that it was generated."""
    from . import Sequential, layers

    return Sequential([
        layers.Input(shape=image_shape),
        layers.Conv2D(64, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Flatten(),
        layers.Dropout(0.2),
        layers.Dense(1),
    ], name="discriminator")


def build_generator(image_shape, latent_dim=LATENT_GAN):
    """A latent vector -> an image in [0, 1]: two stride-2 transposed convolutions from (h/4, w/4)."""
    from . import Sequential, layers

    h, w, c = image_shape
    return Sequential([
        layers.Input(shape=(latent_dim,)),
        layers.Dense(h // 4 * w // 4 * 128),
        layers.Reshape((h // 4, w // 4, 128)),
        layers.Conv2DTranspose(128, kernel_size=4, strides=2, padding="same"),
        layers.BatchNormalization(),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(64, kernel_size=4, strides=2, padding="same"),
        layers.BatchNormalization(),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(c, kernel_size=5, padding="same", activation="sigmoid"),
    ], name="generator")


def _gan_class():
    from . import Model, metrics, ops, random
    from .compat import tensorflow as tf

    class GAN(Model):
        """Discriminator and generator trained in turn; generated images are labelled 1, real ones 0."""

        def __init__(self, discriminator, generator, latent_dim, seed):
            super().__init__(name="gan")
            self.discriminator, self.generator, self.latent_dim = discriminator, generator, latent_dim
            self.seed_generator = random.SeedGenerator(seed)
            self.d_loss_metric = metrics.Mean(name="d_loss")
            self.g_loss_metric = metrics.Mean(name="g_loss")

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

        @property
        def metrics(self):
            return [self.d_loss_metric, self.g_loss_metric]

        def train_step(self, data):
            real = data[0] if isinstance(data, tuple) else data
            n = real.shape[0]
            fake = self.generator(random.normal((n, self.latent_dim), seed=self.seed_generator), training=True)
            images = ops.concatenate([fake, real], axis=0)
            labels = ops.concatenate([ops.ones((n, 1)), ops.zeros((n, 1))], axis=0)
            # label noise, the Keras program's "important trick"
            labels = labels + 0.05 * random.uniform(labels.shape, seed=self.seed_generator)
            with tf.GradientTape() as tape:
                d_loss = self.loss_fn(labels, self.discriminator(images, training=True))
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

            z = random.normal((n, self.latent_dim), seed=self.seed_generator)
            with tf.GradientTape() as tape:
                predictions = self.discriminator(self.generator(z, training=True), training=True)
                g_loss = self.loss_fn(ops.zeros((n, 1)), predictions)  # the generator wants "real" (0)
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
            self.d_loss_metric.update_state(d_loss)
            self.g_loss_metric.update_state(g_loss)
            return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}

    return GAN


# --------------------------------------------------------------------------- VAE
def build_encoder(image_shape, latent_dim=LATENT_VAE):
    """An image -> (z_mean, z_log_var); the sampling is the VAE's (so this model saves as it is)."""
    from . import Model, layers

    inputs = layers.Input(shape=image_shape)
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    return Model(inputs, [layers.Dense(latent_dim, name="z_mean")(x), layers.Dense(latent_dim, name="z_log_var")(x)],
                 name="encoder")


def build_decoder(image_shape, latent_dim=LATENT_VAE):
    from . import Model, layers

    h, w, c = image_shape
    inputs = layers.Input(shape=(latent_dim,))
    x = layers.Dense(h // 4 * w // 4 * 64, activation="relu")(inputs)
    x = layers.Reshape((h // 4, w // 4, 64))(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    outputs = layers.Conv2DTranspose(c, 3, activation="sigmoid", padding="same")(x)
    return Model(inputs, outputs, name="decoder")


def _vae_class():
    from . import Model, losses, metrics, ops, random
    from .compat import tensorflow as tf

    class VAE(Model):
        """loss = mean over images of (sum over pixels of BCE(x, x_hat)
        - 1/2 sum_j (1 + log_var_j - mean_j^2 - exp(log_var_j))), z = mean + exp(log_var / 2) eps."""

        def __init__(self, encoder, decoder, seed):
            super().__init__(name="vae")
            self.encoder, self.decoder = encoder, decoder
            self.seed_generator = random.SeedGenerator(seed)
            self.trackers = [metrics.Mean(name="loss"), metrics.Mean(name="reconstruction_loss"),
                             metrics.Mean(name="kl_loss")]

        @property
        def metrics(self):
            return self.trackers

        def losses_of(self, data, training):
            z_mean, z_log_var = self.encoder(data, training=training)
            z = z_mean + ops.exp(0.5 * z_log_var) * random.normal(z_mean.shape, seed=self.seed_generator)
            reconstruction = self.decoder(z, training=training)
            bce = losses.binary_crossentropy(data, reconstruction)
            reconstruction_loss = ops.mean(ops.sum(bce, axis=tuple(range(1, bce.ndim))))
            kl = ops.mean(ops.sum(-0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var)), axis=1))
            return reconstruction_loss + kl, reconstruction_loss, kl

        def _track(self, values):
            for tracker, value in zip(self.trackers, values):
                tracker.update_state(value)
            return {t.name: t.result() for t in self.trackers}

        def train_step(self, data):
            data = data[0] if isinstance(data, tuple) else data
            with tf.GradientTape() as tape:
                values = self.losses_of(data, training=True)
            grads = tape.gradient(values[0], self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            return self._track(values)

        def test_step(self, data):
            data = data[0] if isinstance(data, tuple) else data
            return self._track(self.losses_of(data, training=False))

    return VAE


# --------------------------------------------------------------------------- plots
def image_grid(images, columns):
    """(n, h, w, c) images -> one (rows h, columns w, c) image, empty tiles black."""
    images = np.asarray(images)
    n, h, w, c = images.shape
    rows = -(-n // columns)
    padded = np.zeros((rows * columns, h, w, c), images.dtype)
    padded[:n] = images
    return padded.reshape(rows, columns, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, columns * w, c)


def _save_grid(images, path, columns=8):
    from . import utils

    utils.save_img(path, np.clip(image_grid(images, columns), 0, 1) * 255.0, scale=False)  # images in [0, 1]
    return path


def plot_losses(history: dict, path: str) -> str:
    """Every loss of ``history`` per epoch (training solid, validation dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for key, values in history.items():
        if "loss" in key:
            ax.plot(np.arange(1, len(values) + 1), values, "s--" if key.startswith("val_") else "o-", label=key)
    ax.set(xlabel="epoch", ylabel="loss", title="losses per epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _callback_base():
    from . import callbacks

    return callbacks.Callback


class _OptimizerBackup:
    """The GAN's two optimizers' state beside BackupAndRestore's file (which keeps ``model.optimizer``'s only)."""

    def __init__(self, path, optimizers):
        self.path, self.optimizers = path, optimizers

    def save(self):
        from .files import save_safetensors

        arrays = {f"{name}/{k}": v for name, opt in self.optimizers.items() for k, v in opt.get_state().items()}
        save_safetensors(arrays, self.path)

    def remove(self):
        """After the last epoch, as BackupAndRestore removes its own file."""
        if os.path.isfile(self.path):
            os.remove(self.path)
        if os.path.isdir(os.path.dirname(self.path)) and not os.listdir(os.path.dirname(self.path)):
            os.rmdir(os.path.dirname(self.path))

    def restore(self):
        from .files import load_safetensors

        if not os.path.isfile(self.path):
            return
        arrays = load_safetensors(self.path)[0]
        for name, opt in self.optimizers.items():
            state = {k[len(name) + 1:]: v for k, v in arrays.items() if k.startswith(name + "/")}
            if state:
                opt.set_state(state)


def _epoch_callback(on_epoch_end, on_train_begin=None):
    base = _callback_base()

    class EpochHook(base):
        def on_train_begin(self, logs=None):
            if on_train_begin is not None:
                on_train_begin()

        def on_epoch_end(self, epoch, logs=None):
            on_epoch_end(epoch)

    return EpochHook()


# --------------------------------------------------------------------------- training
def train(args, out: str, x_train, x_test, y_test, names, backup, history_csv, csv_logger, stop_on_nan) -> dict:
    """Build, train and save ``args.model`` ("gan" or "vae"), draw its sample/latent plots; returns
    metrics.json's content (the caller writes it, and curves.png from history.csv)."""
    from . import losses, optimizers

    _check_images(x_train.shape[1:])
    image_shape = tuple(x_train.shape[1:])
    seed = args.seed
    opt_name = args.optimizer
    callbacks = [csv_logger, backup, stop_on_nan]

    def optimizer(default_lr, **kwargs):
        if opt_name == "adam":  # the programs' own settings unless --learning-rate is given
            return optimizers.Adam(learning_rate=args.learning_rate or default_lr, **kwargs)
        opt = optimizers.get(opt_name)
        if args.learning_rate is not None:
            opt.learning_rate = args.learning_rate
        return opt

    if args.model == "gan":
        discriminator, generator = build_discriminator(image_shape), build_generator(image_shape)
        model = _gan_class()(discriminator, generator, LATENT_GAN, seed)
        model.compile(d_optimizer=optimizer(2e-4, beta_1=0.5), g_optimizer=optimizer(2e-4, beta_1=0.5),
                      loss_fn=losses.BinaryCrossentropy(from_logits=True))
        generator.summary()
        discriminator.summary()
        opt_backup = _OptimizerBackup(os.path.join(out, "backup", "gan_optimizers.safetensors"),
                                      {"d_optimizer": model.d_optimizer, "g_optimizer": model.g_optimizer})
        latent = np.random.default_rng(seed).normal(size=(64, LATENT_GAN)).astype(np.float32)

        def on_epoch_end(epoch):
            opt_backup.save()  # first: a run stopped once the epoch's grid exists resumes with both optimizers
            _save_grid(generator.predict(latent, verbose=0), os.path.join(out, f"samples_epoch_{epoch + 1:03d}.png"))

        # after BackupAndRestore (earlier in the list) has put the weights back
        callbacks.append(_epoch_callback(on_epoch_end, opt_backup.restore))
        fit_kwargs = {}
    else:
        encoder, decoder = build_encoder(image_shape), build_decoder(image_shape)
        model = _vae_class()(encoder, decoder, seed)
        model.compile(optimizer=optimizer(1e-3))
        encoder.summary()
        decoder.summary()
        fit_kwargs = {"validation_data": (x_test, x_test)} if args.validation_split else {}

    start = time.perf_counter()
    try:
        model.fit(x_train, batch_size=args.batch_size, epochs=args.epochs, callbacks=callbacks,
                  verbose=args.verbose, **fit_kwargs)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the last finished epoch is backed up in {out}; "
              f"continue with `deepgrad train --resume {out}`", file=sys.stderr)
        raise
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in vs] for k, vs in getattr(model.history, "history", {}).items()}
    metrics = {"model": args.model, "epochs": args.epochs, "train_seconds": round(seconds, 3),
               "train_samples_per_second": round(len(x_train) * args.epochs / max(seconds, 1e-9), 1),
               "final": {k: v[-1] for k, v in history.items() if v}}
    if args.model == "gan":
        generator.save(os.path.join(out, "generator.deepgrad"))
        discriminator.save(os.path.join(out, "discriminator.deepgrad"))
        _save_grid(generator.predict(latent, verbose=0), os.path.join(out, "samples.png"))
        opt_backup.remove()
    else:
        encoder.save(os.path.join(out, "encoder.deepgrad"))
        decoder.save(os.path.join(out, "decoder.deepgrad"))
        write_vae_plots(encoder, decoder, x_test, y_test, names, out)
        metrics["test"] = {k: float(v) for k, v in
                           model.evaluate(x_test, batch_size=256, verbose=0, return_dict=True).items()}
    return metrics


def write_vae_plots(encoder, decoder, x_test, y_test, names, out: str, n=10, grid=15, scale=2.0) -> None:
    """reconstructions.png, latent_space.png and (with matplotlib) latent_scatter.png."""
    from . import reports

    z_mean = encoder.predict(x_test[:n], verbose=0)[0]
    _save_grid(np.concatenate([x_test[:n], decoder.predict(z_mean, verbose=0)]),
               os.path.join(out, "reconstructions.png"), columns=n)
    if decoder.inputs[0].shape[-1] == 2:
        axis = np.linspace(-scale, scale, grid)
        z = np.stack(np.meshgrid(axis, axis[::-1]), axis=-1).reshape(-1, 2).astype(np.float32)
        _save_grid(decoder.predict(z, verbose=0), os.path.join(out, "latent_space.png"), columns=grid)
        if reports.have_matplotlib():
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            points = encoder.predict(x_test[:2000], batch_size=256, verbose=0)[0]
            fig, ax = plt.subplots(figsize=(7, 6))
            sc = ax.scatter(points[:, 0], points[:, 1], c=y_test[:2000], cmap="tab10", s=4)
            handles = [plt.Line2D([], [], ls="", marker="o", color=sc.cmap(sc.norm(k))) for k in range(len(names))]
            ax.legend(handles, names, fontsize=7, loc="best")
            ax.set(xlabel="z[0]", ylabel="z[1]", title="test images' z_mean")
            fig.tight_layout()
            fig.savefig(os.path.join(out, "latent_scatter.png"), dpi=100)
            plt.close(fig)
