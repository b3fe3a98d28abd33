"""Get by name: one ``Registry`` behind every ``get``; one ``to_snake_case``.

Every kind is asked the same five questions, the way ``keras.<kind>.get`` answers them: a
name, a ``{"class_name", "config"}`` dict, an instance, a class or callable, and a bad name.
"""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import (activations, constraints, initializers, layers, losses, metrics, optimizers,
                      regularizers)
from deepgrad.naming import to_snake_case
from deepgrad.optimizers import schedules
from deepgrad.registry import Registry


# --------------------------------------------------------------------------- to_snake_case
@pytest.mark.parametrize("name, expected", [
    ("Conv2D", "conv2d"), ("MaxPooling2D", "max_pooling2d"), ("GlobalAveragePooling1D", "global_average_pooling1d"),
    ("Conv2DTranspose", "conv2d_transpose"), ("LSTM", "lstm"), ("SimpleRNN", "simple_rnn"), ("GRUCell", "gru_cell"),
    ("L1L2", "l1l2"), ("AUC", "auc"), ("PReLU", "p_re_lu"), ("KLDivergence", "kl_divergence"),
    ("TopKCategoricalAccuracy", "top_k_categorical_accuracy"), ("HTTPServer", "http_server"),
    ("already_snake", "already_snake"), ("with spaces!", "withspaces"), ("", ""),
])
def test_to_snake_case_follows_keras_rules(name, expected):
    # the three passes of keras.src.utils.naming.to_snake_case (compared with it in keras_parity)
    assert to_snake_case(name) == expected


def test_no_other_snake_case_is_left_in_the_package():
    import pathlib
    import re

    root = pathlib.Path(dg.__file__).parent
    hits = [str(p.relative_to(root)) for p in root.rglob("*.py")
            if re.search(r"def _?snake_case|def _?to_snake", p.read_text()) and p.name != "naming.py"]
    assert hits == []


# --------------------------------------------------------------------------- the Registry itself
class _Base:
    def __init__(self, size=1):
        self.size = size

    def get_config(self):
        return {"size": self.size}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class BigThing(_Base):
    pass


def small_thing(x):
    return x


def test_registry_names_snake_case_aliases_and_errors():
    reg = Registry("thing", [BigThing, small_thing], {"big": BigThing}, base=_Base, ignored_keys=("dtype",))
    assert set(reg.by_name) == {"BigThing", "big_thing", "small_thing", "big"}
    made = reg.get("big_thing")
    assert type(made) is BigThing and made.size == 1
    assert reg.get("small_thing") is small_thing
    made = reg.get({"class_name": "BigThing", "config": {"size": 3, "dtype": "float32"}, "module": "x.y"})
    assert made.size == 3                                       # dtype ignored, module never imported
    # Keras's object form; a class neither deepgrad's nor registered is written with no module
    assert reg.serialize(made) == {"module": None, "class_name": "BigThing", "config": {"size": 3},
                                   "registered_name": None}
    assert reg.serialize(small_thing) == "small_thing"
    assert reg.get(made) is made and type(reg.get(BigThing)) is BigThing and reg.get(None) is None

    class Custom(_Base):
        pass

    assert type(reg.get({"class_name": "Custom", "config": {}}, custom_objects={"Custom": Custom})) is Custom
    known = "big, big_thing, BigThing, small_thing"
    with pytest.raises(ValueError, match=rf"Unknown thing 'Custom'\. Expected one of: {known}; or pass your own"):
        reg.get("Custom")
    with pytest.raises(ValueError, match=r"Could not interpret thing identifier: 3"):
        reg.get(3)
    with pytest.raises(ValueError, match="Could not interpret thing config"):
        reg.deserialize({"config": {}})


def test_registry_case_insensitive_lookup():
    reg = Registry("thing", [BigThing], case_sensitive=False)
    assert type(reg.get("BIGTHING")) is BigThing and type(reg.get("bigthing")) is BigThing


# --------------------------------------------------------------------------- every kind
def _square(x):
    return x * x


