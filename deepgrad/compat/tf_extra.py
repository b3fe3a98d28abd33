"""More of the TensorFlow names Keras programs call through ``tf.``: array and control-flow
functions (``tf.repeat``, ``tf.sequence_mask``, ``tf.cond``, ``tf.map_fn``, ...), the rest of
``tf.math``/``tf.nn``/``tf.linalg`` that such programs use (``band_part`` for causal masks,
``divide_no_nan``, ``unsorted_segment_sum``, ``compute_average_loss``, ...), ``tf.distribute``'s
single-replica default strategy, and the logging switches (``tf.get_logger``,
``tf.compat.v1.logging``, ``tf.autograph.set_verbosity``).

Each keeps TensorFlow's argument names and semantics (``name=`` is accepted and ignored) and
computes with deepgrad's ops, so gradients flow where TensorFlow's do. The namespaces of
``tf_namespaces`` gain their extra members here (``math``, ``nn``, ``linalg``).
"""
from __future__ import annotations

import builtins
import contextlib
import logging
from collections import namedtuple
from types import SimpleNamespace

import numpy as np

from .. import ops
from ..autograd import Tensor
from .tf_namespaces import cumsum, linalg, math, nn


def _array(x) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def _int_tensor(a, dtype=np.int32) -> Tensor:
    return Tensor(np.asarray(a, dtype=dtype), dtype=np.dtype(dtype))


# ----------------------------------------------------------------- arrays
def repeat(input, repeats, axis=None, name=None):
    """``np.repeat``'s rule, as TF's: ``axis=None`` repeats the flattened input."""
    counts = _array(repeats)
    if counts.ndim and counts.size == 1:
        counts = counts.reshape(())
    if axis is None:
        input, axis = ops.reshape(input, (-1,)), 0
    return ops.repeat(input, int(counts) if counts.ndim == 0 else counts.tolist(), axis=axis)


def sequence_mask(lengths, maxlen=None, dtype=np.bool_, name=None):
    """``mask[..., j] = j < lengths[...]`` over ``maxlen`` (default: the largest length)."""
    lengths = _array(lengths)
    maxlen = int(lengths.max()) if maxlen is None else int(_array(maxlen))
    mask = np.arange(maxlen) < lengths[..., None]
    return Tensor(mask.astype(np.dtype(dtype)), dtype=np.dtype(dtype))


def broadcast_to(input, shape, name=None):
    return ops.broadcast_to(input, tuple(int(s) for s in _array(shape).reshape(-1)))


def meshgrid(*args, indexing="xy", name=None):
    return list(ops.meshgrid(*args, indexing=indexing))


def slice(input_, begin, size, name=None):  # noqa: A001 - TensorFlow's name
    """``input_[begin[i] : begin[i] + size[i]]`` on each axis; a size of -1 runs to the end."""
    begin, size = _array(begin).reshape(-1).tolist(), _array(size).reshape(-1).tolist()
    index = tuple(builtins.slice(b, None if s == -1 else b + s) for b, s in zip(begin, size))
    return ops.getitem(input_, index)


def scatter_nd(indices, updates, shape, name=None):
    """A zeros tensor of ``shape`` with ``updates`` added at ``indices`` (duplicates add up)."""
    return ops.scatter(indices, updates, tuple(int(s) for s in _array(shape).reshape(-1)))


def tensor_scatter_nd_update(tensor, indices, updates, name=None):
    return ops.scatter_update(tensor, indices, updates)


def tensor_scatter_nd_add(tensor, indices, updates, name=None):
    return ops.add(tensor, ops.scatter(indices, updates, tuple(_array(tensor).shape)))


UniqueOutput = namedtuple("UniqueOutput", ["y", "idx"])
UniqueWithCounts = namedtuple("UniqueWithCounts", ["y", "idx", "count"])


