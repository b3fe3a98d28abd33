"""ops.elementwise: values and dtypes against Keras, gradients against PyTorch and central differences."""
import inspect
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import hypothesis.extra.numpy as hnp  # noqa: E402
import hypothesis.strategies as st  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import given  # noqa: E402
from oracle import check_gradients, compare_with_torch  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad.ops import elementwise  # noqa: E402

keras = pytest.importorskip("keras")
K = keras.ops

# Keras's own promotion folds 64-bit results to 32 bits on the PyTorch backend in many
# ops (``ceil`` of float64 is float32 there); deepgrad keeps the width of a 64-bit input.
FOLDED = {"int64": "int32", "float64": "float32"}
INT_DTYPES = ["bool", "uint8", "int8", "int32", "int64"]
FLOAT_DTYPES = ["float16", "float32", "float64"]
TOL = {"float16": dict(rtol=2e-3, atol=2e-3), "float32": dict(rtol=2e-6, atol=1e-6),
       "float64": dict(rtol=1e-12, atol=1e-12)}


def assert_like_keras(ours, theirs, inputs):
    """Same dtype as Keras (or the unfolded 64-bit one) and the same values (NaN where Keras has NaN)."""
    theirs = np.asarray(K.convert_to_numpy(theirs))
    assert isinstance(ours, dg.Tensor)
    has_64 = any(np.asarray(getattr(x, "dtype", np.asarray(x).dtype)).dtype.itemsize == 8 or
                 str(getattr(x, "dtype", "")) in ("int64", "float64") for x in inputs)
    if ours.dtype != theirs.dtype:
        assert has_64 and FOLDED.get(ours.dtype.name) == theirs.dtype.name, (ours.dtype, theirs.dtype)
    assert ours.shape == theirs.shape
    # float64 precision only where both sides computed in float64 from float64 inputs
    all_f64 = all(str(getattr(x, "dtype", "")) == "float64" for x in inputs)
    tol = dict(rtol=0, atol=0) if ours.dtype.kind in "biu" else TOL["float32"]
    if ours.dtype.name == theirs.dtype.name == "float64" and all_f64:
        tol = TOL["float64"]
    if "float16" in (theirs.dtype.name, ours.dtype.name):
        tol = TOL["float16"]
    np.testing.assert_allclose(ours.data.astype(np.float64), theirs.astype(np.float64), equal_nan=True, **tol)


def sample(rng, dtype, shape, low=-2.0, high=2.0):
    """Data of ``dtype``: floats uniform in [low, high], integers small, unsigned non-negative."""
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype == "uint8":
        return rng.integers(0, 5, shape).astype(dtype)
    if np.dtype(dtype).kind == "i":
        return rng.integers(-3, 4, shape).astype(dtype)
    return rng.uniform(low, high, shape).astype(dtype)


# name: (float range for Keras's comparison, PyTorch op, data for gradients)
def normal(rng, shape):
    return rng.standard_normal(shape)


def unit(rng, shape):
    return rng.uniform(-0.9, 0.9, shape)


def positive(rng, shape):
    return rng.uniform(0.5, 3.0, shape)


def above_one(rng, shape):
    return rng.uniform(1.2, 3.0, shape)


def away_from_zero(rng, shape):
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)


def torch_cbrt(x):
    return torch.sign(x) * torch.abs(x) ** (1 / 3)


