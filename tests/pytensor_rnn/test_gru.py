"""GRUPyTensor against independent oracles: the GRU equations in plain NumPy, finite
differences (of the loss, and of the truncated objective), and RMSprop written in NumPy."""

import warnings

import numpy as np
import pytest

from rnnlib.analysis.gradcheck import gradient_check
from rnnlib.numpy_rnn.readable import RNNNumpy
from rnnlib.pytensor_rnn.gru import CACHE_NAMES, WEIGHT_NAMES, GRUPyTensor
from rnnlib.training.checkpoint import load_model, save_checkpoint

C, H = 12, 4
T = 7  # every sentence here fits the 8-word bucket: one compiled shape per function


def assert_same(actual, expected, rtol=1e-10):
    """Agreement to `rtol` relative to the size of the expected array."""
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(float(np.max(np.abs(expected))), 1e-300)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def random_weights(seed, word_dim=C, hidden_dim=H):
    """Weights with non-zero biases, so that every parameter's gradient is exercised."""
    rng = np.random.default_rng(seed)
    shapes = {"E": (hidden_dim, word_dim), "U": (6, hidden_dim, hidden_dim)}
    shapes.update(W=(6, hidden_dim, hidden_dim), b=(6, hidden_dim))
    shapes.update(V=(word_dim, hidden_dim), c=(word_dim,))
    return {name: rng.uniform(-1, 1, shape) for name, shape in shapes.items()}


def sentence(seed, length=T):
    rng = np.random.default_rng(seed)
    return rng.integers(0, C, length), rng.integers(0, C, length)


# --- the NumPy oracle: the part-4 equations, one vector at a time ---------------------------


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def gru_layer(p, x, s, first):
    U, W, b = p["U"], p["W"], p["b"]
    z = sigmoid(U[first] @ x + W[first] @ s + b[first])
    r = sigmoid(U[first + 1] @ x + W[first + 1] @ s + b[first + 1])
    h = np.tanh(U[first + 2] @ x + W[first + 2] @ (s * r) + b[first + 2])
    return (1 - z) * h + z * s


def run_steps(p, x, s1, s2, steps):
    for t in steps:
        s1 = gru_layer(p, p["E"][:, x[t]], s1, 0)
        s2 = gru_layer(p, s1, s2, 3)
    return s1, s2


def word_loss(p, s2, target):
    scores = p["V"] @ s2 + p["c"]
    top = np.max(scores)
    return top + np.log(np.sum(np.exp(scores - top))) - scores[target]


def numpy_forward(p, x):
    """o (T, C), top states (T, H), and both layers' states after every step."""
    zero = np.zeros(p["E"].shape[0])
    states, s1, s2 = [], zero, zero
    for t in range(len(x)):
        s1, s2 = run_steps(p, x, s1, s2, [t])
        states.append((s1, s2))
    top = np.array([s2 for _, s2 in states])
    scores = top @ p["V"].T + p["c"]
    o = np.exp(scores - scores.max(axis=1, keepdims=True))
    return o / o.sum(axis=1, keepdims=True), top, states


def truncated_objective(p, p0, x, y, k):
    """sum_t loss_t, each s_t recomputed over steps t-k..t from the state before them taken
    from the parameters p0 (held fixed). At p = p0 its derivative is the tutorial's
    truncated gradient: each output's error flows back k steps and no further."""
    _, _, states0 = numpy_forward(p0, x)
    zero = np.zeros(p["E"].shape[0])
    total = 0.0
    for t in range(len(x)):
        first = max(0, t - k)
        s1, s2 = states0[first - 1] if first > 0 else (zero, zero)
        _, s2 = run_steps(p, x, s1, s2, range(first, t + 1))
        total += word_loss(p, s2, y[t])
    return total


@pytest.fixture(scope="module")
def shared_model():
    return GRUPyTensor(C, H, seed=0)


@pytest.fixture
def model(shared_model):
    shared_model.set_params(random_weights(1))  # also resets the RMSprop caches
    shared_model.bptt_truncate = -1
    return shared_model


