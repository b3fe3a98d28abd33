"""Input specs against Keras 3 (PyTorch backend): every layer whose Keras twin sets an
``input_spec`` sets the same one at the same moment (``__init__`` or ``build``), and an input
of the wrong rank or the wrong number of channels is refused with Keras's facts (the layer,
what was expected, what was found, the shape) on eager and on symbolic calls alike."""
import os
import re

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover - the oracle needs Keras on PyTorch
    pytest.skip("Keras must run on its PyTorch backend here", allow_module_level=True)

import deepgrad as dg  # noqa: E402
from deepgrad.layers import InputSpec  # noqa: E402


def _wrapping(inner: str, **kwargs):
    """Arguments of a wrapper layer: ``inner`` made in the framework ``L`` (keras.layers or deepgrad.layers)."""
    return lambda L: {"layer": getattr(L, inner)(name="inner", **kwargs)}


# (class, arguments, a shape it is built on, a shape of the wrong rank, one with the wrong channels; or None)
CASES = [
    ("Dense", dict(units=3), (2, 4), (4,), (2, 5)),
    ("EinsumDense", dict(equation="ab,bc->ac", output_shape=3), (2, 4), (2, 3, 4), None),
    ("Conv1D", dict(filters=2, kernel_size=2), (2, 5, 3), (2, 5), (2, 5, 4)),
    ("Conv2D", dict(filters=2, kernel_size=2), (2, 5, 5, 3), (2, 5, 5), (2, 5, 5, 4)),
    ("Conv2D", dict(filters=2, kernel_size=2, data_format="channels_first"), (2, 3, 5, 5), (2, 5, 5),
     (2, 4, 5, 5)),
    ("Conv3D", dict(filters=2, kernel_size=2), (1, 3, 3, 3, 2), (1, 3, 3, 3), (1, 3, 3, 3, 3)),
    ("Conv1DTranspose", dict(filters=2, kernel_size=2), (2, 5, 3), (2, 5), (2, 5, 4)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=2, data_format="channels_first"), (2, 3, 4, 4), (2, 4, 4),
     (2, 4, 4, 4)),
    ("Conv3DTranspose", dict(filters=2, kernel_size=2), (1, 3, 3, 3, 2), (1, 3, 3, 3), (1, 3, 3, 3, 3)),
    ("DepthwiseConv1D", dict(kernel_size=2), (2, 5, 3), (2, 5), (2, 5, 4)),
    ("DepthwiseConv2D", dict(kernel_size=2, data_format="channels_first"), (2, 3, 5, 5), (2, 5, 5), (2, 4, 5, 5)),
    ("SeparableConv1D", dict(filters=2, kernel_size=2), (2, 5, 3), (2, 5), (2, 5, 4)),
    ("SeparableConv2D", dict(filters=2, kernel_size=2), (2, 5, 5, 3), (2, 5, 5), (2, 5, 5, 4)),
    ("MaxPooling1D", dict(), (2, 4, 3), (2, 4), None),
    ("MaxPooling2D", dict(), (2, 4, 4, 3), (2, 4, 4), None),
    ("AveragePooling2D", dict(pool_size=2, data_format="channels_first"), (2, 3, 4, 4), (2, 4, 4), None),
    ("AveragePooling3D", dict(pool_size=2), (1, 4, 4, 4, 2), (1, 4, 4, 4), None),
    ("GlobalMaxPooling1D", dict(), (2, 4, 3), (2, 4), None),
    ("GlobalAveragePooling1D", dict(), (2, 4, 3), (2, 4, 3, 1), None),
    ("GlobalAveragePooling2D", dict(), (2, 4, 4, 3), (2, 4, 4), None),
    ("GlobalMaxPooling3D", dict(), (1, 4, 4, 4, 2), (1, 4, 4, 4), None),
    ("BatchNormalization", dict(), (2, 4, 3), (2, 3), (2, 4, 5)),
    ("BatchNormalization", dict(axis=1), (2, 3, 4), (2, 3), (2, 5, 4)),
    ("GroupNormalization", dict(groups=2), (2, 5, 4), (2, 4), (2, 5, 6)),
    # (its spec, min_ndim=1, refuses scalars only, which its Dense refuses first in both frameworks)
    ("SpectralNormalization", _wrapping("Dense", units=3), (2, 4), None, (2, 5)),
    ("PReLU", dict(), (2, 4, 3), (2, 3), (2, 4, 5)),
    ("PReLU", dict(shared_axes=[1]), (2, 4, 3), (2, 3), (2, 4, 5)),
    ("Flatten", dict(), (2, 3, 4), (), None),
    ("Permute", dict(dims=(2, 1)), (2, 3, 4), (2, 3), None),
    ("RepeatVector", dict(n=3), (2, 4), (2, 4, 1), None),
    ("UpSampling1D", dict(), (2, 3, 4), (2, 3), None),
    ("UpSampling2D", dict(), (2, 3, 3, 4), (2, 3, 3), None),
    ("UpSampling3D", dict(), (1, 2, 2, 2, 3), (1, 2, 2, 2), None),
    ("ZeroPadding1D", dict(), (2, 3, 4), (2, 3), None),
    ("ZeroPadding2D", dict(), (2, 3, 3, 4), (2, 3, 3), None),
    ("ZeroPadding3D", dict(), (1, 2, 2, 2, 3), (1, 2, 2, 2), None),
    ("Cropping1D", dict(), (2, 5, 4), (2, 5), None),
    ("Cropping2D", dict(), (2, 5, 5, 4), (2, 5, 5), None),
    ("Cropping3D", dict(), (1, 4, 4, 4, 3), (1, 4, 4, 4), None),
    ("SpatialDropout1D", dict(rate=0.5), (2, 3, 4), (2, 3), None),
    ("SpatialDropout2D", dict(rate=0.5), (2, 3, 3, 4), (2, 3, 3), None),
    ("SpatialDropout3D", dict(rate=0.5), (1, 2, 2, 2, 3), (1, 2, 2, 2), None),
    ("SimpleRNN", dict(units=2), (2, 3, 4), (2, 4), None),
    ("LSTM", dict(units=2), (2, 3, 4), (2, 4), None),
    ("GRU", dict(units=2), (2, 3, 4), (2, 4), None),
    ("Bidirectional", _wrapping("LSTM", units=2), (2, 3, 4), (2, 4), None),
    ("ConvLSTM1D", dict(filters=2, kernel_size=2), (1, 2, 4, 3), (1, 4, 3), (1, 2, 4, 5)),
    ("ConvLSTM2D", dict(filters=2, kernel_size=2), (1, 2, 4, 4, 3), (1, 4, 4, 3), (1, 2, 4, 4, 5)),
    ("STFTSpectrogram", dict(frame_length=8, frame_step=4, fft_length=8), (1, 32, 1), (1, 32), None),
]
IDS = [f"{name}-{i}" for i, (name, *_) in enumerate(CASES)]

