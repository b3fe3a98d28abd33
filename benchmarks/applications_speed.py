"""Inference speed and memory of MobileNetV2 and ResNet50 (224x224, batch 8, float32):
deepgrad against Keras 3 on its torch backend and against the same networks in PyTorch.

All three hold the same weights (Keras's random initialisation, copied into deepgrad with
``set_weights`` and into the PyTorch modules by transposing kernels to channels-first), and
the script checks that their outputs agree before timing. The three are timed interleaved
(A B C A B C ...; ``interleaved.timed``/``settle``) on the same batch; the report gives
images/s of each, median and spread over rounds, and the deepgrad/other ratios. Peak memory
is measured in a fresh process per framework and model (``--memory``): what building the
model adds to the resident set of the imported frameworks, and the peak that inference
(``steps + 1`` batches) adds on top. PyTorch's model is made from a Keras model, whose
freed memory may stay in its figure.

    python benchmarks/applications_speed.py
    python benchmarks/applications_speed.py --models mobilenet_v2 --rounds 5 --steps 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

import numpy as np

from interleaved import settle, timed

os.environ.setdefault("KERAS_BACKEND", "torch")
BATCH, SIZE = 8, 224
ARCHS = {"mobilenet_v2": "MobileNetV2", "resnet50": "ResNet50"}


def images(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (BATCH, SIZE, SIZE, 3)).astype(np.float32)


# --------------------------------------------------------------------------- PyTorch twins
def torch_model(arch: str, keras_model):
    """The architecture as plain ``torch.nn`` (channels-first) with the Keras model's weights."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    weights = {w.path: np.asarray(w.numpy()) for w in keras_model.weights}

    def conv(name, stride=1, groups=1, pad=None):
        """A Conv2d from Keras's ``name``; ``pad`` = (left, right, top, bottom) zero padding first."""
        kernel = weights.get(f"{name}/kernel")
        if kernel is None:  # DepthwiseConv2D: (kh, kw, in, 1)
            kernel = weights[f"{name}/depthwise_kernel"]
        cin, cout = kernel.shape[2], kernel.shape[3]
        depthwise = f"{name}/depthwise_kernel" in weights or (cout == 1 and groups > 1)
        m = nn.Conv2d(cin, cin if depthwise else cout, kernel.shape[:2], stride=stride,
                      groups=cin if depthwise else groups, bias=f"{name}/bias" in weights)
        w = kernel.transpose(2, 3, 0, 1) if depthwise else kernel.transpose(3, 2, 0, 1)
        m.weight.data = torch.from_numpy(np.ascontiguousarray(w))
        if m.bias is not None:
            m.bias.data = torch.from_numpy(weights[f"{name}/bias"])
        return m if pad is None else nn.Sequential(nn.ZeroPad2d(pad), m)

    def bn(name, eps):
        g = weights[f"{name}/gamma"]
        m = nn.BatchNorm2d(len(g), eps=eps)
        m.weight.data, m.bias.data = torch.from_numpy(g), torch.from_numpy(weights[f"{name}/beta"])
        m.running_mean.data = torch.from_numpy(weights[f"{name}/moving_mean"])
        m.running_var.data = torch.from_numpy(weights[f"{name}/moving_variance"])
        return m

    def dense(name):
        k = weights[f"{name}/kernel"]
        m = nn.Linear(*k.shape)
        m.weight.data, m.bias.data = torch.from_numpy(k.T.copy()), torch.from_numpy(weights[f"{name}/bias"])
        return m

    class Bottleneck(nn.Module):  # ResNet v1: relu(shortcut + conv-bn-relu x2, conv-bn)
        def __init__(self, name, stride, project):
            super().__init__()
            eps = 1.001e-5
            self.short = nn.Sequential(conv(f"{name}_0_conv", stride), bn(f"{name}_0_bn", eps)) if project else None
            self.body = nn.Sequential(
                conv(f"{name}_1_conv", stride), bn(f"{name}_1_bn", eps), nn.ReLU(),
                conv(f"{name}_2_conv", pad=(1, 1, 1, 1)), bn(f"{name}_2_bn", eps), nn.ReLU(),
                conv(f"{name}_3_conv"), bn(f"{name}_3_bn", eps))

        def forward(self, x):
            return F.relu((x if self.short is None else self.short(x)) + self.body(x))

    class InvertedResidual(nn.Module):  # MobileNetV2
        def __init__(self, block_id, stride, expand, residual):
            super().__init__()
            prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
            eps, seq = 1e-3, []
            if block_id:
                seq += [conv(f"{prefix}expand"), bn(f"{prefix}expand_BN", eps), nn.ReLU6()]
            # Keras pads (0, 1) before a stride-2 3x3 depthwise conv on even sizes, (1, 1) otherwise
            pad = (0, 1, 0, 1) if stride == 2 else (1, 1, 1, 1)
            seq += [conv(f"{prefix}depthwise", stride, groups=2, pad=pad), bn(f"{prefix}depthwise_BN", eps), nn.ReLU6(),
                    conv(f"{prefix}project"), bn(f"{prefix}project_BN", eps)]
            self.body, self.residual = nn.Sequential(*seq), residual

        def forward(self, x):
            return x + self.body(x) if self.residual else self.body(x)

    if arch == "resnet50":
        blocks = []
        for stage, (n, stride) in enumerate(zip((3, 4, 6, 3), (1, 2, 2, 2))):
            for i in range(n):
                blocks.append(Bottleneck(f"conv{stage + 2}_block{i + 1}", stride if i == 0 else 1, i == 0))
        net = nn.Sequential(conv("conv1_conv", 2, pad=(3, 3, 3, 3)), bn("conv1_bn", 1.001e-5), nn.ReLU(),
                            nn.ZeroPad2d(1), nn.MaxPool2d(3, 2), *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                            dense("predictions"), nn.Softmax(dim=1))
    else:
        from deepgrad.applications.mobilenet_v2 import BLOCKS

        blocks, channels = [], 32
        for block_id, (filters, stride, expansion) in enumerate(BLOCKS):
            blocks.append(InvertedResidual(block_id, stride, expansion, stride == 1 and channels == filters))
            channels = filters
        net = nn.Sequential(conv("Conv1", 2, pad=(0, 1, 0, 1)), bn("bn_Conv1", 1e-3), nn.ReLU6(), *blocks,
                            conv("Conv_1"), bn("Conv_1_bn", 1e-3), nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                            dense("predictions"), nn.Softmax(dim=1))
    return net.eval()


