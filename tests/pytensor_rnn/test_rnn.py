"""RNNPyTensor against independent oracles: RNNNumpy (same weights, float64) and hand-written
NumPy versions of what scan's truncate_gradient computes."""

import warnings

import numpy as np
import pytest

from rnnlib.data.vocab import SENTENCE_END, SENTENCE_START, UNKNOWN_TOKEN, Vocabulary
from rnnlib.numpy_rnn.fast import RNNNumpyFast
from rnnlib.numpy_rnn.readable import RNNNumpy
from rnnlib.pytensor_rnn.rnn import RNNPyTensor
from rnnlib.sampling import generate_sentence
from rnnlib.training.checkpoint import load_model, save_checkpoint
from rnnlib.training.sgd import train_with_sgd

C, H = 30, 8
LONG = 11  # longer than every truncation tested, and one bucket (12) for all sentences here


def assert_same(actual, expected, rtol=1e-10):
    """Agreement to `rtol` relative to the size of the expected array."""
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(float(np.max(np.abs(expected))), 1e-300)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def strong_weights(seed):
    """Weights large enough that errors from far back matter (truncation makes a difference)."""
    rng = np.random.default_rng(seed)
    return {
        "U": rng.uniform(-1, 1, (H, C)),
        "V": rng.uniform(-1, 1, (C, H)),
        "W": rng.uniform(-0.9, 0.9, (H, H)),
    }


def sentences(seed, lengths):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, C, n) for n in lengths], [rng.integers(0, C, n) for n in lengths]


@pytest.fixture(scope="module")
def shared_model():
    # One instance for the module: its compiled functions are reused by every test.
    return RNNPyTensor(C, H, bptt_truncate=4, seed=0)


@pytest.fixture
def pair(shared_model):
    """(RNNPyTensor, RNNNumpy) holding the same float64 weights; truncation set per test."""
    params = strong_weights(1)
    shared_model.set_params(params)
    reference = RNNNumpy(C, H)
    reference.set_params(params)
    return shared_model, reference


def test_same_seed_gives_the_readable_models_weights():
    for name, value in RNNPyTensor(C, H, seed=7).get_params().items():
        np.testing.assert_array_equal(value, RNNNumpy(C, H, seed=7).get_params()[name])


@pytest.mark.parametrize("k", [0, 1, 4, -1])  # 0: each output's error stays at its own step
def test_forward_loss_and_gradients_match_numpy(pair, k):
    model, reference = pair
    model.bptt_truncate = reference.bptt_truncate = k
    (x,), (y,) = sentences(2, [LONG])
    o, s = model.forward_propagation(x)
    o_ref, s_ref = reference.forward_propagation(x)
    assert o.shape == (LONG, C) and s.shape == (LONG, H)
    assert_same(o, o_ref)
    assert_same(s, s_ref)
    np.testing.assert_array_equal(model.predict(x), np.argmax(o_ref, axis=1))
    X, Y = sentences(3, [9, 10, LONG])
    assert_same(model.calculate_total_loss(X, Y), reference.calculate_total_loss(X, Y))
    assert_same(model.calculate_loss(X, Y), reference.calculate_loss(X, Y))
    grads, expected = model.bptt(x, y), reference.bptt(x, y)
    assert set(grads) == {"U", "V", "W"}
    for name in grads:
        assert_same(grads[name], expected[name])


def test_changing_bptt_truncate_after_compiling_changes_the_gradient(pair):
    model, reference = pair
    (x,), (y,) = sentences(4, [LONG])
    model.bptt_truncate = 4
    before = model.bptt(x, y)  # compiles the graph for truncation 4
    model.bptt_truncate = 1  # the original's Theano model ignored such a change
    after = model.bptt(x, y)
    reference.bptt_truncate = 1
    assert_same(after["W"], reference.bptt(x, y)["W"])
    assert np.max(np.abs(after["W"] - before["W"])) > 1e-3 * np.max(np.abs(before["W"]))
    model.bptt_truncate = None  # None and -1 both mean full BPTT
    assert model.bptt_truncate == -1


