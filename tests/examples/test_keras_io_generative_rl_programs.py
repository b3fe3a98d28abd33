"""Two more programs of the Keras documentation (keras-team/keras-io), written as those programs
are with ``import tensorflow as tf`` / ``from tensorflow import keras`` swapped for
``from deepgrad.compat import tensorflow as tf`` / ``import deepgrad as keras``, shortened only
in data size, epochs, episodes and episode length:

- examples/generative/wgan_gp.py, "WGAN-GP overriding Model.train_step": a critic trained with
  a gradient penalty (a gradient of a gradient through strided convolutions, LeakyReLU and
  dropout), a generator of UpSampling2D + Conv2D + BatchNormalization;
- examples/rl/ddpg_pendulum.py, "Deep Deterministic Policy Gradient": actor and critic
  networks, their target copies moved by tau, on the pendulum (gym's old reset/step API, which
  the program uses, is given by a small adapter over gymnasium's Pendulum-v1). It does not run
  yet: its actor multiplies a symbolic tensor by a number while the model is built.
"""
import numpy as np
import pytest

import deepgrad as keras
from deepgrad import layers
from deepgrad.compat import tensorflow as tf


def test_wgan_gp_overriding_train_step(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    IMG_SHAPE = (28, 28, 1)
    BATCH_SIZE = 8
    noise_dim = 128
    fashion_mnist = keras.datasets.fashion_mnist
    (train_images, train_labels), (test_images, test_labels) = fashion_mnist.load_data()
    train_images = train_images[:BATCH_SIZE]
    train_images = train_images.reshape(train_images.shape[0], *IMG_SHAPE).astype("float32")
    train_images = (train_images - 127.5) / 127.5

    def conv_block(x, filters, activation, kernel_size=(3, 3), strides=(1, 1), padding="same", use_bias=True,
                   use_bn=False, use_dropout=False, drop_value=0.5):
        x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias)(x)
        if use_bn:
            x = layers.BatchNormalization()(x)
        x = activation(x)
        if use_dropout:
            x = layers.Dropout(drop_value)(x)
        return x

    def get_discriminator_model():
        img_input = layers.Input(shape=IMG_SHAPE)
        x = layers.ZeroPadding2D((2, 2))(img_input)
        x = conv_block(x, 64, kernel_size=(5, 5), strides=(2, 2), use_bn=False, use_bias=True,
                       activation=layers.LeakyReLU(0.2), use_dropout=False, drop_value=0.3)
        x = conv_block(x, 128, kernel_size=(5, 5), strides=(2, 2), use_bn=False, activation=layers.LeakyReLU(0.2),
                       use_bias=True, use_dropout=True, drop_value=0.3)
        x = conv_block(x, 256, kernel_size=(5, 5), strides=(2, 2), use_bn=False, activation=layers.LeakyReLU(0.2),
                       use_bias=True, use_dropout=True, drop_value=0.3)
        x = conv_block(x, 512, kernel_size=(5, 5), strides=(2, 2), use_bn=False, activation=layers.LeakyReLU(0.2),
                       use_bias=True, use_dropout=False, drop_value=0.3)
        x = layers.Flatten()(x)
        x = layers.Dropout(0.2)(x)
        x = layers.Dense(1)(x)
        return keras.models.Model(img_input, x, name="discriminator")

    d_model = get_discriminator_model()

    def upsample_block(x, filters, activation, kernel_size=(3, 3), strides=(1, 1), up_size=(2, 2), padding="same",
                       use_bn=False, use_bias=True, use_dropout=False, drop_value=0.3):
        x = layers.UpSampling2D(up_size)(x)
        x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias)(x)
        if use_bn:
            x = layers.BatchNormalization()(x)
        if activation:
            x = activation(x)
        if use_dropout:
            x = layers.Dropout(drop_value)(x)
        return x

    def get_generator_model():
        noise = layers.Input(shape=(noise_dim,))
        x = layers.Dense(4 * 4 * 256, use_bias=False)(noise)
        x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU(0.2)(x)
        x = layers.Reshape((4, 4, 256))(x)
        x = upsample_block(x, 128, layers.LeakyReLU(0.2), strides=(1, 1), use_bias=False, use_bn=True,
                           padding="same", use_dropout=False)
        x = upsample_block(x, 64, layers.LeakyReLU(0.2), strides=(1, 1), use_bias=False, use_bn=True,
                           padding="same", use_dropout=False)
        x = upsample_block(x, 1, layers.Activation("tanh"), strides=(1, 1), use_bias=False, use_bn=True)
        x = layers.Cropping2D((2, 2))(x)
        return keras.models.Model(noise, x, name="generator")

    g_model = get_generator_model()
    penalties = []

    class WGAN(keras.Model):
        def __init__(self, discriminator, generator, latent_dim, discriminator_extra_steps=3, gp_weight=10.0):
            super(WGAN, self).__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.latent_dim = latent_dim
            self.d_steps = discriminator_extra_steps
            self.gp_weight = gp_weight

        def compile(self, d_optimizer, g_optimizer, d_loss_fn, g_loss_fn):
            super(WGAN, self).compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.d_loss_fn = d_loss_fn
            self.g_loss_fn = g_loss_fn

        def gradient_penalty(self, batch_size, real_images, fake_images):
            alpha = tf.random.normal([batch_size, 1, 1, 1], 0.0, 1.0)
            diff = fake_images - real_images
            interpolated = real_images + alpha * diff
            with tf.GradientTape() as gp_tape:
                gp_tape.watch(interpolated)
                pred = self.discriminator(interpolated, training=True)
            grads = gp_tape.gradient(pred, [interpolated])[0]
            norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))
            gp = tf.reduce_mean((norm - 1.0) ** 2)
            penalties.append(gp)  # (the test's: to differentiate it once more below)
            return gp

        def train_step(self, real_images):
            if isinstance(real_images, tuple):
                real_images = real_images[0]
            batch_size = tf.shape(real_images)[0]
            for i in range(self.d_steps):
                random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
                with tf.GradientTape() as tape:
                    fake_images = self.generator(random_latent_vectors, training=True)
                    fake_logits = self.discriminator(fake_images, training=True)
                    real_logits = self.discriminator(real_images, training=True)
                    d_cost = self.d_loss_fn(real_img=real_logits, fake_img=fake_logits)
                    gp = self.gradient_penalty(batch_size, real_images, fake_images)
                    d_loss = d_cost + gp * self.gp_weight
                d_gradient = tape.gradient(d_loss, self.discriminator.trainable_variables)
                self.d_optimizer.apply_gradients(zip(d_gradient, self.discriminator.trainable_variables))
            random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
            with tf.GradientTape() as tape:
                generated_images = self.generator(random_latent_vectors, training=True)
                gen_img_logits = self.discriminator(generated_images, training=True)
                g_loss = self.g_loss_fn(gen_img_logits)
            gen_gradient = tape.gradient(g_loss, self.generator.trainable_variables)
            self.g_optimizer.apply_gradients(zip(gen_gradient, self.generator.trainable_variables))
            return {"d_loss": d_loss, "g_loss": g_loss}

    class GANMonitor(keras.callbacks.Callback):
        def __init__(self, num_img=6, latent_dim=128):
            self.num_img = num_img
            self.latent_dim = latent_dim

        def on_epoch_end(self, epoch, logs=None):
            random_latent_vectors = tf.random.normal(shape=(self.num_img, self.latent_dim))
            generated_images = self.model.generator(random_latent_vectors)
            generated_images = (generated_images * 127.5) + 127.5
            for i in range(self.num_img):
                img = generated_images[i].numpy()
                img = keras.preprocessing.image.array_to_img(img)
                img.save("generated_img_{i}_{epoch}.png".format(i=i, epoch=epoch))

    generator_optimizer = keras.optimizers.Adam(learning_rate=0.0002, beta_1=0.5, beta_2=0.9)
    discriminator_optimizer = keras.optimizers.Adam(learning_rate=0.0002, beta_1=0.5, beta_2=0.9)

    def discriminator_loss(real_img, fake_img):
        real_loss = tf.reduce_mean(real_img)
        fake_loss = tf.reduce_mean(fake_img)
        return fake_loss - real_loss

    def generator_loss(fake_img):
        return -tf.reduce_mean(fake_img)

    epochs = 1
    cbk = GANMonitor(num_img=3, latent_dim=noise_dim)
    wgan = WGAN(discriminator=d_model, generator=g_model, latent_dim=noise_dim, discriminator_extra_steps=3)
    wgan.compile(d_optimizer=discriminator_optimizer, g_optimizer=generator_optimizer,
                 g_loss_fn=generator_loss, d_loss_fn=discriminator_loss)
    before = [w.copy() for w in d_model.get_weights()]
    history = wgan.fit(train_images, batch_size=BATCH_SIZE, epochs=epochs, callbacks=[cbk])

    assert np.isfinite(history.history["d_loss"][0]) and np.isfinite(history.history["g_loss"][0])
    assert len(penalties) == 3 and all(float(p) > 0 for p in penalties)  # three critic steps
    assert all((tmp_path / f"generated_img_{i}_0.png").is_file() for i in range(3))
    assert any(np.abs(a - b).max() > 0 for a, b in zip(d_model.get_weights(), before))
    # the penalty's own gradient reaches the critic's first kernel (a second derivative of the critic)
    real, fake = train_images[:2], g_model(tf.random.normal((2, noise_dim)), training=False)
    with tf.GradientTape() as tape:
        gp = wgan.gradient_penalty(2, real, fake)
    first_kernel = d_model.trainable_variables[0]
    assert np.abs(tape.gradient(gp, first_kernel)).max() > 0


