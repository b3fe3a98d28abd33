"""deepgrad.ops.image against keras.ops.image (torch backend), Pillow, PyTorch and central differences."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import inspect  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from hypothesis import given, strategies as st  # noqa: E402
from PIL import Image  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad.ops import image as im  # noqa: E402
from oracle import check_gradients, compare_with_torch  # noqa: E402

NAMES = ("affine_transform crop_images elastic_transform extract_patches extract_patches_3d "
         "gaussian_blur hsv_to_rgb map_coordinates pad_images perspective_transform resize "
         "rgb_to_grayscale rgb_to_hsv scale_and_translate sobel_edges ssim").split()


def kr(fn, *args, **kwargs):
    return keras.ops.convert_to_numpy(getattr(keras.ops.image, fn)(*args, **kwargs))


def images(rng, shape, dtype="float32"):
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0, 256, shape).astype(dtype)
    return rng.random(shape).astype(dtype)


def layout(shape_last, data_format):
    """A channels-last shape (..., h, w, c) in the given data format."""
    if data_format == "channels_last":
        return shape_last
    *lead, h, w, c = shape_last
    return (*lead, c, h, w)


def check_rounded(ours, theirs, exact):
    """Integer results: PyTorch sums float32 terms in another order, so values that are
    exact halves may round to the other integer; they may differ only there, by one."""
    assert ours.dtype == theirs.dtype, f"dtype {ours.dtype} != {theirs.dtype}"
    tie = np.abs(exact - np.floor(exact) - 0.5) < 1e-3
    assert np.all(np.abs(ours.data.astype(np.int64) - theirs.astype(np.int64)) <= tie)


def check(ours, theirs, rtol=1e-5, atol=1e-5):
    assert isinstance(ours, dg.Tensor)
    assert ours.dtype == theirs.dtype, f"dtype {ours.dtype} != {theirs.dtype}"
    np.testing.assert_allclose(ours.data.astype(np.float64), theirs.astype(np.float64), rtol=rtol, atol=atol)


# ---------------------------------------------------------------- namespace

def test_every_keras_name_with_its_signature():
    for name in NAMES:
        ours = inspect.signature(getattr(dg.ops.image, name))
        theirs = inspect.signature(getattr(keras.ops.image, name))
        assert list(ours.parameters) == list(theirs.parameters), name
        for p in theirs.parameters.values():
            assert ours.parameters[p.name].default == p.default, (name, p.name)
    assert sorted(n for n in dir(keras.ops.image) if not n.startswith("_")) == sorted(NAMES)
    assert not hasattr(dg.ops, "resize") and not hasattr(dg.ops, "ssim")


# ---------------------------------------------------------------- resize

SIZES = [((7, 9), (3, 4)), ((5, 6), (11, 13)), ((8, 8), (3, 12)), ((4, 10), (4, 3))]


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_resize_matches_keras(interpolation, antialias, data_format):
    rng = np.random.default_rng(0)
    for (h, w), size in SIZES:
        x = images(rng, layout((2, h, w, 3), data_format))
        check(im.resize(x, size, interpolation, antialias, data_format=data_format),
              kr("resize", x, size, interpolation, antialias, data_format=data_format))


@pytest.mark.parametrize("dtype", ["uint8", "int32", "float16", "float64"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
def test_resize_dtypes_and_single_image(dtype, interpolation):
    rng = np.random.default_rng(1)
    x = images(rng, (6, 7, 2), dtype)
    atol = 1e-2 if dtype == "float16" else 1e-5
    for size in [(3, 4), (9, 11)]:
        ours, theirs = im.resize(x, size, interpolation), kr("resize", x, size, interpolation)
        if dtype in ("uint8", "int32"):
            check_rounded(ours, theirs, im.resize(x.astype("float64"), size, interpolation).data)
        else:
            check(ours, theirs, atol=atol)


@pytest.mark.parametrize("option", ["crop_to_aspect_ratio", "pad_to_aspect_ratio"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_resize_aspect_ratio(option, data_format):
    rng = np.random.default_rng(2)
    for (h, w), size in [((6, 10), (4, 4)), ((10, 6), (4, 4)), ((7, 5), (3, 6)), ((5, 5), (2, 3))]:
        x = images(rng, layout((2, h, w, 3), data_format))
        kwargs = {option: True, "data_format": data_format, "fill_value": 0.5}
        check(im.resize(x, size, **kwargs), kr("resize", x, size, **kwargs))


@pytest.mark.parametrize("interpolation,pil", [("lanczos3", Image.LANCZOS), ("area", Image.BOX)])
def test_resize_lanczos_and_area_match_pillow(interpolation, pil):
    rng = np.random.default_rng(3)
    for (h, w), (th, tw) in [((20, 18), (7, 5)), ((6, 7), (13, 17)), ((12, 12), (4, 6)), ((17, 23), (5, 9))]:
        x = rng.random((h, w)).astype("float32")
        expected = np.asarray(Image.fromarray(x, mode="F").resize((tw, th), pil))
        out = im.resize(x[None, :, :, None], (th, tw), interpolation, antialias=True)
        np.testing.assert_allclose(out.data[0, :, :, 0], expected, atol=1e-6)


@pytest.mark.parametrize("interpolation", ["lanczos3", "lanczos5"])
@pytest.mark.parametrize("antialias", [False, True])
def test_resize_lanczos_is_keras_scale_and_translate(interpolation, antialias):
    # Keras's documented lanczos resize is scale_and_translate at scale out/in, no shift
    rng = np.random.default_rng(3)
    x = images(rng, (2, 9, 13, 2))
    for size in [(4, 20), (15, 6)]:
        scale = np.array([size[0] / 9, size[1] / 13], "float32")
        expected = kr("scale_and_translate", x, (2, *size, 2), scale, np.zeros(2, "float32"), (1, 2),
                      interpolation, antialias)
        check(im.resize(x, size, interpolation, antialias), expected)
    np.testing.assert_allclose(im.resize(np.ones((5, 5, 1)), (7, 3), interpolation).data, 1.0, atol=1e-6)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("antialias", [False, True])
def test_resize_gradient_matches_torch(interpolation, antialias):
    rng = np.random.default_rng(4)
    mode = {"nearest": "nearest-exact"}.get(interpolation, interpolation)
    for size in [(3, 5), (9, 4)]:
        x = rng.standard_normal((2, 6, 7, 3))
        aa = antialias and interpolation != "nearest"
        compare_with_torch(
            lambda t: im.resize(t, size, interpolation, antialias),
            lambda t: F.interpolate(t.permute(0, 3, 1, 2), size=size, mode=mode, antialias=aa,
                                    **({} if mode == "nearest-exact" else {"align_corners": False})
                                    ).permute(0, 2, 3, 1),
            [x])


def test_resize_gradient_central_differences():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 5, 4, 2))
    check_gradients(lambda t: im.resize(t, (3, 6), "lanczos3", pad_to_aspect_ratio=True, fill_value=2.0), [x])
    check_gradients(lambda t: im.resize(t, (2, 2), "area", crop_to_aspect_ratio=True), [x])


def test_resize_errors():
    x = np.zeros((4, 4, 3), "float32")
    with pytest.raises(ValueError, match="resize.*rank"):
        im.resize(np.zeros((4, 4)), (2, 2))
    with pytest.raises(ValueError, match="resize.*interpolation"):
        im.resize(x, (2, 2), "cubic")
    with pytest.raises(ValueError, match="resize.*positive"):
        im.resize(x, (0, 2))
    with pytest.raises(ValueError, match="resize.*tuple of 2"):
        im.resize(x, (2, 2, 2))
    with pytest.raises(ValueError, match="resize.*only one"):
        im.resize(x, (2, 2), crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)
    with pytest.raises(ValueError, match="resize.*fill_mode"):
        im.resize(x, (2, 2), fill_mode="reflect")


# ---------------------------------------------------------------- scale_and_translate

@pytest.mark.parametrize("method", ["linear", "cubic", "lanczos3", "lanczos5"])
@pytest.mark.parametrize("antialias", [True, False])
def test_scale_and_translate_matches_keras(method, antialias):
    rng = np.random.default_rng(6)
    x = images(rng, (2, 9, 8, 3))
    for shape, scale, translation in [((2, 4, 13, 3), [0.45, 1.7], [0.3, -1.2]),
                                      ((2, 20, 5, 3), [2.3, 0.6], [-2.0, 0.5])]:
        args = (shape, np.array(scale, "float32"), np.array(translation, "float32"), (1, 2), method, antialias)
        check(im.scale_and_translate(x, *args), kr("scale_and_translate", x, *args))
    xi = images(rng, (7, 6), "int32")
    args = ((4, 9), np.array([0.6, 1.5], "float32"), np.array([0.0, 0.5], "float32"), (0, 1), method, antialias)
    check_rounded(im.scale_and_translate(xi, *args), kr("scale_and_translate", xi, *args),
                  im.scale_and_translate(xi.astype("float64"), *args).data)


def test_scale_and_translate_gradient_and_errors():
    rng = np.random.default_rng(7)
    check_gradients(lambda t: im.scale_and_translate(t, (3, 7), [0.5, 1.4], [0.2, -0.3], (0, 1), "cubic"),
                    [rng.standard_normal((5, 4))])
    with pytest.raises(ValueError, match="scale_and_translate.*method"):
        im.scale_and_translate(np.zeros((3, 3)), (3, 3), [1, 1], [0, 0], (0, 1), "nearest")


# ---------------------------------------------------------------- colour

@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "uint8", "int32"])
def test_rgb_to_grayscale(data_format, dtype):
    rng = np.random.default_rng(8)
    for shape in [(2, 5, 4, 3), (5, 4, 3), (2, 5, 4, 1)]:
        x = images(rng, layout(shape, data_format), dtype)
        check(im.rgb_to_grayscale(x, data_format), kr("rgb_to_grayscale", x, data_format))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_hsv_round_trip_matches_keras(data_format, dtype):
    rng = np.random.default_rng(9)
    x = images(rng, layout((2, 6, 5, 3), data_format), dtype)
    x[0, 0, 0] = 0.5  # grey pixels (zero range) and ties between channels
    x[..., :1, :1] = 0.25
    check(im.rgb_to_hsv(x, data_format), kr("rgb_to_hsv", x, data_format))
    hsv = kr("rgb_to_hsv", x, data_format)
    check(im.hsv_to_rgb(hsv, data_format), kr("hsv_to_rgb", hsv, data_format))
    np.testing.assert_allclose(im.hsv_to_rgb(im.rgb_to_hsv(x, data_format), data_format).data, x, atol=1e-5)


def test_colour_gradients():
    rng = np.random.default_rng(10)
    x = rng.uniform(0.05, 0.95, (2, 3, 3, 3))
    check_gradients(lambda t: im.rgb_to_hsv(t), [x], atol=1e-6)
    h = rng.uniform(0.05, 0.95, (1, 3, 4, 3))
    check_gradients(lambda t: im.hsv_to_rgb(t), [h], atol=1e-6)
    check_gradients(lambda t: im.rgb_to_grayscale(t, "channels_first"), [rng.random((3, 2, 2))])


def test_colour_errors():
    with pytest.raises(ValueError, match="rgb_to_hsv.*float"):
        im.rgb_to_hsv(np.zeros((2, 2, 3), "uint8"))
    with pytest.raises(ValueError, match="hsv_to_rgb.*rank"):
        im.hsv_to_rgb(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="rgb_to_grayscale.*channel"):
        im.rgb_to_grayscale(np.zeros((2, 2, 2), "float32"))


# ---------------------------------------------------------------- sampling

FILL = ["constant", "nearest", "wrap", "mirror", "reflect"]


@pytest.mark.parametrize("fill_mode", FILL)
@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_map_coordinates_matches_keras(fill_mode, order, dtype):
    rng = np.random.default_rng(11)
    x = images(rng, (5, 6, 2), dtype)
    coords = [rng.uniform(-4, 9, (3, 7)).astype("float32") for _ in range(2)]
    coords.append(rng.integers(0, 2, (3, 7)).astype("int32"))
    check(im.map_coordinates(x, coords, order, fill_mode, 3), kr("map_coordinates", x, coords, order, fill_mode, 3))
    x1 = images(rng, (7,), dtype)
    c1 = [np.linspace(-10, 17, 40).astype("float32")]
    check(im.map_coordinates(x1, c1, order, fill_mode), kr("map_coordinates", x1, c1, order, fill_mode))


@pytest.mark.parametrize("fill_mode", FILL)
def test_map_coordinates_gradient(fill_mode):
    rng = np.random.default_rng(12)
    coords = np.stack([rng.uniform(-3, 7, (4, 3)) + 0.01, rng.uniform(-3, 7, (4, 3)) + 0.01])
    for order in (0, 1):
        check_gradients(lambda t: im.map_coordinates(t, coords, order, fill_mode, 1.5),
                        [rng.standard_normal((4, 5))])


def test_map_coordinates_gradient_matches_grid_sample():
    # grid_sample with align_corners=True samples pixel i at normalised 2 i / (n - 1) - 1
    rng = np.random.default_rng(13)
    h, w = 5, 6
    ys, xs = rng.uniform(-1, h, (4, 7)), rng.uniform(-1, w, (4, 7))
    grid = np.stack([xs / (w - 1) * 2 - 1, ys / (h - 1) * 2 - 1], -1)[None]
    compare_with_torch(
        lambda t: im.map_coordinates(t, [ys, xs], 1),
        lambda t: F.grid_sample(t[None, None], torch.tensor(grid), "bilinear", "zeros", align_corners=True)[0, 0],
        [rng.standard_normal((h, w))])


def test_map_coordinates_errors():
    with pytest.raises(ValueError, match="map_coordinates.*rank"):
        im.map_coordinates(np.zeros((3, 3)), [np.zeros(2)], 1)
    with pytest.raises(ValueError, match="map_coordinates.*fill_mode"):
        im.map_coordinates(np.zeros((3, 3)), [np.zeros(2), np.zeros(2)], 1, "edge")
    with pytest.raises(NotImplementedError, match="order"):
        im.map_coordinates(np.zeros((3, 3)), [np.zeros(2), np.zeros(2)], 3)


def _affine(rng, n):
    angle = rng.uniform(-0.6, 0.6, n)
    zoom = rng.uniform(0.7, 1.3, n)
    return np.stack([np.cos(angle) * zoom, -np.sin(angle), rng.uniform(-2, 2, n),
                     np.sin(angle), np.cos(angle) * zoom, rng.uniform(-2, 2, n),
                     np.zeros(n), np.zeros(n)], axis=1).astype("float32")


@pytest.mark.parametrize("fill_mode", FILL)
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_affine_transform_matches_keras(fill_mode, interpolation, data_format):
    rng = np.random.default_rng(14)
    x = images(rng, layout((2, 7, 8, 3), data_format))
    t = _affine(rng, 2)
    args = (interpolation, fill_mode, 0.5, data_format)
    check(im.affine_transform(x, t, *args), kr("affine_transform", x, t, *args))
    xi = images(rng, layout((7, 8, 3), data_format), "uint8")
    check(im.affine_transform(xi, t[0], *args), kr("affine_transform", xi, t[0], *args))


def test_affine_transform_projective_terms_match_perspective_transform():
    rng = np.random.default_rng(15)
    x = images(rng, (2, 9, 10, 2))
    start = np.array([[0, 0], [9, 0], [0, 8], [9, 8]], "float32")
    end = start + rng.uniform(-1.5, 1.5, (2, 4, 2)).astype("float32")
    coeffs = im._homography(np.broadcast_to(start, end.shape), end, np.float32)
    check(im.affine_transform(x, coeffs), kr("perspective_transform", x, start[None].repeat(2, 0), end),
          atol=1e-4)


def test_affine_transform_gradient_and_errors():
    rng = np.random.default_rng(16)
    t = _affine(rng, 1)[0].astype(np.float64) + 0.003
    check_gradients(lambda a: im.affine_transform(a, t, fill_mode="reflect"), [rng.standard_normal((5, 4, 2))])
    with pytest.raises(ValueError, match="affine_transform.*transform"):
        im.affine_transform(np.zeros((3, 3, 1)), np.zeros(6))
    with pytest.raises(ValueError, match="affine_transform.*interpolation"):
        im.affine_transform(np.zeros((3, 3, 1)), np.zeros(8), "bicubic")
    with pytest.raises(ValueError, match="affine_transform.*rank"):
        im.affine_transform(np.zeros((3, 3)), np.zeros(8))


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_perspective_transform_matches_keras(interpolation, data_format):
    rng = np.random.default_rng(17)
    x = images(rng, layout((2, 9, 10, 3), data_format))
    start = np.array([[0, 0], [9, 0], [0, 8], [9, 8]], "float32")
    end = (start + rng.uniform(-1.5, 1.5, (4, 2))).astype("float32")
    args = (start, end, interpolation, 0.25, data_format)
    check(im.perspective_transform(x, *args), kr("perspective_transform", x, *args), atol=1e-4)
    check(im.perspective_transform(x[0], *args), kr("perspective_transform", x[0], *args), atol=1e-4)


def test_perspective_transform_gradient_and_errors():
    rng = np.random.default_rng(18)
    start = np.array([[0, 0], [4, 0], [0, 4], [4, 4]], "float64")
    end = start + np.array([[0.3, 0.1], [-0.2, 0.4], [0.1, -0.3], [0.2, 0.2]])
    check_gradients(lambda a: im.perspective_transform(a, start, end), [rng.standard_normal((5, 5, 1))])
    with pytest.raises(ValueError, match="perspective_transform.*start_points"):
        im.perspective_transform(np.zeros((5, 5, 1)), np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="same shape"):
        im.perspective_transform(np.zeros((5, 5, 1)), np.zeros((4, 2)), np.zeros((1, 4, 2)))


@pytest.mark.parametrize("fill_mode", ["reflect", "constant", "wrap"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_elastic_transform_matches_keras_with_the_same_noise(fill_mode, data_format):
    rng = np.random.default_rng(19)
    x = images(rng, layout((2, 12, 11, 3), data_format))
    for interpolation, alpha, sigma in [("bilinear", 3.0, 1.2), ("nearest", 5.0, 2.0)]:
        torch.manual_seed(5)
        expected = kr("elastic_transform", x, alpha, sigma, interpolation, fill_mode, 0.5, data_format=data_format)
        torch.manual_seed(5)
        noise = [torch.normal(0.0, 1.0, size=(2, 12, 11), dtype=torch.float32).numpy() for _ in range(2)]
        out = im._elastic(dg.Tensor(x), *noise, alpha, sigma, interpolation, fill_mode, 0.5, data_format)
        check(out, expected, atol=1e-4)


def test_elastic_transform_seed_shape_and_gradient():
    rng = np.random.default_rng(20)
    x = images(rng, (6, 7, 2), "float64")
    a = im.elastic_transform(x, seed=3)
    assert a.shape == x.shape and a.dtype == np.float64
    np.testing.assert_array_equal(a.data, im.elastic_transform(x, seed=3).data)
    assert np.abs(a.data - im.elastic_transform(x, seed=4).data).max() > 1e-3
    np.testing.assert_allclose(im.elastic_transform(x, alpha=0.0).data, x, atol=1e-12)
    dg.utils.set_random_seed(1)
    b = im.elastic_transform(x)
    dg.utils.set_random_seed(1)
    np.testing.assert_array_equal(b.data, im.elastic_transform(x).data)
    check_gradients(lambda t: im.elastic_transform(t, 2.0, 1.0, seed=0), [x[:4, :4]])
    with pytest.raises(ValueError, match="elastic_transform.*fill_mode"):
        im.elastic_transform(x, fill_mode="edge")


# ---------------------------------------------------------------- filters

@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("kernel_size,sigma", [((3, 3), (1.0, 1.0)), ((5, 5), (0.8, 1.7)), ((4, 4), (1.0, 2.0))])
def test_gaussian_blur_matches_keras(data_format, kernel_size, sigma):
    rng = np.random.default_rng(21)
    for shape, dtype in [((2, 9, 8, 3), "float32"), ((7, 6, 2), "float64")]:
        x = images(rng, layout(shape, data_format), dtype)
        check(im.gaussian_blur(x, kernel_size, sigma, data_format),
              kr("gaussian_blur", x, kernel_size, sigma, data_format))


def test_gaussian_blur_gradient_matches_torch():
    rng = np.random.default_rng(22)
    k = np.exp(-0.5 * ((np.arange(5) - 2) / 1.3) ** 2)
    kernel = torch.tensor(np.outer(k / k.sum(), k / k.sum()))[None, None].repeat(3, 1, 1, 1)
    compare_with_torch(lambda t: im.gaussian_blur(t, 5, 1.3),
                       lambda t: F.conv2d(t.permute(0, 3, 1, 2), kernel, padding=2, groups=3).permute(0, 2, 3, 1),
                       [rng.standard_normal((2, 6, 7, 3))])


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_sobel_edges_matches_keras_and_gradient(data_format):
    rng = np.random.default_rng(23)
    x = images(rng, layout((2, 6, 7, 3), data_format))
    check(im.sobel_edges(x, data_format), kr("sobel_edges", x, data_format))
    check_gradients(lambda t: im.sobel_edges(t, data_format), [rng.standard_normal(layout((1, 4, 3, 2), data_format))])
    single = im.sobel_edges(x[1], data_format)
    np.testing.assert_allclose(single.data, kr("sobel_edges", x, data_format)[1], atol=1e-5)
    with pytest.raises(ValueError, match="sobel_edges.*rank"):
        im.sobel_edges(np.zeros((4, 4)))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ssim_matches_keras(data_format, dtype):
    rng = np.random.default_rng(24)
    for shape in [(2, 16, 14, 3), (13, 12, 1)]:
        a = images(rng, layout(shape, data_format), dtype)
        b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1).astype(dtype)
        check(im.ssim(a, b, data_format=data_format), kr("ssim", a, b, data_format=data_format))
        kwargs = dict(max_val=2.0, filter_size=5, filter_sigma=0.9, k1=0.02, k2=0.05, data_format=data_format)
        check(im.ssim(a, b, **kwargs), kr("ssim", a, b, **kwargs))


def test_ssim_gradient_and_errors():
    rng = np.random.default_rng(25)
    a, b = rng.random((1, 6, 5, 2)), rng.random((1, 6, 5, 2))
    check_gradients(lambda s, t: im.ssim(s, t, filter_size=3), [a, b])
    np.testing.assert_allclose(im.ssim(a, a, filter_size=3).data, 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="ssim.*smaller"):
        im.ssim(a, b)
    with pytest.raises(ValueError, match="ssim.*same shape"):
        im.ssim(a, b[:, :5])


# ---------------------------------------------------------------- patches, crops, pads

PATCH_CASES = [(3, None, 1, "valid"), ((2, 3), (1, 2), 1, "valid"), ((3, 2), 2, 1, "same"),
               (2, 1, 2, "valid"), ((3, 3), (2, 1), 1, "same")]


@pytest.mark.parametrize("size,strides,dilation,padding", PATCH_CASES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_extract_patches_matches_keras(size, strides, dilation, padding, data_format):
    rng = np.random.default_rng(26)
    for shape in [(2, 9, 8, 3), (7, 10, 2)]:
        x = images(rng, layout(shape, data_format))
        args = (size, strides, dilation, padding, data_format)
        check(im.extract_patches(x, *args), kr("extract_patches", x, *args))


@pytest.mark.parametrize("size,strides,padding", [(2, None, "valid"), ((2, 3, 2), (1, 2, 2), "same"), (3, 2, "same")])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_extract_patches_3d_matches_keras(size, strides, padding, data_format):
    rng = np.random.default_rng(27)
    shape = (2, 5, 6, 7, 2) if data_format == "channels_last" else (2, 2, 5, 6, 7)
    x = images(rng, shape)
    args = (size, strides, 1, padding, data_format)
    check(im.extract_patches_3d(x, *args), kr("extract_patches_3d", x, *args))
    check(im.extract_patches_3d(x[0], *args), kr("extract_patches_3d", x[0], *args))
    if isinstance(size, tuple):
        check(im.extract_patches(x, size, strides, 1, padding, data_format),
              kr("extract_patches", x, size, strides, 1, padding, data_format))


def test_extract_patches_gradient_matches_torch():
    # unfold orders features (channel, tap) where Keras orders (tap, channel)
    rng = np.random.default_rng(28)

    def torch_patches(t):
        u = F.unfold(t.permute(0, 3, 1, 2), (2, 3), dilation=1, padding=0, stride=(1, 2))  # (n, c*6, L)
        n, c = t.shape[0], t.shape[3]
        return u.reshape(n, c, 6, 3, 3).permute(0, 3, 4, 2, 1).reshape(n, 3, 3, 6 * c)

    compare_with_torch(lambda t: im.extract_patches(t, (2, 3), (1, 2)), torch_patches, [rng.standard_normal((2, 4, 7, 2))])
    check_gradients(lambda t: im.extract_patches(t, 3, 2, padding="same"), [rng.standard_normal((1, 5, 4, 2))])


def test_extract_patches_int_and_errors():
    x = np.arange(2 * 6 * 6 * 1).reshape(2, 6, 6, 1).astype("int32")
    out = im.extract_patches(x, 3, padding="same")
    assert out.dtype == np.int32 and out.shape == (2, 2, 2, 9)
    np.testing.assert_array_equal(out.data[0, 0, 0], x[0, :3, :3, 0].reshape(-1))
    with pytest.raises(TypeError, match="extract_patches.*size"):
        im.extract_patches(x, "3")
    with pytest.raises(ValueError, match="extract_patches.*length"):
        im.extract_patches(x, (1, 2, 3, 4))
    with pytest.raises(ValueError, match="extract_patches.*larger"):
        im.extract_patches(x, 7)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("dtype", ["float32", "int32", "uint8"])
def test_pad_and_crop_images_match_keras(data_format, dtype):
    rng = np.random.default_rng(29)
    for shape in [(2, 6, 7, 3), (6, 7, 3)]:
        x = images(rng, layout(shape, data_format), dtype)
        for kwargs in [dict(top_padding=1, left_padding=2, bottom_padding=0, right_padding=3),
                       dict(top_padding=2, target_height=9, right_padding=1, target_width=10),
                       dict(bottom_padding=2, target_height=8, left_padding=0, target_width=7)]:
            check(im.pad_images(x, **kwargs, data_format=data_format), kr("pad_images", x, **kwargs, data_format=data_format))
        for kwargs in [dict(top_cropping=1, left_cropping=2, bottom_cropping=0, right_cropping=3),
                       dict(top_cropping=2, target_height=3, right_cropping=1, target_width=4),
                       dict(bottom_cropping=2, target_height=4, left_cropping=0, target_width=7)]:
            check(im.crop_images(x, **kwargs, data_format=data_format), kr("crop_images", x, **kwargs, data_format=data_format))


def test_pad_and_crop_gradients_and_errors():
    rng = np.random.default_rng(30)
    x = rng.standard_normal((1, 4, 5, 2))
    check_gradients(lambda t: im.pad_images(t, 1, 2, 0, 1), [x])
    check_gradients(lambda t: im.crop_images(t, 1, 2, target_height=2, target_width=2), [x])
    with pytest.raises(ValueError, match="pad_images.*exactly two"):
        im.pad_images(x, 1, 1, 1, target_height=6, right_padding=1)
    with pytest.raises(ValueError, match="pad_images.*top_padding must be >= 0"):
        im.pad_images(x, bottom_padding=3, target_height=5, left_padding=0, right_padding=0)
    with pytest.raises(ValueError, match="crop_images.*must be >= 0"):
        im.crop_images(x, top_cropping=-1, bottom_cropping=0, left_cropping=0, right_cropping=0)
    with pytest.raises(ValueError, match="crop_images.*rank"):
        im.crop_images(np.zeros((3, 3)), 0, 0, 0, 0)


@given(h=st.integers(2, 9), w=st.integers(2, 9), th=st.integers(1, 12), tw=st.integers(1, 12),
       interpolation=st.sampled_from(["bilinear", "bicubic", "nearest"]), antialias=st.booleans())
def test_resize_random_shapes(h, w, th, tw, interpolation, antialias):
    x = np.random.default_rng(h * 100 + w).random((1, h, w, 2)).astype("float32")
    check(im.resize(x, (th, tw), interpolation, antialias), kr("resize", x, (th, tw), interpolation, antialias))


# ---------------------------------------------------------------- backward twice

_R = np.random.default_rng(31)
_COORDS = [_R.uniform(-1, 4, 5), _R.uniform(-1, 4, 5)]  # fixed: every call samples the same points
BACKWARD_CASES = {
    "AlongAxis": (lambda t: im.resize(t, (3, 5), "bicubic"), [_R.standard_normal((1, 4, 6, 2))]),
    "WeightedGather": (lambda t: im.map_coordinates(t, _COORDS, 1), [_R.standard_normal((4, 4))]),
    "GatherPixels": (lambda t: im.affine_transform(t, [0.9, 0.2, 0.3, -0.1, 1.1, -0.4, 0, 0], fill_mode="reflect"),
                     [_R.standard_normal((2, 5, 4, 3))]),
}


def test_float16_images_keep_their_dtype():
    rng = np.random.default_rng(32)
    x = images(rng, (2, 7, 6, 3), "float16")
    t = _affine(rng, 2)
    check(im.affine_transform(x, t), kr("affine_transform", x, t), atol=2e-3)
    check(im.gaussian_blur(x, data_format="channels_last"), kr("gaussian_blur", x, data_format="channels_last"), atol=2e-3)
    check(im.rgb_to_grayscale(x), kr("rgb_to_grayscale", x), atol=2e-3)
    check(im.extract_patches(x, 2), kr("extract_patches", x, 2))
    check(im.crop_images(x, 1, 1, 1, 1), kr("crop_images", x, 1, 1, 1, 1))
