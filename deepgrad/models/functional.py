"""``Model(inputs, outputs)``: a graph of layer calls, replayed in topological order.

The graph is the chain of ``Node``s recorded when layers were called on ``KerasTensor``s.
At construction it is walked back from the outputs to the inputs once (iteratively) and
the nodes are kept in an order where every node comes after the nodes it reads from; a
call then runs them in that order on real Tensors. Shared layers are nodes of one layer.
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import ops
from ..layers.core import Input, InputLayer
from .. import tree
from ..backend import current_path
from ..symbolic import KerasTensor, flatten, map_structure, nodes_between
from .model import Model, deserialize_layer, serialize_layer, to_input_tensor, _unique
from .summary import SummaryRow


def _layer_order(inputs: list[KerasTensor], outputs: list[KerasTensor], input_layers: dict) -> tuple[list, dict]:
    """The model's layers in Keras's order, and the depth of each call (keyed by
    ``("node", id(node))`` or ``("input", id(tensor))``) with its number of input tensors.

    Keras's order: deepest first (depth = the longest path of calls
    down to an output), ties in the order a depth-first walk back from the outputs first meets them.

    An input counts as the call of its ``InputLayer``. Every walk here is iterative.
    """
    input_ids = {id(t) for t in inputs}

    def producer(t):
        """(key, layer, parent tensors) of the call that made ``t``."""
        if id(t) in input_ids or t.node is None:
            return ("input", id(t)), input_layers.get(id(t), getattr(t, "input_layer", None)), []
        return ("node", id(t.node)), t.node.layer, t.node.parents

    index: dict[int, int] = {}        # id(layer) -> first visit in the walk
    postorder, seen_layers = [], {}
    finished, parents_of = set(), {}
    stack = [(t, False) for t in reversed(outputs)]
    while stack:
        t, expanded = stack.pop()
        key, layer, parents = producer(t)
        if expanded:
            if key not in finished:
                finished.add(key)
                postorder.append(key)
            continue
        if key in finished:
            continue
        if layer is not None and id(layer) not in index:
            index[id(layer)] = len(index)
            seen_layers[id(layer)] = layer
        parents_of[key] = (layer, [producer(p)[0] for p in parents])
        stack.append((t, True))
        stack.extend((p, False) for p in reversed(parents))

    node_depth: dict = {}
    layer_depth: dict[int, int] = {}
    for key in reversed(postorder):
        layer, parent_keys = parents_of[key]
        depth = node_depth.setdefault(key, 0)
        if layer is not None:
            depth = max(depth, layer_depth.get(id(layer), 0))
            layer_depth[id(layer)] = depth
        node_depth[key] = depth
        for parent in parent_keys:
            node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
    for t in inputs:   # an input no output reads still belongs to the model
        layer = input_layers.get(id(t))
        if layer is not None and id(layer) not in layer_depth:
            layer_depth[id(layer)], index[id(layer)], seen_layers[id(layer)] = 0, -1, layer
    order = sorted(layer_depth, key=lambda i: (-layer_depth[i], index[i]))
    calls = {key: (depth, len(parents_of[key][1]) if key in parents_of else 0) for key, depth in node_depth.items()}
    return [seen_layers[i] for i in order], calls


def _call_plan(nodes, outputs) -> list:
    """Per node, ``(node, id of its input, its keyword arguments, id of its output, dead)`` when
    the layer reads one tensor, has no tensor among its other arguments and gives one tensor, so
    that a call looks these up directly; ``(node, None, None, None, dead)`` for the other nodes,
    whose arguments are mapped in full. ``dead`` holds the ids of the values this node is the
    last reader of (model outputs excepted), which the call then lets go. (A model's graph does
    not change once it is made.)"""
    last = {}
    for i, node in enumerate(nodes):
        for t in flatten([node.inputs, node.args, node.kwargs]):
            if isinstance(t, KerasTensor):
                last[id(t)] = i
    kept = {id(t) for t in flatten(outputs)}
    dead = [[] for _ in nodes]
    for key, i in last.items():
        if key not in kept:
            dead[i].append(key)
    plan = []
    for node, gone in zip(nodes, dead):
        simple = (isinstance(node.inputs, KerasTensor) and not node.args
                  and not any(isinstance(v, KerasTensor) for v in flatten(node.kwargs))
                  and len(node.outputs) == 1 and node.outputs[0].index is None)
        plan.append((node, id(node.inputs), dict(node.kwargs), id(node.outputs[0]), tuple(gone)) if simple
                    else (node, None, None, None, tuple(gone)))
    return plan


def _output_ids(outputs):
    """How a call gathers the outputs: the id of the one output tensor, a list of ids for a
    plain list of them, or None (any other structure is mapped)."""
    if isinstance(outputs, KerasTensor):
        return id(outputs)
    if type(outputs) is list and all(isinstance(t, KerasTensor) for t in outputs):
        # Keras unpacks a one-element list of outputs: ``Model(x, [y])(data)`` is one tensor
        return id(outputs[0]) if len(outputs) == 1 else [id(t) for t in outputs]
    return None


def _nested(structure) -> bool:
    """A dict of inputs some of whose values are dicts or lists themselves."""
    return isinstance(structure, dict) and any(not isinstance(v, KerasTensor) for v in structure.values())


def _pick(structure, given, path: str) -> list:
    """The values of ``given`` at the places of ``structure``'s tensors, in flatten order (a dict's
    sorted keys), for data nested as the inputs were declared."""
    if isinstance(structure, KerasTensor):
        return [given]
    if isinstance(structure, dict):
        if not isinstance(given, dict):
            raise ValueError(f"expected a dict with keys {sorted(structure)} at inputs{path}, got "
                             f"{type(given).__name__}")
        missing = [k for k in structure if k not in given]
        if missing:
            raise ValueError(f"missing input(s) {missing} at inputs{path}; got keys {sorted(given)}")
        return [v for k in sorted(structure) for v in _pick(structure[k], given[k], f"{path}[{k!r}]")]
    if not isinstance(given, (list, tuple)) or len(given) != len(structure):
        raise ValueError(f"expected a list of {len(structure)} at inputs{path}, got {type(given).__name__}")
    return [v for i, (s, g) in enumerate(zip(structure, given)) for v in _pick(s, g, f"{path}[{i}]")]


def _names(structure, tensors: list[KerasTensor]) -> list[str]:
    if isinstance(structure, dict) and not _nested(structure):
        return sorted(structure)   # the order flatten() gives the tensors
    names = []
    for t in tensors:
        base = t.name or (t.layer.name if t.layer is not None else "input")
        names.append(base if t.index is None else f"{base}_{t.index}")
    return names


class Functional(Model, config_names=("Functional", "Model")):
    """A model defined by its input and output ``KerasTensor``s (lists or dicts allowed)."""

    def __init__(self, inputs, outputs, name: str | None = None, trainable: bool = True, **kwargs):
        Model.__init__(self, name=name, trainable=trainable, **kwargs)
        flat_inputs, flat_outputs = flatten(inputs), flatten(outputs)
        if isinstance(inputs, (list, tuple, dict)) and not inputs:
            # e.g. an InputLayer's `.input`, which is [] as in Keras (its `.output` is the tensor)
            raise ValueError(f"Model(inputs, outputs): `inputs` argument cannot be empty. Received: inputs={inputs!r}")
        if not flat_inputs or not flat_outputs:
            raise ValueError("Model(inputs, outputs): both must be KerasTensors (from layers.Input and layer calls)")
        if isinstance(inputs, dict):
            for key, value in inputs.items():
                if isinstance(value, KerasTensor) and key != value.name:
                    # the dict's keys name the data fit() is given, the tensors' names the inputs saved
                    warnings.warn(f"When providing `inputs` as a dict, all keys in the dict must match the names "
                                  f"of the corresponding tensors. Received key '{key}' mapping to value {value} "
                                  f"which has name '{value.name}'. Change the tensor name to '{key}' (via "
                                  f"`Input(..., name='{key}')`)", stacklevel=2)
        # each input's InputLayer; a layer's output given as an input cuts the graph there and
        # gets an InputLayer of its own, as Keras's clone of it ("...CLONE")
        self._input_layers = {id(t): t.input_layer if t.node is None and getattr(t, "input_layer", None) is not None
                              else InputLayer(batch_shape=t.shape, dtype=t.dtype,
                                              name=f"{t.layer.name if t.layer is not None else 'input'}CLONE")
                              for t in flat_inputs}
        self._inputs_struct = inputs
        self._nested_inputs = _nested(inputs)  # decided once: calls are on the small-call path
        self._outputs_struct = outputs
        self._inputs, self._outputs = flat_inputs, flat_outputs
        self._nodes = nodes_between(flat_inputs, flat_outputs)
        self.input_names = _names(inputs, flat_inputs)
        # Keras names the outputs after the layers that made them, a dict's too (in flatten order,
        # its sorted keys); the keys name that dict's targets, losses and metrics
        self.output_names = _names(list(flat_outputs), flat_outputs)
        self._output_keys = sorted(outputs) if isinstance(outputs, dict) else None
        self._layers, self._call_depths = _layer_order(flat_inputs, flat_outputs, self._input_layers)
        self.built = True
        with self._open_name_scope():  # built when made: its path is fixed now, as Keras's
            self._path = current_path()

    @property
    def operations(self) -> list:
        """The layers and ops of the graph in call order (Keras's ``Functional.operations``;
        ``layers`` lists the layers only)."""
        return _unique(self._layers)

    @property
    def input(self):
        """The inputs in the structure the model was given them (one tensor, a list or a dict)."""
        return self._inputs_struct

    @property
    def output(self):
        """The outputs in the structure the model was given them."""
        return self._outputs_struct

    def _flat_call_inputs(self, inputs) -> list:
        if self._nested_inputs:
            try:
                picked = _pick(self._inputs_struct, inputs, "")
                return [to_input_tensor(v, t.dtype) for v, t in zip(picked, self._inputs)]
            except ValueError as e:
                raise ValueError(f"Model {self.name!r}: {e}") from None
        if isinstance(inputs, dict):
            keys = self.input_names
            missing = [k for k in keys if k not in inputs]
            if missing:
                raise ValueError(f"Model {self.name!r}: missing input(s) {missing}; got keys {sorted(inputs)}")
            return [inputs[k] for k in keys]
        flat = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(flat) != len(self.inputs):
            raise ValueError(f"Model {self.name!r} expects {len(self.inputs)} input(s), got {len(flat)}")
        return flat

    _input_ranks = None  # the declared inputs' ranks, noted at the first call

    def _note_input_ranks(self) -> tuple:
        ranks = self.__dict__["_input_ranks"] = tuple(len(t.shape) for t in self.inputs)
        return ranks

    def _adjust_input_ranks(self, flat: list) -> list:
        """Keras's rule: an input one axis short of a declared ``(..., 1)`` gains that axis, one
        with an extra last axis of 1 loses it; any other difference in rank is an error."""
        out = []
        for i, (x, ref) in enumerate(zip(flat, self.inputs)):
            shape = getattr(x, "shape", None)
            if x is None or shape is None or len(shape) == len(ref.shape):
                out.append(x)
                continue
            if len(shape) == len(ref.shape) + 1 and shape[-1] == 1:
                adjusted = ops.squeeze(x, axis=-1)
            elif len(shape) == len(ref.shape) - 1 and ref.shape[-1] == 1:
                adjusted = ops.expand_dims(x, axis=-1)
            else:
                raise ValueError(f"Model {self.name!r}: invalid input shape for input {ref.name!r}: expected shape "
                                 f"{tuple(ref.shape)}, but the input has incompatible shape {tuple(shape)}")
            mask = getattr(x, "_keras_mask", None)
            if mask is not None:
                adjusted._keras_mask = mask
            out.append(adjusted)
        return out

    def call(self, inputs, training=None, mask=None):
        flat = self._flat_call_inputs(inputs)
        ranks = self._input_ranks or self._note_input_ranks()
        for x, rank in zip(flat, ranks):
            if getattr(x, "ndim", rank) != rank:
                flat = self._adjust_input_ranks(flat)
                break
        if mask is not None:   # masks given with the call ride on the inputs, as Keras sets them
            masks = [mask[k] for k in self.input_names] if isinstance(mask, dict) else (
                list(mask) if isinstance(mask, (list, tuple)) else [mask])
            for x, m in zip(flat, masks):
                if m is not None:
                    x._keras_mask = np.asarray(getattr(m, "data", m), bool)
        plan = self.__dict__.get("_call_plan")
        if plan is None:
            plan = self.__dict__["_call_plan"] = (_call_plan(self._nodes, self._outputs_struct),
                                                  [id(t) for t in self.inputs], _output_ids(self._outputs_struct))
        nodes, input_ids, output_ids = plan
        values = dict(zip(input_ids, flat))

        def value(t):
            return values[id(t)]

        for node, source, kwargs, target, dead in nodes:
            if source is not None:  # one input tensor, no tensors among the arguments, one output
                if training is not None and "training" not in kwargs:
                    values[target] = node.layer(values[source], training=training, **kwargs)
                else:
                    values[target] = node.layer(values[source], **kwargs)
                for key in dead:
                    del values[key]
                continue
            args = map_structure(value, node.args)
            kwargs = map_structure(value, node.kwargs)
            if training is not None:
                kwargs.setdefault("training", training)
            out = node.layer(map_structure(value, node.inputs), *args, **kwargs)
            if len(node.outputs) == 1 and node.outputs[0].index is None:
                values[id(node.outputs[0])] = out
            else:
                if isinstance(out, dict) or (isinstance(out, (list, tuple)) and any(
                        isinstance(o, (list, tuple, dict)) for o in out)):
                    out = tree.flatten(out)   # a dict or nested outputs: indexed in flatten order
                for t in node.outputs:
                    values[id(t)] = out[t.index]
            for key in dead:  # read by no later node: an inference holds only live activations
                del values[key]
        if type(output_ids) is int:
            return values[output_ids]
        if output_ids is not None:
            return [values[key] for key in output_ids]
        out = map_structure(value, self._outputs_struct)
        return out[0] if isinstance(out, (list, tuple)) and len(out) == 1 else out

    def compute_output_shape(self, input_shape):
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def _sequential_like(self) -> bool:
        """Keras prints a functional model as a plain stack (three columns) when each depth holds
        one call reading at most one tensor, and no layer is called twice."""
        per_depth: dict[int, list] = {}
        for depth, n_parents in self._call_depths.values():
            per_depth.setdefault(depth, []).append(n_parents)
        if any(len(v) > 1 or v[0] > 1 for v in per_depth.values()):
            return False
        return len({id(node.layer) for node in self._nodes}) == len(self._nodes)

    def summary_rows(self) -> list[SummaryRow]:
        """One row per layer in ``model.layers`` order, as Keras prints them; unless the model is
        a plain stack, with the tensors each layer's calls read ("Connected to", written
        ``layer[node index][tensor index]``)."""
        in_model = {id(node) for node in self._nodes}
        plain = self._sequential_like()

        def ref(t) -> str:
            if id(t) in self._input_layers or t.node is None:
                layer = self._input_layers.get(id(t), getattr(t, "input_layer", None))
                return f"{layer.name if layer is not None else t.name}[0][0]"
            return f"{t.node.layer.name}[{t.node.layer._inbound_nodes.index(t.node)}][{t.index or 0}]"

        rows = []
        for layer in self.operations:
            nodes = layer.__dict__.get("_inbound_nodes") or []
            shapes = [t.shape for t in nodes[-1].outputs] if nodes else [None]
            shape = shapes[0] if len(shapes) == 1 else shapes
            if plain:
                rows.append(SummaryRow(layer, shape))
                continue
            sources = [ref(t) for node in nodes if id(node) in in_model for t in node.parents]
            rows.append(SummaryRow(layer, shape, ", ".join(sources) or "-"))
        return rows

    # ----------------------------------------------------------------- config
    def _tensor_refs(self) -> dict:
        """id(KerasTensor) -> [layer name, node index within this model, tensor index]."""
        refs = {id(t): [name, 0, 0] for t, name in zip(self.inputs, self._input_layer_names())}
        counts: dict[int, int] = {}
        for node in self._nodes:
            k = counts.get(id(node.layer), 0)
            counts[id(node.layer)] = k + 1
            for i, t in enumerate(node.outputs):
                refs[id(t)] = [node.layer.name, k, i]
        return refs

    def _input_layer_names(self) -> list[str]:
        return [self._input_layers[id(t)].name for t in self.inputs]

    def get_config(self) -> dict:
        refs = self._tensor_refs()

        def ref(structure):
            return map_structure(lambda t: {"keras_tensor": refs[id(t)]}, structure)

        layers = [{"class_name": "InputLayer", "name": name,
                   "config": {"batch_shape": list(t.shape), "dtype": str(t.dtype), "name": name},
                   "inbound_nodes": []} for t, name in zip(self.inputs, self._input_layer_names())]
        by_layer: dict[int, dict] = {}
        for node in self._nodes:
            if id(node.layer) not in by_layer:
                by_layer[id(node.layer)] = serialize_layer(node.layer)
                by_layer[id(node.layer)]["name"] = node.layer.name
                by_layer[id(node.layer)]["inbound_nodes"] = []
                layers.append(by_layer[id(node.layer)])
            by_layer[id(node.layer)]["inbound_nodes"].append(
                {"args": ref([node.inputs, *node.args]), "kwargs": ref(node.kwargs)})
        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "input_layers": map_structure(lambda t: refs[id(t)], self._inputs_struct),
                "output_layers": map_structure(lambda t: refs[id(t)], self._outputs_struct)}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        tensors: dict[tuple, KerasTensor] = {}
        pending = []
        for entry in config["layers"]:
            if entry["class_name"] == "InputLayer":
                c = entry["config"]
                t = Input(batch_shape=tuple(c["batch_shape"]), dtype=c.get("dtype"), name=c["name"])
                tensors[(entry["name"], 0, 0)] = t
                continue
            layer = deserialize_layer(entry, custom_objects)
            pending += [(layer, entry["name"], k, node) for k, node in enumerate(entry["inbound_nodes"])]

        def resolve(structure):
            if isinstance(structure, dict) and set(structure) == {"keras_tensor"}:
                return tensors[tuple(structure["keras_tensor"])]
            if isinstance(structure, list):
                return [resolve(s) for s in structure]
            if isinstance(structure, dict):
                return {k: resolve(v) for k, v in structure.items()}
            return structure

        def ready(structure) -> bool:
            if isinstance(structure, dict) and set(structure) == {"keras_tensor"}:
                return tuple(structure["keras_tensor"]) in tensors
            if isinstance(structure, list):
                return all(ready(s) for s in structure)
            if isinstance(structure, dict):
                return all(ready(v) for v in structure.values())
            return True

        while pending:   # a shared layer's later call may wait for layers listed after it
            progress = False
            for item in list(pending):
                layer, name, k, node = item
                if not (ready(node["args"]) and ready(node["kwargs"])):
                    continue
                first, *args = resolve(node["args"])
                out = layer(first, *args, **resolve(node["kwargs"]))
                if isinstance(out, dict):  # a dict of outputs: its tensors are numbered in flatten order
                    out = flatten(out)
                for i, t in enumerate(out if isinstance(out, list) else [out]):
                    tensors[(name, k, i)] = t
                pending.remove(item)
                progress = True
            if not progress:
                raise ValueError(f"Model config {config.get('name')!r}: the layer graph cannot be rebuilt "
                                 f"(unresolved calls of {[p[1] for p in pending]})")

        def to_tensors(structure):
            if isinstance(structure, dict):
                return {k: to_tensors(v) for k, v in structure.items()}
            if isinstance(structure, list) and structure and isinstance(structure[0], list):
                return [to_tensors(s) for s in structure]
            return tensors[tuple(structure)]

        return cls(to_tensors(config["input_layers"]), to_tensors(config["output_layers"]),
                   name=config.get("name"), trainable=config.get("trainable", True))
