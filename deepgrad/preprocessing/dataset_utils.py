"""Batches of training data under Keras's names: ``PyDataset`` (and its old name
``Sequence``), ``pack_x_y_sample_weight``/``unpack_x_y_sample_weight``, ``split_dataset``,
``timeseries_dataset_from_array``, and the folder-per-class loaders
``image_dataset_from_directory`` and ``text_dataset_from_directory``.

Keras returns ``tf.data`` (or Grain) datasets here; deepgrad returns a ``BatchDataset``, a
list-like of ``(x, y)`` batches of NumPy arrays that ``fit``/``evaluate``/``predict`` take
as they take any ``PyDataset``. Files are listed, ordered and shuffled exactly as Keras
does, so the same seed gives the same files in the same batches.
"""
from __future__ import annotations

import os

import numpy as np

from .image import img_to_array, load_img

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
TEXT_FORMATS = (".txt",)


class PyDataset:
    """Base class of a dataset of batches: ``__getitem__(index)`` returns batch ``index`` as
    ``x``, ``(x, y)`` or ``(x, y, sample_weight)``; ``__len__`` is the number of batches;
    ``on_epoch_begin``/``on_epoch_end`` run around each epoch (e.g. to reshuffle).

    ``workers``, ``use_multiprocessing`` and ``max_queue_size`` are Keras's arguments and are
    kept as attributes; deepgrad reads the batches in order in the training process.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10):
        self._workers, self._use_multiprocessing, self._max_queue_size = workers, use_multiprocessing, max_queue_size

    # subclasses that forget ``super().__init__()`` still get Keras's defaults
    @property
    def workers(self) -> int:
        return getattr(self, "_workers", 1)

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        return getattr(self, "_use_multiprocessing", False)

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        return getattr(self, "_max_queue_size", 10)

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = value

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index) returning one batch")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__() returning the number of batches")

    @property
    def num_batches(self) -> int | None:
        """The number of batches (``len(self)``), or None when the dataset does not define it."""
        try:
            return len(self)
        except NotImplementedError:
            return None

    def on_epoch_begin(self) -> None:
        """Called at the start of every epoch."""

    def on_epoch_end(self) -> None:
        """Called at the end of every epoch."""

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


Sequence = PyDataset


class BatchDataset(PyDataset):
    """Batches of ``batch_size`` taken in order from parallel arrays (``x`` or ``(x, y)``);
    ``shuffle`` reorders the samples after every epoch with a generator seeded by ``seed``.
    ``batch_size=None`` yields single samples. ``class_names`` is set by the directory loaders."""

    def __init__(self, arrays, batch_size: int | None = 32, shuffle: bool = False, seed=None, class_names=None,
                 file_paths=None):
        super().__init__()
        self.arrays = tuple(arrays) if isinstance(arrays, (list, tuple)) else (arrays,)
        self.batch_size, self.shuffle, self.class_names, self.file_paths = batch_size, shuffle, class_names, file_paths
        self._n = len(self.arrays[0])
        self._order = np.arange(self._n)
        self._rng = np.random.RandomState(seed)

    def __len__(self) -> int:
        if self.batch_size is None:
            return self._n
        return -(-self._n // self.batch_size)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"BatchDataset: batch {index} out of range for {len(self)} batches")
        index %= len(self)
        rows = (self._order[index] if self.batch_size is None
                else self._order[index * self.batch_size:(index + 1) * self.batch_size])
        parts = tuple(a[rows] for a in self.arrays)
        return parts[0] if len(parts) == 1 else parts

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._rng.shuffle(self._order)

    def __iter__(self):
        """The batches as a ``tf.data.Dataset`` of them yields them (what the loaders return in
        Keras): numeric components as Tensors (``inputs.numpy()``, ``next(iter(ds))``), text as
        arrays with ``numpy()``; a full pass reshuffles a shuffled dataset, as a new epoch does."""
        from ..compat.tf_data import _tensors
        for i in range(len(self)):
            yield _tensors(self[i])
        self.on_epoch_end()

    def unbatch(self) -> tuple:
        """All samples, in the current order, as arrays."""
        parts = tuple(a[self._order] for a in self.arrays)
        return parts[0] if len(parts) == 1 else parts

    # The directory loaders give a tf.data.Dataset in Keras; their pipelines go on with tf.data's
    # methods (``train_ds.take(1)``, ``.map(augment)``, ``.prefetch(...)``): those run on a
    # deepgrad.compat.tensorflow Dataset of these batches.
    _TF_DATA_METHODS = frozenset(("map", "take", "skip", "prefetch", "cache", "shuffle", "batch", "rebatch",
                                  "repeat", "filter", "apply", "as_numpy_iterator", "concatenate", "enumerate",
                                  "shard", "cardinality", "element_spec", "padded_batch"))

    def __getattr__(self, name):
        if name in BatchDataset._TF_DATA_METHODS:
            from ..compat.tf_data import from_batches
            return getattr(from_batches(self), name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """``x`` alone as ``(x,)``, ``(x, y)``, or ``(x, y, sample_weight)``: the tuple a batch is
    made of. A lone tuple or list ``x`` is wrapped so that it is not read as ``(x, y)``."""
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def unpack_x_y_sample_weight(data):
    """A batch ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` as ``(x, y, sample_weight)``."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return (data, None, None)
    if len(data) == 1:
        return (data[0], None, None)
    if len(data) == 2:
        return (data[0], data[1], None)
    if len(data) == 3:
        return (data[0], data[1], data[2])
    raise ValueError(f"unpack_x_y_sample_weight: data is expected to be x, (x,), (x, y) or (x, y, sample_weight); "
                     f"got a tuple of {len(data)} elements")


# ------------------------------------------------------------------------- split_dataset
def _split_sizes(left_size, right_size, total: int) -> tuple[int, int]:
    """Keras's rules: an int counts samples, a float in (0, 1) is a fraction (rounded); a
    missing side is the complement."""
    for side, size in (("left_size", left_size), ("right_size", right_size)):
        if size is None:
            continue
        if type(size) not in (int, float):
            raise TypeError(f"split_dataset: {side} must be an int, a float or None, got {size!r}")
        if (type(size) is int and not 0 < size < total) or (type(size) is float and not 0 < size < 1):
            raise ValueError(f"split_dataset: {side}={size!r} must be an int in (0, {total}) or a float in (0, 1) "
                             f"for a dataset of {total} samples")
    if left_size is None and right_size is None:
        raise ValueError("split_dataset: at least one of left_size or right_size must be given")
    if type(left_size) is float and type(right_size) is float and left_size + right_size > 1:
        raise ValueError(f"split_dataset: left_size + right_size = {left_size + right_size} is more than 1")
    left = round(left_size * total) if type(left_size) is float else left_size
    right = round(right_size * total) if type(right_size) is float else right_size
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError(f"split_dataset: left_size + right_size = {left + right} samples is more than the "
                         f"{total} samples of the dataset")
    if left == 0 or right == 0:
        raise ValueError(f"split_dataset: the sizes give an empty split (left {left}, right {right} of {total})")
    return int(left), int(right)


def split_dataset(dataset, left_size=None, right_size=None, shuffle: bool = False, seed=None,
                  preferred_backend=None):
    """Split an array, a tuple/list of parallel arrays, or a ``BatchDataset`` into a left part
    (the first ``left_size`` samples) and a right part (the last ``right_size``), after an
    optional seeded shuffle. Arrays come back as arrays (a tuple of arrays as a tuple)."""
    if isinstance(dataset, BatchDataset):
        arrays, batch_size = dataset.unbatch(), dataset.batch_size
        several = len(dataset.arrays) > 1
    elif isinstance(dataset, (list, tuple)):
        arrays, batch_size, several = tuple(np.asarray(a) for a in dataset), None, True
    else:
        arrays, batch_size, several = np.asarray(dataset), None, False
    parts = arrays if several else (arrays,)
    total = len(parts[0])
    if any(len(p) != total for p in parts):
        raise ValueError(f"split_dataset: the arrays have different lengths {[len(p) for p in parts]}")
    left, right = _split_sizes(left_size, right_size, total)
    order = np.arange(total)
    if shuffle:
        np.random.RandomState(seed if seed is not None else np.random.randint(1_000_000)).shuffle(order)
    left_parts = tuple(p[order[:left]] for p in parts)
    right_parts = tuple(p[order[total - right:]] for p in parts)
    if isinstance(dataset, BatchDataset):
        return (BatchDataset(left_parts, batch_size, class_names=dataset.class_names),
                BatchDataset(right_parts, batch_size, class_names=dataset.class_names))
    if not several:
        return left_parts[0], right_parts[0]
    return type(dataset)(left_parts), type(dataset)(right_parts)


# ----------------------------------------------------------- timeseries_dataset_from_array
def timeseries_dataset_from_array(data, targets, sequence_length: int, sequence_stride: int = 1,
                                  sampling_rate: int = 1, batch_size: int | None = 128, shuffle: bool = False,
                                  seed=None, start_index: int | None = None, end_index: int | None = None,
                                  format: str = "tf"):
    """Sliding windows over ``data``: window ``i`` is
    ``data[start + p_i + k * sampling_rate]`` for ``k < sequence_length`` with
    ``p_i = i * sequence_stride``, and its target is ``targets[start + p_i]``. Batches of
    ``batch_size`` windows ``(batch, sequence_length, features...)``, paired with targets
    when ``targets`` is not None; with ``shuffle``, in a new order on every pass (epoch)."""
    n = len(data)
    if start_index is not None and not 0 <= start_index < n:
        raise ValueError(f"timeseries_dataset_from_array: start_index={start_index} must be in [0, {n})")
    if end_index is not None and (end_index <= 0 or end_index >= n or (start_index and end_index <= start_index)):
        raise ValueError(f"timeseries_dataset_from_array: end_index={end_index} must be in "
                         f"({start_index or 0}, {n})")
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if not 0 < value < n:
            raise ValueError(f"timeseries_dataset_from_array: {name}={value} must be in (0, {n}) "
                             f"for data of length {n}")
    if targets is not None and len(targets) != n:
        raise ValueError(f"timeseries_dataset_from_array: data and targets have different lengths "
                         f"({n} and {len(targets)})")
    start = 0 if start_index is None else start_index
    stop = n if end_index is None else end_index
    num_seqs = stop - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num_seqs = min(num_seqs, len(targets))
    positions = np.arange(0, max(num_seqs, 0), sequence_stride)
    if shuffle:
        np.random.RandomState(seed if seed is not None else np.random.randint(1_000_000)).shuffle(positions)
    data = np.asarray(data)
    # (windows, sequence_length) row indices, gathered in one fancy-indexing step
    rows = start + positions[:, None] + np.arange(sequence_length)[None, :] * sampling_rate
    windows = data[rows]
    arrays = (windows,) if targets is None else (windows, np.asarray(targets)[start + positions])
    # shuffled again for every later pass, as Keras's dataset reshuffles on each iteration
    return BatchDataset(arrays, batch_size, shuffle=shuffle, seed=seed)


# ----------------------------------------------------------------- folder-per-class loaders
def _valid_files(directory: str, formats: tuple, follow_links: bool = False) -> list[str]:
    """Files under ``directory`` (recursively, directories in sorted order, files sorted)
    whose extension is in ``formats``, as paths relative to ``directory``'s parent."""
    found = []
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links), key=lambda item: item[0]):
        for fname in sorted(files):
            if fname.lower().endswith(formats):
                found.append(os.path.join(root, fname))
    return found


def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None, follow_links=False):
    """``(file_paths, labels, class_names)`` in Keras's order: class folders sorted by name
    (or in the order of ``class_names``), files sorted inside each, then both lists shuffled
    with ``np.random.RandomState(seed)`` when ``shuffle``."""
    if not os.path.isdir(directory):
        raise ValueError(f"Could not find directory {directory!r}")
    if labels == "inferred":
        subdirs = [d for d in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
        if class_names is not None:
            if not set(class_names) <= set(subdirs):
                raise ValueError(f"The class_names {list(class_names)} must be folders of {directory!r}: "
                                 f"expected a subset of {subdirs}")
            subdirs = list(class_names)
        paths, found = [], []
        for index, sub in enumerate(subdirs):
            files = _valid_files(os.path.join(directory, sub), formats, follow_links)
            paths += files
            found += [index] * len(files)
        label_array = np.asarray(found, dtype="int32")
        class_names = list(subdirs)
    else:
        if class_names is not None:
            raise ValueError("class_names can only be given with labels='inferred'")
        paths = _valid_files(directory, formats, follow_links)
        if labels is None:
            label_array, class_names = None, None
        else:
            if len(labels) != len(paths):
                raise ValueError(f"Expected the lengths of labels to match the number of files in the target "
                                 f"directory. len(labels) is {len(labels)} while we found {len(paths)} files "
                                 f"in directory {directory}.")
            label_array = np.asarray(labels)
            class_names = [str(label) for label in sorted(set(labels))]
    if shuffle:
        if seed is None:
            seed = np.random.randint(1_000_000)
        # two generators with the same seed give the same permutation to files and labels
        order = list(paths)
        np.random.RandomState(seed).shuffle(order)
        paths = order
        if label_array is not None:
            np.random.RandomState(seed).shuffle(label_array)
    return paths, label_array, class_names


def _indexed_files(who, kind, formats, directory, labels, label_mode, class_names, shuffle, seed,
                   validation_split, subset, follow_links, verbose):
    """The shared start of the ``*_dataset_from_directory`` functions: check the label and split
    arguments, index ``directory``'s ``formats`` files, report them. Returns ``(paths, labels
    found or None, class_names, label_mode, seed)``."""
    label_mode_in = label_mode
    labels_arg, label_mode = _check_labels_args(labels, label_mode, class_names, who)
    _check_split_args(validation_split, subset, shuffle, seed)
    if shuffle and seed is None:
        seed = np.random.randint(1_000_000)
    paths, found, class_names = index_directory(directory, labels, formats, class_names, shuffle, seed, follow_links)
    if not paths:
        allowed = "formats" if len(formats) > 1 else "format"
        raise ValueError(f"{who}: no {kind} found in directory {directory}. Allowed {allowed}: {formats}")
    if label_mode_in is None or labels_arg is None:  # no labels: Keras reports the files alone, no classes
        found, class_names = None, None
    if verbose:
        print(f"Found {len(paths)} files" + ("." if found is None else f" belonging to {len(class_names)} classes."))
    return paths, found, class_names, label_mode, seed


def _check_split_args(validation_split, subset, shuffle, seed) -> None:
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be between 0 and 1, got {validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If subset is set, validation_split must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f'subset must be "training", "validation", "both" or None, got {subset!r}')
    if validation_split and shuffle and seed is None:
        raise ValueError("If using validation_split and shuffling the data, you must provide a seed argument, "
                         "to make sure that there is no overlap between the training and validation subset.")


def _split(samples, labels, validation_split, subset):
    """Keras's split: the last ``int(validation_split * n)`` samples are the validation subset."""
    if not validation_split:
        return samples, labels
    num_val = int(validation_split * len(samples))
    if subset == "training":
        print(f"Using {len(samples) - num_val} files for training.")  # as Keras reports each subset
        return samples[:len(samples) - num_val], None if labels is None else labels[:len(samples) - num_val]
    print(f"Using {num_val} files for validation.")
    return samples[len(samples) - num_val:], None if labels is None else labels[len(samples) - num_val:]


def _encode_labels(labels, label_mode, num_classes: int):
    if label_mode == "int":
        return np.asarray(labels, dtype="int32")
    if label_mode == "binary":
        return np.asarray(labels, dtype="float32").reshape(-1, 1)
    return np.eye(num_classes, dtype="float32")[np.asarray(labels, dtype="int64")]   # "categorical"


def _check_labels_args(labels, label_mode, class_names, who: str):
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple)):
        raise ValueError(f"{who}: labels must be 'inferred', None or a list/tuple of integer labels, got {labels!r}")
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(f'{who}: label_mode must be "int", "categorical", "binary" or None, got {label_mode!r}')
    if labels is None or label_mode is None:
        return None, None
    return labels, label_mode


def _build(paths, labels, class_names, label_mode, load_all, batch_size, shuffle, seed, validation_split, subset,
           who, dataset_class=None):
    if label_mode == "binary" and class_names is not None and len(class_names) != 2:
        raise ValueError(f'{who}: label_mode="binary" requires exactly 2 classes, found {len(class_names)}: '
                         f"{class_names}")

    def one(subset_name):
        sub_paths, sub_labels = _split(paths, labels, validation_split, subset_name)
        if not sub_paths:
            raise ValueError(f"{who}: no files found for subset {subset_name!r}")
        arrays = [load_all(sub_paths)]
        if label_mode is not None and sub_labels is not None:
            arrays.append(_encode_labels(sub_labels, label_mode, len(class_names)))
        return (dataset_class or BatchDataset)(arrays, batch_size, shuffle=shuffle, seed=seed,
                                               class_names=class_names, file_paths=list(sub_paths))

    if subset == "both":
        return [one("training"), one("validation")]
    return one(subset)


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                 color_mode="rgb", batch_size=32, image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
                                 data_format=None, format="tf", verbose=True):
    """Images under ``directory/<class>/...`` as batches ``(images, labels)``: images float32
    ``(batch, height, width, channels)`` with values 0-255, resized to ``image_size`` with
    Pillow; labels int32 (``"int"``), one-hot float32 (``"categorical"``) or float32
    ``(batch, 1)`` (``"binary"``). The result has ``class_names`` and ``file_paths``."""
    who = "image_dataset_from_directory"
    channels = {"rgb": 3, "rgba": 4, "grayscale": 1}
    if color_mode not in channels:
        raise ValueError(f'{who}: color_mode must be "rgb", "rgba" or "grayscale", got {color_mode!r}')
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(f"{who}: only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True")
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{who}: deepgrad images are channels_last, got data_format={data_format!r}")
    image_size = tuple(image_size)
    if len(image_size) != 2:
        raise ValueError(f"{who}: image_size must be (height, width), got {image_size}")
    paths, found, class_names, label_mode, seed = _indexed_files(
        who, "images", IMAGE_FORMATS, directory, labels, label_mode, class_names, shuffle, seed,
        validation_split, subset, follow_links, verbose)

    def load_all(sub_paths):
        height, width = image_size
        out = np.empty((len(sub_paths), height, width, channels[color_mode]), dtype="float32")
        for i, path in enumerate(sub_paths):
            if pad_to_aspect_ratio:
                out[i] = _padded(path, color_mode, image_size, interpolation)
            else:
                out[i] = img_to_array(load_img(path, color_mode=color_mode, target_size=image_size,
                                               interpolation=interpolation,
                                               keep_aspect_ratio=crop_to_aspect_ratio), dtype="float32")
        return out

    return _build(paths, found, class_names, label_mode, load_all, batch_size, False, seed, validation_split,
                  subset, who)


def _padded(path, color_mode, image_size, interpolation):
    """The image scaled to fit inside ``image_size`` keeping its aspect ratio, centred on zeros."""
    image = img_to_array(load_img(path, color_mode=color_mode), dtype="float32")
    height, width = image_size
    scale = min(height / image.shape[0], width / image.shape[1])
    inner = (max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale)))
    resized = img_to_array(load_img(path, color_mode=color_mode, target_size=inner,
                                    interpolation=interpolation), dtype="float32")
    out = np.zeros((height, width, image.shape[2]), dtype="float32")
    top, left = (height - inner[0]) // 2, (width - inner[1]) // 2
    out[top:top + inner[0], left:left + inner[1]] = resized
    return out


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                max_length=None, shuffle=True, seed=None, validation_split=None, subset=None,
                                follow_links=False, format="tf", verbose=True):
    """The ``.txt`` files under ``directory/<class>/...`` as batches ``(texts, labels)``:
    texts a NumPy array of ``str`` (each cut to ``max_length`` characters), labels as in
    ``image_dataset_from_directory``."""
    who = "text_dataset_from_directory"
    paths, found, class_names, label_mode, seed = _indexed_files(
        who, "text files", TEXT_FORMATS, directory, labels, label_mode, class_names, shuffle, seed,
        validation_split, subset, follow_links, verbose)

    def load_all(sub_paths):
        texts = []
        for path in sub_paths:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            texts.append(text if max_length is None else text[:max_length])
        return np.array(texts, dtype=object)

    return _build(paths, found, class_names, label_mode, load_all, batch_size, False, seed, validation_split,
                  subset, who)


__all__ = ["BatchDataset", "PyDataset", "Sequence", "image_dataset_from_directory", "pack_x_y_sample_weight",
           "split_dataset", "text_dataset_from_directory", "timeseries_dataset_from_array",
           "unpack_x_y_sample_weight"]
