"""The notebook figures draw the numbers they are given."""

from collections import Counter

import numpy as np
import pytest
from matplotlib.axes._secondary_axes import SecondaryAxis

from rnnlib import plots
from rnnlib.training.history import Evaluation, Halving, History


def perplexity_axis(ax):
    (axis,) = [child for child in ax.child_axes if isinstance(child, SecondaryAxis)]
    return axis


def test_zipf_fit_recovers_an_exact_power_law():
    # Word r occurs 12000 / r**1.5 times (rounded): the fitted exponent must be close to -1.5.
    counts = Counter({f"w{r}": round(12000 / r**1.5) for r in range(1, 200)})
    ax = plots.plot_zipf(counts)
    data, fit = ax.get_lines()
    assert np.array_equal(data.get_ydata(), sorted(counts.values(), reverse=True))
    slope = np.polyfit(np.log(fit.get_xdata()), np.log(fit.get_ydata()), 1)[0]
    assert slope == pytest.approx(-1.5, abs=0.02)


def test_history_plot_has_one_point_per_evaluation_and_one_marker_per_halving():
    history = History(
        [Evaluation(0, 0, 5.0, 0.01), Evaluation(10, 1, 5.5, 0.005), Evaluation(20, 2, 4.0, 0.005)],
        [Halving(10, 1, 0.01, 0.005)],
    )
    ax = plots.plot_history(history)
    loss_line = ax.get_lines()[0]
    assert list(loss_line.get_xdata()) == [0, 10, 20]
    assert list(loss_line.get_ydata()) == [5.0, 5.5, 4.0]
    markers = [line for line in ax.get_lines()[1:] if line.get_marker() == "v"]
    assert [(list(m.get_xdata()), list(m.get_ydata())) for m in markers] == [([10], [5.5])]


def test_history_plot_reads_loss_as_perplexity_and_draws_baselines():
    history = History([Evaluation(0, 0, 5.0, 0.01), Evaluation(10, 1, 4.0, 0.01)], [])
    ax = plots.plot_history(history, baselines={"KN trigram": 4.17}, floor=3.0)
    ppl_axis = perplexity_axis(ax)
    loss_ticks = np.array([2.0, 4.0, 6.0])
    # The right-hand axis maps a loss L to exp(L): its transform sends exp(L) to where L is.
    shown = ppl_axis.get_yaxis().get_transform().transform(np.exp(loss_ticks))
    assert shown == pytest.approx(ax.yaxis.get_transform().transform(loss_ticks))
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["KN trigram: 4.17 (perplexity 65)"].get_ydata()) == [4.17, 4.17]
    assert list(lines["best possible: 3.00 (perplexity 20.1)"].get_ydata()) == [3.0, 3.0]
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "learning rate" in legend and "KN trigram: 4.17 (perplexity 65)" in legend
    assert history.perplexities == pytest.approx([np.exp(5.0), np.exp(4.0)])


