"""``tf.data.Dataset`` of ``deepgrad.compat.tensorflow``: the elements TensorFlow's documentation
gives for each transformation, and fit/evaluate/predict reading datasets as Keras does."""
import warnings

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import layers, optimizers
from deepgrad.compat import tensorflow as tf

Dataset = tf.data.Dataset


def values(ds):
    return [(_plain(e)) for e in ds.as_numpy_iterator()]


def _plain(e):
    if isinstance(e, tuple):
        return tuple(_plain(v) for v in e)
    if isinstance(e, dict):
        return {k: _plain(v) for k, v in e.items()}
    return e.tolist()


# ----------------------------------------------------------------- sources
def test_from_tensor_slices_keeps_the_structure_and_a_list_is_one_tensor():
    assert values(Dataset.from_tensor_slices([1, 2, 3])) == [1, 2, 3]
    assert values(Dataset.from_tensor_slices([[1, 2], [3, 4]])) == [[1, 2], [3, 4]]
    assert values(Dataset.from_tensor_slices(([1, 2], [3, 4], [5, 6]))) == [(1, 3, 5), (2, 4, 6)]
    assert values(Dataset.from_tensor_slices(({"a": [1, 2]}, [3, 4]))) == [({"a": 1}, 3), ({"a": 2}, 4)]
    ds = Dataset.from_tensor_slices((np.zeros((4, 2), "float64"), [1.5, 2, 3, 4]))
    spec = ds.element_spec
    assert spec[0] == tf.TensorSpec((2,), tf.float64) and spec[1] == tf.TensorSpec((), tf.float32)
    assert int(ds.cardinality()) == 4 and len(ds) == 4
    with pytest.raises(ValueError, match="same size in their first dimension"):
        Dataset.from_tensor_slices((np.zeros(3), np.zeros(4)))


def test_iteration_gives_tensors_and_as_numpy_iterator_arrays():
    ds = Dataset.from_tensor_slices((np.arange(3, dtype="int64"), np.ones((3, 2), "float32")))
    (a, b), = list(ds.take(1))
    assert isinstance(a, dg.Tensor) and a.dtype == np.int64 and b.shape == (2,)
    first = next(ds.as_numpy_iterator())
    assert isinstance(first[0], np.int64) and isinstance(first[1], np.ndarray)   # scalars as NumPy scalars


def test_range_from_tensors_and_zip_as_documented():
    assert values(Dataset.range(5)) == [0, 1, 2, 3, 4]
    assert values(Dataset.range(2, 5)) == [2, 3, 4]
    assert values(Dataset.range(1, 5, 2)) == [1, 3]
    assert values(Dataset.range(5, 1, -2)) == [5, 3]
    assert next(Dataset.range(1).as_numpy_iterator()).dtype == np.int64
    assert values(Dataset.from_tensors([1, 2, 3])) == [[1, 2, 3]]
    a, b = Dataset.range(1, 4), Dataset.range(4, 7)
    assert values(Dataset.zip((a, b))) == [(1, 4), (2, 5), (3, 6)]
    assert values(Dataset.zip(a, b)) == [(1, 4), (2, 5), (3, 6)]
    assert values(Dataset.zip({"x": a, "y": Dataset.range(13, 15)})) == [{"x": 1, "y": 13}, {"x": 2, "y": 14}]
    assert int(Dataset.zip((a, Dataset.range(13, 15))).cardinality()) == 2
    # blocks of different sizes line up element by element
    mapped = a.map(lambda v: v * 10)
    assert values(Dataset.zip((mapped, b))) == [(10, 4), (20, 5), (30, 6)]


def test_from_generator_checks_the_output_signature():
    def gen():
        for i in range(1, 4):
            yield i, [1] * i
    ds = Dataset.from_generator(gen, output_signature=(tf.TensorSpec((), tf.int32), tf.TensorSpec((None,), tf.int32)))
    assert values(ds) == [(1, [1]), (2, [1, 1]), (3, [1, 1, 1])]
    assert values(ds) == values(ds)        # the generator is called afresh for every pass
    assert ds.element_spec[1].shape == (None,)
    legacy = Dataset.from_generator(gen, output_types=(tf.int32, tf.int32), output_shapes=((), (None,)))
    assert values(legacy) == values(ds) and next(legacy.as_numpy_iterator())[1].dtype == np.int32
    assert int(ds.cardinality()) == tf.data.UNKNOWN_CARDINALITY
    with pytest.raises(TypeError, match="len"):
        len(ds)
    bad = Dataset.from_generator(lambda: iter([[1, 2]]), output_signature=tf.TensorSpec((3,), tf.int32))
    with pytest.raises(ValueError, match=r"shape \(2,\) where the output_signature expects \(3,\)"):
        list(bad.as_numpy_iterator())
    with pytest.raises(TypeError, match="callable"):
        Dataset.from_generator(gen(), output_signature=tf.TensorSpec((), tf.int32))