UNARY = {
    "arccos": ((-1, 1), torch.arccos, unit),
    "arccosh": ((1, 4), torch.arccosh, above_one),
    "arcsin": ((-1, 1), torch.arcsin, unit),
    "arcsinh": ((-3, 3), torch.arcsinh, normal),
    "arctan": ((-3, 3), torch.arctan, normal),
    "arctanh": ((-0.95, 0.95), torch.arctanh, unit),
    "cbrt": ((-3, 3), torch_cbrt, away_from_zero),
    "cos": ((-4, 4), torch.cos, normal),
    "cosh": ((-3, 3), torch.cosh, normal),
    "sin": ((-4, 4), torch.sin, normal),
    "sinh": ((-3, 3), torch.sinh, normal),
    "tan": ((-1.2, 1.2), torch.tan, unit),
    "deg2rad": ((-360, 360), torch.deg2rad, normal),
    "rad2deg": ((-4, 4), torch.rad2deg, normal),
    "exp2": ((-4, 4), torch.exp2, normal),
    "expm1": ((-3, 3), torch.expm1, normal),
    "log10": ((0.1, 5), torch.log10, positive),
    "log1p": ((-0.9, 4), torch.log1p, positive),
    "log2": ((0.1, 5), torch.log2, positive),
    "reciprocal": ((0.2, 3), torch.reciprocal, away_from_zero),
    "fabs": ((-3, 3), torch.abs, away_from_zero),
    "sinc": ((-3, 3), torch.sinc, normal),
    "i0": ((-4, 4), torch.i0, normal),
    "ceil": ((-3, 3), torch.ceil, normal),
    "floor": ((-3, 3), torch.floor, normal),
    "trunc": ((-3, 3), torch.trunc, normal),
    "round": ((-3, 3), torch.round, normal),
    "sign": ((-3, 3), torch.sign, normal),
    "angle": ((-3, 3), torch.angle, normal),
    "nan_to_num": ((-3, 3), torch.nan_to_num, normal),
    "real": ((-3, 3), torch.real, normal),
    "conj": ((-3, 3), lambda x: torch.conj(x).resolve_conj(), normal),
    "conjugate": ((-3, 3), lambda x: torch.conj(x).resolve_conj(), normal),
    "copy": ((-3, 3), torch.clone, normal),
}
NOT_FOR_BOOL = {"round"}  # Keras (and NumPy's round) reject bool


@pytest.mark.parametrize("dtype", INT_DTYPES + FLOAT_DTYPES)
@pytest.mark.parametrize("name", list(UNARY) + ["signbit"])
def test_unary_matches_keras(name, dtype):
    if dtype == "bool" and name in NOT_FOR_BOOL:
        pytest.skip("bool is rejected (see test_round_rejects_bool)")
    low, high = UNARY[name][0] if name in UNARY else (-3, 3)
    x = sample(np.random.default_rng(0), dtype, (3, 4), low, high)
    ours = getattr(dg, name)(x)
    assert_like_keras(ours, getattr(K, name)(x), [x])
    # the same through a Tensor that keeps the dtype, and on an empty array
    assert getattr(dg, name)(dg.Tensor(x, dtype=x.dtype)).dtype == ours.dtype
    empty = np.zeros((0, 2), dtype)
    assert_like_keras(getattr(dg, name)(empty), getattr(K, name)(empty), [empty])


@pytest.mark.parametrize("name", [n for n in UNARY if n not in ("real", "conj", "conjugate", "imag")])
@pytest.mark.parametrize("value", [2, 1.5, True, [1, 2], [0.5, -1.0]])
def test_unary_python_inputs_match_keras(name, value):
    if value is True and name in NOT_FOR_BOOL:
        return
    assert_like_keras(getattr(dg, name)(value), getattr(K, name)(value), [value])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(UNARY))
@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), seed=st.integers(0, 2**16))
def test_unary_gradients_match_torch(name, dtype, shape, seed):
    _, theirs, make = UNARY[name]
    x = make(np.random.default_rng(seed), shape).astype(dtype)
    compare_with_torch(getattr(dg, name), theirs, [x])


@pytest.mark.parametrize("name", [n for n in UNARY if n not in ("ceil", "floor", "trunc", "round", "sign", "angle")])
def test_unary_central_differences(name):
    _, _, make = UNARY[name]
    check_gradients(getattr(dg, name), [make(np.random.default_rng(3), (2, 3))])


def test_step_functions_pass_zero_gradient():
    x = dg.Tensor(np.array([-1.5, -0.2, 0.3, 2.5]), requires_grad=True)
    total = x - dg.floor(x) + dg.ceil(x) + dg.round(x) + dg.sign(x) + dg.trunc(x) + dg.angle(x)
    total.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones(4))


@pytest.mark.parametrize("decimals", [-1, 0, 1, 2])
@pytest.mark.parametrize("dtype", ["int32", "int64", "float32", "float64"])
def test_round_decimals_matches_keras(decimals, dtype):
    x = (np.random.default_rng(1).uniform(-300, 300, (4, 5))).astype(dtype)
    assert_like_keras(dg.round(x, decimals), K.round(x, decimals), [x])
    if dtype.startswith("float"):
        compare_with_torch(lambda t: dg.round(t, decimals), lambda t: torch.round(t, decimals=decimals), [x])


