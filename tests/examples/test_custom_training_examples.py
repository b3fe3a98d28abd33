"""The custom-training examples, each run for a few steps (the full runs are in RESULTS.md)."""
import importlib.util
import os
import sys

import numpy as np
import pytest

import deepgrad as dg
from blas_bits import assert_bits_or_close, row_halves_keep_bits

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def load_example(name):
    if EXAMPLES not in sys.path:  # as when the example runs as a script: its folder's helpers import
        sys.path.insert(0, EXAMPLES)
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _png_size(path):
    from PIL import Image
    with Image.open(path) as img:
        return img.size


def test_actor_critic_runs_episodes_learns_and_plots(tmp_path):
    pytest.importorskip("gymnasium")
    example = load_example("rl_actor_critic_cartpole")
    out = example.main(episodes=25, seed=0, plot=str(tmp_path / "curve.png"), verbose=False)
    assert out["episodes"] == 25 and not out["solved"]
    assert np.mean(out["rewards"][-5:]) > np.mean(out["rewards"][:5])  # it learns within 25 episodes
    assert _png_size(tmp_path / "curve.png") == (700, 400)


def test_discounted_returns_are_normalised_returns():
    example = load_example("rl_actor_critic_cartpole")
    g = example.discounted_returns(np.ones(3), 0.5)
    raw = np.array([1.75, 1.5, 1.0])
    np.testing.assert_allclose(g, (raw - raw.mean()) / (raw.std() + np.finfo(np.float32).eps))


def test_dqn_runs_with_replay_and_target_network(tmp_path):
    pytest.importorskip("gymnasium")
    example = load_example("rl_dqn_cartpole")
    out = example.main(episodes=8, seed=1, warmup=64, batch_size=32, plot=str(tmp_path / "dqn.png"), verbose=False)
    assert out["episodes"] == 8 and out["steps"] == sum(out["rewards"])
    assert out["model"].optimizer.iterations == out["steps"] - 64 + 1
    assert _png_size(tmp_path / "dqn.png") == (700, 400)


def test_dqn_targets_are_double_q_bootstraps():
    example = load_example("rl_dqn_cartpole")
    dg.utils.set_random_seed(0)
    model, target = example.build_q_network(), example.build_q_network()
    s, s2 = np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32")
    batch = (s, np.array([0, 1, 0, 1, 1]), np.ones(5, "float32"), s2, np.array([0, 0, 1, 0, 0], "float32"))
    q = example.q_targets(model, target, batch, 0.9)
    online, frozen, now = model.predict_on_batch(s2), target.predict_on_batch(s2), model.predict_on_batch(s)
    best = online.argmax(1)
    expected = 1 + 0.9 * (1 - batch[4]) * frozen[np.arange(5), best]
    np.testing.assert_allclose(q[np.arange(5), batch[1]], expected, rtol=1e-6)
    # q_targets runs the 5 states and the 5 next states as one batch of 10; where this BLAS sums a
    # row of a 10-row product otherwise than of a 5-row one, the hidden layers' 128-term sums give
    # Q-values within float32 rounding of the largest (a few ulps through three layers)
    assert_bits_or_close(q[np.arange(5), 1 - batch[1]], now[np.arange(5), 1 - batch[1]],
                         row_halves_keep_bits(np.float32, 10, 128, 128, 5), 1e-6, 1e-6)


def test_dqn_greedy_evaluation_plays_the_episodes_at_once_as_one_by_one():
    pytest.importorskip("gymnasium")
    example = load_example("rl_dqn_cartpole")
    from cartpole_common import make_env  # beside the example (load_example puts its folder on the path)

    dg.utils.set_random_seed(3)
    model = example.build_q_network(num_hidden=8)
    score = example.evaluate([make_env(k) for k in range(5)], model, np.random.default_rng(0))
    seeds = np.random.default_rng(0).integers(2 ** 31, size=5)  # the seeds evaluate draws, in order
    totals = []
    for k, seed in enumerate(seeds):
        env = make_env(k)
        state, _ = env.reset(seed=int(seed))
        total, done = 0.0, False
        while not done:
            action = int(model.predict_on_batch(state[None].astype(np.float32))[0].argmax())
            state, reward, terminated, truncated, _ = env.step(action)
            total, done = total + reward, terminated or truncated
        totals.append(total)
    assert score == np.mean(totals) and min(totals) > 0


def test_soft_update_moves_the_target_by_tau():
    example = load_example("rl_dqn_cartpole")
    model, target = example.build_q_network(), example.build_q_network()
    before = [w.copy() for w in target.get_weights()]
    example.soft_update(target, model, 0.25)
    for t, b, m in zip(target.get_weights(), before, model.get_weights()):
        np.testing.assert_allclose(t, 0.25 * m + 0.75 * b, rtol=1e-6)


