"""Training throughput with one busy neighbour process, deepgrad against PyTorch; and peak
memory over a long run.

The machine a training script runs on is often shared. This starts one neighbour process
that keeps a core busy and measures how much each framework's training throughput drops:

* ``--neighbour matmul``: a NumPy float32 matmul loop on one BLAS thread (memory and FPU
  traffic, as another numerical job would make);
* ``--neighbour spin``: a pure-Python busy loop (only the CPU).

Rounds alternate quiet / loaded (the neighbour is started and stopped for each loaded round)
and within a round deepgrad and PyTorch alternate, so the machine's drift hits all four
alike. For each model it prints both frameworks' samples/s without and with the neighbour
(medians), each framework's retained fraction (loaded / quiet, median over rounds with its
spread), and the deepgrad/PyTorch ratio in both conditions (median with its spread). Nothing is tuned: no malloc or
BLAS settings are applied to either framework (as in a user's own script).

``--memory`` instead runs the MLP for ``--memory-steps`` steps (default 10,000) in a fresh
process per framework and prints the peak RSS (VmHWM) and the RSS at a few points of the
run, to show that it stays flat.

    python benchmarks/under_load.py                  # MLP and MNIST CNN, 1.5-2 minutes on two free cores
    python benchmarks/under_load.py --neighbour spin
    python benchmarks/under_load.py --models mlp cnn lstm --rounds 5 --steps 20
    python benchmarks/under_load.py --memory

Run it from the repository root with ``PYTHONPATH=.`` to measure that checkout's deepgrad.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from interleaved import settle, timed
from train_speed import BATCH, _current_rss_mb, _status_mb, deepgrad_stepper, torch_stepper

# each says "ready" on its stdout once it is set up, then loops
NEIGHBOURS = {
    "matmul": ("import numpy as np\n"
               "a = np.random.default_rng(0).random((512, 512), dtype=np.float32)\n"
               "print('ready', flush=True)\n"
               "while True:\n    a @ a\n"),
    "spin": "print('ready', flush=True)\nwhile True:\n    pass\n",
}


class Neighbour:
    """One busy process for the duration of a ``with`` block."""

    def __init__(self, kind: str):
        self.code = NEIGHBOURS[kind]

    def __enter__(self):
        # no CPU affinity: the scheduler places it, as another user's job would be placed
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.proc = subprocess.Popen([sys.executable, "-c", self.code], env=env, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":   # waits however slowly it starts
            self.proc.kill()
            code = self.proc.wait()
            raise RuntimeError(f"the neighbour process exited before its loop (code {code})")
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


def rate(step, steps: int) -> float:
    settle()
    return steps * BATCH / timed(step, steps)


# steps per timed sample when --steps is not given: about 0.3-0.6 s of work each on two free cores
DEFAULT_STEPS = {"mlp": 150, "cnn": 15, "cifar": 6, "lstm": 10, "gru": 10}


def degradation(name: str, rounds: int, steps: int, kind: str) -> dict:
    ours, theirs = deepgrad_stepper(name)[0], torch_stepper(name)[0]
    for s in (ours, theirs):  # warm-up: allocation, lazy builds
        timed(s, 2)
    quiet = {"deepgrad": [], "torch": []}
    loaded = {"deepgrad": [], "torch": []}
    for _ in range(rounds):
        quiet["deepgrad"].append(rate(ours, steps))
        quiet["torch"].append(rate(theirs, steps))
        with Neighbour(kind):
            loaded["deepgrad"].append(rate(ours, steps))
            loaded["torch"].append(rate(theirs, steps))
    out = {}
    for fw in ("deepgrad", "torch"):
        kept = [b / a for a, b in zip(quiet[fw], loaded[fw])]
        out[fw] = {"quiet": statistics.median(quiet[fw]), "loaded": statistics.median(loaded[fw]),
                   "kept": statistics.median(kept), "kept_min": min(kept), "kept_max": max(kept)}
    for key, runs in (("ratio_quiet", quiet), ("ratio_loaded", loaded)):
        ratios = [a / b for a, b in zip(runs["deepgrad"], runs["torch"])]
        out[key] = statistics.median(ratios)
        out[key + "_min"], out[key + "_max"] = min(ratios), max(ratios)
    return out


# --------------------------------------------------------------------------- memory
def memory_probe(framework: str, name: str, steps: int) -> None:
    """In a fresh process: RSS at a few points of ``steps`` training steps, and the peak."""
    if framework == "torch":  # a deepgrad process never imports torch
        import torch

        torch.set_num_threads(2)
    step = (deepgrad_stepper if framework == "deepgrad" else torch_stepper)(name)[0]
    marks = sorted({max(steps // 10, 1), steps // 2, steps})
    done, rss = 0, {}
    for mark in marks:
        timed(step, mark - done)
        done = mark
        rss[mark] = round(_current_rss_mb(), 2)
    print(json.dumps({"peak_rss_mb": _status_mb("VmHWM"), "rss_mb_after_steps": rss}))


def memory(name: str, steps: int) -> None:
    print(f"{name}, batch {BATCH}, {steps} training steps, fresh process per framework, no malloc setting")
    for framework in ("deepgrad", "torch"):
        res = subprocess.run([sys.executable, __file__, "--memory-probe", framework, name,
                              "--memory-steps", str(steps)], capture_output=True, text=True, check=True)
        r = json.loads(res.stdout.strip().splitlines()[-1])
        series = ", ".join(f"{k} steps {v:.1f} MB" for k, v in r["rss_mb_after_steps"].items())
        print(f"{framework:8s} peak RSS {r['peak_rss_mb']:.1f} MB; RSS after {series}", flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["mlp", "cnn"], choices=sorted(DEFAULT_STEPS))
    p.add_argument("--rounds", type=int, default=9, help="interleaved quiet / loaded rounds")
    p.add_argument("--steps", type=int, default=None,
                   help="training steps per timed sample (default: per model, %s)" % DEFAULT_STEPS)
    p.add_argument("--neighbour", choices=sorted(NEIGHBOURS), default="matmul")
    p.add_argument("--memory", action="store_true", help="peak and flat RSS over a long MLP run instead")
    p.add_argument("--memory-model", default="mlp")
    p.add_argument("--memory-steps", type=int, default=10_000)
    p.add_argument("--memory-probe", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.rounds < 1 or (args.steps is not None and args.steps < 1):
        p.error("--rounds and --steps must be at least 1")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.memory_probe:
        memory_probe(*args.memory_probe, steps=args.memory_steps)
        return
    if args.memory:
        memory(args.memory_model, args.memory_steps)
        return
    import numpy as np
    import torch

    torch.set_num_threads(2)
    print(f"numpy {np.__version__}, torch {torch.__version__}, batch {BATCH}, neighbour {args.neighbour}, "
          f"{os.cpu_count()} CPUs, load average before {os.getloadavg()[0]:.1f}, {args.rounds} rounds")
    print(f"{'model':6s} {'dg quiet/s':>10s} {'dg loaded/s':>11s} {'dg kept':>16s} "
          f"{'th quiet/s':>10s} {'th loaded/s':>11s} {'th kept':>16s} {'ratio quiet':>16s} {'ratio loaded':>16s}")
    for name in args.models:
        steps = args.steps or DEFAULT_STEPS[name]
        r = degradation(name, args.rounds, steps, args.neighbour)
        cols = []
        for fw in ("deepgrad", "torch"):
            d = r[fw]
            cols.append(f"{d['quiet']:10.0f} {d['loaded']:11.0f} {d['kept']:5.2f} ({d['kept_min']:.2f}-{d['kept_max']:.2f})")
        ratios = [f"{r[k]:5.2f} ({r[k + '_min']:.2f}-{r[k + '_max']:.2f})" for k in ("ratio_quiet", "ratio_loaded")]
        print(f"{name:6s} {cols[0]} {cols[1]} {ratios[0]:>16s} {ratios[1]:>16s}", flush=True)
    print(f"load average after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
