"""What the speed work must never change: results, released graphs and flat memory.

- Convolution and max pooling split large batches over two threads: the result must be the
  very same bits as the one-thread path, and match PyTorch.
- A training step leaves nothing behind: no graph node survives it, and the memory NumPy
  holds stays flat over many steps.
"""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgrad as dg
from deepgrad import layers
from deepgrad.autograd import Function
from deepgrad import runtime
from deepgrad.ops.im2col import conv2d_relu
from deepgrad.ops.pool import max_pool2d


def _conv_pool_step(x, kernel, bias, pool_strides):
    """relu(conv) -> max pool -> sum of squares; returns the output and the three gradients."""
    xt = dg.Tensor(x, requires_grad=True)
    kt, bt = dg.Tensor(kernel, requires_grad=True), dg.Tensor(bias, requires_grad=True)
    out = max_pool2d(conv2d_relu(xt, kt, bt), (2, 2), pool_strides)
    (out * out).sum().backward()
    return out.data, xt.grad, kt.grad, bt.grad


@pytest.mark.parametrize("pool_strides", [(2, 2), (1, 1)])  # windows that tile, and overlapping windows
def test_two_thread_path_is_bit_identical_and_matches_torch(monkeypatch, pool_strides):
    rng = np.random.default_rng(0)
    # 6 x 31 x 31 x 8 conv outputs: above the threshold, so the parallel path runs; an odd
    # height and width leave a row and column out of the tiling 2x2 windows
    x = rng.standard_normal((6, 33, 33, 3)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 3, 8)).astype(np.float32)
    bias = rng.standard_normal(8).astype(np.float32)
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)  # split even under OMP_NUM_THREADS=1
    monkeypatch.setattr(runtime, "_PARALLEL_MIN_SIZE", 1)
    parallel = _conv_pool_step(x, kernel, bias, pool_strides)
    monkeypatch.setattr(runtime, "_PARALLEL_MIN_SIZE", 1 << 62)
    serial = _conv_pool_step(x, kernel, bias, pool_strides)
    for a, b in zip(parallel, serial):
        np.testing.assert_array_equal(a, b)

    xt = torch.tensor(x).permute(0, 3, 1, 2).requires_grad_()
    kt = torch.tensor(kernel).permute(3, 2, 0, 1).contiguous().requires_grad_()
    bt = torch.tensor(bias).requires_grad_()
    out = F.max_pool2d(F.relu(F.conv2d(xt, kt, bt)), 2, pool_strides)
    (out * out).sum().backward()
    np.testing.assert_allclose(parallel[0], out.permute(0, 2, 3, 1).detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(parallel[1], xt.grad.permute(0, 2, 3, 1).numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(parallel[2], kt.grad.permute(2, 3, 1, 0).numpy(), rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(parallel[3], bt.grad.numpy(), rtol=1e-4, atol=1e-2)


def test_max_pool_routes_ties_to_the_first_maximum_in_both_halves(monkeypatch):
    # all-zero windows (what a relu leaves) tie everywhere: each window's gradient goes to its
    # first cell, in each half of the batch alike
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)  # split even under OMP_NUM_THREADS=1
    monkeypatch.setattr(runtime, "_PARALLEL_MIN_SIZE", 1)
    x = dg.Tensor(np.zeros((4, 4, 4, 2), np.float32), requires_grad=True)
    max_pool2d(x, (2, 2)).sum().backward()
    expected = np.zeros((4, 4, 4, 2), np.float32)
    expected[:, ::2, ::2] = 1
    np.testing.assert_array_equal(x.grad, expected)


def _small_cnn():
    model = dg.Sequential([layers.Input((12, 12, 1)), layers.Conv2D(4, (3, 3), activation="relu"),
                           layers.MaxPooling2D((2, 2)), layers.Dropout(0.25), layers.Flatten(),
                           layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=dg.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return model


def _live_functions() -> int:
    gc.collect()
    return sum(issubclass(type(o), Function) for o in gc.get_objects())


def test_a_training_step_leaves_no_graph_behind():
    model = _small_cnn()
    rng = np.random.default_rng(1)
    x, y = rng.random((16, 12, 12, 1), dtype=np.float32), rng.integers(0, 3, 16)
    model.train_on_batch(x, y)
    before = _live_functions()
    for _ in range(5):
        model.train_on_batch(x, y)
    assert _live_functions() == before


def test_memory_is_flat_over_many_steps():
    model = _small_cnn()
    rng = np.random.default_rng(2)
    x, y = rng.random((16, 12, 12, 1), dtype=np.float32), rng.integers(0, 3, 16)
    for _ in range(5):  # optimiser slots and lazy builds are made here
        model.train_on_batch(x, y)
    tracemalloc.start()
    try:
        for _ in range(20):
            model.train_on_batch(x, y)
        gc.collect()
        early = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            model.train_on_batch(x, y)
        gc.collect()
        late = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # a step's arrays peak near 190 kB; 200 steps that each kept even 1 kB would add 200 kB
    assert late - early < 64 * 1024, f"memory grew by {late - early} bytes over 200 steps"


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_two_thread_path_is_bit_identical(monkeypatch, amsgrad):
    """Large weights are updated as two halves in two threads: the same numbers as one pass."""
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((17, 5)).astype(np.float32)
    grads = [rng.standard_normal((17, 5)).astype(np.float32) for _ in range(3)]

    def run(min_size):
        monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)  # split even under OMP_NUM_THREADS=1
        monkeypatch.setattr(runtime, "_PARALLEL_MIN_SIZE", min_size)
        w = dg.Variable(w0.copy())
        opt = dg.optimizers.Adam(0.01, amsgrad=amsgrad)
        for g in grads:
            opt.apply_gradients([(g, w)])
        return w.numpy()

    parallel, serial = run(1), run(1 << 62)
    np.testing.assert_array_equal(parallel, serial)
    assert not np.array_equal(parallel, w0)


@pytest.mark.parametrize("preset", [None, "7"])
def test_process_settings_keep_blas_correct_and_respect_the_environment(preset):
    """In a child process (this one keeps its settings): after short_blas_spin() and
    keep_freed_memory(), threaded GEMMs still give the right numbers, and a timeout the
    environment already sets is left alone."""
    code = (
        "import os, numpy as np\n"
        "from deepgrad import runtime\n"
        "kept, short = runtime.keep_freed_memory(), runtime.short_blas_spin()\n"
        "rng = np.random.default_rng(0)\n"
        "a, b = rng.standard_normal((300, 400)), rng.standard_normal((400, 500))\n"
        "exact = np.einsum('ij,jk->ik', a, b)\n"
        "ok = all(np.allclose(a @ b, exact) for _ in range(3))\n"
        "print(kept, short, ok, os.environ.get('OPENBLAS_THREAD_TIMEOUT'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if preset is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = preset
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    kept, short, ok, timeout = out.stdout.split()
    assert ok == "True"
    if short == "True":  # a pthreads OpenBLAS was found and restarted
        assert timeout == (preset or "20")
    else:
        assert timeout == str(preset)


def test_a_cnn_step_takes_the_relu_mask_in_its_pools_and_keeps_its_weights_bit_for_bit(monkeypatch):
    """Conv2D(relu) -> MaxPooling2D: the pool applies the convolution's relu mask to its gradient
    and the convolution skips its own (both convolutions of a CIFAR-style stack, with dropout
    between); the weights after three steps are those of the convolutions' own masks."""
    from deepgrad.ops import im2col, pool

    rng = np.random.default_rng(4)
    x, y = rng.random((12, 14, 14, 3), dtype=np.float32), rng.integers(0, 4, 12)

    def train():
        dg.utils.set_random_seed(11)
        model = dg.Sequential([layers.Input((14, 14, 3)), layers.Conv2D(8, 3, activation="relu"),
                               layers.MaxPooling2D(2), layers.Dropout(0.25), layers.Conv2D(6, 3, activation="relu"),
                               layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(4, activation="softmax")])
        model.compile(optimizer=dg.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
        for _ in range(3):
            model.train_on_batch(x, y)
        return model.get_weights()

    real, skipped = im2col.Conv2D.backward, []

    def backward(self, g):
        skipped.append(g is self.relu_masked_grad)
        return real(self, g)

    monkeypatch.setattr(im2col.Conv2D, "backward", backward)
    fused = train()
    assert skipped == [True] * 6  # two convolutions, three steps
    monkeypatch.setattr(pool.MaxPool2D, "_relu_producer", lambda self: None)
    plain = train()
    assert skipped[6:] == [False] * 6
    for a, b in zip(fused, plain):
        np.testing.assert_array_equal(a, b)
