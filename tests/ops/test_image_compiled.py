"""``affine_transform`` as one compiled loop (``deepgrad.loops.affine``, on by default) against the
NumPy path it stands for: the same numbers for every fill mode, interpolation, data format,
projective transforms, positions many images away, both float dtypes and transforms in the other
one; the NumPy path when a gradient is needed, without the extension, or with DEEPGRAD_LOOPS=0."""
import numpy as np
import pytest

from deepgrad import layers
from deepgrad.autograd import Tensor
from deepgrad.ops import image, image_compiled
from compiled_switch import extension, off_cases

extension("affine")  # skips when not built


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


@pytest.mark.parametrize("image_dtype, transform_dtype", [(np.float32, np.float64), (np.float64, np.float32)])
def test_positions_far_outside_and_mixed_dtypes_give_the_numpy_paths_numbers(monkeypatch, image_dtype,
                                                                            transform_dtype):
    """Zoomed out five times and shifted by several images, every fill mode folds indices many
    images away (Python's modulo of negative numbers); the coefficients in another dtype than the
    images' round their weights to the images' dtype."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 7, 6, 2)).astype(image_dtype)
    t = np.array([[5, 0.3, -40, 0.2, 5, 33, 0, 0], [-4.5, 0, 55, 0, 6, -70, 0, 0],
                  [5, 0.3, -40, 0.2, 5, 33, 0.01, -0.02], [0.7, 0, 1.5, 0, 0.6, -2.5, 0, 0]], transform_dtype)
    assert image_compiled.kernel() is not None
    for interpolation in ("nearest", "bilinear"):
        for mode in image.FILL_MODES:
            def run():
                return image.affine_transform(x, t, interpolation, mode, 2.5).data
            got, want = run(), numpy_path(monkeypatch, run)
            assert got.dtype == want.dtype == image_dtype
            np.testing.assert_array_equal(got, want, err_msg=f"{interpolation} {mode}")


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


def test_off_without_the_extension_or_with_the_switch_at_zero(monkeypatch):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 5, 5, 1)).astype(np.float32)
    t = transforms(rng, 2, False, np.float32)
    monkeypatch.setattr(image_compiled, "loaded", {})
    monkeypatch.delenv("DEEPGRAD_LOOPS", raising=False)
    assert image_compiled.kernel() is not None  # unset: on by default
    with_loop = image.affine_transform(x, t, "bilinear", "wrap").data
    for _ in off_cases(monkeypatch, image_compiled, "affine"):
        assert image_compiled.kernel() is None
        out = image.affine_transform(x, t, "bilinear", "wrap")
        np.testing.assert_array_equal(out.data, with_loop)
    assert image_compiled.kernel() is not None


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