def test_history_plot_keeps_its_legend_and_axis_labels_apart_from_the_curve():
    history = History(
        [Evaluation(i * 10, i, loss, 0.01 / 2 ** (i // 3)) for i, loss in
         enumerate([9.0, 5.3, 4.8, 4.6, 4.55, 4.62, 4.5])],
        [Halving(30, 3, 0.01, 0.005), Halving(60, 6, 0.005, 0.0025)],
    )  # fmt: skip
    ax = plots.plot_history(history, baselines={"KN trigram": 4.67})
    figure = ax.figure
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    plot_area = ax.get_window_extent(renderer)
    assert legend.y1 <= plot_area.y0  # below the axes: it hides neither points nor the rate
    ppl_axis = perplexity_axis(ax)
    rate_axis = next(other for other in figure.axes if other is not ax and other.get_ylabel())
    ppl_label = ppl_axis.yaxis.label.get_window_extent(renderer)
    low, high = rate_axis.get_ylim()
    rate_ticks = [
        label.get_window_extent(renderer)
        for tick, label in zip(rate_axis.get_yticks(), rate_axis.get_yticklabels(), strict=True)
        if label.get_text() and low <= tick <= high  # matplotlib also lists ticks past the ends
    ]
    assert rate_ticks and all(tick.x0 > ppl_label.x1 for tick in rate_ticks)
    for bbox in [legend, ppl_label, *rate_ticks]:  # nothing cut off at the figure's edges
        assert figure.bbox.contains(bbox.x0, bbox.y0) and figure.bbox.contains(bbox.x1, bbox.y1)


def test_history_plot_on_a_log_axis_labels_losses_as_plain_numbers():
    history = History([Evaluation(0, 0, 9.0, 0.01), Evaluation(10, 1, 4.5, 0.01)], [])
    ax = plots.plot_history(history, log_scale=True)
    ax.figure.canvas.draw()
    assert ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all(label.replace(".", "").isdigit() for label in labels), labels


def test_temperature_bars_are_the_reweighted_probabilities():
    probs = np.array([0.5, 0.3, 0.15, 0.05])
    ax = plots.plot_temperatures(probs, list("abcd"), temperatures=[1.0, 0.5], top=4)
    heights = np.array([bar.get_height() for bar in ax.patches]).reshape(2, 4)
    assert heights[0] == pytest.approx(probs)  # T = 1 leaves p alone
    assert heights[1] == pytest.approx(probs**2 / np.sum(probs**2))  # T = 1/2 squares it


def test_histories_share_one_axis_with_a_marker_on_each_halving():
    first = History(
        [Evaluation(0, 0, 5.0, 0.1), Evaluation(8, 1, 6.0, 0.05)], [Halving(8, 1, 0.1, 0.05)]
    )
    second = History([Evaluation(0, 0, 4.0, 0.1), Evaluation(8, 1, 3.0, 0.1)], [])
    ax = plots.plot_histories({"a": first, "b": second})
    curves = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert [list(c.get_ydata()) for c in curves] == [[5.0, 6.0], [4.0, 3.0]]
    markers = [
        line for line in ax.get_lines() if line.get_marker() == "v" and len(line.get_xdata())
    ]
    assert [(list(m.get_xdata()), list(m.get_ydata())) for m in markers] == [([8], [6.0])]


# --- what a learner reads off the figures ------------------------------------------------


def test_hidden_state_colours_fit_the_states_and_the_colour_bar_says_so():
    s = 0.02 * np.sin(np.arange(24.0)).reshape(4, 6)  # an untrained net's ±0.02 states
    ax = plots.plot_hidden_states(s, ["a", "``", "b", "''"])
    image = ax.images[0]
    assert image.get_clim() == pytest.approx((-np.abs(s).max(), np.abs(s).max()))
    (bar,) = [a for a in ax.figure.axes if hasattr(a, "_colorbar")]
    assert bar.get_ylabel() == f"activation (tanh), colours ±{np.abs(s).max():.2g}"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "“", "b", "”"]
    shared = plots.plot_hidden_states(s, list("abcd"), limit=1.0)  # to compare two models
    assert shared.images[0].get_clim() == (-1.0, 1.0)


def test_length_histogram_says_what_it_leaves_out():
    lengths = np.r_[np.arange(1, 50), 120, 95, 81]
    ax = plots.plot_lengths(lengths, clip=80)
    assert sum(patch.get_height() for patch in ax.patches) == 49
    assert "3 longer" in ax.get_title() and "the longest has 120" in ax.get_title()
    assert plots.plot_lengths(np.arange(1, 50)).get_title() == "Sentence lengths"


def test_per_step_gradients_use_a_log_axis_only_across_decades():
    narrow = plots.plot_per_step_gradients({"full": [0.45, 0.6, 0.95], "cut": [0.0, 0.5, 0.9]})
    assert narrow.get_yscale() == "linear" and narrow.get_ylim()[0] == 0
    crosses = [line for line in narrow.get_lines() if line.get_marker() == "x"]
    assert [list(c.get_xdata()) for c in crosses] == [[0]]  # the step with no gradient at all
    wide = plots.plot_per_step_gradients({"full": [1e-6, 1e-3, 1.0]})
    assert wide.get_yscale() == "log"


def test_truncation_error_marks_exact_zeros_instead_of_drawing_a_floor():
    errors = {"U": np.array([0.5, 0.1, 0.0]), "V": np.zeros(3), "W": np.array([0.3, 0.0, 0.0])}
    ax = plots.plot_truncation_error(errors, k=1, ks=[1, 2, 3])
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["U"].get_xdata()) == [1, 2, 3]
    assert np.isnan(lines["U"].get_ydata()[2])  # not drawn at 1e-17 or any other floor
    crosses = [
        line for line in ax.get_lines() if line.get_marker() == "x" and len(line.get_xdata())
    ]
    assert sorted(x for c in crosses for x in c.get_xdata()) == [2, 3, 3]
    assert all(np.all(c.get_ydata() == 0) for c in crosses)  # on the bottom edge (axes coords)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "V: 0 for every k (never cut)" in legend and "exactly 0 (nothing cut)" in legend
    assert min(y for line in ax.get_lines() for y in np.ravel(line.get_ydata()) if y > 0) >= 0.1


