"""A model's Keras 3 surface beyond training itself: the execution settings ``compile`` records,
the step functions, the loss on given variable values, and the state tree of every variable.

Keras compiles its steps (XLA, ``torch.compile``); deepgrad runs every step eagerly, so
``run_eagerly`` and ``jit_compile`` only report what was asked, and ``train_function`` is the
step itself: ``model.train_function([batch])`` runs ``train_step(batch)`` as Keras's PyTorch
backend does.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Tensor, no_grad
from ..layers.layer_state import _values, route_gradients, swapped_values


def _nested(variables, value_format: str) -> dict:
    """``{"a": {"b": value}}`` from variables at paths ``"a/b"`` (Keras's state-tree layout)."""
    if value_format not in ("backend_tensor", "numpy_array"):
        raise ValueError("Invalid `value_format` argument. Expected one of {'numpy_array', 'backend_tensor'}. "
                         f"Received: value_format={value_format}")
    tree: dict = {}
    seen = set()
    for v in variables:
        if v.path in seen:
            raise ValueError(f"The following variable path is found twice in the model: '{v.path}'. "
                             "`get_state_tree()` can only be called when all variable paths are unique. Make sure "
                             "to give unique names to your layers (and other objects).")
        seen.add(v.path)
        node = tree
        *parents, leaf = v.path.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = v.data.copy() if value_format == "numpy_array" else Tensor(v.data.copy(), dtype=v.dtype)
    return tree


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = value
    return out


class ModelState:
    """Keras's execution settings, step functions and state tree (mixed into ``Model``)."""

    steps_per_execution = 1
    train_function = None
    test_function = None
    predict_function = None
    _run_eagerly = False
    _jit_compile = None

    @property
    def run_eagerly(self) -> bool:
        """Whether ``compile(run_eagerly=...)`` asked for eager steps (every step is eager here)."""
        return self._run_eagerly

    @run_eagerly.setter
    def run_eagerly(self, value) -> None:
        self.__dict__["_run_eagerly"] = value

    @property
    def jit_compile(self) -> bool:
        """What ``compile(jit_compile=...)`` asked for; "auto" resolves to False, as on Keras's
        PyTorch backend (nothing is compiled here)."""
        value = self._jit_compile
        return False if value in (None, "auto") else value

    @jit_compile.setter
    def jit_compile(self, value) -> None:
        self.__dict__["_jit_compile"] = value

    def _record_execution(self, run_eagerly, steps_per_execution, jit_compile) -> None:
        """What ``compile`` sets: the options, and step functions to be made again."""
        d = self.__dict__
        d["_run_eagerly"] = bool(run_eagerly)
        d["_jit_compile"] = jit_compile
        d["steps_per_execution"] = steps_per_execution
        d["train_function"] = d["test_function"] = d["predict_function"] = None

    # ----------------------------------------------------------------- the step functions
    def make_train_function(self, force: bool = False):
        """``train_function(data)``: one ``train_step`` on ``data[0]`` (made once, unless ``force``)."""
        if self.train_function is not None and not force:
            return self.train_function

        def one_step_on_data(data):
            return self.train_step(data[0])

        self.__dict__["train_function"] = one_step_on_data
        return one_step_on_data

    def make_test_function(self, force: bool = False):
        """``test_function(data)``: one ``test_step`` on ``data[0]``, with no graph."""
        if self.test_function is not None and not force:
            return self.test_function

        def one_step_on_data(data):
            with no_grad():
                return self.test_step(data[0])

        self.__dict__["test_function"] = one_step_on_data
        return one_step_on_data

    def make_predict_function(self, force: bool = False):
        """``predict_function(data)``: one ``predict_step`` on ``data[0]``, with no graph."""
        if self.predict_function is not None and not force:
            return self.predict_function

        def one_step_on_data(data):
            with no_grad():
                return self.predict_step(data[0])

        self.__dict__["predict_function"] = one_step_on_data
        return one_step_on_data

    # ----------------------------------------------------------------- the loss on given values
    @property
    def metrics_variables(self) -> list:
        """The state variables of ``metrics`` (the loss tracker's ``loss/total``, ``loss/count``
        first, then each compiled and tracked metric's)."""
        return [v for m in self.metrics for v in getattr(m, "variables", [])]

    def stateless_compute_loss(self, trainable_variables, non_trainable_variables, metrics_variables, x=None,
                               y=None, y_pred=None, sample_weight=None, training=True):
        """``(loss, (trainable, non_trainable, metrics values))``: ``compute_loss`` with the
        variables holding the given values; the model is left as it was."""
        owner = type(self).__name__
        trainable, non_trainable = self.trainable_variables, self.non_trainable_variables
        arrays = (_values(trainable_variables, "trainable_variables", trainable, owner)
                  + _values(non_trainable_variables, "non_trainable_variables", non_trainable, owner))
        metrics_variables = list(metrics_variables)
        expected = len(self.metrics_variables)
        if len(metrics_variables) != expected:
            raise ValueError(f"Argument `metrics_variables` must be a list of tensors corresponding 1:1 to "
                             f"{owner}().metrics_variables. Received list with length {len(metrics_variables)}, "
                             f"but expected {expected} variables.")
        with swapped_values(trainable + non_trainable, arrays):
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
            route_gradients(loss, trainable, list(trainable_variables))
            new_non_trainable = [v.data.copy() for v in non_trainable]
        return loss, ([np.asarray(a).copy() for a in arrays[:len(trainable)]], new_non_trainable,
                      [np.asarray(v.data if isinstance(v, Tensor) else v).copy() for v in metrics_variables])

    # ----------------------------------------------------------------- the state tree
    def _optimizer_state_variables(self) -> list:
        optimizer = getattr(self, "optimizer", None)
        state = getattr(optimizer, "state_variables", None)
        return state() if state is not None else []

    def get_state_tree(self, value_format: str = "backend_tensor") -> dict:
        """Every variable's value nested by its path: ``{"trainable_variables": {"sequential":
        {"dense": {"kernel": ...}}}, "non_trainable_variables": ..., "optimizer_variables": ...,
        "metrics_variables": ...}``.

        As Keras's, it needs an optimizer: on a model not compiled yet it raises AttributeError
        (after the checks of the two weight trees, which come first)."""
        trainable = _nested(self.trainable_variables, value_format)
        non_trainable = _nested(self.non_trainable_variables, value_format)
        if getattr(self, "optimizer", None) is None:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute 'optimizer': "
                                 "get_state_tree() holds the optimizer's variables; call compile() first")
        return {"trainable_variables": trainable, "non_trainable_variables": non_trainable,
                "optimizer_variables": _nested(self._optimizer_state_variables(), value_format),
                "metrics_variables": _nested(self.metrics_variables, value_format)}

    def set_state_tree(self, state_tree: dict) -> None:
        """Assign the values of a ``get_state_tree()``-shaped dict, matched by path."""
        for kind, tree in state_tree.items():
            values = _flat(tree)
            if kind in ("trainable_variables", "non_trainable_variables"):
                for var in getattr(self, kind):
                    if var.path in values:
                        var.assign(values[var.path])
            elif kind == "optimizer_variables":
                state = self._optimizer_state_variables()
                if state:
                    arrays = [values.get(v.path, v.data) for v in state]
                    self.optimizer._set_state_arrays(arrays, "set_state_tree")
            elif kind == "metrics_variables":
                for metric in self.metrics:
                    own = getattr(metric, "variables", None)
                    if own and any(v.path in values for v in own):
                        metric._set_state_values([values.get(v.path, v.data) for v in own])
            else:
                raise ValueError(f"Unknown variable name: {kind}")

    def get_quantization_layer_structure(self, mode=None):
        """None: no layer structure is declared for quantization."""
        return None
