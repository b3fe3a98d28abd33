"""``Layer``: lazy ``build(input_shape)``, ``add_weight``, ``call``, the Keras way."""
from __future__ import annotations

import collections
import functools
import inspect
import numpy as np

from .. import allocation, backend, constraints, dtype_policies, initializers, regularizers
from ..autograd import Tensor, Variable, no_grad
from ..autograd.scopes import get_stateless_scope, note_write
from ..backend import current_path
from ..naming import to_snake_case
from ..ops.manipulation import is_text
from ..seed_generator import SeedGenerator
from ..symbolic import (KerasTensor, call_symbolic, flatten, merge_traced_shapes, state_kept, traced_shapes, tracing,
                        tracing_training)
from .operation import Operation, adopt_remat_mode, unique_name
from .layer_state import UNCHECKED_SPEC, LayerState
from .tracking import TrackedDict, TrackedList

def apply_activation(activation, x):
    """``activation(x)``, or ``x`` when the activation was set to None after construction
    (``model.layers[-1].activation = None`` to read logits, as Keras allows)."""
    return x if activation is None else activation(x)


def reset_names() -> None:
    backend.reset_uids()


def _layer_policy(dtype, name: str, cls: str, modes: tuple = ()):
    """``(policy, variable dtype)`` of a layer made with ``dtype`` (a name, a NumPy dtype, a
    policy or its config dict); ``(None, None)`` when neither ``dtype`` nor a global policy is
    given (the layer then follows ``floatx``), ``(None, dtype)`` for a string dtype (text
    layers). Quantized policies are refused here, by mode, unless the layer runs that mode
    (``modes``, its ``_quantization_modes``)."""
    if dtype is None:
        if dtype_policies._global_policy is None:
            return None, None
        dtype = dtype_policies.dtype_policy()
    if isinstance(dtype, str) and dtype == "string":  # Keras's text dtype: Python strings in object arrays
        return None, np.dtype(object)
    if not isinstance(dtype, (dict, dtype_policies.DTypePolicy)) and str(dtype) not in ("bfloat16", "mixed_float16",
                                                                                      "mixed_bfloat16"):
        try:
            kind = None if str(dtype).startswith(dtype_policies.QUANTIZATION_MODES) else np.dtype(dtype).kind
        except TypeError:  # not a NumPy dtype: dtype_policies.get says what is wrong with it
            kind = None
        if kind in ("U", "S", "O"):
            return None, np.dtype(dtype)
    policy = dtype_policies.get(dtype)
    if isinstance(policy, dtype_policies.DTypePolicyMap):
        policy = policy[name]
    if policy.quantization_mode is not None and policy.quantization_mode not in modes:
        raise NotImplementedError(f"{cls} {name!r}: the dtype policy {policy.name!r} quantizes with mode "
                                  f"{policy.quantization_mode!r}, which deepgrad's layers do not run")
    return policy, policy.numpy_variable_dtype


def _to_tensor(x, dtype, float_inputs: bool = False) -> Tensor:
    """Inputs enter a layer in the layer's dtype; integers and bools stay as they are (an
    Embedding reads them) unless the layer computes in floats (``float_inputs``)."""
    if isinstance(x, Tensor):
        if x.dtype == dtype or (x.dtype.kind != "f" and not (float_inputs and x.dtype.kind in "iub")):
            return x
        return x.astype(dtype)
    if x is None:  # an optional input left out, e.g. a recurrent layer's initial_state
        return x
    x = x if isinstance(x, np.ndarray) else np.asarray(x)
    if is_text(x):  # text enters as it is (Keras casts only numbers), for the layer's call to look up
        return x
    x = backend.real_array(x)
    if x.dtype.kind in "iub" and not float_inputs:
        return Tensor(x, dtype=x.dtype)
    return Tensor(x.astype(dtype, copy=False))


# the argument values a config can hold as they are (Keras's rule for automatic configs)
_PLAIN_TYPES = (str, int, float, bool, type(None))


def _plain(value) -> bool:
    """True when ``value`` is a plain value, or lists, tuples and dicts of them."""
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return isinstance(value, (_PLAIN_TYPES, np.integer, np.floating, np.bool_))


