"""``Sequential``: a plain stack of layers, each taking the previous one's output.

Given an input shape (``layers.Input(shape=...)`` first, or ``input_shape=`` on the first
layer) the model is built as layers are added, so ``summary()`` works before any data and
an incompatible layer is rejected by ``add()`` with both shapes named. Otherwise it is built
on its first call, from the data's shape.
"""
from __future__ import annotations

from .. import backend
from ..layers.base import Layer
from ..symbolic import KerasTensor
from .model import Model, deserialize_layer, serialize_layer
from .summary import SummaryRow


def _input_from_layer(layer) -> KerasTensor:
    """The KerasTensor of an ``InputLayer`` passed in the layer list."""
    t = KerasTensor(tuple(layer.batch_shape), layer.dtype, name=layer.name)
    t.input_layer = layer
    return t


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
            tensor = layer if isinstance(layer, KerasTensor) else _input_from_layer(layer)
            self._set_input(tensor)
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential {self.name!r}: only layers can be added, got {layer!r} "
                            f"of type {type(layer).__name__}")
        if self.inputs is None and not self._layers and layer._input_shape_arg is not None:
            self._set_input(KerasTensor((None,) + tuple(layer._input_shape_arg), self._first_input_dtype(layer),
                                        name="input_layer"))
        self._layers.append(layer)
        if self.inputs is not None:
            self._call_symbolic(layer)

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise TypeError(f"Sequential {self.name!r} has no layers to pop")
        layer = self._layers.pop()
        if self._layer_outputs:
            self._layer_outputs.pop()
            self.outputs = [self._layer_outputs[-1] if self._layer_outputs else self.inputs[0]]
        return layer

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    @staticmethod
    def _first_input_dtype(layer):
        return "int32" if type(layer).__name__ == "Embedding" else backend.floatx()

    def _set_input(self, tensor: KerasTensor) -> None:
        self.inputs = [tensor]
        self.outputs = [tensor]
        self.input_names = [tensor.name or "input_layer"]
        self.built = True
        self.input_shape_built = tensor.shape
        self._layer_outputs = []
        for layer in self._layers:
            self._call_symbolic(layer)

    def _call_symbolic(self, layer: Layer) -> None:
        x = self.outputs[0]
        try:
            out = layer(x)
        except Exception as e:
            raise ValueError(f"Sequential {self.name!r}: layer {layer.name!r} ({type(layer).__name__}) cannot take "
                             f"the output of the previous layer, of shape {x.shape}: {e}") from e
        if not isinstance(out, KerasTensor):
            raise ValueError(f"Sequential {self.name!r}: layer {layer.name!r} returns several outputs; "
                             "Sequential models need one output per layer (use the functional API)")
        self._layer_outputs.append(out)
        self.outputs = [out]

    # ----------------------------------------------------------------- building and calling
    def _maybe_build(self, input_shape) -> None:
        if self.inputs is None and self._layers:
            if isinstance(input_shape, list):
                raise ValueError(f"Sequential {self.name!r} takes one input, got {len(input_shape)}")
            self._set_input(KerasTensor((None,) + tuple(input_shape[1:]),
                                        self._first_input_dtype(self._layers[0]), name="input_layer"))
        self.built = True

    def build(self, input_shape=None) -> None:
        if input_shape is None:
            if self.inputs is None:
                raise ValueError(f"Sequential {self.name!r}: build() needs an input shape")
            return
        self._maybe_build(tuple(input_shape))

    def call(self, inputs, training=None, mask=None):
        x = inputs
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        self._maybe_build(input_shape)
        return self.outputs[0].shape

    def summary_rows(self) -> list[SummaryRow]:
        """One row per layer with its output shape ("?" until the model is built)."""
        outs = self._layer_outputs
        return [SummaryRow(layer, outs[i].shape if i < len(outs) else None) for i, layer in enumerate(self._layers)]

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict:
        layers = [serialize_layer(layer) for layer in self._layers]
        if self.inputs is not None:
            t = self.inputs[0]
            layers.insert(0, {"class_name": "InputLayer", "config": {"batch_shape": list(t.shape),
                                                                     "dtype": str(t.dtype), "name": t.name}})
        return {"name": self.name, "trainable": self.trainable, "layers": layers}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> "Sequential":
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config["layers"]:
            if entry["class_name"] == "InputLayer":
                c = entry["config"]
                model.add(KerasTensor(tuple(c["batch_shape"]), c.get("dtype"), name=c.get("name")))
            else:
                model.add(deserialize_layer(entry, custom_objects))
        return model
