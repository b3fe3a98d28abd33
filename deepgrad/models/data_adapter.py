"""What ``fit``/``evaluate``/``predict`` accept, turned into ready batches: the one road data takes.

Arrays (NumPy, lists, pandas objects), lists or dicts of arrays for several inputs or
outputs, or an iterable of batches (a generator, or a Sequence-like object with
``__len__`` and ``__getitem__``, such as a ``PyDataset``) yielding ``x``, ``(x, y)`` or
``(x, y, sample_weight)``. The entry points (``fit_batches``, ``batches``, ``one_batch``)
take everything the caller was given, with a ``DataSpec`` describing the model the data must
fit; arrays are converted, checked and cast to floatx once, before training (``class_weight``
folded into the sample weights, ``validation_split`` held out), and the trainer iterates
``(x, y, sample_weight)`` batches: a slice (or, when shuffling, a fancy index) of those
arrays, so no per-batch work scales with the data. Batches of an iterable are cast as they come.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .. import backend


class DataSpec(NamedTuple):
    """What the data must fit: the model's inputs and outputs, as the trainer describes them."""
    model_name: str
    output_names: tuple                 # one target per output, in this order
    input_names: tuple = ()
    input_shapes: tuple | None = None   # the declared ``(None, ...)`` shapes, when the model has them
    keep_int_inputs: bool = False       # integer inputs stay integers (an Embedding reads them)
    sparse_classes: tuple = ()          # per output: the classes its sparse labels index, or None

    @property
    def several_inputs(self) -> bool:
        return len(self.input_names) > 1

    @property
    def several_outputs(self) -> bool:
        return len(self.output_names) > 1