def test_round_rejects_bool_and_float_decimals():
    with pytest.raises(TypeError, match="round: argument `x`"):
        dg.round(np.array([True]))
    with pytest.raises(TypeError, match="round: `decimals`"):
        dg.round(np.ones(2), 1.5)


def test_sinc_at_zero_and_its_gradient():
    x = np.array([0.0, 1e-3, -0.5, 2.0])
    compare_with_torch(dg.sinc, torch.sinc, [x])
    assert dg.sinc(np.array([0.0])).data[0] == 1.0


def test_i0_derivative_is_i1_far_out():
    """The derivative series of i0 (power series, then asymptotic beyond 15) against SciPy's I1."""
    special = pytest.importorskip("scipy.special")
    x = np.array([-40.0, -15.5, -15.0, -3.0, -1e-3, 0.0, 0.5, 7.0, 14.99, 15.01, 30.0, 80.0, 300.0])
    t = dg.Tensor(x, requires_grad=True)
    dg.i0(t).sum().backward()
    np.testing.assert_allclose(t.grad, special.i1(x), rtol=1e-13, atol=0)
    np.testing.assert_allclose(dg.i0(x).data, special.i0(x), rtol=1e-13)


def test_nan_to_num_values_and_gradient():
    x = np.array([np.nan, np.inf, -np.inf, 1.5, -2.0])
    for kwargs in [{}, dict(nan=1.0, posinf=9.0, neginf=-9.0)]:
        assert_like_keras(dg.nan_to_num(x, **kwargs), K.nan_to_num(x, **kwargs), [x])
        compare_with_torch(lambda t: dg.nan_to_num(t, **kwargs), lambda t: torch.nan_to_num(t, **kwargs),
                           [x.astype(np.float32)])
    assert_like_keras(dg.nan_to_num(np.float16([np.inf])), K.nan_to_num(np.float16([np.inf])), [])


def test_signbit_sees_negative_zero():
    np.testing.assert_array_equal(dg.signbit(np.array([-0.0, 0.0, -1.0, 2.0])).data, [True, False, True, False])


def test_complex_parts():
    z = np.array([1 + 2j, -3 - 4j], np.complex64)
    np.testing.assert_array_equal(dg.real(z).data, [1, -3])
    np.testing.assert_array_equal(dg.imag(z).data, [2, -4])
    assert dg.imag(z).dtype == np.float32
    np.testing.assert_array_equal(dg.conj(z).data, [1 - 2j, -3 + 4j])
    np.testing.assert_allclose(dg.angle(z).data, np.angle(z), rtol=1e-6)
    assert dg.angle(z).dtype == np.float32
    # real input: imag is zeros of the same dtype (NumPy's answer; Keras on PyTorch raises)
    x = np.array([1.5, -2.0], np.float64)
    assert dg.imag(x).dtype == np.float64 and not dg.imag(x).data.any()


def test_complex_parts_and_casts_carry_gradients():
    # x (real) -> z = cast(x, complex) -> L = sum(a Re z + b Im z): dL/dx = Re(dL/dz) = a, in x's dtype
    # (complex tensors are intermediates only: leaves that require gradients are real)
    rng = np.random.default_rng(4)
    a, b, x = rng.standard_normal((3, 2, 5))
    for dtype, ctype in [(np.float32, np.complex64), (np.float64, np.complex128)]:
        t = dg.Tensor(x.astype(dtype), requires_grad=True)
        z = dg.cast(t, ctype)
        assert z.dtype == ctype and z.requires_grad
        (dg.real(z) * dg.Tensor(a.astype(dtype)) + dg.imag(z) * dg.Tensor(b.astype(dtype))).sum().backward()
        assert t.grad.dtype == dtype
        np.testing.assert_allclose(t.grad, a.astype(dtype), rtol=1e-6)
        # complex back to real keeps the real part (TensorFlow's cast); the gradient passes through
        t2 = dg.Tensor(x.astype(dtype), requires_grad=True)
        r = dg.cast(dg.cast(t2, ctype), dtype)
        np.testing.assert_array_equal(r.data, x.astype(dtype))
        (r * dg.Tensor(b.astype(dtype))).sum().backward()
        np.testing.assert_allclose(t2.grad, b.astype(dtype), rtol=1e-6)
    # imag of a complex intermediate is differentiable (its values are checked through the FFTs against
    # PyTorch in tests/compat/test_tf_audio_signal.py)
    t = dg.Tensor(x, requires_grad=True)
    assert dg.imag(dg.cast(t, np.complex128)).requires_grad


