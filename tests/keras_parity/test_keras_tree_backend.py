"""``deepgrad.tree`` and the Keras names of ``deepgrad.backend`` against ``keras.tree`` and ``keras.backend``."""
import collections
import inspect

import keras
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import backend, tree

Point = collections.namedtuple("Point", "y x")
STRUCTURES = [
    5, None, (), [], {}, [None, 1, {"b": 2, "a": (3, None)}], {"b": [1, 2], "a": 3}, Point(1, [2, 3]),
    collections.OrderedDict([("z", 1), ("a", [2, {"q": 4, "p": 5}])]), ((1, 2), [3, (4, [5])]),
    {"x": Point(x=[1, 2], y={"k": 3}), "w": [[], ()]},
    collections.defaultdict(list, {"b": [1], "a": 2}),
]


def test_tree_has_every_keras_name_with_its_signature():
    names = [n for n in dir(keras.tree) if not n.startswith("_")]
    assert len(names) == 12
    for name in names:
        ours, theirs = getattr(tree, name), getattr(keras.tree, name)
        assert list(inspect.signature(ours).parameters) == list(inspect.signature(theirs).parameters), name


@pytest.mark.parametrize("structure", STRUCTURES, ids=range(len(STRUCTURES)))
def test_tree_functions_give_keras_results(structure):
    assert tree.flatten(structure) == keras.tree.flatten(structure)
    assert tree.flatten_with_path(structure) == keras.tree.flatten_with_path(structure)
    assert tree.is_nested(structure) == keras.tree.is_nested(structure)
    ours, theirs = tree.map_structure(repr, structure), keras.tree.map_structure(repr, structure)
    assert ours == theirs and type(ours) is type(theirs)
    assert list(ours) == list(theirs) if isinstance(ours, dict) else True
    assert tree.lists_to_tuples(structure) == keras.tree.lists_to_tuples(structure)
    flat = [f"leaf{i}" for i in range(len(keras.tree.flatten(structure)))]
    packed, k_packed = tree.pack_sequence_as(structure, flat), keras.tree.pack_sequence_as(structure, flat)
    assert packed == k_packed and type(packed) is type(k_packed)
    assert tree.map_shape_structure(repr, structure) == keras.tree.map_shape_structure(repr, structure)


def test_map_structure_several_structures_and_none_is_leaf():
    a, b = {"b": [1, 2], "a": 3}, {"a": 10, "b": [20, 30]}
    assert tree.map_structure(lambda x, y: x + y, a, b) == keras.tree.map_structure(lambda x, y: x + y, a, b)
    assert tree.map_structure(lambda x, y: (x, y), [1, 2], [1, [2]]) == \
        keras.tree.map_structure(lambda x, y: (x, y), [1, 2], [1, [2]])
    for module in (tree, keras.tree):
        assert module.map_structure(lambda x: 0, [None, 1], none_is_leaf=False) == [None, 0]
        assert module.map_structure(lambda x: 0, [None, 1]) == [0, 0]
        with pytest.raises(ValueError):
            module.map_structure(lambda x, y: x, [1, 2], [1, 2, 3])
        with pytest.raises(ValueError):
            module.map_structure(lambda x, y: x, [None, 1], [2, 1], none_is_leaf=False)
    assert tree.map_structure_up_to([0, 0], len, [[1], [2, 3]]) == keras.tree.map_structure_up_to(
        [0, 0], len, [[1], [2, 3]]) == [1, 2]


def test_assert_same_structure_and_paths():
    for module in (tree, keras.tree):
        module.assert_same_structure([1, (2, {"a": 3})], [4, (5, {"a": 6})])
        module.assert_same_paths([1, (2, 3)], [4, [5, 6]])
        for a, b in [([1, 2], (1, 2)), ([1, 2], [1, [2]]), ({"a": 1}, {"b": 1})]:
            with pytest.raises(ValueError):
                module.assert_same_structure(a, b)
        with pytest.raises(ValueError, match="same paths"):
            module.assert_same_paths({"a": 1}, {"b": 1})


def test_traverse_top_down_bottom_up_and_map_to_none():
    structure = [1, (2, [3, 4]), {"b": 5, "a": [6]}]
    seen = {}
    for module in (tree, keras.tree):
        visited = []
        module.traverse(lambda x: visited.append(x) and None, structure)
        seen[module] = visited
        assert module.traverse(lambda x: "short" if isinstance(x, tuple) else None, structure) == \
            [1, "short", {"a": [6], "b": 5}]
        assert module.traverse(lambda x: module.MAP_TO_NONE if isinstance(x, int) else None, structure) == \
            [None, (None, [None, None]), {"a": [None], "b": None}]
        assert module.traverse(lambda x: len(x) if isinstance(x, list) else None, structure, top_down=False) == 3
    assert seen[tree] == seen[keras.tree]
    assert tree.pack_sequence_as([1, {"b": 0, "a": 0}], "xyz") == keras.tree.pack_sequence_as([1, {"b": 0, "a": 0}],
                                                                                              list("xyz"))
    with pytest.raises(ValueError, match="3 leaves"):
        tree.pack_sequence_as([1, [2, 3]], [1, 2])


