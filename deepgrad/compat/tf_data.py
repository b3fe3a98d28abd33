"""``tf.data.Dataset`` on NumPy: the input pipelines TensorFlow programs build, element for
element as TensorFlow gives them.

An element is a structure (a tuple, a dict, or one array) of NumPy arrays. Inside, a dataset
is a function that starts a fresh pass over its data and yields *blocks*: structures of arrays
sharing a first dimension, ``k`` elements at once. Slicing, shuffling, batching, repeating and
filtering work on whole blocks with NumPy indexing; only ``map``, ``filter``'s predicate,
``padded_batch`` and ``from_generator`` go through Python once per element, as TensorFlow
calls a Python function once per element. ``fit``/``evaluate``/``predict`` read a dataset
through ``as_numpy_iterator`` (each element a batch ``x``, ``(x, y)`` or ``(x, y, sample_weight)``).
"""
from __future__ import annotations

import glob
import gzip
import itertools
import os
import threading
import zlib
from types import SimpleNamespace

import numpy as np

from .. import backend
from ..autograd import Tensor
from ..tensor_spec import TensorSpec
from .tf_record import compression_kind, file_paths, read_records, records_block
from .tf_tensor_array import InvalidArgumentError

AUTOTUNE = -1
INFINITE_CARDINALITY = -1
UNKNOWN_CARDINALITY = -2
# how many ignore_errors() passes are reading their input on this thread: while one is, an element
# whose map or filter function raises is dropped instead of ending the pass
_ignoring = threading.local()


def _errors_ignored() -> bool:
    return getattr(_ignoring, "depth", 0) > 0


# ----------------------------------------------------------------- structures of arrays
def _map(fn, s):
    if isinstance(s, dict):
        return {k: _map(fn, v) for k, v in s.items()}
    if isinstance(s, tuple):
        return tuple(_map(fn, v) for v in s)
    return fn(s)


def _leaves(s) -> list:
    if isinstance(s, dict):
        return [a for v in s.values() for a in _leaves(v)]
    if isinstance(s, tuple):
        return [a for v in s for a in _leaves(v)]
    return [s]


def _map_many(fn, structures):
    """``fn`` of the matching leaves of several structures of the same shape."""
    first = structures[0]
    if isinstance(first, dict):
        return {k: _map_many(fn, [s[k] for s in structures]) for k in first}
    if isinstance(first, tuple):
        return tuple(_map_many(fn, [s[i] for s in structures]) for i in range(len(first)))
    return fn(structures)


def _array(value, dtype=None) -> np.ndarray:
    """One component as an ndarray; Python floats and ints become float32 and int32, as in TF."""
    if isinstance(value, Tensor):
        value = value.data
    if dtype is not None:
        return np.asarray(value, dtype=np.dtype(dtype))
    a = np.asarray(value)
    if isinstance(value, (int, float, list)) and not isinstance(value, bool):
        a = a.astype({"f": np.float32, "i": np.int32}.get(a.dtype.kind, a.dtype), copy=False)
    if a.dtype.kind == "O":  # a pandas column of text: TF makes it a string tensor
        items = a.reshape(-1)
        if a.size and all(isinstance(v, str) for v in items):
            return a.astype(str)
        if a.size and all(isinstance(v, (str, bytes)) for v in items):  # tf.string values as NumPy gives them
            try:
                return np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in items],
                                dtype=str).reshape(a.shape)
            except UnicodeDecodeError:  # binary content (a file's raw bytes) stays bytes
                return a.astype(bytes)
        raise TypeError(f"tf.data: cannot make a tensor of {type(value).__name__} values (dtype object)")
    return a


def _structure(value):
    """A user's value as an element: tuples and dicts are structures, anything else (a list too,
    as TF reads it) one array."""
    if isinstance(value, dict):
        return {k: _structure(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_structure(v) for v in value)
    return _array(value)


def _rows(block, start, stop):
    return _map(lambda a: a[start:stop], block)


def _size(block) -> int:
    return len(_leaves(block)[0])


def _concat(pieces):
    if len(pieces) == 1:
        return pieces[0]
    try:
        return _map_many(np.concatenate, pieces)
    except ValueError as e:
        raise ValueError(f"Dataset.batch: elements of different shapes cannot be stacked into one batch ({e}); "
                         "use padded_batch to pad them to a common shape") from None


class TextDType:
    """The dtype of a text component as TF reports it: equal to ``"string"`` (and to ``tf.string``,
    NumPy's ``str_``), and otherwise the NumPy dtype it stands for (attributes, hashing, and
    ``np.dtype(...)`` through its ``dtype``)."""
    __slots__ = ("dtype",)
    _is_numeric = False  # read from the dtype's class by NumPy's testing functions

    def __init__(self, dtype: np.dtype):
        self.dtype = dtype

    def __eq__(self, other):
        if isinstance(other, TextDType):
            return self.dtype == other.dtype
        if (isinstance(other, str) and other == "string") or other in (np.str_, np.bytes_, str, bytes):
            return True  # tf.string is NumPy's str_ here, whatever the length of the strings
        return self.dtype == other

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self.dtype)

    def __getattr__(self, name):
        return getattr(self.dtype, name)

    def __repr__(self):
        return "tf.string"


