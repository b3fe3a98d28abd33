"""The two-thread paths of the element-wise passes (ops/halves.py and the ops that use it).

Every pass split over two halves of the batch must give the very same bits as the plain
one-thread pass: each case below runs forced both ways (the size threshold at 1 with two
cores, against a threshold no array reaches) and compares outputs and gradients exactly. Cases
whose GEMMs split with the batch do so where this BLAS keeps a split product's bits (the probes
of blas_bits), else within rounding.
"""
from __future__ import annotations


import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgrad as dg
from deepgrad import layers, ops, runtime
from deepgrad.ops import halves
from deepgrad.ops.convolution import conv_transpose_bias
from deepgrad.ops.im2col import same_padding
from deepgrad.ops.normalization import BatchNormalize, Normalize, batch_norm
from blas_bits import assert_bits_or_close, column_halves_keep_bits, row_halves_keep_bits


def _force(monkeypatch, split: bool) -> None:
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)
    monkeypatch.setattr(runtime, "_TAKE_BACK_UNSTARTED", False)  # the worker thread runs its half
    monkeypatch.setattr(runtime, "_PARALLEL_MIN_SIZE", 1 if split else 1 << 62)


def _both_ways(monkeypatch, run, splits=True, same_bits=True, atol_share=1e-6, atol=0.0):
    """``run()`` (a list of arrays) split and plain; asserts they agree bit for bit (where
    ``same_bits``, else to rtol 1e-5, ``atol`` and ``atol_share`` of each array's largest magnitude:
    a float32 sum in another order, and what follows from it), returns the split one."""
    _force(monkeypatch, True)
    handed = []
    put = runtime._put or runtime._start_worker()
    monkeypatch.setattr(runtime, "_put", lambda task: (handed.append(1), put(task)))
    split = run()
    assert (len(handed) > 0) == splits  # the second halves did go to the other thread
    _force(monkeypatch, False)
    plain = run()
    assert len(split) == len(plain)
    for a, b in zip(split, plain):
        assert a.shape == b.shape and a.dtype == b.dtype
        assert_bits_or_close(a, b, same_bits, 1e-5, atol_share, atol)
    return split


def _grads(fn, *arrays):
    """fn's output and the gradients of sum(out * weights) with respect to every array."""
    leaves = [dg.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    out = out[0] if isinstance(out, tuple) else out
    weights = np.random.default_rng(99).standard_normal(out.shape).astype(out.dtype)
    (out * dg.Tensor(weights)).sum().backward()
    return [out.data.copy()] + [t.grad.copy() for t in leaves]


def test_helpers_cut_only_the_operands_that_span_the_leading_axis(monkeypatch):
    _force(monkeypatch, True)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 3, 4)).astype(np.float32)
    per_channel, per_sample = rng.standard_normal(4).astype(np.float32), rng.standard_normal((5, 1, 1)).astype(np.float32)
    out = halves.ufunc_halves(np.multiply, a, per_channel, out=np.empty_like(a))
    np.testing.assert_array_equal(out, a * per_channel)
    out = halves.ufunc_halves(np.add, a, per_sample, out=np.empty_like(a))
    np.testing.assert_array_equal(out, a + per_sample)
    scalar = halves.ufunc_halves(np.add, np.float32(2), np.float32(3), out=np.empty((), np.float32))
    assert scalar == 5
    strided = a[:, ::2]
    copy = halves.contiguous_halves(strided)
    assert copy.flags.c_contiguous
    np.testing.assert_array_equal(copy, strided)
    assert halves.contiguous_halves(a) is a