# ----------------------------------------------------------------- transformations
def test_batch_and_drop_remainder_as_documented():
    ds = Dataset.range(8)
    assert values(ds.batch(3)) == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert values(ds.batch(3, drop_remainder=True)) == [[0, 1, 2], [3, 4, 5]]
    assert int(ds.batch(3).cardinality()) == 3 and int(ds.batch(3, drop_remainder=True).cardinality()) == 2
    assert ds.batch(3).element_spec.shape == (None,)
    assert ds.batch(3, drop_remainder=True).element_spec.shape == (3,)
    # batches across the one-element blocks that map yields
    assert values(ds.map(lambda v: v + 1).batch(5, num_parallel_calls=tf.data.AUTOTUNE)) == [[1, 2, 3, 4, 5],
                                                                                             [6, 7, 8]]
    with pytest.raises(ValueError, match="padded_batch"):
        list(Dataset.range(1, 3).map(lambda v: tf.fill([v], v)).batch(2).as_numpy_iterator())


def test_padded_batch_as_documented():
    A = Dataset.range(1, 5, dtype=tf.int64).map(lambda x: tf.fill([x], x))
    assert values(A.padded_batch(2)) == [[[1, 0], [2, 2]], [[3, 3, 3, 0], [4, 4, 4, 4]]]
    assert values(A.padded_batch(2, padded_shapes=5)) == [[[1, 0, 0, 0, 0], [2, 2, 0, 0, 0]],
                                                          [[3, 3, 3, 0, 0], [4, 4, 4, 4, 0]]]
    assert values(A.padded_batch(2, padding_values=tf.constant(-1, dtype=tf.int64))) == \
        [[[1, -1], [2, 2]], [[3, 3, 3, -1], [4, 4, 4, 4]]]
    B = Dataset.zip((A, A)).padded_batch(2, padded_shapes=([None], [None]), padding_values=(-1, 0))
    assert values(B)[0] == ([[1, -1], [2, 2]], [[1, 0], [2, 2]])
    with pytest.raises(ValueError, match="does not fit padded_shapes"):
        list(A.padded_batch(2, padded_shapes=3).as_numpy_iterator())


def test_map_spreads_tuples_and_sees_tensors_and_filter_keeps_what_the_predicate_says():
    ds = Dataset.from_tensor_slices(([1, 2, 3], [4, 5, 6]))
    assert values(ds.map(lambda a, b: a + b)) == [5, 7, 9]
    assert values(ds.map(lambda a, b: {"sum": a + b, "a": a})) == [{"sum": 5, "a": 1}, {"sum": 7, "a": 2},
                                                                   {"sum": 9, "a": 3}]
    seen = []
    Dataset.range(2).map(lambda v: seen.append(type(v)) or v).as_numpy_iterator().__next__()
    assert seen == [dg.Tensor]
    assert values(ds.map(lambda a, b: tf.cast(a, tf.float32) / 2.0)) == [0.5, 1.0, 1.5]
    assert values(Dataset.range(10).filter(lambda x: tf.math.floormod(x, 3) == 0)) == [0, 3, 6, 9]
    assert int(Dataset.range(10).filter(lambda x: x > 2).cardinality()) == tf.data.UNKNOWN_CARDINALITY
    with pytest.raises(ValueError, match="scalar bool"):
        list(Dataset.range(3).filter(lambda x: x + 1).as_numpy_iterator())


