"""Every public name of ``keras.quantizers`` is in ``deepgrad.quantizers``, with Keras's parameters, their
order and their defaults; the quantizers compute what Keras's do and configs serialize as Keras's."""
import keras
import numpy as np
import pytest

import deepgrad.quantizers as dq
from surface import check_same_surface, surface_cases
from conftest import to_numpy

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("name", surface_cases(keras.quantizers))
def test_name_and_signature(name):
    check_same_surface("quantizers", keras.quantizers, dq, name)


@pytest.mark.parametrize("axis", [-1, 0, (0, 1)])
def test_abs_max_quantize_matches_keras(axis):
    x = RNG.normal(size=(4, 5, 3)).astype(np.float32)
    q, scale = dq.abs_max_quantize(x, axis)
    kq, kscale = keras.quantizers.abs_max_quantize(x, axis)
    np.testing.assert_array_equal(to_numpy(q), to_numpy(kq))
    np.testing.assert_allclose(to_numpy(scale), to_numpy(kscale), rtol=1e-7)
    assert to_numpy(q).dtype == np.int8


def test_grouped_zero_point_quantize_matches_keras():
    x = RNG.normal(size=(10, 4)).astype(np.float32)
    ours = dq.abs_max_quantize_grouped_with_zero_point(x, block_size=4, to_numpy=True)
    theirs = keras.quantizers.abs_max_quantize_grouped_with_zero_point(x, block_size=4, to_numpy=True)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-6)


@pytest.mark.parametrize("axis,rows", [(0, 5), (1, 4), (-1, 3)])
def test_int4_packing_matches_keras(axis, rows):
    x = RNG.integers(-8, 8, (5, 4, 3) if axis != 1 else (5, rows, 3)).astype(np.int8)
    packed, shape, n = dq.pack_int4(x, axis=axis)
    kpacked, kshape, kn = keras.quantizers.pack_int4(x, axis=axis)
    np.testing.assert_array_equal(to_numpy(packed), to_numpy(kpacked))
    assert (shape, n) == (tuple(kshape), kn)
    np.testing.assert_array_equal(to_numpy(dq.unpack_int4(packed, n, axis=axis)), x)


def test_float8_helpers_match_keras():
    amax, scale = np.array([2.0, 0.0, np.inf], np.float32), np.array([0.5, 0.25, 2.0], np.float32)
    np.testing.assert_allclose(to_numpy(dq.compute_float8_scale(amax, scale, 448.0, margin=1)),
                               to_numpy(keras.quantizers.compute_float8_scale(amax, scale, 448.0, margin=1)))
    x, history = RNG.normal(size=(3, 4)).astype(np.float32), np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(to_numpy(dq.compute_float8_amax_history(x, history)),
                                  to_numpy(keras.quantizers.compute_float8_amax_history(x, history)))
    np.testing.assert_allclose(to_numpy(dq.quantize_and_dequantize(x, 0.05, "float8_e4m3fn", "float32")),
                               to_numpy(keras.quantizers.quantize_and_dequantize(x, 0.05, "float8_e4m3fn",
                                                                                 "float32")))


@pytest.mark.parametrize("axis", [None, -1])
def test_fake_quant_matches_keras_values_and_gradients(axis):
    import torch
    import deepgrad as dg
    x = RNG.normal(size=(6, 3)).astype(np.float32) * 2
    lo = np.full(3 if axis is not None else (), -1.5, np.float32)
    hi = np.array([1.0, 2.0, 0.5], np.float32) if axis is not None else np.float32(1.2)
    xt, lot, hit = (torch.tensor(a, requires_grad=True) for a in (x, lo, hi))
    theirs = keras.quantizers.fake_quant_with_min_max_vars(xt, lot, hit, num_bits=4, axis=axis)
    g = RNG.normal(size=x.shape).astype(np.float32)
    theirs.backward(torch.tensor(g))
    xd, lod, hid = (dg.Tensor(a, requires_grad=True) for a in (x, lo, hi))
    ours = dq.fake_quant_with_min_max_vars(xd, lod, hid, num_bits=4, axis=axis)
    ours.backward(dg.Tensor(g))
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-6, atol=1e-6)
    for mine, their in ((xd, xt), (lod, lot), (hid, hit)):
        np.testing.assert_allclose(mine.grad, their.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_configs_serialize_as_keras():
    for ours, theirs in [(dq.Int8QuantizationConfig(), keras.quantizers.Int8QuantizationConfig()),
                         (dq.Int4QuantizationConfig(block_size=-1), keras.quantizers.Int4QuantizationConfig(
                             block_size=-1)),
                         (dq.Float8QuantizationConfig(), keras.quantizers.Float8QuantizationConfig()),
                         (dq.AbsMaxQuantizer(axis=0), keras.quantizers.AbsMaxQuantizer(axis=0))]:
        keras_config = keras.quantizers.serialize(theirs)
        assert ours.get_config() == keras_config["config"] or _plain(ours.get_config()) == _plain(
            keras_config["config"])
        back = dq.deserialize({"class_name": keras_config["class_name"], "config": _plain(keras_config["config"])})
        assert type(back) is type(ours) and back.get_config() == ours.get_config()
    assert dq.get("AbsMaxQuantizer", axis=0) is not None
    with pytest.raises(ValueError, match="value_range"):
        dq.AbsMaxQuantizer(value_range=(-200, 200))
    with pytest.raises(ValueError, match="block_size"):
        dq.Int4QuantizationConfig(block_size=0)


def _plain(config):
    """A Keras config without its ``module``/``registered_name`` keys, tuples as lists."""
    if isinstance(config, dict):
        return {k: _plain(v) for k, v in config.items() if k not in ("module", "registered_name")}
    if isinstance(config, (list, tuple)):
        return [_plain(v) for v in config]
    return config
