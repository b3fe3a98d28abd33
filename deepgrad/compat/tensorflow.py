"""The TensorFlow names that Keras programs reach through ``tf.``, mapped onto deepgrad.

``from deepgrad.compat import tensorflow as tf`` replaces ``import tensorflow as tf``:
``tf.keras`` is deepgrad itself, ``tf.data.Dataset`` builds input pipelines on NumPy, and the
low-level names a hand-written training loop uses (``tf.constant``, ``tf.Variable``,
``tf.random.normal``, ``tf.matmul``, ``tf.reduce_mean``, ``tf.one_hot``, ``tf.GradientTape``,
``tf.function``, ``tf.nn``, ``tf.math``, ``tf.linalg``) are deepgrad's tensors and ops of the
same meaning, with TF's argument names (``name=`` is accepted and ignored). Only what such
programs use is here; this is not an implementation of TensorFlow. ``tf.shape(x)`` is a tuple
of ints, which indexes and passes on as TF's shape tensor does in these programs.
"""
from __future__ import annotations

import builtins
import re
import contextlib
from types import SimpleNamespace

import numpy as np

import deepgrad as keras
from .. import backend, ops, tree
from ..autograd import Tensor
from ..autograd import Variable as _Variable
from . import tf_data as data  # noqa: F401 - tf.data
from . import tf_summary as summary  # noqa: F401 - tf.summary
from .gradient_tape import GradientTape  # noqa: F401 - tf.GradientTape
from .tf_data import TensorSpec  # noqa: F401 - tf.TensorSpec
from .tf_extra import (tpu, autograph, broadcast_to, compat, cond, distribute, get_logger, map_fn,  # noqa: F401
                       meshgrid, repeat, scatter_nd, searchsorted, sequence_mask, slice, tensor_scatter_nd_add,
                       tensor_scatter_nd_update, unique, unique_with_counts, vectorized_map, while_loop)
from .tf_sparse import SparseTensor, ctc_loss_v1, scan, sparse  # noqa: F401 - tf.SparseTensor, tf.sparse
from .tf_io import decode_image, decode_jpeg, decode_png  # noqa: F401
from .tf_io import io as _image_io
from .tf_tensor_array import TensorArray, errors  # noqa: F401 - tf.TensorArray, tf.errors
from .tf_checkpoint import latest_checkpoint
from . import tf_example as _example, tf_record as _record
from .tf_signal import audio, complex, signal  # noqa: F401 - tf.audio, tf.complex, tf.signal
from .tf_lookup import lookup  # noqa: F401 - tf.lookup
from .tf_namespaces import (argmax, argmin, count_nonzero, cumsum, image, linalg, math, nn, random,  # noqa: F401
                            reduce_all, reduce_any, reduce_logsumexp, reduce_max, reduce_mean, reduce_min,
                            reduce_prod, reduce_std, reduce_sum, reduce_variance)

# the TensorFlow release whose names this module follows (the first to ship Keras 3), for programs
# that print or compare ``tf.__version__``
__version__ = "2.16.0"

float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64, uint8 = np.int8, np.int16, np.int32, np.int64, np.uint8
bool_, string = np.bool_, np.str_
complex64, complex128 = np.complex64, np.complex128
newaxis = None
Tensor = Tensor
dtypes = SimpleNamespace(float16=float16, float32=float32, float64=float64, int8=int8, int16=int16, int32=int32,
                         int64=int64, uint8=uint8, bool=np.bool_, string=string, as_dtype=np.dtype)

# Elementwise ops keep their names.
abs, exp, log, sqrt, square = math.abs, math.exp, math.log, math.sqrt, math.square
tanh, sigmoid, sign, floor, round = math.tanh, math.sigmoid, math.sign, math.floor, math.round
add, subtract, multiply, divide, truediv, pow = math.add, math.subtract, math.multiply, math.divide, \
    math.truediv, math.pow
maximum, minimum, negative = math.maximum, math.minimum, math.negative
equal, not_equal, greater, greater_equal, less, less_equal = math.equal, math.not_equal, math.greater, \
    math.greater_equal, math.less, math.less_equal
logical_and, logical_or, logical_not = math.logical_and, math.logical_or, math.logical_not
einsum, tensordot, norm, eye = linalg.einsum, linalg.tensordot, linalg.norm, linalg.eye
image.decode_png, image.decode_jpeg, image.decode_image = decode_png, decode_jpeg, decode_image
# TF 2's top-level aliases of tf.math's trigonometry and integer division
sin, cos, tan, ceil, floordiv, floormod = math.sin, math.cos, math.tan, math.ceil, math.floordiv, math.floormod
asin, acos, atan = ops.arcsin, ops.arccos, ops.arctan
sinh, cosh = ops.sinh, ops.cosh


def function(func=None, input_signature=None, autograph=True, jit_compile=None, reduce_retracing=False,
             experimental_compile=None, **kwargs):
    """A no-op: ``@tf.function`` and ``@tf.function(...)`` give back the function (it runs eagerly)."""
    if func is None:
        return lambda f: f
    return func


