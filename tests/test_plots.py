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
    markers = [line for line in ax.get_lines()[1:] if line.get_linestyle() == "--"]
    assert [m.get_xdata()[0] for m in markers] == [10]


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
