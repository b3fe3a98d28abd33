"""Random image augmentation on the fly: ``ImageDataGenerator`` and its batch iterators.

Each image gets a random affine transform (rotation, shift, shear, zoom: one resampling in
NumPy), a channel shift, flips and a brightness change, then ``standardize`` (the
``preprocessing_function``, ``rescale``, sample-wise and feature-wise centring and scaling, ZCA
whitening). ``flow(x, y)`` and ``flow_from_directory(path)`` return iterables of batches that
have a length (batches per epoch) and can be indexed, so ``fit`` takes them like arrays.
"""
from __future__ import annotations

import math
import os
import warnings

import numpy as np

from .. import backend
from .image_io import array_to_img, img_to_array, load_img

FILL_MODES = ("nearest", "constant", "reflect", "wrap")
IMAGE_FORMATS = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")


def _fill_index(i: np.ndarray, n: int, fill_mode: str):
    """Map integer source indices into ``[0, n)``; also say which ones fall outside (for "constant")."""
    inside = (i >= 0) & (i < n)
    if fill_mode == "wrap":
        return np.mod(i, n), inside
    if fill_mode == "reflect":  # d c b a | a b c d | d c b a
        m = np.mod(i, 2 * n)
        return np.where(m < n, m, 2 * n - 1 - m), inside
    return np.clip(i, 0, n - 1), inside


def apply_affine_transform(x, theta: float = 0.0, tx: float = 0.0, ty: float = 0.0, shear: float = 0.0,
                           zx: float = 1.0, zy: float = 1.0, row_axis: int = 0, col_axis: int = 1,
                           channel_axis: int = 2, fill_mode: str = "nearest", cval: float = 0.0,
                           order: int = 1) -> np.ndarray:
    """Rotate, shift, shear and zoom one image about its centre (angles in degrees).

    The transform is ``M = R(theta) T(tx, ty) Sh(shear) Z(zx, zy)`` on (row, col) coordinates:
    output pixel ``p`` reads the input at ``M (p - centre) + centre``, so ``tx > 0`` alone moves the
    content up, ``theta = 90`` turns it clockwise and ``zx = 2`` shows half the rows, stretched.
    ``order`` 0 is nearest-neighbour, 1 bilinear; pixels that come from outside the image follow
    ``fill_mode`` (``"constant"`` uses ``cval``). The image is channels-last unless the axes say otherwise.
    """
    if fill_mode not in FILL_MODES:
        raise ValueError(f"fill_mode must be one of {FILL_MODES}, got {fill_mode!r}")
    if order not in (0, 1):
        raise ValueError(f"order must be 0 (nearest) or 1 (bilinear), got {order}")
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"apply_affine_transform expects one image (h, w, c), got shape {x.shape}")
    if sorted((row_axis, col_axis, channel_axis)) != [0, 1, 2]:
        raise ValueError(f"row_axis, col_axis and channel_axis must be 0, 1 and 2 in some order, got "
                         f"{(row_axis, col_axis, channel_axis)}")
    if theta == 0 and tx == 0 and ty == 0 and shear == 0 and zx == 1 and zy == 1:
        return x
    x = np.moveaxis(x, (row_axis, col_axis, channel_axis), (0, 1, 2))
    t, s = np.deg2rad(theta), np.deg2rad(shear)
    m = (np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
         @ np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
         @ np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]])
         @ np.diag([zx, zy, 1.0]))
    h, w = x.shape[:2]
    rows, cols = np.meshgrid(np.arange(h) - (h - 1) / 2, np.arange(w) - (w - 1) / 2, indexing="ij")
    src_r = m[0, 0] * rows + m[0, 1] * cols + m[0, 2] + (h - 1) / 2
    src_c = m[1, 0] * rows + m[1, 1] * cols + m[1, 2] + (w - 1) / 2
    work = x.astype(x.dtype if x.dtype.kind == "f" else backend.floatx())

    def sample(r, c):
        (r, r_in), (c, c_in) = _fill_index(r, h, fill_mode), _fill_index(c, w, fill_mode)
        values = work[r, c]
        if fill_mode == "constant":
            values = np.where((r_in & c_in)[..., None], values, work.dtype.type(cval))
        return values

    if order == 0:
        out = sample(np.rint(src_r).astype(np.int64), np.rint(src_c).astype(np.int64))
    else:
        r0, c0 = np.floor(src_r).astype(np.int64), np.floor(src_c).astype(np.int64)
        fr = (src_r - r0).astype(work.dtype)[..., None]
        fc = (src_c - c0).astype(work.dtype)[..., None]
        top = sample(r0, c0) * (1 - fc) + sample(r0, c0 + 1) * fc
        bottom = sample(r0 + 1, c0) * (1 - fc) + sample(r0 + 1, c0 + 1) * fc
        out = top * (1 - fr) + bottom * fr
    return np.moveaxis(out, (0, 1, 2), (row_axis, col_axis, channel_axis))


