"""``TorchModuleWrapper``: a ``torch.nn.Module`` as a deepgrad layer.

The module's forward runs in PyTorch; its backward is ``torch.autograd.grad`` on the graph
that forward recorded, inside one deepgrad ``Function``, so gradients flow from the deepgrad
loss into the module's parameters and on into the layers before it. Each parameter appears
as a deepgrad weight (``<layer>/<parameter name>``, trainable as its ``requires_grad``) whose
array shares memory with the parameter: a deepgrad optimizer's update is the module's update.
Buffers (e.g. BatchNorm running statistics) stay with the module. ``training`` sets
``module.train()``/``module.eval()`` for the call.

PyTorch is imported only when a wrapper is made (it is not a dependency of deepgrad). A
wrapper cannot go into a model file: its module would have to be pickled, which deepgrad never
loads; save the weights and rebuild the module in code.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Variable
from .base import Layer


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("TorchModuleWrapper wraps a torch.nn.Module and needs PyTorch: pip install torch") from None
    return torch


class TorchForward(Function):
    """``module(x)`` in PyTorch; backward through ``torch.autograd.grad``.

    Inputs: ``x`` and the arrays of the module's parameters (shared with them); the
    gradient of each comes back as a NumPy array (zeros where the output does not depend on it).
    """

    def forward(self, x, *params, module=None, parameters=(), training=False):
        torch = _torch()
        for p, array in zip(parameters, params):  # an optimizer that replaced an array: copy it in
            if not np.shares_memory(p.detach().numpy(), array):
                with torch.no_grad():
                    p.copy_(torch.from_numpy(np.ascontiguousarray(array)))
        record = True in self.needs_input_grad
        x_t = torch.from_numpy(np.ascontiguousarray(x))
        if record and self.needs_input_grad[0]:
            x_t.requires_grad_(True)
        module.train(bool(training))
        with torch.enable_grad() if record else torch.no_grad():
            out = module(x_t)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"TorchModuleWrapper: the module must return one torch.Tensor, got {type(out).__name__}")
        wanted = [t for t, need in zip([x_t, *parameters], self.needs_input_grad) if need]
        self.save_for_backward(out, wanted)
        self.parameters = parameters
        return out.detach().numpy().copy()

    def backward(self, grad):
        torch = _torch()
        out, wanted = self.saved
        grads = iter(torch.autograd.grad(out, wanted, grad_outputs=torch.from_numpy(np.ascontiguousarray(grad)),
                                         allow_unused=True) if wanted else ())
        shapes = [tuple(self.inputs[0].shape)] + [tuple(p.shape) for p in self.parameters]
        result = []
        for need, shape, t in zip(self.needs_input_grad, shapes, self.inputs):
            if not need:
                result.append(None)
                continue
            g = next(grads)
            result.append(np.zeros(shape, t.dtype) if g is None else g.numpy().astype(t.dtype, copy=False))
        return tuple(result)


class TorchModuleWrapper(Layer):
    """Runs ``module`` (a ``torch.nn.Module``) as a layer; its parameters are the layer's weights."""

    _float_inputs = True

    def __init__(self, module, name=None, output_shape=None, **kwargs):
        torch = _torch()
        if not isinstance(module, torch.nn.Module):
            raise ValueError(f"TorchModuleWrapper: module must be a torch.nn.Module, got {type(module).__name__}")
        super().__init__(name=name, **kwargs)
        self.module = module
        self.output_shape = None if output_shape is None else tuple(output_shape)
        self._parameters = []
        if not any(isinstance(p, torch.nn.parameter.UninitializedParameter) for p in module.parameters()):
            self._track_parameters()
            self.built = True

    def _track_parameters(self) -> None:
        """One deepgrad weight per parameter, sharing its memory."""
        for name, p in self.module.named_parameters():
            array = p.detach().numpy()
            var = Variable(array, trainable=p.requires_grad, name=f"{self.name}/{name}")
            var.data = array  # the parameter's own memory (Variable copies what it is given)
            var._created_trainable = bool(p.requires_grad)
            self._weights.append(var)
            self._parameters.append(p)

    def build(self, input_shape) -> None:
        # a lazy module (torch.nn.LazyLinear, ...) makes its parameters on a first forward
        torch = _torch()
        zeros = torch.zeros((1,) + tuple(1 if s is None else int(s) for s in input_shape[1:]))
        with torch.no_grad():
            self.module(zeros)
        self._track_parameters()
        self.built = True

    def call(self, inputs, training=None):
        return TorchForward.apply(inputs, *self._weights, module=self.module, parameters=tuple(self._parameters),
                                  training=bool(training))

    def compute_output_shape(self, input_shape):
        if self.output_shape is not None:
            return (input_shape[0],) + tuple(self.output_shape)
        return super().compute_output_shape(input_shape)

    def get_config(self):
        raise NotImplementedError(
            f"TorchModuleWrapper {self.name!r} cannot be saved in a model file: its torch module would have to be "
            "pickled, and deepgrad never loads pickles. Save the weights (model.save_weights) and build the module "
            "in code when loading")


__all__ = ["TorchModuleWrapper"]
