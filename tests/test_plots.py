"""The notebook figures draw the numbers they are given."""

from collections import Counter

import numpy as np
import pytest

from rnnlib import plots
from rnnlib.history import Evaluation, Halving, History


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
