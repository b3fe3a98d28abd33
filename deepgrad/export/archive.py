"""``ExportArchive``: Keras's way to write a model for serving, with named endpoints.

``track(model)``, ``add_endpoint(name, fn, input_signature)``, ``add_variable_collection`` and
``write_out(path)`` keep Keras's signatures and checks. Where Keras writes a TensorFlow
SavedModel, deepgrad writes an export archive: a directory with one ONNX file per endpoint
(each endpoint's function traced on symbolic inputs built from its signature, then converted
layer by layer as ``model.export(format="onnx")`` does) and the tracked variables in one
safetensors file (see ``deepgrad/endpoints.py`` for the layout). ``load_archive(path)`` (also
``tf.saved_model.load`` in ``deepgrad.compat``) gives the endpoints back as methods, and
``layers.TFSMLayer(path)`` calls one as a layer. Endpoints compute in inference mode.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os

import numpy as np

from .. import __version__
from ..endpoints import FORMAT, MANIFEST, VERSION, member_path, open_endpoints
from ..files import safetensors_format as st
from ..files.atomic import write_bytes_atomic
from ..layers.base import Layer
from ..layers.core import Input
from ..symbolic import KerasTensor, flatten, nodes_between
from .graph import ExportError
from .onnx_export import build_onnx_model

DEFAULT_ENDPOINT_NAME = "serve"
_RESERVED = {"variables", "trainable_variables", "non_trainable_variables", "signatures"}


def _is_spec(x) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (dict, list, tuple))


def _spec_leaf(spec, where: str) -> tuple:
    """``(shape, dtype)`` of one signature entry (an InputSpec, a TensorSpec, a KerasTensor or an array)."""
    shape = getattr(spec, "shape", None)
    if shape is None:
        raise ValueError(f"{where}: the input signature must give each tensor's shape (its rank at least); "
                         f"got {spec!r}")
    dtype = getattr(spec, "dtype", None)
    dtype = np.dtype("float32" if dtype is None else getattr(dtype, "name", dtype))
    return tuple(None if d is None else int(d) for d in shape), dtype


def _symbolic_arguments(input_signature) -> tuple[list, list, list]:
    """Symbolic inputs for each argument of the signature: ``(arguments, flat inputs, manifest
    structure)``; a nested argument (a dict or list of specs) is given in the same structure."""
    if isinstance(input_signature, dict) or _is_spec(input_signature):
        input_signature = [input_signature]
    args, flat, structure = [], [], []

    def build(spec, name):
        if isinstance(spec, dict):
            pairs = [(k, build(v, f"{name}_{k}")) for k, v in spec.items()]
            return {k: a for k, (a, _) in pairs}, {"dict": {k: s for k, (_, s) in pairs}}
        if isinstance(spec, (list, tuple)):
            pairs = [build(v, f"{name}_{i}") for i, v in enumerate(spec)]
            return type(spec)(a for a, _ in pairs), {"tuple" if isinstance(spec, tuple) else "list":
                                                     [s for _, s in pairs]}
        if not _is_spec(spec):
            raise TypeError(f"add_endpoint: input_signature entries must be keras.InputSpec, tf.TensorSpec, "
                            f"KerasTensors or arrays (or dicts/lists of them); got {type(spec).__name__}")
        shape, dtype = _spec_leaf(spec, f"add_endpoint, argument {name!r}")
        tensor = Input(batch_shape=shape, dtype=dtype.name, name=name)
        flat.append(tensor)
        return tensor, {"input": None, "shape": list(shape), "dtype": dtype.name}

    for i, spec in enumerate(input_signature):
        arg, struct = build(spec, f"args_{i}")
        args.append(arg)
        structure.append(struct)
    return args, flat, structure


def _output_structure(outputs, where: str):
    """The manifest structure of an endpoint's outputs (leaves numbered in flatten order)."""
    counter = iter(range(1 << 30))

    def walk(x):
        if isinstance(x, dict):
            return {"dict": {k: walk(x[k]) for k in sorted(x)}}
        if isinstance(x, (list, tuple)):
            return {"tuple" if isinstance(x, tuple) else "list": [walk(v) for v in x]}
        if not isinstance(x, KerasTensor):
            raise ExportError(f"{where}: the function returned {type(x).__name__}, not tensors computed from its "
                              "arguments; an endpoint's function must return the tensors it computes")
        return {"output": next(counter)}
    return walk(outputs)


