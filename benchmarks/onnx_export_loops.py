"""What the exports that are not one ONNX node per layer cost at inference: CPU time per call
(one thread each) of deepgrad ``predict`` against onnxruntime on the exported file, for

- an LSTM on a masked sequence (Keras's masked loop as an ONNX Scan) against the same LSTM
  unmasked (ONNX's LSTM node);
- a ConvLSTM2D (a Scan with a Conv per step);
- the seed MLP and CNN after ``model.quantize("int8")``, exported with their int8 weights
  (deepgrad's int8 arithmetic in the file: per-row or per-receptive-field input quantization).

Timings are medians of repeated calls after a warm-up, the engines interleaved.

    OPENBLAS_NUM_THREADS=1 python benchmarks/onnx_export_loops.py
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def _median_cpu_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return 1000.0 * statistics.median(times)


def _models():
    import numpy as np

    import deepgrad as dg
    from deepgrad import layers
    from deepgrad.cli import build_model

    rng = np.random.default_rng(0)

    def masked_lstm():
        ids = layers.Input((50,), dtype="int32")
        x = layers.Embedding(100, 32, mask_zero=True)(ids)
        return dg.Model(ids, layers.LSTM(64)(x))

    def plain_lstm():
        ids = layers.Input((50,), dtype="int32")
        return dg.Model(ids, layers.LSTM(64)(layers.Embedding(100, 32)(ids)))

    def ids(n):
        x = rng.integers(1, 100, (n, 50)).astype("int32")
        x[:, 40:] = 0   # padding, the same rows for both models
        return x

    def conv_lstm():
        return dg.Sequential([layers.Input((8, 16, 16, 4)), layers.ConvLSTM2D(8, 3, padding="same")])

    def quantized(kind):
        model = build_model(kind, (28, 28, 1), 10)
        model.quantize("int8")
        return model

    return [
        ("LSTM(64), T=50, masked (Scan)", masked_lstm, ids),
        ("LSTM(64), T=50, unmasked (LSTM node)", plain_lstm, ids),
        ("ConvLSTM2D(8, 3), T=8, 16x16x4 (Scan)", conv_lstm,
         lambda n: rng.normal(size=(n, 8, 16, 16, 4)).astype("float32")),
        ("seed MLP, int8 weights", lambda: quantized("mlp"),
         lambda n: rng.normal(size=(n, 28, 28, 1)).astype("float32")),
        ("seed CNN, int8 weights", lambda: quantized("cnn"),
         lambda n: rng.normal(size=(n, 28, 28, 1)).astype("float32")),
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    args = parser.parse_args(argv)
    import numpy as np

    from deepgrad.export.runtime import OnnxPredictor

    print("| model | batch | deepgrad predict CPU ms | onnxruntime CPU ms | file kB | max abs difference |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, make, data in _models():
            model = make()
            path = os.path.join(tmp, "m.onnx")
            model.export(path, format="onnx")
            runner = OnnxPredictor(path, threads=1)
            for n in args.batches:
                x = data(n)
                ours = _median_cpu_ms(lambda: model.predict(x, batch_size=n, verbose=0), args.repeats)
                theirs = _median_cpu_ms(lambda: runner.run([x]), args.repeats)
                diff = float(np.max(np.abs(runner.run([x])[0] - np.asarray(model.predict(x, verbose=0)))))
                print(f"| {name} | {n} | {ours:.2f} | {theirs:.2f} | {os.path.getsize(path) / 1024:.0f} | "
                      f"{diff:.1e} |")


if __name__ == "__main__":
    main()