class StringArray(np.ndarray):
    """A component of strings as TensorFlow hands it over: a NumPy array (text layers and
    ``tf.strings`` read it as one) whose ``numpy()`` gives the UTF-8 bytes, as a ``tf.string``
    tensor's ``numpy()`` does, and whose ``dtype`` equals ``"string"``, as TF's does."""

    @property
    def dtype(self):
        return TextDType(np.ndarray.dtype.__get__(self))

    def __getitem__(self, index):
        # one string taken out is TF's scalar string tensor: text with a numpy() of its bytes
        out = np.ndarray.__getitem__(self, index)
        return TextScalar(out) if type(out) is np.str_ else out

    def __iter__(self):
        if self.ndim == 1:
            return (self[i] for i in range(len(self)))
        return np.ndarray.__iter__(self)

    def numpy(self):
        raw = np.asarray(self)
        if raw.dtype == object:  # bytes as they are (a record, an image file), text as UTF-8
            encoded = np.vectorize(lambda v: v if isinstance(v, bytes) else str(v).encode("utf-8"),
                                   otypes=[object])(raw)
        else:
            encoded = np.char.encode(np.asarray(raw, dtype=str), "utf-8")
        return encoded.item() if encoded.ndim == 0 else encoded.astype(object)


class TextScalar(np.str_):
    """One string of a ``StringArray``: NumPy's ``str_`` (so text code reads it as a string) whose
    ``numpy()`` gives its UTF-8 bytes, as a scalar ``tf.string`` tensor's does."""

    def numpy(self) -> bytes:
        return str(self).encode("utf-8")


def _as_bytes(a):
    if isinstance(a, np.str_):  # one string of a block's row
        return str(a).encode("utf-8")
    if isinstance(a, np.bytes_):
        return bytes(a)
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "US":
        return a
    encoded = np.char.encode(a, "utf-8") if a.dtype.kind == "U" else a
    return encoded.item() if encoded.ndim == 0 else encoded.astype(object)


def _tensors(element):
    """An element as the user's function sees it: numeric components as deepgrad Tensors,
    strings as a ``StringArray``."""
    def wrap(a):
        if isinstance(a, (bytes, str)):  # one item of an object block (a TFRecord's bytes): a 0-d string
            item = np.empty((), dtype=object)
            item[()] = a
            return item.view(StringArray)
        if a.dtype.kind in "fiub":
            return Tensor(a, dtype=a.dtype)
        # one string (an element's scalar) too: a 0-d array, which has TF's ``numpy()`` and ``dtype``
        return np.asarray(a).view(StringArray) if a.dtype.kind in "OUS" else a
    return _map(wrap, element)


def _call(fn, element):
    """TF's calling convention: a tuple element is spread over the arguments."""
    args = _tensors(element)
    return fn(*args) if isinstance(args, tuple) else fn(args)


def _combine_cardinalities(values, op):
    if UNKNOWN_CARDINALITY in values:
        return UNKNOWN_CARDINALITY
    return op(values)