def test_copy_is_a_new_array():
    x = dg.Tensor(np.ones(3))
    y = dg.copy(x)
    y.data[0] = 5
    assert x.data[0] == 1


# ----------------------------------------------------------------------------- binary
PAIRS = [(d, d) for d in INT_DTYPES + FLOAT_DTYPES] + [
    ("int8", "uint8"), ("int32", "float16"), ("int64", "float32"), ("float16", "float32"),
    ("float32", "float64"), ("int32", "int64"), ("bool", "int8"), ("bool", "float16"),
]


def nonzero(rng, dtype, shape):
    x = sample(rng, dtype, shape)
    if dtype == "bool":
        return np.ones(shape, bool)
    return np.where(x == 0, 1, x).astype(dtype)


# name: (PyTorch op, data for a, data for b, dtype kinds allowed, Keras rejects bool pairs)
BINARY = {
    "arctan2": (torch.atan2, normal, normal),
    "logaddexp": (torch.logaddexp, normal, normal),
    "logaddexp2": (torch.logaddexp2, normal, normal),
    "hypot": (torch.hypot, normal, normal),
    "divide_no_nan": (lambda a, b: torch.where(b == 0, 0, a / torch.where(b == 0, 1, b)), normal, away_from_zero),
    "true_divide": (torch.true_divide, normal, away_from_zero),
    "fmod": (torch.fmod, normal, away_from_zero),
    "mod": (torch.remainder, normal, away_from_zero),
    "fmax": (torch.fmax, normal, normal),
    "fmin": (torch.fmin, normal, normal),
}
NO_GRAD_BINARY = ["floor_divide", "heaviside", "nextafter"]
KERAS_REJECTS_BOOL = {"hypot", "floor_divide"}
DIVIDING = {"divide_no_nan", "true_divide", "fmod", "mod", "floor_divide"}


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p[0]}-{p[1]}")
@pytest.mark.parametrize("name", list(BINARY) + NO_GRAD_BINARY)
def test_binary_matches_keras(name, pair):
    if pair == ("bool", "bool") and name in KERAS_REJECTS_BOOL:
        pytest.skip("Keras on PyTorch rejects two bools here")
    rng = np.random.default_rng(0)
    a = sample(rng, pair[0], (3, 1))
    b = (nonzero if name in DIVIDING else sample)(rng, pair[1], (4,))
    assert_like_keras(getattr(dg, name)(a, b), getattr(K, name)(a, b), [a, b])
    empty = np.zeros((0, 1), pair[0])
    assert_like_keras(getattr(dg, name)(empty, b), getattr(K, name)(empty, b), [empty, b])


@pytest.mark.parametrize("name", list(BINARY) + NO_GRAD_BINARY)
@pytest.mark.parametrize("other", [3, -2, 2.5])
@pytest.mark.parametrize("dtype", ["int8", "int32", "float32"])
def test_binary_with_python_numbers_matches_keras(name, other, dtype):
    a = sample(np.random.default_rng(2), dtype, (2, 3))
    assert_like_keras(getattr(dg, name)(a, other), getattr(K, name)(a, other), [a])
    b = nonzero(np.random.default_rng(3), dtype, (2, 3)) if name in DIVIDING else a
    assert_like_keras(getattr(dg, name)(other, b), getattr(K, name)(other, b), [b])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(BINARY))
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4),
       seed=st.integers(0, 2**16))
def test_binary_gradients_match_torch(name, dtype, shapes, seed):
    theirs, make_a, make_b = BINARY[name]
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    out = compare_with_torch(getattr(dg, name), theirs, [make_a(rng, sa).astype(dtype), make_b(rng, sb).astype(dtype)])
    assert out.shape == shapes.result_shape


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_central_differences(name):
    _, make_a, make_b = BINARY[name]
    rng = np.random.default_rng(4)
    check_gradients(getattr(dg, name), [make_a(rng, (2, 3)), make_b(rng, (3,))])


def test_divide_no_nan_zero_denominator():
    a = dg.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    b = dg.Tensor(np.array([0.0, 4.0, 0.0]), requires_grad=True)
    out = dg.divide_no_nan(a, b)
    np.testing.assert_array_equal(out.data, [0.0, -0.5, 0.0])
    out.sum().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 0.25, 0.0])
    np.testing.assert_array_equal(b.grad, [0.0, 2.0 / 16, 0.0])


