"""The series' pictures, drawn by code: the unrolled RNN, BPTT's window, the GRU and LSTM cells, scan (notebooks 2, 3, 5, 6, 7).

Each function returns a matplotlib Figure whose labels use the start page's notation
(x_t, s_t, o_t, U, W, V, k), so a test can read them back and a picture never disagrees
with the equations beside it. Nothing here computes: these are the drawings a lecturer
would put on the board, made reproducible.
"""

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

INPUT, STATE, OUTPUT, GATE = "#dbe9f6", "#fde9c9", "#e3f1df", "#efe1f3"
GRADIENT, CUT = "#c0392b", "#9a9a9a"


def _canvas(width: float, height: float, figsize) -> tuple:
    fig, ax = plt.subplots(figsize=figsize)
    ax.set(xlim=(-0.2, width), ylim=(0, height), aspect="equal")
    ax.axis("off")
    return fig, ax


def _node(ax, x, y, label, color, w=0.9, h=0.55, size=12, edge="black", lw=1.0):
    """A rounded box centred at (x, y) holding `label`."""
    box = FancyBboxPatch(
        (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.04", fc=color, ec=edge, lw=lw
    )
    ax.add_patch(box)
    ax.text(x, y, label, ha="center", va="center", fontsize=size)


def _arrow(ax, start, end, label=None, color="black", lw=1.2, style="-|>", dashed=False,
           offset=(0.12, 0.0), rad=0.0, size=11):  # fmt: skip
    """An arrow from `start` to `end`, its label beside the middle."""
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle=style,
            mutation_scale=12,
            color=color,
            lw=lw,
            linestyle="--" if dashed else "-",
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=14,
            shrinkB=14,
        )  # fmt: skip
    )
    if label:
        middle = ((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1])
        ax.text(*middle, label, color=color, fontsize=size, ha="left", va="center")


def _unrolled(ax, T: int, words=None, y0: float = 0.6, first: int = 0) -> dict:
    """Draw x_t -> s_t -> o_t for T steps from step `first`, with s_{t-1} -> s_t.

    Returns each node's centre by (kind, column). Drawn from a later step (`first` > 0),
    the state on the left is the one before it, not the zero start.
    """
    at = {}
    for t in range(T):
        x, step = 2.0 + 1.8 * t, first + t
        at[("x", t)], at[("s", t)], at[("o", t)] = (x, y0), (x, y0 + 1.6), (x, y0 + 3.2)
        _node(ax, x, y0, f"$x_{{{step}}}$", INPUT)
        _node(ax, x, y0 + 1.6, f"$s_{{{step}}}$", STATE)
        _node(ax, x, y0 + 3.2, f"$o_{{{step}}}$", OUTPUT)
        if words is not None:
            ax.text(x, y0 - 0.55, words[t], ha="center", va="top", fontsize=10, style="italic")
    at[("s", -1)] = (0.4, y0 + 1.6)
    start = "$s_{-1}{=}0$" if first == 0 else f"$s_{{{first - 1}}}$"
    _node(ax, 0.4, y0 + 1.6, start, "white", w=0.75, size=10)
    return at


def _unrolled_arrows(ax, at: dict, T: int, color_of=lambda kind, t: "black") -> None:
    for t in range(T):
        _arrow(ax, at[("x", t)], at[("s", t)], "U", color=color_of("U", t))
        _arrow(ax, at[("s", t)], at[("o", t)], "V", color=color_of("V", t))
        _arrow(ax, at[("s", t - 1)], at[("s", t)], "W", color=color_of("W", t), offset=(-0.1, 0.22))


def unrolled_rnn(T: int = 4, words=None):
    """The RNN unrolled over a sentence: the same U, W, V at every step (notebook 2)."""
    if words is not None and len(words) < T:
        raise ValueError(f"words: expected at least T = {T} words, got {len(words)}")
    fig, ax = _canvas(2.4 + 1.8 * T, 4.6, (1.5 + 1.45 * T, 3.9))
    at = _unrolled(ax, T, words)
    _unrolled_arrows(ax, at, T)
    ax.set_title(
        "$s_t = \\tanh(U x_t + W s_{t-1})$,   $o_t = \\mathrm{softmax}(V s_t)$:  "
        "one set of weights, used at every step",
        fontsize=11,
    )
    return fig


