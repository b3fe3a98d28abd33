"""The endpoints of an export archive, run with onnxruntime.

An export archive (``deepgrad.export.ExportArchive(...).write_out(path)``, or
``model.export(path)``) is a directory: ``deepgrad_export.json`` (the manifest) names each
endpoint's ONNX file, the structure of its arguments and outputs, and the safetensors file of
the tracked variables. Every file the manifest names carries a hash of its contents in its name
and the manifest is written last, atomically, so a directory is always one whole archive.

This module reads the manifest and runs the endpoints; it sits low in the package so that
``layers.TFSMLayer`` can call an archive's endpoint as a layer. Reading is defensive: the
manifest is size-capped JSON checked field by field, file names are plain names inside the
directory, and ONNX files with external data (which could point anywhere on disk) are refused.
"""
from __future__ import annotations

import json
import os
import re

import numpy as np

from .tensor_spec import TensorSpec

MANIFEST = "deepgrad_export.json"
FORMAT = "deepgrad.export_archive"
VERSION = 1
_MAX_MANIFEST_BYTES = 16 * 1024 ** 2
_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}$")
_NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
                "tensor(int32)": np.int32, "tensor(int64)": np.int64, "tensor(uint8)": np.uint8,
                "tensor(int8)": np.int8, "tensor(bool)": np.bool_, "tensor(string)": np.object_}


class ArchiveError(ValueError):
    """A directory that is not a readable export archive; the message names what is wrong."""


def require_onnxruntime():
    try:
        import onnxruntime
    except ImportError as e:
        raise ImportError("running ONNX files needs onnxruntime: pip install deepgrad[onnx]") from e
    return onnxruntime


def is_archive(path) -> bool:
    """Whether ``path`` is a directory holding an export archive's manifest."""
    return os.path.isdir(os.fspath(path)) and os.path.isfile(os.path.join(os.fspath(path), MANIFEST))


def member_path(directory: str, name, what: str) -> str:
    """The path of the archive's file ``name``: a plain file name inside ``directory``."""
    if not isinstance(name, str) or not _FILE_NAME.match(name):
        raise ArchiveError(f"{directory}: the manifest names {what} {name!r}, which is not a plain file name")
    path = os.path.join(directory, name)
    if os.path.islink(path) or not os.path.isfile(path):
        raise ArchiveError(f"{directory}: {what} {name!r} is missing (the archive is incomplete)")
    return path


def _check_structure(node, leaf: str, where: str) -> None:
    """An argument or output structure: nested {"list"|"tuple": [...]}, {"dict": {...}} and leaves
    {leaf: name, ...}, walked iteratively."""
    stack = [node]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict) or len(node) == 0:
            raise ArchiveError(f"{where}: malformed structure entry {node!r}")
        if "list" in node or "tuple" in node:
            items = node.get("list", node.get("tuple"))
            if not isinstance(items, list):
                raise ArchiveError(f"{where}: malformed structure entry {node!r}")
            stack.extend(items)
        elif "dict" in node:
            if not isinstance(node["dict"], dict) or not all(isinstance(k, str) for k in node["dict"]):
                raise ArchiveError(f"{where}: malformed structure entry {node!r}")
            stack.extend(node["dict"].values())
        elif not isinstance(node.get(leaf), str):
            raise ArchiveError(f"{where}: malformed structure entry {node!r}")


def read_manifest(path) -> dict:
    """The manifest of the archive at ``path``, checked; ArchiveError naming the problem else."""
    directory = os.fspath(path)
    if not os.path.isdir(directory):
        what = "does not exist" if not os.path.exists(directory) else "is a file, not an archive directory"
        raise ArchiveError(f"export archive {directory!r} {what}")
    file = os.path.join(directory, MANIFEST)
    if not os.path.isfile(file):
        raise ArchiveError(f"{directory!r} is not a deepgrad export archive (no {MANIFEST}); a TensorFlow "
                           "SavedModel needs TensorFlow to run")
    if os.path.getsize(file) > _MAX_MANIFEST_BYTES:
        raise ArchiveError(f"{file}: the manifest is larger than {_MAX_MANIFEST_BYTES} bytes; refused")
    try:
        with open(file, "rb") as f:
            manifest = json.loads(f.read().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArchiveError(f"{file} is not valid JSON ({e}); the archive is corrupt") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"{file} is not a deepgrad export archive manifest")
    if manifest.get("version") != VERSION:
        raise ArchiveError(f"{file}: archive version {manifest.get('version')!r} is not readable by this deepgrad "
                           f"(it reads version {VERSION})")
    endpoints = manifest.get("endpoints")
    if not isinstance(endpoints, dict) or not endpoints:
        raise ArchiveError(f"{file}: the archive has no endpoints")
    for name, entry in endpoints.items():
        where = f"{file}, endpoint {name!r}"
        if not name.isidentifier() or not isinstance(entry, dict):
            raise ArchiveError(f"{where}: not a valid endpoint")
        member_path(directory, entry.get("file"), f"the ONNX file of endpoint {name!r}")
        if not isinstance(entry.get("args"), list):
            raise ArchiveError(f"{where}: malformed argument list")
        for arg in entry["args"]:
            _check_structure(arg, "input", where)
        _check_structure(entry.get("outputs"), "output", where)
    if manifest.get("default_endpoint") not in endpoints:
        raise ArchiveError(f"{file}: the default endpoint {manifest.get('default_endpoint')!r} is not an endpoint")
    return manifest


