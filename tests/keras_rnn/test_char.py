"""The char-level LSTM (RNNKeras): data preparation, masking, temperature sampling, saving.

Oracles: hand-computed windows, an unmasked Keras model of the exact context length,
greedy decoding done by hand, a chi-square test of sampled frequencies.
"""

import json
import zipfile

import numpy as np
import pytest

from rnnlib.keras_rnn import CharTable, OneHot, RNNKeras, prepare_char_data
from rnnlib.keras_rnn.layers import keras  # Keras on the JAX backend, chosen before it loads
from rnnlib.training.sgd import History

MAXLEN = 8


def test_prepare_char_data_on_a_hand_computed_example():
    X, y, table = prepare_char_data("abcabd", maxlen=2, step=1)
    assert table.chars == ["a", "b", "c", "d"]  # sorted: a=0, b=1, c=2, d=3
    # Windows "ab", "bc", "ca", "ab" and the characters after them: c, a, b, d.
    np.testing.assert_array_equal(X, [[0, 1], [1, 2], [2, 0], [0, 1]])
    np.testing.assert_array_equal(y, [2, 0, 1, 3])
    X, y, _ = prepare_char_data("abcabd", maxlen=2, step=3)  # windows at 0 and 3: "ab", "ab"
    np.testing.assert_array_equal(X, [[0, 1], [0, 1]])
    np.testing.assert_array_equal(y, [2, 3])
    X, y, _ = prepare_char_data("abcabd", maxlen=5, step=1)  # exactly one window
    np.testing.assert_array_equal(X, [[0, 1, 2, 0, 1]])
    np.testing.assert_array_equal(y, [3])
    np.testing.assert_array_equal(table.one_hot([2, 0]), [[0, 0, 1, 0], [1, 0, 0, 0]])
    assert table.decode(table.encode("dab")) == "dab"


def test_char_data_errors_are_clear():
    with pytest.raises(ValueError, match="needs more than maxlen=6"):
        prepare_char_data("abcabd", maxlen=6)
    with pytest.raises(TypeError, match="join documents first"):
        prepare_char_data(["abc", "def"])
    with pytest.raises(ValueError, match="step must be a positive integer, got 0"):
        prepare_char_data("abcabd", step=0)
    with pytest.raises(ValueError, match=r"characters 'XZ' \('X', 'Z'\) are not in the"):
        CharTable("abc").encode("aXbZX")
    with pytest.raises(ValueError, match="duplicate"):
        CharTable("aba")
    with pytest.raises(ValueError, match="character table has 3 characters but vector_size is 4"):
        RNNKeras(MAXLEN, 4, chars="abc")


def markov_text(n, seed):
    """Text from a 4-character Markov chain: each character has a favourite successor."""
    chars = "abc "
    favourite = {"a": "b", "b": "c", "c": " ", " ": "a"}
    rng = np.random.default_rng(seed)
    out = ["a"]
    for _ in range(n - 1):
        out.append(favourite[out[-1]] if rng.random() < 0.7 else chars[rng.integers(4)])
    return "".join(out)


@pytest.fixture(scope="module")
def trained():
    """A small model trained briefly on Markov text, with its data and the loss before."""
    X, y, table = prepare_char_data(markov_text(2000, seed=0), maxlen=MAXLEN, step=2)
    model = RNNKeras.for_table(table, MAXLEN, hidden_dim=16, seed=1)
    before = model.calculate_loss(X, y)
    seen = []
    history = model.train_model(
        X, y, batch_size=64, nepoch=2, callbacks=[lambda m, h: seen.append(m)], verbose=0
    )
    return model, X, y, before, history, seen


