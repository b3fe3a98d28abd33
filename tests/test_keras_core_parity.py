"""The last differences of the core objects from Keras 3 (PyTorch backend), each checked against
Keras itself: automatic names, ``Variable.name``, ``optimizer.variables``, differentiable
stateless calls, ``steps_per_execution`` and AUC's float32 thresholds."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
if keras.backend.backend() != "torch":  # pragma: no cover - the oracle needs Keras on PyTorch
    pytest.skip("Keras must run on its PyTorch backend here", allow_module_level=True)

import deepgrad as dg  # noqa: E402


def _fresh(K):
    K.backend.clear_session()


# ----------------------------------------------------------------- automatic names
def _auto_names(K):
    _fresh(K)
    names = [K.optimizers.Adam().name, K.optimizers.Adam().name, K.optimizers.SGD().name,
             K.optimizers.RMSprop().name, K.optimizers.Adam(name="adam").name, K.optimizers.Adam().name,
             K.metrics.AUC().name, K.metrics.AUC().name, K.metrics.Precision().name, K.metrics.Precision().name,
             K.metrics.Mean().name, K.metrics.Mean().name,  # a default name in the signature: never numbered
             K.losses.MeanSquaredError().name, K.losses.MeanSquaredError().name,
             K.layers.Dense(1).name, K.layers.Dense(1).name]
    model = K.Sequential([K.Input((2,)), K.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    names.append(model.optimizer.name)
    _fresh(K)
    names += [K.optimizers.Adam().name, K.metrics.AUC().name, K.layers.Dense(1).name]
    return names


def test_automatic_names_are_numbered_as_keras_numbers_them():
    ours, theirs = _auto_names(dg), _auto_names(keras)
    assert ours == theirs
    assert ours[:3] == ["adam", "adam_1", "sgd"]  # the counting itself, not only the agreement


# ----------------------------------------------------------------- float32 thresholds
def _near_thresholds(n, size, seed):
    """Predictions on and one float32 step either side of the thresholds i / (n - 1)."""
    rng = np.random.default_rng(seed)
    grid = (np.arange(n) / (n - 1)).astype(np.float32)
    steps = rng.integers(-2, 3, size)
    y_pred = np.clip(grid[rng.integers(0, n, size)], 0, 1)
    y_pred = np.nextafter(y_pred, np.where(steps > 0, 2, -1).astype(np.float32)) * (steps != 0) + y_pred * (steps == 0)
    y_pred = np.clip(y_pred, 0, 1).astype(np.float32)
    y_true = (rng.random(size) < 0.5).astype(np.float32)
    weight = rng.random(size).astype(np.float32)
    return y_true, y_pred, weight


@pytest.mark.parametrize("make", [
    lambda K: K.metrics.AUC(num_thresholds=7),
    lambda K: K.metrics.AUC(num_thresholds=200, curve="PR"),
    lambda K: K.metrics.AUC(num_thresholds=11, summation_method="minoring"),
    lambda K: K.metrics.AUC(thresholds=[0.1, 0.3, 0.7]),       # not evenly spaced: compared, not bucketed
    lambda K: K.metrics.AUC(thresholds=[0.25, 0.5, 0.75]),     # evenly spaced: bucketed
    lambda K: K.metrics.Precision(thresholds=[0.0, 0.3, 0.6, 0.9]),
    lambda K: K.metrics.Recall(thresholds=[0.0, 0.5, 1.0]),
    lambda K: K.metrics.TruePositives(thresholds=[0.0, 0.25, 0.5, 0.75, 1.0]),
    lambda K: K.metrics.FalseNegatives(thresholds=[0.3, 0.7]),
    lambda K: K.metrics.SensitivityAtSpecificity(0.4, num_thresholds=9),
    lambda K: K.metrics.PrecisionAtRecall(0.5, num_thresholds=5),
])
def test_confusion_metrics_match_keras_at_float32_thresholds(make):
    for n, seed in ((7, 0), (11, 1), (200, 2), (5, 3), (9, 4)):
        y_true, y_pred, weight = _near_thresholds(n, 400, seed)
        # the non-evenly-spaced thresholds, on and around their float32 values too
        extra = np.float32([0.1, 0.3, 0.7, 0.6, 0.9])
        y_pred = np.concatenate([y_pred, extra, np.nextafter(extra, np.float32(1)), np.nextafter(extra, np.float32(0))])
        y_true = np.concatenate([y_true, np.ones(15, np.float32)])
        weight = np.concatenate([weight, np.ones(15, np.float32)])
        ours, theirs = make(dg), make(keras)
        ours.update_state(y_true, y_pred, sample_weight=weight)
        theirs.update_state(y_true, y_pred, sample_weight=weight)
        for name in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            if hasattr(theirs, name) and hasattr(ours, name):
                np.testing.assert_allclose(np.asarray(getattr(ours, name), np.float64),
                                           keras.ops.convert_to_numpy(getattr(theirs, name)), rtol=1e-6, atol=1e-4,
                                           err_msg=name)
        np.testing.assert_allclose(np.asarray(ours.result(), np.float64),
                                   keras.ops.convert_to_numpy(theirs.result()), rtol=1e-6, atol=1e-6)


def _compiled_names(K):
    _fresh(K)
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 3)).astype("float32"), (rng.random((8, 1)) > 0.5).astype("float32")
    model = K.Sequential([K.Input((3,)), K.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=["auc", "precision", K.metrics.AUC(), "true_positives", K.metrics.Recall()])
    history = model.fit(x, y, epochs=1, verbose=0)
    # the strings took the next numbers of their classes, as the instances made after them show
    return sorted(history.history), model.optimizer.name, K.metrics.AUC().name, K.metrics.Precision().name


def test_compiled_metric_names_and_log_keys_match_keras():
    ours, theirs = _compiled_names(dg), _compiled_names(keras)
    assert ours == theirs
    assert ours[0] == ["auc", "auc_1", "loss", "precision", "recall", "true_positives"]


# ----------------------------------------------------------------- optimizer.variables
def _optimizer_state(K, make, weights):
    _fresh(K)
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((6, 3)).astype("float32"), rng.standard_normal((6, 2)).astype("float32")
    model = K.Sequential([K.Input((3,)), K.layers.Dense(4), K.layers.Dense(2)])
    if weights is not None:
        model.set_weights(weights)
    weights = model.get_weights()
    model.compile(optimizer=make(K), loss="mse")
    model.fit(x, y, batch_size=3, epochs=1, verbose=0, shuffle=False)
    state = [(v.name, v.path, tuple(v.shape), np.asarray(keras.ops.convert_to_numpy(v) if K is keras else v.data,
                                                          np.float64)) for v in model.optimizer.variables]
    return state, weights


@pytest.mark.parametrize("make", [
    lambda K: K.optimizers.Adam(0.01),
    lambda K: K.optimizers.SGD(0.1, momentum=0.9),
    lambda K: K.optimizers.SGD(0.1),
    lambda K: K.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    lambda K: K.optimizers.Adagrad(0.1),
    lambda K: K.optimizers.Nadam(0.01),
    lambda K: K.optimizers.AdamW(0.01, amsgrad=True),
    lambda K: K.optimizers.Adam(K.optimizers.schedules.ExponentialDecay(0.01, 10, 0.9)),
    lambda K: K.optimizers.LossScaleOptimizer(K.optimizers.Adam(0.01)),
], ids=["adam", "sgd_momentum", "sgd", "rmsprop_centered", "adagrad", "nadam", "adamw_amsgrad", "schedule",
        "loss_scale"])
def test_optimizer_variables_are_its_own_state_as_in_keras(make):
    theirs, weights = _optimizer_state(keras, make, None)
    ours, _ = _optimizer_state(dg, make, weights)
    assert [s[:3] for s in ours] == [s[:3] for s in theirs]
    for (name, _, _, a), (_, _, _, b) in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, err_msg=name)


# ----------------------------------------------------------------- differentiable stateless calls
def _stateless_gradients(K, weights):
    _fresh(K)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 3)).astype("float32")
    y = rng.standard_normal((5, 2)).astype("float32")
    upstream = rng.standard_normal((5, 2)).astype("float32")
    model = K.Sequential([K.Input((3,)), K.layers.Dense(4, activation="tanh", kernel_regularizer="l2"),
                          K.layers.BatchNormalization(), K.layers.Dense(2)])
    if weights is not None:
        model.set_weights(weights)
    weights = model.get_weights()
    model.compile(optimizer="sgd", loss="mse")
    shifted = [np.asarray(K.ops.convert_to_numpy(v) if K is keras else v.data) * 0.5 + 0.1
               for v in model.trainable_variables]  # values other than the model's own
    non_trainable = [np.asarray(K.ops.convert_to_numpy(v) if K is keras else v.data) + 0.2
                     for v in model.non_trainable_variables]
    if K is keras:
        leaves = [torch.tensor(a, requires_grad=True) for a in shifted]
        out, new_nt = model.stateless_call(leaves, [torch.tensor(a) for a in non_trainable], x, training=True)
        (out * torch.tensor(upstream)).sum().backward()
        call_grads = [leaf.grad.numpy().copy() for leaf in leaves]
        leaves = [torch.tensor(a, requires_grad=True) for a in shifted]
        y_pred = model.stateless_call(leaves, non_trainable, x)[0]
        metric_values = [keras.ops.convert_to_numpy(v) for v in model.metrics_variables]
        loss, _ = model.stateless_compute_loss(leaves, non_trainable, metric_values, x=x, y=y, y_pred=y_pred)
        loss.backward()
        loss_grads = [leaf.grad.numpy().copy() for leaf in leaves]
        return weights, out.detach().numpy(), [keras.ops.convert_to_numpy(v) for v in new_nt], call_grads, \
            loss_grads, float(loss.detach())
    leaves = [dg.Tensor(a, requires_grad=True) for a in shifted]
    out, new_nt = model.stateless_call(leaves, non_trainable, x, training=True)
    call_grads = dg.autograd.grad((out * dg.Tensor(upstream)).sum(), leaves)
    leaves = [dg.Tensor(a, requires_grad=True) for a in shifted]
    y_pred = model.stateless_call(leaves, non_trainable, x)[0]
    metric_values = [v.data for v in model.metrics_variables]
    loss, _ = model.stateless_compute_loss(leaves, non_trainable, metric_values, x=x, y=y, y_pred=y_pred)
    loss.backward()
    return weights, out.data, [v.data for v in new_nt], [np.asarray(g.data if isinstance(g, dg.Tensor) else g)
                                                          for g in call_grads], \
        [leaf.grad for leaf in leaves], float(loss.data)


def test_stateless_call_and_compute_loss_are_differentiable_in_the_values_passed():
    weights, k_out, k_nt, k_call, k_loss_grads, k_loss = _stateless_gradients(keras, None)
    model_weights = [w.copy() for w in weights]
    _, out, nt, call, loss_grads, loss = _stateless_gradients(dg, weights)
    np.testing.assert_allclose(out, k_out, rtol=1e-5, atol=1e-5)
    for a, b in zip(nt, k_nt):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert len(call) == len(k_call) == 6
    for i, (a, b) in enumerate(zip(call, k_call)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=f"stateless_call gradient {i}")
    np.testing.assert_allclose(loss, k_loss, rtol=1e-5)
    for i, (a, b) in enumerate(zip(loss_grads, k_loss_grads)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=f"stateless_compute_loss gradient {i}")
    assert all(np.array_equal(a, b) for a, b in zip(weights, model_weights))


def _unnamed_variables(K):
    _fresh(K)

    class Counted(K.metrics.Metric):
        def __init__(self):
            super().__init__()
            self.a = self.add_variable((), "zeros")
            self.b = self.add_variable((), "zeros")

        def update_state(self, *args):
            pass

        def result(self):
            return 0.0

        def reset_state(self):
            pass

    metric = Counted()
    return metric.name, [(v.name, v.path) for v in metric.variables], K.Variable(1.0).name, K.Variable(2.0).path


def test_unnamed_variables_take_keras_automatic_names():
    ours, theirs = _unnamed_variables(dg), _unnamed_variables(keras)
    assert ours == theirs
    assert ours[2] == "variable_2"
