"""Model configs in Keras 3's serialized form, both ways.

Keras writes every object as ``{"module", "class_name", "config", "registered_name"}``
(layers also with ``build_config``), a layer's dtype as a ``DTypePolicy`` object, and a
functional model's tensors as ``__keras_tensor__`` objects with their shape, dtype and
``keras_history``. deepgrad's own configs are the same tree with ``{"class_name", "config"}``
objects and ``{"keras_tensor": history}`` references.

``to_keras`` adds what Keras expects. ``from_keras`` turns a Keras config back into
deepgrad's form and is the safety gate of a Keras file: it walks the whole tree *before*
anything is built and refuses any class that is not built in or given in ``custom_objects``
(or registered), serialized Python code (``__lambda__``, refused even with ``safe_mode=False``:
deepgrad never runs bytecode from a file), and, unless ``safe_mode=False``, functions that
are neither built in nor the user's (so a ``Lambda`` layer loads only when its function is
one the program supplies). Modules are never imported: ``module`` is only checked to be a
string and then dropped.
"""
from __future__ import annotations

import inspect

from .. import activations, backend, constraints, initializers, layers, losses, metrics, ops, optimizers, regularizers
from ..layers.base import builtin_class
from .. import quantizers
from ..optimizers import schedules
from ..registry import GLOBAL_CUSTOM_NAMES, GLOBAL_CUSTOM_OBJECTS, find_custom_object
from ..serialization_lib import serialize_keras_object
from .keras_ops import is_keras_op, keras_op_entry, symbolic_op_entry
from .safetensors_format import UnsafeFileError

MODEL_CLASSES = ("Sequential", "Functional", "Model")

_LAYER_KEYS = {"layer", "backward_layer", "cell", "cells", "layers"}
_BY_SUFFIX = {"_initializer": "keras.initializers", "_regularizer": "keras.regularizers",
              "_constraint": "keras.constraints"}
_BY_KEY = {"optimizer": "keras.optimizers", "learning_rate": "keras.optimizers.schedules", "loss": "keras.losses",
           "metrics": "keras.metrics", "weighted_metrics": "keras.metrics",
           "distillation_losses": "keras.distillation"}
_REGISTRIES = [("keras.layers", layers._REGISTRY), ("keras.initializers", initializers._REGISTRY),
               ("keras.regularizers", regularizers._REGISTRY), ("keras.constraints", constraints._REGISTRY),
               ("keras.optimizers", optimizers._REGISTRY), ("keras.optimizers.schedules", schedules._REGISTRY),
               ("keras.losses", losses._REGISTRY), ("keras.metrics", metrics._REGISTRY),
               ("keras.activations", activations._REGISTRY), ("keras.quantizers", quantizers._REGISTRY)]
# Keras-only constructor arguments dropped on reading when they hold Keras's default (the
# feature is off); any other value is passed on and refused by the layer by name.
_KERAS_DEFAULTS = {"quantization_config": None, "sparse": False, "ragged": False, "optional": False,
                   "renorm": False, "renorm_clipping": None, "renorm_momentum": 0.99, "lora_rank": None,
                   "lora_alpha": None, "build_input_shape": None}
_DTYPE_POLICIES = {"DTypePolicy", "FloatDTypePolicy"}
# a quantized layer's policy ("int8_from_float32"): kept as an object, read by dtype_policies
_QUANTIZED_POLICIES = {"QuantizedDTypePolicy", "QuantizedFloat8DTypePolicy", "Int4DTypePolicy", "GPTQDTypePolicy",
                       "AWQDTypePolicy"}
_FUNCTION_REGISTRIES = (activations._REGISTRY, losses._REGISTRY, metrics._REGISTRY)