def test_training_lowers_the_loss_and_fills_the_shared_history(trained):
    model, X, y, before, history, seen = trained
    assert isinstance(history, History)
    assert [(e.examples_seen, e.epoch) for e in history.evaluations] == [
        (0, 0),
        (len(X), 1),
        (2 * len(X), 2),
    ]
    assert history.evaluations[0].loss == pytest.approx(before, rel=1e-6)
    assert history.losses[-1] == pytest.approx(model.calculate_loss(X, y), rel=1e-6)
    assert history.losses[-1] < before - 0.1  # chance level is log(4) = 1.386
    assert seen == [model] * 3
    probs = model.predict(X[:5])
    assert probs.shape == (5, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(model.predict(X[0]), probs[0], rtol=1e-6)  # float32, batch of 1


def exact_length_model(model, length):
    """The same weights in a plain, unmasked Keras model that reads exactly `length` ids."""
    reference = keras.Sequential(
        [
            keras.Input((length,), dtype="int32"),
            OneHot(model.vector_size),
            keras.layers.LSTM(model.hidden_dim),
            keras.layers.Dense(model.vector_size, activation="softmax"),
        ]
    )
    reference.set_weights([np.array(v.value) for v in model.model.weights])
    return reference


def test_a_short_context_is_read_exactly_despite_the_padding(trained):
    model = trained[0]
    for context in ("c", "ab c"):
        ids = model.table.encode(context)
        expected = exact_length_model(model, len(ids)).predict(ids[None], verbose=0)[0]
        np.testing.assert_allclose(model.next_char_probs(context), expected, rtol=1e-5, atol=1e-7)


def test_tiny_temperature_generates_the_greedy_continuation(trained):
    model, X = trained[0], trained[1]
    seed = model.table.decode(X[3])
    text = seed
    for _ in range(12):  # greedy decoding by hand, window by window
        window = model.table.encode(text[-MAXLEN:])
        text += model.table.chars[int(np.argmax(model.predict(window)))]
    generated = model.generate(seed, 12, temperature=1e-6, rng=np.random.default_rng(0))
    assert generated == text[len(seed) :]


def test_temperature_one_samples_the_models_distribution(trained):
    model = trained[0]
    probs = model.next_char_probs("ab")
    rng = np.random.default_rng(5)
    draws = [model.generate("ab", 1, 1.0, rng) for _ in range(600)]
    counts = np.array([draws.count(c) for c in model.table.chars])
    expected = probs * len(draws)
    assert expected.min() > 5  # the chi-square approximation holds
    chi_square = float(np.sum((counts - expected) ** 2 / expected))
    assert chi_square < 16.266  # upper 0.1% point, 3 degrees of freedom
    uniform = np.full(4, len(draws) / 4)
    assert float(np.sum((counts - uniform) ** 2 / uniform)) > 16.266  # the test has power


def test_generation_errors_name_the_problem(trained):
    model = trained[0]
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"characters 'QZ' \('Q', 'Z'\) are not in the"):
        model.generate("abQ Z", 5, 1.0, rng)
    with pytest.raises(ValueError, match="seed_text is empty"):
        model.generate("", 5, 1.0, rng)
    with pytest.raises(TypeError, match="Generator"):
        model.generate("ab", 5, 1.0, 42)
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        model.generate("ab", 5, 0.0, rng)
    with pytest.raises(ValueError, match="no character table"):
        RNNKeras(MAXLEN, 4).generate("ab", 5, 1.0, rng)
    with pytest.raises(ValueError, match=r"shape \(N, 8\)"):
        model.predict(np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="holds id 4: expected 0 <= id < 4"):
        model.predict(np.full(MAXLEN, 4))
    with pytest.raises(TypeError, match="integer character ids"):
        model.predict(np.zeros(MAXLEN))


def test_saved_model_alone_generates_the_same_text(trained, tmp_path):
    model, X = trained[0], trained[1]
    path = tmp_path / "chars.keras"
    model.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["chars.keras"]  # no temporary left
    loaded = RNNKeras.load(path)
    assert loaded.config() == model.config() and loaded.table == model.table
    np.testing.assert_array_equal(loaded.predict(X[:20]), model.predict(X[:20]))
    expected = model.generate("abc", 30, 0.7, np.random.default_rng(9))
    assert loaded.generate("abc", 30, 0.7, np.random.default_rng(9)) == expected
    with pytest.raises(FileNotFoundError, match="no Keras model file"):
        RNNKeras.load(tmp_path / "missing.keras")


def test_loading_restores_the_optimizer_state_without_keras_config(trained, tmp_path):
    """Weights and RMSprop's state go into a model rnnlib built; Keras' config is never used."""
    model = trained[0]
    path = tmp_path / "chars.keras"
    model.save(path)
    loaded = RNNKeras.load(path)
    saved_state = [np.array(v.value) for v in model.model.optimizer.variables]
    loaded_state = [np.array(v.value) for v in loaded.model.optimizer.variables]
    assert len(saved_state) == len(loaded_state) > 2
    for a, b in zip(saved_state, loaded_state, strict=True):
        np.testing.assert_array_equal(a, b)


