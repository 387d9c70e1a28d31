"""Static figures the notebooks show: Zipf's law, vocabulary coverage, loss curves (notebooks 1-7).

Every word on an axis goes through rnnlib.sampling.readable_words (the quote tokens `` and ''
drawn as “ ”); every colour bar says what its colours mean; a hidden-state heatmap's colours
fit its states; the gradient figures use a log axis only where the numbers span decades and
mark a value of exactly 0 as such, never drawing it at a made-up floor.
"""

from collections import Counter

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
from matplotlib.patches import Rectangle

from rnnlib.sampling import readable_char, readable_words


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


def plot_lengths(lengths, clip: int = 80, ax=None):
    """Histogram of sentence lengths up to `clip` tokens; the title says how many are longer."""
    lengths = np.asarray(lengths)
    ax = ax or plt.figure(figsize=(6, 3)).gca()
    shown = lengths[lengths <= clip]
    ax.hist(shown, bins=np.arange(1, min(lengths.max(), clip) + 2), color="tab:blue")
    longer = int(np.sum(lengths > clip))
    title = "Sentence lengths"
    if longer:
        title += (f" (up to {clip} tokens; {longer} longer, {longer / len(lengths):.1%},"
                  f" not shown: the longest has {lengths.max()})")  # fmt: skip
    ax.set(xlabel="tokens per training sentence (x)", ylabel="sentences", title=title)
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


def _loss_to_perplexity(loss):
    return np.exp(np.minimum(loss, 700.0))  # exp overflows a float past ~709


def _perplexity_to_loss(ppl):
    return np.log(np.maximum(ppl, 1e-300))


def add_perplexity_axis(ax, label: str = "perplexity"):
    """A right-hand axis reading the left (loss per word, nats) as perplexity = exp(loss)."""
    axis = ax.secondary_yaxis("right", functions=(_loss_to_perplexity, _perplexity_to_loss))
    # Loss is log(perplexity): round perplexities (10, 20, 50, 100, ...) fall evenly apart.
    axis.yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    axis.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    axis.set_ylabel(label)
    return axis


def add_baselines(ax, baselines: dict | None, floor=None):
    """Horizontal lines at baseline losses (name -> loss) and at a best possible loss."""
    styles = ["-.", (0, (5, 2)), (0, (1, 1)), (0, (3, 1, 1, 1))]
    for i, (name, loss) in enumerate((baselines or {}).items()):
        ax.axhline(loss, color="0.45", linestyle=styles[i % len(styles)], linewidth=1.2,
                   label=f"{name}: {loss:.2f} (perplexity {np.exp(loss):.0f})")  # fmt: skip
    if floor is not None:
        ax.axhline(floor, color="k", linestyle=":",
                   label=f"best possible: {floor:.2f} (perplexity {np.exp(floor):.1f})")  # fmt: skip


def plot_history(
    history,
    ax=None,
    label: str = "loss",
    color: str = "tab:blue",
    floor=None,
    baselines: dict | None = None,
    log_scale: bool = False,
):
    """Loss at each evaluation with its perplexity, ▼ at each halving, the learning rate used.

    `baselines` (name -> loss, e.g. n-gram models on the same data) and `floor` (the best
    possible loss, when known) are drawn as horizontal lines to compare against.
    """
    ax = ax or plt.figure(figsize=(8, 4.5), layout="constrained").gca()
    evaluations = history.evaluations
    seen = [e.examples_seen for e in evaluations]
    ax.plot(seen, [e.loss for e in evaluations], "-o", color=color, markersize=3, label=label)
    halved = [h.examples_seen for h in history.halvings]  # each at an evaluation
    if halved:
        ax.plot(halved, np.interp(halved, seen, history.losses), "v", color="tab:red",
                markersize=9, label="learning rate halved")  # fmt: skip
    add_baselines(ax, baselines, floor)
    add_halving_inset(ax, history, color)
    if log_scale:  # after a spike, the rest of the curve is still readable
        ax.set_yscale("log")
        short_log_labels(ax)
    ax.set(xlabel="training examples seen", ylabel="loss per word (nats)")
    add_perplexity_axis(ax)
    # The rate in force from each evaluation to the next: the rate the steps actually used.
    rate_axis = ax.twinx()
    # Outward past the perplexity axis's tick labels ("10000") and its label, not onto them.
    rate_axis.spines["right"].set_position(("outward", 66))
    # A rate set anew when the run continued (History.rate_changes) starts where it was set.
    rate_seen, rates = zip(*history.rates_used(), strict=True)
    (rate_line,) = rate_axis.step(rate_seen, rates, where="post", color="0.6", linewidth=1,
                                  label="learning rate")  # fmt: skip
    rate_axis.set_ylim(0, 1.25 * max(rates))  # off the frame
    rate_axis.set_ylabel("learning rate", color="tab:gray")
    handles, labels = ax.get_legend_handles_labels()
    # Below the axes, where nothing is drawn: inside, a legend hides points or the rate line.
    ax.legend([*handles, rate_line], [*labels, "learning rate"], loc="upper center",
              bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False, fontsize="small")  # fmt: skip
    return ax


