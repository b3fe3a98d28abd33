"""Zip archives read defensively and written atomically.

A model file is a zip of a few named members. Reading refuses, before decompressing
anything: files that are pickles or not zips, truncated archives, member names that could
escape a directory ("../x", "/x", "C:\\x"), unexpected members, and members whose size or
compression ratio is absurd (zip bombs). Members are stored uncompressed, so a real model
file never trips the ratio check.
"""
from __future__ import annotations

import io
import os
import zipfile

from .atomic import atomic_write
from .safetensors_format import UnsafeFileError

MAX_MEMBER_BYTES = 16 * 1024 ** 3      # no single weight file is larger than this
MAX_COMPRESSION_RATIO = 200           # deflate reaches ~1000x only on crafted or all-zero data
_PICKLE_PROTOCOL_OPCODE = b"\x80"


def sniff(head: bytes, source: str) -> str:
    """"zip", or an UnsafeFileError naming what the file is instead."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head[:1] == _PICKLE_PROTOCOL_OPCODE and len(head) > 1 and head[1] <= 5:
        raise UnsafeFileError(f"{source} is a Python pickle; deepgrad never loads pickles because loading "
                              "one can run arbitrary code. Save models with model.save(...).")
    if head.startswith(b"\x93NUMPY"):
        raise UnsafeFileError(f"{source} is a bare .npy array, not a deepgrad model or weights file")
    raise UnsafeFileError(f"{source} is not a deepgrad archive (it does not start with a zip header)")


def _check_member_name(name: str, source: str) -> None:
    parts = name.replace("\\", "/").split("/")
    if (name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts
            or "\x00" in name):
        raise UnsafeFileError(f"{source} contains a member with an unsafe path {name!r} (path traversal)")


def check_zip(zf: zipfile.ZipFile, source: str, allowed=None) -> None:
    """Names, sizes and ratios of every member, checked from the central directory."""
    for info in zf.infolist():
        _check_member_name(info.filename, source)
        if allowed is not None and info.filename not in allowed:
            raise UnsafeFileError(f"{source} contains an unexpected member {info.filename!r}; "
                                  f"expected only {sorted(allowed)}")
        if info.file_size > MAX_MEMBER_BYTES:
            raise UnsafeFileError(f"{source}: member {info.filename!r} claims {info.file_size} bytes, more "
                                  f"than the limit of {MAX_MEMBER_BYTES}")
        if info.file_size > 1024 ** 2 and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            raise UnsafeFileError(f"{source}: member {info.filename!r} expands {info.compress_size} bytes to "
                                  f"{info.file_size} (a zip bomb?); refusing to decompress it")


def read_archive(filepath, required, optional=()) -> dict[str, bytes]:
    """The members of a deepgrad zip as bytes, after every check above."""
    source = os.fspath(filepath)
    with open(source, "rb") as f:
        sniff(f.read(8), source)
    allowed = set(required) | set(optional)
    try:
        with zipfile.ZipFile(source) as zf:
            check_zip(zf, source, allowed)
            names = set(zf.namelist())
            missing = [m for m in required if m not in names]
            if missing:
                raise UnsafeFileError(f"{source} is missing {missing}; it is not a complete deepgrad model file")
            return {name: zf.read(name) for name in allowed if name in names}
    except zipfile.BadZipFile as e:
        raise UnsafeFileError(f"{source} is a truncated or corrupt zip archive ({e})") from None
    except (EOFError, zipfile.LargeZipFile, NotImplementedError) as e:
        raise UnsafeFileError(f"{source} cannot be read as a deepgrad archive ({e})") from None


def write_archive(filepath, members: dict[str, bytes], overwrite: bool = True) -> None:
    """One zip with ``members`` stored uncompressed, written atomically."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with atomic_write(filepath, "wb", overwrite=overwrite) as f:
        f.write(buffer.getvalue())
