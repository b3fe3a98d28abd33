"""float32 against int8 (``model.quantize("int8")``) for the seed 003 MLP and the seed 004 CNN on
Fashion-MNIST: test accuracy, saved file size, and ``predict`` speed at batch 1 and 128.

Each model trains with the seeds' recipe (Adam, batch 128), is saved as float32, loaded back
and quantized; both are evaluated on the 10,000 test images and saved without optimizer state.

    OPENBLAS_NUM_THREADS=1 python benchmarks/quantize_int8.py --epochs 1
    python benchmarks/quantize_int8.py --models mlp --epochs 2 --train-images 60000
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

import deepgrad as dg
from deepgrad import datasets, layers


def load(train_images: int):
    (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist.load_data()
    prepare = lambda x: (x.astype(np.float32) / 255.0)[..., None]  # noqa: E731
    return (prepare(x_train[:train_images]), y_train[:train_images].astype(np.int64)), (prepare(x_test),
                                                                                       y_test.astype(np.int64))


def build(name: str):
    """Seed 003's MLP (on the 784 pixels) or seed 004's CNN."""
    if name == "mlp":
        model = dg.Sequential([layers.Input((28, 28, 1)), layers.Flatten(), layers.Dense(128, activation="relu"),
                               layers.Dense(10, activation="softmax")])
    else:
        model = dg.Sequential([layers.Input((28, 28, 1)), layers.Conv2D(32, (3, 3), activation="relu"),
                               layers.MaxPooling2D((2, 2)), layers.Flatten(), layers.Dense(128, activation="relu"),
                               layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def predict_speed(model, x, batch: int, seconds: float = 3.0) -> float:
    """Samples per CPU second of one ``model.predict`` call on ``batch`` samples: the smallest CPU
    time of the calls made in ``seconds``. CPU time, not wall time, because on a shared machine a
    call is descheduled for longer than it computes; run with one BLAS thread so that the CPU time
    is the work done (OPENBLAS_NUM_THREADS=1)."""
    chunk = x[:batch]
    model.predict(chunk, batch_size=batch, verbose=0)  # warm up
    best, start_all = float("inf"), time.perf_counter()
    while time.perf_counter() - start_all < seconds:
        start = time.process_time()
        model.predict(chunk, batch_size=batch, verbose=0)
        best = min(best, time.process_time() - start)
    return batch / max(best, 1e-6)


def run(name: str, epochs: int, train_images: int, seconds: float) -> dict:
    (x_train, y_train), (x_test, y_test) = load(train_images)
    dg.utils.set_random_seed(0)
    model = build(name)
    model.fit(x_train, y_train, epochs=epochs, batch_size=128, verbose=0)
    with tempfile.TemporaryDirectory() as tmp:
        float_path, int8_path = os.path.join(tmp, "float.deepgrad"), os.path.join(tmp, "int8.deepgrad")
        model.save(float_path, include_optimizer=False)
        quantized = dg.models.load_model(float_path)
        quantized.quantize("int8")
        quantized.save(int8_path, include_optimizer=False)
        sizes = os.path.getsize(float_path), os.path.getsize(int8_path)
        reloaded = dg.models.load_model(int8_path)
        same = bool(np.array_equal(reloaded.predict(x_test[:512], verbose=0), quantized.predict(x_test[:512],
                                                                                              verbose=0)))
    accuracy = [float(np.mean(m.predict(x_test, batch_size=512, verbose=0).argmax(-1) == y_test))
                for m in (model, quantized)]
    speed = {(kind, batch): predict_speed(m, x_test, batch, seconds)
             for kind, m in (("float32", model), ("int8", quantized)) for batch in (1, 128)}
    return {"accuracy": accuracy, "sizes": sizes, "same_after_reload": same, "speed": speed}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["mlp", "cnn"], choices=["mlp", "cnn"])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-images", type=int, default=60000)
    parser.add_argument("--seconds", type=float, default=3.0, help="timing budget per speed figure")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")
    print("| model | float32 acc | int8 acc | drop (points) | float32 file | int8 file | ratio | "
          "predict b=1 f32 / int8 (samples/s) | predict b=128 f32 / int8 (samples/s) | reload identical |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.models:
        r = run(name, args.epochs, args.train_images, args.seconds)
        (fa, qa), (fs, qs), s = r["accuracy"], r["sizes"], r["speed"]
        print(f"| {name} | {100 * fa:.2f}% | {100 * qa:.2f}% | {100 * (fa - qa):+.2f} | {fs / 1e3:.0f} kB | "
              f"{qs / 1e3:.0f} kB | {fs / qs:.2f}x | {s['float32', 1]:.0f} / {s['int8', 1]:.0f} | "
              f"{s['float32', 128]:.0f} / {s['int8', 128]:.0f} | {r['same_after_reload']} |", flush=True)


if __name__ == "__main__":
    main()
