"""An optimiser's state as Keras 3 hands it out: its variables in Keras's order, the helpers a
Keras-style optimiser subclass builds its own state with, stores for saving, and
``stateless_apply``.

The state Keras lists as ``optimizer.variables`` is, in order: ``iteration``, ``learning_rate``
(when it is a number, not a schedule), each model variable's slots (``<variable path>_<slot>``,
variable by variable), the variables made with ``add_variable``, then the scalar globals
(Nadam's ``u_product``). Here ``state_variables()`` gives that list; the slot Variables share
their arrays with the optimiser, so assigning to one changes the optimiser's state.
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import initializers
from ..autograd import Function, Tensor, Variable


def _array(value) -> np.ndarray:
    return np.asarray(value.data if isinstance(value, Tensor) else value)


class _Updated(Function):
    """A variable's new value standing for the value given for it: the update itself is not
    differentiated (as Keras's torch optimizers update in place without recording), so the
    gradient of the new value is passed to the given one unchanged."""

    def forward(self, given, value=None):
        return value

    def backward(self, grad):
        return grad

    def graph_backward(self, grad):
        return grad


def _updated(array: np.ndarray, given) -> Tensor:
    """``array`` as a Tensor; tied to ``given`` by ``_Updated`` when ``given`` is a Tensor that
    needs a gradient (Keras's torch ``stateless_apply`` returns that tensor itself, updated)."""
    if isinstance(given, Tensor) and given.requires_grad and array.dtype.kind == "f":
        return _Updated.apply(given, value=array)
    return Tensor(array, dtype=array.dtype)


class OptimizerState:
    """Keras's state API of an optimiser (mixed into ``Optimizer``)."""

    keras_slot_names: dict = {}     # a slot's name in Keras where it differs ("m" -> "momentum")
    keras_slot_groups: tuple = ()   # slots Keras makes in separate calls, in turn (default: one call)

    # ----------------------------------------------------------------- variables of a Keras-style subclass
    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="none", layout=None, name=None):
        """A non-trainable state variable at ``"<optimizer>/<name>"``, saved with the optimiser."""
        var = Variable(initializers.get(initializer), shape=tuple(shape), dtype=dtype, trainable=False,
                       aggregation=aggregation, name=name)
        var._path = f"{self.name}/{var.name}"
        self.__dict__.setdefault("_added_variables", []).append(var)
        return var

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A variable shaped like ``reference_variable``, named ``"<its path with _>_<name>"``."""
        name = name or "var"
        reference = getattr(reference_variable, "path", None) or str(reference_variable.name)
        return self.add_variable(shape=reference_variable.shape, initializer=initializer,
                                 dtype=reference_variable.dtype,
                                 name=f"{reference.replace('/', '_').replace(':', '_')}_{name}")

    def add_optimizer_variables(self, trainable_variables, name, initializer="zeros"):
        """One variable per model variable (None for one that ``overwrite_with_gradient``); with
        several names, a tuple of such lists, one per name."""
        names = [name] if isinstance(name, str) else list(name)
        several = isinstance(initializer, (list, tuple))
        inits = list(initializer) if several else [initializer] * len(names)
        lists = tuple([] for _ in names)
        for var in trainable_variables:
            for made, n, init in zip(lists, names, inits):
                made.append(None if getattr(var, "overwrite_with_gradient", False)
                            else self.add_variable_from_reference(var, name=n, initializer=init))
        return lists[0] if isinstance(name, str) else lists

    def assign(self, variable, value) -> None:
        variable.assign(value)

    def assign_add(self, variable, value) -> None:
        variable.assign_add(value)

    def assign_sub(self, variable, value) -> None:
        variable.assign_sub(value)

    def _overwrite_with_gradients(self, grads: list, variables: list) -> tuple:
        """Variables marked ``overwrite_with_gradient`` take their gradient as their value and
        leave the update (no learning rate, clipping or decay), as in Keras."""
        if not any(getattr(v, "_overwrite_with_gradient", False) for v in variables):
            return grads, variables
        if self.gradient_accumulation_steps:
            raise NotImplementedError(f"{type(self).__name__}: overwrite_with_gradient variables are not supported "
                                      "with gradient_accumulation_steps")
        kept_grads, kept = [], []
        for g, v in zip(grads, variables):
            if getattr(v, "_overwrite_with_gradient", False):
                v.data[...] = g
            else:
                kept_grads.append(g)
                kept.append(v)
        return kept_grads, kept

    # ----------------------------------------------------------------- the state, in Keras's order
    def state_variables(self) -> list:
        """The optimiser's state as Variables, in the order of Keras's ``optimizer.variables``.
        ``iteration`` and ``learning_rate`` are the optimiser's own Variables, the slot and added
        variables Variables on its own arrays."""
        def made(value, name, dtype):
            var = Variable(np.asarray(value, dtype), trainable=False, name=name, dtype=dtype)
            var._path = f"{self.name}/{name}"
            return var

        out = [self.iterations]
        if self._has_number_rate():
            out.append(self._learning_rate_variable)
        out += [self._slot_variable(i, slot) for i, slot in self._keras_slot_order()]
        out += list(self.__dict__.get("_added_variables", ()))
        names = self.__dict__.get("_global_names", {})
        for name, value in self._globals.items():
            var = made(value, names.get(name, name), np.float32)
            if name in names:  # an unnamed Variable in Keras: its path is its automatic name alone
                var._path = names[name]
            out.append(var)
        return out

    def _slot_variable(self, i: int, slot: str) -> Variable:
        """Variable ``i``'s slot as a Variable on the same array, named as Keras names it."""
        var, array = self._variables[i], self._slots[i][slot]
        name = (f"{(getattr(var, 'path', None) or var.name or 'variable').replace('/', '_')}_"
                f"{self.keras_slot_names.get(slot, slot)}")
        view = Variable(np.zeros((), array.dtype), trainable=False, name=name)
        view.data = array  # the slot itself: assigning writes the optimiser's state
        view._path = f"{self.name}/{name}"
        return view

    def _keras_slot_order(self) -> list:
        """``(variable index, slot)`` as Keras orders them: the slots of one group (made by one
        ``add_optimizer_variables`` call) interleaved variable by variable, groups in turn."""
        slots = self._slots
        present = list(dict.fromkeys(name for s in slots for name in s))
        groups = self.keras_slot_groups or (tuple(present),)
        listed = [n for g in groups for n in g]
        groups = tuple(groups) + tuple((n,) for n in present if n not in listed)
        return [(i, n) for group in groups for i in range(len(slots)) for n in group if n in slots[i]]

    def _has_number_rate(self) -> bool:
        lr = self._learning_rate
        return not callable(lr)

    def _state_arrays(self) -> list:
        return [v.data.copy() for v in self.state_variables()]

    def _set_state_arrays(self, arrays: list, where: str) -> None:
        """Write ``arrays`` (``state_variables()``'s order) back, shapes checked first."""
        variables = self.state_variables()
        arrays = [_array(a) for a in arrays]
        if len(arrays) != len(variables):
            raise ValueError(f"{type(self).__name__}.{where}: got {len(arrays)} values for the optimizer's "
                             f"{len(variables)} variables")
        for var, array in zip(variables, arrays):
            if array.shape != var.shape:
                raise ValueError(f"Optimizer variable {var.path} has shape {var.shape} not compatible with "
                                 f"provided weight shape {array.shape}.")
        for var, array in zip(variables, arrays):
            var.data[...] = array
        self._set_iterations(int(arrays[0]))
        if self._has_number_rate():
            self._set_number_rate(float(arrays[1]))
        for name, array in zip(list(self._globals), arrays[len(arrays) - len(self._globals):]):
            self._globals[name] = float(array)

    def set_weights(self, weights) -> None:
        """Assign the state (``state_variables()``'s order) from a list of arrays."""
        if not self.built:
            raise ValueError("You are calling `set_weights()` on an optimizer that has not yet been built. Please "
                             "call `optimizer.build(trainable_variables)` to create the optimizer weights before "
                             "calling `set_weights()`.")
        self._set_state_arrays(list(weights), "set_weights")

    def save_own_variables(self, store) -> None:
        """``store["0"], store["1"], ...``: the state in Keras's order."""
        for i, array in enumerate(self._state_arrays()):
            store[str(i)] = array

    def load_own_variables(self, store) -> None:
        """Restore ``save_own_variables``'s store; a store of another size is skipped with a
        warning, as Keras does (e.g. the optimiser has not been built yet)."""
        expected = len(self.state_variables())
        if len(store.keys()) != expected:
            msg = (f"Skipping variable loading for optimizer '{self.name}', because it has {expected} variables "
                   f"whereas the saved optimizer has {len(store.keys())} variables. ")
            if not self.built:
                msg += "This is likely because the optimizer has not been called/built yet."
            warnings.warn(msg, stacklevel=2)
            return
        self._set_state_arrays([store[str(i)] for i in range(expected)], "load_own_variables")

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """``(new trainable values, new optimizer values)``, lists of Tensors, of one ``apply(grads)``
        from the given values; the optimiser and the model variables are left as they were, and so
        are the values given. As with Keras's torch backend, the update is not differentiated: a
        new value's gradient goes unchanged to the value given for it, when that is a Tensor that
        needs one, and none goes to ``grads``."""
        if not self.built:
            raise ValueError(f"To call `stateless_apply`, {type(self).__name__} must be built (i.e. its variables "
                             "must have been created). You can build it via `optimizer.build(trainable_variables)`.")
        expected = len(self.state_variables())
        if len(optimizer_variables) != expected:
            raise ValueError(f"Argument `optimizer_variables` must be a list of tensors corresponding 1:1 to "
                             f"{type(self).__name__}().variables. Received list with length "
                             f"{len(optimizer_variables)}, but expected {expected} variables.")
        model_variables = list(self._variables)
        if len(trainable_variables) != len(model_variables):
            raise ValueError("Argument `optimizer_variables` must be a list of tensors corresponding 1:1 to the "
                             "trainable variables list that the optimizer was built with. Received "
                             f"len(trainable_variables) == {len(trainable_variables)} whereas the optimizer was "
                             f"built with {len(model_variables)} variables.")
        saved_state = self._state_arrays()
        saved_model = [v.data.copy() for v in model_variables]
        try:
            self._set_state_arrays(list(optimizer_variables), "stateless_apply")
            for var, value in zip(model_variables, trainable_variables):
                var.assign(_array(value))
            self.apply(grads, model_variables)
            new_model = [_updated(v.data.copy(), given) for v, given in zip(model_variables, trainable_variables)]
            new_state = [_updated(a, given) for a, given in zip(self._state_arrays(), optimizer_variables)]
            return new_model, new_state
        finally:
            self._set_state_arrays(saved_state, "stateless_apply")
            for var, value in zip(model_variables, saved_model):
                var.data[...] = value
