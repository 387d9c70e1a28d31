"""Saturated tanh units: why a trained RNN's gradient fades although its W stretches (notebook 6).

One step back multiplies an error by the transpose of that step's Jacobian

    ds_j / ds_{j-1} = diag(1 - s_j^2) W          (tanh' = 1 - s^2)

W's spectral radius rho(W) > 1 says that W alone, applied again and again, stretches vectors.
But a unit whose state sits near +-1 has 1 - s^2 near 0: its row of the Jacobian is almost
zero, and the error passes back through it almost not at all. Training pushes states there,
so the product of Jacobians can shrink even when rho(W) is well above 1.
"""

from typing import NamedTuple

import numpy as np

from rnnlib.analysis.recurrent_weights import spectral_radius


class Saturation(NamedTuple):
    """How saturated one sentence's hidden states are, and what that does to a step back."""

    spectral_radius: float  # rho(W), the largest |eigenvalue| of W alone
    mean_slope: float  # mean of tanh' = 1 - s^2 over every step and unit
    saturated: float  # share of the states with |s| > threshold
    threshold: float
    step_radius: float  # geometric mean over steps of rho(diag(1 - s_j^2) W)

    def summary(self) -> str:
        """One line: W's radius, then what the states' slopes leave of it per step."""
        return (
            f"rho(W) = {self.spectral_radius:.2f}; mean 1 - s^2 = {self.mean_slope:.2f}, "
            f"|s| > {self.threshold} for {self.saturated:.0%} of the states; "
            f"rho(diag(1 - s^2) W) = {self.step_radius:.2f} per step (geometric mean)"
        )


def step_jacobians(W, s) -> np.ndarray:
    """(T - 1, H, H): ds_j / ds_{j-1} = diag(1 - s_j^2) W for j = 1..T-1, from states s (T, H)."""
    W, s = np.asarray(W, np.float64), np.asarray(s, np.float64)
    return (1.0 - s[1:] ** 2)[:, :, None] * W[None, :, :]  # row i of W scaled by unit i's slope


def saturation(W, s, threshold: float = 0.95) -> Saturation:
    """Spectral radius of W against the slopes 1 - s^2 and step Jacobians of states s (T, H)."""
    s = np.asarray(s, np.float64)
    if s.ndim != 2 or s.shape[0] < 2:
        raise ValueError(f"states must be (T, H) with T >= 2, got shape {s.shape}")
    # Each step's own radius, as rho(W) is W's: the factor a step would apply, repeated. The
    # geometric mean, because the factors of successive steps multiply.
    radii = np.max(np.abs(np.linalg.eigvals(step_jacobians(W, s))), axis=1)  # (T - 1,)
    return Saturation(
        spectral_radius=spectral_radius(W),
        mean_slope=float(np.mean(1.0 - s**2)),
        saturated=float(np.mean(np.abs(s) > threshold)),
        threshold=threshold,
        step_radius=float(np.exp(np.mean(np.log(radii)))),
    )
