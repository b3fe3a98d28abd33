"""``KerasFileEditor``: inspect, edit and resave the weights of a ``.keras`` or ``.weights.h5`` file.

The weights are held as a nested dict by object path, Keras's ``vars`` level left out:
``{"layers": {"dense": {"0": kernel, "1": bias}, "lstm": {"cell": {"0": ...}}}}`` (an
object's own weights are its array entries, its children its dict entries). The file is
read as safely as ``load_model`` reads it (plain numeric HDF5 datasets, validated archive
members); ``save`` writes a ``.weights.h5`` in Keras's layout, atomically.
"""
from __future__ import annotations

import os

import numpy as np

from ..files.atomic import write_bytes_atomic
from ..files.h5_format import read_h5_file, write_h5
from ..files.keras_archive import read_keras_archive
from ..files.keras_paths import weights_tree


def _nested(tree: dict) -> tuple[dict, dict]:
    """``(weights dict, {object path: group attributes})`` of an h5_format tree."""
    weights, metadata = {}, {}
    for path, attrs in tree["groups"].items():
        parts = path.split("/") if path else []
        if parts and parts[-1] == "vars" and attrs:
            metadata["/".join(parts[:-1])] = dict(attrs)
    for path, array in sorted(tree["datasets"].items()):
        parts = path.split("/")
        owner = parts[:-2] if len(parts) >= 2 and parts[-2] == "vars" else parts[:-1]
        node = weights
        for part in owner:
            node = node.setdefault(part, {})
        node[parts[-1]] = array
    return weights, metadata


def _count(d: dict, name: str) -> int:
    return sum(_count(v, name) for v in d.values() if isinstance(v, dict)) + (name in d)


