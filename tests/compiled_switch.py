"""The settings under which an optional compiled loop (``runtime.numba_loop``) must stay off."""
import sys


def off_cases(monkeypatch, compiled_module, numba):
    """Set each case in turn (``DEEPGRAD_NUMBA`` unset; "0"; "1" with numba not importable), the
    module's cache of loops cleared, and yield it; afterwards numba is importable again and the
    cache cleared, with ``DEEPGRAD_NUMBA=1`` (the loops' on case) still set."""
    for env, numba_module in ((None, numba), ("0", numba), ("1", None)):
        monkeypatch.setattr(compiled_module, "loaded", {})
        if env is None:
            monkeypatch.delenv("DEEPGRAD_NUMBA", raising=False)
        else:
            monkeypatch.setenv("DEEPGRAD_NUMBA", env)
        monkeypatch.setitem(sys.modules, "numba", numba_module)  # None: import numba raises ImportError
        yield env
    monkeypatch.setattr(compiled_module, "loaded", {})
    monkeypatch.setitem(sys.modules, "numba", numba)
