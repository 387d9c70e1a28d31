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


# --- the BPTT explorer's numbers: one backward sweep against the model's own bptt ------------


def assert_same_flow(swept, by_bptt):
    """The sweep's parts equal the bptt differences, up to those differences' own rounding."""
    assert swept.method == analysis.SWEEP and by_bptt.method == analysis.DIFFERENCES
    noise = by_bptt.rounding_level[:, None]  # each row of the slow map is known to this much
    assert np.all(
        np.abs(swept.connectivity - by_bptt.connectivity) <= 1e-9 * swept.connectivity + noise
    )
    assert np.all(np.triu(swept.connectivity, k=1) == 0)
    assert swept.truncation_error.keys() == by_bptt.truncation_error.keys()
    for name, err in by_bptt.truncation_error.items():
        assert swept.truncation_error[name] == pytest.approx(err, rel=1e-9, abs=1e-14)
    assert swept.params == by_bptt.params


@pytest.mark.parametrize("scale", [0.3, 1.0, 3.0])
def test_one_backward_sweep_gives_the_bptt_differences(setup, scale):
    model, x, y = setup
    model.W *= scale / 3
    x = np.r_[x, x[2], x[5]]  # a word read twice: its U column gets two steps' parts
    y = np.r_[y, 1, 4]
    for params in (None, ("U",), ("W",), ("U", "V", "W")):
        swept = analysis.gradient_flow_by_sweep(model, x, y, params)
        assert_same_flow(swept, analysis.gradient_flow_by_bptt(model, x, y, params))
    assert np.all(swept.rounding_level == 0)  # nothing subtracted: no cancellation noise
    assert model.bptt_truncate == 4  # restored after the check's full bptt


def test_gradient_flow_sweeps_every_backend_of_the_tutorial_rnn(setup):
    model, x, y = setup
    oracle = analysis.gradient_flow_by_bptt(model, x, y)  # the readable model's own bptt
    from rnnlib.numpy_rnn.fast import RNNNumpyFast

    others = [RNNNumpyFast(C, H, dtype=np.float64)]
    try:
        from rnnlib.pytensor_rnn.rnn import RNNPyTensor

        others.append(RNNPyTensor(C, H, dtype="float64"))
    except ImportError:  # PyTensor is optional
        pass
    for other in others:
        other.set_params(model.get_params())
        assert analysis.is_tutorial_rnn(other)
        assert_same_flow(analysis.gradient_flow(other, x, y), oracle)


def test_a_model_with_the_same_names_but_other_gradients_gets_the_slow_path(setup):
    model, x, y = setup

    class DoubledGradient(RNNNumpy):  # U, V, W as the tutorial's, but not its gradient
        def bptt(self, x, y):
            return {name: 2 * g for name, g in super().bptt(x, y).items()}

    other = DoubledGradient(C, H, bptt_truncate=4, seed=3)
    other.set_params(model.get_params())
    with pytest.raises(analysis.NotTheTutorialRNN, match="DoubledGradient's bptt differs in U"):
        analysis.gradient_flow_by_sweep(other, x, y)
    flow = analysis.gradient_flow(other, x, y)
    assert flow.method == analysis.DIFFERENCES
    assert flow.connectivity == pytest.approx(2 * analysis.connectivity(model, x, y), rel=1e-9)
    with pytest.raises(
        ValueError, match=r"params must be among U, V, W for this model, got \['E'\]"
    ):
        analysis.gradient_flow_by_sweep(model, x, y, params=("E",))


def test_gradient_spread_is_the_quantiles_of_each_sentences_relative_profile():
    rng = np.random.default_rng(4)
    model = RNNNumpy(C, H, bptt_truncate=-1, seed=3)
    model.W = model.W * 4  # a W that carries the error some way back
    X = [rng.integers(0, C, n) for n in (3, 9, 8, 12, 6, 10)]  # two are too short: skipped
    Y = [rng.integers(0, C, len(x)) for x in X]
    spread = analysis.gradient_spread(model, X, Y, length=8)
    rows = [
        (n := analysis.gradient_by_distance(model, x[:8], y[:8], 7)) / n[0]
        for x, y in zip(X, Y, strict=True)
        if len(x) >= 8
    ]
    assert spread.n_sentences == len(rows) == 4 and spread.length == 8
    for q in (0.25, 0.5, 0.75):
        np.testing.assert_allclose(spread.quantiles[q], np.quantile(rows, q, axis=0))
    assert spread.quantiles[0.5][0] == 1.0  # relative to d = 0
    assert analysis.gradient_spread(model, X, Y, length=8, max_sentences=2).n_sentences == 2
    with pytest.raises(ValueError, match="no sentence of at least length = 13 words among 6"):
        analysis.gradient_spread(model, X, Y, length=13)


def test_without_recurrent_weights_no_gradient_reaches_back():
    """W = 0: s_t depends on x_t alone, so every part at d >= 1 is exactly 0 (a closed form)."""
    model = RNNNumpy(C, H, bptt_truncate=-1, seed=3)
    model.W = np.zeros_like(model.W)
    rng = np.random.default_rng(5)
    X = [rng.integers(0, C, 7) for _ in range(5)]
    spread = analysis.gradient_spread(model, X, [rng.integers(0, C, 7) for _ in X], length=7)
    for q in (0.25, 0.5, 0.75):
        assert spread.quantiles[q][0] == 1.0 and np.all(spread.quantiles[q][1:] == 0.0)
