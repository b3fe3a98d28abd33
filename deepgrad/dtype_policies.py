"""Floor 1: dtype policies, Keras 3's ``keras.dtype_policies``: the dtype a layer computes in
and the dtype it keeps its variables in.

``DTypePolicy("float32")`` (or "float16", "float64") computes and stores in one dtype;
``"mixed_float16"`` computes in float16 and keeps float32 variables (the float32 master
weights of mixed-precision training: the optimiser updates them in float32, and layers cast
them to float16 for their math). ``set_dtype_policy`` sets the default of every layer made
afterwards.

bfloat16 is not a NumPy dtype. The policies "bfloat16" and "mixed_bfloat16" exist and keep
Keras's names (``compute_dtype`` is ``"bfloat16"``), but their arrays are float32: a
bfloat16 emulated in NumPy would be slower than float32 and no more accurate, so computing
in float32 is the sensible choice; ``numpy_compute_dtype`` and ``numpy_variable_dtype`` say
which dtype the arrays really have.

Quantized policies ("int8_from_float32", "int4_from_float32", "float8_from_float32",
"gptq/4/128_from_float32", "awq/4/128_from_float32") exist with Keras's names and configs;
a layer refuses them with a NotImplementedError naming the mode.
"""
from __future__ import annotations

import re
from collections.abc import MutableMapping

import numpy as np

from . import backend

QUANTIZATION_MODES = ("int8", "float8", "int4", "gptq", "awq")
_FLOAT_NAMES = {"float16": "float16", "half": "float16", "float32": "float32", "float": "float32",
                "float64": "float64", "double": "float64", "bfloat16": "bfloat16"}
_global_policy = None


def _standard_float(name) -> str:
    """A dtype's standard name ("float32", "int64", "bool", "bfloat16"...); floats have Keras's aliases."""
    if isinstance(name, np.dtype) or (isinstance(name, type) and issubclass(name, np.generic)):
        name = np.dtype(name).name
    key = str(name)
    if key in _FLOAT_NAMES:
        return _FLOAT_NAMES[key]
    try:
        dtype = np.dtype(key)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "biuf" or key in ("object", "O"):
        raise ValueError(f"Cannot convert {name!r} to a DTypePolicy: valid policies are 'mixed_float16', "
                         "'mixed_bfloat16' and the name of a dtype such as 'float32'")
    return dtype.name


def _numpy_dtype(name: str) -> np.dtype:
    """The NumPy dtype that holds a policy dtype: float32 for bfloat16 (see the module docstring)."""
    return np.dtype("float32" if name == "bfloat16" else name)


class DTypePolicy:
    """A layer's compute and variable dtypes, from a name ("float32", "mixed_float16"...);
    ``None`` takes the global policy's name."""

    def __init__(self, name=None):
        if name is None:
            name = dtype_policy().name
        if not isinstance(name, str):
            raise TypeError(f"DTypePolicy: name must be a string such as 'mixed_float16', got {name!r}")
        self._name = name
        self._compute_dtype, self._variable_dtype = self._parse_name(name)
        self._quantization_mode = None

    @staticmethod
    def _parse_name(name: str) -> tuple[str, str]:
        if name == "mixed_float16":
            return "float16", "float32"
        if name == "mixed_bfloat16":
            return "bfloat16", "float32"
        dtype = _standard_float(name)
        return dtype, dtype

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        """The dtype of the layer's math and outputs, as Keras names it."""
        return self._compute_dtype

    @property
    def variable_dtype(self) -> str:
        """The dtype of the layer's variables, as Keras names it."""
        return self._variable_dtype

    @property
    def numpy_compute_dtype(self) -> np.dtype:
        return _numpy_dtype(self._compute_dtype)

    @property
    def numpy_variable_dtype(self) -> np.dtype:
        return _numpy_dtype(self._variable_dtype)

    @property
    def quantization_mode(self):
        return self._quantization_mode

    def convert_input(self, x, autocast, dtype):
        """``x`` cast to ``dtype`` when it is a float array of another dtype and ``autocast`` is on."""
        dtype = _numpy_dtype(_standard_float(dtype))
        array = np.asarray(getattr(x, "data", x))
        if autocast and array.dtype.kind == "f" and array.dtype != dtype:
            return x.astype(dtype) if hasattr(x, "astype") else array.astype(dtype)
        return x

    def get_config(self) -> dict:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        name = "DTypePolicy" if type(self) in (DTypePolicy, FloatDTypePolicy) else type(self).__name__
        return f'<{name} "{self._name}">'

    def __eq__(self, other) -> bool:
        if type(self) in (DTypePolicy, FloatDTypePolicy):
            if type(other) not in (DTypePolicy, FloatDTypePolicy):
                return False
        elif type(other) is not type(self):
            return False
        return self._name == other._name

    def __hash__(self):
        return hash((type(self).__name__, self._name))


class FloatDTypePolicy(DTypePolicy):
    """Another name of ``DTypePolicy``, as in Keras."""


