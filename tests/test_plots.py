"""The notebook figures draw the numbers they are given."""

from collections import Counter

import numpy as np
import pytest

from rnnlib import plots
from rnnlib.training.history import Evaluation, Halving, History


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
    (ppl_axis,) = ax.child_axes
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
