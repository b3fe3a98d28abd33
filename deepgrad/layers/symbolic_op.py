"""``deepgrad.ops`` on symbolic tensors: ``y = ops.concatenate([a, b]) * 2`` inside a functional model.

Keras 3 lets any op run on the ``KerasTensor``s of a model being defined: the op becomes a node
of the graph and runs on real tensors when the model is called. Here an op that meets a
KerasTensor (``backend.SymbolicInputError``) hands itself to ``record``, which wraps it in a
``SymbolicOp`` layer: the op's arguments with every KerasTensor replaced by a numbered slot,
and the KerasTensors as the layer's inputs. Its output shape is found by running the op on
ones twice, with each unknown dimension first 2 and then 3: a dimension that follows that
change is unknown (``None``) in the result, whatever the op did with the axes.

A ``SymbolicOp`` saves as the op's name and its plain arguments; loading finds the op in
``deepgrad.ops`` (or ``deepgrad.ops.image``: ``"image.resize"``) by that name (nothing else is
looked up), so no code is stored.
"""
from __future__ import annotations

import numpy as np

from .. import backend, ops
from ..autograd import Tensor, no_grad
from ..symbolic import KerasTensor, call_symbolic, flatten, is_text_dtype
from .base import Layer, unique_name
from .operation import Operation

_SLOT = "__keras_tensor__"


def _template(structure, tensors: list):
    """``structure`` with each KerasTensor replaced by ``{_SLOT: i}`` (``tensors[i]`` is it)."""
    if isinstance(structure, KerasTensor):
        tensors.append(structure)
        return {_SLOT: len(tensors) - 1}
    if isinstance(structure, Tensor) and not structure.is_leaf:
        # a tensor computed while the model is defined (``embed(tf.range(n))``) is a constant of the
        # graph, as in Keras: it keeps its value, but no gradient flows back to what computed it
        # (the graph that made it is used once, not at every step); leaves such as a Variable stay live
        return Tensor(structure.data, dtype=structure.data.dtype)
    if isinstance(structure, (list, tuple)):
        return type(structure)(_template(s, tensors) for s in structure)
    if isinstance(structure, dict):
        return {k: _template(v, tensors) for k, v in structure.items()}
    return structure


def _fill(structure, values: list):
    """The inverse of ``_template``: each slot replaced by its value."""
    if isinstance(structure, dict):
        if _SLOT in structure and len(structure) == 1:
            return values[structure[_SLOT]]
        return {k: _fill(v, values) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_fill(s, values) for s in structure)
    return structure


def _to_json(value, where: str):
    """Arguments as JSON-able values; tuples and arrays tagged so that they come back as they were."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(v, where) for v in value]}
    if isinstance(value, slice):
        return {"__slice__": [_to_json(v, where) for v in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"__ellipsis__": True}
    if isinstance(value, list):
        return [_to_json(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v, where) for k, v in value.items()}
    if isinstance(value, (np.ndarray, Tensor)):
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        return {"__array__": array.tolist(), "dtype": array.dtype.name}
    if isinstance(value, (np.dtype, type)) and value in (np.float16, np.float32, np.float64, np.int32, np.int64):
        return {"__dtype__": np.dtype(value).name}
    raise NotImplementedError(f"{where}: the argument {value!r} of type {type(value).__name__} cannot be saved "
                              "(plain numbers, strings, lists, tuples, dicts and arrays can)")


def _from_json(value):
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_from_json(v) for v in value["__tuple__"])
        if set(value) == {"__slice__"}:
            return slice(*(_from_json(v) for v in value["__slice__"]))
        if set(value) == {"__ellipsis__"}:
            return Ellipsis
        if set(value) == {"__array__", "dtype"}:
            return np.asarray(value["__array__"], value["dtype"])
        if set(value) == {"__dtype__"}:
            return np.dtype(value["__dtype__"])
        return {k: _from_json(v) for k, v in value.items()}
    return value


def _op_name(op) -> str:
    """``op``'s name in deepgrad.ops: ``"add"``, or ``"image.resize"`` for ``ops.image.resize``."""
    return f"image.{op.__name__}" if op.__module__ == ops.image.__name__ else op.__name__


