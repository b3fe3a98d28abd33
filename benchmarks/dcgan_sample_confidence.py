"""How recognisable are a DCGAN's samples? The seed 004 CNN trained on Fashion-MNIST classifies
``--count`` generated images; reported: the fraction classified with confidence > 0.9, the
class histogram of those, and the same fraction on real Fashion-MNIST test images for scale.

    python examples/dcgan_fashion_mnist.py --epochs 20 --out dcgan_samples
    deepgrad train --model cnn --dataset fashion_mnist --epochs 10 --out fashion_cnn
    python benchmarks/dcgan_sample_confidence.py dcgan_samples/generator.weights.safetensors \\
        fashion_cnn/model.deepgrad --count 1000
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))

import deepgrad as dg  # noqa: E402
from dcgan_fashion_mnist import LATENT_DIM, build_generator, save_grid  # noqa: E402

NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def confident(probs: np.ndarray, threshold: float) -> tuple[float, np.ndarray]:
    """The fraction of rows whose largest probability exceeds ``threshold``, and the class counts of those rows."""
    top = probs.max(axis=1) > threshold
    return float(top.mean()), np.bincount(probs.argmax(axis=1)[top], minlength=probs.shape[1])


def main(generator_weights, classifier, count=1000, threshold=0.9, seed=0, grid=None):
    generator = build_generator()
    generator.load_weights(generator_weights)
    z = np.random.default_rng(seed).normal(size=(count, LATENT_DIM)).astype(np.float32)
    images = generator.predict(z, batch_size=250, verbose=0)
    model = dg.models.load_model(classifier)
    fraction, histogram = confident(model.predict(images, batch_size=250, verbose=0), threshold)
    (_, _), (x_test, _) = dg.datasets.fashion_mnist.load_data()
    real = (x_test[:count].astype("float32") / 255.0)[..., None]
    real_fraction, _ = confident(model.predict(real, batch_size=250, verbose=0), threshold)
    print(f"{count} generated images: {fraction:.3f} classified with confidence > {threshold}")
    print("  their classes: " + ", ".join(f"{n} {c}" for n, c in zip(NAMES, histogram)))
    print(f"{count} real test images: {real_fraction:.3f} classified with confidence > {threshold}")
    if grid:
        save_grid(images[:64], grid)
    return fraction, histogram, real_fraction


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("generator_weights")
    parser.add_argument("classifier")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", default=None, help="also save a PNG of the first 64 samples")
    args = parser.parse_args()
    main(args.generator_weights, args.classifier, args.count, args.threshold, args.seed, args.grid)