CASES = {
    # kind: (module, a name, the class or function it names, a config dict, an instance, a bad name)
    "initializer": (initializers, "he_normal", initializers.HeNormal,
                    {"class_name": "RandomNormal", "config": {"mean": 1.0, "stddev": 0.5, "seed": 3}},
                    initializers.Constant(2.0), "glorot"),
    "regularizer": (regularizers, "l2", regularizers.L2, {"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}},
                    regularizers.L1(0.3), "l3"),
    "constraint": (constraints, "max_norm", constraints.MaxNorm,
                   {"class_name": "MinMaxNorm", "config": {"min_value": 0.5, "max_value": 2.0}},
                   constraints.NonNeg(), "min_norm"),
    "loss": (losses, "mse", losses.mean_squared_error,
             {"class_name": "Huber", "config": {"delta": 2.0, "reduction": "sum", "name": "h"}},
             losses.CategoricalCrossentropy(from_logits=True), "msee"),
    "metric": (metrics, "mae", metrics.MeanAbsoluteError,
               {"class_name": "TopKCategoricalAccuracy", "config": {"k": 2, "name": "top2"}},
               metrics.Precision(), "nope"),
    "optimizer": (optimizers, "RMSprop", optimizers.RMSprop,
                  {"class_name": "Adam", "config": {"learning_rate": 0.01}}, optimizers.SGD(0.1), "adamm"),
    "activation": (activations, "swish", activations.silu, {"class_name": "function", "config": "relu"},
                   None, "relux"),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_get_by_name(kind):
    module, name, target, _, _, _ = CASES[kind]
    got = module.get(name)
    assert got is target if not isinstance(target, type) else type(got) is target


@pytest.mark.parametrize("kind", sorted(CASES))
def test_get_a_config_dict_and_round_trip_it(kind):
    module, _, _, config, _, _ = CASES[kind]
    got = module.get(config)
    if kind == "activation":
        assert got is activations.relu
        return
    assert type(got).__name__ == config["class_name"]
    serialized = module.serialize(got)
    assert serialized["class_name"] == config["class_name"]
    for key, value in config["config"].items():
        assert serialized["config"][key] == value, key
    again = module.deserialize(serialized)
    assert type(again) is type(got) and module.serialize(again) == serialized


@pytest.mark.parametrize("kind", sorted(k for k in CASES if CASES[k][4] is not None))
def test_get_an_instance_returns_it(kind):
    module, _, _, _, instance, _ = CASES[kind]
    assert module.get(instance) is instance


@pytest.mark.parametrize("kind", ["initializer", "regularizer", "constraint", "loss", "activation"])
def test_get_a_callable_returns_it(kind):
    module = CASES[kind][0]
    assert module.get(_square) is _square


def test_metric_callable_is_wrapped_in_a_mean_and_optimizer_callable_is_refused():
    wrapped = metrics.get(lambda y_true, y_pred: np.abs(y_true - y_pred))
    wrapped.update_state(np.array([1.0, 2.0]), np.array([2.0, 5.0]))
    assert wrapped.result() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier"):
        optimizers.get(_square)


@pytest.mark.parametrize("kind", sorted(k for k in CASES if CASES[k][4] is not None))
def test_get_a_class_makes_an_instance(kind):
    module, _, _, _, instance, _ = CASES[kind]
    made = module.get(type(instance))
    assert type(made) is type(instance) and made is not instance


@pytest.mark.parametrize("kind", sorted(CASES))
def test_a_bad_name_says_what_is_known(kind):
    module, name, _, _, _, bad = CASES[kind]
    known = name.lower() if kind == "optimizer" else name  # optimizer names are case-insensitive
    with pytest.raises(ValueError, match=rf"Unknown {kind} '{bad}'\. Expected one of: .*\b{known}\b"):
        module.get(bad)
    with pytest.raises(ValueError, match=rf"Could not interpret {kind} identifier: 12"):
        module.get(12)


def test_custom_objects_resolve_before_the_built_ins():
    class MyInit(initializers.Initializer):
        def __call__(self, shape, dtype=None):
            return np.full(shape, 7.0, dtype or "float32")

    made = initializers.deserialize({"class_name": "MyInit", "config": {}}, custom_objects={"MyInit": MyInit})
    np.testing.assert_array_equal(made((2,)), [7.0, 7.0])
    assert losses.deserialize("mse", custom_objects={"mse": _square}) is _square


def test_layers_get_and_schedules_share_the_lookup():
    assert layers.get("MaxPool2D") is layers.MaxPooling2D and layers.get("Bidirectional") is layers.Bidirectional
    with pytest.raises(ValueError, match="Unknown layer 'dense'"):  # layer names are class names only
        layers.get("dense")
    with pytest.raises(ValueError, match="Could not interpret layer identifier"):
        layers.get(3)
    schedule = schedules.deserialize({"class_name": "ExponentialDecay",
                                      "config": {"initial_learning_rate": 0.1, "decay_steps": 10,
                                                 "decay_rate": 0.5}})
    assert schedule(10) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="Unknown learning-rate schedule 'Linear'"):
        schedules.deserialize({"class_name": "Linear", "config": {}})


def test_optimizer_names_ignore_case():
    for name in ("adam", "Adam", "ADAM"):
        assert type(optimizers.get(name)) is optimizers.Adam


def test_snake_case_names_of_the_built_in_classes_resolve():
    assert type(initializers.get("truncated_normal")) is initializers.TruncatedNormal
    assert type(regularizers.get("orthogonal_regularizer")) is regularizers.OrthogonalRegularizer
    assert type(constraints.get("unit_norm")) is constraints.UnitNorm
    assert type(losses.get("SparseCategoricalCrossentropy")) is losses.SparseCategoricalCrossentropy
    metric = metrics.get("sparse_top_k_categorical_accuracy")
    assert type(metric) is metrics.SparseTopKCategoricalAccuracy and metric.name == "sparse_top_k_categorical_accuracy"
    assert metrics.get("SparseTopKCategoricalAccuracy").name == "sparse_top_k_categorical_accuracy"