def _constructor_arguments(cls, args, kwargs) -> dict:
    """The arguments a layer was constructed with, by name, defaults filled in and ``**kwargs``
    merged, as Keras records them for a layer without its own ``get_config``:
    ``{"arguments": {...}}``, or ``{"error": why}`` when they cannot make a config."""
    signature = inspect.signature(cls.__init__)
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError as e:  # __init__ itself will say what is wrong
        return {"error": f"its arguments do not match {cls.__name__}.__init__ ({e})"}
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    params = list(signature.parameters.values())
    arguments.pop(params[0].name, None)  # self
    for p in params[1:]:
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(arguments.pop(p.name, {}))
        elif p.kind is inspect.Parameter.VAR_POSITIONAL and arguments.pop(p.name, ()):
            return {"error": f"{cls.__name__}.__init__ was given variadic positional arguments (*{p.name})"}
        elif p.kind is inspect.Parameter.POSITIONAL_ONLY:
            return {"error": f"{cls.__name__}.__init__ takes the positional-only argument {p.name!r}"}
    arguments.pop("name", None)  # get_config writes the layer's own name
    bad = sorted(k for k, v in arguments.items() if not _plain(v))
    if bad:
        return {"error": f"the argument(s) {bad} of {cls.__name__}.__init__ are not plain values "
                         "(str, int, float, bool, None, or lists and dicts of them)"}
    return {"arguments": arguments}


def dtype_name(dtype) -> str:
    """A layer's dtype as a config writes it: ``"float32"``, ..., ``"string"`` for text."""
    return "string" if np.dtype(dtype) == np.dtype(object) else str(np.dtype(dtype))


def _shape_of(x):
    if isinstance(x, (list, tuple)):
        return [_shape_of(t) for t in x]
    return tuple(x.shape)


def _recording_build(build):
    """``build`` that, called directly (``layer.build((None, 8))``) as well as on first use, marks
    the layer built and remembers the shape it was built for (``get_build_config``), as Keras's."""
    try:
        params = list(inspect.signature(build).parameters.values())[1:]
    except (TypeError, ValueError):
        params = None
    # ``def build(self):`` takes no shape; Keras then calls it with none
    no_shape = params is not None and not any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY, p.VAR_POSITIONAL) for p in params)

    @functools.wraps(build)
    def recording_build(self, *args, **kwargs):
        # in the layer's own scope, as on a call, so the layers it builds in turn sit under it
        # ("time_distributed/dense/kernel"); a scope already open for this layer is not doubled
        with self._open_name_scope():
            if self._path is None:
                self.__dict__["_path"] = current_path()
            out = build(self) if no_shape else build(self, *args, **kwargs)
        if self.__dict__.get("input_shape_built") is None:
            shape = args[0] if args else kwargs.get("input_shape")
            if shape is not None:
                self.input_shape_built = shape
        self.built = True
        return out
    recording_build._records_shape = True
    return recording_build


NO_INPUTS = object()  # ``__call__``'s default: the inputs were passed by keyword (or not at all)


# Keras's call context: the ``training`` mode of the innermost call given one explicitly, handed to
# the nested calls given none (a Dropout inside a custom layer's ``call`` trains within ``fit``)
_context_training = None


def call_training():
    """The ``training`` mode the current layer call runs in: the one an enclosing call was given
    explicitly, or None outside any (Keras's ``CallContext.training``)."""
    return _context_training


def call_in_training_context(mode, call, /, *args, **kwargs):
    """``call(*args, **kwargs)`` with ``mode`` as the ``training`` nested calls inherit."""
    global _context_training
    outer, _context_training = _context_training, mode
    try:
        return call(*args, **kwargs)
    finally:
        _context_training = outer


