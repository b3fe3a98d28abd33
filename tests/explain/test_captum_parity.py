"""deepgrad.explain against Captum on PyTorch twins with the same weights: dense,
convolutional and recurrent models, float32 (to 1e-5) and float64 (to 1e-9)."""
import numpy as np
import pytest
import torch

captum_attr = pytest.importorskip("captum.attr")
from captum.attr._core import feature_ablation, integrated_gradients as captum_ig_module  # noqa: E402

from deepgrad import explain  # noqa: E402
from explain_twins import make  # noqa: E402

TOL = {"float32": 1e-5, "float64": 1e-9}
KINDS = ("dense", "conv", "recurrent")
TARGETS = {"dense": [1, 3, 0], "conv": [4, 0, 2], "recurrent": [2, 1, 0]}


def assert_agree(ours, theirs, dtype):

    theirs = np.asarray(theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs)
    assert ours.shape == theirs.shape
    assert ours.dtype == np.dtype(dtype)
    assert np.isfinite(ours).all()
    err = np.abs(ours - theirs).max()
    assert 0 < np.abs(theirs).max() and err <= TOL[dtype] * np.abs(theirs).max(), err


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    """float64 runs make torch's default float64 too, so Captum's node arrays (torch.linspace) are."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if request.param == "float64" else torch.float32)
    yield request.param
    torch.set_default_dtype(previous)


class _KeepsFloat64(torch.Tensor):
    def float(self):
        return self


class _TorchWithFloat64Steps:
    """Captum's integrated_gradients module sees this as ``torch``: the one ``torch.tensor`` there
    makes the step sizes, which Captum then rounds to float32 (``.float()``); in float64 runs
    they stay float64, as ours do."""

    def __getattr__(self, name):
        return getattr(torch, name)

    @staticmethod
    def tensor(data, *args, **kwargs):
        return torch.tensor(data, dtype=torch.float64).as_subclass(_KeepsFloat64)


def _float64_result(total_attrib, weights, is_inputs_tuple, use_weights):
    """Captum's feature_ablation.format_result without its cast of the result to float32."""
    attrib = tuple(a / w for a, w in zip(total_attrib, weights)) if use_weights else tuple(total_attrib)
    return attrib if is_inputs_tuple else attrib[0]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("absolute", [True, False])
def test_saliency(kind, absolute, dtype):
    model, twin, x, _, _ = make(kind, dtype)
    t = TARGETS[kind]
    theirs = captum_attr.Saliency(twin).attribute(torch.tensor(x), target=t, abs=absolute)
    assert_agree(explain.saliency(model, x, t, absolute=absolute), theirs, dtype)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", explain.METHODS)
def test_integrated_gradients(kind, method, dtype, monkeypatch):
    if dtype == "float64":
        monkeypatch.setattr(captum_ig_module, "torch", _TorchWithFloat64Steps())
    model, twin, x, _, _ = make(kind, dtype)
    t = TARGETS[kind]
    baseline = np.random.default_rng(1).normal(scale=0.1, size=x.shape[1:]).astype(dtype)
    theirs, their_delta = captum_attr.IntegratedGradients(twin).attribute(
        torch.tensor(x), baselines=torch.tensor(baseline)[None], target=t, n_steps=20, method=method,
        return_convergence_delta=True)
    ours, delta = explain.integrated_gradients(model, x, t, baseline=baseline, steps=20, method=method,
                                               return_convergence_delta=True, batch_size=7)
    assert_agree(ours, theirs.as_subclass(torch.Tensor), dtype)
    np.testing.assert_allclose(delta, their_delta.as_subclass(torch.Tensor).detach().numpy(),
                               atol=TOL[dtype] * 10)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("absolute", [True, False])
def test_smoothgrad_with_the_same_noise(kind, absolute, dtype, monkeypatch):
    model, twin, x, _, _ = make(kind, dtype)
    t, samples, level, seed = TARGETS[kind], 6, 0.2, 11
    # the noise smoothgrad draws: copy k of sample i is x_i + sigma_i z[k, i]
    z = np.random.default_rng(seed).standard_normal((samples,) + x.shape).astype(dtype)
    axes = tuple(range(1, x.ndim))
    sigma = level * (x.max(axis=axes, keepdims=True) - x.min(axis=axes, keepdims=True))
    noise = (sigma[None] * z).swapaxes(0, 1).reshape((-1,) + x.shape[1:])   # Captum: row i * samples + k
    calls = []

    def fixed_normal(mean, std, *args, **kwargs):
        assert tuple(std.shape) == noise.shape
        calls.append(1)
        return torch.tensor(noise)

    monkeypatch.setattr(torch, "normal", fixed_normal)
    theirs = captum_attr.NoiseTunnel(captum_attr.Saliency(twin)).attribute(
        torch.tensor(x), nt_type="smoothgrad", nt_samples=samples, stdevs=1.0, target=t, abs=absolute)
    assert calls == [1]
    ours = explain.smoothgrad(model, x, t, samples=samples, noise=level, seed=seed, absolute=absolute, batch_size=5)
    assert_agree(ours, theirs, dtype)


@pytest.mark.parametrize("kind", ["conv", "recurrent"])
def test_grad_cam_at_the_layers_resolution(kind, dtype):
    model, twin, x, layer, module = make(kind, dtype)
    t = TARGETS[kind]
    theirs = captum_attr.LayerGradCam(twin, module).attribute(torch.tensor(x), target=t)
    ours = explain.grad_cam(model, x, t, layer, relu=False, upsample=False)
    assert_agree(ours, theirs[:, 0], dtype)
    assert (ours < 0).any()   # the ReLU was left off, as asked


def test_grad_cam_relu_and_bilinear_upsampling(dtype):
    model, twin, x, layer, module = make("conv", dtype)
    t = TARGETS["conv"]
    theirs = captum_attr.LayerGradCam(twin, module).attribute(torch.tensor(x), target=t, relu_attributions=True)
    theirs = captum_attr.LayerAttribution.interpolate(theirs, (8, 8), interpolate_mode="bilinear")
    ours = explain.grad_cam(model, x, t, model.get_layer(layer))
    assert ours.shape == (3, 8, 8)
    assert_agree(ours, theirs[:, 0], dtype)


@pytest.mark.parametrize("kind, window, stride", [
    ("dense", (2,), (1,)),
    ("conv", (3, 3, 2), (2, 2, 2)),     # the last window is cut at the edge: ceil((8 - 3) / 2) + 1 = 4
    ("recurrent", (2, 3), (1, 3)),
])
def test_occlusion(kind, window, stride, dtype, monkeypatch):
    if dtype == "float64":
        monkeypatch.setattr(feature_ablation, "format_result", _float64_result)
    model, twin, x, _, _ = make(kind, dtype)
    t = TARGETS[kind]
    theirs = captum_attr.Occlusion(twin).attribute(torch.tensor(x), sliding_window_shapes=window, strides=stride,
                                                    baselines=0.25, target=t)
    ours = explain.occlusion(model, x, t, window, stride, baseline=0.25, batch_size=5)
    assert_agree(ours, theirs, dtype)


def test_occlusion_window_over_spatial_axes_spans_every_channel():
    model, twin, x, _, _ = make("conv", "float32")
    theirs = captum_attr.Occlusion(twin).attribute(torch.tensor(x), sliding_window_shapes=(2, 2, 2),
                                                    strides=(2, 2, 2), target=1)
    assert_agree(explain.occlusion(model, x, 1, window=(2, 2)), theirs, "float32")
    assert_agree(explain.occlusion(model, x, 1, window=2), theirs, "float32")
