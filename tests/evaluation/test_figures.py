"""Notebook 8's figures draw the numbers they are given, every line labelled."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from rnnlib.data.long_range import LongRangeLanguage
from rnnlib.evaluation import figures


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_time_to_quality_plots_perplexity_against_seconds_and_stars_the_best():
    curves = {
        "a": [(0.0, 9.0), (10.0, 5.0), (20.0, 4.5), (30.0, 4.6)],
        "b": [(0.0, 9.0), (5.0, 4.8)],
    }
    ax = figures.plot_time_to_quality(curves, baselines={"KN trigram": 4.67})
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["a"].get_xdata(), [10, 20, 30])  # the untrained point left out
    np.testing.assert_allclose(lines["a"].get_ydata(), np.exp([5.0, 4.5, 4.6]))
    stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert [(s.get_xdata()[0], s.get_ydata()[0]) for s in stars] == [
        (20.0, pytest.approx(np.exp(4.5))),
        (5.0, pytest.approx(np.exp(4.8))),
    ]
    assert lines[f"KN trigram: {np.exp(4.67):.1f}"].get_ydata()[0] == pytest.approx(np.exp(4.67))


def test_test_bars_start_at_zero_and_carry_their_values():
    rows = [{"model": "KN trigram", "test perplexity": 103.0}, {"model": "RNN", "test perplexity": 90.0},
            {"model": "RNN + KN trigram", "test perplexity": 80.0}]  # fmt: skip
    ax = figures.plot_test_perplexities(rows)
    assert ax.get_xscale() == "linear" and ax.get_xlim()[0] == 0
    widths = sorted(bar.get_width() for bar in ax.patches)
    assert widths == [80.0, 90.0, 103.0]
    labels = sorted(t.get_text() for t in ax.texts)
    assert labels == ["103.0", "80.0", "90.0"]
    assert ax.get_lines() == []  # no unlabelled reference line


def test_long_range_shows_every_seed_and_their_median():
    language = LongRangeLanguage(4, 3)
    runs = {s: [{"bptt_truncate": k, "loss": 1.0 + 0.1 * s - 0.01 * i} for i, k in enumerate([0, 4, -1])]
            for s in (1, 2, 3)}  # fmt: skip
    ax = figures.plot_long_range(runs, language)
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["median of 3 seeds"].get_ydata(), [1.2, 1.19, 1.18])
    seeds = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(seeds) == 3 and sum(len(s.get_ydata()) for s in seeds) == 9
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "4", "full"]