def _unique(x, name):
    """The distinct values of a 1-D ``x`` in the order they first appear (TF's order, not sorted),
    each element's position among them, and how often each appears."""
    a = _array(x)
    if not isinstance(x, (Tensor, np.ndarray)) and a.dtype.kind in "fi":  # Python numbers: TF's float32 / int32
        a = a.astype(np.float32 if a.dtype.kind == "f" else np.int32)
    if a.ndim != 1:
        raise ValueError(f"tf.{name}: expects a 1-D tensor, got shape {a.shape}")
    values, first, inverse, counts = np.unique(a, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    y = values[order]
    # strings stay NumPy arrays, as every string tensor here
    y = y if a.dtype.kind in "USO" else Tensor(y, dtype=a.dtype)
    return y, rank[inverse.reshape(-1)], counts[order]


def unique(x, out_idx=np.int32, name=None):
    """``UniqueOutput(y, idx)``: the distinct values in the order they first appear, and each
    element's position in ``y`` (``y[idx] == x``)."""
    y, idx, _ = _unique(x, "unique")
    return UniqueOutput(y, _int_tensor(idx, out_idx))


def unique_with_counts(x, out_idx=np.int32, name=None):
    """``UniqueWithCounts(y, idx, count)``: ``unique``'s two and how many times each value appears."""
    y, idx, count = _unique(x, "unique_with_counts")
    return UniqueWithCounts(y, _int_tensor(idx, out_idx), _int_tensor(count, out_idx))


def searchsorted(sorted_sequence, values, side="left", out_type=np.int32, name=None):
    """Per row of the last axis, where ``values`` would go in ``sorted_sequence``."""
    seq, vals = _array(sorted_sequence), _array(values)
    if side not in ("left", "right"):
        raise ValueError(f"tf.searchsorted: side must be 'left' or 'right', got {side!r}")
    if seq.ndim == 1:
        return _int_tensor(np.searchsorted(seq, vals, side=side), out_type)
    rows = [np.searchsorted(s, v, side=side) for s, v in zip(seq.reshape(-1, seq.shape[-1]),
                                                              vals.reshape(-1, vals.shape[-1]))]
    return _int_tensor(np.stack(rows).reshape(vals.shape), out_type)


# ----------------------------------------------------------------- control flow (eager)
def cond(pred, true_fn=None, false_fn=None, name=None):
    """The branch ``pred`` picks, called now (programs here run eagerly)."""
    return true_fn() if bool(_array(pred)) else false_fn()


def _as_list(structure):
    return list(structure) if isinstance(structure, (list, tuple)) else [structure]


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10, back_prop=True,
               swap_memory=False, maximum_iterations=None, name=None):
    """Calls ``body`` while ``cond`` holds; returns the final loop variables in the structure given."""
    values = loop_vars
    steps = 0
    while bool(_array(cond(*_as_list(values)))):
        if maximum_iterations is not None and steps >= int(maximum_iterations):
            break
        out = body(*_as_list(values))
        values = type(loop_vars)(_as_list(out)) if isinstance(loop_vars, (list, tuple)) else out
        steps += 1
    return values


def map_fn(fn, elems, dtype=None, parallel_iterations=None, back_prop=True, swap_memory=False, infer_shape=True,
           name=None, fn_output_signature=None):
    """``fn`` on each slice of ``elems`` along axis 0 (a tuple or list of tensors slices together),
    the results stacked; a tuple of results gives a tuple of stacked tensors."""
    several = isinstance(elems, (list, tuple))
    parts = list(elems) if several else [elems]
    count = int(np.shape(_array(parts[0]))[0])
    results = []
    for i in range(count):
        item = type(elems)(ops.getitem(p, i) for p in parts) if several else ops.getitem(parts[0], i)
        results.append(fn(item))
    if results and isinstance(results[0], (list, tuple)):
        return type(results[0])(ops.stack([r[k] for r in results]) for k in range(len(results[0])))
    return ops.stack(results)


def vectorized_map(fn, elems, fallback_to_while_loop=True, warn=True):
    return map_fn(fn, elems)


# ----------------------------------------------------------------- tf.math, tf.nn, tf.linalg
def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    if reverse:
        x = ops.flip(x, axis)
    out = ops.cumprod(x, axis=axis)
    if exclusive:  # shift by one along the axis, a 1 first
        n = np.shape(_array(x))[axis]
        ones = ops.ones_like(ops.take(x, [0], axis=axis))
        out = ops.concatenate([ones, ops.take(out, list(range(n - 1)), axis=axis)], axis=axis)
    return ops.flip(out, axis) if reverse else out


