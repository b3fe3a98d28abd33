"""The transposed convolution's phase path (``ops.transpose_phases``): values against Keras and
the col2im path, gradients against PyTorch and central differences, parts and halves."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from oracle import check_gradients, compare_with_torch  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad import layers, runtime  # noqa: E402
from deepgrad.ops import convolution, transpose_phases  # noqa: E402
from deepgrad.ops.convolution import conv_transpose_bias  # noqa: E402


def normal(seed, shape, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.fixture
def calls(monkeypatch):
    """The phase path for any channel count, its calls counted (a test of it fails if it is not taken)."""
    monkeypatch.setattr(transpose_phases, "MIN_CHANNELS", 1)
    seen = []
    inner = transpose_phases.conv_transpose_phases

    def counted(*args, **kwargs):
        seen.append(args[0].shape)
        return inner(*args, **kwargs)

    monkeypatch.setattr(transpose_phases, "conv_transpose_phases", counted)
    return seen


def col2im_path(monkeypatch, fn):
    """``fn()`` with the phase path off (the col2im path)."""
    with monkeypatch.context() as m:
        m.setattr(transpose_phases, "applies", lambda *args: False)
        return fn()


# (spatial, kernel, strides, padding, output_padding)
GEOMETRIES = [
    ((7, 7), (4, 4), 2, "same", None),  # the DCGAN generator's layers
    ((5, 4), (4, 4), 2, "valid", None),
    ((5, 4), (3, 3), 2, "same", None),  # phases with 2 and 1 taps
    ((5, 4), (3, 3), 2, "valid", 1),
    ((5, 4), (5, 3), (3, 2), "valid", (2, 1)),  # negative crops: zeros added after the full output
    ((5, 4), (5, 3), (3, 2), "same", (1, 0)),
    ((4, 5), (3, 2), (2, 1), "same", None),  # a stride of 1 on one axis
    ((6,), (4,), 2, "same", None),
    ((6,), (5,), 3, "valid", 2),
    ((3, 4, 3), (3, 2, 3), 2, "same", None),
    ((3, 4, 3), (4, 3, 2), (2, 3, 2), "valid", (1, 2, 0)),
]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("spatial,kernel,strides,padding,output_padding", GEOMETRIES)
def test_phase_path_matches_keras(spatial, kernel, strides, padding, output_padding, data_format, calls):
    x = normal(0, (2, *spatial, 3))
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 1).copy()
    k = normal(1, (*kernel, 5, 3))
    expected = keras.ops.convert_to_numpy(
        keras.ops.conv_transpose(x, k, strides, padding, output_padding, data_format))
    out = dg.conv_transpose(x, k, strides, padding, output_padding, data_format)
    assert calls, "the phase path was not taken"
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("spatial,kernel,strides,padding,output_padding", GEOMETRIES)
def test_phase_path_with_bias_equals_the_col2im_path(spatial, kernel, strides, padding, output_padding, calls,
                                                     monkeypatch):
    nd = len(spatial)
    x, k, b = normal(2, (3, *spatial, 4)), normal(3, (*kernel, 6, 4)), normal(4, (6,))
    strides = (strides,) * nd if isinstance(strides, int) else strides
    if isinstance(output_padding, int):
        output_padding = (output_padding,) * nd

    def run():
        return conv_transpose_bias(x, k, b, strides, padding, output_padding).data

    phases = run()
    assert calls
    reference = col2im_path(monkeypatch, run)
    assert phases.shape == reference.shape and phases.flags.c_contiguous
    np.testing.assert_allclose(phases, reference, rtol=1e-12, atol=1e-12)


def test_phase_path_float32_at_the_dcgan_shapes_is_within_rounding_of_col2im(monkeypatch):
    # the default channel threshold: both of the DCGAN generator's layers take the phase path
    for shape, kshape in (((4, 7, 7, 128), (4, 4, 128, 128)), ((4, 14, 14, 128), (4, 4, 64, 128))):
        x, k, b = normal(5, shape, np.float32), normal(6, kshape, np.float32), normal(7, kshape[2:3], np.float32)
        assert transpose_phases.applies(kshape[:2], (2, 2), (1, 1), kshape[2])

        def run():
            return conv_transpose_bias(x, k, b, 2, "same").data

        out, reference = run(), col2im_path(monkeypatch, run)
        assert out.dtype == np.float32
        # sums of 512 products in another order: float32 rounding relative to the values' scale
        np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-6 * np.abs(reference).max())


@pytest.mark.parametrize("nd,strides,output_padding", [(1, 2, 1), (2, 2, 1), (2, 3, 2), (3, 2, 0)])
def test_phase_path_gradients_match_torch(nd, strides, output_padding, calls):
    x = normal(nd, (2, *(4, 3, 3)[:nd], 4))
    k = normal(6, (*(4, 3, 3)[:nd], 3, 4))
    fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nd - 1]

    def theirs(a, kk):
        out = fn(torch.movedim(a, -1, 1), torch.movedim(torch.movedim(kk, -1, 0), -1, 1), stride=strides,
                 output_padding=output_padding)
        return torch.movedim(out, 1, -1)

    compare_with_torch(lambda a, kk: dg.conv_transpose(a, kk, strides, "valid", output_padding), theirs, [x, k])
    assert calls


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_phase_path_central_differences(data_format, calls):
    x, k, b = normal(0, (2, 3, 2, 2)), normal(1, (3, 4, 3, 2)), normal(2, (3,))
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 1).copy()
    check_gradients(lambda a, kk, bb: conv_transpose_bias(a, kk, bb, 2, "same", 1, data_format), [x, k, b])
    assert calls


def test_keras_layer_with_the_phase_path_matches_keras():
    # Conv2DTranspose(32, 4, strides 2, "same") takes the phase path at the default threshold
    x = normal(8, (2, 5, 5, 6), np.float32)
    ours = layers.Conv2DTranspose(32, 4, strides=2, padding="same")
    theirs = keras.layers.Conv2DTranspose(32, 4, strides=2, padding="same")
    ours.build(x.shape)
    theirs.build(x.shape)
    theirs.set_weights([np.asarray(w) for w in ours.get_weights()])
    theirs.bias.assign(normal(9, (32,), np.float32))
    ours.bias.assign(np.asarray(theirs.bias))
    np.testing.assert_allclose(ours(x).data, keras.ops.convert_to_numpy(theirs(x)), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("part_bytes", [1, 1 << 12, 1 << 30])
def test_batch_parts_and_halves_give_the_same_bits(part_bytes, calls, monkeypatch):
    """A row of a phase's GEMM is the same dot product in any part of the batch and either thread."""
    x, k, b = normal(3, (6, 5, 4, 8), np.float32), normal(4, (4, 3, 7, 8), np.float32), normal(5, (7,), np.float32)

    def run():
        return conv_transpose_bias(x, k, b, 2, "same").data.copy()

    reference = run()
    monkeypatch.setattr(transpose_phases, "PART_BYTES", part_bytes)
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: False)
    monkeypatch.setattr(runtime, "_TAKE_BACK_UNSTARTED", False)
    for threshold in (1, 1 << 62):  # the halves in two threads, then in one
        monkeypatch.setattr(runtime, "_PARALLEL_MIN_SIZE", threshold)
        np.testing.assert_array_equal(run(), reference)
    assert calls


