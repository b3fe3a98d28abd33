"""Where each weight sits in Keras's weights file, and the optimiser state in Keras's order.

Keras 3 stores a model's variables by *object path*, not by weight name: starting from the
model, each object's own variables go to ``{path}/vars/{i}`` (trainable first, then
non-trainable, each in creation order) and its children are visited after it:

- a Sequential or functional model's ``layers`` first, as a container: each child is named
  by its class in snake case, repeated classes numbered (``dense``, ``dense_1``, ...),
  whatever the layers' own names are;
- then the object's attributes that hold layers (or lists of layers), in sorted order with
  private names (``_x``) last, each under its attribute name (``cell``, ``forward_layer``);
- an object met a second time (a shared layer) is not written again;
- the optimiser at ``optimizer/vars``: ``iterations``, the learning rate (when it is a
  number, not a schedule), then the slots in Keras's order (see ``SLOT_LAYOUT``).

Keras's recurrent layers keep their weights in a ``cell``; a layer here that has a ``cell``
layer attribute is walked as any other, and one that holds the weights itself is written
under ``{path}/cell/vars`` so both give Keras's file.
"""
from __future__ import annotations

import numpy as np

from ..layers.base import Layer
from ..naming import to_snake_case
from .safetensors_format import UnsafeFileError

# class name -> the name of the cell Keras creates (the ``name`` attribute of cell/vars)
RECURRENT_CELLS = {"SimpleRNN": "simple_rnn_cell", "LSTM": "lstm_cell", "GRU": "gru_cell",
                   "ConvLSTM1D": "conv_lstm_cell", "ConvLSTM2D": "conv_lstm_cell", "ConvLSTM3D": "conv_lstm_cell"}
# attributes that hold layers for bookkeeping, not as children
_SKIPPED_ATTRIBUTES = {"_layers", "_inbound_nodes", "_outbound_nodes", "_input_layers", "_output_layers"}
# Keras's optimiser slot order: groups in sequence; the slots inside one group are
# interleaved variable by variable (Keras's ``add_optimizer_variables`` with several names)
SLOT_LAYOUT = {
    "Adam": [("m", "v"), ("v_hat",)], "AdamW": [("m", "v"), ("v_hat",)], "Nadam": [("m", "v")],
    "Adamax": [("m", "u")], "SGD": [("momentum",)], "Adagrad": [("accumulator",)],
    "RMSprop": [("velocity",), ("momentum",), ("average_gradient",)],
    "Adadelta": [("accumulated_grad", "accumulated_delta_var")],
}


def _name_key(name: str) -> str:
    return f"~{name}" if name.startswith("_") else name


def _is_model(layer) -> bool:
    return hasattr(layer, "layers") and hasattr(layer, "compile")


def _children(layer) -> list[tuple[str, object]]:
    """``(attribute, Layer or list of Layers)`` in Keras's order of visit."""
    items = []
    for attr, value in vars(layer).items():
        if attr in _SKIPPED_ATTRIBUTES:
            continue
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, Layer) or (isinstance(value, (list, tuple)) and value
                                        and all(isinstance(v, Layer) for v in value)):
            items.append((attr, value))
    if _is_model(layer):
        items = [(a, v) for a, v in items if a != "layers"]
        if any(c.__name__ in ("Sequential", "Functional") for c in type(layer).__mro__):
            return [("layers", layer.layers)] + sorted(items, key=lambda kv: _name_key(kv[0]))
        items.append(("layers", layer.layers))
    return sorted(items, key=lambda kv: _name_key(kv[0]))


def own_variables(layer) -> list:
    """A layer's own variables as Keras lists them: trainable, then non-trainable; a quantized
    layer says its own order (``keras_own_variables``: weight, bias, scale)."""
    listed = getattr(layer, "keras_own_variables", None)
    listed = listed() if callable(listed) else None
    if listed is not None:
        return listed
    own = list(getattr(layer, "_weights", []))
    return [w for w in own if w.trainable] + [w for w in own if not w.trainable]


def named_variables(obj) -> dict:
    """The arrays Keras stores under a name instead of a number (``{path}/vars/{name}``): a
    tf-idf lookup's IDF weights, special indices included (``IndexLookup.save_own_variables``)."""
    if getattr(obj, "output_mode", None) != "tf_idf" or getattr(obj, "_lookup_layer", None) is not None or not \
            hasattr(obj, "set_vocabulary") or not hasattr(obj, "idf_weights"):
        return {}
    return {"idf_weights": None if obj.idf_weights is None else np.asarray(obj.idf_weights, np.float32)}


def _set_named_variables(obj, arrays: dict, where: str) -> None:
    idf = arrays.get("idf_weights")
    if idf is None:
        return
    idf = np.asarray(idf)
    if idf.ndim != 1 or idf.dtype.kind != "f":
        raise UnsafeFileError(f"{where}: idf_weights must be a 1-D float array (got shape {idf.shape}, {idf.dtype})")
    max_tokens = getattr(obj, "max_tokens", None)
    if max_tokens is not None and idf.size > max_tokens:
        raise UnsafeFileError(f"{where}: {idf.size} IDF weights for max_tokens={max_tokens}")
    # set as it is: the vocabulary (config or assets, read next) decides which tokens they weigh
    obj.idf_weights = idf.astype(np.float32)