def divide_no_nan(x, y, name=None):
    """``x / y``, and 0 where ``y`` is 0 (with a zero gradient there)."""
    zero = ops.equal(y, 0)
    return ops.where(zero, ops.zeros_like(ops.divide(x, 1.0)), ops.divide(x, ops.where(zero, 1.0, y)))


def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    return ops.segment_sum(data, segment_ids, num_segments=int(_array(num_segments)))


def segment_sum(data, segment_ids, name=None):
    ids = _array(segment_ids)
    return ops.segment_sum(data, segment_ids, num_segments=int(ids.max()) + 1 if ids.size else 0, sorted=True)


def unsorted_segment_mean(data, segment_ids, num_segments, name=None):
    """The mean of the rows of ``data`` sharing a segment id: their sum over their count (0 for an
    empty segment; negative ids are dropped), as TF's."""
    n = int(_array(num_segments))
    ids = _array(segment_ids).reshape(-1).astype(np.int64)
    counts = np.bincount(ids[(ids >= 0) & (ids < n)], minlength=n).astype(np.float64)
    total = ops.segment_sum(data, segment_ids, num_segments=n)
    scale = (1.0 / np.maximum(counts, 1.0)).reshape((n,) + (1,) * (len(total.shape) - 1))
    return ops.multiply(total, scale.astype(np.dtype(total.dtype)))


def unsorted_segment_max(data, segment_ids, num_segments, name=None):
    return ops.segment_max(data, segment_ids, num_segments=int(_array(num_segments)))


def bincount(arr, weights=None, minlength=None, maxlength=None, dtype=np.int32, name=None, axis=None,
             binary_output=False):
    a = _array(arr).reshape(-1)
    w = None if weights is None else _array(weights).reshape(-1)
    counts = np.bincount(a, weights=w, minlength=0 if minlength is None else int(minlength))
    if maxlength is not None:
        counts = counts[:int(maxlength)]
    if binary_output:
        counts = counts > 0
    out_dtype = np.dtype(dtype) if w is None else w.dtype
    return Tensor(counts.astype(out_dtype), dtype=out_dtype)


def confusion_matrix(labels, predictions, num_classes=None, weights=None, dtype=np.int32, name=None):
    """``m[i, j]``: how many (or what weight of) samples of label i were predicted j."""
    labels, predictions = _array(labels).reshape(-1).astype(np.int64), _array(predictions).reshape(-1).astype(np.int64)
    n = int(max(labels.max(initial=-1), predictions.max(initial=-1)) + 1) if num_classes is None else int(num_classes)
    m = np.zeros((n, n), np.float64)
    np.add.at(m, (labels, predictions), 1.0 if weights is None else _array(weights).reshape(-1))
    return Tensor(m.astype(np.dtype(dtype)), dtype=np.dtype(dtype))


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None):
    return ops.sqrt(ops.sum(ops.square(input_tensor), axis=axis, keepdims=keepdims))


def band_part(input, num_lower, num_upper, name=None):
    """Keeps the band ``-num_lower <= j - i <= num_upper`` of the last two axes (a negative count:
    the whole triangle), zeros elsewhere: ``band_part(ones, -1, 0)`` is a causal mask."""
    rows, cols = np.shape(_array(input))[-2:]
    i, j = np.arange(rows)[:, None], np.arange(cols)[None, :]
    lower, upper = int(_array(num_lower)), int(_array(num_upper))
    keep = ((lower < 0) | (i - j <= lower)) & ((upper < 0) | (j - i <= upper))
    return ops.where(keep, input, ops.zeros_like(input))


def compute_average_loss(per_example_loss, sample_weight=None, global_batch_size=None):
    """The loss summed over the examples and divided by the global batch size (one replica: the
    batch size), as ``tf.nn.compute_average_loss``."""
    loss = per_example_loss if sample_weight is None else ops.multiply(per_example_loss, sample_weight)
    size = np.shape(_array(per_example_loss))[0] if global_batch_size is None else int(global_batch_size)
    return ops.divide(ops.sum(loss), float(size))


