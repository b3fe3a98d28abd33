"""The short paths of small calls: each must give what the general path gives.

``Layer.__call__`` reads dtypes and masks without calling the properties unless a subclass
overrides them; ``Model.__call__`` takes one array directly; ``Function.apply`` builds its
per-input lists with C-level maps and its output Tensor inline; backward sends each
gradient inline; ``Linear`` skips reshapes on 2-D inputs; an optimizer's flat group keeps
each variable's view of its buffer. Python bytecodes per call are counted (deterministic
on one Python version) so the savings do not silently come undone.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad import layers
from deepgrad.autograd import Function

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bytecodes.py"
_spec = importlib.util.spec_from_file_location("benchmarks_bytecodes", _PATH)
bytecodes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bytecodes)


class _FloorMask(layers.Layer):
    """Overrides compute_mask: the output mask keeps the steps whose input is > 0."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return inputs * 2.0

    def compute_mask(self, inputs, mask=None):
        return inputs.data[..., 0] > 0


class _Float64Compute(layers.Layer):
    """Overrides compute_dtype: float inputs are cast to float64 before call."""

    @property
    def compute_dtype(self):
        return np.dtype("float64")

    def call(self, inputs):
        return inputs + 1.0


def test_a_layer_that_overrides_compute_mask_or_compute_dtype_is_still_asked():
    x = dg.Tensor(np.array([[[1.0], [-2.0], [3.0]]], np.float32))
    out = _FloorMask()(x)
    np.testing.assert_array_equal(out.data, x.data * 2)
    np.testing.assert_array_equal(out._keras_mask, [[True, False, True]])
    out = _Float64Compute()(x)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.data, x.data.astype(np.float64) + 1)


def test_masks_pass_through_plain_layers_as_before():
    ids = np.array([[3, 1, 0, 0], [2, 0, 0, 0]])
    embedded = layers.Embedding(5, 3, mask_zero=True)(ids)
    want = ids != 0
    dense = layers.Dense(2)(embedded)          # supports masking: the mask passes through
    np.testing.assert_array_equal(dense._keras_mask, want)
    flat = layers.Flatten()(embedded)          # does not: its new output carries no mask
    assert flat._keras_mask is None
    same = layers.Layer()(embedded)            # the identity layer leaves its input's mask alone
    assert same is embedded
    np.testing.assert_array_equal(same._keras_mask, want)
    given = np.array([[True, True, True, False], [True, False, False, False]])
    # a call that does not take a mask drops the given one: the input's passes through
    np.testing.assert_array_equal(layers.Dense(2)(embedded, mask=given)._keras_mask, want)
    seen = []

    class TakesMask(layers.Layer):
        def __init__(self):
            super().__init__()
            self.supports_masking = True

        def call(self, inputs, mask=None):
            seen.append(mask)
            return inputs * 1.0

    np.testing.assert_array_equal(TakesMask()(embedded, mask=given)._keras_mask, given)
    np.testing.assert_array_equal(TakesMask()(embedded)._keras_mask, want)
    np.testing.assert_array_equal(seen[0], given)
    np.testing.assert_array_equal(seen[1], want)


def test_mixed_precision_layer_still_casts_its_inputs_and_computes_in_float16():
    layer = layers.Dense(3, dtype="mixed_float16")
    out = layer(np.ones((2, 4), np.float32))
    assert out.dtype == np.float16 and layer.kernel.dtype == np.float32
    ref = (np.ones((2, 4), np.float16) @ layer.kernel.data.astype(np.float16)
           + layer.bias.data.astype(np.float16))
    np.testing.assert_array_equal(out.data, ref)


def test_a_sequential_called_empty_builds_its_input_once_given_a_layer():
    model = dg.Sequential()
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(model(x).data, x)
    model.add(layers.Dense(2, kernel_initializer="ones"))
    np.testing.assert_array_equal(model(x).data, np.full((2, 2), 3.0, np.float32))
    assert model.inputs[0].shape == (None, 3)


def test_an_array_in_the_model_input_dtype_is_wrapped_without_a_copy():
    inputs = layers.Input((4,))
    model = dg.Model(inputs, layers.Dense(2)(inputs))
    x32 = np.arange(8, dtype=np.float32).reshape(2, 4)
    x64 = x32.astype(np.float64)
    np.testing.assert_array_equal(model(x32).data, model(x64).data)  # float64 cast to the input's float32
    seen = []
    model.layers[-1].call = lambda t, _call=model.layers[-1].call: seen.append(t) or _call(t)
    model(x32)
    assert seen[0].data is x32 and not seen[0].requires_grad and seen[0]._ctx is None