# ----------------------------------------------------------------- the dataset
class Dataset:
    """A sequence of elements, read afresh on every pass (every epoch, every ``for`` loop)."""

    def __init__(self, blocks, cardinality: int, spec=None):
        self._blocks = blocks           # () -> an iterator of blocks
        self._cardinality = int(cardinality)
        self._spec = spec               # the element_spec when known without reading the data
        self._batch_varies = False      # batched without drop_remainder: the batch dimension is None

    def _derive(self, blocks, cardinality, same_elements=False) -> "Dataset":
        """A dataset read through ``blocks``; ``same_elements`` when its elements are shaped as these."""
        out = Dataset(blocks, cardinality)
        if same_elements:
            out._spec, out._batch_varies = self._spec, self._batch_varies
        return out

    # ------------------------------------------------------------- sources
    @staticmethod
    def from_tensor_slices(tensors, name=None) -> "Dataset":
        """One element per row of the first dimension, the structure kept (a list is one array)."""
        block = _structure(tensors)
        leaves = _leaves(block)
        if any(a.ndim == 0 for a in leaves):
            raise ValueError("Dataset.from_tensor_slices: every component needs at least one dimension to slice, "
                             f"got shapes {[a.shape for a in leaves]}")
        sizes = {a.shape[0] for a in leaves}
        if len(sizes) != 1:
            raise ValueError("Dataset.from_tensor_slices: all components must have the same size in their first "
                             f"dimension, got shapes {[a.shape for a in leaves]}")
        n = sizes.pop()
        return Dataset(lambda: iter([block] if n else []), n)

    @staticmethod
    def list_files(file_pattern, shuffle=None, seed=None, name=None) -> "Dataset":
        """The paths of the files that match ``file_pattern`` (a glob, or a list of them), one string
        each: sorted when ``shuffle=False``, else (TF's default) in a new random order each pass,
        repeatable with ``seed``. No match is an error, as in TF."""
        patterns = [file_pattern] if isinstance(file_pattern, (str, bytes, os.PathLike)) else list(
            np.asarray(file_pattern.numpy() if hasattr(file_pattern, "numpy") else file_pattern).reshape(-1))
        patterns = [p.decode("utf-8") if isinstance(p, bytes) else os.fspath(p) for p in patterns]
        paths = sorted({path for pattern in patterns for path in glob.glob(pattern)})
        if not paths:
            raise InvalidArgumentError(None, None, "Expected 'tf.Tensor(False, shape=(), dtype=bool)' to be true. "
                                                   f"Summarized data: b'No files matched pattern: "
                                                   f"{', '.join(patterns)}'")
        files = Dataset.from_tensor_slices(np.array(paths, dtype=str))
        return files if shuffle is False else files.shuffle(len(paths), seed=seed)

    @staticmethod
    def from_tensors(tensors, name=None) -> "Dataset":
        """One element: the whole value."""
        block = _map(lambda a: a[None], _structure(tensors))
        return Dataset(lambda: iter([block]), 1)

    @staticmethod
    def range(*args, dtype=np.int64, name=None) -> "Dataset":
        """``range(stop)``, ``range(start, stop)`` or ``range(start, stop, step)`` as int64 scalars."""
        values = np.arange(*args, dtype=np.dtype(dtype))
        return Dataset(lambda: iter([values] if len(values) else []), len(values))

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None, output_signature=None,
                       name=None) -> "Dataset":
        """The elements a fresh call ``generator(*args)`` yields, checked against ``output_signature``."""
        if not callable(generator):
            raise TypeError("Dataset.from_generator: `generator` must be a Python callable that returns an "
                            f"iterator, got {type(generator).__name__}")
        if output_signature is None:
            if output_types is None:
                raise TypeError("Dataset.from_generator: pass output_signature (or output_types)")
            shapes = output_shapes if output_shapes is not None else _map(lambda t: None, output_types)
            output_signature = _map_many(lambda pair: TensorSpec(pair[1], pair[0]), [output_types, shapes]) \
                if isinstance(output_types, (tuple, dict)) else TensorSpec(shapes, output_types)
        signature = output_signature

        def element(value):
            value = tuple(value) if isinstance(signature, tuple) and isinstance(value, list) else value

            def conform(pair):
                spec, component = pair
                a = _array(component, spec.dtype)
                if not spec.is_compatible_with(a):
                    raise ValueError(f"Dataset.from_generator: the generator yielded an element of shape {a.shape} "
                                     f"where the output_signature expects {spec.shape}")
                return a[None]
            try:
                return _map_many(conform, [signature, value])
            except (KeyError, IndexError, TypeError) as e:
                raise TypeError("Dataset.from_generator: the generator's element does not match the structure "
                                f"of output_signature {signature!r} ({e})") from None

        def blocks():
            for value in generator(*(args or ())):
                yield element(value)
        return Dataset(blocks, UNKNOWN_CARDINALITY, signature)

    @staticmethod
    def zip(*args, datasets=None, name=None) -> "Dataset":
        """Elements of several datasets side by side, in their structure (a tuple or a dict)."""
        if datasets is None:
            datasets = args[0] if len(args) == 1 and isinstance(args[0], (tuple, dict)) else args
        structure = _map(_as_dataset, datasets) if isinstance(datasets, (tuple, dict)) else tuple(
            _as_dataset(d) for d in datasets)
        members = list(structure.values()) if isinstance(structure, dict) else list(structure)
        if not members or not all(isinstance(d, Dataset) for d in members):
            raise TypeError("Dataset.zip: expected datasets (a tuple or dict of them)")
        keys = list(structure) if isinstance(structure, dict) else None

        def blocks():
            iterators = [d._blocks() for d in members]
            pending = [None] * len(members)
            while True:
                for i, it in enumerate(iterators):
                    while pending[i] is None or _size(pending[i]) == 0:
                        pending[i] = next(it, None)
                        if pending[i] is None:
                            return
                k = min(_size(p) for p in pending)
                parts = [_rows(p, 0, k) for p in pending]
                pending = [_rows(p, k, _size(p)) for p in pending]
                yield dict(zip(keys, parts)) if keys else tuple(parts)
        finite = [d._cardinality for d in members if d._cardinality >= 0]
        cards = [d._cardinality for d in members]
        card = min(finite) if finite else _combine_cardinalities(cards, lambda v: INFINITE_CARDINALITY)
        return Dataset(blocks, card)

    # ------------------------------------------------------------- transformations
    def concatenate(self, dataset, name=None) -> "Dataset":
        dataset = _as_dataset(dataset)

        def blocks():
            yield from self._blocks()
            yield from dataset._blocks()
        cards = [self._cardinality, dataset._cardinality]
        card = _combine_cardinalities(cards, lambda v: INFINITE_CARDINALITY if -1 in v else sum(v))
        return self._derive(blocks, card)

    def map(self, map_func, num_parallel_calls=None, deterministic=None, synchronous=None,
            use_unbounded_threadpool=False, name=None) -> "Dataset":
        """``map_func`` of each element (a tuple element spread over its arguments)."""
        def blocks():
            for block in self._blocks():
                for i in range(_size(block)):
                    try:
                        out = _map(lambda a: a[None], _structure(_call(map_func, _map(lambda a: a[i], block))))
                    except Exception:
                        if _errors_ignored():
                            continue
                        raise
                    yield out
        return self._derive(blocks, self._cardinality)

    def filter(self, predicate, name=None) -> "Dataset":
        """The elements for which ``predicate`` is true (a scalar bool)."""
        def keep(element):
            value = np.asarray(_array(_call(predicate, element)))
            if value.shape != () or value.dtype != np.bool_:
                raise ValueError(f"Dataset.filter: the predicate must return a scalar bool, got dtype "
                                 f"{value.dtype} and shape {value.shape}")
            return bool(value)

        def blocks():
            def kept(element) -> bool:
                try:
                    return keep(element)
                except Exception:
                    if _errors_ignored():
                        return False
                    raise

            for block in self._blocks():
                mask = np.array([kept(_map(lambda a: a[i], block)) for i in range(_size(block))], dtype=bool)
                if mask.any():
                    yield _map(lambda a: a[mask], block)
        return self._derive(blocks, UNKNOWN_CARDINALITY, same_elements=True)

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None, deterministic=None,
              name=None) -> "Dataset":
        """Consecutive elements stacked ``batch_size`` at a time (the last batch may be smaller)."""
        batch_size = _positive(batch_size, "batch", "batch_size")

        def blocks():
            pieces, count = [], 0
            for block in self._blocks():
                start, k = 0, _size(block)
                while start < k:
                    stop = min(k, start + batch_size - count)
                    pieces.append(_rows(block, start, stop))
                    count += stop - start
                    start = stop
                    if count == batch_size:
                        yield _map(lambda a: a[None], _concat(pieces))
                        pieces, count = [], 0
            if count and not drop_remainder:
                yield _map(lambda a: a[None], _concat(pieces))
        return self._batched(blocks, batch_size, drop_remainder)

    def _batched(self, blocks, batch_size, drop_remainder) -> "Dataset":
        out = self._derive(blocks, self._batched_cardinality(batch_size, drop_remainder))
        out._batch_varies = not drop_remainder
        return out

    def _batched_cardinality(self, batch_size, drop_remainder):
        n = self._cardinality
        if n < 0:
            return n
        return n // batch_size if drop_remainder else -(-n // batch_size)

    def padded_batch(self, batch_size, padded_shapes=None, padding_values=None, drop_remainder=False,
                     name=None) -> "Dataset":
        """Batches of elements padded at the end of each dimension to the longest in the batch,
        or to ``padded_shapes`` (``None`` or -1 for "the longest"), with ``padding_values`` (0)."""
        batch_size = _positive(batch_size, "padded_batch", "batch_size")

        def pad(elements):
            def stack(parts):
                arrays, shape, value = parts[:-2], parts[-2], parts[-1]
                longest = np.max([a.shape for a in arrays], axis=0) if arrays[0].ndim else ()
                if shape is not None:
                    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)  # 5 means (5,), as TF reads it
                    if len(shape) != arrays[0].ndim:
                        raise ValueError(f"Dataset.padded_batch: padded_shapes {tuple(shape)} does not match "
                                         f"the rank of the elements' shape {arrays[0].shape}")
                    for d, (want, got) in enumerate(zip(shape, longest)):
                        if want is not None and want != -1 and want < got:
                            raise ValueError(f"Dataset.padded_batch: an element of size {got} in dimension {d} "
                                             f"does not fit padded_shapes {tuple(shape)}")
                    longest = [got if want is None or want == -1 else want for want, got in zip(shape, longest)]
                fill = value if value is not None else ("" if arrays[0].dtype.kind in "US" else 0)
                out = np.full((len(arrays), *longest), fill, dtype=arrays[0].dtype)
                for i, a in enumerate(arrays):  # each element into its corner of the padded batch
                    out[(i, *(slice(0, n) for n in a.shape))] = a
                return out[None]
            shapes = padded_shapes if padded_shapes is not None else _map(lambda a: None, elements[0])
            values = padding_values if padding_values is not None else _map(lambda a: None, elements[0])
            if not isinstance(values, (tuple, dict)) and isinstance(elements[0], (tuple, dict)):
                values = _map(lambda a: padding_values, elements[0])
            return _map_many(stack, [*elements, shapes, values])

        def blocks():
            elements = []
            for block in self._blocks():
                for i in range(_size(block)):
                    elements.append(_map(lambda a: a[i], block))
                    if len(elements) == batch_size:
                        yield pad(elements)
                        elements = []
            if elements and not drop_remainder:
                yield pad(elements)
        return self._batched(blocks, batch_size, drop_remainder)

    def unbatch(self, name=None) -> "Dataset":
        """The rows of each element's batch as elements."""
        def blocks():
            for block in self._blocks():
                for i in range(_size(block)):
                    yield _map(lambda a: a[i], block)
        return self._derive(blocks, UNKNOWN_CARDINALITY)

    def rebatch(self, batch_size, drop_remainder=False, name=None) -> "Dataset":
        return self.unbatch().batch(batch_size, drop_remainder)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True, name=None) -> "Dataset":
        """TF's buffer shuffle: each element out is drawn uniformly from a buffer of the next
        ``buffer_size`` elements; a buffer as large as the data gives a uniform permutation."""
        buffer_size = _positive(buffer_size, "shuffle", "buffer_size")
        if reshuffle_each_iteration:  # one stream of draws across passes: a new order each pass
            shared = None if seed is None else np.random.default_rng(seed)
            generator = backend.rng if seed is None else (lambda: shared)
        else:  # the same order on every pass
            fixed = seed if seed is not None else int(backend.rng().integers(2 ** 63))
            generator = lambda: np.random.default_rng(fixed)  # noqa: E731

        def blocks():
            gen = generator()
            buffer = None
            slots = None  # the buffer as a list of one-element blocks, once elements of other shapes came
            for block in _rechunk(self._blocks(), buffer_size):
                if slots is None and buffer is not None and _trailing_shapes(block) != _trailing_shapes(buffer):
                    # elements of another shape (a short last batch, a padded batch): they cannot share
                    # one array with the buffer, so the same draws go on element by element
                    slots = [_rows(buffer, i, i + 1) for i in range(_size(buffer))]
                if slots is not None:
                    for i in range(_size(block)):
                        element = _rows(block, i, i + 1)
                        if len(slots) < buffer_size:
                            slots.append(element)
                            continue
                        r = int(gen.integers(0, buffer_size))
                        yield slots[r]
                        slots[r] = element
                    continue
                if buffer is None or _size(buffer) < buffer_size:
                    take = buffer_size - (0 if buffer is None else _size(buffer))
                    head = _rows(block, 0, take)
                    buffer = head if buffer is None else _concat([buffer, head])
                    block = _rows(block, take, _size(block))
                if _size(block):
                    out, buffer = _shuffle_through(buffer, block, gen)
                    yield out
            if slots is not None:
                for i in gen.permutation(len(slots)):
                    yield slots[i]
            elif buffer is not None and _size(buffer):
                order = gen.permutation(_size(buffer))
                yield _map(lambda a: a[order], buffer)
        return self._derive(blocks, self._cardinality, same_elements=True)

    def repeat(self, count=None, name=None) -> "Dataset":
        """The data ``count`` times over (for ever with None or -1)."""
        endless = count is None or count < 0

        def blocks():
            done = 0
            while endless or done < count:
                empty = True
                for block in self._blocks():
                    empty = False
                    yield block
                if empty:
                    return
                done += 1
        n = self._cardinality
        if n == 0 or (not endless and count == 0):
            card = 0
        elif endless:
            card = INFINITE_CARDINALITY if n != UNKNOWN_CARDINALITY else UNKNOWN_CARDINALITY
        else:
            card = n * count if n >= 0 else n
        return self._derive(blocks, card, same_elements=True)

    def take(self, count, name=None) -> "Dataset":
        """The first ``count`` elements (all with -1)."""
        if count < 0:
            return self._derive(self._blocks, self._cardinality, same_elements=True)

        def blocks():
            left = count
            if left == 0:
                return
            for block in self._blocks():
                k = _size(block)
                yield block if k <= left else _rows(block, 0, left)
                left -= min(k, left)
                if left == 0:
                    return
        n = self._cardinality
        card = count if n == INFINITE_CARDINALITY else (min(n, count) if n >= 0 else n)
        return self._derive(blocks, card, same_elements=True)

    def skip(self, count, name=None) -> "Dataset":
        """All but the first ``count`` elements (none with -1)."""
        def blocks():
            if count < 0:
                return
            left = count
            for block in self._blocks():
                k = _size(block)
                if left >= k:
                    left -= k
                    continue
                yield block if left == 0 else _rows(block, left, k)
                left = 0
        n = self._cardinality
        card = 0 if count < 0 else (max(n - count, 0) if n >= 0 else n)
        return self._derive(blocks, card, same_elements=True)

    def shard(self, num_shards, index, name=None) -> "Dataset":
        """Every ``num_shards``-th element, starting at ``index``."""
        def blocks():
            offset = 0
            for block in self._blocks():
                k = _size(block)
                keep = (offset + np.arange(k)) % num_shards == index
                offset += k
                if keep.any():
                    yield _map(lambda a: a[keep], block)
        n = self._cardinality
        card = n if n < 0 else (n - index + num_shards - 1) // num_shards
        return self._derive(blocks, card, same_elements=True)

    def enumerate(self, start=0, name=None) -> "Dataset":
        """``(index, element)`` pairs, the index an int64 counting from ``start``."""
        def blocks():
            offset = start
            for block in self._blocks():
                k = _size(block)
                yield np.arange(offset, offset + k, dtype=np.int64), block
                offset += k
        return self._derive(blocks, self._cardinality)

    def cache(self, filename="", name=None) -> "Dataset":
        """Keeps the elements of the first complete pass in memory and replays them after."""
        kept = []

        def blocks():
            if kept:
                yield from kept[0]
                return
            seen = []
            for block in self._blocks():
                seen.append(block)
                yield block
            kept.append(seen)  # only a pass that ran to the end is kept, as TF does
        return self._derive(blocks, self._cardinality, same_elements=True)

    def prefetch(self, buffer_size, name=None) -> "Dataset":
        """The same elements (reading ahead has nothing to overlap with here)."""
        return self._derive(self._blocks, self._cardinality, same_elements=True)

    def ignore_errors(self, log_warning=False, name=None) -> "Dataset":
        """The elements of this dataset without those whose ``map`` or ``filter`` function raised,
        as TF drops elements that fail. (An error outside those functions still ends the pass.)"""
        def blocks():
            upstream = self._blocks()
            while True:
                _ignoring.depth = getattr(_ignoring, "depth", 0) + 1
                try:
                    block = next(upstream)
                except StopIteration:
                    return
                finally:
                    _ignoring.depth -= 1
                yield block
        return self._derive(blocks, UNKNOWN_CARDINALITY, same_elements=True)

    def apply(self, transformation_func) -> "Dataset":
        return transformation_func(self)

    def with_options(self, options, name=None) -> "Dataset":
        """The same elements; ``options`` (a ``tf.data.Options``) are kept in ``options()``. Their
        settings tune TF's runtime (threads, determinism, sharding) and change no element here."""
        if not isinstance(options, Options):
            raise TypeError(f"Dataset.with_options: options must be a tf.data.Options, got {type(options).__name__}")
        out = self._derive(self._blocks, self._cardinality, same_elements=True)
        out._options = options
        return out

    def options(self) -> "Options":
        return getattr(self, "_options", None) or Options()

    def rejection_resample(self, class_func, target_dist, initial_dist=None, seed=None,
                           name=None) -> "Dataset":
        """Elements resampled so that their classes (``class_func(element)``, an int scalar) follow
        ``target_dist``, as ``(class, element)`` pairs, TF's scheme: with ``r = target /
        initial`` and ``m = min(r)``, each output comes with probability ``m`` from a pass over
        the data as it is, else from a pass that keeps an element of class ``c`` with
        probability ``(r_c - m) / (max(r) - m)``; the two mixed give ``target`` exactly. Without
        ``initial_dist`` the class shares are estimated as the data goes (counts over blocks of
        32 elements, each block counted before its elements are used). Stops when the pass
        drawn from runs out."""
        target = _distribution(target_dist, "target_dist")
        known = None if initial_dist is None else _distribution(initial_dist, "initial_dist")
        if known is not None and known.shape != target.shape:
            raise ValueError(f"Dataset.rejection_resample: initial_dist has {known.size} classes and "
                             f"target_dist {target.size}")
        generator = backend.rng if seed is None else (lambda shared=np.random.default_rng(seed): shared)
        data = self

        def classes_and_elements():
            for element in data._numpy_elements():
                value = np.asarray(_array(_call(class_func, element)))
                if value.shape != () or value.dtype.kind not in "iu":
                    raise ValueError("Dataset.rejection_resample: class_func must return an int scalar, got "
                                     f"dtype {value.dtype} and shape {value.shape}")
                if not 0 <= int(value) < target.size:
                    raise ValueError(f"Dataset.rejection_resample: class {int(value)} is outside the "
                                     f"{target.size} classes of target_dist")
                yield value, element

        def estimates():
            """The class shares, per element, as TF estimates them when initial_dist is not given."""
            if known is not None:
                while True:
                    yield known
            counts = np.zeros(target.size, np.int64)
            chunk = []
            for value, _ in classes_and_elements():
                chunk.append(int(value))
                if len(chunk) == 32:
                    counts += np.bincount(chunk, minlength=target.size)
                    yield from [counts / counts.sum()] * 32
                    chunk = []
            if chunk:
                counts += np.bincount(chunk, minlength=target.size)
                yield from [counts / counts.sum()] * len(chunk)

        def pair(value, element):
            return _map(lambda a: a[None], (value, element))

        def blocks():
            gen = generator()

            def accepted():
                for dist, (value, element) in zip(estimates(), classes_and_elements()):
                    keep, _ = _acceptance(dist, target)
                    if gen.random() < keep[int(value)]:
                        yield value, element
            original, kept = classes_and_elements(), accepted()
            if known is not None:
                m = _acceptance(known, target)[1]
                if m == 1:
                    for value, element in original:
                        yield pair(value, element)
                    return
                if m == 0:
                    for value, element in kept:
                        yield pair(value, element)
                    return
            for dist in estimates():
                m = _acceptance(dist, target)[1]
                chosen = next(original if gen.random() < m else kept, None)
                if chosen is None:
                    return
                yield pair(*chosen)
        return self._derive(blocks, UNKNOWN_CARDINALITY)

    # ------------------------------------------------------------- reading
    def _numpy_elements(self):
        """The elements as structures of NumPy arrays, text as arrays of ``str`` (what ``fit``
        and the text layers read)."""
        for block in self._blocks():
            for i in range(_size(block)):
                yield _map(lambda a: a[i], block)

    def as_numpy_iterator(self):
        """The elements as structures of NumPy arrays; text components as TF gives them, UTF-8
        ``bytes`` (an object array of them for a component with dimensions)."""
        for element in self._numpy_elements():
            yield _map(_as_bytes, element)

    def __iter__(self):
        """The elements with numeric components as Tensors (TF yields eager tensors)."""
        for element in self._numpy_elements():
            yield _tensors(element)

    def cardinality(self) -> Tensor:
        """The number of elements, INFINITE_CARDINALITY (-1) or UNKNOWN_CARDINALITY (-2), as a scalar int64."""
        return Tensor(np.int64(self._cardinality), dtype=np.int64)

    def __len__(self) -> int:
        if self._cardinality == INFINITE_CARDINALITY:
            raise TypeError("The dataset is infinite.")
        if self._cardinality == UNKNOWN_CARDINALITY:
            raise TypeError("The dataset length is unknown.")
        return self._cardinality

    def __bool__(self) -> bool:
        return True

    @property
    def element_spec(self):
        """The structure of TensorSpecs of one element (read from the first element when needed)."""
        if self._spec is not None:
            return self._spec
        first = next(iter(self._numpy_elements()), None)
        if first is None:
            raise ValueError("Dataset.element_spec: the dataset is empty, so its element shape is not known here")
        first = _map(np.asarray, first)   # a record's bytes come as a Python bytes object
        if self._batch_varies:
            return _map(lambda a: TensorSpec((None, *a.shape[1:]), a.dtype), first)
        return _map(lambda a: TensorSpec(a.shape, a.dtype), first)

    def __repr__(self):
        return f"<Dataset cardinality={self._cardinality}>"


