"""deepgrad.explain's own promises: completeness, determinism, bounded memory, every kind of
model, clear errors, and as_predict_fn serving SHAP- and LIME-style explainers."""
import itertools
import tracemalloc

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import explain, layers
from explain_twins import make


def conv_model(seed=0):
    return make("conv", "float32", seed)[0]


def images(n=3, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, 8, 8, 2)).astype("float32")


# ----------------------------------------------------------------- integrated gradients
@pytest.mark.parametrize("method", ["gausslegendre", "riemann_middle"])
@pytest.mark.parametrize("kind", ["dense", "conv", "recurrent"])
def test_integrated_gradients_completeness_within_1_percent_at_64_steps(kind, method):
    model, _, x, _, _ = make(kind, "float32")
    baseline = np.zeros_like(x)
    target = [1, 0, 2]
    ig, delta = explain.integrated_gradients(model, x, target, steps=64, method=method,
                                             return_convergence_delta=True)
    scores = model(x).data[np.arange(3), target]
    base_scores = model(baseline).data[np.arange(3), target]
    gap = scores - base_scores
    total = ig.reshape(3, -1).sum(axis=1)
    assert np.all(np.abs(gap) > 1e-3)   # a gap worth explaining
    np.testing.assert_array_less(np.abs(total - gap), 0.01 * np.abs(gap))
    np.testing.assert_allclose(delta, total - gap, rtol=1e-4, atol=1e-7)


def test_gauss_legendre_nodes_and_weights_are_numpys():
    for n in (1, 2, 7, 20, 64, 100):
        nodes, weights = explain.gradients.gauss_legendre(n)
        expected_nodes, expected_weights = np.polynomial.legendre.leggauss(n)
        np.testing.assert_allclose(nodes, expected_nodes, rtol=0, atol=1e-15)
        np.testing.assert_allclose(weights, expected_weights, rtol=0, atol=1e-13)