def apply_channel_shift(x, intensity: float, channel_axis: int = 0) -> np.ndarray:
    """Add ``intensity`` to every channel, clipped to the image's own [min, max]."""
    x = np.asarray(x)
    return np.clip(x + intensity, np.min(x), np.max(x))


def apply_brightness_shift(x, brightness: float, scale: bool = True) -> np.ndarray:
    """Keras's brightness change: the image as 8-bit values (scaled to [0, 255] when ``scale`` or when it
    lies outside that range) times ``brightness`` through Pillow's ``ImageEnhance.Brightness``, back in
    the image's own range when it was scaled only for this."""
    from PIL import ImageEnhance

    x = np.asarray(x)
    x_min, x_max = np.min(x), np.max(x)
    local_scale = bool(x_min < 0 or x_max > 255)
    img = ImageEnhance.Brightness(array_to_img(x, scale=local_scale or scale)).enhance(brightness)
    out = img_to_array(img)
    if not scale and local_scale:
        out = out / 255 * (x_max - x_min) + x_min
    return out


def _shift_draw(value, size: int, rng: np.random.Generator) -> float:
    """Keras's shift draw: a float range uniformly in (-r, r); an int r or a list as a choice among
    ``range(r)`` or the list, with a random sign; a fraction of ``size`` when every value is < 1."""
    if not value:
        return 0.0
    if isinstance(value, float):
        shift = rng.uniform(-value, value)
    else:
        choices = np.arange(value) if isinstance(value, (int, np.integer)) else np.asarray(value)
        shift = rng.choice(choices) * rng.choice([-1, 1])
    return float(shift * size) if np.max(value) < 1 else float(shift)