class QuantizedDTypePolicy(DTypePolicy):
    """A policy for quantized layers, named "<mode>_from_<source policy>". deepgrad's layers
    do not run quantized policies yet: they raise a NotImplementedError naming the mode
    (``Model.quantize("int8")`` where it exists is the supported route)."""

    def __init__(self, mode, source_name=None):
        if source_name is None:
            source_name = dtype_policy().name
        self._compute_dtype, self._variable_dtype = self._parse_name(source_name)
        base = str(mode).split("/")[0]
        if base not in QUANTIZATION_MODES:
            raise ValueError(f"{type(self).__name__}: invalid quantization mode {mode!r}; expected one of "
                             f"{QUANTIZATION_MODES}")
        if self._compute_dtype == "float16" and mode == "int8":
            raise ValueError(f"{type(self).__name__}: quantization mode 'int8' does not work well with "
                             "compute_dtype 'float16'")
        self._name = f"{mode}_from_{source_name}"
        self._source_name = source_name
        self._quantization_mode = mode

    def __eq__(self, other) -> bool:
        return (super().__eq__(other) and self._quantization_mode == other._quantization_mode
                and self._source_name == other._source_name)

    __hash__ = DTypePolicy.__hash__

    def get_config(self) -> dict:
        return {"mode": self._quantization_mode, "source_name": self._source_name}


class QuantizedFloat8DTypePolicy(QuantizedDTypePolicy):
    def __init__(self, mode, source_name=None, amax_history_length=1024):
        super().__init__(mode, source_name)
        if not isinstance(amax_history_length, int):
            raise TypeError(f"QuantizedFloat8DTypePolicy: amax_history_length must be an integer, got "
                            f"{amax_history_length!r}")
        self._amax_history_length = amax_history_length

    @property
    def amax_history_length(self) -> int:
        return self._amax_history_length

    def get_config(self) -> dict:
        return {**super().get_config(), "amax_history_length": self._amax_history_length}


def _mode_parts(cls_name: str, mode: str, head: str, count: int) -> list[int]:
    parts = str(mode).split("/")
    if len(parts) != count + 1 or parts[0] != head:
        raise ValueError(f"{cls_name}: invalid mode {mode!r}; expected '{head}" + "/<n>" * count + "'")
    try:
        return [int(p) for p in parts[1:]]
    except ValueError as e:
        raise ValueError(f"{cls_name}: the numbers of mode {mode!r} must be integers") from e


class Int4DTypePolicy(QuantizedDTypePolicy):
    """mode "int4/<block_size>" (-1: per channel)."""

    def __init__(self, mode, source_name=None):
        (self.block_size,) = _mode_parts("Int4DTypePolicy", mode, "int4", 1)
        if self.block_size == 0 or self.block_size < -1:
            raise ValueError(f"Int4DTypePolicy: block_size must be -1 or positive, got {self.block_size}")
        super().__init__(mode, source_name)
        self._quantization_mode = "int4"  # Keras's: the base mode; the name keeps the block size

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": f"int4/{self.block_size}"}


class GPTQDTypePolicy(QuantizedDTypePolicy):
    """mode "gptq/<weight_bits>/<group_size>"."""

    def __init__(self, mode, source_name=None):
        self.weight_bits, self.group_size = _mode_parts("GPTQDTypePolicy", mode, "gptq", 2)
        super().__init__(mode, source_name)


class AWQDTypePolicy(QuantizedDTypePolicy):
    """mode "awq/<weight_bits>/<group_size>"."""

    def __init__(self, mode, source_name=None):
        self.weight_bits, self.group_size = _mode_parts("AWQDTypePolicy", mode, "awq", 2)
        super().__init__(mode, source_name)


