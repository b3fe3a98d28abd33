"""The settings under which a compiled loop (``runtime.compiled_loop``) must stay off, and the
extensions built for these tests."""
import importlib
import sys

import pytest


def extension(module: str):
    """``deepgrad.loops.<module>``: the tests of a compiled loop need it built (``make install``
    builds it; test_runtime fails when it is missing)."""
    try:
        return importlib.import_module(f"deepgrad.loops.{module}")
    except ImportError:
        pytest.skip(f"deepgrad.loops.{module} is not built")


def off_cases(monkeypatch, compiled_module, module: str):
    """Set each case in turn (``DEEPGRAD_LOOPS=0``; the extension ``deepgrad.loops.<module>`` not
    importable), the module's cache of loops cleared, and yield it; afterwards the extension is
    importable again, the switch unset and the cache cleared (the loops' on case)."""
    name = f"deepgrad.loops.{module}"
    built = sys.modules.get(name) or extension(module)
    for env, loaded_extension in (("0", built), (None, None)):
        monkeypatch.setattr(compiled_module, "loaded", {})
        if env is None:
            monkeypatch.delenv("DEEPGRAD_LOOPS", raising=False)
        else:
            monkeypatch.setenv("DEEPGRAD_LOOPS", env)
        monkeypatch.setitem(sys.modules, name, loaded_extension)  # None: importing it raises ImportError
        yield env
    monkeypatch.setattr(compiled_module, "loaded", {})
    monkeypatch.setitem(sys.modules, name, built)
