"""Cross-entropies, ctc_loss and ctc_decode of keras.ops.nn: values against Keras, gradients against PyTorch."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from oracle import check_gradients, compare_with_torch  # noqa: E402

import deepgrad as dg  # noqa: E402

K = keras.ops
EPS = 1e-7


def normal(seed, shape, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def probs(seed, shape, dtype=np.float64):
    return np.random.default_rng(seed).uniform(0.05, 0.95, shape).astype(dtype)


def assert_like_keras(out, expected, tol=1e-5):
    expected = K.convert_to_numpy(expected)
    assert out.dtype == expected.dtype and out.shape == expected.shape, (out.dtype, expected.dtype, out.shape)
    np.testing.assert_allclose(out.data, expected, rtol=tol, atol=tol)


# -------------------------------------------------------------- cross-entropy
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_crossentropy_matches_keras(dtype):
    t = (np.random.default_rng(0).random((3, 4, 5)) > 0.5).astype(dtype)
    p, z = probs(1, (3, 4, 5), dtype), normal(2, (3, 4, 5), dtype) * 3
    assert_like_keras(dg.binary_crossentropy(t, p), K.binary_crossentropy(t, p))
    assert_like_keras(dg.binary_crossentropy(t, z, from_logits=True), K.binary_crossentropy(t, z, from_logits=True))
    edge = np.array([0.0, 1e-9, 0.5, 1.0], dtype)  # clipped into [eps, 1 - eps]
    assert_like_keras(dg.binary_crossentropy(np.array([1, 0, 1, 0], dtype), edge),
                      K.binary_crossentropy(np.array([1, 0, 1, 0], dtype), edge))


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_categorical_crossentropies_match_keras(axis, dtype):
    p, z = probs(1, (3, 4, 5), dtype), normal(2, (3, 4, 5), dtype)
    t = p / p.sum(axis=axis, keepdims=True)
    assert_like_keras(dg.categorical_crossentropy(t, p, False, axis), K.categorical_crossentropy(t, p, False, axis))
    assert_like_keras(dg.categorical_crossentropy(t, z, True, axis), K.categorical_crossentropy(t, z, True, axis))
    ids = np.random.default_rng(3).integers(0, p.shape[axis], np.delete(np.array(p.shape), axis % 3))
    assert_like_keras(dg.sparse_categorical_crossentropy(ids, p, False, axis),
                      K.sparse_categorical_crossentropy(ids, p, False, axis))
    assert_like_keras(dg.sparse_categorical_crossentropy(ids, z, True, axis),
                      K.sparse_categorical_crossentropy(ids, z, True, axis))


def test_sparse_targets_with_a_trailing_one_and_rank_one_output():
    z = normal(0, (3, 4, 5), np.float32)
    ids = np.random.default_rng(1).integers(0, 5, (3, 4, 1))
    assert_like_keras(dg.sparse_categorical_crossentropy(ids, z, True), K.sparse_categorical_crossentropy(ids, z, True))
    assert_like_keras(dg.sparse_categorical_crossentropy(np.array(2), z[0, 0], True),
                      K.sparse_categorical_crossentropy(np.array(2), z[0, 0], True))
    lists = dg.sparse_categorical_crossentropy([1, 2], z[0, :2].tolist(), from_logits=True)
    assert lists.dtype == np.float32
    np.testing.assert_allclose(lists.data, dg.sparse_categorical_crossentropy(np.array([1, 2]), z[0, :2], True).data)


def torch_probability_ce(t, p, axis):
    q = torch.clip(p / p.sum(dim=axis, keepdim=True), EPS, 1 - EPS)
    return -(t * torch.log(q)).sum(dim=axis)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_crossentropy_gradients_match_torch(dtype):
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {}
    t = np.random.default_rng(0).random((3, 4, 5)).astype(dtype)
    p, z = probs(1, (3, 4, 5), dtype), normal(2, (3, 4, 5), dtype)
    compare_with_torch(lambda a, b: dg.binary_crossentropy(a, b, from_logits=True),
                       lambda a, b: F.binary_cross_entropy_with_logits(b, a, reduction="none"), [t, z], **tol)
    # PyTorch has no target gradient for binary_cross_entropy on probabilities
    compare_with_torch(lambda a, b: dg.binary_crossentropy(a, b),
                       lambda a, b: F.binary_cross_entropy(torch.clip(b, EPS, 1 - EPS), a, reduction="none"),
                       [t, p], grad_mask=[False, True], **tol)
    for axis in (-1, 1):
        compare_with_torch(lambda a, b: dg.categorical_crossentropy(a, b, False, axis),
                           lambda a, b: torch_probability_ce(a, b, axis), [t, p], **tol)
        compare_with_torch(lambda a, b: dg.categorical_crossentropy(a, b, True, axis),
                           lambda a, b: -(a * torch.log_softmax(b, dim=axis)).sum(dim=axis), [t, z], **tol)
    ids = np.random.default_rng(3).integers(0, 4, (3, 5))
    compare_with_torch(lambda a, b: dg.sparse_categorical_crossentropy(a, b, True, axis=1),
                       lambda a, b: F.cross_entropy(b, a, reduction="none"), [ids, z], **tol)
    compare_with_torch(lambda a, b: dg.sparse_categorical_crossentropy(a, b, False, axis=1),
                       lambda a, b: F.nll_loss(torch.log(torch.clip(b / b.sum(1, keepdim=True), EPS, 1 - EPS)), a,
                                               reduction="none"), [ids, p], **tol)


def test_crossentropy_central_differences():
    t, p, z = probs(0, (3, 4)), probs(1, (3, 4)), normal(2, (3, 4))
    check_gradients(lambda a, b: dg.binary_crossentropy(a, b), [t, p])
    check_gradients(lambda a, b: dg.binary_crossentropy(a, b, from_logits=True), [t, z])
    check_gradients(lambda a, b: dg.categorical_crossentropy(a, b, axis=0), [t, p])
    check_gradients(lambda b: dg.sparse_categorical_crossentropy(np.array([0, 3, 2]), b), [p])


def test_crossentropy_errors():
    with pytest.raises(ValueError, match="binary_crossentropy: target and output must have the same shape"):
        dg.binary_crossentropy(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="categorical_crossentropy: axis"):
        dg.categorical_crossentropy(np.zeros((2, 3)), np.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy: class ids must lie in \[0, 3\)"):
        dg.sparse_categorical_crossentropy(np.array([0, 3]), np.ones((2, 3)))
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy: target of shape"):
        dg.sparse_categorical_crossentropy(np.array([0, 1, 2]), np.ones((2, 3)))
    with pytest.raises(TypeError, match="integer class ids"):
        dg.sparse_categorical_crossentropy(np.array([0.5, 1.0]), np.ones((2, 3)))


# ------------------------------------------------------------------------ CTC
def ctc_case(seed=0, batch=4, frames=12, classes=6, dtype=np.float32):
    rng = np.random.default_rng(seed)
    out = rng.standard_normal((batch, frames, classes)).astype(dtype)
    target = rng.integers(1, classes, (batch, 5))
    target[0, 2] = target[0, 1]  # a repeated label needs a blank between its copies
    return target, out, np.array([5, 3, 1, 4][:batch]), np.array([12, 10, 7, 12][:batch])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ctc_loss_matches_keras(dtype):
    target, out, tl, ol = ctc_case(dtype=dtype)
    ours, theirs = dg.ctc_loss(target, out, tl, ol), K.ctc_loss(target, out, tl, ol)
    if dtype == np.float64:
        # Keras 3.15's result_type maps float64 to float32; deepgrad keeps float64 end to end
        assert ours.dtype == np.float64
        ours = dg.Tensor(ours.data.astype(np.float32))
    assert_like_keras(ours, theirs, 1e-4)
    assert_like_keras(dg.ctc_loss(target - 1, out.astype(np.float32), tl, ol, mask_index=5),
                      K.ctc_loss(target - 1, out.astype(np.float32), tl, ol, mask_index=5), 1e-4)


def torch_ctc(target, tl, ol, blank=0):
    return lambda out: F.ctc_loss(torch.log_softmax(out, -1).transpose(0, 1), torch.tensor(target), torch.tensor(ol),
                                  torch.tensor(tl), blank=blank, reduction="none")


def test_ctc_gradients_match_torch():
    target, out, tl, ol = ctc_case(dtype=np.float64)
    compare_with_torch(lambda o: dg.ctc_loss(target, o, tl, ol), torch_ctc(target, tl, ol), [out],
                       rtol=1e-8, atol=1e-8)
    compare_with_torch(lambda o: dg.ctc_loss(target - 1, o, tl, ol, mask_index=5),
                       torch_ctc(target - 1, tl, ol, blank=5), [out], rtol=1e-8, atol=1e-8)


@settings(max_examples=10)
@given(seed=st.integers(0, 10_000), frames=st.integers(4, 9))
def test_ctc_random_lengths_match_torch(seed, frames):
    rng = np.random.default_rng(seed)
    out = rng.standard_normal((3, frames, 4))
    target = rng.integers(1, 4, (3, 3))
    tl = rng.integers(0, 4, 3)
    ol = rng.integers(2 * 3 + 1 if frames >= 7 else frames, frames + 1, 3)
    compare_with_torch(lambda o: dg.ctc_loss(target, o, tl, ol), torch_ctc(target, tl, ol), [out],
                       rtol=1e-8, atol=1e-8)


def test_ctc_central_differences():
    target, out, tl, ol = ctc_case(batch=2, frames=5, classes=3, dtype=np.float64)
    check_gradients(lambda o: dg.ctc_loss(target[:, :2] % 2 + 1, o, np.array([2, 1]), np.array([5, 4])), [out])


def test_ctc_errors():
    target, out, tl, ol = ctc_case()
    with pytest.raises(ValueError, match="ctc_loss: output must be"):
        dg.ctc_loss(target, out[0], tl, ol)
    with pytest.raises(ValueError, match="ctc_loss: lengths out of range"):
        dg.ctc_loss(target, out, tl, ol + 1)
    with pytest.raises(ValueError, match="ctc_decode: strategy"):
        dg.ctc_decode(out, ol, strategy="viterbi")


@pytest.mark.parametrize("merge_repeated", [True, False])
@pytest.mark.parametrize("mask_index", [0, 3, None])
def test_ctc_greedy_decode_matches_keras(merge_repeated, mask_index):
    _, out, _, ol = ctc_case()
    paths, scores = dg.ctc_decode(out, ol, merge_repeated=merge_repeated, mask_index=mask_index)
    k_paths, k_scores = K.ctc_decode(out, ol, merge_repeated=merge_repeated, mask_index=mask_index)
    assert_like_keras(paths, k_paths, 0)
    assert_like_keras(scores, k_scores)


@pytest.mark.parametrize("top_paths,beam_width,mask_index", [(1, 8, 0), (3, 8, 0), (2, 3, 5), (1, 4, None)])
def test_ctc_beam_search_matches_keras(top_paths, beam_width, mask_index):
    _, out, _, ol = ctc_case()
    paths, scores = dg.ctc_decode(out, ol, "beam_search", beam_width, top_paths, mask_index=mask_index)
    k_paths, k_scores = K.ctc_decode(out, ol, "beam_search", beam_width, top_paths, mask_index=mask_index)
    assert_like_keras(paths, k_paths, 0)
    assert_like_keras(scores, k_scores, 1e-4)


BACKWARD_CASES = {
    "BinaryCrossentropy": (lambda a, b: dg.binary_crossentropy(a, b), [probs(0, (3, 4)), probs(1, (3, 4))]),
    "ProbabilityCrossentropy": (lambda a, b: dg.categorical_crossentropy(a, b), [probs(0, (3, 4)), probs(1, (3, 4))]),
    "CTCLoss": (lambda o: dg.ctc_loss(np.array([[1, 2], [2, 2]]), o, np.array([2, 2]), np.array([6, 5])),
                [normal(0, (2, 6, 3))]),
}


