"""Symbolic tensors for the functional API: ``x = Input((784,)); y = Dense(10)(x)``.

They sit below ``layers``: a layer called on a ``KerasTensor`` records a ``Node`` here, and
``models`` reads the recorded graph back, so neither floor imports the other's way.

A ``KerasTensor`` holds a shape (batch dimension ``None``) and the layer call that made
it, so ``Model(inputs, outputs)`` can walk back from the outputs to the inputs. Every
symbolic call is one ``Node``; the tensors it made point to it (``tensor.node``) and know
their position among its outputs (``tensor.index``). Each layer keeps its calls in
``layer._inbound_nodes``, the first of which gives ``layer.input`` and ``layer.output``.

Masks travel symbolically too: a layer whose input carries ``_keras_mask`` (or whose
``compute_mask`` makes one, as ``Embedding(mask_zero=True)``) gives its output a boolean
``KerasTensor`` mask of the shape its ``compute_mask`` returns on a batch of one.
"""
from __future__ import annotations

import contextlib
import inspect

import numpy as np

from . import backend
from .autograd import Tensor
from .autograd.scopes import StatelessScope, SymbolicScope, in_symbolic_scope


class KerasTensor:
    def __init__(self, shape, dtype=None, layer=None, inputs=None, args=(), kwargs=None, index=None, name=None,
                 node=None):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype or backend.floatx())
        self.layer = layer            # the layer whose call made this tensor (None for inputs)
        self.inputs = inputs          # what that call was given (KerasTensor or list of them)
        self.args = args
        self.kwargs = kwargs or {}
        self.index = index            # position among the layer's outputs, when it has several
        self.name = name
        self.node = node              # the Node of that call (None for inputs)
        self._keras_mask = None       # a boolean KerasTensor when the tensor is masked

    @property
    def ndim(self) -> int:
        return len(self.shape)

    # Keras's layout flags: every KerasTensor here is dense (no sparse or ragged tensors), and
    # each records the call that made it; they are fixed once the tensor exists, as in Keras
    record_history = True

    def _immutable(name: str):
        def get(self):
            return self.__dict__.get(f"_{name}", {"sparse": False, "ragged": False}.get(name))

        def refuse(self, value):
            raise AttributeError(f"The `{name}` attribute of KerasTensor is immutable. One should create a new "
                                 "instance of KerasTensor for this.")
        return property(get, refuse)

    sparse = _immutable("sparse")
    ragged = _immutable("ragged")
    ragged_rank = _immutable("ragged_rank")
    row_splits_dtype = _immutable("row_splits_dtype")
    del _immutable

    def reshape(self, newshape):
        """The symbolic ``ops.reshape(self, newshape)``."""
        return _ops().reshape(self, newshape)

    def squeeze(self, axis=None):
        """The symbolic ``ops.squeeze(self, axis)``."""
        return _ops().squeeze(self, axis)

    def __repr__(self) -> str:
        src = self.layer.name if self.layer is not None else "input"
        dtype = "string" if is_text_dtype(self.dtype) else self.dtype  # Keras's name of text
        return f"<KerasTensor shape={self.shape} dtype={dtype} from={src}>"

    # NumPy's operators give way (``np.float32(2) * t`` calls ``t.__rmul__``)
    __array_ufunc__ = None

    def __array__(self, dtype=None, copy=None):
        # a symbolic tensor has no values: an op given one records itself in the graph instead
        raise backend.SymbolicInputError(
            f"{self!r} is symbolic (a functional model's placeholder) and has no values; call the "
            "model on data, or use it in deepgrad.ops / layers while defining the model")

    # arithmetic records the op of the same name (as Keras 3's KerasTensor does)
    def __add__(self, other):
        return _ops().add(self, other)

    def __radd__(self, other):
        return _ops().add(other, self)

    def __sub__(self, other):
        return _ops().subtract(self, other)

    def __rsub__(self, other):
        return _ops().subtract(other, self)

    def __mul__(self, other):
        return _ops().multiply(self, other)

    def __rmul__(self, other):
        return _ops().multiply(other, self)

    def __truediv__(self, other):
        return _ops().divide(self, other)

    def __rtruediv__(self, other):
        return _ops().divide(other, self)

    def __floordiv__(self, other):
        return _ops().floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops().floor_divide(other, self)

    def __mod__(self, other):
        return _ops().mod(self, other)

    def __rmod__(self, other):
        return _ops().mod(other, self)

    def __pow__(self, other):
        return _ops().power(self, other)

    def __rpow__(self, other):
        return _ops().power(other, self)

    def __matmul__(self, other):
        return _ops().matmul(self, other)

    def __rmatmul__(self, other):
        return _ops().matmul(other, self)

    def __neg__(self):
        return _ops().negative(self)

    def __abs__(self):
        return _ops().abs(self)

    def __getitem__(self, index):
        return _ops().getitem(self, index)

    def __lt__(self, other):
        return _ops().less(self, other)

    def __le__(self, other):
        return _ops().less_equal(self, other)

    def __gt__(self, other):
        return _ops().greater(self, other)

    def __ge__(self, other):
        return _ops().greater_equal(self, other)

    # ``~ & | ^`` record Keras's logical ops, whatever the dtype (as Keras's KerasTensor does)
    def __invert__(self):
        return _ops().logical_not(self)

    def __and__(self, other):
        return _ops().logical_and(self, other)

    def __rand__(self, other):
        return _ops().logical_and(other, self)

    def __or__(self, other):
        return _ops().logical_or(self, other)

    def __ror__(self, other):
        return _ops().logical_or(other, self)

    def __xor__(self, other):
        return _ops().logical_xor(self, other)

    def __rxor__(self, other):
        return _ops().logical_xor(other, self)

    # == stays identity (graphs are walked with ``in`` and dicts), so ``hash`` is the default