def test_every_output_cell_is_written_from_a_pool_of_garbage(calls, monkeypatch):
    from deepgrad.ops import workspace

    x, k, b = normal(6, (2, 5, 4, 3), np.float32), normal(7, (5, 3, 4, 3), np.float32), normal(8, (4,), np.float32)

    def run():
        return conv_transpose_bias(x, k, b, (3, 2), "valid", (2, 1)).data.copy()

    expected = run()
    monkeypatch.setattr(workspace, "empty", lambda shape, dtype: np.full(shape, np.nan, dtype))
    np.testing.assert_array_equal(run(), expected)


def test_applies_only_where_it_was_measured_to_pay():
    assert transpose_phases.applies((4, 4), (2, 2), (1, 1), 64)
    assert transpose_phases.applies((3, 3), (2, 1), (1, 1), 32)
    assert not transpose_phases.applies((4, 4), (2, 2), (1, 1), 16)  # narrow output
    assert not transpose_phases.applies((4, 4), (2, 2), (2, 1), 64)  # dilation
    assert not transpose_phases.applies((2, 2), (2, 2), (1, 1), 64)  # kernel = stride: col2im copies
    assert not transpose_phases.applies((2, 4), (3, 2), (1, 1), 64)  # a stride above the kernel


def test_axis_phases_cover_every_output_cell_once_with_its_taps():
    for k, s, crop_left, out_len in [(4, 2, 1, 14), (3, 2, 0, 9), (5, 3, 2, 10), (5, 3, -2, 12), (4, 1, 0, 6)]:
        seen = {}
        for r, cells, taps, first in transpose_phases.axis_phases(k, s, crop_left, out_len):
            for p in range(cells):
                o = p * s + r
                assert o < out_len and o not in seen
                seen[o] = [(p + first + j, t) for j, t in enumerate(taps)]
        assert sorted(seen) == list(range(out_len))
        for o, pairs in seen.items():  # cell o of the full output is o + crop_left = i s + t
            assert pairs == sorted(((o + crop_left - t) // s, t) for t in range(k) if (o + crop_left - t) % s == 0)