def add_halving_inset(ax, history, color: str = "tab:blue", share: float = 0.2):
    """A zoomed inset of the run from just before its first halving, where the ▼ can be seen.

    A halving fires on a rise of the loss (1.063 -> 1.080 on the grammar) that is invisible
    on an axis spanning the whole run (4 -> 1). Drawn only when the run halved and the
    stretch from the evaluation before the first halving on spans less than `share` of the
    plotted losses; returns the inset axes, or None.
    """
    evaluations, halvings = history.evaluations, history.halvings
    if not halvings or len(evaluations) < 3:
        return None
    seen = np.array([e.examples_seen for e in evaluations])
    losses = np.array([e.loss for e in evaluations])
    first = int(np.searchsorted(seen, halvings[0].examples_seen))
    start = max(first - 1, 0)
    tail_seen, tail = seen[start:], losses[start:]
    whole = losses.max() - losses.min()
    if len(tail) < 2 or not np.all(np.isfinite(tail)) or np.ptp(tail) >= share * whole:
        return None
    inset = ax.inset_axes([0.45, 0.4, 0.52, 0.5])
    inset.plot(tail_seen, tail, "-o", color=color, markersize=3)
    halved = [h.examples_seen for h in halvings]
    inset.plot(halved, np.interp(halved, seen, losses), "v", color="tab:red", markersize=8)
    pad = 0.15 * (np.ptp(tail) or abs(tail[0]) * 1e-3 or 1e-3)
    inset.set_ylim(tail.min() - pad, tail.max() + pad)
    inset.set_xlim(tail_seen[0], tail_seen[-1] + 0.02 * (tail_seen[-1] - tail_seen[0] or 1))
    inset.set_title("zoom: each ▼ follows a rise of the loss", fontsize="small")
    inset.tick_params(labelsize="x-small")
    ax.indicate_inset_zoom(inset, edgecolor="0.5")
    return inset


def colour_limit(*states) -> float:
    """One symmetric colour range ±limit for hidden states: their largest |value| (>= 1e-3).

    An untrained net's states are ~±0.02: on a fixed ±1 scale its heatmap would look blank.
    """
    return max(1e-3, max(float(np.max(np.abs(s))) for s in states))


def plot_hidden_states(s, words, ax=None, title: str = "hidden state over time", limit=None):
    """Heatmap of the hidden state (H × T), one column per word read.

    Colours span ±limit (default: the largest |activation|, so small states show), and the
    colour bar says so; give the same limit to heatmaps that are to be compared.
    """
    s = np.asarray(s)  # (T, H)
    limit = colour_limit(s) if limit is None else float(limit)
    ax = ax or plt.figure(figsize=(max(5, 0.45 * len(words)), 4)).gca()
    image = ax.imshow(s.T, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit,
                      interpolation="nearest")  # fmt: skip
    ax.set_xticks(range(len(words)), readable_words(words), rotation=60, ha="right")
    ax.set(ylabel="hidden unit", title=title)
    ax.figure.colorbar(image, ax=ax, label=f"activation (tanh), colours ±{limit:.2g}")
    return ax


# --- the BPTT explorer's panels (rnnlib.analysis.gradient_flow gives the numbers) ----------


def _kept(k, n: int) -> np.ndarray:
    """Which distances 0..n-1 truncation at k keeps (k = -1 or None: all of them)."""
    d = np.arange(n)
    return d <= k if k is not None and k >= 0 else np.ones(n, dtype=bool)