def _recurrent_cell_name(layer) -> str | None:
    """Keras's cell name when ``layer`` is a recurrent layer holding its weights itself."""
    if isinstance(getattr(layer, "cell", None), Layer):
        return None
    for cls in type(layer).__mro__:
        if cls.__name__ in RECURRENT_CELLS and cls.__module__.startswith("deepgrad."):
            return RECURRENT_CELLS[cls.__name__]
    return None


def variable_groups(model, objects: list | None = None) -> list[tuple[str, str, list]]:
    """``(group path, object name, variables)`` for every object Keras writes, in its order;
    the group path ends in ``vars`` (``"vars"`` for the model itself). ``objects``, when given,
    receives ``(object path, object)`` for each (the model's path is ``""``)."""
    out, visited = [], set()

    def visit(obj, path):
        if id(obj) in visited:
            return
        visited.add(id(obj))
        if objects is not None:
            objects.append((path, obj))
        prefix = f"{path}/" if path else ""
        cell = _recurrent_cell_name(obj)
        if cell is None:
            out.append((f"{prefix}vars", obj.name, own_variables(obj)))
        else:
            out.append((f"{prefix}vars", obj.name, []))
            out.append((f"{prefix}cell/vars", cell, own_variables(obj)))
        for attr, child in _children(obj):
            if isinstance(child, Layer):
                visit(child, f"{prefix}{attr}")
            else:
                container(child, f"{prefix}{attr}")

    def container(items, path):
        used: dict[str, int] = {}
        for item in items:
            if id(item) in visited:
                continue
            base = to_snake_case(type(item).__name__)
            used[base] = used.get(base, -1) + 1
            visit(item, f"{path}/{base}" if used[base] == 0 else f"{path}/{base}_{used[base]}")

    visit(model, "")
    return out


# ----------------------------------------------------------------- optimiser
def _slot_order(optimizer) -> list[tuple[int, str]]:
    """``(variable index, slot name)`` in Keras's order; a variable that ``overwrite_with_gradient``
    (float8 scaling state) has no slots in Keras's file."""
    slots = optimizer._slots
    present = [name for name in (slots[0] if slots else {})]
    layout = SLOT_LAYOUT.get(type(optimizer).__name__, [(name,) for name in present])
    variables = getattr(optimizer, "_variables", None) or []
    kept = [i for i in range(len(slots))
            if not (i < len(variables) and getattr(variables[i], "overwrite_with_gradient", False))]
    order = []
    for group in layout:
        names = [n for n in group if n in present]
        for i in kept:
            order += [(i, n) for n in names]
    listed = {n for g in layout for n in g}
    for name in present:  # a slot the table does not know: after the others, slot by slot
        if name not in listed:
            order += [(i, name) for i in kept]
    return order


def _has_number_rate(optimizer) -> bool:
    return "learning_rate" in optimizer.get_state()


def optimizer_arrays(optimizer) -> list[np.ndarray]:
    """The optimiser's state as Keras's ``optimizer/vars``: iterations, learning rate, slots,
    then the scalar globals (Nadam's ``u_product``)."""
    arrays = [np.asarray(optimizer.iterations, np.int64)]
    if _has_number_rate(optimizer):
        arrays.append(np.asarray(optimizer.learning_rate, np.float32))
    arrays += [optimizer._slots[i][name].copy() for i, name in _slot_order(optimizer)]
    arrays += [np.asarray(value, np.float32) for value in optimizer._globals.values()]
    return arrays


def set_optimizer_arrays(optimizer, variables, arrays: list, source: str) -> None:
    """Restore ``optimizer_arrays``'s output; ``variables`` build the optimiser first. A file with
    only the counters (the optimiser had not run yet) restores the counters only. An optimiser
    that has run keeps the variables it was built for (a custom train_step may update only some
    of the model's weights, e.g. not an EMA copy), as Keras's does."""
    if not optimizer.built:
        optimizer.build(variables)
    head = 2 if _has_number_rate(optimizer) else 1
    order = _slot_order(optimizer)
    expected = head + len(order) + len(optimizer._globals)
    if len(arrays) not in (expected, head):
        raise ValueError(f"{source}: optimizer/vars holds {len(arrays)} arrays but {type(optimizer).__name__} "
                         f"over {len(optimizer._slots)} variables has {expected}")
    if len(arrays) == expected:
        for (i, name), value in zip(order, arrays[head:]):
            if tuple(np.shape(value)) != optimizer._slots[i][name].shape:
                raise ValueError(f"{source}: optimizer slot {name!r} of variable {i} has shape "
                                 f"{tuple(np.shape(value))}, expected {optimizer._slots[i][name].shape}")
        for (i, name), value in zip(order, arrays[head:]):
            optimizer._slots[i][name][...] = value
        for name, value in zip(list(optimizer._globals), arrays[head + len(order):]):
            optimizer._globals[name] = float(np.asarray(value))
    optimizer.iterations = int(np.asarray(arrays[0]))
    if head == 2:
        saved = np.asarray(arrays[1])
        # the file keeps the rate in float32, as Keras does: the configured rate stays when it
        # rounds to the saved value, so a deepgrad round trip keeps its float64 rate exactly
        if np.asarray(optimizer.learning_rate, saved.dtype) != saved:
            optimizer.learning_rate = float(saved)