@pytest.mark.parametrize("param_shape", ["per_feature", "broadcast", "per_sample"])
def test_batch_norm_is_bit_identical_split_and_matches_torch(monkeypatch, param_shape):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((9, 6, 5, 8)) * 2 + 1).astype(np.float32)
    shape = {"per_feature": (8,), "broadcast": (1, 1, 1, 8), "per_sample": (9, 1, 1, 8)}[param_shape]
    gamma, beta = rng.uniform(0.5, 2, shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)

    def run():
        y, mean, var = batch_norm(dg.Tensor(x, requires_grad=True), dg.Tensor(gamma), dg.Tensor(beta))
        # a per-sample scale is not constant over the batch axis: the general Normalize
        assert type(y._ctx) is (Normalize if param_shape == "per_sample" else BatchNormalize)
        return _grads(lambda a, g, b: batch_norm(a, g, b)[0], x, gamma, beta) + [mean, var]

    y, dx, dgamma, dbeta, mean, var = _both_ways(monkeypatch, run)
    assert dgamma.shape == shape and dbeta.shape == shape
    if param_shape == "per_sample":
        return
    tx = torch.tensor(np.moveaxis(x, -1, 1), requires_grad=True)
    tg, tb = (torch.tensor(p.reshape(-1), requires_grad=True) for p in (gamma, beta))
    ty = F.batch_norm(tx, None, None, tg, tb, training=True, eps=1e-3)
    weights = np.random.default_rng(99).standard_normal(x.shape).astype(np.float32)
    (ty * torch.tensor(np.moveaxis(weights, -1, 1))).sum().backward()
    np.testing.assert_allclose(y, np.moveaxis(ty.detach().numpy(), 1, -1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx, np.moveaxis(tx.grad.numpy(), 1, -1), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(dgamma.reshape(-1), tg.grad.numpy(), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(dbeta.reshape(-1), tb.grad.numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(mean, x.mean(axis=(0, 1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var, x.var(axis=(0, 1, 2)), rtol=1e-5)


def test_per_feature_parameters_give_the_numbers_of_broadcast_ones():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((7, 4, 4, 6)).astype(np.float32)
    gamma, beta = rng.uniform(0.5, 2, 6).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    flat = _grads(lambda a, g, b: batch_norm(a, g, b)[0], x, gamma, beta)
    wide = _grads(lambda a, g, b: batch_norm(a, g, b)[0], x, gamma.reshape(1, 1, 1, 6), beta.reshape(1, 1, 1, 6))
    for a, b in zip(flat, wide):
        np.testing.assert_array_equal(a, b.reshape(a.shape))


def test_batch_norm_over_a_kept_leading_axis_splits_the_statistics_too(monkeypatch):
    # channels first on axis 0: the mean and the scale span the split axis and are cut with it
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 5, 7)).astype(np.float32)
    gamma, beta = rng.uniform(0.5, 2, (6, 1, 1)).astype(np.float32), rng.standard_normal((6, 1, 1)).astype(np.float32)
    y, dx, dgamma, dbeta = _both_ways(monkeypatch, lambda: _grads(lambda a, g, b: batch_norm(a, g, b, axis=0)[0],
                                                                  x, gamma, beta))
    expected = (x - x.mean(axis=(1, 2), keepdims=True)) / np.sqrt(x.var(axis=(1, 2), keepdims=True) + 1e-3) * gamma + beta
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_normalize_over_a_non_trailing_axis_is_bit_identical_split(monkeypatch):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 5, 3)).astype(np.float32)
    gamma, beta = rng.uniform(0.5, 2, (8, 1, 1)).astype(np.float32), rng.standard_normal((8, 1, 1)).astype(np.float32)
    y, *_ = _both_ways(monkeypatch, lambda: _grads(lambda a, g, b: ops.layer_norm(a, g, b, axis=0), x, gamma, beta))
    expected = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-3) * gamma + beta
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("slope", [0.2, 1.5])
def test_leaky_relu_is_bit_identical_split(monkeypatch, slope):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((7, 6, 5, 4)).astype(np.float32)
    # a slope above 1 takes np.where, whole
    y, dx = _both_ways(monkeypatch, lambda: _grads(lambda a: ops.leaky_relu(a, negative_slope=slope), x), slope <= 1)
    np.testing.assert_array_equal(y, np.where(x > 0, x, x * np.float32(slope)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_draws_split_are_the_one_stream_and_leave_its_state(monkeypatch, dtype):
    """The second half's uniform draws come from a copy of the global generator moved past the
    first half's: masks, and the generator's state after each call, are those of one stream,
    whatever float32 half the stream holds between calls (odd sizes leave one)."""
    from deepgrad import backend
    from deepgrad.ops import activation

    shapes = [(7, 3, 5), (4, 1), (9, 2, 3), (6, 5), (3,), (5, 3, 3)]  # 105, 4, 54, 30, 3, 45 draws

    def run():
        backend.seed(123)
        backend.rng().random(3, dtype=np.float32)  # the stream now keeps a half of an output
        masks = []
        for shape in shapes:
            masks.append(activation.dropout_mask(shape, 0.4, dtype))
            st = backend.rng().bit_generator.state
            masks.append(np.array([st["state"]["state"], st["state"]["inc"], st["has_uint32"], st["uinteger"]],
                                  dtype=object))
        masks.append(backend.rng().random(5))
        return [np.asarray(m) for m in masks]

    copies = []
    real = activation._later_draws

    def counted(*args):
        later = real(*args)
        copies.append(later is not None)
        return later

    monkeypatch.setattr(activation, "_later_draws", counted)
    _both_ways(monkeypatch, run)
    assert sum(copies) >= len(shapes)  # split: every shape of two or more rows drew from a copy
    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_dropout_draws_split_only_a_pcg64_stream(monkeypatch):
    _force(monkeypatch, True)
    from deepgrad.ops import activation
    gen = np.random.Generator(np.random.Philox(5))
    assert activation._later_draws(gen, (8, 4), np.float32) is None
    assert activation._later_draws(np.random.default_rng(5), (8, 4), np.float32) is not None
    assert activation._later_draws(np.random.default_rng(5), (1, 40), np.float32) is None  # one row


@pytest.mark.parametrize("noise_shape", [None, (None, 1, 5)])
def test_dropout_is_bit_identical_split(monkeypatch, noise_shape):
    x = np.random.default_rng(6).standard_normal((9, 4, 5)).astype(np.float32)
    y, dx = _both_ways(monkeypatch, lambda: _grads(lambda a: ops.dropout(a, 0.3, noise_shape=noise_shape, seed=7), x))
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / np.float32(0.7), rtol=1e-6)
    assert 0.5 < kept.mean() < 0.9


@pytest.mark.parametrize("bias,padding", [(True, "same"), (False, "same"), (True, "valid")])
def test_conv_transpose_is_bit_identical_split_and_matches_torch(monkeypatch, bias, padding):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 6, 6, 8)).astype(np.float32)  # an odd batch: unequal halves
    kernel = (rng.standard_normal((4, 4, 3, 8)) * 0.2).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)

    def fn(a, k, *rest):
        return conv_transpose_bias(a, k, rest[0], strides=2, padding=padding) if rest else \
            ops.conv_transpose(a, k, strides=2, padding=padding)

    arrays = (x, kernel, b) if bias else (x, kernel)
    out, dx, dk, *db = _both_ways(monkeypatch, lambda: _grads(fn, *arrays))
    tx = torch.tensor(np.moveaxis(x, -1, 1), requires_grad=True)
    tk = torch.tensor(kernel.transpose(3, 2, 0, 1).copy(), requires_grad=True)  # (in, out, kh, kw)
    tb = torch.tensor(b, requires_grad=True) if bias else None
    ty = F.conv_transpose2d(tx, tk, tb, stride=2, padding=1 if padding == "same" else 0)
    np.testing.assert_allclose(out, np.moveaxis(ty.detach().numpy(), 1, -1), rtol=1e-4, atol=1e-4)
    weights = np.random.default_rng(99).standard_normal(out.shape).astype(np.float32)
    (ty * torch.tensor(np.moveaxis(weights, -1, 1))).sum().backward()
    np.testing.assert_allclose(dx, np.moveaxis(tx.grad.numpy(), 1, -1), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(dk, tk.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-4, atol=1e-3)
    if bias:
        np.testing.assert_allclose(db[0], tb.grad.numpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("cin,cout,size,strides", [(4, 6, 9, 2), (16, 1, 8, 1)])  # col2im phases; the tap path
def test_conv2d_with_padding_is_bit_identical_split(monkeypatch, cin, cout, size, strides):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, size, size, cin)).astype(np.float32)
    kernel = (rng.standard_normal((5, 5, cin, cout)) * 0.2).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    # the tap path's forward multiplies the kernel by the 720 columns of the padded batch, split
    # after two samples' 288; the phases' path splits no product
    same_bits = cin != 16 or column_halves_keep_bits(np.float32, 25, 16, 720, 288)
    out, dx, dk, db = _both_ways(monkeypatch, lambda: _grads(
        lambda a, k, c: ops.conv2d(a, k, c, strides=strides, padding="same"), x, kernel, b), same_bits=same_bits)
    tx = torch.tensor(np.moveaxis(x, -1, 1))
    before, after = same_padding(size, 5, strides)  # TensorFlow's "same": the odd cell after
    ty = F.conv2d(F.pad(tx, (before, after, before, after)), torch.tensor(kernel.transpose(3, 2, 0, 1)),
                  torch.tensor(b), stride=strides)
    np.testing.assert_allclose(out, np.moveaxis(ty.numpy(), 1, -1), rtol=1e-4, atol=1e-4)