def test_repeat_take_skip_shard_enumerate_concatenate_unbatch_rebatch():
    ds = Dataset.from_tensor_slices([1, 2, 3])
    assert values(ds.repeat(3)) == [1, 2, 3] * 3
    assert int(ds.repeat(3).cardinality()) == 9
    assert int(ds.repeat().cardinality()) == tf.data.INFINITE_CARDINALITY
    assert values(ds.repeat().take(7)) == [1, 2, 3, 1, 2, 3, 1]
    assert int(ds.repeat().take(7).cardinality()) == 7
    with pytest.raises(TypeError, match="infinite"):
        len(ds.repeat())
    assert values(Dataset.range(10).take(3)) == [0, 1, 2]
    assert values(Dataset.range(10).take(-1)) == list(range(10))
    assert values(Dataset.range(10).skip(7)) == [7, 8, 9]
    assert int(Dataset.range(10).skip(7).cardinality()) == 3
    assert values(Dataset.range(10).shard(num_shards=3, index=0)) == [0, 3, 6, 9]
    assert values(Dataset.range(10).shard(num_shards=3, index=1)) == [1, 4, 7]
    assert values(Dataset.from_tensor_slices([7, 8, 9]).enumerate(start=5)) == [(5, 7), (6, 8), (7, 9)]
    a, b = Dataset.range(1, 4), Dataset.range(4, 8)
    assert values(a.concatenate(b)) == [1, 2, 3, 4, 5, 6, 7]
    assert int(a.concatenate(b).cardinality()) == 7
    elements = [(np.array([1, 2, 3]), np.array([97, 98, 99])), (np.array([4, 5]), np.array([100, 101]))]
    gen = Dataset.from_generator(lambda: iter(elements), output_signature=(tf.TensorSpec((None,), tf.int64),) * 2)
    assert values(gen.unbatch()) == [(1, 97), (2, 98), (3, 99), (4, 100), (5, 101)]
    assert values(Dataset.range(6).batch(4).rebatch(3)) == [[0, 1, 2], [3, 4, 5]]
    assert values(Dataset.range(5).prefetch(tf.data.AUTOTUNE)) == [0, 1, 2, 3, 4]
    assert tf.data.AUTOTUNE == tf.data.experimental.AUTOTUNE == -1
    assert int(tf.data.experimental.cardinality(a)) == 3


def test_cache_reads_the_data_once_after_a_complete_pass():
    calls = []
    ds = Dataset.range(4).map(lambda x: calls.append(1) or x * x).cache()
    assert values(ds) == [0, 1, 4, 9] and values(ds) == [0, 1, 4, 9]
    assert len(calls) == 4
    partial = Dataset.range(4).map(lambda x: calls.append(1) or x).cache()
    calls.clear()
    next(partial.as_numpy_iterator())             # an unfinished pass is not kept
    assert values(partial) == [0, 1, 2, 3] and len(calls) == 5


# ----------------------------------------------------------------- shuffle
def test_shuffle_buffer_semantics():
    ds = Dataset.range(20)
    assert values(ds.shuffle(1)) == list(range(20))           # a buffer of one changes nothing
    for seed in range(20):
        for buffer in (2, 5, 30):
            out = values(ds.shuffle(buffer, seed=seed))
            assert sorted(out) == list(range(20))
            # the j-th element out was among the first j + buffer in
            assert all(v < j + buffer for j, v in enumerate(out))
    # one element at a time (after map) as from one block
    out = values(ds.map(lambda v: v).shuffle(4, seed=0))
    assert sorted(out) == list(range(20)) and all(v < j + 4 for j, v in enumerate(out))


def test_shuffle_draws_uniformly_from_the_buffer():
    # buffer 2 over [0, 1, 2]: the first element out is 0 or 1 with probability 1/2 each;
    # the full buffer gives each of the 3! orders with probability 1/6
    first = np.array([values(Dataset.range(3).shuffle(2, seed=s))[0] for s in range(600)])
    assert set(first) == {0, 1} and abs((first == 0).mean() - 0.5) < 0.07
    orders = [tuple(values(Dataset.range(3).shuffle(3, seed=s))) for s in range(600)]
    counts = np.unique(orders, axis=0, return_counts=True)[1]
    assert len(counts) == 6 and np.all(np.abs(counts / 600 - 1 / 6) < 0.05)


