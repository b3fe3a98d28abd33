"""Max and average pooling, channels-last, with Keras semantics.

``max_pool2d`` / ``avg_pool2d``: x (N, H, W, C) -> (N, Ho, Wo, C); strides default to the
pool size; "same" padding is TensorFlow's (output ceil(in / stride), the odd extra cell
after). Average pooling with "same" divides by the number of real cells in each window,
padded cells excluded, as TensorFlow does. 1-D versions see (N, T, C) as (N, 1, T, C).

Both run over the ph*pw window offsets, each pass one element-wise op on the whole batch.
When the stride equals the pool size the windows tile the (padded) input, which is then
seen as (N, Ho, ph, Wo, pw, C) with one reshape; otherwise each offset is a strided slice.
Max pooling over such tiling windows of an unpadded float32/float64 input runs as two compiled
loops instead (``pool_compiled``, built with the package: the same bits).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..autograd.higher_order import frozen, linear_backward
from ..runtime import for_batch_halves
from . import pool_compiled, workspace
from .im2col import Conv2DReLU, _offset_slices, _pad_spatial, _pair, same_padding


def pool_output_length(length, pool: int, stride: int, padding: str):
    """Output length along one axis (``None`` stays ``None``)."""
    if length is None:
        return None
    if padding == "same":
        return -(-length // stride)
    return (length - pool) // stride + 1


class _Pool2D(Function):
    """Shared geometry: padding, output size and the tiling test."""

    function_name: str  # the public function, named in errors; set by each subclass

    def _setup(self, x, pool, strides, padding, fill):
        op = self.function_name
        if x.ndim != 4:
            raise ValueError(f"{op}: expected x of rank 4 (batch, height, width, channels), got shape {x.shape}")
        if padding not in ("valid", "same"):
            raise ValueError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
        n, h, w, c = x.shape
        ho, wo = (pool_output_length(s, p, st, padding) for s, p, st in zip((h, w), pool, strides))
        if ho < 1 or wo < 1:
            raise ValueError(f"{op}: pool size {pool} does not fit in the input of shape {x.shape} "
                             f"with padding {padding!r}")
        if padding == "same":
            pads = tuple(same_padding(s, p, st) for s, p, st in zip((h, w), pool, strides))
        else:
            pads = ((0, 0), (0, 0))
        xp = _pad_spatial(x, pads, fill)
        padded_shape = xp.shape
        # the windows tile the input: crop what "valid" leaves over, then one reshape
        tiles = tuple(pool) == tuple(strides)
        if tiles:
            xp = xp[:, :ho * pool[0], :wo * pool[1]]
        self.geometry = (x.shape, padded_shape, pads, pool, strides, (ho, wo), tiles)
        return xp

    def _cells(self, a):
        """For each window offset (i, j), row-major, the view of ``a`` that offset reads: (N, Ho, Wo, C).

        When the windows tile ``a`` this is ``a`` reshaped to (N, Ho, ph, Wo, pw, C) and indexed
        ``[:, :, i, :, j]``; otherwise a strided slice. Element-wise ops over these few views are
        several times faster than a NumPy reduction over the two window axes.
        """
        _, _, _, (ph, pw), strides, (ho, wo), tiles = self.geometry
        if tiles:
            # a view even of a cropped ``a``: splitting an axis in two never needs a copy (backward
            # writes through these views)
            windows = a.reshape(a.shape[0], ho, ph, wo, pw, a.shape[3])
            return [windows[:, :, i, :, j] for i in range(ph) for j in range(pw)]
        return [a[_offset_slices(i, j, strides, (1, 1), (ho, wo))] for i in range(ph) for j in range(pw)]

    def _grad_buffer(self, shape, dtype):
        """Tiled windows cover every cell exactly once (written, not added); others may overlap or skip."""
        return np.empty(shape, dtype) if self.geometry[-1] else np.zeros(shape, dtype)

    def _unpad(self, dxp):
        """The gradient of the (cropped, padded) view back on the input's own cells."""
        x_shape, padded_shape, ((top, _), (left, _)), _, _, _, _ = self.geometry
        if dxp.shape != padded_shape:  # the tiled path cropped what "valid" leaves over: no gradient there
            full = np.zeros(padded_shape, dtype=dxp.dtype)
            full[:, :dxp.shape[1], :dxp.shape[2]] = dxp
            dxp = full
        return dxp[:, top:top + x_shape[1], left:left + x_shape[2]]

    def _padded(self, u):
        """``u`` (the input's shape) zero-padded and cropped as the forward padded and cropped x."""
        x_shape, _, pads, pool, _, (ho, wo), tiles = self.geometry
        up = np.pad(u, ((0, 0), *pads, (0, 0)))
        return up[:, :ho * pool[0], :wo * pool[1]] if tiles else up

    def graph_backward(self, g):
        # the gradient is linear in g (the windows and the argmax are fixed): its adjoint,
        # the next order's backward, reads the windows of u as the forward read x
        return linear_backward(self, g, frozen(self).adjoint)