def test_a_dcgan_training_step_is_bit_identical_split(monkeypatch):
    """The generator and discriminator of the DCGAN example, small: two steps, every weight exact."""
    def run():
        dg.utils.set_random_seed(0)
        gen = dg.Sequential([layers.Input((16,)), layers.Dense(7 * 7 * 16), layers.Reshape((7, 7, 16)),
                             layers.Conv2DTranspose(16, 4, strides=2, padding="same"), layers.BatchNormalization(),
                             layers.LeakyReLU(negative_slope=0.2),
                             layers.Conv2DTranspose(8, 4, strides=2, padding="same"), layers.BatchNormalization(),
                             layers.LeakyReLU(negative_slope=0.2),
                             layers.Conv2D(1, 5, padding="same", activation="sigmoid")])
        disc = dg.Sequential([layers.Input((28, 28, 1)), layers.Conv2D(8, 4, strides=2, padding="same"),
                              layers.LeakyReLU(negative_slope=0.2), layers.Conv2D(16, 4, strides=2, padding="same"),
                              layers.LeakyReLU(negative_slope=0.2), layers.Flatten(), layers.Dropout(0.2),
                              layers.Dense(1)])
        g_opt, d_opt = dg.optimizers.Adam(2e-4, beta_1=0.5), dg.optimizers.Adam(2e-4, beta_1=0.5)
        loss = dg.losses.BinaryCrossentropy(from_logits=True)
        rng = np.random.default_rng(0)
        for _ in range(2):
            z = dg.Tensor(rng.standard_normal((6, 16)).astype(np.float32))
            with dg.GradientTape() as tape:
                d_loss = loss(np.ones((6, 1), np.float32), disc(gen(z, training=True), training=True))
            d_opt.apply_gradients(zip(tape.gradient(d_loss, disc.trainable_weights), disc.trainable_weights))
            with dg.GradientTape() as tape:
                g_loss = loss(np.zeros((6, 1), np.float32), disc(gen(z, training=True), training=True))
            g_opt.apply_gradients(zip(tape.gradient(g_loss, gen.trainable_weights), gen.trainable_weights))
        return [w.numpy() for w in gen.weights + disc.weights]

    # the convolutions' products split with the batch of 6 (their columns or rows at 3 samples).
    # Where this BLAS sums such halves in another order, the gradients differ in the last bits, and
    # Adam's steps (each of at most about the learning rate, 2e-4) then differ by far less than a
    # step, though not in proportion to a weight: the biases before a batch norm have a gradient of
    # float32 noise, which Adam divides by its epsilon. So: within a tenth of a step.
    products = [column_halves_keep_bits(np.float32, *s) for s in ((25, 8, 6144), (147, 16, 256), (294, 16, 256))]
    products += [row_halves_keep_bits(np.float32, *s) for s in ((1176, 8, 16), (1176, 16, 128))]
    _both_ways(monkeypatch, run, same_bits=all(products), atol=2e-5)