def inputs_from_kwargs(layer, kwargs: dict):
    """The inputs of a call that named them (``layer(images=x)``), as Keras binds ``call``'s first
    parameter; removed from ``kwargs``."""
    params = [p for p in inspect.signature(layer.call).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    name = params[0].name if params else "inputs"
    if name not in kwargs:
        raise TypeError(f"{type(layer).__name__} {layer.name!r}: no inputs given; pass them as the first "
                        f"argument or as {name}=... (call's first parameter)")
    return kwargs.pop(name)


class Layer(LayerState):
    """Base class of every layer. Subclasses override ``build`` and ``call``.

    ``__call__`` builds the layer on first use from the input's shape (``(None,) + shape[1:]``
    as Keras passes it), casts inputs to the layer's dtype and passes ``training`` and
    ``mask`` on to ``call`` when its signature accepts them.
    """

    def __new__(cls, *args, **kwargs):
        instance = super().__new__(cls)
        # A subclass without its own get_config saves the arguments it was constructed with
        # (Keras's automatic config); recorded here, before __init__ runs.
        if cls.get_config is Layer.get_config and cls is not Layer:
            instance.__dict__["_auto_config"] = _constructor_arguments(cls, args, kwargs)
        return instance

    # Integer and bool inputs are cast to the layer's float dtype when its math needs floats
    # (normalization, averaging, recurrence); otherwise they pass through, as an Embedding needs.
    _float_inputs = False
    # A layer with no state to create is built when made (Keras's ``_build_at_init``), unless a
    # subclass gives it a ``build`` of its own
    _built_at_init = False

    def __init__(self, trainable: bool = True, name: str | None = None, dtype=None, **kwargs):
        input_shape = kwargs.pop("input_shape", None)
        input_dim = kwargs.pop("input_dim", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        if not kwargs.pop("autocast", True):
            self.autocast = False
        activity_regularizer = kwargs.pop("activity_regularizer", None)
        if activity_regularizer is not None:  # Keras's base Layer takes it for every layer
            self.activity_regularizer = regularizers.get(activity_regularizer)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {sorted(kwargs)}")
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape[1:])
        self._input_shape_arg = tuple(input_shape) if input_shape is not None else None
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        # the variables' dtype; None follows floatx (no dtype and no global policy given); Keras's
        # "string" (text inputs) is held as NumPy's object dtype
        self._dtype_policy, self._dtype = _layer_policy(dtype, self.name, type(self).__name__,
                                                        getattr(self, "_quantization_modes", ()))
        self._trainable = trainable
        self.built = self._built_at_init
        self.supports_masking = False
        # layers and variables assigned before ``super().__init__()`` stay tracked, as in Keras
        self._weights: list[Variable] = self.__dict__.get("_weights", [])
        self._layers: list[Layer] = self.__dict__.get("_layers", [])
        self._activity_losses: list = []
        self.input_shape_built = None
        self._inbound_nodes: list = []   # one symbolic Node per call on KerasTensors
        call_params = inspect.signature(self.call).parameters
        self._call_takes_training = "training" in call_params
        self._call_takes_mask = "mask" in call_params
        adopt_remat_mode(self)

    # ----------------------------------------------------------------- tracking
    def __setattr__(self, key, value):
        if not key.startswith("_"):
            if key != "built":
                value = self._track_attribute(value)
        elif self._tracks_private and isinstance(value, (Layer, Variable)):
            # Keras tracks every attribute: a user's ``self._attention = MultiHeadAttention(...)``
            # is a sub-layer (deepgrad's own classes keep their private attributes untracked)
            value = self._track_attribute(value)
        object.__setattr__(self, key, value)

    def _flatten_layers(self, include_self: bool = True, recursive: bool = True) -> list:
        """This layer (``include_self``) and its sub-layers, each once, in Keras's order: a
        sub-layer's own sub-layers are visited next, last first (``deque.extendleft``)."""
        found = [self] if include_self else []
        seen, queue = set(), collections.deque(self._layers)
        while queue:
            layer = queue.popleft()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            found.append(layer)
            if recursive:
                queue.extendleft(getattr(layer, "_layers", ()))
        return found

    def _track_attribute(self, value):
        """Keras's tracking of an attribute's value: a layer becomes a sub-layer and a variable a
        weight, each once, also inside (nested, mixed) lists, tuples and dicts; a plain list or dict
        is kept as a tracking one, so what is added to it later is tracked too."""
        if isinstance(value, Layer):
            layers = self.__dict__.setdefault("_layers", [])
            if not any(layer is value for layer in layers):
                layers.append(value)
        elif isinstance(value, Variable):
            self._track_variable(value)
        elif isinstance(value, SeedGenerator):  # its state is one of the layer's variables, as in Keras
            generators = self.__dict__.setdefault("_seed_generators", [])
            if all(g is not value for g in generators):
                generators.append(value)
        elif type(value) is list or (type(value) is TrackedList and value._owner is not self):
            value = TrackedList([self._track_attribute(v) for v in value], self)
        elif type(value) is TrackedList:  # the same list assigned back (``self.blocks += [...]``)
            for v in value:
                self._track_attribute(v)
        elif type(value) is dict or (type(value) is TrackedDict and value._owner is not self):
            value = TrackedDict({k: self._track_attribute(v) for k, v in value.items()}, self)
        elif type(value) is TrackedDict:
            for v in value.values():
                self._track_attribute(v)
        elif type(value) is tuple:
            value = tuple([self._track_attribute(v) for v in value])
        elif isinstance(value, (list, tuple, dict)):  # a named tuple, an OrderedDict: kept as they are
            for v in (value.values() if isinstance(value, dict) else value):
                self._track_attribute(v)
        return value

    def _untrack_attribute(self, value) -> None:
        """A layer or variable taken out of a tracked list or dict stops being tracked."""
        if isinstance(value, Layer):
            layers = self.__dict__.get("_layers", [])
            self._layers = [layer for layer in layers if layer is not value]
        elif isinstance(value, Variable):
            weights = self.__dict__.get("_weights", [])
            self._weights = [w for w in weights if w is not value]

    def _track_variable(self, variable: Variable) -> None:
        """A variable made outside ``add_weight`` (``self.w = keras.Variable(...)``) becomes one of
        this layer's weights, as Keras tracks it; one that a layer already owns is not taken over."""
        if "_created_trainable" in variable.__dict__:
            return
        variable._created_trainable = variable.trainable
        self.__dict__.setdefault("_weights", []).append(variable)

    @property
    def dtype(self):
        """The dtype of the layer's variables (NumPy's dtype object)."""
        return self._dtype if self._dtype is not None else np.dtype(backend.floatx())

    variable_dtype = dtype

    @property
    def compute_dtype(self):
        """The dtype the layer computes in and casts float inputs to: its policy's (float16 for
        "mixed_float16"; float32 for the bfloat16 policies, see ``deepgrad.dtype_policies``)."""
        policy = self._dtype_policy
        return self.dtype if policy is None else policy.numpy_compute_dtype

    @property
    def dtype_policy(self):
        """The layer's ``DTypePolicy`` ("float32" etc., or "mixed_float16": float16 math, float32 variables)."""
        return self._dtype_policy if self._dtype_policy is not None else dtype_policies.DTypePolicy(backend.floatx())

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = value

    @property
    def weights(self) -> list[Variable]:
        """Keras's order: the layer's own trainable weights, its own non-trainable ones, then each
        sub-layer's weights in turn, each variable once. A weight keeps the place it was created
        in when it is frozen later (a LoRA layer's kernel stays first)."""
        return self._own_then_nested([], "weights")

    def _own_then_nested(self, extra: list, attribute: str) -> list:
        """The layer's own weights (trainable as created first), then ``extra``, then each
        sub-layer's ``attribute`` list, each variable once."""
        created = [w.__dict__.get("_created_trainable", w.trainable) for w in self._weights]
        out = [w for w, c in zip(self._weights, created) if c] + [w for w, c in zip(self._weights, created) if not c]
        out += extra
        if self._layers:
            seen = {id(w) for w in out}
            for layer in self._layers:
                for w in getattr(layer, attribute):
                    if id(w) not in seen:
                        seen.add(id(w))
                        out.append(w)
        return out

    @property
    def trainable_weights(self) -> list[Variable]:
        if not self.trainable:
            return []
        own = [w for w in self._weights if w.trainable]
        return own + [w for layer in self._layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[Variable]:
        own = [w for w in self._weights if not w.trainable or not self.trainable]
        nested = [w for layer in self._layers for w in
                  (layer.weights if not self.trainable else layer.non_trainable_weights)]
        return own + nested

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def variables(self):
        """``weights`` and the states of the layer's ``SeedGenerator``s, in Keras's order: the
        layer's own weights, its own generators' states, then each sub-layer's variables."""
        generators = self.__dict__.get("_seed_generators")
        if not generators and not any(layer.__dict__.get("_seed_generators") or layer._layers
                                      for layer in self._layers):
            return self.weights
        return self._own_then_nested([g.state for g in generators or ()], "variables")

    @property
    def non_trainable_variables(self):
        """``non_trainable_weights`` and the seed generators' states (all variables when the layer
        is frozen), as Keras's."""
        variables = self.variables
        return variables if not self.trainable else [v for v in variables if not v.trainable]

    @property
    def losses(self) -> list[Tensor]:
        """Regularisation penalties of the weights plus activity losses of the last call."""
        out = [reg(w) for w, reg in getattr(self, "_regularizers", []) if w.trainable]
        out += list(self._activity_losses)
        for layer in self._layers:
            out += layer.losses
        return out

    def add_loss(self, loss) -> None:
        scope = get_stateless_scope()
        if scope is None:
            note_write(self, "_activity_losses")  # a checkpoint's recomputation adds none for good
            self._activity_losses.append(loss)
        elif scope.collect_losses:  # inside a StatelessScope the scope, not the layer, keeps it
            scope.add_loss(loss)

    def _add_activity_loss(self, outputs: Tensor) -> None:
        """The activity penalty of ``outputs`` per sample, as Keras 3 records it: its strength
        does not change with the batch size (an empty batch adds nothing)."""
        regularizer = getattr(self, "activity_regularizer", None)
        if regularizer is not None and outputs.shape[0]:
            self.add_loss(regularizer(outputs) / outputs.shape[0])

    # ----------------------------------------------------------------- weights
    def add_weight(self, *args, shape=None, initializer=None, dtype=None, trainable: bool = True,
                   regularizer=None, constraint=None, name: str | None = None, **kwargs) -> Variable:
        """A new weight of this layer. Positionally, Keras 3's order ``(shape, initializer, dtype)``;
        a first positional string is the name, then ``(shape, initializer, dtype)``. The
        initializer defaults to glorot_uniform for a float weight and zeros for any other dtype."""
        if args and isinstance(args[0], str):
            if name is not None:
                raise ValueError("`name` was passed both positionally and as a keyword argument.")
            name, args = args[0], args[1:]
        if len(args) > 3:
            raise TypeError(f"add_weight() takes at most 3 positional arguments after the name but "
                            f"{len(args)} were given.")
        for key in ("shape", "initializer", "dtype")[:len(args)]:
            if {"shape": shape, "initializer": initializer, "dtype": dtype}[key] is not None:
                raise ValueError(f"`{key}` was passed both positionally and as a keyword argument.")
        shape = args[0] if len(args) > 0 else shape
        initializer = args[1] if len(args) > 1 else initializer
        dtype = args[2] if len(args) > 2 else dtype
        shape = () if shape is None else shape
        autocast = kwargs.pop("autocast", True)
        aggregation = kwargs.pop("aggregation", "none")
        overwrite_with_gradient = kwargs.pop("overwrite_with_gradient", False)
        if kwargs:
            raise TypeError(f"{self.name}.add_weight: unexpected keyword argument(s) {sorted(kwargs)}")
        if name is None:
            # as a bare Variable: the session's next "variable", "variable_1", ... (Keras's names)
            name = backend.auto_name("variable")
        dtype = np.dtype(dtype) if dtype is not None else self.dtype
        if initializer is None:
            initializer = "glorot_uniform" if dtype.kind == "f" else "zeros"
        init = initializers.get(initializer)
        shape = tuple(int(s) for s in shape)
        if any(s < 0 for s in shape):
            raise ValueError(f"{self.name}.add_weight: weight {name!r} would have a negative size, shape {shape}")
        backend.check_allocation(shape, dtype, f"{self.name}.add_weight({name!r})")
        # charged before the initializer allocates, when a model is rebuilt from a file
        allocation.reserve(int(np.prod(shape, dtype=np.int64)) * dtype.itemsize,
                           f"layer {self.name!r} weight {name!r} of shape {shape}")
        value = np.asarray(init(shape, dtype=dtype), dtype=dtype)
        # an integer weight (a quantized kernel) keeps its dtype; Tensors would make it floatx
        var = Variable(value, trainable=trainable, name=name,
                       dtype=dtype if dtype.kind in "iub" else None, autocast=autocast, aggregation=aggregation)
        var._path = self._variable_path(name)
        if overwrite_with_gradient:
            var.overwrite_with_gradient = overwrite_with_gradient
        var.constraint = constraints.get(constraint)
        var._created_trainable = bool(trainable)
        self._weights.append(var)
        if regularizer is not None:
            var.regularizer = regularizers.get(regularizer)
            self.__dict__.setdefault("_regularizers", []).append((var, var.regularizer))
        return var

    def get_weights(self) -> list[np.ndarray]:
        return [w.data.copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(f"Layer {self.name!r} expects {len(params)} weight arrays, got {len(weights)}")
        for p, w in zip(params, weights):
            w = np.asarray(w)
            if w.shape != p.shape:
                raise ValueError(f"Layer {self.name!r}: weight {p.name!r} has shape {p.shape}, "
                                 f"the value given has shape {w.shape}")
        for p, w in zip(params, weights):
            p.assign(w)

    def count_params(self) -> int:
        return int(sum(w.size for w in self.weights))

    # ----------------------------------------------------------------- building and calling
    def build(self, input_shape) -> None:
        self.built = True

    def _maybe_build(self, input_shape) -> None:
        if not self.built:
            if self.input_spec is not None:
                self._check_input_spec(input_shape)
            # built inside its own scope, as Keras builds on a call (a symbolic one too), so the
            # layers it builds in turn sit under it: "bidirectional/forward_gru/gru_cell/kernel"
            with self._open_name_scope():
                if self._path is None:
                    self.__dict__["_path"] = current_path()
                self.build(input_shape)
            self.built = True
            self.input_shape_built = input_shape

    def call(self, inputs, *args, **kwargs):
        return inputs

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._tracks_private = not cls.__module__.startswith("deepgrad.")
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_records_shape", False):
            cls.build = _recording_build(build)
        if build is not None and "_built_at_init" not in cls.__dict__:
            cls._built_at_init = False
        if cls.__dict__.get("input_spec") is not None:  # a spec given as a class attribute is checked too
            cls._spec_shape = UNCHECKED_SPEC
        # whether __call__ may read the dtypes and the output mask without the properties and
        # compute_mask (a subclass that overrides one of them gets them called, as always)
        cls._plain_call = (cls.dtype is Layer.dtype and cls.compute_dtype is Layer.compute_dtype
                           and cls.compute_mask is Layer.compute_mask)

    _plain_call = True
    _tracks_private = False  # whether "_name" attributes holding a layer or variable are tracked

    def __call__(self, inputs=NO_INPUTS, *args, **kwargs):
        if self._plain_call:  # compute_dtype and dtype, inlined
            policy = self._dtype_policy
            if policy is not None:
                compute = policy.numpy_compute_dtype
                autocast = compute != self._dtype
            else:
                compute = self._dtype if self._dtype is not None else np.dtype(backend.floatx())
                autocast = False
        else:
            compute = self.compute_dtype
            autocast = compute != self.dtype
        if isinstance(inputs, Tensor):  # the common eager call, kept short
            dtype = inputs.data.dtype
            if dtype != compute and (dtype.kind == "f" or (self._float_inputs and dtype.kind in "iub")):
                inputs = inputs.astype(compute)
        else:
            if inputs is NO_INPUTS:  # ``layer(images=x)``: the inputs named as call's first parameter
                return self(inputs_from_kwargs(self, kwargs), *args, **kwargs)
            if isinstance(inputs, KerasTensor) or flatten((inputs, args, kwargs)):
                return call_symbolic(self, inputs, *args, **kwargs)
            if isinstance(inputs, (list, tuple)):
                inputs = type(inputs)(_to_tensor(x, compute, self._float_inputs) for x in inputs)
            elif isinstance(inputs, dict):  # a dict of inputs by name, handed to ``call`` as a dict
                inputs = {k: _to_tensor(x, compute, self._float_inputs) for k, x in inputs.items()}
            else:
                inputs = _to_tensor(inputs, compute, self._float_inputs)
        if not self.built:
            return self._first_call(inputs, args, kwargs)
        accepted = self._spec_shape  # Keras checks the input spec on every call: here when the shape changes
        if accepted is not None and (not isinstance(inputs, Tensor) or inputs.data.shape != accepted):
            self._check_call_input(inputs)
        if kwargs:
            training = kwargs.get("training")
            if training is None:
                if not self._call_takes_training:
                    kwargs.pop("training", None)
                elif _context_training is not None:
                    kwargs["training"] = _context_training
            elif training is not _context_training:  # the mode every call nested in this one inherits
                return call_in_training_context(training, Layer.__call__, self, inputs, *args, **kwargs)
            elif not self._call_takes_training:
                del kwargs["training"]
        elif _context_training is not None and self._call_takes_training:
            kwargs["training"] = _context_training
        if self._call_takes_mask:
            if kwargs.get("mask") is None and isinstance(inputs, Tensor):
                kwargs["mask"] = inputs._keras_mask
        elif kwargs:
            kwargs.pop("mask", None)
        self.__dict__["_activity_losses"] = []  # this call's (a plain attribute: no tracking to do)
        if autocast:
            outputs = self._call_autocast(compute, inputs, *args, **kwargs)
        else:
            outputs = self.call(inputs, *args, **kwargs)
        # the output's mask; an identity layer that does not support masking leaves its input's mask alone
        if not self._plain_call:
            if isinstance(outputs, Tensor) and isinstance(inputs, Tensor) and (outputs is not inputs
                                                                               or self.supports_masking):
                outputs._keras_mask = self.compute_mask(inputs, kwargs.get("mask", inputs._keras_mask))
        elif self.supports_masking:  # Layer.compute_mask, inlined: the mask passes through
            if isinstance(outputs, Tensor) and isinstance(inputs, Tensor):
                outputs._keras_mask = kwargs.get("mask", inputs._keras_mask)
        elif outputs is not inputs and isinstance(outputs, Tensor) and isinstance(inputs, Tensor):
            outputs._keras_mask = None
        return outputs

    def _first_call(self, inputs, args, kwargs):
        """Build inside the layer's name scope (so the variables of the layers it builds during
        this call sit under its path) and call it."""
        with self._open_name_scope():
            self.__dict__["_path"] = current_path()
            self._maybe_build(_shape_of(inputs))
            if not self.built:
                raise RuntimeError(f"Layer {self.name!r}: _maybe_build did not build the layer")
            # this class's __call__ again, not the subclass's (it may have rearranged the inputs)
            return Layer.__call__(self, inputs, *args, **kwargs)

    def _call_autocast(self, compute, inputs, *args, **kwargs):
        """``call`` with the layer's trainable float variables seen in ``compute`` dtype (mixed
        precision: float16 math on float32 variables). Each is replaced for the call by its
        differentiable cast, so gradients flow back to the float32 variable; non-trainable
        state (BatchNormalization's moving statistics) and a variable made with ``autocast=False``
        are left as they are, as Keras does."""
        if not self.autocast:
            return self.call(inputs, *args, **kwargs)
        swapped = []
        for key, value in list(self.__dict__.items()):
            if isinstance(value, Variable) and value.trainable and value._autocast and value.data.dtype.kind == "f":
                object.__setattr__(self, key, value.astype(compute))
                swapped.append((key, value))
        try:
            return self.call(inputs, *args, **kwargs)
        finally:
            for key, value in swapped:
                object.__setattr__(self, key, value)

    # ----------------------------------------------------------------- the recorded calls
    def _node_attribute(self, attr: str, what: str):
        """``attr`` of the first symbolic call, one tensor unwrapped from its list (Keras's rule)."""
        nodes = self.__dict__.get("_inbound_nodes")
        if not nodes:
            raise AttributeError(f"The layer {self.name} has never been called and thus has no defined {what}.")
        values = getattr(nodes[0], attr)
        return values[0] if isinstance(values, list) and len(values) == 1 else values

    @property
    def input(self):
        """The KerasTensor(s) the layer's first symbolic call read."""
        return self._node_attribute("input_tensors", "input")

    @property
    def output(self):
        """The KerasTensor(s) the layer's first symbolic call made."""
        return self._node_attribute("output_tensors", "output")

    def get_build_config(self):
        """``{"input_shape": ...}`` once built, as Keras records it for a layer with its own
        ``build`` (None before, and for layers without one)."""
        if self.input_shape_built is not None and type(self).build is not Layer.build:
            return {"input_shape": self.input_shape_built}
        return None

    def compute_mask(self, inputs, mask=None):
        """The mask of the outputs: passed through when the layer supports masking."""
        return mask if self.supports_masking else None

    def compute_output_shape(self, input_shape):
        """Found by running the layer on a batch of one, with no graph; layers may override.

        Unknown dimensions are set to 2 for one run and 3 for a second: an output dimension that
        differs between the two follows an unknown input dimension and is ``None``, as Keras's
        symbolic trace reports it."""
        dtypes = self.__dict__.get("_traced_input_dtypes") or []  # set by a symbolic call

        def run(size):
            def zeros(shape, i=0):
                full = (1,) + tuple(size if s is None else s for s in shape[1:])
                if i < len(dtypes) and np.dtype(dtypes[i]).kind in "OUS":  # text placeholders for text inputs
                    return np.full(full, "", object)
                return np.zeros(full, self.dtype)

            x = ([zeros(s, i) for i, s in enumerate(input_shape)] if isinstance(input_shape, list)
                 else zeros(input_shape))
            training = tracing_training(self) if self._call_takes_training else False
            # the symbolic stage, as Keras's compute_output_spec marks it
            with no_grad(), tracing(), state_kept(self, training):
                out = self(x, training=training) if self._call_takes_training else self(x)
            return traced_shapes(out)

        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        unknown = any(s is None for shape in shapes for s in tuple(shape)[1:])
        first = run(2)
        return merge_traced_shapes(first, run(3) if unknown else first)

    compute_output_shape.runs_the_layer = True  # symbolic.call_symbolic traces such layers' extra tensors

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict:
        """``name``, ``trainable``, ``dtype`` (and ``input_shape`` when set). A subclass that does not
        override ``get_config`` also gets the arguments it was constructed with, when they are plain
        values (Keras's automatic config), so it saves and loads without writing one."""
        config = {"name": self.name}
        auto = self.__dict__.get("_auto_config") if type(self).get_config is Layer.get_config else None
        if auto is not None:
            if "error" in auto:
                raise NotImplementedError(
                    f"{type(self).__name__} {self.name!r} cannot be serialized: {auto['error']}. Override "
                    "get_config() to return the constructor's arguments (and from_config() if they need "
                    "rebuilding), e.g. def get_config(self): return {**super().get_config(), \"units\": self.units}")
            config.update(auto["arguments"])
        config["trainable"] = self.trainable
        if self._dtype_policy is None and self._dtype is not None:  # a string dtype
            config["dtype"] = dtype_name(self._dtype)
        else:  # always the policy, serialized as Keras writes it (floatx's when none was given)
            config["dtype"] = dtype_policies.serialize(self.dtype_policy)
        if type(self) is Layer:  # Keras's automatic config of the base class: its own arguments
            regularizer = self.activity_regularizer
            config["activity_regularizer"] = None if regularizer is None else regularizers.serialize(regularizer)
            config["autocast"] = self.autocast
        if self._input_shape_arg is not None:
            config["input_shape"] = list(self._input_shape_arg)
        if auto is not None:
            params = inspect.signature(type(self).__init__).parameters
            if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
                # keep only what this __init__ accepts, so from_config can call it back
                config = {k: v for k, v in config.items() if k in params}
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        # Keras prints "<Dense name=dense, built=False>"
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def builtin_class(class_name: str) -> type:
    """The deepgrad layer (or model) class a config names, found among the subclasses of
    ``Layer`` already defined, so a layer that wraps another one (``TimeDistributed``) needs
    not import the package that lists them all. Classes from outside deepgrad are not found:
    those come through ``custom_objects``."""
    stack = list(Layer.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls.__name__ == class_name and cls.__module__.startswith("deepgrad."):
            return cls
        stack.extend(cls.__subclasses__())
    raise ValueError(f"Unknown layer class {class_name!r}")