# "Input 0 with name 'None' of layer 'lay' is incompatible with the layer: expected ndim=3, found ..."
_SPEC_ERROR = re.compile(r"Input (\d+) with name '(.*?)' of layer '(\w+)' is incompatible with the layer: "
                         r"([^\n\x1b]*)")


def _make(L, name, arguments):
    arguments = arguments(L) if callable(arguments) else arguments
    return getattr(L, name)(name="lay", **arguments)


def _spec_error(call):
    """``(layer, facts)`` of the input-spec error ``call()`` raises (Keras may wrap it in the
    error of the layer around the one that checked); None when it raises none."""
    try:
        call()
    except Exception as e:  # noqa: BLE001 - an error that is not the spec's counts as none
        found = _SPEC_ERROR.search(str(e))
        return None if found is None else (found.group(3), found.group(4).strip())
    return None


def _described(spec):
    """What a spec says, comparable across the two frameworks (a list stays a list)."""
    if isinstance(spec, (list, tuple)):
        return ["list"] + [_described(s) for s in spec]
    if spec is None:
        return None
    shape = None if spec.shape is None else tuple(spec.shape)
    return (type(spec).__name__, spec.ndim, spec.min_ndim, spec.max_ndim, dict(spec.axes), shape, spec.dtype)


def _both_refuse_alike(keras_call, dg_call):
    """Keras's input-spec error and deepgrad's carry the same facts: the layer that checked,
    what it expected, what it found and the shape; when Keras's check lets the input through
    (another error, or none), deepgrad's spec lets it through too."""
    want = _spec_error(keras_call)
    if want is None:
        assert _spec_error(dg_call) is None
        return
    with pytest.raises(ValueError) as raised:
        dg_call()
    found = _SPEC_ERROR.search(str(raised.value))
    assert found is not None, str(raised.value)
    assert (found.group(3), found.group(4).strip()) == want