@pytest.mark.parametrize("n,part_bytes", [(7, 1), (7, 2000), (6, 1 << 30)])
def test_col2im_gemm_halves_run_their_own_parts_bit_for_bit(monkeypatch, n, part_bytes):
    """Each half of the batch runs its own GEMM parts and adds (one BLAS thread each): odd batches,
    parts of one sample, parts with a shorter last one, and one part per half."""
    from deepgrad.ops import conv_phases

    monkeypatch.setattr(conv_phases, "PART_BYTES", part_bytes)
    rng = np.random.default_rng(31)
    a = rng.standard_normal((n * 5 * 6, 3)).astype(np.float32)
    w = rng.standard_normal((3, 4 * 4 * 2)).astype(np.float32)
    padded = (n, 4 * 2 + 2 + 1, 5 * 2 + 2, 2)  # one cell more than the taps reach on the first axis

    def run():
        return [conv_phases.col2im_gemm(a, w, padded, (4, 4), (2, 2), (1, 1), (4, 5)).copy()]

    a = a[:n * 4 * 5]
    out = _both_ways(monkeypatch, run)[0]
    expected = np.zeros(padded, np.float64)
    cols = (a.astype(np.float64) @ w).reshape(n, 4, 5, 4, 4, 2)
    for i in range(4):
        for j in range(4):
            expected[:, i:i + 8:2, j:j + 10:2] += cols[:, :, :, i, j]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_mask_as_bytes_is_the_product_with_the_bool_mask(dtype):
    from deepgrad.ops.halves import relu_masked

    rng = np.random.default_rng(3)
    g = rng.standard_normal(1000).astype(dtype)
    y = np.maximum(rng.standard_normal(1000), 0).astype(dtype)
    g[:4] = [np.inf, -np.inf, np.nan, -1.0]
    y[:8] = [0.0, 1.0, 0.0, 0.0, np.nan, 2.0, -0.0, 0.5]
    with np.errstate(invalid="ignore"):   # inf * 0
        out, ref = relu_masked(g, y, np.empty_like(g)), g * (y > 0)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.view(f"i{out.itemsize}"), ref.view(f"i{out.itemsize}"))


