"""get_file and extract_archive: downloads from a local server on 127.0.0.1, hashes, safe extraction."""
import functools
import hashlib
import http.server
import io
import os
import tarfile
import threading
import zipfile

import pytest

from deepgrad.utils import get_file, hash_file, validate_file
from deepgrad.utils.file_utils import ChecksumError, DownloadError, extract_archive


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    requests = []

    class Handler(_Handler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}", requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


PAYLOAD = b"deepgrad test payload\n" * 1000
SHA = hashlib.sha256(PAYLOAD).hexdigest()
MD5 = hashlib.md5(PAYLOAD).hexdigest()


def test_get_file_downloads_checks_and_caches(server, tmp_path, capsys):
    root, url, requests = server
    (root / "data.bin").write_bytes(PAYLOAD)
    path = get_file(origin=url + "/data.bin", file_hash=SHA, cache_dir=str(tmp_path / "cache"))
    assert path == str(tmp_path / "cache" / "datasets" / "data.bin")
    assert open(path, "rb").read() == PAYLOAD
    err = capsys.readouterr().err
    assert "Downloading data from " + url in err and "data.bin" in err and "100%" in err
    get_file("data.bin", url + "/data.bin", file_hash=SHA, cache_dir=str(tmp_path / "cache"))
    assert requests == ["/data.bin"]  # the good cached copy is reused
    assert os.listdir(tmp_path / "cache" / "datasets") == ["data.bin"]


def test_cached_file_with_wrong_hash_is_fetched_again(server, tmp_path):
    root, url, requests = server
    (root / "data.bin").write_bytes(PAYLOAD)
    cached = tmp_path / "cache" / "sub"
    cached.mkdir(parents=True)
    (cached / "data.bin").write_bytes(b"stale")
    path = get_file("data.bin", url + "/data.bin", md5_hash=MD5, cache_dir=str(tmp_path / "cache"), cache_subdir="sub")
    assert open(path, "rb").read() == PAYLOAD and requests == ["/data.bin"]


def test_checksum_mismatch_raises_with_both_hashes_and_keeps_nothing(server, tmp_path):
    root, url, _ = server
    (root / "data.bin").write_bytes(PAYLOAD + b"tampered")
    wrong = hashlib.sha256(PAYLOAD + b"tampered").hexdigest()
    with pytest.raises(ChecksumError) as info:
        get_file("data.bin", url + "/data.bin", file_hash=SHA, cache_dir=str(tmp_path / "cache"))
    assert "checksum mismatch for data.bin" in str(info.value)
    assert SHA in str(info.value) and wrong in str(info.value)
    assert os.listdir(tmp_path / "cache" / "datasets") == []


def test_missing_url_is_a_download_error(server, tmp_path):
    _, url, _ = server
    with pytest.raises(DownloadError, match="HTTP 404"):
        get_file("nothing.bin", url + "/nothing.bin", cache_dir=str(tmp_path))
    assert os.listdir(tmp_path / "datasets") == []


def test_get_file_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="needs `origin`"):
        get_file("a.bin")
    with pytest.raises(ValueError, match="must be a file name, not a path"):
        get_file("sub/a.bin", "http://127.0.0.1:9/a.bin", cache_dir=str(tmp_path))


def _tar_gz(members: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_get_file_extracts_archive(server, tmp_path):
    root, url, _ = server
    (root / "pack.tar.gz").write_bytes(_tar_gz({"pack/a.txt": b"A", "pack/b/c.txt": b"C"}))
    path = get_file(origin=url + "/pack.tar.gz", extract=True, cache_dir=str(tmp_path))
    assert path == str(tmp_path / "datasets" / "pack_extracted")
    assert (tmp_path / "datasets" / "pack_extracted" / "pack" / "b" / "c.txt").read_bytes() == b"C"


def test_hash_helpers(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(PAYLOAD)
    assert hash_file(str(f)) == SHA and hash_file(str(f), "md5") == MD5
    assert validate_file(str(f), SHA) and validate_file(str(f), MD5.upper())
    assert not validate_file(str(f), "0" * 64)


@pytest.mark.parametrize("name", ["../escape.txt", "/tmp/escape.txt", "ok/../../escape.txt"])
def test_extract_refuses_path_traversal(tmp_path, name):
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(_tar_gz({"fine.txt": b"x", name: b"pwned"}))
    with pytest.raises(ValueError, match="absolute paths and '..' are not allowed"):
        extract_archive(str(archive), str(tmp_path / "out"))
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out" / "fine.txt").exists()


def test_extract_refuses_links(tmp_path):
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("passwd")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(ValueError, match="only regular files and directories"):
        extract_archive(str(archive), str(tmp_path / "out"))
    assert not (tmp_path / "out" / "passwd").exists()


def test_extract_zip_and_its_traversal(tmp_path):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("d/x.txt", "X")
    assert extract_archive(str(good), str(tmp_path / "out"))
    assert (tmp_path / "out" / "d" / "x.txt").read_text() == "X"
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escape.txt", "pwned")
    with pytest.raises(ValueError, match="absolute paths and '..'"):
        extract_archive(str(evil), str(tmp_path / "out2"))


def test_extract_corrupt_and_non_archive(tmp_path):
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(_tar_gz({"a": b"x" * 5000})[:-30])
    with pytest.raises(ValueError, match="broken.tar.gz: corrupt or truncated archive"):
        extract_archive(str(broken), str(tmp_path / "out"))
    plain = tmp_path / "plain.txt"
    plain.write_text("not an archive")
    assert extract_archive(str(plain), str(tmp_path / "out")) is False


def test_connection_closed_early_keeps_nothing(tmp_path):
    class Short(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.close_connection = True

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Short)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with pytest.raises(DownloadError, match="cannot download .*/short.bin: connection (closed|lost) after 10"):
            get_file("short.bin", f"http://127.0.0.1:{httpd.server_address[1]}/short.bin", cache_dir=str(tmp_path))
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    assert os.listdir(tmp_path / "datasets") == []
