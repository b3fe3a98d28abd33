"""``Model(inputs, outputs)``: a graph of layer calls, replayed in topological order.

The graph is the chain of ``Node``s recorded when layers were called on ``KerasTensor``s.
At construction it is walked back from the outputs to the inputs once (iteratively) and
the nodes are kept in an order where every node comes after the nodes it reads from; a
call then runs them in that order on real Tensors. Shared layers are nodes of one layer.
"""
from __future__ import annotations

from ..layers.core import Input
from ..symbolic import KerasTensor, flatten, map_structure
from .model import Model, deserialize_layer, serialize_layer
from .summary import SummaryRow


def _topological_nodes(outputs: list[KerasTensor], inputs: list[KerasTensor]) -> list:
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


def _names(structure, tensors: list[KerasTensor]) -> list[str]:
    if isinstance(structure, dict):
        return list(structure)
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
        if not flat_inputs or not flat_outputs:
            raise ValueError("Model(inputs, outputs): both must be KerasTensors (from layers.Input and layer calls)")
        for t in flat_inputs:
            if t.layer is not None:
                raise ValueError(f"Model inputs must come from layers.Input(); {t!r} is the output of a layer")
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self.inputs, self.outputs = flat_inputs, flat_outputs
        self._nodes = _topological_nodes(flat_outputs, flat_inputs)
        self.input_names = _names(inputs, flat_inputs)
        self.output_names = _names(outputs, flat_outputs)
        input_layers = [t.input_layer for t in flat_inputs if getattr(t, "input_layer", None) is not None]
        self._layers = input_layers + [node.layer for node in self._nodes]
        self.built = True

    def _flat_call_inputs(self, inputs) -> list:
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

    def call(self, inputs, training=None, mask=None):
        values = {id(t): v for t, v in zip(self.inputs, self._flat_call_inputs(inputs))}

        def value(t):
            return values[id(t)]

        for node in self._nodes:
            args = map_structure(value, node.args)
            kwargs = map_structure(value, node.kwargs)
            if training is not None:
                kwargs.setdefault("training", training)
            out = node.layer(map_structure(value, node.inputs), *args, **kwargs)
            if len(node.outputs) == 1 and node.outputs[0].index is None:
                values[id(node.outputs[0])] = out
            else:
                for t in node.outputs:
                    values[id(t)] = out[t.index]
        return map_structure(value, self._outputs_struct)

    def compute_output_shape(self, input_shape):
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def summary_rows(self) -> list[SummaryRow]:
        """The inputs, then one row per layer call with the tensors it reads ("Connected to")."""
        refs = self._tensor_refs()
        rows = [SummaryRow(None, t.shape, "-", name) for t, name in zip(self.inputs, self._input_layer_names())]
        for node in self._nodes:
            sources = ", ".join(f"{r[0]}[{r[1]}][{r[2]}]" for r in (refs[id(t)] for t in node.parents)) or "-"
            shapes = [t.shape for t in node.outputs]
            rows.append(SummaryRow(node.layer, shapes[0] if len(shapes) == 1 else shapes, sources))
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
        return [getattr(t, "input_layer", None).name if getattr(t, "input_layer", None) is not None
                else (t.name or f"input_{i}") for i, t in enumerate(self.inputs)]

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