def test_connectivity_band_edge_is_a_staircase_on_the_cell_borders():
    T, k = 6, 2
    grid = np.tril(np.ones((T, T)))
    ax = plots.plot_connectivity(grid, k, words=["a", "``", "b", "''", "c", "d"])
    (edge,) = [line for line in ax.get_lines() if line.get_color() == "tab:red"]
    x, y = edge.get_xdata(), edge.get_ydata()
    steps = np.c_[np.diff(x), np.diff(y)]
    assert np.all((steps == 0).any(axis=1))  # every segment horizontal or vertical
    assert np.all(np.isin(np.r_[x, y] % 1, [0.5]))  # on the borders between cells
    assert set(y - x) == {k, k + 1}  # between the last cell kept and the first one cut
    assert (x[0], y[0]) == (-0.5, k + 0.5) and y[-1] == T - 0.5  # from edge to edge
    (bar,) = [a for a in ax.figure.axes if hasattr(a, "_colorbar")]
    assert bar.get_ylabel() == "log10 gradient norm"
    assert [t.get_text() for t in ax.get_yticklabels()][:4] == ["a", "“", "b", "”"]


def test_temperature_labels_are_rounded_and_words_readable():
    probs = np.array([0.5, 0.3, 0.2])
    ax = plots.plot_temperatures(probs, ["``", "b", "''"], [1.0, 1.9000000000000001], top=3)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["T = 1", "T = 1.9"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["“", "b", "”"]


def test_log_axis_labels_stay_short_whatever_the_range():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.semilogy([0, 1], [2.2, 19.0])  # less than a decade and a half: minor ticks labelled
    plots.short_log_labels(ax)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels(which="both") if t.get_text()]
    assert labels and all("times" not in label and len(label) <= 4 for label in labels), labels
    plt.close(fig)


def grammar_like_history() -> History:
    """A fall from 4 to about 1.07, then small rises that each halve the rate (as on the grammar)."""
    losses = [4.0, 2.0, 1.3, 1.1, 1.063, 1.080, 1.061, 1.070, 1.058, 1.059]
    rate, evaluations, halvings = 0.1, [], []
    for i, loss in enumerate(losses):
        if i and loss > losses[i - 1]:
            halvings.append(Halving(100 * i, i, rate, rate / 2))
            rate /= 2
        evaluations.append(Evaluation(100 * i, i, loss, rate))
    return History(evaluations, halvings)


def test_halvings_on_a_flat_tail_get_a_zoomed_inset_where_each_rise_shows():
    history = grammar_like_history()
    ax = plots.plot_history(history)
    (inset,) = [child for child in ax.child_axes if not isinstance(child, SecondaryAxis)]
    tail = history.losses[4:]  # from the evaluation before the first halving (at 5) on
    low, high = inset.get_ylim()
    assert low < min(tail) and max(tail) < high
    assert high - low < 2 * (max(tail) - min(tail))  # zoomed to the tail, not the whole run
    # On the inset a rise that triggers a halving spans a visible share of the height.
    assert (1.080 - 1.063) / (high - low) > 0.2
    (markers,) = [line for line in inset.get_lines() if line.get_marker() == "v"]
    assert list(markers.get_xdata()) == [h.examples_seen for h in history.halvings]


def test_no_inset_without_halvings_or_when_the_rises_are_already_visible():
    flat = History([Evaluation(i, i, 4.0 - i, 0.1) for i in range(4)], [])
    assert [
        c for c in plots.plot_history(flat).child_axes if not isinstance(c, SecondaryAxis)
    ] == []
    history = History(
        [Evaluation(0, 0, 5.0, 0.01), Evaluation(10, 1, 5.5, 0.005), Evaluation(20, 2, 4.0, 0.005)],
        [Halving(10, 1, 0.01, 0.005)],
    )
    axes = plots.plot_history(history).child_axes
    assert [c for c in axes if not isinstance(c, SecondaryAxis)] == []


def test_gru_gate_figure_draws_the_gates_it_is_given():
    rng = np.random.default_rng(0)
    gates = {n: {"update": rng.random((5, 3)), "reset": rng.random((5, 3))} for n in (1, 2)}
    fig = plots.plot_gru_gates(gates, ["a", "b", "``", "c", "d"], layer=2)
    top, bottom = fig.axes[:2]
    np.testing.assert_array_equal(top.images[0].get_array(), gates[2]["update"].T)
    lines = {line.get_label(): line.get_ydata() for line in bottom.get_lines()}
    np.testing.assert_allclose(lines["layer 1: mean reset gate"], gates[1]["reset"].mean(axis=1))
    assert [t.get_text() for t in bottom.get_xticklabels()][2] == "“"  # readable quote marks