# ----------------------------------------------------------------- making tensors
def _infer(value, dtype=None) -> np.ndarray:
    """TF's dtype rules: Python floats float32, Python ints int32, NumPy arrays keep theirs."""
    value = value.data if isinstance(value, Tensor) else value
    if dtype is not None:
        return np.array(value, dtype=np.dtype(dtype))
    a = np.array(value)
    if not isinstance(value, (np.ndarray, np.generic)) and a.dtype.kind in "fi":
        a = a.astype(np.float32 if a.dtype.kind == "f" else np.int32)
    return a


def constant(value, dtype=None, shape=None, name=None) -> Tensor:
    """A tensor that needs no gradient; ``shape`` broadcasts a scalar or reshapes a value."""
    a = _infer(value, dtype)
    if shape is not None:
        a = np.broadcast_to(a, shape).copy() if a.size == 1 else a.reshape(shape)
    if a.dtype.kind in "US":  # text stays a NumPy array: the preprocessing layers read it as it is
        return a
    return Tensor(a, dtype=a.dtype)


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None) -> Tensor:
    if isinstance(value, Tensor) and (dtype is None or np.dtype(dtype) == value.dtype):
        return value
    return constant(value, dtype if dtype is not None else (dtype_hint if not isinstance(value, Tensor) else None))


def Variable(initial_value, trainable: bool = True, name: str | None = None, dtype=None, **kwargs) -> _Variable:
    """A trainable variable; ``initial_value`` may be a tensor, an array, a number or a callable."""
    value = initial_value() if callable(initial_value) else initial_value
    value = value.data if isinstance(value, Tensor) else value
    return _Variable(np.array(value, dtype=np.dtype(dtype if dtype is not None else backend.floatx())),
                     trainable=trainable, name=name)


def zeros(shape, dtype=np.float32, name=None) -> Tensor:
    return Tensor(np.zeros(_dims(shape), dtype=np.dtype(dtype)), dtype=dtype)


def ones(shape, dtype=np.float32, name=None) -> Tensor:
    return Tensor(np.ones(_dims(shape), dtype=np.dtype(dtype)), dtype=dtype)


def zeros_like(input, dtype=None, name=None) -> Tensor:
    return ops.zeros_like(input, dtype=dtype)


def ones_like(input, dtype=None, name=None) -> Tensor:
    return ops.ones_like(input, dtype=dtype)


def fill(dims, value, name=None) -> Tensor:
    a = _infer(value)
    return Tensor(np.full(_dims(dims), a, dtype=a.dtype), dtype=a.dtype)


def range(start, limit=None, delta=1, dtype=None, name=None) -> Tensor:
    """``[start, limit)`` by ``delta``; int32 for integers, float32 if any bound is a float."""
    if limit is None:
        start, limit = 0, start
    if dtype is None:
        floating = builtins.any(isinstance(v, float) for v in (start, limit, delta))
        dtype = np.float32 if floating else np.int32
    return Tensor(np.arange(start, limit, delta, dtype=np.dtype(dtype)), dtype=dtype)


def linspace(start, stop, num, name=None, axis=0) -> Tensor:
    return ops.linspace(start, stop, num, axis=axis)


def identity(input, name=None) -> Tensor:
    return ops.multiply(input, 1) if isinstance(input, Tensor) and input.requires_grad else convert_to_tensor(input)


def _dims(shape) -> tuple:
    shape = shape.data if isinstance(shape, Tensor) else shape
    return (int(shape),) if np.ndim(shape) == 0 else tuple(int(d) for d in shape)


# ----------------------------------------------------------------- shapes
class _ShapeVector(tuple):
    """``tf.shape``'s result: a tuple of ints that also answers as TF's 1-D int32 shape tensor
    does (``tf.shape(x).shape[0]`` is the rank, ``.numpy()``, ``.dtype``)."""

    dtype = np.dtype(np.int32)

    @property
    def shape(self) -> tuple:
        return (len(self),)

    @property
    def ndim(self) -> int:
        return 1

    def numpy(self) -> np.ndarray:
        return np.array(self, dtype=np.int32)

    def __array__(self, dtype=None, copy=None):
        return np.array(tuple(self), dtype=dtype or np.int32)


def shape(input, out_type=None, name=None) -> tuple:
    """The shape as a tuple of ints (``tf.shape(x)[0]`` is the batch size)."""
    return _ShapeVector(np.shape(input.data if isinstance(input, Tensor) else input))


def size(input, out_type=np.int32, name=None) -> Tensor:
    return Tensor(np.array(np.size(input.data if isinstance(input, Tensor) else input), dtype=out_type),
                  dtype=out_type)


def rank(input, name=None) -> Tensor:
    return Tensor(np.array(np.ndim(input.data if isinstance(input, Tensor) else input), dtype=np.int32),
                  dtype=np.int32)


def cast(x, dtype, name=None) -> Tensor:
    """``x`` in ``dtype``; to ``tf.string`` only text, which stays as it is (TF casts no number to text)."""
    if (isinstance(dtype, str) and dtype == "string") or dtype in (np.str_, np.bytes_, object):
        if isinstance(x, np.ndarray) and x.dtype.kind in "OUS":
            return x
        kind = np.asarray(x.data if isinstance(x, Tensor) else x).dtype
        raise TypeError(f"tf.cast: casting {kind} to string is not supported (use tf.strings.as_string)")
    return ops.cast(x, np.dtype(dtype))


def reshape(tensor, shape, name=None) -> Tensor:
    return ops.reshape(tensor, _dims(shape))


