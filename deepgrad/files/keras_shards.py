"""Keras 3's sharded weights: ``model.save_weights("m.weights.json", max_shard_size=GB)``.

The index ``m.weights.json`` is ``{"metadata": {"total_size": bytes}, "weight_map": {h5 group:
shard file or [shard files]}}``; the shards ``m_00000.weights.h5``, ``m_00001.weights.h5``, ...
sit beside it, each an ordinary Keras weights file (keras_paths.py) holding some of the
variables. Keras fills a shard variable by variable in the order of its object walk and opens
the next one when the running size would pass ``max_shard_size`` (``GB * 1024**3`` bytes), so an
object's variables may straddle two shards (a map entry is a list of file names once its group holds two variables). An object is given
its group, with its ``name`` attribute, in the shard open when it is visited; a group opened
again in the next shard has no attribute. Only groups that hold variables are in the map.

Reading is as careful as for one file, and more: the index is a bounded JSON object of the
expected shape; every shard it names is a plain file name in the index's own folder (no path,
no link out of the folder); every shard is checked whole by h5_format.py before any array is
read; the bytes all shards declare must equal the index's ``total_size``, and each variable
must sit in a shard the map names for its group, exactly once.
"""
from __future__ import annotations

import json
import math
import os
import re
import warnings

import numpy as np

from .atomic import write_bytes_atomic
from .h5_format import read_h5, write_h5
from .keras_paths import weights_tree
from .safetensors_format import UnsafeFileError

MAX_INDEX_BYTES = 64 * 1024 ** 2
MAX_SHARDS = 100_000
GIGABYTE = 1024 ** 3
_SHARD_NAME = re.compile(r"^[^/\\]+_\d{5,}\.weights\.h5$")


def index_path(filepath) -> str:
    """Keras's rule: a sharded save goes to a ``.json`` index (``x.weights.h5`` becomes ``x.weights.json``)."""
    path = os.fspath(filepath)
    root, ext = os.path.splitext(path)
    if ext != ".json":
        warnings.warn(f"Saving sharded weights requires `*.json` as the extension. The original path: {path} "
                      f"will be renamed to {root}.json.", stacklevel=3)
        path = root + ".json"
    return path


def _base_name(path: str) -> str:
    # Keras: Path(path).stem with ".weights" removed: "m.weights.json" -> "m"
    return os.path.splitext(os.path.basename(path))[0].replace(".weights", "")


def shard_trees(tree: dict, max_bytes: float, base: str) -> tuple[list[tuple[str, dict]], dict]:
    """``([(shard file, h5 tree)], index)``: ``tree`` (weights_tree's) split as Keras splits it."""
    by_group: dict[str, list[tuple[str, np.ndarray]]] = {path: [] for path in tree["groups"]}
    for key, array in tree["datasets"].items():
        by_group.setdefault(key.rpartition("/")[0], []).append((key, np.asarray(array)))
    shards: list[tuple[str, dict]] = []

    def new_shard():
        shards.append((f"{base}_{len(shards):05d}.weights.h5", {"groups": {}, "datasets": {}}))

    new_shard()
    weight_map: dict[str, object] = {}
    running = total = 0.0
    for path, attrs in tree["groups"].items():
        shards[-1][1]["groups"][path] = dict(attrs)
        for key, array in by_group.get(path, []):
            size = float(array.nbytes)
            if size > max_bytes:
                raise ValueError(f"save_weights: the size of {key} is {size:.0f} bytes, which exceeds the maximum "
                                 f"shard size of {max_bytes:.0f} bytes; increase max_shard_size")
            total += size
            running += size
            if running > max_bytes:
                new_shard()
                running = size
            name, shard = shards[-1]
            shard["groups"].setdefault(path, {})
            shard["datasets"][key] = array
            # Keras's bookkeeping: a group's first variable maps it to a file name, a second one
            # (in any shard) turns the entry into a list of the distinct file names
            entry = weight_map.get(f"/{path}")
            if entry is None:
                weight_map[f"/{path}"] = name
            else:
                entry = entry if isinstance(entry, list) else [entry]
                weight_map[f"/{path}"] = entry + ([name] if name not in entry else [])
    return shards, {"metadata": {"total_size": total}, "weight_map": weight_map}