def test_integrated_gradients_quadratures_are_captums():
    w, a = explain.approximation_parameters("riemann_trapezoid", 5)
    np.testing.assert_allclose(w, [0.1, 0.2, 0.2, 0.2, 0.1])
    np.testing.assert_allclose(a, [0, 0.25, 0.5, 0.75, 1])
    w, a = explain.approximation_parameters("riemann_middle", 4)
    np.testing.assert_allclose(a, [0.125, 0.375, 0.625, 0.875])
    np.testing.assert_allclose(explain.approximation_parameters("riemann_right", 4)[1], [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(explain.approximation_parameters("riemann_left", 4)[1], [0, 0.25, 0.5, 0.75])
    w, a = explain.approximation_parameters("gausslegendre", 7)
    assert abs(w.sum() - 1) < 1e-14 and abs(w @ a**5 - 1 / 6) < 1e-14   # exact for degree <= 13


def test_baseline_forms_agree():
    model, x = conv_model(), images()
    per_sample = explain.integrated_gradients(model, x, 1, baseline=np.full(x.shape, 0.5, "float32"), steps=8)
    one = explain.integrated_gradients(model, x, 1, baseline=np.full(x.shape[1:], 0.5, "float32"), steps=8)
    number = explain.integrated_gradients(model, x, 1, baseline=0.5, steps=8)
    np.testing.assert_allclose(one, per_sample, rtol=1e-6)
    np.testing.assert_allclose(number, per_sample, rtol=1e-6)
    assert not np.allclose(number, explain.integrated_gradients(model, x, 1, steps=8))


# ----------------------------------------------------------------- determinism and batching
@pytest.mark.parametrize("method, kwargs", [
    ("saliency", {}), ("integrated_gradients", {"steps": 10}), ("smoothgrad", {"samples": 7, "seed": 3}),
    ("grad_cam", {"layer": "last_conv"}), ("occlusion", {"window": (3, 3), "stride": (2, 2)}),
])
def test_results_do_not_depend_on_the_batch_size(method, kwargs):
    model, x = conv_model(), images(5)
    fn = getattr(explain, method)
    small = fn(model, x, [0, 1, 2, 3, 4], batch_size=1, **kwargs)
    large = fn(model, x, [0, 1, 2, 3, 4], batch_size=1000, **kwargs)
    assert small.dtype == np.float32 and np.abs(large).max() > 0
    # occlusion subtracts two float32 scores of about 1, whose last bits depend on the batch's summation order
    atol = 1e-6 if method == "occlusion" else 1e-7 * np.abs(large).max()
    np.testing.assert_allclose(small, large, rtol=1e-5, atol=atol)


def test_smoothgrad_is_deterministic_for_a_seed():
    model, x = conv_model(), images()
    a = explain.smoothgrad(model, x, 2, samples=5, seed=7)
    np.testing.assert_array_equal(a, explain.smoothgrad(model, x, 2, samples=5, seed=7))
    assert not np.allclose(a, explain.smoothgrad(model, x, 2, samples=5, seed=8))
    dg.utils.set_random_seed(5)   # seed=None draws from deepgrad's seeded random state
    b = explain.smoothgrad(model, x, 2, samples=5)
    dg.utils.set_random_seed(5)
    np.testing.assert_array_equal(b, explain.smoothgrad(model, x, 2, samples=5))
    # no noise: the mean of equal gradients is the gradient
    np.testing.assert_allclose(explain.smoothgrad(model, x, 2, samples=3, noise=0.0),
                               explain.saliency(model, x, 2, absolute=False), rtol=1e-5, atol=1e-9)


def test_memory_stays_flat_for_many_steps():
    model, x = conv_model(), images(4)

    def peak(steps):
        explain.integrated_gradients(model, x, 1, steps=steps)   # warm up caches at this size
        tracemalloc.start()
        explain.integrated_gradients(model, x, 1, steps=steps)
        used = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return used

    few, many = peak(50), peak(1000)
    assert many < 1.25 * few, (few, many)
    # a batch of 1000 x 4 interpolated images at once would take far more than that
    assert many < 1000 * x.nbytes


def test_inference_mode_dropout_is_off():
    model = dg.Sequential([layers.Input((6,)), layers.Dense(8, activation="tanh"), layers.Dropout(0.5),
                           layers.Dense(3, activation="softmax")])
    x = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    np.testing.assert_array_equal(explain.saliency(model, x, 1), explain.saliency(model, x, 1))


def test_target_none_explains_the_predicted_class():
    model, x = conv_model(), images()
    pred = model(x).data.argmax(axis=1)
    np.testing.assert_array_equal(explain.saliency(model, x, None), explain.saliency(model, x, pred))


# ----------------------------------------------------------------- every kind of model
class Subclassed(dg.Model):
    def __init__(self, conv1, conv2, dense):
        super().__init__()
        self.conv1, self.conv2, self.flatten, self.dense = conv1, conv2, layers.Flatten(), dense

    def call(self, x, training=None):
        return self.dense(self.flatten(self.conv2(self.conv1(x))))


def test_grad_cam_same_on_sequential_functional_and_subclassed_models():
    seq, x = conv_model(), images()
    conv1, conv2, _, dense = seq.layers
    inputs = layers.Input((8, 8, 2))
    functional = dg.Model(inputs, seq(inputs))                       # the Sequential nested inside
    subclassed = Subclassed(conv1, conv2, dense)
    expected = explain.grad_cam(seq, x, [0, 1, 2], "last_conv")
    assert expected.shape == (3, 8, 8) and expected.max() > 0
    for model in (functional, subclassed):
        np.testing.assert_allclose(explain.grad_cam(model, x, [0, 1, 2], "last_conv"), expected, rtol=1e-6)
    np.testing.assert_allclose(explain.grad_cam(subclassed, x, [0, 1, 2], conv2), expected, rtol=1e-6)
    assert "call" not in conv2.__dict__   # the call hook is gone afterwards
    for name in ("saliency", "integrated_gradients", "occlusion"):
        fn = getattr(explain, name)
        np.testing.assert_allclose(fn(subclassed, x, 1), fn(seq, x, 1), rtol=1e-5, atol=1e-8)


def test_grad_cam_default_layer_is_the_last_convolution():
    seq, x = conv_model(), images()
    np.testing.assert_array_equal(explain.grad_cam(seq, x, 1), explain.grad_cam(seq, x, 1, "last_conv"))


def test_grad_cam_relu_and_upsample_switches():
    seq, x = conv_model(), images()
    raw = explain.grad_cam(seq, x, 3, "last_conv", relu=False, upsample=False)
    assert raw.shape == (3, 4, 4) and (raw < 0).any()
    np.testing.assert_array_equal(explain.grad_cam(seq, x, 3, "last_conv", upsample=False), np.maximum(raw, 0))


# ----------------------------------------------------------------- errors
@pytest.mark.parametrize("call, message", [
    (lambda m, x: explain.saliency(m, x, 5), r"saliency\(\): target 5 is out of range: the model has 5 outputs"),
    (lambda m, x: explain.saliency(m, x, [0, 1, -1]), r"target -1 is out of range"),
    (lambda m, x: explain.smoothgrad(m, x, [0, 1]),
     r"target has shape \(2,\); give one class index, or one per sample \(3,\)"),
    (lambda m, x: explain.saliency(m, x, "cat"), r"target must be a class index"),
    (lambda m, x: explain.grad_cam(m, x, 0, "no_such_layer"),
     r"no layer named 'no_such_layer'; layers with a spatial output: \['conv2d\w*', 'last_conv'\]"),
    (lambda m, x: explain.grad_cam(m, x, 0, m.layers[-1].name),
     r"layer 'dense\w*' has an output of rank 2, with no spatial axes"),
    (lambda m, x: explain.grad_cam(m, x, 0, layers.Dense(3)), r"is not a layer of model"),
    (lambda m, x: explain.integrated_gradients(m, x, 0, baseline=np.zeros((8, 8))),
     r"baseline of shape \(8, 8\) does not match x of shape \(3, 8, 8, 2\)"),
    (lambda m, x: explain.occlusion(m, x, 0, window=(3, 3), baseline=np.zeros(5)), r"baseline of shape \(5,\)"),
    (lambda m, x: explain.integrated_gradients(m, x, 0, method="simpson"), r"method must be one of"),
    (lambda m, x: explain.integrated_gradients(m, x, 0, steps=1, method="riemann_left"), r"needs steps >= 2"),
    (lambda m, x: explain.occlusion(m, x, 0, window=(9, 2)), r"window \(9, 2, 2\) is larger than a sample"),
    (lambda m, x: explain.occlusion(m, x, 0, window=(2, 2), stride=(3, 3)),
     r"stride \(3, 3, 2\) is larger than window"),
    (lambda m, x: explain.saliency(m, x[0], 0), r"x must be a non-empty batch"),
    (lambda m, x: explain.saliency(m, x, 0, batch_size=0), r"batch_size must be a whole number >= 1"),
])
def test_bad_arguments_get_clear_errors(call, message):
    model = conv_model()
    with pytest.raises(ValueError, match=message):
        call(model, images())


def test_a_model_without_spatial_layers_is_refused_by_grad_cam():
    model, _, x, _, _ = make("dense", "float32")
    with pytest.raises(ValueError, match=r"no layer with a spatial output"):
        explain.grad_cam(model, x, 0)


# ----------------------------------------------------------------- as_predict_fn with SHAP- and LIME-style use
def test_predict_fn_gives_the_models_probabilities_for_each_batch_shape():
    model, x = conv_model(), images(5)
    f = explain.as_predict_fn(model, batch_size=2)
    p = f(x)
    np.testing.assert_allclose(p, model.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(f(x.reshape(5, -1)), p, rtol=1e-6)                  # SHAP's flat features
    with pytest.raises(ValueError, match=r"takes samples of shape \(8, 8, 2\), got a batch of shape \(5, 7\)"):
        f(np.zeros((5, 7)))


def test_predict_fn_turns_logits_and_one_sigmoid_into_probabilities():
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    logits = dg.Sequential([layers.Input((3,)), layers.Dense(4)])
    z = logits(x).data
    expected = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(explain.as_predict_fn(logits)(x), expected / expected.sum(1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(explain.as_predict_fn(logits, probabilities=False)(x), z, rtol=1e-6)
    binary = dg.Sequential([layers.Input((3,)), layers.Dense(1, activation="sigmoid")])
    p = binary(x).data[:, 0]
    np.testing.assert_allclose(explain.as_predict_fn(binary)(x), np.stack([1 - p, p], axis=1), rtol=1e-6)


def kernel_shap(f, x, background, column):
    """Shapley values of f(.)[column] at x by the KernelSHAP regression over every coalition
    (features outside a coalition take the background's value)."""
    m = len(x)
    coalitions = np.array(list(itertools.product([0, 1], repeat=m)), float)
    sizes = coalitions.sum(axis=1)
    inner = (sizes > 0) & (sizes < m)
    from math import comb
    weights = np.where(inner, (m - 1) / np.maximum(1, [comb(m, int(s)) for s in sizes] * sizes * (m - sizes)), 1e9)
    values = f(np.where(coalitions == 1, x, background))[:, column]
    design = np.hstack([np.ones((len(coalitions), 1)), coalitions])
    w = np.sqrt(weights)[:, None]
    solution = np.linalg.lstsq(design * w, values * w[:, 0], rcond=None)[0]
    return solution[1:], values


def test_kernel_shap_style_use():
    dg.utils.set_random_seed(1)
    model = dg.Sequential([layers.Input((4,)), layers.Dense(3)])   # linear scores: exact Shapley values known
    kernel, bias = model.get_weights()
    x = np.array([0.5, -1.0, 2.0, 0.3], "float32")
    background = np.array([0.1, 0.2, -0.3, 0.0], "float32")
    f = explain.as_predict_fn(model, probabilities=False)
    phi, _ = kernel_shap(f, x, background, column=2)
    np.testing.assert_allclose(phi, kernel[:, 2] * (x - background), rtol=1e-4, atol=1e-5)
    # with probabilities the values still add up to f(x) - f(background) (SHAP's efficiency)
    g = explain.as_predict_fn(dg.Sequential([layers.Input((4,)), layers.Dense(8, activation="tanh"),
                                             layers.Dense(3, activation="softmax")]))
    phi, values = kernel_shap(g, x, background, column=1)
    assert abs(phi.sum() - (values[-1] - values[0])) < 1e-5 and np.abs(phi).max() > 1e-4


def test_lime_style_use_finds_the_region_the_model_reads():
    """A model that reads only the top-left quadrant; LIME's image explainer hands the function
    RGB copies with some segments greyed out, and fits a weighted linear model to the answers."""
    weight = np.zeros((8, 8, 1), "float32")
    weight[:4, :4] = 1.0
    inputs = layers.Input((8, 8, 1))
    score = layers.Dense(1, use_bias=False)(layers.Flatten()(inputs))
    model = dg.Model(inputs, layers.Activation("sigmoid")(score))
    model.layers[-2].set_weights([weight.reshape(64, 1)])
    image = np.full((8, 8), 0.8, "float32")
    segments = (np.arange(8)[:, None] >= 4) * 2 + (np.arange(8)[None, :] >= 4)   # four quadrants
    rng = np.random.default_rng(0)
    masks = rng.integers(0, 2, size=(64, 4))
    rgb = np.repeat(image[None, :, :, None], 3, axis=-1) * masks[:, segments][..., None]   # (64, 8, 8, 3)
    p = explain.as_predict_fn(model)(rgb)
    assert p.shape == (64, 2)
    np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp(-0.8 * 16 * masks[:, 0])), rtol=1e-5)
    design = np.hstack([np.ones((64, 1)), masks])
    coef = np.linalg.lstsq(design, p[:, 1], rcond=None)[0][1:]
    assert coef[0] > 0.4 and np.abs(coef[1:]).max() < 1e-6
