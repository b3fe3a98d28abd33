"""Actor-critic on gymnasium's CartPole-v1, written the way the Keras "Actor Critic Method"
program is: one functional model with a softmax actor head and a value head on a shared
hidden layer, a ``GradientTape`` over the episode, Huber loss for the critic, Adam.

Two changes from that program make it solve CartPole-v1 (mean reward >= 475 over 100
episodes) instead of v0: the advantage ``return - value`` is a constant in the actor's loss
(``stop_gradient``: the policy gradient must not train the critic), and the episode is
replayed through the model as one batch inside the tape (the same numbers as calling the
model step by step, but one graph instead of hundreds).

Solved means: the greedy policy (the most probable action) averages >= 475 over 100 fresh
evaluation episodes; it is checked whenever the last 10 training episodes average >= 400.

    python examples/rl_actor_critic_cartpole.py --episodes 1500 --seed 0 --plot ac_curve.png
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import deepgrad as keras
from deepgrad import layers
from deepgrad.compat import tensorflow as tf
from cartpole_common import make_env, plot_curve  # examples/cartpole_common.py


def build_model(num_inputs=4, num_actions=2, num_hidden=128):
    inputs = layers.Input(shape=(num_inputs,))
    common = layers.Dense(num_hidden, activation="relu")(inputs)
    action = layers.Dense(num_actions, activation="softmax")(common)
    critic = layers.Dense(1)(common)
    return keras.Model(inputs=inputs, outputs=[action, critic])


def discounted_returns(rewards, gamma: float) -> np.ndarray:
    """G_t = r_t + gamma G_{t+1}, normalised to mean 0 and std 1 (as the Keras program does)."""
    returns = np.empty(len(rewards))
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):  # one pass backwards over the episode
        running = rewards[t] + gamma * running
        returns[t] = running
    return (returns - returns.mean()) / (returns.std() + np.finfo(np.float32).eps)


def play(env, model, rng, greedy=False, max_steps=500):
    """One episode: the states seen, the actions taken and the rewards received."""
    state, _ = env.reset(seed=int(rng.integers(2 ** 31)))
    states, actions, rewards = [], [], []
    for _ in range(max_steps):
        probs, _ = model(state[None].astype(np.float32))
        probs = np.asarray(probs.data[0], np.float64)
        action = int(probs.argmax()) if greedy else int(rng.choice(len(probs), p=probs / probs.sum()))
        states.append(state)
        actions.append(action)
        state, reward, terminated, truncated, _ = env.step(action)
        rewards.append(reward)
        if terminated or truncated:
            break
    return np.asarray(states, np.float32), np.asarray(actions), np.asarray(rewards, np.float64)


def evaluate(env, model, rng, episodes=100) -> float:
    """Mean reward of the greedy policy over ``episodes`` episodes."""
    with keras.no_grad():
        return float(np.mean([play(env, model, rng, greedy=True)[2].sum() for _ in range(episodes)]))


def train_step(model, optimizer, huber, states, actions, returns):
    """One update on one episode: actor loss -sum(log pi(a|s) * advantage) + critic Huber loss."""
    with tf.GradientTape() as tape:
        probs, values = model(states, training=True)
        values = values[:, 0]
        chosen = (probs * keras.utils.to_categorical(actions, probs.shape[1])).sum(axis=1)
        advantage = keras.ops.stop_gradient(returns - values)
        actor_loss = -(keras.ops.log(chosen) * advantage).sum()
        critic_loss = huber(returns[:, None], values[:, None]) * len(returns)  # a sum, as the Keras program's
        loss = actor_loss + critic_loss
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return float(loss.data)


def main(episodes=1500, seed=0, gamma=0.99, learning_rate=0.01, solve_at=475.0, plot=None, eval_episodes=100,
         verbose=True):
    """Train until solved or ``episodes`` run out; returns a dict of what happened."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    env, eval_env = make_env(seed), make_env(seed + 10_000)
    model = build_model()
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    huber = keras.losses.Huber()
    rewards_per_episode, solved_at, solved_score = [], None, None
    start = time.perf_counter()
    for episode in range(1, episodes + 1):
        with keras.no_grad():
            states, actions, rewards = play(env, model, rng)
        train_step(model, optimizer, huber, states, actions, discounted_returns(rewards, gamma).astype(np.float32))
        rewards_per_episode.append(float(rewards.sum()))
        if verbose and episode % 20 == 0:
            print(f"episode {episode}: reward {rewards_per_episode[-1]:.0f}, "
                  f"mean of last 20 {np.mean(rewards_per_episode[-20:]):.1f}")
        if np.mean(rewards_per_episode[-10:]) >= 400 and episode >= 10:
            score = evaluate(eval_env, model, rng, eval_episodes)
            if verbose:
                print(f"episode {episode}: greedy evaluation over {eval_episodes} episodes: {score:.1f}")
            if score >= solve_at:
                solved_at, solved_score = episode, score
                break
    result = {"solved": solved_at is not None, "episodes": len(rewards_per_episode), "solved_at": solved_at,
              "eval_score": solved_score, "rewards": rewards_per_episode, "seconds": time.perf_counter() - start,
              "model": model}
    if plot:
        plot_curve(rewards_per_episode, plot, f"actor-critic, CartPole-v1, seed {seed}", solved_at)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1500, help="training episode budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--plot", default="actor_critic_cartpole.png", help="learning-curve PNG")
    args = parser.parse_args()
    out = main(args.episodes, args.seed, learning_rate=args.learning_rate, plot=args.plot)
    print(f"solved: {out['solved']} after {out['episodes']} episodes "
          f"(greedy score {out['eval_score']}), {out['seconds']:.0f} s")
