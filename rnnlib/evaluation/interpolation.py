"""Mixing two language models and choosing the mix on validation data: notebook 8 teaches it.

For any two models over the same vocabulary and a weight w in [0, 1],

    p(w_t | history) = w · p_a(w_t | history) + (1 - w) · p_b(w_t | history)

is again a distribution over the vocabulary, so the mixture is again a model with the
same interface (an n-gram with a neural net, or two n-gram orders). Any model of rnnlib
fits: one with `target_probabilities(X, y)` (the n-grams) is asked for those, any other
runs `forward_propagation(x) -> (o, s)`, o (T, C), and reads o at the targets.

Choosing w is cheap. The validation loss

    L(w) = -mean_i log(w · a_i + (1 - w) · b_i),   a_i, b_i: each model's p of target i,

needs only the a_i and b_i, computed once. And L is convex in w (minus the log of a
function linear in w), so its minimum lies next to the best point of a grid, where a
golden-section search finds it. w = 1 and w = 0 are always on the grid, so the chosen
mixture is never worse on validation than either model alone.

A module of its own (not part of rnnlib.evaluation.ngram): it mixes any two models, neural ones
included, and knows nothing about counting.
"""

from dataclasses import dataclass, field

import numpy as np

from rnnlib.interface import check_corpus, check_sentence

GOLDEN = (np.sqrt(5) - 1) / 2  # 0.618...: the golden-section step
TOLERANCE = 1e-6  # golden-section search stops when its bracket on w is this narrow


def target_probabilities(model, X, Y) -> list[np.ndarray]:
    """p(y[t] | x[:t+1]) for every target of every sentence, (T,) per sentence, from any model."""
    if hasattr(model, "target_probabilities"):
        return model.target_probabilities(X, Y)
    check_corpus(X, Y)
    probabilities = []
    for x, y in zip(X, Y, strict=True):
        x, y = check_sentence(x, y, model.word_dim)
        o, _ = model.forward_propagation(x)  # (T, C)
        probabilities.append(np.asarray(o, dtype=np.float64)[np.arange(len(y)), y])
    return probabilities


class Interpolated:
    """Two models mixed, p = weight · p_a + (1 - weight) · p_b, with the models' interface."""

    def __init__(self, model_a, model_b, weight):
        if model_a.word_dim != model_b.word_dim:
            raise ValueError(
                f"model_a has word_dim {model_a.word_dim} but model_b has {model_b.word_dim}: "
                "a mixture needs both over the same vocabulary"
            )
        self.model_a, self.model_b = model_a, model_b
        self.weight = _check_weight(weight)  # the share of model_a
        self.word_dim = model_a.word_dim  # C

    def __repr__(self) -> str:
        return f"Interpolated({self.weight:g} × {self.model_a!r}, {1 - self.weight:g} × {self.model_b!r})"

    def config(self) -> dict:
        """The weight and each model's own config (where it has one)."""
        return {
            "weight": self.weight,
            "model_a": _config(self.model_a),
            "model_b": _config(self.model_b),
        }

    def forward_propagation(self, x):
        """The mixed next-word distributions o (T, C) after each word of one sentence, and None."""
        o_a, _ = self.model_a.forward_propagation(x)  # (T, C)
        o_b, _ = self.model_b.forward_propagation(x)  # (T, C)
        w = self.weight
        return w * np.asarray(o_a, dtype=np.float64) + (1 - w) * np.asarray(o_b, np.float64), None

    def predict(self, x) -> np.ndarray:
        """The most probable next word at every step, (T,)."""
        o, _ = self.forward_propagation(x)
        return np.argmax(o, axis=1)

    def target_probabilities(self, X, Y) -> list[np.ndarray]:
        """The mixed p of every target: one array (T,) per sentence."""
        a = target_probabilities(self.model_a, X, Y)
        b = target_probabilities(self.model_b, X, Y)
        return [self.weight * pa + (1 - self.weight) * pb for pa, pb in zip(a, b, strict=True)]

    def calculate_total_loss(self, X, Y) -> float:
        """Cross-entropy summed over every target of every sentence, in nats."""
        return -float(np.sum(np.log(np.concatenate(self.target_probabilities(X, Y)))))

    def calculate_loss(self, X, Y) -> float:
        """Cross-entropy per target word, in nats (perplexity = exp of it)."""
        return self.calculate_total_loss(X, Y) / sum(len(y) for y in Y)


