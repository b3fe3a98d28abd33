"""Histogram equalization, global (``Equalization``) and contrast-limited adaptive (CLAHE).

Both work on the 0-255 scale with integer bins, so their outputs are piecewise constant in
the input: they are computed in NumPy and carry no gradient. Every channel of every image
is equalized at once (one ``bincount`` over offset bin indices, no loop over images).
"""
from __future__ import annotations

import numpy as np

from ...autograd import Tensor
from .base import BaseImagePreprocessingLayer, check_value_range
from .color import _to_range


def _channels_last(x: np.ndarray, data_format: str) -> np.ndarray:
    return x if data_format == "channels_last" else np.moveaxis(x, 1, -1)


def _restore(x: np.ndarray, data_format: str) -> np.ndarray:
    return x if data_format == "channels_last" else np.moveaxis(x, -1, 1)


def _histograms(indices: np.ndarray, bins: int) -> np.ndarray:
    """Counts of ``indices`` (..., n) in ``[0, bins)`` for every leading index: (..., bins)."""
    lead = indices.shape[:-1]
    groups = int(np.prod(lead))
    offset = (np.arange(groups) * bins).reshape(lead + (1,))
    counts = np.bincount((indices + offset).reshape(-1), minlength=groups * bins)
    return counts.reshape(lead + (bins,))


