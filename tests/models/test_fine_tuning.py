"""The rules of fine-tuning, each run on Keras and on deepgrad from the same weights and data and
compared after the steps: ``trainable=False`` freezes; a frozen BatchNormalization normalises
with its moving statistics and leaves them alone; ``base(x, training=False)`` keeps the base in
inference mode while the rest trains (where Keras 3's ``fit`` overrides the recorded ``training=False``,
the oracle is Keras's steps in inference mode); unfreezing + recompiling at a low rate fine-tunes; a
change of ``trainable`` after ``compile`` behaves as in Keras 3; ``summary`` counts the frozen
weights as non-trainable."""
import re

import numpy as np
import pytest

import deepgrad as dg

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 6, 6, 2)).astype("float32")
Y = RNG.integers(0, 3, size=16)


def build(k, base_training=None, rate=0.0):
    """A conv base (conv, batch norm, dropout, pooling) and a head, in Keras ``k`` or deepgrad.
    ``base_training``: the ``training`` argument of the call to the base (None: inherited); the
    dropout ``rate`` is 0 where the two frameworks' random masks would differ."""
    L = k.layers
    base_in = k.Input((6, 6, 2))
    h = L.Conv2D(4, 3, name="conv")(base_in)
    h = L.BatchNormalization(name="bn")(h)
    h = L.Dropout(rate, seed=1, name="base_dropout")(h)
    base = k.Model(base_in, L.GlobalAveragePooling2D(name="gap")(h), name="base")
    inputs = k.Input((6, 6, 2))
    features = base(inputs) if base_training is None else base(inputs, training=base_training)
    outputs = L.Dense(3, activation="softmax", name="head")(features)
    return base, k.Model(inputs, outputs, name="classifier")


def pair(base_training=None, rate=0.0):
    """(keras base, keras model), (deepgrad base, deepgrad model) with the same weights; the
    batch statistics start away from 0 and 1 so that inference and training modes differ."""
    kb, km = build(keras, base_training, rate)
    db, dm = build(dg, base_training, rate)
    weights = [w + RNG.normal(0, 0.3, w.shape).astype("float32") for w in km.get_weights()]
    weights = [np.abs(w) + 0.5 if "variance" in v.path else w for w, v in zip(weights, km.weights)]
    km.set_weights(weights)
    dm.set_weights(weights)
    return (kb, km), (db, dm)


def compile_both(km, dm, lr=0.1):
    km.compile(optimizer=keras.optimizers.SGD(lr, momentum=0.9), loss="sparse_categorical_crossentropy")
    dm.compile(optimizer=dg.optimizers.SGD(lr, momentum=0.9), loss="sparse_categorical_crossentropy")


def fit_both(km, dm, epochs=3):
    km.fit(X, Y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)
    dm.fit(X, Y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)


def assert_same_weights(km, dm, atol=1e-5):
    names = [v.path for v in km.weights]
    for name, a, b in zip(names, km.get_weights(), dm.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=atol, err_msg=name)


def values(model):
    return {v.path.split("/")[-2] + "/" + v.path.split("/")[-1]: np.array(w) for v, w in
            zip(model.weights, model.get_weights())}


def test_frozen_base_is_not_updated_and_the_head_trains_as_in_keras():
    (kb, km), (db, dm) = pair()
    kb.trainable = False
    db.trainable = False
    assert len(dm.trainable_weights) == len(km.trainable_weights) == 2
    assert len(dm.non_trainable_weights) == len(km.non_trainable_weights) == 6
    before = values(km)
    compile_both(km, dm)
    fit_both(km, dm)
    assert_same_weights(km, dm)
    after = values(km)
    for key in before:  # the base did not move, the head did
        assert np.array_equal(before[key], after[key]) == (not key.startswith("head/")), key


def test_frozen_batch_norm_runs_in_inference_mode():
    """A frozen BatchNormalization normalises with the moving statistics even when the model
    is called with ``training=True``, and ``fit`` leaves those statistics as they were."""
    (kb, km), (db, dm) = pair()
    km.get_layer("base").get_layer("bn").trainable = False
    dm.get_layer("base").get_layer("bn").trainable = False
    k_train = keras.ops.convert_to_numpy(km(X[:4], training=True))
    np.testing.assert_allclose(k_train, keras.ops.convert_to_numpy(km(X[:4], training=False)), atol=1e-6)
    np.testing.assert_allclose(dm(X[:4], training=True).numpy(), k_train, rtol=1e-5, atol=1e-6)
    moving = [np.array(w) for w in dm.get_layer("base").get_layer("bn").get_weights()]
    compile_both(km, dm)
    fit_both(km, dm)
    assert_same_weights(km, dm)
    for a, b in zip(dm.get_layer("base").get_layer("bn").get_weights(), moving):
        np.testing.assert_array_equal(a, b)


