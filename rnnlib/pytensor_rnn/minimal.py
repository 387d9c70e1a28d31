"""The tutorial's RNN as the smallest PyTensor graph: one sentence, `scan`, loss, `grad` (notebook 5).

The idea of the original's Theano model and nothing else: full BPTT, any sentence length,
float64, no padding. `RNNPyTensor` (rnn.py, graph.py) builds the same loss with what real
training needs on top; notebook 5 lists what and why.
"""

import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt

# Python ops, compiled in about a second; PyTensor's default (Numba) takes far longer here.
MINIMAL_MODE = "FAST_COMPILE"


def minimal_graph(U, V, W) -> dict:
    """Symbolic graph of one sentence's total loss and its gradients, for weights U, V, W."""
    U = pytensor.shared(np.asarray(U, np.float64), name="U")  # (H, C) word -> state
    V = pytensor.shared(np.asarray(V, np.float64), name="V")  # (C, H) state -> word scores
    W = pytensor.shared(np.asarray(W, np.float64), name="W")  # (H, H) state -> next state
    x = pt.lvector("x")  # (T,) word ids
    y = pt.lvector("y")  # (T,) the word that follows each one

    def step(x_t, s_before):
        return pt.tanh(U[:, x_t] + pt.dot(W, s_before))  # (H,) s_t = tanh(U x_t + W s_{t-1})

    s0 = pt.zeros(W.shape[0], dtype="float64")  # the state before the first word
    s = pytensor.scan(step, sequences=[x], outputs_info=[s0], return_updates=False)  # (T, H)
    z = pt.dot(s, V.T)  # (T, C) word scores
    shifted = z - pt.max(z, axis=1, keepdims=True)  # minus the max: exp cannot overflow
    log_o = shifted - pt.log(pt.sum(pt.exp(shifted), axis=1, keepdims=True))  # log softmax
    loss = -pt.sum(log_o[pt.arange(y.shape[0]), y])  # sum of -log o_t[y_t]
    dU, dV, dW = pytensor.grad(loss, [U, V, W])  # BPTT, derived by PyTensor through the scan
    return {"x": x, "y": y, "s": s, "loss": loss, "grads": {"U": dU, "V": dV, "W": dW}}


def minimal_loss_and_grads(U, V, W):
    """Compiled f(x, y) -> (loss, {"U": dU, "V": dV, "W": dW}) of the minimal graph."""
    g = minimal_graph(U, V, W)
    outputs = [g["loss"], *g["grads"].values()]
    with warnings.catch_warnings():  # pip's PyTensor has no BLAS: only this toy runs slower
        warnings.filterwarnings("ignore", "PyTensor could not link to a BLAS", UserWarning)
        f = pytensor.function([g["x"], g["y"]], outputs, mode=MINIMAL_MODE)

    def loss_and_grads(x, y):
        loss, dU, dV, dW = f(np.asarray(x, np.int64), np.asarray(y, np.int64))
        return float(loss), {"U": dU, "V": dV, "W": dW}

    return loss_and_grads
