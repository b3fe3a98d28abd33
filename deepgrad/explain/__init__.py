"""Explanations: which parts of the input made the model decide what it did.

Every function takes a model (Sequential, functional or subclassed) and a batch ``x``
(samples first) and returns NumPy arrays; the model runs in inference mode, in batches of
at most ``batch_size`` rows whatever ``steps`` or ``samples`` is.

- ``saliency``: the input gradient of a class score;
- ``integrated_gradients``: the gradient integrated along a path from a baseline (Captum's
  quadratures), with its completeness error on request;
- ``smoothgrad``: the gradient averaged over noisy copies;
- ``grad_cam``: a layer's feature maps weighted by their mean gradient;
- ``occlusion``: the score lost when a sliding patch is hidden;
- ``as_predict_fn``: the model as ``f(numpy_batch) -> probabilities`` for SHAP and LIME.
"""
from .gradients import METHODS, approximation_parameters, integrated_gradients, saliency, smoothgrad
from .grad_cam import default_layer, grad_cam
from .occlusion import occlusion
from .predict_fn import as_predict_fn

__all__ = ["METHODS", "approximation_parameters", "as_predict_fn", "default_layer", "grad_cam",
           "integrated_gradients", "occlusion", "saliency", "smoothgrad"]
