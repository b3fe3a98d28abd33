"""``TorchForward``: a ``torch.nn.Module``'s forward as one node of deepgrad's graph.

Forward runs the module in PyTorch on the input (and on the module's parameters, whose arrays
are inputs of the node, so their gradients come back to deepgrad); backward is
``torch.autograd.grad`` of that forward's output with the incoming gradient:
``dL/dx = J_x^T g``, ``dL/dp = J_p^T g``. ``TorchModuleWrapper`` (``deepgrad.layers``) is built
on it. PyTorch is imported on first use only.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function


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
        for p, array in zip(parameters, params):  # arrays not the parameters' own memory: copy new values in
            current = p.detach().numpy()
            if not np.shares_memory(current, array) and not np.array_equal(current, array):
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
        # retain_graph: a retained deepgrad graph may run this backward again; the torch graph goes
        # with this node when deepgrad releases it
        grads = iter(torch.autograd.grad(out, wanted, grad_outputs=torch.from_numpy(np.ascontiguousarray(grad)),
                                         allow_unused=True, retain_graph=True) if wanted else ())
        shapes = [tuple(self.inputs[0].shape)] + [tuple(p.shape) for p in self.parameters]
        result = []
        for need, shape, t in zip(self.needs_input_grad, shapes, self.inputs):
            if not need:
                result.append(None)
                continue
            g = next(grads)
            result.append(np.zeros(shape, t.dtype) if g is None else g.numpy().astype(t.dtype, copy=False))
        return tuple(result)


def torch_module_call(x, *params, module, parameters, training=False):
    """``module(x)`` as a deepgrad op; ``params`` are the arrays of ``parameters`` (in that order)."""
    return TorchForward.apply(x, *params, module=module, parameters=tuple(parameters), training=bool(training))


__all__ = ["TorchForward", "torch_module_call"]