def test_fmax_fmin_ignore_nan_and_route_gradient_like_torch():
    a = np.array([np.nan, 1.0, 2.0, 3.0, np.nan])
    b = np.array([1.0, np.nan, 2.0, -1.0, np.nan])
    for ours, theirs in [(dg.fmax, torch.fmax), (dg.fmin, torch.fmin)]:
        ta, tb = dg.Tensor(a, requires_grad=True), dg.Tensor(b, requires_grad=True)
        out = ours(ta, tb)
        out.backward(np.ones(5))
        ra, rb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        theirs(ra, rb).backward(torch.ones(5))
        np.testing.assert_array_equal(out.data, theirs(torch.tensor(a), torch.tensor(b)).numpy())
        np.testing.assert_array_equal(ta.grad, ra.grad.numpy())
        np.testing.assert_array_equal(tb.grad, rb.grad.numpy())


def test_mod_and_fmod_signs():
    a, b = np.array([7, -7, 7, -7]), np.array([3, 3, -3, -3])
    np.testing.assert_array_equal(dg.mod(a, b).data, [1, 2, -2, -1])
    np.testing.assert_array_equal(dg.fmod(a, b).data, [1, -1, 1, -1])
    np.testing.assert_array_equal(dg.floor_divide(a, b).data, [2, -3, -3, 2])


@pytest.mark.parametrize("pair", [("int8", "int8"), ("uint8", "uint8"), ("int32", "int64"), ("int8", "uint8"),
                                  ("bool", "int8")])
@pytest.mark.parametrize("name", ["gcd", "lcm"])
def test_gcd_lcm_match_keras(name, pair):
    rng = np.random.default_rng(5)
    a = sample(rng, pair[0], (3, 1)) * (3 if pair[0] != "bool" else 1)
    b = sample(rng, pair[1], (4,))
    assert_like_keras(getattr(dg, name)(a, b), getattr(K, name)(a, b), [a, b])
    assert_like_keras(getattr(dg, name)(a, 6), getattr(K, name)(a, 6), [a])


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int32", "int64"])
@pytest.mark.parametrize("x_dtype", ["int32", "float16", "float32", "float64"])
def test_ldexp_matches_keras_and_torch(x_dtype, dtype):
    rng = np.random.default_rng(6)
    x = sample(rng, x_dtype, (3, 1))
    e = sample(rng, dtype, (4,))
    assert_like_keras(dg.ldexp(x, e), K.ldexp(x, e), [x, e])
    assert_like_keras(dg.ldexp(x, 3), K.ldexp(x, 3), [x])
    if x_dtype in ("float32", "float64"):
        # PyTorch's own ldexp gradient takes exp2 of the integer exponent in integers (2^-1 -> 0),
        # so the reference gets the exponent as a float
        compare_with_torch(dg.ldexp, lambda t, k: torch.ldexp(t, k.to(t.dtype)), [x, e.astype(np.int64)],
                           grad_mask=[True, False])
        check_gradients(lambda t: dg.ldexp(t, e), [x])


def test_ldexp_gradient_goes_to_x1_only():
    x = dg.Tensor(np.array([1.5, -2.0]), requires_grad=True)
    dg.ldexp(x, np.array([2, -1])).sum().backward()
    np.testing.assert_array_equal(x.grad, [4.0, 0.5])


def test_heaviside_and_nextafter():
    x = np.array([-1.5, 0.0, 2.0], np.float32)
    np.testing.assert_array_equal(dg.heaviside(x, 0.5).data, [0.0, 0.5, 1.0])
    step = dg.nextafter(np.float32(1.0), np.float32(2.0)).data
    assert step == np.float32(1.0) + np.finfo(np.float32).eps


