"""Random image augmentation on the fly: ``ImageDataGenerator`` and its batch iterator.

Each image ``(h, w, c)`` gets a random rotation, shift and flips (one affine resampling in
NumPy), then ``rescale``. ``flow(x, y)`` returns an iterable of ``(x_batch, y_batch)`` that
has a length (batches per epoch) and can be indexed, so ``fit`` can take it like an array.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend

FILL_MODES = ("nearest", "constant", "reflect", "wrap")


def _fill_index(i: np.ndarray, n: int, fill_mode: str):
    """Map integer source indices into ``[0, n)``; also say which ones fall outside (for "constant")."""
    inside = (i >= 0) & (i < n)
    if fill_mode == "wrap":
        return np.mod(i, n), inside
    if fill_mode == "reflect":  # d c b a | a b c d | d c b a
        m = np.mod(i, 2 * n)
        return np.where(m < n, m, 2 * n - 1 - m), inside
    return np.clip(i, 0, n - 1), inside


def apply_affine_transform(x, theta: float = 0.0, tx: float = 0.0, ty: float = 0.0,
                           fill_mode: str = "nearest", cval: float = 0.0, order: int = 1) -> np.ndarray:
    """Rotate ``x`` (h, w, c) by ``theta`` degrees about its centre and shift it by ``(tx, ty)`` pixels.

    Keras's convention (rotation composed with the shift, about the centre): output pixel
    ``p`` (row, col) reads the input at ``R(theta) (p - centre + (tx, ty)) + centre``, so
    ``tx > 0`` alone moves the content up and ``theta = 90`` turns it clockwise. ``order`` 0 is nearest-neighbour, 1 bilinear; pixels
    that come from outside the image follow ``fill_mode`` (``"constant"`` uses ``cval``).
    """
    if fill_mode not in FILL_MODES:
        raise ValueError(f"fill_mode must be one of {FILL_MODES}, got {fill_mode!r}")
    if order not in (0, 1):
        raise ValueError(f"order must be 0 (nearest) or 1 (bilinear), got {order}")
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"apply_affine_transform expects one image (h, w, c), got shape {x.shape}")
    h, w = x.shape[:2]
    if theta == 0 and tx == 0 and ty == 0:
        return x
    t = np.deg2rad(theta)
    cos, sin = np.cos(t), np.sin(t)
    rows, cols = np.meshgrid(np.arange(h) - (h - 1) / 2 + tx, np.arange(w) - (w - 1) / 2 + ty, indexing="ij")
    src_r = cos * rows - sin * cols + (h - 1) / 2
    src_c = sin * rows + cos * cols + (w - 1) / 2
    work = x.astype(x.dtype if x.dtype.kind == "f" else backend.floatx())

    def sample(r, c):
        (r, r_in), (c, c_in) = _fill_index(r, h, fill_mode), _fill_index(c, w, fill_mode)
        values = work[r, c]
        if fill_mode == "constant":
            values = np.where((r_in & c_in)[..., None], values, work.dtype.type(cval))
        return values

    if order == 0:
        return sample(np.rint(src_r).astype(np.int64), np.rint(src_c).astype(np.int64))
    r0, c0 = np.floor(src_r).astype(np.int64), np.floor(src_c).astype(np.int64)
    fr = (src_r - r0).astype(work.dtype)[..., None]
    fc = (src_c - c0).astype(work.dtype)[..., None]
    top = sample(r0, c0) * (1 - fc) + sample(r0, c0 + 1) * fc
    bottom = sample(r0 + 1, c0) * (1 - fc) + sample(r0 + 1, c0 + 1) * fc
    return top * (1 - fr) + bottom * fr


class ImageDataGenerator:
    """Random augmentation for batches of channels-last images, as Keras's ``ImageDataGenerator``.

    ``rotation_range`` (degrees), ``width_shift_range`` / ``height_shift_range`` (a fraction of
    the size when < 1, pixels otherwise), ``horizontal_flip`` / ``vertical_flip`` (each with
    probability 1/2), ``fill_mode`` and ``cval`` for pixels shifted in from outside, and
    ``rescale`` (multiplies every value after the transform, e.g. ``1/255``).
    """

    def __init__(self, rotation_range: float = 0, width_shift_range: float = 0.0,
                 height_shift_range: float = 0.0, horizontal_flip: bool = False,
                 vertical_flip: bool = False, fill_mode: str = "nearest", cval: float = 0.0,
                 rescale: float | None = None, interpolation_order: int = 1, dtype=None):
        for name, value in (("rotation_range", rotation_range), ("width_shift_range", width_shift_range),
                            ("height_shift_range", height_shift_range)):
            if not np.isscalar(value) or value < 0:
                raise ValueError(f"ImageDataGenerator: {name} must be a number >= 0, got {value!r}")
        if fill_mode not in FILL_MODES:
            raise ValueError(f"ImageDataGenerator: fill_mode must be one of {FILL_MODES}, got {fill_mode!r}")
        self.rotation_range = float(rotation_range)
        self.width_shift_range = float(width_shift_range)
        self.height_shift_range = float(height_shift_range)
        self.horizontal_flip = bool(horizontal_flip)
        self.vertical_flip = bool(vertical_flip)
        self.fill_mode, self.cval = fill_mode, float(cval)
        self.rescale = rescale
        self.interpolation_order = interpolation_order
        self.dtype = np.dtype(dtype or backend.floatx())

    def get_random_transform(self, img_shape: tuple, rng: np.random.Generator | None = None) -> dict:
        """Draw one image's transform: ``theta``, ``tx``, ``ty``, ``flip_horizontal``, ``flip_vertical``."""
        rng = rng or backend.rng()
        theta = rng.uniform(-self.rotation_range, self.rotation_range) if self.rotation_range else 0.0
        tx = ty = 0.0
        if self.height_shift_range:
            tx = rng.uniform(-self.height_shift_range, self.height_shift_range)
            tx *= img_shape[0] if self.height_shift_range < 1 else 1
        if self.width_shift_range:
            ty = rng.uniform(-self.width_shift_range, self.width_shift_range)
            ty *= img_shape[1] if self.width_shift_range < 1 else 1
        return {"theta": theta, "tx": tx, "ty": ty,
                "flip_horizontal": self.horizontal_flip and rng.random() < 0.5,
                "flip_vertical": self.vertical_flip and rng.random() < 0.5}

    def apply_transform(self, x, params: dict) -> np.ndarray:
        x = apply_affine_transform(x, params.get("theta", 0.0), params.get("tx", 0.0), params.get("ty", 0.0),
                                   self.fill_mode, self.cval, self.interpolation_order)
        if params.get("flip_horizontal"):
            x = x[:, ::-1]
        if params.get("flip_vertical"):
            x = x[::-1]
        return x

    def random_transform(self, x, rng: np.random.Generator | None = None) -> np.ndarray:
        return self.apply_transform(x, self.get_random_transform(np.shape(x), rng))

    def standardize(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=self.dtype)
        if self.rescale:
            x = x * self.dtype.type(self.rescale)
        return x

    def flow(self, x, y=None, batch_size: int = 32, shuffle: bool = True, seed: int | None = None):
        """Augmented batches of ``x`` (n, h, w, c) and, if given, the matching ``y``."""
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle, seed=seed)


