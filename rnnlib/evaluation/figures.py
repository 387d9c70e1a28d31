"""Notebook 8's figures: quality against training time, test perplexities, the long-range seeds (notebook 8).

Each draws only numbers it is given, labels every line it draws, and starts a perplexity
axis at 0 where bars are compared (a log axis starting near the smallest bar makes small
differences look large).
"""

import matplotlib.pyplot as plt
import numpy as np


def plot_time_to_quality(curves: dict, baselines: dict | None = None, ax=None):
    """Validation perplexity against seconds of training, one line per model.

    `curves`: name -> [(training seconds, validation loss), ...], one point per evaluation
    (rnnlib.evaluation.experiments.Trained.curve). `baselines`: name -> loss, drawn flat.
    The first evaluation (before any step, perplexity ~C) is left out: it would squash the rest.
    """
    ax = ax or plt.figure(figsize=(8, 4.5), layout="constrained").gca()
    for name, curve in curves.items():
        seconds, losses = zip(*curve[1:], strict=True) if len(curve) > 1 else ((), ())
        (line,) = ax.plot(seconds, np.exp(losses), "-o", markersize=3, label=name)
        if losses:
            best = int(np.argmin(losses))
            ax.plot(seconds[best], np.exp(losses[best]), "*", markersize=11,
                    color=line.get_color())  # fmt: skip
    styles = ["--", ":", "-."]
    for i, (name, loss) in enumerate((baselines or {}).items()):
        ax.axhline(np.exp(loss), color="0.4", linestyle=styles[i % 3], linewidth=1,
                   label=f"{name}: {np.exp(loss):.1f}")  # fmt: skip
    ax.set(xlabel="seconds of training (compiling and evaluating not counted)",
           ylabel="validation perplexity", title="time to quality (★ the evaluation kept)")  # fmt: skip
    ax.legend(fontsize="small", ncol=2)
    return ax


def plot_test_perplexities(rows: list[dict], ax=None):
    """Horizontal bars of test perplexity from 0, each bar labelled; KN grey, mixtures purple."""
    ax = ax or plt.figure(figsize=(9, 4.5), layout="constrained").gca()
    names = [r["model"] for r in rows][::-1]
    values = [r["test perplexity"] for r in rows][::-1]
    colors = ["0.6" if n.startswith("KN") else "tab:purple" if "+" in n else "tab:blue"
              for n in names]  # fmt: skip
    bars = ax.barh(names, values, color=colors)
    ax.bar_label(bars, fmt="%.1f", padding=3)
    ax.set_xlim(0, 1.12 * max(values))
    ax.set(xlabel="test perplexity (lower is better; the axis starts at 0)",
           title="every model of the series on the same test words")  # fmt: skip
    return ax


def plot_long_range(runs: dict, language, ax=None):
    """Validation loss by bptt_truncate over several seeds: each seed's point, and their range.

    `runs`: seed -> the rows of rnnlib.evaluation.experiments.truncation_experiment.
    """
    ax = ax or plt.figure(figsize=(8, 4), layout="constrained").gca()
    truncations = [r["bptt_truncate"] for r in next(iter(runs.values()))]
    labels = [str(k) if k >= 0 else "full" for k in truncations]
    losses = np.array([[r["loss"] for r in rows] for rows in runs.values()])  # (seeds, k)
    positions = np.arange(len(labels))
    for i in range(len(runs)):
        ax.plot(positions + 0.06 * (i - len(runs) / 2), losses[i], "o", color="tab:blue",
                alpha=0.5, markersize=4, label="one seed" if i == 0 else None)  # fmt: skip
    ax.plot(positions, np.median(losses, axis=0), "-", color="tab:blue",
            label=f"median of {len(runs)} seeds")  # fmt: skip
    ax.vlines(positions, losses.min(axis=0), losses.max(axis=0), color="tab:blue", alpha=0.3,
              linewidth=6, label="range over the seeds")  # fmt: skip
    ax.axhline(language.entropy_per_token, color="k", linestyle=":",
               label=f"exact entropy {language.entropy_per_token:.3f}")  # fmt: skip
    ax.axhline(language.forgetful_entropy, color="tab:red", linestyle="--",
               label=f"knows the position, forgot the key {language.forgetful_entropy:.3f}")  # fmt: skip
    if str(language.distance) in labels:
        ax.axvline(labels.index(str(language.distance)) - 0.5, color="0.7")
    ax.set_xticks(positions, labels)
    ax.set(xlabel="bptt_truncate k", ylabel="validation loss per token (nats)",
           title=f"a dependency {language.distance} steps back, {len(runs)} seeds")  # fmt: skip
    ax.legend(fontsize="small")
    return ax