def _module_for(class_name: str, key: str | None) -> str:
    if key in _LAYER_KEYS or class_name in MODEL_CLASSES:
        return "keras" if class_name == "Sequential" else (
            "keras.src.models.functional" if class_name == "Functional" else "keras.layers")
    for suffix, module in _BY_SUFFIX.items():
        if key and key.endswith(suffix):
            return module
    if key in _BY_KEY:
        return _BY_KEY[key]
    for module, registry in _REGISTRIES:
        if registry.by_name.get(registry._key(class_name)) is not None:
            return module
    return "keras"


def _dtype_policy(name: str) -> dict:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name}, "registered_name": None}


def _is_model(layer) -> bool:
    return hasattr(layer, "layers") and hasattr(layer, "compile")


def _all_layers(model) -> dict:
    """Every layer under ``model`` (itself included), by name."""
    found, stack = {}, [model]
    while stack:
        layer = stack.pop()
        if layer.name not in found:
            found[layer.name] = layer
            stack.extend(layer._layers)
            stack.extend(getattr(layer, "layers", []) if _is_model(layer) else [])
    return found


def _tensor_table(model) -> dict:
    """(model name, keras_history) -> KerasTensor, for every functional model under ``model``."""
    table = {}
    for layer in _all_layers(model).values():
        if hasattr(layer, "_tensor_refs") and layer.inputs is not None:
            refs = layer._tensor_refs()
            tensors = {id(t): t for t in layer.inputs}
            for node in layer._nodes:
                tensors.update({id(t): t for t in node.outputs})
            for tid, ref in refs.items():
                if tid in tensors:
                    table[(layer.name, tuple(ref))] = tensors[tid]
    return table


def to_keras(model) -> dict:
    """``model``'s config as Keras serializes it (the top-level object of ``config.json``)."""
    by_name = _all_layers(model)
    tensors = _tensor_table(model)

    def tensor(history, owner):
        t = tensors.get((owner, tuple(history)))
        shape = list(t.shape) if t is not None else None
        dtype = str(t.dtype) if t is not None else "float32"
        return {"class_name": "__keras_tensor__", "config": {"shape": shape, "dtype": dtype,
                                                             "keras_history": list(history)}}

    def convert(node, key=None, owner=None):
        if isinstance(node, list):
            return [convert(v, key, owner) for v in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"keras_tensor"}:
            return tensor(node["keras_tensor"], owner)
        if "class_name" not in node or "config" not in node or not isinstance(node["config"], dict):
            return {k: convert(v, k, owner) for k, v in node.items()}
        class_name = node["class_name"]
        if class_name in ("__numpy__", "__tensor__", "__bytes__", "__slice__", "__ellipsis__"):
            return node  # a value (an array as a config entry), written as Keras writes it
        if class_name == "SymbolicOp" and key == "layers" and "inbound_nodes" in node:
            entry = keras_op_entry(node, lambda history: tensor(history, owner))
            if entry is not None:  # else deepgrad's own form: an op Keras has no class for
                return entry
        # a functional model's tensors are named within it: its layers' calls refer to its own graph
        inner_owner = node["config"].get("name") if "input_layers" in node["config"] else owner
        inner = {k: convert(v, k, inner_owner) for k, v in node["config"].items()}
        module = "keras.dtype_policies" if class_name in _QUANTIZED_POLICIES else _module_for(class_name, key)
        out = {"module": module, "class_name": class_name, "config": inner, "registered_name": None}
        layer = by_name.get(inner.get("name")) if (key in _LAYER_KEYS or class_name in MODEL_CLASSES) else None
        bare = layer is None and node is top  # a subclassed model whose get_config names nothing
        if bare:
            layer = model
        if layer is not None and type(layer).__name__ == class_name:
            registered = GLOBAL_CUSTOM_NAMES.get(type(layer))
            keras_module = getattr(type(layer), "keras_module", None)
            if keras_module is not None:  # a helper of keras.applications: Keras's module and class name
                out["module"], out["registered_name"] = keras_module, class_name
            elif registered is not None or not type(layer).__module__.startswith("deepgrad."):
                # the user's class: Keras writes its module and its registered name (or class name)
                out["module"], out["registered_name"] = type(layer).__module__, registered or class_name
            if class_name != "InputLayer" and not bare and not isinstance(inner.get("dtype"), dict):
                inner["dtype"] = _dtype_policy(str(inner.get("dtype") or layer.dtype))
            build = _model_build(layer) if _is_model(layer) else layer.get_build_config()
            build = _keras_build_config(class_name, _jsonable(build)) if build is not None else None
            if build is not None:
                out["build_config"] = build
        if class_name == "Functional":
            out["registered_name"] = "Functional"
        for extra in ("name", "inbound_nodes"):
            if extra in node:
                out[extra] = convert(node[extra], extra, owner)
        return out

    top = {"class_name": _config_class_name(model), "config": model.get_config()}
    entry = convert(top, "layer", model.name)
    if "build_config" not in entry and not _is_model(model) and hasattr(model, "get_build_config"):
        build = model.get_build_config()  # a layer saved whole (a FeatureSpace: its preprocessors' builds)
        if isinstance(build, dict) and build:
            entry["build_config"] = _jsonable(build)
    return entry