class MaxPool2D(_Pool2D):
    """Forward keeps, for each window, which of its cells held the maximum (the first one,
    row-major, as PyTorch picks): backward then reads that small index array and the
    gradient, never the input again."""

    function_name = "max_pool2d"

    def forward(self, x, pool=(2, 2), strides=(2, 2), padding="valid"):
        xp = self._setup(x, pool, strides, padding, fill=-np.inf)
        _, _, pads, _, _, (ho, wo), _ = self.geometry
        index_dtype = np.min_scalar_type(pool[0] * pool[1] - 1)
        self.padded_shape = xp.shape
        # windows tiling an unpadded float input: one compiled pass (pool_compiled), same bits
        self.compiled = pool_compiled.usable(x, pool, strides, pads)
        if self.compiled:
            out, argmax = pool_compiled.max_forward(x, pool, (ho, wo), index_dtype)
            self.save_for_backward(argmax, out)
            return out
        out = np.empty((xp.shape[0], ho, wo, xp.shape[3]), xp.dtype)
        argmax = np.empty(out.shape, index_dtype)

        def run(batch):
            cells, o, first = self._cells(xp[batch]), out[batch], argmax[batch]
            if len(cells) > 1 and first.itemsize == 1:
                # the first two cells in two passes: the index is the comparison itself (a bool is
                # one byte, 0 or 1), the maximum written straight into the output (the scan below
                # makes the same from a copy of the first cell and a zeroed index, in five)
                np.greater(cells[1], cells[0], out=first.view(np.bool_))
                np.maximum(cells[0], cells[1], out=o)
                start = 2
            else:
                np.copyto(o, cells[0])
                first.fill(0)
                start = 1
            above, candidate = np.empty(o.shape, dtype=bool), np.empty_like(first)
            for k, cell in enumerate(cells[start:], start=start):
                np.greater(cell, o, out=above)  # strictly: a tie keeps the earlier cell
                np.maximum(o, cell, out=o)
                # first = k where above: k exceeds every earlier index, so a maximum does it
                # (many times faster than copyto with where=)
                np.multiply(above.view(np.uint8), first.dtype.type(k), out=candidate, casting="unsafe")
                np.maximum(first, candidate, out=first)

        for_batch_halves(run, xp.shape[0], xp.size)
        # the output too, for the relu mask of a convolution that feeds this pool (_relu_producer)
        self.save_for_backward(argmax, out)
        return out

    def _relu_producer(self):
        """The fused-relu convolution (``Conv2DReLU``) whose output this pool read, when the windows
        tile it; else None.

        Its backward masks its whole output's gradient with ``y > 0``. Of the gradient a tiling
        max pool sends back, only each window's argmax cell is not a zero, and there ``y`` is the
        window's maximum, the pool's output: so the mask can be applied to the pool's gradient,
        a quarter of the size for 2x2 windows, as ``g * (out > 0)``, before it is scattered. Every
        cell then gets the same bits as the convolution's mask would give it (a product by 1 is
        exact, and a zero keeps the sign of the pool's gradient either way); the convolution skips
        its own mask when that array is exactly the gradient it receives (no other consumer added
        to it). Not where a window's maximum is NaN (``out > 0`` is then false, ``y > 0`` of the
        argmax cell need not be): those halves are left to the convolution's mask. Nor when the
        convolution's output is itself a captured source of the backward (its gradient is
        wanted as such: ``Function.output_watched``)."""
        if type(self) is not MaxPool2D or not self.geometry[-1] or len(self.saved) < 2:
            return None
        producer = self.inputs[0]._ctx if self.inputs else None
        if type(producer) is not Conv2DReLU or producer.released or producer.output_watched:
            return None  # (a captured conv output must get its own gradient, unmasked: Grad-CAM)
        return producer

    def backward(self, g):
        argmax, tiles = self.saved[0], self.geometry[-1]
        x_shape, padded_shape, ((top, _), (left, _)), (ph, pw), _, (ho, wo), _ = self.geometry
        producer = self._relu_producer()
        if getattr(self, "compiled", False):
            done = pool_compiled.max_backward(g, argmax, self.saved[1] if len(self.saved) > 1 else None,
                                              x_shape, (ph, pw), producer is not None)
            if done is not None:
                dx, masked = done
                if masked:
                    producer.relu_masked_grad = dx  # the convolution's backward skips its mask for this array
                return (dx,)
        if tiles and self.padded_shape != padded_shape:
            # windows that tile a crop of the input ("valid" leaves the last rows or columns over):
            # the gradient is written straight into the full-size buffer, whose left-over cells
            # each half zeroes itself (a zeroed full buffer and a copy of the crop into it were
            # two more passes, in this thread alone)
            full = np.empty(padded_shape, g.dtype)
            dxp = full[:, :ho * ph, :wo * pw]
        else:
            full = None
            dxp = self._grad_buffer(self.padded_shape, g.dtype)

        if producer is not None:
            out, masked, positive = self.saved[1], workspace.empty(g.shape, g.dtype), workspace.empty(g.shape, bool)
        nan_seen = []

        def run(batch):
            first, gb = argmax[batch], g[batch]
            if producer is not None:  # the convolution's relu mask, on the pooled gradient
                if np.isnan(np.max(out[batch])):
                    nan_seen.append(True)
                else:
                    np.greater(out[batch], 0, out=positive[batch])
                    gb = np.multiply(gb, positive[batch], out=masked[batch])
            here = np.empty(first.shape, dtype=bool)
            if full is not None:
                full[batch, ho * ph:] = 0
                full[batch, :ho * ph, wo * pw:] = 0
            for k, dx_cell in enumerate(self._cells(dxp[batch])):
                np.equal(first, k, out=here)
                if tiles:
                    np.multiply(gb, here, out=dx_cell)
                else:
                    dx_cell += gb * here

        for_batch_halves(run, dxp.shape[0], dxp.size)
        dx = full[:, top:top + x_shape[1], left:left + x_shape[2]] if full is not None else self._unpad(dxp)
        if producer is not None and not nan_seen:
            producer.relu_masked_grad = dx  # the convolution's backward skips its mask for this array
        return (dx,)

    def adjoint(self, u):
        """u (the input's shape) -> the output's shape: each window's cell that held the maximum."""
        argmax = self.saved[0]
        out = np.zeros(argmax.shape, u.dtype)
        for k, cell in enumerate(self._cells(self._padded(u))):
            out += cell * (argmax == k)
        return out