def transpose(a, perm=None, conjugate=False, name=None) -> Tensor:
    return ops.transpose(a, perm)


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False, name=None, **kwargs):
    return linalg.matmul(a, b, transpose_a or adjoint_a, transpose_b or adjoint_b)


def expand_dims(input, axis, name=None) -> Tensor:
    if isinstance(input, np.ndarray) and input.dtype.kind in "OUS":  # strings stay an array (of the same class)
        return np.expand_dims(input, axis)
    return ops.expand_dims(input, axis)


def squeeze(input, axis=None, name=None) -> Tensor:
    return ops.squeeze(input, tuple(axis) if isinstance(axis, list) else axis)


def tile(input, multiples, name=None) -> Tensor:
    return ops.tile(input, _dims(multiples))


def _is_text(value) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind in "OUS"


def concat(values, axis, name=None) -> Tensor:
    if builtins.all(_is_text(v) for v in values):  # string tensors join as the arrays they are
        return np.concatenate(values, axis=axis)
    return ops.concatenate(values, axis=axis)


def stack(values, axis=0, name=None) -> Tensor:
    return ops.stack(values, axis=axis)


def unstack(value, num=None, axis=0, name=None) -> list:
    return ops.unstack(value, num=num, axis=axis)


def split(value, num_or_size_splits, axis=0, num=None, name=None) -> list:
    """Into ``n`` equal parts, or parts of the given sizes along ``axis`` (one size may be -1)."""
    if isinstance(num_or_size_splits, (int, np.integer)):
        return ops.split(value, int(num_or_size_splits), axis=axis)
    sizes = list(num_or_size_splits.data if isinstance(num_or_size_splits, Tensor) else num_or_size_splits)
    total = np.shape(value.data if isinstance(value, Tensor) else value)[axis]
    if -1 in sizes:
        sizes[sizes.index(-1)] = total - (builtins.sum(sizes) + 1)
    if builtins.sum(sizes) != total:
        raise ValueError(f"tf.split: sizes {list(num_or_size_splits)} do not add up to the {total} entries of axis "
                         f"{axis}")
    return ops.split(value, [int(i) for i in np.cumsum(sizes)[:-1]], axis=axis)


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None) -> Tensor:
    """``on_value`` (1) at each index, ``off_value`` (0) elsewhere; an index outside [0, depth) gives
    a row of ``off_value``."""
    dtype = np.dtype(dtype if dtype is not None else np.float32)
    out = ops.one_hot(indices, depth, axis=-1 if axis is None else axis, dtype=dtype.name)
    if on_value is not None or off_value is not None:
        on = 1 if on_value is None else on_value
        off = 0 if off_value is None else off_value
        out = ops.cast(ops.add(ops.multiply(out, on - off), off), dtype)
    return out


def where(condition, x=None, y=None, name=None):
    """``x`` where ``condition`` holds, else ``y``; with neither, the int64 coordinates ``(n, rank)``
    of the true entries."""
    if x is None and y is None:
        cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
        return Tensor(np.argwhere(cond).astype(np.int64), dtype=np.int64)
    return ops.where(condition, x, y)


def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None) -> Tensor:
    """Slices of ``params`` at ``indices`` along ``axis`` (the first axis after the batch ones by
    default). With ``batch_dims=b`` the first ``b`` axes of both are paired, as TF gathers each
    batch row with its own indices: the result has shape
    ``params.shape[:axis] + indices.shape[b:] + params.shape[axis + 1:]``."""
    index = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    b = batch_dims + index.ndim if batch_dims < 0 else batch_dims
    if not b:
        return ops.take(params, indices, axis=0 if axis is None else axis)
    params = convert_to_tensor(params)
    axis = b if axis is None else (axis + params.ndim if axis < 0 else axis)
    if not b <= axis < params.ndim or b > index.ndim or params.shape[:b] != index.shape[:b]:
        raise ValueError(f"tf.gather: batch_dims={batch_dims} and axis={axis} do not fit params of shape "
                         f"{tuple(params.shape)} and indices of shape {index.shape} (their first batch_dims "
                         "axes must match, and batch_dims <= axis)")
    batch = params.shape[:b]
    n = int(np.prod(batch))
    # one batch axis, the gathered axis next: p[row, idx] picks each row's own slices
    flat = ops.reshape(ops.moveaxis(params, axis, b),
                       (n, params.shape[axis]) + tuple(params.shape[b:axis]) + tuple(params.shape[axis + 1:]))
    idx = index.reshape((n,) + index.shape[b:]).astype(np.intp)
    rows = np.arange(n).reshape((n,) + (1,) * (idx.ndim - 1))
    out = flat[rows, idx]  # (n, *indices.shape[b:], *params.shape[b:axis], *params.shape[axis + 1:])
    k, m = idx.ndim - 1, axis - b  # gathered axes, and the axes between the batch and the gathered one
    order = (0, *builtins.range(1 + k, 1 + k + m), *builtins.range(1, 1 + k), *builtins.range(1 + k + m, out.ndim))
    out = ops.transpose(out, order)
    return ops.reshape(out, tuple(batch) + tuple(out.shape[1:]))