def save_sharded_weights(model, filepath, max_shard_size, overwrite: bool = True) -> str:
    """``model``'s weights as Keras's index and shards of at most ``max_shard_size`` GB each;
    returns the index's path. Every file is written atomically, the index last."""
    if isinstance(max_shard_size, bool) or not isinstance(max_shard_size, (int, float)) or not max_shard_size > 0:
        raise ValueError(f"save_weights: max_shard_size must be a positive number of GB, got {max_shard_size!r}")
    path = index_path(filepath)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save_weights: {path} exists and overwrite=False")
    compiled = getattr(model, "optimizer", None) is not None
    shards, index = shard_trees(weights_tree(model, include_optimizer=compiled), float(max_shard_size) * GIGABYTE,
                                _base_name(path))
    folder = os.path.dirname(path)
    for name, tree in shards:
        write_bytes_atomic(os.path.join(folder, name), write_h5(tree), overwrite=True)
    write_bytes_atomic(path, json.dumps(index, indent=4).encode("utf-8"), overwrite=overwrite)
    return path


# ----------------------------------------------------------------- reading
def _read_index(path: str) -> dict:
    size = os.path.getsize(path)
    if size > MAX_INDEX_BYTES:
        raise UnsafeFileError(f"{path} is {size} bytes, over the {MAX_INDEX_BYTES}-byte limit for a shard index")
    with open(path, "rb") as f:
        data = f.read(MAX_INDEX_BYTES + 1)
    try:
        index = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise UnsafeFileError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(index, dict) or not isinstance(index.get("weight_map"), dict) \
            or not isinstance(index.get("metadata", {}), dict):
        raise UnsafeFileError(f"{path}: a shard index is an object with 'weight_map' (an object) and 'metadata'")
    total = index.get("metadata", {}).get("total_size")
    if isinstance(total, bool) or not isinstance(total, (int, float)) or not math.isfinite(total) or total < 0:
        raise UnsafeFileError(f"{path}: metadata.total_size must be a number of bytes, got {total!r}")
    return index


def _shard_file(folder: str, name, source: str) -> str:
    """The path of shard ``name``: a plain file name of Keras's pattern, inside ``folder``."""
    if not isinstance(name, str) or not _SHARD_NAME.match(name) or name in (".", ".."):
        raise UnsafeFileError(f"{source}: shard {name!r} is not a file name of the form <name>_00000.weights.h5")
    path = os.path.join(folder, name)
    real_folder = os.path.realpath(folder or ".")
    if os.path.dirname(os.path.realpath(path)) != real_folder:
        raise UnsafeFileError(f"{source}: shard {name!r} links out of the index's folder")
    if not os.path.isfile(path):
        raise UnsafeFileError(f"{source}: shard {name!r} is missing (expected at {path})")
    return path


def read_sharded_tree(filepath) -> dict:
    """One weights tree (as h5_format.read_h5 gives) from Keras's index and all its shards."""
    source = os.fspath(filepath)
    index = _read_index(source)
    folder = os.path.dirname(source)
    owners: dict[str, list[str]] = {}
    for group, entry in index["weight_map"].items():
        names = entry if isinstance(entry, list) else [entry]
        if not isinstance(group, str) or not group.startswith("/") or not group.endswith("vars") or not names:
            raise UnsafeFileError(f"{source}: weight_map entry {group!r}: {entry!r} is not an h5 group path "
                                  "mapped to shard files")
        owners[group[1:]] = [os.path.basename(_shard_file(folder, n, source)) for n in names]
    first = f"{_base_name(source)}_00000.weights.h5"
    shard_names = sorted({n for names in owners.values() for n in names}
                         | ({first} if os.path.isfile(os.path.join(folder, first)) else set()))
    if len(shard_names) > MAX_SHARDS:
        raise UnsafeFileError(f"{source} names {len(shard_names)} shards, more than {MAX_SHARDS}")
    # every shard checked, and its declared bytes counted, before any array is read
    blobs, declared = {}, 0
    for name in shard_names:
        path = _shard_file(folder, name, source)
        with open(path, "rb") as f:
            blobs[name] = f.read()
        plan = read_h5(blobs[name], f"{source}:{name}", with_arrays=False)
        declared += sum(int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
                        for shape, dtype in plan["datasets"].values())
    if declared != int(index["metadata"]["total_size"]):
        raise UnsafeFileError(f"{source}: the shards declare {declared} bytes but the index's total_size is "
                              f"{index['metadata']['total_size']}")
    tree: dict = {"groups": {}, "datasets": {}}
    for name in shard_names:
        shard = read_h5(blobs.pop(name), f"{source}:{name}")
        for group, attrs in shard["groups"].items():
            tree["groups"].setdefault(group, {}).update(attrs)
        for key, array in shard["datasets"].items():
            group = key.rpartition("/")[0]
            if name not in owners.get(group, ()):
                raise UnsafeFileError(f"{source}: {name} holds /{key}, but the weight_map does not name {name} "
                                      f"for /{group}")
            if key in tree["datasets"]:
                raise UnsafeFileError(f"{source}: /{key} is stored in more than one shard")
            tree["datasets"][key] = array
    return tree