def _positive(values) -> np.ndarray:
    """NaN where a value is 0, so log axes skip it instead of warning."""
    values = np.asarray(values, dtype=float)
    return np.where(values > 0, values, np.nan)


class _ShortLogFormatter(matplotlib.ticker.LogFormatterMathtext):
    """Log-axis labels as short as they can be: 0.2, 1, 30 as numbers, 10⁻¹² as a power."""

    def __call__(self, x, pos=None):
        label = super().__call__(x, pos)  # "" where the base formatter leaves a tick unlabelled
        return f"{x:g}" if label and 1e-3 <= x < 1e4 else label


def short_log_labels(ax) -> None:
    """Short labels on a log y axis, so the axis label keeps its place whatever the range."""
    if ax.get_yscale() == "log":
        ax.yaxis.set_major_formatter(_ShortLogFormatter())
        ax.yaxis.set_minor_formatter(_ShortLogFormatter(labelOnlyBase=False))


def _mark_zeros(ax, x, values, color, label=None) -> None:
    """Crosses on the bottom edge where a value is exactly 0 (a log axis cannot show it)."""
    zero = np.asarray(values) == 0
    if zero.any():
        ax.plot(np.asarray(x)[zero], np.zeros(zero.sum()), "x", color=color, markersize=7,
                transform=ax.get_xaxis_transform(), clip_on=False, label=label)  # fmt: skip


def plot_gradient_by_distance(norms, k=None, ax=None, rounding=None, label="gradient norm"):
    """Norm of the gradient reaching d steps back (log scale); what truncation at k cuts."""
    ax = ax or plt.figure(figsize=(6, 4)).gca()
    norms = _positive(norms)
    d, kept = np.arange(len(norms)), _kept(k, len(norms))
    ax.semilogy(d[kept], norms[kept], "-o", color="tab:blue", markersize=4, label=label)
    if not kept.all():
        ax.semilogy(d[~kept], norms[~kept], "--o", color="0.6", markersize=4,
                    markerfacecolor="none", label="cut by truncation")  # fmt: skip
        ax.axvline(k + 0.5, color="tab:red", linestyle=":", label=f"cut at k = {k}")
    if rounding and np.nanmin(norms) < 1e3 * rounding:  # some points come near the noise
        # Differences of gradients below this size are float rounding, not signal.
        ax.axhspan(rounding * 1e-3, rounding, color="0.88", zorder=0, label="rounding noise")
        ax.set_ylim(bottom=max(np.nanmin(norms), rounding / 30) / 3)
    ax.set(xlabel="steps back from the output (d)", ylabel="norm of the gradient reaching t − d")
    ax.legend()
    return ax


def plot_truncation_error(errors: dict, k=None, ax=None, rounding=None, ks=None):
    """Relative error of each parameter's truncated gradient against full BPTT, for each k.

    `ks`: the truncations the errors were computed at (default 0, 1, ...). An error of exactly
    0 (nothing cut) is a cross on the bottom edge, and a parameter that truncation never
    touches (V) is named in the legend; neither is drawn at a made-up floor like 1e-17.
    """
    ax = ax or plt.figure(figsize=(6, 4)).gca()
    positive = [e for err in errors.values() for e in np.ravel(err) if e > 0]
    if rounding and positive and min(positive) < 1e3 * rounding:  # some errors are that small
        # e.g. 16 eps: two compiled graphs of one model can differ by this much, not more.
        ax.axhspan(rounding * 1e-3, rounding, color="0.88", zorder=0, label="rounding level")
    zeros = False
    for name, err in errors.items():
        err = np.asarray(err, dtype=float)
        at = np.arange(len(err)) if ks is None else np.asarray(ks)
        if not np.any(err > 0):
            ax.plot([], [], " ", label=f"{name}: 0 for every k (never cut)")
            continue
        (line,) = ax.semilogy(at, _positive(err), "-o", markersize=3, label=name)
        _mark_zeros(ax, at, err, line.get_color())
        zeros = zeros or bool(np.any(err == 0))
        chosen = err[at == k] if k is not None else []  # the error at the chosen k, if drawn
        if len(chosen) and chosen[0] > 0:
            ax.semilogy([k], chosen[:1], "o", markersize=9, color=line.get_color(), alpha=0.5)
    if zeros:
        ax.plot([], [], "x", color="0.3", label="exactly 0 (nothing cut)")
    if k is not None and k >= 0:
        ax.axvline(k, color="tab:red", linestyle=":", label=f"k = {k}")
    ax.set(xlabel="bptt_truncate k", ylabel="|G_k − G_full| / |G_full|")
    ax.legend()
    return ax