def truncation_window(T: int = 6, t: int | None = None, k: int = 2, first: int = 0):
    """Output t's backward paths; truncated BPTT keeps the k steps before t (notebook 3).

    `first` numbers the columns from a later step (the BPTT explorer draws the last steps of
    a long sentence); t counts columns from there too.
    """
    t = T - 1 if t is None else t
    if not 0 <= t < T:
        raise ValueError(f"t: expected an output in [0, {T}), got {t}")
    full = k is None or k < 0
    reach = 0 if full else max(t - k, 0)  # the earliest column output t's error reaches
    fig, ax = _canvas(2.4 + 1.8 * T, 5.2, (1.5 + 1.45 * T, 4.3))
    at = _unrolled(ax, T, first=first)

    def color_of(kind, step):
        if kind == "V":
            return GRADIENT if step == t else "black"
        if step > t:
            return "#cfcfcf"  # later steps: output t's error never goes there
        return GRADIENT if step >= reach else CUT

    _unrolled_arrows(ax, at, T, color_of)
    left = at[("s", reach)][0] - 0.75
    right = at[("s", t)][0] + 0.75
    ax.add_patch(Rectangle((left, 0.1), right - left, 4.45, fc=GRADIENT, alpha=0.07, ec="none"))
    window = "full BPTT: every step" if full else f"window: k = {k} steps back"
    ax.text((left + right) / 2, 4.9, window, ha="center", color=GRADIENT, fontsize=11)
    # A cut where the window ends inside the picture: before column 0 only when the picture
    # starts later than step 0 (the window reaching further left is drawn to the edge).
    if not full and t - k >= 0 and (t - k > 0 or first > 0):
        cut_x = (at[("s", reach - 1)][0] + at[("s", reach)][0]) / 2
        ax.plot([cut_x, cut_x], [0.15, 4.1], ls=":", color=CUT)
        ax.text(cut_x, 0.05, "cut", ha="center", va="bottom", color=CUT, fontsize=10)
    ax.set_title(
        f"the error of $o_{{{first + t}}}$ flows back through W (red); beyond the window it is "
        "dropped",
        fontsize=11,
    )
    return fig


def _gate(ax, x, y, name, function, color=GATE):
    _node(ax, x, y, f"{function}\n{name}", color, w=1.15, h=0.8, size=10)


def _top(xy):
    """The middle of a gate box's top edge, where its output leaves."""
    return (xy[0], xy[1] + 0.42)


def _op(ax, xy, symbol):
    _node(ax, *xy, symbol, "white", w=0.45, h=0.45, size=12)


def _inputs_bar(ax, gate_xs, y_gates, label, width):
    """What every gate reads, drawn once as a bar below them, with an arrow up into each."""
    left, right = min(gate_xs) - 1.0, max(gate_xs) + 1.0
    _node(ax, (left + right) / 2, 0.45, label, INPUT, w=min(width, right - left), h=0.5, size=10)
    for x in gate_xs:
        _arrow(ax, (x, 0.45), (x, y_gates - 0.42), color="#555555", lw=0.8)


def gru_cell():
    """One GRU layer: update gate z, reset gate r, candidate h, s' = (1 - z) h + z s (notebook 6)."""
    fig, ax = _canvas(10.4, 5.2, (8.4, 4.3))
    old, new, y = (0.7, 4.4), (9.7, 4.4), 1.9
    reset, candidate, update = (2.4, y), (4.6, y), (7.4, y)
    reset_old, mix, keep, add = (2.4, 3.3), (5.9, 3.3), (7.4, 4.4), (8.6, 4.4)
    _node(ax, *old, "$s_{t-1}$", STATE)
    _node(ax, *new, "$s_t$", STATE)
    _gate(ax, *reset, "reset r", "σ")
    _gate(ax, *candidate, "candidate h", "tanh")
    _gate(ax, *update, "update z", "σ")
    for xy, symbol in ((reset_old, "⊙"), (mix, "⊙"), (keep, "⊙"), (add, "+")):
        _op(ax, xy, symbol)
    _inputs_bar(ax, (2.4, 4.6, 7.4), y, "$x_t$ and $s_{t-1}$ (the candidate: $x_t$ only)", 7.6)
    _arrow(ax, old, keep, "old state", offset=(-1.6, 0.2), size=9)
    _arrow(ax, old, reset_old)
    _arrow(ax, _top(reset), reset_old, "r")
    _arrow(ax, reset_old, _top(candidate), "r ⊙ $s_{t-1}$", offset=(0.1, 0.15), size=9)
    _arrow(ax, _top(candidate), mix, "h")
    _arrow(ax, _top(update), mix, "1 − z", offset=(-0.75, -0.25), size=9)
    _arrow(ax, _top(update), keep, "z")
    _arrow(ax, mix, add, offset=(0, 0))
    _arrow(ax, keep, add)
    _arrow(ax, add, new)
    ax.set_title("a GRU layer: $s_t = (1 - z) \\odot h + z \\odot s_{t-1}$", fontsize=11)
    return fig