class ImageDataGenerator:
    """Random augmentation and standardisation of image batches, as Keras's ``ImageDataGenerator``.

    Transforms: ``rotation_range`` (degrees), ``width_shift_range`` / ``height_shift_range`` (a
    fraction of the size when < 1, pixels otherwise; an int or list picks among values),
    ``shear_range`` (degrees), ``zoom_range`` (``z`` for [1 - z, 1 + z] or ``[lo, hi]``),
    ``channel_shift_range``, ``brightness_range``, ``horizontal_flip`` / ``vertical_flip`` (each
    with probability 1/2), ``fill_mode`` and ``cval``. Standardisation (``standardize``):
    ``preprocessing_function``, ``rescale``, ``samplewise_center`` / ``_std_normalization``,
    ``featurewise_center`` / ``_std_normalization`` and ``zca_whitening`` (statistics from
    ``fit``). ``validation_split`` sets aside a fraction for ``subset="validation"``.
    """

    def __init__(self, featurewise_center=False, samplewise_center=False, featurewise_std_normalization=False,
                 samplewise_std_normalization=False, zca_whitening=False, zca_epsilon=1e-6, rotation_range=0,
                 width_shift_range=0.0, height_shift_range=0.0, brightness_range=None, shear_range=0.0,
                 zoom_range=0.0, channel_shift_range=0.0, fill_mode="nearest", cval=0.0, horizontal_flip=False,
                 vertical_flip=False, rescale=None, preprocessing_function=None, data_format=None,
                 validation_split=0.0, interpolation_order=1, dtype=None):
        for name, value in (("rotation_range", rotation_range), ("shear_range", shear_range),
                            ("channel_shift_range", channel_shift_range)):
            if not np.isscalar(value) or value < 0:
                raise ValueError(f"ImageDataGenerator: {name} must be a number >= 0, got {value!r}")
        for name, value in (("width_shift_range", width_shift_range), ("height_shift_range", height_shift_range)):
            if np.min(value) < 0 if np.size(value) else False:
                raise ValueError(f"ImageDataGenerator: {name} must be a number >= 0 or a list of them, got {value!r}")
        if fill_mode not in FILL_MODES:
            raise ValueError(f"ImageDataGenerator: fill_mode must be one of {FILL_MODES}, got {fill_mode!r}")
        data_format = backend.image_data_format() if data_format is None else data_format
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError('`data_format` should be `"channels_last"` (channel after row and column) or '
                             f'`"channels_first"` (channel before row and column). Received: {data_format}')
        if validation_split and not 0 < validation_split < 1:
            raise ValueError(f"`validation_split` must be strictly between 0 and 1. Received: {validation_split}")
        if isinstance(zoom_range, (float, int)):
            zoom_range = [1 - zoom_range, 1 + zoom_range]
        elif len(zoom_range) == 2 and all(isinstance(v, (float, int)) for v in zoom_range):
            zoom_range = [zoom_range[0], zoom_range[1]]
        else:
            raise ValueError(f"`zoom_range` should be a float or a tuple or list of two floats. Received: {zoom_range}")
        if brightness_range is not None and (not isinstance(brightness_range, (tuple, list))
                                             or len(brightness_range) != 2):
            raise ValueError(f"`brightness_range should be tuple or list of two floats. Received: {brightness_range}")
        if zca_whitening:
            if not featurewise_center:
                featurewise_center = True
                warnings.warn("This ImageDataGenerator specifies `zca_whitening`, which overrides setting of "
                              "`featurewise_center`.")
            if featurewise_std_normalization:
                featurewise_std_normalization = False
                warnings.warn("This ImageDataGenerator specifies `zca_whitening` which overrides setting of"
                              "`featurewise_std_normalization`.")
        if featurewise_std_normalization and not featurewise_center:
            featurewise_center = True
            warnings.warn("This ImageDataGenerator specifies `featurewise_std_normalization`, which overrides "
                          "setting of `featurewise_center`.")
        if samplewise_std_normalization and not samplewise_center:
            samplewise_center = True
            warnings.warn("This ImageDataGenerator specifies `samplewise_std_normalization`, which overrides "
                          "setting of `samplewise_center`.")
        self.featurewise_center, self.samplewise_center = featurewise_center, samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening, self.zca_epsilon = zca_whitening, zca_epsilon
        self.rotation_range = float(rotation_range)
        self.width_shift_range, self.height_shift_range = width_shift_range, height_shift_range
        self.shear_range, self.zoom_range = float(shear_range), zoom_range
        self.channel_shift_range, self.brightness_range = channel_shift_range, brightness_range
        self.horizontal_flip, self.vertical_flip = bool(horizontal_flip), bool(vertical_flip)
        self.fill_mode, self.cval = fill_mode, float(cval)
        self.rescale, self.preprocessing_function = rescale, preprocessing_function
        self.data_format = data_format
        self.channel_axis, self.row_axis, self.col_axis = (1, 2, 3) if data_format == "channels_first" else (3, 1, 2)
        self._validation_split = validation_split
        self.interpolation_order = interpolation_order
        self.dtype = np.dtype(dtype or backend.floatx())
        self.mean = self.std = self.zca_whitening_matrix = None

    # ----------------------------------------------------------------- one image
    def get_random_transform(self, img_shape: tuple, rng: np.random.Generator | None = None) -> dict:
        """Draw one image's transform: ``theta``, ``tx``, ``ty``, ``shear``, ``zx``, ``zy``, the flips,
        ``channel_shift_intensity`` and ``brightness`` (a seed int or a Generator may be given)."""
        rng = np.random.default_rng(rng) if isinstance(rng, (int, np.integer)) else (rng or backend.rng())
        rows, cols = img_shape[self.row_axis - 1], img_shape[self.col_axis - 1]
        theta = rng.uniform(-self.rotation_range, self.rotation_range) if self.rotation_range else 0.0
        tx = _shift_draw(self.height_shift_range, rows, rng)
        ty = _shift_draw(self.width_shift_range, cols, rng)
        shear = rng.uniform(-self.shear_range, self.shear_range) if self.shear_range else 0.0
        zx, zy = (1.0, 1.0) if self.zoom_range[0] == 1 and self.zoom_range[1] == 1 else \
            tuple(rng.uniform(self.zoom_range[0], self.zoom_range[1], 2))
        return {"theta": theta, "tx": tx, "ty": ty, "shear": shear, "zx": zx, "zy": zy,
                "flip_horizontal": self.horizontal_flip and rng.random() < 0.5,
                "flip_vertical": self.vertical_flip and rng.random() < 0.5,
                "channel_shift_intensity": rng.uniform(-self.channel_shift_range, self.channel_shift_range)
                if self.channel_shift_range else None,
                "brightness": rng.uniform(*self.brightness_range) if self.brightness_range is not None else None}

    def apply_transform(self, x, params: dict) -> np.ndarray:
        rows, cols, channels = self.row_axis - 1, self.col_axis - 1, self.channel_axis - 1
        x = apply_affine_transform(x, params.get("theta", 0.0), params.get("tx", 0.0), params.get("ty", 0.0),
                                   params.get("shear", 0.0), params.get("zx", 1.0), params.get("zy", 1.0),
                                   rows, cols, channels, self.fill_mode, self.cval, self.interpolation_order)
        if params.get("channel_shift_intensity") is not None:
            x = apply_channel_shift(x, params["channel_shift_intensity"], channels)
        if params.get("flip_horizontal"):
            x = np.flip(x, cols)
        if params.get("flip_vertical"):
            x = np.flip(x, rows)
        if params.get("brightness") is not None:
            x = apply_brightness_shift(np.moveaxis(x, channels, -1), params["brightness"], False)
            x = np.moveaxis(x, -1, channels)
        return x

    def random_transform(self, x, rng: np.random.Generator | None = None) -> np.ndarray:
        return self.apply_transform(x, self.get_random_transform(np.shape(x), rng))

    def standardize(self, x) -> np.ndarray:
        """``preprocessing_function``, ``rescale``, then the sample-wise and feature-wise
        normalisations and ZCA whitening, in Keras's order."""
        if self.preprocessing_function:
            x = self.preprocessing_function(x)
        x = np.array(x, dtype=self.dtype)
        if self.rescale:
            x *= self.dtype.type(self.rescale)
        if self.samplewise_center:
            x -= np.mean(x, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, keepdims=True) + 1e-6
        for flag, stat, name in ((self.featurewise_center, self.mean, "featurewise_center"),
                                 (self.featurewise_std_normalization, self.std, "featurewise_std_normalization"),
                                 (self.zca_whitening, self.zca_whitening_matrix, "zca_whitening")):
            if flag and stat is None:
                warnings.warn(f"This ImageDataGenerator specifies `{name}`, but it hasn't been fit on any "
                              "training data. Fit it first by calling `.fit(numpy_data)`.")
        if self.featurewise_center and self.mean is not None:
            x -= self.mean
        if self.featurewise_std_normalization and self.std is not None:
            x /= self.std + 1e-6
        if self.zca_whitening and self.zca_whitening_matrix is not None:
            x = (x.reshape(-1, math.prod(x.shape[-3:])) @ self.zca_whitening_matrix).reshape(x.shape)
        return x

    def fit(self, x, augment: bool = False, rounds: int = 1, seed: int | None = None) -> None:
        """The feature-wise statistics (per-channel mean and std, the ZCA matrix) of ``x`` (n, h, w, c),
        over ``rounds`` augmented copies when ``augment``."""
        x = np.array(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError("Input to `.fit()` should have rank 4. Got array with shape: " + str(x.shape))
        if x.shape[self.channel_axis] not in (1, 3, 4):
            warnings.warn(f'Expected input to be images (as Numpy array) following the data format convention '
                          f'"{self.data_format}" (channels on axis {self.channel_axis}), i.e. expected either 1, 3 '
                          f'or 4 channels on axis {self.channel_axis}. However, it was passed an array with shape '
                          f'{x.shape} ({x.shape[self.channel_axis]} channels).')
        rng = np.random.default_rng(seed) if seed is not None else backend.rng()
        if self.rescale:
            x *= self.rescale
        if augment:
            x = np.stack([self.random_transform(image, rng) for _ in range(rounds) for image in x]).astype(self.dtype)
        shape = [1, 1, 1]
        shape[self.channel_axis - 1] = x.shape[self.channel_axis]
        if self.featurewise_center:
            self.mean = np.mean(x, axis=(0, self.row_axis, self.col_axis)).reshape(shape)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = np.std(x, axis=(0, self.row_axis, self.col_axis)).reshape(shape)
            x /= self.std + 1e-6
        if self.zca_whitening:
            n = len(x)
            u, s, _ = np.linalg.svd(x.reshape(n, -1).T, full_matrices=False)
            self.zca_whitening_matrix = (u * (np.sqrt(n) / (s + self.zca_epsilon))) @ u.T

    # ----------------------------------------------------------------- batches
    def flow(self, x, y=None, batch_size: int = 32, shuffle: bool = True, sample_weight=None, seed=None,
             save_to_dir=None, save_prefix: str = "", save_format: str = "png", ignore_class_split: bool = False,
             subset=None):
        """Augmented batches of ``x`` (n, h, w, c) and, if given, the matching ``y`` (and ``sample_weight``)."""
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle, sample_weight=sample_weight,
                                  seed=seed, save_to_dir=save_to_dir, save_prefix=save_prefix,
                                  save_format=save_format, ignore_class_split=ignore_class_split, subset=subset)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode="rgb", classes=None,
                            class_mode="categorical", batch_size=32, shuffle=True, seed=None, save_to_dir=None,
                            save_prefix="", save_format="png", follow_links=False, subset=None,
                            interpolation="nearest", keep_aspect_ratio=False):
        """Augmented batches of the images in ``directory``'s class subfolders (one class per
        subfolder, in sorted order unless ``classes`` names them)."""
        return DirectoryIterator(directory, self, target_size=target_size, color_mode=color_mode, classes=classes,
                                 class_mode=class_mode, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                 save_to_dir=save_to_dir, save_prefix=save_prefix, save_format=save_format,
                                 follow_links=follow_links, subset=subset, interpolation=interpolation,
                                 keep_aspect_ratio=keep_aspect_ratio)


