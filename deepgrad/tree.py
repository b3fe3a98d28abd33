"""Floor 1: nested structures of lists, tuples, namedtuples and dicts, with ``keras.tree``'s names.

A structure is a leaf (anything else, None included) or a node: a list, a tuple, a
namedtuple, a dict. A plain dict (and a ``defaultdict``) is walked in sorted key order, an
``OrderedDict`` in its own order, so ``flatten`` is deterministic, as in Keras.
``flatten_with_path`` gives each leaf the keys and indices that lead to it; a namedtuple's
field counts by its place among the sorted field names of the whole structure (Keras's rule).
"""
from __future__ import annotations

from collections import OrderedDict, defaultdict


class MAP_TO_NONE:
    """Returned by a ``traverse`` function to put None where the visited node was."""


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _node(x):
    """``(keys, children)`` of a node, or None for a leaf."""
    if isinstance(x, (list, tuple)):
        return list(range(len(x))), list(x)
    if isinstance(x, dict):
        keys = list(x) if isinstance(x, OrderedDict) else sorted(x)
        return keys, [x[k] for k in keys]
    return None


def _rebuild(like, keys, children):
    """A node of ``like``'s type holding ``children`` (a dict keeps the keys in walking order)."""
    if _is_namedtuple(like):
        return type(like)(*children)
    if isinstance(like, tuple):
        return tuple(children)
    if isinstance(like, list):
        return list(children)
    if isinstance(like, defaultdict):
        return defaultdict(like.default_factory, zip(keys, children))
    if isinstance(like, OrderedDict):
        return type(like)(zip(keys, children))
    return dict(zip(keys, children))


def is_nested(structure) -> bool:
    """True for a list, tuple, namedtuple or dict (even an empty one)."""
    return _node(structure) is not None


def flatten(structure) -> list:
    """The leaves in walking order (dicts by sorted key)."""
    leaves, stack = [], [structure]
    while stack:
        x = stack.pop()
        node = _node(x)
        if node is None:
            leaves.append(x)
        else:
            stack.extend(reversed(node[1]))
    return leaves


def _namedtuple_fields(structure) -> list:
    fields = set()
    stack = [structure]
    while stack:
        x = stack.pop()
        node = _node(x)
        if node is not None:
            if _is_namedtuple(x):
                fields.update(type(x)._fields)
            stack.extend(node[1])
    return sorted(fields)


def flatten_with_path(structure) -> list:
    """``[(path, leaf), ...]``: a path is the tuple of indices and keys from the root to the leaf."""
    index = {f: i for i, f in enumerate(_namedtuple_fields(structure))}
    out, stack = [], [((), structure)]
    while stack:
        path, x = stack.pop()
        node = _node(x)
        if node is None:
            out.append((path, x))
            continue
        keys, children = node
        if _is_namedtuple(x):
            keys = [index[f] for f in type(x)._fields]
        stack.extend(reversed([(path + (k,), c) for k, c in zip(keys, children)]))
    return out


def _check_node(a, b) -> None:
    if type(a) is not type(b) and not (isinstance(a, dict) and isinstance(b, dict)):
        raise ValueError(f"Structures don't have the same nested structure: node type mismatch; expected "
                         f"{type(a)}, but got {type(b)}.")
    ka, kb = _node(a)[0], _node(b)[0]
    if (sorted(ka, key=repr) if isinstance(a, dict) else ka) != (sorted(kb, key=repr) if isinstance(b, dict) else kb):
        raise ValueError(f"Structures don't have the same nested structure: {a!r} has keys/length {ka}, "
                         f"{b!r} has {kb}.")


def _flatten_up_to(shallow, structure) -> list:
    """The subtrees of ``structure`` at the leaves of ``shallow`` (same nodes above them)."""
    node = _node(shallow)
    if node is None:
        return [structure]
    if _node(structure) is None:
        raise ValueError(f"Structures don't have the same nested structure: expected a {type(shallow).__name__}, "
                         f"got {structure!r}.")
    _check_node(shallow, structure)
    keys, children = node
    other = [structure[k] for k in keys]
    return [leaf for c, o in zip(children, other) for leaf in _flatten_up_to(c, o)]