def _keras_build_config(class_name: str, build: dict) -> dict:
    """Keras's build config of a layer: ``{"input_shape"}``, except where Keras's ``build`` takes
    other arguments (MultiHeadAttention: query, value and key shapes)."""
    shapes = build.get("input_shape")
    if class_name == "MultiHeadAttention":
        if isinstance(shapes, list) and shapes and isinstance(shapes[0], list):
            return {"query_shape": shapes[0], "value_shape": shapes[1] if len(shapes) > 1 else shapes[0],
                    "key_shape": shapes[2] if len(shapes) > 2 else None}
        return None  # only the query's shape is known: Keras builds the layer when the graph calls it
    return build


def _config_class_name(model) -> str:
    """The user's class by its own name; deepgrad's by the model class configs name."""
    if not type(model).__module__.startswith("deepgrad."):
        return type(model).__name__
    for cls in type(model).__mro__:
        if cls.__name__ in ("Sequential", "Functional") and cls.__module__.startswith("deepgrad."):
            return cls.__name__
    return type(model).__name__


def _model_build(model):
    if hasattr(model, "_nodes"):  # Keras records no input shape for a functional model
        return {"input_shape": None}
    inputs = getattr(model, "inputs", None)   # an unbuilt Sequential has none (AttributeError)
    if inputs:
        shapes = [list(t.shape) for t in inputs]
        return {"input_shape": shapes[0] if len(shapes) == 1 else shapes}
    if model.input_shape_built is not None:
        return {"input_shape": _jsonable(model.input_shape_built)}
    return None


def _jsonable(value):
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return int(value) if hasattr(value, "__index__") and not isinstance(value, bool) else value


def overrides_compile_config(model) -> bool:
    """Whether the model's class has its own ``get_compile_config`` (not deepgrad's)."""
    method = getattr(type(model), "get_compile_config", None)
    return method is not None and not (getattr(method, "__module__", "") or "").startswith("deepgrad.")


def saved_compile_config(model) -> dict | None:
    """``model.get_compile_config()`` as a file keeps it, as Keras saves it: deepgrad's own in
    Keras's object form; a user's override's dict with every object in it serialized (an
    optimizer or a loss instance as ``{"module", "class_name", "config", ...}``). None (nothing
    saved) when the model is not compiled, or the override returns nothing."""
    if not hasattr(model, "get_compile_config"):  # a layer saved whole (a FeatureSpace): nothing compiled
        return None
    if overrides_compile_config(model):
        config = model.get_compile_config()
        return serialize_keras_object(config) if config else None
    return compile_to_keras(model.get_compile_config())