def with_info(src, dst, change):
    """A copy of the .keras archive `src` with rnnlib.json changed by `change(info)`."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w") as new:
        for item in old.infolist():
            data = old.read(item)
            if item.filename == "rnnlib.json":
                info = json.loads(data)
                change(info)
                data = json.dumps(info).encode()
            new.writestr(item, data)
    return dst


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda c: c.update(vector_size=10**9), "vector_size=1000000000 and hidden_dim=16 ask"),
        (lambda c: c.update(learning_rate="x"), "learning_rate must be a positive number, got 'x'"),
        (lambda c: c.update(seed="abc"), r"seed must be an integer in \[0, 2\*\*31\)"),
        (lambda c: c.update(code="import os"), r"unknown config keys \['code'\]"),
        (lambda c: c.pop("hidden_dim"), r"the config lacks \['hidden_dim'\]"),
    ],
)
def test_a_crafted_char_model_config_is_refused_naming_the_file(trained, tmp_path, change, words):
    """Before: NumPy's "ufunc 'isfinite' not supported" or int()'s message, without the path."""
    path = tmp_path / "chars.keras"
    trained[0].save(path)
    crafted = with_info(path, tmp_path / "crafted.keras", lambda info: change(info["config"]))
    with pytest.raises(ValueError, match=words) as error:
        RNNKeras.load(crafted)
    assert str(crafted) in str(error.value)


def test_a_damaged_char_model_file_names_itself(trained, tmp_path):
    path = tmp_path / "chars.keras"
    trained[0].save(path)
    with zipfile.ZipFile(path) as archive:
        member = archive.getinfo("model.weights.h5")
    raw = bytearray(path.read_bytes())
    start = member.header_offset + 30 + len(member.filename) + len(member.extra)
    middle = start + member.compress_size // 2
    raw[middle : middle + 64] = bytes(255 - b for b in raw[middle : middle + 64])
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=f"{path} is a damaged .keras file"):
        RNNKeras.load(path)


def numpy_lstm(model, ids) -> np.ndarray:
    """Hidden states (T, H) of the LSTM read from ids, written out in NumPy from its weights.

    Keras keeps one kernel (V, 4H), one recurrent kernel (H, 4H) and one bias (4H) with the
    blocks in the order input, forget, candidate, output gate.
    """
    kernel, recurrent, bias = (
        np.array(w, dtype=np.float64) for w in model.model.get_layer("lstm").get_weights()
    )
    H = model.hidden_dim
    s, c, states = np.zeros(H), np.zeros(H), []
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    for i in ids:
        z = kernel[i] + s @ recurrent + bias  # (4H,): a one-hot input picks a row
        gate_i, gate_f, g, gate_o = (
            sigmoid(z[:H]),
            sigmoid(z[H : 2 * H]),
            np.tanh(z[2 * H : 3 * H]),
            sigmoid(z[3 * H :]),
        )
        c = gate_f * c + gate_i * g
        s = gate_o * np.tanh(c)
        states.append(s)
    return np.array(states)


def test_forward_propagation_gives_the_lstm_state_at_each_character(trained):
    model = trained[0]
    ids = model.table.encode("ab cca b" + "cab ")  # 12 characters, windows of MAXLEN = 8
    probs, states = model.forward_propagation(ids)
    assert probs.shape == (12, 4) and states.shape == (12, model.hidden_dim)
    # Up to a full window: one pass from the start; after it, the window ending at t.
    np.testing.assert_allclose(states[:MAXLEN], numpy_lstm(model, ids[:MAXLEN]), atol=2e-6)
    for t in range(MAXLEN, 12):
        expected = numpy_lstm(model, ids[t - MAXLEN + 1 : t + 1])[-1]
        np.testing.assert_allclose(states[t], expected, atol=2e-6)
    text = model.table.decode(ids)
    for t in (0, 5, 11):  # what generation reads after the same characters
        np.testing.assert_allclose(probs[t], model.next_char_probs(text[: t + 1]), atol=1e-6)
    assert model.word_dim == 4
    with pytest.raises(ValueError, match="x holds id 4: expected 0 <= id < 4"):
        model.forward_propagation(np.array([0, 4]))
    with pytest.raises(ValueError, match="non-empty 1-D array of character ids"):
        model.forward_propagation(np.array([], dtype=int))
