"""Training throughput of a DCGAN generator, and of a block of depthwise and separable
convolutions, in deepgrad against PyTorch CPU, measured in one run.

The generator of the Keras DCGAN example on MNIST-sized images: Dense(7*7*128) -> Reshape
(7, 7, 128) -> Conv2DTranspose(128, 4, strides=2, "same") -> LeakyReLU -> Conv2DTranspose(64,
4, strides=2, "same") -> LeakyReLU -> Conv2D(1, 7, "same", sigmoid), latent size 100,
batch 64, float32. One training step = forward + backward + Adam update of a mean squared
error against fixed target images. deepgrad and PyTorch (2 threads) are timed interleaved
(A B A B ...) on the same data; the report gives samples/s of each and the deepgrad/PyTorch
ratio, median and spread over rounds. As in ``train_speed.py`` the program keeps freed
memory for reuse and shortens OpenBLAS's idle spin (``deepgrad.runtime``), as an
application may.

``--model separable``: a MobileNet-style block on 56x56x32 feature maps, batch 32:
SeparableConv2D(64, 3, "same", relu) -> DepthwiseConv2D(3, strides=2, "same", relu) ->
Conv2D(128, 1, relu) -> DepthwiseConv2D(3, "same", relu) -> GlobalAveragePooling2D ->
Dense(10), sparse categorical cross-entropy, Adam; PyTorch's depthwise convolutions are
``Conv2d(groups=channels)``.

    python benchmarks/layers_speed.py
    python benchmarks/layers_speed.py --rounds 5 --steps 5
    python benchmarks/layers_speed.py --model separable
    python benchmarks/layers_speed.py --model separable --cpu
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/layers_speed.py --model separable --cpu --threads 1

``--cpu`` times the process's CPU time instead of wall clock (a loaded machine, where the
frameworks' waiting threads make wall clock meaningless).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from interleaved import rates

BATCH, LATENT = 64, 100


def data(seed: int = 0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((BATCH, LATENT)).astype(np.float32),
            rng.random((BATCH, 28, 28, 1), dtype=np.float32))


def deepgrad_stepper():
    import deepgrad as dg
    from deepgrad import layers

    model = dg.Sequential([
        layers.Input((LATENT,)), layers.Dense(7 * 7 * 128), layers.Reshape((7, 7, 128)),
        layers.Conv2DTranspose(128, 4, strides=2, padding="same"), layers.LeakyReLU(),
        layers.Conv2DTranspose(64, 4, strides=2, padding="same"), layers.LeakyReLU(),
        layers.Conv2D(1, 7, padding="same", activation="sigmoid"),
    ])
    model.compile(optimizer=dg.optimizers.Adam(1e-3), loss="mse")
    z, images = data()

    def step():
        model.train_on_batch(z, images)

    return step


def torch_stepper():
    import torch
    from torch import nn

    # padding=1 with k=4, s=2 gives Keras's "same" size 2n (a crop of 1 cell on each side)
    net = nn.Sequential(
        nn.Linear(LATENT, 7 * 7 * 128), nn.Unflatten(1, (128, 7, 7)),
        nn.ConvTranspose2d(128, 128, 4, stride=2, padding=1), nn.LeakyReLU(0.3),
        nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1), nn.LeakyReLU(0.3),
        nn.Conv2d(64, 1, 7, padding=3), nn.Sigmoid(),
    )
    z, images = data()
    return _torch_step(net, nn.MSELoss(), torch.from_numpy(z), torch.from_numpy(images).permute(0, 3, 1, 2).contiguous())


def _torch_step(net, loss_fn, x, y):
    """One Adam step of ``net`` on (x, y), as a function."""
    import torch

    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        opt.step()

    return step


SEP_BATCH, SEP_SIZE, SEP_CHANNELS = 32, 56, 32


def separable_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((SEP_BATCH, SEP_SIZE, SEP_SIZE, SEP_CHANNELS)).astype(np.float32),
            rng.integers(0, 10, SEP_BATCH))


def deepgrad_separable_stepper():
    import deepgrad as dg
    from deepgrad import layers

    model = dg.Sequential([
        layers.Input((SEP_SIZE, SEP_SIZE, SEP_CHANNELS)),
        layers.SeparableConv2D(64, 3, padding="same", activation="relu"),
        layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu"),
        layers.Conv2D(128, 1, activation="relu"),
        layers.DepthwiseConv2D(3, padding="same", activation="relu"),
        layers.GlobalAveragePooling2D(), layers.Dense(10),
    ])
    model.compile(optimizer=dg.optimizers.Adam(1e-3),
                  loss=dg.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = separable_data()

    def step():
        model.train_on_batch(x, y)

    return step


def torch_separable_stepper():
    import torch
    from torch import nn

    c = SEP_CHANNELS
    net = nn.Sequential(
        nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False), nn.Conv2d(c, 64, 1), nn.ReLU(),
        nn.Conv2d(64, 64, 3, stride=2, padding=1, groups=64), nn.ReLU(),
        nn.Conv2d(64, 128, 1), nn.ReLU(),
        nn.Conv2d(128, 128, 3, padding=1, groups=128), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10),
    )
    x, y = separable_data()
    return _torch_step(net, nn.CrossEntropyLoss(), torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(),
                       torch.from_numpy(y))


MODELS = {"generator": ("DCGAN generator", BATCH, deepgrad_stepper, torch_stepper),
          "separable": ("depthwise/separable block", SEP_BATCH, deepgrad_separable_stepper, torch_separable_stepper)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=5, help="training steps per timed round")
    p.add_argument("--model", choices=sorted(MODELS), default="generator")
    p.add_argument("--cpu", action="store_true", help="time CPU time of the process instead of wall clock")
    p.add_argument("--threads", type=int, default=2, help="PyTorch's threads (deepgrad's: one with OMP_NUM_THREADS=1)")
    args = p.parse_args()
    title, batch, deepgrad_step, torch_step = MODELS[args.model]

    import torch

    from deepgrad import runtime

    runtime.keep_freed_memory()
    runtime.short_blas_spin()
    torch.set_num_threads(args.threads)
    dg_step, th_step = deepgrad_step(), torch_step()
    clock = time.process_time if args.cpu else time.perf_counter
    dg_rates, th_rates, ratios = rates(dg_step, th_step, args.rounds, args.steps, batch, clock)
    print(f"{title} training step, batch {batch}, {args.rounds} rounds of {args.steps} steps, "
          f"{'CPU time' if args.cpu else 'wall clock'}")
    print(f"deepgrad {statistics.median(dg_rates):8.1f} samples/s   "
          f"PyTorch {statistics.median(th_rates):8.1f} samples/s")
    print(f"ratio deepgrad/PyTorch: median {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f})")


if __name__ == "__main__":
    main()
