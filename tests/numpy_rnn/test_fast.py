"""RNNNumpyFast against its oracles: the readable RNNNumpy (float64) and finite differences."""

import tracemalloc
import warnings

import numpy as np
import pytest

from rnnlib.numpy_rnn.fast import RNNNumpyFast
from rnnlib.numpy_rnn.readable import RNNNumpy, clip_gradients
from rnnlib.training.checkpoint import load_checkpoint, save_checkpoint
from rnnlib.training.optimizers import SGD, Adam, Momentum
from rnnlib.training.sgd import train_with_sgd

C, H = 40, 8


def sentences(seed, lengths, word_dim=C):
    """Random (xs, ys) of the given lengths."""
    rng = np.random.default_rng(seed)
    xs = [rng.integers(0, word_dim, n) for n in lengths]
    ys = [rng.integers(0, word_dim, n) for n in lengths]
    return xs, ys


def pair(bptt_truncate=4, seed=5, dtype=np.float64):
    """A readable model and a fast one holding the same weights."""
    readable = RNNNumpy(C, H, bptt_truncate=bptt_truncate, seed=seed)
    fast = RNNNumpyFast(C, H, bptt_truncate=bptt_truncate, seed=seed, dtype=dtype)
    return readable, fast


def summed(grads_list):
    return {name: sum(g[name] for g in grads_list) for name in ("U", "V", "W")}


def mean_per_token(readable, xs, ys):
    """The readable model's gradient of the batch's mean loss: summed bptt / target tokens."""
    grads = summed([readable.bptt(x, y) for x, y in zip(xs, ys, strict=True)])
    tokens = sum(len(y) for y in ys)
    return {name: g / tokens for name, g in grads.items()}


def assert_grads_close(actual, expected, rtol=1e-10, atol=1e-12):
    for name in ("U", "V", "W"):
        assert actual[name].shape == expected[name].shape, name
        np.testing.assert_allclose(actual[name], expected[name], rtol=rtol, atol=atol, err_msg=name)


# --- same model, same numbers ----------------------------------------------------------------


def test_same_seed_gives_the_readable_models_weights():
    readable, fast = pair(dtype=np.float64)
    for name, value in readable.get_params().items():
        np.testing.assert_array_equal(fast.get_params()[name], value)
    assert fast.get_params()["U"].shape == (H, C)  # the tutorial's layout, not the internal one


