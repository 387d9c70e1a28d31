"""Gates at work: what a trained GRU's update and reset gates do along a sentence (notebook 6).

The gates are recomputed in NumPy from GRUPyTensor's weights, one layer and one word at a
time, with the equations of rnnlib.pytensor_rnn.gru; the states this gives are checked
against the model's own forward pass, so the gates shown are the ones the model used.
"""

import numpy as np

from rnnlib.interface import check_sentence

GRU_GATES = ("update", "reset")  # z: how much of the old state stays; r: how much h sees


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def gru_gates(model, x) -> dict:
    """Per layer (1, 2): the update gate z, reset gate r and state s at each word, each (T, H).

    Raises ValueError if the recomputed top-layer states differ from the model's own
    forward_propagation (a model whose equations are not the ones written here).
    """
    x = check_sentence(x, word_dim=model.word_dim)
    params = {k: np.asarray(v, np.float64) for k, v in model.get_params().items()}
    E, U, W, b = (params[name] for name in ("E", "U", "W", "b"))
    H = E.shape[0]
    layers = {
        1: {"update": [], "reset": [], "state": []},
        2: {"update": [], "reset": [], "state": []},
    }
    states = {1: np.zeros(H), 2: np.zeros(H)}
    for word in x:
        layer_input = E[:, word]  # (H,): the word's embedding
        for layer, first in ((1, 0), (2, 3)):
            s = states[layer]
            z = _sigmoid(U[first] @ layer_input + W[first] @ s + b[first])
            r = _sigmoid(U[first + 1] @ layer_input + W[first + 1] @ s + b[first + 1])
            h = np.tanh(U[first + 2] @ layer_input + W[first + 2] @ (s * r) + b[first + 2])
            s = (1.0 - z) * h + z * s
            for name, value in (("update", z), ("reset", r), ("state", s)):
                layers[layer][name].append(value)
            states[layer], layer_input = s, s
    result = {layer: {k: np.array(v) for k, v in found.items()} for layer, found in layers.items()}
    own = np.asarray(model.forward_propagation(x)[1], np.float64)  # (T, H): the top layer
    tolerance = 1e-4 if np.dtype(model.dtype) == np.float32 else 1e-9
    if not np.allclose(result[2]["state"], own, atol=tolerance):
        raise ValueError(f"{type(model).__name__}'s states differ from the GRU equations here")
    return result