def test_linear_gives_the_same_bits_on_2d_and_3d_inputs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    k = dg.Tensor(rng.standard_normal((5, 4)).astype(np.float32), requires_grad=True)
    b = dg.Tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True)
    results = []
    for shape in [(6, 5), (2, 3, 5)]:
        xt = dg.Tensor(x.reshape(shape), requires_grad=True)
        out = dg.ops.nn.linear_relu(xt, k, b)
        g = rng.standard_normal(out.shape).astype(np.float32) if not results else results[0][4].reshape(out.shape)
        kg, bg, xg = dg.grad(out, [k, b, xt], grad_outputs=g)
        results.append((out.data.reshape(6, 4), kg, bg, xg.reshape(6, 5), g))
    for a, c in zip(results[0][:4], results[1][:4]):
        np.testing.assert_array_equal(a, c)
    kt = torch.tensor(k.data, requires_grad=True)
    bt = torch.tensor(b.data, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out = torch.relu(xt @ kt + bt)
    out.backward(torch.tensor(results[0][4]))
    np.testing.assert_allclose(results[0][0], out.detach().numpy(), rtol=1e-6, atol=1e-6)
    for ours, theirs in zip(results[0][1:4], (kt.grad, bt.grad, xt.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-5, atol=1e-5)


class _Scale(Function):
    def forward(self, a, factor=2.0):
        self.save_for_backward(a)
        return a * factor

    def backward(self, g):
        return g * 2.0


def test_apply_records_nothing_under_no_grad_and_converts_plain_inputs():
    w = dg.Tensor(np.ones(3, np.float32), requires_grad=True)
    with dg.no_grad():
        out = _Scale.apply(w)
    assert out._ctx is None and not out.requires_grad
    out = _Scale.apply(w)
    assert out._ctx.needs_input_grad == (True,) and out._ctx.inputs == (w,) and out._ctx.saved[0] is w.data
    from_list = _Scale.apply([1, 2, 3])
    assert from_list.dtype == np.float32 and not from_list.requires_grad
    np.testing.assert_array_equal(from_list.data, [2.0, 4.0, 6.0])


def test_a_gradient_reaching_a_released_graph_names_the_op():
    w = dg.Tensor(np.ones(3, np.float32), requires_grad=True)
    hidden = _Scale.apply(w)
    hidden.sum().backward()
    with pytest.raises(RuntimeError, match="backward through _Scale a second time"):
        (hidden * 1.0).sum().backward()


def test_flat_group_updates_equal_one_variable_at_a_time():
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (4,), (2, 2)]]
    grads = [[rng.standard_normal(v.shape).astype(np.float32) for v in values] for _ in range(3)]
    results = []
    for flat in (True, False):
        variables = [dg.Variable(v) for v in values]
        optimizer = dg.optimizers.Adam(0.1)
        optimizer.flat_group_max_size = 1 << 15 if flat else 0
        for step in grads:
            optimizer.apply(step, variables)
        variables[1].assign(np.zeros(4, np.float32))  # written in place between steps: the group reads it back
        optimizer.apply(grads[0], variables)
        results.append([v.data.copy() for v in variables])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def one_thread(monkeypatch):
    """deepgrad's work on the calling thread only, so that counts do not depend on which thread
    a two-thread split's second half ran on."""
    from deepgrad import runtime
    monkeypatch.setattr(runtime, "_one_thread_asked", lambda: True)


@pytest.mark.skipif(sys.version_info[:2] != (3, 11) or sys.gettrace() is not None,
                    reason="bytecode counts are those of CPython 3.11, counted without another tracer")
