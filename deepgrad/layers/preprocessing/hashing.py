"""Hashing layers: ``Hashing`` (a value to one of ``num_bins`` buckets) and ``HashedCrossing``
(a tuple of values to one bucket), with TensorFlow's string hashes, so bucket numbers equal
Keras's: FarmHash ``Fingerprint64`` (``tf.strings.to_hash_bucket_fast``), SipHash-2-4 with a
128-bit key (``to_hash_bucket_strong``) and ``FingerprintCat64`` (``tf.sparse.cross_hashed``).
Numbers are hashed as their decimal text. Each string is hashed on its own bytes (variable
lengths), so the loop is over distinct strings only."""
from __future__ import annotations

import numpy as np

from .data_layer import DataLayer, encode_categorical, is_string

_M = (1 << 64) - 1
_K0, _K1, _K2 = 0xC3A5C85C97CB3127, 0xB492B66FBE98F273, 0x9AE16A3B2F90404F


def _f64(s, i):
    return int.from_bytes(s[i:i + 8], "little")


def _f32(s, i):
    return int.from_bytes(s[i:i + 4], "little")


def _rot(v, r):
    return ((v >> r) | (v << (64 - r))) & _M if r else v


def _shift_mix(v):
    return v ^ (v >> 47)


def _hash16(u, v, mul):
    a = _shift_mix(((u ^ v) * mul) & _M)
    b = _shift_mix(((v ^ a) * mul) & _M)
    return (b * mul) & _M


def _weak32(s, i, a, b):
    w, x, y, z = _f64(s, i), _f64(s, i + 8), _f64(s, i + 16), _f64(s, i + 24)
    a = (a + w) & _M
    b = _rot((b + a + z) & _M, 21)
    c = a
    a = (a + x + y) & _M
    b = (b + _rot(a, 44)) & _M
    return (a + z) & _M, (b + c) & _M


def fingerprint64(s: bytes) -> int:
    """FarmHash ``Fingerprint64`` (farmhashna ``Hash64``) of ``s``, an unsigned 64-bit int."""
    n = len(s)
    if n <= 16:
        if n >= 8:
            mul = _K2 + n * 2
            a = (_f64(s, 0) + _K2) & _M
            b = _f64(s, n - 8)
            c = (_rot(b, 37) * mul + a) & _M
            d = ((_rot(a, 25) + b) * mul) & _M
            return _hash16(c, d, mul)
        if n >= 4:
            mul = _K2 + n * 2
            return _hash16((n + (_f32(s, 0) << 3)) & _M, _f32(s, n - 4), mul)
        if n > 0:
            y = (s[0] + (s[n >> 1] << 8)) & 0xFFFFFFFF
            z = (n + (s[n - 1] << 2)) & 0xFFFFFFFF
            return (_shift_mix(((y * _K2) ^ (z * _K0)) & _M) * _K2) & _M
        return _K2
    if n <= 32:
        mul = _K2 + n * 2
        a = (_f64(s, 0) * _K1) & _M
        b = _f64(s, 8)
        c = (_f64(s, n - 8) * mul) & _M
        d = (_f64(s, n - 16) * _K2) & _M
        return _hash16((_rot((a + b) & _M, 43) + _rot(c, 30) + d) & _M, (a + _rot((b + _K2) & _M, 18) + c) & _M, mul)
    if n <= 64:
        mul = _K2 + n * 2
        a = (_f64(s, 0) * _K2) & _M
        b = _f64(s, 8)
        c = (_f64(s, n - 8) * mul) & _M
        d = (_f64(s, n - 16) * _K2) & _M
        y = (_rot((a + b) & _M, 43) + _rot(c, 30) + d) & _M
        z = _hash16(y, (a + _rot((b + _K2) & _M, 18) + c) & _M, mul)
        e = (_f64(s, 16) * mul) & _M
        f = _f64(s, 24)
        g = ((y + _f64(s, n - 32)) * mul) & _M
        h = ((z + _f64(s, n - 24)) * mul) & _M
        return _hash16((_rot((e + f) & _M, 43) + _rot(g, 30) + h) & _M, (e + _rot((f + a) & _M, 18) + g) & _M, mul)
    seed = 81
    x, y = seed, (seed * _K1 + 113) & _M
    z = (_shift_mix((y * _K2 + 113) & _M) * _K2) & _M
    v, w = (0, 0), (0, 0)
    x = (x * _K2 + _f64(s, 0)) & _M
    end = ((n - 1) // 64) * 64
    last64 = end + ((n - 1) & 63) - 63
    i = 0
    while True:
        x = (_rot((x + y + v[0] + _f64(s, i + 8)) & _M, 37) * _K1) & _M
        y = (_rot((y + v[1] + _f64(s, i + 48)) & _M, 42) * _K1) & _M
        x ^= w[1]
        y = (y + v[0] + _f64(s, i + 40)) & _M
        z = (_rot((z + w[0]) & _M, 33) * _K1) & _M
        v = _weak32(s, i, (v[1] * _K1) & _M, (x + w[0]) & _M)
        w = _weak32(s, i + 32, (z + w[1]) & _M, (y + _f64(s, i + 16)) & _M)
        z, x = x, z
        i += 64
        if i == end:
            break
    mul = _K1 + ((z & 0xFF) << 1)
    i = last64
    w = ((w[0] + ((n - 1) & 63)) & _M, w[1])
    v = ((v[0] + w[0]) & _M, v[1])
    w = ((w[0] + v[0]) & _M, w[1])
    x = (_rot((x + y + v[0] + _f64(s, i + 8)) & _M, 37) * mul) & _M
    y = (_rot((y + v[1] + _f64(s, i + 48)) & _M, 42) * mul) & _M
    x ^= (w[1] * 9) & _M
    y = (y + v[0] * 9 + _f64(s, i + 40)) & _M
    z = (_rot((z + w[0]) & _M, 33) * mul) & _M
    v = _weak32(s, i, (v[1] * mul) & _M, (x + w[0]) & _M)
    w = _weak32(s, i + 32, (z + w[1]) & _M, (y + _f64(s, i + 16)) & _M)
    z, x = x, z
    return _hash16((_hash16(v[0], w[0], mul) + _shift_mix(y) * _K0 + z) & _M,
                   (_hash16(v[1], w[1], mul) + x) & _M, mul)


def siphash24(key0: int, key1: int, s: bytes) -> int:
    """SipHash-2-4 of ``s`` under the 128-bit key ``(key0, key1)`` (two 64-bit words)."""
    k0, k1 = key0 & _M, key1 & _M
    v0, v1 = k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D
    v2, v3 = k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573

    def rounds(v0, v1, v2, v3, r):
        for _ in range(r):
            v0 = (v0 + v1) & _M; v1 = _rot(v1, 51) ^ v0; v0 = _rot(v0, 32)  # noqa: E702  (rotl 13 = rotr 51)
            v2 = (v2 + v3) & _M; v3 = _rot(v3, 48) ^ v2                     # noqa: E702  (rotl 16)
            v0 = (v0 + v3) & _M; v3 = _rot(v3, 43) ^ v0                     # noqa: E702  (rotl 21)
            v2 = (v2 + v1) & _M; v1 = _rot(v1, 47) ^ v2; v2 = _rot(v2, 32)  # noqa: E702  (rotl 17)
        return v0, v1, v2, v3

    n = len(s)
    tail = s[n - n % 8:] + bytes(7 - n % 8) + bytes([n & 0xFF])
    for block in [s[i:i + 8] for i in range(0, n - n % 8, 8)] + [tail]:
        m = int.from_bytes(block, "little")
        v3 ^= m
        v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 2)
        v0 ^= m
    v2 ^= 0xFF
    v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 4)
    return v0 ^ v1 ^ v2 ^ v3


