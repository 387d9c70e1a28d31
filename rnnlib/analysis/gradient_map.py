"""The BPTT explorer's numbers: every output's gradient at every distance, at once (notebooks 3, 5, 6).

`rnnlib.analysis.gradient_distance.connectivity` asks `bptt` for two truncated gradients
per (output, distance). The explorer needs the whole map and the truncation errors for
every k at once. For the tutorial's RNN one backward sweep over the forward states gives
them all (`gradient_flow_by_sweep`), checked against the model's own full bptt: that is
what lets the explorer answer a new scale of W at once. Any other model (the GRU) is asked
through its own bptt (`gradient_flow_by_bptt`).
"""

from typing import NamedTuple

import numpy as np

from rnnlib.analysis.gradient_distance import truncation
from rnnlib.interface import check_sentence

OUTPUT_LAYER = ("V", "c")  # parameters that read the state out: nothing flows through time
SWEEP = "one backward sweep"  # GradientFlow.method: each part computed directly
DIFFERENCES = "differences of truncated bptt"  # each part a difference of the model's gradients


class GradientFlow(NamedTuple):
    """Where one sentence's gradient comes from: by output and step, and what truncation cuts."""

    connectivity: np.ndarray  # (T, T): [t, j] norm of output t's gradient reaching step j
    truncation_error: dict  # name -> (T,): |G_k - G_full| / |G_full| for k = 0..T-1
    rounding_level: np.ndarray  # (T,): below this, a norm in row t is rounding noise (0: none)
    params: tuple  # the parameters whose gradient norms the map adds up
    eps: float  # machine epsilon of the gradients: relative errors near it are rounding
    method: str = DIFFERENCES  # SWEEP or DIFFERENCES: how the parts were computed


class NotTheTutorialRNN(ValueError):
    """The model's own gradient is not the tutorial RNN's: the sweep does not apply to it."""


def is_tutorial_rnn(model) -> bool:
    """Whether the model has exactly the tutorial's parameters U (H, C), V (C, H), W (H, H)."""
    params = model.get_params()
    if set(params) != {"U", "V", "W"}:
        return False
    H, C = np.shape(params["U"])
    return np.shape(params["V"]) == (C, H) and np.shape(params["W"]) == (H, H)


def gradient_flow(model, x, y, params=None, check: bool = True) -> GradientFlow:
    """Connectivity map and truncation errors of one sentence (what the BPTT explorer draws).

    The tutorial RNN (RNNNumpy, RNNNumpyFast, RNNPyTensor): one backward sweep, checked
    against the model's own full bptt unless `check` is False (e.g. the same model, already
    checked, with another scale of W). Any other model: T(T+1)/2 + 1 calls of its bptt.
    """
    if is_tutorial_rnn(model):
        try:
            return gradient_flow_by_sweep(model, x, y, params, check)
        except NotTheTutorialRNN:  # same parameter names, other equations: ask its bptt
            pass
    return gradient_flow_by_bptt(model, x, y, params)


