"""What a RandomFlip + RandomRotation(0.1) + RandomZoom(0.1) front adds to a training step
of seed 004's MNIST CNN (batch 128, 28x28x1): median step time with and without it.

    python benchmarks/augmentation_overhead.py [--steps 40]
"""
import argparse
import time

import numpy as np

import deepgrad as dg
from deepgrad import layers


def cnn(augment: bool):
    front = [layers.RandomFlip(seed=0), layers.RandomRotation(0.1, seed=0),
             layers.RandomZoom(0.1, seed=0)] if augment else []
    model = dg.Sequential([layers.Input((28, 28, 1)), *front,
                           layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                           layers.Flatten(), layers.Dense(128, activation="relu"),
                           layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def step_times(model, x, y, steps):
    times = []
    for i in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x[i % 4], y[i % 4])
        times.append(time.perf_counter() - start)
    return np.array(times[3:])  # the first steps build the model


def front_times(x, steps):
    front = dg.Sequential([layers.Input((28, 28, 1)), layers.RandomFlip(seed=0),
                           layers.RandomRotation(0.1, seed=0), layers.RandomZoom(0.1, seed=0)])
    times = []
    for i in range(steps):
        start = time.perf_counter()
        front(x[i % 4], training=True)
        times.append(time.perf_counter() - start)
    return np.array(times[3:])


def main(steps=40):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4, 128, 28, 28, 1)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, (4, 128))]
    plain, augmented = cnn(False), cnn(True)
    t_plain, t_aug = [], []
    for _ in range(3):  # interleaved, so both see the same machine load
        t_plain.append(step_times(plain, x, y, steps))
        t_aug.append(step_times(augmented, x, y, steps))
    base, aug = np.median(np.concatenate(t_plain)), np.median(np.concatenate(t_aug))
    front = np.median(front_times(x, steps))
    print(f"step without front {base * 1e3:.1f} ms, with front {aug * 1e3:.1f} ms: "
          f"+{(aug / base - 1) * 100:.1f}% (the front alone, forward: {front * 1e3:.1f} ms, "
          f"{front / base * 100:.1f}% of a step)")
    return base, aug, front


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    main(parser.parse_args().steps)
