"""``checkpoint(f, *args)``: the gradients of the plain call, with f's intermediates recomputed.

Every gradient is compared with the plain call's in float64, bit for bit (the same operations
on the same values), and with ``torch.utils.checkpoint.checkpoint(use_reentrant=False)``; the
random draws inside are repeated (a dropout mask is the forward's); memory held between the
forward and the backward is the inputs and outputs only.
"""
from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest
import torch
import torch.utils.checkpoint

import deepgrad as dg
from deepgrad import backend
from deepgrad.autograd import Tensor, Variable, checkpoint, grad
from deepgrad.autograd.checkpoint import Checkpoint
from deepgrad.random import SeedGenerator


def _same(a, b) -> None:
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert (u is None) == (v is None)
        if u is not None:
            np.testing.assert_array_equal(u, v)


@pytest.fixture
def net():
    rng = np.random.default_rng(0)
    return {
        "x": Tensor(rng.normal(size=(5, 4)), requires_grad=True),
        "w1": Variable(rng.normal(size=(4, 6))), "b1": Variable(rng.normal(size=(6,))),
        "w2": Variable(rng.normal(size=(6, 3))),
        "h": Tensor(rng.normal(size=(3,)), requires_grad=True),  # a leaf behind an outer op
    }


def _block(p, shift):
    """Two layers, reading variables and an outer non-leaf tensor (``shift``) by closure."""
    def f(x, scale=1.0):
        z = dg.tanh(x @ p["w1"] + p["b1"]) * scale
        return z @ p["w2"] + shift, z.sum(axis=1)
    return f


