"""``run_layer_test``: the checks every layer passes, in the Keras style.

Builds the layer on data, checks the output shape, the weights (count, shapes, Keras
order, trainable split), ``compute_output_shape`` and a symbolic call, the config round
trip (same outputs after ``set_weights``), the error of a wrong ``set_weights`` and, when
the layer has trainable weights, that every one of them receives a gradient.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers


def _inference_call(layer, x, call_kwargs):
    kwargs = dict(call_kwargs)
    if layer._call_takes_training:
        kwargs.setdefault("training", False)
    return layer(x, **kwargs)


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def run_layer_test(layer_cls, init_kwargs=None, input_shape=None, input_data=None, input_dtype="float32",
                   call_kwargs=None, expected_output_shape=None, expected_weight_shapes=None,
                   expected_num_trainable_weights=None, expected_num_non_trainable_weights=None,
                   expected_num_params=None, expected_trainable_params=None, run_training_check=True,
                   run_symbolic_check=True, seed=0):
    """Run the standard layer checks; returns ``(layer, outputs)`` for further assertions."""
    init_kwargs = dict(init_kwargs or {})
    call_kwargs = dict(call_kwargs or {})
    rng = np.random.default_rng(seed)
    if input_data is None:
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        input_data = [rng.standard_normal(s).astype(input_dtype) for s in shapes]
        input_data = input_data if isinstance(input_shape, list) else input_data[0]

    layer = layer_cls(**init_kwargs)
    outputs = _inference_call(layer, input_data, call_kwargs)
    assert layer.built, f"{layer_cls.__name__} not built after its first call"

    if expected_output_shape is not None:
        assert tuple(outputs.shape) == tuple(expected_output_shape), (outputs.shape, expected_output_shape)
    if expected_weight_shapes is not None:
        assert [w.shape for w in layer.weights] == [tuple(s) for s in expected_weight_shapes]
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights
    if expected_num_non_trainable_weights is not None:
        assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights
    if expected_num_params is not None:
        assert layer.count_params() == expected_num_params
    if expected_trainable_params is not None:
        assert sum(w.size for w in layer.trainable_weights) == expected_trainable_params

    # shape inference and the symbolic call agree with the real output
    batch_free = [(None,) + tuple(np.shape(x)[1:]) for x in _as_list(input_data)]
    symbolic_shape = batch_free if isinstance(input_data, (list, tuple)) else batch_free[0]
    assert tuple(layer.compute_output_shape(symbolic_shape)) == (None,) + tuple(outputs.shape[1:])
    if run_symbolic_check:
        fresh = layer_cls(**init_kwargs)
        sym_in = [layers.Input(shape=s[1:], dtype=np.asarray(x).dtype)
                  for s, x in zip(batch_free, _as_list(input_data))]
        sym_out = fresh(sym_in if isinstance(input_data, (list, tuple)) else sym_in[0], **call_kwargs)
        assert tuple(sym_out.shape) == (None,) + tuple(outputs.shape[1:])

    # config round trip: JSON-able, rebuilds a layer that computes the same thing
    config = layer.get_config()
    json.dumps(config)
    clone = layer_cls.from_config(config)
    _inference_call(clone, input_data, call_kwargs)
    clone.set_weights(layer.get_weights())
    again = _inference_call(clone, input_data, call_kwargs)
    np.testing.assert_allclose(again.data, outputs.data, rtol=1e-6, atol=1e-6)
    assert type(clone).__name__ == layer_cls.__name__
    rebuilt = layers.deserialize(layers.serialize(layer))
    assert type(rebuilt) is layer_cls

    # a weight of the wrong shape is refused by name
    if layer.weights:
        wrong = [np.zeros(tuple(s + 1 for s in w.shape), w.dtype) for w in layer.weights]
        with pytest.raises(ValueError, match=layer.name):
            layer.set_weights(wrong)

    if run_training_check and layer.trainable_weights:
        kwargs = dict(call_kwargs)
        if layer._call_takes_training:
            kwargs["training"] = True
        out = layer(input_data, **kwargs)
        upstream = rng.standard_normal(out.shape).astype(out.dtype)
        dg.sum(out * upstream).backward()
        for w in layer.trainable_weights:
            assert w.grad is not None, f"{w.name} received no gradient"
            assert w.grad.shape == w.shape
            assert np.all(np.isfinite(w.grad))
    return layer, outputs