def gather_nd(params, indices, batch_dims=0, name=None) -> Tensor:
    """``params[indices[..., 0], indices[..., 1], ...]``: the last axis of ``indices`` indexes ``params``."""
    index = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    return convert_to_tensor(params)[tuple(np.moveaxis(index, -1, 0))]


def boolean_mask(tensor, mask, axis=None, name=None) -> Tensor:
    """The entries (or rows, for a mask of fewer dimensions) where ``mask`` is true."""
    keep = np.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool)
    start = 0 if axis is None else axis
    coords = np.nonzero(keep)
    return convert_to_tensor(tensor)[(builtins.slice(None),) * start + coords]


def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None) -> Tensor:
    mode = mode.lower()
    if mode not in ("constant", "reflect", "symmetric"):
        raise ValueError(f"tf.pad: mode must be 'CONSTANT', 'REFLECT' or 'SYMMETRIC', got {mode.upper()!r}")
    text = _string_items(tensor)
    if text is not None:
        # a string tensor pads with a string: TF's CONSTANT mode needs constant_values given as one
        widths = [tuple(int(v) for v in row) for row in np.asarray(paddings.numpy() if isinstance(paddings, Tensor)
                                                                  else paddings).tolist()]
        if mode != "constant":
            return np.pad(text, widths, mode=mode)
        if not isinstance(constant_values, (str, bytes, np.str_, np.bytes_)):
            raise TypeError(f"tf.pad: a string tensor pads with a string constant_values, got {constant_values!r}")
        if isinstance(constant_values, bytes) and text.dtype.kind == "U":
            constant_values = constant_values.decode("utf-8")
        out = np.pad(text.astype(object), widths, mode="constant", constant_values=constant_values)
        return out.astype(text.dtype.kind if text.dtype.kind != "O" else object)
    # TensorFlow ignores constant_values outside "CONSTANT"; Keras's ops.pad refuses it there
    return ops.pad(tensor, np.asarray(paddings).tolist(), mode=mode,
                   constant_values=constant_values if mode == "constant" else None)


def _string_items(value):
    """``value`` as an array when it holds strings (a str, an array of them, or a list of either),
    else None."""
    if isinstance(value, Tensor):
        return None
    if isinstance(value, (str, bytes)):
        return np.asarray(value)
    if isinstance(value, np.ndarray):
        return value if value.dtype.kind in "OUS" else None
    if isinstance(value, (list, tuple)):
        try:
            a = np.asarray([v.numpy() if isinstance(v, Tensor) else v for v in value])
        except ValueError:
            return None
        return a if a.dtype.kind in "OUS" else None
    return None


def reverse(tensor, axis, name=None) -> Tensor:
    return ops.flip(tensor, tuple(axis))


def roll(input, shift, axis, name=None) -> Tensor:
    return ops.roll(input, shift, axis)


def sort(values, axis=-1, direction="ASCENDING", name=None) -> Tensor:
    out = ops.sort(values, axis=axis)
    return ops.flip(out, axis) if direction == "DESCENDING" else out


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None) -> Tensor:
    order = ops.argsort(ops.negative(values) if direction == "DESCENDING" else values, axis=axis)
    return ops.cast(order, np.int32)


def clip_by_value(t, clip_value_min, clip_value_max, name=None) -> Tensor:
    return ops.clip(t, clip_value_min, clip_value_max)


def clip_by_norm(t, clip_norm, axes=None, name=None) -> Tensor:
    """t * clip_norm / max(||t||_2, clip_norm)."""
    l2 = ops.sqrt(ops.sum(ops.square(t), axis=axes, keepdims=True))
    return ops.divide(ops.multiply(t, clip_norm), ops.maximum(l2, clip_norm))


def global_norm(t_list, name=None) -> Tensor:
    return ops.sqrt(builtins.sum(ops.sum(ops.square(t)) for t in t_list if t is not None))


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """``([t * clip_norm / max(global_norm, clip_norm)], global_norm)``; None entries stay None."""
    norm_value = global_norm(t_list) if use_norm is None else convert_to_tensor(use_norm)
    scale = ops.divide(clip_norm, ops.maximum(norm_value, clip_norm))
    return [None if t is None else ops.multiply(t, scale) for t in t_list], norm_value


def stop_gradient(input, name=None) -> Tensor:
    return ops.stop_gradient(input)


def is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def print(*inputs, output_stream=None, summarize=None, sep=" ", end="\n", name=None) -> None:
    """Prints the values of tensors (and anything else) as TF's eager ``tf.print`` does."""
    builtins.print(*(x.numpy() if isinstance(x, Tensor) else x for x in inputs), sep=sep, end=end)


config = SimpleNamespace(list_physical_devices=lambda device_type=None: [],
                         list_logical_devices=lambda device_type=None: [],
                         get_visible_devices=lambda device_type=None: [],
                         set_visible_devices=lambda devices, device_type=None: None,
                         run_functions_eagerly=lambda run_eagerly: None,
                         experimental_connect_to_cluster=lambda cluster_spec_or_resolver, *args, **kwargs: None,
                         # NumPy's kernels are deterministic already
                         experimental=SimpleNamespace(set_memory_growth=lambda device, enable: None,
                                                      enable_op_determinism=lambda: None))


