"""Pooling layers: Keras names, defaults and shapes; values by formula; config round trip."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers
from deepgrad.layers.pooling import (
    AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D,
    GlobalMaxPooling2D, MaxPool2D, MaxPooling1D, MaxPooling2D,
)
from layer_test import run_layer_test


@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D])
@pytest.mark.parametrize("kwargs,expected", [
    ({}, (2, 3, 3, 2)),                                            # (2, 2) pool, strides = pool: 7 // 2 = 3
    ({"padding": "same"}, (2, 4, 4, 2)),                           # ceil(7 / 2) = 4
    ({"pool_size": 3, "strides": 1}, (2, 5, 5, 2)),                # 7 - 3 + 1 = 5
    ({"pool_size": (3, 2), "strides": (2, 3), "padding": "same"}, (2, 4, 3, 2)),
])
def test_pooling2d_layer_checks(cls, kwargs, expected):
    kwargs = {"pool_size": (2, 2), **kwargs}  # AveragePooling2D has no default pool_size, as in Keras
    layer, _ = run_layer_test(cls, kwargs, input_shape=(2, 7, 7, 2), expected_output_shape=expected,
                              expected_num_params=0)
    config = layer.get_config()
    assert config["strides"] == tuple(int(s) for s in np.broadcast_to(kwargs.get("strides", config["pool_size"]), 2))


@pytest.mark.parametrize("cls", [MaxPooling1D, AveragePooling1D])
@pytest.mark.parametrize("kwargs,expected", [({}, (2, 4, 3)), ({"pool_size": 3, "strides": 2, "padding": "same"},
                                                                 (2, 5, 3))])
def test_pooling1d_layer_checks(cls, kwargs, expected):
    kwargs = {"pool_size": 2, **kwargs}
    run_layer_test(cls, kwargs, input_shape=(2, 9, 3), expected_output_shape=expected, expected_num_params=0)


@pytest.mark.parametrize("cls,shape,expected", [
    (GlobalAveragePooling2D, (2, 4, 5, 3), (2, 3)), (GlobalMaxPooling2D, (2, 4, 5, 3), (2, 3)),
    (GlobalAveragePooling1D, (2, 6, 3), (2, 3)), (GlobalMaxPooling1D, (2, 6, 3), (2, 3)),
])
def test_global_pooling_layer_checks(cls, shape, expected):
    run_layer_test(cls, {}, input_shape=shape, expected_output_shape=expected)
    keep = (shape[0],) + (1,) * (len(shape) - 2) + (shape[-1],)
    run_layer_test(cls, {"keepdims": True}, input_shape=shape, expected_output_shape=keep)


def test_pooling_values_by_formula():
    x = np.random.default_rng(0).standard_normal((2, 4, 6, 3)).astype(np.float32)
    blocks = x.reshape(2, 2, 2, 3, 2, 3)  # (N, Ho, ph, Wo, pw, C)
    np.testing.assert_allclose(MaxPooling2D()(x).data, blocks.max(axis=(2, 4)))
    np.testing.assert_allclose(AveragePooling2D(2)(x).data, blocks.mean(axis=(2, 4)), rtol=1e-6)
    np.testing.assert_allclose(GlobalAveragePooling2D()(x).data, x.mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(GlobalMaxPooling2D()(x).data, x.max(axis=(1, 2)))
    seq = x[:, 0]  # (2, 6, 3)
    np.testing.assert_allclose(MaxPooling1D(3)(seq).data, seq.reshape(2, 2, 3, 3).max(axis=2))
    np.testing.assert_allclose(GlobalMaxPooling1D()(seq).data, seq.max(axis=1))


def test_global_average_pooling1d_averages_only_unmasked_steps():
    x = np.arange(12.0, dtype=np.float32).reshape(2, 3, 2)
    mask = np.array([[True, True, False], [True, False, False]])
    out = GlobalAveragePooling1D()(x, mask=mask)
    np.testing.assert_allclose(out.data, [[(0 + 2) / 2, (1 + 3) / 2], [6.0, 7.0]])
    assert out._keras_mask is None


def test_global_pooling_gradients():
    t = dg.Tensor(np.array([[[1.0], [3.0], [2.0]]]), requires_grad=True)
    GlobalMaxPooling1D()(t).sum().backward()
    np.testing.assert_array_equal(t.grad[0, :, 0], [0.0, 1.0, 0.0])
    t = dg.Tensor(np.ones((1, 2, 2, 1)), requires_grad=True)
    GlobalAveragePooling2D()(t).sum().backward()
    np.testing.assert_allclose(t.grad, np.full((1, 2, 2, 1), 0.25))


def test_keras_names_and_aliases_resolve():
    assert layers.get("MaxPooling2D") is MaxPooling2D and MaxPool2D is MaxPooling2D
    assert layers.get("AvgPool2D") is AveragePooling2D
    assert MaxPooling2D().get_config()["pool_size"] == (2, 2) and MaxPooling1D().pool_size == (2,)


def test_bad_arguments_and_inputs_are_rejected_clearly():
    with pytest.raises(ValueError, match=r"MaxPooling2D: padding"):
        MaxPooling2D(padding="causal")
    with pytest.raises(ValueError, match=r"AveragePooling2D: pool_size"):
        AveragePooling2D(pool_size=0)
    with pytest.raises(ValueError, match=r"GlobalAveragePooling2D: data_format"):
        GlobalAveragePooling2D(data_format="channels_middle")
    with pytest.raises(ValueError, match=r"layer 'pool'.*expected ndim=4, found ndim=3.*\(2, 8, 3\)"):
        MaxPooling2D(name="pool")(np.zeros((2, 8, 3), np.float32))
    with pytest.raises(ValueError, match=r"layer 'g'.*expected ndim=3, found ndim=4"):
        GlobalMaxPooling1D(name="g")(np.zeros((2, 8, 3, 1), np.float32))