def _distribution(values, name) -> np.ndarray:
    """A 1-D vector of class probabilities (non-negative, summing to 1), as float64."""
    dist = np.asarray(_array(values), dtype=np.float64)
    if dist.ndim != 1 or dist.size == 0:
        raise ValueError(f"Dataset.rejection_resample: {name} must be a 1-D vector of probabilities, got shape "
                         f"{dist.shape}")
    if (dist < 0).any() or not np.isclose(dist.sum(), 1.0, atol=1e-5):
        raise ValueError(f"Dataset.rejection_resample: {name} must be non-negative and sum to 1, got "
                         f"{dist.tolist()}")
    return dist


def _acceptance(initial, target):
    """(the per-class keep probabilities of the filtered pass, the share of the plain pass)."""
    ratio = target / (initial + np.finfo(np.float64).tiny)
    low, high = ratio.min(), ratio.max()
    keep = np.zeros_like(ratio) if high == low else (ratio - low) / (high - low)
    return keep, min(float(low), 1.0)


def _as_dataset(value):
    """A dataset as ``zip``/``concatenate`` take it: a Dataset, or the batches of a
    ``keras.utils.PyDataset`` (what ``timeseries_dataset_from_array`` and the directory loaders
    give, a ``tf.data.Dataset`` in Keras)."""
    if isinstance(value, Dataset):
        return value
    if all(hasattr(value, name) for name in ("__getitem__", "__len__", "on_epoch_end")):
        return from_batches(value)
    return value


