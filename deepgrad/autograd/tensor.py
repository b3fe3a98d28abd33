"""``Tensor``: an ndarray that remembers the op that made it, so gradients can flow back."""
from __future__ import annotations

import numpy as np

from .. import backend
from .engine import owned, propagate


class _OpTable:
    """The functions behind Tensor's operators and methods, by their names in ``deepgrad.ops``.

    autograd sits below ops and never imports it: ``deepgrad.ops`` fills this table (through
    ``register_ops``) when it is imported, which ``import deepgrad`` does.
    """

    __slots__ = (
        "abs", "add", "astype", "broadcast_to", "clip", "divide", "exp", "expand_dims", "flatten",
        "floor_divide", "getitem", "log", "log_softmax", "logsumexp", "matmul", "max", "mean", "min", "mod", "multiply",
        "negative", "power", "relu", "reshape", "sigmoid", "softmax", "sqrt", "squeeze", "std",
        "subtract", "sum", "swapaxes", "tanh", "transpose", "var",
    )


_ops = _OpTable()


def register_ops(**functions) -> None:
    """Name the op behind each of Tensor's operators and methods (called by ``deepgrad.ops``)."""
    for name, fn in functions.items():
        setattr(_ops, name, fn)


def _data(x):
    return x.data if isinstance(x, Tensor) else x


class _StaticShape(tuple):
    """What ``Tensor.get_shape()`` gives: the shape tuple with TF's ``as_list()`` and ``rank``."""

    @property
    def rank(self) -> int:
        return len(self)

    def as_list(self) -> list:
        return list(self)