def _map(func, structure, others, keep_order: bool = True):
    """``func`` over the leaves of ``structure`` and the matching subtrees of ``others``; a dict keeps
    its own key order in the result."""
    node = _node(structure)
    if node is None:
        return func(structure, *others)
    keys, children = node
    for o in others:
        if _node(o) is None:
            raise ValueError(f"Structures don't have the same nested structure: expected a "
                             f"{type(structure).__name__}, got {o!r}.")
        _check_node(structure, o)
    mapped = [_map(func, c, [o[k] for o in others]) for k, c in zip(keys, children)]
    if isinstance(structure, dict) and keep_order:
        by_key = dict(zip(keys, mapped))
        keys = list(structure)
        mapped = [by_key[k] for k in keys]
    return _rebuild(structure, keys, mapped)


def map_structure(func, *structures, none_is_leaf=True):
    """``func`` applied to the leaves of ``structures[0]`` and the matching parts of the others.
    With ``none_is_leaf=False`` a None in the first structure stays None (the others must be None there)."""
    if not structures:
        raise ValueError("map_structure: must provide at least one structure")
    fn = func
    if not none_is_leaf:
        def fn(*args):
            if args[0] is None:
                if not all(a is None for a in args):
                    raise ValueError(f"map_structure: structure mismatch, some arguments are None, others are "
                                     f"not: {args}")
                return None
            return func(*args)
    return _map(fn, structures[0], list(structures[1:]))


def map_structure_up_to(shallow_structure, func, *structures):
    """``func`` over ``structures`` down to the leaves of ``shallow_structure`` only."""
    if not structures:
        raise ValueError("map_structure_up_to: must provide at least one structure")
    return _map(lambda _, *args: func(*args), shallow_structure, list(structures))


def assert_same_structure(a, b, check_types=None):
    """Raises ValueError unless ``a`` and ``b`` have the same nodes (types and keys) down to their leaves."""
    _map(lambda x, y: None if _node(y) is None else _raise_mismatch(x, y), a, [b])


def _raise_mismatch(x, y):
    raise ValueError(f"Structures don't have the same nested structure: {x!r} against {y!r}.")


def assert_same_paths(a, b):
    """Raises ValueError unless ``a`` and ``b`` have the same set of leaf paths."""
    a_paths = {p for p, _ in flatten_with_path(a)}
    b_paths = {p for p, _ in flatten_with_path(b)}
    if a_paths != b_paths:
        msg = "`a` and `b` don't have the same paths."
        if a_paths - b_paths:
            msg += f"\nPaths in `a` missing in `b`:\n{a_paths - b_paths}"
        if b_paths - a_paths:
            msg += f"\nPaths in `b` missing in `a`:\n{b_paths - a_paths}"
        raise ValueError(msg)


def pack_sequence_as(structure, flat_sequence):
    """``flat_sequence`` in the nesting of ``structure`` (the inverse of ``flatten``)."""
    flat_sequence = list(flat_sequence)
    count = len(flatten(structure))
    if count != len(flat_sequence):
        raise ValueError(f"pack_sequence_as: the structure has {count} leaves, the flat sequence has "
                         f"{len(flat_sequence)} elements")
    items = iter(flat_sequence)
    return _map(lambda _: next(items), structure, [], keep_order=False)


def traverse(func, structure, top_down=True):
    """``func`` on every node and leaf. Top-down: a non-None result replaces the subtree without
    visiting it; bottom-up: ``func`` sees the traversed children. ``MAP_TO_NONE`` puts None."""
    def children_traversed(x):
        node = _node(x)
        if node is None:
            return x
        keys, children = node
        return _rebuild(x, keys, [traverse(func, c, top_down) for c in children])

    if top_down:
        result = func(structure)
        if result is None:
            return children_traversed(structure)
    else:
        done = children_traversed(structure)
        result = func(done)
        if result is None:
            return done
    return None if result is MAP_TO_NONE else result


def lists_to_tuples(structure):
    """The structure with every list made a tuple."""
    return traverse(lambda x: tuple(x) if isinstance(x, list) else None, structure, top_down=False)


def _is_shape(x) -> bool:
    return isinstance(x, (list, tuple)) and all(isinstance(e, (int, type(None))) for e in x)


def map_shape_structure(func, structure):
    """``map_structure`` where a tuple or list of ints and Nones (a shape) is a leaf."""
    if _is_shape(structure):
        return func(structure)
    node = _node(structure)
    if node is None:
        return func(structure)
    keys, children = node
    return _rebuild(structure, keys, [map_shape_structure(func, c) for c in children])


__all__ = ["MAP_TO_NONE", "assert_same_paths", "assert_same_structure", "flatten", "flatten_with_path", "is_nested",
           "lists_to_tuples", "map_shape_structure", "map_structure", "map_structure_up_to", "pack_sequence_as",
           "traverse"]