def test_shuffle_seed_and_reshuffle_each_iteration():
    ds = Dataset.range(50)
    assert values(ds.shuffle(50, seed=1)) == values(ds.shuffle(50, seed=1))
    every = ds.shuffle(50, seed=1)
    assert values(every) != values(every)                     # a new order every pass
    fixed = ds.shuffle(50, seed=1, reshuffle_each_iteration=False)
    assert values(fixed) == values(fixed) and values(fixed.repeat(2))[:50] == values(fixed.repeat(2))[50:]
    dg.utils.set_random_seed(7)
    a = values(ds.shuffle(10))
    dg.utils.set_random_seed(7)
    assert values(ds.shuffle(10)) == a                        # the global seed makes it repeat


def test_shuffle_moves_whole_elements_of_a_structure():
    x = np.arange(12).reshape(6, 2)
    out = list(Dataset.from_tensor_slices({"x": x, "y": x[:, 0] * 10}).shuffle(6, seed=3).as_numpy_iterator())
    assert all(e["y"] == e["x"][0] * 10 for e in out) and sorted(int(e["y"]) for e in out) == list(range(0, 120, 20))


# ----------------------------------------------------------------- fit, evaluate, predict
def _data(n=48):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x @ np.array([1.0, -2.0, 0.5]) > 0).astype("int64")


def _fit(*args, **kwargs):
    dg.utils.set_random_seed(5)
    model = dg.Sequential([layers.Input(shape=(3,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(0.5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(*args, verbose=0, **kwargs)
    return model, history


def test_fit_on_a_dataset_equals_fit_on_the_arrays():
    x, y = _data()
    arrays, h1 = _fit(x, y, batch_size=8, epochs=2, shuffle=False, validation_data=(x[:16], y[:16]))
    ds, h2 = _fit(Dataset.from_tensor_slices((x, y)).batch(8).prefetch(tf.data.AUTOTUNE), epochs=2,
                  validation_data=Dataset.from_tensor_slices((x[:16], y[:16])).batch(5))
    for a, b in zip(arrays.get_weights(), ds.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(h1.history["val_loss"], h2.history["val_loss"], rtol=1e-6)
    np.testing.assert_allclose(ds.evaluate(Dataset.from_tensor_slices((x, y)).batch(7), verbose=0),
                               ds.evaluate(x, y, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(ds.predict(Dataset.from_tensor_slices(x).batch(10), verbose=0),
                               ds.predict(x, verbose=0), rtol=1e-6)


def test_a_repeated_dataset_needs_steps_per_epoch_and_continues_across_epochs():
    x, y = _data()
    ds = Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(ValueError, match="infinite.*steps_per_epoch"):
        _fit(ds.repeat(), epochs=1)
    one_epoch, _ = _fit(x, y, batch_size=8, epochs=2, shuffle=False)      # 12 updates
    three, history = _fit(ds.repeat(), epochs=4, steps_per_epoch=3)
    for a, b in zip(one_epoch.get_weights(), three.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert len(history.history["loss"]) == 4
    # a finite dataset with steps_per_epoch: epochs go on where the last stopped, then start again
    again, _ = _fit(ds, epochs=4, steps_per_epoch=3)
    for a, b in zip(one_epoch.get_weights(), again.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_datasets_refuse_y_and_sample_weight_and_take_class_weight():
    x, y = _data()
    ds = Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(ValueError, match="`y` should not be passed"):
        _fit(ds, y)
    with pytest.raises(ValueError, match="`sample_weights` should not be passed"):
        _fit(ds, sample_weight=np.ones(48))
    with pytest.warns(UserWarning, match="tf.data.Dataset is expected to already be shuffled"):
        dg.Sequential([layers.Input(shape=(3,)), layers.Dense(2)]).compile("sgd", "mse") or None
        model = dg.Sequential([layers.Input(shape=(3,)), layers.Dense(2, activation="softmax")])
        model.compile("sgd", "sparse_categorical_crossentropy")
        model.fit(ds, verbose=0)
    cw = {0: 1.0, 1: 4.0}
    arrays, _ = _fit(x, y, batch_size=8, shuffle=False, class_weight=cw)
    weighted, _ = _fit(ds, class_weight=cw)
    for a, b in zip(arrays.get_weights(), weighted.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    with_weights = Dataset.from_tensor_slices((x, y, np.where(y == 1, 4.0, 1.0))).batch(8)
    for a, b in zip(arrays.get_weights(), _fit(with_weights)[0].get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