class Tensor:
    """A NumPy array in the graph.

    ``Tensor(data, requires_grad=False, dtype=None)``: Python numbers, lists, integer and
    bool arrays become ``floatx`` (float32 by default); a floating-point array keeps its
    dtype. ``grad`` is a plain ndarray (or None) once ``backward`` has reached the tensor.
    """

    __array_priority__ = 100  # ndarray <op> Tensor defers to Tensor's reflected operators

    # _keras_mask: the boolean (batch, time) mask an Embedding(mask_zero=True) attaches;
    # _keras_logits: on a softmax or sigmoid output, the logits (and axis) it came from
    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_index", "name", "_keras_mask", "_keras_logits",
                 "__weakref__")

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        if dtype is None:
            data = backend.to_floatx(data)
        else:
            dtype = _tensor_dtype(dtype)
            if data is None:
                raise TypeError("Cannot make a tensor of None: expected numbers")
            data = data if isinstance(data, np.ndarray) else backend.as_array(data)
            if not (dtype.kind == "c" and data.dtype.kind == "c"):  # complex only when asked for
                data = backend.real_array(data)
            data = data.astype(dtype, copy=False)
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(f"Only floating-point tensors can require gradients, got dtype {data.dtype}")
        self.data = data
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self._index = 0
        self.name = name
        self._keras_mask = None
        self._keras_logits = None

    @classmethod
    def _from_op(cls, data: np.ndarray, ctx, index: int) -> "Tensor":
        t = cls.__new__(cls)
        t.data = data
        t.grad = None
        t.requires_grad = ctx is not None
        t._ctx = ctx
        t._index = index
        t.name = None
        t._keras_mask = None
        t._keras_logits = None
        return t

    # ----------------------------------------------------------------- array facts
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def __len__(self) -> int:
        return len(self.data)

    @property
    def flat(self):
        """NumPy's flat iterator over the values (outside the graph): what tools that accept
        arrays read element by element (``pytest.approx`` of a 0-d tensor, which does not iterate)."""
        return np.asarray(self.data).flat

    def __iter__(self):
        """The rows along the first axis, each a tensor in the graph (as ``torch.Tensor`` and
        TensorFlow's eager tensors iterate), so ``list(t)``, unpacking and ``pandas.DataFrame(t)``
        work; a 0-d tensor is not iterable."""
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    def numpy(self) -> np.ndarray:
        return self.data

    def get_shape(self) -> tuple:
        """The shape, under TensorFlow's method name (``x.get_shape()`` in tf.keras programs): a
        tuple that also answers TF's ``.as_list()`` and ``.rank``."""
        return _StaticShape(self.data.shape)

    def set_shape(self, shape) -> None:
        """TensorFlow's static-shape assertion (``image.set_shape([None, None, 3])`` in tf.data
        functions): a concrete tensor already has its shape, so this only checks that every
        dimension given (None for any) agrees with it."""
        dims = None if shape is None else tuple(shape)
        if dims is not None and (len(dims) != self.data.ndim or any(
                d is not None and d != n for d, n in zip(dims, self.data.shape))):
            raise ValueError(f"set_shape: shape {list(dims)} is incompatible with the tensor's shape "
                             f"{list(self.data.shape)}")

    def __array__(self, dtype=None, copy=None):
        # ``data`` of a 0-d result may be a NumPy scalar, which NumPy refuses from ``__array__``
        data = self.data if type(self.data) is np.ndarray else np.asarray(self.data)
        return data if dtype is None else data.astype(dtype)

    def __array_function__(self, func, types, args, kwargs):
        # A NumPy function given a Tensor (np.squeeze, np.mean, np.random.choice's checks, ...)
        # works on its data and returns NumPy arrays, as for Keras's NumPy-backend tensors;
        # deepgrad's own ops are the differentiable ones.
        return func(*_to_numpy(args), **_to_numpy(kwargs))

    def item(self):
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> "Tensor":
        """The same data (and dtype: an integer tensor stays one), cut from the graph."""
        return Tensor(self.data, dtype=self.data.dtype)

    def zero_grad(self) -> None:
        self.grad = None

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` of a one-element tensor formats its number, and ``f"{n}"`` of a 0-d one
        is its number, as PyTorch's and TensorFlow's tensors format."""
        if np.ndim(self.data) == 0 or (spec and self.data.size == 1):
            return format(self.data.reshape(()).item(), spec)
        return format(str(self), spec)

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="Tensor(")
        extra = f", dtype={self.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn={self._ctx.name}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    # Python scalars from a tensor of one element, whatever its shape (as PyTorch's and
    # TensorFlow's tensors give them: ``int(t)`` of a (1,) tensor, ``array[i] = t``)
    def _scalar(self, kind: str):
        if self.data.size != 1:
            raise TypeError(f"only a tensor of one element converts to a Python {kind}; this one has shape "
                            f"{self.data.shape}")
        return self.data.reshape(()).item() if self.data.ndim else self.data

    def __bool__(self) -> bool:
        if self.data.ndim == 0:
            return bool(self.data)
        if self.data.size != 1:
            raise ValueError(f"The truth value of a tensor of shape {self.data.shape} is ambiguous; use "
                             "ops.any or ops.all")
        return bool(self.data.reshape(()))

    def __float__(self) -> float:
        return float(self._scalar("float"))

    def __int__(self) -> int:
        return int(self._scalar("int"))

    def __index__(self) -> int:
        # a 0-d integer tensor indexes a list or sizes a range, as NumPy's integer scalars and
        # TF's and PyTorch's integer tensors do; float tensors and arrays are refused by NumPy
        return self.data.__index__()

    def __hash__(self) -> int:
        return id(self)

    # ----------------------------------------------------------------- operators
    # differentiable: each runs the op of the same name in deepgrad.ops
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.subtract(self, other)

    def __rsub__(self, other):
        return _ops.subtract(other, self)

    def __mul__(self, other):
        return _ops.multiply(self, other)

    def __rmul__(self, other):
        return _ops.multiply(other, self)

    def __truediv__(self, other):
        return _ops.divide(self, other)

    def __rtruediv__(self, other):
        return _ops.divide(other, self)

    def __floordiv__(self, other):
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops.floor_divide(other, self)

    def __mod__(self, other):  # Python's (and NumPy's) sign rule: the result has the divisor's sign
        return _ops.mod(self, other)

    def __rmod__(self, other):
        return _ops.mod(other, self)

    def __pow__(self, other):
        return _ops.power(self, other)

    def __rpow__(self, other):
        return _ops.power(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    # comparisons give boolean tensors outside the graph
    def __lt__(self, other):
        return Tensor(np.less(self.data, _data(other)), dtype=bool)

    def __le__(self, other):
        return Tensor(np.less_equal(self.data, _data(other)), dtype=bool)

    def __gt__(self, other):
        return Tensor(np.greater(self.data, _data(other)), dtype=bool)

    def __ge__(self, other):
        return Tensor(np.greater_equal(self.data, _data(other)), dtype=bool)

    # an operand NumPy cannot compare (``pytest.approx``, a user's object) gets its own reflected
    # comparison, as Python's protocol has it; ``t == None`` is False and ``t != None`` True, as for
    # PyTorch's and TensorFlow's eager tensors (``if mask == None:`` in a user's layer)
    def __eq__(self, other):
        if other is None:
            return False
        try:
            return Tensor(np.equal(self.data, _data(other)), dtype=bool)
        except TypeError:
            return NotImplemented

    def __ne__(self, other):
        if other is None:
            return True
        try:
            return Tensor(np.not_equal(self.data, _data(other)), dtype=bool)
        except TypeError:
            return NotImplemented

    # ``~ & | ^``: logical on bools, bitwise on integers (floats are refused, as by NumPy and
    # PyTorch); no graph, as for the comparisons
    def __invert__(self):
        return _bits(np.invert, self.data)

    def __and__(self, other):
        return _bits(np.bitwise_and, self.data, _data(other))

    def __rand__(self, other):
        return _bits(np.bitwise_and, _data(other), self.data)

    def __or__(self, other):
        return _bits(np.bitwise_or, self.data, _data(other))

    def __ror__(self, other):
        return _bits(np.bitwise_or, _data(other), self.data)

    def __xor__(self, other):
        return _bits(np.bitwise_xor, self.data, _data(other))

    def __rxor__(self, other):
        return _bits(np.bitwise_xor, _data(other), self.data)

    # ----------------------------------------------------------------- ndarray-style methods
    def sum(self, axis=None, keepdims=False):
        return _ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ops.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _ops.min(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, keepdims=False, ddof=0):
        return _ops.var(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def std(self, axis=None, keepdims=False, ddof=0):
        return _ops.std(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def logsumexp(self, axis=None, keepdims=False):
        return _ops.logsumexp(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape):
        """``t.reshape(2, 3)`` or ``t.reshape((2, 3))``, as NumPy's method."""
        return _ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes):
        """``t.transpose()``, ``t.transpose(1, 0)`` or ``t.transpose((1, 0))``, as NumPy's method."""
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = axes[0]
        return _ops.transpose(self, axes or None)

    permute = transpose

    @property
    def T(self) -> "Tensor":
        return _ops.transpose(self)

    def swapaxes(self, axis1, axis2):
        return _ops.swapaxes(self, axis1, axis2)

    def squeeze(self, axis=None):
        return _ops.squeeze(self, axis)

    def flatten(self):
        return _ops.flatten(self)

    def expand_dims(self, axis):
        return _ops.expand_dims(self, axis)

    def broadcast_to(self, shape):
        return _ops.broadcast_to(self, shape)

    def astype(self, dtype):
        return _ops.astype(self, _tensor_dtype(dtype))

    def clip(self, a_min=None, a_max=None):
        return _ops.clip(self, a_min, a_max)

    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def abs(self):
        return _ops.abs(self)

    def matmul(self, other):
        return _ops.matmul(self, other)

    dot = matmul

    def relu(self):
        return _ops.relu(self)

    def sigmoid(self):
        return _ops.sigmoid(self)

    def tanh(self):
        return _ops.tanh(self)

    def softmax(self, axis=-1):
        return _ops.softmax(self, axis=axis)

    def log_softmax(self, axis=-1):
        return _ops.log_softmax(self, axis=axis)

    # ----------------------------------------------------------------- gradients
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``grad`` is the gradient of some scalar with respect to this tensor; it may be
        left out only when this tensor holds a single element.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad: no input of the "
                "ops that made it had requires_grad=True (or it was made under no_grad())."
            )
        if grad is None:
            if self.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient works only on a single-element tensor; "
                    f"this one has shape {self.shape}. Pass grad= of that shape, or reduce it first."
                )
            grad = np.ones(self.shape, dtype=self.dtype)
        elif isinstance(grad, Tensor):
            grad = grad.data
        seed = np.asarray(grad, dtype=self.dtype)
        taken = {id(seed)}
        for leaf, g in propagate([self], [seed], retain_graph).values():
            if leaf.grad is None:
                leaf.grad = owned(g, taken)  # never aliased: optimisers update .grad in place
            else:
                leaf.grad += g


def _to_numpy(value):
    """``value`` with every Tensor inside (lists, tuples, dicts) replaced by its array."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, (list, tuple)):
        return type(value)(_to_numpy(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    return value


def _bits(fn, *operands) -> "Tensor":
    if any(np.asarray(a).dtype.kind in "fc" for a in operands):
        raise TypeError(f"{fn.__name__} is defined for bool and integer tensors only, got "
                        f"{[np.asarray(a).dtype.name for a in operands]}")
    out = fn(*operands)
    return Tensor(out, dtype=out.dtype)


def _tensor_dtype(dtype) -> np.dtype:
    """``np.dtype(dtype)``, refusing text and object dtypes (tensors hold numbers; complex ones
    only when a complex dtype is asked for by name, as ``view_as_complex`` does)."""
    dt = np.dtype(dtype)
    if dt.kind not in "fiubc":
        raise TypeError(f"Tensors hold numbers (bool, integer, float or complex dtypes), not {dt} ({dtype!r})")
    return dt


def as_tensor(x, dtype=None) -> Tensor:
    """``x`` as a Tensor; Python numbers take ``dtype`` (the dtype of the op's tensors)."""
    if isinstance(x, Tensor):
        return x
    if dtype is not None and isinstance(x, (int, float, bool)):
        return Tensor(np.asarray(x, dtype=dtype))
    return Tensor(x)
