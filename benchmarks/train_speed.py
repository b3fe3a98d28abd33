"""Training throughput of deepgrad against PyTorch CPU, measured in one run.

Five models (MLP, seed 004's MNIST CNN, seed 002's CIFAR CNN, an LSTM, a GRU), float32, batch 128,
one training step = forward + backward + Adam update. deepgrad and PyTorch are timed
interleaved (A B A B ...) on the same synthetic data, so machine noise hits both alike;
the report gives samples/s, the deepgrad/PyTorch ratio (median and spread over rounds),
peak RSS of each in a fresh process, fit() against raw steps, predict against training
per sample, and the machine's float32 GEMM rate.

As a training program may, this one tells glibc's malloc to keep freed memory for reuse
(M_MMAP_THRESHOLD and M_TRIM_THRESHOLD raised): otherwise every large temporary of a CNN
step is a fresh mmap whose pages fault in again, thousands of minor faults per step.
``--malloc default`` measures without it. Likewise it lets OpenBLAS's idle threads sleep
after about 2**20 cycles instead of spinning for about 0.1 s after every GEMM while the
step's element-wise passes want the cores (``deepgrad.runtime.short_blas_spin``;
``--blas-spin default`` measures without it). A library never changes these settings on
import; the application decides. PyTorch, which brings its own BLAS and thread pool, is
unaffected by either.

    python benchmarks/train_speed.py                 # everything
    python benchmarks/train_speed.py --models mlp --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from interleaved import rates, timed

BATCH = 128
RECURRENT = ("lstm", "gru")  # sequences of 50 steps of 1 feature -> 64 units -> Dense(1, sigmoid)


# --------------------------------------------------------------------------- models
def data_for(name: str, n: int = BATCH, seed: int = 0):
    rng = np.random.default_rng(seed)
    shapes = {"mlp": (784,), "cnn": (28, 28, 1), "cifar": (32, 32, 3), "lstm": (50, 1), "gru": (50, 1)}
    x = rng.random((n,) + shapes[name], dtype=np.float32)
    y = (rng.random(n) > 0.5).astype(np.float32) if name in RECURRENT else rng.integers(0, 10, n)
    return x, y


def deepgrad_model(name: str):
    import deepgrad as dg
    from deepgrad import layers

    if name == "mlp":
        stack = [layers.Input((784,)), layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")]
    elif name == "cnn":
        stack = [layers.Input((28, 28, 1)), layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                 layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")]
    elif name == "cifar":
        stack = [layers.Input((32, 32, 3)), layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                 layers.Dropout(0.25), layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                 layers.Dropout(0.25), layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dropout(0.5),
                 layers.Dense(10, activation="softmax")]
    else:
        cell = layers.LSTM if name == "lstm" else layers.GRU
        stack = [layers.Input((50, 1)), cell(64), layers.Dense(1, activation="sigmoid")]
    model = dg.Sequential(stack)
    loss = "binary_crossentropy" if name in RECURRENT else "sparse_categorical_crossentropy"
    model.compile(optimizer=dg.optimizers.Adam(1e-3), loss=loss)
    return model


def torch_model(name: str):
    import torch
    from torch import nn

    if name == "mlp":
        net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    elif name == "cnn":
        net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(13 * 13 * 32, 128), nn.ReLU(), nn.Linear(128, 10))
    elif name == "cifar":
        net = nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
                            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
                            nn.Linear(6 * 6 * 64, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 10))
    else:
        class RecurrentNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = (nn.LSTM if name == "lstm" else nn.GRU)(1, 64, batch_first=True)
                self.head = nn.Linear(64, 1)

            def forward(self, x):
                return self.head(self.rnn(x)[0][:, -1])

        net = RecurrentNet()
    loss = nn.BCEWithLogitsLoss() if name in RECURRENT else nn.CrossEntropyLoss()
    return net, torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7), loss


def deepgrad_stepper(name: str):
    model = deepgrad_model(name)
    x, y = data_for(name)

    def step():
        model.train_on_batch(x, y)

    return step, model, x, y


def torch_stepper(name: str):
    import torch

    net, opt, loss_fn = torch_model(name)
    x, y = data_for(name)
    xt = torch.from_numpy(x)
    if name in ("cnn", "cifar"):
        xt = xt.permute(0, 3, 1, 2).contiguous()
    yt = torch.from_numpy(y).float().view(-1, 1) if name in RECURRENT else torch.from_numpy(y).long()
    net.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(xt), yt).backward()
        opt.step()

    return step, net, xt


# --------------------------------------------------------------------------- measurements
def throughput(name: str, rounds: int, steps: int) -> dict:
    dg_step, model, x, y = deepgrad_stepper(name)
    th_step, net, xt = torch_stepper(name)
    dg_rates, th_rates, ratios = rates(dg_step, th_step, rounds, steps, BATCH)

    # fit() over the same number of samples vs the raw step, and predict per sample vs
    # training: each a median over rounds of the pair timed back to back
    xs = np.concatenate([x] * steps)
    ys = np.concatenate([y] * steps)
    fit_ratios, predict_ratios = [], []
    for _ in range(rounds):
        fit_t, raw_t, pred_t = _time_fit(model, xs, ys), timed(dg_step, steps), _time_predict(model, xs)
        fit_ratios.append(fit_t / raw_t)
        predict_ratios.append(raw_t / pred_t)
    return {
        "deepgrad_samples_per_s": statistics.median(dg_rates),
        "torch_samples_per_s": statistics.median(th_rates),
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "fit_overhead": statistics.median(fit_ratios) - 1,
        "predict_speedup_per_sample": statistics.median(predict_ratios),
    }


def _time_fit(model, xs, ys) -> float:
    start = time.perf_counter()
    model.fit(xs, ys, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    return time.perf_counter() - start


def _time_predict(model, xs) -> float:
    start = time.perf_counter()
    model.predict(xs, batch_size=BATCH, verbose=0)
    return time.perf_counter() - start


def memory_probe(framework: str, name: str, steps: int) -> None:
    """Runs in a fresh process: peak RSS after ``steps`` training steps, and RSS growth.

    The peak is the process's VmHWM: getrusage's ru_maxrss would carry over the RSS of the
    parent that started this process (Linux keeps it across exec).
    """
    if framework == "torch":  # a deepgrad process never imports torch
        import torch

        torch.set_num_threads(2)
    step = (deepgrad_stepper if framework == "deepgrad" else torch_stepper)(name)[0]
    timed(step, max(steps // 10, 2))
    rss_early = _current_rss_mb()
    timed(step, steps)
    print(json.dumps({"peak_rss_mb": _status_mb("VmHWM"), "rss_growth_mb": _current_rss_mb() - rss_early}))


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"/proc/self/status has no {field}")


def memory(name: str, steps: int, malloc: str) -> dict:
    """Each framework in a fresh process; the same malloc setting as the timed run, given by
    glibc's environment variables so that a PyTorch process never imports deepgrad."""
    env = dict(os.environ)
    if malloc == "keep":
        env.update(MALLOC_MMAP_THRESHOLD_=str(1 << 30), MALLOC_TRIM_THRESHOLD_=str(1 << 30))
    out = {}
    for framework in ("deepgrad", "torch"):
        res = subprocess.run([sys.executable, __file__, "--memory-probe", framework, name, "--steps", str(steps)],
                             capture_output=True, text=True, check=True, env=env)
        out[framework] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def gemm_gflops(n: int = 2048, repeat: int = 5) -> float:
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = a.copy()
    a @ b
    best = min(timed(lambda: a @ b, 1) for _ in range(repeat))
    return 2 * n**3 / best / 1e9


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["mlp", "cnn", "cifar", "lstm", "gru"])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=20, help="training steps per timed round")
    p.add_argument("--memory-steps", type=int, default=200)
    p.add_argument("--malloc", choices=("keep", "default"), default="keep",
                   help="keep: keep freed memory for reuse (see above); default: glibc's defaults")
    p.add_argument("--blas-spin", choices=("short", "default"), default="short",
                   help="short: OpenBLAS's idle threads sleep after ~2**20 cycles (see above); "
                        "default: OpenBLAS's own ~2**28")
    p.add_argument("--memory-probe", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_probe:  # the malloc setting came in glibc's environment variables (see memory())
        memory_probe(*args.memory_probe, steps=args.steps)
        return
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP", "MKL"))}  # as given
    from deepgrad import runtime

    malloc = args.malloc
    if malloc == "keep" and not runtime.keep_freed_memory():
        malloc = "default (mallopt unavailable)"
    blas_spin = args.blas_spin
    if blas_spin == "short" and not runtime.short_blas_spin():
        blas_spin = "default (no pthreads OpenBLAS)"

    import torch

    torch.set_num_threads(2)
    gemm = gemm_gflops()
    from deepgrad.ops import blas

    print(f"numpy {np.__version__}, torch {torch.__version__}, float32 GEMM {gemm:.0f} GFLOP/s, "
          f"deepgrad's GEMMs on {blas.engine()}, "
          f"batch {BATCH}, malloc {malloc}, blas spin {blas_spin}, env {env or '{}'}")
    header = (f"{'model':6s} {'deepgrad/s':>11s} {'torch/s':>9s} {'ratio':>6s} {'spread':>13s} "
              f"{'fit cost':>8s} {'predict x':>9s} {'RSS dg MB':>9s} {'RSS th MB':>9s} {'dg growth':>9s}")
    print(header)
    for name in args.models:
        r = throughput(name, args.rounds, args.steps)
        m = memory(name, args.memory_steps, args.malloc)
        print(f"{name:6s} {r['deepgrad_samples_per_s']:11.0f} {r['torch_samples_per_s']:9.0f} "
              f"{r['ratio_median']:6.2f} {r['ratio_min']:6.2f}-{r['ratio_max']:<6.2f} "
              f"{100 * r['fit_overhead']:7.1f}% {r['predict_speedup_per_sample']:9.1f} "
              f"{m['deepgrad']['peak_rss_mb']:9.0f} {m['torch']['peak_rss_mb']:9.0f} "
              f"{m['deepgrad']['rss_growth_mb']:9.1f}", flush=True)


if __name__ == "__main__":
    main()
