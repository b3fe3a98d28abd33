"""``affine_transform`` as one compiled loop (numba, used by default when installed) against the
NumPy path it stands for: the same numbers for every fill mode, interpolation, data format,
projective transforms and both float dtypes; the NumPy path when a gradient is needed, without
numba, or with DEEPGRAD_NUMBA=0."""
import sys

import numpy as np
import pytest

from deepgrad import layers
from deepgrad.autograd import Tensor
from deepgrad.ops import image, image_compiled

numba = pytest.importorskip("numba")


def numpy_path(monkeypatch, fn):
    with monkeypatch.context() as m:
        m.setitem(image_compiled.loaded, "affine", None)
        return fn()


def transforms(rng, n, projective, dtype):
    t = rng.standard_normal((n, 8)) * [0.3, 0.3, 3, 0.3, 0.3, 3, 0, 0]
    t[:, 0] += 1
    t[:, 4] += 1
    if projective:
        t[:, 6:] = rng.standard_normal((n, 2)) * 0.02
    return t.astype(dtype)


@pytest.mark.parametrize("shape, data_format", [((6, 28, 28, 1), "channels_last"),
                                                ((3, 2, 9, 13), "channels_first"),
                                                ((2, 5, 4, 3), "channels_last"),
                                                ((3, 1, 1, 2), "channels_last")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_loop_gives_the_numpy_paths_numbers(monkeypatch, shape, data_format, dtype):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape).astype(dtype)
    assert image_compiled.kernel() is not None
    for projective in (False, True):
        for single in (False, True):
            t = transforms(rng, 1 if single else shape[0], projective, dtype)
            for interpolation in ("nearest", "bilinear"):
                for mode in image.FILL_MODES:
                    for fill in (0.0, -1.5):
                        def run():
                            return image.affine_transform(x, t, interpolation, mode, fill, data_format).data
                        got, want = run(), numpy_path(monkeypatch, run)
                        assert got.dtype == want.dtype and got.shape == want.shape
                        np.testing.assert_array_equal(got, want, err_msg=f"{interpolation} {mode} {fill}")


def test_a_batch_split_over_two_threads_gives_the_same_numbers(monkeypatch):
    rng = np.random.default_rng(3)
    x = rng.random((64, 40, 40, 3), dtype=np.float32)  # large enough for two threads
    t = transforms(rng, 64, False, np.float32)
    run = lambda: image.affine_transform(x, t, "bilinear", "reflect").data  # noqa: E731
    np.testing.assert_array_equal(run(), numpy_path(monkeypatch, run))


def test_an_image_that_needs_a_gradient_takes_the_numpy_path(monkeypatch):
    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal((2, 6, 7, 2)).astype(np.float32), requires_grad=True)
    t = transforms(rng, 2, False, np.float32)
    calls = []
    monkeypatch.setattr(image_compiled, "affine", lambda *a: calls.append(a))
    out = image.affine_transform(x, t, "bilinear", "reflect")
    (out * out).sum().backward()
    assert not calls and x.grad is not None and np.abs(x.grad).sum() > 0


def test_off_without_numba_or_with_the_switch_at_zero(monkeypatch):
    monkeypatch.setattr(image_compiled, "loaded", {})
    monkeypatch.setenv("DEEPGRAD_NUMBA", "0")
    assert image_compiled.kernel() is None
    monkeypatch.setattr(image_compiled, "loaded", {})
    monkeypatch.delenv("DEEPGRAD_NUMBA")
    monkeypatch.setitem(sys.modules, "numba", None)
    assert image_compiled.kernel() is None
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 5, 5, 1)).astype(np.float32)
    out = image.affine_transform(x, transforms(rng, 2, False, np.float32), "bilinear", "wrap")
    assert out.shape == x.shape and np.isfinite(out.data).all()
    monkeypatch.setattr(image_compiled, "loaded", {})


@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_random_flip_without_a_gradient_flips_the_drawn_images(mode, data_format):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((16, 3, 5, 4)).astype(np.float32)
    layer = layers.RandomFlip(mode, seed=7, data_format=data_format)
    flips = layer.get_random_transformation(x, np.random.default_rng(8))
    got = layer.transform_images(x, flips).data
    h, w = (1, 2) if data_format == "channels_last" else (2, 3)
    axes = {"horizontal": (w,), "vertical": (h,), "horizontal_and_vertical": (h, w)}[mode]
    want = np.where(flips.reshape(-1, 1, 1, 1), np.flip(x, axis=axes), x)
    assert 0 < flips.sum() < 16
    np.testing.assert_array_equal(got, want)
    tensor = Tensor(x, requires_grad=True)  # with a gradient: the ops path, the same values
    np.testing.assert_array_equal(layer.transform_images(tensor, flips).data, want)