# ----------------------------------------------------------------- structures of arrays
def flatten_arrays(structure) -> list:
    if type(structure) is np.ndarray:  # the common case, without the structure walk
        return [structure]
    if structure is None:
        return []
    if isinstance(structure, dict):
        return [a for k in structure for a in flatten_arrays(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [a for s in structure for a in flatten_arrays(s)]
    return [structure]


def map_arrays(fn, structure):
    if type(structure) is np.ndarray:  # the common case, without the structure walk
        return fn(structure)
    if structure is None:
        return None
    if isinstance(structure, dict):
        return {k: map_arrays(fn, v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_arrays(fn, s) for s in structure)
    return fn(structure)


def is_batch_iterable(data) -> bool:
    """A generator, an iterator, or a Sequence-like object of batches (not an array-like)."""
    if data is None or isinstance(data, (np.ndarray, list, tuple, dict, str)) or hasattr(data, "to_numpy"):
        return False
    if hasattr(data, "__next__"):
        return True
    if hasattr(data, "__array__") or hasattr(data, "shape"):
        return False
    return (hasattr(data, "__len__") and hasattr(data, "__getitem__")) or hasattr(data, "__iter__")


def to_arrays(data, several: bool):
    """``data`` as ndarrays: a dict stays a dict; a list/tuple stays a list when ``several``."""
    if data is None:
        return None
    if type(data) is np.ndarray:   # the common case, without the structure checks
        return data
    if isinstance(data, dict):  # a dict nested in it (inputs declared as nested dicts) stays a dict
        return {k: to_arrays(v, True) if isinstance(v, dict) else np.asarray(v) for k, v in data.items()}
    if several and isinstance(data, (list, tuple)):
        return [np.asarray(v) for v in data]
    if isinstance(data, (list, tuple)) and len(data) == 1 and (isinstance(data[0], np.ndarray) or hasattr(
            data[0], "numpy")):
        return np.asarray(data[0])  # ``[x]`` for one input: a structure of one array, as Keras reads it
    if isinstance(data, (list, tuple)) and _is_structure(data):
        # a batch such as ``((x_unlabeled, y_unlabeled), (x_labeled, y_labeled))`` for a custom
        # ``train_step``: Keras hands it over as the same nest of arrays
        return type(data)(to_arrays(v, False) for v in data)
    return np.asarray(data)


def _is_structure(data) -> bool:
    """A list/tuple that nests containers, or holds arrays of differing shapes (a nest, not one array)."""
    if any(isinstance(v, (list, tuple, dict)) and not _is_number_list(v) for v in data):
        return True
    shapes = {tuple(v.shape) for v in data if hasattr(v, "shape")}
    return len(shapes) > 1


def _is_number_list(v) -> bool:
    """A (nested) list of Python numbers: array data, as NumPy reads it."""
    while isinstance(v, (list, tuple)) and v:
        v = v[0]
    return isinstance(v, (int, float, bool, np.number, np.bool_))


def cast_inputs(x, keep_int: bool = False):
    """Floats (and, unless ``keep_int``, integers and bools) in floatx; copies only when needed."""
    floatx = backend.floatx()

    def cast(a):
        if a.dtype.kind in "US" or (a.dtype.kind == "O" and a.size and isinstance(a.flat[0], (str, bytes))):
            return a  # text (object arrays of str too), for the preprocessing layers that read it
        a = backend.real_array(a)  # None or complex values: a TypeError, not NaN
        if a.dtype.kind == "f" or (a.dtype.kind in "iub" and not keep_int):
            return a.astype(floatx, copy=False)
        return a
    return map_arrays(cast, x)


def targets_by_output(y, output_names) -> list:
    """``y`` as one target per output, in output order (a dict by name, a list, or one array)."""
    if y is None:
        return [None] * len(output_names)
    if isinstance(y, dict):
        return [y.get(n) for n in output_names]
    if isinstance(y, (list, tuple)) and len(output_names) > 1:
        return list(y)
    return [y]


def cast_targets(y):
    """Float targets in floatx; integer labels stay integers (sparse cross-entropy reads them)."""
    floatx = backend.floatx()

    def cast(a):
        a = backend.real_array(a)
        return a.astype(floatx, copy=False) if a.dtype.kind in "fb" else a
    return map_arrays(cast, y)


# ----------------------------------------------------------------- checks before training
def check_finite(structure, what: str) -> None:
    """A ValueError naming the first NaN or inf: ``x contains NaN at index (3, 1)``."""
    for a in flatten_arrays(structure):
        if a.dtype.kind not in "fc" or np.isfinite(a).all():
            continue
        bad = ~np.isfinite(a)
        position = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(a[position]) else "inf"
        raise ValueError(f"{what} contains {kind} at index {position}; "
                         f"clean or impute the data before training ({int(bad.sum())} non-finite values in all)")


def num_samples(x, y=None, sample_weight=None) -> int:
    """The common first dimension, or a ValueError naming the arrays that disagree."""
    if type(x) is np.ndarray and type(y) is np.ndarray and sample_weight is None and x.ndim and y.ndim \
            and x.shape[0] == y.shape[0]:  # the usual batch, without the walk below
        return x.shape[0]
    sizes = []
    for what, structure in (("x", x), ("y", y), ("sample_weight", sample_weight)):
        for a in flatten_arrays(structure):
            if a.ndim == 0:
                raise ValueError(f"{what} is a scalar; expected an array with one row per sample")
            sizes.append((what, a.shape[0]))
    if not sizes:
        raise ValueError("No data given: pass x (and y for training)")
    first = sizes[0][1]
    for what, n in sizes:
        if n != first:
            raise ValueError(f"Data cardinality is ambiguous: x has {first} samples but {what} has {n}. "
                             "Make sure all arrays contain the same number of samples.")
    return first


def check_labels(y, output_names, sparse_classes) -> None:
    """Sparse labels must lie in [0, classes) of the output they train."""
    for labels, classes in zip(targets_by_output(y, output_names), sparse_classes):
        if classes is None or labels is None:
            continue
        labels = np.asarray(labels)
        # the reductions themselves (ndarray.min/max add a Python frame each, every step)
        if labels.size and (np.minimum.reduce(labels, axis=None) < 0 or np.maximum.reduce(labels, axis=None) >= classes):
            raise ValueError(f"Labels out of range for sparse_categorical_crossentropy: y holds values from "
                             f"{labels.min()} to {labels.max()}, but the output has {classes} classes "
                             f"(labels must lie in [0, {classes}))")


def check_feature_shapes(x, input_shapes, input_names, model_name: str) -> None:
    """Every input's trailing shape agrees with the model's declared ``(None, ...)`` shape (its rank,
    and every declared size but a last one of 1, which Keras's check leaves free)."""
    if input_shapes is None:
        return
    if type(x) is np.ndarray and len(input_shapes) == 1 and x.shape[1:] == tuple(input_shapes[0])[1:]:
        return  # one array of exactly the declared sample shape
    if isinstance(x, dict) and not any(isinstance(v, (dict, list, tuple)) for v in x.values()):
        arrays = [x.get(name) for name in input_names]
    elif isinstance(x, dict):  # a dict nested as the model's inputs: flattened as they are (sorted keys)
        arrays = flatten_arrays(_sorted_dicts(x))
    else:
        arrays = flatten_arrays(x)
    if len(arrays) != len(input_shapes):
        raise ValueError(f"Model {model_name!r} expects {len(input_shapes)} input(s), got {len(arrays)} array(s)")
    for a, shape, name in zip(arrays, input_shapes, input_names):
        if a is None:
            raise ValueError(f"Model {model_name!r}: no data given for input {name!r}")
        want = tuple(shape)[1:]
        got = tuple(a.shape)[1:]
        # Keras's functional input check squeezes a declared last axis of 1 before comparing, so
        # that axis takes any size (a model declared on (None, 1) frames is called on (50, 80))
        checked = want[:-1] if want and want[-1] == 1 else want
        if len(want) != len(got) or any(w is not None and w != g for w, g in zip(checked, got)):
            raise ValueError(f"Model {model_name!r}: input {name!r} expects samples of shape {want} "
                             f"(batch shape {tuple(shape)}), but x has samples of shape {got} "
                             f"(array shape {tuple(a.shape)})")


def _sorted_dicts(structure):
    if isinstance(structure, dict):
        return {k: _sorted_dicts(structure[k]) for k in sorted(structure)}
    if isinstance(structure, (list, tuple)):
        return [_sorted_dicts(s) for s in structure]
    return structure


def match_input_ranks(x, input_shapes, input_names):
    """Keras's rank adjustment of a functional model's inputs: an array one axis short of an
    input declared ``(None, ..., 1)`` gains that last axis; one with an extra last axis of 1 loses it."""
    def adjust(a, shape):
        if a is None or shape is None or not hasattr(a, "ndim"):   # a nest for a custom train_step
            return a
        if a.ndim == len(shape) - 1 and shape[-1] == 1:
            return a[..., None]
        if a.ndim == len(shape) + 1 and a.shape[-1] == 1:
            return a[..., 0]
        return a
    if isinstance(x, dict):
        by_name = dict(zip(input_names, input_shapes))
        return {k: adjust(v, by_name.get(k)) for k, v in x.items()}
    if isinstance(x, list):
        return [adjust(a, shape) for a, shape in zip(x, input_shapes)]
    return adjust(x, input_shapes[0]) if len(input_shapes) == 1 else x


# ----------------------------------------------------------------- splits and weights
def take(structure, index):
    if isinstance(structure, np.ndarray):  # the common case, without the structure walk
        return structure[index]
    return map_arrays(lambda a: a[index], structure)


def train_validation_split(arrays, validation_split: float):
    """The LAST ``validation_split`` fraction is held out, before any shuffling (Keras's rule)."""
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
    n = num_samples(*arrays)
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(f"validation_split={validation_split} leaves an empty training or validation set "
                         f"with {n} samples")
    train = tuple(take(a, slice(0, split_at)) for a in arrays)
    val = tuple(take(a, slice(split_at, n)) for a in arrays)
    return train, val


def check_class_weight(class_weight, num_classes: int | None = None) -> None:
    """``{class index: finite weight}``, indices whole numbers in [0, num_classes) when known."""
    if not isinstance(class_weight, dict):
        raise ValueError(f"class_weight must be a dict {{class index: weight}}, got {type(class_weight).__name__}")
    for cls, w in class_weight.items():
        if isinstance(cls, (bool, np.bool_)) or not isinstance(cls, (int, np.integer)):
            raise ValueError(f"class_weight keys must be integer class indices, got {cls!r}")
        if cls < 0 or (num_classes is not None and cls >= num_classes):
            classes = f"[0, {num_classes})" if num_classes is not None else "[0, classes)"
            raise ValueError(f"class_weight has key {cls}, which is not a class: "
                             f"class indices lie in {classes}")
        if isinstance(w, (bool, np.bool_)) or not isinstance(w, (int, float, np.integer, np.floating)) \
                or not math.isfinite(w):
            raise ValueError(f"class_weight[{cls}] must be a finite number, got {w!r}")


def class_weight_to_sample_weight(y, class_weight: dict, num_classes: int | None = None) -> np.ndarray:
    """w_i = class_weight[label_i] (1.0 for a class not listed); one-hot labels via argmax."""
    if isinstance(y, (list, dict)):
        raise ValueError("class_weight is only supported for models with a single output")
    y = np.asarray(y)
    one_hot = y.ndim > 1 and y.shape[-1] > 1
    check_class_weight(class_weight, y.shape[-1] if one_hot else num_classes)
    labels = np.argmax(y, axis=-1) if one_hot else y.reshape(y.shape[0], -1)[:, 0]
    labels = np.round(labels).astype(np.int64)
    table = np.ones(int(max(labels.max(initial=0), max(class_weight, default=0))) + 1, backend.floatx())
    for cls, w in class_weight.items():
        table[int(cls)] = w
    return table[labels]


def with_class_weight(y, sample_weight, class_weight, num_classes: int | None = None):
    """``sample_weight`` times each sample's class weight (either may be None)."""
    if class_weight is None or y is None:
        return sample_weight
    cw = class_weight_to_sample_weight(y, class_weight, num_classes)
    return cw if sample_weight is None else sample_weight * cw


def _single_output_classes(spec: DataSpec):
    return spec.sparse_classes[0] if len(spec.sparse_classes) == 1 else None


def check_positive_int(value, name: str, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer{' or None' if allow_none else ''}, got {value!r}")


# ----------------------------------------------------------------- batch sources
class ArrayBatches:
    """``(x, y, sample_weight)`` batches over arrays, reshuffled with ``backend.rng()`` each epoch."""

    def __init__(self, x, y=None, sample_weight=None, batch_size: int = 32, shuffle: bool = False,
                 steps: int | None = None):
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.n = num_samples(x, y, sample_weight)
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        self.shuffle = shuffle
        self.steps = steps

    @property
    def num_batches(self) -> int:
        full = math.ceil(self.n / self.batch_size)
        return full if self.steps is None else min(self.steps, full)

    def __iter__(self):
        order = backend.rng().permutation(self.n) if self.shuffle else None
        for i in range(self.num_batches):
            start, stop = i * self.batch_size, min((i + 1) * self.batch_size, self.n)
            index = slice(start, stop) if order is None else order[start:stop]
            yield take(self.x, index), take(self.y, index), take(self.sample_weight, index)


def unpack_batch(batch):
    """``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` -> a triple."""
    if isinstance(batch, tuple):
        if not 1 <= len(batch) <= 3:
            raise ValueError(f"A batch must be x, (x, y) or (x, y, sample_weight); got a tuple of {len(batch)}")
        return tuple(batch) + (None,) * (3 - len(batch))
    return batch, None, None


class IterableBatches:
    """Batches from a generator/iterator (consumed across epochs) or a Sequence-like object; the
    latter's batches are taken in a new random order each epoch with ``shuffle`` (as Keras does
    with a ``PyDataset`` in ``fit``)."""

    def __init__(self, data, spec: DataSpec, steps: int | None = None, class_weight: dict | None = None,
                 shuffle: bool = False):
        self.data, self.spec, self.steps, self.class_weight = data, spec, steps, class_weight
        self.shuffle = bool(shuffle)
        self.indexable = hasattr(data, "__len__") and hasattr(data, "__getitem__")
        self._iterator = data if hasattr(data, "__next__") else None

    @property
    def num_batches(self) -> int | None:
        """Batches per epoch, or None for a generator that runs until it is exhausted."""
        if self.steps is not None:
            return self.steps
        return len(self.data) if self.indexable else None

    def _raw(self):
        if self.indexable:
            if hasattr(self.data, "on_epoch_begin"):
                self.data.on_epoch_begin()
            n = len(self.data) if self.steps is None else min(self.steps, len(self.data))
            order = backend.rng().permutation(len(self.data))[:n].tolist() if self.shuffle else range(n)
            for i in order:
                yield self.data[i]
            if hasattr(self.data, "on_epoch_end"):
                self.data.on_epoch_end()
            return
        iterator = self._iterator if self._iterator is not None else iter(self.data)
        for i, batch in enumerate(iterator):
            yield batch
            if self.steps is not None and i + 1 >= self.steps:
                return

    def __iter__(self):
        for batch in self._raw():
            yield prepare(self.spec, *unpack_batch(batch), class_weight=self.class_weight, check=False)


# ----------------------------------------------------------------- the entry points
def prepare(spec: DataSpec, x, y=None, sample_weight=None, class_weight=None, check=True, targets=True):
    """``(x, y, sample_weight)`` as ndarrays in their final dtypes; with ``check``, every check
    above; ``class_weight`` folded into ``sample_weight``."""
    x = cast_inputs(to_arrays(x, spec.several_inputs), spec.keep_int_inputs)
    y = cast_targets(to_arrays(y, spec.several_outputs)) if targets else None
    sample_weight = None if sample_weight is None else np.asarray(sample_weight, backend.floatx())
    if check:
        if num_samples(x, y, sample_weight) == 0:
            raise ValueError("The data is empty: x has 0 samples; fit, evaluate and predict need at least one")
        check_finite(x, "x")
        check_finite(sample_weight, "sample_weight")
        if targets:
            check_finite(y, "y")
            check_labels(y, spec.output_names, spec.sparse_classes)
        try:
            check_feature_shapes(x, spec.input_shapes, spec.input_names, spec.model_name)
        except ValueError:  # only then: Keras's rank adjustment, and the error stands if it does not help
            x = match_input_ranks(x, spec.input_shapes, spec.input_names)
            check_feature_shapes(x, spec.input_shapes, spec.input_names, spec.model_name)
    if not check:
        if spec.input_shapes:  # a stream's batches get Keras's rank adjustment too (a dataset's (batch,) feature)
            x = match_input_ranks(x, spec.input_shapes, spec.input_names)
        if sample_weight is not None:
            check_finite(sample_weight, "sample_weight")  # a weight of NaN would poison every update
    return x, y, with_class_weight(y, sample_weight, class_weight, _single_output_classes(spec))


def batches(spec: DataSpec, x, y=None, sample_weight=None, class_weight=None, batch_size=None, shuffle=False,
            steps=None, targets=True):
    """The batch source of ``evaluate``/``predict`` (``targets=False``), or of a ``fit`` on
    data already split: arrays prepared once, or an iterable of batches prepared as they come."""
    check_positive_int(batch_size, "batch_size")
    check_positive_int(steps, "steps")
    if (stream := stream_batches(spec, x, y, sample_weight, class_weight, shuffle, steps)) is not None:
        return stream
    if is_batch_iterable(x):
        if y is not None:
            raise ValueError("When x is a generator or a dataset of batches, y must be None "
                             "(the batches carry the targets)")
        return IterableBatches(x, spec, steps, class_weight, shuffle)
    x, y, sample_weight = prepare(spec, x, y, sample_weight, class_weight, targets=targets)
    return ArrayBatches(x, y, sample_weight, batch_size or 32, shuffle, steps)


def fit_batches(spec: DataSpec, x, y=None, sample_weight=None, class_weight=None, batch_size=None, shuffle=True,
                steps_per_epoch=None, validation_split=0.0, validation_data=None, validation_steps=None,
                validation_batch_size=None):
    """``(training batches, validation batches or None)`` from everything ``fit`` was given.

    ``validation_split`` holds out the last fraction of the arrays, before any shuffling, as
    Keras does; the whole data is prepared and checked once before it is split, and
    ``class_weight`` weighs the training part only.
    """
    check_positive_int(batch_size, "batch_size")
    check_positive_int(validation_batch_size, "validation_batch_size")
    check_positive_int(steps_per_epoch, "steps_per_epoch")
    check_positive_int(validation_steps, "validation_steps")
    if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float, np.number)) \
            or not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be a number in [0, 1), got {validation_split!r}")
    if validation_split and validation_data is None:
        if is_batch_iterable(x):
            raise ValueError("Argument `validation_split` is only supported for tensors or NumPy arrays, not "
                             f"for generators or datasets of batches; got {type(x).__name__}")
        arrays = prepare(spec, x, y, sample_weight)
        (x, y, sample_weight), (vx, vy, vsw) = train_validation_split(arrays, validation_split)
        sample_weight = with_class_weight(y, sample_weight, class_weight, _single_output_classes(spec))
        train = ArrayBatches(x, y, sample_weight, batch_size or 32, shuffle, steps_per_epoch)
        val = ArrayBatches(vx, vy, vsw, validation_batch_size or batch_size or 32, False, validation_steps)
        return train, val
    train = batches(spec, x, y, sample_weight, class_weight, batch_size, shuffle, steps_per_epoch)
    if validation_data is None:
        return train, None
    if (stream := stream_batches(spec, validation_data, steps=validation_steps)) is not None:
        return train, stream
    if is_batch_iterable(validation_data):
        return train, IterableBatches(validation_data, spec, validation_steps)
    vx, vy, vsw = unpack_batch(tuple(validation_data))
    return train, batches(spec, vx, vy, vsw, None, validation_batch_size or batch_size, False, validation_steps)


# ----------------------------------------------------------------- streams of batches from other libraries
def is_torch_dataloader(data) -> bool:
    """A ``torch.utils.data.DataLoader``, told by its class's module so torch is never imported for it."""
    return any(c.__name__ == "DataLoader" and c.__module__.startswith("torch.utils.data") for c in type(data).__mro__)


def is_tf_dataset(data) -> bool:
    """A ``tf.data.Dataset`` or ``deepgrad.compat.tensorflow.data.Dataset``: both have these two methods."""
    return hasattr(data, "as_numpy_iterator") and hasattr(data, "cardinality")


def _unsupported_arg(arg: str, description: str, kind: str):
    return ValueError(f"When providing `x` as a {kind}, `{arg}` should not be passed. "
                      f"Instead, {description} should be included as part of the {kind}.")


def _torch_to_numpy(batch):
    """A collated batch (tensors in a list, tuple or dict) as ndarrays; the outer list becomes a tuple."""
    if isinstance(batch, dict):
        return {k: _torch_to_numpy(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return tuple(_torch_to_numpy(v) for v in batch)
    return batch.detach().cpu().numpy() if hasattr(batch, "detach") else np.asarray(batch)


_END = object()


class StreamBatches(IterableBatches):
    """Batches of a torch ``DataLoader`` or a tf.data dataset, read afresh each epoch; with
    ``steps``, an epoch goes on where the last one stopped, and the data starts again once it
    runs out (Keras's epoch iterator)."""

    def __init__(self, make_iterator, length, spec: DataSpec, steps=None, class_weight=None):
        super().__init__(None, spec, steps, class_weight)
        self.indexable = False
        self._make_iterator, self._length = make_iterator, length
        self._iterator = None

    @property
    def num_batches(self) -> int | None:
        return self.steps if self.steps is not None else self._length

    def _raw(self):
        if self.steps is None:
            yield from self._make_iterator()
            return
        for i in range(self.steps):
            batch = _END if self._iterator is None else next(self._iterator, _END)
            if batch is _END:
                if self._iterator is not None and i > 0:  # ran out mid-epoch: this epoch ends short
                    self._iterator = None
                    return
                self._iterator = iter(self._make_iterator())
                batch = next(self._iterator, _END)
                if batch is _END:
                    self._iterator = None
                    return
            yield batch


def stream_batches(spec: DataSpec, x, y=None, sample_weight=None, class_weight=None, shuffle=False, steps=None):
    """The batch source of a torch ``DataLoader`` or a tf.data dataset, or None for other data.

    As in Keras: the stream carries the targets and weights (``y`` and ``sample_weight`` are
    refused), ``shuffle`` is ignored with a warning, a DataLoader refuses ``class_weight``, and
    an infinite dataset needs ``steps``.
    """
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict)):
        return None
    if is_torch_dataloader(x):
        kind = "torch DataLoader"
        if class_weight is not None:
            raise ValueError("Argument `class_weight` is not supported for torch DataLoader inputs: have the "
                             "dataset's `__getitem__` return (input, label, sample_weight) instead. "
                             f"Received: class_weight={class_weight}")
        length = len(x) if hasattr(x.dataset, "__len__") else None

        def make_iterator():
            return (_torch_to_numpy(batch) for batch in x)
    elif is_tf_dataset(x):
        kind = "tf.data.Dataset"
        cardinality = int(x.cardinality())
        if cardinality == -1 and steps is None:  # tf.data.INFINITE_CARDINALITY
            raise ValueError("The dataset is infinite (it repeats without end): pass `steps_per_epoch` to fit "
                             "(`steps` to evaluate and predict) to say how many batches make an epoch")
        length = cardinality if cardinality >= 0 else None
        # deepgrad's own datasets hand text over as str arrays (their as_numpy_iterator gives TF's bytes)
        make_iterator = getattr(x, "_numpy_elements", None) or x.as_numpy_iterator
    else:
        return None
    if y is not None:
        raise _unsupported_arg("y", "the targets", kind)
    if sample_weight is not None:
        raise _unsupported_arg("sample_weights", "the sample weights", kind)
    if shuffle:
        import warnings
        warnings.warn(f"`shuffle=True` was passed, but will be ignored since the data `x` was provided as a "
                      f"{kind}. The {kind} is expected to already be shuffled.", stacklevel=5)
    return StreamBatches(make_iterator, length, spec, steps, class_weight)