def gradient_flow_by_sweep(model, x, y, params=None, check: bool = True) -> GradientFlow:
    """The tutorial RNN's gradient flow from its weights, in one forward and one backward sweep.

    Output t's error at its own step is delta = (V^T (o_t - onehot(y_t))) * (1 - s_t^2); each
    step back multiplies it by W^T and the next tanh' (1 - s_{j-1}^2). Where it reaches step
    j = t - d it adds delta to U's column x_j and outer(delta, s_{j-1}) to W: exactly output
    t's part at distance d, G_d - G_{d-1}, with nothing subtracted. All outputs move back
    together: a (T, H) matrix of errors, one row per output, one step back per distance d.
    Only the weights are read from the model (the forward pass is the tutorial's, in float64,
    all outputs in one product). With `check`, raises NotTheTutorialRNN if the parts do not
    add up to the model's own full bptt (one call of it: the only one), i.e. if the model
    does not compute what this function assumes.
    """
    raw = model.get_params()
    eps = float(np.finfo(np.result_type(*raw.values())).eps)  # of the model's own numbers
    U, V, W = (np.asarray(raw[name], np.float64) for name in ("U", "V", "W"))
    params = tuple(params or ("U", "W"))
    if not set(params) <= {"U", "V", "W"}:
        raise ValueError(f"params must be among U, V, W for this model, got {list(params)}")
    x, y = check_sentence(x, y, model.word_dim)
    T, H = len(x), W.shape[0]
    s, state = np.zeros((T, H)), np.zeros(H)  # the forward pass, as RNNNumpy's, in float64
    for t in range(T):
        s[t] = state = np.tanh(U[:, x[t]] + W @ state)
    scores = s @ V.T  # (T, C): all outputs in one product
    error = np.exp(scores - scores.max(axis=1, keepdims=True))
    error /= error.sum(axis=1, keepdims=True)  # o, (T, C)
    error[np.arange(T), y] -= 1.0  # dL_t / d(V s_t) = o_t - onehot(y_t)
    before = np.vstack([np.zeros((1, H)), s[:-1]])  # (T, H): s_{j-1}, the state step j reads
    delta = (error @ V) * (1.0 - s**2)  # (T, H): row t at output t's own step
    words, column = np.unique(x, return_inverse=True)  # U's gradient lives in these columns
    parts = {"U": np.zeros((T, H, len(words))), "W": np.zeros((T, H, H))}  # [d]: distance d
    grid = np.zeros((T, T))
    for d in range(T):
        j = np.arange(T - d)  # the steps reached, by outputs t = j + d
        reach = delta[d:]  # (T - d, H): those outputs' errors at those steps
        np.add.at(parts["U"][d].T, column[j], reach)  # (words, H) view: the columns x_j
        parts["W"][d] = reach.T @ before[j]  # sum over outputs of outer(delta, s_{j-1})
        squared = np.sum(reach**2, axis=1)
        sizes = {"U": squared, "W": squared * np.sum(before[j] ** 2, axis=1),  # |outer|^2
                 "V": np.sum(error**2, axis=1) * np.sum(s**2, axis=1) if d == 0 else 0.0}  # fmt: skip
        grid[j + d, j] = np.sqrt(sum(sizes[p] for p in params))
        delta[d + 1 :] = (delta[d + 1 :] @ W) * (1.0 - before[1 : T - d] ** 2)
    if check:  # the parts must add up to the model's own gradient
        mine = {"U": np.zeros_like(U), "V": error.T @ s, "W": parts["W"].sum(0)}
        mine["U"][:, words] = parts["U"].sum(axis=0)
        with truncation(model, -1):
            own = model.bptt(x, y)
        tolerance = 1e3 * np.finfo(np.result_type(*own.values())).eps  # float32: ~1e-4
        for name, g in own.items():
            g = np.asarray(g, np.float64)
            if np.linalg.norm(mine[name] - g) > tolerance * max(np.linalg.norm(g), 1e-300):
                raise NotTheTutorialRNN(f"{type(model).__name__}'s bptt differs in {name}")
    errors = {name: np.zeros(T) for name in ("U", "V", "W")}  # V is never cut: 0 for every k
    for name, part in parts.items():
        beyond = np.cumsum(part[::-1].reshape(T, -1), axis=0)[::-1]  # [d]: distances d, d+1..
        sizes = np.r_[np.linalg.norm(beyond, axis=1), 0.0]
        errors[name] = sizes[1:] / sizes[0] if sizes[0] > 0 else np.zeros(T)  # [k]: k+1 on
    return GradientFlow(grid, errors, np.zeros(T), params, eps, SWEEP)


# `gradient_flow_by_bptt` shares the work of the per-output functions: prefix n of the
# sentence with truncation d gives P[n][d]; output t = n-1 alone is P[n][d] - P[n-1][d], and
# its part at exactly distance d is that minus the same with d-1. T(T+1)/2 + 1 bptt calls.


def _sparse(g: np.ndarray):
    """Exact compact copy: most of U's columns are zero (the words the prefix never read)."""
    flat = np.asarray(g, dtype=np.float64).ravel()
    where = np.flatnonzero(flat)
    return where, flat[where]


def _minus_sparse(g, sparse) -> np.ndarray:
    where, values = sparse
    out = np.array(g, dtype=np.float64).ravel()  # a fresh float64 copy
    out[where] -= values
    return out


def gradient_flow_by_bptt(model, x, y, params=None) -> GradientFlow:
    """Connectivity map and truncation errors of one sentence, from the model's own bptt."""
    T = len(x)
    with truncation(model, -1):
        full = {name: np.asarray(g, np.float64) for name, g in model.bptt(x, y).items()}
    params = tuple(params or (name for name in full if name not in OUTPUT_LAYER))
    grid, rounding = np.zeros((T, T)), np.zeros(T)
    errors = {name: np.zeros(T) for name in full}
    eps = np.finfo(np.result_type(*full.values())).eps
    previous_row: list[dict] = []  # P[n-1][d] for d = 0..n-2, stored sparse
    for n in range(1, T + 1):
        row, closer = [], None  # closer: output n-1's gradient truncated at d-1
        for d in range(n):
            with truncation(model, -1 if d == n - 1 else d):  # d = n-1 reaches step 0: full
                g = model.bptt(x[:n], y[:n])
            if n > 1:  # output n-1 alone: this prefix minus the one without it
                older = previous_row[min(d, n - 2)]
                own = {p: _minus_sparse(g[p], older[p]) for p in params}
            else:
                own = {p: np.asarray(g[p], np.float64).ravel() for p in params}
            part = own if closer is None else {p: own[p] - closer[p] for p in params}
            grid[n - 1, n - 1 - d] = np.sqrt(sum(np.sum(part[p] ** 2) for p in params))
            closer = own
            row.append({p: _sparse(g[p]) for p in params})
            if n == T:
                for name, f in full.items():
                    scale = np.linalg.norm(f)
                    diff = np.linalg.norm(np.asarray(g[name], np.float64) - f)
                    errors[name][d] = diff / scale if scale > 0 else 0.0
        # Each norm is a difference of gradients of the prefixes' size; rounding in those
        # (eps relative) is all that is left once the true contribution is smaller.
        size = np.sqrt(sum(np.sum(g[p].astype(np.float64) ** 2) for p in params))
        rounding[n - 1] = 4 * eps * size
        previous_row = row
    return GradientFlow(grid, errors, rounding, params, float(eps), DIFFERENCES)
