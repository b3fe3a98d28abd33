"""Fixtures for dataset tests: isolated data folders and a local HTTP server on 127.0.0.1."""
import functools
import http.server
import os
import threading

import pytest

from deepgrad.datasets import sources


@pytest.fixture
def data_dirs(tmp_path, monkeypatch):
    """Point every place data is looked for at empty temporary folders; no network."""
    home = tmp_path / "home"
    dirs = {"home": home, "cache": home / ".deepgrad" / "datasets", "keras": home / ".keras" / "datasets",
            "system": tmp_path / "usr-share-datasets"}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("DEEPGRAD_HOME", raising=False)
    monkeypatch.delenv("DEEPGRAD_DATASETS_URL", raising=False)
    monkeypatch.setenv("DEEPGRAD_OFFLINE", "1")
    monkeypatch.setattr(sources, "BASE_URL", None)
    monkeypatch.setattr(sources, "SEARCH_PATHS", ["{cache}", os.path.join("~", ".keras", "datasets"),
                                                  str(dirs["system"])])
    return dirs


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_server(tmp_path):
    """A threaded HTTP server on 127.0.0.1 serving ``root``; records request paths; shut down after."""
    root = tmp_path / "served"
    root.mkdir()
    requests = []

    class Handler(_QuietHandler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield {"root": root, "url": f"http://127.0.0.1:{server.server_address[1]}", "requests": requests}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
