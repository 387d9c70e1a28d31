"""The hidden-state explorer: what the network holds in mind after each word (notebook 2).

For a sentence (one of the data's, or typed in) and each model (e.g. untrained and trained
side by side): the hidden state over time as a heatmap (units × words), one unit's
activation over the sentence (a curve, and the words coloured by it), and the top-k next
words the model predicts after a chosen position. Hidden states are computed once per
sentence; moving the unit or position only redraws. rnnlib.widgets.char_states
shows a character model (notebook 7) the same way. The chosen unit is pointed at by a
triangle beside the heatmap (a box around a row 3 px high would read as a dark row).
"""

import html

import ipywidgets as widgets
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle

from rnnlib import analysis, plots
from rnnlib.data.vocab import SENTENCE_END, SENTENCE_START, tokenize
from rnnlib.sampling import readable_words, sentence_text
from rnnlib.widgets._view import FigureView, as_model_dict

TYPED = -1  # the sentence dropdown's value when the typed sentence is shown
ACTIVATION_COLORS = colormaps["RdBu_r"]  # the heatmap's colours: blue -, white 0, red +


def activation_color(a: float, limit: float = 1.0) -> str:
    """Background colour (hex) of a word whose unit activation is a, on a scale of ±limit."""
    return to_hex(ACTIVATION_COLORS((float(np.clip(a / limit, -1, 1)) + 1) / 2))


def colour_limit(states) -> float:
    """One symmetric colour range for all models: an untrained net's states are tiny."""
    return plots.colour_limit(*states)


