"""The optimisers' flat-group fast path: small variables of one dtype updated as one flat array.

A model has many small variables (biases, normalisation scales, small kernels), and an update
costs the same dozen NumPy calls for each, whatever its size: for a bias of 64 elements the
Python overhead of those calls is far more than the arithmetic. When an optimiser's
``update_step`` is *element-wise* (each element's new value and state depend only on that
element's value, gradient and state, and on scalars shared by all elements: learning rate,
iteration count, betas), running it once over the small variables concatenated into one flat
array gives the same bits as running it on each variable alone, for a dozen calls in all.

An optimiser class opts in by declaring ``elementwise_update = True`` (every built-in one
does); ``Optimizer._update_variables`` then sends each variable smaller than
``Optimizer.flat_group_max_size`` elements into the flat group of its dtype. A subclass that
writes its own ``update_step`` is not assumed element-wise: unless it declares the attribute
itself, its ``update_step`` sees one variable at a time.

The group's slots are flat arrays and each variable's own slots become views of them, so the
optimiser's state (``get_state``, ``set_state``) stays per variable.
"""
from __future__ import annotations

import numpy as np


class FlatGroup:
    """Several variables of one dtype seen as one flat variable by an element-wise update.

    It has what ``update_step`` reads of a variable (``data``, ``size``, ``dtype``) and is its
    own key for ``Optimizer.slots``. Each update copies the variables' values and gradients in
    (``gather``) and the new values back out (``scatter``).
    """

    def __init__(self, variables: list, slots: list[dict]):
        self.variables = variables
        ends = np.cumsum([v.size for v in variables])
        self.spans = [(int(end) - v.size, int(end)) for v, end in zip(variables, ends)]
        self.size = int(ends[-1])
        self.dtype = variables[0].dtype
        self.data = np.empty(self.size, self.dtype)
        self.views = [self.data[start:end].reshape(v.shape) for v, (start, end) in zip(variables, self.spans)]
        self.slots = {}
        for name in slots[0]:
            flat = self.slots[name] = np.empty(self.size, slots[0][name].dtype)
            for v, own, (start, end) in zip(variables, slots, self.spans):
                flat[start:end] = own[name].reshape(-1)
                own[name] = flat[start:end].reshape(v.shape)

    def gather(self, grads: list) -> np.ndarray:
        """The variables' values into ``data``; their gradients as one flat array."""
        np.concatenate([v.data.reshape(-1) for v in self.variables], out=self.data)
        return np.concatenate([g.reshape(-1) for g in grads])

    def scatter(self) -> None:
        for v, view in zip(self.variables, self.views):  # each variable's part of ``data``, in its shape
            v.data[...] = view
