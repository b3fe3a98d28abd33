"""HDF5 files read as plain numeric arrays only, and written from a tree of groups and arrays.

Keras keeps weights in HDF5 (``model.weights.h5`` inside a ``.keras`` zip, ``.weights.h5``,
the legacy ``model.h5``). HDF5 can do far more than hold arrays: links to other files,
datasets whose bytes live in other files (external storage, virtual datasets), object
references, compound and variable-length types, and datasets that declare a size without
storing it. A reader that follows those reads or allocates what the file's author chose.
So, before any value is read, every object is checked: only hard links (soft and external
links are refused), only groups and datasets, datasets of numbers (``f``, ``i``, ``u``,
``b``) with their bytes in this file, no more declared bytes than the file can hold (the
stored size times a compression ratio), attributes of numbers or strings only.

The tree is ``{"groups": {path: attrs}, "datasets": {path: array}}``; paths have no
leading slash and the root group is ``""``.
"""
from __future__ import annotations

import io
import os

import numpy as np

from .safetensors_format import UnsafeFileError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_COMPRESSION_RATIO = 200       # as for zip members: deflate of real weights stays far below
MAX_OBJECTS = 1_000_000           # groups + datasets; Keras writes a few per layer
MAX_ATTRIBUTE_BYTES = 64 * 1024 ** 2
SLACK_BYTES = 1024 ** 2           # scalars and tiny arrays may be stored in the object header


def h5py_module():
    """h5py, imported on first use; it is the ``h5`` extra."""
    try:
        import h5py
    except ImportError:
        raise ImportError("reading and writing Keras .keras, .weights.h5 and .h5 files needs h5py: "
                          "pip install deepgrad[h5]") from None
    return h5py


def is_hdf5(head: bytes) -> bool:
    return head[:8] == HDF5_SIGNATURE


def _check_attribute(h5py, attrs, name: str, where: str, source: str):
    attr_id = attrs.get_id(name)
    dtype = attr_id.dtype
    if h5py.check_string_dtype(dtype) is not None or dtype.kind in "SU":
        return
    if dtype.fields is not None or dtype.kind not in "fiub" or h5py.check_dtype(ref=dtype) is not None:
        raise UnsafeFileError(f"{source}: attribute {name!r} of {where or '/'} has dtype {dtype}; only numbers "
                              "and strings are read")


