"""Floor 1: the array module, the float policy and the seeded random generator, and the rest of
``keras.backend``: dtype rules (``standardize_dtype``, ``result_type``), the image data format,
the name counters (``get_uid``) and ``clear_session``.

Process tuning (allocator, BLAS threads) and the thread pool are in ``deepgrad.runtime``."""
from __future__ import annotations

import collections
import functools
import gc
from collections import defaultdict

import numpy as np

xp = np  # the array module; NumPy today

_FLOATX = "float32"
_EPSILON = 1e-7
_rng = np.random.default_rng()


class SymbolicInputError(TypeError):
    """An op was handed a symbolic ``KerasTensor`` (which has a shape but no values).

    ``deepgrad.ops`` catches it and records the op as a node of the functional graph through
    ``symbolic_op``, the way Keras 3 runs ``keras.ops`` on symbolic tensors; anywhere else it
    says that a value was needed.
    """


# Set by deepgrad.layers: ``symbolic_op(op, args, kwargs)`` records ``op(*args, **kwargs)`` on
# KerasTensors as a graph node and returns its symbolic output(s).
symbolic_op = None


def symbolic_aware(fn):
    """``fn`` that, given symbolic KerasTensors (a functional model being defined), records
    itself as a graph node through ``symbolic_op`` instead of computing, as ``keras.ops`` and
    ``keras.activations`` do. Eager calls pay one call and a ``try`` that costs nothing until a
    KerasTensor raises SymbolicInputError."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SymbolicInputError:
            if symbolic_op is None:
                raise
            return symbolic_op(call, args, kwargs)
    return call


def floatx() -> str:
    """The default float type as a string, e.g. ``'float32'`` (Keras's name)."""
    return _FLOATX


def set_floatx(value: str) -> None:
    global _FLOATX
    if value not in ("float16", "float32", "float64"):
        raise ValueError(f"Unknown floatx {value!r}: expected 'float16', 'float32' or 'float64'")
    _FLOATX = value


def epsilon() -> float:
    """The fuzz factor Keras uses to clip probabilities (1e-7)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)




def rng() -> np.random.Generator:
    """The one random generator behind initialisers, dropout and shuffling."""
    return _rng


def seed(value: int | None) -> None:
    """Reseed the generator; ``deepgrad.utils.set_random_seed`` also seeds NumPy and ``random``."""
    global _rng
    _rng = np.random.default_rng(value)


def get_rng_state() -> dict:
    return _rng.bit_generator.state


def set_rng_state(state: dict) -> None:
    _rng.bit_generator.state = state


def to_floatx(array) -> np.ndarray:
    """Python numbers, lists, integer and bool arrays become floatx; float arrays keep their dtype.

    Anything that is not a real number is a TypeError rather than NaN (``None``) or a dropped
    imaginary part (complex); the common case costs one look at ``dtype.kind``.
    """
    if isinstance(array, np.ndarray):
        kind = array.dtype.kind
        if kind == "f":
            return array
        if kind in "iub":
            return array.astype(_FLOATX)
        return real_array(array).astype(_FLOATX, copy=False)
    if isinstance(array, (float, int)):  # bool is an int
        return np.asarray(array, dtype=_FLOATX)
    if array is None:
        raise TypeError("Cannot make a tensor of None: expected numbers")
    a = as_array(array)
    if a.dtype.kind in "fiub":
        return a.astype(_FLOATX)
    return real_array(a).astype(_FLOATX, copy=False)


def as_array(data) -> np.ndarray:
    """``np.asarray(data)``, with a ragged nested sequence (rows of different lengths) a clear ValueError."""
    try:
        return np.asarray(data)
    except UnicodeError:  # bytes mixed with text: NumPy tries to decode them
        raise TypeError("Cannot make a tensor of text or bytes: expected real numbers") from None
    except ValueError as e:
        if "inhomogeneous" not in str(e) and "sequence" not in str(e):
            raise
        raise ValueError("Cannot make a tensor of a ragged nested sequence (its rows have different "
                         "lengths or depths): pad the rows to one length first") from None


def real_array(a: np.ndarray) -> np.ndarray:
    """``a`` if it holds real numbers (bool, integer or float), else a TypeError saying what it holds.

    Object arrays of Python numbers are converted (float64); ``None``, strings and complex
    numbers among them are refused.
    """
    kind = a.dtype.kind
    if kind in "fiub":
        return a
    if kind == "c":
        raise TypeError(f"Complex values (dtype {a.dtype}) are not supported: deepgrad tensors hold real "
                        "numbers; pass np.real(x), np.imag(x) or np.abs(x) explicitly")
    if kind == "O":
        missing = np.equal(a, None)
        if missing.any():
            position = tuple(int(i) for i in np.argwhere(missing)[0]) if a.ndim else ()
            raise TypeError(f"The data holds None at index {position} ({int(missing.sum())} in all): "
                            "expected numbers; fill in or drop the missing values first")
        try:
            out = a.astype(np.float64)
        except (TypeError, ValueError) as e:
            # only on the error path: find the first element that is not a real number to name it
            flat = a.reshape(-1)
            bad = next((v for v in flat if not isinstance(v, (int, float, np.integer, np.floating, np.bool_))), None)
            what = f"a {type(bad).__name__} ({bad!r:.40})" if bad is not None else "values that are not numbers"
            raise TypeError(f"Cannot make a tensor of an object array that holds {what}: expected real numbers") from e
        return out
    raise TypeError(f"Cannot make a tensor of dtype {a.dtype} ({'text' if kind in 'US' else 'not numbers'}): "
                    "expected real numbers")


# ----------------------------------------------------------------------------- size guard
class AllocationError(MemoryError, ValueError):
    """An array that cannot fit in the machine's memory, refused before anything is allocated.

    Both a MemoryError (what it is) and a ValueError (a bad size argument), so either
    ``except`` clause a caller already has catches it.
    """


_PHYSICAL_MEMORY: int | None = None


def physical_memory() -> int:
    """The machine's physical memory in bytes (pages x page size); 2**63 where the OS will not say."""
    global _PHYSICAL_MEMORY
    if _PHYSICAL_MEMORY is None:
        import os

        try:
            _PHYSICAL_MEMORY = int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
        except (AttributeError, ValueError, OSError):  # no sysconf (Windows) or no such name
            _PHYSICAL_MEMORY = 0
        if _PHYSICAL_MEMORY <= 0:
            _PHYSICAL_MEMORY = 2 ** 63
    return _PHYSICAL_MEMORY


def check_allocation(shape, dtype, what: str) -> None:
    """Raise AllocationError if an array of ``shape`` and ``dtype`` needs more bytes than the machine has.

    ``what`` names the op or weight in the message. The count is a Python int (no overflow),
    so shapes like (10**6, 10**6) are refused in microseconds instead of failing halfway
    through a MemoryError, or with NumPy's "array is too big".
    """
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    count = 1
    for d in dims:
        count *= int(d)
    nbytes = count * np.dtype(dtype).itemsize
    limit = physical_memory()
    if nbytes > limit:
        raise AllocationError(
            f"{what}: an array of shape {tuple(int(d) for d in dims)} and dtype {np.dtype(dtype).name} "
            f"needs {nbytes / 2**30:,.1f} GiB, more than this machine's {limit / 2**30:,.1f} GiB of memory")


# --------------------------------------------------------------------------- dtypes (Keras's rules)
# Types are promoted on a lattice rather than by NumPy's table (see deepgrad.ops.dtypes): each
# type links to the types just above it; the result of several types is their least upper bound.
_LATTICE = {
    "bool": ("int",),
    "int": ("uint8", "int8", "complex64"),
    "uint8": ("int16", "uint16"),
    "uint16": ("int32", "uint32"),
    "uint32": ("int64", "uint64"),
    "uint64": ("float",),
    "int8": ("int16",),
    "int16": ("int32",),
    "int32": ("int64",),
    "int64": ("float",),
    "float": ("bfloat16", "float16"),
    "bfloat16": ("float32",),
    "float16": ("float32",),
    "float32": ("float64", "complex64"),
    "float64": ("complex128",),
    "complex64": ("complex128",),
    "complex128": (),
}


def _upper_bounds() -> dict:
    """Each type with every type at or above it."""
    bounds = {}
    for node in _LATTICE:
        seen, todo = {node}, [node]
        while todo:
            for up in _LATTICE[todo.pop()]:
                if up not in seen:
                    seen.add(up)
                    todo.append(up)
        bounds[node] = frozenset(seen)
    return bounds


_UPPER = _upper_bounds()
_PYTHON = {bool: "bool", int: "int32", float: None, complex: "complex64"}  # None: floatx


def standardize_dtype(dtype) -> str:
    """A dtype given any way (``"float32"``, ``np.float32``, ``np.dtype``, ``float``) as its name."""
    if dtype is None:
        return floatx()
    if hasattr(dtype, "dtype") and not isinstance(dtype, type):
        dtype = dtype.dtype  # an array or Tensor
    if isinstance(dtype, type) and dtype in _PYTHON:
        return _PYTHON[dtype] or floatx()
    if isinstance(dtype, str) and dtype in ("int", "float"):  # a NumPy dtype equals these strings too
        return "int32" if dtype == "int" else floatx()
    if isinstance(dtype, str) and dtype == "string":
        return "string"
    try:
        name = np.dtype(dtype).name
    except TypeError:
        raise ValueError(f"Invalid dtype: {dtype!r}") from None
    if np.dtype(dtype).kind in "OUS":  # Keras's text dtype: deepgrad holds text as str (or object) arrays
        return "string"
    if name not in _UPPER:
        raise ValueError(f"Invalid dtype: {dtype!r} (deepgrad's ops take bool, (u)int8-64, "
                         "float16/32/64 and complex64/128)")
    return name


@functools.lru_cache(maxsize=512)
def _least_upper_bound(nodes: frozenset) -> str:
    common = frozenset.intersection(*[_UPPER[n] for n in nodes])
    least = [c for c in common if common <= _UPPER[c]]
    if len(least) != 1:  # pragma: no cover - the lattice has a least bound for every set
        raise ValueError(f"no common dtype for {sorted(nodes)}")
    return least[0]


def _resolve_weak(node: str) -> str:
    if node == "int":
        return "int32"
    if node == "float":
        return floatx()
    return node


def result_type(*dtypes) -> str:
    """The dtype an op on ``dtypes`` returns, by Keras's promotion rules.

    Each argument is a dtype (name, NumPy type or ``np.dtype``), an array or Tensor (its
    dtype), or a Python ``bool``/``int``/``float``/``complex`` value or type (weak).
    ``result_type()`` with no argument is ``floatx``.
    """
    nodes = set()
    for a in dtypes:
        if a is None:
            continue
        kind = a if isinstance(a, type) and a in _PYTHON else type(a)
        if kind in (int, float) and (isinstance(a, type) or not hasattr(a, "dtype")):
            nodes.add("int" if kind is int else "float")  # a Python number: weak
        elif kind is bool and not hasattr(a, "dtype"):
            nodes.add("bool")
        elif kind is complex and not hasattr(a, "dtype"):
            nodes.add("complex64")
        else:
            nodes.add(standardize_dtype(a))
    if not nodes:
        return floatx()
    if "string" in nodes:  # text promotes only with text, as in Keras
        if nodes == {"string"}:
            return "string"
        raise ValueError("dtype='string' is not a valid dtype for Keras type promotion.")
    return _resolve_weak(_least_upper_bound(frozenset(nodes)))




def is_float_dtype(dtype) -> bool:
    """True for float16, bfloat16, float32 and float64 (given any way ``standardize_dtype`` reads)."""
    return standardize_dtype(dtype) in ("float16", "bfloat16", "float32", "float64")


def is_int_dtype(dtype) -> bool:
    """True for the signed and unsigned integer types."""
    return "int" in standardize_dtype(dtype)


# --------------------------------------------------------------------------- image data format
_IMAGE_DATA_FORMAT = "channels_last"


def image_data_format() -> str:
    """``'channels_last'`` (images as ``(batch, height, width, channels)``) or ``'channels_first'``."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format: str) -> None:
    global _IMAGE_DATA_FORMAT
    value = str(data_format).lower()
    if value not in ("channels_first", "channels_last"):
        raise ValueError(f"set_image_data_format: data_format must be 'channels_first' or 'channels_last', "
                         f"got {data_format!r}")
    _IMAGE_DATA_FORMAT = value


# --------------------------------------------------------------------------- names and the session
_UIDS: dict[str, int] = defaultdict(int)


def get_uid(prefix: str = "") -> int:
    """1, 2, 3, ... on successive calls with the same ``prefix`` (layer names count with it:
    the first ``dense``, then ``dense_1``)."""
    _UIDS[prefix] += 1
    return _UIDS[prefix]


def reset_uids() -> None:
    _UIDS.clear()


def auto_name(prefix: str) -> str:
    """``prefix``, then ``prefix_1``, ``prefix_2``, ...: Keras's default names of layers,
    optimizers, metrics and losses made without a ``name`` (one counter per prefix)."""
    n = get_uid(prefix) - 1
    return prefix if n == 0 else f"{prefix}_{n}"


def uid_snapshot() -> dict:
    """The name counters, to put back with ``restore_uids`` after objects made only to be
    compared (so they take no name a later object would have had)."""
    return dict(_UIDS)


def restore_uids(snapshot: dict) -> None:
    _UIDS.clear()
    _UIDS.update(snapshot)


def clear_session(free_memory: bool = True) -> None:
    """Start names afresh (``dense``, ``dense_1``, ... again) and, with ``free_memory``, collect the
    garbage left by models no longer referenced."""
    reset_uids()
    if free_memory:
        gc.collect()


def is_keras_tensor(x) -> bool:
    """True for a symbolic tensor (from ``Input`` and layer calls on it). Recognised by its class,
    ``deepgrad.symbolic.KerasTensor``, which sits on a higher floor than this module."""
    return any(c.__name__ == "KerasTensor" and c.__module__ == "deepgrad.symbolic" for c in type(x).__mro__)


def backend() -> str:
    """The name of the array library the ops compute with."""
    return "numpy"


# ----------------------------------------------------------------- name scopes (variable paths)
# Keras's rule for a variable's ``path``: the names of the layers being built around its
# creation, outermost first, then the variable's name ("sequential/dense/kernel"). A layer
# opens its scope while it is built (and during its first call, so sub-layers built then sit
# under it); a scope opened by a layer inside itself again is not repeated.
_scope_stack: list = []


class name_scope:
    """``with name_scope("block"):`` puts the variables created inside under ``block/``.
    ``caller`` is the object opening it; ``override_parent`` replaces the enclosing path."""

    def __init__(self, name, caller=None, deduplicate: bool = True, override_parent=None):
        if not isinstance(name, str) or "/" in name:
            raise ValueError(f"name_scope: `name` must be a string without '/', got name={name!r}")
        self.name, self.caller, self.deduplicate = name, caller, deduplicate
        self.override_parent = override_parent
        self._pushed = False

    def __enter__(self):
        top = _scope_stack[-1] if _scope_stack else None
        if not (self.deduplicate and top is not None and self.caller is not None and top.caller is self.caller
                and top.name == self.name):
            _scope_stack.append(self)
            self._pushed = True
        return self

    def __exit__(self, *exc):
        if self._pushed:
            _scope_stack.pop()
            self._pushed = False


def current_path() -> str:
    """The path of the open scopes, ``"outer/inner"`` ("" when none is open)."""
    parts: list = []
    for scope in _scope_stack:
        if scope.override_parent is not None:
            parts = [p for p in scope.override_parent.split("/") if p]
        parts.append(scope.name)
    return "/".join(parts)


# ----------------------------------------------------------------- devices and rematerialization
class device:
    """``with device("cpu:0"):`` as Keras's ``keras.device``. deepgrad computes with NumPy on the
    CPU, so a CPU name is accepted (``"cpu"``, ``"cpu:0"``, ``"/cpu:0"``, ``"/device:CPU:0"``) and
    any other device is refused by name."""

    def __init__(self, device_name):
        if not isinstance(device_name, str):
            raise ValueError(f"Invalid value for argument `device_name`. Expected a string like 'cpu:0'. "
                             f"Received: device_name={device_name!r}")
        kind = device_name.lower().lstrip("/").removeprefix("device:").split(":")[0]
        if kind != "cpu":
            raise ValueError(f"device {device_name!r} is not available: deepgrad computes with NumPy on the CPU "
                             "only; use 'cpu' or 'cpu:0'")
        self.name = device_name

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


_remat_stack: list = []
_REMAT_MODES = ("full", "activations", "larger_than", "list_of_layers", None)
RematMode = collections.namedtuple("RematMode", ["mode", "output_size_threshold", "layer_names"])
# ``deepgrad.autograd.checkpoint``: set by that module when it is imported (autograd is a floor
# above this one, so it is handed down rather than imported)
_checkpoint = None


class RematScope:
    """``with RematScope(mode="full", output_size_threshold=1024, layer_names=None):`` Keras's
    rematerialization (gradient checkpointing) settings. A layer (or operation) *made* inside
    the block keeps the innermost scope's settings, and each of its calls then recomputes its
    activations in the backward pass instead of keeping them, by Keras's rule
    (``Layer.rematerialized_call``): ``"full"`` every such layer; ``"activations"`` only the
    activation function of a layer that has one (``Dense(..., activation="relu")``);
    ``"larger_than"`` a layer whose output has more than ``output_size_threshold`` elements
    (batch included); ``"list_of_layers"`` the layers whose names are in ``layer_names``;
    ``None`` none (a block inside another that turns it off)."""

    def __init__(self, mode="full", output_size_threshold=1024, layer_names=None):
        if mode not in _REMAT_MODES:
            raise ValueError(f"Invalid mode '{mode}'. Supported modes are: 'full', 'activations', 'larger_than', "
                             "'list_of_layers', or  None.")
        self.mode = mode
        self.output_size_threshold = output_size_threshold
        self.layer_names = list(layer_names or [])

    def __enter__(self):
        _remat_stack.append(self)
        return self

    def __exit__(self, *exc):
        _remat_stack.remove(self)


def get_current_remat_mode():
    """``RematMode(mode, output_size_threshold, layer_names)`` of the innermost ``RematScope``, or None."""
    if not _remat_stack:
        return None
    scope = _remat_stack[-1]
    return RematMode(scope.mode, scope.output_size_threshold, scope.layer_names)


def remat(f):
    """Keras's ``keras.remat(f)``: ``f`` as a function whose activations are recomputed in the
    backward pass instead of kept (gradient checkpointing, ``deepgrad.autograd.checkpoint``):
    less memory, one more forward of ``f`` per backward, the same values and gradients."""
    if not callable(f):
        raise TypeError(f"remat: the argument must be a callable (a function or a layer), got {type(f).__name__}")

    def rematerialized(*args, **kwargs):
        return _checkpoint(f, *args, **kwargs)

    rematerialized.__wrapped__ = f
    return rematerialized


# ----------------------------------------------------------------- TF-Keras's backend functions
# Keras 3 keeps TF-Keras's ``K.mean``, ``K.random_normal``, ``K.batch_dot``, ... under
# ``tf.keras.backend``; deepgrad is both ``keras`` and ``tf.keras``, so they are reached here too.
# They are built on the ops, floors above this one, so the package sets ``legacy_functions`` to a
# lookup (name -> function or None) and this module's attribute fallback asks it; this module's
# own code never sees those names (a module's ``__getattr__`` serves only attribute access).
legacy_functions = None


def __getattr__(name: str):
    if legacy_functions is not None and not name.startswith("_"):
        found = legacy_functions(name)
        if found is not None:
            return found
    raise AttributeError(f"module 'deepgrad.backend' has no attribute {name!r}")