def test_changing_the_pytensor_mode_after_compiling_compiles_again(monkeypatch):
    model = RNNPyTensor(5, 3, bptt_truncate=-1, seed=0)
    x, y = [0, 1, 2], [1, 2, 3]
    monkeypatch.setenv("RNNLIB_PYTENSOR_MODE", "FAST_COMPILE")
    before = model.bptt(x, y)
    monkeypatch.setenv("RNNLIB_PYTENSOR_MODE", "JAX")  # the cache used to keep FAST_COMPILE's
    after = model.bptt(x, y)
    linkers = [type(f.maker.linker).__name__ for f in model._functions.functions.values()]
    assert linkers == ["VMLinker", "JAXLinker"]
    for name, grad in after.items():
        assert_same(grad, before[name])


def scan_truncated_oracle(reference, x, y, k):
    """What scan(truncate_gradient=k) computes, in NumPy: one backward pass over the whole
    sentence that stops after its last k steps (errors of all outputs summed as they go)."""
    o, s = reference.forward_propagation(x)
    T = len(x)
    delta_o = o.copy()
    delta_o[np.arange(T), y] -= 1.0
    dU, dW = np.zeros_like(reference.U), np.zeros_like(reference.W)
    from_later = np.zeros(H)  # error reaching s_t from the steps after t
    for t in reversed(range(max(0, T - k), T)):
        delta = (reference.V.T @ delta_o[t] + from_later) * (1.0 - s[t] ** 2)
        s_before = s[t - 1] if t > 0 else np.zeros(H)
        dW += np.outer(delta, s_before)
        dU[:, x[t]] += delta
        from_later = reference.W.T @ delta
    return {"U": dU, "V": delta_o.T @ s, "W": dW}


def test_scan_truncate_gradient_is_a_different_truncation(pair):
    model, reference = pair
    k = 3
    reference.bptt_truncate = k
    (x,), (y,) = sentences(5, [LONG])
    scan_grads = model.bptt_scan_truncated(x, y, k)
    for name, expected in scan_truncated_oracle(reference, x, y, k).items():
        assert_same(scan_grads[name], expected)
    tutorial = reference.bptt(x, y)
    assert_same(scan_grads["V"], tutorial["V"])  # V is outside the recurrence
    for name in ("U", "W"):
        gap = np.max(np.abs(scan_grads[name] - tutorial[name]))
        assert gap > 1e-2 * np.max(np.abs(tutorial[name])), name


def test_scan_and_tutorial_truncation_agree_exactly_when_the_sentence_is_at_most_k(pair):
    # scan keeps the last k steps: all of them when T <= k. The tutorial's k reaches every
    # step when T <= k + 1. So both are full BPTT, and equal, exactly when T <= k.
    model, reference = pair
    k = 3
    reference.bptt_truncate = k
    (x,), (y,) = sentences(6, [k])
    scan_grads, tutorial = model.bptt_scan_truncated(x, y, k), reference.bptt(x, y)
    for name in tutorial:
        assert_same(scan_grads[name], tutorial[name])
    # T = k + 1: scan never reaches step 0. Only U's column of the first word misses its
    # share; W's share at step 0 is an outer product with s_{-1} = 0 anyway.
    x, y = np.array([5, 1, 2, 3]), np.array([1, 2, 3, 4])
    scan_grads, tutorial = model.bptt_scan_truncated(x, y, k), reference.bptt(x, y)
    assert_same(scan_grads["V"], tutorial["V"])
    assert_same(scan_grads["W"], tutorial["W"])
    gap = np.abs(scan_grads["U"] - tutorial["U"])
    assert np.max(gap[:, x[0]]) > 1e-3 * np.max(np.abs(tutorial["U"]))
    assert np.max(np.delete(gap, x[0], axis=1)) < 1e-12


@pytest.mark.parametrize("k", [4, -1])
def test_padded_batch_gradient_is_the_sum_over_its_sentences(pair, k):
    model, reference = pair
    model.bptt_truncate = reference.bptt_truncate = k
    xs, ys = sentences(7, [3, 7, LONG])  # padded to 12 words, and to 4 rows
    grads = model.bptt_batch(xs, ys)
    for name in grads:
        expected = sum(reference.bptt(x, y)[name] for x, y in zip(xs, ys, strict=True))
        assert_same(grads[name], expected)