def test_small_calls_stay_within_their_bytecode_budgets(one_thread):
    # before this work: 2,646 / 1,492 / 11,738 (benchmarks/RESULTS.md, "Python overhead per small call")
    # train_on_batch with the optimizer's update plan and the one-array data checks: 9,802 and 7,828
    # (before: 10,719 and 8,727; benchmarks/RESULTS.md, "The MLP step's Python"); then 9,836 and
    # 8,068: the Dense GEMM's choice of BLAS threads (ops/halves.py, 166) and the data spec by
    # input names (17); about 70 more once any variable in the process has been marked
    # overwrite_with_gradient (the optimiser then looks for such variables each step)
    # then 1,903 and 8,352: Keras's training call context (a layer called without `training`
    # takes the enclosing call's mode), logs in Keras's sorted order, the optimiser's look for
    # overwrite_with_gradient variables once float8 layers exist
    # Counted on one thread (``one_thread``): the MLP's 12.8 M multiply-add GEMMs run in row halves
    # on deepgrad's two threads (halves.GEMM_OWN_MIN), and whether this thread or the worker runs
    # the second half depends on the machine's load; on two threads a step adds ~320 bytecodes of
    # hand-off per GEMM (10,200-10,600 for the MLP)
    # then 8,888 with MKL multiplying (ops/blas.py: the checks before each of the step's two
    # large GEMMs, about 160 each, for GEMMs that run 30-40 us faster; 8,539 with DEEPGRAD_BLAS=numpy);
    # on one thread all seven of the step's products reach MKL: 8,993 alone, 9,106 in the suite
    # (other tests leave variables marked overwrite_with_gradient), 8,612 with DEEPGRAD_BLAS=numpy
    # then 1,978 for the actor-critic: Dense refuses inputs of rank 1 as Keras's input spec does
    # (9 a Dense call) and a functional model looks up whether its inputs are nested dicts (3);
    # the 4-64-64-2 step: 10,274 alone with Adam's NumPy passes, 10,284 with its compiled loop (built
    # at install, deepgrad.loops: its per-variable calls), 10,408 in the suite (variables marked
    # overwrite_with_gradient)
    budgets = {"actor-critic model(x), batch 1": 1985, "Sequential 4-64-2 model(x), batch 1": 1000,
               "4-64-64-2 train_on_batch, batch 32": 10500, "MLP train_on_batch, batch 128": 9200}
    cases = bytecodes.cases()
    for name, budget in budgets.items():
        fn = cases[name]
        fn(), fn()
        assert bytecodes.count(fn) <= budget, name


@pytest.mark.skipif(sys.version_info[:2] != (3, 11) or sys.gettrace() is not None,
                    reason="bytecode counts are those of CPython 3.11, counted without another tracer")
def test_the_two_thread_mlp_step_stays_within_its_budget(monkeypatch):
    """The MLP step with its large GEMMs split over two threads (on NumPy's engine, or whole on
    MKL's): each hand-off to the worker thread is one queue put and one lock, about 50 bytecodes
    in the calling thread, and ``two_threads()`` reads the environment in two dict lookups.
    9,361 on NumPy (9,506 on MKL) alone; 10,269 with the ThreadPoolExecutor hand-off and
    ``os.environ.get`` (10,860 on MKL). The count varies by a few dozen with the thread that runs
    the second half (the caller takes back a half the worker has not started)."""
    from deepgrad import runtime
    monkeypatch.setattr(runtime, "_cores", lambda: 2)
    for name in runtime._ONE_THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    fn = bytecodes.cases()["MLP train_on_batch, batch 128"]
    fn(), fn()
    assert min(bytecodes.count(fn) for _ in range(3)) <= 9800


@pytest.mark.skipif(sys.gettrace() is not None, reason="counted without another tracer")
def test_a_marked_variable_elsewhere_keeps_the_update_plan(one_thread):
    """Once any variable in the process is marked ``overwrite_with_gradient``, optimisers look
    for such variables; a model with none of them keeps its update plan (the partition of its
    flat groups is not rebuilt each step), so the step costs only that look."""
    fn = bytecodes.cases()["MLP train_on_batch, batch 128"]
    fn(), fn()
    saved = dg.Variable._overwrite_flags_set
    try:
        dg.Variable._overwrite_flags_set = 0  # as if no variable had been marked (other tests mark some)
        before = bytecodes.count(fn)
        dg.Variable(np.zeros(2, "float32")).overwrite_with_gradient = True
        assert dg.Variable._overwrite_flags_set == 1
        after = bytecodes.count(fn)
    finally:
        dg.Variable._overwrite_flags_set = saved
    # the look over the MLP's four variables: 37-113 bytecodes (more with Adam's compiled loop);
    # rebuilding the partition was ~230
    assert 0 < after - before <= 150, (before, after)


def test_function_apply_sets_every_tensor_slot_as_from_op_does():
    """``Function.apply`` builds its output Tensor inline: it must set what ``_from_op`` sets."""
    from deepgrad.autograd.tensor import Tensor
    x = dg.Tensor(np.ones(3, "float32"), requires_grad=True)
    for out, ctx in ((x * 2.0, True), (dg.Tensor(np.ones(3, "float32")) * 2.0, False)):
        reference = Tensor._from_op(out.data, out._ctx, 0)
        slots = [s for s in Tensor.__slots__ if s != "__weakref__"]
        assert [getattr(out, s) is getattr(reference, s) or getattr(out, s) == getattr(reference, s)
                for s in slots if s != "data"] == [True] * (len(slots) - 1)
        assert (out._ctx is not None) is ctx and out.requires_grad is ctx