def _eager_call(layer, shape):
    return lambda: layer(np.zeros(shape, "float32"))


@pytest.mark.parametrize("name,arguments,good,wrong_rank,wrong_channels", CASES, ids=IDS)
def test_eager_calls_are_checked_as_keras_checks_them(name, arguments, good, wrong_rank, wrong_channels):
    k_layer, d_layer = _make(keras.layers, name, arguments), _make(dg.layers, name, arguments)
    assert _described(d_layer.input_spec) == _described(k_layer.input_spec)   # set in __init__, or not yet
    if wrong_rank is not None:
        _both_refuse_alike(_eager_call(k_layer, wrong_rank), _eager_call(d_layer, wrong_rank))
    k_layer, d_layer = _make(keras.layers, name, arguments), _make(dg.layers, name, arguments)
    k_layer(np.zeros(good, "float32")), d_layer(np.zeros(good, "float32"))
    assert _described(d_layer.input_spec) == _described(k_layer.input_spec)   # as build left it
    if wrong_rank is not None:
        _both_refuse_alike(_eager_call(k_layer, wrong_rank), _eager_call(d_layer, wrong_rank))
    if wrong_channels is not None:
        _both_refuse_alike(_eager_call(k_layer, wrong_channels), _eager_call(d_layer, wrong_channels))
    d_layer(np.zeros((1,) + good[1:], "float32"))   # another batch size still meets the spec


@pytest.mark.parametrize("name,arguments,good,wrong_rank,wrong_channels", CASES, ids=IDS)
def test_symbolic_calls_are_checked_as_keras_checks_them(name, arguments, good, wrong_rank, wrong_channels):
    def symbolic(framework, layer, shape):
        return lambda: layer(framework.layers.Input(shape[1:]))

    rank_checked = bool(wrong_rank)  # a symbolic input has a batch axis at least
    k_layer, d_layer = _make(keras.layers, name, arguments), _make(dg.layers, name, arguments)
    if rank_checked:
        _both_refuse_alike(symbolic(keras, k_layer, wrong_rank), symbolic(dg, d_layer, wrong_rank))
    k_layer, d_layer = _make(keras.layers, name, arguments), _make(dg.layers, name, arguments)
    k_layer(keras.layers.Input(good[1:])), d_layer(dg.layers.Input(good[1:]))
    assert _described(d_layer.input_spec) == _described(k_layer.input_spec)
    if rank_checked:
        _both_refuse_alike(symbolic(keras, k_layer, wrong_rank), symbolic(dg, d_layer, wrong_rank))
    if wrong_channels is not None:
        _both_refuse_alike(symbolic(keras, k_layer, wrong_channels), symbolic(dg, d_layer, wrong_channels))


@pytest.mark.parametrize("name,arguments,good,wrong_rank,wrong_channels", CASES[:12], ids=IDS[:12])
def test_the_spec_stays_out_of_the_config(name, arguments, good, wrong_rank, wrong_channels):
    layer = _make(dg.layers, name, arguments)
    layer(np.zeros(good, "float32"))
    config = layer.get_config()
    assert "input_spec" not in config
    assert set(config) == set(_make(keras.layers, name, arguments).get_config())
    copy = type(layer).from_config(config)
    copy(np.zeros(good, "float32"))
    assert _described(copy.input_spec) == _described(layer.input_spec)


def test_a_model_loaded_from_a_file_checks_its_layers_again(tmp_path):
    model = dg.Sequential([dg.layers.Input((5, 5, 3)), dg.layers.Conv2D(2, 2, name="conv"),
                           dg.layers.Flatten(name="flat"), dg.layers.Dense(2, name="head")])
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = dg.models.load_model(path)
    assert _described(loaded.get_layer("conv").input_spec) == (
        "InputSpec", None, 4, None, {-1: 3}, None, None)
    with pytest.raises(ValueError, match=r"layer 'conv'.*expected axis -1 of input shape to have value 3"):
        loaded.get_layer("conv")(np.zeros((1, 5, 5, 4), "float32"))


