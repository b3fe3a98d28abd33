"""keras.distillation.Distiller: training against Keras's with the same weights (losses equal
step by step, the student learns, the teacher stays), its reported metrics, its errors, its
config and its files."""
import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad.distillation import DistillationLoss, Distiller, FeatureDistillation, LogitsDistillation

torch.set_num_threads(1)

RNG = np.random.default_rng(0)
X = RNG.random((20, 6)).astype(np.float32)
Y = RNG.integers(0, 4, 20).astype(np.int32)


def _functional(m, widths, prefix):
    """Input(6) -> Dense(w, relu) ... -> Dense(4), layers named ``{prefix}_{i}`` (last: ``{prefix}_out``)."""
    inputs = m.Input((6,))
    h = inputs
    for i, w in enumerate(widths):
        h = m.layers.Dense(w, activation="relu", name=f"{prefix}_{i}")(h)
    return m.Model(inputs, m.layers.Dense(4, name=f"{prefix}_out")(h), name=prefix)


def _pair(teacher_widths=(16, 8), student_widths=(8,)):
    """The same teacher and student in Keras and in deepgrad, with Keras's weights in both (drawn
    from a fixed seed: float32 rounding differs between the frameworks, and some draws put a ReLU
    unit so near its kink that three epochs carry it across in one and not the other)."""
    keras.utils.set_random_seed(1)
    models = {}
    for m in (keras, dg):
        models[m] = _functional(m, teacher_widths, "teacher"), _functional(m, student_widths, "student")
    for ours, theirs in zip(models[dg], models[keras]):
        ours.set_weights(theirs.get_weights())
    return models


def _train_both(make_losses, optimizer, epochs=2, batch_size=8, **kwargs):
    models = _pair(**kwargs.pop("pair", {}))
    results = {}
    for m in (keras, dg):
        teacher, student = models[m]
        losses, weights = make_losses(m)
        distiller = m.distillation.Distiller(teacher, student, losses, distillation_loss_weights=weights, **kwargs)
        distiller.compile(optimizer=optimizer(m), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = distiller.fit(X, Y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0,
                                validation_data=(X[:10], Y[:10]))
        results[m] = distiller, history.history
    return models, results


def _assert_same_history(ours, theirs, rtol=1e-5):
    assert set(ours) == set(theirs), (sorted(ours), sorted(theirs))
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=rtol, atol=1e-6, err_msg=key)


def test_logits_distillation_trains_as_kerass_does():
    models, results = _train_both(lambda m: (m.distillation.LogitsDistillation(temperature=2.0), None),
                                  lambda m: m.optimizers.SGD(0.1), epochs=3)
    ours, theirs = results[dg][1], results[keras][1]
    assert sorted(theirs) == sorted(["loss", "accuracy", "student_loss", "distillation_loss", "total_loss",
                                     "val_loss", "val_accuracy", "val_student_loss", "val_distillation_loss",
                                     "val_total_loss"])
    _assert_same_history(ours, theirs)
    # the trained students agree; the teachers did not move
    for w_ours, w_theirs in zip(models[dg][1].get_weights(), models[keras][1].get_weights()):
        np.testing.assert_allclose(w_ours, w_theirs, rtol=1e-5, atol=1e-6)
    for w_ours, w_theirs in zip(models[dg][0].get_weights(), models[keras][0].get_weights()):
        np.testing.assert_array_equal(w_ours, w_theirs)