@pytest.mark.parametrize("rows,c,dtype", [(1000, 64, np.float32), (333, 48, np.float64), (7, 5, np.float32),
                                          (5000, 3000, np.float32)])
def test_bias_added_to_folded_rows_is_the_broadcast_add(rows, c, dtype):
    from deepgrad.ops.halves import add_to_rows

    rng = np.random.default_rng(rows)
    a, v = rng.standard_normal((rows, c)).astype(dtype), rng.standard_normal(c).astype(dtype)
    ref = a + v
    out = add_to_rows(a, v)
    assert out is a
    np.testing.assert_array_equal(a, ref)
    b = rng.standard_normal((c, rows)).astype(dtype).T   # not C-contiguous: the plain add
    ref = b + v
    add_to_rows(b, v)
    np.testing.assert_array_equal(b, ref)

def test_a_dcgan_training_step_with_the_phase_path_is_bit_identical_split(monkeypatch):
    from deepgrad.ops import transpose_phases

    monkeypatch.setattr(transpose_phases, "MIN_CHANNELS", 1)  # the small generator's 16 and 8 filters
    calls = []
    inner = transpose_phases.conv_transpose_phases
    monkeypatch.setattr(transpose_phases, "conv_transpose_phases", lambda *a: calls.append(1) or inner(*a))
    test_a_dcgan_training_step_is_bit_identical_split(monkeypatch)
    assert calls


def test_channel_sums_fold_channels_last_maps_the_same_on_one_thread_and_two(monkeypatch):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((8, 16, 16, 8))  # 2048 rows of 8: folded 256 rows at a time
    axes = (0, 1, 2)
    folded = _both_ways(monkeypatch, lambda: [halves.channel_sums(a, axes), halves.channel_sums(a, axes, True)],
                        splits=True)
    assert folded[0].shape == (8,) and folded[1].shape == (1, 1, 1, 8)
    np.testing.assert_allclose(folded[0], a.sum(axis=axes), rtol=1e-12, atol=1e-12)
    assert not np.array_equal(folded[0], a.sum(axis=axes))  # another order of the adds: the folded path ran
    # anything else is the plain sum, bit for bit
    for arr, ax in ((a, (0, 1)), (a, (1, 2, 3)), (np.moveaxis(a, -1, 1), (0, 2, 3)), (a[:, ::2], axes)):
        np.testing.assert_array_equal(halves.channel_sums(arr, ax), arr.sum(axis=ax))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_and_conv_transpose_channel_sums_match_torch(monkeypatch, dtype):
    """Maps large enough for the folded per-channel sums: batch norm's dgamma, dbeta and dx, the
    transposed convolution's dbias, against PyTorch; the same bits on one thread and two."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 8, 8, 8)).astype(dtype)
    k = (rng.standard_normal((4, 4, 16, 8)) * 0.2).astype(dtype)
    b, gamma, beta = (rng.standard_normal(16).astype(dtype) for _ in range(3))

    def ours(a, kk, bb, gg, be):
        return batch_norm(conv_transpose_bias(a, kk, bb, 2, "same"), gg, be)[0]

    # the transposed convolution's GEMM over the batch's halves; batch norm's normalised output
    # and gradients carry its rounding, and the bias's gradient is float32 noise (zero in exact
    # arithmetic) of about 1e-5, as below
    grads = _both_ways(monkeypatch, lambda: _grads(ours, x, k, b, gamma, beta),
                       same_bits=row_halves_keep_bits(dtype, 256, 8, 256), atol_share=1e-5, atol=1e-5)
    tensors = [torch.tensor(v, requires_grad=True) for v in (x, k, b, gamma, beta)]
    tx, tk, tb, tg, tbe = tensors
    out = F.conv_transpose2d(tx.permute(0, 3, 1, 2), tk.permute(3, 2, 0, 1), tb, 2, 1)
    out = F.batch_norm(out, None, None, tg, tbe, training=True, eps=1e-3).permute(0, 2, 3, 1)
    weights = np.random.default_rng(99).standard_normal(out.shape).astype(dtype)
    (out * torch.tensor(weights)).sum().backward()
    tol = 1e-10 if dtype == np.float64 else 2e-4
    np.testing.assert_allclose(grads[0], out.detach().numpy(), rtol=tol, atol=tol)
    for ours_grad, t in zip(grads[1:], tensors):
        # (the bias before a batch norm has a zero gradient: float32 noise of about 1e-5)
        expected = t.grad.numpy()
        np.testing.assert_allclose(ours_grad, expected, rtol=tol, atol=tol * max(1.0, np.abs(expected).max()))
