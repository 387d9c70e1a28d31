"""The widget numbers against finite differences of an independently written RNN."""

import numpy as np
import pytest

from rnnlib import analysis
from rnnlib.data.vocab import SENTENCE_END, SENTENCE_START, UNKNOWN_TOKEN, Vocabulary
from rnnlib.numpy_rnn.readable import RNNNumpy

C, H, T = 20, 5, 8


def output_loss(params, x, y, t, k, frozen):
    """-log o_t[y_t] with the state k+1 steps before t held at its `frozen` value."""
    U, V, W = params["U"], params["V"], params["W"]
    first = max(0, t - k)
    s = frozen[first - 1] if first > 0 else np.zeros(H)
    for step in range(first, t + 1):
        s = np.tanh(U[:, x[step]] + W @ s)
    z = V @ s
    return -(z[y[t]] - np.log(np.sum(np.exp(z))))


def numeric_gradient(f, params, names=("U", "W"), h=1e-6):
    grads = {}
    for name in names:
        g = np.zeros_like(params[name])
        for ix in np.ndindex(g.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][ix] += h
            minus[name][ix] -= h
            g[ix] = (f(plus) - f(minus)) / (2 * h)
        grads[name] = g
    return grads


@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    model = RNNNumpy(C, H, bptt_truncate=4, seed=3)
    model.W *= 3  # larger recurrent weights, so distant contributions are visible
    x, y = rng.integers(0, C, T), rng.integers(0, C, T)
    return model, x, y


def test_gradient_by_distance_matches_finite_differences(setup):
    model, x, y = setup
    params = model.get_params()
    _, frozen = model.forward_propagation(x)
    t = T - 1
    expected, previous = [], None
    for d in range(t + 1):
        g = numeric_gradient(lambda p, d=d: output_loss(p, x, y, t, d, frozen), params)
        part = g if previous is None else {n: g[n] - previous[n] for n in g}
        expected.append(np.sqrt(sum(np.sum(v**2) for v in part.values())))
        previous = g
    norms = analysis.gradient_by_distance(model, x, y, t)
    assert norms == pytest.approx(expected, rel=1e-5, abs=1e-9)
    assert model.bptt_truncate == 4  # restored


def test_connectivity_rows_are_the_distance_profiles_and_nothing_flows_forward(setup):
    model, x, y = setup
    grid = analysis.connectivity(model, x, y)
    assert np.all(np.triu(grid, k=1) == 0)  # an output never reaches a later step
    for t in (0, 3, T - 1):
        assert grid[t, : t + 1] == pytest.approx(
            analysis.gradient_by_distance(model, x, y, t)[::-1]
        )


def test_truncation_error_vanishes_once_nothing_is_cut_and_never_touches_v(setup):
    model, x, y = setup
    errors = analysis.truncation_error(model, x, y, ks=[1, 3, T - 1, T + 5])
    assert np.all(errors["V"] == 0)
    assert errors["W"][0] > errors["W"][1] > 0
    assert errors["W"][2] == pytest.approx(0, abs=1e-15)
    assert errors["U"][3] == pytest.approx(0, abs=1e-15)


def test_hidden_states_and_top_predictions_come_from_the_forward_pass(setup):
    model, x, _ = setup
    o, s = model.forward_propagation(x)
    assert np.array_equal(analysis.hidden_states(model, x), s)
    words = [SENTENCE_START, SENTENCE_END, *[f"w{i}" for i in range(C - 3)], UNKNOWN_TOKEN]
    top = analysis.top_predictions(model, Vocabulary(words), x, position=2, k=3)
    best = np.argsort(o[2])[::-1][:3]
    assert top == [(words[i], pytest.approx(o[2, i])) for i in best]
    with pytest.raises(ValueError, match="position 8 is outside the sentence"):
        analysis.top_predictions(model, Vocabulary(words), x, position=8)