def keras_steps_in_inference_mode(km, lr, epochs):
    """Keras's SGD steps, as its ``train_step`` makes them, on the model called with
    ``training=False``: the oracle for a base called with ``training=False`` (the head has no
    layer that depends on ``training``). Keras 3's own ``fit`` passes ``training=True`` over a
    recorded ``training=False`` (keras-team/keras#20285); deepgrad keeps the recorded value, as
    the transfer-learning guide describes and tf.keras did."""
    optimizer = keras.optimizers.SGD(lr, momentum=0.9)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    for _ in range(epochs):
        for i in range(0, len(X), 8):
            km.zero_grad()
            loss_fn(Y[i:i + 8], km(X[i:i + 8], training=False)).backward()
            variables = km.trainable_weights
            optimizer.apply([v.value.grad for v in variables], variables)


def test_base_called_with_training_false_stays_in_inference_mode_while_it_trains():
    """``base(x, training=False)``: the base's weights train (it is trainable) but its batch norm
    uses and keeps the moving statistics and its dropout is off."""
    (kb, km), (db, dm) = pair(base_training=False, rate=0.5)
    bn_before = [np.array(w) for w in dm.get_layer("base").get_layer("bn").get_weights()]
    out_train = dm(X[:4], training=True).numpy()
    np.testing.assert_allclose(out_train, dm(X[:4], training=False).numpy(), atol=1e-6)
    np.testing.assert_allclose(out_train, keras.ops.convert_to_numpy(km(X[:4], training=False)), rtol=1e-5,
                               atol=1e-6)
    dm.compile(optimizer=dg.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    dm.fit(X, Y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    keras_steps_in_inference_mode(km, 0.1, epochs=3)
    assert_same_weights(km, dm)
    gamma, beta, mean, var = dm.get_layer("base").get_layer("bn").get_weights()
    np.testing.assert_array_equal(mean, bn_before[2])
    np.testing.assert_array_equal(var, bn_before[3])
    assert not np.array_equal(gamma, bn_before[0])  # trainable: gamma moved


def test_unfreeze_and_recompile_with_a_low_rate_fine_tunes_as_in_keras():
    """Head first on the frozen base, then the base unfrozen with its batch norm kept frozen
    (so in inference mode) and the model recompiled at a low rate."""
    (kb, km), (db, dm) = pair()
    kb.trainable = False
    db.trainable = False
    compile_both(km, dm, lr=0.1)
    fit_both(km, dm, epochs=2)
    frozen = values(km)
    for base in (kb, db):
        base.trainable = True
        base.get_layer("bn").trainable = False
    compile_both(km, dm, lr=1e-3)
    fit_both(km, dm, epochs=2)
    assert_same_weights(km, dm)
    tuned = values(km)
    assert not np.array_equal(frozen["conv/kernel"], tuned["conv/kernel"])
    assert np.array_equal(frozen["bn/moving_mean"], tuned["bn/moving_mean"])
    # the low rate keeps the fine-tuned base close: a step of 1e-3 against the head's 0.1
    assert np.max(np.abs(frozen["conv/kernel"] - tuned["conv/kernel"])) < 0.05


def test_trainable_changed_after_compile_behaves_as_in_keras():
    """Keras 3 reads the trainable weights at every step: a layer frozen after ``compile`` stops
    training at once; one unfrozen after ``compile`` is refused by the optimiser built without
    it, until ``compile`` makes a new one."""
    (kb, km), (db, dm) = pair()
    compile_both(km, dm)
    fit_both(km, dm, epochs=1)
    kb.trainable = False
    db.trainable = False
    before = values(km)
    fit_both(km, dm, epochs=1)
    assert_same_weights(km, dm)
    assert np.array_equal(before["conv/kernel"], values(km)["conv/kernel"])

    (kb, km), (db, dm) = pair()
    kb.trainable = False
    db.trainable = False
    compile_both(km, dm)
    fit_both(km, dm, epochs=1)
    kb.trainable = True
    db.trainable = True
    with pytest.raises(ValueError, match="Unknown variable"):
        km.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    with pytest.raises(ValueError, match="Unknown variable.*recreate a new optimizer instance"):
        dm.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    (kb, km), (db, dm) = pair()  # Keras's failed step may have moved weights: start both again
    kb.trainable = False
    db.trainable = False
    compile_both(km, dm)
    fit_both(km, dm, epochs=1)
    kb.trainable = True
    db.trainable = True
    compile_both(km, dm, lr=0.01)
    fit_both(km, dm, epochs=1)
    assert_same_weights(km, dm)


def _param_lines(text):
    found = {}
    for label in ("Total params", "Trainable params", "Non-trainable params"):
        match = re.search(label + r": ([\d,]+)", text)
        found[label] = int(match.group(1).replace(",", ""))
    return found


def test_summary_counts_frozen_weights_as_non_trainable():
    (kb, km), (db, dm) = pair()
    kb.trainable = False
    db.trainable = False
    k_lines, d_lines = [], []
    km.summary(print_fn=lambda line, **kw: k_lines.append(line))
    dm.summary(print_fn=lambda line, **kw: d_lines.append(line))
    k_counts, d_counts = _param_lines("\n".join(k_lines)), _param_lines("\n".join(d_lines))
    assert d_counts == k_counts
    assert k_counts == {"Total params": 107, "Trainable params": 15, "Non-trainable params": 92}
