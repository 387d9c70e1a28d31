"""GRU gates recomputed in NumPy: the states they give are the model's own."""

import numpy as np
import pytest

from rnnlib.analysis.gates import gru_gates

pytensor_rnn = pytest.importorskip("rnnlib.pytensor_rnn")


@pytest.fixture(scope="module")
def gru():
    return pytensor_rnn.GRUPyTensor(15, hidden_dim=4, seed=2)


def test_gates_rebuild_the_models_own_states(gru):
    x = np.array([1, 4, 4, 9, 0, 14])
    found = gru_gates(gru, x)
    assert set(found) == {1, 2} and all(v.shape == (6, 4) for v in found[1].values())
    np.testing.assert_allclose(found[2]["state"], gru.forward_propagation(x)[1], atol=1e-9)
    for layer in (1, 2):  # gates are sigmoids: strictly between 0 and 1
        assert np.all((found[layer]["update"] > 0) & (found[layer]["update"] < 1))
    # The first state mixes the candidate with s_{-1} = 0: s_0 = (1 - z_0) h_0 with |h_0| < 1.
    assert np.all(np.abs(found[1]["state"][0]) <= 1 - found[1]["update"][0] + 1e-12)


def test_an_update_gate_held_at_one_copies_the_state():
    """b_z = +40: z = 1, so s' = s and the first layer's state stays 0 (a closed form)."""
    gru = pytensor_rnn.GRUPyTensor(15, hidden_dim=4, seed=2)
    params = gru.get_params()
    params["b"] = params["b"].copy()
    params["b"][0] = 40.0
    gru.set_params(params)
    found = gru_gates(gru, np.array([3, 5, 7]))
    np.testing.assert_allclose(found[1]["update"], 1.0)
    np.testing.assert_allclose(found[1]["state"], 0.0, atol=1e-12)


def test_other_equations_are_refused(gru):
    class Shifted:  # GRU weights, other states: not the model the gates describe
        word_dim, dtype = gru.word_dim, gru.dtype

        def get_params(self):
            return gru.get_params()

        def forward_propagation(self, x):
            o, s = gru.forward_propagation(x)
            return o, s + 0.1

    with pytest.raises(ValueError, match="states differ from the GRU equations"):
        gru_gates(Shifted(), np.array([1, 2]))
