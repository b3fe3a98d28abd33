"""The states of the layers' seed generators, call after call, against Keras 3.15 (PyTorch
backend): which calls advance the counter and by how much (a seeded or ``noise_shape`` dropout
by one; an unseeded full-shape dropout not at all; a recurrent layer by its count of masks on
every call, in training or not; each image augmentation layer by its own count of draws), and
the seed an unseeded generator takes from Python's ``random`` after ``set_random_seed``."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover - the oracle needs Keras on PyTorch
    pytest.skip("Keras must run on its PyTorch backend here", allow_module_level=True)

import deepgrad as dg  # noqa: E402

_X2 = np.ones((2, 4), np.float32)
_X3 = np.ones((2, 3, 4), np.float32)
_IMG = (np.random.default_rng(0).random((2, 8, 8, 3)) * 255).astype(np.float32)

# (layer made from the framework K and a seed, its input); a dict input is passed by keyword
_CASES = {
    "Dropout": (lambda K, s: K.layers.Dropout(0.5, seed=s), _X2),
    "Dropout noise_shape": (lambda K, s: K.layers.Dropout(0.5, noise_shape=(None, 1), seed=s), _X2),
    "SpatialDropout1D": (lambda K, s: K.layers.SpatialDropout1D(0.5, seed=s), _X3),
    "SpatialDropout2D": (lambda K, s: K.layers.SpatialDropout2D(0.5, seed=s), _IMG),
    "GaussianNoise": (lambda K, s: K.layers.GaussianNoise(0.5, seed=s), _X2),
    "AlphaDropout noise_shape": (lambda K, s: K.layers.AlphaDropout(0.5, noise_shape=(2, 1), seed=s), _X2),
    "Attention": (lambda K, s: K.layers.Attention(dropout=0.5, seed=s), [_X3, _X3]),
    "MultiHeadAttention": (lambda K, s: K.layers.MultiHeadAttention(2, 2, dropout=0.5, seed=s),
                           {"query": _X3, "value": _X3}),
    "LSTM dropout": (lambda K, s: K.layers.LSTM(3, dropout=0.5, seed=s), _X3),
    "LSTM recurrent_dropout": (lambda K, s: K.layers.LSTM(3, recurrent_dropout=0.5, seed=s), _X3),
    "LSTM both": (lambda K, s: K.layers.LSTM(3, dropout=0.5, recurrent_dropout=0.5, seed=s), _X3),
    "GRU both": (lambda K, s: K.layers.GRU(3, dropout=0.5, recurrent_dropout=0.5, seed=s), _X3),
    "SimpleRNN both": (lambda K, s: K.layers.SimpleRNN(3, dropout=0.5, recurrent_dropout=0.5, seed=s), _X3),
    "RNN(LSTMCell)": (lambda K, s: K.layers.RNN(K.layers.LSTMCell(3, dropout=0.5, seed=s)), _X3),
    "Bidirectional": (lambda K, s: K.layers.Bidirectional(K.layers.LSTM(3, dropout=0.5, seed=s)), _X3),
    "ConvLSTM1D": (lambda K, s: K.layers.ConvLSTM1D(2, 3, dropout=0.5, recurrent_dropout=0.5, seed=s),
                   np.ones((2, 3, 5, 2), np.float32)),
    "RandomFlip": (lambda K, s: K.layers.RandomFlip(seed=s), _IMG),
    "RandomZoom": (lambda K, s: K.layers.RandomZoom(0.2, width_factor=0.3, seed=s), _IMG),
    "RandomTranslation": (lambda K, s: K.layers.RandomTranslation(0.2, 0.2, seed=s), _IMG),
    "RandomCrop": (lambda K, s: K.layers.RandomCrop(4, 4, seed=s), _IMG),
    "RandomCrop larger": (lambda K, s: K.layers.RandomCrop(10, 10, seed=s), _IMG),
    "RandomHue": (lambda K, s: K.layers.RandomHue(0.2, seed=s), _IMG),
    "RandomColorJitter": (lambda K, s: K.layers.RandomColorJitter(brightness_factor=0.2, hue_factor=0.2,
                                                                  seed=s), _IMG),
    "RandomErasing": (lambda K, s: K.layers.RandomErasing(seed=s), _IMG),
    "MixUp": (lambda K, s: K.layers.MixUp(seed=s), _IMG),
    "CutMix": (lambda K, s: K.layers.CutMix(seed=s), _IMG),
    "RandAugment": (lambda K, s: K.layers.RandAugment(seed=s), _IMG),
}


def _states(K, name, seed) -> list:
    """The seed states after a first call with no ``training`` argument, then calls in training,
    training, inference and training (and, for images, one unbatched image)."""
    make, x = _CASES[name]
    K.utils.set_random_seed(0)
    layer = make(K, seed)

    def call(**kw):
        return layer(**x, **kw) if isinstance(x, dict) else layer(x, **kw)

    def state():
        return [np.asarray(v.numpy() if hasattr(v, "numpy") else v).tolist()
                for v in layer.non_trainable_variables if v.path.endswith("seed_generator_state")]

    call()
    out = [state()]
    for training in (True, True, False, True):
        call(training=training)
        out.append(state())
    if x is _IMG and hasattr(layer, "generator"):  # the image layers take an unbatched image
        layer(_IMG[0], training=True)
        out.append(state())
    return out


@pytest.mark.parametrize("seed", [None, 7])
@pytest.mark.parametrize("name", list(_CASES))
def test_seed_states_follow_keras_call_by_call(name, seed):
    expected = _states(keras, name, seed)
    got = _states(dg, name, seed)
    if name == "RandAugment" or name == "RandomColorJitter":  # Keras's sub-layers hold generators of their own
        expected = [s[:1] for s in expected]
    assert got == expected
    if seed == 7 and name not in ("Dropout", "RandomCrop larger") or name == "Dropout noise_shape":
        assert got[-1][0][1] > got[0][0][1]   # the case draws: the test sees the counter move


def test_unseeded_full_shape_dropout_keeps_its_counter_as_keras():
    for K in (keras, dg):
        layer = K.layers.Dropout(0.5)
        before = np.asarray(layer.seed_generator.state.numpy()).tolist()
        for _ in range(3):
            layer(_X2, training=True)
        assert np.asarray(layer.seed_generator.state.numpy()).tolist() == before


def _model_states(K) -> dict:
    L = K.layers
    K.utils.set_random_seed(0)
    inp = L.Input((3, 4))
    h = L.LSTM(3, dropout=0.3, recurrent_dropout=0.2, seed=2, return_sequences=True)(inp)
    h = L.Flatten()(h)
    h = L.Dropout(0.5, seed=1)(h)
    h = L.Dropout(0.5)(h)
    h = L.Dropout(0.5, noise_shape=(None, 1))(h)
    out = L.Dense(2)(L.GaussianNoise(0.1)(h))
    model = K.Model(inp, out)

    def state():
        return [np.asarray(v.numpy()).tolist() for v in model.non_trainable_variables]

    x, y = np.ones((8, 3, 4), np.float32), np.zeros((8, 2), np.float32)
    seen = {"built": state()}
    model.predict(x, verbose=0, batch_size=4)
    seen["predict"] = state()
    model(x, training=True)
    seen["call"] = state()
    values = model.stateless_call([v.value for v in model.trainable_variables],
                                  [v.value for v in model.non_trainable_variables], x, training=True)[1]
    seen["stateless_call returned"] = [np.asarray(v.detach().numpy() if hasattr(v, "detach") else v.numpy())
                                       .tolist() for v in values]
    seen["after stateless_call"] = state()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    seen["fit"] = state()
    tree = model.get_state_tree()["non_trainable_variables"]
    seen["state tree"] = [np.asarray(v["seed_generator_state"]).tolist() for v in tree.values()]  # keys: counters
    model.evaluate(x, y, verbose=0, batch_size=4)
    seen["evaluate"] = state()
    return seen


def test_model_seed_states_through_predict_fit_and_stateless_call_as_keras():
    expected, got = _model_states(keras), _model_states(dg)
    assert got == expected
    assert got["fit"][0] == [2, 40] and got["fit"][1] == [1, 3]   # the LSTM's 8 masks per call; Dropout's one