def device(device_name):
    """``with tf.device("CPU:0"):``: every op runs on the CPU here, so the scope places nothing
    (TensorFlow's soft placement, too, runs a "GPU:0" block on the CPU when there is no GPU)."""
    if not isinstance(device_name, (str, type(None))):
        raise TypeError(f"tf.device: device_name must be a string such as 'CPU:0', got {device_name!r}")
    return contextlib.nullcontext()


class TensorShape(tuple):
    """``tf.TensorShape([10, None])``: a tuple of dimensions (``None`` unknown), which is what
    deepgrad's layers read as a shape (an RNN cell's ``state_size``, say)."""

    def __new__(cls, dims=()):
        if dims is None:
            raise ValueError("tf.TensorShape(None): a shape of unknown rank is not supported")
        dims = (dims,) if isinstance(dims, (int, np.integer)) else dims
        return super().__new__(cls, (None if d is None else int(d) for d in dims))

    @property
    def rank(self) -> int:
        return len(self)

    def as_list(self) -> list:
        return list(self)

    def __repr__(self) -> str:
        return f"TensorShape({list(self)})"


def _text(input) -> np.ndarray:
    """A string component as an array of ``str`` (bytes decoded as UTF-8, as TF's ops read them)."""
    a = np.asarray(input.numpy() if isinstance(input, Tensor) else input)
    if a.dtype.kind == "S":
        return np.char.decode(a, "utf-8")
    if a.dtype.kind == "O":  # str and bytes items, as a batch of text files or tf.string values hold them
        decode = np.vectorize(lambda v: v.decode("utf-8") if isinstance(v, bytes) else str(v), otypes=[object])
        return decode(a).astype(str)
    return a.astype(str)


def _regex_replace(input, pattern, rewrite, replace_global=True, name=None) -> np.ndarray:
    """Each string with the matches of ``pattern`` replaced by ``rewrite`` (all of them, or the first
    with ``replace_global=False``). TF's RE2 syntax shares Python's for the patterns programs use;
    RE2's ``\\1`` group references are Python's too."""
    compiled = re.compile(pattern)
    substitute = np.vectorize(lambda text: compiled.sub(rewrite, text, count=0 if replace_global else 1),
                              otypes=[object])
    return substitute(_text(input)).astype(str)


def _split(input, sep=None, maxsplit=-1, name=None):
    """The pieces of one string: Python's ``str.split`` rule, which TF's ``tf.strings.split``
    follows (``sep=None`` splits on runs of whitespace and drops empty pieces; a ``sep`` keeps
    them). A batch (rank 1) splits into rows of different lengths: a ``RaggedTensor``, as TF's
    (``.to_tensor()`` pads it with ""; a batch whose rows have one length converts with
    ``np.asarray``)."""
    from .tf_data import StringArray
    text = _text(input)
    if text.ndim == 0:
        return np.array(str(text).split(sep, maxsplit), dtype=str).view(StringArray)
    if text.ndim > 1:
        raise ValueError(f"tf.strings.split: deepgrad splits a string or a batch of them (rank 0 or 1), got "
                         f"shape {text.shape}")
    return RaggedTensor([np.array(str(t).split(sep, maxsplit), dtype=str).view(StringArray) for t in text])


def _to_number(string_tensor, out_type=np.float32, name=None) -> Tensor:
    """Each string parsed as a number of ``out_type`` (float32 by default, as TF's); the rows of a
    ``RaggedTensor`` each (a ragged result)."""
    if isinstance(string_tensor, RaggedTensor):
        return RaggedTensor([_to_number(row, out_type).data for row in string_tensor])
    text = _text(string_tensor)
    dtype = np.dtype(backend.standardize_dtype(out_type))
    if dtype.kind not in "iuf":
        raise TypeError(f"tf.strings.to_number: out_type must be an integer or float dtype, got {dtype}")
    parse = int if dtype.kind in "iu" else float
    try:
        values = [parse(t.strip()) for t in text.reshape(-1)]
    except ValueError:
        bad = str(next(t for t in text.reshape(-1) if not _parses(parse, t)))
        raise ValueError(f"tf.strings.to_number: cannot convert {bad!r} to {dtype.name}") from None
    return Tensor(np.array(values, dtype=dtype).reshape(text.shape), dtype=dtype)


def _parses(parse, text) -> bool:
    try:
        parse(text.strip())
        return True
    except ValueError:
        return False


def _as_string(input, precision=-1, scientific=False, shortest=False, width=-1, fill="", name=None) -> np.ndarray:
    """Each number as text, TF's way: integers in decimal, floats as C's ``%f`` (six decimals unless
    ``precision`` is given; ``%e`` with ``scientific``, ``%g`` with ``shortest``), booleans as
    ``true``/``false``, padded to ``width`` with spaces or, with ``fill="0"``, zeros."""
    a = np.asarray(input.numpy() if isinstance(input, Tensor) else input)
    if scientific and shortest:
        raise ValueError("tf.strings.as_string: cannot select both scientific and shortest notation")
    if fill not in ("", " ", "0"):
        raise ValueError(f"tf.strings.as_string: fill must be '', ' ' or '0', got {fill!r}")
    if a.dtype.kind in "OUS":
        raise TypeError("tf.strings.as_string: the input is already strings")
    pad = fill.strip() + (str(width) if width > -1 else "")
    if a.dtype.kind == "b":
        text = ["true" if v else "false" for v in a.reshape(-1)]
        text = [(f"%{pad}s" % t) if pad else t for t in text]
    elif a.dtype.kind in "iu":
        if precision > -1 or scientific or shortest:
            raise ValueError("tf.strings.as_string: precision, scientific and shortest are for floats only")
        text = [f"%{pad}d" % v for v in a.reshape(-1).tolist()]
    elif a.dtype.kind == "f":
        spec = f"%{pad}" + (f".{precision}" if precision > -1 else "") + ("g" if shortest else "e" if scientific else "f")
        text = [spec % v for v in a.reshape(-1).tolist()]
    else:
        raise TypeError(f"tf.strings.as_string: unsupported dtype {a.dtype}")
    return np.array(text, dtype=str).reshape(a.shape)


