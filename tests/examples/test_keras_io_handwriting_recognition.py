"""The Keras documentation's handwriting recognition program (keras-team/keras-io,
examples/vision/handwriting_recognition.py) on deepgrad: IAM-style word images read by a tf.data
pipeline (aspect-preserving resize, centred padding, transpose and flip), labels through
``StringLookup`` padded with 99, a CNN + bidirectional LSTM trained through a CTC endpoint layer
(``ctc_batch_cost`` + ``add_loss``, compiled with no loss), greedy CTC decoding and an
edit-distance callback. The whole program runs here at a tiny size on synthetic PNGs, in both of
its published spellings (TF names with ``keras.backend.ctc_decode``; ``keras.ops`` names with
``keras.ops.nn.ctc_decode``); its pieces are checked against Keras 3 (torch backend), PyTorch's
CTC loss and TensorFlow's documented rules.

The prediction model is built from ``get_layer("image").output``, as the program does since it
moved to Keras 3: an ``InputLayer``'s ``.input`` is ``[]`` there (see test_keras_io_vision2_programs).
"""
from __future__ import annotations

import os
from types import SimpleNamespace

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

import deepgrad as dg  # noqa: E402
from deepgrad import layers, ops  # noqa: E402
from deepgrad.compat import tensorflow as tf  # noqa: E402

IMAGE_WIDTH, IMAGE_HEIGHT = 128, 32
PADDING_TOKEN = 99
CHARACTERS = list("abcdefghij")

# The program's two spellings: TF's names (2021) and keras.ops's (Keras 3).
SPELLINGS = {
    "tf": SimpleNamespace(
        shape=tf.shape, cast=tf.cast, ones=tf.ones,
        transpose=lambda x: tf.transpose(x, perm=[1, 0, 2]),
        ctc_batch_cost=lambda: dg.backend.ctc_batch_cost,
        decode=lambda pred, lengths: dg.backend.ctc_decode(pred, input_length=lengths, greedy=True)),
    "ops": SimpleNamespace(
        shape=ops.shape, cast=ops.cast, ones=ops.ones,
        transpose=lambda x: ops.transpose(x, (1, 0, 2)),
        ctc_batch_cost=lambda: tf.keras.backend.ctc_batch_cost,
        decode=lambda pred, lengths: dg.ops.nn.ctc_decode(pred, sequence_lengths=lengths)),
}


