"""A layer's state as Keras 3 hands it out: variable paths, variable lists, per-layer stores
for saving, calls on given variable values, and the small attributes Keras programs read.

``Layer`` inherits these; none of them runs on the per-call path (a layer opens its name
scope only while it is built, on its first call).
"""
from __future__ import annotations

import inspect

import numpy as np

from ..autograd import Tensor
from ..autograd.engine import _topological_order as topological_order
from .. import backend
from ..backend import current_path, name_scope
from ..symbolic import KerasTensor, call_symbolic, dtype_of, map_inputs
from .input_spec import assert_input_compatibility
from .operation import Operation


def _is_metric(value) -> bool:
    """A metric object (metrics live on a higher floor: known by their protocol)."""
    return (not isinstance(value, type) and callable(getattr(value, "update_state", None))
            and callable(getattr(value, "result", None)) and callable(getattr(value, "reset_state", None))
            and not hasattr(value, "_inbound_nodes"))


def _values(values, what: str, expected: list, owner: str) -> list:
    values = list(values)
    if len(values) != len(expected):
        raise ValueError(f"Argument `{what}` must be a list of tensors corresponding 1:1 to {owner}().{what}. "
                         f"Received list with length {len(values)}, but expected {len(expected)} variables.")
    out = []
    for v, var in zip(values, expected):
        array = np.asarray(v.data if isinstance(v, Tensor) else v)
        if array.shape != var.shape:
            raise ValueError(f"{owner}: the value for variable {var.path!r} has shape {array.shape}, "
                             f"the variable has shape {var.shape}")
        out.append(array)
    return out


class swapped_values:
    """``with swapped_values(variables, arrays):`` the variables hold copies of ``arrays`` inside
    and their own arrays again after (Keras's ``StatelessScope``: nothing outside changes). The
    arrays are swapped, not written over, so a graph recorded inside keeps the values it saw."""

    def __init__(self, variables: list, arrays: list):
        self.variables, self.arrays = variables, arrays

    def __enter__(self):
        self.saved = [v.data for v in self.variables]
        for var, array in zip(self.variables, self.arrays):
            var.data = np.array(array, dtype=var.data.dtype, order="C")
        return self

    def __exit__(self, *exc):
        for var, array in zip(self.variables, self.saved):
            var.data = array


def route_gradients(outputs, variables: list, values: list) -> None:
    """Make the graph of ``outputs`` read each Tensor of ``values`` that requires a gradient
    where it read the matching variable, so gradients reach the values passed in (Keras's
    stateless calls are differentiable in the values given, as on its PyTorch backend)."""
    mapping = {id(var): value for var, value in zip(variables, values)
               if isinstance(value, Tensor) and value.requires_grad and value is not var}
    if not mapping:
        return
    roots = [t._ctx for t in _flat_tensors(outputs) if t._ctx is not None]
    for fn in topological_order(roots):
        inputs = fn.inputs
        if any(id(x) in mapping for x in inputs):
            fn.inputs = tuple([mapping.get(id(x), x) for x in inputs])


def _flat_tensors(value) -> list:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flat_tensors(v)]
    return []


UNCHECKED_SPEC = object()   # the shape no input has: a layer's spec is checked on its next call


def _shape_of(x) -> tuple:
    return tuple(x.shape)