@pytest.mark.parametrize("clip_norm", [None, 0.5])
def test_sgd_steps_match_numpy(pair, clip_norm):
    model, reference = pair
    model.bptt_truncate = reference.bptt_truncate = 4
    (x,), (y,) = sentences(8, [LONG])
    model.sgd_step(x, y, 0.1, clip_norm=clip_norm)
    reference.sgd_step(x, y, 0.1, clip_norm=clip_norm)
    for name, value in model.get_params().items():
        assert_same(value, reference.get_params()[name])
    # The batched step: one update with the summed (then clipped) gradient.
    xs, ys = sentences(9, [5, 9, LONG])
    grads = [reference.bptt(x, y) for x, y in zip(xs, ys, strict=True)]
    total = {name: sum(g[name] for g in grads) for name in grads[0]}
    norm = np.sqrt(sum(np.sum(g**2) for g in total.values()))
    scale = 1.0 if clip_norm is None or norm <= clip_norm else clip_norm / norm
    expected = {name: p - 0.1 * scale * total[name] for name, p in reference.get_params().items()}
    model.sgd_step_batch(xs, ys, 0.1, clip_norm=clip_norm)
    for name, value in model.get_params().items():
        assert_same(value, expected[name])


def test_set_params_with_a_new_size_rebuilds_the_graphs():
    model = RNNPyTensor(C, H, bptt_truncate=2, seed=0)
    (x,), (y,) = sentences(10, [LONG])
    model.forward_propagation(x)  # compiled for (H, C) = (8, 30)
    bigger = RNNNumpy(C + 5, H + 2, bptt_truncate=2, seed=3)
    model.set_params(bigger.get_params())  # the original's loader failed here
    assert (model.word_dim, model.hidden_dim) == (C + 5, H + 2)
    x2 = np.append(x, C + 4)  # a word id only the bigger vocabulary has
    y2 = np.append(y, C + 1)
    o, s = model.forward_propagation(x2)
    assert o.shape == (LONG + 1, C + 5) and s.shape == (LONG + 1, H + 2)
    assert_same(o, bigger.forward_propagation(x2)[0])
    for name, grad in model.bptt(x2, y2).items():
        assert_same(grad, bigger.bptt(x2, y2)[name])


def test_float32_batched_step_stays_float32_and_close_to_float64():
    model = RNNPyTensor(C, H, dtype="float32", seed=0)
    reference = RNNNumpy(C, H, seed=0)
    xs, ys = sentences(11, [9, LONG])
    with warnings.catch_warnings():
        # A float64 result leaking into float32 weights makes JAX warn at the next step.
        warnings.simplefilter("error")
        for _ in range(2):
            grads = [reference.bptt(x, y) for x, y in zip(xs, ys, strict=True)]
            reference.set_params(
                {n: p - 0.05 * sum(g[n] for g in grads) for n, p in reference.get_params().items()}
            )
            model.sgd_step_batch(xs, ys, 0.05)
    for name, value in model.get_params().items():
        assert value.dtype == np.float32
        assert_same(value, reference.get_params()[name], rtol=1e-5)


def test_train_with_sgd_drives_the_batched_path_with_the_numpy_fast_gradients(shared_model):
    """Each step of train_with_sgd(batch_size=4) subtracts the numpy fast path's gradient of
    the batch's summed loss: PyTensor's batched steps follow the sum (RNNNumpyFast's own
    sgd_step_batch follows the mean per token, so it is given the gradients by hand)."""
    shared_model.bptt_truncate = 4
    fast = RNNNumpyFast(C, H, bptt_truncate=4, dtype=np.float64)
    fast.set_params(strong_weights(12))
    shared_model.set_params(strong_weights(12))
    X, Y = sentences(12, [9, 10, LONG, 12, 10, 9, 12, 11])  # two batches of 4 per epoch
    X_val, Y_val = sentences(13, [9, 10, LONG])
    history = train_with_sgd(
        shared_model,
        X,
        Y,
        learning_rate=0.01,
        nepoch=2,
        evaluate_loss_after=1,
        batch_size=4,
        X_val=X_val,
        y_val=Y_val,
        progress=False,
    )
    for epoch in range(2):  # no shuffling: batches [0:4], [4:8] in order
        rate = history.evaluations[epoch].learning_rate
        for start in (0, 4):
            grads = fast.bptt_batch(X[start : start + 4], Y[start : start + 4])
            fast.set_params({k: v - rate * grads[k] for k, v in fast.get_params().items()})
    for name, value in shared_model.get_params().items():
        assert_same(value, fast.get_params()[name])
    assert len(history.losses) == 3 and history.step_loss == "sum per batch"


