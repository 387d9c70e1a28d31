"""Static figures the notebooks show: Zipf's law, vocabulary coverage, loss curves."""

from collections import Counter

import matplotlib.pyplot as plt
import numpy as np


def plot_zipf(counts: Counter, ax=None):
    """Rank-frequency plot on log-log axes, with the best-fitting power law."""
    ax = ax or plt.figure(figsize=(6, 4)).gca()
    frequencies = np.sort(np.fromiter(counts.values(), dtype=float))[::-1]
    ranks = np.arange(1, len(frequencies) + 1)
    ax.loglog(ranks, frequencies, ".", markersize=2, label="words of the corpus")
    # Fit at log-spaced ranks: otherwise the thousands of rare words in the tail outvote the head.
    at = np.unique(np.geomspace(1, len(ranks), 50).astype(int)) - 1
    slope, intercept = np.polyfit(np.log(ranks[at]), np.log(frequencies[at]), 1)
    ax.loglog(
        ranks, np.exp(intercept) * ranks**slope, "k--", label=f"fit: frequency ∝ rank^{slope:.2f}"
    )
    ax.set(xlabel="rank of the word", ylabel="occurrences", title="Zipf's law")
    ax.legend()
    return ax


def plot_coverage(sizes, coverage, chosen: int | None = None, ax=None):
    """Fraction of word tokens a vocabulary of each size knows."""
    ax = ax or plt.figure(figsize=(6, 4)).gca()
    ax.semilogx(sizes, 100 * np.asarray(coverage), "-o", markersize=3)
    if chosen is not None:
        ax.axvline(chosen, color="grey", linestyle=":", label=f"C = {chosen}")
        ax.legend()
    ax.set(xlabel="vocabulary size C", ylabel="% of word tokens known", ylim=(0, 100))
    ax.set_title("How much of the text a vocabulary covers")
    ax.grid(True, which="both", alpha=0.3)
    return ax


def plot_history(history, ax=None, label: str = "loss", color: str = "tab:blue", floor=None):
    """Loss at each evaluation, a marker at each learning-rate halving, the rate on a second axis."""
    ax = ax or plt.figure(figsize=(7, 4)).gca()
    seen = [e.examples_seen for e in history.evaluations]
    ax.plot(
        seen, [e.loss for e in history.evaluations], "-o", color=color, markersize=3, label=label
    )
    for i, h in enumerate(history.halvings):
        ax.axvline(h.examples_seen, color="tab:red", alpha=0.4, linestyle="--",
                   label="learning rate halved" if i == 0 else None)  # fmt: skip
    if floor is not None:
        ax.axhline(floor, color="k", linestyle=":", label=f"best possible ({floor:.2f})")
    ax.set(xlabel="training examples seen", ylabel="loss per word (nats)")
    rate_axis = ax.twinx()
    rate_axis.step(seen, [e.learning_rate for e in history.evaluations], where="post",
                   color="tab:gray", alpha=0.6)  # fmt: skip
    rate_axis.set_ylabel("learning rate", color="tab:gray")
    rate_axis.set_ylim(bottom=0)
    ax.legend(loc="upper right")
    return ax


def plot_hidden_states(s, words, ax=None, title: str = "hidden state over time"):
    """Heatmap of the hidden state (H × T), one column per word read."""
    s = np.asarray(s)  # (T, H)
    ax = ax or plt.figure(figsize=(max(5, 0.45 * len(words)), 4)).gca()
    image = ax.imshow(s.T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks(range(len(words)), words, rotation=60, ha="right", fontsize=8)
    ax.set(ylabel="hidden unit", title=title)
    ax.figure.colorbar(image, ax=ax, label="activation (tanh)")
    return ax
