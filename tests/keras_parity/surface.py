"""The check behind the ``test_keras_<namespace>_surface`` files: a Keras namespace's public
names exist in deepgrad's, each callable with Keras's parameter names, in Keras's order,
with Keras's defaults (a deepgrad function taking ``**kwargs`` may leave some out)."""
import importlib
import inspect

import keras


def _parameters(fn):
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a class without an introspectable __init__
        return {}


def cases(namespace: str) -> list:
    """``(dotted namespace, name)`` for every public name of ``keras.<namespace>`` and of its submodules."""
    out = []
    module = importlib.import_module(f"keras.{namespace}")
    for name in sorted(n for n in dir(module) if not n.startswith("_")):
        value = getattr(module, name)
        if inspect.ismodule(value):
            if value.__name__.startswith(f"keras.{namespace}."):
                out.append((namespace, name))
                out += cases(f"{namespace}.{name}")
            continue
        out.append((namespace, name))
    return out


def check(namespace: str, name: str) -> None:
    theirs = importlib.import_module(f"keras.{namespace}")
    ours = importlib.import_module(f"deepgrad.{namespace}")
    assert hasattr(ours, name), f"deepgrad.{namespace}.{name} is missing"
    ref, fn = getattr(theirs, name), getattr(ours, name)
    if inspect.ismodule(ref):
        assert inspect.ismodule(fn), f"deepgrad.{namespace}.{name} is not a module"
        return
    if not callable(ref):
        return
    assert callable(fn), f"deepgrad.{namespace}.{name} is not callable"
    wanted = {p: v for p, v in _parameters(ref).items() if v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)}
    have = _parameters(fn)
    takes_kwargs = any(v.kind == v.VAR_KEYWORD for v in have.values())
    missing = [p for p in wanted if p not in have and not takes_kwargs]
    assert not missing, f"deepgrad.{namespace}.{name} lacks Keras's parameters {missing}"
    order = [p for p in have if p in wanted]
    assert order == [p for p in wanted if p in have], (
        f"deepgrad.{namespace}.{name} takes {order}, Keras {list(wanted)}: positional calls would differ")
    for p, theirs_p in wanted.items():
        if p in have and theirs_p.default is not inspect.Parameter.empty:
            mine = have[p].default
            assert mine == theirs_p.default or (mine is not inspect.Parameter.empty
                                                and repr(mine) == repr(theirs_p.default)), (
                f"deepgrad.{namespace}.{name}: default of {p!r} is {mine!r}, Keras's is {theirs_p.default!r}")


def run(namespace: str, name: str, not_yet: dict) -> None:
    """``check``, except for the names in ``not_yet`` (name -> why), which must still be missing:
    once one exists the list has to shrink."""
    if name in not_yet:
        ours = importlib.import_module(f"deepgrad.{namespace}")
        assert not hasattr(ours, name), f"deepgrad.{namespace}.{name} exists now: remove it from not_yet"
        return
    if any(namespace.endswith("." + key) for key in not_yet):  # inside a module not written yet
        return
    check(namespace, name)


__all__ = ["cases", "check", "run", "keras"]