@pytest.mark.slow
def test_dcgan_trains_a_step_and_saves_a_grid_per_epoch(tmp_path):
    example = load_example("dcgan_fashion_mnist")
    gan, history, paths = example.main(epochs=2, batch_size=16, samples=32, out=str(tmp_path), verbose=0)
    assert set(history.history) == {"d_loss", "g_loss"} and len(history.history["d_loss"]) == 2
    assert all(np.isfinite(v) for v in history.history["d_loss"] + history.history["g_loss"])
    assert [os.path.basename(p) for p in paths] == ["generated_epoch_001.png", "generated_epoch_002.png"]
    assert _png_size(paths[0]) == (8 * 28, 8 * 28)
    assert gan.d_optimizer.iterations == 4 and gan.g_optimizer.iterations == 4
    assert os.path.exists(tmp_path / "generator.weights.safetensors")
    assert os.path.exists(tmp_path / "discriminator.weights.safetensors")


def test_dcgan_weight_average_follows_its_formula_and_resume_loads_both_networks(tmp_path):
    example = load_example("dcgan_fashion_mnist")
    gan, _, _ = example.main(epochs=1, batch_size=16, samples=32, out=str(tmp_path), verbose=0, average=0.5)
    assert os.path.exists(tmp_path / "generator_ema.weights.safetensors")
    # the callback's arithmetic on weights set by hand: average <- 0.5 average + 0.5 weights
    average = example.GeneratorAverage(str(tmp_path), momentum=0.5)
    average.set_model(gan)
    start = [w.copy() for w in gan.generator.get_weights()]
    average.on_train_begin()
    shifted = [w + 1.0 for w in start]
    gan.generator.set_weights(shifted)
    average.on_train_batch_end(0)
    for a, w in zip(average.average, start):
        np.testing.assert_allclose(a, w + 0.5, rtol=1e-6)
    assert all(np.array_equal(a, b) for a, b in zip(gan.generator.get_weights(), shifted))  # untouched
    # the saved average carries batch-norm statistics of its own weights; training weights stay
    average.on_epoch_end(0)
    assert all(np.array_equal(a, b) for a, b in zip(gan.generator.get_weights(), shifted))
    saved = example.build_generator()
    saved.load_weights(str(tmp_path / "generator_ema.weights.safetensors"))
    norm = next(layer for layer in saved.layers if layer.__class__.__name__ == "BatchNormalization")
    kernel_index = [id(v) for v in saved.weights].index(id(norm.moving_mean))
    assert not np.allclose(saved.get_weights()[kernel_index], 0)  # recomputed, not the initial zeros
    # --resume starts from both saved networks
    saved_d = [w.copy() for w in gan.discriminator.get_weights()]
    loaded = {}
    original = example.GAN.fit

    def fit_spy(self, *args, **kwargs):  # the weights --resume gave the networks before training
        loaded["d"] = [w.copy() for w in self.discriminator.get_weights()]
        return original(self, *args, **kwargs)

    example.GAN.fit = fit_spy
    try:
        again, _, _ = example.main(epochs=1, batch_size=16, samples=16, out=str(tmp_path), verbose=0,
                                   resume=True, average=0)
    finally:
        example.GAN.fit = original
    assert all(np.array_equal(a, b) for a, b in zip(loaded["d"], saved_d))
    assert again.d_optimizer.iterations == 1


@pytest.mark.slow
def test_wgan_gp_trains_with_a_gradient_penalty(tmp_path):
    example = load_example("wgan_gp_fashion_mnist")
    wgan, history, paths = example.main(epochs=1, batch_size=8, samples=16, d_steps=2, out=str(tmp_path), verbose=0)
    assert wgan.d_optimizer.iterations == 4 and wgan.g_optimizer.iterations == 2
    assert history.history["gp"][0] > 0 and np.isfinite(history.history["d_loss"][0])
    assert _png_size(paths[0]) == (8 * 28, 8 * 28)


@pytest.mark.slow
def test_vae_trains_and_writes_its_pngs(tmp_path):
    example = load_example("vae_fashion_mnist")
    vae, history = example.main(epochs=2, batch_size=32, samples=64, out=str(tmp_path), verbose=0)
    assert set(history.history) == {"loss", "reconstruction_loss", "kl_loss"}
    total = np.array(history.history["loss"])
    parts = np.array(history.history["reconstruction_loss"]) + np.array(history.history["kl_loss"])
    np.testing.assert_allclose(total, parts, rtol=1e-5)
    assert total[1] < total[0]
    assert _png_size(tmp_path / "reconstructions.png") == (10 * 28, 2 * 28)
    assert _png_size(tmp_path / "latent_space.png") == (15 * 28, 15 * 28)
