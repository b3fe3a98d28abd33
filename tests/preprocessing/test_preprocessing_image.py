"""Image files and arrays: load/save via Pillow on PNGs written here, resize against PyTorch, crop, scaling."""
import numpy as np
import pytest
import torch
from PIL import Image

from deepgrad.preprocessing.image import (array_to_img, center_crop, img_to_array, load_img, normalize_image,
                                          resize, save_img)


def blocks(height=4, width=6):
    """An RGB image of four flat-coloured quadrants."""
    x = np.zeros((height, width, 3), np.uint8)
    h, w = height // 2, width // 2
    x[:h, :w], x[:h, w:], x[h:, :w], x[h:, w:] = (255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 20, 30)
    return x


@pytest.fixture
def png(tmp_path):
    path = tmp_path / "blocks.png"
    Image.fromarray(blocks()).save(path)
    return path


def test_load_img_rgb_exact_pixels(png):
    img = load_img(png)
    assert img.mode == "RGB" and img.size == (6, 4)
    x = img_to_array(img)
    assert x.shape == (4, 6, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x, blocks())


def test_load_img_grayscale_and_rgba(png):
    gray = img_to_array(load_img(png, color_mode="grayscale"))
    assert gray.shape == (4, 6, 1)
    r, g, b = (blocks().astype(np.float64)[..., i] for i in range(3))
    # ITU-R 601-2 luma, as Pillow's convert("L") rounds it
    np.testing.assert_allclose(gray[..., 0], (r * 299 + g * 587 + b * 114) / 1000, atol=1)
    rgba = img_to_array(load_img(png, color_mode="rgba"))
    assert rgba.shape == (4, 6, 4)
    np.testing.assert_array_equal(rgba[..., 3], 255)


def test_load_img_target_size_nearest_keeps_block_colours(png):
    x = img_to_array(load_img(png, target_size=(2, 2)))
    np.testing.assert_array_equal(x.reshape(4, 3), [(255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 20, 30)])


def test_load_img_keep_aspect_ratio_crops_the_centre(tmp_path):
    x = np.zeros((4, 8, 3), np.uint8)
    x[:, 2:6] = 200  # the centred 4x4 square
    Image.fromarray(x).save(tmp_path / "wide.png")
    out = img_to_array(load_img(tmp_path / "wide.png", target_size=(2, 2), keep_aspect_ratio=True))
    np.testing.assert_array_equal(out, 200)


def test_load_img_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no image file at .*missing.png"):
        load_img(tmp_path / "missing.png")
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(ValueError, match="corrupt.png' is not a readable image file"):
        load_img(bad)
    with pytest.raises(ValueError, match="color_mode must be one of"):
        load_img(tmp_path / "missing.png", color_mode="cmyk")


def test_truncated_png_is_reported(png):
    png.write_bytes(png.read_bytes()[:40])
    with pytest.raises(ValueError, match="blocks.png' is not a readable image file"):
        load_img(png)


def test_save_img_round_trip(tmp_path):
    x = blocks().astype(np.float32)
    save_img(tmp_path / "out.png", x, scale=False)
    np.testing.assert_array_equal(img_to_array(load_img(tmp_path / "out.png")), x)
    gray = np.arange(12, dtype=np.float32).reshape(3, 4, 1)
    save_img(tmp_path / "g.png", gray)  # scale=True maps [0, 11] to [0, 255]
    back = img_to_array(load_img(tmp_path / "g.png", color_mode="grayscale"))
    # Keras truncates the scaled values to integers: floor(x / max * 255)
    np.testing.assert_array_equal(back, np.floor(gray / np.float32(11) * np.float32(255)))


def test_array_to_img_and_channels_first():
    x = blocks().astype(np.float32)
    img = array_to_img(x.transpose(2, 0, 1), data_format="channels_first", scale=False)
    np.testing.assert_array_equal(np.asarray(img), blocks())
    np.testing.assert_array_equal(img_to_array(img, data_format="channels_first"), x.transpose(2, 0, 1))
    with pytest.raises(ValueError, match="2 channels; only 1, 3 or 4"):
        array_to_img(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"rank 3 \(h, w, c\), got shape \(2, 2\)"):
        array_to_img(np.zeros((2, 2)))


@pytest.mark.parametrize("size", [(5, 7), (2, 3), (8, 12), (3, 9)])
@pytest.mark.parametrize("mode,torch_mode", [("bilinear", "bilinear"), ("nearest", "nearest-exact")])
def test_resize_matches_torch(size, mode, torch_mode):
    x = np.random.default_rng(0).random((2, 4, 6, 3)).astype(np.float32)
    kwargs = {"align_corners": False} if mode == "bilinear" else {}
    expected = torch.nn.functional.interpolate(torch.from_numpy(x).permute(0, 3, 1, 2), size=size, mode=torch_mode,
                                               **kwargs).permute(0, 2, 3, 1).numpy()
    out = resize(x, size, interpolation=mode)
    assert out.shape == (2,) + size + (3,) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(resize(x[0], size, mode), expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(resize(x[0, :, :, 0], size, mode), expected[0, :, :, 0], rtol=1e-5, atol=1e-6)


def test_resize_integer_images_round_back():
    x = np.array([[0, 255]], np.uint8)
    out = resize(x, (1, 4))
    assert out.dtype == np.uint8
    # half-pixel centres: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 -> 0, 63.75, 191.25, 255
    np.testing.assert_array_equal(out, [[0, 64, 191, 255]])
    with pytest.raises(ValueError, match="interpolation must be 'bilinear' or 'nearest'"):
        resize(x, (2, 2), "cubic")


def test_center_crop():
    x = np.arange(5 * 6).reshape(5, 6)
    np.testing.assert_array_equal(center_crop(x, (3, 2)), x[1:4, 2:4])
    batch = np.arange(2 * 4 * 4 * 1).reshape(2, 4, 4, 1)
    np.testing.assert_array_equal(center_crop(batch, (2, 2)), batch[:, 1:3, 1:3])
    with pytest.raises(ValueError, match="cannot cut 6x2 from an image of 5x6"):
        center_crop(x, (6, 2))


def test_normalize_image_formula():
    x = np.array([[[0, 51, 255]]], np.uint8)
    np.testing.assert_allclose(normalize_image(x), [[[0, 0.2, 1.0]]], rtol=1e-6)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    out = normalize_image(x, mean, std)
    np.testing.assert_allclose(out, (x / 255.0 - np.array(mean)) / np.array(std), rtol=1e-5)
    assert out.dtype == np.float32
    assert normalize_image(x.astype(np.float64)).dtype == np.float64
    with pytest.raises(ValueError, match="std must not contain zeros"):
        normalize_image(x, std=[1, 0, 1])


def test_pipeline_load_resize_crop_normalize(tmp_path):
    Image.fromarray(np.full((10, 20, 3), 102, np.uint8)).save(tmp_path / "flat.png")
    x = img_to_array(load_img(tmp_path / "flat.png", target_size=(8, 16)))
    x = normalize_image(center_crop(resize(x, (8, 8)), (4, 4)))[None]
    assert x.shape == (1, 4, 4, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x, 0.4, rtol=1e-6)