class _BatchIterator:
    """One epoch of batches per pass: ``len()`` batches, ``it[i]`` is batch ``i``; iterating yields the
    batches and then reshuffles (``on_epoch_end``); ``next(it)`` runs on across epochs, as Keras's."""

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed, image_data_generator):
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.n, self.batch_size, self.shuffle = n, int(batch_size), shuffle
        self.image_data_generator = self.generator = image_data_generator
        self.rng = backend.rng() if seed is None else np.random.default_rng(seed)
        self.batch_index = 0
        self.on_epoch_end()

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def on_epoch_end(self) -> None:
        self.index_array = self.rng.permutation(self.n) if self.shuffle else np.arange(self.n)

    def reset(self) -> None:
        self.batch_index = 0

    def __getitem__(self, i: int):
        if not -len(self) <= i < len(self):
            raise IndexError(f"batch {i} out of range for {len(self)} batches")
        return self._batch(self.index_array[(i % len(self)) * self.batch_size:][: self.batch_size])

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]
        self.on_epoch_end()

    def __next__(self):
        if self.batch_index >= len(self):
            self.batch_index = 0
            self.on_epoch_end()
        self.batch_index += 1
        return self[self.batch_index - 1]

    def _augment(self, images) -> np.ndarray:
        gen = self.generator
        batch = np.stack([gen.standardize(gen.random_transform(image, self.rng)) for image in images])
        if self.save_to_dir:
            for image in batch:
                name = f"{self.save_prefix}_{self.rng.integers(1_000_000_000)}.{self.save_format}"
                array_to_img(image, data_format=gen.data_format, scale=True).save(os.path.join(self.save_to_dir, name))
        return batch


