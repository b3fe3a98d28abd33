"""``tf.train.Example`` and its parts (``Features``, ``Feature``, ``BytesList``, ``FloatList``,
``Int64List``), written and read in the protocol-buffer wire format TensorFlow uses, so that the
records of a TFRecord file made here read in TensorFlow and the other way round.

The messages (TensorFlow's ``example.proto`` and ``feature.proto``)::

    Example  { Features features = 1; }
    Features { map<string, Feature> feature = 1; }      // entries: { key = 1; value = 2; }
    Feature  { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; } }
    BytesList { repeated bytes value = 1; }
    FloatList { repeated float value = 1 [packed = true]; }
    Int64List { repeated int64 value = 1 [packed = true]; }

Wire format: a field is a varint key ``(number << 3) | wire_type``; wire type 0 is a varint, 2 a
length-prefixed run of bytes (strings, messages, packed numbers), 5 four little-endian bytes.
"""
from __future__ import annotations

import struct

import numpy as np

_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5


# ----------------------------------------------------------------- the wire format
def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1          # a negative int64 is its two's complement: ten bytes
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("tf.train.Example: truncated message (a varint runs past the end)")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ValueError("tf.train.Example: malformed varint")


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return _varint((number << 3) | _LEN) + _varint(len(payload)) + payload


def _fields(data: bytes):
    """``(number, wire_type, value)`` for each field of a message: ``value`` is an int for a
    varint, else the field's bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, pos = _read_varint(data, pos)
        elif wire == _LEN:
            size, pos = _read_varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
            if len(value) != size:
                raise ValueError("tf.train.Example: truncated message (a field runs past the end)")
        elif wire in (_FIXED32, _FIXED64):
            size = 4 if wire == _FIXED32 else 8
            value, pos = data[pos:pos + size], pos + size
        else:
            raise ValueError(f"tf.train.Example: unsupported wire type {wire}")
        yield number, wire, value


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


# ----------------------------------------------------------------- the messages
class _Message:
    def SerializeToString(self, deterministic=None) -> bytes:
        return self._encode()

    def ParseFromString(self, data) -> int:
        """Replace this message's contents with the message ``data`` encodes; its size in bytes."""
        data = bytes(data)
        self.Clear()
        self._decode(data)
        return len(data)

    @classmethod
    def FromString(cls, data):
        message = cls()
        message.ParseFromString(data)
        return message

    def ByteSize(self) -> int:
        return len(self._encode())

    def __eq__(self, other):
        # by content, not bytes: a map's entries may come in any order
        return type(other) is type(self) and self._content() == other._content()

    __hash__ = None

    def __repr__(self):
        return self._text("").rstrip("\n")

    __str__ = __repr__


class _List(_Message):
    """The common part of ``BytesList``, ``FloatList`` and ``Int64List``: a ``value`` list."""

    def __init__(self, value=()):
        self.value = [self._convert(v) for v in (np.asarray(value).reshape(-1).tolist()
                                                 if isinstance(value, np.ndarray) else value)]

    def Clear(self) -> None:
        self.value = []

    def _content(self):
        return list(self.value)

    def _text(self, indent: str) -> str:
        return "".join(f"{indent}value: {self._show(v)}\n" for v in self.value)


class BytesList(_List):
    @staticmethod
    def _convert(v):
        if isinstance(v, str):
            raise TypeError(f"{v!r} has type str, but expected one of: bytes")
        return bytes(v)

    @staticmethod
    def _show(v):
        return '"' + "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\{b:03o}" for b in v) + '"'

    def _encode(self) -> bytes:
        return b"".join(_field(1, v) for v in self.value)

    def _decode(self, data: bytes) -> None:
        self.value = [bytes(v) for number, wire, v in _fields(data) if number == 1 and wire == _LEN]


class FloatList(_List):
    @staticmethod
    def _convert(v):
        return float(np.float32(v))   # stored as float32, as the message's float field is

    @staticmethod
    def _show(v):
        return repr(v)

    def _encode(self) -> bytes:
        return _field(1, np.asarray(self.value, "<f4").tobytes()) if self.value else b""

    def _decode(self, data: bytes) -> None:
        values = []
        for number, wire, v in _fields(data):
            if number == 1 and wire == _LEN:         # packed
                values += np.frombuffer(v, "<f4").astype(float).tolist()
            elif number == 1 and wire == _FIXED32:   # one value per field (unpacked writers)
                values.append(struct.unpack("<f", v)[0])
        self.value = values