def from_batches(sequence) -> Dataset:
    """A ``Dataset`` of the batches ``sequence[0], sequence[1], ...`` (a ``keras.utils.PyDataset``
    such as the directory loaders give), read afresh on every pass; ``sequence.on_epoch_end()``
    runs after each full pass, so a shuffling loader reshuffles as it does in ``fit``."""
    def blocks():
        for i in range(len(sequence)):
            yield _map(lambda a: a[None], _structure(sequence[i]))
        sequence.on_epoch_end()
    out = Dataset(blocks, len(sequence))
    out._batch_varies = getattr(sequence, "batch_size", 1) is not None
    return out


def _positive(value, op, name) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"Dataset.{op}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _trailing_shapes(block) -> list:
    """The shape of one element of each component of ``block``."""
    return [np.shape(a)[1:] for a in _leaves(block)]


def _rechunk(blocks, size):
    """Blocks of at least ``size`` elements (the last may be smaller, and so may one that a block
    of elements of another shape follows), so the shuffle's work per element stays constant when
    the elements come one at a time."""
    pieces, count = [], 0
    for block in blocks:
        if pieces and _trailing_shapes(block) != _trailing_shapes(pieces[0]):
            yield _concat(pieces)
            pieces, count = [], 0
        pieces.append(block)
        count += _size(block)
        if count >= size:
            yield _concat(pieces)
            pieces, count = [], 0
    if count:
        yield _concat(pieces)


