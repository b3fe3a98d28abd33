"""Files from the network: ``get_file`` (Keras's name), checksums and safe archive extraction.

A download is streamed into a temporary file in the destination directory, hashed on the
way, checked against the expected SHA-256 (or MD5) and only then renamed into place
(``files.atomic.atomic_write``): a crash or a bad checksum never leaves a half-written or
wrong file where a loader would read it.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib

CHUNK_SIZE = 1 << 16
TIMEOUT = 30.0  # seconds without a byte before a download is abandoned


class DownloadError(OSError):
    """A file could not be fetched (network down, HTTP error, bad checksum)."""


class ChecksumError(DownloadError):
    """The downloaded bytes do not have the expected hash; nothing was kept."""


def deepgrad_home() -> str:
    """``$DEEPGRAD_HOME`` if set, otherwise ``~/.deepgrad``."""
    return os.path.expanduser(os.environ.get("DEEPGRAD_HOME") or os.path.join("~", ".deepgrad"))


# --------------------------------------------------------------------------- hashes
def resolve_hasher(algorithm: str = "auto", file_hash: str | None = None):
    """``"sha256"``, ``"md5"``, or ``"auto"``: 64 hex digits mean SHA-256, 32 mean MD5."""
    if algorithm == "auto":
        algorithm = "md5" if file_hash is not None and len(file_hash) == 32 else "sha256"
    if algorithm not in ("sha256", "md5"):
        raise ValueError(f"hash_algorithm must be 'auto', 'sha256' or 'md5', got {algorithm!r}")
    return hashlib.new(algorithm)


def hash_file(fpath: str, algorithm: str = "sha256", chunk_size: int = CHUNK_SIZE) -> str:
    """The hex digest of a file, read in chunks (datasets are hundreds of MB)."""
    hasher = resolve_hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath: str, file_hash: str, algorithm: str = "auto") -> bool:
    return hash_file(fpath, resolve_hasher(algorithm, file_hash)) == file_hash.lower()


# --------------------------------------------------------------------------- progress
class _ProgressBar:
    """A download progress bar on stderr: tqdm when installed, otherwise one text line."""

    def __init__(self, total: int | None, desc: str, stream=None):
        self.total, self.done, self.desc = total, 0, desc
        self.stream = stream or sys.stderr
        self._last = 0.0
        try:
            from tqdm import tqdm
        except ImportError:
            self._tqdm = None
        else:
            self._tqdm = tqdm(total=total, desc=desc, unit="B", unit_scale=True, file=self.stream)

    def update(self, n: int) -> None:
        self.done += n
        if self._tqdm is not None:
            self._tqdm.update(n)
        elif time.monotonic() - self._last > 0.2:
            self._last = time.monotonic()
            self._draw()

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
        else:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self) -> None:
        mb = self.done / 1e6
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "=" * int(30 * frac)
            line = f"{self.desc} [{bar:<30s}] {mb:.1f}/{self.total / 1e6:.1f} MB {100 * frac:3.0f}%"
        else:
            line = f"{self.desc} {mb:.1f} MB"
        self.stream.write("\r" + line)
        self.stream.flush()


# --------------------------------------------------------------------------- download
def download(origin: str, target: str, file_hash: str | None = None, hash_algorithm: str = "auto") -> str:
    """Fetch ``origin`` into ``target`` atomically, checking ``file_hash`` if given."""
    from ..files.atomic import atomic_write  # on first download: loaders import this module lightly

    directory = os.path.dirname(os.path.abspath(target))
    os.makedirs(directory, exist_ok=True)
    hasher = resolve_hasher(hash_algorithm, file_hash)
    with atomic_write(target, "wb") as out:
        try:
            response = urllib.request.urlopen(origin, timeout=TIMEOUT)
        except urllib.error.HTTPError as e:
            raise DownloadError(f"cannot download {origin}: HTTP {e.code} {e.reason}") from e
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise DownloadError(f"cannot download {origin}: {reason}") from e
        with response:
            length = response.headers.get("Content-Length")
            bar = _ProgressBar(int(length) if length else None, os.path.basename(target))
            try:
                for chunk in iter(lambda: response.read(CHUNK_SIZE), b""):
                    out.write(chunk)
                    hasher.update(chunk)
                    bar.update(len(chunk))
            except (http.client.HTTPException, ConnectionError, TimeoutError) as e:
                raise DownloadError(f"cannot download {origin}: connection lost after {bar.done} "
                                    f"bytes ({type(e).__name__}: {e})") from e
            finally:
                bar.close()
            if length and bar.done != int(length):
                raise DownloadError(f"cannot download {origin}: connection closed after "
                                    f"{bar.done} of {length} bytes")
        # checked before the rename: a wrong file is removed, never put in place
        if file_hash is not None and hasher.hexdigest() != file_hash.lower():
            raise ChecksumError(
                f"checksum mismatch for {os.path.basename(target)} downloaded from {origin}: "
                f"expected {hasher.name} {file_hash.lower()}, got {hasher.hexdigest()}; the file was "
                f"not kept. The download was corrupted or the server sent a different file.")
    return target


def get_file(fname: str | None = None, origin: str | None = None, untar: bool = False,
             md5_hash: str | None = None, file_hash: str | None = None, cache_subdir: str = "datasets",
             hash_algorithm: str = "auto", extract: bool = False, archive_format: str = "auto",
             cache_dir: str | None = None, force_download: bool = False) -> str:
    """Download ``origin`` to ``cache_dir/cache_subdir/fname`` unless a good copy is there.

    As Keras's ``get_file``: ``cache_dir`` defaults to ``$DEEPGRAD_HOME`` (``~/.deepgrad``);
    a cached file whose hash does not match ``file_hash`` is downloaded again; with
    ``extract=True`` (or ``untar=True``) the archive is unpacked, safely, into
    ``<fname without extension>_extracted`` (or ``fname`` itself when it has no extension)
    and that directory is returned. Returns the path of the file or directory.
    """
    if origin is None:
        raise ValueError("get_file needs `origin`, the URL of the file to download")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"cannot tell a file name from origin {origin!r}: pass `fname`")
    elif os.sep in fname or (os.altsep and os.altsep in fname):
        raise ValueError(f"`fname` must be a file name, not a path (got {fname!r}); use `cache_dir`")
    datadir = os.path.join(os.path.expanduser(cache_dir or deepgrad_home()), cache_subdir)
    os.makedirs(datadir, exist_ok=True)

    if extract or untar:
        stem = fname.split(".", 1)[0]
        has_ext = "." in fname
        target = os.path.join(datadir, fname if has_ext else fname + "_archive")
        extraction_dir = os.path.join(datadir, stem + "_extracted" if has_ext else fname)
    else:
        target = os.path.join(datadir, fname)

    fresh = force_download or not os.path.exists(target)
    if not fresh and file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
        print(f"{target} does not match its expected hash; downloading it again", file=sys.stderr)
        fresh = True
    if fresh:
        print(f"Downloading data from {origin}", file=sys.stderr)
        download(origin, target, file_hash, hash_algorithm)

    if extract or untar:
        extract_archive(target, extraction_dir, "tar" if untar else archive_format)
        return extraction_dir
    return target


# --------------------------------------------------------------------------- archives
def _check_member_path(archive: str, name: str, root: str) -> str:
    """The absolute destination of an archive member, refusing anything that escapes ``root``."""
    if os.path.isabs(name) or name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
        raise ValueError(f"{archive}: refusing member {name!r}: absolute paths and '..' are not allowed")
    dest = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([dest, root]) != root:
        raise ValueError(f"{archive}: refusing member {name!r}: it would be written outside {root}")
    return dest


def extract_archive(file_path: str, path: str = ".", archive_format: str = "auto") -> bool:
    """Unpack a tar (plain, .gz, .bz2, .xz) or zip archive into ``path``, safely.

    Every member is checked before anything is written: absolute names, ``..`` components,
    and links, devices or FIFOs are refused, so a hostile archive cannot write outside
    ``path``. Returns False if the file is not an archive of an accepted format.
    """
    formats = ["tar", "zip"] if archive_format == "auto" else [archive_format]
    root = os.path.realpath(path)
    try:
        if "tar" in formats and tarfile.is_tarfile(file_path):
            with tarfile.open(file_path) as tar:
                members = tar.getmembers()
                for m in members:
                    _check_member_path(file_path, m.name, root)
                    if not (m.isfile() or m.isdir()):
                        raise ValueError(f"{file_path}: refusing member {m.name!r}: only regular "
                                         f"files and directories are extracted, not links or devices")
                os.makedirs(root, exist_ok=True)
                for m in members:
                    dest = _check_member_path(file_path, m.name, root)
                    if m.isdir():
                        os.makedirs(dest, exist_ok=True)
                        continue
                    os.makedirs(os.path.dirname(dest), exist_ok=True)
                    with tar.extractfile(m) as src, open(dest, "wb") as out:
                        for chunk in iter(lambda: src.read(CHUNK_SIZE), b""):
                            out.write(chunk)
            return True
        if "zip" in formats and zipfile.is_zipfile(file_path):
            with zipfile.ZipFile(file_path) as zf:
                for info in zf.infolist():
                    _check_member_path(file_path, info.filename, root)
                    if (info.external_attr >> 16) & 0o170000 == 0o120000:
                        raise ValueError(f"{file_path}: refusing symbolic link {info.filename!r}")
                os.makedirs(root, exist_ok=True)
                for info in zf.infolist():
                    dest = _check_member_path(file_path, info.filename, root)
                    if info.is_dir():
                        os.makedirs(dest, exist_ok=True)
                        continue
                    os.makedirs(os.path.dirname(dest), exist_ok=True)
                    with zf.open(info) as src, open(dest, "wb") as out:
                        for chunk in iter(lambda: src.read(CHUNK_SIZE), b""):
                            out.write(chunk)
            return True
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"{file_path}: corrupt or truncated archive ({e})") from e
    return False