# tf.strings: the string ops of text standardization functions (TextVectorization(standardize=fn))
# and of text-file pipelines (TextLineDataset records split into fields)
strings = SimpleNamespace(
    lower=lambda input, encoding="", name=None: np.char.lower(_text(input)),
    upper=lambda input, encoding="", name=None: np.char.upper(_text(input)),
    strip=lambda input, name=None: np.char.strip(_text(input)),
    length=lambda input, unit="BYTE", name=None: Tensor(
        (np.char.str_len(np.char.encode(_text(input), "utf-8")) if unit == "BYTE"
         else np.char.str_len(_text(input))).astype(np.int32), dtype=np.int32),
    regex_replace=_regex_replace,
    split=_split,
    to_number=_to_number,
    as_string=_as_string,
)


class RaggedTensor:
    """TF's two-dimensional ragged tensor: rows of one dtype and different lengths. deepgrad's
    tensors are rectangular, so this one only carries the rows to the layers that read them
    (``StringLookup``/``IntegerLookup``'s bag encodings and ``adapt``) and converts: ``to_list``,
    ``to_tensor`` (padded), ``row_lengths``, ``flat_values``."""

    def __init__(self, rows):
        self._ragged_rows = [np.asanyarray(r) for r in rows]  # rows of text keep their StringArray

    @classmethod
    def from_rows(cls, values, dtype=None) -> "RaggedTensor":
        rows = [_infer(list(v) if isinstance(v, tuple) else v, dtype) for v in values]
        if any(r.ndim != 1 for r in rows):
            raise ValueError("tf.ragged.constant: only two-dimensional ragged values (a list of flat lists) "
                             f"are supported, got rows of ranks {sorted({r.ndim for r in rows})}")
        kinds = {r.dtype.kind for r in rows if r.size}
        if len(kinds) > 1:
            raise TypeError(f"tf.ragged.constant: the rows mix dtypes {sorted(r.dtype.name for r in rows if r.size)}")
        return cls(rows)

    @property
    def shape(self) -> tuple:
        return (len(self._ragged_rows), None)

    @property
    def dtype(self):
        return self.flat_values.dtype

    @property
    def flat_values(self) -> np.ndarray:
        return np.concatenate([np.asarray(r) for r in self._ragged_rows]) if self._ragged_rows else np.array([])

    def row_lengths(self) -> Tensor:
        return Tensor(np.array([len(r) for r in self._ragged_rows], dtype=np.int64), dtype=np.int64)

    def to_list(self) -> list:
        return [r.tolist() for r in self._ragged_rows]

    def to_tensor(self, default_value=None, shape=None):
        """The rows padded at the end with ``default_value`` (0 or "") to the longest, or cut and
        padded to ``shape``'s second dimension."""
        width = builtins.max([len(r) for r in self._ragged_rows], default=0)
        if shape is not None and shape[-1] is not None:
            width = int(shape[-1])
        flat = self.flat_values
        fill = default_value if default_value is not None else ("" if flat.dtype.kind in "US" else 0)
        out = np.full((len(self._ragged_rows), width), fill, dtype=flat.dtype if flat.size else np.float32)
        for i, r in enumerate(self._ragged_rows):  # one copy per row, not per element
            out[i, :builtins.min(len(r), width)] = r[:width]
        return out if out.dtype.kind in "US" else Tensor(out, dtype=out.dtype)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """The rows stacked, when they have one length (a ragged tensor that is rectangular)."""
        if len({len(r) for r in self._ragged_rows}) > 1:
            raise ValueError("RaggedTensor: rows of different lengths do not make an array; use "
                             "to_tensor() (padded) or to_list()")
        rows = [np.asarray(r) for r in self._ragged_rows]
        out = np.stack(rows) if rows else np.zeros((0, 0), np.float32)
        return out if dtype is None else out.astype(dtype)

    def numpy(self) -> np.ndarray:
        """An object array of the rows, text as UTF-8 bytes (as TF's ragged ``numpy()``)."""
        out = np.empty(len(self._ragged_rows), dtype=object)
        out[:] = [r.numpy() if hasattr(r, "numpy") else r.copy() for r in self._ragged_rows]
        return out

    def __len__(self) -> int:
        return len(self._ragged_rows)

    def __iter__(self):
        return iter(self._ragged_rows)

    def __getitem__(self, index):
        if isinstance(index, builtins.slice):  # the module's ``slice`` is tf.slice
            return RaggedTensor(self._ragged_rows[index])
        return self._ragged_rows[index]

    def __repr__(self) -> str:
        return f"<tf.RaggedTensor {self.to_list()}>"


