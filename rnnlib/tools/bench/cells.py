"""The gated cells' shared weights and their loss in plain NumPy: the bench's guard for GRU and LSTM rows.

Every GRU (or LSTM) row trains one model from one set of weights, laid out as rnnlib's Keras
word models hold them (`KerasGRU.get_params()`): E (H, C), kernel (H, kH), recurrent_kernel
(H, kH), bias, V (C, H), with the gates side by side in Keras' order (GRU: update z, reset
r, candidate; LSTM: input, forget, cell, output). The GRU is Keras' default reset_after form,
which is also PyTorch's: the reset gate scales the recurrent product after its bias.
"""

import numpy as np

GATES = {"gru": 3, "lstm": 4}


def gated_params(cell: str, word_dim: int, hidden_dim: int, seed: int) -> dict:
    """Weights for `cell` ('gru' or 'lstm') in the Keras word models' layout, float64."""
    C, H, kH = word_dim, hidden_dim, GATES[cell] * hidden_dim
    rng = np.random.default_rng([seed, GATES[cell]])
    bias = (2, kH) if cell == "gru" else (kH,)  # GRU: input and recurrent biases
    shapes = {"E": (H, C), "kernel": (H, kH), "recurrent_kernel": (H, kH), "bias": bias}
    shapes["V"] = (C, H)
    return {name: rng.uniform(-0.3, 0.3, shape) for name, shape in shapes.items()}


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _gru_step(p, x, h):
    """One GRU step for rows x (B, H) and states h (B, H)."""
    H = h.shape[1]
    pushed = x @ p["kernel"] + p["bias"][0]  # (B, 3H)
    recurrent = h @ p["recurrent_kernel"] + p["bias"][1]  # (B, 3H)
    z = _sigmoid(pushed[:, :H] + recurrent[:, :H])
    r = _sigmoid(pushed[:, H : 2 * H] + recurrent[:, H : 2 * H])
    candidate = np.tanh(pushed[:, 2 * H :] + r * recurrent[:, 2 * H :])
    return z * h + (1 - z) * candidate


def _lstm_step(p, x, h, c):
    """One LSTM step: new (h, c), each (B, H)."""
    H = h.shape[1]
    gates = x @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"]  # (B, 4H)
    i, f = _sigmoid(gates[:, :H]), _sigmoid(gates[:, H : 2 * H])
    g, o = np.tanh(gates[:, 2 * H : 3 * H]), _sigmoid(gates[:, 3 * H :])
    c = f * c + i * g
    return o * np.tanh(c), c


def gated_total_loss(cell: str, params: dict, xs, ys) -> float:
    """Summed cross-entropy of equal-length sentences xs -> ys under the gated model, float64."""
    x, y = np.array(xs), np.array(ys)  # (B, T)
    B, T = x.shape
    H = params["E"].shape[0]
    h, c = np.zeros((B, H)), np.zeros((B, H))
    total = 0.0
    for t in range(T):
        embedded = params["E"][:, x[:, t]].T  # (B, H)
        if cell == "gru":
            h = _gru_step(params, embedded, h)
        else:
            h, c = _lstm_step(params, embedded, h, c)
        scores = h @ params["V"].T  # (B, C)
        top = scores.max(axis=1, keepdims=True)
        log_norm = top[:, 0] + np.log(np.exp(scores - top).sum(axis=1))
        total += float(np.sum(log_norm - scores[np.arange(B), y[:, t]]))
    return total