def test_logits_and_feature_losses_weighted_train_as_kerass_do():
    def losses(m):
        return ([m.distillation.LogitsDistillation(4.0, m.losses.KLDivergence()),
                 m.distillation.FeatureDistillation("mse", "teacher_1", "student_0")], [1.0, 0.5])

    models, results = _train_both(losses, lambda m: m.optimizers.Adam(0.01), epochs=2, student_loss_weight=0.3)
    _assert_same_history(results[dg][1], results[keras][1])
    for w_ours, w_theirs in zip(models[dg][1].get_weights(), models[keras][1].get_weights()):
        np.testing.assert_allclose(w_ours, w_theirs, rtol=1e-5, atol=1e-6)
    # evaluate and predict run the student, the same numbers as Keras's
    ours, theirs = results[dg][0], results[keras][0]
    np.testing.assert_allclose(ours.evaluate(X, Y, verbose=0), theirs.evaluate(X, Y, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_the_ends_of_student_loss_weight(weight):
    _, results = _train_both(lambda m: (m.distillation.LogitsDistillation(3.0), None),
                             lambda m: m.optimizers.SGD(0.05), epochs=1, student_loss_weight=weight)
    ours, theirs = results[dg][1], results[keras][1]
    _assert_same_history(ours, theirs)
    assert (ours["distillation_loss"] if weight == 1.0 else ours["student_loss"]) == [0.0]


def test_the_student_learns_and_the_teacher_is_frozen():
    teacher, student = _functional(dg, (16,), "teacher"), _functional(dg, (8,), "student")
    teacher_before = [w.copy() for w in teacher.get_weights()]
    student_before = [w.copy() for w in student.get_weights()]
    distiller = Distiller(teacher, student, LogitsDistillation(2.0, dg.losses.KLDivergence()),
                          student_loss_weight=0.0)
    assert not teacher.trainable and student.trainable
    assert [id(w) for w in distiller.trainable_weights] == [id(w) for w in student.trainable_weights]
    assert len(distiller.weights) == len(teacher.weights) + len(student.weights)
    distiller.compile(optimizer=dg.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    history = distiller.fit(X, Y, epochs=25, batch_size=20, verbose=0).history["distillation_loss"]
    assert history[-1] < 0.5 * history[0]   # the student moves toward the teacher
    for before, after in zip(teacher_before, teacher.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert any(not np.array_equal(b, a) for b, a in zip(student_before, student.get_weights()))


def test_unbuilt_subclassed_models_are_accepted_as_keras_accepts_them():
    class Net(dg.Model):
        def __init__(self, width):
            super().__init__()
            self.hidden = dg.layers.Dense(width, activation="relu")
            self.out = dg.layers.Dense(4)

        def call(self, x):
            return self.out(self.hidden(x))

    teacher, student = Net(12), Net(6)
    distiller = Distiller(teacher, student, LogitsDistillation())
    distiller.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = distiller.fit(X, Y, epochs=1, verbose=0).history
    assert np.isfinite(history["total_loss"][0])
    assert teacher.built and not teacher.trainable and teacher.trainable_weights == []
    assert len(distiller.trainable_weights) == 4
    # layer names need a graph to read them from
    with pytest.raises(ValueError, match="appear to be subclassed"):
        Distiller(Net(12), student, FeatureDistillation("mse", "dense", None))


def test_metrics_are_kerass():
    teacher, student = _pair()[dg]
    distiller = Distiller(teacher, student, LogitsDistillation())
    assert distiller.metrics_names == ["student_loss", "distillation_loss", "total_loss"]
    distiller.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert distiller.metrics_names == ["loss", "compile_metrics", "student_loss", "distillation_loss", "total_loss"]
    logs = distiller.evaluate(X, Y, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["total_loss"], rel=1e-6)
    assert logs["total_loss"] == pytest.approx(0.5 * logs["student_loss"] + 0.5 * logs["distillation_loss"],
                                               rel=1e-6)
    # without targets only the distillation part remains (student_loss_weight=0 trains on x alone)
    d0 = Distiller(teacher, student, LogitsDistillation(2.0, "mse"), student_loss_weight=0.0)
    d0.compile(loss="sparse_categorical_crossentropy")
    logs = d0.evaluate(X, verbose=0, batch_size=20, return_dict=True)
    expected = np.mean((teacher(X).data / 2.0 - student(X).data / 2.0) ** 2)
    assert logs["student_loss"] == 0.0
    assert logs["distillation_loss"] == pytest.approx(expected, rel=1e-6) == logs["total_loss"]


def test_feature_extractors_read_every_named_layer_once():
    teacher, student = _pair(teacher_widths=(8, 8), student_widths=(8, 8))[dg]
    distiller = Distiller(teacher, student, [
        LogitsDistillation(3.0),
        FeatureDistillation("mse", "teacher_0", "student_0"),
        FeatureDistillation("mse", "teacher_1", "student_1"),
        FeatureDistillation("cosine_similarity", "teacher_0", "student_1"),
    ], distillation_loss_weights=[1.0, 0.5, 0.3, 0.2])
    assert len(distiller._teacher_feature_extractor.outputs) == 3
    assert len(distiller._student_feature_extractor.outputs) == 3
    assert distiller._student_feature_extractor.name == "student_multi_feature_extractor"
    features = distiller._teacher_feature_extractor(X, training=False)
    np.testing.assert_allclose(features["final_output"].data, teacher(X).data, rtol=1e-6)
    hidden = dg.Model(teacher.inputs, teacher.get_layer("teacher_0").output)(X)
    np.testing.assert_allclose(features["teacher_0"].data, hidden.data, rtol=1e-6)
    assert Distiller(teacher, student, LogitsDistillation())._teacher_feature_extractor is None


def _errors(m, teacher, student):
    D, L, F = m.distillation.Distiller, m.distillation.LogitsDistillation, m.distillation.FeatureDistillation
    return {
        "teacher not a model": lambda: D("not_a_model", student, L()),
        "student not a model": lambda: D(teacher, m.layers.Dense(3), L()),
        "weight above 1": lambda: D(teacher, student, L(), student_loss_weight=1.5),
        "weight below 0": lambda: D(teacher, student, L(), student_loss_weight=-0.1),
        "weight a string": lambda: D(teacher, student, L(), student_loss_weight="0.5"),
        "no losses": lambda: D(teacher, student, None),
        "weights length": lambda: D(teacher, student, [L(), L()], distillation_loss_weights=[1.0]),
        "teacher layer name": lambda: D(teacher, student, F("mse", "no_such_layer", "student_0")),
        "student layer name": lambda: D(teacher, student, F("mse", None, "no_such_layer")),
        "output shapes": lambda: D(teacher, m.Sequential([m.Input((6,)), m.layers.Dense(5)]), L()),
        "input shapes": lambda: D(teacher, m.Sequential([m.Input((7,)), m.layers.Dense(4)]), L()),
        "compile without loss": lambda: D(teacher, student, L()).compile(loss=None),
        "metrics not a list": lambda: D(teacher, student, L()).compile(loss="mse", metrics="accuracy"),
    }


def test_errors_where_keras_raises():
    models = _pair()
    ours, theirs = _errors(dg, *models[dg]), _errors(keras, *models[keras])
    for case in theirs:
        with pytest.raises(ValueError):
            theirs[case]()
        with pytest.raises(ValueError):
            ours[case]()


def test_error_messages_name_what_is_wrong():
    teacher, student = _pair()[dg]
    with pytest.raises(ValueError, match="In teacher model: No such layer: nope"):
        Distiller(teacher, student, FeatureDistillation("mse", "nope", None))
    with pytest.raises(ValueError, match=r"output shapes are incompatible. Teacher: \(None, 4\), Student: \(None, 5\)"):
        Distiller(teacher, dg.Sequential([dg.Input((6,)), dg.layers.Dense(5)]), LogitsDistillation())
    with pytest.raises(ValueError, match=r"distillation_loss_weights \(1\) must match number of distillation_losses"):
        Distiller(teacher, student, [LogitsDistillation()] * 2, distillation_loss_weights=[1.0])
    with pytest.raises(TypeError, match="DistillationLoss"):
        Distiller(teacher, student, "kl_divergence")

    class Vector(DistillationLoss):
        def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
            return (teacher_outputs - student_outputs) ** 2

    distiller = Distiller(teacher, student, Vector())
    distiller.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="returned a non-scalar loss with shape"):
        distiller.fit(X, Y, verbose=0)


def test_a_custom_distillation_loss_is_used():
    class L1(DistillationLoss):
        def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
            return dg.mean(dg.abs(teacher_outputs - student_outputs))

    teacher, student = _pair()[dg]
    distiller = Distiller(teacher, student, L1(), student_loss_weight=0.0)
    distiller.compile(loss="sparse_categorical_crossentropy")
    logs = distiller.evaluate(X, Y, batch_size=20, verbose=0, return_dict=True)
    assert logs["distillation_loss"] == pytest.approx(float(np.mean(np.abs(teacher(X).data - student(X).data))),
                                                      rel=1e-6)


def test_config_round_trip():
    teacher, student = _pair()[dg]
    distiller = Distiller(teacher, student, [LogitsDistillation(3.0), FeatureDistillation("mse", "teacher_1",
                                                                                          "student_0")],
                          distillation_loss_weights=[1.0, 0.25], student_loss_weight=0.7)
    config = json.loads(json.dumps(distiller.get_config()))
    assert {"teacher", "student", "distillation_losses", "distillation_loss_weights",
            "student_loss_weight"} <= set(config)
    again = Distiller.from_config(config)
    assert again.student_loss_weight == 0.7 and again.distillation_loss_weights == [1.0, 0.25]
    assert isinstance(again.distillation_losses[0], LogitsDistillation)
    assert again.distillation_losses[0].temperature == 3.0
    assert again.distillation_losses[1].teacher_layer_name == "teacher_1"
    assert again(X).shape == (20, 4)
    assert not again.teacher.trainable


@pytest.mark.parametrize("suffix", [".keras", ".deepgrad"])
def test_save_and_load(tmp_path, suffix):
    teacher, student = _pair()[dg]
    distiller = Distiller(teacher, student, LogitsDistillation(3.0), student_loss_weight=0.7)
    distiller.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    distiller.fit(X, Y, epochs=1, verbose=0)
    path = str(tmp_path / f"distiller{suffix}")
    distiller.save(path)
    loaded = dg.models.load_model(path)
    assert isinstance(loaded, Distiller) and loaded.student_loss_weight == 0.7
    np.testing.assert_allclose(loaded(X).data, distiller(X).data, rtol=1e-6)
    np.testing.assert_allclose(loaded.teacher(X).data, teacher(X).data, rtol=1e-6)
    assert not loaded.teacher.trainable
    # it comes back compiled, with the student's loss: the same evaluation
    np.testing.assert_allclose(loaded.evaluate(X, Y, verbose=0), distiller.evaluate(X, Y, verbose=0), rtol=1e-6)


def test_a_keras_file_of_a_distiller_loads(tmp_path):
    models = _pair()
    teacher, student = models[keras]
    distiller = keras.distillation.Distiller(teacher, student, keras.distillation.LogitsDistillation(3.0),
                                             student_loss_weight=0.7)
    distiller(X[:2])
    path = str(tmp_path / "from_keras.keras")
    distiller.save(path)
    loaded = dg.models.load_model(path)
    assert isinstance(loaded, Distiller) and loaded.student_loss_weight == 0.7
    np.testing.assert_allclose(loaded(X).data, keras.ops.convert_to_numpy(distiller(X)), rtol=1e-5, atol=1e-6)


def test_a_deepgrad_file_of_a_distiller_loads_in_keras(tmp_path):
    teacher, student = _pair()[dg]
    distiller = Distiller(teacher, student, LogitsDistillation(3.0), student_loss_weight=0.7)
    distiller(X[:2])
    path = str(tmp_path / "from_deepgrad.keras")
    distiller.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, keras.distillation.Distiller) and loaded.student_loss_weight == 0.7
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(X)), distiller(X).data, rtol=1e-5, atol=1e-6)


