"""TensorBoard (event files read back with tensorboard's EventAccumulator), SwapEMAWeights,
RemoteMonitor (against a server on 127.0.0.1) and OrbaxCheckpoint."""
import builtins
import http.server
import json
import threading
import urllib.parse

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import callbacks, optimizers


def _model(optimizer="adam", seed=0):
    dg.utils.set_random_seed(seed)
    model = dg.Sequential([dg.layers.Input((3,)), dg.layers.Dense(4, activation="tanh"), dg.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    return model


def _data(n=40):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x @ np.array([[1.0], [-1.0], [0.5]], "float32"))


def _accumulator(path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_tensorboard_writes_keras_scalars_histograms_and_graph(tmp_path):
    model = _model()
    board = callbacks.TensorBoard(tmp_path, histogram_freq=2, update_freq=3, write_images=True)
    history = model.fit(*_data(), batch_size=8, epochs=3, verbose=0, validation_split=0.2, callbacks=[board])
    train, val = _accumulator(tmp_path / "train"), _accumulator(tmp_path / "validation")
    loss = train.Scalars("epoch_loss")
    assert [e.step for e in loss] == [0, 1, 2]
    np.testing.assert_allclose([e.value for e in loss], history.history["loss"], rtol=1e-6)
    np.testing.assert_allclose([e.value for e in val.Scalars("epoch_loss")], history.history["val_loss"], rtol=1e-6)
    assert [e.value for e in train.Scalars("epoch_learning_rate")] == pytest.approx([0.001] * 3)
    # 4 batches an epoch, 12 in all: every third is logged
    assert [e.step for e in train.Scalars("batch_loss")] == [3, 6, 9, 12]
    assert [e.step for e in val.Scalars("evaluation_loss_vs_iterations")] == [4, 8, 12]
    # histograms at epochs 0 and 2; the last one is of the final weights
    kernel_path = model.layers[0].kernel.path  # "sequential/dense/kernel", as Keras names it
    histogram = train.Histograms(f"{kernel_path}/histogram")
    assert [e.step for e in histogram] == [0, 2]
    kernel = model.layers[0].kernel.data
    last = histogram[-1].histogram_value
    assert last.num == kernel.size
    assert last.min == pytest.approx(kernel.min()) and last.max == pytest.approx(kernel.max())
    assert last.sum == pytest.approx(kernel.sum(), rel=1e-5) and sum(last.bucket) == kernel.size
    image = train.Images(f"{kernel_path}/image")[0]
    assert (image.height, image.width) == (3, 4)  # a (3, 4) kernel, wider than tall: as it is
    graph = json.loads(train.Tensors("keras")[0].tensor_proto.string_val[0])
    assert graph["class_name"] == "Sequential"


def test_tensorboard_epoch_only_and_errors(tmp_path, monkeypatch):
    model = _model()
    model.fit(*_data(), batch_size=8, epochs=2, verbose=0,
              callbacks=[callbacks.TensorBoard(tmp_path, write_graph=False)])
    tags = _accumulator(tmp_path / "train").Tags()
    assert "batch_loss" not in tags["scalars"] and tags["histograms"] == [] and tags["tensors"] == []
    with pytest.raises(ValueError, match="profile_batch"):
        callbacks.TensorBoard(tmp_path, profile_batch=2)
    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("tensorboard"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(ImportError, match=r"pip install deepgrad\[tensorboard\]"):
        callbacks.TensorBoard(tmp_path)


def test_swap_ema_weights_evaluates_with_the_averages():
    x, y = _data()
    model = _model(optimizers.SGD(0.05, use_ema=True, ema_momentum=0.5))
    for start in range(0, 40, 8):  # batches without fit, which would end on the averages
        model.train_on_batch(x[start:start + 8], y[start:start + 8])
    trained = model.get_weights()
    averages = [a.copy() for _, a in model.optimizer.moving_averages()]
    assert any(np.any(t != a) for t, a in zip(trained, averages))
    swap = callbacks.SwapEMAWeights()
    swapped_loss = model.evaluate(x, y, verbose=0, callbacks=[swap])[0]
    for got, want in zip(model.get_weights(), trained):  # the trained weights are back
        np.testing.assert_array_equal(got, want)
    model.set_weights(averages)
    assert model.evaluate(x, y, verbose=0)[0] == pytest.approx(swapped_loss, rel=1e-6)
    with pytest.raises(ValueError, match="use_ema=True"):
        _model("sgd").evaluate(x, y, verbose=0, callbacks=[callbacks.SwapEMAWeights()])


def test_swap_ema_weights_on_epoch_keeps_the_averages_at_the_end():
    x, y = _data()
    model = _model(optimizers.Adam(0.01, use_ema=True))
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[callbacks.SwapEMAWeights(swap_on_epoch=True)])
    for var, (_, average) in zip(model.trainable_weights, model.optimizer.moving_averages()):
        np.testing.assert_array_equal(var.data, average)


@pytest.fixture
def server():
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append((self.path, self.headers["Content-Type"], self.headers.get("X-Run"), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", received
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("as_json", [False, True])
def test_remote_monitor_posts_each_epoch(server, as_json):
    root, received = server
    model = _model()
    history = model.fit(*_data(), batch_size=8, epochs=2, verbose=0, callbacks=[
        callbacks.RemoteMonitor(root=root, path="/epochs", field="payload", headers={"X-Run": "7"},
                                send_as_json=as_json)])
    assert len(received) == 2
    for epoch, (path, content_type, run, body) in enumerate(received):
        assert path == "/epochs" and run == "7"
        if as_json:
            assert content_type == "application/json"
            sent = json.loads(body)
        else:
            assert content_type == "application/x-www-form-urlencoded"
            sent = json.loads(urllib.parse.parse_qs(body)["payload"][0])
        assert sent["epoch"] == epoch and sent["loss"] == pytest.approx(history.history["loss"][epoch])


def test_remote_monitor_warns_when_the_server_is_unreachable():
    monitor = callbacks.RemoteMonitor(root="http://127.0.0.1:9", timeout=2.0)
    with pytest.warns(UserWarning, match="Could not reach RemoteMonitor root server at http://127.0.0.1:9"):
        monitor.on_epoch_end(0, {"loss": np.float32(1.5)})


def test_orbax_checkpoint_names_the_missing_package(tmp_path):
    with pytest.raises(ImportError, match="orbax-checkpoint"):
        callbacks.OrbaxCheckpoint(str(tmp_path))


def test_terminate_on_nan_can_raise():
    model = _model(optimizers.SGD(1e30))
    x, y = _data()
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch"):
        model.fit(x * 1e10, y, batch_size=8, epochs=3, verbose=0,
                  callbacks=[callbacks.TerminateOnNaN(raise_error=True)])


def test_double_checkpoint_restores_the_previous_backup_when_the_last_is_damaged(tmp_path):
    x, y = _data()

    class Interrupt(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    model = _model("sgd")
    backup = callbacks.BackupAndRestore(tmp_path / "backup", double_checkpoint=True)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=8, epochs=5, verbose=0, shuffle=False, callbacks=[backup, Interrupt()])
    files = sorted(p.name for p in (tmp_path / "backup").iterdir())
    assert files == ["backup.previous.safetensors", "backup.safetensors"]
    (tmp_path / "backup" / "backup.safetensors").write_bytes(b"damaged")
    resumed = []
    model = _model("sgd")
    model.fit(x, y, batch_size=8, epochs=5, verbose=0, shuffle=False, callbacks=[
        callbacks.BackupAndRestore(tmp_path / "backup", double_checkpoint=True),
        callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: resumed.append(epoch))])
    assert resumed == [2, 3, 4]  # the previous backup holds epoch 1 (epoch 2's is damaged)
    assert not (tmp_path / "backup").exists()
