"""The Keras layers added around the Layer base: LoRA, ReversibleEmbedding, batch renormalisation,
UpSampling2D's resize kernels, Wrapper, TorchModuleWrapper, the other backends' layers, string
inputs, the automatic config of a user's layer, and the recurrent layers as ``RNN`` + cell."""
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad import layers, models

from layer_test import run_layer_test

RNG = np.random.default_rng(0)


# --------------------------------------------------------------------------- run_layer_test
@pytest.mark.parametrize("cls, kwargs, shape, out, weights, trainable", [
    (layers.Dense, dict(units=3, lora_rank=2), (4, 5), (4, 3), [(5, 3), (3,), (5, 2), (2, 3)], 3),
    (layers.EinsumDense, dict(equation="abc,cd->abd", output_shape=(None, 3), bias_axes="d", lora_rank=2),
     (2, 4, 5), (2, 4, 3), [(5, 3), (3,), (5, 2), (2, 3)], 3),
    (layers.BatchNormalization, dict(renorm=True, renorm_clipping={"rmax": 2.0}), (6, 4), (6, 4),
     [(4,)] * 7, 2),
    (layers.UpSampling2D, dict(size=(2, 3), interpolation="bicubic"), (2, 3, 4, 2), (2, 6, 12, 2), [], 0),
    (layers.UpSampling2D, dict(size=2, interpolation="lanczos3", data_format="channels_first"), (2, 2, 3, 4),
     (2, 2, 6, 8), [], 0),
])
def test_run_layer_test(cls, kwargs, shape, out, weights, trainable):
    run_layer_test(cls, init_kwargs=kwargs, input_shape=shape, expected_output_shape=out,
                   expected_weight_shapes=weights, expected_num_trainable_weights=trainable)


@pytest.mark.parametrize("kwargs, weights", [
    (dict(input_dim=9, output_dim=4), [(9, 4)]),
    (dict(input_dim=9, output_dim=4, tie_weights=False, mask_zero=True), [(9, 4), (4, 9)]),
    (dict(input_dim=9, output_dim=4, lora_rank=2, logit_soft_cap=3.0), [(9, 4), (9, 2), (2, 4)]),
])
def test_reversible_embedding_layer_test(kwargs, weights):
    ids = RNG.integers(0, 9, (3, 5))
    run_layer_test(layers.ReversibleEmbedding, init_kwargs=kwargs, input_data=ids, expected_output_shape=(3, 5, 4),
                   expected_weight_shapes=weights, run_training_check=False)
    # the reverse call: shape (also symbolic), config round trip, a gradient for every trainable weight
    layer = layers.ReversibleEmbedding(**kwargs)
    layer(ids)
    vectors = dg.Tensor(RNG.standard_normal((3, 5, 4)).astype(np.float32))
    logits = layer(vectors, reverse=True)
    assert logits.shape == (3, 5, 9) == (3,) + layer.compute_output_shape((None, 5, 4), reverse=True)[1:]
    assert layers.ReversibleEmbedding(**kwargs)(layers.Input((5, 4)), reverse=True).shape == (None, 5, 9)
    clone = layers.ReversibleEmbedding.from_config(layer.get_config())
    clone(ids)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(vectors, reverse=True).data, logits.data, rtol=1e-6)
    (logits * logits).sum().backward()
    reached = [w.name.split("/")[-1] for w in layer.trainable_weights if w.grad is not None and np.any(w.grad)]
    # untied: only the reverse table; LoRA: B (A's gradient is zero while B is zero); else the table
    expected = (["reverse_embeddings"] if not layer.tie_weights else ["lora_embeddings_b"] if layer.lora_enabled
                else ["embeddings"])
    assert reached == expected


def test_reversible_embedding_formulas():
    layer = layers.ReversibleEmbedding(6, 3, logit_soft_cap=0.5)
    layer(np.array([[1]]))
    table = layer.embeddings.data
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(layer(x, reverse=True).data, 0.5 * np.tanh(x @ table.T / 0.5), rtol=1e-6)
    ids = np.array([[0, 2, 5]])
    np.testing.assert_array_equal(layer(ids).data, table[ids])
    untied = layers.ReversibleEmbedding(6, 3, tie_weights=False, mask_zero=True)
    out = untied(ids)
    np.testing.assert_array_equal(out._keras_mask, ids != 0)
    np.testing.assert_allclose(untied(x, reverse=True).data, x @ untied.reverse_embeddings.data, rtol=1e-6)
    with pytest.raises(ValueError, match="size 3"):
        untied(np.zeros((2, 4), np.float32), reverse=True)


