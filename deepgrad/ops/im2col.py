"""Convolution, channels-last with Keras kernel layouts: im2col and one GEMM.

``conv2d``: x (N, H, W, Cin), kernel (kh, kw, Cin, Cout), bias (Cout,) -> (N, Ho, Wo, Cout).
``conv1d``: x (N, T, Cin), kernel (k, Cin, Cout) -> (N, To, Cout), a conv2d of height 1.

Forward gathers every receptive field into a matrix ``cols`` of shape
(N*Ho*Wo, kh*kw*Cin) and multiplies it once by the kernel seen as (kh*kw*Cin, Cout).
Backward reuses ``cols`` for the kernel gradient (one GEMM) and scatter-adds the
gradient of ``cols`` back onto the input (col2im), one kernel offset at a time.

Three exceptions, all giving the same numbers to rounding: a 1x1 kernel at stride 1 (a pointwise
convolution) multiplies the input itself, with the bias and a ReLU applied after the GEMM; with few
output channels (a cost model, ``conv_taps.use_taps``) the GEMM comes first and each tap's share is
added shifted (``conv_taps``), never unfolding the input; and a forward that keeps nothing for backward
(inference) unfolds a large batch in parts of at most ``COLS_BUDGET`` bytes. Large arrays
come from the workspace pool (``workspace``), reused from one training step to the next.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd import Function
from ..runtime import for_batch_halves, for_items_shared, one_blas_thread, two_threads
from . import blas, workspace
from .conv_phases import col2im_gemm, fill_outside
from .halves import BLAS_THREADS_MIN, GEMM_HALVES_MIN, add_to_rows, folded_sum, matmul_off_pool, relu_masked
from .halves import row_sums
from .halves import conv_matmul
from .conv_taps import taps_backward, taps_forward, use_taps

def _pair(value, name: str, op: str) -> tuple:
    """``3`` -> ``(3, 3)``; ``(2, 3)`` stays; anything else is rejected."""
    if isinstance(value, (int, np.integer)):
        value = (int(value), int(value))
    value = tuple(int(v) for v in value)
    if len(value) != 2 or min(value) < 1:
        raise ValueError(f"{op}: {name} must be a positive int or a pair of them, got {value}")
    return value


def _single(value, name: str) -> int:
    """``2`` or ``(2,)`` -> ``2``."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"conv1d: {name} must be an int or a 1-tuple, got {value}")
        value = value[0]
    if int(value) < 1:
        raise ValueError(f"conv1d: {name} must be positive, got {value}")
    return int(value)


