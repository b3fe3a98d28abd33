"""Every public name of ``keras.ops`` (and its ``nn``/``linalg``/``image``/``numpy`` modules)
and of ``keras.random`` exists in deepgrad, and accepts every parameter Keras's has."""
import inspect

import keras
import pytest

import deepgrad
import deepgrad.ops
import deepgrad.random

NAMESPACES = {
    "ops": (keras.ops, deepgrad.ops),
    "ops.nn": (keras.ops.nn, deepgrad.ops.nn),
    "ops.linalg": (keras.ops.linalg, deepgrad.ops.linalg),
    "ops.image": (keras.ops.image, getattr(deepgrad.ops, "image", None)),
    "ops.numpy": (keras.ops.numpy, getattr(deepgrad.ops, "numpy", None)),
    "random": (keras.random, deepgrad.random),
}


def _public(module):
    return sorted(n for n in dir(module) if not n.startswith("_") and not inspect.ismodule(getattr(module, n)))


CASES = [(space, name) for space, (theirs, _) in NAMESPACES.items() for name in _public(theirs)]


def _parameters(fn):
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a class without an introspectable __init__
        return {}


@pytest.mark.parametrize("space,name", CASES, ids=[f"{s}.{n}" for s, n in CASES])
def test_name_exists_with_kerass_parameters(space, name):
    theirs, ours = NAMESPACES[space]
    assert ours is not None, f"deepgrad.{space} does not exist"
    assert hasattr(ours, name), f"deepgrad.{space}.{name} is missing"
    fn = getattr(ours, name)
    assert callable(fn), f"deepgrad.{space}.{name} is not callable"
    ref = getattr(theirs, name)
    wanted = [p for p, v in _parameters(ref).items() if v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)]
    have = _parameters(fn)
    takes_kwargs = any(v.kind == v.VAR_KEYWORD for v in have.values())
    missing = [p for p in wanted if p not in have and not takes_kwargs]
    assert not missing, f"deepgrad.{space}.{name} lacks Keras's parameters {missing}"
    for p in wanted:
        if p in have and _parameters(ref)[p].default is not inspect.Parameter.empty:
            ours_default, their_default = have[p].default, _parameters(ref)[p].default
            assert ours_default == their_default or (ours_default is not inspect.Parameter.empty
                                                     and repr(ours_default) == repr(their_default)), (
                f"deepgrad.{space}.{name}: default of {p!r} is {ours_default!r}, Keras's is {their_default!r}")


def test_top_level_has_every_op():
    missing = [n for n in _public(keras.ops) if not hasattr(deepgrad, n)]
    assert not missing, f"deepgrad lacks top-level ops {missing}"