class LayerState(Operation):
    """Keras's state API of a layer (mixed into ``Layer``)."""

    activity_regularizer = None
    supports_jit = True         # Keras's flag; every layer runs eagerly here
    autocast = True             # variables seen in the compute dtype under a mixed policy
    _parent_path = None
    _path = None

    # ----------------------------------------------------------------- paths
    @property
    def path(self):
        """``"sequential/dense"``: the names of the layers around this one when it was built
        (None before it is built), as Keras's ``Layer.path``."""
        return self._path

    def _open_name_scope(self):
        """The layer's scope; its parent path is fixed the first time it opens."""
        if self._parent_path is None:
            self.__dict__["_parent_path"] = current_path()
        return name_scope(self.name, caller=self, override_parent=self._parent_path)

    def _variable_path(self, name) -> str:
        """The path of a variable this layer creates: its own path (fixed here when it is
        built without a call, ``layer.build(shape)``) and the variable's name."""
        if self._path is None:
            with self._open_name_scope():
                self.__dict__["_path"] = current_path()
        return f"{self._path}/{name}"

    # ----------------------------------------------------------------- variables
    @property
    def metrics(self) -> list:
        """The metric objects held by this layer and its sub-layers."""
        found = [v for k, v in vars(self).items() if not k.startswith("_") and _is_metric(v)]
        for layer in self._layers:
            found += [m for m in layer.metrics if m not in found]
        return found

    @property
    def metrics_variables(self) -> list:
        """The state variables of ``metrics``."""
        return [v for m in self.metrics for v in getattr(m, "variables", [])]

    def add_variable(self, shape, initializer, dtype=None, trainable=True, autocast=True, regularizer=None,
                     constraint=None, name=None):
        """``add_weight`` with Keras's ``add_variable`` argument order (shape, initializer, ...)."""
        return self.add_weight(name=name, shape=shape, initializer=initializer, dtype=dtype, trainable=trainable,
                               autocast=autocast, regularizer=regularizer, constraint=constraint)

    def add_metric(self, *args, **kwargs):
        raise NotImplementedError(
            "Layer `add_metric()` method is deprecated. Add your metric in `Model.compile(metrics=[...])`, or "
            "create metric trackers in init() or build() when subclassing the layer or model, then call "
            "`metric.update_state()` whenever necessary.")

    def _own_variables(self) -> list:
        """Own variables in Keras's store order: trainable at creation first, then the rest."""
        own = list(self._weights)
        created = [w.__dict__.get("_created_trainable", w.trainable) for w in own]
        return [w for w, c in zip(own, created) if c] + [w for w, c in zip(own, created) if not c]

    def save_own_variables(self, store) -> None:
        """``store["0"], store["1"], ...``: this layer's own variables (not its sub-layers')."""
        for i, v in enumerate(self._own_variables()):
            store[f"{i}"] = v.data.copy()

    def load_own_variables(self, store) -> None:
        """Assign ``save_own_variables``'s entries back, checking their count and shapes."""
        own = self._own_variables()
        if len(store.keys()) != len(own):
            if not own and not self.built:
                raise ValueError(f"Layer '{self.name}' was never built and thus it doesn't have any variables. "
                                 f"However the weights file lists {len(store.keys())} variables for this layer.")
            raise ValueError(f"Layer '{self.name}' expected {len(own)} variables, but received "
                             f"{len(store.keys())} variables during loading. Expected: {[v.name for v in own]}")
        values = _values([store[f"{i}"] for i in range(len(own))], "variables", own, type(self).__name__)
        for var, value in zip(own, values):
            var.assign(value)

    # ----------------------------------------------------------------- small attributes
    @property
    def input_dtype(self) -> str:
        """The dtype float inputs are cast to on entry (the compute dtype)."""
        return str(np.dtype(self.compute_dtype)) if np.dtype(self.compute_dtype) != np.dtype(object) else "string"

    @property
    def quantization_mode(self):
        """``"int8"`` etc. when the layer's policy quantizes it, else None."""
        policy = self._dtype_policy
        return None if policy is None else policy.quantization_mode

    @property
    def call_signature_parameters(self) -> list:
        """The names of ``call``'s parameters."""
        return list(inspect.signature(self.call).parameters)

    def quantize(self, mode=None, type_check=True, config=None):
        raise NotImplementedError(f"Layer {type(self).__name__} does not have a `quantize` method implemented.")

    def quantized_build(self, input_shape, mode, config=None):
        raise NotImplementedError(f"Layer {type(self).__name__} does not have a `quantized_build` method "
                                  "implemented.")

    def quantized_call(self, *args, **kwargs):
        raise NotImplementedError(f"Layer {type(self).__name__} does not have a `quantized_call` method "
                                  "implemented.")

    def rematerialized_call(self, layer_call, *args, **kwargs):
        """``layer_call``, or it rematerialized, by the settings of the ``RematScope`` the layer was
        made in (Keras's rule): ``"activations"`` rematerializes only the layer's activation
        function, when it has one; ``"list_of_layers"`` the whole call when the layer's name is
        listed; ``"full"`` and ``"larger_than"`` as ``Operation.rematerialized_call``."""
        mode = self._remat_mode
        if not mode:
            return layer_call
        if mode.mode == "activations":
            if getattr(self, "activation", None) is None:
                return layer_call

            def call_with_rematerialized_activation(*args, **kwargs):
                original = self.activation
                self.activation = backend.remat(original)
                try:
                    return layer_call(*args, **kwargs)
                finally:
                    self.activation = original

            return call_with_rematerialized_activation
        if mode.mode == "list_of_layers":
            return backend.remat(layer_call) if self.name in mode.layer_names else layer_call
        return super().rematerialized_call(layer_call, *args, **kwargs)

    # ----------------------------------------------------------------- building
    def build_from_config(self, config) -> None:
        """Build from ``get_build_config()``'s dict (``{"input_shape": ...}``) when given one."""
        if not config:
            return
        if "input_shape" in config:
            shape = config["input_shape"]
        elif "shapes_dict" in config:
            shapes = list(config["shapes_dict"].values())
            shape = shapes[0] if len(shapes) == 1 else shapes
        else:
            return
        if not self.built:
            with self._open_name_scope():
                self.__dict__["_path"] = current_path()
                self._maybe_build(shape)

    # ----------------------------------------------------------------- the input spec
    # What ``__call__`` knows of the spec: None when there is none; else the shape of the last input
    # that met it (``UNCHECKED_SPEC`` before the first), so a call checks again only when the shape changes
    _spec_shape = None

    @property
    def input_spec(self):
        """An ``InputSpec`` (or a list of them, one per input) that the first argument of every
        call must meet, as in Keras; layers set it in ``__init__`` or ``build``, users may too."""
        return self.__dict__.get("_input_spec")

    @input_spec.setter
    def input_spec(self, value):
        self.__dict__["_input_spec"] = value
        self.__dict__["_spec_shape"] = UNCHECKED_SPEC if value else None

    def _check_input_spec(self, input_shape, dtypes=None) -> None:
        """Raise, in Keras's words, when inputs of ``input_shape`` (a shape, or a list or dict
        of them) do not meet the layer's input spec."""
        spec = self.input_spec
        if spec:
            assert_input_compatibility(spec, input_shape, self.name, dtypes)

    def _check_call_input(self, inputs) -> None:
        """Check a call's first argument against the input spec, and remember the shape of a
        Tensor that met it so that the next calls with that shape skip the check (a spec on
        dtypes is checked on every call)."""
        self._check_input_spec(map_inputs(_shape_of, inputs), map_inputs(dtype_of, inputs))
        specs = self.input_spec
        if isinstance(inputs, Tensor) and not any(
                getattr(s, "dtype", None) for s in (specs if isinstance(specs, (list, tuple)) else [specs])):
            self.__dict__["_spec_shape"] = inputs.data.shape

    def compute_output_spec(self, *args, **kwargs):
        """The KerasTensor(s) ``call`` would return for inputs of the given shapes."""
        inputs = args[0] if args else kwargs.get("inputs")

        def shape_of(x):
            return [shape_of(t) for t in x] if isinstance(x, (list, tuple)) else tuple(x.shape)

        shapes = self.compute_output_shape(shape_of(inputs))
        dtype = self.compute_dtype
        if isinstance(shapes, list) and shapes and isinstance(shapes[0], (list, tuple)):
            return [KerasTensor(s, dtype=dtype) for s in shapes]
        return KerasTensor(shapes, dtype=dtype)

    def symbolic_call(self, *args, **kwargs):
        """Record this layer's call on KerasTensors and return its symbolic outputs."""
        return call_symbolic(self, *args, **kwargs)

    # ----------------------------------------------------------------- calls on given values
    def stateless_call(self, trainable_variables, non_trainable_variables, *args, return_losses=False, **kwargs):
        """``(outputs, non_trainable_variables)``: ``call`` with the variables holding the given
        values, the updated non-trainable values returned, and the layer itself left unchanged."""
        if not self.built:
            raise ValueError(f"To call stateless_call, {type(self).__name__} must be built (i.e. its variables "
                             "must have been already created). You can build it by calling it on some data.")
        trainable, non_trainable = self.trainable_variables, self.non_trainable_variables
        owner = type(self).__name__
        arrays = (_values(trainable_variables, "trainable_variables", trainable, owner)
                  + _values(non_trainable_variables, "non_trainable_variables", non_trainable, owner))
        with swapped_values(trainable + non_trainable, arrays):
            outputs = self(*args, **kwargs)
            route_gradients(outputs, trainable, list(trainable_variables))
            new_non_trainable = [Tensor(v.data.copy(), dtype=v.dtype) for v in non_trainable]
            losses = list(self.losses) if return_losses else None
        if return_losses:
            return outputs, new_non_trainable, losses
        return outputs, new_non_trainable