class Equalization(BaseImagePreprocessingLayer):
    """Keras's histogram equalization: per channel, over the whole batch, on the 0-255 scale,
    ``bin = int(x (bins - 1) / 255)``, ``lut = round(255 (cdf - cdf_min) / (cdf[-1] - cdf_min))``
    with ``cdf_min`` the first non-zero cumulative count; a channel with one occupied bin is
    kept. Applied with ``training=True`` only, as Keras."""

    _USE_BASE_FACTOR = False

    def __init__(self, value_range=(0, 255), bins=256, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.bins = bins
        self.value_range = check_value_range("Equalization", value_range)

    def transform_images(self, images, transformation=None, training=True):
        if not training:
            return images
        bins = self.bins
        x = _channels_last(images.data, self.data_format).astype(np.float32)
        x = _to_range(x, self.value_range, (0, 255)).astype(np.float32)
        channels = x.shape[-1]
        flat = x.reshape(-1, channels).T  # (channels, batch * height * width)
        index = np.clip((flat * np.float32(bins - 1) / np.float32(255)).astype(np.int32), 0, bins - 1)
        hist = _histograms(index, bins)
        cdf = np.cumsum(hist, axis=-1)
        cdf_min = np.take_along_axis(cdf, (cdf > 0).argmax(axis=-1)[:, None], axis=-1)
        denominator = cdf[:, -1:] - cdf_min
        denominator = np.where(denominator == 0, 1, denominator)
        lut = np.clip(np.round((cdf - cdf_min) * 255 / denominator), 0, 255).astype(np.float32)
        lookup = np.clip(flat / np.float32(255.0) * np.float32(bins - 1), 0, bins - 1).astype(np.int32)
        equalized = np.take_along_axis(lut, lookup, axis=-1)
        keep = (np.count_nonzero(hist, axis=-1) <= 1)[:, None]
        out = np.where(keep, flat, equalized).T.reshape(x.shape)
        out = _to_range(out, (0, 255), self.value_range)
        return Tensor(_restore(out, self.data_format).astype(images.dtype))

    def get_config(self):
        return {**super().get_config(), "bins": self.bins, "value_range": self.value_range}


class ContrastLimitedAdaptiveHistogramEqualization(BaseImagePreprocessingLayer):
    """CLAHE as Keras computes it: the (symmetric-padded) image is cut into ``tile_grid_size``
    tiles; each tile's 256-bin histogram is clipped at ``clip_limit * tile_pixels / 256``
    with the excess spread evenly, its normalised CDF is the tile's mapping, and every pixel
    blends the mappings of the four nearest tile centres bilinearly. Applied in inference
    too, as Keras."""

    _USE_BASE_FACTOR = False

    def __init__(self, value_range=(0, 255), clip_limit=4.0, tile_grid_size=(8, 8), data_format=None,
                 **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        check_value_range("ContrastLimitedAdaptiveHistogramEqualization", value_range)
        self.value_range = value_range
        self.clip_limit = clip_limit
        self.tile_grid_size = tile_grid_size

    def transform_images(self, images, transformation=None, training=True):
        x = _channels_last(images.data, self.data_format).astype(np.float32)
        x = _to_range(x, self.value_range, (0, 255)).astype(np.float32)
        out = _to_range(self._clahe(x), (0, 255), self.value_range)
        return Tensor(_restore(out, self.data_format).astype(images.dtype))

    def _clahe(self, images: np.ndarray) -> np.ndarray:
        n, height, width, channels = images.shape
        grid_h, grid_w = self.tile_grid_size
        tile_h, tile_w = -(-height // grid_h), -(-width // grid_w)
        pad_h, pad_w = tile_h * grid_h - height, tile_w * grid_w - width
        padded = np.pad(images, [(0, 0), (0, pad_h), (0, pad_w), (0, 0)], mode="symmetric")
        tiles = padded.reshape(n, grid_h, tile_h, grid_w, tile_w, channels).transpose(0, 1, 3, 5, 2, 4)
        tiles = np.clip(tiles.reshape(n, grid_h, grid_w, channels, tile_h * tile_w).astype(np.int32), 0, 255)
        hists = _histograms(tiles, 256).astype(np.float32)
        if self.clip_limit > 0:
            limit = np.float32(self.clip_limit * (tile_h * tile_w) / 256.0)
            clipped = np.clip(hists, 0, limit)
            hists = clipped + (hists - clipped).sum(axis=-1, keepdims=True) / np.float32(256.0)
        cdf = np.cumsum(hists, axis=-1)
        cdf_min = cdf.min(axis=-1, keepdims=True)
        denominator = np.float32(tile_h * tile_w) - cdf_min
        denominator = np.where(denominator == 0, np.float32(1), denominator)
        cdf = np.clip((cdf - cdf_min) * np.float32(255.0) / denominator, 0, 255)
        # a border of copied tiles, so pixels near the edge blend with their own tile
        cdf = np.pad(cdf, [(0, 0), (1, 1), (1, 1), (0, 0), (0, 0)], mode="edge")

        def corners(size, tile, grid):
            # position in tile units, shifted by the border: t = (i - tile / 2) / tile + 1
            t = (np.arange(size, dtype=np.float32) - np.float32(tile / 2.0)) / np.float32(tile) + 1
            low = np.floor(t)
            return (np.clip(low, 0, grid + 1).astype(np.int64), np.clip(low + 1, 0, grid + 1).astype(np.int64),
                    (t - low).astype(np.float32))

        y0, y1, wy = corners(tile_h * grid_h, tile_h, grid_h)
        x0, x1, wx = corners(tile_w * grid_w, tile_w, grid_w)
        pixels = np.clip(padded, 0, 255).astype(np.int32)
        b = np.arange(n)[:, None, None, None]
        c = np.arange(channels)[None, None, None, :]
        ys0, ys1 = y0[None, :, None, None], y1[None, :, None, None]
        xs0, xs1 = x0[None, None, :, None], x1[None, None, :, None]
        wy, wx = wy[None, :, None, None], wx[None, None, :, None]
        top = cdf[b, ys0, xs0, c, pixels] * (1.0 - wx) + cdf[b, ys0, xs1, c, pixels] * wx
        bottom = cdf[b, ys1, xs0, c, pixels] * (1.0 - wx) + cdf[b, ys1, xs1, c, pixels] * wx
        return (top * (1.0 - wy) + bottom * wy)[:, :height, :width, :]

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range, "clip_limit": self.clip_limit,
                "tile_grid_size": self.tile_grid_size}