def compile_to_keras(compile_config: dict | None) -> dict | None:
    """deepgrad's ``get_compile_config()`` with Keras's object form and keys."""
    if compile_config is None:
        return None

    def convert(node, key):
        if isinstance(node, list):
            return [convert(v, key) for v in node]
        if isinstance(node, dict) and "class_name" in node and "config" in node:
            inner = node["config"]
            if isinstance(inner, dict):
                inner = {k: convert(v, k) for k, v in inner.items()}
            registered = node.get("registered_name")
            if registered is not None:   # a class registered with register_keras_serializable
                return {"module": node.get("module"), "class_name": node["class_name"], "config": inner,
                        "registered_name": registered}
            return {"module": _module_for(node["class_name"], key), "class_name": node["class_name"],
                    "config": inner, "registered_name": None}
        if isinstance(node, dict):
            return {k: convert(v, key) for k, v in node.items()}
        if key in ("loss", "metrics", "weighted_metrics") and isinstance(node, str) and ">" in node \
                and node in GLOBAL_CUSTOM_OBJECTS:
            # a registered function, written as Keras writes it: by its "package>name"
            return {"module": "builtins", "class_name": "function", "config": node, "registered_name": "function"}
        return node

    out = {key: convert(value, key) for key, value in compile_config.items()}
    out.setdefault("run_eagerly", False)
    out.setdefault("steps_per_execution", 1)
    out.setdefault("jit_compile", False)
    return out


# ----------------------------------------------------------------- reading
def _known_class(class_name: str, registered, custom_objects: dict):
    """The class or function a config names, or None (nothing is imported)."""
    for name in (registered, class_name):
        if isinstance(name, str):
            found = find_custom_object(name, custom_objects, bare=False)
            if found is not None:
                return found
    if class_name in MODEL_CLASSES:
        try:
            return builtin_class(class_name)
        except ValueError:
            pass
    for _, registry in _REGISTRIES:
        found = registry.by_name.get(registry._key(class_name))
        if found is not None:
            return found
    return find_custom_object(class_name, custom_objects)


def _known_function(name, custom_objects: dict, ops_too: bool = False) -> bool:
    """Whether ``name`` is the user's (custom objects, registered) or a built-in function
    (activations, losses, metrics; with ``ops_too`` a public deepgrad op, as a Lambda may name)."""
    if not isinstance(name, str):
        return False
    if find_custom_object(name, custom_objects) is not None:
        return True
    if ops_too and not name.startswith("_") and callable(getattr(ops, name, None)):
        return True
    return any(r.by_name.get(r._key(name)) is not None for r in _FUNCTION_REGISTRIES)


def _accepted_arguments(cls) -> set | None:
    """The constructor's argument names, or None when it takes any keyword."""
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return None
    names = set(params)
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        names |= {"name", "trainable", "dtype", "input_shape", "input_dim", "batch_input_shape", "autocast"}
    return names


def _refs(node):
    """The layer names of every ``__keras_tensor__`` inside ``node``."""
    if isinstance(node, list):
        return [name for v in node for name in _refs(v)]
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__" and isinstance(node.get("config"), dict):
            history = node["config"].get("keras_history")
            return [history[0]] if isinstance(history, list) and history else []
        return [name for v in node.values() for name in _refs(v)]
    return []