def test_forward_loss_and_predict_match_readable():
    readable, fast = pair()
    xs, ys = sentences(0, [1, 6, 13])
    for x in xs:
        o_r, s_r = readable.forward_propagation(x)
        o_f, s_f = fast.forward_propagation(x)
        np.testing.assert_allclose(o_f, o_r, rtol=1e-12)
        np.testing.assert_allclose(s_f, s_r, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(fast.predict(x), readable.predict(x))
    assert fast.calculate_total_loss(xs, ys) == pytest.approx(
        readable.calculate_total_loss(xs, ys), rel=1e-12
    )
    assert fast.calculate_loss(xs, ys) == pytest.approx(readable.calculate_loss(xs, ys), rel=1e-12)


def test_loss_in_chunks_equals_loss_in_one_go(monkeypatch):
    readable, fast = pair()
    xs, ys = sentences(1, [7, 3, 9, 4, 8])
    monkeypatch.setattr("rnnlib.numpy_rnn.fast.LOSS_CHUNK_TOKENS", 10)  # forces 4 chunks
    assert fast.calculate_total_loss(xs, ys) == pytest.approx(
        readable.calculate_total_loss(xs, ys), rel=1e-12
    )


@pytest.mark.parametrize("k", [0, 1, 4, 7, -1])
def test_batch_of_one_equals_readable_bptt(k):
    readable, fast = pair(bptt_truncate=k)
    (x,), (y,) = sentences(2, [10])
    assert_grads_close(fast.bptt(x, y), readable.bptt(x, y))


def test_one_word_sentence_has_no_recurrent_gradient():
    readable, fast = pair(bptt_truncate=-1)
    grads = fast.bptt(np.array([3]), np.array([7]))
    assert_grads_close(grads, readable.bptt(np.array([3]), np.array([7])))
    assert not grads["W"].any()  # s_{-1} = 0: nothing for W to act on


@pytest.mark.parametrize("k", [0, 1, 4, -1])
def test_padded_batch_equals_sum_over_its_sentences(k):
    readable, fast = pair(bptt_truncate=k)
    xs, ys = sentences(3, [11, 2, 1, 7, 11, 5])  # ragged: padding and length-1 sentences
    expected = summed([readable.bptt(x, y) for x, y in zip(xs, ys, strict=True)])
    assert_grads_close(fast.bptt_batch(xs, ys), expected)


def test_truncation_changes_the_gradient():
    """The cases above are not vacuous: on long sentences, k=1, k=4 and full really differ."""
    xs, ys = sentences(4, [12, 9])
    grads = {k: pair(bptt_truncate=k)[1].bptt_batch(xs, ys)["W"] for k in (1, 4, -1)}
    assert not np.allclose(grads[1], grads[4], rtol=1e-6)
    assert not np.allclose(grads[4], grads[-1], rtol=1e-6)


def test_full_bptt_batch_gradient_matches_finite_differences():
    _, fast = pair(bptt_truncate=-1)
    xs, ys = sentences(5, [6, 3, 5])
    analytic = fast.bptt_batch(xs, ys)
    params, h = fast.get_params(), 1e-5
    rng = np.random.default_rng(0)
    for name in ("U", "V", "W"):
        # The U columns of words that were read, plus random entries of each matrix.
        entries = [(int(rng.integers(H)), int(xs[0][0]))] if name == "U" else []
        entries += [tuple(int(rng.integers(n)) for n in params[name].shape) for _ in range(4)]
        for index in entries:
            losses = []
            for sign in (1, -1):
                shifted = {k: v.copy() for k, v in params.items()}
                shifted[name][index] += sign * h
                fast.set_params(shifted)
                losses.append(fast.calculate_total_loss(xs, ys))
            numeric = (losses[0] - losses[1]) / (2 * h)
            assert analytic[name][index] == pytest.approx(numeric, rel=1e-6, abs=1e-8), (
                name,
                index,
            )
    fast.set_params(params)


def logsumexp_loss(readable, xs, ys):
    """Total cross-entropy from the readable model's states, as log-sum-exp minus the target.

    RNNNumpy sums -log(softmax): right for any sane model, but a probability that rounds to
    0 makes it inf. This form stays finite, so it can judge extreme scores.
    """
    total = 0.0
    for x, y in zip(xs, ys, strict=True):
        scores = readable.forward_propagation(x)[1] @ readable.V.T  # (T, C)
        top = scores.max(axis=1)
        lse = top + np.log(np.exp(scores - top[:, None]).sum(axis=1))
        total += float(np.sum(lse - scores[np.arange(len(y)), y]))
    return total


def test_large_scores_take_the_max_shifted_softmax_and_stay_exact():
    """Scores past the safe range for exp() without a shift must give the same numbers."""
    readable, fast = pair(bptt_truncate=-1)
    params = readable.get_params()
    params["V"] *= 6000.0  # scores of several hundred: exp would overflow float64 unshifted
    readable.set_params(params)
    fast.set_params(params)
    xs, ys = sentences(6, [5, 3])
    assert np.max(readable.forward_propagation(xs[0])[1] @ params["V"].T) > 710  # e^710 = inf
    loss = fast.calculate_total_loss(xs, ys)
    assert np.isfinite(loss) and loss > 100
    assert loss == pytest.approx(logsumexp_loss(readable, xs, ys), rel=1e-10)
    expected = summed([readable.bptt(x, y) for x, y in zip(xs, ys, strict=True)])
    assert_grads_close(fast.bptt_batch(xs, ys), expected, rtol=1e-8, atol=1e-9)


# --- training --------------------------------------------------------------------------------


def test_sgd_step_batch_subtracts_the_gradient_of_the_mean_loss_per_token():
    readable, fast = pair()
    xs, ys = sentences(7, [4, 9, 6])
    before = readable.get_params()
    grads = mean_per_token(readable, xs, ys)
    fast.sgd_step_batch(xs, ys, 0.1)
    for name, value in fast.get_params().items():
        np.testing.assert_allclose(value, before[name] - 0.1 * grads[name], rtol=1e-10, atol=1e-13)


def test_sgd_step_batch_clips_the_global_norm():
    readable, fast = pair()
    xs, ys = sentences(8, [8, 8, 5])
    before = readable.get_params()
    grads = mean_per_token(readable, xs, ys)
    norm = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
    clipped = clip_gradients(grads, norm / 4)  # the readable model's own clipping rule
    fast.sgd_step_batch(xs, ys, 0.1, clip_norm=norm / 4)
    for name, value in fast.get_params().items():
        np.testing.assert_allclose(
            value, before[name] - 0.1 * clipped[name], rtol=1e-10, atol=1e-13
        )


def test_sgd_step_equals_readable_sgd_step():
    readable, fast = pair(bptt_truncate=3)
    xs, ys = sentences(9, [9, 4])
    for x, y in zip(xs, ys, strict=True):
        readable.sgd_step(x, y, 0.05, clip_norm=1.0)
        fast.sgd_step(x, y, 0.05, clip_norm=1.0)
    for name, value in readable.get_params().items():
        np.testing.assert_allclose(fast.get_params()[name], value, rtol=1e-10, atol=1e-13)


def test_one_epoch_float32_batch_1_matches_readable_loss():
    """Same loss after one epoch of train_with_sgd as the readable path, to float32 accuracy."""
    readable = RNNNumpy(C, H, bptt_truncate=4, seed=1)
    fast = RNNNumpyFast(C, H, bptt_truncate=4, seed=1)  # float32
    assert fast.get_params()["V"].dtype == np.float32
    # A learnable pattern (the next word is the word after this one), so the loss really falls.
    xs, _ = sentences(10, np.random.default_rng(0).integers(2, 15, 40))
    ys = [(x + 1) % C for x in xs]
    options = dict(learning_rate=0.2, nepoch=1, evaluate_loss_after=1, progress=False)
    hist_r = train_with_sgd(readable, xs, ys, **options)
    hist_f = train_with_sgd(fast, xs, ys, **options)
    assert hist_r.losses[-1] < hist_r.losses[0] - 1.0  # it did learn something
    np.testing.assert_allclose(hist_f.losses, hist_r.losses, rtol=2e-5)


def test_train_with_sgd_drives_minibatches():
    """batch_size=4 through train_with_sgd: each step is the readable mean-loss gradient."""
    readable = RNNNumpy(C, H, bptt_truncate=2, seed=2)
    fast = RNNNumpyFast(C, H, bptt_truncate=2, seed=2, dtype=np.float64)
    xs, ys = sentences(11, np.random.default_rng(1).integers(1, 12, 10))
    train_with_sgd(
        fast, xs, ys, 0.02, nepoch=2, evaluate_loss_after=5, batch_size=4, progress=False
    )
    for _ in range(2):  # no shuffling: batches [0:4], [4:8], [8:10] in order
        for start in range(0, 10, 4):
            batch = range(start, min(start + 4, 10))
            grads = mean_per_token(readable, [xs[i] for i in batch], [ys[i] for i in batch])
            readable.set_params({k: v - 0.02 * grads[k] for k, v in readable.get_params().items()})
    for name, value in readable.get_params().items():
        np.testing.assert_allclose(fast.get_params()[name], value, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("clip_norm", [None, 0.05])
@pytest.mark.parametrize(
    "make", [lambda: Adam(0.01), lambda: Momentum(0.3, nesterov=True)], ids=["adam", "nesterov"]
)
def test_step_batch_is_the_optimizer_on_the_readable_mean_loss_gradient(make, clip_norm):
    """Three steps of step_batch against the same optimiser fed the readable model's
    gradients (summed bptt / tokens, clipped by the readable rule) by hand."""
    readable, fast = pair(bptt_truncate=3)
    optimizer, reference = make(), make()
    params = readable.get_params()
    for seed in range(3):
        xs, ys = sentences(20 + seed, [5, 8, 2])
        readable.set_params(params)
        grads = mean_per_token(readable, xs, ys)
        if clip_norm is not None:
            grads = clip_gradients(grads, clip_norm)
        reference.update(params, grads)
        fast.step_batch(xs, ys, optimizer, clip_norm=clip_norm)
    for name, value in fast.get_params().items():
        np.testing.assert_allclose(value, params[name], rtol=1e-9, atol=1e-12, err_msg=name)
    assert optimizer.t == 3
    for key, value in reference.state_dict().items():
        if key != "name":
            np.testing.assert_allclose(optimizer.state_dict()[key], value, rtol=1e-9, atol=1e-12)


def test_step_batch_with_plain_sgd_is_sgd_step_batch():
    """Plain SGD takes the fused path; it is the same step as SGD.update on the gradients."""
    readable, fast = pair()
    xs, ys = sentences(24, [6, 3, 7])
    optimizer, params = SGD(0.2), readable.get_params()
    SGD(0.2).update(params, clip_gradients(mean_per_token(readable, xs, ys), 0.5))
    fast.step_batch(xs, ys, optimizer, clip_norm=0.5)
    for name, value in fast.get_params().items():
        np.testing.assert_allclose(value, params[name], rtol=1e-10, atol=1e-13)
    assert optimizer.t == 1


def test_one_learning_rate_for_any_batch_size():
    """The mean, not the sum: the same sentence twice steps exactly as it does once."""
    _, once = pair()
    _, twice = pair()
    (x,), (y,) = sentences(25, [7])
    once.sgd_step_batch([x], [y], 0.3)
    twice.sgd_step_batch([x, x], [y, y], 0.3)
    for name, value in once.get_params().items():
        np.testing.assert_allclose(twice.get_params()[name], value, rtol=1e-12, atol=1e-15)


# --- parameters and checkpoints ---------------------------------------------------------------


def test_checkpoint_opens_with_the_readable_model(tmp_path):
    _, fast = pair(bptt_truncate=3, dtype=np.float32)
    xs, ys = sentences(12, [6, 4])
    fast.sgd_step_batch(xs, ys, 0.1)
    path = save_checkpoint(tmp_path / "fast", fast)
    loaded = load_checkpoint(path).model
    assert isinstance(loaded, RNNNumpyFast) and loaded.bptt_truncate == 3
    readable = RNNNumpy(**loaded.config())
    readable.set_params(loaded.get_params())
    assert readable.calculate_total_loss(xs, ys) == pytest.approx(
        fast.calculate_total_loss(xs, ys), rel=1e-5
    )


def test_set_params_resizes_and_validates():
    fast = RNNNumpyFast(C, H)
    other = RNNNumpy(25, 6, seed=3).get_params()
    fast.set_params(other)
    assert (fast.word_dim, fast.hidden_dim) == (25, 6)
    assert fast.get_params()["U"].dtype == np.float32
    np.testing.assert_allclose(fast.get_params()["W"], other["W"], rtol=1e-6)
    with pytest.raises(ValueError, match="missing"):
        fast.set_params({"U": other["U"], "V": other["V"]})
    with pytest.raises(ValueError, match="shape"):
        fast.set_params({**other, "W": np.zeros((5, 5))})


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, words",
    [
        (
            lambda m: m.sgd_step_batch([np.array([1, 99])], [np.array([2, 3])], 0.1),
            ValueError,
            "99",
        ),
        (
            lambda m: m.sgd_step_batch([np.array([1, 2])], [np.array([2])], 0.1),
            ValueError,
            "same length",
        ),
        (lambda m: m.sgd_step_batch([], [], 0.1), ValueError, "empty"),
        (
            lambda m: m.sgd_step_batch([np.array([1])], [np.array([2])], 0.0),
            ValueError,
            "learning_rate",
        ),
        (
            lambda m: m.sgd_step_batch([np.array([1])], [np.array([2])], 0.1, clip_norm=-1),
            ValueError,
            "clip_norm",
        ),
        (lambda m: m.bptt_batch([np.array([1.5])], [np.array([2])]), TypeError, "integer"),
        (lambda m: m.forward_propagation([]), ValueError, "empty"),
    ],
)
def test_bad_input_is_rejected_clearly(call, error, words):
    with pytest.raises(error, match=words):
        call(RNNNumpyFast(C, H))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="bptt_truncate=-2"):
        RNNNumpyFast(C, H, bptt_truncate=-2)
    with pytest.raises(ValueError, match="float16"):
        RNNNumpyFast(C, H, dtype=np.float16)
    with pytest.raises(ValueError, match="hidden_dim"):
        RNNNumpyFast(C, 0)


