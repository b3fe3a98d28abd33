"""A training step of the fused recurrent ops takes its large buffers from the workspace pool and
finds them there again at the next step (no fresh pages to fault in); inference pools nothing."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad.ops import workspace

OPS = {"lstm": (dg.lstm, 4), "gru": (dg.gru, 3), "simple_rnn": (dg.simple_rnn, 1)}


def _step(name, x, ws, use_sequence):
    op, _ = OPS[name]
    seq, last = op(x, *ws)[:2]
    loss = (last * last).sum() + ((seq * seq).sum() if use_sequence else 0)
    loss.backward()
    grads = [w.grad for w in ws]
    for w in ws:
        w.grad = None
    return grads


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("use_sequence", [False, True])
def test_training_steps_reuse_the_pooled_buffers(name, use_sequence):
    _, gates = OPS[name]
    rng = np.random.default_rng(0)
    batch, steps, units = 128, 50, 48  # (time, units, batch) buffers of 1.2 MB: above the pool's 1 MB floor
    x = dg.Tensor(rng.standard_normal((batch, steps, 2)).astype(np.float32))
    bias = (2, gates * units) if name == "gru" else (gates * units,)
    ws = [dg.Tensor((rng.standard_normal(s) * 0.3).astype(np.float32), requires_grad=True)
          for s in ((2, gates * units), (units, gates * units), bias)]
    workspace.clear()
    first = _step(name, x, ws, use_sequence)
    held = workspace.held_bytes()
    assert held >= batch * steps * units * 4          # at least one (time, batch, units) buffer pooled
    for _ in range(3):
        again = _step(name, x, ws, use_sequence)
        assert workspace.held_bytes() == held         # the same buffers again, none added
        for a, b in zip(first, again):
            np.testing.assert_array_equal(a, b)       # reused buffers, the same numbers
    with dg.no_grad():                                # inference takes nothing from the pool
        workspace.clear()
        OPS[name][0](x, *ws)
        assert workspace.held_bytes() == 0
