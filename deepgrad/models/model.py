"""``Model``: a layer made of layers, with training (``compile``/``fit``) mixed in.

Three ways to make one, as in Keras:

- subclassing: ``class M(Model)`` assigns layers in ``__init__`` and writes ``call``; the
  layers are tracked through attribute assignment;
- functional: ``Model(inputs, outputs)`` (which returns a ``Functional``);
- ``Sequential([...])``.
"""
from __future__ import annotations

import inspect
import json
import re
import warnings

import numpy as np

from .. import files, layers, process_group, quantizers, tree
from ..registry import GLOBAL_CUSTOM_NAMES, find_custom_object
from ..autograd import Tensor, no_grad
from ..layers.base import NO_INPUTS, Layer, inputs_from_kwargs
from ..layers import base as layer_base
from ..backend import current_path
from ..serialization_lib import serialize_keras_object
from ..symbolic import call_symbolic, flatten
from .summary import SummaryRow, print_summary
from .model_state import ModelState
from .trainer import Trainer


def _unique(items) -> list:
    """``items`` without repeats (by identity), in first-seen order."""
    items = items if type(items) is list else list(items)
    return list(dict(zip(map(id, items), items)).values())  # a dict keeps each key's first position


def _user_defines_build(cls) -> bool:
    """Whether ``build`` comes from a model class of the program's own, not from deepgrad's."""
    for klass in cls.__mro__:
        if "build" in klass.__dict__:
            return not klass.__module__.startswith("deepgrad.")
    return False


def _is_symbolic(inputs) -> bool:
    return bool(flatten(inputs))


def check_symbolic_input_shapes(model, inputs) -> None:
    """A model called on symbolic tensors (``EfficientNetB0(...)(x)`` inside another model) checks
    them against its declared inputs as Keras's input spec does: every dimension known on both
    sides must agree, a trailing 1 on either side ignored."""
    declared = model._inputs
    if not declared or isinstance(inputs, dict):
        return
    given = flatten(inputs)
    if len(given) != len(declared):
        return  # the call itself names the mismatch
    for i, (x, spec) in enumerate(zip(given, declared)):
        shape, expected = tuple(x.shape), tuple(spec.shape)
        got, want = shape, expected
        if got and got[-1] == 1:
            got = got[:-1]
        if want and want[-1] == 1:
            want = want[:-1]
        if any(a is not None and b is not None and a != b for a, b in zip(want, got)):
            raise ValueError(f"Input {i} with name '{getattr(spec, 'name', None)}' of layer '{model.name}' is "
                             f"incompatible with the layer: expected shape={expected}, found shape={shape}")


def _is_nest(value) -> bool:
    """A dict, or a list/tuple of arrays or dicts, inside a dict of inputs (not a list of numbers)."""
    if isinstance(value, dict):
        return True
    return isinstance(value, (list, tuple)) and any(isinstance(v, (dict, np.ndarray, Tensor)) for v in value)


def _nested_input_tensors(structure):
    """A dict or list nested in a dict of inputs: each array a Tensor, dtypes as the data's (the
    declared inputs' are applied where the model takes the values apart)."""
    return tree.map_structure(lambda v: to_input_tensor(v, None), structure)


def to_input_tensor(x, dtype=None) -> Tensor:
    """An array entering a model: floats in ``dtype`` (floatx by default), integers kept for Embedding."""
    if isinstance(x, Tensor):
        if dtype is not None and x.dtype != dtype:
            return x.astype(dtype)
        return x
    x = np.asarray(x)
    if x.dtype.kind in "USO":  # text stays a NumPy array, for the preprocessing layers that read it
        return x
    if dtype is not None and x.dtype == dtype and x.dtype.kind in "fiub":  # already in its dtype: wrapped as it is
        return Tensor._from_op(x, None, 0)
    if dtype is not None:
        return Tensor(x.astype(dtype, copy=False), dtype=dtype)
    return Tensor(x, dtype=x.dtype if x.dtype.kind in "iub" else None)