def _without_mask_ops(config):
    """A functional config without the op nodes Keras records only to compute a mask (an
    Embedding's ``mask_zero`` becomes ``NotEqual(inputs, 0)`` passed as ``mask=``): deepgrad
    carries masks on the tensors themselves, so those nodes and ``mask`` arguments are dropped.
    Op nodes used for anything else stay, and are refused as unknown classes."""
    if isinstance(config, list):
        return [_without_mask_ops(v) for v in config]
    if not isinstance(config, dict):
        return config
    config = {k: _without_mask_ops(v) for k, v in config.items()}
    inner = config.get("config")
    entries = inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(entries, list):
        return config
    ops_nodes = {e.get("name") for e in entries if isinstance(e, dict) and isinstance(e.get("module"), str)
                 and e["module"].startswith("keras.src.ops")}
    if not ops_nodes:
        return config
    used_otherwise = set()
    for e in entries:
        for node in (e.get("inbound_nodes") or []) if isinstance(e, dict) else []:
            if isinstance(node, dict):
                kwargs = node.get("kwargs") if isinstance(node.get("kwargs"), dict) else {}
                used_otherwise.update(_refs(node.get("args")))
                used_otherwise.update(_refs({k: v for k, v in kwargs.items() if k != "mask"}))
    used_otherwise.update(_refs(inner.get("output_layers")))
    for key in ("output_layers", "input_layers"):
        refs = inner.get(key)
        flat = refs if isinstance(refs, list) else []
        flat = [flat] if flat and isinstance(flat[0], str) else flat  # one tensor: [name, node, index]
        used_otherwise.update(r[0] for r in flat if isinstance(r, list) and r and isinstance(r[0], str))
    droppable = ops_nodes - used_otherwise
    if not droppable:
        return config
    kept = []
    for e in entries:
        if isinstance(e, dict) and e.get("name") in droppable:
            continue
        for node in e.get("inbound_nodes") or [] if isinstance(e, dict) else []:
            kwargs = node.get("kwargs") if isinstance(node, dict) else None
            if isinstance(kwargs, dict) and set(_refs(kwargs.get("mask"))) & droppable:
                del kwargs["mask"]
        kept.append(e)
    return {**config, "config": {**inner, "layers": kept}}


def _symbolic_ops(config, source: str):
    """The config with each Keras op node (``keras.src.ops.numpy.Add``) of a functional model
    as deepgrad's ``SymbolicOp`` entry (keras_ops.py), so that an op is never taken for a layer
    of the same class name (the op ``Add`` for the merge layer ``Add``)."""
    if isinstance(config, list):
        return [_symbolic_ops(v, source) for v in config]
    if not isinstance(config, dict):
        return config
    config = {k: _symbolic_ops(v, source) for k, v in config.items()}
    inner = config.get("config")
    entries = inner.get("layers") if isinstance(inner, dict) and "input_layers" in inner else None
    if isinstance(entries, list):
        entries = [symbolic_op_entry(e, source) if is_keras_op(e) else e for e in entries]
        config = {**config, "config": {**inner, "layers": entries}}
    return config


