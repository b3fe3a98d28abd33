"""Keras 3's ``.keras`` archive: a zip of ``config.json``, ``metadata.json``,
``model.weights.h5`` and optional ``assets/``.

- ``config.json``: the model in Keras's serialized form (``{"module", "class_name",
  "config", "registered_name", "build_config", "compile_config"}``);
- ``metadata.json``: ``{"keras_version", "date_saved"}``;
- ``model.weights.h5``: every variable at its object path (keras_paths.py), read by
  h5_format.py as plain numeric arrays only.

Every member is validated against its kind before use: no member outside that set, no
path traversal, sizes and compression ratios checked from the central directory (archive.py),
the JSON members parse and are objects of the expected shape, the weights member is HDF5.
A model is written with this module's ``write_keras_archive``, atomically.
"""
from __future__ import annotations

import datetime
import io
import json
import os
import zipfile

from .. import __version__
from .archive import check_zip, sniff
from .atomic import atomic_write
from .h5_format import is_hdf5, read_h5
from .safetensors_format import UnsafeFileError

KERAS_VERSION = "3.15.1"           # the Keras release whose layout these files follow
CONFIG_MEMBER = "config.json"
METADATA_MEMBER = "metadata.json"
WEIGHTS_MEMBER = "model.weights.h5"
ASSETS_PREFIX = "assets/"
KERAS_MEMBERS = (CONFIG_MEMBER, METADATA_MEMBER, WEIGHTS_MEMBER)
MAX_JSON_BYTES = 64 * 1024 * 1024


def archive_members(filepath) -> list[str]:
    """The member names of a zip file, after the checks of archive.py (nothing decompressed)."""
    source = os.fspath(filepath)
    with open(source, "rb") as f:
        sniff(f.read(8), source)
    try:
        with zipfile.ZipFile(source) as zf:
            check_zip(zf, source)
            return zf.namelist()
    except zipfile.BadZipFile as e:
        raise UnsafeFileError(f"{source} is a truncated or corrupt zip archive ({e})") from None


def is_keras_archive(names) -> bool:
    return WEIGHTS_MEMBER in names or (CONFIG_MEMBER in names and "model.weights.safetensors" not in names)


def _json_object(data: bytes, source: str) -> dict:
    if len(data) > MAX_JSON_BYTES:
        raise UnsafeFileError(f"{source} is {len(data)} bytes, over the {MAX_JSON_BYTES}-byte limit for JSON")
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise UnsafeFileError(f"{source} is not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise UnsafeFileError(f"{source} must hold a JSON object, got {type(value).__name__}")
    return value


def read_keras_archive(filepath, with_arrays: bool = True) -> dict:
    """``{"source", "config", "metadata", "weights", "weights_bytes", "assets"}`` of a ``.keras``
    file; ``config`` is plain JSON, not yet checked against known classes."""
    source = os.fspath(filepath)
    with open(source, "rb") as f:
        sniff(f.read(8), source)
    try:
        with zipfile.ZipFile(source) as zf:
            check_zip(zf, source)
            names = zf.namelist()
            for name in names:
                if name not in KERAS_MEMBERS and not (name.startswith(ASSETS_PREFIX)):
                    raise UnsafeFileError(f"{source} contains an unexpected member {name!r}; a .keras file holds "
                                          f"only {list(KERAS_MEMBERS)} and assets/")
            for name in (CONFIG_MEMBER, WEIGHTS_MEMBER):
                if name not in names:
                    raise UnsafeFileError(f"{source} is missing {name!r}; it is not a complete .keras file")
            config = _json_object(zf.read(CONFIG_MEMBER), f"{source}:{CONFIG_MEMBER}")
            if not isinstance(config.get("class_name"), str) or not isinstance(config.get("config"), dict):
                raise UnsafeFileError(f"{source}:{CONFIG_MEMBER} must be an object with 'class_name' (a string) "
                                      "and 'config' (an object)")
            metadata = {}
            if METADATA_MEMBER in names:
                metadata = _json_object(zf.read(METADATA_MEMBER), f"{source}:{METADATA_MEMBER}")
            weights_bytes = zf.read(WEIGHTS_MEMBER)
            assets = {name[len(ASSETS_PREFIX):]: zf.read(name) for name in names
                      if name.startswith(ASSETS_PREFIX) and not name.endswith("/")}
    except zipfile.BadZipFile as e:
        raise UnsafeFileError(f"{source} is a truncated or corrupt zip archive ({e})") from None
    except (EOFError, zipfile.LargeZipFile, NotImplementedError) as e:
        raise UnsafeFileError(f"{source} cannot be read as a .keras archive ({e})") from None
    member = f"{source}:{WEIGHTS_MEMBER}"
    if not is_hdf5(weights_bytes[:8]):
        raise UnsafeFileError(f"{member} is not an HDF5 file (it does not start with the HDF5 signature)")
    weights = read_h5(weights_bytes, member, with_arrays=with_arrays)
    return {"source": source, "config": config, "metadata": metadata, "weights": weights,
            "weights_bytes": len(weights_bytes), "assets": assets}


def metadata() -> dict:
    return {"keras_version": KERAS_VERSION, "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
            "deepgrad_version": __version__}


def write_keras_archive(filepath, config: dict, weights_h5: bytes, assets: dict | None = None,
                        overwrite: bool = True, saved_metadata: dict | None = None) -> None:
    """A ``.keras`` file from its parts, written atomically (members stored, not compressed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(METADATA_MEMBER, json.dumps(saved_metadata or metadata()))
        zf.writestr(CONFIG_MEMBER, json.dumps(config, allow_nan=False))
        zf.writestr(WEIGHTS_MEMBER, weights_h5)
        for name, data in (assets or {}).items():
            zf.writestr(ASSETS_PREFIX + name, data)
    with atomic_write(filepath, "wb", overwrite=overwrite) as f:
        f.write(buffer.getvalue())