def _ops():
    from . import ops  # floor 3, below this one; imported on first use, as ops imports first
    return ops


class Node:
    """One call of a layer on symbolic tensors: ``outputs = layer(inputs, *args, **kwargs)``.

    Made, it joins ``layer._inbound_nodes`` (an ``InputLayer``'s one node reads nothing and
    outputs the ``Input`` tensor).
    """

    def __init__(self, layer, inputs, args, kwargs, outputs=None):
        self.layer = layer
        self.inputs = inputs
        self.args = args
        self.kwargs = kwargs
        self.outputs: list[KerasTensor] = list(outputs or [])
        if "_inbound_nodes" not in layer.__dict__:
            layer._inbound_nodes = []
        layer._inbound_nodes.append(self)

    @property
    def input_tensors(self) -> list[KerasTensor]:
        return self.parents

    @property
    def output_tensors(self) -> list[KerasTensor]:
        return list(self.outputs)

    @property
    def parents(self) -> list[KerasTensor]:
        """Every KerasTensor the call reads, wherever it sits (inputs, args or kwargs)."""
        return flatten((self.inputs, self.args, self.kwargs))


def flatten(structure) -> list:
    """The leaves of nested lists, tuples and dicts (dicts by sorted key, as Keras's
    ``tree.flatten``), left to right."""
    out, stack = [], [structure]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            stack.extend(item[k] for k in sorted(item, reverse=True))
        elif isinstance(item, KerasTensor):
            out.append(item)
    return out


def map_structure(fn, structure):
    """``structure`` with every KerasTensor ``t`` replaced by ``fn(t)``."""
    if isinstance(structure, KerasTensor):
        return fn(structure)
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    return structure


def nodes_between(inputs: list, outputs: list) -> list:
    """Every node between ``inputs`` and ``outputs``, each after the nodes it depends on."""
    input_ids = {id(t) for t in inputs}
    order, done = [], set()

    def parent_nodes(tensors):
        nodes = []
        for t in tensors:
            if id(t) in input_ids:
                continue
            if t.node is None:
                raise ValueError(f"Graph disconnected: {t!r} is needed to compute the outputs, but it is not "
                                 f"one of the model's inputs {[i.name for i in inputs]}")
            nodes.append(t.node)
        return nodes

    stack = [(node, False) for node in reversed(parent_nodes(outputs))]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            if id(node) not in done:
                done.add(id(node))
                order.append(node)
            continue
        if id(node) in done:
            continue
        stack.append((node, True))
        stack.extend((p, False) for p in reversed(parent_nodes(node.parents)) if id(p) not in done)
    return order