def fingerprint_cat64(fp1: int, fp2: int) -> int:
    """TensorFlow's ``FingerprintCat64``: combine two fingerprints, order-dependent."""
    mul = 0xC6A4A7935BD1E995
    r = fp1 ^ mul
    r ^= (_shift_mix((fp2 * mul) & _M) * mul) & _M
    r = (r * mul) & _M
    r = (_shift_mix(r) * mul) & _M
    return _shift_mix(r)


def as_text(values: np.ndarray) -> np.ndarray:
    """Values as TensorFlow's ``as_string`` writes them: floats truncated to int64 first."""
    values = np.asarray(values)
    if is_string(values):
        return values.astype(str)
    if values.dtype.kind == "f":
        values = values.astype(np.int64)
    return values.astype(np.int64).astype(str)


def _apply_unique(values: np.ndarray, fn) -> np.ndarray:
    """``fn`` (str -> int) over every element, computed once per distinct value."""
    uniq, inverse = np.unique(values.astype(str).ravel(), return_inverse=True)
    hashed = np.array([fn(u.encode("utf-8")) for u in uniq], dtype=np.uint64)
    return hashed[inverse].reshape(values.shape)


def hash_bucket(values, num_bins: int, salt=None) -> np.ndarray:
    """Bucket of each value: ``Fingerprint64(text) % num_bins`` or, with a salt,
    ``SipHash(salt, text) % num_bins``; int64."""
    text = as_text(values)
    fn = fingerprint64 if salt is None else (lambda b: siphash24(salt[0], salt[1], b))
    return (_apply_unique(text, fn) % np.uint64(num_bins)).astype(np.int64)


def _check_salt(salt, layer):
    if salt is None:
        return None
    if isinstance(salt, (tuple, list)) and len(salt) == 2:
        return [int(s) for s in salt]
    if isinstance(salt, int):
        return [salt, salt]
    raise ValueError(f"{layer}: `salt` must be an int or a pair of ints, got salt={salt!r}")


