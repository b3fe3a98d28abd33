"""Keras's ``assets/`` in a ``.keras`` file: the vocabularies of adapted lookup layers.

Keras 3 writes assets for two kinds of layer only, ``StringLookup``/``IntegerLookup`` and
``TextVectorization``, and only when the vocabulary did not come through the constructor (that
one is in the config): ``assets/{object path}/vocabulary.txt``, the vocabulary with its special
tokens (mask, OOV) first, one token per line (``"\\n".join``). A TextVectorization writes its
lookup's file at its own path, and its lookup (the child ``_lookup_layer``) writes the same file
at its own path. Object paths are those of the weights (keras_paths.py).

Loading reads the file of every such layer whose config held no vocabulary, after the weights,
and gives its lines to ``set_vocabulary`` (integers for an integer lookup; a tf-idf lookup with
the IDF weights Keras's ``save_own_variables`` stores in the weights file at
``{object path}/vars/idf_weights``, one per token with the special tokens first; keras_paths.py
reads them). Lines are decoded as strict UTF-8; a line an integer lookup cannot
parse is refused with the layer and the line named.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np

from .keras_paths import variable_groups
from .safetensors_format import UnsafeFileError

VOCABULARY_FILE = "vocabulary.txt"


def _lookup(layer):
    """The lookup layer holding ``layer``'s vocabulary (itself, or TextVectorization's), or None."""
    inner = getattr(layer, "_lookup_layer", None)
    target = inner if inner is not None else layer
    if all(hasattr(target, a) for a in ("get_vocabulary", "set_vocabulary", "_has_input_vocabulary",
                                        "vocabulary_dtype")):
        return target
    return None


def _objects(model) -> list[tuple[str, object]]:
    objects: list = []
    variable_groups(model, objects)
    return objects


def _user_hook(obj, name: str):
    """A ``save_assets``/``load_assets`` method a user's class defines (Keras calls them with the
    object's own folder of ``assets/``), or None."""
    method = getattr(obj, name, None)
    return method if callable(method) else None


def _user_assets(obj, path: str) -> dict[str, bytes]:
    """The files ``obj.save_assets(folder)`` writes, by their path inside ``assets/``."""
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        obj.save_assets(folder)
        for root, _, files in os.walk(folder):
            for name in sorted(files):
                full = os.path.join(root, name)
                inner = os.path.relpath(full, folder).replace(os.sep, "/")
                with open(full, "rb") as fh:
                    out[f"{path}/{inner}" if path else inner] = fh.read()
    return out


def _load_user_assets(obj, path: str, assets: dict[str, bytes], source: str) -> None:
    """``obj.load_assets(folder)`` on a folder holding its files of ``assets/`` (names that would
    leave the folder are refused)."""
    prefix = f"{path}/" if path else ""
    with tempfile.TemporaryDirectory() as folder:
        for name, data in assets.items():
            if not name.startswith(prefix):
                continue
            inner = name[len(prefix):]
            parts = inner.split("/")
            if not inner or inner.startswith("/") or any(p in ("", ".", "..") for p in parts):
                raise UnsafeFileError(f"{source}: the asset name {name!r} leaves its folder; refusing it")
            target = os.path.join(folder, *parts)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(data)
        obj.load_assets(folder)


def model_assets(model) -> dict[str, bytes]:
    """``{path inside assets/: bytes}`` for ``model``, as Keras's ``save_assets`` writes them."""
    assets = {}
    for path, obj in _objects(model):
        if _user_hook(obj, "save_assets") is not None:
            assets.update(_user_assets(obj, path))
            continue
        lookup = _lookup(obj)
        if lookup is None or lookup._has_input_vocabulary:
            continue
        vocabulary = lookup.get_vocabulary(include_special_tokens=True)
        assets[f"{path}/{VOCABULARY_FILE}" if path else VOCABULARY_FILE] = \
            "\n".join(str(token) for token in vocabulary).encode("utf-8")
    return assets


def _tokens(data: bytes, lookup, where: str) -> list:
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise UnsafeFileError(f"{where} is not UTF-8 text ({e})") from None
    while lines and lines[-1] == "":
        lines.pop()
    if lookup.vocabulary_dtype == "string":
        return lines
    try:
        return [int(line) for line in lines]
    except ValueError:
        bad = next(line for line in lines if not line.strip().lstrip("+-").isdigit())
        raise UnsafeFileError(f"{where}: {type(lookup).__name__} {lookup.name!r} has an integer vocabulary, "
                              f"but the file holds the line {bad[:50]!r}") from None


def load_model_assets(model, assets: dict[str, bytes], source: str) -> None:
    """Give each adapted lookup of ``model`` its vocabulary from the archive's ``assets``, and
    each object with a ``load_assets`` method its files."""
    for path, obj in _objects(model):
        if _user_hook(obj, "load_assets") is not None:
            _load_user_assets(obj, path, assets, source)
            continue
        lookup = _lookup(obj)
        name = f"{path}/{VOCABULARY_FILE}" if path else VOCABULARY_FILE
        if lookup is None or lookup._has_input_vocabulary or name not in assets:
            continue
        tokens = _tokens(assets[name], lookup, f"{source}:assets/{name}")
        idf = getattr(lookup, "idf_weights", None)
        if getattr(lookup, "output_mode", None) == "tf_idf":
            # the weights file's idf_weights (read before the assets, as Keras reads them): one per
            # token, special tokens included, then zeros up to max_tokens with pad_to_max_tokens
            if idf is None or np.size(idf) < len(tokens):
                raise UnsafeFileError(f"{source}:assets/{name}: {type(lookup).__name__} {lookup.name!r} is a tf-idf "
                                      f"lookup of {len(tokens)} tokens but the weights file holds "
                                      f"{0 if idf is None else np.size(idf)} IDF weights for it")
            lookup.set_vocabulary(tokens, idf_weights=np.asarray(idf)[:len(tokens)])
        else:
            lookup.set_vocabulary(tokens)