# --- memory ------------------------------------------------------------------------------------


def test_peak_memory_of_a_large_step_stays_under_1_gib():
    """C=8000, H=100, batch 64, sentences up to 50 words: one step's peak (numpy-traced)."""
    model = RNNNumpyFast(8000, 100, bptt_truncate=4)
    xs, ys = sentences(13, np.random.default_rng(2).integers(30, 51, 64), word_dim=8000)
    tracemalloc.start()
    try:
        model.sgd_step_batch(xs, ys, 0.005)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    scores = sum(len(x) for x in xs) * 8000 * 4  # the (N, C) float32 matrix it cannot avoid
    assert scores < peak < 1 << 30


def test_scores_that_overflow_float32_take_the_shifted_softmax():
    """Scores near 100 overflow exp in float32: the row sums reveal it, the shift fixes it."""
    readable, fast = pair(bptt_truncate=-1)
    fast32 = RNNNumpyFast(C, H, bptt_truncate=-1)
    params = readable.get_params()
    params["U"] = np.abs(params["U"]) * 50.0 + 1.0  # every state saturates at +1
    params["V"] = np.where(np.arange(C)[:, None] % 2 == 0, 20.0, -20.0) * np.ones((C, H))
    readable.set_params(params)  # scores are +-20 H = +-160: exp(160) overflows float32
    fast32.set_params(params)
    xs, ys = sentences(9, [5, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the failed first try must not leak warnings either
        loss = fast32.calculate_total_loss(xs, ys)
        grads = fast32.bptt_batch(xs, ys)
    assert loss == pytest.approx(logsumexp_loss(readable, xs, ys), rel=1e-5)
    expected = summed([readable.bptt(x, y) for x, y in zip(xs, ys, strict=True)])
    assert_grads_close(grads, expected, rtol=1e-4, atol=1e-3)


def test_scores_that_underflow_take_the_shifted_softmax():
    """All scores far below zero: exp would give 0 everywhere unless shifted."""
    readable, fast = pair(bptt_truncate=-1)
    params = readable.get_params()
    params["U"] = np.abs(params["U"]) * 50.0 + 1.0  # every state saturates at +1
    params["V"] = -np.abs(params["V"]) * 100.0 - 100.0  # so every score is below -800
    readable.set_params(params)
    fast.set_params(params)
    xs, ys = sentences(10, [4, 2])
    assert np.max(params["V"].sum(axis=1)) < -746  # exp(-746) is 0 even in float64
    loss = fast.calculate_total_loss(xs, ys)
    assert np.isfinite(loss)
    assert loss == pytest.approx(logsumexp_loss(readable, xs, ys), rel=1e-10)
    expected = summed([readable.bptt(x, y) for x, y in zip(xs, ys, strict=True)])
    assert_grads_close(fast.bptt_batch(xs, ys), expected, rtol=1e-8, atol=1e-9)


def test_buffers_follow_a_resize():
    """A step at one vocabulary size, then set_params to another: no stale (N, C) buffer."""
    fast = RNNNumpyFast(C, H)
    xs, ys = sentences(11, [6, 6])
    fast.sgd_step_batch(xs, ys, 0.01)
    smaller = RNNNumpy(C - 7, H, seed=4)
    fast.set_params(smaller.get_params())
    xs, ys = sentences(12, [5], word_dim=C - 7)
    assert fast.calculate_total_loss(xs, ys) == pytest.approx(
        smaller.calculate_total_loss(xs, ys), rel=1e-5
    )
