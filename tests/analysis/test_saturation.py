"""Saturation numbers against independent oracles: finite differences of the RNN step, and
matrices and states whose answers are known in closed form."""

import numpy as np
import pytest

from rnnlib.analysis import hidden_states
from rnnlib.analysis.saturation import saturation, step_jacobians
from rnnlib.numpy_rnn import RNNNumpy


def test_step_jacobians_match_finite_differences_of_the_rnn_step():
    model = RNNNumpy(15, 6, seed=2)
    W = np.random.default_rng(0).uniform(-1.5, 1.5, (6, 6))  # large: some units saturate
    model.W = W
    x = np.array([3, 1, 4, 1, 5, 9, 2])
    s = hidden_states(model, x)  # (T, H)
    jac = step_jacobians(W, s)
    h = 1e-6
    for j in range(1, len(x)):
        numeric = np.empty((6, 6))
        for k in range(6):
            bump = np.zeros(6)
            bump[k] = h
            up = np.tanh(model.U[:, x[j]] + W @ (s[j - 1] + bump))
            down = np.tanh(model.U[:, x[j]] + W @ (s[j - 1] - bump))
            numeric[:, k] = (up - down) / (2 * h)
        np.testing.assert_allclose(jac[j - 1], numeric, atol=1e-8)


def test_spectral_radius_slope_and_share_in_closed_form():
    r, angle = 2.5, 0.7  # eigenvalues r e^{+-i angle}: radius r, though no real eigenvalue
    W = r * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    s = np.array([[0.0, 0.99], [0.5, -0.96], [0.0, 0.2]])  # 2 of 6 beyond 0.95
    result = saturation(W, s, threshold=0.95)
    assert result.spectral_radius == pytest.approx(r)
    assert result.saturated == pytest.approx(2 / 6)
    # tanh'(a) by central differences at a = artanh(s): the slope the formula 1 - s^2 claims
    a, h = np.arctanh(s), 1e-6
    slope = (np.tanh(a + h) - np.tanh(a - h)) / (2 * h)
    assert result.mean_slope == pytest.approx(slope.mean(), abs=1e-9)
    # Eigenvalues of the 2x2 diag(d) W by the quadratic formula, d = 1 - s_j^2 at steps j = 1, 2
    radii = []
    for d in 1 - s[1:] ** 2:
        J = d[:, None] * W
        trace, det = np.trace(J), J[0, 0] * J[1, 1] - J[0, 1] * J[1, 0]
        root = np.sqrt(complex(trace**2 - 4 * det))
        radii.append(max(abs((trace + root) / 2), abs((trace - root) / 2)))
    assert result.step_radius == pytest.approx(np.sqrt(radii[0] * radii[1]))


def test_saturated_states_shrink_a_stretching_w():
    W = 3.0 * np.eye(4)  # stretches every vector threefold
    s = np.full((5, 4), 0.999)  # every unit saturated
    result = saturation(W, s)
    assert result.spectral_radius == pytest.approx(3.0)
    assert result.step_radius == pytest.approx(3.0 * (1 - 0.999**2)) and result.step_radius < 0.01


def test_needs_two_steps_of_states():
    with pytest.raises(ValueError, match="T >= 2"):
        saturation(np.eye(3), np.zeros((1, 3)))