ragged = SimpleNamespace(constant=lambda pylist, dtype=None, ragged_rank=None, inner_shape=None, name=None,
                         row_splits_dtype=None: RaggedTensor.from_rows(pylist, dtype))


def _unicode_split(input, input_encoding="UTF-8", errors="replace", replacement_char=65533, name=None):
    """The characters of a string (a rank-0 input; one list per string of a rank-1 one)."""
    from .tf_data import StringArray
    text = _text(input)
    if text.ndim == 0:
        return np.array(list(str(text)), dtype=str).view(StringArray)
    return [np.array(list(t), dtype=str).view(StringArray) for t in text.reshape(-1)]


def _reduce_join(inputs, axis=None, keepdims=False, separator="", name=None):
    """The strings joined along ``axis`` (all of them when None), ``separator`` between them."""
    from .tf_data import StringArray
    text = _text(inputs)
    if axis is None:
        out = np.array(separator.join(text.reshape(-1).tolist()), dtype=object)
        return (out.reshape((1,) * text.ndim) if keepdims else out).astype(str).view(StringArray)
    joined = np.apply_along_axis(lambda row: separator.join(row.tolist()), axis, text.astype(object))
    return (np.expand_dims(joined, axis) if keepdims else joined).astype(str).view(StringArray)


def _join(inputs, separator="", name=None):
    """Element by element, the strings of ``inputs`` (broadcast together) joined with ``separator``."""
    from .tf_data import StringArray
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise TypeError(f"tf.strings.join: inputs must be a non-empty list of strings or string tensors, got {inputs!r}")
    try:
        parts = np.broadcast_arrays(*[_text(t) for t in inputs])
    except ValueError:
        shapes = [np.shape(_text(t)) for t in inputs]
        raise ValueError(f"tf.strings.join: the inputs' shapes {shapes} do not broadcast together") from None
    out = parts[0].astype(object)
    for part in parts[1:]:
        out = out + separator + part.astype(object)
    return np.asarray(out, dtype=str).view(StringArray)


strings.unicode_split, strings.reduce_join, strings.join = _unicode_split, _reduce_join, _join


# tf.nest: the nested-structure utilities, Keras's ``tree`` under TensorFlow's names
nest = SimpleNamespace(flatten=tree.flatten, map_structure=tree.map_structure, is_nested=tree.is_nested,
                       pack_sequence_as=tree.pack_sequence_as, assert_same_structure=tree.assert_same_structure)


def _as_tout(value, dtype):
    """A ``numpy_function``/``py_function`` result as a tensor of its declared type ``Tout``."""
    dtype = np.dtype(dtype)
    if dtype.kind in "OSU":  # tf.string results stay arrays of text
        return np.asarray(value)
    raw = value.data if isinstance(value, Tensor) else value
    return Tensor(np.asarray(raw, dtype=dtype), dtype=dtype)


def _call_python(func, inp, Tout, as_tensors: bool):
    """Run ``func`` on ``inp`` (Tensors, or NumPy arrays) and cast what it returns to ``Tout``:
    a list of dtypes gives a list, one dtype one tensor, None no result."""
    args = [convert_to_tensor(x) if as_tensors else np.asarray(x.data if isinstance(x, Tensor) else x) for x in inp]
    out = func(*args)
    if Tout is None:
        return None
    if isinstance(Tout, (list, tuple)):
        values = out if isinstance(out, (list, tuple)) else [out]
        if len(values) != len(Tout):
            raise ValueError(f"tf.py_function: func returned {len(values)} values for {len(Tout)} output dtypes (Tout)")
        return [_as_tout(v, t) for v, t in zip(values, Tout)]
    return _as_tout(out, Tout)


def py_function(func, inp, Tout, name=None):
    """``func(*inp)`` on eager tensors (``.numpy()`` works), its results cast to ``Tout`` (TF's escape
    hatch for Python code in a ``tf.data`` pipeline; here everything runs eagerly anyway)."""
    return _call_python(func, inp, Tout, as_tensors=True)


def numpy_function(func, inp, Tout, stateful=True, name=None):
    """``func(*inp)`` on NumPy arrays, its results cast to ``Tout``."""
    return _call_python(func, inp, Tout, as_tensors=False)


def _add_n(inputs, name=None) -> Tensor:
    """The element-wise sum of a list of same-shaped tensors."""
    total = inputs[0]
    for t in inputs[1:]:
        total = ops.add(total, t)
    return total


for _name, _value in dict(acosh=lambda x, name=None: ops.arccosh(x), asinh=lambda x, name=None: ops.arcsinh(x),
                          atanh=lambda x, name=None: ops.arctanh(x), add_n=_add_n,
                          realdiv=lambda x, y, name=None: ops.true_divide(x, y),
                          real=lambda input, name=None: ops.real(input), imag=lambda input, name=None: ops.imag(input),
                          conj=lambda x, name=None: ops.conj(x)).items():
    if not hasattr(math, _name):
        setattr(math, _name, _value)
# the tf.math functions TensorFlow 2 also exports at its top level (tf.cos is tf.math.cos)
for _name in ("acos", "acosh", "add_n", "asin", "asinh", "atan", "atan2", "atanh", "cos", "cosh", "floordiv", "sin",
              "sinh", "tan", "realdiv", "squared_difference", "real", "imag", "conj"):
    if _name not in globals():
        globals()[_name] = getattr(math, _name)