class Int64List(_List):
    @staticmethod
    def _convert(v):
        if isinstance(v, (float, np.floating)):
            raise TypeError(f"{v!r} has type float, but expected one of: int")
        v = int(v)
        if not -(1 << 63) <= v < 1 << 63:
            raise ValueError(f"Value out of range: {v}")
        return v

    @staticmethod
    def _show(v):
        return str(v)

    def _encode(self) -> bytes:
        return _field(1, b"".join(_varint(v) for v in self.value)) if self.value else b""

    def _decode(self, data: bytes) -> None:
        values = []
        for number, wire, v in _fields(data):
            if number == 1 and wire == _LEN:         # packed
                pos = 0
                while pos < len(v):
                    n, pos = _read_varint(v, pos)
                    values.append(_signed64(n))
            elif number == 1 and wire == _VARINT:
                values.append(_signed64(v))
        self.value = values


_KINDS = {"bytes_list": (1, BytesList), "float_list": (2, FloatList), "int64_list": (3, Int64List)}


class Feature(_Message):
    """One of ``bytes_list``, ``float_list`` or ``int64_list`` (the ``kind`` oneof)."""

    def __init__(self, bytes_list=None, float_list=None, int64_list=None):
        given = {k: v for k, v in (("bytes_list", bytes_list), ("float_list", float_list),
                                   ("int64_list", int64_list)) if v is not None}
        if len(given) > 1:
            raise ValueError(f"Feature: one of bytes_list, float_list, int64_list, not {sorted(given)}")
        self._kind, self._list = next(iter(given.items()), (None, None))
        if self._list is not None and not isinstance(self._list, _KINDS[self._kind][1]):
            raise TypeError(f"Feature: {self._kind} must be a {_KINDS[self._kind][1].__name__}, "
                            f"got {type(self._list).__name__}")

    def WhichOneof(self, oneof_group: str):
        if oneof_group != "kind":
            raise ValueError(f'Protocol message has no oneof "{oneof_group}" field.')
        return self._kind

    def HasField(self, name: str) -> bool:
        return self._kind == name

    def __getattr__(self, name):
        if name in _KINDS:   # an unset list reads as an empty one, as in protobuf
            return self.__dict__["_list"] if self.__dict__.get("_kind") == name else _KINDS[name][1]()
        raise AttributeError(name)

    def Clear(self) -> None:
        self._kind, self._list = None, None

    def _content(self):
        return (self._kind, None if self._list is None else self._list._content())

    def _encode(self) -> bytes:
        return b"" if self._kind is None else _field(_KINDS[self._kind][0], self._list._encode())

    def _decode(self, data: bytes) -> None:
        by_number = {number: (kind, cls) for kind, (number, cls) in _KINDS.items()}
        for number, wire, v in _fields(data):
            if number in by_number and wire == _LEN:   # the last one set wins, as for a oneof
                self._kind, cls = by_number[number]
                self._list = cls.FromString(v)

    def _text(self, indent: str) -> str:
        if self._kind is None:
            return ""
        return f"{indent}{self._kind} {{\n{self._list._text(indent + '  ')}{indent}}}\n"


class Features(_Message):
    """``feature``: a dict from names to ``Feature``s."""

    def __init__(self, feature=None):
        self.feature = dict(feature or {})
        for key, value in self.feature.items():
            if not isinstance(value, Feature):
                raise TypeError(f"Features: feature[{key!r}] must be a tf.train.Feature, got {type(value).__name__}")

    def Clear(self) -> None:
        self.feature = {}

    def _content(self):
        return {k: v._content() for k, v in self.feature.items()}

    def _encode(self) -> bytes:
        return b"".join(_field(1, _field(1, str(k).encode("utf-8")) + _field(2, v._encode()))
                        for k, v in self.feature.items())

    def _decode(self, data: bytes) -> None:
        for number, wire, entry in _fields(data):
            if number != 1 or wire != _LEN:
                continue
            key, value = "", Feature()
            for n, w, v in _fields(entry):
                if n == 1 and w == _LEN:
                    key = v.decode("utf-8")
                elif n == 2 and w == _LEN:
                    value = Feature.FromString(v)
            self.feature[key] = value

    def _text(self, indent: str) -> str:
        inner = indent + "  "
        return "".join(f'{indent}feature {{\n{inner}key: "{k}"\n{inner}value {{\n{v._text(inner + "  ")}'
                       f"{inner}}}\n{indent}}}\n" for k, v in self.feature.items())


class Example(_Message):
    """``features``: the record's ``Features``."""

    def __init__(self, features=None):
        self.features = features if features is not None else Features()

    def Clear(self) -> None:
        self.features = Features()

    def _content(self):
        return self.features._content()

    def _encode(self) -> bytes:
        body = self.features._encode()
        return _field(1, body) if body or self.features.feature else b""

    def _decode(self, data: bytes) -> None:
        for number, wire, v in _fields(data):
            if number == 1 and wire == _LEN:
                self.features = Features.FromString(v)

    def _text(self, indent: str) -> str:
        return f"{indent}features {{\n{self.features._text(indent + '  ')}{indent}}}\n"