# --------------------------------------------------------------------------- LoRA
def test_lora_freezes_the_weight_and_trains_the_update():
    layer = layers.Dense(3, lora_rank=2, lora_alpha=4)
    x = RNG.standard_normal((5, 4)).astype(np.float32)
    before = layer(x).data.copy()
    kernel = layer.kernel.data.copy()
    np.testing.assert_allclose(before, x @ kernel + layer.bias.data, rtol=1e-5)  # B starts at zero
    assert [w.name.split("/")[-1] for w in layer.weights] == ["kernel", "bias", "lora_kernel_a", "lora_kernel_b"]
    assert [w.name.split("/")[-1] for w in layer.trainable_weights] == ["bias", "lora_kernel_a", "lora_kernel_b"]
    a, b = layer.lora_kernel_a, layer.lora_kernel_b
    b.assign(RNG.standard_normal(b.shape).astype(np.float32))
    xt = dg.Tensor(x)
    out = layer(xt)
    np.testing.assert_allclose(out.data, x @ (kernel + 2.0 * a.data @ b.data) + layer.bias.data, rtol=1e-5, atol=1e-6)
    (out * out).sum().backward()
    assert layer.kernel.grad is None and a.grad is not None and b.grad is not None
    g = 2 * out.data  # d sum(out^2) / d out
    np.testing.assert_allclose(b.grad, 2.0 * a.data.T @ x.T @ g, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a.grad, 2.0 * x.T @ g @ b.data.T, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="already enabled"):
        layer.enable_lora(2)


def test_enable_lora_on_a_built_layer_and_its_checks():
    layer = layers.Embedding(7, 3)
    with pytest.raises(ValueError, match="not built"):
        layer.enable_lora(2)
    ids = np.array([[1, 6, 0]])
    plain = layer(ids).data.copy()
    layer.enable_lora(2, lora_alpha=1.0, b_initializer="ones")
    a = layer.lora_embeddings_a.data
    np.testing.assert_allclose(layer(ids).data, plain + 0.5 * (a @ np.ones((2, 3)))[ids], rtol=1e-5, atol=1e-6)
    assert not layer.embeddings.trainable and layer.get_config()["lora_rank"] == 2
    with pytest.raises(ValueError, match="constraint"):
        constrained = layers.Dense(2, kernel_constraint="non_neg")
        constrained(np.zeros((1, 3), np.float32))
        constrained.enable_lora(1)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="lora_rank"):
            layers.Dense(2, lora_rank=bad)


@pytest.mark.parametrize("make", [lambda q: layers.Dense(2, quantization_config=q),
                                  lambda q: layers.Embedding(4, 2, quantization_config=q),
                                  lambda q: layers.EinsumDense("ab,bc->ac", 2, quantization_config=q)])
def test_quantization_config_must_be_a_config_object(make):
    with pytest.raises(ValueError, match="quantization_config must be a QuantizationConfig"):
        make("int8")
    from deepgrad import quantizers
    assert isinstance(make(quantizers.Int8QuantizationConfig()).quantization_config,
                      quantizers.Int8QuantizationConfig)
    assert make(None).quantization_config is None


def test_lora_model_saves_and_loads(tmp_path):
    model = models.Sequential([layers.Input((4,)), layers.Dense(5, lora_rank=2, lora_alpha=3),
                               layers.Dense(2)])
    model.layers[0].lora_kernel_b.assign(RNG.standard_normal((2, 5)).astype(np.float32))
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    model.save(tmp_path / "lora.deepgrad")
    loaded = models.load_model(tmp_path / "lora.deepgrad")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert loaded.layers[0].lora_enabled and loaded.layers[0].lora_alpha == 3
    assert len(loaded.trainable_weights) == 5  # bias, A, B of the first layer; kernel, bias of the second


# --------------------------------------------------------------------------- Wrapper, other backends
def test_wrappers_are_wrappers_and_round_trip():
    td = layers.TimeDistributed(layers.Dense(3))
    bi = layers.Bidirectional(layers.LSTM(2))
    sn = layers.SpectralNormalization(layers.Dense(2))
    for w in (td, sn):
        assert isinstance(w, layers.Wrapper)
    assert not isinstance(bi, layers.Wrapper)  # as in Keras: its two copies are its layers
    x = RNG.standard_normal((2, 4, 5)).astype(np.float32)
    out = td(x)
    clone = layers.TimeDistributed.from_config(td.get_config())
    clone(x)
    clone.set_weights(td.get_weights())
    np.testing.assert_allclose(clone(x).data, out.data, rtol=1e-6)
    assert len(bi(x).shape) == 2 and len(bi.weights) == 6  # the template layer owns no weights
    with pytest.raises(ValueError, match="Layer instance"):
        layers.Wrapper("dense")