def weighted_cross_entropy_with_logits(labels, logits, pos_weight, name=None):
    """``labels * -log(sigmoid(logits)) * pos_weight + (1 - labels) * -log(1 - sigmoid(logits))``,
    in TF's stable form ``(1 - z) x + (1 + (q - 1) z) (log(1 + exp(-|x|)) + max(-x, 0))``."""
    log_weight = ops.add(1.0, ops.multiply(ops.subtract(pos_weight, 1.0), labels))
    stable = ops.add(ops.log1p(ops.exp(ops.negative(ops.abs(logits)))), ops.relu(ops.negative(logits)))
    return ops.add(ops.multiply(ops.subtract(1.0, labels), logits), ops.multiply(log_weight, stable))


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """``scale (x - mean) / sqrt(variance + eps) + offset`` (``offset``/``scale`` may be None)."""
    inv = ops.rsqrt(ops.add(variance, variance_epsilon))
    if scale is not None:
        inv = ops.multiply(inv, scale)
    out = ops.multiply(ops.subtract(x, mean), inv)
    return out if offset is None else ops.add(out, offset)


def _unary(op):
    return lambda x, name=None: op(x)


for _name, _value in dict(
        cumprod=cumprod, divide_no_nan=divide_no_nan, unsorted_segment_sum=unsorted_segment_sum,
        segment_sum=segment_sum, unsorted_segment_max=unsorted_segment_max, bincount=bincount,
        unsorted_segment_mean=unsorted_segment_mean,
        confusion_matrix=confusion_matrix, reduce_euclidean_norm=reduce_euclidean_norm,
        log_sigmoid=_unary(ops.log_sigmoid), sinh=_unary(ops.sinh), cosh=_unary(ops.cosh),
        asin=_unary(ops.arcsin), acos=_unary(ops.arccos), atan=_unary(ops.arctan),
        atan2=lambda y, x, name=None: ops.arctan2(y, x), softmax=nn.softmax, log_softmax=nn.log_softmax,
        mod=math.floormod).items():
    if not hasattr(math, _name):
        setattr(math, _name, _value)
for _name, _value in dict(compute_average_loss=compute_average_loss,
                          weighted_cross_entropy_with_logits=weighted_cross_entropy_with_logits,
                          batch_normalization=batch_normalization).items():
    if not hasattr(nn, _name):
        setattr(nn, _name, _value)
if not hasattr(linalg, "band_part"):
    linalg.band_part = band_part
del _name, _value


# ----------------------------------------------------------------- tf.distribute: one replica
class _ReplicaContext:
    num_replicas_in_sync = 1
    replica_id_in_sync_group = 0


class Strategy:
    """TensorFlow's default strategy: one replica on this machine. ``scope()`` is an empty context,
    ``run(fn, args)`` calls ``fn``, ``reduce`` returns the value (or its sum/mean over ``axis``);
    datasets pass through. Data-parallel training over processes is ``deepgrad.distribution`` /
    ``deepgrad.distributed``."""

    num_replicas_in_sync = 1

    def __init__(self, devices=None, cross_device_ops=None, *args, **kwargs):
        self.extended = SimpleNamespace(worker_devices=("/cpu:0",))

    def scope(self):
        return contextlib.nullcontext(self)

    def run(self, fn, args=(), kwargs=None, options=None):
        return fn(*args, **(kwargs or {}))

    def reduce(self, reduce_op, value, axis=None):
        if axis is None:
            return value
        op = str(getattr(reduce_op, "value", reduce_op)).upper()
        return ops.mean(value, axis=axis) if op.endswith("MEAN") else ops.sum(value, axis=axis)

    def experimental_distribute_dataset(self, dataset, options=None):
        return dataset

    def distribute_datasets_from_function(self, dataset_fn, options=None):
        return dataset_fn(SimpleNamespace(num_input_pipelines=1, input_pipeline_id=0,
                                          get_per_replica_batch_size=lambda global_batch_size: global_batch_size))

    def experimental_local_results(self, value):
        return (value,)