class NumpyArrayIterator(_BatchIterator):
    """Augmented batches of an image array: ``(x_batch, y_batch)``, ``(x_batch, y_batch, w_batch)`` with
    sample weights, or ``x_batch`` alone without labels. ``subset`` takes the first ``validation_split``
    of the samples ("validation") or the rest ("training")."""

    def __init__(self, x, y, image_data_generator: ImageDataGenerator, batch_size: int = 32, shuffle: bool = True,
                 sample_weight=None, seed=None, save_to_dir=None, save_prefix: str = "", save_format: str = "png",
                 ignore_class_split: bool = False, subset=None):
        self.x = np.asarray(x)
        if self.x.ndim != 4:
            raise ValueError(f"flow expects images of shape (n, h, w, c), got {self.x.shape}")
        self.y = None if y is None else np.asarray(y)
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(f"flow: x and y must have the same length, got {len(self.x)} and {len(self.y)}")
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        if self.sample_weight is not None and len(self.sample_weight) != len(self.x):
            raise ValueError(f"flow: x and sample_weight must have the same length, got {len(self.x)} and "
                             f"{len(self.sample_weight)}")
        if subset is not None:
            if subset not in ("training", "validation"):
                raise ValueError(f'Invalid subset name: {subset}; expected "training" or "validation".')
            split = int(len(self.x) * image_data_generator._validation_split)
            if self.y is not None and not ignore_class_split and not np.array_equal(
                    np.unique(self.y[:split]), np.unique(self.y[split:])):
                raise ValueError("Training and validation subsets have different number of classes after the split. "
                                 "If your numpy arrays are sorted by the label, you might want to shuffle them.")
            part = slice(None, split) if subset == "validation" else slice(split, None)
            self.x = self.x[part]
            self.y = None if self.y is None else self.y[part]
            self.sample_weight = None if self.sample_weight is None else self.sample_weight[part]
        self.save_to_dir, self.save_prefix, self.save_format = save_to_dir, save_prefix, save_format
        super().__init__(len(self.x), batch_size, shuffle, seed, image_data_generator)

    def _batch(self, idx):
        batch = self._augment(self.x[idx])
        if self.y is None:
            return batch
        if self.sample_weight is None:
            return batch, self.y[idx]
        return batch, self.y[idx], self.sample_weight[idx]


