"""Keras's customisation hooks of saving and training, checked against Keras 3 (torch backend):
``save_assets``/``load_assets``, a direct ``build()`` call and ``build_from_config``, the first
step of a model built by its first call, and element-wise losses that broadcast."""
import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

import deepgrad as dg  # noqa: E402


def test_save_assets_and_load_assets_round_trip(tmp_path):
    @dg.saving.register_keras_serializable(package="hooks_test")
    class WithAssets(dg.layers.Dense):
        def __init__(self, vocab=None, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.vocab = vocab

        def save_assets(self, inner_path):
            with open(os.path.join(inner_path, "vocabulary.txt"), "w") as f:
                f.write(self.vocab)
            os.makedirs(os.path.join(inner_path, "nested"))
            with open(os.path.join(inner_path, "nested", "extra.bin"), "wb") as f:
                f.write(b"\x00\x01")

        def load_assets(self, inner_path):
            with open(os.path.join(inner_path, "vocabulary.txt")) as f:
                self.vocab = f.read().replace("<unk>", "little")
            with open(os.path.join(inner_path, "nested", "extra.bin"), "rb") as f:
                self.extra = f.read()

    model = dg.Sequential([WithAssets(vocab="Mary had a <unk> lamb.", units=5)])
    model(np.random.random((2, 10)))
    model.save(tmp_path / "assets.keras")
    import zipfile
    names = zipfile.ZipFile(tmp_path / "assets.keras").namelist()
    assert any(n.endswith("vocabulary.txt") for n in names)
    restored = dg.models.load_model(tmp_path / "assets.keras")
    assert restored.layers[0].vocab == "Mary had a little lamb." and restored.layers[0].extra == b"\x00\x01"


def _custom_build(fw):
    class WithCustomBuild(fw.layers.Layer):
        def __init__(self, units=4, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def call(self, inputs):
            return fw.ops.matmul(inputs, self.w)

        def get_config(self):
            return dict(units=self.units, **super().get_config())

        def build(self, input_shape, layer_init):
            super().build(input_shape)
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer=layer_init)
            self.layer_init = layer_init

        def get_build_config(self):
            config = super().get_build_config()
            config.update({"layer_init": self.layer_init})
            return config

        def build_from_config(self, config):
            self.build(config["input_shape"], config["layer_init"])
    return WithCustomBuild


def test_a_direct_build_is_recorded_and_build_from_config_runs_on_loading(tmp_path):
    configs = {}
    for fw in (keras, dg):
        layer = _custom_build(fw)(units=3)
        layer.build(input_shape=(8,), layer_init="ones")
        configs[fw] = (layer.built, layer.get_build_config())
    assert configs[dg][0] is configs[keras][0] is True
    # Keras records every build argument (here under "shapes_dict", as it does when build takes
    # several); deepgrad records the input shape, which build_from_config reads back
    assert tuple(configs[dg][1]["input_shape"]) == tuple(configs[keras][1]["shapes_dict"]["input_shape"]) == (8,)
    cls = dg.saving.register_keras_serializable(package="hooks_test")(_custom_build(dg))
    layer = cls(units=3)
    layer.build(input_shape=(8,), layer_init="ones")
    model = dg.Sequential([layer, dg.layers.Dense(1)])
    x = np.random.default_rng(0).random((2, 8)).astype("float32")
    expected = model(x).numpy()
    model.save(tmp_path / "build.keras")
    restored = dg.models.load_model(tmp_path / "build.keras")
    assert restored.layers[0].layer_init == "ones" and restored.built
    np.testing.assert_allclose(restored(x).numpy(), expected, rtol=1e-6)


def test_the_first_batch_trains_a_model_built_by_its_first_call():
    """A subclassed model without an Input has no weights before its first call: that call's
    step must still update them, as Keras's first step does."""
    class Net(dg.Model):
        def __init__(self):
            super().__init__()
            self.dense = dg.layers.Dense(1, kernel_initializer="ones")

        def call(self, x):
            return self.dense(x)
    model = Net()
    model.compile(dg.optimizers.SGD(0.1), "mse")
    model.train_on_batch(np.ones((4, 2), "float32"), np.zeros((4, 1), "float32"))
    # one SGD step of mse from w = 1, b = 0 on x = 1, y = 0: dL/dw = 2 * 2 = 4 -> w = 1 - 0.4
    np.testing.assert_allclose(model.dense.kernel.numpy(), np.full((2, 1), 0.6), rtol=1e-6)


@pytest.mark.parametrize("name", ["mean_squared_error", "mean_absolute_error", "huber", "log_cosh", "hinge",
                                  "poisson"])
def test_elementwise_losses_broadcast_as_keras(name):
    rng = np.random.default_rng(1)
    y_true = rng.random((6, 1)).astype("float32")
    y_pred = rng.random((6, 4)).astype("float32") + 0.1
    ours = dg.losses.get(name)(y_true, y_pred)
    theirs = keras.losses.get(name)(y_true, y_pred)
    np.testing.assert_allclose(np.asarray(ours.data if hasattr(ours, "data") else ours),
                               keras.ops.convert_to_numpy(theirs), rtol=1e-5, atol=1e-6)


def test_crossentropies_keep_equal_shapes():
    with pytest.raises(ValueError, match="does not match"):
        dg.losses.binary_crossentropy(np.ones((6, 1), "float32"), np.full((6, 4), 0.5, "float32"))
    with pytest.raises(ValueError, match="does not match"):
        dg.losses.mean_squared_error(np.ones((6, 3), "float32"), np.ones((6, 4), "float32"))