def _shuffle_through(buffer, block, gen):
    """Passes ``block`` through a full shuffle buffer: element j draws slot r_j, leaves what the
    slot holds and takes its place. Vectorised: what slot r_j holds is the last earlier element
    that drew r_j, or the buffer's own content when none did."""
    slots, k = _size(buffer), _size(block)
    r = gen.integers(0, slots, size=k)
    order = np.argsort(r, kind="stable")          # grouped by slot, in arrival order within a slot
    sorted_r = r[order]
    same_as_previous = np.r_[False, sorted_r[1:] == sorted_r[:-1]]
    source = np.empty(k, dtype=np.int64)          # index into the pool [buffer; block]
    source[order] = np.where(same_as_previous, slots + np.r_[0, order[:-1]], sorted_r)
    last_of_slot = np.r_[sorted_r[1:] != sorted_r[:-1], True]
    keep = np.arange(slots)
    keep[sorted_r[last_of_slot]] = slots + order[last_of_slot]
    pool = _concat([buffer, block])
    return _map(lambda a: a[source], pool), _map(lambda a: a[keep], pool)


def TextLineDataset(filenames, compression_type=None, buffer_size=None, num_parallel_reads=None,
                    name=None) -> Dataset:
    """The lines of the text files ``filenames`` (one path or several), file after file, each a
    string without its line ending ("\\n", or "\\r\\n"), as TF's ``TextLineDataset`` reads them.
    ``compression_type`` is None, "", "GZIP" or "ZLIB"."""
    paths = [filenames] if isinstance(filenames, (str, bytes, os.PathLike)) else list(np.asarray(filenames).reshape(-1))
    paths = [p.decode("utf-8") if isinstance(p, bytes) else os.fspath(p) for p in paths]
    kind = (compression_type or "").upper()
    if kind not in ("", "GZIP", "ZLIB"):
        raise ValueError(f"TextLineDataset: compression_type must be None, '', 'GZIP' or 'ZLIB', "
                         f"got {compression_type!r}")
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"TextLineDataset: no file {path!r}")

    def read(path) -> bytes:
        with open(path, "rb") as f:
            raw = f.read()
        if kind == "GZIP":
            return gzip.decompress(raw)
        return zlib.decompress(raw) if kind == "ZLIB" else raw

    def blocks():
        for path in paths:
            lines = read(path).split(b"\n")
            if lines and lines[-1] == b"":  # a final line ending opens no new line
                lines.pop()
            if lines:
                text = [line[:-1] if line.endswith(b"\r") else line for line in lines]
                yield np.array([t.decode("utf-8") for t in text], dtype=str)
    return Dataset(blocks, UNKNOWN_CARDINALITY)