def menu_label(words, limit: int = 70) -> str:
    """A sentence as the menu shows it: its words, without the START/END markers, quotes as “ ”."""
    words = [w for w in words if w not in (SENTENCE_START, SENTENCE_END)]
    text = sentence_text(words)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class HiddenStateExplorer(FigureView):
    """Hidden states of one or more models on a sentence: heatmap, one unit, top-k predictions."""

    bottom = 0.2  # share of the figure below the unit curve, for the position labels

    def __init__(self, models, vocab, sentences=(), text: str = "", top_k: int = 5):
        self.models = as_model_dict(models)
        self.vocab = vocab
        for name, model in self.models.items():
            if len(vocab) != model.word_dim:
                raise ValueError(
                    f"the vocabulary has {len(vocab)} words but model {name!r} has "
                    f"word_dim {model.word_dim}"
                )
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
        self.top_k = top_k
        self.sentences = [self._checked(x, f"sentences[{i}]") for i, x in enumerate(sentences)]
        if not self.sentences and not text.strip():
            raise ValueError("give some sentences (encoded, e.g. data.X[:20]) or a text to type")
        self.typed_x = None
        self._shown = None  # (sentence key, {model name: (o, s)}): the sentence on screen
        self._holding = False  # True while controls are being reset together
        n_units = min(model.hidden_dim for model in self.models.values())
        width = min(7 * len(self.models), 12)  # at most 960 px: shown without shrinking
        super().__init__((width, 5.6), layout=None, name="hidden-state-explorer")

        options = [(self.menu_label(x), i) for i, x in enumerate(self.sentences)]
        self.sentence = widgets.Dropdown(
            options=[*options, ("(the typed sentence)", TYPED)], description="sentence",
            layout=widgets.Layout(width="520px"),
        )  # fmt: skip
        self.text = widgets.Text(
            text, placeholder="type a sentence, then Enter", description="or type",
            continuous_update=False, layout=widgets.Layout(width="520px"),
        )  # fmt: skip
        # continuous_update=False: one redraw when a drag ends, not one per unit passed
        slider = dict(min=0, continuous_update=False)
        self.unit = widgets.IntSlider(0, max=n_units - 1, description="unit", **slider)
        self.position = widgets.IntSlider(0, max=0, description="position", **slider)
        self.words_html = widgets.HTML()  # the words, coloured by the unit's activation
        self.predictions_html = widgets.HTML()  # top-k next words at the position
        if text.strip():
            self._read_text(text)
            self.sentence.value = TYPED
        self.sentence.observe(self._sentence_changed, names="value")
        self.text.observe(self._text_changed, names="value")
        self.unit.observe(self.redraw, names="value")
        self.position.observe(self.redraw, names="value")
        controls = widgets.VBox(
            [self.sentence, self.text, widgets.HBox([self.unit, self.position])]
        )
        self.widget.children = [
            controls, self.image, self.words_html, self.predictions_html, self.status
        ]  # fmt: skip
        self._sentence_changed()

    def _checked(self, x, name: str) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 1 or x.size == 0 or not np.issubdtype(x.dtype, np.integer):
            raise ValueError(f"{name} must be a non-empty 1-D array of word ids, got {x!r}")
        if x.min() < 0 or x.max() >= len(self.vocab):
            raise ValueError(f"{name} holds ids outside the vocabulary [0, {len(self.vocab)})")
        return x.astype(np.int64)

    # --- choosing the sentence ----------------------------------------------------------------

    def menu_label(self, x) -> str:
        """How the sentence menu names the encoded sentence x."""
        return menu_label(self.vocab.decode(x))

    def encode_typed(self, text: str) -> np.ndarray | None:
        """A typed sentence's ids, after SENTENCE_START; None if it holds no words."""
        tokens = tokenize(text)
        return self.vocab.encode([SENTENCE_START, *tokens]) if tokens else None

    def _read_text(self, text: str) -> bool:
        """Encode a typed sentence; False if it is empty."""
        typed = self.encode_typed(text)
        if typed is None:
            return False
        self.typed_x = typed
        self._shown = None  # a new typed sentence: its states are computed afresh
        return True

    def _text_changed(self, change) -> None:
        try:
            read = self._read_text(change["new"])
        except ValueError as e:  # e.g. a character the model's table does not hold
            self.show_message(html.escape(str(e)))
            return
        if not read:
            self.show_message("the typed text holds no words")
            return
        if self.sentence.value == TYPED:
            self._sentence_changed()
        else:
            self.sentence.value = TYPED  # observed: redraws

    def _sentence_changed(self, *_change) -> None:
        if self.sentence.value == TYPED and self.typed_x is None:
            self.show_message("type a sentence in the box below, then press Enter")
            return
        T = len(self.current_x())
        self._holding = True  # resetting the position slider must not draw a stale frame
        try:
            self.position.max = T - 1
            self.position.value = min(self.position.value, T - 1)
        finally:
            self._holding = False
        self.redraw()

    def current_x(self) -> np.ndarray:
        """The word ids of the sentence shown, (T,)."""
        key = self.sentence.value
        return self.typed_x if key == TYPED else self.sentences[key]

    def _forward(self) -> dict:
        """Model name -> (o (T, C), s (T, H)) for the sentence shown: one forward pass each.

        Kept for the sentence on screen only (o holds C numbers per word): moving the unit
        or the position reuses it, choosing another sentence replaces it.
        """
        key = self.sentence.value
        if self._shown is None or self._shown[0] != key:
            x = self.current_x()
            self._shown = (key, {n: m.forward_propagation(x) for n, m in self.models.items()})
        return self._shown[1]

    def states(self) -> dict:
        """Hidden states (T, H) of the sentence shown, for each model (computed once)."""
        return {name: np.asarray(s) for name, (_, s) in self._forward().items()}

    # --- drawing ------------------------------------------------------------------------------

    def redraw(self, *change) -> None:
        if self._holding:
            return
        super().redraw(*change)
        self.words_html.value = self._words_html()
        self.predictions_html.value = self._predictions_html()

    def describe(self) -> str:
        which = "typed" if self.sentence.value == TYPED else self.sentence.value
        return f"sentence = {which}, unit = {self.unit.value}, position = {self.position.value}"

    def draw(self, figure) -> None:
        words = readable_words(self.vocab.decode(self.current_x()))
        unit, position, T = self.unit.value, self.position.value, len(words)
        left = 0.85 / figure.get_figwidth()  # 0.85 inch for the unit labels, however wide
        axes = figure.subplots(
            2, len(self.models), squeeze=False, height_ratios=[2.2, 1],
            gridspec_kw=dict(left=left, right=0.95, bottom=self.bottom, top=0.94, hspace=0.06,
                             wspace=0.3),
        )  # fmt: skip
        self.heatmaps, self.unit_curves = axes  # one column per model
        limit = colour_limit(self.states().values())
        for column, (name, s) in enumerate(self.states().items()):  # s: (T, H)
            heatmap, curve = axes[0, column], axes[1, column]
            plots.plot_hidden_states(s, words, ax=heatmap, title=name, limit=limit)
            heatmap.set_xticklabels([])  # the curve below carries the words
            # The unit: a triangle just right of the image, pointing at its row (the left
            # side has the tick labels).
            heatmap.plot([1.015], [unit], "<", color="k", markersize=9, clip_on=False,
                         transform=heatmap.get_yaxis_transform(), label=f"unit {unit}")  # fmt: skip
            heatmap.add_patch(
                Rectangle((position - 0.5, -0.5), 1, s.shape[1], fill=False, lw=1.5, ec="tab:orange")
            )  # fmt: skip
            above, below = heatmap.get_position(), curve.get_position()  # the colorbar took
            curve.set_position([above.x0, below.y0, above.width, below.height])  # width: align
            curve.plot(range(T), s[:, unit], "-o", color="k", markersize=3)
            curve.axhline(0, color="0.7", linewidth=0.8)
            curve.axvline(position, color="tab:orange", linewidth=1.5)
            curve.set(
                ylim=(-1.05 * limit, 1.05 * limit), xlim=(-0.5, T - 0.5), ylabel=f"unit {unit}"
            )
            self.label_positions(curve, words, s[:, unit], limit)

    def label_positions(self, curve, words, activations, limit) -> None:
        """Name each position under the unit's curve: the words, slanted to fit."""
        curve.set_xticks(range(len(words)), words, rotation=60, ha="right")

    def _words_html(self) -> str:
        unit, lines = self.unit.value, []
        words = readable_words(self.vocab.decode(self.current_x()))
        limit = colour_limit(self.states().values())  # the heatmaps' colours
        for name, s in self.states().items():
            spans = [
                f'<span title="{a:+.3f}" style="background:{activation_color(a, limit)};'
                f"color:{'white' if abs(a) > 0.6 * limit else 'black'};"  # readable on dark
                f'padding:1px 3px;margin:1px;border-radius:3px">{html.escape(w)}</span>'
                for w, a in zip(words, s[:, unit], strict=True)
            ]
            lines.append(f"<div><b>{html.escape(name)}</b>, unit {unit}: {' '.join(spans)}</div>")
        return "\n".join(lines)

    def _predictions_html(self) -> str:
        x, position = self.current_x(), self.position.value
        (word,) = readable_words([self.vocab.index_to_word[x[position]]])
        header = f"<b>top {self.top_k} next words after “{html.escape(word)}”</b>"
        columns = []
        for name, (o, _) in self._forward().items():
            top = analysis.top_words(o[position], self.vocab, self.top_k)
            rows = "".join(
                f"<tr><td>{html.escape(w)}</td><td style='text-align:right'>{p:.4f}</td></tr>"
                for w, (_, p) in zip(readable_words(w for w, _ in top), top, strict=True)
            )
            columns.append(
                f"<td style='vertical-align:top;padding-right:2em'><i>{html.escape(name)}</i>"
                f"<table>{rows}</table></td>"
            )
        return f"{header}<table class='rnnlib-top-k'><tr>{''.join(columns)}</tr></table>"


def hidden_state_explorer(models, vocab, sentences=(), text: str = "", top_k: int = 5):
    """Explore hidden states of a model or a dict name -> model on data or typed sentences.

    `sentences` are encoded sentences (e.g. data.X[:20]); `text` starts with a typed one.
    Display the returned explorer (last line of a cell) to see it.
    """
    return HiddenStateExplorer(models, vocab, sentences=sentences, text=text, top_k=top_k)