def conv_output_length(length: int, kernel: int, stride: int, padding: str, dilation: int = 1) -> int:
    """Output length along one axis, as Keras computes it (``None`` stays ``None``)."""
    if length is None:
        return None
    span = (kernel - 1) * dilation + 1
    if padding in ("same", "causal"):
        return -(-length // stride)  # ceil(length / stride)
    return (length - span) // stride + 1


def same_padding(length: int, kernel: int, stride: int, dilation: int = 1) -> tuple:
    """TensorFlow's "same": output ceil(length / stride); the odd extra cell goes after."""
    out = -(-length // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - length, 0)
    return total // 2, total - total // 2


def _pad_spatial(x: np.ndarray, pads: tuple, value=0) -> np.ndarray:
    """Pad the two spatial axes of (N, H, W, C); ``pads`` is ((top, bottom), (left, right))."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    n, h, w, c = x.shape
    out = workspace.empty((n, h + top + bottom, w + left + right, c), x.dtype)

    def pad(batch):  # each half of the batch in its own thread; only the border is filled
        fill_outside(out[batch], ((top, top + h), (left, left + w)), value)
        out[batch, top:top + h, left:left + w] = x[batch]

    for_batch_halves(pad, n, out.size)
    return out


def _offset_slices(i: int, j: int, strides, dilation, out_hw) -> tuple:
    """Index of the input cells that kernel offset (i, j) meets, one per output position."""
    (sh, sw), (dh, dw), (ho, wo) = strides, dilation, out_hw
    return (slice(None), slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
            slice(j * dw, j * dw + sw * (wo - 1) + 1, sw), slice(None))


def im2col(xp: np.ndarray, kernel_hw, strides, dilation, out_hw, ones_column: bool = False) -> np.ndarray:
    """Receptive fields of the padded input as rows: (N*Ho*Wo, kh*kw*C), C-contiguous.

    With ``ones_column`` a last column of ones is appended, so that a bias stacked under
    the kernel is added by the same GEMM (and its gradient comes out of the dKernel GEMM).
    """
    n, _, _, c = xp.shape
    (kh, kw), (ho, wo) = kernel_hw, out_hw
    k = kh * kw * c
    cols = workspace.empty((n, ho, wo, k + ones_column), xp.dtype)
    fields = cols[..., :k].reshape(n, ho, wo, kh, kw, c)  # a view: only the last axis is split
    sn, sh, sw, sc = xp.strides
    windows = as_strided(xp, shape=(n, ho, wo, kh, kw, c), writeable=False,
                         strides=(sn, sh * strides[0], sw * strides[1], sh * dilation[0], sw * dilation[1], sc))

    def run(batch):
        if c == 1:
            # One channel: copying offset by offset is about 2.5x faster than the 6-D copy below,
            # whose innermost run would be a single element.
            for i in range(kh):
                for j in range(kw):
                    fields[batch, :, :, i, j] = windows[batch, :, :, i, j]
        else:
            np.copyto(fields[batch], windows[batch])
        if ones_column:
            cols[batch, ..., k] = 1

    for_batch_halves(run, n, cols.size)
    return cols.reshape(n * ho * wo, k + ones_column)


def im2col_by_columns(xp: np.ndarray, kernel_hw, strides, dilation, out_hw, ones_column: bool = False) -> np.ndarray:
    """``im2col`` with the same values laid out column by column: the (N*Ho*Wo, k) matrix returned
    is the transpose of a C-contiguous (k, N*Ho*Wo), i.e. Fortran-ordered.

    For a narrow unfold (few input channels, ``NARROW_COLS``) the row-major layout's copies write
    runs of C elements (one, for a one-channel image) at a stride of k: the copy of the MNIST CNN's
    (128, 28, 28, 1) input took 1.5 ms, the CIFAR CNN's (128, 32, 32, 3) 2.8 ms (one thread). Here
    the input is first copied channel by channel (C, N, H, W) (a view for one channel), then each
    column is a copy of a shifted window of one channel, read and written in runs of Wo: 0.28 and
    1.25 ms. A GEMM takes either layout (BLAS's transposed-operand flag)."""
    n, hp, wp, c = xp.shape
    (kh, kw), (ho, wo) = kernel_hw, out_hw
    k = kh * kw * c
    cols_t = workspace.empty((k + ones_column, n, ho, wo), xp.dtype)
    fields = cols_t[:k].reshape(kh, kw, c, n, ho, wo)
    planar = xp.transpose(3, 0, 1, 2) if c == 1 else workspace.empty((c, n, hp, wp), xp.dtype)
    sc, sn, sh, sw = planar.strides
    windows = as_strided(planar, shape=(kh, kw, c, n, ho, wo), writeable=False,
                         strides=(sh * dilation[0], sw * dilation[1], sc, sn, sh * strides[0], sw * strides[1]))

    def run(batch):
        if c > 1:
            np.copyto(planar[:, batch], xp[batch].transpose(3, 0, 1, 2))
        for i in range(kh):
            for j in range(kw):
                np.copyto(fields[i, j, :, batch], windows[i, j, :, batch])
        if ones_column:
            cols_t[k, batch] = 1

    for_batch_halves(run, n, cols_t.size)
    return cols_t.reshape(k + ones_column, n * ho * wo).T


# An unfolded matrix an inference forward holds at once: larger batches are unfolded in parts
# (what a training forward keeps for backward cannot be split, it is saved whole).
COLS_BUDGET = 64 << 20  # bytes


def _im2col_gemm(xp, weights, kernel_hw, strides, dilation, out_hw, ones_column: bool, keep_cols: bool,
                 after=None):
    """(out, cols, done) = ([cols 1] weights, cols, ...) of the padded input; with ``keep_cols`` False
    (nothing saved for backward) the batch is unfolded in parts of at most COLS_BUDGET bytes and cols
    is None. Each output row is the same dot product either way. ``after`` (an in-place pass on rows
    of the output) is applied right after the GEMM (to each half, the rows still in cache) when the
    GEMM runs on deepgrad's threads (``halves.matmul_off_pool``: ``done`` True); otherwise it is
    left to the caller."""
    n = xp.shape[0]
    per_sample = out_hw[0] * out_hw[1] * weights.shape[0] * xp.itemsize
    if keep_cols or n == 1 or n * per_sample <= COLS_BUDGET:
        # a narrow unfold column by column (its copies are several times faster; the GEMM's
        # products the same bits, and kernel_grad reads either layout)
        unfold = im2col_by_columns if weights.shape[0] <= NARROW_COLS and n > 1 else im2col
        cols = unfold(xp, kernel_hw, strides, dilation, out_hw, ones_column=ones_column)
        out = workspace.empty((len(cols), weights.shape[1]), np.result_type(cols.dtype, weights.dtype))
        done = matmul_off_pool(cols, weights, after=after, out=out) is not None
        if not done:
            blas.matmul(cols, weights, out=out)
        return out, (cols if keep_cols else None), done and after is not None
    part = max(1, COLS_BUDGET // per_sample)
    rows = out_hw[0] * out_hw[1]
    out = workspace.empty((n * rows, weights.shape[1]), np.result_type(xp.dtype, weights.dtype))
    for start in range(0, n, part):
        cols = im2col(xp[start:start + part], kernel_hw, strides, dilation, out_hw, ones_column=ones_column)
        conv_matmul(cols, weights, out=out[start * rows:start * rows + len(cols)])  # as the whole batch's GEMM
        del cols  # freed before the next part is unfolded
    return out, None, False


def _relu_in_place(rows: np.ndarray) -> None:
    np.maximum(rows, 0, out=rows)


def _pointwise(x2: np.ndarray, weights: np.ndarray, bias, relu: bool) -> np.ndarray:
    """x2 (rows, Cin) @ weights (Cin, Cout), then ``+ bias`` and the ReLU on each half of the rows
    right after its GEMM (still in cache): a 1x1 convolution, with no unfolded copy of its input."""
    def after(rows):
        if bias is not None:
            add_to_rows(rows, bias)
        if relu:
            np.maximum(rows, 0, out=rows)

    out = workspace.empty((len(x2), weights.shape[1]), np.result_type(x2.dtype, weights.dtype))
    if matmul_off_pool(x2, weights, after=after, out=out) is None:
        blas.matmul(x2, weights, out=out)
        after(out)
    return out


def _on_one_blas_thread(fn, part):
    """``fn(part)``, on one BLAS thread when ``part`` is one of two halves run at once."""
    if part == slice(None):
        fn(part)
        return
    with one_blas_thread():
        fn(part)


# bytes of a pointwise backward's chunk: its rows of dY, of the ReLU's output and of the masked
# dY, of the input and of dX (in the core's L2 cache while its products are made)
POINTWISE_CHUNK_BYTES = 1 << 20


def pointwise_backward(g2: np.ndarray, x2, w, y, cin: int, needs) -> tuple:
    """(dX, dW, db) of out = x2 w + b (relu'd when ``y``, its output, is given) for dY g2 (rows,
    Cout): x2 (rows, Cin) the input (None when dW is not needed), w (Cin, Cout) (None when dX is
    not), ``cin`` = Cin; each gradient None unless its entry of ``needs`` is set.

    One pass over chunks of rows, taken in turn by two threads on one BLAS thread each
    (``runtime.for_items_shared``): a chunk's dY masked by y > 0 into a buffer of the thread, then
    its rows of dX = dY w^T and its parts of dW = x2^T dY and db, summed over the chunks in order at
    the end (the same bits on one thread and two, whichever thread makes a chunk). Separate passes
    (the mask, the dX GEMM, the dW GEMMs, the bias's sum) each streamed the whole dY or its masked
    copy from memory."""
    need_x, need_w, need_b = needs
    rows, cout = g2.shape
    step = max(256, POINTWISE_CHUNK_BYTES // ((3 * cout + 2 * cin) * g2.itemsize))
    chunks = [slice(lo, min(lo + step, rows)) for lo in range(0, rows, step)]
    dx = workspace.empty((rows, cin), g2.dtype) if need_x else None
    dw_parts = np.empty((len(chunks), cin, cout), g2.dtype) if need_w else None
    db_parts = np.empty((len(chunks), cout), g2.dtype) if need_b else None
    wt = w.T if need_x else None

    def chunk(i, mine):
        c = chunks[i]
        gc = g2[c]
        if y is not None:   # relu'(y) = [y > 0], into a buffer of the thread
            if "masked" not in mine:
                mine["masked"] = np.empty((step, cout), g2.dtype)
            gc = relu_masked(gc, y[c], mine["masked"][:len(gc)])
        if need_b:
            db_parts[i] = folded_sum(gc)
        if need_w:
            blas.matmul(x2[c].T, gc, out=dw_parts[i])
        if need_x:
            blas.matmul(gc, wt, out=dx[c])

    for_items_shared(chunk, len(chunks), g2.size, one_blas=True)
    return (dx, None if dw_parts is None else dw_parts.sum(axis=0),
            None if db_parts is None else db_parts.sum(axis=0))


# Unfolded matrices at most this many columns wide get their kernel gradient sample by sample
# (see kernel_grad); measured at batch 128, one thread: 10 columns 2.1 -> 0.54 ms, 28 columns
# 5.1 -> 2.0 ms, 64 columns 8.8 -> 9.1 ms (no gain).
NARROW_COLS = 32
# A wide unfold's kernel gradient runs its two batch halves in two threads from this many
# multiply-adds (as halves.GEMM_POOL_MIN: each half then takes some 0.1 ms); below, one after the other.
WIDE_HALVES_MIN = 1 << 22


def kernel_grad(cols: np.ndarray, g2: np.ndarray, n: int) -> np.ndarray:
    """``cols^T g2``: (N*Ho*Wo, k) by (N*Ho*Wo, Cout) -> (k, Cout), the kernel (and bias) gradient.

    For a narrow ``cols`` (few input channels: k <= NARROW_COLS) one GEMM with an inner axis of
    N*Ho*Wo runs at a fraction of OpenBLAS's speed and does not speed up on two threads. Then it
    is N GEMMs, one per sample (cols_n^T g2_n, each of k x Cout), over the two halves of the batch
    in two threads on one BLAS thread each, summed over the samples once at the end: the same
    numbers whether the halves run in one thread or two, within float rounding (the sum's order
    differs) of the single GEMM.

    A wide ``cols`` is two GEMMs, one per half of the batch (the inner axis cut in two), each on
    one BLAS thread, and the two partial products added (``wide_kernel_grad``)."""
    width = cols.shape[1]
    if n < 2 or cols.dtype == np.float16:
        # the single GEMM as (dOut^T cols)^T: the long axis inner, measured about 10% faster (and
        # with float16 data, one float32 GEMM: halves._half_matmul)
        return conv_matmul(g2.T, cols).T
    if width > NARROW_COLS:
        return wide_kernel_grad(cols, g2, n)
    per = len(cols) // n
    g3 = g2.reshape(n, per, g2.shape[1])
    if cols.flags.f_contiguous and not cols.flags.c_contiguous:  # im2col_by_columns: (k, N*per) in memory
        cols3_t = cols.T.reshape(width, n, per).transpose(1, 0, 2)  # a view, (n, width, per)
    else:
        cols3_t = cols.reshape(n, per, width).transpose(0, 2, 1)
    parts = workspace.empty((n, width, g2.shape[1]), np.result_type(cols.dtype, g2.dtype))

    def run(batch):
        blas.batched_matmul(cols3_t[batch], g3[batch], out=parts[batch])

    for_batch_halves(lambda batch: _on_one_blas_thread(run, batch), n, cols.size + g2.size)
    return parts.sum(axis=0)


def wide_kernel_grad(cols: np.ndarray, g2: np.ndarray, n: int) -> np.ndarray:
    """``cols^T g2`` as ``(dOut_1^T cols_1 + dOut_2^T cols_2)^T`` over the two halves of the batch.

    The row halves of ``dOut^T`` (the ``matmul_row_halves`` split) would each stream all of
    ``cols``: at the CIFAR CNN's second convolution (64 x 21,632 x 289) that took 13.7 ms of CPU
    over two threads against 11.0 ms for the batch halves (wall 7.2 against 5.8 ms). The two
    partial GEMMs always run on one BLAS thread each, in two threads when the product is large
    enough, else one after the other: the same bits either way, within float rounding of the
    single GEMM (the inner sum is split in two)."""
    rows = (n // 2) * (len(cols) // n)
    parts = workspace.empty((2, g2.shape[1], cols.shape[1]), np.result_type(cols.dtype, g2.dtype))
    cuts = (slice(0, rows), slice(rows, None))

    def run(which):
        with one_blas_thread():
            for i in range(2)[which]:
                blas.matmul(g2[cuts[i]].T, cols[cuts[i]], out=parts[i])

    work = cols.size * g2.shape[1]  # multiply-adds
    for_batch_halves(run, 2, work if work >= WIDE_HALVES_MIN else 0)
    return np.add(parts[0], parts[1], out=parts[0]).T


def resolve_padding(padding, in_hw, kernel_hw, strides, dilation, op: str) -> tuple:
    """"valid", "same" or "causal" (1-D only: all the padding before) as ((top, bottom), (left, right))."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        return tuple(same_padding(n, k, s, d) for n, k, s, d in zip(in_hw, kernel_hw, strides, dilation))
    if padding == "causal":
        return (0, 0), ((kernel_hw[1] - 1) * dilation[1], 0)
    allowed = "'valid', 'same' or 'causal'" if op == "conv1d" else "'valid' or 'same'"
    raise ValueError(f"{op}: padding must be {allowed}, got {padding!r}")


class Conv2D(Function):
    function_name = "conv2d"  # the public function, named in errors
    fused_relu = False  # Conv2DReLU: relu(conv2d), applied in place on the GEMM's output
    # an output gradient that already had the relu's mask applied (by the max pool this output
    # feeds: pool.MaxPool2D._relu_producer); backward masks any other array
    relu_masked_grad = None

    def forward(self, x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1)):
        op = self.function_name
        if x.ndim != 4 or kernel.ndim != 4:
            raise ValueError(f"{op}: expected x of rank 4 (batch, height, width, channels) and kernel of rank 4 "
                             f"(kh, kw, in, out), got shapes {x.shape} and {kernel.shape}")
        kh, kw, cin, cout = kernel.shape
        if x.shape[-1] != cin:
            raise ValueError(f"{op}: input has {x.shape[-1]} channels but the kernel expects {cin} "
                             f"(x shape {x.shape}, kernel shape {kernel.shape})")
        if bias is not None and bias.shape != (cout,):
            raise ValueError(f"{op}: bias shape {bias.shape} does not match the kernel's {cout} filters")
        pads = resolve_padding(padding, x.shape[1:3], (kh, kw), strides, dilation, op)
        xp = _pad_spatial(x, pads)
        n, hp, wp, _ = xp.shape
        ho = (hp - (kh - 1) * dilation[0] - 1) // strides[0] + 1
        wo = (wp - (kw - 1) * dilation[1] - 1) // strides[1] + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"{op}: kernel {kernel.shape[:2]} with dilation {dilation} does not fit in the "
                             f"input (x shape {x.shape}, padding {padding!r})")
        self.geometry = (x.shape, xp.shape, pads, strides, dilation, (ho, wo))
        self.kernel_shape = kernel.shape
        needs = self.needs_input_grad
        # a 1x1 kernel at stride 1 (a pointwise convolution): the input is already the GEMM's matrix
        self.pointwise = kh == kw == 1 and strides == (1, 1) and xp is x
        # few output channels: a GEMM per input cell and a shifted add per tap (conv_taps)
        self.taps = not self.pointwise and use_taps(xp.shape, (ho, wo), kernel.shape)
        relu_done = False  # the im2col path's GEMM may apply the relu itself, right after each half
        if self.pointwise:
            x2 = np.ascontiguousarray(x).reshape(-1, cin)
            out = _pointwise(x2, kernel.reshape(cin, cout), bias, self.fused_relu)
            relu_done = True
            saved_input = x2 if needs[1] else None
        elif self.taps:
            out = taps_forward(xp, kernel, strides, dilation, (ho, wo)).reshape(-1, cout)
            if bias is not None:
                out += bias
            saved_input = xp if needs[1] else None  # the tap path's dKernel reads the padded input
        else:
            weights = kernel.reshape(kh * kw * cin, cout)
            if bias is not None:
                weights = np.concatenate([weights, bias[None].astype(weights.dtype, copy=False)])
            out, cols, relu_done = _im2col_gemm(xp, weights, (kh, kw), strides, dilation, (ho, wo), bias is not None,
                                                keep_cols=True in needs, after=_relu_in_place if self.fused_relu else None)
            saved_input = cols if needs[1] or (bias is not None and needs[2]) else None
        if self.fused_relu and not relu_done:
            for_batch_halves(lambda rows: np.maximum(out[rows], 0, out=out[rows]), out.shape[0], out.size)
        # keep only what backward needs: cols (or the padded input) for dKernel (and dBias),
        # the kernel for dX, the output for the relu's mask
        self.save_for_backward(saved_input, kernel if needs[0] else None, out if self.fused_relu else None)
        return out.reshape(n, ho, wo, cout)

    def backward(self, g):
        cols, kernel, relu_out = self.saved
        g2 = g.reshape(-1, self.kernel_shape[-1])
        if relu_out is not None and g is self.relu_masked_grad:
            self.relu_masked_grad = relu_out = None  # masked already, with the same bits
        needs = self.needs_input_grad
        if self.pointwise and g2.dtype in (np.float32, np.float64) and g2.flags.c_contiguous and all(
                a is None or a.dtype == g2.dtype for a in (cols, kernel, relu_out)):
            _, _, cin, cout = self.kernel_shape
            dx, dkernel, dbias = pointwise_backward(
                g2, cols, None if kernel is None else kernel.reshape(cin, cout), relu_out, cin,
                (needs[0], cols is not None, len(needs) > 2 and needs[2]))
            dx = None if dx is None else dx.reshape(self.geometry[0])
            dkernel = None if dkernel is None else dkernel.reshape(self.kernel_shape)
            return (dx, dkernel, dbias)[:len(needs)]
        if relu_out is not None:  # the fused relu: dY masked where y = 0
            y, masked = relu_out, workspace.empty(g2.shape, g2.dtype)
            for_batch_halves(lambda rows: relu_masked(g2[rows], y[rows], masked[rows]), len(y), y.size)
            g2 = masked
        dx = dkernel = dbias = None
        if self.taps:
            x_shape, xp_shape, pads, strides, dilation, (ho, wo) = self.geometry
            dxp, dkernel = taps_backward(g2.reshape(x_shape[0], ho, wo, -1), xp_shape, cols, kernel,
                                         self.kernel_shape, strides, dilation)
            if dxp is not None:
                (top, _), (left, _) = pads
                dx = dxp[:, top:top + x_shape[1], left:left + x_shape[2]]
            dbias = row_sums(g2) if len(self.needs_input_grad) > 2 and self.needs_input_grad[2] else None
            return (dx, dkernel, dbias)[:len(self.needs_input_grad)]
        if self.pointwise:   # out = x K + b  =>  dX = dOut K^T, dK = x^T dOut, db = sum dOut
            _, _, cin, cout = self.kernel_shape
            if self.needs_input_grad[0]:
                dx = workspace.empty((len(g2), cin), g2.dtype)
                dx = conv_matmul(g2, kernel.reshape(cin, cout).T, out=dx).reshape(self.geometry[0])
            if cols is not None:
                dkernel = kernel_grad(cols, g2, self.geometry[0][0]).reshape(self.kernel_shape)
            if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
                dbias = row_sums(g2)
            return (dx, dkernel, dbias)[:len(self.needs_input_grad)]
        if self.needs_input_grad[0]:
            _, _, cin, cout = kernel.shape
            # stride 1 with no more filters than input channels: the correlation reads fewer cells
            stride_one = self.geometry[3] == (1, 1)
            dx = self._correlate(g2, kernel) if stride_one and cout <= cin else self._col2im(g2, kernel)
        if cols is not None:
            # out = [cols 1] [K; b]  =>  [dK; db] = [cols 1]^T dOut
            dweights = kernel_grad(cols, g2, self.geometry[0][0])
            rows = math.prod(self.kernel_shape[:-1])
            dkernel = dweights[:rows].reshape(self.kernel_shape)
            dbias = dweights[rows] if len(self.needs_input_grad) > 2 else None
        return (dx, dkernel, dbias)[:len(self.needs_input_grad)]

    def _col2im(self, g2, kernel):
        """dX: d(cols) = dOut K^T, scatter-added back onto the cells each column was read from.

        Neither way holds the whole (N*Ho*Wo, kh*kw*Cin) matrix. With a stride, ``conv_phases``:
        the GEMM and the adds run a few samples at a time and the s x s taps of a phase block go
        in one add (a DCGAN discriminator's Conv2D(128, 4, strides 2), batch 128: 33 -> 29 ms).
        At stride 1 each tap is its own add anyway; one GEMM per kernel offset into a reused
        buffer ran faster there (5.0 against 6.6 ms, 3x3, 32 -> 64 channels, batch 32).
        """
        x_shape, xp_shape, pads, strides, dilation, (ho, wo) = self.geometry
        kh, kw, cin, cout = kernel.shape
        if strides != (1, 1):
            dxp = col2im_gemm(g2, kernel.reshape(-1, cout).T, xp_shape, (kh, kw), strides, dilation, (ho, wo))
        else:
            dxp = workspace.zeros(xp_shape, g2.dtype)
            buf = workspace.empty((g2.shape[0], cin), g2.dtype)
            n = xp_shape[0]
            g3, buf3 = g2.reshape(n, -1, cout), buf.reshape(n, -1, cin)

            def run(batch):  # the GEMMs and adds of some samples: the same rows, the same operations
                gb, bb, db = g3[batch].reshape(-1, cout), buf3[batch].reshape(-1, cin), dxp[batch]
                for i in range(kh):
                    for j in range(kw):
                        blas.matmul(gb, kernel[i, j].T, out=bb)
                        db[_offset_slices(i, j, strides, dilation, (ho, wo))] += bb.reshape(-1, ho, wo, cin)

            work = g2.shape[0] * cout * cin  # of each offset's GEMM
            if work < BLAS_THREADS_MIN or not two_threads():   # OpenBLAS runs it on one thread anyway
                run(slice(None))
            elif work < GEMM_HALVES_MIN:  # on this thread, one BLAS thread (halves.GEMM_OWN_MIN says why)
                with one_blas_thread():
                    run(slice(None))
            else:  # each half of the batch in its own thread, on one BLAS thread
                for_batch_halves(lambda batch: _on_one_blas_thread(run, batch), n, work)
        (top, _), (left, _) = pads
        return dxp[:, top:top + x_shape[1], left:left + x_shape[2]]

    def _correlate(self, g2, kernel):
        """dX for stride 1 as a convolution: dX[p] = sum_u dOutPad[p + u d] K[k-1-u]^T.

        dOut zero-padded by (span - pad_before, span - pad_after) per axis, with span = (k - 1) d,
        correlated with the flipped kernel (kh, kw, Cout, Cin): one im2col of dOut (Cout columns
        per tap instead of Cin) and one GEMM, instead of kh*kw GEMMs scatter-added onto dX.
        """
        x_shape, _, pads, _, dilation, (ho, wo) = self.geometry
        kh, kw, cin, cout = kernel.shape
        spans = ((kh - 1) * dilation[0], (kw - 1) * dilation[1])
        gp = _pad_spatial(g2.reshape(-1, ho, wo, cout), tuple((s - b, s - a) for s, (b, a) in zip(spans, pads)))
        cols = im2col(gp, (kh, kw), (1, 1), dilation, x_shape[1:3])
        flipped = kernel[::-1, ::-1].transpose(0, 1, 3, 2).reshape(kh * kw * cout, cin)
        out = workspace.empty((len(cols), cin), np.result_type(cols.dtype, flipped.dtype))
        return conv_matmul(cols, flipped, out=out).reshape(x_shape)


    def graph_backward(self, g):
        """The gradients as recorded ops, for higher-order gradients. With the trilinear form
        T(dY, X, K) = <dY, conv(X, K)>: dX = dT/dX = Conv2DInputGrad(dY, K) and
        dK = dT/dX = Conv2DKernelGrad(X, dY), whose own gradients are again conv, Conv2DInputGrad
        and Conv2DKernelGrad, so every order is closed under these three ops."""
        x, kernel = self.inputs[:2]
        if self.fused_relu:
            g = g * (self.saved[2].reshape(g.shape) > 0)  # a constant mask: no second derivative
        needs = self.needs_input_grad
        dx = Conv2DInputGrad.apply(g, kernel, geometry=self.geometry) if needs[0] else None
        dkernel = (Conv2DKernelGrad.apply(x, g, geometry=self.geometry, kernel_shape=self.kernel_shape)
                   if needs[1] else None)
        dbias = g.sum(axis=(0, 1, 2)) if len(needs) > 2 and needs[2] else None
        return (dx, dkernel, dbias)[:len(needs)]


def _conv2d_explicit(x, kernel, geometry):
    """conv2d(x, kernel) with the padding and output size of ``geometry``, as a recorded op."""
    return Conv2DExplicit.apply(x, kernel, geometry=geometry)


class Conv2DExplicit(Function):
    """conv2d without bias whose padding is the explicit one of a ``geometry`` (from a Conv2D
    forward): the gradient of Conv2DInputGrad and Conv2DKernelGrad with respect to dY."""

    def forward(self, x, kernel, geometry=None):
        self.geometry = geometry
        _, _, pads, strides, dilation, (ho, wo) = geometry
        kh, kw, cin, cout = kernel.shape
        cols = im2col(_pad_spatial(x, pads), (kh, kw), strides, dilation, (ho, wo))
        self.save_for_backward(cols, kernel)
        return blas.matmul(cols, kernel.reshape(-1, cout)).reshape(x.shape[0], ho, wo, cout)

    def backward(self, g):
        cols, kernel = self.saved
        g2 = g.reshape(-1, kernel.shape[-1])
        dx = _col2im(g2, kernel, self.geometry) if self.needs_input_grad[0] else None
        dkernel = blas.matmul(cols.T, g2).reshape(kernel.shape) if self.needs_input_grad[1] else None
        return dx, dkernel

    def graph_backward(self, g):
        x, kernel = self.inputs
        dx = Conv2DInputGrad.apply(g, kernel, geometry=self.geometry) if self.needs_input_grad[0] else None
        dkernel = (Conv2DKernelGrad.apply(x, g, geometry=self.geometry, kernel_shape=kernel.shape)
                   if self.needs_input_grad[1] else None)
        return dx, dkernel


class Conv2DInputGrad(Function):
    """dX of conv2d for the output gradient dY and kernel K (col2im of dY K^T)."""

    def forward(self, g, kernel, geometry=None):
        self.geometry = geometry
        self.save_for_backward(g, kernel)
        return _col2im(g.reshape(-1, kernel.shape[-1]), kernel, geometry)

    def backward(self, u):
        # <u, InputGrad(dY, K)> = T(dY, u, K): d/d(dY) = conv(u, K), d/dK = KernelGrad(u, dY)
        g, kernel = self.saved
        dg = Conv2DExplicit().forward(u, kernel, geometry=self.geometry) if self.needs_input_grad[0] else None
        dkernel = _kernel_grad(u, g, kernel.shape, self.geometry) if self.needs_input_grad[1] else None
        return dg, dkernel

    def graph_backward(self, u):
        g, kernel = self.inputs
        dg = _conv2d_explicit(u, kernel, self.geometry) if self.needs_input_grad[0] else None
        dkernel = (Conv2DKernelGrad.apply(u, g, geometry=self.geometry, kernel_shape=kernel.shape)
                   if self.needs_input_grad[1] else None)
        return dg, dkernel


class Conv2DKernelGrad(Function):
    """dK of conv2d for the input X and output gradient dY (im2col(X)^T dY)."""

    def forward(self, x, g, geometry=None, kernel_shape=None):
        self.geometry = geometry
        self.save_for_backward(x, g)
        return _kernel_grad(x, g, kernel_shape, geometry)

    def backward(self, v):
        # <v, KernelGrad(X, dY)> = T(dY, X, v): d/dX = InputGrad(dY, v), d/d(dY) = conv(X, v)
        x, g = self.saved
        dx = _col2im(g.reshape(-1, v.shape[-1]), v, self.geometry) if self.needs_input_grad[0] else None
        dg = Conv2DExplicit().forward(x, v, geometry=self.geometry) if self.needs_input_grad[1] else None
        return dx, dg

    def graph_backward(self, v):
        x, g = self.inputs
        dx = Conv2DInputGrad.apply(g, v, geometry=self.geometry) if self.needs_input_grad[0] else None
        dg = _conv2d_explicit(x, v, self.geometry) if self.needs_input_grad[1] else None
        return dx, dg


def _kernel_grad(x, g, kernel_shape, geometry):
    """im2col(pad(X))^T dY as a kernel of ``kernel_shape`` (kh, kw, Cin, Cout)."""
    _, _, pads, strides, dilation, (ho, wo) = geometry
    kh, kw, _, cout = kernel_shape
    cols = im2col(_pad_spatial(x, pads), (kh, kw), strides, dilation, (ho, wo))
    return blas.matmul(cols.T, g.reshape(-1, cout)).reshape(kh, kw, x.shape[-1], cout)


def _col2im(g2, kernel, geometry):
    """dX = col2im(dY K^T), one kernel offset at a time (as Conv2D._col2im)."""
    x_shape, xp_shape, pads, strides, dilation, (ho, wo) = geometry
    kh, kw, cin, _ = kernel.shape
    dxp = np.zeros(xp_shape, dtype=g2.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[_offset_slices(i, j, strides, dilation, (ho, wo))] += blas.matmul(g2, kernel[i, j].T).reshape(-1, ho, wo, cin)
    (top, _), (left, _) = pads
    return dxp[:, top:top + x_shape[1], left:left + x_shape[2]]


class Conv2DReLU(Conv2D):
    fused_relu = True


class Conv1D(Conv2D):
    """A conv2d of height 1: (N, T, C) is seen as (N, 1, T, C), the kernel (k, Cin, Cout) as (1, k, Cin, Cout)."""

    function_name = "conv1d"

    def forward(self, x, kernel, bias=None, strides=1, padding="valid", dilation=1):
        if x.ndim != 3 or kernel.ndim != 3:
            raise ValueError(f"{self.function_name}: expected x of rank 3 (batch, steps, channels) and kernel of "
                             f"rank 3 (k, in, out), got shapes {x.shape} and {kernel.shape}")
        out = super().forward(x[:, None], kernel[None], bias, strides=(1, strides), padding=padding,
                              dilation=(1, dilation))
        return out[:, 0]

    def backward(self, g):
        grads = super().backward(g[:, None])
        dx, dkernel = grads[0], grads[1]
        return (None if dx is None else dx[:, 0], None if dkernel is None else dkernel[0]) + grads[2:]

    def graph_backward(self, g):
        """conv2d's recorded gradients on the height-1 views (N, 1, T, C) and (1, k, Cin, Cout)."""
        x, kernel = self.inputs[:2]
        if self.fused_relu:
            g = g * (self.saved[2].reshape(g.shape) > 0)  # a constant mask: no second derivative
        g4 = g.reshape((g.shape[0], 1, *g.shape[1:]))
        needs = self.needs_input_grad
        dx = dkernel = dbias = None
        if needs[0]:
            dx = Conv2DInputGrad.apply(g4, kernel.reshape((1, *kernel.shape)), geometry=self.geometry).reshape(x.shape)
        if needs[1]:
            x4 = x.reshape((x.shape[0], 1, *x.shape[1:]))
            dkernel = Conv2DKernelGrad.apply(x4, g4, geometry=self.geometry,
                                             kernel_shape=self.kernel_shape).reshape(kernel.shape)
        if len(needs) > 2 and needs[2]:
            dbias = g.sum(axis=(0, 1))
        return (dx, dkernel, dbias)[:len(needs)]


class Conv1DReLU(Conv1D):
    fused_relu = True


def _padding_name(padding, op: str) -> str:
    if not isinstance(padding, str):
        raise ValueError(f"{op}: padding must be a string ('valid' or 'same'), got {padding!r}")
    return padding.lower()


def conv2d(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation_rate=(1, 1)):
    """2-D convolution (cross-correlation, as Keras and PyTorch compute it), channels-last."""
    return _conv2d(Conv2D, x, kernel, bias, strides, padding, dilation_rate)


def conv2d_relu(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation_rate=(1, 1)):
    """``relu(conv2d(...))`` as one op: the relu is applied in place on the GEMM's output."""
    return _conv2d(Conv2DReLU, x, kernel, bias, strides, padding, dilation_rate)


def conv1d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1):
    """1-D convolution over (batch, steps, channels); padding "valid", "same" or "causal"."""
    return _conv1d(Conv1D, x, kernel, bias, strides, padding, dilation_rate)


def conv1d_relu(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1):
    """``relu(conv1d(...))`` as one op."""
    return _conv1d(Conv1DReLU, x, kernel, bias, strides, padding, dilation_rate)


def _conv2d(op, x, kernel, bias, strides, padding, dilation_rate):
    padding = _padding_name(padding, "conv2d")
    if padding == "causal":
        raise ValueError("conv2d: padding 'causal' exists only for conv1d")
    attrs = dict(strides=_pair(strides, "strides", "conv2d"), padding=padding,
                 dilation=_pair(dilation_rate, "dilation_rate", "conv2d"))
    inputs = (x, kernel) if bias is None else (x, kernel, bias)
    return op.apply(*inputs, **attrs)


def _conv1d(op, x, kernel, bias, strides, padding, dilation_rate):
    attrs = dict(strides=_single(strides, "strides"), padding=_padding_name(padding, "conv1d"),
                 dilation=_single(dilation_rate, "dilation_rate"))
    inputs = (x, kernel) if bias is None else (x, kernel, bias)
    return op.apply(*inputs, **attrs)
