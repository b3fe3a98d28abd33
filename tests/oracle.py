"""Shared checks: every op against PyTorch (forward and backward) and float64 central differences."""
from __future__ import annotations

import numpy as np
import torch

import deepgrad as dg

torch.set_num_threads(1)


def tolerances(dtype) -> dict:
    return {"rtol": 1e-10, "atol": 1e-10} if np.dtype(dtype) == np.float64 else {"rtol": 1e-5, "atol": 1e-5}


def compare_with_torch(dg_fn, torch_fn, arrays, grad_mask=None, rtol=None, atol=None, seed=0):
    """Run ``dg_fn`` and ``torch_fn`` on the same inputs, compare outputs and input gradients.

    The backward pass is driven by the same random upstream gradient for both, so every
    element of every input gradient is checked (not only a sum).
    """
    arrays = [np.asarray(a) for a in arrays]
    grad_mask = grad_mask or [a.dtype.kind == "f" for a in arrays]
    tol = tolerances(arrays[0].dtype)
    rtol = tol["rtol"] if rtol is None else rtol
    atol = tol["atol"] if atol is None else atol

    dg_in = [dg.Tensor(a, requires_grad=m) if a.dtype.kind == "f" else dg.Tensor(a, dtype=a.dtype)
             for a, m in zip(arrays, grad_mask)]
    th_in = [torch.tensor(a, requires_grad=bool(m and a.dtype.kind == "f")) for a, m in zip(arrays, grad_mask)]
    out = dg_fn(*dg_in)
    ref = torch_fn(*th_in)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=atol, err_msg="forward")
    assert out.dtype == ref.detach().numpy().dtype, f"dtype {out.dtype} != {ref.dtype}"
    if not any(grad_mask):
        return out
    upstream = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
    out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for i, (d, t, m) in enumerate(zip(dg_in, th_in, grad_mask)):
        if not m:
            continue
        expected = t.grad.numpy() if t.grad is not None else np.zeros(t.shape, arrays[i].dtype)
        assert d.grad is not None, f"input {i}: no gradient"
        np.testing.assert_allclose(d.grad, expected, rtol=rtol, atol=atol, err_msg=f"grad of input {i}")
    return out


def numerical_grad(fn, arrays, index, eps=1e-6):
    """Central differences of sum(fn(*arrays) * w) with respect to ``arrays[index]`` (float64)."""
    arrays = [np.array(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else np.asarray(a) for a in arrays]
    w = np.random.default_rng(1).standard_normal(np.shape(fn(*[dg.Tensor(a) for a in arrays]).data))
    x = arrays[index]
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        hi = np.sum(fn(*[dg.Tensor(a) for a in arrays]).data * w)
        x[i] = old - eps
        lo = np.sum(fn(*[dg.Tensor(a) for a in arrays]).data * w)
        x[i] = old
        grad[i] = (hi - lo) / (2 * eps)
    return grad, w


def check_gradients(fn, arrays, indices=None, rtol=1e-6, atol=1e-7, eps=1e-6):
    """Analytic gradients of ``fn`` (float64) agree with central differences."""
    arrays = [np.array(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else np.asarray(a) for a in arrays]
    indices = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"] if indices is None else indices
    for index in indices:
        expected, w = numerical_grad(fn, arrays, index, eps)
        inputs = [dg.Tensor(a, requires_grad=(i == index)) if a.dtype.kind == "f" else dg.Tensor(a, dtype=a.dtype)
                  for i, a in enumerate(arrays)]
        out = fn(*inputs)
        out.backward(w)
        np.testing.assert_allclose(inputs[index].grad, expected, rtol=rtol, atol=atol,
                                   err_msg=f"central differences, input {index}")


# Keras folds 64-bit promotion results to 32 bits on its PyTorch backend; deepgrad keeps them
FOLDED_64 = {"int64": "int32", "uint64": "uint32", "float64": "float32"}


def same_dtype(ours, theirs) -> bool:
    ours, theirs = np.dtype(ours).name, np.dtype(theirs).name
    return ours == theirs or FOLDED_64.get(ours) == theirs


def check_against_keras(name, *args, rtol=1e-6, atol=1e-6, exact=False, adapt_theirs=None, **kwargs):
    """``deepgrad.<name>`` and ``keras.ops.<name>`` on the same inputs: same structure, shapes,
    dtypes (up to Keras's 64-bit folding) and values; returns deepgrad's outputs as a list.

    ``exact`` compares values bit for bit; ``adapt_theirs`` reshapes Keras's result first
    where its structure differs by design (e.g. ``nonzero``'s stacked indices).
    """
    import keras

    ours = getattr(dg, name)(*args, **kwargs)
    theirs = getattr(keras.ops, name)(*args, **kwargs)
    if adapt_theirs is not None:
        theirs = adapt_theirs(theirs)
    if not isinstance(ours, (dg.Tensor, list, tuple)):  # a Python number (ndim, size)
        assert ours == theirs, f"{name}: {ours} != {theirs}"
        return [ours]
    ours = list(ours) if isinstance(ours, (tuple, list)) else [ours]
    theirs = list(theirs) if isinstance(theirs, (tuple, list)) else [theirs]
    assert len(ours) == len(theirs), f"{name}: {len(ours)} outputs, Keras {len(theirs)}"
    for o, t in zip(ours, theirs):
        t = keras.ops.convert_to_numpy(t)
        assert isinstance(o, dg.Tensor), f"{name}: {type(o)} is not a Tensor"
        assert o.shape == t.shape, f"{name}: shape {o.shape} != {t.shape}"
        assert same_dtype(o.dtype, t.dtype), f"{name}: dtype {o.dtype} != {t.dtype}"
        if exact:
            np.testing.assert_array_equal(o.data, t, err_msg=name)
            continue
        tol = 2e-3 if o.dtype == np.float16 else rtol
        np.testing.assert_allclose(o.data.astype(np.float64), t.astype(np.float64), rtol=tol,
                                   atol=max(atol, tol), equal_nan=True, err_msg=name)
    return ours
