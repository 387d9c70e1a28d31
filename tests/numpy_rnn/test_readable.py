"""RNNNumpy against independent oracles: scalar Python maths and finite differences."""

import math

import numpy as np
import pytest

from rnnlib.interface import check_sentence, normalize_bptt_truncate
from rnnlib.numpy_rnn import RNNNumpy
from rnnlib.numpy_rnn.readable import clip_gradients, softmax

C, H = 30, 8  # a small model: finite differences over every entry stay fast


def random_sentence(rng, length, word_dim=C):
    return rng.integers(0, word_dim, length), rng.integers(0, word_dim, length)


# --- oracle 1: the equations written with scalars and Python lists --------------------------


def scalar_forward(U, V, W, x):
    """o and s for one sentence, with math.tanh/math.exp and explicit sums (no NumPy algebra)."""
    hidden, words = len(U), len(U[0])
    s_prev = [0.0] * hidden
    outputs, states = [], []
    for word in x:
        s = [
            math.tanh(U[i][word] + sum(W[i][j] * s_prev[j] for j in range(hidden)))
            for i in range(hidden)
        ]
        scores = [sum(V[c][j] * s[j] for j in range(hidden)) for c in range(words)]
        top = max(scores)
        exps = [math.exp(z - top) for z in scores]
        outputs.append([e / sum(exps) for e in exps])
        states.append(s)
        s_prev = s
    return outputs, states


def test_forward_matches_scalar_equations():
    model = RNNNumpy(6, 3, seed=4)
    x = [0, 5, 2, 2, 1]
    o, s = model.forward_propagation(x)
    o_ref, s_ref = scalar_forward(model.U.tolist(), model.V.tolist(), model.W.tolist(), x)
    assert o.shape == (5, 6) and s.shape == (5, 3)
    np.testing.assert_allclose(o, o_ref, rtol=1e-12)
    np.testing.assert_allclose(s, s_ref, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(x), np.argmax(o_ref, axis=1))


def test_losses_match_scalar_cross_entropy():
    model = RNNNumpy(6, 3, seed=5)
    X = [[0, 3, 4], [0, 2]]
    Y = [[3, 4, 1], [2, 1]]
    expected = 0.0
    for x, y in zip(X, Y, strict=True):
        o_ref, _ = scalar_forward(model.U.tolist(), model.V.tolist(), model.W.tolist(), x)
        expected -= sum(math.log(o_ref[t][y[t]]) for t in range(len(y)))
    assert model.calculate_total_loss(X, Y) == pytest.approx(expected, rel=1e-12)
    assert model.calculate_loss(X, Y) == pytest.approx(expected / 5, rel=1e-12)


def test_random_model_loss_is_close_to_log_vocabulary_size():
    # An untrained model spreads its probability almost evenly: loss ~ log(C).
    rng = np.random.default_rng(0)
    model = RNNNumpy(8000, 100, seed=1)
    X, Y = zip(*(random_sentence(rng, 15, 8000) for _ in range(4)), strict=True)
    assert abs(model.calculate_loss(list(X), list(Y)) - np.log(8000)) < 0.05


def test_initialisation_ranges_follow_incoming_connections():
    model = RNNNumpy(400, 50, seed=2)
    for name, bound in (("U", np.sqrt(1 / 400)), ("V", np.sqrt(1 / 50)), ("W", np.sqrt(1 / 50))):
        values = getattr(model, name)
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.95 * bound  # uniform over the whole range
    assert model.U.shape == (50, 400) and model.V.shape == (400, 50) and model.W.shape == (50, 50)
    assert not np.array_equal(RNNNumpy(400, 50, seed=3).U, model.U)


def test_softmax_is_stable_for_huge_scores():
    z = np.array([1000.0, 1000.0 + np.log(3.0), -1000.0])
    np.testing.assert_allclose(softmax(z), [0.25, 0.75, 0.0], atol=1e-15)
    rows = np.array([[1.0, 2.0, 3.0], [1001.0, 1002.0, 1003.0]])
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(softmax(rows), [e / e.sum()] * 2, rtol=1e-12)