class TPUClusterResolver:
    """TF's resolver finds no TPU here: without a ``tpu`` name it raises ValueError, as TF does on a
    machine without one, so a program's ``try: ... except ValueError:`` falls back to its CPU strategy."""

    def __init__(self, tpu=None, zone=None, project=None, job_name="worker", coordinator_name=None,
                 coordinator_address=None, credentials="default", service=None, discovery_url=None):
        if not tpu:
            raise ValueError("Please provide a TPU Name to connect to.")
        raise ValueError(f"TPUClusterResolver: deepgrad runs on the CPU; no TPU {tpu!r} can be reached")

    @staticmethod
    def connect(tpu=None, zone=None, project=None):
        """TF's resolve-connect-initialize in one call: ValueError here, as without a TPU."""
        return TPUClusterResolver(tpu, zone, project)


def _no_tpu(*args, **kwargs):
    raise ValueError("deepgrad runs on the CPU: there is no TPU to connect to or initialize")


tpu = SimpleNamespace(experimental=SimpleNamespace(initialize_tpu_system=_no_tpu, shutdown_tpu_system=_no_tpu))

distribute = SimpleNamespace(
    cluster_resolver=SimpleNamespace(TPUClusterResolver=TPUClusterResolver),
    TPUStrategy=_no_tpu, experimental=SimpleNamespace(TPUStrategy=_no_tpu, CentralStorageStrategy=Strategy,
                                                      MultiWorkerMirroredStrategy=Strategy),
    MultiWorkerMirroredStrategy=Strategy,
    Strategy=Strategy, MirroredStrategy=Strategy, OneDeviceStrategy=Strategy, get_strategy=lambda: Strategy(),
    has_strategy=lambda: False, get_replica_context=lambda: _ReplicaContext(),
    ReduceOp=SimpleNamespace(SUM="SUM", MEAN="MEAN"),
)


# ----------------------------------------------------------------- logging switches
def get_logger() -> logging.Logger:
    return logging.getLogger("tensorflow")


_v1_logging = SimpleNamespace(DEBUG=logging.DEBUG, INFO=logging.INFO, WARN=logging.WARNING,
                              WARNING=logging.WARNING, ERROR=logging.ERROR, FATAL=logging.FATAL,
                              set_verbosity=lambda level: get_logger().setLevel(level),
                              get_verbosity=lambda: get_logger().level)
def as_bytes(bytes_or_text, encoding="utf-8") -> bytes:
    """``tf.compat.as_bytes``: text encoded (``encoding``), bytes as they are."""
    if isinstance(bytes_or_text, (bytes, bytearray)):
        return bytes(bytes_or_text)
    if isinstance(bytes_or_text, str):
        return bytes_or_text.encode(encoding)
    raise TypeError(f"tf.compat.as_bytes: expected bytes or str, got {type(bytes_or_text).__name__}")


def as_text(bytes_or_text, encoding="utf-8") -> str:
    """``tf.compat.as_str``/``as_text``: bytes decoded (``encoding``), text as it is."""
    if isinstance(bytes_or_text, str):
        return bytes_or_text
    if isinstance(bytes_or_text, (bytes, bytearray)):
        return bytes(bytes_or_text).decode(encoding)
    raise TypeError(f"tf.compat.as_text: expected bytes or str, got {type(bytes_or_text).__name__}")


compat = SimpleNamespace(v1=SimpleNamespace(logging=_v1_logging), as_bytes=as_bytes, as_text=as_text, as_str=as_text,
                         as_str_any=lambda value, encoding="utf-8": as_text(value, encoding) if isinstance(
                             value, (bytes, bytearray)) else str(value))
autograph = SimpleNamespace(set_verbosity=lambda level, alsologtostdout=False: None,
                            experimental=SimpleNamespace(
                          do_not_convert=lambda func=None: func if func is not None else (lambda f: f)))

__all__ = ["TPUClusterResolver", "tpu", "autograph", "broadcast_to", "compat", "cond", "cumsum", "distribute", "get_logger", "map_fn",
           "meshgrid", "repeat", "scatter_nd", "searchsorted", "sequence_mask", "slice", "tensor_scatter_nd_add",
           "tensor_scatter_nd_update", "unique", "unique_with_counts", "vectorized_map", "while_loop"]
