"""The recurrent weights W: which parameter they are, how much they stretch, scaled copies (notebooks 3, 6).

The BPTT explorer's scale slider multiplies W on a copy of the model; the spectral radius
rho(W) says whether repeated multiplication by W grows (> 1) or shrinks (< 1) a vector.
"""

import numpy as np

RECURRENT_WEIGHTS = ("W", "recurrent_kernel")  # the state-to-state weights, by backend


def recurrent_weight_name(params: dict) -> str:
    """Name of the state-to-state weights among a model's parameters ("W" for the RNN/GRU)."""
    for name in RECURRENT_WEIGHTS:
        if name in params:
            return name
    raise ValueError(
        f"no recurrent weights among the parameters {sorted(params)}: expected one of "
        f"{list(RECURRENT_WEIGHTS)}"
    )


def spectral_radius(W) -> float:
    """Largest |eigenvalue| of W (H, H), or the largest over a stack of them (..., H, H)."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim < 2 or W.shape[-1] != W.shape[-2]:
        raise ValueError(f"expected square matrices (..., H, H), got shape {W.shape}")
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def model_copy(model):
    """A new model of the same class and configuration, holding a copy of the parameters."""
    clone = type(model)(**model.config())
    clone.set_params(model.get_params())
    return clone


def set_recurrent_scale(copy, params: dict, scale: float) -> float:
    """Give `copy` the parameters `params` with the recurrent weights times `scale`.

    Returns the spectral radius of the scaled weights. `params` is left untouched, so the
    caller keeps the original weights (and never has to change the user's model).
    """
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    name = recurrent_weight_name(params)
    scaled = dict(params)
    scaled[name] = np.asarray(params[name]) * scale
    copy.set_params(scaled)
    return spectral_radius(scaled[name])