def _np(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _lookups():
    char_to_num = layers.StringLookup(vocabulary=CHARACTERS, mask_token=None)
    num_to_char = layers.StringLookup(vocabulary=char_to_num.get_vocabulary(), mask_token=None, invert=True)
    return char_to_num, num_to_char


# ----------------------------------------------------------------- the program's pieces
def _halves(pad):
    """The larger half first, as the program splits an odd padding (``pad`` may be a 0-d tensor)."""
    if pad % 2 != 0:
        return pad // 2 + 1, pad // 2
    return pad // 2, pad // 2


def distortion_free_resize(image, api, img_size=(IMAGE_WIDTH, IMAGE_HEIGHT)):
    """Resize to fit ``img_size`` undistorted, pad around, then (width, height) with columns flipped."""
    w, h = img_size
    image = tf.image.resize(image, size=(h, w), preserve_aspect_ratio=True)
    top, bottom = _halves(h - api.shape(image)[0])
    left, right = _halves(w - api.shape(image)[1])
    image = tf.pad(image, paddings=[[top, bottom], [left, right], [0, 0]])
    return tf.image.flip_left_right(api.transpose(image))


def make_dataset(paths, words, api, char_to_num, max_len, batch_size):
    """``{"image", "label"}`` batches: decoded, resized and scaled images; ids padded with 99."""
    def process(path, word):
        image = tf.image.decode_png(tf.io.read_file(path), 1)
        image = api.cast(distortion_free_resize(image, api), tf.float32) / 255.0
        label = char_to_num(tf.strings.unicode_split(word, input_encoding="UTF-8"))
        label = tf.pad(label, paddings=[[0, max_len - api.shape(label)[0]]], constant_values=PADDING_TOKEN)
        return {"image": image, "label": label}

    dataset = tf.data.Dataset.from_tensor_slices((paths, words)).map(process, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size).cache().prefetch(tf.data.AUTOTUNE)


def make_ctc_layer(api):
    class CTCLayer(dg.layers.Layer):
        """The CTC loss as an endpoint: added to the model's losses, predictions passed through."""

        def __init__(self, name=None):
            super().__init__(name=name)
            self.loss_fn = api.ctc_batch_cost()

        def call(self, y_true, y_pred):
            batch_len = api.cast(api.shape(y_true)[0], dtype="int64")
            ones = api.ones(shape=(batch_len, 1), dtype="int64")
            input_length = api.cast(api.shape(y_pred)[1], dtype="int64") * ones
            label_length = api.cast(api.shape(y_true)[1], dtype="int64") * ones  # the padded width
            self.add_loss(self.loss_fn(y_true, y_pred, input_length, label_length))
            return y_pred

    return CTCLayer


def build_model(api, vocabulary_size):
    """The program's network at a small width: two conv blocks, Dense, two bidirectional LSTMs."""
    input_img = dg.Input(shape=(IMAGE_WIDTH, IMAGE_HEIGHT, 1), name="image")
    labels = dg.layers.Input(name="label", shape=(None,))
    x = dg.layers.Conv2D(8, (3, 3), activation="relu", kernel_initializer="he_normal", padding="same",
                         name="Conv1")(input_img)
    x = dg.layers.MaxPooling2D((2, 2), name="pool1")(x)
    x = dg.layers.Conv2D(16, (3, 3), activation="relu", kernel_initializer="he_normal", padding="same",
                         name="Conv2")(x)
    x = dg.layers.MaxPooling2D((2, 2), name="pool2")(x)
    x = dg.layers.Reshape(target_shape=(IMAGE_WIDTH // 4, (IMAGE_HEIGHT // 4) * 16), name="reshape")(x)
    x = dg.layers.Dense(16, activation="relu", name="dense1")(x)
    x = dg.layers.Dropout(0.2)(x)
    x = dg.layers.Bidirectional(dg.layers.LSTM(16, return_sequences=True, dropout=0.25))(x)
    x = dg.layers.Bidirectional(dg.layers.LSTM(8, return_sequences=True, dropout=0.25))(x)
    x = dg.layers.Dense(vocabulary_size + 2, activation="softmax", name="dense2")(x)
    output = make_ctc_layer(api)(name="ctc_loss")(labels, x)
    model = dg.models.Model(inputs=[input_img, labels], outputs=output, name="handwriting_recognizer")
    model.compile(optimizer=dg.optimizers.Adam())
    return model


def decode_batch_predictions(pred, api, num_to_char, max_len):
    """Greedy CTC paths, -1 padding dropped, ids turned back into text."""
    results = api.decode(pred, np.ones(pred.shape[0]) * pred.shape[1])[0][0][:, :max_len]
    texts = []
    for res in results:
        res = tf.gather(res, tf.where(tf.math.not_equal(res, -1)))
        texts.append(tf.strings.reduce_join(num_to_char(res)).numpy().decode("utf-8").replace("[UNK]", ""))
    return texts


def plot_samples(images, titles, api):
    """The program's grid: each image turned back upright as uint8 pixels, titled; returns the pixels."""
    plt = pytest.importorskip("matplotlib.pyplot")
    _, axes = plt.subplots(1, len(titles), figsize=(15, 3))
    shown = []
    for ax, image, title in zip(axes, images, titles):
        img = api.transpose(tf.image.flip_left_right(image))
        img = (img * 255.0).numpy().clip(0, 255).astype(np.uint8)[:, :, 0]
        ax.imshow(img, cmap="gray")
        ax.set_title(title)
        ax.axis("off")
        assert ax.get_title() == title and ax.get_images()[0].get_array().shape == img.shape
        shown.append(img)
    plt.close("all")
    return shown


def write_words(root, count, seed=0):
    """IAM's layout: ``words.txt`` (``#`` comments, an ``err`` line) and ``words/a01/a01-000u/*.png``
    holding word images of random size, drawn with Pillow."""
    Image = pytest.importorskip("PIL.Image")
    ImageDraw = pytest.importorskip("PIL.ImageDraw")
    rng = np.random.default_rng(seed)
    folder = root / "words" / "a01" / "a01-000u"
    folder.mkdir(parents=True)
    lines = ["#--- words.txt ---", "# format: a01-000u-00-00 ok 154 1 408 768 27 51 AT A"]
    for i in range(count):
        word = "".join(rng.choice(CHARACTERS, size=int(rng.integers(2, 6))))
        name = f"a01-000u-00-{i:02d}"
        image = Image.new("L", (int(rng.integers(40, 200)), int(rng.integers(20, 60))), 255)
        ImageDraw.Draw(image).text((2, 2), word, fill=0)
        image.save(folder / f"{name}.png")
        lines.append(f"{name} {'err' if i == count - 1 else 'ok'} 154 408 768 27 51 NN {word}")
    (root / "words.txt").write_text("\n".join(lines) + "\n")


def read_words(root):
    """(image paths, words) of the lines that are neither comments nor ``err``, in file order."""
    paths, words = [], []
    for line in (root / "words.txt").read_text().splitlines():
        fields = line.split(" ")
        if line[0] == "#" or fields[1] == "err":
            continue
        part1, part2 = fields[0].split("-")[:2]
        path = root / "words" / part1 / f"{part1}-{part2}" / f"{fields[0]}.png"
        if os.path.getsize(path):
            paths.append(str(path))
            words.append(fields[-1].strip())
    return paths, words


# ----------------------------------------------------------------- the whole program, tiny
@pytest.mark.filterwarnings("ignore:`shuffle=True` was passed")  # Keras warns the same for a tf.data.Dataset
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_handwriting_recognition_program_trains_and_decodes(tmp_path, capsys, spelling):
    api = SPELLINGS[spelling]
    dg.utils.set_random_seed(42)
    write_words(tmp_path, 11)
    paths, words = read_words(tmp_path)
    assert len(paths) == 10  # the err line is skipped
    max_len = max(len(word) for word in words[:6])
    char_to_num, num_to_char = _lookups()
    train_ds = make_dataset(paths[:6], words[:6], api, char_to_num, max_len, batch_size=3)
    validation_ds = make_dataset(paths[6:8], words[6:8], api, char_to_num, max_len, batch_size=3)
    test_ds = make_dataset(paths[8:], words[8:], api, char_to_num, max_len, batch_size=3)

    # the samples shown: images flipped and transposed back, labels joined back into the words
    for data in train_ds.take(1):
        images, labels = data["image"], data["label"]
        assert images.shape == (3, IMAGE_WIDTH, IMAGE_HEIGHT, 1) and images.dtype == np.float32
        assert labels.shape == (3, max_len)
        titles = []
        for i in range(3):
            indices = tf.gather(labels[i], tf.where(tf.math.not_equal(labels[i], PADDING_TOKEN)))
            titles.append(tf.strings.reduce_join(num_to_char(indices)).numpy().decode("utf-8"))
        assert titles == words[:3]
        shown = plot_samples(images, titles, api)
        assert all(img.shape == (IMAGE_HEIGHT, IMAGE_WIDTH) and img.max() == 255 for img in shown)

    model = build_model(api, len(char_to_num.get_vocabulary()))
    model.summary()
    prediction_model = dg.models.Model(model.get_layer(name="image").output, model.get_layer(name="dense2").output)
    validation = [(batch["image"], batch["label"]) for batch in validation_ds]

    def calculate_edit_distance(labels, predictions):
        sparse_labels = api.cast(tf.sparse.from_dense(labels), dtype=tf.int64)
        lengths = np.ones(predictions.shape[0]) * predictions.shape[1]
        decoded = api.decode(predictions, lengths)[0][0][:, :max_len]
        sparse_predictions = api.cast(tf.sparse.from_dense(decoded), dtype=tf.int64)
        return tf.reduce_mean(tf.edit_distance(sparse_predictions, sparse_labels, normalize=False))

    class EditDistanceCallback(dg.callbacks.Callback):
        def __init__(self, pred_model):
            super().__init__()
            self.prediction_model = pred_model

        def on_epoch_end(self, epoch, logs=None):
            distances = [calculate_edit_distance(labels, self.prediction_model.predict(images)).numpy()
                         for images, labels in validation]
            print(f"Mean edit distance for epoch {epoch + 1}: {np.mean(distances):.4f}")

    history = model.fit(train_ds, validation_data=validation_ds, epochs=2,
                        callbacks=[EditDistanceCallback(prediction_model)])
    assert sorted(history.history) == ["loss", "val_loss"]
    assert all(np.isfinite(history.history["loss"])) and history.history["loss"][1] < history.history["loss"][0]
    printed = capsys.readouterr().out
    assert "Mean edit distance for epoch 1: " in printed and "Mean edit distance for epoch 2: " in printed

    # the added loss is the sum over the batch of each sample's CTC loss (labels end at the 99s)
    batch = next(iter(test_ds))
    probabilities = prediction_model.predict(batch["image"], verbose=0)
    assert probabilities.shape == (2, IMAGE_WIDTH // 4, len(CHARACTERS) + 3)
    expected = _torch_ctc(probabilities, _np(batch["label"]), blank=probabilities.shape[-1] - 1).sum()
    np.testing.assert_allclose(model.evaluate(batch, verbose=0), expected.item(), rtol=1e-4)

    texts = decode_batch_predictions(probabilities, api, num_to_char, max_len)
    assert len(texts) == 2 and all(len(text) <= max_len and set(text) <= set(CHARACTERS) for text in texts)
    plot_samples(batch["image"], [f"Prediction: {text}" for text in texts], api)


def _torch_ctc(probabilities, padded_labels, blank, eps=1e-7):
    """PyTorch's per-sample CTC loss of softmax ``probabilities`` (batch, time, classes) against
    labels padded with ids ``>= blank``, read as TF reads them (each row ends at its first such id)."""
    probs = torch.as_tensor(probabilities)
    lengths = torch.tensor([int(np.argmax(np.r_[row >= blank, True])) for row in padded_labels])
    targets = torch.tensor(np.where(padded_labels >= blank, 0, padded_labels).astype(np.int64))
    log_probs = torch.log_softmax(torch.log(probs + eps), -1).transpose(0, 1)
    frames = torch.full((probs.shape[0],), probs.shape[1])
    return torch.nn.functional.ctc_loss(log_probs, targets, frames, lengths, blank=blank, reduction="none")


# ----------------------------------------------------------------- CTC loss: padded labels end at the pad
def test_ctc_batch_cost_reads_labels_padded_with_99_as_tf_does_value_and_gradient():
    rng = np.random.default_rng(0)
    classes = len(CHARACTERS) + 3  # [UNK], the characters, one spare and the blank, as the program sizes it
    y_true = np.array([[3, 1, 2, 99, 99], [5, 5, 99, 99, 99], [1, 2, 3, 4, 5], [7, classes - 1, 99, 99, 99]])
    logits = rng.standard_normal((4, 12, classes)).astype("float32")
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    y_pred = dg.Tensor(probabilities, requires_grad=True)
    input_length = np.full((4, 1), 12, np.int64)
    label_length = np.full((4, 1), 5, np.int64)  # the padded length, as the program passes it
    loss = dg.backend.ctc_batch_cost(y_true.astype("float32"), y_pred, input_length, label_length)
    assert loss.shape == (4, 1)

    theirs_input = torch.tensor(probabilities, requires_grad=True)
    theirs = _torch_ctc(theirs_input, y_true, blank=classes - 1)
    np.testing.assert_allclose(_np(loss)[:, 0], theirs.detach().numpy(), rtol=1e-5)
    dg.ops.sum(loss).backward()
    theirs.sum().backward()
    np.testing.assert_allclose(y_pred.grad, theirs_input.grad.numpy(), rtol=1e-3, atol=1e-4)


def test_ctc_batch_cost_refuses_a_real_label_after_the_padding_as_tf_does():
    probabilities = np.full((1, 6, 5), 0.2, "float32")
    with pytest.raises(ValueError, match="real label after a null label"):
        dg.backend.ctc_batch_cost(np.array([[1, 99, 2]]), probabilities, np.array([[6]]), np.array([[3]]))
    # ids past label_length are never read
    short = dg.backend.ctc_batch_cost(np.array([[1, 99, 2]]), probabilities, np.array([[6]]), np.array([[1]]))
    np.testing.assert_allclose(_np(short)[:, 0], _torch_ctc(probabilities, np.array([[1, 4]]), blank=4).numpy(),
                               rtol=1e-5)


# ----------------------------------------------------------------- greedy decoding
def _peaked_probabilities(paths, classes, seed=1):
    """Softmax rows with most of their mass on ``paths[b][t]``."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.0, 0.1, (len(paths), len(paths[0]), classes)).astype("float32")
    for b, row in enumerate(paths):
        p[b, np.arange(len(row)), row] += 2.0
    return p / p.sum(-1, keepdims=True)


def test_keras3_ctc_decode_greedy_paths_and_scores_match_keras():
    # class 0 is the blank by default (mask_index=0), so the program's 12 (the last class) is kept
    p = _peaked_probabilities([[1, 1, 0, 2, 12, 3, 3, 0], [0, 5, 0, 5, 6, 12, 12, 0]], 13)
    lengths = np.ones(2) * 8  # float, as the program makes them
    (ours,), our_scores = dg.ops.nn.ctc_decode(p, sequence_lengths=lengths)
    (theirs,), their_scores = keras.ops.nn.ctc_decode(p, sequence_lengths=lengths)
    np.testing.assert_array_equal(_np(ours), keras.ops.convert_to_numpy(theirs))
    assert _np(ours).tolist() == [[1, 2, 12, 3, -1, -1, -1, -1], [5, 5, 6, 12, -1, -1, -1, -1]]
    assert _np(ours).dtype == np.int32
    np.testing.assert_allclose(_np(our_scores), keras.ops.convert_to_numpy(their_scores), rtol=1e-5)
    _, num_to_char = _lookups()
    texts = decode_batch_predictions(p, SPELLINGS["ops"], num_to_char, max_len=5)
    assert texts == ["abc", "eef"]  # 12 is past the vocabulary: "[UNK]", removed


def test_backend_ctc_decode_greedy_takes_the_last_class_as_blank_and_tf_log_probability():
    p = _peaked_probabilities([[1, 1, 12, 2, 12, 3, 3, 12], [12, 5, 12, 5, 6, 0, 12, 12]], 13)
    lengths = np.array([8.0, 6.0])
    (decoded,), log_prob = dg.backend.ctc_decode(p, input_length=lengths, greedy=True)
    assert _np(decoded).dtype == np.int64 and decoded.shape == (2, 8)
    assert _np(decoded).tolist() == [[1, 2, 3, -1, -1, -1, -1, -1], [5, 5, 6, 0, -1, -1, -1, -1]]
    (theirs,), _ = keras.ops.nn.ctc_decode(np.log(p + 1e-7), sequence_lengths=lengths, mask_index=12)
    np.testing.assert_array_equal(_np(decoded), keras.ops.convert_to_numpy(theirs))
    # TF's greedy decoder gives minus the sum over the frames of each frame's largest log-probability
    steps = np.arange(8)[None, :] < lengths[:, None]
    expected = -(np.log(p + 1e-7).max(-1) * steps).sum(-1, keepdims=True)
    np.testing.assert_allclose(_np(log_prob), expected, rtol=1e-5)
    _, num_to_char = _lookups()
    assert decode_batch_predictions(p, SPELLINGS["tf"], num_to_char, max_len=5) == ["abc", "eef"]


# ----------------------------------------------------------------- StringLookup both ways
def test_string_lookup_characters_to_ids_and_back():
    # Keras's StringLookup needs TensorFlow; these are its documented results: with mask_token=None
    # the one OOV token "[UNK]" takes id 0 and the vocabulary follows from 1; inverted, every id
    # outside the vocabulary gives "[UNK]".
    char_to_num, num_to_char = _lookups()
    assert char_to_num.get_vocabulary() == ["[UNK]"] + CHARACTERS
    assert num_to_char.get_vocabulary() == char_to_num.get_vocabulary()
    ids = char_to_num(tf.strings.unicode_split("jab", input_encoding="UTF-8"))
    assert _np(ids).tolist() == [10, 1, 2]
    assert _np(char_to_num(np.array(["a", "z"]))).tolist() == [1, 0]
    padded = tf.pad(ids, paddings=[[0, 5 - ops.shape(ids)[0]]], constant_values=PADDING_TOKEN)
    assert _np(padded).tolist() == [10, 1, 2, 99, 99]
    kept = tf.gather(padded, tf.where(tf.math.not_equal(padded, PADDING_TOKEN)))
    assert kept.shape == (3, 1)
    assert tf.strings.reduce_join(num_to_char(kept)).numpy() == b"jab"
    assert np.asarray(num_to_char(np.array([0, 3, 11, 12, -1]))).tolist() == ["[UNK]", "c", "[UNK]", "[UNK]", "[UNK]"]


# ----------------------------------------------------------------- tf.edit_distance
def _levenshtein(a, b):
    """The textbook dynamic programme: insertions, deletions and substitutions cost one each."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def test_tf_edit_distance_is_levenshtein_normalized_by_the_truth_length():
    rng = np.random.default_rng(4)
    hyp = np.zeros((6, 7), np.int64)
    ref = np.zeros((6, 5), np.int64)
    for i in range(6):
        n, m = rng.integers(0, 8), rng.integers(1, 6)
        hyp[i, :n], ref[i, :m] = rng.integers(1, 4, n), rng.integers(1, 4, m)
    hyp[0] = 0  # an empty hypothesis
    rows = [(h[h != 0].tolist(), r[r != 0].tolist()) for h, r in zip(hyp, ref)]
    distances = np.array([_levenshtein(h, r) for h, r in rows], np.float32)
    assert distances.max() >= 3  # the draws give more than single edits
    sparse_hyp, sparse_ref = tf.sparse.from_dense(hyp), tf.sparse.from_dense(ref)
    raw = tf.edit_distance(sparse_hyp, sparse_ref, normalize=False)
    assert raw.shape == (6,) and _np(raw).dtype == np.float32
    np.testing.assert_array_equal(_np(raw), distances)
    np.testing.assert_allclose(_np(tf.edit_distance(sparse_hyp, sparse_ref)),
                               distances / [len(r) for _, r in rows], rtol=1e-6)
    # the program compares padded rows: -1 (decoder padding) and 99 (label padding) are values too
    decoded = tf.sparse.from_dense(np.array([[3, 1, -1, -1]]))
    labels = ops.cast(tf.sparse.from_dense(np.array([[3, 1, 2, 99]])), dtype=tf.int64)
    assert _np(tf.edit_distance(ops.cast(decoded, "int64"), labels, normalize=False)).tolist() == [2.0]
    # an empty truth: the hypothesis length, or inf once normalized (TF's rule)
    empty = tf.sparse.from_dense(np.zeros((1, 3), np.int64))
    one = tf.sparse.from_dense(np.array([[2, 2, 0]]))
    assert _np(tf.edit_distance(one, empty, normalize=False)).tolist() == [2.0]
    assert np.isinf(_np(tf.edit_distance(one, empty))).all()


# ----------------------------------------------------------------- aspect-preserving resize
@pytest.mark.parametrize("height, width, size, expected", [
    (21, 50, (32, 128), (32, 76)),    # scale min(32/21, 128/50) = 32/21: 50 * 32/21 = 76.19
    (60, 100, (32, 128), (32, 53)),   # 100 * 32/60 = 53.33
    (10, 200, (32, 128), (6, 128)),   # scale 128/200 = 0.64: 10 * 0.64 = 6.4
    (16, 64, (32, 128), (32, 128)),   # scaled up, as TF documents
    (23, 184, (28, 28), (3, 28)),     # 23 * 28/184 = 3.5 exactly, but float32 gives 3.4999998: TF keeps 3
])
def test_tf_image_resize_preserve_aspect_ratio_sizes_follow_tf(height, width, size, expected):
    # TF's rule: scale = min(new_h / h, new_w / w) computed in float32, each side round(scale * side)
    image = np.ones((height, width, 1), np.uint8) * 255
    out = tf.image.resize(image, size, preserve_aspect_ratio=True)
    assert out.shape == expected + (1,) and _np(out).dtype == np.float32
    np.testing.assert_allclose(_np(out), 255.0)


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_distortion_free_resize_centres_the_word_then_transposes_and_flips(spelling):
    image = np.full((60, 100, 1), 255, np.uint8)  # resized to (32, 53): 75 columns of padding, 38 on the left
    out = _np(distortion_free_resize(image, SPELLINGS[spelling]))
    assert out.shape == (IMAGE_WIDTH, IMAGE_HEIGHT, 1)
    content = np.zeros((IMAGE_WIDTH, IMAGE_HEIGHT), bool)
    content[38:38 + 53, :] = True
    np.testing.assert_allclose(out[..., 0][content], 255.0)
    np.testing.assert_array_equal(out[..., 0][~content], 0.0)
    # a marked top-left pixel ends at the first row's last column (transpose, then left-right flip)
    marked = np.zeros((32, 128, 1), np.uint8)
    marked[0, 0] = 200
    flipped = _np(distortion_free_resize(marked, SPELLINGS[spelling]))
    assert flipped[0, IMAGE_HEIGHT - 1, 0] == 200 and flipped.sum() == 200


# ----------------------------------------------------------------- the network and its added loss, as in Keras
def _network(lib, classes):
    """The program's layers at a small width, ending in the softmax the CTC layer reads."""
    image = lib.Input(shape=(IMAGE_WIDTH, IMAGE_HEIGHT, 1), name="image")
    x = lib.layers.Conv2D(4, (3, 3), activation="relu", padding="same")(image)
    x = lib.layers.MaxPooling2D((2, 2))(x)
    x = lib.layers.Conv2D(4, (3, 3), activation="relu", padding="same")(x)
    x = lib.layers.MaxPooling2D((2, 2))(x)
    x = lib.layers.Reshape((IMAGE_WIDTH // 4, (IMAGE_HEIGHT // 4) * 4))(x)
    x = lib.layers.Dense(8, activation="relu")(x)
    x = lib.layers.Bidirectional(lib.layers.LSTM(6, return_sequences=True))(x)
    return image, lib.layers.Dense(classes, activation="softmax", name="dense2")(x)


def test_ctc_endpoint_model_evaluates_as_keras_with_the_same_weights():
    # Keras 3 on torch has no ctc_batch_cost: its CTC layer calls keras.ops.ctc_loss on
    # log(p + eps) with the real label lengths and the last class as the blank, which is what
    # TF-Keras's ctc_batch_cost computes from labels padded with 99
    rng = np.random.default_rng(5)
    classes = len(CHARACTERS) + 3
    images = rng.uniform(0, 1, (3, IMAGE_WIDTH, IMAGE_HEIGHT, 1)).astype("float32")
    words = [[3, 1, 2], [5, 5, 6, 7], [9]]
    padded = np.array([w + [PADDING_TOKEN] * (4 - len(w)) for w in words], "float32")

    class KerasCTC(keras.layers.Layer):
        def call(self, y_true, y_pred):
            lengths = keras.ops.sum(keras.ops.cast(y_true < classes - 1, "int32"), axis=1)
            targets = keras.ops.where(y_true < classes - 1, y_true, 0)
            frames = keras.ops.full((keras.ops.shape(y_pred)[0],), keras.ops.shape(y_pred)[1], "int32")
            self.add_loss(keras.ops.ctc_loss(keras.ops.cast(targets, "int32"), keras.ops.log(y_pred + 1e-7),
                                             lengths, frames, mask_index=classes - 1))
            return y_pred

    models = {}
    for lib, ctc in ((dg, make_ctc_layer(SPELLINGS["ops"])()), (keras, KerasCTC())):
        image, probabilities = _network(lib, classes)
        labels = lib.layers.Input(name="label", shape=(None,))
        models[lib] = lib.Model([image, labels], ctc(labels, probabilities))
        models[lib].compile(optimizer="adam")
    models[dg].set_weights(models[keras].get_weights())
    inputs = {"image": images, "label": padded}
    np.testing.assert_allclose(models[dg].predict(inputs, verbose=0), models[keras].predict(inputs, verbose=0),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(models[dg].evaluate(inputs, verbose=0), models[keras].evaluate(inputs, verbose=0),
                               rtol=1e-4)
