"""``Variable``: a leaf Tensor that holds state (a layer weight, an optimiser slot)."""
from __future__ import annotations

import numpy as np

from ..backend import auto_name, current_path
from .scopes import get_stateless_scope, note_write
from .tensor import Tensor


class Variable(Tensor):
    """A named, assignable leaf tensor. Trainable variables require gradients.

    ``assign`` writes in place, so optimisers and ``set_weights`` never break the
    identity that layers, models and optimiser state hold on to.
    """

    # Keras's variable options, as class defaults so a plain variable costs nothing more
    aggregation = "none"        # how replicas combine it: "none", "mean", "sum", "only_first_replica"
    synchronization = "auto"    # when replicas sync it: "none", "on_read", "on_write", "auto"
    _autocast = True            # seen in a layer's compute dtype under mixed precision
    _overwrite_with_gradient = False
    _overwrite_flags_set = 0    # how many times a variable was marked overwrite_with_gradient
    _regularizer = None
    _path = None
    # ``initializers.get``, set by ``deepgrad.initializers`` when it loads (a higher floor), so
    # ``Variable("zeros", shape=...)`` resolves an initializer's name without importing it here
    _get_initializer = None

    def __init__(self, initializer=None, shape=None, dtype=None, trainable: bool = True, autocast: bool = True,
                 aggregation="none", synchronization="auto", name: str | None = None, layout=None, *,
                 value=None, **kwargs):
        """``Variable(initializer, shape=None, dtype=None, trainable=True, ...)`` as Keras's: an
        array-like value (its shape), or an initializer (a name or a callable) with ``shape``."""
        if kwargs:
            raise TypeError(f"Variable: unexpected keyword argument(s) {sorted(kwargs)}")
        if value is not None:
            if initializer is not None:
                raise ValueError("Variable: pass the initial value as `initializer` or `value`, not both")
            initializer = value
        if initializer is None:
            raise ValueError("Variable: an initial value or an initializer is required (got initializer=None)")
        if isinstance(initializer, str):
            if Variable._get_initializer is None:
                raise ValueError(f"Variable: the initializer {initializer!r} is named before deepgrad.initializers "
                                 "is loaded; import deepgrad.initializers or pass the initializer object")
            initializer = Variable._get_initializer(initializer)
        if callable(initializer) and not isinstance(initializer, (Tensor, np.ndarray)):
            if shape is None:
                raise ValueError("When creating a Variable from an initializer, the `shape` argument should be "
                                 f"specified. Received: initializer={initializer} and shape={shape}")
            shape = tuple(int(s) for s in shape)
            initializer = np.asarray(initializer(shape, dtype=dtype))
        elif shape is not None and tuple(np.shape(initializer.data if isinstance(initializer, Tensor)
                                                  else initializer)) != tuple(shape):
            raise ValueError(f"Variable {name!r}: the initial value has shape "
                             f"{np.shape(getattr(initializer, 'data', initializer))}, not the shape {tuple(shape)}")
        super().__init__(initializer, dtype=dtype)
        # always a copy: in-place assignment must never write into the caller's array
        self.data = np.array(self.data, order="C")
        # Keras names an unnamed variable "variable", then "variable_1", ... per session
        self.name = name if name is not None else auto_name("variable")
        self._trainable = bool(trainable)
        self.requires_grad = self._trainable and self.data.dtype.kind == "f"
        if aggregation is None:
            aggregation = "none"
        if aggregation not in ("none", "mean", "sum", "only_first_replica"):
            raise ValueError("Invalid value for argument `aggregation`. Expected one of `None`, `'none'`, "
                             f"`'mean'`, `'sum'`, `'only_first_replica'`. Received: aggregation={aggregation}")
        if synchronization is None:
            synchronization = "none"
        if synchronization not in ("none", "on_read", "on_write", "auto"):
            raise ValueError("Invalid value for argument `synchronization`. Expected one of `None`, `'none'`, "
                             f"`'on_read'`, `'on_write'`, `'auto'`. Received: synchronization={synchronization}")
        if aggregation != "none":
            self.aggregation = aggregation
        if synchronization != "auto":
            self.synchronization = synchronization
        if not autocast:
            self._autocast = False
        # Keras's rule: the scopes open at creation, then the name
        self._path = "/".join(p for p in (current_path(), self.name) if p)

    @property
    def path(self) -> str:
        """Where the variable sits: the layers around its creation and its name
        (``"sequential/dense/kernel"``), as Keras's ``Variable.path``."""
        path = self._path
        return path if path is not None else (self.name or "variable")

    @property
    def overwrite_with_gradient(self) -> bool:
        """When True the optimizer replaces the value with the gradient instead of updating it."""
        return self._overwrite_with_gradient

    @overwrite_with_gradient.setter
    def overwrite_with_gradient(self, value) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"`overwrite_with_gradient` must be a boolean. Received: {value}")
        self._overwrite_with_gradient = value
        if value:  # optimisers look for such variables only once one has existed
            Variable._overwrite_flags_set += 1

    @property
    def regularizer(self):
        """The penalty ``add_weight(regularizer=...)`` attached (None when there is none)."""
        return self._regularizer

    @regularizer.setter
    def regularizer(self, value) -> None:
        if value is not None and not callable(value):
            raise ValueError(f"Invalid value for attribute `regularizer`. Expected an instance of "
                             f"`keras.regularizers.Regularizer`, or `None`. Received: regularizer={value}")
        self._regularizer = value

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        self.requires_grad = self._trainable and self.data.dtype.kind == "f"

    @property
    def value(self) -> Tensor:
        return self

    def assign(self, value) -> "Variable":
        value = np.asarray(value.data if isinstance(value, Tensor) else value)
        if value.shape != self.shape:
            raise ValueError(f"Variable {self.path!r}: cannot assign a value of shape {value.shape} "
                             f"to a variable of shape {self.shape}")
        scope = get_stateless_scope()
        if scope is not None:  # the block's writes are undone when it ends
            scope.note(self)
        note_write(self)
        self.data[...] = value
        return self

    def assign_add(self, delta) -> "Variable":
        return self._update(np.add, delta, "assign_add")

    def assign_sub(self, delta) -> "Variable":
        return self._update(np.subtract, delta, "assign_sub")

    def _update(self, ufunc, delta, where: str) -> "Variable":
        delta = np.asarray(delta.data if isinstance(delta, Tensor) else delta, self.dtype)
        scope = get_stateless_scope()
        if scope is not None:
            scope.note(self)
        note_write(self)
        try:
            ufunc(self.data, delta, out=self.data)
        except ValueError:
            raise ValueError(f"Variable {self.path!r}: {where} got a value of shape {delta.shape}, which "
                             f"does not broadcast to the variable's shape {self.shape}") from None
        return self

    def __repr__(self) -> str:
        # Keras's form: the path (names repeat across layers, paths do not), then the value
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, value={self.data}>"