class AvgPool2D(_Pool2D):
    function_name = "avg_pool2d"

    def forward(self, x, pool=(2, 2), strides=(2, 2), padding="valid"):
        xp = self._setup(x, pool, strides, padding, fill=0)
        cells = self._cells(xp)
        total = cells[0].copy()
        for cell in cells[1:]:
            np.add(total, cell, out=total)
        self.xp_shape = xp.shape
        scale = self._inverse_counts(x.shape, x.dtype)
        self.save_for_backward(scale)
        return np.multiply(total, scale, out=total)

    def _inverse_counts(self, x_shape, dtype):
        """1 / (real cells in each window), shape (Ho, Wo, 1): padded cells are not counted."""
        _, _, pads, pool, strides, out_hw, _ = self.geometry
        counts = []
        for length, (before, _), p, s, o in zip(x_shape[1:3], pads, pool, strides, out_hw):
            start = np.arange(o) * s - before
            counts.append(np.minimum(start + p, length) - np.maximum(start, 0))
        return (1.0 / np.outer(*counts)).astype(dtype)[:, :, None]

    def backward(self, g):
        # out = (1/count) sum_window x  =>  dx = sum over the windows holding x of g / count
        gs = g * self.saved[0]
        dxp = self._grad_buffer(self.xp_shape, g.dtype)
        for dx_cell in self._cells(dxp):
            if self.geometry[-1]:
                dx_cell[...] = gs
            else:
                dx_cell += gs
        return (self._unpad(dxp),)

    def adjoint(self, u):
        """u (the input's shape) -> the output's shape: the forward's window means of u."""
        cells = self._cells(self._padded(u))
        return sum(cells[1:], cells[0].copy()) * self.saved[0]


