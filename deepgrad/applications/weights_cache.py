"""Where pretrained files come from: Keras's cache, deepgrad's cache, or a download.

A file Keras has already downloaded (``~/.keras/models/<name>``) is used as it is; so is one
in deepgrad's cache (``$DEEPGRAD_HOME/models/<name>``). Otherwise it is downloaded from
Keras's URL into deepgrad's cache and checked against Keras's hash. Without a network the
error says which file to fetch and where to put it.
"""
from __future__ import annotations

import os

from ..utils.file_utils import DownloadError, deepgrad_home, get_file, validate_file

CACHE_SUBDIR = "models"


def keras_cache_dir() -> str:
    """Keras's cache: ``$KERAS_HOME`` or ``~/.keras``, then ``models``."""
    return os.path.join(os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")),
                        CACHE_SUBDIR)


def deepgrad_cache_dir() -> str:
    return os.path.join(deepgrad_home(), CACHE_SUBDIR)


def cached_file(fname: str, origin: str, file_hash: str | None = None, what: str = "applications") -> str:
    """The local path of ``fname``: from a cache when a good copy is there, else downloaded."""
    candidates = [os.path.join(keras_cache_dir(), fname), os.path.join(deepgrad_cache_dir(), fname)]
    stale = []
    for path in candidates:
        if os.path.isfile(path):
            if file_hash is None or validate_file(path, file_hash):
                return path
            stale.append(path)
    try:
        return get_file(fname, origin, file_hash=file_hash, cache_subdir=CACHE_SUBDIR)
    except DownloadError as e:
        hint = (f" ({', '.join(stale)} exists but its hash is not {file_hash})" if stale else "")
        raise OSError(f"{what}: {fname} is not in Keras's cache or deepgrad's cache{hint} and cannot be "
                      f"downloaded ({e}). Download {origin} on a machine with internet access and put it at "
                      f"{candidates[0]} or {candidates[1]}.") from e