def TFRecordDataset(filenames, compression_type=None, buffer_size=None, num_parallel_reads=None,
                    name=None) -> Dataset:
    """The records of the TFRecord files ``filenames`` (a path, a list of them, or a dataset of
    them), file after file, each a scalar string holding the record's bytes (parse it with
    ``tf.io.parse_single_example``). ``num_parallel_reads`` reads the files in TF's interleaved
    order: one record from each file in turn."""
    kind = compression_kind(compression_type, "TFRecordDataset")
    lazy = isinstance(filenames, Dataset)
    paths = None if lazy else file_paths(filenames, "TFRecordDataset")
    interleave = num_parallel_reads is not None and num_parallel_reads != 1

    def blocks():
        names = file_paths(filenames, "TFRecordDataset") if lazy else paths
        if not interleave:
            for path in names:
                records = list(read_records(path, kind))
                if records:
                    yield records_block(records)
            return
        # TF's parallel interleave (block length 1): one record from each open file in turn; a
        # finished file's slot goes to the next file (AUTOTUNE: every file open at once)
        cycle = len(names) if num_parallel_reads == AUTOTUNE else int(num_parallel_reads)
        pending = iter(names)
        slots = [read_records(p, kind) for p in itertools.islice(pending, max(cycle, 1))]
        while slots:
            row = []
            for i, reader in enumerate(slots):
                record = next(reader, None)
                while record is None and reader is not None:
                    following = next(pending, None)
                    reader = slots[i] = None if following is None else read_records(following, kind)
                    record = None if reader is None else next(reader, None)
                if record is not None:
                    row.append(record)
            slots = [r for r in slots if r is not None]
            if row:
                yield records_block(row)
    return Dataset(blocks, UNKNOWN_CARDINALITY)


def _csv_column(values, default, name):
    """One CSV column as TF types it: by its default (an int: int32, a float: float32, a str:
    string), else by its values (int32 when all are integers, float32 when all are numbers, else
    string); empty fields take the default."""
    if isinstance(default, (list, tuple)):
        default = default[0] if default else None
    if default is None and "" in values:
        raise ValueError(f"make_csv_dataset: column {name!r} has an empty field and no default")
    filled = [str(default) if v == "" else v for v in values]
    if isinstance(default, str):
        return np.array(filled, dtype=str)
    if default is not None:
        parse, dtype = (float, np.float32) if isinstance(default, (float, np.floating)) else (int, np.int32)
        try:
            return np.array([parse(v) for v in filled], dtype=dtype)
        except ValueError:
            raise ValueError(f"make_csv_dataset: column {name!r} holds a value that is not "
                             f"{np.dtype(dtype).name}") from None
    for parse, dtype in ((int, np.int32), (float, np.float32)):
        try:
            return np.array([parse(v) for v in filled], dtype=dtype)
        except ValueError:
            continue
    return np.array(filled, dtype=str)