def test_forward_and_loss_follow_the_gru_equations(model):
    x, y = sentence(2)
    p = random_weights(1)
    o_ref, s_ref, _ = numpy_forward(p, x)
    o, s = model.forward_propagation(x)
    assert o.shape == (T, C) and s.shape == (T, H)
    assert_same(o, o_ref)
    assert_same(s, s_ref)
    np.testing.assert_array_equal(model.predict(x), np.argmax(o_ref, axis=1))
    expected = -np.sum(np.log(o_ref[np.arange(T), y]))
    assert_same(model.calculate_total_loss([x], [y]), expected)
    assert_same(model.calculate_loss([x], [y]), expected / T)


def test_full_bptt_passes_the_finite_difference_check(model):
    x, y = sentence(3)
    result = gradient_check(
        model, x, y, error_threshold=1e-4, params=WEIGHT_NAMES, max_entries=40, rng=0
    )
    assert result.passed, result.report()
    assert set(result.params) == set(WEIGHT_NAMES)
    restored = model.get_params()  # the check puts every perturbed entry back
    for name, value in random_weights(1).items():
        assert_same(restored[name], value)


def test_truncated_bptt_is_the_derivative_of_the_truncated_objective(model):
    x, y = sentence(4)
    full = model.bptt(x, y)
    model.bptt_truncate = 2  # after compiling the full graph: must take effect
    grads = model.bptt(x, y)
    p0, h = random_weights(1), 1e-5
    for name in WEIGHT_NAMES:
        numeric = np.zeros_like(p0[name])
        for ix in np.ndindex(*p0[name].shape):
            plus = {**p0, name: p0[name].copy()}
            minus = {**p0, name: p0[name].copy()}
            plus[name][ix] += h
            minus[name][ix] -= h
            numeric[ix] = (
                truncated_objective(plus, p0, x, y, 2) - truncated_objective(minus, p0, x, y, 2)
            ) / (2 * h)
        assert_same(grads[name], numeric, rtol=1e-6)
    gap = np.max(np.abs(grads["W"] - full["W"]))
    assert gap > 1e-3 * np.max(np.abs(full["W"]))  # the truncation really cut something


def rmsprop_reference(params, grads, learning_rate, decay, clip_norm=None):
    """The update of the original part 4, in NumPy, with the interface's global-norm clip."""
    norm = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
    scale = 1.0 if clip_norm is None or norm <= clip_norm else clip_norm / norm
    new = dict(params)
    for name, g in grads.items():
        g = g * scale
        m = decay * params["m" + name] + (1 - decay) * g**2
        new["m" + name] = m
        new[name] = params[name] - learning_rate * g / np.sqrt(m + 1e-6)
    return new


def test_rmsprop_steps_match_numpy_on_the_summed_gradient(model):
    pairs = [sentence(8), sentence(9, 5)]  # a padded batch: the short one is masked
    steps = [  # (sentences, decay, clip_norm): the later ones start from non-zero caches
        (pairs[:1], 0.9, None),
        (pairs, 0.5, None),
        (pairs, 0.9, 0.1),
    ]
    for batch, decay, clip_norm in steps:
        before = model.get_params()
        grads = [model.bptt(x, y) for x, y in batch]
        total = {name: sum(g[name] for g in grads) for name in WEIGHT_NAMES}
        expected = rmsprop_reference(before, total, 0.01, decay, clip_norm)
        if len(batch) == 1:
            model.sgd_step(*batch[0], 0.01, clip_norm=clip_norm, decay=decay)
        else:
            xs, ys = zip(*batch, strict=True)
            model.sgd_step_batch(list(xs), list(ys), 0.01, clip_norm=clip_norm, decay=decay)
        after = model.get_params()
        assert set(after) == set(WEIGHT_NAMES) | set(CACHE_NAMES)
        for name in after:
            assert_same(after[name], expected[name])


