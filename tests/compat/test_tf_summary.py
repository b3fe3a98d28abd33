"""``tf.summary``: event files written from a program's own code, read back with the
tensorboard package's own reader."""
import numpy as np
import pytest

from deepgrad.compat import tensorflow as tf

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def _read(logdir):
    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_scalars_histograms_images_and_text_reach_tensorboard(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "run"))
    with writer.as_default():
        for step in range(3):
            assert tf.summary.scalar("jaccard_score", 0.5 + step / 10, step=step)
        tf.summary.histogram("weights", np.arange(100.0), step=2)
        tf.summary.image("samples", np.random.default_rng(0).random((2, 8, 6, 3)), step=1, max_outputs=2)
        tf.summary.image("digit", np.zeros((1, 5, 5, 1), np.uint8), step=1)
        tf.summary.text("note", "hello", step=0)
    writer.flush()
    acc = _read(tmp_path / "run")
    scalars = acc.Scalars("jaccard_score")
    assert [e.step for e in scalars] == [0, 1, 2]
    np.testing.assert_allclose([e.value for e in scalars], [0.5, 0.6, 0.7], rtol=1e-6)
    histo = acc.Histograms("weights")[0].histogram_value
    assert histo.num == 100 and histo.min == 0 and histo.max == 99
    images = acc.Images("samples/image/0") + acc.Images("samples/image/1")
    assert [(i.width, i.height) for i in images] == [(6, 8), (6, 8)]
    assert acc.Images("digit")[0].width == 5
    assert "note" in acc.Tags()["tensors"]


def test_without_a_default_writer_nothing_is_written(tmp_path):
    assert tf.summary.scalar("x", 1.0, step=0) is False


def test_the_step_comes_from_set_step_or_as_default(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "run"))
    with writer.as_default(step=7):
        tf.summary.scalar("a", 1.0)
    tf.summary.experimental.set_step(3)
    with writer.as_default():
        tf.summary.scalar("b", 2.0)
    tf.summary.experimental.set_step(None)
    with writer.as_default(), pytest.raises(ValueError, match="step"):
        tf.summary.scalar("c", 3.0)
    writer.close()
    acc = _read(tmp_path / "run")
    assert acc.Scalars("a")[0].step == 7 and acc.Scalars("b")[0].step == 3


def test_bad_image_shapes_are_named(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "run"))
    with writer.as_default(), pytest.raises(ValueError, match="k, h, w, c"):
        tf.summary.image("bad", np.zeros((4, 4)), step=0)