def _shapes(inputs):
    if isinstance(inputs, dict):
        return {k: v.shape for k, v in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return [x.shape for x in inputs]
    return inputs.shape


def map_inputs(fn, inputs):
    """``fn`` of each tensor of a call's first argument, kept in its structure: a dict stays a
    dict, a list or tuple of inputs becomes a list (so it is not read as one shape), None stays."""
    if isinstance(inputs, dict):
        return {k: map_inputs(fn, v) for k, v in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return [map_inputs(fn, x) for x in inputs]
    return None if inputs is None else fn(inputs)


def dtype_of(x):
    return getattr(x, "dtype", None)


def _with_batch(shape, batch):
    """``shape`` with its batch entry set to ``batch`` (a known batch size is kept, as Keras does)."""
    shape = tuple(shape)
    return shape if not shape or batch is None else (batch,) + shape[1:]


def _symbolic_mask(layer, inputs, args, kwargs, outputs: list[KerasTensor]) -> None:
    """Give ``outputs`` the masks ``layer.compute_mask`` makes from the inputs and their masks.

    The mask's shape is found by running ``compute_mask`` on a batch of one (ones for each
    incoming mask), so every layer's own rule applies, symbolic or eager alike.
    """
    masks = map_structure(lambda t: t._keras_mask, inputs)
    has_mask = any(m is not None for m in _leaves(masks))
    if kwargs.get("mask") is not None:
        masks, has_mask = kwargs["mask"], True
    if not has_mask and "compute_mask" not in _overrides(layer):
        return
    def run(size):  # the output masks' shapes with unknown dimensions set to ``size``
        def sized(t):
            return (1,) + tuple(size if s is None else s for s in t.shape[1:])
        example = map_structure(lambda t: Tensor(np.zeros(sized(t), t.dtype), dtype=t.dtype), inputs)
        example_masks = map_structure(lambda m: np.ones(sized(m), bool), masks)
        out_masks = layer.compute_mask(example, example_masks)
        flat = out_masks if isinstance(out_masks, (list, tuple)) else [out_masks] * len(outputs)
        return [None if m is None else tuple(getattr(m, "shape", np.shape(m))) for m in flat]

    try:
        two, three = run(2), run(3)
    except Exception:  # noqa: BLE001 - a compute_mask written for other arguments (several tensors, say):
        return          # the graph records no symbolic mask; the eager replay still computes the real one
    for t, s2, s3 in zip(outputs, two, three):
        if s2 is not None:  # a dimension that follows an unknown input dimension is unknown
            shape = (None,) + tuple(a if a == b else None for a, b in zip(s2[1:], s3[1:]))
            t._keras_mask = KerasTensor(_with_batch(shape, t.shape[0] if t.shape else None), bool)


def _leaves(structure) -> list:
    if isinstance(structure, (list, tuple)):
        return [x for s in structure for x in _leaves(s)]
    if isinstance(structure, dict):
        return [x for s in structure.values() for x in _leaves(s)]
    return [structure]


def _overrides(layer) -> set[str]:
    """The names among the masking hooks that ``layer``'s class defines below the base ``Layer``."""
    names = set()
    for cls in type(layer).__mro__:
        if cls.__module__ == "deepgrad.layers.base" and cls.__name__ == "Layer":
            break
        names |= {"compute_mask"} & set(vars(cls))
    return names


def _default_output_shape(layer) -> bool:
    """Whether ``layer`` keeps the base class's ``compute_output_shape`` (a run on a batch of one),
    which marks itself ``runs_the_layer`` (the class sits on a floor above this one)."""
    return getattr(type(layer).compute_output_shape, "runs_the_layer", False)


def tracing_training(layer):
    """The ``training`` value a layer runs with while its output shape is found: the default of
    its ``call``'s ``training`` parameter when that is not None (Keras's rule for a call that is not
    given one: ``call(self, audio, training=True)`` traces its training branch), else False."""
    param = inspect.signature(layer.call).parameters.get("training")
    default = None if param is None else param.default
    return False if default is None or default is inspect.Parameter.empty else default


@contextlib.contextmanager
def state_kept(layer, training):
    """Run a shape trace in ``training`` mode without changing the layer's variables (a batch
    normalisation inside would otherwise move its statistics towards the trace's zeros), as
    Keras's symbolic trace changes none."""
    if not training:
        yield
        return
    # every variable written inside (created inside too) gets its value from before back at the end
    with StatelessScope():
        yield


@contextlib.contextmanager
def tracing():
    """The symbolic stage of an output-shape trace on placeholder values: Keras's ``SymbolicScope``
    (checks of the values themselves are skipped there, see ``is_tracing``), with NumPy's warnings
    silenced (``x / y`` on placeholder zeros is no user's division)."""
    with SymbolicScope(), np.errstate(all="ignore"):
        yield


def is_tracing() -> bool:
    """Whether the current call runs in the symbolic stage (an output-shape trace), not on data.
    Checks of the values themselves (a token outside a fixed vocabulary) are skipped then, as
    TensorFlow's graph trace skips its data assertions."""
    return in_symbolic_scope()


def is_text_dtype(dtype) -> bool:
    """Whether a symbolic tensor of ``dtype`` holds text: Keras's "string" (held as object arrays
    of str) or NumPy's str and bytes dtypes (``tf.string``)."""
    return np.dtype(dtype).kind in "OUS"


def _traced_output_shape(layer, inputs, args, kwargs):
    """The output shape(s) of ``layer(inputs, *args, **kwargs)`` found by calling it eagerly on
    zeros, twice: unknown dimensions (``None``) set to 2, then to 3. An output dimension that
    changes between the two runs follows an unknown input dimension, so it is ``None``."""
    from .autograd import no_grad

    def run(size):
        def zeros(t):
            # zeros for data; a boolean tensor (a mask) all True, and a tensor carrying a mask
            # carries one of ones, which the layer's call receives as Keras passes it
            shape = (1,) + tuple(size if s is None else s for s in t.shape[1:])
            if is_text_dtype(t.dtype):  # text placeholders: empty strings
                return np.full(shape, "", object)
            fill = np.ones if np.dtype(t.dtype) == np.bool_ else np.zeros
            out = Tensor(fill(shape, t.dtype), dtype=t.dtype)
            if t._keras_mask is not None:
                out._keras_mask = zeros(t._keras_mask)
            return out
        x, a, k = map_structure(zeros, (inputs, args, kwargs))
        training = tracing_training(layer) if layer._call_takes_training else False
        if layer._call_takes_training and "training" not in k:
            k = {**k, "training": training}
        with no_grad(), tracing(), state_kept(layer, training and k.get("training")):
            out = layer(x, *a, **k)
        if out is None:
            raise TypeError(f"Layer {layer.name!r} ({type(layer).__name__}): its call() returned None; a layer "
                            "called in a functional model must return its output tensor(s)")
        return traced_shapes(out)

    return merge_traced_shapes(run(2), run(3))


def traced_shapes(out):
    """The shapes of a traced call's outputs: one shape, a list of them, or a dict by key."""
    if isinstance(out, dict):
        return {k: tuple(out[k].shape) for k in out}
    return [tuple(o.shape) for o in out] if isinstance(out, (list, tuple)) else tuple(out.shape)


def merge_traced_shapes(two, three):
    """Output shapes from runs with unknown dimensions set to 2 and to 3: a dimension that differs
    follows an unknown input dimension and is ``None`` (as is the batch)."""
    def merge(s2, s3):
        return (None,) + tuple(d2 if d2 == d3 else None for d2, d3 in zip(s2[1:], s3[1:]))

    if isinstance(two, dict):
        return {k: merge(two[k], three[k]) for k in two}
    if isinstance(two, list):
        return [merge(s2, s3) for s2, s3 in zip(two, three)]
    return merge(two, three)


def _pack(structure, flat: list):
    """``structure`` (nested dicts, lists, tuples of KerasTensors) with its leaves replaced by
    ``flat``, taken in ``flatten``'s order (dicts by sorted key)."""
    leaves = iter(flat)

    def walk(x):
        if isinstance(x, dict):
            packed = {k: walk(x[k]) for k in sorted(x)}
            return {k: packed[k] for k in x}
        if isinstance(x, (list, tuple)):
            return type(x)(walk(v) for v in x)
        return next(leaves)
    return walk(structure)


def call_symbolic(layer, inputs, *args, **kwargs):
    """Record ``layer(inputs)`` on symbolic tensors: build the layer, infer the output shape,
    and the output's mask."""
    shapes = _shapes(inputs)
    # built and traced inside the layer's name scope, as Keras calls it: the layers its build or
    # call makes get their variables under its path ("block/attention/query/kernel")
    with layer._open_name_scope():
        return _record_call(layer, inputs, shapes, args, kwargs)


def _record_call(layer, inputs, shapes, args, kwargs):
    layer._maybe_build(shapes)
    # the spec again once built (build may have set a narrower one), as Keras checks every call
    layer._check_input_spec(shapes, map_inputs(dtype_of, inputs))
    masked = layer._call_takes_mask and any(t._keras_mask is not None for t in flatten(inputs))
    # a dict of tensors (``Classifier()(inputs_by_name)``) or lists within the list
    structured = isinstance(inputs, dict) or (isinstance(inputs, (list, tuple)) and any(
        isinstance(t, (list, tuple, dict)) for t in inputs))
    text = any(is_text_dtype(t.dtype) for t in flatten(inputs))
    # arguments past the inputs (``grn(v, hp=hp)``), tensors or not, reach the call only when it is run
    extra = bool(args) or any(k not in ("training", "mask") for k in kwargs)
    if (masked or structured or text or extra) and _default_output_shape(layer):
        # arguments past the first (symbolic tensors, ``layer(targets, logits)``, or plain values),
        # a structure of tensors, a mask the call reads, or text inputs: the shape rule must see
        # them all (with their dtypes), so the call itself is run, as Keras's compute_output_spec does
        out_shape = _traced_output_shape(layer, inputs, args, kwargs)
    else:
        # the inputs' dtypes, for a shape rule that runs the layer (on text placeholders where text goes in)
        layer.__dict__["_traced_input_dtypes"] = [t.dtype for t in flatten(inputs)]
        try:
            out_shape = layer.compute_output_shape(shapes)
        finally:
            layer.__dict__.pop("_traced_input_dtypes", None)
    first = flatten(inputs)
    batch = first[0].shape[0] if first and first[0].shape else None
    node = Node(layer, inputs, args, kwargs)
    # a dict of outputs (a layer's call, or a functional model's output structure) is returned in
    # that structure, as Keras's symbolic call returns it; its tensors are indexed in flatten order
    keys = sorted(out_shape) if isinstance(out_shape, dict) else None
    if keys is not None:
        out_shape = [out_shape[k] for k in keys]
    if isinstance(out_shape, list):
        node.outputs = [KerasTensor(_with_batch(s, batch), layer.dtype, layer, inputs, args, kwargs, index=i,
                                    node=node) for i, s in enumerate(out_shape)]
        result = list(node.outputs)
        structure = getattr(layer, "_outputs_struct", None)
        if keys is not None:   # a layer's dict, by sorted key as Keras's traced output spec
            result = dict(zip(keys, result))
        elif (isinstance(structure, dict) or (isinstance(structure, (list, tuple)) and any(
                isinstance(t, (list, tuple, dict)) for t in structure))) and len(flatten(structure)) == len(result):
            result = _pack(structure, result)
    elif isinstance(getattr(layer, "_outputs_struct", None), dict):
        # a functional model whose one output is given in a dict returns that dict, as in Keras
        tensor = KerasTensor(_with_batch(out_shape, batch), layer.dtype, layer, inputs, args, kwargs, index=0,
                             node=node)
        node.outputs = [tensor]
        result = _pack(layer._outputs_struct, [tensor])
    else:
        result = KerasTensor(_with_batch(out_shape, batch), layer.dtype, layer, inputs, args, kwargs, node=node)
        node.outputs = [result]
    _symbolic_mask(layer, inputs, args, kwargs, node.outputs)
    return result