def test_float16_inputs_get_gradients_through_promotion():
    """float16 meeting float32 is promoted; the gradient flows back cast to float16."""
    a = dg.Tensor(np.float16([0.5, 1.0]), requires_grad=True)
    b = dg.Tensor(np.float32([2.0, 3.0]), requires_grad=True)
    out = dg.hypot(a, b)
    assert out.dtype == np.float32
    out.sum().backward()
    assert a.grad.dtype == np.float16
    np.testing.assert_allclose(a.grad, [0.5 / np.hypot(0.5, 2), 1 / np.hypot(1, 3)], rtol=1e-3)


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("name", list(BINARY) + NO_GRAD_BINARY + ["gcd", "lcm"])
def test_binary_shapes_that_do_not_broadcast_are_named(name):
    with pytest.raises(ValueError, match=rf"{name}: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        getattr(dg, name)(np.ones((2, 3), "int32"), np.ones(4, "int32"))


@pytest.mark.parametrize("name", ["gcd", "lcm"])
def test_gcd_lcm_reject_floats(name):
    with pytest.raises(TypeError, match=rf"{name}: argument `x2` must be an integer array, got float32"):
        getattr(dg, name)(np.ones(2, "int32"), np.ones(2, "float32"))
    with pytest.raises(TypeError, match=rf"{name}: argument `x1` must be an integer array, got float"):
        getattr(dg, name)(1.5, np.ones(2, "int32"))


def test_ldexp_rejects_float_exponent():
    with pytest.raises(TypeError, match="ldexp: argument `x2` must be an integer array"):
        dg.ldexp(np.ones(2), np.ones(2))


# ----------------------------------------------------------------------------- surface
MODULE = "deepgrad.ops.elementwise"
NAMES = ("arccos arccosh arcsin arcsinh arctan arctanh arctan2 cbrt ceil floor trunc round sign signbit cos "
         "cosh sin sinh tan deg2rad rad2deg exp2 expm1 log10 log1p log2 logaddexp logaddexp2 reciprocal fabs "
         "hypot fmod mod floor_divide true_divide divide_no_nan fmax fmin heaviside ldexp nextafter gcd lcm "
         "sinc i0 nan_to_num real imag angle conj conjugate copy").split()


@pytest.mark.parametrize("name", NAMES)
def test_defined_here_and_exported(name):  # signatures: tests/keras_parity/test_keras_ops_surface.py
    assert name in dg.ops.__all__ and getattr(dg, name).__module__ == MODULE


_R = np.random.default_rng(7)
BACKWARD_CASES = {
    "Arccos": (dg.arccos, [_R.uniform(-0.9, 0.9, (2, 3))]),
    "Arccosh": (dg.arccosh, [_R.uniform(1.2, 3, (2, 3))]),
    "Arcsin": (dg.arcsin, [_R.uniform(-0.9, 0.9, (2, 3))]),
    "Arcsinh": (dg.arcsinh, [_R.standard_normal((2, 3))]),
    "Arctan": (dg.arctan, [_R.standard_normal((2, 3))]),
    "Arctanh": (dg.arctanh, [_R.uniform(-0.9, 0.9, (2, 3))]),
    "Cos": (dg.cos, [_R.standard_normal((2, 3))]),
    "Cosh": (dg.cosh, [_R.standard_normal((2, 3))]),
    "Sin": (dg.sin, [_R.standard_normal((2, 3))]),
    "Sinh": (dg.sinh, [_R.standard_normal((2, 3))]),
    "Tan": (dg.tan, [_R.uniform(-1, 1, (2, 3))]),
    "Cbrt": (dg.cbrt, [_R.uniform(0.5, 2, (2, 3))]),
    "Exp2": (dg.exp2, [_R.standard_normal((2, 3))]),
    "Expm1": (dg.expm1, [_R.standard_normal((2, 3))]),
    "Log10": (dg.log10, [_R.uniform(0.5, 2, (2, 3))]),
    "Log1p": (dg.log1p, [_R.uniform(0.5, 2, (2, 3))]),
    "Log2": (dg.log2, [_R.uniform(0.5, 2, (2, 3))]),
    "Reciprocal": (dg.reciprocal, [_R.uniform(0.5, 2, (2, 3))]),
    "Fabs": (dg.fabs, [_R.standard_normal((2, 3))]),
    "Deg2rad": (dg.deg2rad, [_R.standard_normal((2, 3))]),
    "Rad2deg": (dg.rad2deg, [_R.standard_normal((2, 3))]),
    "Sinc": (dg.sinc, [_R.standard_normal((2, 3))]),
    "I0": (dg.i0, [_R.standard_normal((2, 3))]),
    "Identity": (dg.copy, [_R.standard_normal((2, 3))]),
    "Real": (dg.real, [_R.standard_normal((2, 3))]),
    "Conj": (dg.conj, [_R.standard_normal((2, 3))]),
    "Ceil": (dg.ceil, [_R.standard_normal((2, 3))]),
    "Floor": (dg.floor, [_R.standard_normal((2, 3))]),
    "Trunc": (dg.trunc, [_R.standard_normal((2, 3))]),
    "Round": (dg.round, [_R.standard_normal((2, 3))]),
    "Sign": (dg.sign, [_R.standard_normal((2, 3))]),
    "Angle": (dg.angle, [_R.standard_normal((2, 3))]),
    "NanToNum": (dg.nan_to_num, [_R.standard_normal((2, 3))]),
    "Arctan2": (dg.arctan2, [_R.standard_normal((2, 3)), _R.standard_normal((3,))]),
    "Logaddexp": (dg.logaddexp, [_R.standard_normal((2, 3)), _R.standard_normal((3,))]),
    "Logaddexp2": (dg.logaddexp2, [_R.standard_normal((2, 3)), _R.standard_normal((3,))]),
    "Hypot": (dg.hypot, [_R.standard_normal((2, 3)), _R.standard_normal((3,))]),
    "DivideNoNan": (dg.divide_no_nan, [_R.standard_normal((2, 3)), _R.uniform(0.5, 2, (3,))]),
    "Fmod": (dg.fmod, [_R.standard_normal((2, 3)), _R.uniform(0.5, 2, (3,))]),
    "Mod": (dg.mod, [_R.standard_normal((2, 3)), _R.uniform(0.5, 2, (3,))]),
    "Fmax": (dg.fmax, [_R.standard_normal((2, 3)), _R.standard_normal((3,))]),
    "Fmin": (dg.fmin, [_R.standard_normal((2, 3)), _R.standard_normal((3,))]),
    "Ldexp": (lambda x: dg.ldexp(x, np.array([1, -2, 3])), [_R.standard_normal((2, 3))]),
}


def test_special_values_match_keras():
    x = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 2.5, -0.5, 1.5], np.float32)
    y = np.array([2.0, np.nan, 3.0, -1.0, np.inf, -np.inf, 0.0, 1.0], np.float32)
    for name in ["round", "ceil", "floor", "trunc", "cbrt", "fabs", "reciprocal", "angle", "signbit", "expm1",
                 "log1p", "i0", "sinc"]:
        assert_like_keras(getattr(dg, name)(x), getattr(K, name)(x), [x])
    for name in ["fmod", "mod", "floor_divide", "fmax", "fmin", "arctan2", "hypot", "logaddexp", "logaddexp2",
                 "divide_no_nan", "true_divide"]:
        assert_like_keras(getattr(dg, name)(x, y), getattr(K, name)(x, y), [x, y])
    # NumPy's answers where Keras on PyTorch differs: sign and heaviside keep NaN, and
    # nextafter moves by one float32 step (Keras's rounds through float64 and does not move)
    np.testing.assert_array_equal(dg.sign(x).data, np.sign(x))
    np.testing.assert_array_equal(dg.heaviside(x, y).data, np.heaviside(x, y))
    np.testing.assert_array_equal(dg.nextafter(x, y).data, np.nextafter(x, y))