def _held_by(make):
    """``make()``'s result and the bytes still allocated after it returns (what its graph keeps)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = make()
        return result, tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kwargs", [{}, {"scale": 0.5}])
def test_gradients_equal_the_plain_call_bit_for_bit_in_float64(net, kwargs):
    wanted = [net[k] for k in ("x", "w1", "b1", "w2", "h")]
    results = []
    for use in (False, True):
        shift = net["h"] * 2.0  # made outside the checkpointed function
        f = _block(net, shift)
        x = net["x"] * 3.0
        y, s = checkpoint(f, x, **kwargs) if use else f(x, **kwargs)
        if use:
            assert isinstance(y._ctx, Checkpoint) and y._ctx is s._ctx
            # the node's inputs: the argument, then what f read itself (w1, b1, w2, the outer tensor)
            assert [id(t) for t in y._ctx.inputs] == [id(x), id(net["w1"]), id(net["b1"]), id(net["w2"]),
                                                      id(shift)]
        loss = (y * y).sum() + (s ** 3).mean()
        results.append((y.data.copy(), grad(loss, wanted)))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    _same(results[0][1], results[1][1])


def test_backward_fills_grad_as_the_plain_call_does(net):
    grads = []
    for use in (False, True):
        for k in ("x", "w1", "b1", "w2", "h"):
            net[k].grad = None
        f = _block(net, net["h"] + 0.0)
        y, _ = checkpoint(f, net["x"]) if use else f(net["x"])
        y.mean().backward()
        grads.append([net[k].grad.copy() for k in ("x", "w1", "b1", "w2", "h")])
    _same(*grads)


def test_gradients_match_torch_checkpoint_on_a_small_net():
    rng = np.random.default_rng(1)
    arrays = {"x": rng.normal(size=(6, 5)), "w1": rng.normal(size=(5, 8)), "b1": rng.normal(size=(8,)),
              "w2": rng.normal(size=(8, 8)), "w3": rng.normal(size=(8, 2))}
    t = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
    d = {k: (Tensor(v, requires_grad=True) if k == "x" else Variable(v)) for k, v in arrays.items()}

    def torch_block(x):
        h = torch.relu(x @ t["w1"] + t["b1"])
        return torch.sigmoid(h @ t["w2"]) * h

    def dg_block(x):
        h = dg.relu(x @ d["w1"] + d["b1"])
        return dg.sigmoid(h @ d["w2"]) * h

    ty = torch.utils.checkpoint.checkpoint(torch_block, t["x"], use_reentrant=False)
    (torch.tanh(ty @ t["w3"]) ** 2).sum().backward()
    dy = checkpoint(dg_block, d["x"])
    (dg.tanh(dy @ d["w3"]) ** 2).sum().backward()
    for k in arrays:
        np.testing.assert_allclose(d[k].grad, t[k].grad.numpy(), rtol=1e-12, atol=1e-12, err_msg=k)


def _dropout_block(p, seed=None):
    def f(x):
        z = x @ p["w1"]
        return dg.random.dropout(z, 0.5, seed=seed) * 2.0
    return f


def test_dropout_inside_draws_the_forward_mask_again(net):
    results = []
    for use, preserve in ((False, True), (True, True), (True, False)):
        backend.seed(7)
        f = _dropout_block(net)
        y = checkpoint(f, net["x"], preserve_rng_state=preserve) if use else f(net["x"])
        draw_after = backend.rng().random()  # the forward's draws advanced the generator once
        results.append((y.data.copy(), grad((y ** 2).sum(), [net["x"], net["w1"]]), draw_after))
    plain, kept, not_kept = results
    np.testing.assert_array_equal(plain[0], kept[0])
    _same(plain[1], kept[1])
    assert plain[2] == kept[2] == not_kept[2]
    # without the saved state the recomputation draws another mask: the gradient is not the plain one
    assert not np.array_equal(plain[1][1], not_kept[1][1])


def test_a_seed_generator_inside_draws_the_same_numbers_and_advances_once(net):
    states, grads = [], []
    for use in (False, True):
        generator = SeedGenerator(seed=11)
        f = _dropout_block(net, seed=generator)
        y = checkpoint(f, net["x"]) if use else f(net["x"])
        grads.append(grad((y ** 2).sum(), [net["x"], net["w1"]]))
        states.append(generator.state.data.copy())
    _same(*grads)
    np.testing.assert_array_equal(states[0], [11, 1])
    np.testing.assert_array_equal(states[1], [11, 1])


def test_higher_order_gradients_pass_through_a_checkpoint(net):
    results = []
    for use in (False, True):
        def f(x):
            return dg.tanh(x @ net["w1"]) ** 2
        y = checkpoint(f, net["x"]) if use else f(net["x"])
        gx = grad(y.sum(), net["x"], create_graph=True)
        results.append(grad((gx * gx).sum(), [net["x"], net["w1"]]))
    _same(*results)


def test_nested_checkpoints_give_the_plain_gradients(net):
    results = []
    for use in (False, True):
        backend.seed(3)

        def inner(z):
            return dg.random.dropout(dg.tanh(z @ net["w2"]), 0.3)

        def outer(x):
            z = dg.relu(x @ net["w1"] + net["b1"])
            return (checkpoint(inner, z) if use else inner(z)) * 3.0

        y = checkpoint(outer, net["x"]) if use else outer(net["x"])
        results.append(grad((y ** 2).sum(), [net["x"], net["w1"], net["b1"], net["w2"]]))
    _same(*results)


def test_retain_graph_gives_the_same_gradients_twice_and_a_released_node_says_so(net):
    f = _block(net, 0.0)
    y, _ = checkpoint(f, net["x"])
    first = grad(y.sum(), [net["w1"]], retain_graph=True)[0]
    second = grad(y.sum(), [net["w1"]])[0]
    np.testing.assert_array_equal(first, second)
    with pytest.raises(RuntimeError, match="Checkpoint.*second time"):
        y.sum().backward()


def test_under_no_grad_it_is_a_plain_call(net):
    with dg.no_grad():
        y, _ = checkpoint(_block(net, 0.0), net["x"])
    assert y._ctx is None and not y.requires_grad


def test_outputs_that_are_inputs_or_untouched_come_back_as_they_are(net):
    x = net["x"]
    same, const, y = checkpoint(lambda a, c: (a, c, a * 2.0), x, np.ones(2))
    assert same is x
    assert isinstance(const, np.ndarray)
    assert isinstance(y._ctx, Checkpoint)
    np.testing.assert_array_equal(grad(y.sum(), x), np.full(x.shape, 2.0))


def test_a_function_that_changes_on_recomputation_is_refused_by_name(net):
    calls = []

    def unstable(x):
        calls.append(1)
        return x[: len(calls)] * 2.0

    y = checkpoint(unstable, net["x"])
    with pytest.raises(RuntimeError, match=r"Checkpoint\(.*unstable\).*recomputation"):
        y.sum().backward()


def test_softmax_logits_stay_reachable_for_a_fused_cross_entropy(net):
    labels = np.array([0, 2, 1, 1, 0])
    results = []
    for use in (False, True):
        def f(x):
            return dg.softmax(x @ net["w1"][:, :3])
        p = checkpoint(f, net["x"]) if use else f(net["x"])
        if use:
            assert p._keras_logits.tensor._ctx is p._ctx  # the logits are an output of the node too
        loss = dg.losses.sparse_categorical_crossentropy(labels, p).mean()
        results.append((loss.data.copy(), grad(loss, [net["x"], net["w1"]])))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    _same(results[0][1], results[1][1])


def test_the_intermediates_are_not_kept_between_forward_and_backward():
    """A chain of 12 ops on 1 MB arrays: the plain graph holds every intermediate until backward,
    the checkpoint only its input and output."""
    rng = np.random.default_rng(2)
    x = Tensor(rng.normal(size=(512, 256)), requires_grad=True)

    def chain(a):
        for _ in range(12):
            a = dg.tanh(a * 1.01)
        return a

    held = []
    for use in (False, True):
        y, bytes_held = _held_by(lambda: checkpoint(chain, x) if use else chain(x))
        held.append(bytes_held)
        y.sum().backward()
        del y
    one_array = x.data.nbytes
    assert held[0] > 12 * one_array        # each tanh keeps its output, each product its input
    assert held[1] < 2 * one_array         # the checkpoint's output only (its input is x itself)


def test_a_no_grad_block_inside_keeps_the_ops_after_it_listed(net):
    results = []
    for use in (False, True):
        def f(x):
            with dg.no_grad():
                scale = (x * x).mean()  # a constant for the gradient
            dg.set_grad_enabled(False)
            offset = x.sum()
            dg.set_grad_enabled(True)
            return dg.tanh(x @ net["w1"]) * scale.data + offset.data
        y = checkpoint(f, net["x"]) if use else f(net["x"])
        if use:
            assert isinstance(y._ctx, Checkpoint)
        results.append(grad((y ** 2).sum(), [net["x"], net["w1"]]))
    _same(*results)


# ----------------------------------------------------------------- arguments changed in place
def _changed_in_place(change):
    """``checkpoint`` of a small function of ``a`` and a variable argument, ``change`` applied
    to them after the forward; the backward's error (None when it runs)."""
    rng = np.random.default_rng(3)
    a = Tensor(rng.normal(size=(3, 4)), requires_grad=True) * 2.0
    w = Variable(rng.normal(size=(4, 2)))
    y = checkpoint(lambda t, v: dg.tanh(t @ v), a, w)
    change(a, w)
    try:
        y.sum().backward()
    except RuntimeError as error:
        return str(error)
    return None


