"""``Operation``: Keras's base of layers and ops, for a computation without weights.

A subclass defines ``call`` (and, optionally, ``compute_output_spec``); an instance is called
like a function. On values it runs ``call``; on the ``KerasTensor``s of a functional model being
defined it becomes a node of the graph (a ``SymbolicOp`` that runs ``call`` when the model is
called), and its output shape comes from ``compute_output_spec`` when the subclass defines it,
otherwise from running ``call`` on ones (see ``symbolic_op``). Every ``Layer`` is an
``Operation``, as in Keras; ``model.layers`` lists the layers and ``model.operations`` the
operations too.
"""
from __future__ import annotations

import inspect
import math

from .. import backend
from ..autograd import Tensor
from ..naming import to_snake_case
from ..symbolic import KerasTensor, flatten


class Operation:
    # set by ``deepgrad.layers`` once its SymbolicOp exists (a module that imports this one):
    # records ``operation(*args, **kwargs)`` on KerasTensors and returns the symbolic output
    _record = None
    _operation_only = False  # True for an op's node of a functional graph: listed in model.operations only

    def __init__(self, name=None):
        if name is not None and (not isinstance(name, str) or "/" in name):
            raise ValueError(f"Argument `name` must be a string and cannot contain character `/`. "
                             f"Received: name={name} (of type {type(name)})")
        self.name = name if name is not None else unique_name(to_snake_case(type(self).__name__))
        self._inbound_nodes = []
        adopt_remat_mode(self)

    def __call__(self, *args, **kwargs):
        if any(isinstance(x, KerasTensor) for x in flatten((args, kwargs))):
            return self.symbolic_call(*args, **kwargs)
        return self.call(*args, **kwargs)

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"Operation {type(self).__name__} does not define `call`")

    _remat_mode = None  # the RematScope settings it was made under (see ``adopt_remat_mode``)

    def rematerialized_call(self, fn, *args, **kwargs):
        """``fn`` (the ``call`` about to run on ``args``), or it rematerialized, by the settings of
        the ``RematScope`` this operation was made in: always for ``"full"``; for
        ``"larger_than"`` when its output has more than ``output_size_threshold`` elements."""
        mode = self._remat_mode
        if not mode:
            return fn
        if mode.mode == "full":
            return backend.remat(fn)
        if mode.mode == "larger_than" and self._output_size(args, kwargs) > mode.output_size_threshold:
            return backend.remat(fn)
        return fn

    def _output_size(self, args, kwargs) -> int:
        """Elements of the output for these inputs (unknown dimensions count 1, as Keras counts),
        from ``compute_output_spec``, remembered per input shape; 0 when it cannot be told."""
        key = tuple(tuple(x.shape) if hasattr(x, "shape") else None for x in flatten((args, kwargs)))
        sizes = self.__dict__.setdefault("_remat_output_sizes", {})
        if key not in sizes:
            try:
                spec = self.compute_output_spec(*args, **kwargs)
                sizes[key] = sum(math.prod(d or 1 for d in t.shape)
                                 for t in flatten(spec) if isinstance(t, KerasTensor))
            except Exception:  # an output shape that cannot be inferred: the call is left as it is
                sizes[key] = 0
        return sizes[key]

    def symbolic_call(self, *args, **kwargs):
        """Record this call on KerasTensors as a graph node; its symbolic output(s)."""
        return Operation._record(self, args, kwargs)

    def compute_output_spec(self, *args, **kwargs):  # pragma: no cover - replaced by the probe when not overridden
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _first_node(self, what: str):
        nodes = self.__dict__.get("_inbound_nodes") or []
        if not nodes:
            raise AttributeError(f"The operation {self.name!r} has never been called on a symbolic input and thus "
                                 f"has no defined {what}.")
        return nodes[0]

    @property
    def input(self):
        """What its first call on KerasTensors read."""
        node = self._first_node("input")
        inputs = node.parents
        return inputs[0] if len(inputs) == 1 else inputs

    @property
    def output(self):
        """What its first call on KerasTensors gave."""
        outputs = self._first_node("output").outputs
        return outputs[0] if len(outputs) == 1 else outputs

    def __repr__(self) -> str:
        return f"<Operation name={self.name}>"


class RematCall:
    """The ``call`` of an operation made inside a ``RematScope`` (set on the instance, so that
    every other operation's call pays nothing for rematerialization): the class's ``call``,
    passed through ``rematerialized_call`` on each call, as Keras's ``Operation.__call__`` does."""

    def __init__(self, operation):
        self.operation = operation

    def __call__(self, *args, **kwargs):
        op = self.operation
        call = type(op).call.__get__(op)
        # a layer under a mixed policy holds its variables' casts while it is called: the
        # recomputation must read those same tensors, so it sets them again around its call
        casts = {k: v for k, v in op.__dict__.items() if isinstance(v, Tensor) and v._ctx is not None}
        if casts:
            call = _with_attributes(op, casts, call)
        return op.rematerialized_call(call, *args, **kwargs)(*args, **kwargs)

    @property
    def __signature__(self):
        return inspect.signature(type(self.operation).call.__get__(self.operation))


def _with_attributes(op, values: dict, call):
    """``call`` run with ``op``'s attributes set to ``values`` (and set back after)."""
    def call_with_attributes(*args, **kwargs):
        before = {k: op.__dict__.get(k) for k in values}
        for k, v in values.items():
            object.__setattr__(op, k, v)
        try:
            return call(*args, **kwargs)
        finally:
            for k, v in before.items():
                object.__setattr__(op, k, v)
    return call_with_attributes


def adopt_remat_mode(operation) -> None:
    """Keras's rule: an operation made inside a ``RematScope`` keeps that scope's settings for
    all its calls (the scope open at call time does not matter)."""
    mode = backend.get_current_remat_mode()
    if mode is None:
        return
    operation.__dict__["_remat_mode"] = mode
    if mode.mode is not None:
        operation.__dict__["call"] = RematCall(operation)


def unique_name(base: str) -> str:
    """``dense``, ``dense_1``, ``dense_2``, ... as Keras names them (from ``backend.get_uid``)."""
    return backend.auto_name(base)