def serialize_layer(layer: Layer) -> dict:
    """``{"class_name", "config"}``, and the ``registered_name`` of a registered user class, as
    Keras writes it; a nested model is written with its own config. An object a custom
    ``get_config`` returns as it is (a sublayer, a regularizer) is written as Keras writes it,
    ``{"module", "class_name", "config", "registered_name"}``, for its ``from_config`` to rebuild."""
    config = {key: serialize_keras_object(value) if hasattr(value, "get_config") and not isinstance(value, type)
              else value for key, value in layer.get_config().items()}
    entry = {"class_name": type(layer).__name__, "config": config}
    registered = GLOBAL_CUSTOM_NAMES.get(type(layer))
    if registered is not None:
        entry["registered_name"] = registered
    return entry


def layer_class(name: str, custom_objects=None) -> type:
    """The class a config names: the caller's ``custom_objects`` first, then the built-in model
    classes (``Sequential``, ``Functional``), then the layers; a ValueError for any other name."""
    cls = (custom_objects or {}).get(name) or Model._builtin_classes.get(name)
    return cls if cls is not None else layers.get(name)


def deserialize_layer(config: dict, custom_objects=None) -> Layer:
    """A layer (or nested model) from ``{"class_name", "config"}``; a user's class is found by the
    ``registered_name`` it was saved with ("package>Name") before its bare class name, which
    several packages may have registered (the caller's ``custom_objects`` by class name come first)."""
    registered, cls = config.get("registered_name"), None
    if isinstance(registered, str) and ">" in registered and config["class_name"] not in (custom_objects or {}):
        cls = find_custom_object(registered, custom_objects, bare=False)
    if cls is None:
        cls = layer_class(config["class_name"], custom_objects)
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        layer = cls.from_config(config["config"], custom_objects=custom_objects)
    else:
        layer = cls.from_config(config["config"])
    build_config = config.get("build_config")
    hook = getattr(type(layer), "build_from_config", None)
    if isinstance(build_config, dict) and hook is not None and not hook.__module__.startswith("deepgrad."):
        layer.build_from_config(build_config)   # a user's class rebuilds itself as Keras lets it
    return layer


def _functional_arguments(args, kwargs) -> bool:
    """Whether a model is being made the functional way: ``(inputs, outputs)``, by position or name."""
    return len(args) == 2 or (len(args) == 1 and "outputs" in kwargs) or ("inputs" in kwargs and "outputs" in kwargs)


_functional_subclasses: dict = {}


def _functional_subclass(cls: type, functional: type) -> type:
    """``cls`` with the functional model under it (one class per ``cls``): ``cls``'s own methods
    (``train_step``, ``test_step``, ...) come first, the graph's ``call`` and config after."""
    if cls not in _functional_subclasses:
        _functional_subclasses[cls] = type(cls.__name__, (cls, functional),
                                           {"__module__": cls.__module__, "__qualname__": cls.__qualname__})
    return _functional_subclasses[cls]