class NumpyArrayIterator:
    """One epoch of augmented batches per pass: ``len()`` batches, ``it[i]`` is batch ``i``.

    Iterating yields ``(x_batch, y_batch)`` (or ``x_batch`` when there are no labels) and then
    reshuffles for the next epoch (``on_epoch_end``). Randomness comes from ``seed`` if given,
    otherwise from deepgrad's generator.
    """

    def __init__(self, x, y, image_data_generator: ImageDataGenerator, batch_size: int = 32,
                 shuffle: bool = True, seed: int | None = None):
        self.x = np.asarray(x)
        if self.x.ndim != 4:
            raise ValueError(f"flow expects images of shape (n, h, w, c), got {self.x.shape}")
        self.y = None if y is None else np.asarray(y)
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(f"flow: x and y must have the same length, got {len(self.x)} and {len(self.y)}")
        if int(batch_size) < 1:
            raise ValueError(f"flow: batch_size must be >= 1, got {batch_size}")
        self.generator = image_data_generator
        self.batch_size, self.shuffle = int(batch_size), shuffle
        self.rng = backend.rng() if seed is None else np.random.default_rng(seed)
        self.on_epoch_end()

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def on_epoch_end(self) -> None:
        n = len(self.x)
        self.index_array = self.rng.permutation(n) if self.shuffle else np.arange(n)

    def __getitem__(self, i: int):
        if not -len(self) <= i < len(self):
            raise IndexError(f"batch {i} out of range for {len(self)} batches")
        idx = self.index_array[(i % len(self)) * self.batch_size:][: self.batch_size]
        gen = self.generator
        batch = np.stack([gen.standardize(gen.random_transform(self.x[j], self.rng)) for j in idx])
        return batch if self.y is None else (batch, self.y[idx])

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]
        self.on_epoch_end()
