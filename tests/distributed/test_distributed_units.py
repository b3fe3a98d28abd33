"""What runs in one process: the install hint, the shard rule, the launcher's command and
failure message, the Keras distribution objects, and fit with no process group."""
import sys

import numpy as np
import pytest

from deepgrad import process_group
from deepgrad.distributed import launch
from deepgrad.distributed.group import ShardedBatches, _shard_bounds, model_signature
from deepgrad.models import data_adapter as da


def test_init_without_mpi4py_names_the_extra(monkeypatch):
    import deepgrad.distributed as hvd
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r"pip install deepgrad\[distributed\]"):
        hvd.init()
    assert process_group.current() is None


@pytest.mark.parametrize("n,size", [(12, 3), (4, 3), (5, 2), (7, 4), (3, 3), (100, 7)])
def test_shard_bounds_are_array_split(n, size):
    parts = np.array_split(np.arange(n), size)
    for rank, part in enumerate(parts):
        lo, hi = _shard_bounds(n, size, rank)
        np.testing.assert_array_equal(np.arange(lo, hi), part)


class _Group:
    def __init__(self, rank, size):
        self.rank, self.size, self.samples, self.step_scale = rank, size, 0, None


@pytest.mark.parametrize("n,batch,size,steps", [(52, 12, 3, 5), (50, 12, 3, 4), (48, 12, 3, 4), (13, 4, 2, 3)])
def test_sharded_batches_cover_the_data_with_equal_steps(n, batch, size, steps):
    x = np.arange(n * 2, dtype=np.float64).reshape(n, 2)
    y = np.arange(n)
    seen = []
    for rank in range(size):
        group = _Group(rank, size)
        source = ShardedBatches(da.ArrayBatches(x, y, batch_size=batch), group, shard=True)
        batches = list(source)
        assert source.num_batches == len(batches) == steps   # every rank the same number of steps
        seen.append(np.concatenate([b[1] for b in batches]))
        assert group.samples == sum(len(b[1]) for b in batches)
        assert group.step_scale == len(batches[-1][1]) / (n - (steps - 1) * batch if n - (steps - 1) * batch >= size
                                                           and steps * batch > n else batch)
        np.testing.assert_array_equal(np.concatenate([b[0] for b in batches])[:, 1], 2 * seen[-1] + 1)
    covered = np.sort(np.concatenate(seen))
    last = n - (-(-n // batch) - 1) * batch   # the last global batch's size
    dropped = last if last < size else 0
    np.testing.assert_array_equal(covered, np.arange(n - dropped))   # each sample once; a too-small last batch dropped


def test_unsharded_batches_pass_through_and_count():
    group = _Group(1, 2)
    source = ShardedBatches(da.ArrayBatches(np.zeros((10, 3)), np.zeros(10), batch_size=4), group, shard=False)
    assert [len(b[0]) for b in source] == [4, 4, 2] and source.num_batches == 3
    assert group.samples == 10 and group.step_scale is None   # the optimiser averages: 1 / size


def test_model_signature_sees_shapes_and_dtypes():
    import deepgrad as dg
    from deepgrad import layers
    a = dg.Sequential([layers.Input((4,)), layers.Dense(3)])
    b = dg.Sequential([layers.Input((4,)), layers.Dense(3)])
    c = dg.Sequential([layers.Input((4,)), layers.Dense(3, dtype="float64")])
    d = dg.Sequential([layers.Input((5,)), layers.Dense(3)])
    assert model_signature(a) == model_signature(b)
    assert model_signature(a)[1:] == (2, 15)
    assert len({model_signature(m)[0] for m in (a, c, d)}) == 3


def test_mpiexec_command_and_hosts(tmp_path):
    cmd = launch.mpiexec_command(["python", "t.py"], 4, hosts="h1,h2")
    assert cmd[0].endswith("mpiexec") and cmd[1:] == ["-n", "4", "-hosts", "h1,h2", "python", "t.py"]
    hostfile = tmp_path / "hosts"
    hostfile.write_text("h1:2\nh2:2\n")
    assert launch.mpiexec_command(["x"], 2, hostfile=str(hostfile))[3:5] == ["-f", str(hostfile)]
    with pytest.raises(ValueError, match="workers must be a whole number"):
        launch.mpiexec_command(["x"], 0)
    with pytest.raises(ValueError, match="not both"):
        launch.mpiexec_command(["x"], 2, hosts="a", hostfile=str(hostfile))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        launch.mpiexec_command(["x"], 2, hostfile=str(tmp_path / "missing"))


def test_failure_message_prefers_the_rank_that_raised():
    hydra = "=   PID 11 RUNNING AT vm\n=   EXIT CODE: 9\n"
    assert launch.failure_message(hydra, [], 2) is None
    died = [(2, 12, "vm", None), (0, 10, "vm", None)]
    assert launch.failure_message(hydra, died, 3) == ("deepgrad.distributed: rank 2 (pid 12 on vm) was killed "
                                                      "(signal 9); all 3 ranks were ended")
    raised = [(1, 11, "vm", "failed")]
    assert "rank 1 (pid 11 on vm) raised an exception" in launch.failure_message(hydra, died, 3, raised)


def test_keras_distribution_objects_in_one_process():
    from deepgrad import distribution as dist
    assert dist.list_devices() == ["cpu:0"] and dist.get_device_count("cpu") == 1
    with pytest.raises(ValueError, match="deepgrad runs on CPUs"):
        dist.list_devices("gpu")
    mesh = dist.DeviceMesh((1,), ["batch"])
    assert mesh.devices.tolist() == ["cpu:0"]
    with pytest.raises(ValueError, match=r"needs 2 devices, got 1"):
        dist.DeviceMesh((2,), ["batch"])
    dp = dist.DataParallel()
    assert dp.batch_dim_name == "batch" and dp.auto_shard_dataset and dp.num_model_replicas == 1
    assert dp.get_data_layout((8, 3)).axes == ("batch", None)
    with pytest.raises(ValueError, match="2 devices given, but the job has 1 ranks"):
        dist.DataParallel(devices=["cpu:0", "cpu:1"])
    layout_map = dist.LayoutMap(dist.DeviceMesh((1, 1), ["batch", "model"]))
    layout_map["dense.*kernel"] = (None, "model")
    assert layout_map["dense_1/kernel"].axes == (None, "model") and layout_map["conv/bias"] is None
    with pytest.raises(ValueError, match="not axes of the mesh"):
        layout_map["bias"] = ("nope",)
    mp = dist.ModelParallel(layout_map=layout_map, batch_dim_name="batch")
    mp._check_runnable()   # a model axis of one device cuts nothing: data parallel
    assert dist.distribute_tensor(np.ones(3), dist.TensorLayout((None,))) is not None
    assert dist.distribution() is None


def test_model_parallel_that_cuts_weights_is_refused(monkeypatch):
    from deepgrad.distribution import lib
    monkeypatch.setattr(lib, "list_devices", lambda device_type=None: ["cpu:0", "cpu:1"])
    monkeypatch.setattr(lib, "_world_size", lambda: 2)
    layout_map = lib.LayoutMap(lib.DeviceMesh((1, 2), ["batch", "model"]))
    layout_map["dense.*kernel"] = (None, "model")
    with pytest.raises(ValueError, match="cuts weights along mesh axis 'model' of 2 devices"):
        lib.set_distribution(lib.ModelParallel(layout_map=layout_map, batch_dim_name="batch"))
    assert lib.distribution() is None


def test_process_group_default_changes_nothing():
    group = process_group.ProcessGroup()
    grads = [np.ones(2)]
    assert group.reduce_gradients(grads, None) is grads and group.batches("src") == "src"
    assert group.begin_fit(None, 3, 5) == 3 and group.average_logs({"loss": 1.0}) == {"loss": 1.0}
    assert group.is_chief() and group.keep_callback(object()) and group.any(True) and not group.any(False)


def test_train_workers_passes_hosts_and_hostfile_to_mpiexec(monkeypatch, tmp_path):
    from deepgrad import cli
    calls = []
    monkeypatch.setattr(launch, "run", lambda command, workers, hosts=None, hostfile=None:
                        calls.append((command, workers, hosts, hostfile)) or 0)
    monkeypatch.delenv("PMI_RANK", raising=False)
    out = str(tmp_path / "run")
    assert cli.main(["train", "--model", "mlp", "--workers", "4", "--hosts", "host1:2,host2:2", "--out", out]) == 0
    hostfile = tmp_path / "hosts.txt"
    hostfile.write_text("host1:2\nhost2:2\n")
    assert cli.main(["train", "--workers", "4", "--hostfile", str(hostfile), "--out", out]) == 0
    (command, workers, hosts, hostfile_arg), second = calls
    assert workers == 4 and hosts == "host1:2,host2:2" and hostfile_arg is None
    assert command[:4] == [sys.executable, "-m", "deepgrad", "train"] and "--workers" not in command
    assert command[command.index("--out") + 1] == out and command[command.index("--model") + 1] == "mlp"
    assert second[2] is None and second[3] == str(hostfile)
    # and the hydra command lines they become
    assert launch.mpiexec_command(command, 4, hosts=hosts)[1:5] == ["-n", "4", "-hosts", "host1:2,host2:2"]
    assert launch.mpiexec_command(command, 4, hostfile=second[3])[1:5] == ["-n", "4", "-f", str(hostfile)]
    assert cli.main(["train", "--workers", "2", "--hostfile", str(tmp_path / "missing")]) == 2


def test_metric_state_is_what_reset_state_sets():
    from deepgrad import metrics
    from deepgrad.distributed.group import metric_state
    mean = metrics.Mean()
    mean.update_state(np.array([1.0, 2.0, 4.0]))
    assert metric_state(mean) == {"total": 7.0, "count": 3}
    assert mean.result() == 7.0 / 3   # the original is untouched by the probe
    auc = metrics.AUC(num_thresholds=5)
    auc.update_state(np.array([0, 1, 1]), np.array([0.2, 0.7, 0.4]))
    state = metric_state(auc)
    assert set(state) == {"true_positives", "false_positives", "true_negatives", "false_negatives"}
    np.testing.assert_array_equal(state["true_positives"], auc.true_positives)
    assert state["true_positives"].sum() > 0 and auc.thresholds.shape == (5,)   # thresholds are config


def test_reducer_views_take_backward_gradients_as_they_stand_and_scale_them_once():
    pytest.importorskip("mpi4py")
    import deepgrad as dg
    from deepgrad.distributed.collectives import GradientReducer
    from deepgrad.distributed.mpi import mpi
    from deepgrad.ops import nn

    rng = np.random.default_rng(0)
    k, b = dg.Tensor(rng.normal(size=(5, 3)), requires_grad=True), dg.Tensor(rng.normal(size=3), requires_grad=True)
    x = dg.Tensor(rng.normal(size=(4, 5)))
    reducer = GradientReducer(mpi().COMM_SELF, bucket_bytes=1 << 20)
    with pytest.raises(RuntimeError, match="no step is started"):
        reducer.out
    packed = reducer.reduce(dg.grad((nn.linear(x, k, b) ** 2).sum(), [k, b]), scale=0.3)
    packed = [p.copy() for p in packed]
    reducer.start([k, b], 0.3)
    assert not reducer.overlaps and all(v.base is reducer._step.plan.buckets[0][0] for v in reducer.out)
    grads = dg.grad((nn.linear(x, k, b) ** 2).sum(), [k, b], out=reducer.out)
    assert grads[0] is reducer.out[0] and grads[1] is reducer.out[1]
    reduced = reducer.reduce(grads)
    for got, want in zip(reduced, packed):
        np.testing.assert_array_equal(got, want)   # 0.3 g, bit for bit, on one rank
    g = 2 * (x.data @ k.data + b.data)
    np.testing.assert_allclose(reduced[0], 0.3 * x.data.T @ g, rtol=1e-14)
    np.testing.assert_allclose(reduced[1], 0.3 * g.sum(axis=0), rtol=1e-14)
