"""How far back a gradient reaches: the part of output t's gradient at each distance (notebooks 3, 6).

Everything here asks the model's own `bptt` (with `bptt_truncate` set for the moment), so it
works for every backend and measures the model's gradients rather than a separate formula.

The key trick: the truncated gradient with k steps holds the contributions of distances
0..k between an output and the step it reaches back to. So the contribution of exactly
distance d is the difference of two truncated gradients, G_d - G_{d-1}. And the gradient of
output t's loss alone is the gradient of the sentence cut after t, minus the one cut before t.
"""

from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

RECURRENT = ("U", "W")  # parameters whose gradient flows back through time (V's does not)


@contextmanager
def truncation(model, k):
    """Temporarily set `model.bptt_truncate` (None or -1: full BPTT)."""
    saved = model.bptt_truncate
    model.bptt_truncate = k
    try:
        yield model
    finally:
        model.bptt_truncate = saved


def _output_gradient(model, x, y, t: int, k) -> dict[str, np.ndarray]:
    """Gradient of output t's loss alone, each output reaching back at most k steps."""
    with truncation(model, k):
        upto_t = model.bptt(x[: t + 1], y[: t + 1])
        if t == 0:
            return {name: np.asarray(g, dtype=np.float64) for name, g in upto_t.items()}
        before_t = model.bptt(x[:t], y[:t])
    return {name: np.asarray(upto_t[name], np.float64) - before_t[name] for name in upto_t}


def _norm(grads: dict, params) -> float:
    return float(np.sqrt(sum(np.sum(grads[p] ** 2) for p in params)))


def gradient_by_distance(model, x, y, t: int, params=RECURRENT) -> np.ndarray:
    """norms[d]: size of the gradient that output t sends back to step t - d, d = 0..t."""
    if not 0 <= t < len(x):
        raise ValueError(f"output {t} is outside the sentence [0, {len(x)})")
    norms, previous = [], None
    for d in range(t + 1):
        grads = _output_gradient(model, x, y, t, d)
        step = grads if previous is None else {p: grads[p] - previous[p] for p in params}
        norms.append(_norm(step, params))
        previous = grads
    return np.array(norms)


class GradientSpread(NamedTuple):
    """How much of output t's gradient reaches d steps back, over many sentences."""

    quantiles: dict  # q -> (length,): the q-quantile over sentences of norms[d] / norms[0]
    n_sentences: int
    length: int  # each sentence cut to this many words; t = length - 1


def gradient_spread(model, X, Y, length: int, max_sentences: int = 30, params=RECURRENT,
                    quantiles=(0.25, 0.5, 0.75)) -> GradientSpread:  # fmt: skip
    """Quantiles over sentences of the last output's gradient at distance d, relative to d = 0.

    One sentence's curve is bumpy (a word that saturates the state cuts it); the median and
    quartiles over up to `max_sentences` sentences of at least `length` words (each cut to
    `length`, its last output measured) say what is typical. Relative to d = 0, so sentences
    whose loss is large and those whose loss is small weigh alike.
    """
    rows = []
    for x, y in zip(X, Y, strict=True):
        if len(x) < length:
            continue
        norms = gradient_by_distance(model, x[:length], y[:length], length - 1, params)
        if norms[0] > 0:
            rows.append(norms / norms[0])
        if len(rows) == max_sentences:
            break
    if not rows:
        raise ValueError(f"no sentence of at least length = {length} words among {len(X)}")
    stacked = np.array(rows)  # (sentences, length)
    found = {q: np.quantile(stacked, q, axis=0) for q in quantiles}
    return GradientSpread(found, len(rows), length)


def connectivity(model, x, y, params=RECURRENT) -> np.ndarray:
    """(T, T) map: entry [t, j] is the size of output t's gradient reaching step j (j <= t)."""
    T = len(x)
    grid = np.zeros((T, T))
    for t in range(T):
        grid[t, : t + 1] = gradient_by_distance(model, x, y, t, params)[::-1]
    return grid


def truncation_error(model, x, y, ks) -> dict[str, np.ndarray]:
    """Relative error |G_k - G_full| / |G_full| of each parameter's gradient, for each k."""
    with truncation(model, -1):
        full = model.bptt(x, y)
    errors = {name: [] for name in full}
    for k in ks:
        with truncation(model, k):
            truncated = model.bptt(x, y)
        for name, g in full.items():
            scale = np.linalg.norm(g)
            diff = np.linalg.norm(np.asarray(truncated[name], np.float64) - g)
            errors[name].append(diff / scale if scale > 0 else 0.0)
    return {name: np.array(e) for name, e in errors.items()}


def decay_per_step(norms, rounding: float = 0.0) -> float:
    """Factor by which a gradient shrinks (< 1) or grows (> 1) per step back, fitted in log space.

    A least-squares line through log(norms[d]) against d, over the norms above `rounding`
    (smaller ones are float noise); NaN when fewer than two norms are left to fit.
    """
    norms = np.asarray(norms, dtype=np.float64)
    d = np.flatnonzero(norms > max(rounding, 0.0))
    if len(d) < 2:
        return float("nan")
    slope = np.polyfit(d, np.log(norms[d]), 1)[0]
    return float(np.exp(slope))
