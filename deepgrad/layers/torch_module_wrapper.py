"""``TorchModuleWrapper``: a ``torch.nn.Module`` as a deepgrad layer.

The module's forward runs in PyTorch; its backward is ``torch.autograd.grad`` on the graph
that forward recorded, inside one deepgrad op (``ops.torch_module``), so gradients flow from
the deepgrad loss into the module's parameters and on into the layers before it. Each parameter appears
as a deepgrad weight (``<layer>/<parameter name>``, trainable as its ``requires_grad``) whose
array shares memory with the parameter: a deepgrad optimizer's update is the module's update.
Buffers (e.g. BatchNorm running statistics) stay with the module. ``training`` sets
``module.train()``/``module.eval()`` for the call.

PyTorch is imported only when a wrapper is made (it is not a dependency of deepgrad). A
wrapper cannot go into a model file: its module would have to be pickled, which deepgrad never
loads; save the weights and rebuild the module in code.
"""
from __future__ import annotations

from ..autograd import Variable
from ..ops.torch_module import _torch, torch_module_call
from .base import Layer


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
            var = Variable(array, trainable=p.requires_grad, name=name)
            var._path = self._variable_path(name)
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
        return torch_module_call(inputs, *self._weights, module=self.module, parameters=self._parameters,
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