def test_float32_model_agrees_with_float64():
    x = [1, 4, 2, 7]
    o64, _ = RNNNumpy(10, 5, seed=6).forward_propagation(x)
    o32, s32 = RNNNumpy(10, 5, seed=6, dtype=np.float32).forward_propagation(x)
    assert o32.dtype == np.float32 and s32.dtype == np.float32
    np.testing.assert_allclose(o32, o64, rtol=1e-5)


# --- oracle 2: finite differences ----------------------------------------------------------


def numeric_gradient(loss, params, h=1e-5):
    """Central differences of loss(params) for every entry of every parameter."""
    grads = {}
    for name, value in params.items():
        grad = np.zeros_like(value)
        for ix in np.ndindex(value.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][ix] += h
            minus[name][ix] -= h
            grad[ix] = (loss(plus) - loss(minus)) / (2 * h)
        grads[name] = grad
    return grads


def truncated_loss(params, x, y, k, frozen):
    """Sum over outputs t of -log o_t[y_t], where the state s_{t-k-1} is a constant.

    `frozen` holds the states of the unperturbed model: treating them as constants is the
    stop-gradient that truncated BPTT implies, so the derivative of this function is
    exactly what bptt(x, y) with bptt_truncate=k must return.
    """
    U, V, W = params["U"], params["V"], params["W"]
    total = 0.0
    for t in range(len(x)):
        first = max(0, t - k)
        s = frozen[first - 1] if first > 0 else np.zeros(len(W))
        for step in range(first, t + 1):  # recompute only the steps the error may reach
            s = np.tanh(U[:, x[step]] + W @ s)
        scores = V @ s
        total -= scores[y[t]] - np.log(np.sum(np.exp(scores)))
    return total


@pytest.mark.parametrize("k", [0, 1, 4, -1])
def test_bptt_equals_finite_differences_of_the_truncated_loss(k):
    rng = np.random.default_rng(10 + k)
    model = RNNNumpy(C, H, bptt_truncate=k, seed=11)
    x, y = random_sentence(rng, 10)  # longer than the truncation
    params = model.get_params()
    _, frozen = model.forward_propagation(x)
    depth = len(x) if k == -1 else k
    expected = numeric_gradient(lambda p: truncated_loss(p, x, y, depth, frozen), params)
    analytic = model.bptt(x, y)
    for name in ("U", "V", "W"):
        np.testing.assert_allclose(analytic[name], expected[name], rtol=1e-6, atol=1e-8)


def test_full_bptt_is_the_derivative_of_the_models_own_loss():
    rng = np.random.default_rng(3)
    model = RNNNumpy(C, H, bptt_truncate=None, seed=12)
    x, y = random_sentence(rng, 9)
    params = model.get_params()

    def loss(p):
        model.set_params(p)
        return model.calculate_total_loss([x], [y])

    expected = numeric_gradient(loss, params)
    model.set_params(params)
    analytic = model.bptt(x, y)
    for name in ("U", "V", "W"):
        np.testing.assert_allclose(analytic[name], expected[name], rtol=1e-6, atol=1e-8)


def test_truncated_gradient_differs_from_full_on_long_sentences():
    rng = np.random.default_rng(4)
    x, y = random_sentence(rng, 12)
    full = RNNNumpy(C, H, bptt_truncate=-1, seed=13).bptt(x, y)
    truncated = RNNNumpy(C, H, bptt_truncate=2, seed=13).bptt(x, y)
    np.testing.assert_array_equal(truncated["V"], full["V"])  # V never looks back in time
    assert not np.allclose(truncated["W"], full["W"], rtol=1e-3)
    # Truncating at T-1 or more reaches the first word from the last output: full BPTT.
    long_enough = RNNNumpy(C, H, bptt_truncate=11, seed=13).bptt(x, y)
    for name in ("U", "W"):
        np.testing.assert_allclose(long_enough[name], full[name], rtol=1e-12)


