"""``FeatureSpace``: one object that turns a dict of raw columns (numbers, integer codes,
strings) into the array a model trains on, with Keras's feature types and encodings.

Each feature has a preprocessor layer (``Normalization``, ``Rescaling``, ``Discretization``,
``IntegerLookup``, ``StringLookup``, ``Hashing``) that ``adapt`` fits to the data; features
with ``output_mode="one_hot"`` are then multi-hot encoded (``CategoryEncoding``) to their
preprocessor's number of values; ``crosses`` hash pairs of features together
(``HashedCrossing``). The result is every feature (sorted by name, then the crosses sorted by
name) concatenated into one float32 array (``output_mode="concat"``) or a dict.

Keras runs the preprocessing in TensorFlow; here it runs eagerly on NumPy arrays.
``get_encoded_features()`` gives the encoding as a graph from the raw inputs (``get_inputs()``),
as Keras does: a model from it to the predictions trains on ``feature_space(data)``, and a model
from ``get_inputs()`` to the same predictions takes raw data.
"""
from __future__ import annotations

import numpy as np

from .. import layers
from ..autograd import Tensor
from ..saving.object_registration import register_keras_serializable
from ..saving.serialization import deserialize_keras_object, serialize_keras_object

_count: dict[str, int] = {}


def _auto_name(prefix: str) -> str:
    n = _count.get(prefix, 0)
    _count[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


def _numpy(x) -> np.ndarray:
    return np.asarray(x.data) if isinstance(x, Tensor) else np.asarray(x)


class Identity(layers.Layer):
    """The preprocessor of a plain "float" feature: the values as float32."""

    def call(self, inputs):
        return inputs  # the layer's float32 dtype casts the values on the way in

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@register_keras_serializable(package="keras.utils")  # found again when a saved FeatureSpace loads
class Cross:
    """Features hashed together into ``crossing_dim`` bins (``HashedCrossing``)."""

    def __init__(self, feature_names, crossing_dim, output_mode="one_hot"):
        if output_mode not in ("int", "one_hot"):
            raise ValueError(f"Cross: output_mode must be 'int' or 'one_hot', got {output_mode!r}")
        self.feature_names = tuple(feature_names)
        self.crossing_dim = crossing_dim
        self.output_mode = output_mode

    @property
    def name(self) -> str:
        return "_X_".join(self.feature_names)

    def get_config(self) -> dict:
        return {"feature_names": self.feature_names, "crossing_dim": self.crossing_dim,
                "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@register_keras_serializable(package="keras.utils")  # found again when a saved FeatureSpace loads
class Feature:
    """A column's dtype, its preprocessor layer and how it is encoded ("int", "one_hot", "float")."""

    def __init__(self, dtype, preprocessor, output_mode):
        if output_mode not in ("int", "one_hot", "float"):
            raise ValueError(f"Feature: output_mode must be 'int', 'one_hot' or 'float', got {output_mode!r}")
        self.dtype = dtype
        if isinstance(preprocessor, dict):
            preprocessor = deserialize_keras_object(preprocessor)
        self.preprocessor = preprocessor
        self.output_mode = output_mode

    def get_config(self) -> dict:
        return {"dtype": self.dtype, "preprocessor": serialize_keras_object(self.preprocessor),
                "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _tensor(value):
    """An encoded feature as a Tensor of its dtype (text, which a Tensor cannot hold, stays an array)."""
    a = np.asarray(value)
    return a if a.dtype.kind in "OUS" else Tensor(a, dtype=a.dtype)


def _rows(value) -> np.ndarray:
    """A batch's column as rows of a 2-D array (a single value as one row)."""
    a = np.asarray(value.data if isinstance(value, Tensor) else value)
    return a.reshape(1, -1) if a.ndim == 0 else a.reshape(len(a), -1)


@register_keras_serializable(package="keras.utils")  # found again when a saved FeatureSpace loads
class FeatureSpace(layers.Layer):
    """``FeatureSpace(features={"age": "float_normalized", "city": "string_categorical"},
    crosses=[("age_bucket", "city")], output_mode="concat")``; ``adapt(data)`` then
    ``feature_space(data)``. The string feature types are those of Keras: "float",
    "float_rescaled", "float_normalized", "float_discretized", "integer_categorical",
    "integer_hashed", "string_categorical", "string_hashed"; ``FeatureSpace.<type>(...)``
    makes one with other settings."""

    # ----------------------------------------------------------------- feature types
    @classmethod
    def cross(cls, feature_names, crossing_dim, output_mode="one_hot"):
        return Cross(feature_names, crossing_dim, output_mode=output_mode)

    @classmethod
    def feature(cls, dtype, preprocessor, output_mode):
        return Feature(dtype, preprocessor, output_mode)

    @classmethod
    def float(cls, name=None):
        name = name or _auto_name("float")
        return Feature("float32", Identity(name=f"{name}_preprocessor"), "float")

    @classmethod
    def float_rescaled(cls, scale=1.0, offset=0.0, name=None):
        name = name or _auto_name("float_rescaled")
        return Feature("float32", layers.Rescaling(scale=scale, offset=offset, name=f"{name}_preprocessor"), "float")

    @classmethod
    def float_normalized(cls, name=None):
        name = name or _auto_name("float_normalized")
        return Feature("float32", layers.Normalization(axis=-1, name=f"{name}_preprocessor"), "float")

    @classmethod
    def float_discretized(cls, num_bins, bin_boundaries=None, output_mode="one_hot", name=None):
        name = name or _auto_name("float_discretized")
        preprocessor = layers.Discretization(num_bins=num_bins, bin_boundaries=bin_boundaries,
                                             name=f"{name}_preprocessor")
        return Feature("float32", preprocessor, output_mode)

    @classmethod
    def integer_categorical(cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot", name=None):
        name = name or _auto_name("integer_categorical")
        preprocessor = layers.IntegerLookup(name=f"{name}_preprocessor", max_tokens=max_tokens,
                                            num_oov_indices=num_oov_indices)
        return Feature("int32", preprocessor, output_mode)

    @classmethod
    def string_categorical(cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot", name=None):
        name = name or _auto_name("string_categorical")
        preprocessor = layers.StringLookup(name=f"{name}_preprocessor", max_tokens=max_tokens,
                                           num_oov_indices=num_oov_indices)
        return Feature("string", preprocessor, output_mode)

    @classmethod
    def string_hashed(cls, num_bins, output_mode="one_hot", name=None):
        name = name or _auto_name("string_hashed")
        return Feature("string", layers.Hashing(name=f"{name}_preprocessor", num_bins=num_bins), output_mode)

    @classmethod
    def integer_hashed(cls, num_bins, output_mode="one_hot", name=None):
        name = name or _auto_name("integer_hashed")
        return Feature("int32", layers.Hashing(name=f"{name}_preprocessor", num_bins=num_bins), output_mode)

    # ----------------------------------------------------------------- construction
    def __init__(self, features, output_mode="concat", crosses=None, crossing_dim=32, hashing_dim=32,
                 num_discretization_bins=32, name=None):
        super().__init__(name=name)
        if not features:
            raise ValueError("FeatureSpace: the features argument cannot be None or empty")
        if output_mode not in ("dict", "concat"):
            raise ValueError(f"FeatureSpace: output_mode must be 'dict' or 'concat', got {output_mode!r}")
        self.crossing_dim, self.hashing_dim = crossing_dim, hashing_dim
        self.num_discretization_bins = num_discretization_bins
        self.features = {key: self._standardize_feature(key, value) for key, value in features.items()}
        self.crosses = []
        for cross in crosses or ():
            if isinstance(cross, dict):
                cross = Cross.from_config(cross.get("config", cross))
            if not isinstance(cross, Cross):
                if not crossing_dim:
                    raise ValueError("FeatureSpace: crosses need crossing_dim (the size of the crossing space)")
                unknown = [key for key in cross if key not in self.features]
                if unknown:
                    raise ValueError(f"FeatureSpace: the cross {tuple(cross)} names unknown features {unknown}")
                cross = Cross(cross, crossing_dim=crossing_dim)
            self.crosses.append(cross)
        self.crosses_by_name = {cross.name: cross for cross in self.crosses}
        self.output_mode = output_mode
        self.preprocessors = {key: feature.preprocessor for key, feature in self.features.items()}
        self._preset_boundaries = {key for key, p in self.preprocessors.items()
                                   if isinstance(p, layers.Discretization) and p.bin_boundaries is not None}
        self.crossers = {cross.name: layers.HashedCrossing(cross.crossing_dim, name=cross.name)
                         for cross in self.crosses}
        self.one_hot_encoders: dict = {}
        self._is_adapted = False
        self._inputs = None
        self.encoded_features = None

    def _standardize_feature(self, name, feature) -> Feature:
        if isinstance(feature, Feature):
            return feature
        if isinstance(feature, dict):
            return Feature.from_config(feature.get("config", feature))
        makers = {"float": lambda: self.float(name=name), "float_normalized": lambda: self.float_normalized(name=name),
                  "float_rescaled": lambda: self.float_rescaled(name=name),
                  "float_discretized": lambda: self.float_discretized(self.num_discretization_bins, name=name),
                  "integer_categorical": lambda: self.integer_categorical(name=name),
                  "string_categorical": lambda: self.string_categorical(name=name),
                  "integer_hashed": lambda: self.integer_hashed(self.hashing_dim, name=name),
                  "string_hashed": lambda: self.string_hashed(self.hashing_dim, name=name)}
        if feature not in makers:
            raise ValueError(f"FeatureSpace: invalid feature type {feature!r} for {name!r}; expected one of "
                             f"{sorted(makers)} or a FeatureSpace.feature(...)")
        return makers[feature]()

    # ----------------------------------------------------------------- adapting
    def _adaptable(self) -> list:
        names = []
        for key, preprocessor in self.preprocessors.items():
            preset_mean = getattr(preprocessor, "input_mean", None) is not None
            if isinstance(preprocessor, layers.Normalization) and preset_mean:
                continue  # a Normalization given its mean and variance
            if key in self._preset_boundaries:
                continue  # a Discretization given its bin boundaries
            if hasattr(preprocessor, "adapt"):
                names.append(key)
        return names

    @staticmethod
    def _columns(data) -> dict:
        """A dict of whole columns from a dict of arrays or an iterable of dict batches."""
        if isinstance(data, dict):
            return {key: np.asarray(value) for key, value in data.items()}
        batches = [batch[0] if isinstance(batch, tuple) else batch for batch in data]
        if not batches or not all(isinstance(b, dict) for b in batches):
            raise ValueError("FeatureSpace.adapt: expected a dict of arrays or lists, or batches of such dicts; "
                             f"got {type(data).__name__}")
        # a dataset of single examples (rank-0 values, not batched) gives one row per element, as
        # Keras batches such a dataset before adapting
        return {key: np.concatenate([_rows(b[key]) for b in batches]) for key in batches[0]}

    def adapt(self, dataset) -> None:
        """Fit every preprocessor that learns from data (lookups, normalization, discretization)."""
        columns = self._columns(dataset)
        for key in self._adaptable():
            if key not in columns:
                raise ValueError(f"FeatureSpace.adapt: the data has no column {key!r} (has {sorted(columns)})")
            values = columns[key]
            self.preprocessors[key].adapt(values.reshape(-1, 1) if values.ndim <= 1 else values)
        self._is_adapted = True
        self._build_encoders()

    def _check_if_adapted(self) -> None:
        if not self._is_adapted:
            if self._adaptable():
                raise ValueError("You need to call .adapt(dataset) on the FeatureSpace before you can start using it.")
            self._is_adapted = True
            self._build_encoders()
        elif not self.one_hot_encoders:  # loaded from a file: the vocabularies are back, the encoders follow
            self._build_encoders()

    # ----------------------------------------------------------------- encoding
    def _cardinality(self, key, preprocessor) -> int:
        if isinstance(preprocessor, (layers.IntegerLookup, layers.StringLookup)):
            return int(preprocessor.vocabulary_size())
        if isinstance(preprocessor, layers.CategoryEncoding):
            return int(preprocessor.num_tokens)
        if isinstance(preprocessor, (layers.Discretization, layers.Hashing, layers.HashedCrossing)):
            return int(preprocessor.num_bins)
        raise ValueError(f"Feature {key!r} has output_mode='one_hot', but the number of values its preprocessor "
                         f"gives is not known, so it cannot be one-hot encoded; use output_mode='int'")

    def _names(self) -> list:
        return sorted(self.features) + sorted(self.crosses_by_name)

    def _spec(self, key):
        return self.features.get(key) or self.crosses_by_name[key]

    def _build_encoders(self) -> None:
        for key in self._names():
            spec = self._spec(key)
            if spec.output_mode == "one_hot" and key not in self.one_hot_encoders:
                preprocessor = self.preprocessors.get(key) or self.crossers.get(key)
                self.one_hot_encoders[key] = layers.CategoryEncoding(
                    num_tokens=self._cardinality(key, preprocessor), output_mode="multi_hot")
            elif self.output_mode == "concat" and spec.output_mode == "int":
                raise ValueError(f"Cannot concatenate features because feature {key!r} has not been encoded "
                                 "(output_mode='int'). Consider using output_mode='dict'.")

    def _encode(self, data: dict) -> dict:
        preprocessed = {key: _numpy(self.preprocessors[key](data[key])) for key in self.features}
        out = {}
        for cross in self.crosses:
            out[cross.name] = _numpy(self.crossers[cross.name]([preprocessed[k] for k in cross.feature_names]))
        out.update(preprocessed)
        for key, encoder in self.one_hot_encoders.items():
            values = out[key]
            if values.dtype.kind not in "iu":
                raise ValueError(f"Feature {key!r} has output_mode='one_hot', so its preprocessor should give "
                                 f"integers; it gives {values.dtype}")
            out[key] = _numpy(encoder(values))
        return {key: out[key] for key in self._names()}

    def __call__(self, data):
        """The encoded features of ``data`` (a dict of columns, or of single values)."""
        self._check_if_adapted()
        if not isinstance(data, dict):
            raise ValueError(f"A FeatureSpace can only be called with a dict; got {type(data).__name__}")
        missing = [key for key in self.features if key not in data]
        if missing:
            raise ValueError(f"FeatureSpace: the data lacks the features {missing}")
        rebatched = False
        columns = {}
        for key in self.features:
            value = data[key]
            value = np.asarray(value.data if isinstance(value, Tensor) else value)
            if value.ndim == 0:
                value, rebatched = value.reshape(1, 1), True
            elif value.ndim == 1:
                value = value[:, None]
            columns[key] = value
        encoded = self._encode(columns)
        # tensors of the values' dtypes, as Keras converts its results to backend tensors outside a TF graph
        if self.output_mode == "concat":
            merged = np.concatenate([np.asarray(v, dtype="float32").reshape(len(v), -1) for v in encoded.values()],
                                    axis=-1)
            return _tensor(merged[0] if rebatched else merged)
        if rebatched:
            encoded = {k: v[0] if v.ndim == 2 and v.shape[0] == 1 else v for k, v in encoded.items()}
        return {k: _tensor(v) for k, v in encoded.items()}

    # ----------------------------------------------------------------- symbolic views
    def get_inputs(self) -> dict:
        """One symbolic ``Input`` of shape (1,) per raw feature, in its dtype."""
        self._check_if_adapted()
        if self._inputs is None:
            self._inputs = {key: layers.Input(shape=(1,), dtype=feature.dtype, name=key)
                            for key, feature in self.features.items()}
        return self._inputs

    def get_encoded_features(self):
        """The encoded features as a graph from ``get_inputs()``: the preprocessors, crossers and
        one-hot encoders called on the raw inputs, then concatenated ("concat", one tensor) or
        one tensor per feature ("dict"), in the order of ``self(data)``."""
        self._check_if_adapted()
        if self.encoded_features is None:
            inputs = self.get_inputs()
            preprocessed = {key: self.preprocessors[key](inputs[key]) for key in self.features}
            features = dict(preprocessed)
            for cross in self.crosses:
                features[cross.name] = self.crossers[cross.name]([preprocessed[k] for k in cross.feature_names])
            for key, encoder in self.one_hot_encoders.items():
                features[key] = encoder(features[key])
            ordered = [features[key] for key in self._names()]
            if self.output_mode == "concat":
                self.encoded_features = ordered[0] if len(ordered) == 1 else layers.Concatenate(axis=-1)(ordered)
            else:
                self.encoded_features = dict(zip(self._names(), ordered))
        return self.encoded_features

    # ----------------------------------------------------------------- config
    def get_build_config(self) -> dict:
        """Each feature's preprocessor's build config, as Keras saves a FeatureSpace."""
        return {name: self.preprocessors[name].get_build_config() for name in self.features}

    def build_from_config(self, config) -> None:
        """Build the preprocessors saved built (their state is loaded next) and count the space
        as adapted, as Keras does when it loads one."""
        for name, build in (config or {}).items():
            preprocessor = self.preprocessors.get(name)
            if preprocessor is not None and not preprocessor.built:
                preprocessor.build_from_config(build)
        self._is_adapted = True
        self.built = True

    def save(self, filepath) -> None:
        """The FeatureSpace (configuration, adapted state) as a ``.keras`` file; reload it with
        ``keras.saving.load_model``."""
        from ..saving import save_model
        save_model(self, filepath)

    def get_config(self) -> dict:
        return {"features": {k: {"class_name": "Feature", "config": f.get_config()} for k, f in self.features.items()},
                "output_mode": self.output_mode,
                "crosses": [{"class_name": "Cross", "config": c.get_config()} for c in self.crosses],
                "crossing_dim": self.crossing_dim, "hashing_dim": self.hashing_dim,
                "num_discretization_bins": self.num_discretization_bins}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


__all__ = ["Cross", "Feature", "FeatureSpace"]
