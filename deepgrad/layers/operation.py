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

from .. import backend
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

    def __call__(self, *args, **kwargs):
        if any(isinstance(x, KerasTensor) for x in flatten((args, kwargs))):
            return self.symbolic_call(*args, **kwargs)
        return self.call(*args, **kwargs)

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"Operation {type(self).__name__} does not define `call`")

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


def unique_name(base: str) -> str:
    """``dense``, ``dense_1``, ``dense_2``, ... as Keras names them (from ``backend.get_uid``)."""
    return backend.auto_name(base)