def test_integer_inputs_become_floatx():
    old = dg.floatx()
    dg.set_floatx("float64")
    try:
        ints = np.array([1, 2], np.int32)
        for out in [dg.sin(ints), dg.ceil(ints), dg.floor(np.array([1], np.int64)), dg.arctan2(ints, 2),
                    dg.true_divide(ints, ints), dg.heaviside(ints, ints), dg.sin(2)]:
            assert out.dtype == np.float64
        assert dg.sin(np.float32([1.0])).dtype == np.float32
    finally:
        dg.set_floatx(old)


@pytest.mark.parametrize("name", list(UNARY))
def test_float16_forward_and_gradient_stay_float16(name):
    """float16 in, float16 out and float16 gradients, close to PyTorch's float32 answers."""
    _, theirs, make = UNARY[name]
    x = make(np.random.default_rng(8), (3, 4)).astype(np.float16)
    t = dg.Tensor(x, requires_grad=True)
    out = getattr(dg, name)(t)
    out.sum().backward()
    assert out.dtype == np.float16 and t.grad.dtype == np.float16
    r = torch.tensor(x.astype(np.float32), requires_grad=True)
    ref = theirs(r)
    ref.sum().backward()
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=5e-3, atol=5e-3)
    np.testing.assert_allclose(t.grad, r.grad.numpy(), rtol=1e-2, atol=1e-2)