def _attribute_value(value):
    """Strings as str, arrays of strings as lists of str, numbers as NumPy values."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.dtype.kind in "OSU":
        return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in value.reshape(-1)]
    return value


def read_h5(data: bytes, source: str, with_arrays: bool = True) -> dict:
    """The tree of ``data`` (the bytes of an HDF5 file), every object checked before any is read;
    with ``with_arrays=False`` the datasets are ``(shape, dtype)`` pairs, nothing is read."""
    if not is_hdf5(data[:8]):
        raise UnsafeFileError(f"{source} is not an HDF5 file (it does not start with the HDF5 signature)")
    h5py = h5py_module()
    budget = len(data) * MAX_COMPRESSION_RATIO + SLACK_BYTES
    try:
        with h5py.File(io.BytesIO(data), "r") as f:
            plan = _plan(h5py, f, source, budget)
            tree = {"groups": {}, "datasets": {}}
            attr_bytes = 0
            for path, kind in plan:
                obj = f[path] if path else f
                attrs = {}
                for name in obj.attrs:
                    value = _attribute_value(obj.attrs[name])
                    attr_bytes += len(str(value))
                    if attr_bytes > MAX_ATTRIBUTE_BYTES:
                        raise UnsafeFileError(f"{source}: attributes exceed {MAX_ATTRIBUTE_BYTES} bytes")
                    attrs[name] = value
                if kind == "group":
                    tree["groups"][path] = attrs
                elif with_arrays:
                    tree["datasets"][path] = np.array(obj[()], copy=True)
                else:
                    tree["datasets"][path] = (tuple(obj.shape), obj.dtype)
            return tree
    except UnsafeFileError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as e:
        raise UnsafeFileError(f"{source} is a truncated or corrupt HDF5 file ({e})") from None


def _plan(h5py, f, source: str, budget: int) -> list[tuple[str, str]]:
    """``(path, "group" | "dataset")`` for every object, after checking it; nothing read yet."""
    plan, stack, seen, declared = [], [""], set(), 0
    while stack:
        path = stack.pop()
        group = f[path] if path else f
        address = h5py.h5o.get_info(group.id).addr
        if address in seen:  # a group hard-linked into itself would be walked forever
            raise UnsafeFileError(f"{source}: group /{path} is linked more than once (a cycle?)")
        seen.add(address)
        for name in group.attrs:
            _check_attribute(h5py, group.attrs, name, path, source)
        plan.append((path, "group"))
        for name in sorted(group.keys()):
            child = f"{path}/{name}" if path else name
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise UnsafeFileError(f"{source}: /{child} is an external link to {link.filename!r}; links to "
                                      "other files are refused")
            if isinstance(link, h5py.SoftLink):
                raise UnsafeFileError(f"{source}: /{child} is a soft link to {link.path!r}; only plain groups "
                                      "and datasets are read")
            if not isinstance(link, h5py.HardLink):
                raise UnsafeFileError(f"{source}: /{child} is a link of an unknown kind")
            obj_class = group.get(name, getclass=True)
            if obj_class is h5py.Group:
                stack.append(child)
            elif obj_class is h5py.Dataset:
                declared += _check_dataset(h5py, group[name], child, source)
                if declared > budget:
                    raise UnsafeFileError(f"{source}: the datasets declare more than {budget} bytes (at /{child}), "
                                          "more than a file of this size can hold")
                plan.append((child, "dataset"))
            else:
                raise UnsafeFileError(f"{source}: /{child} is a {getattr(obj_class, '__name__', obj_class)}, not a "
                                      "group or a dataset")
            if len(plan) > MAX_OBJECTS:
                raise UnsafeFileError(f"{source} holds more than {MAX_OBJECTS} objects")
    return plan


def _check_dataset(h5py, ds, path: str, source: str) -> int:
    """The bytes ``ds`` declares, after refusing anything but a numeric array stored in this file."""
    dtype = ds.dtype
    if (dtype.fields is not None or dtype.kind not in "fiub" or dtype.subdtype is not None
            or h5py.check_dtype(vlen=dtype) is not None or h5py.check_dtype(ref=dtype) is not None):
        raise UnsafeFileError(f"{source}: dataset /{path} has dtype {dtype}; only numeric arrays are read")
    if ds.is_virtual:
        raise UnsafeFileError(f"{source}: dataset /{path} is a virtual dataset (its data lives elsewhere)")
    if ds.id.get_create_plist().get_external_count() > 0:
        raise UnsafeFileError(f"{source}: dataset /{path} keeps its data in external files")
    for name in ds.attrs:
        _check_attribute(h5py, ds.attrs, name, path, source)
    declared = int(np.prod(ds.shape, dtype=np.int64) if ds.shape else 1) * dtype.itemsize
    stored = ds.id.get_storage_size()
    if declared > SLACK_BYTES and declared > max(stored, 1) * MAX_COMPRESSION_RATIO:
        raise UnsafeFileError(f"{source}: dataset /{path} declares shape {ds.shape} ({declared} bytes) but stores "
                              f"{stored} bytes; refusing to allocate it")
    return declared


def write_h5(tree: dict) -> bytes:
    """The bytes of an HDF5 file holding ``tree`` (groups in the order given, then datasets)."""
    h5py = h5py_module()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for path, attrs in tree.get("groups", {}).items():
            group = f.require_group(path) if path else f
            for name, value in attrs.items():
                group.attrs[name] = value
        for path, array in tree.get("datasets", {}).items():
            f.create_dataset(path, data=np.asarray(array))
    return buffer.getvalue()


def read_h5_file(filepath, with_arrays: bool = True) -> dict:
    source = os.fspath(filepath)
    with open(source, "rb") as fh:
        data = fh.read()
    return read_h5(data, source, with_arrays=with_arrays)