def test_generate_sentence_samples_the_same_words_as_numpy(pair):
    model, reference = pair
    vocab = Vocabulary(
        [SENTENCE_START, SENTENCE_END, *(f"w{i}" for i in range(C - 3)), UNKNOWN_TOKEN]
    )
    ours, theirs = (
        generate_sentence(m, vocab, np.random.default_rng(5), min_length=2, max_length=8)
        for m in (model, reference)
    )
    assert ours == theirs and len(ours) >= 2


def test_checkpoint_round_trip_rebuilds_the_model(tmp_path):
    model = RNNPyTensor(C, H, bptt_truncate=3, seed=0, dtype="float32")
    model.set_params(strong_weights(13))
    loaded = load_model(save_checkpoint(tmp_path / "rnn", model))
    assert isinstance(loaded, RNNPyTensor) and loaded.config() == model.config()
    for name, value in loaded.get_params().items():
        np.testing.assert_array_equal(value, model.get_params()[name])


def error_of(call):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    return info.type, str(info.value)


BAD_SENTENCES = {
    "a string": ("hello", [1, 2, 3, 4, 5]),
    "float ids": ([0.5, 1.0], [1, 2]),
    "a matrix": ([[1, 2], [3, 4]], [1, 2]),
    "empty": ([], []),
    "id out of range": ([1, C], [2, 3]),
    "negative id": ([1, 2], [-1, 3]),
    "lengths differ": ([1, 2, 3], [2, 3]),
}


@pytest.mark.parametrize("case", BAD_SENTENCES)
def test_bad_sentences_get_the_numpy_models_errors(shared_model, case):
    x, y = BAD_SENTENCES[case]
    reference = RNNNumpy(C, H)
    calls = {  # each of our entry points, and the NumPy model's equivalent
        "bptt": (lambda: shared_model.bptt(x, y), lambda: reference.bptt(x, y)),
        "sgd_step": (
            lambda: shared_model.sgd_step(x, y, 0.1),
            lambda: reference.sgd_step(x, y, 0.1),
        ),
        "sgd_step_batch": (
            lambda: shared_model.sgd_step_batch([x], [y], 0.1),
            lambda: reference.bptt(x, y),
        ),
        "calculate_total_loss": (
            lambda: shared_model.calculate_total_loss([x], [y]),
            lambda: reference.calculate_total_loss([x], [y]),
        ),
    }
    for name, (ours, theirs) in calls.items():
        assert error_of(ours) == error_of(theirs), name
    try:
        reference.forward_propagation(x)
    except (TypeError, ValueError):
        expected = error_of(lambda: reference.forward_propagation(x))
        assert error_of(lambda: shared_model.forward_propagation(x)) == expected


def test_bad_arguments_get_clear_errors(shared_model):
    x, y = [1, 2, 3], [2, 3, 4]
    with pytest.raises(ValueError, match="learning_rate must be a positive number, got -1"):
        shared_model.sgd_step(x, y, -1)
    with pytest.raises(ValueError, match="clip_norm must be a positive number, got 0"):
        shared_model.sgd_step_batch([x], [y], 0.1, clip_norm=0)
    with pytest.raises(ValueError, match="bptt_truncate=-2"):
        shared_model.bptt_truncate = -2
    for bad in (0, -3, 2.5, None):
        with pytest.raises(
            ValueError, match=f"truncate_gradient must be an int >= 1, or -1 .*{bad}"
        ):
            shared_model.bptt_scan_truncated(x, y, bad)
    with pytest.raises(ValueError, match="X has 1 sentences but Y has 2"):
        shared_model.calculate_loss([x], [y, y])
    with pytest.raises(ValueError, match=r"missing \['W'\]"):
        shared_model.set_params({"U": np.zeros((H, C)), "V": np.zeros((C, H))})
    with pytest.raises(ValueError, match=r"parameter W has shape \(3, 3\), expected \(8, 8\)"):
        shared_model.set_params({"U": np.zeros((H, C)), "V": np.zeros((C, H)), "W": np.eye(3)})
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        RNNPyTensor(C, H, dtype="int32")
    with pytest.raises(ValueError, match="word_dim must be a positive integer, got 0"):
        RNNPyTensor(0, H)