def from_keras(config, custom_objects=None, safe_mode: bool = True, source: str = "config.json"):
    """``(deepgrad config, custom objects found by registered name)`` from a Keras config;
    refuses unknown classes, code and (in safe mode) Lambda layers before anything is built."""
    custom_objects = dict(custom_objects or {})
    found: dict = {}
    unknown: list[str] = []
    hints: set[str] = set()

    def convert(node, path):
        if isinstance(node, list):
            return [convert(v, f"{path}/{i}") for i, v in enumerate(node)]
        if not isinstance(node, dict):
            if node is None or isinstance(node, (str, bool, int, float)):
                return node
            raise UnsafeFileError(f"{source}: unexpected value of type {type(node).__name__} at {path}")
        for key in node:
            if not isinstance(key, str):
                raise UnsafeFileError(f"{source}: non-string key at {path}")
        if "class_name" not in node or "config" not in node:
            return {k: convert(v, f"{path}/{k}") for k, v in node.items()}
        class_name, inner = node["class_name"], node["config"]
        module, registered = node.get("module"), node.get("registered_name")
        if not isinstance(class_name, str) or not (module is None or isinstance(module, str)) or not (
                registered is None or isinstance(registered, str)):
            raise UnsafeFileError(f"{source}: malformed object at {path} (class_name, module and registered_name "
                                  "must be strings)")
        if class_name == "__lambda__" or (isinstance(inner, dict) and ("bytecode" in inner or "code" in inner)
                                          and class_name != "Lambda"):
            raise UnsafeFileError(f"{source}: {path} holds serialized Python code (a lambda); deepgrad never runs "
                                  "code from a file. Define the function in your program and pass it with "
                                  "custom_objects={'name': fn}")
        if class_name == "__keras_tensor__":
            return {"keras_tensor": inner["keras_history"]}
        if class_name in _DTYPE_POLICIES:
            # the default policy reads back as no dtype at all, so configs round-trip unchanged
            name = inner.get("name") if isinstance(inner, dict) else None
            return None if name == backend.floatx() else name
        if class_name in _QUANTIZED_POLICIES:
            if not isinstance(inner, dict) or not all(isinstance(v, (str, int, type(None))) for v in inner.values()):
                raise UnsafeFileError(f"{source}: malformed {class_name} at {path}")
            return {"class_name": class_name, "config": dict(inner)}
        if class_name in ("__numpy__", "__tensor__", "__bytes__", "__slice__", "__ellipsis__"):
            return node
        if class_name == "function":
            in_lambda = path.rsplit("/", 1)[-1] in ("function", "output_shape", "mask")
            if safe_mode and not _known_function(inner, custom_objects, in_lambda) and not _known_function(
                    registered, custom_objects, in_lambda):
                raise UnsafeFileError(f"{source}: {path}: the function {inner!r} is neither in custom_objects nor "
                                      f"built in; pass it with custom_objects={{{inner!r}: fn}} (or load with "
                                      "safe_mode=False if you trust the file)")
            if in_lambda:  # a Lambda's function stays an object, as its from_config reads it
                return {"class_name": "function", "config": inner}
            return inner
        cls = _known_class(class_name, registered, custom_objects)
        if cls is None:
            unknown.append(class_name if registered in (None, class_name) else f"{class_name} ({registered})")
            if isinstance(module, str) and module.startswith("keras.src.applications."):
                # Keras's application helpers (ConvNeXt's LayerScale) are registered when deepgrad's
                # applications are imported
                hints.add("import deepgrad.applications before loading a model of keras.applications")
            if isinstance(module, str) and module.startswith(("keras.distillation", "keras.src.distillation")):
                # the Distiller and its losses are registered when deepgrad.distillation is imported
                hints.add("import deepgrad.distillation before loading a model of keras.distillation")
            return None
        if isinstance(cls, type):
            found[class_name] = cls
        out = {"class_name": class_name,
               "config": convert(inner, f"{path}/config") if isinstance(inner, (dict, list)) else inner}
        if isinstance(out["config"], dict) and isinstance(cls, type):
            accepted = _accepted_arguments(cls)
            for key, default in _KERAS_DEFAULTS.items():
                if key in out["config"] and out["config"][key] == default and (accepted is None
                                                                              or key not in accepted):
                    del out["config"][key]
        for extra in ("name", "inbound_nodes"):
            if extra in node:
                out[extra] = convert(node[extra], f"{path}/{extra}")
        if isinstance(node.get("build_config"), dict):  # for a user's build_from_config
            out["build_config"] = node["build_config"]
        return out

    if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
        raise UnsafeFileError(f"{source}: expected an object with 'class_name' and 'config'")
    config = _symbolic_ops(_without_mask_ops(config), source)
    converted = convert({k: v for k, v in config.items() if k != "compile_config"}, "")
    compile_config = config.get("compile_config")
    converted_compile = None
    if isinstance(compile_config, dict) and compile_config:
        # checked (and turned into deepgrad's form) whatever its keys: a user's
        # ``get_compile_config`` may save other objects than ``optimizer``, as Keras allows
        converted_compile = convert(compile_config, "/compile_config")
    if unknown:
        raise ValueError(f"{source} names unknown class(es) {sorted(set(unknown))}. Built-in classes load by "
                         "name; pass your own with custom_objects={'Name': Class} or register them with "
                         "register_keras_serializable." + "".join(f" ({h})" for h in sorted(hints)))
    build_config = config.get("build_config")
    return {"model_config": {"class_name": converted["class_name"], "config": converted["config"]},
            "build_config": build_config if isinstance(build_config, dict) else None,
            "compile_config": converted_compile, "custom_objects": {**found, **custom_objects},
            "raw_compile_config": compile_config if converted_compile is not None else None}


__all__ = ["compile_to_keras", "from_keras", "saved_compile_config", "to_keras"]
