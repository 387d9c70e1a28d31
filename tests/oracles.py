"""Oracles the recipe tests share: central differences, and the gradient a step followed.

Importable from any test module: pytest puts tests/ (where the root conftest.py lives) on
sys.path.
"""

import numpy as np

from rnnlib.training.optimizers import SGD


def numeric_gradient(loss, params, name, h=1e-6):
    """Central differences of loss(params) in every entry of params[name]."""
    grad = np.zeros_like(params[name])
    for ix in np.ndindex(grad.shape):
        work = {k: v.copy() for k, v in params.items()}
        work[name][ix] += h
        plus = loss(work)
        work[name][ix] -= 2 * h
        grad[ix] = (plus - loss(work)) / (2 * h)
    return grad


def sgd_gradient(model, xs, ys, t=0):
    """The gradient step_batch followed, read back from one SGD step of rate 1 at step t."""
    before = model.get_params()
    optimizer = SGD(1.0)
    optimizer.t = t
    model.step_batch(xs, ys, optimizer)
    after = model.get_params()
    model.set_params(before)
    names = model.trainable_names() if hasattr(model, "trainable_names") else before
    return {name: before[name] - after[name] for name in names}