class DTypePolicyMap(DTypePolicy, MutableMapping):
    """Layer path patterns -> policies, with a default: ``policy_map[path]`` is the policy of the
    key equal to ``path``, else of the one key that ``re.fullmatch``-es it, else the default."""

    def __init__(self, default_policy=None, policy_map=None):
        if isinstance(default_policy, DTypePolicyMap):
            raise ValueError("DTypePolicyMap: default_policy cannot be a DTypePolicyMap")
        if policy_map is not None and not isinstance(policy_map, dict):
            raise TypeError(f"DTypePolicyMap: policy_map must be a dict, got {policy_map!r}")
        self._default_policy_arg = default_policy
        self._default_policy = get(default_policy)
        self._policy_map = {}
        for key, policy in (policy_map or {}).items():
            self[key] = policy

    @property
    def name(self) -> str:
        return f"map_{self.default_policy.name}"

    _name = property(lambda self: self.name)

    @property
    def default_policy(self) -> DTypePolicy:
        return self._default_policy

    compute_dtype = property(lambda self: self.default_policy.compute_dtype)
    variable_dtype = property(lambda self: self.default_policy.variable_dtype)
    quantization_mode = property(lambda self: self.default_policy.quantization_mode)
    _compute_dtype = compute_dtype
    _variable_dtype = variable_dtype

    def __getitem__(self, key):
        if key in self._policy_map:
            return self._policy_map[key]
        matches = [pattern for pattern in self._policy_map if re.fullmatch(pattern, key)]
        if len(matches) > 1:
            raise ValueError(f"DTypePolicyMap: path {key!r} matches several keys {matches}")
        return self._policy_map[matches[0]] if matches else self.default_policy

    def __setitem__(self, key, policy):
        if key in self._policy_map:
            raise ValueError(f"DTypePolicyMap: key {key!r} is already mapped to {self._policy_map[key]!r}")
        try:
            policy = get(policy)
        except (TypeError, ValueError) as e:
            raise ValueError(f"DTypePolicyMap: cannot interpret the policy of {key!r}: {policy!r}") from e
        self._policy_map[key] = policy

    def __delitem__(self, key):
        return self._policy_map.pop(key)

    def __contains__(self, key):
        return key in self._policy_map

    def __len__(self):
        return len(self._policy_map)

    def __iter__(self):
        return iter(self._policy_map)

    def __eq__(self, other):
        return (isinstance(other, DTypePolicyMap) and self.default_policy == other.default_policy
                and self._policy_map == other._policy_map)

    __hash__ = None

    def get_config(self) -> dict:
        return {"default_policy": self._default_policy_arg,
                "policy_map": {k: serialize(v) for k, v in self._policy_map.items()}}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        config = dict(config)
        config["policy_map"] = {k: deserialize(v) for k, v in (config.get("policy_map") or {}).items()}
        return cls(**config)

    def __repr__(self) -> str:
        return f"<DTypePolicyMap default={self.default_policy.name!r} {dict(self._policy_map)}>"


_CLASSES = {cls.__name__: cls for cls in (DTypePolicy, FloatDTypePolicy, QuantizedDTypePolicy,
                                          QuantizedFloat8DTypePolicy, Int4DTypePolicy, GPTQDTypePolicy,
                                          AWQDTypePolicy, DTypePolicyMap)}


def _quantized_by_name(name: str) -> QuantizedDTypePolicy:
    parts = name.split("_from_")
    if len(parts) != 2:
        raise ValueError(f"Cannot read a quantized dtype policy from {name!r}: expected '<mode>_from_<source>'")
    mode, source = parts
    if mode.startswith("int4") and "/" in mode:
        return Int4DTypePolicy(mode, source)
    if mode.startswith("gptq"):
        return GPTQDTypePolicy(mode, source)
    if mode.startswith("awq"):
        return AWQDTypePolicy(mode, source)
    if mode.startswith("float8"):
        return QuantizedFloat8DTypePolicy(mode, source)
    return QuantizedDTypePolicy(mode, source)


def set_dtype_policy(policy) -> None:
    """The default policy of layers made from now on (a name or a ``DTypePolicy``)."""
    global _global_policy
    if not isinstance(policy, DTypePolicy):
        if not isinstance(policy, str):
            raise ValueError(f"set_dtype_policy: expected a policy name (such as 'mixed_float16') or a "
                             f"DTypePolicy, got {policy!r}")
        policy = _quantized_by_name(policy) if policy.startswith(QUANTIZATION_MODES) else DTypePolicy(policy)
    _global_policy = policy


def dtype_policy() -> DTypePolicy:
    """The default policy: the one set last, else ``DTypePolicy(floatx())``."""
    if _global_policy is None:
        return DTypePolicy(backend.floatx())
    return _global_policy


def serialize(dtype_policy) -> dict:
    """Keras's form: the float policies under ``keras``, the others under ``keras.dtype_policies``."""
    name = type(dtype_policy).__name__
    module = "keras" if name in ("DTypePolicy", "FloatDTypePolicy") else "keras.dtype_policies"
    return {"module": module, "class_name": name, "config": dtype_policy.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None) -> DTypePolicy:
    """A policy from ``{"class_name": ..., "config": {...}}`` (a known policy class only)."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret dtype policy config: {config!r}")
    cls = (custom_objects or {}).get(config["class_name"]) or _CLASSES.get(config["class_name"])
    if cls is None:
        raise ValueError(f"Unknown dtype policy class {config['class_name']!r}; expected one of {sorted(_CLASSES)}")
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier) -> DTypePolicy:
    """None -> the global policy; a policy -> itself; a dict -> ``deserialize``; a name or a dtype -> a policy."""
    if identifier is None:
        return dtype_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return _quantized_by_name(identifier) if identifier.startswith(QUANTIZATION_MODES) else DTypePolicy(identifier)
    try:
        return DTypePolicy(_standard_float(identifier))
    except (TypeError, ValueError) as e:
        raise ValueError(f"Cannot interpret dtype {identifier!r}: expected a policy name, a float dtype or a "
                         "DTypePolicy") from e


Policy = DTypePolicy
global_policy = dtype_policy
set_global_policy = set_dtype_policy

__all__ = ["AWQDTypePolicy", "DTypePolicy", "DTypePolicyMap", "FloatDTypePolicy", "GPTQDTypePolicy",
           "Int4DTypePolicy", "QuantizedDTypePolicy", "QuantizedFloat8DTypePolicy", "deserialize", "get",
           "serialize"]
