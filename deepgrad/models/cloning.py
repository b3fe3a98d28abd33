"""``clone_model``: the same architecture with new layers (and so new, untrained weights), as
Keras's ``keras.models.clone_model``.

A Sequential model gets each layer through ``clone_function`` (by default a layer rebuilt from
its config) on a copy of its input; a functional model has its graph replayed on new inputs,
each layer through ``clone_function`` and each call through ``call_function`` (which may add
layers around a call); any other model is rebuilt from its config. With ``recursive=True`` the
models nested inside are cloned the same way instead of being handed whole to
``clone_function``. A compiled model's clone is compiled with its compile config.
"""
from __future__ import annotations

from ..layers.core import Input
from ..symbolic import KerasTensor, flatten, map_structure
from .compile_config import compile_loaded
from .functional import Functional
from .model import deserialize_layer, serialize_layer
from .sequential import Sequential


def _clone_layer(layer):
    return type(layer).from_config(layer.get_config())


def _wrapped(clone_function, call_function, recursive: bool, cache: dict):
    """``clone_function`` with Keras's sharing (a layer used twice is cloned once) and, with
    ``recursive``, nested Sequential and functional models cloned layer by layer."""
    clone_function = clone_function or _clone_layer

    def clone(layer):
        if id(layer) in cache:
            return cache[id(layer)]
        if recursive and isinstance(layer, Sequential):
            new = clone_model(layer, clone_function=clone_function, recursive=True, cache=cache)
        elif recursive and isinstance(layer, Functional) and type(layer).get_config is Functional.get_config:
            new = clone_model(layer, clone_function=clone_function, call_function=call_function, recursive=True,
                              cache=cache)
        else:
            new = clone_function(layer)
        cache[id(layer)] = new
        return new

    return clone


def _compile_like(new, model):
    if getattr(model, "compiled", False):
        config = model.get_compile_config()
        if config:
            compile_loaded(new, config, config)
    return new


def _clone_sequential(model, clone, input_tensors):
    layers = [clone(layer) for layer in model.layers]
    declared = model._inputs
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ValueError("Argument `input_tensors` must contain a single tensor.")
            input_tensors = input_tensors[0]
        if not isinstance(input_tensors, KerasTensor):
            raise ValueError(f"Argument `input_tensors` must be a KerasTensor. Received invalid value: "
                             f"input_tensors={input_tensors}")
        layers = [Input(tensor=input_tensors, name=declared[0].name if declared else None)] + layers
    elif declared:
        t = declared[0]
        layers = [Input(batch_shape=t.shape, dtype=t.dtype, name=t.name)] + layers
    return _compile_like(Sequential(layers, name=model.name, trainable=model.trainable), model)


def _clone_functional(model, clone, call_function, input_tensors):
    if input_tensors is not None:
        if not all(isinstance(t, KerasTensor) for t in flatten(input_tensors)):
            raise ValueError(f"All entries in `input_tensors` must be KerasTensors. Received invalid values: "
                             f"inputs_tensors={input_tensors}")
        given = input_tensors
        if isinstance(given, (list, tuple)) and not isinstance(model.input, (list, tuple)) and len(given) == 1:
            given = given[0]
        if len(flatten(given)) != len(model.inputs) or isinstance(given, dict) != isinstance(model.input, dict):
            raise ValueError(f"`input_tensors` must have the same structure as model.input\n"
                             f"Reference structure: {model.input}\nReceived structure: {input_tensors}")
        input_tensors = given
    else:
        input_tensors = map_structure(lambda t: Input(batch_shape=t.shape, dtype=t.dtype, name=t.name), model.input)
    values = {id(old): new for old, new in zip(model.inputs, flatten(input_tensors))}

    def value(t):
        return values[id(t)] if isinstance(t, KerasTensor) else t

    for node in model._nodes:   # every call after the calls it reads from
        layer = clone(node.layer)
        inputs = map_structure(value, node.inputs)
        args = map_structure(value, list(node.args))
        kwargs = map_structure(value, dict(node.kwargs))
        out = call_function(layer, inputs, *args, **kwargs) if call_function is not None \
            else layer(inputs, *args, **kwargs)
        if len(node.outputs) == 1 and node.outputs[0].index is None:
            values[id(node.outputs[0])] = out
        else:
            for t in node.outputs:
                values[id(t)] = out[t.index]
    outputs = map_structure(value, model.output)
    cls = type(model) if _functional_like(type(model)) else Functional
    return _compile_like(cls(input_tensors, outputs, name=model.name), model)


def _functional_like(cls) -> bool:
    """A class built as ``cls(inputs, outputs, name=...)``: Functional, or a subclass that keeps its constructor."""
    return cls is Functional or cls.__init__ is Functional.__init__


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """A copy of ``model``'s architecture with new layers and fresh weights (the weights are not
    copied: ``clone.set_weights(model.get_weights())`` does that), compiled as ``model`` is.

    ``clone_function(layer)`` makes each new layer (default: ``layer.from_config(layer.get_config())``;
    return ``layer`` itself to share it); ``call_function(layer, *args, **kwargs)`` makes each
    call of a functional model; ``input_tensors`` are the KerasTensors to build the clone on;
    ``recursive`` clones nested models layer by layer. Models of other classes are rebuilt from
    their config, and accept none of these arguments.
    """
    cache = kwargs.pop("cache", None)
    if kwargs:
        raise ValueError(f"Unexpected keyword argument(s): {tuple(kwargs.keys())}")
    cache = {} if cache is None else cache
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError("`call_function` argument is not supported with Sequential models.  In a Sequential "
                             "model, layers aren't called at model-construction time (they're merely listed). Use "
                             "`call_function` with Functional models only. Received model of type "
                             f"'{type(model).__name__}', with call_function={call_function}")
        return _clone_sequential(model, _wrapped(clone_function, None, recursive, cache), input_tensors)
    if isinstance(model, Functional) and (type(model).get_config is Functional.get_config
                                          or clone_function is not None or input_tensors is not None):
        return _clone_functional(model, _wrapped(clone_function, call_function, recursive, cache), call_function,
                                 input_tensors)
    if clone_function is not None or input_tensors is not None:
        raise ValueError(f"Arguments `clone_function` and `input_tensors` are only supported for Sequential models "
                         f"or Functional models. Received model of type '{type(model).__name__}', with "
                         f"clone_function={clone_function} and input_tensors={input_tensors}")
    if call_function is not None:
        raise ValueError(f"Argument `call_function` is only supported for Functional models. Received model of "
                         f"type '{type(model).__name__}', with call_function={call_function}")
    new = deserialize_layer(serialize_layer(model), {type(model).__name__: type(model)})
    build_config = model.get_build_config() if getattr(model, "built", False) else None
    if build_config and not new.built:   # Keras's config carries the build and compile configs
        new.build_from_config(build_config)
    return _compile_like(new, model)
