"""keras.wrappers' scikit-learn estimators: the same outputs as Keras's wrappers given the same
weights, in Pipeline and cross_val_score, clone/get_params/set_params, pickling, warm starts,
metadata routing, errors, and the message when scikit-learn is missing."""
import pickle
import subprocess
import sys

import keras
import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import deepgrad as dg
from deepgrad.wrappers import SKLearnClassifier, SKLearnRegressor, SKLearnTransformer

torch.set_num_threads(1)

X_CLS, Y_CLS = make_classification(n_samples=60, n_features=6, n_informative=4, n_redundant=0, n_classes=3,
                                   random_state=0)
X_REG, Y_REG = make_regression(n_samples=50, n_features=5, noise=0.1, random_state=0)
Y_REG = Y_REG / np.std(Y_REG)


def mlp(framework, X, y, loss, activation=None, width=8, learning_rate=0.05):
    """X's features in, y's columns out; weights drawn from a fixed generator, so both frameworks
    start from the same ones."""
    inputs = framework.Input(shape=(X.shape[1],))
    hidden = framework.layers.Dense(width, activation="relu")(inputs)
    outputs = framework.layers.Dense(y.shape[1] if y.ndim > 1 else 1, activation=activation)(hidden)
    model = framework.Model(inputs, outputs)
    rng = np.random.default_rng(7)
    model.set_weights([(rng.standard_normal(w.shape) * 0.5).astype(np.float32) for w in model.get_weights()])
    model.compile(loss=loss, optimizer=framework.optimizers.SGD(learning_rate))
    return model


def keras_mlp(X, y, **kwargs):
    return mlp(keras, X, y, **kwargs)


def dg_mlp(X, y, **kwargs):
    return mlp(dg, X, y, **kwargs)


FIT = {"epochs": 3, "batch_size": 16, "shuffle": False, "verbose": 0}
CLASSIFIER = {"loss": "categorical_crossentropy", "activation": "softmax"}
REGRESSOR = {"loss": "mse"}


def _both(kind, model_kwargs, X, y):
    ours = getattr(dg.wrappers, kind)(dg_mlp, model_kwargs=model_kwargs, fit_kwargs=FIT).fit(X, y)
    # (Keras's wrapper writes fit()'s keywords into the fit_kwargs it was given: a copy)
    theirs = getattr(keras.wrappers, kind)(keras_mlp, model_kwargs=model_kwargs, fit_kwargs=dict(FIT)).fit(X, y)
    return ours, theirs


def _same_array(ours, theirs, rtol=1e-5, atol=1e-5):
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, (ours.shape, ours.dtype, theirs.shape,
                                                                       theirs.dtype)
    if ours.dtype.kind == "f":
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("labels", ["int", "str", "binary"])
def test_classifier_gives_kerass_outputs(labels):
    y = {"int": Y_CLS, "str": np.array(["cat", "dog", "emu"])[Y_CLS], "binary": (Y_CLS > 0).astype(np.int64)}[labels]
    ours, theirs = _both("SKLearnClassifier", CLASSIFIER, X_CLS, y)
    _same_array(ours.classes_, theirs.classes_)
    _same_array(ours.decision_function(X_CLS), theirs.decision_function(X_CLS))
    _same_array(ours.predict(X_CLS), theirs.predict(X_CLS))
    assert ours.score(X_CLS, y) == theirs.score(X_CLS, y)
    assert ours.n_features_in_ == 6 and ours.epoch_ == 3
    assert ours.history_.history["loss"] == pytest.approx(theirs.history_.history["loss"], rel=1e-5)


def test_regressor_and_transformer_give_kerass_outputs():
    ours, theirs = _both("SKLearnRegressor", REGRESSOR, X_REG, Y_REG)
    _same_array(ours.predict(X_REG), theirs.predict(X_REG))
    assert ours.predict(X_REG).shape == (50,)
    assert ours.score(X_REG, Y_REG) == pytest.approx(theirs.score(X_REG, Y_REG), rel=1e-5)
    ours, theirs = _both("SKLearnTransformer", REGRESSOR, X_REG, Y_REG)
    _same_array(ours.transform(X_REG), theirs.transform(X_REG))
    assert ours.transform(X_REG).shape == (50, 1)
    again = SKLearnTransformer(dg_mlp, model_kwargs=REGRESSOR, fit_kwargs=FIT).fit_transform(X_REG, Y_REG)
    _same_array(again, theirs.transform(X_REG))


