"""What a RandomFlip + RandomRotation(0.1) + RandomZoom(0.1) front adds to a training step
of seed 004's MNIST CNN (batch 128, 28x28x1): median step time with and without it, in wall
time and in the process's CPU time (which a loaded machine disturbs far less).

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
    """(wall, cpu) seconds of each step; the first steps build the model and are dropped."""
    wall, cpu = [], []
    for i in range(steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        model.train_on_batch(x[i % 4], y[i % 4])
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return np.array(wall[3:]), np.array(cpu[3:])


def front_times(x, steps):
    front = dg.Sequential([layers.Input((28, 28, 1)), layers.RandomFlip(seed=0),
                           layers.RandomRotation(0.1, seed=0), layers.RandomZoom(0.1, seed=0)])
    times = []
    for i in range(steps):
        start = time.process_time()
        front(x[i % 4], training=True)
        times.append(time.process_time() - start)
    return np.array(times[3:])


def main(steps=40):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4, 128, 28, 28, 1)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, (4, 128))]
    plain, augmented = cnn(False), cnn(True)
    runs = {"plain": ([], []), "augmented": ([], [])}
    for _ in range(3):  # interleaved, so both see the same machine load
        for name, model in (("plain", plain), ("augmented", augmented)):
            wall, cpu = step_times(model, x, y, steps)
            runs[name][0].append(wall)
            runs[name][1].append(cpu)
    (base, base_cpu), (aug, aug_cpu) = [[np.median(np.concatenate(t)) for t in runs[k]] for k in runs]
    front = np.median(front_times(x, steps))
    print(f"step without front {base * 1e3:.1f} ms, with front {aug * 1e3:.1f} ms: +{(aug / base - 1) * 100:.1f}% "
          f"(wall); CPU {base_cpu * 1e3:.1f} ms vs {aug_cpu * 1e3:.1f} ms: +{(aug_cpu / base_cpu - 1) * 100:.1f}% "
          f"(the front alone, forward: {front * 1e3:.1f} ms CPU, {front / base_cpu * 100:.1f}% of a step)")
    return base, aug, front


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    main(parser.parse_args().steps)