def test_loading_without_the_package_imported_says_what_to_import(tmp_path):
    teacher, student = _pair()[dg]
    distiller = Distiller(teacher, student, LogitsDistillation())
    for suffix in (".keras", ".deepgrad"):
        distiller.save(str(tmp_path / f"d{suffix}"))
    code = ("import sys, deepgrad\n"
            "for path in sys.argv[1:]:\n"
            "    try:\n"
            "        deepgrad.models.load_model(path)\n"
            "    except ValueError as e:\n"
            "        print(e)\n"
            "import deepgrad.distillation\n"
            "print(*[type(deepgrad.models.load_model(path)).__name__ for path in sys.argv[1:]])\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "d.keras"), str(tmp_path / "d.deepgrad")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 3 and all("import deepgrad.distillation before loading" in line for line in lines[:2])
    assert lines[2] == "Distiller Distiller"


def test_kerass_saving_scenario_with_an_unbuilt_teacher(tmp_path):
    """Keras's own test: Sequential models without Input; calling the Distiller builds the
    student only, the teacher stays unbuilt through the config, the file and Keras's loader."""
    def seq(m, prefix, widths):
        return m.Sequential([m.layers.Dense(w, activation="relu", name=f"{prefix}_dense_{i}")
                             for i, w in enumerate(widths, 1)] + [m.layers.Dense(10, name=f"{prefix}_output")])

    x = RNG.random((2, 20)).astype(np.float32)
    distiller = Distiller(seq(dg, "teacher", (32, 16)), seq(dg, "student", (16, 8)),
                          LogitsDistillation(temperature=3.0, loss="kl_divergence"), student_loss_weight=0.7)
    out = distiller(x).data
    assert distiller.student.built and not distiller.teacher.weights
    again = Distiller.from_config(json.loads(json.dumps(distiller.get_config())))
    assert again(x).shape == (2, 10) and again.student_loss_weight == 0.7
    distiller.compile(loss="sparse_categorical_crossentropy")
    for suffix in (".keras", ".deepgrad"):
        path = str(tmp_path / f"unbuilt_teacher{suffix}")
        distiller.save(path)
        loaded = dg.models.load_model(path)
        assert loaded.student_loss_weight == 0.7
        np.testing.assert_allclose(loaded(x).data, out, rtol=1e-6)
    with pytest.warns(UserWarning):   # Keras does not compile a model whose compile() is its own
        theirs = keras.models.load_model(str(tmp_path / "unbuilt_teacher.keras"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(theirs(x)), out, rtol=1e-5, atol=1e-6)
