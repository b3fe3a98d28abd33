"""Deep Q-learning on gymnasium's CartPole-v1, in the manner of the Keras "Deep Q-Learning"
programs: a Q-network and a target network of the same shape, an experience-replay buffer,
epsilon-greedy exploration decaying per step, a target network that follows the Q-network
slowly (theta_target <- tau theta + (1 - tau) theta_target after every update; or a hard copy
every ``target_every`` steps with ``tau=None``), updates by ``train_on_batch`` on small batches.

What differs from the Keras CartPole program, so that it solves v1 (mean reward >= 475
over 100 episodes) instead of v0: targets come from the target network (the Atari
program's way, not the online network's), the action is chosen by the online network
(double DQN), the loss is Huber, and a time-limit truncation is not a terminal state.

Solved means: the greedy policy averages >= 475 over 100 fresh evaluation episodes; it is
checked after every training episode that reaches 450 reward.

    python examples/rl_dqn_cartpole.py --episodes 1000 --seed 0 --plot dqn_curve.png
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import deepgrad as keras
from deepgrad import layers
from cartpole_common import make_env, plot_curve  # examples/cartpole_common.py


def build_q_network(num_inputs=4, num_actions=2, num_hidden=128):
    inputs = layers.Input(shape=(num_inputs,))
    hidden = layers.Dense(num_hidden, activation="relu")(inputs)
    hidden = layers.Dense(num_hidden, activation="relu")(hidden)
    q_values = layers.Dense(num_actions, activation="linear")(hidden)
    return keras.Model(inputs=inputs, outputs=q_values)


class ReplayBuffer:
    """The last ``capacity`` transitions in ring arrays; ``sample`` draws a batch uniformly."""

    def __init__(self, capacity: int, state_dim: int):
        self.states = np.zeros((capacity, state_dim), np.float32)
        self.next_states = np.zeros((capacity, state_dim), np.float32)
        self.actions = np.zeros(capacity, np.int64)
        self.rewards = np.zeros(capacity, np.float32)
        self.terminal = np.zeros(capacity, np.float32)
        self.capacity, self.size, self.next = capacity, 0, 0

    def add(self, state, action, reward, next_state, terminal) -> None:
        i = self.next
        self.states[i], self.actions[i], self.rewards[i] = state, action, reward
        self.next_states[i], self.terminal[i] = next_state, terminal
        self.next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, rng, batch_size: int):
        idx = rng.integers(self.size, size=batch_size)
        return self.states[idx], self.actions[idx], self.rewards[idx], self.next_states[idx], self.terminal[idx]


def q_targets(model, target_model, batch, gamma: float) -> np.ndarray:
    """The Q-values to regress on: Q(s) with the taken action's entry replaced by
    r + gamma (1 - terminal) Q_target(s', argmax_a Q(s', a))  (double DQN)."""
    states, actions, rewards, next_states, terminal = batch
    both = model.predict_on_batch(np.concatenate([states, next_states]))
    q, q_next_online = both[:len(states)], both[len(states):]
    q_next_target = target_model.predict_on_batch(next_states)
    best = q_next_online.argmax(axis=1)
    bootstrap = q_next_target[np.arange(len(best)), best]
    q = q.copy()
    q[np.arange(len(actions)), actions] = rewards + gamma * (1.0 - terminal) * bootstrap
    return q


def evaluate(envs, model, rng) -> float:
    """Mean reward of the greedy policy over one episode in each of ``envs``, all played at
    once: every step, one ``predict_on_batch`` on the states of the episodes still running."""
    states = np.stack([env.reset(seed=int(rng.integers(2 ** 31)))[0] for env in envs]).astype(np.float32)
    totals, running = np.zeros(len(envs)), np.ones(len(envs), bool)
    while running.any():
        live = np.flatnonzero(running)
        actions = model.predict_on_batch(states[live]).argmax(axis=1)
        for i, action in zip(live, actions):  # gymnasium steps one environment at a time
            state, reward, terminated, truncated, _ = envs[i].step(int(action))
            states[i], totals[i] = state, totals[i] + reward
            running[i] = not (terminated or truncated)
    return float(totals.mean())


def soft_update(target_model, model, tau: float) -> None:
    """theta_target <- tau theta + (1 - tau) theta_target, weight by weight, in place."""
    for target, source in zip(target_model.weights, model.weights):
        target.assign(tau * source.data + (1.0 - tau) * target.data)


def main(episodes=1000, seed=0, gamma=0.99, learning_rate=1e-3, clipnorm=10.0, batch_size=128,
         buffer_size=50_000, epsilon_start=0.9, epsilon_min=0.05, epsilon_decay_steps=1000, tau=0.005,
         target_every=1000, warmup=500, train_every=1, solve_at=475.0, check_at=450.0, plot=None,
         eval_episodes=100, verbose=True):
    """Train until solved or ``episodes`` run out; returns a dict of what happened.

    The greedy policy is evaluated on ``eval_episodes`` fresh episodes after every training
    episode that reaches ``check_at`` reward; the first evaluation >= ``solve_at`` ends the run."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    env = make_env(seed)
    eval_envs = None  # made at the first evaluation
    model, target_model = build_q_network(), build_q_network()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clipnorm),
                  loss=keras.losses.Huber())
    target_model.set_weights(model.get_weights())
    buffer = ReplayBuffer(buffer_size, 4)
    rewards_per_episode, evaluations, solved_at, solved_score, steps = [], [], None, None, 0
    start = time.perf_counter()
    for episode in range(1, episodes + 1):
        state, _ = env.reset(seed=int(rng.integers(2 ** 31)))
        episode_reward, done = 0.0, False
        while not done:
            # epsilon falls exponentially from epsilon_start to epsilon_min, time constant epsilon_decay_steps
            epsilon = epsilon_min + (epsilon_start - epsilon_min) * np.exp(-steps / epsilon_decay_steps)
            if rng.random() < epsilon:
                action = int(rng.integers(2))
            else:
                action = int(model.predict_on_batch(state[None].astype(np.float32))[0].argmax())
            next_state, reward, terminated, truncated, _ = env.step(action)
            buffer.add(state, action, reward, next_state, float(terminated))  # truncation is not an end
            state, done = next_state, terminated or truncated
            episode_reward += reward
            steps += 1
            if buffer.size >= warmup and steps % train_every == 0:
                batch = buffer.sample(rng, batch_size)
                model.train_on_batch(batch[0], q_targets(model, target_model, batch, gamma))
                if tau is not None:
                    soft_update(target_model, model, tau)
            if tau is None and steps % target_every == 0:
                target_model.set_weights(model.get_weights())
        rewards_per_episode.append(episode_reward)
        if verbose and episode % 20 == 0:
            print(f"episode {episode}: reward {episode_reward:.0f}, mean of last 20 "
                  f"{np.mean(rewards_per_episode[-20:]):.1f}, epsilon {epsilon:.2f}, {steps} steps, "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
        if episode_reward >= check_at:
            if eval_envs is None:
                eval_envs = [make_env(seed + 10_000 + k) for k in range(eval_episodes)]
            score = evaluate(eval_envs, model, rng)
            evaluations.append((episode, score))
            if verbose:
                print(f"episode {episode}: greedy evaluation over {eval_episodes} episodes: {score:.1f}", flush=True)
            if score >= solve_at:
                solved_at, solved_score = episode, score
                break
    result = {"solved": solved_at is not None, "episodes": len(rewards_per_episode), "solved_at": solved_at,
              "eval_score": solved_score, "evaluations": evaluations, "rewards": rewards_per_episode,
              "steps": steps, "seconds": time.perf_counter() - start, "model": model}
    if plot:
        plot_curve(rewards_per_episode, plot, f"DQN, CartPole-v1, seed {seed}", solved_at)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000, help="training episode budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="dqn_cartpole.png", help="learning-curve PNG")
    args = parser.parse_args()
    out = main(args.episodes, args.seed, plot=args.plot)
    print(f"solved: {out['solved']} after {out['episodes']} episodes ({out['steps']} steps, greedy score "
          f"{out['eval_score']}, mean of the last 100 training episodes {np.mean(out['rewards'][-100:]):.1f}), "
          f"{out['seconds']:.0f} s")