class Model(ModelState, Trainer, Layer):
    """A model: ``Model(inputs, outputs)`` for the functional API, or a subclass with ``call``."""

    # The model classes that configs name, each declared by its own module as it is defined
    # (``class Sequential(Model, config_names=("Sequential",))``), so this one imports neither.
    _builtin_classes: dict[str, type] = {}

    def __init_subclass__(cls, config_names=(), **kwargs):
        super().__init_subclass__(**kwargs)
        for name in config_names:
            Model._builtin_classes[name] = cls

    def __new__(cls, *args, **kwargs):
        if cls is Model and _functional_arguments(args, kwargs):
            return super().__new__(Model._builtin_classes["Functional"])  # the functional API, as in Keras
        return super().__new__(cls)

    def __init__(self, *args, trainable: bool = True, name: str | None = None, dtype=None, **kwargs):
        functional = Model._builtin_classes["Functional"]
        if _functional_arguments(args, kwargs) and not isinstance(self, functional):
            # ``class MyModel(Model)`` (a custom ``train_step``, say) given ``(inputs, outputs)``
            # on its way up to here: it becomes a functional model whose class is still a
            # MyModel, its own methods first, as Keras does
            self.__class__ = _functional_subclass(type(self), functional)
            functional.__init__(self, *args, trainable=trainable, name=name, **kwargs)
            return
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise TypeError(f"{type(self).__name__}: a subclassed model takes no inputs/outputs; "
                            "use Model(inputs, outputs) for the functional API")
        Layer.__init__(self, trainable=trainable, name=name, dtype=dtype, **kwargs)
        Trainer.__init__(self)
        self._inputs = None   # KerasTensors, once known (functional and built Sequential models)
        self._outputs = None

    @property
    def inputs(self):
        return self._inputs

    @inputs.setter
    def inputs(self, value):
        self._inputs = value

    @property
    def outputs(self):
        return self._outputs

    @outputs.setter
    def outputs(self, value):
        self._outputs = value

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        """A subclass saved as a functional model (``MyModel(inputs, outputs)``) is rebuilt as one."""
        if "input_layers" in config and "output_layers" in config:
            functional = Model._builtin_classes["Functional"]
            return functional.from_config.__func__(cls, config, custom_objects=custom_objects)
        return cls(**config)

    # ----------------------------------------------------------------- layers and weights
    @property
    def layers(self) -> list[Layer]:
        return [layer for layer in _unique(self._layers) if not layer._operation_only]

    @layers.setter
    def layers(self, _):
        raise AttributeError("`Model.layers` attribute is reserved and should not be used. Please use another name.")

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by ``name`` or by ``index`` in ``model.layers`` (Keras's checks and messages)."""
        if index is not None and name is not None:
            raise ValueError(f"Provide only a layer name or a layer index. Received: index={index}, name={name}.")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has {len(layers)} "
                                 "layers.")
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: {[layer.name for layer in layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    @property
    def weights(self) -> list:
        """Layer by layer, each layer's own weights in creation order (Keras 3's order)."""
        own = list(self._weights)
        return _unique(own + [w for layer in self.layers for w in layer.weights])

    @property
    def trainable_weights(self) -> list:
        return _unique(Layer.trainable_weights.fget(self))

    @property
    def non_trainable_weights(self) -> list:
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    @property
    def losses(self) -> list[Tensor]:
        """Regularisation and activity losses of every layer, each layer counted once."""
        out = [reg(w) for w, reg in getattr(self, "_regularizers", []) if w.trainable]
        out += list(self._activity_losses)
        for layer in self.layers:
            out += layer.losses
        return out

    def count_params(self) -> int:
        if not self.built and not self.weights:
            raise ValueError(f"Model {self.name!r} is not built yet, so it has no weights to count. "
                             "Call it on data, call build(input_shape), or give it an Input first.")
        return int(sum(w.size for w in self.weights))

    # ----------------------------------------------------------------- building and calling
    def _maybe_build(self, input_shape) -> None:
        # A subclassed model's layers build themselves on their first call; a model whose class
        # defines ``build`` (its own weights, layers made from the input shape) has it run first,
        # as Keras does.
        if not self.built:
            if _user_defines_build(type(self)):
                self.build(input_shape)
            self.built = True
            self.input_shape_built = input_shape

    def build(self, input_shape) -> None:
        """Create the weights by running the model once on zeros of ``input_shape``.

        Reached through ``super().build(input_shape)`` from a subclass's own ``build``, it only
        marks the model built (Keras runs no call there either)."""
        if _user_defines_build(type(self)):
            self.built = True
            return
        if self.built and self.weights:
            return
        self.built = True
        self.input_shape_built = input_shape

        def zeros(shape):
            return np.zeros((1,) + tuple(1 if s is None else s for s in tuple(shape)[1:]), self.dtype)

        x = [zeros(s) for s in input_shape] if isinstance(input_shape, list) else zeros(input_shape)
        with no_grad(), self._open_name_scope():
            self.__dict__["_path"] = current_path()
            self(x, training=False)

    def _input_dtypes(self):
        """The dtype of each declared input (None when the model declares no inputs)."""
        return [t.dtype for t in self._inputs] if self._inputs else None

    def __call__(self, inputs=NO_INPUTS, *args, **kwargs):
        if isinstance(inputs, (np.ndarray, Tensor)):  # one array, the common call, kept short
            declared = self._inputs
            inputs = to_input_tensor(inputs, declared[0].dtype if declared else None)
            if not self.built:
                return self._first_call(tuple(inputs.shape), inputs, args, kwargs)
            # a Sequential given its first layer after it was called empty still needs its input
            if declared is None:
                self._maybe_build(tuple(inputs.shape))
        elif inputs is NO_INPUTS:  # ``model(images=x)``: the inputs named as call's first parameter
            return self(inputs_from_kwargs(self, kwargs), *args, **kwargs)
        elif _is_symbolic(inputs):
            check_symbolic_input_shapes(self, inputs)
            return call_symbolic(self, inputs, *args, **kwargs)
        else:
            dtypes = self._input_dtypes()
            if isinstance(inputs, dict):
                inputs = {k: _nested_input_tensors(v) if _is_nest(v)
                          else to_input_tensor(v, self._dtype_for(k, dtypes)) for k, v in inputs.items()}
                shape = {k: tree.map_structure(lambda t: tuple(t.shape), v) if _is_nest(v)
                         else tuple(v.shape) for k, v in inputs.items()}
            elif isinstance(inputs, (list, tuple)):
                inputs = type(inputs)(to_input_tensor(v, dtypes[i] if dtypes and i < len(dtypes) else None)
                                      for i, v in enumerate(inputs))
                shape = [tuple(v.shape) for v in inputs]
            else:
                inputs = to_input_tensor(inputs, dtypes[0] if dtypes else None)
                shape = tuple(inputs.shape)
            if not self.built:
                return self._first_call(shape, inputs, args, kwargs)
            self._maybe_build(shape)
        accepted = self._spec_shape  # an input spec the model's class sets, checked as a layer's is
        if accepted is not None and (not isinstance(inputs, Tensor) or inputs.data.shape != accepted):
            self._check_call_input(inputs)
        if kwargs:
            training = kwargs.get("training")
            if training is not None and training is not layer_base._context_training:
                # the mode every call nested in this one inherits (Keras's call context)
                return layer_base.call_in_training_context(training, Model.__call__, self, inputs, *args,
                                                           **kwargs)
            if training is None and self._call_takes_training and layer_base._context_training is not None:
                kwargs["training"] = layer_base._context_training
            elif not self._call_takes_training:
                kwargs.pop("training", None)
            if not self._call_takes_mask:
                kwargs.pop("mask", None)
        elif layer_base._context_training is not None and self._call_takes_training:
            kwargs["training"] = layer_base._context_training
        self.__dict__["_activity_losses"] = []  # this call's (a plain attribute: no tracking to do)
        return self.call(inputs, *args, **kwargs)

    def _first_call(self, shape, inputs, args, kwargs):
        """Build and call inside the model's name scope, so the layers it builds on this call
        have their variables under its path (``"my_model/dense/kernel"``)."""
        with self._open_name_scope():
            self.__dict__["_path"] = current_path()
            self._maybe_build(shape)
            self.built = True
            return Model.__call__(self, inputs, *args, **kwargs)

    def _dtype_for(self, key, dtypes):
        if not dtypes:
            return None
        for t, d in zip(self._inputs, dtypes):
            if t.name == key:
                return d
        return None

    def call(self, inputs, training=None):
        raise NotImplementedError(f"{type(self).__name__} must implement call(inputs, training=None)")

    @property
    def input_shape(self):
        if not self._inputs:
            raise AttributeError(f"Model {self.name!r} has no defined input shape yet")
        shapes = [t.shape for t in self._inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        if not self._outputs:
            raise AttributeError(f"Model {self.name!r} has no defined output shape yet")
        shapes = [t.shape for t in self._outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    # ----------------------------------------------------------------- description
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None) -> None:
        """Print the Keras table: Layer (type) | Output Shape | Param #, then the totals."""
        print_summary(self, self.summary_rows(), line_length=line_length, positions=positions, print_fn=print_fn,
                      show_trainable=show_trainable)

    def summary_rows(self) -> list[SummaryRow]:
        """One row per layer for ``summary()``; a subclassed model knows no output shapes."""
        return [SummaryRow(layer) for layer in self.layers]

    def to_json(self, **kwargs) -> str:
        """The architecture as JSON: ``{"class_name", "config"}``; ``model_from_json`` reads it back."""
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()}, **kwargs)

    # ----------------------------------------------------------------- quantization
    def quantize(self, mode=None, config=None, filters=None, **kwargs) -> None:
        """Quantize the weights of every leaf layer that can be (Dense, Embedding, Conv1D/2D/3D),
        as Keras 3's ``Model.quantize``: ``mode="int8"`` or an ``Int8QuantizationConfig``;
        ``filters`` a regex (or list of them) searched in layer names, or a callable on the
        layer; ``mode="float8"`` makes Dense and EinsumDense train through float8 with delayed
        scaling; ``mode="int4"`` packs Dense kernels to 4 bits. A layer that refuses (a subclass,
        a grouped convolution, a mode it lacks) is left float with a warning; so is a layer with nothing to quantize (Flatten, pooling: the base ``Layer.quantize``
        raises NotImplementedError), as in Keras. The model must be built. The modes
        "gptq" and "awq" raise NotImplementedError naming the mode.
        A compiled model keeps its optimiser's configuration; its state restarts, since the
        float kernels it tracked are replaced."""
        type_check = kwargs.pop("type_check", True)
        if kwargs:
            raise ValueError(f"quantize: unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        if filters is not None and not isinstance(filters, (str, list, tuple)) and not callable(filters):
            raise ValueError(f"quantize: filters must be a regex string, a list of them or a callable, got "
                             f"{type(filters)}")
        config = quantizers.validate_and_resolve_config(mode, config)
        if config.mode not in ("int8", "float8", "int4"):
            raise NotImplementedError(f"quantize: mode {config.mode!r} is not supported by deepgrad; it quantizes "
                                      "to 'int8' (Dense, EinsumDense, Embedding and the convolutions) and 'int4' "
                                      "(Dense), and trains in 'float8' (Dense, EinsumDense)")
        if not self.built or not self.weights:
            raise ValueError(f"quantize: model {self.name!r} is not built yet; build it first (call it on data, "
                             "call build(input_shape), or give it an Input)")

        def selected(layer) -> bool:
            if filters is None:
                return True
            if isinstance(filters, str):
                return bool(re.search(filters, layer.name))
            if isinstance(filters, (list, tuple)):
                return any(re.search(pattern, layer.name) for pattern in filters)
            return bool(filters(layer))

        seen, stack, changed = set(), list(reversed(self.layers)), False
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            children = list(layer.layers) if isinstance(layer, Model) else list(layer._layers)
            if children:  # only leaf layers hold weights to quantize, as in Keras
                stack.extend(reversed(children))
                continue
            if not hasattr(layer, "quantize") or not selected(layer):
                continue
            try:
                layer.quantize(config.mode, type_check=type_check, config=config)
                changed = True
            except NotImplementedError as e:
                warnings.warn(str(e), stacklevel=2)
        optimizer = getattr(self, "optimizer", None)
        if changed and optimizer is not None and getattr(optimizer, "built", False):
            # its state belonged to the float kernels now gone: the optimiser starts afresh on the
            # weights that still train (biases, unquantized layers), as a recompile would
            self.optimizer = type(optimizer).from_config(optimizer.get_config())

    # ----------------------------------------------------------------- files
    def save(self, filepath, overwrite: bool = True, **kwargs) -> None:
        """The whole model in one zip file; ``models.load_model`` reads it back."""
        group = process_group.current()
        if group is None:
            files.save_model(self, filepath, overwrite=overwrite, **kwargs)
        else:  # over several processes: rank 0 writes (see process_group)
            group.write_file(lambda: files.save_model(self, filepath, overwrite=overwrite, **kwargs))

    def save_weights(self, filepath, overwrite: bool = True, max_shard_size=None) -> None:
        """Weights only; ``max_shard_size`` (GB) writes Keras's sharded ``.weights.json`` and shards."""
        group = process_group.current()
        if group is None:
            files.save_weights(self, filepath, overwrite=overwrite, max_shard_size=max_shard_size)
        else:  # over several processes: rank 0 writes (see process_group)
            group.write_file(lambda: files.save_weights(self, filepath, overwrite=overwrite,
                                                        max_shard_size=max_shard_size))

    def load_weights(self, filepath, **kwargs) -> None:
        files.load_weights(self, filepath, **kwargs)

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, opset_version=None,
               quantize=None, calibration_data=None) -> None:
        """Write the model for inference outside deepgrad, as Keras's ``export``.

        ``format="onnx"``: one ONNX file (``opset_version`` default 18, batch dimension dynamic,
        inference mode; an ``input_signature`` of ``InputSpec``s or ``KerasTensor``s, one per input, is
        checked against the model's inputs: rank, and sizes where both give one, the file keeping
        the model's own input shapes); ``quantize="int8"`` quantises it with onnxruntime, statically
        when ``calibration_data`` (model inputs) is given. ``format="tf_saved_model"`` (the default):
        where Keras writes a TensorFlow SavedModel, deepgrad writes an export archive (a directory)
        with the endpoint ``"serve"`` (``ExportArchive``), read back by ``deepgrad.export.load_archive``,
        ``tf.saved_model.load`` of ``deepgrad.compat`` and ``layers.TFSMLayer``. Both need
        ``pip install deepgrad[onnx]``."""
        from ..export import ExportArchive, export_onnx

        if format == "tf_saved_model":
            if quantize is not None or calibration_data is not None or opset_version is not None:
                raise ValueError("Model.export: quantize, calibration_data and opset_version are options of "
                                 "format='onnx'")
            archive = ExportArchive()
            archive.track_and_add_endpoint("serve", self, input_signature)
            archive.write_out(filepath, verbose=True if verbose is None else verbose)
            return
        if format != "onnx":
            raise ValueError(f"Model.export: format {format!r} is not available in deepgrad; it exports "
                             "format='tf_saved_model' (as an export archive of ONNX endpoints) and format='onnx'")
        if input_signature is not None:
            _check_input_signature(self, input_signature)
        export_onnx(self, filepath, opset_version=opset_version, quantize=quantize,
                    calibration_data=calibration_data, verbose=verbose)

    def __repr__(self) -> str:
        # Keras prints "<Dense name=dense, built=False>"
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _check_input_signature(model, signature) -> None:
    """Refuse an export ``input_signature`` that disagrees with the inputs of ``model``: one spec
    per input, each of the input's rank, its sizes equal where both give one."""
    inputs = list(getattr(model, "inputs", None) or [])
    if not inputs:
        raise ValueError(f"Model.export: model {model.name!r} has no layer graph to export; input_signature "
                         "cannot stand in for it (build a Sequential or functional model)")
    if isinstance(signature, dict):
        names = getattr(model, "input_names", None) or []
        specs = [signature[n] for n in names if n in signature]
        if len(specs) != len(signature):
            raise ValueError(f"Model.export: input_signature keys {sorted(signature)} do not name the model's "
                             f"inputs {list(names)}")
    else:
        specs = list(signature) if isinstance(signature, (list, tuple)) else [signature]
        if len(specs) == 1 and len(inputs) > 1 and isinstance(specs[0], (list, tuple)):
            specs = list(specs[0])   # Keras also takes the inputs' specs as one nested list
    if len(specs) != len(inputs):
        raise ValueError(f"Model.export: input_signature has {len(specs)} spec(s), the model {len(inputs)} input(s)")
    for spec, tensor in zip(specs, inputs):
        shape = getattr(spec, "shape", None)
        if shape is None:
            raise ValueError(f"Model.export: input_signature entries must be InputSpec or KerasTensor with a "
                             f"shape, got {spec!r}")
        shape, own = tuple(shape), tuple(tensor.shape)
        if len(shape) != len(own) or any(a is not None and b is not None and int(a) != int(b)
                                         for a, b in zip(shape, own)):
            raise ValueError(f"Model.export: input_signature shape {shape} does not match the model's input "
                             f"shape {own}")