@pytest.mark.parametrize("make, names", [
    (lambda: layers.JaxLayer(lambda params, inputs: inputs), "JAX"),
    (lambda: layers.FlaxLayer(object()), "Flax"),
    (lambda: layers.TFSMLayer("/tmp/saved_model"), "TensorFlow"),
])
def test_other_backends_layers_say_what_is_missing(make, names):
    with pytest.raises(NotImplementedError, match=names):
        make()


# --------------------------------------------------------------------------- TorchModuleWrapper
def _torch_module():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3))


def test_torch_module_wrapper_forward_and_gradients_are_torch():
    module = _torch_module()
    layer = layers.TorchModuleWrapper(module)
    assert [w.name for w in layer.weights] == [n for n, _ in module.named_parameters()]
    assert [w.path for w in layer.weights] == [f"{layer.name}/{n}" for n, _ in module.named_parameters()]
    x = RNG.standard_normal((5, 4)).astype(np.float32)
    upstream = RNG.standard_normal((5, 3)).astype(np.float32)
    xt = dg.Tensor(x, requires_grad=True)
    (layer(xt) * dg.Tensor(upstream)).sum().backward()
    ref_x = torch.tensor(x, requires_grad=True)
    (module(ref_x) * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(layer(x).data, module(torch.tensor(x)).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(xt.grad, ref_x.grad.numpy(), rtol=1e-5, atol=1e-7)
    for w, p in zip(layer.weights, module.parameters()):
        np.testing.assert_allclose(w.grad, p.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_torch_module_trains_in_a_deepgrad_model_and_shares_its_parameters():
    module = _torch_module()
    x = RNG.standard_normal((64, 4)).astype(np.float32)
    y = (x[:, :3] * 0.5).astype(np.float32)
    model = models.Sequential([layers.Input((4,)), layers.Dense(4), layers.TorchModuleWrapper(module)])
    model.compile(optimizer=dg.optimizers.Adam(0.01), loss="mse")
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.5 * first
    # the module itself was trained: its own forward gives the model's outputs
    hidden = model.layers[0](x).data
    np.testing.assert_allclose(module(torch.tensor(hidden)).detach().numpy(), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(NotImplementedError, match="pickle"):
        model.get_config()


def test_torch_lazy_module_and_training_flag():
    module = torch.nn.Sequential(torch.nn.LazyLinear(3), torch.nn.Dropout(0.5))
    layer = layers.TorchModuleWrapper(module)
    assert not layer.built
    x = np.ones((200, 5), np.float32)
    out = layer(x)  # inference: dropout off
    assert [w.shape for w in layer.weights] == [(3, 5), (3,)]
    np.testing.assert_allclose(out.data, np.ones((200, 5)) @ layer.weights[0].data.T + layer.weights[1].data,
                               rtol=1e-5)
    assert (layer(x, training=True).data == 0).mean() > 0.3
    with pytest.raises(ValueError, match="torch.nn.Module"):
        layers.TorchModuleWrapper(lambda t: t)


# --------------------------------------------------------------------------- strings
def test_string_inputs_flow_into_text_layers_and_save(tmp_path):
    vectorize = layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    vectorize.adapt(["the cat sat", "the dog ran fast"])
    text = layers.Input(shape=(1,), dtype="string")
    hidden = layers.GlobalAveragePooling1D()(layers.Embedding(20, 3)(vectorize(text)))
    model = models.Model(text, layers.Dense(2)(hidden))
    x = np.array([["the cat"], ["dog ran"]])
    expected = model.predict(x, verbose=0)
    assert expected.shape == (2, 2)
    assert model.layers[0].get_config()["dtype"] == "string"
    model.save(tmp_path / "text.deepgrad")
    loaded = models.load_model(tmp_path / "text.deepgrad")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)
    lookup = layers.StringLookup(vocabulary=["a", "b"])
    words = layers.Input(shape=(), dtype="string")
    np.testing.assert_array_equal(models.Model(words, lookup(words)).predict(np.array(["a", "b", "z"]), verbose=0),
                                  [1, 2, 0])


# --------------------------------------------------------------------------- automatic config
class Scale(layers.Layer):
    def __init__(self, factor=2.0, offsets=(1, 2), mode="add", **kwargs):
        super().__init__(**kwargs)
        self.factor, self.offsets, self.mode = factor, offsets, mode

    def call(self, x):
        return x * self.factor + self.offsets[0]


class NoKwargs(layers.Layer):
    def __init__(self, units):
        super().__init__()
        self.units = units


class TakesAFunction(layers.Layer):
    def __init__(self, fn, **kwargs):
        super().__init__(**kwargs)
        self.fn = fn


def test_a_layer_without_get_config_records_its_arguments():
    layer = Scale(3.0, offsets=[4, 5], name="scaled", trainable=False)
    float32 = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}
    assert layer.get_config() == {"name": "scaled", "factor": 3.0, "offsets": [4, 5], "mode": "add",
                                  "trainable": False, "dtype": float32}
    clone = Scale.from_config(layer.get_config())
    assert (clone.factor, clone.offsets, clone.name, clone.trainable) == (3.0, [4, 5], "scaled", False)
    assert NoKwargs(7).get_config() == {"units": 7}  # only what its __init__ accepts
    assert NoKwargs.from_config(NoKwargs(7).get_config()).units == 7
    with pytest.raises(NotImplementedError, match=r"TakesAFunction.*\['fn'\].*get_config"):
        TakesAFunction(np.sin).get_config()
    assert "factor" not in layers.Dense(2).get_config()  # a layer with its own get_config is unchanged


def test_a_custom_layer_without_get_config_saves_and_loads(tmp_path):
    model = models.Sequential([layers.Input(shape=(2,)), Scale(3.0, offsets=[5, 6]), layers.Dense(1)])
    x = RNG.standard_normal((4, 2)).astype(np.float32)
    model.save(tmp_path / "custom.deepgrad")
    loaded = models.load_model(tmp_path / "custom.deepgrad", custom_objects={"Scale": Scale})
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert loaded.layers[0].factor == 3.0 and list(loaded.layers[0].offsets) == [5, 6]
    bad = models.Sequential([layers.Input(shape=(2,)), TakesAFunction(np.sin)])
    with pytest.raises(NotImplementedError, match="TakesAFunction"):
        bad.save(tmp_path / "bad.deepgrad")


# --------------------------------------------------------------------------- recurrent layers as RNN + cell
@pytest.mark.parametrize("cls, cell, name", [(layers.LSTM, layers.LSTMCell, "lstm_cell"),
                                             (layers.GRU, layers.GRUCell, "gru_cell"),
                                             (layers.SimpleRNN, layers.SimpleRNNCell, "simple_rnn_cell")])
def test_recurrent_layers_hold_their_cell(cls, cell, name):
    layer = cls(3, dropout=0.25, recurrent_dropout=0.0, kernel_initializer="he_normal", seed=4, name="rec")
    assert isinstance(layer, layers.RNN) and type(layer.cell) is cell and layer.cell.name == name
    layer(RNG.standard_normal((2, 4, 5)).astype(np.float32))
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"]
    assert [w.path for w in layer.weights] == [f"rec/{name}/{n}" for n in ("kernel", "recurrent_kernel", "bias")]
    assert all(a is b for a, b in zip(layer.weights, layer.cell.weights))
    assert (layer.units, layer.dropout, layer.seed) == (3, 0.25, 4)
    assert layer.kernel_initializer is layer.cell.kernel_initializer and layer.kernel is layer.cell.kernel
    config = layer.get_config()
    assert "cell" not in config and config["units"] == 3
    clone = cls.from_config(config)
    assert clone.get_config() == config


def test_fused_path_and_cell_loop_give_the_same_training_dropout():
    """Input dropout in training: the fused op and RNN's loop draw the same per-sequence mask from the cell's seed."""
    x = RNG.standard_normal((3, 5, 4)).astype(np.float32)
    fused = layers.LSTM(2, dropout=0.5, seed=7, return_sequences=True)
    loop = layers.RNN(layers.LSTMCell(2, dropout=0.5, seed=7), return_sequences=True)
    fused(x), loop(x)
    loop.set_weights(fused.get_weights())
    np.testing.assert_allclose(fused(x, training=True).data, loop(x, training=True).data, rtol=1e-5, atol=1e-6)
