"""Numerical gradient check for any backend: compare `bptt` with central differences (notebook 3).

For every checked entry p of every parameter,

    numeric  = (L(p + h) - L(p - h)) / (2 h)          L = calculate_total_loss([x], [y])
    error    = |analytic - numeric| / (|analytic| + |numeric|)

Two (near-)zero gradients agree (the original divided 0 by 0 there), and a NaN
anywhere is a failure (the original let NaN pass, since NaN > threshold is False).
Use float64 and full BPTT (`bptt_truncate=-1`): a truncated gradient is not the
derivative of the loss, so it is expected to fail on sentences longer than the truncation.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ParamCheck:
    """The outcome for one parameter: its worst entry and how many entries were checked."""

    name: str
    shape: tuple
    n_checked: int
    worst_error: float  # relative error of the worst entry (inf for a NaN)
    worst_index: tuple
    analytic: float  # bptt's gradient at worst_index
    numeric: float  # the central difference at worst_index
    n_failed: int
    threshold: float

    @property
    def passed(self) -> bool:
        """True when every checked entry is within the threshold."""
        return self.n_failed == 0

    def __str__(self) -> str:
        verdict = "ok" if self.passed else f"FAILED ({self.n_failed} entries over threshold)"
        return (
            f"{self.name} {self.shape}, {self.n_checked} entries checked: "
            f"worst relative error {self.worst_error:.3e} at {self.worst_index} "
            f"(analytic {self.analytic:.6e}, numeric {self.numeric:.6e}) {verdict}"
        )


@dataclass
class GradCheckResult:
    """Per-parameter outcomes of `gradient_check`; `passed` when all of them pass."""

    params: dict[str, ParamCheck] = field(default_factory=dict)
    h: float = 1e-3
    threshold: float = 1e-2

    @property
    def passed(self) -> bool:
        """True when every checked entry of every parameter is within the threshold."""
        return all(p.passed for p in self.params.values())

    @property
    def worst_error(self) -> float:
        """The largest relative error over all parameters."""
        return max((p.worst_error for p in self.params.values()), default=0.0)

    def report(self) -> str:
        """A few readable lines: one per parameter, then the verdict."""
        lines = [f"gradient check (h={self.h:g}, threshold={self.threshold:g}):"]
        lines += [f"  {p}" for p in self.params.values()]
        lines.append("  PASSED" if self.passed else "  FAILED")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


def relative_error(analytic: float, numeric: float, zero_tol: float = 1e-10) -> float:
    """|a - b| / (|a| + |b|); 0 when both are (near) zero, inf when either is NaN."""
    if np.isnan(analytic) or np.isnan(numeric):
        return float("inf")
    denominator = abs(analytic) + abs(numeric)
    if denominator <= zero_tol:
        return 0.0
    return abs(analytic - numeric) / denominator


def _entries_to_check(shape, max_entries, rng) -> list[tuple]:
    """All indices of `shape`, or a seeded random subset of `max_entries` of them."""
    size = int(np.prod(shape))
    if max_entries is None or max_entries >= size:
        return list(np.ndindex(*shape))
    flat = np.sort(rng.choice(size, size=max_entries, replace=False))
    return [tuple(int(i) for i in np.unravel_index(f, shape)) for f in flat]


def gradient_check(
    model,
    x,
    y,
    h: float = 1e-3,
    error_threshold: float = 1e-2,
    params=None,
    max_entries: int | None = None,
    rng=None,
    zero_tol: float = 1e-10,
    loss=None,
) -> GradCheckResult:
    """Compare model.bptt(x, y) with central differences of model.calculate_total_loss.

    params: names to check (default: all); max_entries: check at most this many random
    entries per parameter, drawn from `rng` (a Generator or a seed; default seed 0).
    loss: the function to difference, `loss(model) -> float` (default: the sentence's total
    loss); a truncated gradient is checked against a truncated objective this way.
    The model's parameters are restored exactly afterwards, even when something fails.
    """
    if not h > 0:
        raise ValueError(f"h must be a positive step, got {h!r}")
    if not error_threshold > 0:
        raise ValueError(f"error_threshold must be positive, got {error_threshold!r}")
    if max_entries is not None and (not isinstance(max_entries, int) or max_entries < 1):
        raise ValueError(f"max_entries must be a positive int or None, got {max_entries!r}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng or 0)

    original = model.get_params()
    analytic = model.bptt(x, y)
    names = list(original) if params is None else list(params)
    unknown = [n for n in names if n not in original or n not in analytic]
    if unknown:
        raise ValueError(f"unknown parameter names {unknown}; the model has {list(original)}")
    for name in names:
        if np.shape(analytic[name]) != original[name].shape:
            raise ValueError(
                f"bptt gave a gradient of shape {np.shape(analytic[name])} for {name}, "
                f"expected the parameter's shape {original[name].shape}"
            )

    objective = loss or (lambda m: m.calculate_total_loss([x], [y]))

    def loss_with(work):
        model.set_params(work)
        return float(objective(model))

    result = GradCheckResult(h=h, threshold=error_threshold)
    work = {k: v.astype(np.float64) for k, v in original.items()}  # perturbed in place
    try:
        for name in names:
            grad = np.asarray(analytic[name], dtype=np.float64)
            checked = _entries_to_check(grad.shape, max_entries, rng)
            worst = (-1.0, checked[0], np.nan, np.nan)
            n_failed = 0
            for ix in checked:
                value = work[name][ix]
                work[name][ix] = value + h
                plus = loss_with(work)
                work[name][ix] = value - h
                minus = loss_with(work)
                work[name][ix] = value
                numeric = (plus - minus) / (2 * h)
                error = relative_error(float(grad[ix]), numeric, zero_tol)
                n_failed += error > error_threshold
                if error > worst[0]:
                    worst = (error, ix, float(grad[ix]), numeric)
            # A NaN outside the checked subset still means bptt is broken.
            nan_at = np.argwhere(~np.isfinite(grad))
            if len(nan_at) and worst[0] != float("inf"):
                ix = tuple(int(i) for i in nan_at[0])
                worst = (float("inf"), ix, float(grad[ix]), float("nan"))
                n_failed += 1
            result.params[name] = ParamCheck(
                name=name,
                shape=tuple(grad.shape),
                n_checked=len(checked),
                worst_error=worst[0],
                worst_index=tuple(int(i) for i in worst[1]),
                analytic=worst[2],
                numeric=worst[3],
                n_failed=int(n_failed),
                threshold=error_threshold,
            )
    finally:
        model.set_params(original)
    return result
