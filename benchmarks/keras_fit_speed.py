"""``model.fit`` of one Keras program on deepgrad against Keras 3 on its PyTorch backend.

The program is written once against the Keras API (``keras.Sequential``, ``keras.layers``,
``compile(optimizer="adam", ...)``, ``fit``) and run twice in this process: with ``keras``
bound to ``deepgrad`` (the only change a Keras user makes) and to Keras 3.15.1 with
``KERAS_BACKEND=torch``. No process settings are applied (no malloc or BLAS-spin tuning): this
is what a user's own script gets. Each round fits one epoch of the same synthetic data in
each framework, alternately, so machine noise hits both alike; the report gives samples/s, the
deepgrad/Keras ratio (median and spread over rounds) for the MLP, seed 004's MNIST CNN, seed
002's CIFAR CNN and an LSTM(64) over 50 steps, batch 128.

    python benchmarks/keras_fit_speed.py
    python benchmarks/keras_fit_speed.py --models mlp lstm --rounds 5 --samples 2048
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402

from interleaved import rates  # noqa: E402

BATCH = 128
MODELS = ("mlp", "cnn", "cifar", "lstm")


def build(keras, name: str):
    """The Keras program's model, compiled, for ``keras`` = deepgrad or Keras 3."""
    layers = keras.layers
    if name == "mlp":
        stack = [keras.Input((784,)), layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")]
    elif name == "cnn":  # seed 004
        stack = [keras.Input((28, 28, 1)), layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                 layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")]
    elif name == "cifar":  # seed 002
        stack = [keras.Input((32, 32, 3)), layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                 layers.Dropout(0.25), layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                 layers.Dropout(0.25), layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dropout(0.5),
                 layers.Dense(10, activation="softmax")]
    elif name == "lstm":
        stack = [keras.Input((50, 1)), layers.LSTM(64), layers.Dense(1, activation="sigmoid")]
    else:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    model = keras.Sequential(stack)
    loss = "binary_crossentropy" if name == "lstm" else "sparse_categorical_crossentropy"
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return model


def data(name: str, samples: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    shapes = {"mlp": (784,), "cnn": (28, 28, 1), "cifar": (32, 32, 3), "lstm": (50, 1)}
    x = rng.random((samples,) + shapes[name], dtype=np.float32)
    y = (rng.random(samples) > 0.5).astype(np.float32) if name == "lstm" else rng.integers(0, 10, samples)
    return x, y


def measure(name: str, rounds: int, samples: int) -> dict:
    import keras

    import deepgrad

    if keras.backend.backend() != "torch":
        sys.exit(f"Keras runs on {keras.backend.backend()!r}; set KERAS_BACKEND=torch")
    x, y = data(name, samples)
    ours, theirs = build(deepgrad, name), build(keras, name)

    def fit(model):
        return lambda: model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=True, verbose=0)

    our_rates, their_rates, ratios = rates(fit(ours), fit(theirs), rounds, 1, samples)
    return {"deepgrad": statistics.median(our_rates), "keras": statistics.median(their_rates),
            "ratio": statistics.median(ratios), "spread": (min(ratios), max(ratios))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=4096, help="samples per fitted epoch")
    args = parser.parse_args(argv)
    print(f"model.fit, batch {BATCH}, {args.samples} samples per epoch, {args.rounds} interleaved rounds; "
          f"samples/s (median) and deepgrad/Keras-on-torch ratio (median, spread)")
    print(f"{'model':8s} {'deepgrad/s':>11s} {'Keras/s':>9s} {'ratio':>6s}  spread")
    results = {}
    for name in args.models:
        r = results[name] = measure(name, args.rounds, args.samples)
        print(f"{name:8s} {r['deepgrad']:11.0f} {r['keras']:9.0f} {r['ratio']:6.2f}  "
              f"{r['spread'][0]:.2f}-{r['spread'][1]:.2f}", flush=True)
    return results


if __name__ == "__main__":
    main()