@pytest.mark.fixtures
def test_checkpoint_keeps_the_rmsprop_caches_for_an_exact_resume(model, tmp_path):
    x, y = sentence(10)
    model.sgd_step(x, y, 0.01)
    saved = model.get_params()
    assert all(np.any(saved[name] != 0) for name in ("mE", "mU", "mV"))
    loaded = load_model(save_checkpoint(tmp_path / "gru", model))
    assert isinstance(loaded, GRUPyTensor) and loaded.config() == model.config()
    # Same weights and the same optimiser state: the next steps are the same steps.
    for name, value in loaded.get_params().items():
        np.testing.assert_array_equal(value, saved[name])


def test_float32_steps_stay_float32_and_close_to_float64(model):
    pairs = [sentence(11), sentence(12, 5)]
    xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
    single = GRUPyTensor(C, H, dtype="float32")
    single.set_params(random_weights(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. JAX's warning on float64 scattered into float32
        for m in (single, model):
            m.sgd_step_batch(xs, ys, 0.01)
            m.sgd_step_batch(xs, ys, 0.01)
    for name, value in single.get_params().items():
        assert value.dtype == np.float32
        assert_same(value, model.get_params()[name], rtol=2e-4)


def test_set_params_resizes_and_validates(model):
    model.set_params(random_weights(11, word_dim=C + 3, hidden_dim=H + 1))
    assert (model.word_dim, model.hidden_dim) == (C + 3, H + 1)
    assert np.all(model.get_params()["mE"] == 0)  # weights alone: a fresh optimiser
    o, s = model.forward_propagation([C + 2, 0, 1])
    assert o.shape == (3, C + 3) and s.shape == (3, H + 1)
    assert_same(o, numpy_forward(random_weights(11, C + 3, H + 1), [C + 2, 0, 1])[0])
    with pytest.raises(ValueError, match=r"expected parameters \['E', 'U'"):
        model.set_params({k: v for k, v in random_weights(1).items() if k != "c"})
    with pytest.raises(ValueError, match="optionally with all RMSprop caches"):
        model.set_params({**random_weights(1), "mE": np.zeros((H, C))})
    bad = {**random_weights(1), "b": np.zeros((5, H))}
    with pytest.raises(ValueError, match=r"parameter b has shape \(5, 4\), expected \(6, 4\)"):
        model.set_params(bad)
    with pytest.raises(TypeError, match="parameter E must be numeric"):
        model.set_params({**random_weights(1), "E": np.full((H, C), "a")})


def error_of(call):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    return info.type, str(info.value)


@pytest.mark.parametrize(
    "x, y",
    [("hello", [1, 2]), ([0.5, 1.0], [1, 2]), ([], []), ([1, C], [2, 3]), ([1, 2, 3], [2, 3])],
)
def test_bad_sentences_get_the_numpy_models_errors(model, x, y):
    reference = RNNNumpy(C, H)
    assert error_of(lambda: model.bptt(x, y)) == error_of(lambda: reference.bptt(x, y))
    assert error_of(lambda: model.sgd_step(x, y, 0.1)) == error_of(
        lambda: reference.sgd_step(x, y, 0.1)
    )
    assert error_of(lambda: model.calculate_loss([x], [y])) == error_of(
        lambda: reference.calculate_loss([x], [y])
    )


def test_bad_arguments_get_clear_errors(model):
    x, y = sentence(12)
    with pytest.raises(ValueError, match="decay must be a number in \\[0, 1\\), got 1.5"):
        model.sgd_step(x, y, 0.1, decay=1.5)
    with pytest.raises(ValueError, match="learning_rate must be a positive number, got 0"):
        model.sgd_step_batch([x], [y], 0)
    with pytest.raises(ValueError, match="clip_norm must be a positive number, got -2"):
        model.sgd_step(x, y, 0.1, clip_norm=-2)
    with pytest.raises(ValueError, match="bptt_truncate=-5"):
        GRUPyTensor(C, H, bptt_truncate=-5)