@pytest.mark.parametrize("change", [lambda a, w: a.data.__iadd__(1.0), lambda a, w: w.assign(w.data * 2.0),
                                    lambda a, w: a.data.__setitem__((0, 0), 7.0),
                                    lambda a, w: setattr(a, "data", a.data + 1.0)],
                         ids=["+= 1", "assign", "one element", "new array"])
def test_an_argument_changed_in_place_before_the_backward_is_refused_by_name(change):
    message = _changed_in_place(change)
    assert message is not None and "modified in place after the forward pass" in message
    assert "argument" in message and "Checkpoint(" in message and "of shape (" in message


def test_torch_refuses_the_same_change_and_an_unchanged_argument_passes():
    assert _changed_in_place(lambda a, w: None) is None
    assert "argument 0 (Tensor of shape (3, 4), float64)" in _changed_in_place(lambda a, w: a.data.__imul__(2.0))
    x = torch.randn(3, 4, requires_grad=True)
    a = x * 2.0
    y = torch.utils.checkpoint.checkpoint(lambda t: torch.tanh(t @ torch.ones(4, 2)), a, use_reentrant=False)
    with torch.no_grad():
        a.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ----------------------------------------------------------------- penalties added inside
class _Penalized(dg.layers.Layer):
    """A chain of 12 ops whose every intermediate enters a penalty (``add_loss``)."""

    def call(self, a):
        total = 0.0
        for _ in range(12):
            a = dg.tanh(a * 1.01)
            total = total + (a * a).mean()
        self.add_loss(total * 0.1)
        return a


def test_a_penalty_added_inside_is_recomputed_not_kept():
    """The plain call keeps the 12 intermediates alive through the penalty's graph; the
    checkpoint holds its output and the penalty (a scalar) only, and gives the same gradients."""
    rng = np.random.default_rng(4)
    x = Tensor(rng.normal(size=(512, 256)), requires_grad=True)
    held, grads, losses = [], [], []
    for use in (False, True):
        layer = _Penalized(dtype="float64")
        y, bytes_held = _held_by(lambda: checkpoint(layer, x) if use else layer(x))
        held.append(bytes_held)
        assert len(layer.losses) == 1
        penalty = layer.losses[0]
        if use:
            assert isinstance(penalty._ctx, Checkpoint) and penalty._ctx is y._ctx   # an output of the node
        losses.append(penalty.data.copy())
        grads.append(grad(y.sum() + penalty, x))
        assert len(layer.losses) == 1   # the recomputation added none for good
        del y, penalty
    one_array = x.data.nbytes
    assert held[0] > 12 * one_array
    assert held[1] < 2 * one_array
    np.testing.assert_array_equal(losses[0], losses[1])
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-13, atol=1e-15)