class DirectoryIterator(_BatchIterator):
    """Augmented batches of the images under ``directory/<class>/`` (files of the usual image formats,
    sorted by path). ``class_mode`` gives the labels: "categorical" (one-hot), "binary" and "sparse"
    (class indices as floats), "input" (the images themselves) or None (images alone). ``subset``
    takes, class by class, the first ``validation_split`` of the files ("validation") or the rest."""

    CLASS_MODES = ("categorical", "binary", "sparse", "input", None)

    def __init__(self, directory, image_data_generator: ImageDataGenerator, target_size=(256, 256),
                 color_mode="rgb", classes=None, class_mode="categorical", batch_size=32, shuffle=True, seed=None,
                 data_format=None, save_to_dir=None, save_prefix="", save_format="png", follow_links=False,
                 subset=None, interpolation="nearest", keep_aspect_ratio=False, dtype=None):
        if color_mode not in ("rgb", "rgba", "grayscale"):
            raise ValueError(f"Invalid color mode: {color_mode}; expected 'rgb', 'rgba', or 'grayscale'.")
        if class_mode not in self.CLASS_MODES:
            raise ValueError(f"Invalid class_mode: {class_mode}; expected one of {self.CLASS_MODES}")
        split = None
        if subset is not None:
            if subset not in ("training", "validation"):
                raise ValueError(f'Invalid subset name: {subset}; expected "training" or "validation"')
            vs = image_data_generator._validation_split
            split = (0.0, vs) if subset == "validation" else (vs, 1.0)
        self.directory = os.fspath(directory)
        self.target_size, self.color_mode = tuple(target_size), color_mode
        self.class_mode, self.interpolation, self.keep_aspect_ratio = class_mode, interpolation, keep_aspect_ratio
        self.data_format = data_format or image_data_generator.data_format
        self.dtype = np.dtype(dtype or image_data_generator.dtype)
        self.save_to_dir, self.save_prefix, self.save_format = save_to_dir, save_prefix, save_format
        if classes is None:
            classes = sorted(d for d in os.listdir(self.directory) if os.path.isdir(os.path.join(self.directory, d)))
        self.class_indices = {name: i for i, name in enumerate(classes)}
        self.num_classes = len(classes)
        self.filenames, labels = [], []
        for name in classes:
            files = self._list_files(os.path.join(self.directory, name), follow_links)
            if split is not None:
                files = files[int(split[0] * len(files)):int(split[1] * len(files))]
            self.filenames += [os.path.relpath(f, self.directory) for f in files]
            labels += [self.class_indices[name]] * len(files)
        self.classes = np.asarray(labels, dtype=np.int32)
        self.samples = len(self.filenames)
        print(f"Found {self.samples} images belonging to {self.num_classes} classes.")
        super().__init__(self.samples, batch_size, shuffle, seed, image_data_generator)

    @staticmethod
    def _list_files(folder: str, follow_links: bool) -> list:
        found = []
        for root, _, files in sorted(os.walk(folder, followlinks=follow_links), key=lambda t: t[0]):
            found += [os.path.join(root, f) for f in sorted(files) if f.lower().endswith(IMAGE_FORMATS)]
        return found

    @property
    def filepaths(self) -> list:
        return [os.path.join(self.directory, f) for f in self.filenames]

    @property
    def labels(self) -> np.ndarray:
        return self.classes

    def _batch(self, idx):
        images = [img_to_array(load_img(os.path.join(self.directory, self.filenames[j]), color_mode=self.color_mode,
                                        target_size=self.target_size, interpolation=self.interpolation,
                                        keep_aspect_ratio=self.keep_aspect_ratio),
                               data_format=self.data_format, dtype=self.dtype) for j in idx]
        batch = self._augment(images).astype(self.dtype)
        if self.class_mode is None:
            return batch
        if self.class_mode == "input":
            return batch, batch.copy()
        if self.class_mode == "categorical":
            labels = np.zeros((len(idx), self.num_classes), dtype=self.dtype)
            labels[np.arange(len(idx)), self.classes[idx]] = 1.0
            return batch, labels
        return batch, self.classes[idx].astype(self.dtype)