def plot_connectivity(grid, k=None, ax=None, words=None, output=None):
    """(T, T) map of how much output t's gradient reaches step j; what truncation removes."""
    grid = np.asarray(grid, dtype=float)  # (T, T), zero above the diagonal
    ax = ax or plt.figure(figsize=(6, 5)).gca()
    T = len(grid)
    with np.errstate(divide="ignore"):
        image = ax.imshow(np.log10(_positive(grid)), cmap="viridis", interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, label="log10 gradient norm")
    t, j = np.indices(grid.shape)
    if k is not None and k >= 0:
        removed = (t - j > k).astype(float)  # output t does not reach step j
        ax.imshow(np.where(removed > 0, 1.0, np.nan), cmap="Greys", vmin=0, vmax=1.5,
                  alpha=0.75, interpolation="nearest")  # fmt: skip
        if removed.any():  # the band's edge, cell by cell: output t reaches back to t - k
            rows = np.arange(k + 1, T)  # a staircase from the left edge to the bottom one
            edge_x = np.r_[-0.5, np.repeat(rows - k - 0.5, 2)]
            edge_y = np.r_[k + 0.5, np.ravel(np.column_stack([rows - 0.5, rows + 0.5]))]
            ax.plot(edge_x, edge_y, color="tab:red", linewidth=1.5)
    if output is not None:
        ax.add_patch(_row_box(output, T, "tab:orange"))
    if words is not None:
        words = readable_words(words)
        ax.set_xticks(range(T), words, rotation=70, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(T), words)
    ax.set(xlabel="input step j (the word read)", ylabel="output t (after the word)")
    return ax


def _row_box(row: int, width: int, color: str):
    return Rectangle((-0.5, row - 0.5), width, 1, fill=False, edgecolor=color, linewidth=2)


# --- notebook 7: temperature, several loss curves ---------------------------------------


def plot_temperatures(probs, symbols, temperatures, top: int = 12, ax=None):
    """Grouped bars: the `top` most likely symbols, reweighted p ∝ exp(log p / T) for each T."""
    probs = np.asarray(probs, dtype=float)  # (V,)
    ax = ax or plt.figure(figsize=(9, 4)).gca()
    order = np.argsort(probs)[::-1][:top]  # the most probable symbols at T = 1
    width = 0.8 / len(temperatures)
    for i, temperature in enumerate(temperatures):
        # p ** (1/T), renormalised over *all* symbols (then the top ones are shown)
        with np.errstate(divide="ignore"):
            logits = np.log(probs) / temperature
        reweighted = np.exp(logits - logits.max())
        reweighted /= reweighted.sum()
        ax.bar(np.arange(len(order)) + (i - (len(temperatures) - 1) / 2) * width,
               reweighted[order], width, label=f"T = {temperature:.3g}")  # fmt: skip
    shown = readable_words(readable_char(symbols[j]) for j in order)
    ax.set_xticks(range(len(order)), shown)
    ax.set(xlabel="next symbol", ylabel="probability")
    ax.legend()
    return ax


def plot_histories(
    histories: dict, ax=None, ylabel: str = "loss per word (nats)", baselines: dict | None = None
):
    """Several runs' loss curves on one axis; a ▼ on a curve where its learning rate halved.

    plot_history draws one run with its learning rate; several of those would stack their
    rate axes on top of each other, so this draws the losses only.
    """
    ax = ax or plt.figure(figsize=(8, 4.5)).gca()
    for name, history in histories.items():
        seen = [e.examples_seen for e in history.evaluations]
        (line,) = ax.plot(seen, history.losses, "-o", markersize=3, label=name)
        halved = [h.examples_seen for h in history.halvings]  # each at an evaluation
        on_curve = np.interp(halved, seen, history.losses)
        ax.plot(halved, on_curve, "v", color=line.get_color(), markersize=9)
    if any(history.halvings for history in histories.values()):
        ax.plot([], [], "v", color="0.3", markersize=9, label="learning rate halved")
    add_baselines(ax, baselines)
    ax.set(xlabel="training examples seen", ylabel=ylabel)
    add_perplexity_axis(ax)
    ax.legend(loc="best", fontsize="small", framealpha=0.85)
    return ax