def test_errors_older_than_the_truncation_contribute_exactly_zero():
    # With k=1, the word read at step 0 receives error only from outputs 0 and 1:
    # changing every later target must leave its column of dU bit-for-bit unchanged.
    model = RNNNumpy(C, H, bptt_truncate=1, seed=14)
    x = np.array([5, 1, 2, 3, 4, 6, 7, 8])  # word 5 appears only at step 0
    y1 = np.array([9, 10, 11, 12, 13, 14, 15, 16])
    y2 = y1.copy()
    y2[2:] = [20, 21, 22, 23, 24, 25]
    g1, g2 = model.bptt(x, y1), model.bptt(x, y2)
    np.testing.assert_array_equal(g1["U"][:, 5], g2["U"][:, 5])
    assert not np.array_equal(g1["U"][:, 3], g2["U"][:, 3])  # later columns do change
    # ...and it equals the gradient of the first two outputs alone (an independent sentence).
    head = model.bptt(x[:2], y1[:2])
    np.testing.assert_allclose(g1["U"][:, 5], head["U"][:, 5], rtol=1e-13)


# --- updates and parameters ----------------------------------------------------------------


def test_sgd_step_moves_against_the_gradient():
    rng = np.random.default_rng(5)
    model = RNNNumpy(C, H, seed=15)
    x, y = random_sentence(rng, 6)
    before, grads = model.get_params(), model.bptt(x, y)
    model.sgd_step(x, y, 0.1)
    for name, value in model.get_params().items():
        np.testing.assert_allclose(value, before[name] - 0.1 * grads[name], rtol=1e-12)
    assert model.calculate_total_loss([x], [y]) < RNNNumpy(C, H, seed=15).calculate_total_loss(
        [x], [y]
    )


def test_clipping_bounds_the_update_norm():
    rng = np.random.default_rng(6)
    model = RNNNumpy(C, H, seed=16)
    x, y = random_sentence(rng, 8)
    grads = model.bptt(x, y)
    norm = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
    before = model.get_params()
    model.sgd_step(x, y, 0.5, clip_norm=norm / 4)
    step = np.sqrt(sum(np.sum((model.get_params()[n] - before[n]) ** 2) for n in before))
    assert step == pytest.approx(0.5 * norm / 4, rel=1e-9)
    # Below the threshold the gradients pass unchanged.
    same = clip_gradients(grads, 2 * norm)
    for name in grads:
        np.testing.assert_array_equal(same[name], grads[name])
    with pytest.raises(ValueError, match="clip_norm"):
        clip_gradients(grads, 0.0)


def test_get_params_returns_copies_and_set_params_resizes():
    model = RNNNumpy(10, 4, seed=17)
    params = model.get_params()
    params["U"][:] = 0.0
    assert np.any(model.U != 0.0)
    other = RNNNumpy(5, 3, seed=18)
    model.set_params(other.get_params())
    assert (model.word_dim, model.hidden_dim) == (5, 3)
    np.testing.assert_array_equal(
        model.forward_propagation([1, 2])[0], other.forward_propagation([1, 2])[0]
    )
    with pytest.raises(ValueError, match="7"):
        model.forward_propagation([1, 7])
    rebuilt = type(model)(**model.config())
    assert (rebuilt.word_dim, rebuilt.hidden_dim) == (5, 3)