# ----------------------------------------------------------------- the weights tree
def _objects_by_group(objects: list) -> dict:
    """``{group path: object}`` from variable_groups' ``objects`` (a recurrent cell's group is not one)."""
    return {f"{path}/vars" if path else "vars": obj for path, obj in objects}


def weights_tree(model, include_optimizer: bool = True) -> dict:
    """The ``h5_format`` tree of Keras's weights file for ``model``."""
    tree = {"groups": {}, "datasets": {}}
    objects: list = []
    groups = variable_groups(model, objects)
    by_group = _objects_by_group(objects)
    for path, name, variables in groups:
        tree["groups"][path] = {"name": name}
        for i, w in enumerate(variables):
            tree["datasets"][f"{path}/{i}"] = np.asarray(w.data)
        for key, array in named_variables(by_group.get(path)).items():
            if array is not None:
                tree["datasets"][f"{path}/{key}"] = array
    optimizer = getattr(model, "optimizer", None)
    if include_optimizer and optimizer is not None and hasattr(optimizer, "_slots"):
        tree["groups"]["optimizer/vars"] = {"name": optimizer.name}
        for i, array in enumerate(optimizer_arrays(optimizer)):
            tree["datasets"][f"optimizer/vars/{i}"] = array
    return tree


def _arrays_of(tree: dict, path: str, source: str, named=()) -> list:
    """``path/0``, ``path/1``, ... of the tree, checked to be numbered without gaps (besides the
    ``named`` arrays the object stores by name)."""
    prefix = f"{path}/"
    found = {}
    for key, value in tree["datasets"].items():
        if key.startswith(prefix) and "/" not in key[len(prefix):]:
            index = key[len(prefix):]
            if index in named:
                continue
            if not index.isdigit():
                raise UnsafeFileError(f"{source}: unexpected dataset {key!r} (variables are numbered)")
            found[int(index)] = value
    if sorted(found) != list(range(len(found))):
        raise UnsafeFileError(f"{source}: the variables under {path} are not numbered 0..{len(found) - 1}")
    return [found[i] for i in range(len(found))]


def assign_weights_tree(model, tree: dict, source: str, skip_mismatch: bool = False,
                        load_optimizer: bool = True) -> list[str]:
    """Set ``model``'s weights from a Keras weights tree, every shape checked before any is
    written; with ``skip_mismatch`` an object whose arrays do not fit is left as it is (its
    path is returned). The optimiser state is restored when the model has an optimiser."""
    objects: list = []
    groups = variable_groups(model, objects)
    by_group = _objects_by_group(objects)
    named = {path: (by_group.get(path), named_variables(by_group.get(path))) for path, _, _ in groups}
    known = {path for path, _, _ in groups} | {"optimizer/vars"}
    for key in tree["datasets"]:
        group = key.rpartition("/")[0]
        if group not in known and not skip_mismatch:
            raise ValueError(f"{source}: the file has weights at {group!r}, which model {model.name!r} does not "
                             f"have (it has {sorted(p for p, _, v in groups if v)})")
    pending, skipped = [], []
    named_pending = []
    for path, _, variables in groups:
        obj, names = named[path]
        arrays = _arrays_of(tree, path, source, names)
        given = {k: tree["datasets"][f"{path}/{k}"] for k in names if f"{path}/{k}" in tree["datasets"]}
        if given:
            named_pending.append((obj, given, f"{source}: {path}"))
        problem = None
        if len(arrays) != len(variables):
            problem = f"the file holds {len(arrays)} arrays at {path} but the model's object has {len(variables)}"
        else:
            for w, a in zip(variables, arrays):
                if tuple(a.shape) != tuple(w.shape):
                    problem = (f"weight {w.path!r} has shape {tuple(w.shape)} but the file's {path} holds "
                               f"shape {tuple(a.shape)}")
                    break
        if problem is None:
            pending += list(zip(variables, arrays))
        elif skip_mismatch:
            skipped.append(path)
        else:
            raise ValueError(f"{source}: {problem}")
    for w, a in pending:
        w.assign(np.asarray(a).astype(w.dtype, copy=False))
    for obj, arrays, where in named_pending:
        _set_named_variables(obj, arrays, where)
    optimizer = getattr(model, "optimizer", None)
    saved = _arrays_of(tree, "optimizer/vars", source)
    if load_optimizer and optimizer is not None and saved and hasattr(optimizer, "_slots"):
        set_optimizer_arrays(optimizer, model.trainable_weights, saved, source)
    return skipped