class Hashing(DataLayer):
    """Each value (string, int or float truncated to int) to a bucket in [0, num_bins);
    with ``mask_value``, that value goes to 0 and the others to [1, num_bins)."""

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False, **kwargs):
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64" if output_mode == "int" else None
        super().__init__(**kwargs)
        if num_bins is None or num_bins <= 0:
            raise ValueError(f"Hashing: num_bins must be a positive int, got num_bins={num_bins}")
        if output_mode not in ("int", "one_hot", "multi_hot", "count"):
            raise ValueError(f"Hashing: invalid output_mode {output_mode!r}")
        if output_mode == "int" and self.dtype.kind not in "iu":
            raise ValueError(f"Hashing: output_mode='int' needs an integer dtype, got {self.dtype}")
        if sparse:
            raise ValueError("Hashing: sparse=True is not supported (dense outputs only)")
        self.num_bins, self.mask_value, self.output_mode, self.sparse = num_bins, mask_value, output_mode, sparse
        self.salt = _check_salt(salt, "Hashing")
        self.strong_hash = self.salt is not None

    def call(self, inputs):
        values = np.asarray(inputs)
        if self.output_mode == "one_hot" and values.ndim and values.shape[-1] == 1:
            values = values[..., 0]
        bins, mask = self.num_bins, None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            mask = values == (str(self.mask_value) if is_string(values) else self.mask_value)
        out = hash_bucket(values, bins, self.salt)
        if mask is not None:
            out = np.where(mask, 0, out + 1)
        return encode_categorical(out, self.output_mode, self.num_bins, self.dtype)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        if len(input_shape) == 0:
            return (self.num_bins,)
        return tuple(input_shape[:-1]) + (self.num_bins,)

    def get_config(self):
        config = super().get_config()
        config.update({"num_bins": self.num_bins, "salt": self.salt, "mask_value": self.mask_value,
                       "output_mode": self.output_mode, "sparse": self.sparse})
        return config


# tf.sparse.cross_hashed's default hash_key
_CROSS_HASH_KEY = 0xDECAFCAFFE


class HashedCrossing(DataLayer):
    """The bucket of a tuple of features, ``FingerprintCat64`` folded over the features'
    fingerprints from ``hash_key``, modulo ``num_bins``. Inputs: a list of equal-shaped
    arrays of shape (), (batch,) or (batch, 1), integers or strings."""

    _multiple_inputs = True

    def __init__(self, num_bins, output_mode="int", sparse=False, name=None, dtype=None, **kwargs):
        if output_mode == "int" and dtype is None:
            dtype = "int64"
        super().__init__(name=name, dtype=dtype, **kwargs)
        if output_mode not in ("int", "one_hot"):
            raise ValueError(f"HashedCrossing: invalid output_mode {output_mode!r}")
        if sparse:
            raise ValueError("HashedCrossing: sparse=True is not supported (dense outputs only)")
        self.num_bins, self.output_mode, self.sparse = num_bins, output_mode, sparse

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"HashedCrossing: call it on a list of at least two inputs, got {type(inputs).__name__}")
        shape = inputs[0].shape
        if len(shape) > 2 or (len(shape) == 2 and shape[-1] != 1):
            raise ValueError(f"HashedCrossing: inputs must have shape (), (batch,) or (batch, 1), got {shape}")
        if any(x.shape != shape for x in inputs[1:]):
            raise ValueError(f"HashedCrossing: inputs must share one shape, got {[x.shape for x in inputs]}")
        if any(not (is_string(x) or x.dtype.kind in "iu") for x in inputs):
            raise ValueError(f"HashedCrossing: inputs must be integers or strings, got {[x.dtype for x in inputs]}")
        fps = [self._feature_hash(x.ravel()) for x in inputs]
        out = []
        for row in zip(*fps):
            h = _CROSS_HASH_KEY
            for fp in row:
                h = fingerprint_cat64(h, int(fp))
            out.append(h % self.num_bins)
        out = np.asarray(out, np.int64).reshape(shape)
        return encode_categorical(out, self.output_mode, self.num_bins, self.dtype)

    @staticmethod
    def _feature_hash(x):
        # strings by their fingerprint; integers are their own hash (as two's-complement uint64)
        if is_string(x):
            return _apply_unique(x, fingerprint64)
        return x.astype(np.int64).view(np.uint64)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 or \
                not all(isinstance(s, tuple) for s in input_shape):
            raise ValueError(f"HashedCrossing: expected a list of 2 input shapes, got {input_shape}")
        first = tuple(input_shape[0])
        if self.output_mode == "int":
            return first
        if first and first[-1] != 1:
            return first + (self.num_bins,)
        return first[:-1] + (self.num_bins,)

    def get_config(self):
        return {"num_bins": self.num_bins, "output_mode": self.output_mode, "sparse": self.sparse,
                "name": self.name, "dtype": str(self.dtype)}