def _flatten_into(node, value, out: dict, where: str) -> None:
    """``value`` matched against the argument structure ``node``: ``out`` gains input name -> value."""
    stack = [(node, value, where)]
    while stack:
        node, value, at = stack.pop()
        if "input" in node:
            out[node["input"]] = (value, node, at)
        elif "dict" in node:
            if not isinstance(value, dict) or set(value) != set(node["dict"]):
                got = sorted(value) if isinstance(value, dict) else type(value).__name__
                raise ValueError(f"{at}: expected a dict with keys {sorted(node['dict'])}, got {got}")
            stack.extend((sub, value[k], f"{at}[{k!r}]") for k, sub in node["dict"].items())
        else:
            items = node.get("list", node.get("tuple"))
            if not isinstance(value, (list, tuple)) or len(value) != len(items):
                n = len(value) if isinstance(value, (list, tuple)) else type(value).__name__
                raise ValueError(f"{at}: expected a list of {len(items)} tensors, got {n}")
            stack.extend((sub, v, f"{at}[{i}]") for i, (sub, v) in enumerate(zip(items, value)))


def _rebuild(node, values: dict):
    """The output structure ``node`` with each leaf replaced by ``values[name]``."""
    if "output" in node:
        return values[node["output"]]
    if "dict" in node:
        return {k: _rebuild(sub, values) for k, sub in node["dict"].items()}
    items = [_rebuild(sub, values) for sub in node.get("list", node.get("tuple"))]
    return tuple(items) if "tuple" in node else items


def _session(path: str):
    """An onnxruntime session for the ONNX file at ``path``, external data refused."""
    ort = require_onnxruntime()
    with open(path, "rb") as f:
        data = f.read()
    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None:
        try:
            proto = onnx.load_from_string(data)
        except Exception as e:  # noqa: BLE001 - any parse failure means a corrupt file
            raise ArchiveError(f"{path} is not a valid ONNX file ({e})") from None
        tensors = list(proto.graph.initializer)
        if any(t.data_location == onnx.TensorProto.EXTERNAL for t in tensors):
            raise ArchiveError(f"{path} refers to external data files; export archives keep their weights inside "
                               "the ONNX file, so this one is refused")
    try:
        return ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ArchiveError(f"{path} cannot be loaded by onnxruntime ({e})") from None