del _name, _value


def random_uniform_initializer(minval=-0.05, maxval=0.05, seed=None):
    return keras.initializers.RandomUniform(minval=minval, maxval=maxval, seed=seed)


def random_normal_initializer(mean=0.0, stddev=0.05, seed=None):
    return keras.initializers.RandomNormal(mean=mean, stddev=stddev, seed=seed)


def zeros_initializer():
    return keras.initializers.Zeros()


def ones_initializer():
    return keras.initializers.Ones()


def constant_initializer(value=0):
    """TF 2's ``tf.constant_initializer``: a scalar fills the variable; an array (or nested list)
    is reshaped to the variable's shape, so it needs the same number of elements."""
    if np.ndim(value) == 0:
        return keras.initializers.Constant(float(value))
    array = np.asarray(value)

    def initializer(shape, dtype=None):
        if array.size != int(np.prod(shape)):
            raise TypeError(f"tf.constant_initializer: {array.size} values cannot fill a variable of shape "
                            f"{tuple(shape)} ({int(np.prod(shape))} elements)")
        return Tensor(array.reshape(shape).astype(np.dtype(dtype or backend.floatx())))
    return initializer


def _saved_model_load(export_dir, tags=None, options=None):
    """``tf.saved_model.load``: an export archive written by ``model.export(path)`` or
    ``keras.export.ExportArchive``, its endpoints as methods (TensorFlow SavedModels need TensorFlow)."""
    from ..export import load_archive
    return load_archive(export_dir)


def _saved_model_save(obj, export_dir, signatures=None, options=None):
    """``tf.saved_model.save`` of a built model or layer: an export archive with its call as the
    endpoint ``"serve"`` (``signatures`` of tf.functions are not traced here: use ExportArchive)."""
    from ..export import ExportArchive
    from ..layers.base import Layer
    if not isinstance(obj, Layer):
        raise TypeError(f"tf.saved_model.save: deepgrad saves models and layers only, got {type(obj).__name__}")
    if signatures is not None:
        raise NotImplementedError("tf.saved_model.save: signatures are not traced by deepgrad; register endpoints "
                                  "with keras.export.ExportArchive().add_endpoint(name, fn, input_signature)")
    archive = ExportArchive()
    archive.track_and_add_endpoint("serve", obj)
    archive.write_out(export_dir, verbose=False)


saved_model = SimpleNamespace(load=_saved_model_load, save=_saved_model_save, SaveOptions=lambda **kwargs: None)


# tf.io: files and images (tf_io), TFRecord files and the parsing of their Examples (tf_record)
io = SimpleNamespace(**vars(_image_io), TFRecordWriter=_record.TFRecordWriter, TFRecordOptions=_record.TFRecordOptions,
                     FixedLenFeature=_record.FixedLenFeature, VarLenFeature=_record.VarLenFeature,
                     FixedLenSequenceFeature=_record.FixedLenSequenceFeature,
                     parse_single_example=_record.parse_single_example, parse_example=_record.parse_example,
                     gfile=_record.gfile)
# tf.train: the Example messages TFRecord files hold
train = SimpleNamespace(latest_checkpoint=latest_checkpoint, Example=_example.Example, Features=_example.Features, Feature=_example.Feature,
                        BytesList=_example.BytesList, FloatList=_example.FloatList, Int64List=_example.Int64List)


class _NumpyAPI:
    """``tf.experimental.numpy`` (tnp): NumPy's functions on tensors, which are deepgrad's ops
    under NumPy's names (``tnp.matmul``, ``tnp.maximum``, ``tnp.mean(x, axis=0)``), and NumPy's
    scalar types as its dtypes (``tnp.float32``)."""

    def __getattr__(self, name):
        if name == "experimental_enable_numpy_behavior":
            return lambda prefer_float32=False, dtype_conversion_mode="legacy": None
        kind = getattr(np, name, None)
        if isinstance(kind, type) and issubclass(kind, np.generic):
            return kind
        return getattr(ops, name)


experimental = SimpleNamespace(numpy=_NumpyAPI())


def __getattr__(name: str):
    # Names that live in deepgrad's higher floors resolve on first use, so this module
    # imports without them.
    if name == "optimizers":
        return keras.optimizers
    if name == "losses":
        return keras.losses
    if name in ("initializers", "metrics"):  # TF 2's aliases of tf.keras.initializers / .metrics
        return getattr(keras, name)
    if name == "keras":  # ``from tensorflow import keras``
        return keras
    raise AttributeError(f"deepgrad.compat.tensorflow has no {name!r}: only the TensorFlow names "
                         f"that Keras programs use are mapped; use deepgrad's own API for the rest")


from .tf_namespaces import edit_distance  # noqa: E402, F401 - tf.edit_distance

# TF 1's names under tf.compat.v1 that Keras 3 programs still call
compat.v1.scan, compat.v1.boolean_mask, compat.v1.gather_nd = scan, boolean_mask, gather_nd
compat.v1.nn = SimpleNamespace(ctc_loss=ctc_loss_v1)

globals()["bool"] = np.bool_  # tf.bool, set last so this module's code never sees the name