class KerasFileEditor:
    """``KerasFileEditor("model.keras")`` or ``KerasFileEditor("model.weights.h5")``."""

    def __init__(self, filepath):
        self.filepath = os.fspath(filepath)
        self.config = None
        self.metadata = None
        if self.filepath.endswith(".keras"):
            archive = read_keras_archive(self.filepath)
            self.config, self.metadata, tree = archive["config"], archive["metadata"], archive["weights"]
        elif self.filepath.endswith(".weights.h5"):
            tree = read_h5_file(self.filepath)
        else:
            raise ValueError(f"KerasFileEditor: expected a '.keras' or '.weights.h5' file, got {self.filepath!r}")
        self.weights_dict, self.object_metadata = _nested(tree)
        print(f"Keras model file '{self.filepath}'")
        if self.metadata:
            print(f"Saved with Keras {self.metadata.get('keras_version')} - date: {self.metadata.get('date_saved')}")

    # ----------------------------------------------------------------- looking
    def summary(self) -> None:
        """Print the file's objects and weights as a tree."""
        self.weights_summary()

    def weights_summary(self) -> None:
        print("Weights structure")
        self._print(self.weights_dict, "  ", "")

    def _print(self, d: dict, prefix: str, path: str) -> None:
        items = list(d.items())
        for i, (key, value) in enumerate(items):
            last = i == len(items) - 1
            connector = "└─ " if last else "├─ "
            inner = f"{path}/{key}" if path else key
            if isinstance(value, dict):
                name = self.object_metadata.get(inner, {}).get("name")
                print(f"{prefix}{connector}{key}" + (f" ('{name}')" if name else ""))
                self._print(value, prefix + ("    " if last else "│   "), inner)
            else:
                print(f"{prefix}{connector}{key}: shape={tuple(value.shape)}, dtype={value.dtype}")

    def compare(self, reference_model) -> dict:
        """Every mismatch between the file and ``reference_model`` (missing objects or weights,
        other shapes), printed; ``{"status": "success" | "error", "error_count", "match_count"}``."""
        reference, _ = _nested(weights_tree(reference_model))
        errors, matches = [], 0

        def walk(ours, theirs, path):
            nonlocal matches
            for key, value in theirs.items():
                inner = f"{path}/{key}"
                if key not in ours:
                    kind = "Object" if isinstance(value, dict) else "Weight"
                    errors.append(f"...{kind} {inner} present in reference model, missing from saved file")
                elif isinstance(value, dict) != isinstance(ours[key], dict):
                    errors.append(f"...{inner} is an object in one and a weight in the other")
                elif isinstance(value, dict):
                    walk(ours[key], value, inner)
                elif tuple(ours[key].shape) != tuple(value.shape):
                    errors.append(f"...Weight shape mismatch for {inner}: reference model {tuple(value.shape)}, "
                                  f"saved file {tuple(ours[key].shape)}")
                else:
                    matches += 1
            for key, value in ours.items():
                if key not in theirs:
                    kind = "Object" if isinstance(value, dict) else "Weight"
                    errors.append(f"...{kind} {path}/{key} present in saved file, missing from reference model")

        walk(self.weights_dict, reference, "")
        print("Running comparison")
        for line in errors:
            print(line)
        if errors:
            print(f"Found {len(errors)} error{'s' if len(errors) != 1 else ''}: saved file is not compatible "
                  "with the reference model")
        else:
            print("Comparison successful: saved file is compatible with the reference model")
            print(f"    Found {matches} matching weight{'s' if matches != 1 else ''}")
        return {"status": "error" if errors else "success", "error_count": len(errors), "match_count": matches}

    # ----------------------------------------------------------------- editing
    def _edit_object(self, edit, source_name: str, target_name: str | None = None) -> None:
        if target_name is not None and "/" in target_name:
            raise ValueError(f"target_name must be a leaf name, not a path; got {target_name!r}")
        if "/" in source_name:
            *parents, leaf = source_name.split("/")
            node = self.weights_dict
            for part in parents:
                if not isinstance(node.get(part), dict):
                    raise ValueError(f"Path {source_name!r} not found in the file")
                node = node[part]
            if leaf not in node:
                raise ValueError(f"Path {source_name!r} not found in the file")
            edit(node, leaf, target_name)
            return
        count = _count(self.weights_dict, source_name)
        if count > 1:
            raise ValueError(f"Name {source_name!r} occurs {count} times in the file; pass its full path")
        if count == 0:
            raise ValueError(f"Name {source_name!r} does not appear in the file; summary() lists the objects")

        def visit(node):
            for value in list(node.values()):
                if isinstance(value, dict):
                    visit(value)
            if source_name in node:
                edit(node, source_name, target_name)

        visit(self.weights_dict)

    def rename_object(self, object_name: str, new_name: str) -> None:
        """Rename an object (``"dense_2"`` or ``"layers/dense_2"``) to ``new_name``."""
        def rename(node, source, target):
            node[target] = node.pop(source)
        self._edit_object(rename, object_name, new_name)

    def delete_object(self, object_name: str) -> None:
        """Remove an object (``"dense_2"`` or ``"layers/dense_2"``) and its weights."""
        self._edit_object(lambda node, source, _: node.pop(source), object_name)

    def add_object(self, object_path: str, weights: dict) -> None:
        """Add an object at ``object_path`` with ``weights`` (``{"0": kernel, "1": bias}``)."""
        if not isinstance(weights, dict):
            raise ValueError(f"add_object: weights must be a dict of name -> array, got {type(weights).__name__}")
        *parents, leaf = object_path.split("/")
        node = self.weights_dict
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise ValueError(f"add_object: path {'/'.join(parents)!r} not found in the file")
            node = node[part]
        node[leaf] = {str(k): np.asarray(v) for k, v in weights.items()}

    def delete_weight(self, object_name: str, weight_name: str) -> None:
        """Remove one weight (``"0"``) of an object."""
        def delete(node, source, _):
            if weight_name not in node[source]:
                raise ValueError(f"Weight {weight_name!r} not found in object {object_name!r}; it has "
                                 f"{list(node[source])}")
            node[source].pop(weight_name)
        self._edit_object(delete, object_name)

    def add_weights(self, object_name: str, weights: dict) -> None:
        """Add weights (``{"2": array}``) to an existing object."""
        if not isinstance(weights, dict):
            raise ValueError(f"add_weights: weights must be a dict of name -> array, got {type(weights).__name__}")
        self._edit_object(lambda node, source, _: node[source].update(
            {str(k): np.asarray(v) for k, v in weights.items()}), object_name)

    # ----------------------------------------------------------------- writing
    def save(self, filepath) -> None:
        """Write the edited weights as a ``.weights.h5`` file (atomically)."""
        filepath = os.fspath(filepath)
        if not filepath.endswith(".weights.h5"):
            raise ValueError(f"KerasFileEditor.save: expected a '.weights.h5' path, got {filepath!r}")
        tree = {"groups": {}, "datasets": {}}

        def walk(node, path):
            arrays = {k: v for k, v in node.items() if not isinstance(v, dict)}
            if arrays:
                group = f"{path}/vars" if path else "vars"
                tree["groups"][group] = {k: v for k, v in self.object_metadata.get(path, {}).items() if k == "name"}
                for key, value in arrays.items():
                    tree["datasets"][f"{group}/{key}"] = value
            for key, value in node.items():
                if isinstance(value, dict) and value:
                    walk(value, f"{path}/{key}" if path else key)

        walk(self.weights_dict, "")
        write_bytes_atomic(filepath, write_h5(tree))

    def resave_weights(self, filepath) -> None:
        self.save(filepath)


__all__ = ["KerasFileEditor"]
