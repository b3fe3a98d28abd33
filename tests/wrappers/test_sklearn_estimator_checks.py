"""scikit-learn's own estimator checks on the three wrappers, as Keras's test runs them, with
the checks Keras expects to fail listed with their reasons."""
import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import deepgrad as dg
from deepgrad.wrappers import SKLearnClassifier, SKLearnRegressor, SKLearnTransformer


def dynamic_model(X, y, loss, out_activation_function="softmax", layers=(10,)):
    """An MLP sized from the data: X's features in, y's columns out."""
    inputs = dg.Input(shape=(X.shape[1],))
    hidden = inputs
    for width in layers:
        hidden = dg.layers.Dense(width, activation="relu")(hidden)
    outputs = [dg.layers.Dense(y.shape[1] if y.ndim > 1 else 1, activation=out_activation_function)(hidden)]
    model = dg.Model(inputs, outputs)
    model.compile(loss=loss, optimizer="rmsprop")
    return model


NOT_DETERMINISTIC = "This test assumes reproducibility in fit."
EXPECTED_FAILED_CHECKS = {
    "SKLearnClassifier": {
        "check_classifiers_regression_target": "not an issue in sklearn>=1.6",
        "check_parameters_default_constructible": "not an issue in sklearn>=1.6",
        "check_classifiers_one_label_sample_weights": "0 sample weight is not ignored",
        "check_classifiers_classes": "with small test cases the estimator returns not all classes sometimes",
        "check_classifier_data_not_an_array": NOT_DETERMINISTIC,
        "check_supervised_y_2d": NOT_DETERMINISTIC,
        "check_fit_idempotent": NOT_DETERMINISTIC,
        "check_classifiers_train": "decision_function can return both probabilities and logits",
    },
    "SKLearnRegressor": {"check_parameters_default_constructible": "not an issue in sklearn>=1.6"},
    "SKLearnTransformer": {"check_parameters_default_constructible": "not an issue in sklearn>=1.6"},
}


@parametrize_with_checks(
    [
        SKLearnClassifier(model=dynamic_model, model_kwargs={"loss": "categorical_crossentropy", "layers": [20, 20, 20]},
                          fit_kwargs={"epochs": 5, "verbose": 0}),
        SKLearnRegressor(model=dynamic_model, model_kwargs={"loss": "mse"}, fit_kwargs={"verbose": 0}),
        SKLearnTransformer(model=dynamic_model, model_kwargs={"loss": "mse"}, fit_kwargs={"verbose": 0}),
    ],
    legacy=True,
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS[type(estimator).__name__],
)
@pytest.mark.slow
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("activation", ["softmax", "linear"])
def test_decision_function_argmax_is_predict(activation):
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=10, n_features=10, n_informative=4, n_classes=2, random_state=42)
    estimator = SKLearnClassifier(model=dynamic_model, fit_kwargs={"epochs": 1, "verbose": 0},
                                  model_kwargs={"out_activation_function": activation, "loss": "binary_crossentropy"})
    estimator.fit(X, y)
    np.testing.assert_array_equal(estimator.decision_function(X).argmax(axis=-1),
                                  np.searchsorted(estimator.classes_, estimator.predict(X)))