def _leaves(node, key: str) -> list:
    """The leaves of a manifest structure (entries holding ``key``), in flatten order."""
    stack = [node]
    order = []
    while stack:
        n = stack.pop()
        if key in n:
            order.append(n)
        elif "dict" in n:
            stack.extend(reversed(list(n["dict"].values())))
        else:
            stack.extend(reversed(n.get("list", n.get("tuple"))))
    return order


class _TracedGraph:
    """The layer calls between an endpoint's symbolic inputs and outputs, in the shape the ONNX
    exporter walks (a functional model's ``_nodes``, ``inputs`` and ``outputs``)."""

    def __init__(self, name, inputs, outputs):
        self.name = name
        self._inputs = self.inputs = inputs
        self.outputs = outputs
        self._nodes = nodes_between(inputs, outputs)
        self.output_names = None


def _training_calls(nodes) -> list:
    """The layers called with ``training=True`` whose call depends on it (a model's own layers)."""
    found = []
    for node in nodes:
        if (node.kwargs or {}).get("training") is not True:
            continue
        stack = [node.layer]
        while stack:
            layer = stack.pop()
            if hasattr(layer, "compile"):
                stack.extend(reversed(getattr(layer, "layers", [])))
            elif getattr(layer, "_call_takes_training", False):
                found.append(layer.name)
    return found


def _input_signature_of(model) -> list:
    """A built model's own inputs as a signature: one argument (its input structure) for a
    functional model, one tensor for a Sequential, as Keras's ``export`` derives it."""
    if not getattr(model, "built", False):
        raise ValueError("The model provided has not yet been built. It must be built before export.")
    struct = getattr(model, "_inputs_struct", None)
    if struct is not None:
        return [struct]
    inputs = getattr(model, "inputs", None) or getattr(model, "_inputs", None)
    if not inputs:
        raise ValueError(f"export: model {model.name!r} has no known inputs; pass input_signature, e.g. "
                         "[keras.InputSpec(shape=(None, 3), dtype='float32')]")
    return list(inputs)