# --- notebooks 5 and 6: where the gradient lands, two models side by side ------------------


def plot_per_step_gradients(per_step: dict, ax=None):
    """Norm of the gradient reaching each step of one sentence, one line per way of computing it.

    A log axis when the norms span more than a decade, else a linear one from 0 (a log axis
    over 0.45-0.95 hides how close they are). A step that gets no gradient at all (scan's
    truncate_gradient cuts it) is a cross on the bottom edge.
    """
    ax = ax or plt.figure(figsize=(7, 4)).gca()
    positive = np.concatenate([np.ravel(n) for n in per_step.values()]).astype(float)
    positive = positive[positive > 0]
    log = positive.size > 0 and positive.max() > 10 * positive.min()
    markers = "os^vD"
    for i, (label, norms) in enumerate(per_step.items()):
        norms = np.asarray(norms, dtype=float)  # (T,)
        steps = np.arange(len(norms))
        (line,) = ax.plot(steps, _positive(norms), "-" + markers[i % len(markers)],
                          markersize=5, label=label, alpha=0.8)  # fmt: skip
        _mark_zeros(ax, steps, norms, line.get_color(), f"no gradient ({label.split(':')[0]})")
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(0, 1.08 * (positive.max() if positive.size else 1.0))
    ax.set(xlabel="step j of the sentence", ylabel="norm of the gradient reaching step j")
    ax.legend(fontsize=8)
    return ax


def plot_gradient_spread(spreads: dict, ax=None):
    """Median (line) and quartiles (band) of the gradient reaching d steps back, per model."""
    ax = ax or plt.figure(figsize=(7, 4)).gca()
    for label, spread in spreads.items():
        d = np.arange(spread.length)
        median = spread.quantiles[0.5]
        (line,) = ax.semilogy(d, _positive(median), "-o", markersize=4,
                              label=f"{label}: median of {spread.n_sentences} sentences")  # fmt: skip
        low, high = spread.quantiles[0.25], spread.quantiles[0.75]
        ax.fill_between(d, _positive(low), _positive(high), color=line.get_color(), alpha=0.2,
                        label=f"{label}: middle half")  # fmt: skip
    ax.set(xlabel="steps back from the output (d)",
           ylabel="gradient reaching t − d, ÷ its size at d = 0")  # fmt: skip
    ax.legend(fontsize=8)
    return ax


def plot_gru_gates(gates: dict, words, layer: int = 1):
    """One GRU layer's update gate per unit (heatmap) and both gates' means per word (lines)."""
    words = readable_words(words)
    T = len(words)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(max(7, 0.42 * T), 5.6), height_ratios=[2, 1.3], sharex=True,
        layout="constrained",
    )  # fmt: skip
    z = gates[layer]["update"]  # (T, H)
    image = top.imshow(z.T, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(image, ax=top, label="update gate z (1: keep the old state)")
    top.set(
        ylabel="hidden unit", title=f"layer {layer}: the update gate of every unit, word by word"
    )
    for number in sorted(gates):
        for gate, style in (("update", "-o"), ("reset", "--s")):
            bottom.plot(range(T), gates[number][gate].mean(axis=1), style, markersize=3,
                        label=f"layer {number}: mean {gate} gate")  # fmt: skip
    bottom.set(ylim=(0, 1), ylabel="mean over units")
    bottom.set_xticks(range(T), words, rotation=60, ha="right")
    bottom.legend(fontsize=7, ncol=2, loc="lower right")
    return fig


def plot_gradient_decay(norms_by_model: dict, ax=None):
    """Gradient norm by steps back (log scale) for several models, with the fitted decay per step."""
    from rnnlib.analysis.gradient_distance import decay_per_step

    ax = ax or plt.figure(figsize=(7, 4)).gca()
    for label, norms in norms_by_model.items():
        norms = np.asarray(norms, dtype=float)
        rate = decay_per_step(norms)
        ax.semilogy(np.arange(len(norms)), _positive(norms), "-o", markersize=4,
                    label=f"{label} (× {rate:.2f} per step)")  # fmt: skip
    ax.set(xlabel="steps back from the output (d)", ylabel="norm of the gradient reaching t − d")
    ax.legend(fontsize=8)
    return ax