def _find_op(name: str):
    """The op called ``name`` (a public op of deepgrad.ops or of deepgrad.ops.image), found by name only."""
    namespace, _, short = name.rpartition(".")
    if namespace == "image":
        fn = getattr(ops.image, short, None) if not short.startswith("_") else None
        if callable(fn) and getattr(fn, "__module__", None) == ops.image.__name__:
            return fn
    elif not namespace and name in ops.__all__:
        return getattr(ops, name)
    raise ValueError(f"SymbolicOp: {name!r} is not an op of deepgrad.ops")


def _dtype_of(value) -> np.dtype:
    """The dtype of an op's result; text of any NumPy kind is object, deepgrad's "string"."""
    dtype = np.asarray(getattr(value, "data", value)).dtype
    return np.dtype(object) if dtype.kind in "USO" else dtype


def _has_unknown(input_shape) -> bool:
    shapes = input_shape if isinstance(input_shape, list) else [input_shape]
    return any(s is None for shape in shapes for s in shape)


class SymbolicOp(Layer):
    """One ``deepgrad.ops`` call recorded in a functional graph (see the module docstring)."""

    _operation_only = True  # in ``model.operations``, not in ``model.layers``, as Keras's ops

    def __init__(self, op, args=(), kwargs=None, **layer_kwargs):
        self.op_name = op if isinstance(op, str) else _op_name(op)
        self.op = _find_op(self.op_name)
        if not layer_kwargs.get("name"):
            layer_kwargs["name"] = unique_name(self.op_name.rpartition(".")[2])
        super().__init__(**layer_kwargs)
        self.template_args, self.template_kwargs = tuple(args), dict(kwargs or {})
        self._float_inputs = False
        self._input_dtypes = []  # of the KerasTensors it was recorded on (floatx when loaded from a file)

    def __call__(self, inputs, *args, **kwargs):
        if flatten(inputs):
            return call_symbolic(self, inputs)
        return self.call(inputs)

    @property
    def summary_type(self) -> str:
        """The type ``summary()`` prints, as Keras names its op classes (``relu`` -> ``Relu``)."""
        return "".join(part.capitalize() for part in self.op_name.rpartition(".")[2].split("_"))

    def call(self, inputs):
        values = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        return self.op(*_fill(self.template_args, values), **_fill(self.template_kwargs, values))

    def _probe(self, input_shape, unknown: int):
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        dtypes = self._input_dtypes or [backend.floatx()] * len(shapes)
        # ones, not zeros: an op such as log or 1 / x stays finite on them; text ("string",
        # held as object) is probed with arrays of empty strings, as it runs
        ones = [np.full(tuple(unknown if s is None else s for s in shape), "", object)
                if is_text_dtype(dtype) else
                Tensor(np.ones(tuple(unknown if s is None else s for s in shape), dtype), dtype=dtype)
                for shape, dtype in zip(shapes, dtypes)]
        with no_grad(), np.errstate(all="ignore"):
            return self.call(ones if isinstance(input_shape, list) else ones[0])

    def compute_output_shape(self, input_shape):
        first = second = None
        # unknown sizes probed with two values; an op that needs them divisible (a reshape to
        # ``(-1, k, n)``) gets highly composite ones when 2 and 3 do not fit
        for small, large in ((2, 3), (12, 24), (60, 120)):
            try:
                first, second = self._probe(input_shape, small), self._probe(input_shape, large)
                break
            except ValueError:
                if small == 60 or not _has_unknown(input_shape):
                    raise

        def shape(a, b):
            return tuple(None if x != y else x for x, y in zip(np.shape(a), np.shape(b)))
        if isinstance(first, (list, tuple)):
            self._output_dtypes = [_dtype_of(o) for o in first]
            return [shape(a, b) for a, b in zip(first, second)]
        self._output_dtypes = [_dtype_of(first)]
        return shape(first, second)

    def get_config(self):
        where = f"SymbolicOp {self.name!r} ({self.op_name})"
        return {**super().get_config(), "op": self.op_name,
                "args": _to_json(self.template_args, where), "kwargs": _to_json(self.template_kwargs, where)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        op, args, kwargs = config.pop("op"), _from_json(config.pop("args", [])), _from_json(config.pop("kwargs", {}))
        return cls(op, tuple(args), kwargs, **config)


def record(op, args, kwargs):
    """``op(*args, **kwargs)`` on KerasTensors, as a ``SymbolicOp`` node; its symbolic output(s)."""
    tensors: list[KerasTensor] = []
    template_args, template_kwargs = _template(tuple(args), tensors), _template(dict(kwargs), tensors)
    if not tensors:  # the SymbolicInputError came from elsewhere: not a symbolic call
        raise backend.SymbolicInputError(f"{op.__name__}: a symbolic tensor was met where a value was needed")
    layer = SymbolicOp(op, template_args, template_kwargs)
    layer._input_dtypes = [t.dtype for t in tensors]
    out = call_symbolic(layer, tensors if len(tensors) > 1 else tensors[0])
    for t, dtype in zip(out if isinstance(out, list) else [out], layer._output_dtypes):
        t.dtype = np.dtype(dtype)
    return out


class OperationCall(SymbolicOp):
    """One call of a user's ``Operation`` on KerasTensors, recorded in a functional graph: it runs
    the operation's ``call`` when the model runs. Listed in ``model.operations``, not in
    ``model.layers`` (it has no weights), as Keras lists an Operation."""

    _operation_only = True

    def __init__(self, operation, args=(), kwargs=None, **layer_kwargs):
        self.operation = operation
        self.op_name = operation.name
        self.op = operation.call
        layer_kwargs.setdefault("name", operation.name)
        Layer.__init__(self, **layer_kwargs)
        self.template_args, self.template_kwargs = tuple(args), dict(kwargs or {})
        self._float_inputs = False
        self._input_dtypes = []

    def compute_output_shape(self, input_shape):
        if "compute_output_spec" not in _defined_below(type(self.operation)):
            return super().compute_output_shape(input_shape)
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        dtypes = self._input_dtypes or [backend.floatx()] * len(shapes)
        specs = [KerasTensor(shape, dtype) for shape, dtype in zip(shapes, dtypes)]
        out = self.operation.compute_output_spec(*_fill(self.template_args, specs),
                                                 **_fill(self.template_kwargs, specs))
        outs = flatten(out)
        self._output_dtypes = [t.dtype for t in outs]
        if isinstance(out, (list, tuple)):
            return [tuple(t.shape) for t in outs]
        return tuple(out.shape)

    @property
    def summary_type(self) -> str:
        return type(self.operation).__name__

    def get_config(self):
        raise NotImplementedError(f"The model holds a call of the Operation {self.operation.name!r} "
                                  f"({type(self.operation).__name__}), which cannot be saved to a model config")


def _defined_below(cls) -> set:
    """The names the classes from ``cls`` up to (not including) ``Operation`` define."""
    names = set()
    for klass in cls.__mro__:
        if klass is Operation:
            break
        names |= set(vars(klass))
    return names


def record_operation(operation, args, kwargs):
    """``operation(*args, **kwargs)`` on KerasTensors, as an ``OperationCall`` node; its symbolic output(s)."""
    tensors: list[KerasTensor] = []
    template_args, template_kwargs = _template(tuple(args), tensors), _template(dict(kwargs), tensors)
    layer = OperationCall(operation, template_args, template_kwargs)
    layer._input_dtypes = [t.dtype for t in tensors]
    out = call_symbolic(layer, tensors if len(tensors) > 1 else tensors[0])
    operation._inbound_nodes.append(layer._inbound_nodes[-1])
    for t, dtype in zip(out if isinstance(out, list) else [out], layer._output_dtypes):
        t.dtype = np.dtype(dtype)
    return out