def _pool_args(pool_size, strides, padding, op):
    pool = _pair(pool_size, "pool_size", op)
    strides = pool if strides is None else _pair(strides, "strides", op)
    if not isinstance(padding, str):
        raise ValueError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    return dict(pool=pool, strides=strides, padding=padding.lower())


def _single(value, name, op):
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{op}: {name} must be an int or a 1-tuple, got {value}")
        value = value[0]
    return value


def _pool1d_args(pool_size, strides, padding, op):
    pool = _single(pool_size, "pool_size", op)
    strides = pool if strides is None else _single(strides, "strides", op)
    return _pool_args((1, pool), (1, strides), padding, op)


class MaxPool1D(MaxPool2D):
    function_name = "max_pool1d"

    def forward(self, x, **attrs):
        if x.ndim != 3:
            raise ValueError(f"{self.function_name}: expected x of rank 3 (batch, steps, channels), "
                             f"got shape {x.shape}")
        return super().forward(x[:, None], **attrs)[:, 0]

    def backward(self, g):
        return (super().backward(g[:, None])[0][:, 0],)

    def adjoint(self, u):
        return super().adjoint(u[:, None])[:, 0]


class AvgPool1D(AvgPool2D):
    function_name = "avg_pool1d"

    def forward(self, x, **attrs):
        if x.ndim != 3:
            raise ValueError(f"{self.function_name}: expected x of rank 3 (batch, steps, channels), "
                             f"got shape {x.shape}")
        return super().forward(x[:, None], **attrs)[:, 0]

    def backward(self, g):
        return (super().backward(g[:, None])[0][:, 0],)

    def adjoint(self, u):
        return super().adjoint(u[:, None])[:, 0]


def max_pool2d(x, pool_size=(2, 2), strides=None, padding="valid"):
    """Maximum over each window of (N, H, W, C)."""
    return MaxPool2D.apply(x, **_pool_args(pool_size, strides, padding, "max_pool2d"))


def avg_pool2d(x, pool_size=(2, 2), strides=None, padding="valid"):
    """Mean over each window of (N, H, W, C), padded cells excluded."""
    return AvgPool2D.apply(x, **_pool_args(pool_size, strides, padding, "avg_pool2d"))


def max_pool1d(x, pool_size=2, strides=None, padding="valid"):
    """Maximum over each window of (N, T, C)."""
    return MaxPool1D.apply(x, **_pool1d_args(pool_size, strides, padding, "max_pool1d"))


def avg_pool1d(x, pool_size=2, strides=None, padding="valid"):
    """Mean over each window of (N, T, C), padded cells excluded."""
    return AvgPool1D.apply(x, **_pool1d_args(pool_size, strides, padding, "avg_pool1d"))