class Endpoint:
    """One endpoint of an archive: called with the arguments it was exported with (arrays or
    Tensors, in the same structure), it returns Tensors in the structure it was exported with."""

    def __init__(self, directory: str, name: str, entry: dict):
        self.name = name
        self._args = entry["args"]
        self._outputs = entry["outputs"]
        self._session = _session(member_path(directory, entry["file"], f"the ONNX file of endpoint {name!r}"))
        self._inputs = {i.name: i for i in self._session.get_inputs()}
        self._output_names = [o.name for o in self._session.get_outputs()]
        self._shapes: dict = {}
        stack = list(self._args)
        while stack:
            node = stack.pop()
            if "input" in node:
                self._shapes[node["input"]] = node.get("shape")
            else:
                stack.extend(node["dict"].values() if "dict" in node else node.get("list", node.get("tuple")))

    def __repr__(self) -> str:
        return f"<Endpoint {self.name!r}: {len(self._args)} argument(s)>"

    @property
    def input_signature(self) -> list:
        """Each argument's structure of ``(shape, dtype)`` leaves (None for a free axis)."""
        def spec(node):
            if "input" in node:
                return tuple(node["shape"]), node["dtype"]
            if "dict" in node:
                return {k: spec(v) for k, v in node["dict"].items()}
            return [spec(v) for v in node.get("list", node.get("tuple"))]
        return [spec(a) for a in self._args]

    def _spec_tree(self, node, specs: dict):
        """``node``'s structure with each leaf replaced by ``specs[its name]``."""
        if "input" in node or "output" in node:
            return specs[node.get("input", node.get("output"))]
        if "dict" in node:
            return {k: self._spec_tree(sub, specs) for k, sub in node["dict"].items()}
        items = [self._spec_tree(sub, specs) for sub in node.get("list", node.get("tuple"))]
        return tuple(items) if "tuple" in node else items

    def input_specs(self) -> dict:
        """Each ONNX input's ``TensorSpec`` by name, in the order of the flattened arguments."""
        return {i.name: TensorSpec(self._shapes.get(i.name) or [d if isinstance(d, int) else None for d in i.shape],
                                   _NUMPY_TYPES.get(i.type, np.float32), name=i.name)
                for i in self._session.get_inputs()}

    def output_specs(self) -> dict:
        """Each ONNX output's ``TensorSpec`` by name (None for an axis of any size)."""
        return {o.name: TensorSpec([d if isinstance(d, int) else None for d in o.shape],
                                   _NUMPY_TYPES.get(o.type, np.float32), name=o.name)
                for o in self._session.get_outputs()}

    @property
    def structured_input_signature(self) -> tuple:
        """``(args, kwargs)`` as TensorFlow's functions give it: the exported arguments' structures
        of ``TensorSpec``s, and no keyword arguments."""
        specs = self.input_specs()
        return tuple(self._spec_tree(a, specs) for a in self._args), {}

    @property
    def structured_outputs(self):
        """The outputs' structure as exported, each a ``TensorSpec``."""
        return self._spec_tree(self._outputs, self.output_specs())

    @property
    def input_names(self) -> list:
        """The ONNX input names, in the order of the flattened arguments."""
        return [i.name for i in self._session.get_inputs()]

    def output_shapes(self, input_shape=None):
        """The outputs' shapes in the exported structure (None for an axis of any size)."""
        shapes = {o.name: tuple(d if isinstance(d, int) else None for d in o.shape)
                  for o in self._session.get_outputs()}
        return _rebuild(self._outputs, shapes)

    def _array(self, input_name: str, value, at: str, shape=None) -> np.ndarray:
        """``value`` as the array the ONNX input ``input_name`` takes, its shape checked against the
        exported one (None: any size)."""
        array = np.asarray(value)
        if isinstance(shape, list) and (array.ndim != len(shape) or any(
                d is not None and d != n for d, n in zip(shape, array.shape))):
            raise ValueError(f"{at}: expected shape {tuple(shape)} (None: any size), got {array.shape}")
        wanted = _NUMPY_TYPES.get(self._inputs[input_name].type, np.float32)
        if wanted is np.object_:
            return array.astype(object)
        if array.dtype.kind not in "fiub":
            raise ValueError(f"{at}: expected numbers, got an array of {array.dtype}")
        return np.ascontiguousarray(array, dtype=wanted)

    def run_named(self, values: dict) -> dict:
        """The outputs as NumPy arrays by output name, for inputs given by ONNX input name."""
        feed = {n: self._array(n, v, f"endpoint {self.name!r}, input {n!r}", self._shapes.get(n))
                for n, v in values.items()}
        return dict(zip(self._output_names, self._session.run(self._output_names, feed)))

    def run(self, *args) -> dict:
        """The outputs as NumPy arrays by output name, for the arguments as exported."""
        if len(args) != len(self._args):
            raise ValueError(f"endpoint {self.name!r} takes {len(self._args)} argument(s), got {len(args)}")
        found: dict = {}
        for i, (node, value) in enumerate(zip(self._args, args)):
            _flatten_into(node, value, found, f"endpoint {self.name!r}, argument {i}")
        feed = {n: self._array(n, value, at, node.get("shape")) for n, (value, node, at) in found.items()}
        return dict(zip(self._output_names, self._session.run(self._output_names, feed)))

    def __call__(self, *args, **kwargs):
        if kwargs:
            raise TypeError(f"endpoint {self.name!r} takes positional arguments only (as exported), got "
                            f"keyword arguments {sorted(kwargs)}")
        from .autograd import Tensor
        values = {k: Tensor(v, dtype=v.dtype) for k, v in self.run(*args).items()}
        return _rebuild(self._outputs, values)


def open_endpoints(path) -> tuple[dict, dict]:
    """``(manifest, {name: Endpoint})`` of the archive at ``path``."""
    manifest = read_manifest(path)
    directory = os.fspath(path)
    return manifest, {name: Endpoint(directory, name, entry) for name, entry in manifest["endpoints"].items()}


__all__ = ["ArchiveError", "Endpoint", "FORMAT", "MANIFEST", "VERSION", "is_archive", "member_path",
           "open_endpoints", "read_manifest", "require_onnxruntime"]