def test_set_params_rejects_bad_names_and_shapes():
    model = RNNNumpy(10, 4)
    good = model.get_params()
    with pytest.raises(ValueError, match="missing \\['W'\\]"):
        model.set_params({"U": good["U"], "V": good["V"]})
    with pytest.raises(ValueError, match="unexpected \\['b'\\]"):
        model.set_params({**good, "b": np.zeros(3)})
    with pytest.raises(ValueError, match="V has shape \\(9, 4\\), expected \\(10, 4\\)"):
        model.set_params({**good, "V": np.zeros((9, 4))})
    with pytest.raises(ValueError, match="matrix"):
        model.set_params({**good, "W": np.zeros(16)})
    with pytest.raises(TypeError, match="numeric"):
        model.set_params({**good, "W": np.full((4, 4), "a")})
    np.testing.assert_array_equal(model.U, good["U"])  # unchanged after the failures


def test_config_rebuilds_the_same_model():
    model = RNNNumpy(12, 5, bptt_truncate=None, seed=9, dtype=np.float32)
    config = model.config()
    assert config == {
        "word_dim": 12,
        "hidden_dim": 5,
        "bptt_truncate": -1,
        "seed": 9,
        "dtype": "float32",
    }
    np.testing.assert_array_equal(RNNNumpy(**config).W, model.W)


# --- bad input ------------------------------------------------------------------------------


def test_bad_sentences_get_clear_errors():
    model = RNNNumpy(10, 4)
    with pytest.raises(ValueError, match=r"x\[2\] = 10 .*0 <= id < 10"):
        model.forward_propagation([1, 2, 10])
    with pytest.raises(ValueError, match=r"y\[0\] = -1"):
        model.bptt([1, 2], [-1, 3])
    with pytest.raises(TypeError, match="integer word ids, got dtype float64"):
        model.forward_propagation(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="x has 3 words but y has 2"):
        model.bptt([1, 2, 3], [2, 3])
    with pytest.raises(ValueError, match="empty sentence"):
        model.forward_propagation([])
    with pytest.raises(ValueError, match="1-D"):
        model.forward_propagation([[1, 2], [3, 4]])
    with pytest.raises(TypeError, match="string"):
        model.forward_propagation("hello")
    with pytest.raises(TypeError, match="dtype bool"):
        check_sentence(np.array([True, False]))


def test_bad_data_sets_get_clear_errors():
    model = RNNNumpy(10, 4)
    with pytest.raises(ValueError, match="X has 2 sentences but Y has 1"):
        model.calculate_loss([[1], [2]], [[2]])
    with pytest.raises(ValueError, match="empty"):
        model.calculate_loss([], [])
    with pytest.raises(TypeError, match="single sentence"):
        model.calculate_loss(np.array([1, 2]), np.array([2, 3]))


def test_bad_constructor_arguments():
    assert normalize_bptt_truncate(None) == -1 and normalize_bptt_truncate(-1) == -1
    for bad in (-2, -5):
        with pytest.raises(ValueError, match=f"bptt_truncate={bad}"):
            RNNNumpy(10, bptt_truncate=bad)
    with pytest.raises(TypeError, match="1.5"):
        RNNNumpy(10, bptt_truncate=1.5)
    with pytest.raises(ValueError, match="word_dim must be a positive integer, got 0"):
        RNNNumpy(0)
    with pytest.raises(ValueError, match="float32 or float64"):
        RNNNumpy(10, dtype=np.int64)
    with pytest.raises(ValueError, match="learning_rate"):
        RNNNumpy(10, 4).sgd_step([1], [2], -0.1)


@pytest.mark.parametrize("k", [1, 4, -1])
def test_truncated_total_loss_is_the_independent_truncated_objective(k):
    rng = np.random.default_rng(7)
    model = RNNNumpy(C, H, bptt_truncate=k, seed=2)
    x, y = random_sentence(rng, 10)
    _, frozen = model.forward_propagation(x)
    depth = len(x) if k == -1 else k
    expected = truncated_loss(model.get_params(), x, y, depth, frozen)
    assert model.truncated_total_loss(x, y, frozen) == pytest.approx(expected, rel=1e-12)
    if k == -1:  # nothing is frozen: the ordinary loss
        assert expected == pytest.approx(model.calculate_total_loss([x], [y]), rel=1e-12)