def test_in_a_pipeline_and_cross_val_score():
    classifier = make_pipeline(StandardScaler(), SKLearnClassifier(
        dg_mlp, model_kwargs={**CLASSIFIER, "width": 16, "learning_rate": 0.2}, fit_kwargs={**FIT, "epochs": 30, "batch_size": 8}))
    scores = cross_val_score(classifier, X_CLS, Y_CLS, cv=3)
    # chance is 1/3; a LogisticRegression in the same pipeline scores 0.58 on these 60 samples
    assert scores.shape == (3,) and scores.mean() > 0.6

    regressor = make_pipeline(StandardScaler(), SKLearnRegressor(
        dg_mlp, model_kwargs={**REGRESSOR, "width": 16}, fit_kwargs={**FIT, "epochs": 40, "batch_size": 8}))
    scores = cross_val_score(regressor, X_REG, Y_REG, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.5   # R^2

    # a transformer feeding a scikit-learn classifier: the model's output is the next step's feature
    pipe = make_pipeline(StandardScaler(), SKLearnTransformer(
        dg_mlp, model_kwargs={"loss": "mse", "width": 16}, fit_kwargs={**FIT, "epochs": 30, "batch_size": 8}),
        LogisticRegression())
    pipe.fit(X_CLS, Y_CLS)
    assert pipe.predict(X_CLS).shape == (60,) and set(pipe.predict(X_CLS)) <= {0, 1, 2}
    assert pipe[1].transform(X_CLS).shape == (60, 1) and pipe[1].transform(X_CLS).dtype == np.float32
    assert pipe.score(X_CLS, Y_CLS) > 0.5


def test_grid_search_over_model_and_fit_arguments():
    search = GridSearchCV(
        SKLearnRegressor(dg_mlp, model_kwargs=REGRESSOR, fit_kwargs=FIT),
        {"model_kwargs": [{**REGRESSOR, "width": 2}, {**REGRESSOR, "width": 16}],
         "fit_kwargs": [{**FIT, "epochs": 1}, {**FIT, "epochs": 20}]}, cv=2)
    search.fit(X_REG, Y_REG)
    scores = search.cv_results_["mean_test_score"]
    assert scores.shape == (4,) and np.all(np.isfinite(scores))
    # more epochs help whichever the width: training is really driven by the grid's values
    assert search.best_params_["fit_kwargs"]["epochs"] == 20
    assert search.best_estimator_.epoch_ == 20 and search.best_estimator_.predict(X_REG).shape == (50,)


def test_clone_and_params():
    estimator = SKLearnClassifier(dg_mlp, warm_start=False, model_kwargs=CLASSIFIER, fit_kwargs=FIT)
    assert estimator.get_params() == {"model": dg_mlp, "warm_start": False, "model_kwargs": CLASSIFIER,
                                      "fit_kwargs": FIT}
    copy = clone(estimator)
    assert copy is not estimator and copy.get_params() == estimator.get_params()
    assert not hasattr(copy, "model_")
    estimator.set_params(fit_kwargs={**FIT, "epochs": 1})
    assert estimator.fit(X_CLS, Y_CLS).epoch_ == 1
    assert FIT["epochs"] == 3   # fit does not touch the dictionaries it was given
    # keywords of fit() itself win over fit_kwargs
    assert estimator.fit(X_CLS, Y_CLS, epochs=2).epoch_ == 2
    assert estimator.fit_kwargs == {**FIT, "epochs": 1}


def test_a_compiled_model_instance_is_cloned_with_its_compile_settings():
    model = dg_mlp(X_REG, Y_REG, loss="mae")
    before = [w.copy() for w in model.get_weights()]
    estimator = SKLearnRegressor(model, fit_kwargs=FIT).fit(X_REG, Y_REG)
    assert estimator.model_ is not model and estimator.model_.compiled
    assert estimator.model_.loss in ("mae", dg.losses.mean_absolute_error)
    assert isinstance(estimator.model_.optimizer, dg.optimizers.SGD)
    for a, b in zip(before, model.get_weights()):   # the given model is not trained
        np.testing.assert_array_equal(a, b)
    assert estimator.predict(X_REG).shape == (50,)


def test_warm_start_trains_the_fitted_model_further():
    cold = SKLearnRegressor(dg_mlp, model_kwargs=REGRESSOR, fit_kwargs=FIT).fit(X_REG, Y_REG)
    first = cold.model_
    assert cold.fit(X_REG, Y_REG).model_ is not first
    warm = SKLearnRegressor(dg_mlp, warm_start=True, model_kwargs=REGRESSOR, fit_kwargs=FIT).fit(X_REG, Y_REG)
    first, loss = warm.model_, warm.history_.history["loss"][-1]
    warm.fit(X_REG, Y_REG)
    assert warm.model_ is first
    assert warm.history_.history["loss"][0] < loss   # it goes on from where it stopped


def test_a_fitted_estimator_pickles():
    estimator = SKLearnClassifier(dg_mlp, model_kwargs=CLASSIFIER, fit_kwargs=FIT).fit(X_CLS, Y_CLS)
    again = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(again.decision_function(X_CLS), estimator.decision_function(X_CLS))
    np.testing.assert_array_equal(again.classes_, estimator.classes_)
    assert again.epoch_ == 3 and again.history_.model is again.model_
    model = dg_mlp(X_REG, Y_REG, loss="mse")
    unfitted = pickle.loads(pickle.dumps(SKLearnRegressor(model)))
    np.testing.assert_array_equal(unfitted.model.get_weights()[0], model.get_weights()[0])


def test_sample_weight_is_routed_to_fit():
    weights = np.where(Y_REG > 0, 1.0, 0.0)
    with sklearn.config_context(enable_metadata_routing=True):
        estimator = SKLearnRegressor(dg_mlp, model_kwargs=REGRESSOR, fit_kwargs=FIT).set_fit_request(
            sample_weight=True)
        results = cross_validate(estimator, X_REG, Y_REG, cv=2, params={"sample_weight": weights},
                                 return_estimator=True)
    assert len(results["estimator"]) == 2
    with pytest.raises(RuntimeError, match="metadata routing is enabled"):
        SKLearnRegressor(dg_mlp).set_fit_request(sample_weight=True)
    # the weights reach model.fit: the same fit as Keras's wrapper given them
    ours = SKLearnRegressor(dg_mlp, model_kwargs=REGRESSOR, fit_kwargs=FIT).fit(X_REG, Y_REG, sample_weight=weights)
    theirs = keras.wrappers.SKLearnRegressor(keras_mlp, model_kwargs=REGRESSOR, fit_kwargs=dict(FIT)).fit(
        X_REG, Y_REG, sample_weight=weights)
    unweighted = SKLearnRegressor(dg_mlp, model_kwargs=REGRESSOR, fit_kwargs=FIT).fit(X_REG, Y_REG)
    _same_array(ours.predict(X_REG), theirs.predict(X_REG))
    assert np.abs(ours.predict(X_REG) - unweighted.predict(X_REG)).max() > 1e-3


def _errors(module, build, uncompiled):
    return {
        "not fitted": lambda: module.SKLearnClassifier(build).predict(X_CLS),
        "feature count": lambda: module.SKLearnRegressor(build, model_kwargs=REGRESSOR, fit_kwargs=FIT).fit(
            X_REG, Y_REG).predict(X_REG[:, :3]),
        "sample count": lambda: module.SKLearnClassifier(build, model_kwargs=CLASSIFIER).fit(X_CLS, Y_CLS[:50]),
        "one class": lambda: module.SKLearnClassifier(build, model_kwargs=CLASSIFIER).fit(X_CLS, np.zeros(60)),
        "continuous labels": lambda: module.SKLearnClassifier(build, model_kwargs=CLASSIFIER).fit(X_REG, Y_REG),
        "2-D regression target": lambda: module.SKLearnRegressor(build, model_kwargs=REGRESSOR).fit(
            X_REG, np.stack([Y_REG, Y_REG], 1)),
        "not compiled": lambda: module.SKLearnRegressor(uncompiled).fit(X_REG, Y_REG),
    }


def _uncompiled(framework):
    def build(X, y):
        inputs = framework.Input(shape=(X.shape[1],))
        return framework.Model(inputs, framework.layers.Dense(1)(inputs))
    return build


def test_errors_where_keras_raises():
    ours = _errors(dg.wrappers, dg_mlp, _uncompiled(dg))
    theirs = _errors(keras.wrappers, keras_mlp, _uncompiled(keras))
    for case in theirs:
        with pytest.raises(Exception) as expected:
            theirs[case]()
        with pytest.raises(type(expected.value)) as got:
            ours[case]()
        assert type(got.value) is type(expected.value), case
    with pytest.raises(ValueError, match="only one class is present"):
        ours["one class"]()
    with pytest.raises(ValueError, match="Only binary and multiclass target types are supported"):
        ours["continuous labels"]()
    with pytest.raises(RuntimeError, match="needs to be compiled"):
        ours["not compiled"]()
    with pytest.raises(ValueError, match="requires y to be passed"):
        SKLearnTransformer(dg_mlp).fit(X_REG, None)


def test_the_namespace_without_scikit_learn():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import deepgrad.wrappers\n"
            "try:\n"
            "    deepgrad.wrappers.SKLearnClassifier\n"
            "except ImportError as e:\n"
            "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install deepgrad[sklearn]" in out.stdout
    assert "deepgrad.wrappers" in out.stdout
