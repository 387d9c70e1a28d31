"""The series' diagrams: each draws the start page's notation, and what a parameter changes shows."""

import matplotlib.pyplot as plt
import pytest
from matplotlib.patches import FancyArrowPatch

from rnnlib import diagrams
from rnnlib.diagrams import CUT, GRADIENT


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def arrow_colors(fig) -> list:
    return [p.get_edgecolor() for p in fig.axes[0].patches if isinstance(p, FancyArrowPatch)]


def test_the_unrolled_rnn_labels_every_step_and_the_shared_weights():
    words = ["the", "cat", "sat", "down", "."]
    fig = diagrams.unrolled_rnn(T=5, words=words)
    found = diagrams.labels(fig)
    for t in range(5):
        assert {f"$x_{{{t}}}$", f"$s_{{{t}}}$", f"$o_{{{t}}}$", words[t]} <= set(found)
    # One U, V and W arrow per step: the same weights at every step.
    assert [found.count(w) for w in "UVW"] == [5, 5, 5]
    assert "$s_{-1}{=}0$" in found and "tanh" in found[0] and "softmax" in found[0]
    with pytest.raises(ValueError, match="at least T = 5 words, got 2"):
        diagrams.unrolled_rnn(T=5, words=["a", "b"])


@pytest.mark.parametrize("T, t, k", [(6, 5, 2), (6, 4, 0), (5, 4, -1), (7, 6, 10)])
def test_the_truncation_window_colours_exactly_the_k_steps_it_keeps(T, t, k):
    """Red: the W and U arrows of steps max(t-k, 0)..t and o_t's V; grey: the cut steps."""
    fig = diagrams.truncation_window(T, t, k)
    reach = 0 if k < 0 else max(t - k, 0)
    colors = arrow_colors(fig)  # per step: U, V, W, in drawing order
    red = [tuple(c) for c in colors if tuple(c) == tuple(plt.matplotlib.colors.to_rgba(GRADIENT))]
    assert len(red) == 2 * (t - reach + 1) + 1  # U and W of each kept step, and V of o_t
    cut = plt.matplotlib.colors.to_rgba(CUT)
    assert sum(tuple(c) == tuple(cut) for c in colors) == 2 * reach
    text = " ".join(diagrams.labels(fig))
    assert ("full BPTT" in text) == (k < 0)
    assert (f"k = {k}" in text) == (k >= 0)
    assert ("cut" in diagrams.labels(fig)) == (reach > 0)
    with pytest.raises(ValueError, match=r"an output in \[0, 6\), got 6"):
        diagrams.truncation_window(6, 6, 2)


def test_the_gated_cells_name_their_gates_and_equations():
    gru = " ".join(diagrams.labels(diagrams.gru_cell()))
    for words in ("update z", "reset r", "candidate h", "$s_{t-1}$", "$s_t$", "1 − z"):
        assert words in gru
    assert "(1 - z) \\odot h + z \\odot s_{t-1}" in gru
    lstm = " ".join(diagrams.labels(diagrams.lstm_cell()))
    for words in ("forget f", "input i", "output o", "candidate g", "$c_{t-1}$", "$c_t$"):
        assert words in lstm
    assert "f \\odot c_{t-1} + i \\odot g" in lstm and "o \\odot \\tanh(c_t)" in lstm


def test_the_scan_loop_names_scans_arguments():
    text = " ".join(diagrams.labels(diagrams.scan_loop()))
    for words in ("sequences", "outputs_info", "non_sequences: U, W", "fn:", "stacked"):
        assert words in text


def test_a_window_drawn_from_a_later_step_numbers_its_columns_from_there():
    fig = diagrams.truncation_window(T=4, t=3, k=1, first=5)  # steps 5..8, output 8
    found = diagrams.labels(fig)
    assert "$x_{5}$" in found and "$o_{8}$" in found and "$s_{4}$" in found  # not s_{-1} = 0
    assert "cut" in found  # the window (steps 7, 8) ends inside the picture
    wide = diagrams.labels(diagrams.truncation_window(T=4, t=3, k=6, first=5))
    assert "cut" not in wide  # it reaches past the picture's left edge: no cut drawn there