# --------------------------------------------------------------------------- keras.backend
BACKEND_NAMES = ["backend", "clear_session", "epsilon", "floatx", "get_uid", "image_data_format", "is_float_dtype",
                 "is_int_dtype", "is_keras_tensor", "result_type", "set_epsilon", "set_floatx",
                 "set_image_data_format", "standardize_dtype"]


def test_backend_has_every_keras_name_with_its_parameters():
    assert sorted(n for n in dir(keras.backend) if not n.startswith("_")) == BACKEND_NAMES
    for name in BACKEND_NAMES:
        ours = inspect.signature(getattr(backend, name)).parameters
        theirs = inspect.signature(getattr(keras.backend, name)).parameters
        assert list(ours) == list(theirs), name
        assert [p.default for p in ours.values()] == [p.default for p in theirs.values()], name
    assert dg.backend is backend and backend.backend() == "numpy"


DTYPES = ["float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16",
          "uint32", "bool", "complex64", np.float32, np.int64, np.dtype("uint8"), "int", int, float, bool,
          None]


@pytest.mark.parametrize("dtype", DTYPES, ids=[str(d) for d in DTYPES])
def test_dtype_predicates_and_standardize_dtype_as_keras(dtype):
    assert backend.standardize_dtype(dtype) == keras.backend.standardize_dtype(dtype)
    if dtype is not None:
        assert backend.is_float_dtype(dtype) == keras.backend.is_float_dtype(dtype)
        assert backend.is_int_dtype(dtype) == keras.backend.is_int_dtype(dtype)


@pytest.mark.parametrize("dtypes", [("int32", "float16"), ("uint8", "int8"), ("int64", "float32"), ("bool", "int8"),
                                    ("uint16", "int16"), ("float16", "bfloat16"),
                                    ("int8",), ("uint16", "uint8", "bool")])
def test_result_type_as_keras(dtypes):
    assert backend.result_type(*dtypes) == keras.backend.result_type(*dtypes)


def test_image_data_format_round_trip_and_errors():
    assert backend.image_data_format() == keras.backend.image_data_format() == "channels_last"
    try:
        backend.set_image_data_format("channels_first")
        keras.backend.set_image_data_format("channels_first")
        assert backend.image_data_format() == keras.backend.image_data_format() == "channels_first"
    finally:
        backend.set_image_data_format("channels_last")
        keras.backend.set_image_data_format("channels_last")
    for bad in ("channels_middle", "nhwc"):
        with pytest.raises(ValueError):
            backend.set_image_data_format(bad)
        with pytest.raises(ValueError):
            keras.backend.set_image_data_format(bad)


def test_get_uid_counts_per_prefix_and_clear_session_resets_it_and_layer_names():
    for module in (backend, keras.backend):  # free_memory=False: no garbage collection, same counters
        module.clear_session(free_memory=False)
        assert [module.get_uid("probe"), module.get_uid("probe"), module.get_uid("other"), module.get_uid("probe")] \
            == [1, 2, 1, 3]
        module.clear_session(free_memory=False)
        assert module.get_uid("probe") == 1
    backend.clear_session()
    keras.backend.clear_session(free_memory=False)
    names = [dg.layers.Dense(2).name, dg.layers.Dense(2).name]
    k_names = [keras.layers.Dense(2).name, keras.layers.Dense(2).name]
    assert names == k_names == ["dense", "dense_1"]
    # layer names count with get_uid, as in Keras
    assert backend.get_uid("dense") == keras.backend.get_uid("dense") == 3
    backend.clear_session()
    assert dg.layers.Dense(2).name == "dense"


def test_is_keras_tensor():
    x = dg.layers.Input(shape=(3,))
    k = keras.layers.Input(shape=(3,))
    assert backend.is_keras_tensor(x) and backend.is_keras_tensor(dg.layers.Dense(2)(x))
    assert keras.backend.is_keras_tensor(k)
    for plain in (np.zeros(3), dg.Tensor(np.zeros(3)), 1.0, None, [x]):
        assert not backend.is_keras_tensor(plain)
    assert dg.utils.is_keras_tensor(x) and not dg.utils.is_keras_tensor(np.zeros(3))