def interpolate(model_a, model_b, weight: float) -> Interpolated:
    """The mixture weight · model_a + (1 - weight) · model_b, itself a model."""
    return Interpolated(model_a, model_b, weight)


# --- choosing the weight ------------------------------------------------------------------


@dataclass(frozen=True)
class InterpolationTuning:
    """The weight chosen on validation data, its loss, each model's own, and the scanned curve."""

    weight: float  # the share of model_a
    loss: float  # validation loss of the mixture at `weight`, nats per word
    loss_a: float  # model_a alone (weight 1)
    loss_b: float  # model_b alone (weight 0)
    grid: np.ndarray = field(repr=False)  # (G,) the weights scanned before refining
    grid_losses: np.ndarray = field(repr=False)  # (G,) the validation loss at each
    model: Interpolated = field(repr=False)  # the chosen mixture, ready to use


def tune_interpolation_weight(model_a, model_b, X_val, y_val, grid=21) -> InterpolationTuning:
    """Choose the weight of model_a that minimises the validation loss (grid, then golden section)."""
    if isinstance(grid, int | np.integer) and not isinstance(grid, bool):
        if grid < 2:
            raise ValueError(f"grid={grid}: expected at least 2 evenly spaced weights")
        grid = np.linspace(0.0, 1.0, grid)
    grid = np.union1d([0.0, 1.0], [_check_weight(w) for w in np.ravel(grid)])  # (G,) sorted
    a = np.concatenate(target_probabilities(model_a, X_val, y_val))  # (N,), computed once
    b = np.concatenate(target_probabilities(model_b, X_val, y_val))  # (N,)
    if a.shape != b.shape:
        raise ValueError(f"the models gave {a.size} and {b.size} target probabilities")

    def loss(w):  # L(w) for one weight or an array of them
        w = np.asarray(w, dtype=np.float64)[..., None]
        with np.errstate(divide="ignore"):  # a model that gives a target p = 0 has loss inf
            return -np.mean(np.log(w * a + (1 - w) * b), axis=-1)

    grid_losses = loss(grid)  # (G,)
    best = int(np.argmin(grid_losses))
    # L is convex, so its minimum lies between the best grid point's two neighbours.
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    weight = _golden_section(loss, low, high)
    if not loss(weight) < grid_losses[best]:  # keep the grid's point unless refining helped
        weight = float(grid[best])
    return InterpolationTuning(
        weight=weight,
        loss=float(loss(weight)),
        loss_a=float(grid_losses[-1]),
        loss_b=float(grid_losses[0]),
        grid=grid,
        grid_losses=grid_losses,
        model=Interpolated(model_a, model_b, weight),
    )


def _golden_section(f, low: float, high: float) -> float:
    """The minimiser of a convex f on [low, high], to within TOLERANCE."""
    x1, x2 = high - GOLDEN * (high - low), low + GOLDEN * (high - low)
    f1, f2 = f(x1), f(x2)
    while high - low > TOLERANCE:
        if f1 <= f2:  # the minimum is left of x2
            high, x2, f2 = x2, x1, f1
            x1 = high - GOLDEN * (high - low)
            f1 = f(x1)
        else:  # the minimum is right of x1
            low, x1, f1 = x1, x2, f2
            x2 = low + GOLDEN * (high - low)
            f2 = f(x2)
    return float((low + high) / 2)


def _check_weight(weight) -> float:
    if isinstance(weight, bool) or not isinstance(weight, int | float | np.integer | np.floating):
        raise ValueError(f"weight={weight!r}: expected a number in [0, 1] (the share of model_a)")
    if not 0.0 <= weight <= 1.0:  # also rejects NaN
        raise ValueError(f"weight={weight!r}: expected a number in [0, 1] (the share of model_a)")
    return float(weight)


def _config(model):
    return model.config() if hasattr(model, "config") else repr(model)
