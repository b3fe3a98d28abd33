"""The depthwise passes of ``layers_speed.py --model separable`` one at a time, against PyTorch's
``conv2d(groups=C)``, on one thread, CPU time (``time.process_time``), medians over rounds,
the two alternated pass by pass. PyTorch: NCHW tensors as in ``layers_speed.py``.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/depthwise_ops.py [--rounds 9] [--numpy]

deepgrad runs its compiled loops (``ops/depthwise_compiled.py``, on unless ``DEEPGRAD_LOOPS=0`` or
the extension was not built); ``--numpy`` times its NumPy passes (``ops/depthwise.py``) beside
them, as "numpy".
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

# (name, input shape NHWC, stride, bias + ReLU, dx needed)
LAYERS = [
    ("separable's depthwise", (32, 56, 56, 32), 1, False, False),
    ("DepthwiseConv2D(3, s2)", (32, 56, 56, 64), 2, True, True),
    ("DepthwiseConv2D(3)", (32, 28, 28, 128), 1, True, True),
]


def cpu(fn, repeat=3):
    t = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - t) / repeat * 1e3


def deepgrad_passes(shape, stride, fused, need_x, numpy_path=False):
    from deepgrad.ops import depthwise, depthwise_compiled
    from deepgrad.ops.convolution import output_shape, same_padding

    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    c = shape[-1]
    kernel = rng.standard_normal((3, 3, 1, c), dtype=np.float32)
    bias = rng.standard_normal(c, dtype=np.float32) if fused else None
    ks, strides, dil = (3, 3), (stride, stride), (1, 1)
    pads = [same_padding(n, 3, stride, 1) for n in shape[1:3]]
    out_shape = output_shape(shape[1:3], ks, strides, dil, pads)
    g = rng.standard_normal((shape[0], *out_shape, c), dtype=np.float32)
    state = {}

    off = dict.fromkeys(depthwise_compiled.NAMES)   # every loop off: the NumPy passes

    def numpy_only(fn):
        def run():
            saved = dict(depthwise_compiled.loaded)
            depthwise_compiled.loaded.update(off)
            try:
                fn()
            finally:
                depthwise_compiled.loaded.clear()
                depthwise_compiled.loaded.update(saved)
        return run

    def fwd():
        state["out"], state["kept"] = depthwise.forward(x, kernel, pads, ks, strides, dil, out_shape, bias,
                                                        fused, keep=True)

    def bwd():
        depthwise.backward(g, state["kept"], kernel, state["out"] if fused else None, shape, pads, ks, strides,
                           dil, out_shape, (need_x, True, fused))

    if numpy_path:
        fwd, bwd = numpy_only(fwd), numpy_only(bwd)
    fwd()
    return fwd, bwd


def torch_passes(shape, stride, fused, need_x):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n, h, w, c = shape
    x = torch.from_numpy(rng.standard_normal((n, c, h, w), dtype=np.float32)).requires_grad_(need_x)
    k = torch.from_numpy(rng.standard_normal((c, 1, 3, 3), dtype=np.float32)).requires_grad_(True)
    b = torch.zeros(c, requires_grad=True) if fused else None
    state = {}

    def fwd():
        y = F.conv2d(x, k, b, stride=stride, padding=1, groups=c)
        state["y"] = F.relu(y) if fused else y

    def bwd():
        x.grad = k.grad = None
        state["y"].backward(torch.ones_like(state["y"]), retain_graph=True)

    fwd()
    return fwd, bwd


def main():
    from deepgrad import runtime

    runtime.keep_freed_memory()   # as layers_speed.py: freed arrays reused, no page faults a pass
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--numpy", action="store_true", help="also time deepgrad's NumPy passes (no compiled loops)")
    args = p.parse_args()
    for name, shape, stride, fused, need_x in LAYERS:
        sides = {"deepgrad": deepgrad_passes(shape, stride, fused, need_x)}
        if args.numpy:
            sides["numpy"] = deepgrad_passes(shape, stride, fused, need_x, numpy_path=True)
        if not args.no_torch:
            sides["torch"] = torch_passes(shape, stride, fused, need_x)
        times = {k: ([], []) for k in sides}
        for _ in range(args.rounds):
            for k, (fwd, bwd) in sides.items():
                times[k][0].append(cpu(fwd))
                times[k][1].append(cpu(bwd))
        print(name, " ".join(f"{k}: fwd {statistics.median(f):.2f} bwd {statistics.median(b):.2f} ms;"
                             for k, (f, b) in times.items()))


if __name__ == "__main__":
    main()