def make_csv_dataset(file_pattern, batch_size, column_names=None, column_defaults=None, label_name=None,
                     select_columns=None, field_delim=",", use_quote_delim=True, na_value="", header=True,
                     num_epochs=None, shuffle=True, shuffle_buffer_size=10000, shuffle_seed=None,
                     prefetch_buffer_size=None, num_parallel_reads=None, sloppy=False, num_rows_for_inference=100,
                     compression_type=None, ignore_errors=False, encoding="utf-8") -> Dataset:
    """TF's ``tf.data.experimental.make_csv_dataset``: batches of ``(features, label)`` (features
    a dict by column name, in file order) read from CSV files, repeated ``num_epochs`` times (for
    ever with None, as TF's default) and shuffled."""
    import csv
    import glob

    patterns = [file_pattern] if isinstance(file_pattern, (str, os.PathLike)) else list(file_pattern)
    paths = sorted(p for pattern in patterns for p in glob.glob(os.fspath(pattern)))
    if not paths:
        raise FileNotFoundError(f"make_csv_dataset: no file matches {file_pattern!r}")
    rows, names = [], None
    for path in paths:
        with open(path, newline="", encoding=encoding) as f:
            reader = csv.reader(f, delimiter=field_delim, quoting=csv.QUOTE_MINIMAL if use_quote_delim
                                else csv.QUOTE_NONE)
            lines = list(reader)
        if header and lines:
            names = names or lines[0]
            lines = lines[1:]
        rows += [line for line in lines if line]
    names = list(column_names) if column_names is not None else names
    if names is None:
        raise ValueError("make_csv_dataset: give column_names when the files have no header")
    if any(len(r) != len(names) for r in rows):
        raise ValueError(f"make_csv_dataset: every record must have {len(names)} fields")
    defaults = list(column_defaults) if column_defaults is not None else [None] * len(names)
    columns = {}
    for j, name in enumerate(names):
        values = ["" if r[j] == na_value else r[j] for r in rows]
        columns[name] = _csv_column(values, defaults[j], name)
    if select_columns is not None:
        keep = [names[c] if isinstance(c, int) else c for c in select_columns]
        columns = {k: v for k, v in columns.items() if k in keep or k == label_name}
    if label_name is not None:
        if label_name not in columns:
            raise ValueError(f"make_csv_dataset: label_name {label_name!r} is not a column of {names}")
        label = columns.pop(label_name)
        dataset = Dataset.from_tensor_slices((columns, label))
    else:
        dataset = Dataset.from_tensor_slices(columns)
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer_size, seed=shuffle_seed)
    dataset = dataset.repeat(num_epochs) if num_epochs != 1 else dataset
    return dataset.batch(batch_size)


class Options:
    """TF's dataset options: ``deterministic`` (``experimental_deterministic``), and the
    ``threading``, ``experimental_optimization`` and ``experimental_distribute`` groups
    (``auto_shard_policy``), set as attributes. deepgrad reads elements in order on one thread,
    so they are kept for ``Dataset.options()`` and change nothing else."""

    def __init__(self):
        self.deterministic = None
        self.threading = SimpleNamespace(private_threadpool_size=None, max_intra_op_parallelism=None)
        self.experimental_optimization = SimpleNamespace(apply_default_optimizations=None, map_parallelization=None,
                                                         parallel_batch=None)
        self.experimental_distribute = SimpleNamespace(auto_shard_policy=AutoShardPolicy.AUTO, num_devices=None)
        self.autotune = SimpleNamespace(enabled=None, cpu_budget=None, ram_budget=None)
        self.experimental_slack = None
        self.experimental_external_state_policy = None

    @property
    def experimental_deterministic(self):
        return self.deterministic

    @experimental_deterministic.setter
    def experimental_deterministic(self, value):
        self.deterministic = value

    def merge(self, options) -> "Options":
        merged = Options()
        merged.__dict__.update({k: v for k, v in self.__dict__.items()})
        merged.__dict__.update({k: v for k, v in options.__dict__.items() if v is not None})
        return merged


AutoShardPolicy = SimpleNamespace(OFF=-1, AUTO=0, FILE=1, DATA=2, HINT=3)


def assert_cardinality(expected_cardinality):
    """``dataset.apply(assert_cardinality(n))``: the dataset declares ``n`` elements (so ``len()``
    and ``fit``'s epoch length know them); reading a different number is an error, as in TF."""
    expected = int(expected_cardinality.data if isinstance(expected_cardinality, Tensor) else expected_cardinality)

    def transformation(dataset: Dataset) -> Dataset:
        def blocks():
            seen = 0
            for block in dataset._blocks():
                seen += _size(block)
                if expected >= 0 and seen > expected:
                    raise ValueError(f"Input dataset was expected to contain {expected} elements but contained "
                                     "at least " + f"{expected + 1} elements.")
                yield block
            if expected >= 0 and seen < expected:
                raise ValueError(f"Input dataset was expected to contain {expected} elements but contained only "
                                 f"{seen} elements.")
        return dataset._derive(blocks, expected, same_elements=True)
    return transformation


experimental = SimpleNamespace(AUTOTUNE=AUTOTUNE, INFINITE_CARDINALITY=INFINITE_CARDINALITY,
                               ignore_errors=lambda log_warning=False: lambda dataset: dataset.ignore_errors(),
                               assert_cardinality=assert_cardinality, AutoShardPolicy=AutoShardPolicy,
                               UNKNOWN_CARDINALITY=UNKNOWN_CARDINALITY,
                               cardinality=lambda dataset: dataset.cardinality(),
                               make_csv_dataset=make_csv_dataset)