class ExportArchive:
    """Keras's ``keras.export.ExportArchive``: endpoints for serving, written as a deepgrad export
    archive (ONNX endpoints, safetensors variables) rather than a TensorFlow SavedModel.

    ``add_endpoint(name, fn, input_signature)`` calls ``fn`` once on symbolic inputs built from
    ``input_signature`` (a list with one entry per positional argument: ``keras.InputSpec``,
    ``tf.TensorSpec``, a KerasTensor or an array, or a dict/list of them) and converts the layer
    calls it makes to ONNX; an endpoint computes in inference mode. Needs ``deepgrad[onnx]``.
    """

    def __init__(self, format="saved_model"):
        if format != "saved_model":
            raise ValueError(f"Unsupported format: {format}")
        self._endpoint_names: list[str] = []
        self._endpoints: dict[str, dict] = {}
        self._tracked: list = []
        self._collections: dict[str, list] = {}

    # ------------------------------------------------------------------ tracked variables
    def _tracked_variables(self, which: str) -> list:
        seen, out = set(), []
        for layer in self._tracked:
            for v in getattr(layer, which):
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def variables(self) -> list:
        return self._tracked_variables("variables")

    @property
    def trainable_variables(self) -> list:
        return self._tracked_variables("trainable_variables")

    @property
    def non_trainable_variables(self) -> list:
        return self._tracked_variables("non_trainable_variables")

    def track(self, resource) -> None:
        """Keep the variables of ``resource`` (a built layer or model) in the archive, to be read back
        as ``variables``/``trainable_variables``/``non_trainable_variables`` after loading."""
        if not isinstance(resource, Layer):
            raise ValueError("Invalid resource type. Expected a Keras `Layer` or `Model`. "
                             f"Received object {resource} of type '{type(resource)}'.")
        if not resource.built:
            raise ValueError("The layer provided has not yet been built. It must be built before export.")
        if all(r is not resource for r in self._tracked):
            self._tracked.append(resource)

    # ------------------------------------------------------------------ endpoints
    def add_endpoint(self, name, fn, input_signature=None, **kwargs):
        """Register ``fn`` as the endpoint ``name``, traced with ``input_signature``; returns ``fn``."""
        if name in self._endpoint_names:
            raise ValueError(f"Endpoint name '{name}' is already taken.")
        if not isinstance(name, str) or not name.isidentifier() or name in _RESERVED:
            raise ValueError(f"add_endpoint: the endpoint name must be a Python identifier other than "
                             f"{sorted(_RESERVED)}; got {name!r}")
        if "jax2tf_kwargs" in kwargs or "is_static" in kwargs:
            raise ValueError("'jax2tf_kwargs' and 'is_static' are only supported with the jax backend.")
        if kwargs:
            raise TypeError(f"add_endpoint: unexpected keyword argument(s) {sorted(kwargs)}")
        if input_signature is None:
            raise ValueError("add_endpoint: pass `input_signature` to give the shape and dtype of each of the "
                             "function's arguments, e.g. add_endpoint(name='serve', fn=model.call, "
                             "input_signature=[keras.InputSpec(shape=(None, 224, 224, 3), dtype='float32')])")
        if not callable(fn):
            raise TypeError(f"add_endpoint: fn must be callable, got {type(fn).__name__}")
        args, flat_inputs, arg_structure = _symbolic_arguments(input_signature)
        where = f"add_endpoint({name!r})"
        outputs = fn(*args)
        out_structure = _output_structure(outputs, where)
        flat_outputs = flatten(outputs)
        graph = _TracedGraph(name, flat_inputs, flat_outputs)
        training = _training_calls(graph._nodes)
        if training:
            raise ExportError(f"{where}: the function calls {training} with training=True; an exported endpoint "
                              "computes in inference mode (Dropout off, BatchNormalization's moving statistics)")
        proto = build_onnx_model(graph)
        for leaf, value in zip(_leaves({"list": arg_structure}, "input"), proto.graph.input):
            leaf["input"] = value.name
        for leaf, value in zip(_leaves(out_structure, "output"), proto.graph.output):
            leaf["output"] = value.name
        self._endpoints[name] = {"onnx": proto.SerializeToString(), "args": arg_structure, "outputs": out_structure}
        self._endpoint_names.append(name)
        return fn

    def track_and_add_endpoint(self, name, resource, input_signature=None, **kwargs):
        """``track(resource)``, then ``add_endpoint(name, resource.__call__, input_signature)``; a
        model's own inputs when ``input_signature`` is None."""
        self.track(resource)
        if input_signature is None:
            input_signature = _input_signature_of(resource)
        return self.add_endpoint(name, resource.__call__, input_signature, **kwargs)

    def add_variable_collection(self, name, variables) -> None:
        """Keep ``variables`` (a list/tuple/set of Variables) to be read back as ``loaded.<name>``."""
        from ..autograd import Variable
        if not isinstance(variables, (list, tuple, set)):
            raise ValueError(f"Expected `variables` to be a list/tuple/set. Received instead object of type "
                             f"'{type(variables)}'.")
        if not all(isinstance(v, Variable) for v in variables):
            raise ValueError("Expected all elements in `variables` to be `keras.Variable` instances. Found "
                             f"instead the following types: {sorted({type(v).__name__ for v in variables})}")
        if not isinstance(name, str) or not name.isidentifier() or name in _RESERVED:
            raise ValueError(f"add_variable_collection: the name must be a Python identifier other than "
                             f"{sorted(_RESERVED)}; got {name!r}")
        self._collections[name] = list(variables)

    # ------------------------------------------------------------------ writing
    def _variable_entries(self) -> tuple[dict, dict]:
        """``(arrays by key, manifest entry)`` for the tracked variables and the collections."""
        arrays, keys = {}, {}

        def key_of(v):
            if id(v) not in keys:
                base = v.path or v.name or "variable"
                key, n = base, 1
                while key in arrays:
                    key, n = f"{base}_{n}", n + 1
                keys[id(v)] = key
                arrays[key] = np.array(v.numpy(), copy=True)
            return keys[id(v)]

        def describe(v):
            return {"key": key_of(v), "name": v.name, "path": v.path, "trainable": bool(v.trainable)}

        entry = {"tracked": [describe(v) for v in self.variables],
                 "collections": {name: [describe(v) for v in vs] for name, vs in self._collections.items()}}
        return arrays, entry

    def write_out(self, filepath, options=None, verbose=True) -> None:
        """Write the archive to the directory ``filepath`` (created if missing). ``options`` (a
        ``tf.saved_model.SaveOptions`` in Keras) has no effect here. The manifest is written last and
        atomically, so a failed write leaves the archive that was there before readable."""
        if not self._endpoint_names:
            raise ValueError("No endpoints have been set yet. Call add_endpoint().")
        directory = os.fspath(filepath)
        if os.path.exists(directory) and not os.path.isdir(directory):
            raise FileExistsError(f"write_out: {directory!r} is a file; an export archive is a directory")
        os.makedirs(directory, exist_ok=True)

        def write(stem: str, suffix: str, data: bytes) -> str:
            name = f"{stem}-{hashlib.sha256(data).hexdigest()[:16]}{suffix}"
            path = os.path.join(directory, name)
            if not os.path.isfile(path):
                write_bytes_atomic(path, data)
            return name

        manifest = {"format": FORMAT, "version": VERSION, "deepgrad_version": __version__,
                    "saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                    "default_endpoint": self._endpoint_names[0], "endpoints": {}}
        for name in self._endpoint_names:
            e = self._endpoints[name]
            manifest["endpoints"][name] = {"file": write(name, ".onnx", e["onnx"]), "args": e["args"],
                                           "outputs": e["outputs"]}
        arrays, variables = self._variable_entries()
        if arrays or variables["collections"]:
            variables["file"] = write("variables", ".safetensors", st.dumps(arrays))
            manifest["variables"] = variables
        write_bytes_atomic(os.path.join(directory, MANIFEST), json.dumps(manifest, indent=1).encode("utf-8"))
        _remove_unreferenced(directory, manifest)
        if verbose:
            print(f"Saved artifact at '{directory}'. The following endpoints are available:\n\n"
                  + "\n\n".join(_describe_endpoint(n, manifest["endpoints"][n]) for n in self._endpoint_names))


def _referenced(manifest: dict) -> set:
    files = {e["file"] for e in manifest["endpoints"].values()}
    if "variables" in manifest:
        files.add(manifest["variables"]["file"])
    return files


def _remove_unreferenced(directory: str, manifest: dict) -> None:
    """Files of an earlier archive in ``directory`` that the new manifest no longer names (only
    files this module writes: ``<name>-<16 hex>.onnx|.safetensors``)."""
    keep = _referenced(manifest)
    for entry in os.listdir(directory):
        stem, _, suffix = entry.rpartition(".")
        digest = stem.rpartition("-")[2]
        if (suffix in ("onnx", "safetensors") and len(digest) == 16 and all(c in "0123456789abcdef" for c in digest)
                and entry not in keep and os.path.isfile(os.path.join(directory, entry))):
            os.remove(os.path.join(directory, entry))


def _describe_endpoint(name: str, entry: dict) -> str:
    def spec(node, label):
        if "input" in node:
            return [f"  {label}: TensorSpec(shape={tuple(node['shape'])}, dtype={node['dtype']}, "
                    f"name={node['input']!r})"]
        items = node["dict"].items() if "dict" in node else enumerate(node.get("list", node.get("tuple")))
        return [line for k, sub in items for line in spec(sub, f"{label}[{k!r}]")]
    lines = [f"* Endpoint '{name}'"]
    for i, arg in enumerate(entry["args"]):
        lines += spec(arg, f"args_{i}")
    return "\n".join(lines)


# ---------------------------------------------------------------------- reading back
class _Signature:
    """A TensorFlow-style signature: inputs by name (as keyword arguments, or positional in the
    order of ``structured_input_signature``), a dict of outputs by name."""

    def __init__(self, endpoint):
        self._endpoint = endpoint

    @property
    def structured_input_signature(self) -> tuple:
        """``((), {input name: TensorSpec})``: a signature takes its inputs by name, as TensorFlow's."""
        return (), self._endpoint.input_specs()

    @property
    def structured_outputs(self) -> dict:
        """``{output name: TensorSpec}``: what a call returns."""
        return self._endpoint.output_specs()

    def __call__(self, *args, **kwargs):
        names = self._endpoint.input_names
        if len(args) > len(names):
            raise TypeError(f"signature {self._endpoint.name!r} takes {len(names)} input(s) {names}, got "
                            f"{len(args)} positional argument(s)")
        given = dict(zip(names, args))
        twice = sorted(set(given) & set(kwargs))
        if twice:
            raise TypeError(f"signature {self._endpoint.name!r} got input(s) {twice} both by position and by name")
        given.update(kwargs)
        missing = [n for n in names if n not in given]
        extra = [k for k in given if k not in names]
        if missing or extra:
            raise TypeError(f"signature {self._endpoint.name!r} takes the keyword arguments {names}; "
                            f"missing {missing}, unexpected {extra}")
        from ..autograd import Tensor
        return {n: Tensor(v, dtype=v.dtype) for n, v in self._endpoint.run_named(given).items()}


class LoadedArchive:
    """An export archive read back: each endpoint a method, the tracked variables as
    ``variables``/``trainable_variables``/``non_trainable_variables``, each variable collection
    an attribute, and ``signatures`` (keyword inputs, dict outputs; ``"serving_default"`` is the
    first endpoint unless one has that name)."""

    def __init__(self, path):
        from ..autograd import Variable
        directory = os.fspath(path)
        manifest, endpoints = open_endpoints(directory)
        self._path = directory
        self._endpoint_names = list(endpoints)
        for name, endpoint in endpoints.items():
            setattr(self, name, endpoint)
        self.signatures = {name: _Signature(e) for name, e in endpoints.items()}
        self.signatures.setdefault("serving_default", self.signatures[manifest["default_endpoint"]])
        self.variables, self.trainable_variables, self.non_trainable_variables = [], [], []
        entry = manifest.get("variables")
        if entry is None:
            return
        arrays, _ = st.load_file(member_path(directory, entry.get("file"), "the variables file"))
        made: dict = {}

        def variable(d):
            key = d.get("key") if isinstance(d, dict) else None
            if key not in arrays:
                raise ValueError(f"{directory}: the variables file has no array {key!r}; the archive is corrupt")
            if key not in made:
                made[key] = Variable(arrays[key], dtype=arrays[key].dtype, trainable=bool(d.get("trainable")),
                                     name=str(d.get("name") or key),
                                     autocast=False)
            return made[key]

        self.variables = [variable(d) for d in entry.get("tracked", [])]
        self.trainable_variables = [v for v in self.variables if v.trainable]
        self.non_trainable_variables = [v for v in self.variables if not v.trainable]
        for name, items in (entry.get("collections") or {}).items():
            if not isinstance(name, str) or not name.isidentifier() or name in _RESERVED or name in endpoints:
                raise ValueError(f"{directory}: invalid variable collection name {name!r}")
            setattr(self, name, [variable(d) for d in items])

    def __repr__(self) -> str:
        return f"<LoadedArchive {self._path!r}: endpoints {self._endpoint_names}>"


def load_archive(path) -> LoadedArchive:
    """The export archive at ``path`` (written by ``ExportArchive.write_out`` or ``model.export``)."""
    return LoadedArchive(path)


__all__ = ["DEFAULT_ENDPOINT_NAME", "ExportArchive", "LoadedArchive", "load_archive"]