class _Pairs(dg.layers.Layer):
    """Inputs of rank 2 whose last axis is 2, checked by the spec set in ``__init__``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = InputSpec(ndim=2, axes={-1: 2})

    def call(self, inputs):
        return inputs * 2.0


class _KerasPairs(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = keras.layers.InputSpec(ndim=2, axes={-1: 2})

    def call(self, inputs):
        return inputs * 2.0


class _ClassSpec(dg.layers.Layer):
    """A spec given as a class attribute, which Keras's ``__call__`` reads as well."""

    input_spec = InputSpec(min_ndim=3)

    def call(self, inputs):
        return inputs


def test_a_custom_layer_that_sets_input_spec_is_checked_like_keras():
    k_layer, d_layer = _KerasPairs(name="pairs"), _Pairs(name="pairs")
    for shape in [(3,), (4, 3, 2), (4, 3)]:
        _both_refuse_alike(_eager_call(k_layer, shape), _eager_call(d_layer, shape))
    np.testing.assert_array_equal(d_layer(np.ones((3, 2), "float32")).data, np.full((3, 2), 2.0))
    # a call of another shape after an accepted one is checked again (eager and symbolic)
    _both_refuse_alike(_eager_call(k_layer, (3, 5)), _eager_call(d_layer, (3, 5)))
    _both_refuse_alike(lambda: k_layer(keras.layers.Input((5,))), lambda: d_layer(dg.layers.Input((5,))))
    assert d_layer(dg.layers.Input((2,))).shape == (None, 2)
    with pytest.raises(ValueError, match=r"layer '_class_spec'.*expected min_ndim=3, found ndim=2"):
        _ClassSpec(name="_class_spec")(np.zeros((2, 2), "float32"))


def test_a_spec_set_or_cleared_after_calls_takes_effect_at_once():
    layer = _Pairs(name="pairs")
    layer(np.zeros((4, 2), "float32"))            # accepted: the next calls of this shape skip the check
    layer.input_spec = InputSpec(ndim=2, axes={-1: 3})
    with pytest.raises(ValueError, match=r"layer 'pairs'.*axis -1 of input shape to have value 3.*\(4, 2\)"):
        layer(np.zeros((4, 2), "float32"))
    layer.input_spec = None                        # no spec, no check, as in Keras
    assert layer(np.zeros((4, 2, 7), "float32")).shape == (4, 2, 7)
    layer.input_spec = [InputSpec(ndim=2)]        # a list of one spec for the one input
    assert layer(np.zeros((4, 2), "float32")).shape == (4, 2)
    with pytest.raises(ValueError, match=r"expected ndim=2, found ndim=1"):
        layer(np.zeros((4,), "float32"))


def test_a_spec_per_input_is_matched_to_a_list_of_inputs():
    class Sum(dg.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.input_spec = [InputSpec(ndim=2), InputSpec(ndim=2, axes={-1: 3})]

        def call(self, inputs):
            return inputs[0] + inputs[1]

    layer = Sum(name="sum")
    a = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(layer([a, a]).data, 2 * a)
    with pytest.raises(ValueError, match=r"Input 1 .* layer 'sum'.*axis -1 of input shape to have value 3"):
        layer([a, np.ones((2, 4), "float32")])
    with pytest.raises(ValueError, match=r"Layer \"sum\" expects 2 input\(s\), but it received 1"):
        layer([a])


def test_a_subclassed_model_that_sets_input_spec_is_checked_like_keras():
    def model_class(framework):
        class Net(framework.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.head = framework.layers.Dense(2)
                self.input_spec = framework.layers.InputSpec(ndim=2)

            def call(self, inputs):
                return self.head(inputs)
        return Net

    k_model, d_model = model_class(keras)(name="net"), model_class(dg)(name="net")
    assert d_model(np.zeros((3, 4), "float32")).shape == (3, 2)
    k_model(np.zeros((3, 4), "float32"))
    _both_refuse_alike(_eager_call(k_model, (3, 4, 1)), _eager_call(d_model, (3, 4, 1)))
    _both_refuse_alike(lambda: model_class(keras)(name="net")(keras.layers.Input((4, 1))),
                       lambda: model_class(dg)(name="net")(dg.layers.Input((4, 1))))
