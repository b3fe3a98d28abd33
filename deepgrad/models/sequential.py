"""``Sequential``: a plain stack of layers, each taking the previous one's output.

Given an input shape (``layers.Input(shape=...)`` first, or ``input_shape=`` on the first
layer) the model is built as layers are added, so ``summary()`` works before any data and
an incompatible layer is rejected by ``add()`` with both shapes named. Otherwise it is built
on its first call, from the data's shape.
"""
from __future__ import annotations

from .. import backend
from ..layers.base import Layer
from ..layers.core import Input
from ..backend import current_path
from ..symbolic import KerasTensor
from .model import Model, deserialize_layer, serialize_layer
from .summary import SummaryRow


class Sequential(Model, config_names=("Sequential",)):
    def __init__(self, layers=None, trainable: bool = True, name: str | None = None):
        super().__init__(trainable=trainable, name=name)
        self._layer_outputs: list[KerasTensor] = []  # each layer's symbolic output, once built
        for layer in layers or []:
            self.add(layer)

    # ----------------------------------------------------------------- adding and removing
    def add(self, layer) -> None:
        """Append ``layer`` (or set the input with ``layers.Input(shape=...)`` as the first item)."""
        if isinstance(layer, KerasTensor) or type(layer).__name__ == "InputLayer":
            if self._layers:
                raise ValueError(f"Sequential {self.name!r}: an Input can only be the first item, "
                                 f"but the model already has layers {[lay.name for lay in self._layers]}")
            tensor = layer if isinstance(layer, KerasTensor) else layer.output
            self._set_input(tensor)
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential {self.name!r}: only layers can be added, got {layer!r} "
                            f"of type {type(layer).__name__}")
        if self._inputs is None and not self._layers and layer._input_shape_arg is not None:
            self._set_input(Input(shape=tuple(layer._input_shape_arg), dtype=self._first_input_dtype(layer)))
        self._layers.append(layer)
        if self._inputs is not None:
            self._call_symbolic(layer)
        elif len(self._layers) > 1:
            self._build_from_first_model()

    def _build_from_first_model(self) -> None:
        """Keras's rule: a stack whose first layer is a model with one known input (a functional
        backbone, a built Sequential) is built from that input's shape once a second layer comes."""
        first = self._layers[0]
        inputs = getattr(first, "_inputs", None) if isinstance(first, Model) else None
        if not inputs or len(inputs) != 1:
            return
        known = inputs[0]
        self._set_input(Input(batch_shape=tuple(known.shape), dtype=known.dtype))

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise TypeError(f"Sequential {self.name!r} has no layers to pop")
        layer = self._layers.pop()
        if self._layer_outputs:
            self._layer_outputs.pop()
            self._outputs = [self._layer_outputs[-1] if self._layer_outputs else self._inputs[0]]
        return layer

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    @layers.setter
    def layers(self, _):
        raise AttributeError("`Sequential.layers` attribute is reserved and should not be used. Use `add()` and "
                             "`pop()` to change the layers in this model.")

    # ----------------------------------------------------------------- the graph, once the input is known
    def _graph_attribute(self, value, what: str):
        if value is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined {what} yet.")
        return value

    @property
    def inputs(self):
        return self._graph_attribute(self._inputs, "inputs")

    @property
    def outputs(self):
        return self._graph_attribute(self._outputs, "outputs")

    @property
    def input(self):
        """The one input KerasTensor (tf.keras's ``model.input``; Keras 3 raises until the model is called)."""
        return self._graph_attribute(self._inputs, "input")[0]

    @property
    def output(self):
        return self._graph_attribute(self._outputs, "output")[0]

    @property
    def input_names(self):
        return [t.name for t in self._graph_attribute(self._inputs, "inputs")]

    @property
    def output_names(self):
        return [t.layer.name if t.layer is not None else t.name for t in self._graph_attribute(self._outputs, "outputs")]

    @staticmethod
    def _first_input_dtype(layer):
        return "int32" if type(layer).__name__ == "Embedding" else backend.floatx()

    def _set_input(self, tensor: KerasTensor) -> None:
        self._inputs = [tensor]
        self._outputs = [tensor]
        self.built = True
        self.input_shape_built = tensor.shape
        self._layer_outputs = []
        for layer in self._layers:
            self._call_symbolic(layer)

    def _call_symbolic(self, layer: Layer) -> None:
        x = self._outputs[0]
        try:
            with self._open_name_scope():  # its variables sit under the model: "sequential/dense/kernel"
                self.__dict__["_path"] = current_path()
                out = layer(x)
        except Exception as e:
            raise ValueError(f"Sequential {self.name!r}: layer {layer.name!r} ({type(layer).__name__}) cannot take "
                             f"the output of the previous layer, of shape {x.shape}: {e}") from e
        if not isinstance(out, KerasTensor):
            raise ValueError(f"Sequential {self.name!r}: layer {layer.name!r} returns several outputs; "
                             "Sequential models need one output per layer (use the functional API)")
        self._layer_outputs.append(out)
        self._outputs = [out]

    # ----------------------------------------------------------------- building and calling
    def _maybe_build(self, input_shape) -> None:
        if self._inputs is None and self._layers:
            if isinstance(input_shape, list):
                raise ValueError(f"Sequential {self.name!r} takes one input, got {len(input_shape)}")
            self._set_input(Input(shape=tuple(input_shape[1:]), dtype=self._first_input_dtype(self._layers[0])))
        self.built = True

    def build(self, input_shape=None) -> None:
        if input_shape is None:
            if self._inputs is None:
                raise ValueError(f"Sequential {self.name!r}: build() needs an input shape")
            return
        self._maybe_build(tuple(input_shape))

    def call(self, inputs, training=None, mask=None):
        x = inputs
        if training is None:
            # as Keras: no mode given, each layer uses its own call's default (an augmentation
            # layer called directly is active, a Dropout is not)
            for layer in self._layers:
                x = layer(x)
            return x
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        self._maybe_build(input_shape)
        return self._outputs[0].shape

    def summary_rows(self) -> list[SummaryRow]:
        """One row per layer with its output shape ("?" until the model is built)."""
        outs = self._layer_outputs
        return [SummaryRow(layer, outs[i].shape if i < len(outs) else None) for i, layer in enumerate(self._layers)]

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict:
        layers = [serialize_layer(layer) for layer in self._layers]
        if self._inputs is not None:
            t = self._inputs[0]
            layers.insert(0, {"class_name": "InputLayer", "config": {"batch_shape": list(t.shape),
                                                                     "dtype": str(t.dtype), "name": t.name}})
        return {"name": self.name, "trainable": self.trainable, "layers": layers}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> "Sequential":
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config["layers"]:
            if entry["class_name"] == "InputLayer":
                c = entry["config"]
                model.add(Input(batch_shape=tuple(c["batch_shape"]), dtype=c.get("dtype"), name=c.get("name")))
            else:
                model.add(deserialize_layer(entry, custom_objects))
        return model
