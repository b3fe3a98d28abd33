"""Shared by the ``test_keras_<namespace>_surface`` files: every public name of a Keras namespace
(and of its submodules) exists in deepgrad's, and every class or function takes Keras's
parameters, in Keras's order, with Keras's defaults."""
import importlib
import inspect

import pytest

_KINDS = inspect.Parameter


def public_names(module) -> list[str]:
    return sorted(n for n in dir(module) if not n.startswith("_") and not inspect.ismodule(getattr(module, n)))


def parameters(obj) -> list[inspect.Parameter] | None:
    """A function's parameters, or a class constructor's without ``self``; None if not introspectable."""
    try:
        signature = inspect.signature(obj.__init__ if inspect.isclass(obj) else obj)
    except (TypeError, ValueError):
        return None
    params = list(signature.parameters.values())
    return params[1:] if inspect.isclass(obj) and params and params[0].name == "self" else params


def _same_default(ours, theirs) -> bool:
    if isinstance(ours, (list, tuple)) and isinstance(theirs, (list, tuple)):
        return list(ours) == list(theirs)
    return type(ours) is type(theirs) and ours == theirs or (
        isinstance(ours, (int, float)) and isinstance(theirs, (int, float)) and not isinstance(ours, bool)
        and not isinstance(theirs, bool) and ours == theirs)


def check_same_surface(space: str, theirs_module, ours_module, name: str) -> None:
    """Fail unless deepgrad.<space>.<name> exists with the parameters of keras.<space>.<name>."""
    assert hasattr(ours_module, name), f"deepgrad.{space}.{name} is missing"
    theirs, ours = getattr(theirs_module, name), getattr(ours_module, name)
    if not callable(theirs):
        return
    assert callable(ours), f"deepgrad.{space}.{name} is not callable"
    their_params, our_params = parameters(theirs), parameters(ours)
    if their_params is None:
        return
    assert our_params is not None, f"deepgrad.{space}.{name} has no inspectable signature"
    ours_by_name = {p.name: p for p in our_params}
    kinds = {p.kind for p in our_params}
    named = [p for p in their_params if p.kind not in (_KINDS.VAR_POSITIONAL, _KINDS.VAR_KEYWORD)]
    missing = [p.name for p in named if p.name not in ours_by_name]
    assert not missing, f"deepgrad.{space}.{name} lacks parameter(s) {missing}"
    for p in their_params:
        if p.kind in (_KINDS.VAR_POSITIONAL, _KINDS.VAR_KEYWORD):
            assert p.kind in kinds, f"deepgrad.{space}.{name} does not take {p} as Keras does"
    for p in named:
        mine = ours_by_name[p.name]
        if p.default is _KINDS.empty:
            assert mine.default is _KINDS.empty, \
                f"deepgrad.{space}.{name}: {p.name} is required in Keras but defaults to {mine.default!r}"
        else:
            assert _same_default(mine.default, p.default), \
                f"deepgrad.{space}.{name}: {p.name} defaults to {mine.default!r}, Keras's to {p.default!r}"
    # Keras's positional parameters keep their order (a call like Dense(64, "relu") means the same)
    positional = [p.name for p in named if p.kind in (_KINDS.POSITIONAL_ONLY, _KINDS.POSITIONAL_OR_KEYWORD)]
    our_positional = [p.name for p in our_params if p.kind in (_KINDS.POSITIONAL_ONLY, _KINDS.POSITIONAL_OR_KEYWORD)]
    assert our_positional[:len(positional)] == positional, \
        f"deepgrad.{space}.{name} takes {our_positional} positionally; Keras takes {positional}"


def surface_cases(theirs_module) -> list:
    return [pytest.param(name, id=name) for name in public_names(theirs_module)]


def cases(namespace: str) -> list:
    """``(dotted namespace, name)`` for every public name of ``keras.<namespace>`` and of its submodules."""
    out = []
    module = importlib.import_module(f"keras.{namespace}")
    for name in sorted(n for n in dir(module) if not n.startswith("_")):
        value = getattr(module, name)
        out.append((namespace, name))
        if inspect.ismodule(value) and value.__name__.startswith(f"keras.{namespace}."):
            out += cases(f"{namespace}.{name}")
    return out


def run(namespace: str, name: str, not_yet: dict) -> None:
    """``check_same_surface`` for ``keras.<namespace>.<name>`` (a submodule must be a module here
    too), except for the names in ``not_yet`` (name -> why), which must still be missing: once
    one exists the list has to shrink."""
    theirs, ours = importlib.import_module(f"keras.{namespace}"), importlib.import_module(f"deepgrad.{namespace}")
    if name in not_yet:
        assert not hasattr(ours, name), f"deepgrad.{namespace}.{name} exists now: remove it from not_yet"
        return
    if inspect.ismodule(getattr(theirs, name)):
        assert inspect.ismodule(getattr(ours, name, None)), f"deepgrad.{namespace}.{name} is not a module"
        return
    check_same_surface(namespace, theirs, ours, name)