class _OldGym:
    """gym's API before 0.26 (``reset() -> state``, ``step() -> (state, reward, done, info)``)
    over gymnasium, which the program's loop is written for; episodes cut to a few steps."""

    def __init__(self, steps):
        self.steps = steps

    def make(self, problem):
        import gymnasium

        assert problem == "Pendulum-v0"  # gymnasium names it Pendulum-v1
        return _OldEnv(gymnasium.make("Pendulum-v1", max_episode_steps=self.steps))


class _OldEnv:
    def __init__(self, env):
        self.env, self.observation_space, self.action_space = env, env.observation_space, env.action_space
        env.reset(seed=0)

    def reset(self):
        return self.env.reset()[0]

    def step(self, action):
        state, reward, terminated, truncated, info = self.env.step(np.asarray(action, np.float32).reshape(1))
        return state, reward, terminated or truncated, info


def test_ddpg_pendulum(tmp_path, monkeypatch):
    pytest.importorskip("gymnasium")
    monkeypatch.chdir(tmp_path)
    gym = _OldGym(steps=6)
    np.random.seed(0)

    problem = "Pendulum-v0"
    env = gym.make(problem)
    num_states = env.observation_space.shape[0]
    num_actions = env.action_space.shape[0]
    upper_bound = env.action_space.high[0]
    lower_bound = env.action_space.low[0]

    class OUActionNoise:
        def __init__(self, mean, std_deviation, theta=0.15, dt=1e-2, x_initial=None):
            self.theta = theta
            self.mean = mean
            self.std_dev = std_deviation
            self.dt = dt
            self.x_initial = x_initial
            self.reset()

        def __call__(self):
            x = (self.x_prev + self.theta * (self.mean - self.x_prev) * self.dt
                 + self.std_dev * np.sqrt(self.dt) * np.random.normal(size=self.mean.shape))
            self.x_prev = x
            return x

        def reset(self):
            if self.x_initial is not None:
                self.x_prev = self.x_initial
            else:
                self.x_prev = np.zeros_like(self.mean)

    class Buffer:
        def __init__(self, buffer_capacity=100000, batch_size=64):
            self.buffer_capacity = buffer_capacity
            self.batch_size = batch_size
            self.buffer_counter = 0
            self.state_buffer = np.zeros((self.buffer_capacity, num_states))
            self.action_buffer = np.zeros((self.buffer_capacity, num_actions))
            self.reward_buffer = np.zeros((self.buffer_capacity, 1))
            self.next_state_buffer = np.zeros((self.buffer_capacity, num_states))

        def record(self, obs_tuple):
            index = self.buffer_counter % self.buffer_capacity
            self.state_buffer[index] = obs_tuple[0]
            self.action_buffer[index] = obs_tuple[1]
            self.reward_buffer[index] = obs_tuple[2]
            self.next_state_buffer[index] = obs_tuple[3]
            self.buffer_counter += 1

        @tf.function
        def update(self, state_batch, action_batch, reward_batch, next_state_batch):
            with tf.GradientTape() as tape:
                target_actions = target_actor(next_state_batch, training=True)
                y = reward_batch + gamma * target_critic([next_state_batch, target_actions], training=True)
                critic_value = critic_model([state_batch, action_batch], training=True)
                critic_loss = tf.math.reduce_mean(tf.math.square(y - critic_value))
            critic_grad = tape.gradient(critic_loss, critic_model.trainable_variables)
            critic_optimizer.apply_gradients(zip(critic_grad, critic_model.trainable_variables))
            with tf.GradientTape() as tape:
                actions = actor_model(state_batch, training=True)
                critic_value = critic_model([state_batch, actions], training=True)
                actor_loss = -tf.math.reduce_mean(critic_value)
            actor_grad = tape.gradient(actor_loss, actor_model.trainable_variables)
            actor_optimizer.apply_gradients(zip(actor_grad, actor_model.trainable_variables))
            losses.append((float(critic_loss), float(actor_loss)))  # (the test's record)

        def learn(self):
            record_range = min(self.buffer_counter, self.buffer_capacity)
            batch_indices = np.random.choice(record_range, self.batch_size)
            state_batch = tf.convert_to_tensor(self.state_buffer[batch_indices])
            action_batch = tf.convert_to_tensor(self.action_buffer[batch_indices])
            reward_batch = tf.convert_to_tensor(self.reward_buffer[batch_indices])
            reward_batch = tf.cast(reward_batch, dtype=tf.float32)
            next_state_batch = tf.convert_to_tensor(self.next_state_buffer[batch_indices])
            self.update(state_batch, action_batch, reward_batch, next_state_batch)

    @tf.function
    def update_target(target_weights, weights, tau):
        for (a, b) in zip(target_weights, weights):
            a.assign(b * tau + a * (1 - tau))

    def get_actor():
        last_init = tf.random_uniform_initializer(minval=-0.003, maxval=0.003)
        inputs = layers.Input(shape=(num_states,))
        out = layers.Dense(256, activation="relu")(inputs)
        out = layers.Dense(256, activation="relu")(out)
        outputs = layers.Dense(1, activation="tanh", kernel_initializer=last_init)(out)
        outputs = outputs * upper_bound
        model = tf.keras.Model(inputs, outputs)
        return model

    def get_critic():
        state_input = layers.Input(shape=(num_states))
        state_out = layers.Dense(16, activation="relu")(state_input)
        state_out = layers.Dense(32, activation="relu")(state_out)
        action_input = layers.Input(shape=(num_actions))
        action_out = layers.Dense(32, activation="relu")(action_input)
        concat = layers.Concatenate()([state_out, action_out])
        out = layers.Dense(256, activation="relu")(concat)
        out = layers.Dense(256, activation="relu")(out)
        outputs = layers.Dense(1)(out)
        model = tf.keras.Model([state_input, action_input], outputs)
        return model

    def policy(state, noise_object):
        sampled_actions = tf.squeeze(actor_model(state))
        noise = noise_object()
        sampled_actions = sampled_actions.numpy() + noise
        legal_action = np.clip(sampled_actions, lower_bound, upper_bound)
        return [np.squeeze(legal_action)]

    losses = []
    std_dev = 0.2
    ou_noise = OUActionNoise(mean=np.zeros(1), std_deviation=float(std_dev) * np.ones(1))
    actor_model = get_actor()
    critic_model = get_critic()
    target_actor = get_actor()
    target_critic = get_critic()
    target_actor.set_weights(actor_model.get_weights())
    target_critic.set_weights(critic_model.get_weights())
    critic_lr = 0.002
    actor_lr = 0.001
    critic_optimizer = tf.keras.optimizers.Adam(critic_lr)
    actor_optimizer = tf.keras.optimizers.Adam(actor_lr)
    total_episodes = 2
    gamma = 0.99
    tau = 0.005
    buffer = Buffer(50000, 64)
    ep_reward_list = []
    avg_reward_list = []
    target_before = [w.copy() for w in target_critic.get_weights()]

    for ep in range(total_episodes):
        prev_state = env.reset()
        episodic_reward = 0
        while True:
            tf_prev_state = tf.expand_dims(tf.convert_to_tensor(prev_state), 0)
            action = policy(tf_prev_state, ou_noise)
            state, reward, done, info = env.step(action)
            buffer.record((prev_state, action, reward, state))
            episodic_reward += reward
            buffer.learn()
            update_target(target_actor.variables, actor_model.variables, tau)
            update_target(target_critic.variables, critic_model.variables, tau)
            if done:
                break
            prev_state = state
        ep_reward_list.append(episodic_reward)
        avg_reward = np.mean(ep_reward_list[-40:])
        print("Episode * {} * Avg Reward is ==> {}".format(ep, avg_reward))
        avg_reward_list.append(avg_reward)

    assert buffer.buffer_counter == 12 and len(losses) == 12
    assert all(np.isfinite(c) and np.isfinite(a) for c, a in losses)
    assert all(r < 0 for r in ep_reward_list)  # the pendulum's reward is a cost, -(angle^2 + ...)
    action = policy(tf.expand_dims(tf.convert_to_tensor(prev_state), 0), ou_noise)
    assert lower_bound <= float(action[0]) <= upper_bound
    # each update moved every target weight tau of the way: after 12, some have moved
    assert any(np.abs(a - b).max() > 0 for a, b in zip(target_critic.get_weights(), target_before))
    actor_model.save_weights("pendulum_actor.weights.h5")  # Keras 3 names weight files *.weights.h5
    assert (tmp_path / "pendulum_actor.weights.h5").is_file()
