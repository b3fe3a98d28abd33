"""One DCGAN training step (discriminator and generator) in deepgrad against PyTorch CPU.

The networks and the step of ``examples/dcgan_fashion_mnist.py`` (the Keras DCGAN program):
the discriminator Conv2D(64, 4, s2) -> LeakyReLU -> Conv2D(128, 4, s2) -> LeakyReLU ->
Flatten -> Dropout -> Dense(1); the generator Dense(7*7*128) -> Reshape ->
Conv2DTranspose(128, 4, s2) -> BatchNorm -> LeakyReLU -> Conv2DTranspose(64, 4, s2) ->
BatchNorm -> LeakyReLU -> Conv2D(1, 5, sigmoid), latent 128, batch 64, float32. One step =
the discriminator's update on generated + real images, then the generator's update through
the discriminator, each with Adam(2e-4, beta_1 0.5) and binary cross-entropy on logits.
deepgrad runs the example's own ``GAN.train_step``; PyTorch (2 threads) the same step by hand.
The two are timed interleaved (A B A B ...); the report gives samples/s of each and the
deepgrad/PyTorch ratio, median and spread over rounds.

Unlike the other benchmarks, this one changes no process setting (no ``deepgrad.runtime``
call), so it measures what a user's script gets by default; ``--runtime`` applies
``keep_freed_memory`` and ``short_blas_spin`` as the ``deepgrad`` command does. It also
reports the minor page faults per deepgrad step (``getrusage``).

``--halves`` adds a third step to the rounds: deepgrad with its two-thread element-wise passes
(``runtime.for_batch_halves``) turned off, so that their gain is measured in the same run
(A B C A B C ...). ``--cpu`` times CPU time (``time.process_time``, all threads of the
process) instead of wall clock, for a loaded machine.

Run it from the repository root with the checkout on ``PYTHONPATH`` (``PYTHONPATH=.``): the
script's own folder comes first on ``sys.path``, not the current one.

    python benchmarks/dcgan_speed.py
    python benchmarks/dcgan_speed.py --rounds 5 --steps 3 --runtime
    python benchmarks/dcgan_speed.py --rounds 5 --steps 2 --halves
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time

import numpy as np

from interleaved import rates, rates_of, timed

BATCH, LATENT = 64, 128
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))


def real_images(seed: int = 0):
    return np.random.default_rng(seed).random((BATCH, 28, 28, 1), dtype=np.float32)


def deepgrad_stepper():
    import deepgrad as dg
    from dcgan_fashion_mnist import GAN, build_discriminator, build_generator

    dg.utils.set_random_seed(0)
    gan = GAN(build_discriminator(), build_generator(LATENT), latent_dim=LATENT)
    gan.compile(d_optimizer=dg.optimizers.Adam(2e-4, beta_1=0.5), g_optimizer=dg.optimizers.Adam(2e-4, beta_1=0.5),
                loss_fn=dg.losses.BinaryCrossentropy(from_logits=True))
    images = real_images()
    return lambda: gan.train_step(images)


def torch_stepper():
    import torch
    from torch import nn

    # padding 1 with k=4, s=2 gives Keras's "same" size (n/2, or 2n transposed); k=5 "same" is padding 2
    disc = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 4, 2, 1), nn.LeakyReLU(0.2),
                         nn.Flatten(), nn.Dropout(0.2), nn.Linear(7 * 7 * 128, 1))
    gen = nn.Sequential(nn.Linear(LATENT, 7 * 7 * 128), nn.Unflatten(1, (128, 7, 7)),
                        nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.BatchNorm2d(128, eps=1e-3, momentum=0.01),
                        nn.LeakyReLU(0.2), nn.ConvTranspose2d(128, 64, 4, 2, 1),
                        nn.BatchNorm2d(64, eps=1e-3, momentum=0.01), nn.LeakyReLU(0.2),
                        nn.Conv2d(64, 1, 5, padding=2), nn.Sigmoid())
    d_opt = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-7)
    g_opt = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-7)
    loss_fn = nn.BCEWithLogitsLoss()
    real = torch.from_numpy(real_images()).permute(0, 3, 1, 2).contiguous()
    generator = torch.Generator().manual_seed(0)

    def step():
        fake = gen(torch.randn(BATCH, LATENT, generator=generator))
        labels = torch.cat([torch.ones(BATCH, 1), torch.zeros(BATCH, 1)])
        labels = labels + 0.05 * torch.rand(labels.shape, generator=generator)
        d_opt.zero_grad(set_to_none=True)
        loss_fn(disc(torch.cat([fake.detach(), real])), labels).backward()
        d_opt.step()
        g_opt.zero_grad(set_to_none=True)
        loss_fn(disc(gen(torch.randn(BATCH, LATENT, generator=generator))), torch.zeros(BATCH, 1)).backward()
        g_opt.step()

    return step


def minor_faults_per_step(step, steps: int) -> float:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    timed(step, steps)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=3, help="training steps per timed round")
    p.add_argument("--runtime", action="store_true", help="apply deepgrad.runtime's process settings first")
    p.add_argument("--halves", action="store_true",
                   help="also time deepgrad with its two-thread element-wise passes off, in the same rounds")
    p.add_argument("--cpu", action="store_true", help="time CPU time of the process instead of wall clock")
    args = p.parse_args()
    if args.runtime:
        from deepgrad import runtime

        runtime.keep_freed_memory()
        runtime.short_blas_spin()
    import torch

    torch.set_num_threads(2)
    dg_step, th_step = deepgrad_stepper(), torch_stepper()
    timed(dg_step, 2)
    faults = minor_faults_per_step(dg_step, args.steps)
    clock = time.process_time if args.cpu else time.perf_counter
    if args.halves:
        halves_on_off(dg_step, th_step, args.rounds, args.steps, clock)
        return
    dg_rates, th_rates, ratios = rates(dg_step, th_step, args.rounds, args.steps, BATCH, clock)
    print(f"DCGAN discriminator + generator step, batch {BATCH}, {args.rounds} rounds of {args.steps} steps, "
          f"runtime settings {'on' if args.runtime else 'off'}, {'CPU time' if args.cpu else 'wall clock'}")
    print(f"deepgrad {statistics.median(dg_rates):8.1f} samples/s   PyTorch {statistics.median(th_rates):8.1f} "
          f"samples/s   deepgrad minor page faults per step {faults:.0f}")
    print(f"ratio deepgrad/PyTorch: median {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f})")


def halves_on_off(dg_step, th_step, rounds: int, steps: int, clock) -> None:
    """deepgrad with the two-thread passes on, off, and PyTorch, interleaved; ratios per round."""
    from deepgrad import runtime

    threshold = runtime._PARALLEL_MIN_SIZE
    print(f"two-thread passes possible in this process: {runtime.two_threads()} ({runtime._cores()} cores)")

    def halves_off():
        runtime._PARALLEL_MIN_SIZE = 1 << 62
        try:
            dg_step()
        finally:
            runtime._PARALLEL_MIN_SIZE = threshold

    steppers = {"deepgrad": dg_step, "deepgrad, halves off": halves_off, "PyTorch": th_step}
    samples = rates_of(steppers, rounds, steps, BATCH, clock)
    print(f"DCGAN D+G step, batch {BATCH}, {rounds} rounds of {steps} steps, "
          f"{'CPU time' if clock is time.process_time else 'wall clock'}; samples/s, median (min-max)")
    for name, values in samples.items():
        print(f"  {name:22s} {statistics.median(values):8.1f} ({min(values):.1f}-{max(values):.1f})")
    for a, b in (("deepgrad", "PyTorch"), ("deepgrad, halves off", "PyTorch"), ("deepgrad", "deepgrad, halves off")):
        ratios = [x / y for x, y in zip(samples[a], samples[b])]
        print(f"  {a} / {b}: {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
