"""What the CartPole-v1 examples share: the environment and the learning-curve plot."""
from __future__ import annotations

import numpy as np


def make_env(seed: int):
    try:
        import gymnasium as gym
    except ImportError:
        raise ImportError("this example needs gymnasium: pip install deepgrad[rl]") from None
    env = gym.make("CartPole-v1")
    env.reset(seed=seed)
    env.action_space.seed(seed)
    return env


def plot_curve(rewards, path, title, solved_at=None):
    """Reward per episode and its 20-episode moving mean, as a PNG."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install deepgrad[viz]") from None
    rewards = np.asarray(rewards)
    window = min(20, len(rewards))
    mean = np.convolve(rewards, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(np.arange(1, len(rewards) + 1), rewards, lw=0.6, alpha=0.5, label="episode reward")
    ax.plot(np.arange(window, len(rewards) + 1), mean, lw=2, label=f"mean of {window}")
    ax.axhline(475, color="k", ls="--", lw=0.8, label="solved (475)")
    if solved_at:
        ax.axvline(solved_at, color="g", lw=0.8, label=f"solved at episode {solved_at}")
    ax.set(xlabel="episode", ylabel="reward", title=title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
