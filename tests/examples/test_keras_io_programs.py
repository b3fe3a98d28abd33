"""Programs of the Keras documentation (keras-team/keras-io: the custom-training guides, "GAN
overriding train_step", "Variational AutoEncoder", "Actor Critic Method"), written as those
programs are, with ``import tensorflow as tf`` / ``from tensorflow import keras`` swapped for
``from deepgrad.compat import tensorflow as tf`` / ``import deepgrad as keras``; shortened
only in data size, epochs and episodes. Each asserts what the program's run shows."""
import numpy as np
import pytest

import deepgrad as keras
from deepgrad import layers
from deepgrad.compat import tensorflow as tf


def _digits(n):
    from sklearn.datasets import load_digits
    x = load_digits().images[:n].astype("float32") / 16.0
    return np.pad(x, ((0, 0), (10, 10), (10, 10)))[..., None]  # 28x28, as MNIST


def test_writing_a_training_loop_from_scratch():
    """guides/writing_a_custom_training_loop_in_tensorflow.py: tape, apply_gradients, a metric
    updated per batch, read and reset per epoch."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(64,), name="digits")
    x1 = keras.layers.Dense(32, activation="relu")(inputs)
    x2 = keras.layers.Dense(32, activation="relu")(x1)
    outputs = keras.layers.Dense(10, name="predictions")(x2)
    model = keras.Model(inputs=inputs, outputs=outputs)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
    from sklearn.datasets import load_digits
    digits = load_digits()
    x_train, y_train = digits.data.astype("float32") / 16, digits.target
    accuracies = []
    for epoch in range(3):
        for step in range(0, 1024, 64):
            x_batch, y_batch = x_train[step:step + 64], y_train[step:step + 64]
            with tf.GradientTape() as tape:
                logits = model(x_batch, training=True)
                loss_value = loss_fn(y_batch, logits)
            grads = tape.gradient(loss_value, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
            train_acc_metric.update_state(y_batch, logits)
        accuracies.append(float(train_acc_metric.result()))
        train_acc_metric.reset_state()
    assert accuracies[-1] > accuracies[0] + 0.1  # 48 small steps at lr 1e-3: learning, not yet done
    assert float(train_acc_metric.result()) == 0.0


def test_custom_train_step_in_tensorflow_first_example():
    """guides/custom_train_step_in_tensorflow.py: compute_loss, then the metrics updated by name."""

    class CustomModel(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            trainable_vars = self.trainable_variables
            gradients = tape.gradient(loss, trainable_vars)
            self.optimizer.apply_gradients(zip(gradients, trainable_vars))
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x, y = np.random.random((1000, 32)), np.random.random((1000, 1))
    history = model.fit(x, y, epochs=3, verbose=0)
    assert list(history.history) == ["loss", "mae"]
    assert history.history["loss"][2] < history.history["loss"][0]


@pytest.mark.slow
def test_gan_overriding_train_step():
    """The Keras 3 GAN of the custom-train-step guides: SeedGenerator, keras.random, Mean
    trackers in a metrics property, compile(d_optimizer, g_optimizer, loss_fn)."""
    discriminator = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(64, (3, 3), strides=(2, 2), padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.GlobalMaxPooling2D(), layers.Dense(1)], name="discriminator")
    latent_dim = 128
    generator = keras.Sequential([
        keras.Input(shape=(latent_dim,)), layers.Dense(7 * 7 * 128), layers.LeakyReLU(negative_slope=0.2),
        layers.Reshape((7, 7, 128)),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, (7, 7), padding="same", activation="sigmoid")], name="generator")

    class GAN(keras.Model):
        def __init__(self, discriminator, generator, latent_dim):
            super().__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.latent_dim = latent_dim
            self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
            self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
            self.seed_generator = keras.random.SeedGenerator(1337)
            self.built = True

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.loss_fn = loss_fn

        def train_step(self, real_images):
            if isinstance(real_images, tuple):
                real_images = real_images[0]
            batch_size = tf.shape(real_images)[0]
            random_latent_vectors = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
            generated_images = self.generator(random_latent_vectors)
            combined_images = keras.ops.concatenate([generated_images, real_images], axis=0)
            labels = keras.ops.concatenate([keras.ops.ones((batch_size, 1)), keras.ops.zeros((batch_size, 1))], axis=0)
            labels += 0.05 * keras.random.uniform(tf.shape(labels), seed=self.seed_generator)
            with tf.GradientTape() as tape:
                predictions = self.discriminator(combined_images)
                d_loss = self.loss_fn(labels, predictions)
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
            random_latent_vectors = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
            misleading_labels = keras.ops.zeros((batch_size, 1))
            with tf.GradientTape() as tape:
                predictions = self.discriminator(self.generator(random_latent_vectors))
                g_loss = self.loss_fn(misleading_labels, predictions)
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    gan = GAN(discriminator=discriminator, generator=generator, latent_dim=latent_dim)
    gan.compile(d_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
                g_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
                loss_fn=keras.losses.BinaryCrossentropy(from_logits=True))
    history = gan.fit(_digits(32), batch_size=16, epochs=2, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss"} and len(history.history["g_loss"]) == 2
    assert gan.d_loss_tracker.count == 2  # reset at the second epoch's start
    assert 0.3 < history.history["d_loss"][0] < 1.5


@pytest.mark.slow
def test_variational_autoencoder():
    """examples/generative/vae.py: a Sampling layer, a VAE with a custom train_step and three trackers."""

    class Sampling(layers.Layer):
        def call(self, inputs):
            z_mean, z_log_var = inputs
            batch = tf.shape(z_mean)[0]
            dim = tf.shape(z_mean)[1]
            epsilon = keras.random.normal(shape=(batch, dim))
            return z_mean + tf.exp(0.5 * z_log_var) * epsilon

    latent_dim = 2
    encoder_inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")
    latent_inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    decoder = keras.Model(latent_inputs, decoder_outputs, name="decoder")

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

        def train_step(self, data):
            with tf.GradientTape() as tape:
                z_mean, z_log_var, z = self.encoder(data)
                reconstruction = self.decoder(z)
                reconstruction_loss = tf.reduce_mean(
                    tf.reduce_sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))
                kl_loss = -0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var))
                kl_loss = tf.reduce_mean(tf.reduce_sum(kl_loss, axis=1))
                total_loss = reconstruction_loss + kl_loss
            grads = tape.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total_loss_tracker.update_state(total_loss)
            self.reconstruction_loss_tracker.update_state(reconstruction_loss)
            self.kl_loss_tracker.update_state(kl_loss)
            return {"loss": self.total_loss_tracker.result(),
                    "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                    "kl_loss": self.kl_loss_tracker.result()}

    keras.utils.set_random_seed(0)
    vae = VAE(encoder, decoder)
    vae.compile(optimizer=keras.optimizers.Adam())
    history = vae.fit(_digits(64), epochs=2, batch_size=32, verbose=0)
    # the step's logs name "loss", the trackers "total_loss": Keras then reports the step's own logs
    assert set(history.history) == {"loss", "reconstruction_loss", "kl_loss"}
    assert history.history["loss"][1] < history.history["loss"][0]
    z_mean, _, _ = vae.encoder.predict(_digits(4), verbose=0)
    assert z_mean.shape == (4, 2)


def test_actor_critic_method():
    """examples/rl/actor_critic_cartpole.py (on gymnasium's CartPole-v1): the model called step by
    step inside one tape over the episode, Huber critic loss, apply_gradients."""
    gym = pytest.importorskip("gymnasium")
    keras.utils.set_random_seed(42)
    np.random.seed(42)
    gamma, eps = 0.99, np.finfo(np.float32).eps.item()
    env = gym.make("CartPole-v1")
    num_inputs, num_actions, num_hidden = 4, 2, 128
    inputs = layers.Input(shape=(num_inputs,))
    common = layers.Dense(num_hidden, activation="relu")(inputs)
    action = layers.Dense(num_actions, activation="softmax")(common)
    critic = layers.Dense(1)(common)
    model = keras.Model(inputs=inputs, outputs=[action, critic])
    optimizer = keras.optimizers.Adam(learning_rate=0.01)
    huber_loss = keras.losses.Huber()
    action_probs_history, critic_value_history, rewards_history, episode_rewards = [], [], [], []
    for episode in range(3):
        state, _ = env.reset(seed=episode)
        episode_reward = 0
        with tf.GradientTape() as tape:
            for timestep in range(1, 10000):
                state = tf.convert_to_tensor(state)
                state = tf.expand_dims(state, 0)
                action_probs, critic_value = model(state)
                critic_value_history.append(critic_value[0, 0])
                action = np.random.choice(num_actions, p=np.squeeze(action_probs) / np.sum(action_probs))
                action_probs_history.append(tf.math.log(action_probs[0, action]))
                state, reward, terminated, truncated, _ = env.step(action)
                rewards_history.append(reward)
                episode_reward += reward
                if terminated or truncated:
                    break
            returns, discounted_sum = [], 0
            for r in rewards_history[::-1]:
                discounted_sum = r + gamma * discounted_sum
                returns.insert(0, discounted_sum)
            returns = np.array(returns)
            returns = ((returns - np.mean(returns)) / (np.std(returns) + eps)).tolist()
            actor_losses, critic_losses = [], []
            for log_prob, value, ret in zip(action_probs_history, critic_value_history, returns):
                diff = ret - value
                actor_losses.append(-log_prob * diff)
                critic_losses.append(huber_loss(tf.expand_dims(value, 0), tf.expand_dims(ret, 0)))
            loss_value = sum(actor_losses) + sum(critic_losses)
            grads = tape.gradient(loss_value, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            action_probs_history.clear()
            critic_value_history.clear()
            rewards_history.clear()
        episode_rewards.append(episode_reward)
    assert all(g is not None and np.isfinite(g).all() for g in grads)
    assert optimizer.iterations == 3 and all(r >= 8 for r in episode_rewards)
