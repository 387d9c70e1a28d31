"""The minimal teaching graph against RNNNumpy's hand-derived loss and full BPTT (same weights)."""

import numpy as np
import pytest

from rnnlib.numpy_rnn.readable import RNNNumpy
from rnnlib.pytensor_rnn.minimal import minimal_loss_and_grads

C, H = 20, 6


@pytest.mark.parametrize("length", [1, 9])
def test_loss_and_gradients_equal_rnnnumpy(length):
    rng = np.random.default_rng(3)
    oracle = RNNNumpy(C, H, bptt_truncate=-1, seed=4)  # full BPTT
    params = oracle.get_params()
    params["W"] = rng.uniform(-1, 1, (H, H))  # strong enough that far steps matter
    oracle.set_params(params)
    x, y = rng.integers(0, C, length), rng.integers(0, C, length)

    loss, grads = minimal_loss_and_grads(params["U"], params["V"], params["W"])(x, y)

    np.testing.assert_allclose(loss, oracle.calculate_total_loss([x], [y]), rtol=1e-12)
    expected = oracle.bptt(x, y)
    for name in "UVW":
        scale = np.max(np.abs(expected[name]))
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-10, atol=1e-12 * scale)


def test_one_graph_serves_every_length():
    oracle = RNNNumpy(C, H, bptt_truncate=-1, seed=1)
    p = oracle.get_params()
    f = minimal_loss_and_grads(p["U"], p["V"], p["W"])
    rng = np.random.default_rng(0)
    for length in (3, 12):
        x, y = rng.integers(0, C, length), rng.integers(0, C, length)
        np.testing.assert_allclose(f(x, y)[0], oracle.calculate_total_loss([x], [y]), rtol=1e-12)
