"""no_grad and enable_grad, as context managers and as decorators."""
import numpy as np
import pytest

import deepgrad as dg


def leaf():
    return dg.Tensor(np.array([1.0, 2.0]), requires_grad=True)


def test_no_grad_context_records_no_graph():
    x = leaf()
    with dg.no_grad():
        assert not dg.is_grad_enabled()
        y = dg.exp(x) * 2.0
    assert dg.is_grad_enabled()
    assert not y.requires_grad and y._ctx is None
    np.testing.assert_allclose(y.data, 2 * np.exp(x.data))
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


@pytest.mark.parametrize("decorator", [dg.no_grad, dg.no_grad()], ids=["bare", "called"])
def test_no_grad_decorator_records_no_graph(decorator):
    @decorator
    def predict(t):
        """Doubles."""
        assert not dg.is_grad_enabled()
        return t * 2.0

    y = predict(leaf())
    assert not y.requires_grad and y._ctx is None
    assert dg.is_grad_enabled()
    assert predict.__name__ == "predict" and predict.__doc__ == "Doubles."


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with dg.no_grad():
            1 / 0
    assert dg.is_grad_enabled()


def test_enable_grad_inside_no_grad_and_nesting():
    x = leaf()
    with dg.no_grad():
        with dg.enable_grad():
            y = x * 3.0
        z = x * 3.0
        with dg.no_grad():
            pass
        assert not dg.is_grad_enabled()
    assert y.requires_grad and not z.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_set_grad_enabled():
    dg.set_grad_enabled(False)
    try:
        assert not (leaf() * 2.0).requires_grad
    finally:
        dg.set_grad_enabled(True)
    assert (leaf() * 2.0).requires_grad


def test_ops_under_no_grad_keep_nothing_for_backward():
    with dg.no_grad():
        y = dg.exp(leaf())
    assert y._ctx is None  # no Function (and none of its saved arrays) is kept alive
