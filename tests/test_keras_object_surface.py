"""The attributes of Keras's core objects, built the same way in Keras 3 (PyTorch backend) and
in deepgrad: every public attribute of a Keras object exists on deepgrad's, and the new ones
give Keras's values (variable paths, state lists, stateless calls, stores, state trees)."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
if keras.backend.backend() != "torch":  # pragma: no cover - the oracle needs Keras on PyTorch
    pytest.skip("Keras must run on its PyTorch backend here", allow_module_level=True)

import deepgrad as dg  # noqa: E402

# Keras on PyTorch makes every layer a torch.nn.Module: those names are PyTorch's, not Keras's API
TORCH_MODULE = set(dir(torch.nn.Module)) | {"training", "torch_params"}
# Keras attributes deepgrad does not take on, and why
EXCLUDED = {
    # the fused cuDNN / backend kernel hook of Keras's recurrent layers; deepgrad's LSTM/GRU are fused in NumPy
    "LSTM": {"inner_loop"}, "GRU": {"inner_loop"},
    # LoRA on convolutions is not implemented (Dense, EinsumDense and Embedding have it)
    "Conv2D": {"enable_lora", "lora_alpha", "lora_enabled", "lora_rank"},
}


def public(obj) -> set:
    return {a for a in dir(obj) if not a.startswith("_")}


def to_numpy(x):
    if isinstance(x, dg.Tensor):
        return x.data
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(keras.ops.convert_to_numpy(x)) if hasattr(x, "shape") and not isinstance(x, np.ndarray) \
        else np.asarray(x)


def build_objects(K, tmp):
    """The same objects in Keras (``K = keras``) or deepgrad (``K = deepgrad``)."""
    seq = K.Sequential([K.Input((3,)), K.layers.Dense(2), K.layers.BatchNormalization()])
    seq.compile(optimizer="adam", loss="mse", metrics=["mae"])
    seq.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), verbose=0, epochs=1)
    inp = K.Input((3,))
    functional = K.Model(inp, K.layers.Dense(2)(inp))
    x = np.ones((2, 4, 4, 3), "float32")
    conv = K.layers.Conv2D(2, 3)
    conv(x)
    lstm, gru = K.layers.LSTM(3), K.layers.GRU(2)
    lstm(np.ones((2, 5, 4), "float32")), gru(np.ones((2, 5, 4), "float32"))
    emb = K.layers.Embedding(10, 3)
    emb(np.array([[1, 2]]))
    mha = K.layers.MultiHeadAttention(2, 4)
    q = np.ones((2, 3, 8), "float32")
    mha(q, q)

    class Sub(K.Model):
        def __init__(self):
            super().__init__()
            self.d = K.layers.Dense(2)

        def call(self, x):
            return self.d(x)

    sub = Sub()
    sub(np.ones((2, 3), "float32"))
    objects = {"Variable": seq.weights[0], "Sequential": seq, "Functional": functional, "Subclassed": sub,
               "Dense": seq.layers[0], "BN": seq.layers[1], "Conv2D": conv, "LSTM": lstm, "GRU": gru, "Embedding": emb,
               "MultiHeadAttention": mha, "Dropout": K.layers.Dropout(0.5), "Flatten": K.layers.Flatten(),
               "Adam": seq.optimizer, "Mean": K.metrics.Mean(), "Accuracy": K.metrics.Accuracy(),
               "AUC": K.metrics.AUC(),
               "MSE": K.losses.MeanSquaredError(), "CategoricalCrossentropy": K.losses.CategoricalCrossentropy(),
               "History": seq.history, "Callback": K.callbacks.Callback(),
               "ModelCheckpoint": K.callbacks.ModelCheckpoint(os.path.join(tmp, "m.keras")),
               "EarlyStopping": K.callbacks.EarlyStopping(), "KerasTensor": inp,
               "SeedGenerator": K.random.SeedGenerator(1),
               "InputSpec": K.layers.InputSpec(ndim=2), "GlorotUniform": K.initializers.GlorotUniform(),
               "L2": K.regularizers.L2()}
    for name in ("SGD", "RMSprop", "AdamW"):
        opt = getattr(K.optimizers, name)()
        opt.build([K.Variable(np.ones((2,), "float32"))])
        objects[name] = opt
    return objects


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("surface"))
    return build_objects(keras, tmp), build_objects(dg, tmp)


NAMES = ["Variable", "Sequential", "Functional", "Subclassed", "Dense", "BN", "Conv2D", "LSTM", "GRU", "Embedding",
         "MultiHeadAttention", "Dropout", "Flatten", "Adam", "SGD", "RMSprop", "AdamW", "Mean", "Accuracy", "AUC",
         "MSE",
         "CategoricalCrossentropy", "History", "Callback", "ModelCheckpoint", "EarlyStopping", "KerasTensor",
         "SeedGenerator", "InputSpec", "GlorotUniform", "L2"]


@pytest.mark.parametrize("name", NAMES)
def test_no_public_keras_attribute_is_missing(both, name):
    theirs, ours = both
    missing = public(theirs[name]) - public(ours[name]) - TORCH_MODULE - EXCLUDED.get(name, set())
    assert sorted(missing) == []


# ----------------------------------------------------------------- variables and paths
def _paths(K):
    seq = K.Sequential([K.Input((3,)), K.layers.Dense(2), K.layers.BatchNormalization()], name="seq")
    inp = K.Input((3,))
    functional = K.Model(inp, K.layers.Dense(2, name="d1")(inp), name="fm")
    alone = K.layers.Dense(2, name="alone")
    alone.build((None, 3))
    called = K.layers.Dense(2, name="called")
    called(np.ones((1, 3), "float32"))

    class Outer(K.Model):
        def __init__(self):
            super().__init__(name="outer")
            self.a = K.layers.Dense(3, name="inner_a")
            self.b = K.layers.Dense(1, name="inner_b")

        def call(self, x):
            return self.b(self.a(x))

    outer = Outer()
    outer(np.ones((2, 4), "float32"))
    with K.name_scope("block"):
        scoped = K.Variable(np.ones(2, "float32"), name="w")
    return {"sequential": [v.path for v in seq.weights], "sequential layers": [l.path for l in seq.layers],
            "functional": [v.path for v in functional.weights], "functional path": functional.path,
            "layer built alone": [v.path for v in alone.weights], "layer called": [v.path for v in called.weights],
            "subclassed": [v.path for v in outer.weights], "subclassed layer": outer.a.path,
            "subclassed path": outer.path,
            "name scope": scoped.path, "model path": seq.path}


def _fresh_names():
    """Both frameworks' layer-name counters from zero: automatic names (``dense_3``) count the
    layers made before, in this test or any other."""
    keras.backend.clear_session()
    dg.backend.clear_session()


def test_variable_and_layer_paths_are_keras_paths():
    dg.layers.Dense(1), dg.layers.BatchNormalization()  # names taken before: the counters must not matter
    _fresh_names()
    theirs = _paths(keras)
    _fresh_names()
    ours = _paths(dg)
    assert ours == theirs
    assert ours["functional"] == ["d1/kernel", "d1/bias"] and ours["name scope"] == "block/w"


def test_variable_options_and_constructor_follow_keras():
    for K in (keras, dg):
        v = K.Variable(np.ones(3, "float32"))
        assert (v.aggregation, v.synchronization, v.overwrite_with_gradient, v.regularizer) == ("none", "auto", False,
                                                                                              None)
        v = K.Variable(np.ones(2), aggregation="sum", synchronization="on_read", name="x")
        assert (v.aggregation, v.synchronization, v.path) == ("sum", "on_read", "x")
        with pytest.raises(ValueError, match="aggregation"):
            K.Variable(np.ones(2), aggregation="max")
        with pytest.raises(ValueError, match="synchronization"):
            K.Variable(np.ones(2), synchronization="sometimes")
        with pytest.raises(ValueError, match="shape"):
            K.Variable(K.initializers.Ones())
        with pytest.raises(TypeError):
            v.overwrite_with_gradient = "yes"
        v.overwrite_with_gradient = True
        assert v.overwrite_with_gradient is True
    for init in ("ones", dg.initializers.Constant(3.0)):
        ours = dg.Variable(init, shape=(2, 3), dtype="float32", trainable=False)
        theirs = keras.Variable(init if isinstance(init, str) else keras.initializers.Constant(3.0), shape=(2, 3),
                                dtype="float32", trainable=False)
        np.testing.assert_array_equal(ours.data, to_numpy(theirs))
        assert ours.trainable is theirs.trainable is False
    # Keras keeps a float64 array's dtype
    assert str(dg.Variable(np.ones(2)).dtype) == str(keras.Variable(np.ones(2)).dtype) == "float64"


def test_add_weight_records_the_regularizer_and_keras_options():
    for K in (keras, dg):
        layer = K.layers.Layer(name="holder")
        reg = K.regularizers.L2(0.1)
        w = layer.add_weight(shape=(2,), initializer="ones", regularizer=reg, aggregation="mean", name="w")
        assert w.regularizer is reg and w.aggregation == "mean"
        assert w.path == "holder/w"
        v = layer.add_variable((3,), "zeros", name="v")
        assert v.shape == (3,) and float(to_numpy(v).sum()) == 0.0 and v.path == "holder/v"
        with pytest.raises(NotImplementedError, match="deprecated"):
            layer.add_metric(1.0)


# ----------------------------------------------------------------- layers
def _bn_pair():
    dg.layers.BatchNormalization()  # a name taken before: the counters must not matter
    _fresh_names()
    ours, theirs = dg.layers.BatchNormalization(), keras.layers.BatchNormalization()
    ours.build((None, 3)), theirs.build((None, 3))
    return ours, theirs


def test_non_trainable_variables_and_small_layer_attributes_match_keras():
    ours, theirs = _bn_pair()
    assert [v.path for v in ours.non_trainable_variables] == [v.path for v in theirs.non_trainable_variables]
    for attr in ("input_dtype", "quantization_mode", "supports_jit", "autocast", "activity_regularizer"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert dg.layers.Dense(2, autocast=False).autocast is keras.layers.Dense(2, autocast=False).autocast is False
    assert ours.metrics == [] and ours.metrics_variables == []
    gru_ours, gru_theirs = dg.layers.GRU(2), keras.layers.GRU(2)
    lstm_ours, lstm_theirs = dg.layers.LSTM(2), keras.layers.LSTM(2)
    for layer in (gru_ours, gru_theirs, lstm_ours, lstm_theirs):
        layer(np.ones((1, 3, 2), "float32"))
    assert (gru_ours.single_state, lstm_ours.single_state) == (gru_theirs.single_state, lstm_theirs.single_state)


def test_stateless_call_returns_keras_values_and_leaves_the_layer_alone():
    ours, theirs = _bn_pair()
    x = np.random.default_rng(0).standard_normal((4, 3)).astype("float32")
    trainable = [np.full(3, 2.0, "float32"), np.full(3, 0.5, "float32")]
    non_trainable = [np.full(3, 0.1, "float32"), np.full(3, 2.0, "float32")]
    out, new_state = ours.stateless_call(trainable, non_trainable, x, training=True)
    k_out, k_state = theirs.stateless_call([keras.ops.convert_to_tensor(t) for t in trainable],
                                           [keras.ops.convert_to_tensor(t) for t in non_trainable], x, training=True)
    np.testing.assert_allclose(out.data, to_numpy(k_out), rtol=1e-5, atol=1e-6)
    for a, b in zip(new_state, k_state):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-6)
    np.testing.assert_array_equal(ours.moving_mean.data, np.zeros(3))  # untouched
    np.testing.assert_array_equal(ours.gamma.data, np.ones(3))
    with pytest.raises(ValueError, match="non_trainable_variables"):
        ours.stateless_call(trainable, non_trainable[:1], x)
    with pytest.raises(ValueError, match="must be built"):
        dg.layers.Dense(2).stateless_call([], [], x)


def test_own_variable_stores_are_interchangeable_with_keras():
    ours, theirs = dg.layers.Dense(3), keras.layers.Dense(3)
    ours.build((None, 4)), theirs.build((None, 4))
    store = {}
    theirs.save_own_variables(store)
    ours.load_own_variables({k: to_numpy(v) for k, v in store.items()})
    x = np.random.default_rng(1).standard_normal((2, 4)).astype("float32")
    np.testing.assert_allclose(ours(x).data, to_numpy(theirs(x)), rtol=1e-6, atol=1e-7)
    back = {}
    ours.save_own_variables(back)
    assert sorted(back) == sorted(store) == ["0", "1"]
    for key in store:
        np.testing.assert_array_equal(back[key], to_numpy(store[key]))
    for layer in (ours, theirs):
        with pytest.raises(ValueError, match="expected 2 variables"):
            layer.load_own_variables({"0": back["0"]})


def test_compute_output_spec_build_from_config_and_symbolic_call():
    for K in (keras, dg):
        spec = K.layers.Conv2D(2, 3).compute_output_spec(K.KerasTensor((None, 8, 8, 3)))
        assert tuple(spec.shape) == (None, 6, 6, 2)
        layer = K.layers.Dense(4)
        layer.build_from_config({"input_shape": (None, 5)})
        assert layer.built and [tuple(w.shape) for w in layer.weights] == [(5, 4), (4,)]
        out = K.layers.Dense(3).symbolic_call(K.Input((7,)))
        assert tuple(out.shape) == (None, 3)


def test_convolution_op_matches_keras():
    ours = dg.layers.Conv2D(2, 3, strides=2, padding="same")
    theirs = keras.layers.Conv2D(2, 3, strides=2, padding="same")
    x = np.random.default_rng(2).standard_normal((1, 7, 7, 3)).astype("float32")
    ours(x), theirs(x)
    kernel = np.random.default_rng(3).standard_normal((3, 3, 3, 2)).astype("float32")
    np.testing.assert_allclose(ours.convolution_op(dg.Tensor(x), dg.Tensor(kernel)).data,
                               to_numpy(theirs.convolution_op(keras.ops.convert_to_tensor(x),
                                                              keras.ops.convert_to_tensor(kernel))), rtol=1e-5,
                               atol=1e-5)


# ----------------------------------------------------------------- models
def _compiled(K, optimizer):
    # normalization first: every weight then gets a gradient well away from rounding noise
    model = K.Sequential([K.Input((3,)), K.layers.BatchNormalization(name="bn"), K.layers.Dense(2, name="d")],
                         name="net")
    model.compile(optimizer=optimizer, loss="mse", metrics=[K.metrics.MeanAbsoluteError()])
    return model


def _same_weights(ours, theirs):
    ours.set_weights([to_numpy(w) for w in theirs.get_weights()])


def test_model_execution_settings_and_step_functions_match_keras():
    x = np.random.default_rng(4).standard_normal((8, 3)).astype("float32")
    y = np.random.default_rng(5).standard_normal((8, 2)).astype("float32")
    ours, theirs = _compiled(dg, dg.optimizers.SGD(0.1)), _compiled(keras, keras.optimizers.SGD(0.1))
    _same_weights(ours, theirs)
    for attr in ("run_eagerly", "jit_compile", "steps_per_execution", "train_function", "test_function",
                 "predict_function"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    ours.compile(optimizer=dg.optimizers.SGD(0.1), loss="mse", run_eagerly=True, jit_compile=False)
    assert (ours.run_eagerly, ours.jit_compile) == (True, False)
    ours.compile(optimizer=dg.optimizers.SGD(0.1), loss="mse", metrics=[dg.metrics.MeanAbsoluteError()])
    ours.make_train_function()
    theirs.make_train_function()
    logs = ours.train_function([(x, y)])
    k_logs = theirs.train_function([(x, y)])
    np.testing.assert_allclose(float(np.asarray(logs["loss"])), float(to_numpy(k_logs["loss"])), rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, to_numpy(b), rtol=1e-5, atol=1e-6)
    predict = ours.make_predict_function()
    np.testing.assert_allclose(to_numpy(predict([x])), ours.predict(x, verbose=0), rtol=1e-6)
    ours.fit(x, y, verbose=0)
    assert callable(ours.train_function) and ours.test_function is None


def test_functional_operations_are_keras_operations():
    names = []
    for K in (keras, dg):
        inp = K.Input((3,), name="x")
        hidden = K.layers.Dense(4, name="h")(inp)
        model = K.Model(inp, K.layers.Dense(1, name="o")(hidden))
        names.append([type(op).__name__ + ":" + op.name for op in model.operations])
    assert names[0] == names[1]


def test_stateless_compute_loss_matches_keras():
    ours, theirs = _compiled(dg, "adam"), _compiled(keras, "adam")
    x = np.random.default_rng(6).standard_normal((5, 3)).astype("float32")
    y = np.random.default_rng(7).standard_normal((5, 2)).astype("float32")
    trainable = [np.random.default_rng(8).standard_normal(tuple(w.shape)).astype("float32")
                 for w in ours.trainable_variables]
    non_trainable = [to_numpy(w) for w in theirs.non_trainable_variables]
    y_pred = theirs.stateless_call([keras.ops.convert_to_tensor(t) for t in trainable],
                                   [keras.ops.convert_to_tensor(t) for t in non_trainable], x)[0]
    k_loss, _ = theirs.stateless_compute_loss([keras.ops.convert_to_tensor(t) for t in trainable],
                                              [keras.ops.convert_to_tensor(t) for t in non_trainable],
                                              [v.value for v in theirs.metrics_variables], x=x, y=y, y_pred=y_pred)
    kernel_before = ours.layers[1].kernel.data.copy()
    our_pred = ours.stateless_call(trainable, non_trainable, x)[0]
    loss, (t_values, nt_values, m_values) = ours.stateless_compute_loss(
        trainable, non_trainable, [v.data for v in ours.metrics_variables], x=x, y=y, y_pred=our_pred)
    np.testing.assert_allclose(float(loss.data), float(to_numpy(k_loss)), rtol=1e-5)
    assert len(t_values) == len(trainable) and len(nt_values) == len(non_trainable)
    np.testing.assert_array_equal(ours.layers[1].kernel.data, kernel_before)  # the model is left as it was


def test_state_tree_has_keras_layout_and_values():
    x = np.random.default_rng(9).standard_normal((6, 3)).astype("float32")
    y = np.random.default_rng(10).standard_normal((6, 2)).astype("float32")
    # named: both number their optimizers per session ("adam_2")
    ours, theirs = (_compiled(dg, dg.optimizers.Adam(0.01, name="adam")),
                    _compiled(keras, keras.optimizers.Adam(0.01, name="adam")))
    _same_weights(ours, theirs)
    ours.fit(x, y, batch_size=6, epochs=2, verbose=0, shuffle=False)
    theirs.fit(x, y, batch_size=6, epochs=2, verbose=0, shuffle=False)
    mine, kera = ours.get_state_tree("numpy_array"), theirs.get_state_tree("numpy_array")

    def flat(tree, prefix=""):
        out = {}
        for k, v in tree.items():
            out.update(flat(v, f"{prefix}{k}/") if isinstance(v, dict) else {f"{prefix}{k}": v})
        return out

    assert sorted(mine) == sorted(kera)
    for kind in mine:
        a, b = flat(mine[kind]), flat(kera[kind])
        assert sorted(a) == sorted(b), kind
        for path in a:
            np.testing.assert_allclose(np.asarray(a[path], np.float64), np.asarray(b[path], np.float64), rtol=2e-4,
                                       atol=1e-6, err_msg=f"{kind} {path}")
    # set_state_tree writes every kind back
    fresh = _compiled(dg, dg.optimizers.Adam(0.01, name="adam"))
    fresh.fit(x, y, batch_size=6, epochs=1, verbose=0)
    fresh.set_state_tree(mine)
    again = fresh.get_state_tree("numpy_array")
    for kind in mine:
        for path, value in flat(mine[kind]).items():
            np.testing.assert_allclose(flat(again[kind])[path], value, rtol=1e-6, err_msg=f"{kind} {path}")
    with pytest.raises(ValueError, match="value_format"):
        ours.get_state_tree("lists")


# ----------------------------------------------------------------- optimizers
@pytest.mark.parametrize("make", [lambda K: K.optimizers.Adam(0.1, name="opt"),
                                  lambda K: K.optimizers.SGD(0.1, momentum=0.9, name="opt"),
                                  lambda K: K.optimizers.RMSprop(0.1, momentum=0.5, centered=True, name="opt"),
                                  lambda K: K.optimizers.AdamW(0.1, amsgrad=True, name="opt")])
def test_optimizer_state_is_keras_optimizer_variables(make):
    grads = [np.array([0.5, -1.0], "float32"), np.array([[0.1, 0.2, -0.3]], "float32")]
    ours, theirs = make(dg), make(keras)
    our_vars = [dg.Variable(np.ones(2, "float32"), name="w"), dg.Variable(np.ones((1, 3), "float32"), name="b")]
    k_vars = [keras.Variable(np.ones(2, "float32"), name="w"), keras.Variable(np.ones((1, 3), "float32"), name="b")]
    ours.build(our_vars), theirs.build(k_vars)
    for _ in range(2):
        ours.apply(grads, our_vars)
        theirs.apply([keras.ops.convert_to_tensor(g) for g in grads], k_vars)
    assert [v.path for v in ours.state_variables()] == [v.path for v in theirs.variables]
    store, k_store = {}, {}
    ours.save_own_variables(store), theirs.save_own_variables(k_store)
    assert sorted(store) == sorted(k_store)
    for key in store:
        np.testing.assert_allclose(np.asarray(store[key], np.float64), np.asarray(k_store[key], np.float64),
                                   rtol=1e-5, atol=1e-7, err_msg=key)
    # a Keras store loads into a fresh optimiser, which then continues as Keras does
    fresh = make(dg)
    fresh_vars = [dg.Variable(v.data.copy(), name=v.name) for v in our_vars]
    fresh.build(fresh_vars)
    fresh.load_own_variables(k_store)
    fresh.apply(grads, fresh_vars)
    theirs.apply([keras.ops.convert_to_tensor(g) for g in grads], k_vars)
    for a, b in zip(fresh_vars, k_vars):
        np.testing.assert_allclose(a.data, to_numpy(b), rtol=1e-5, atol=1e-7)
    # stateless_apply: Keras's values, nothing changed
    before = [v.data.copy() for v in fresh_vars], fresh._state_arrays()
    values = fresh._state_arrays()
    new_vars, new_state = fresh.stateless_apply(values, grads, [v.data for v in fresh_vars])
    k_new_vars, k_new_state = theirs.stateless_apply([v.value for v in theirs.variables],
                                                     [keras.ops.convert_to_tensor(g) for g in grads],
                                                     [v.value for v in k_vars])
    for a, b in zip(new_vars + new_state, list(k_new_vars) + list(k_new_state)):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(to_numpy(b), np.float64), rtol=1e-5,
                                   atol=1e-7)
    for a, b in zip(before[0], fresh_vars):
        np.testing.assert_array_equal(a, b.data)
    for a, b in zip(before[1], fresh._state_arrays()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="optimizer_variables"):
        fresh.stateless_apply(values[:1], grads, [v.data for v in fresh_vars])


def test_optimizer_variable_helpers_follow_keras():
    for K in (keras, dg):
        opt = K.optimizers.SGD(0.1, name="sgd")
        ref = K.Variable(np.ones((2, 2), "float32"), name="kernel")
        made = opt.add_variable_from_reference(ref, "slot", initializer="ones")
        assert made.path == "sgd/kernel_slot" and made.shape == (2, 2)
        np.testing.assert_array_equal(to_numpy(made), np.ones((2, 2)))
        extra = opt.add_variable((3,), initializer="zeros", name="counter")
        assert extra.path == "sgd/counter" and extra.trainable is False
        opt.assign_add(extra, np.ones(3, "float32"))
        opt.assign_sub(extra, np.full(3, 0.5, "float32"))
        np.testing.assert_array_equal(to_numpy(extra), np.full(3, 0.5))
        opt.assign(extra, np.full(3, 4.0, "float32"))
        np.testing.assert_array_equal(to_numpy(extra), np.full(3, 4.0))
        skipped = K.Variable(np.ones(2, "float32"), name="skipped")
        skipped.overwrite_with_gradient = True
        momenta, velocities = opt.add_optimizer_variables([ref, skipped], ["m", "v"])
        assert [m.path for m in momenta[:1]] == ["sgd/kernel_m"] and momenta[1] is None and velocities[1] is None
        with pytest.raises(ValueError, match="not yet been built"):
            K.optimizers.Adam().set_weights([])
    sgd, k_sgd = dg.optimizers.SGD(momentum=0.9, name="sgd"), keras.optimizers.SGD(momentum=0.9, name="sgd")
    sgd.build([dg.Variable(np.ones(2, "float32"), name="w")]), k_sgd.build([keras.Variable(np.ones(2, "float32"),
                                                                                           name="w")])
    assert [v.path for v in sgd.momentums] == [v.path for v in k_sgd.momentums] == ["sgd/w_momentum"]
    sgd.set_weights([np.array(3), np.array(0.5, "float32"), np.array([1.0, 2.0], "float32")])
    assert sgd.iterations == 3 and sgd.learning_rate == 0.5
    np.testing.assert_array_equal(sgd.slots(sgd._variables[0])["momentum"], [1.0, 2.0])


# ----------------------------------------------------------------- metrics
@pytest.mark.parametrize("make, args", [
    (lambda K: K.metrics.Mean(name="m"), (np.array([1.0, 2.0, 4.0], "float32"),)),
    (lambda K: K.metrics.Accuracy(name="m"), (np.array([1, 2, 3]), np.array([1, 2, 0]))),
    (lambda K: K.metrics.AUC(num_thresholds=11, name="m"), (np.array([0, 1, 1, 0], "float32"),
                                                             np.array([0.15, 0.85, 0.45, 0.65], "float32")))])
def test_metric_variables_and_stateless_methods_match_keras(make, args):
    ours, theirs = make(dg), make(keras)
    ours.update_state(*args), theirs.update_state(*args)
    assert [v.path for v in ours.variables] == [v.path for v in theirs.variables]
    for a, b in zip(ours.variables, theirs.variables):
        np.testing.assert_allclose(a.data, to_numpy(b), rtol=1e-6)
    start = [to_numpy(v) for v in theirs.variables]
    state = ours.stateless_update_state(start, *args)
    k_state = theirs.stateless_update_state([keras.ops.convert_to_tensor(s) for s in start], *args)
    for a, b in zip(state, k_state):
        np.testing.assert_allclose(np.asarray(a, np.float64), to_numpy(b), rtol=1e-6)
    np.testing.assert_allclose(float(np.asarray(ours.stateless_result(state))),
                               float(to_numpy(theirs.stateless_result(k_state))), rtol=1e-5)
    for a, b in zip(ours.stateless_reset_state(), theirs.stateless_reset_state()):
        np.testing.assert_allclose(np.asarray(a, np.float64), to_numpy(b))
    np.testing.assert_allclose(float(ours.result()), float(to_numpy(theirs.result())), rtol=1e-5)  # unchanged
    with pytest.raises(ValueError, match="metric_variables"):
        ours.stateless_result(state[:1])


def test_custom_metric_with_add_variable_runs_as_in_keras():
    def make(K):
        class Total(K.metrics.Metric):
            def __init__(self):
                super().__init__(name="total_sum")
                self.total = self.add_variable(shape=(), initializer="zeros", name="total")

            def update_state(self, values):
                self.total.assign_add(K.ops.sum(values))

            def result(self):
                return self.total

            def reset_state(self):
                self.total.assign(0.0)

        return Total()

    ours, theirs = make(dg), make(keras)
    assert [v.path for v in ours.variables] == [v.path for v in theirs.variables] == ["total_sum/total"]
    state = ours.stateless_update_state([np.float32(1.0)], np.array([2.0, 3.0], "float32"))
    k_state = theirs.stateless_update_state([keras.ops.convert_to_tensor(np.float32(1.0))],
                                            np.array([2.0, 3.0], "float32"))
    np.testing.assert_allclose(state[0], to_numpy(k_state[0]))
    assert float(ours.total.data) == 0.0


def test_auc_and_loss_attributes_match_keras():
    ours, theirs = dg.metrics.AUC(curve="PR", num_thresholds=21), keras.metrics.AUC(curve="PR", num_thresholds=21)
    y, p = np.array([0, 1, 1, 0, 1], "float32"), np.array([0.2, 0.7, 0.4, 0.5, 0.9], "float32")
    ours.update_state(y, p), theirs.update_state(y, p)
    np.testing.assert_allclose(float(ours.interpolate_pr_auc()), float(to_numpy(theirs.interpolate_pr_auc())),
                               rtol=1e-5)
    assert (ours.num_labels, ours.label_weights) == (theirs.num_labels, theirs.label_weights)
    loss, k_loss = (dg.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, axis=-1),
                    keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, axis=-1))
    assert (loss.from_logits, loss.label_smoothing, loss.axis) == (k_loss.from_logits, k_loss.label_smoothing,
                                                                   k_loss.axis)
    original = dg.initializers.GlorotUniform(seed=3)
    init = original.clone()
    assert type(init) is type(original) and init is not original and init.get_config() == original.get_config()
    np.testing.assert_array_equal(init((3, 4)), original((3, 4)))


# ----------------------------------------------------------------- callbacks, symbolic tensors, seeds
def test_on_batch_hooks_are_called_by_fit_as_in_keras():
    x, y = np.ones((10, 3), "float32"), np.ones((10, 1), "float32")

    def count(K):
        calls = []

        class Old(K.callbacks.Callback):
            def on_batch_begin(self, batch, logs=None):
                calls.append(("begin", batch))

            def on_batch_end(self, batch, logs=None):
                calls.append(("end", batch, sorted(logs)))

        model = K.Sequential([K.Input((3,)), K.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[Old()], validation_data=(x, y))
        model.evaluate(x, y, verbose=0, callbacks=[Old()])
        return calls

    ours, theirs = count(dg), count(keras)
    assert ours == theirs and len(ours) == 12


def test_monitor_callbacks_read_values_as_keras():
    for K in (keras, dg):
        stop = K.callbacks.EarlyStopping(monitor="val_loss", min_delta=0.5)
        assert stop.get_monitor_value({"val_loss": 0.25}) == 0.25
        assert K.callbacks.ModelCheckpoint("m.keras").min_delta == 0
        with pytest.warns(UserWarning, match="val_loss"):
            assert stop.get_monitor_value({"loss": 1.0}) is None
    assert dg.callbacks.EarlyStopping(monitor="val_accuracy").monitor_op is np.greater
    assert dg.callbacks.EarlyStopping(monitor="val_loss").monitor_op is np.less


def test_keras_tensor_methods_and_flags():
    for K in (keras, dg):
        x = K.Input((2, 3))
        assert tuple(x.reshape((-1, 6)).shape) == (None, 6)
        assert tuple(K.Input((1, 3)).squeeze(1).shape) == (None, 3)
        assert (x.sparse, x.ragged, x.ragged_rank, x.row_splits_dtype, x.record_history) == (False, False, None,
                                                                                             None, True)
        with pytest.raises(AttributeError, match="immutable"):
            x.sparse = True
    assert dg.random.SeedGenerator(1).backend is dg.backend


def test_overwrite_with_gradient_sets_the_value_to_the_gradient_as_keras():
    grads = [np.array([0.25, -2.0], "float32"), np.array([1.0, 3.0], "float32")]
    results = []
    for K in (keras, dg):
        flagged, plain = K.Variable(np.ones(2, "float32"), name="f"), K.Variable(np.ones(2, "float32"), name="p")
        flagged.overwrite_with_gradient = True
        opt = K.optimizers.SGD(0.5)
        opt.apply([g if K is dg else keras.ops.convert_to_tensor(g) for g in grads], [flagged, plain])
        results.append([to_numpy(flagged), to_numpy(plain)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_array_equal(results[1][0], grads[0])
    np.testing.assert_allclose(results[1][1], 1.0 - 0.5 * grads[1])


def test_a_variable_made_with_autocast_false_keeps_its_dtype_under_mixed_precision():
    seen = []
    for K in (keras, dg):
        class Scaled(K.layers.Layer):
            def build(self, shape):
                self.a = self.add_weight(shape=(2,), initializer="ones", name="a")
                self.b = self.add_weight(shape=(2,), initializer="ones", name="b", autocast=False)

            def call(self, x):
                self.dtypes = [str(K.ops.convert_to_tensor(v).dtype).replace("torch.", "") for v in (self.a, self.b)]
                return x * self.a

        layer = Scaled(dtype="mixed_float16")
        layer(np.ones((1, 2), "float32"))
        seen.append(layer.dtypes)
    assert seen[0] == seen[1] == ["float16", "float32"]