def lstm_cell():
    """One LSTM cell: gates i, f, o, candidate g, cell c_t and state s_t (notebook 7)."""
    fig, ax = _canvas(10.4, 5.4, (8.4, 4.4))
    y = 2.0
    forget_gate, input_gate, candidate, output_gate = (2.0, y), (3.8, y), (5.6, y), (7.3, y)
    forget, write, add = (2.0, 4.5), (4.7, 3.4), (4.7, 4.5)
    squash, show = (9.0, 3.5), (9.0, 2.0)
    _node(ax, 0.6, 4.5, "$c_{t-1}$", STATE)
    _node(ax, 9.8, 4.5, "$c_t$", STATE)
    _node(ax, 9.8, 0.9, "$s_t$", STATE)
    _gate(ax, *forget_gate, "forget f", "σ")
    _gate(ax, *input_gate, "input i", "σ")
    _gate(ax, *candidate, "candidate g", "tanh")
    _gate(ax, *output_gate, "output o", "σ")
    for xy, symbol in ((forget, "⊙"), (write, "⊙"), (add, "+"), (show, "⊙")):
        _op(ax, xy, symbol)
    _node(ax, *squash, "tanh", "white", w=0.7, h=0.45, size=10)
    _inputs_bar(ax, (2.0, 3.8, 5.6, 7.3), y, "$x_t$ and $s_{t-1}$", 7.3)
    _arrow(ax, (0.6, 4.5), forget)
    _arrow(ax, _top(forget_gate), forget, "f")
    _arrow(ax, forget, add, "keep: f ⊙ $c_{t-1}$", offset=(-0.9, 0.3), size=9)
    _arrow(ax, _top(input_gate), write, "i", offset=(-0.3, 0.1))
    _arrow(ax, _top(candidate), write, "g", offset=(0.05, 0.1))
    _arrow(ax, write, add, "write: i ⊙ g", offset=(0.1, 0), size=9)
    _arrow(ax, add, (9.8, 4.5))
    _arrow(ax, (9.0, 4.5), squash)
    _arrow(ax, squash, show)
    _arrow(ax, (7.6, 2.0), show, "o", offset=(-0.2, 0.2))
    _arrow(ax, show, (9.8, 0.9))
    ax.set_title(
        "an LSTM cell: $c_t = f \\odot c_{t-1} + i \\odot g$,   $s_t = o \\odot \\tanh(c_t)$",
        fontsize=11,
    )
    return fig


def scan_loop():
    """pytensor.scan as a loop: sequences in, the carried state around, stacked outputs out (notebook 5)."""
    fig, ax = _canvas(10.4, 4.8, (8.4, 3.9))
    step = (5.2, 2.5)
    _node(ax, 1.3, 2.5, "sequences\n$x_0, x_1, \\dots, x_{T-1}$", INPUT, w=2.0, h=0.9, size=10)
    _node(ax, *step, "fn: $s_t = \\tanh(U[:, x_t] + W s_{t-1})$", GATE, w=3.6, h=0.8, size=10)
    _node(ax, 9.2, 2.5, "outputs, stacked\n$s_0, s_1, \\dots, s_{T-1}$", STATE, w=2.0, h=0.9,
          size=10)  # fmt: skip
    _node(ax, 1.6, 0.6, "outputs_info: $s_{-1} = 0$", "white", w=2.6, h=0.5, size=10)
    _node(ax, 5.2, 4.3, "non_sequences: U, W", "white", w=2.4, h=0.5, size=10)
    _arrow(ax, (2.3, 2.5), (3.4, 2.5), "$x_t$", offset=(-0.25, 0.25))
    _arrow(ax, (7.0, 2.5), (8.2, 2.5), "$s_t$", offset=(-0.25, 0.25))
    _arrow(ax, (2.9, 0.6), (3.9, 2.1), "first $s_{t-1}$", offset=(0.1, -0.25), size=9)
    _arrow(ax, (5.2, 4.05), (5.2, 2.9))
    _arrow(ax, (6.6, 2.1), (4.6, 2.1), "then $s_t$ becomes the next $s_{t-1}$", rad=-0.8,
           color=GRADIENT, offset=(-0.5, -1.0), size=9)  # fmt: skip
    ax.set_title(
        "pytensor.scan: one step function, applied T times, the state carried", fontsize=11
    )
    return fig


def labels(fig) -> list[str]:
    """Every text drawn in a figure (its title included), in drawing order."""
    found = []
    for ax in fig.axes:
        found.append(ax.get_title())
        found.extend(text.get_text() for text in ax.texts)
    return [text for text in found if text]