# --------------------------------------------------------------------------- steppers
def models(arch: str):
    """(deepgrad, Keras, PyTorch) predict functions on the same weights, checked to agree."""
    import keras
    import torch

    import deepgrad.applications as dga

    km = getattr(keras.applications, ARCHS[arch])(weights=None)
    dm = getattr(dga, ARCHS[arch])(weights=None)
    dm.set_weights(km.get_weights())
    tm = torch_model(arch, km)
    x = images()
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()

    def run_deepgrad():
        return dm.predict_on_batch(x)

    def run_keras():
        return km.predict_on_batch(x)

    def run_torch():
        with torch.inference_mode():
            return tm(xt).numpy()

    ref = np.asarray(run_keras())
    for fn, who in ((run_deepgrad, "deepgrad"), (run_torch, "PyTorch")):
        np.testing.assert_allclose(np.asarray(fn()), ref, rtol=1e-3, atol=1e-6, err_msg=f"{who} vs Keras")
    return {"deepgrad": run_deepgrad, "Keras (torch)": run_keras, "PyTorch": run_torch}


def interleaved(steppers: dict, rounds: int, steps: int) -> dict:
    """Images/s of each stepper over ``rounds`` rounds, the steppers alternating in each round."""
    for step in steppers.values():
        timed(step, 1)  # warm-up
    out = {name: [] for name in steppers}
    for _ in range(rounds):
        for name, step in steppers.items():
            settle()
            out[name].append(steps * BATCH / timed(step, steps))
    return out


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc (VmRSS: now, VmHWM: peak since the last reset)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory(framework: str, arch: str, steps: int) -> dict:
    """Resident memory (MB) of this process: what building ``arch`` adds to the imported
    frameworks, and the peak that inference adds on top of that.

    The peak is VmHWM after resetting it (``/proc/self/clear_refs``) once the model is built;
    ``getrusage``'s maximum would carry the parent's peak over ``exec``.
    """
    import gc

    import keras  # noqa: F401 - every framework imported in every case, so the baselines are alike
    import torch  # noqa: F401

    import deepgrad.applications  # noqa: F401

    baseline = _status_mb("VmRSS")
    fn = models_one(framework, arch)
    gc.collect()
    built = _status_mb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    for _ in range(steps + 1):
        fn()
    peak = _status_mb("VmHWM")
    return {"model_mb": round(built - baseline), "inference_peak_mb": round(peak - built)}


def models_one(framework: str, arch: str):
    """One framework's predict function, built without the others' models in memory."""
    import keras
    import torch

    x = images()
    if framework == "deepgrad":
        import deepgrad.applications as dga

        dm = getattr(dga, ARCHS[arch])(weights=None)
        return lambda: dm.predict_on_batch(x)
    km = getattr(keras.applications, ARCHS[arch])(weights=None)
    if framework == "keras":
        return lambda: km.predict_on_batch(x)
    tm = torch_model(arch, km)
    del km
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()

    def run():
        with torch.inference_mode():
            return tm(xt)
    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(ARCHS), choices=list(ARCHS))
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=3, help="batches per timed round")
    p.add_argument("--memory", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS)
    args = p.parse_args()

    import torch

    from deepgrad import runtime

    runtime.keep_freed_memory()
    runtime.short_blas_spin()
    torch.set_num_threads(2)
    if args.memory:
        print(json.dumps(memory(*args.memory, steps=args.steps)))
        return
    for arch in args.models:
        result = interleaved(models(arch), args.rounds, args.steps)
        print(f"{ARCHS[arch]} inference, {SIZE}x{SIZE}, batch {BATCH}, {args.rounds} rounds of {args.steps} batches")
        for name, r in result.items():
            print(f"  {name:14s} {statistics.median(r):7.2f} images/s  (min {min(r):.2f}, max {max(r):.2f})")
        for other in ("Keras (torch)", "PyTorch"):
            ratios = [a / b for a, b in zip(result["deepgrad"], result[other])]
            print(f"  deepgrad/{other}: median {statistics.median(ratios):.2f}x "
                  f"(min {min(ratios):.2f}, max {max(ratios):.2f})")
        for framework in ("deepgrad", "keras", "torch"):
            out = subprocess.run([sys.executable, __file__, "--memory", framework, arch, "--steps", str(args.steps)],
                                 capture_output=True, text=True, check=True)
            print(f"  peak memory {framework:8s} {out.stdout.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
