"""ONNX export of seed 003's MLP and seed 004's CNN trained on Fashion-MNIST: accuracy, file size
and inference speed of deepgrad ``predict`` (float32 and, where the model has ``quantize``, int8)
against onnxruntime running the exported float32 and int8 files, at batch 1 and batch 128.

int8 files come from ``model.export(..., quantize="int8")``: the MLP with onnxruntime's dynamic
quantisation, the CNN with static quantisation calibrated on 512 training images (and, for
comparison, dynamic, which leaves its convolution in float32). Timings are the median CPU
time of repeated calls after a warm-up, the runs of the engines interleaved so that a change
of load on the machine hits each alike. Both engines get the same number of threads (``--threads``,
default 1: on a shared machine a second BLAS thread that waits for a busy core makes a
128-row GEMM hundreds of times slower, which measures the machine, not the engine).

    python benchmarks/onnx_inference.py --epochs 2 --out /tmp/onnx-bench
"""
from __future__ import annotations

import argparse
import os
import statistics
import time



def load_data():
    import numpy as np

    from deepgrad.datasets import fashion_mnist

    (x, y), (xt, yt) = fashion_mnist.load_data()
    prep = lambda a: (a.astype(np.float32) / 255.0)[..., None]   # noqa: E731
    return (prep(x), y.astype(np.int64)), (prep(xt), yt.astype(np.int64))


def build(kind: str):
    import deepgrad as dg
    from deepgrad import layers

    stack = [layers.Input(shape=(28, 28, 1))]
    if kind == "cnn":   # seed 004
        stack += [layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2))]
    stack += [layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")]
    return dg.Sequential(stack, name=kind)


def trained(kind: str, epochs: int, out: str, data):
    import deepgrad as dg

    path = os.path.join(out, f"{kind}.deepgrad")
    if os.path.isfile(path):
        return dg.models.load_model(path)
    dg.utils.set_random_seed(0)
    (x, y), _ = data
    model = build(kind)
    model.compile(optimizer=dg.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    t = time.perf_counter()
    model.fit(x, y, batch_size=128, epochs=epochs, verbose=0)
    print(f"{kind}: trained {epochs} epoch(s) in {time.perf_counter() - t:.0f} s")
    model.save(path)
    return model


def timed(fn, x, repeats: int) -> float:
    """Median CPU seconds of the process per call of ``fn(x)`` (after a warm-up).

    CPU time rather than wall time: on a machine whose cores are shared with other jobs, the
    wall time of a one-thread call says how often the scheduler ran it, not how much work it did."""
    fn(x)
    times = []
    for _ in range(repeats):
        t = time.process_time()
        fn(x)
        times.append(time.process_time() - t)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", default="onnx-bench")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads of deepgrad = onnxruntime's threads")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):   # before NumPy loads BLAS
        os.environ[name] = str(args.threads)

    import numpy as np

    from deepgrad import runtime
    from deepgrad.export.runtime import OnnxPredictor

    runtime.keep_freed_memory()
    runtime.short_blas_spin()

    data = load_data()
    (x_train, _), (x_test, y_test) = data
    rows = []
    for kind in ("mlp", "cnn"):
        model = trained(kind, args.epochs, args.out, data)
        files = {"float32": os.path.join(args.out, f"{kind}.onnx")}
        model.export(files["float32"], format="onnx")
        if kind == "cnn":
            files["int8 static"] = os.path.join(args.out, f"{kind}-int8-static.onnx")
            model.export(files["int8 static"], format="onnx", quantize="int8", calibration_data=x_train[:512])
        files["int8 dynamic"] = os.path.join(args.out, f"{kind}-int8-dynamic.onnx")
        model.export(files["int8 dynamic"], format="onnx", quantize="int8")

        engines = {"deepgrad float32": lambda a, m=model: m.predict(a, batch_size=128, verbose=0)}
        if hasattr(model, "quantize"):   # deepgrad's own int8 layers, where this deepgrad has them
            import deepgrad as dg
            q = dg.models.load_model(os.path.join(args.out, f"{kind}.deepgrad"))
            q.quantize("int8")
            engines["deepgrad int8"] = lambda a, m=q: m.predict(a, batch_size=128, verbose=0)
        for name, path in files.items():
            engines[f"onnxruntime {name}"] = OnnxPredictor(path, threads=args.threads).predict
        sizes = {"deepgrad float32": os.path.getsize(os.path.join(args.out, f"{kind}.deepgrad"))}
        sizes.update({f"onnxruntime {n}": os.path.getsize(p) for n, p in files.items()})

        acc = {n: float(np.mean(np.argmax(f(x_test), axis=1) == y_test)) for n, f in engines.items()}
        speed = {n: {} for n in engines}
        for batch in (1, 128):
            xb = x_test[:batch]
            for _ in range(args.repeats // 5):   # interleaved rounds of 5 calls per engine
                for n, f in engines.items():
                    speed[n].setdefault(batch, []).append(timed(f, xb, 5))
        for n in engines:
            ms1 = statistics.median(speed[n][1]) * 1e3
            ms128 = statistics.median(speed[n][128]) * 1e3
            size = sizes.get(n)
            rows.append((kind, n, acc[n], size, ms1, ms128))

    print("| model | engine | test accuracy | file size | batch 1 CPU ms | batch 128 CPU ms | batch 128 images/CPU s |")
    print("|---|---|---|---|---|---|---|")
    for kind, n, a, size, ms1, ms128 in rows:
        size_text = "" if size is None else f"{size / 1e3:.0f} kB"
        print(f"| {kind} | {n} | {a:.4f} | {size_text} | {ms1:.3f} | {ms128:.2f} | {128e3 / ms128:.0f} |")


if __name__ == "__main__":
    main()
