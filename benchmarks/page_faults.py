"""Minor page faults per training step, in a program that changes no process setting.

A count, not a time: it does not depend on how busy the machine is. Each model runs in a
fresh process (the default glibc allocator, no ``deepgrad.runtime`` call), takes a few warm-up
steps, then ``getrusage``'s ``ru_minflt`` is read around ``--steps`` steps. Every fault is a
fresh zero-filled 4 KB page: a large temporary that glibc mapped for this step and unmapped
after it. ``--runtime`` applies ``keep_freed_memory`` and ``short_blas_spin`` first, for
comparison.

Models: the seed 004 MNIST CNN and the seed 002 CIFAR CNN of ``train_speed.py`` (batch 128),
the DCGAN discriminator + generator step of ``dcgan_speed.py`` (batch 64) and the transformer
encoder block of ``attention_speed.py`` (batch 32).

    python benchmarks/page_faults.py
    python benchmarks/page_faults.py --models dcgan --steps 5
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

from interleaved import timed

MODELS = ("cnn", "cifar", "dcgan", "transformer")


def stepper(name: str):
    if name in ("cnn", "cifar"):
        import train_speed

        return train_speed.deepgrad_stepper(name)[0]
    if name == "dcgan":
        import dcgan_speed

        return dcgan_speed.deepgrad_stepper()
    import attention_speed

    return attention_speed.deepgrad_stepper()


def probe(name: str, steps: int, runtime: bool) -> dict:
    if runtime:
        from deepgrad import runtime as rt

        rt.keep_freed_memory()
        rt.short_blas_spin()
    step = stepper(name)
    timed(step, 3)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    timed(step, steps)
    return {"faults_per_step": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / steps}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--runtime", action="store_true", help="apply deepgrad.runtime's process settings first")
    p.add_argument("--probe", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe, args.steps, args.runtime)))
        return
    print(f"minor page faults per training step ({args.steps} steps after 3 warm-up steps), "
          f"runtime settings {'on' if args.runtime else 'off'}")
    for name in args.models:
        cmd = [sys.executable, __file__, "--probe", name, "--steps", str(args.steps)] + (["--runtime"] * args.runtime)
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        faults = json.loads(out.stdout.strip().splitlines()[-1])["faults_per_step"]
        print(f"  {name:12s} {faults:10.0f}  ({faults * 4 / 1024:.0f} MB of fresh pages)", flush=True)


if __name__ == "__main__":
    main()
