"""The temperature sampler: the same model, seed text and random seed, hotter or colder (notebooks 4 and 7).

Sampling draws each next token from p^(1/T) (normalised): T < 1 sharpens the model's
distribution towards its favourite, T > 1 flattens it towards uniform. The figure shows
both for the token after the seed text (rnnlib.plots.plot_temperatures: the model's own
probabilities, T = 1, and the chosen T; one set of bars when T = 1); the generated text
is shown once, below it, wrapped between words (the still picture of a saved notebook
draws it under the bars). The random generator is made fresh from the seed on every
change, so one setting always gives the same text.

Two kinds of model: the char-level Keras LSTM (anything with `generate(seed_text, length,
temperature, rng)` and `next_char_probs(context)`, e.g. RNNKeras) continues the seed text
character by character; a word-level model (the common interface, with its Vocabulary)
writes sentences, continuing the seed text's words when there are any.
"""

import html
import textwrap

import ipywidgets as widgets
import matplotlib
import numpy as np
from matplotlib.figure import Figure

from rnnlib import analysis, plots
from rnnlib.data.vocab import tokenize
from rnnlib.sampling import generate_sentences, sentence_text
from rnnlib.widgets._view import READABLE_FONTS, FigureView, figure_png

SHOWN_TOKENS = 12  # bars in the next-token chart
# The text under the bars: wrapped between words, never inside one; 15 px, not squeezed.
TEXT_STYLE = ("white-space:pre-wrap;word-break:normal;overflow-wrap:break-word;"
              "font-size:15px;line-height:1.45;max-width:58em;margin:0.3em 0")  # fmt: skip


class TemperatureSampler(FigureView):
    """Temperature, seed text and random seed in; sampled text and the tempered distribution out."""

    def __init__(self, model, vocab=None, seed_text: str = "", temperature: float = 1.0,
                 seed: int = 0, length: int = 200, sentences: int = 3, min_length: int = 5):  # fmt: skip
        self.model, self.vocab = model, vocab
        self.is_char_model = hasattr(model, "generate") and hasattr(model, "next_char_probs")
        if not self.is_char_model:
            if vocab is None or not hasattr(model, "forward_propagation"):
                raise TypeError(
                    "expected a char-level model with generate() (e.g. RNNKeras), or a "
                    f"word-level model with its Vocabulary; got {type(model).__name__} "
                    f"and vocab={vocab!r}"
                )
            if len(vocab) != model.word_dim:
                raise ValueError(
                    f"the vocabulary has {len(vocab)} words but the model's word_dim is "
                    f"{model.word_dim}"
                )
        elif not seed_text:
            raise ValueError("a char-level model needs a non-empty seed_text to continue")
        else:
            model.table.encode(seed_text)  # raises on characters the model has never seen
        self.min_length = min_length
        self.text = ""  # the generated text, as shown
        super().__init__((9, 3.6), name="temperature-sampler")

        wide = {"description_width": "initial"}  # show the whole description
        self.temperature = widgets.FloatSlider(
            temperature, min=0.05, max=2.0, step=0.05, description="temperature",
            continuous_update=False, style=wide,
        )  # fmt: skip
        self.seed_text = widgets.Text(
            seed_text, description="seed text", continuous_update=False,
            layout=widgets.Layout(width="480px"),
        )  # fmt: skip
        self.seed = widgets.IntText(seed, description="random seed", style=wide)
        if self.is_char_model:
            self.amount = widgets.IntSlider(length, min=10, max=1000, step=10,
                                            description="characters", continuous_update=False)  # fmt: skip
        else:
            self.amount = widgets.IntSlider(sentences, min=1, max=10, description="sentences",
                                            continuous_update=False)  # fmt: skip
        self.text_html = widgets.HTML()
        for control in (self.temperature, self.seed_text, self.seed, self.amount):
            control.observe(self.redraw, names="value")
        rows = [widgets.HBox([self.temperature, self.seed, self.amount]), self.seed_text]
        self.widget.children = [*rows, self.image, self.text_html, self.status]
        self.redraw()

    # --- the numbers ---------------------------------------------------------------------------

    def _prefix_ids(self) -> np.ndarray:
        return self.vocab.encode(tokenize(self.seed_text.value))

    def next_token_probs(self) -> tuple[list[str], np.ndarray]:
        """Tokens and the model's distribution (T = 1) of the token after the seed text."""
        if self.is_char_model:
            return list(self.model.table.chars), self.model.next_char_probs(self.seed_text.value)
        ids = [self.vocab.start_index, *self._prefix_ids().tolist()]
        return self.vocab.index_to_word, analysis.next_word_probs(self.model, self.vocab, ids)

    def generate(self) -> str:
        """The text for the current settings, from a generator made fresh from the seed."""
        rng = np.random.default_rng(self.seed.value)
        temperature, seed_text = self.temperature.value, self.seed_text.value
        if self.is_char_model:
            return seed_text + self.model.generate(seed_text, self.amount.value, temperature, rng)
        prefix = self._prefix_ids()
        if prefix.size == 0:  # nothing typed: exactly rnnlib.sampling's sentences
            sentences = generate_sentences(self.model, self.vocab, self.amount.value, rng,
                                           temperature=temperature, min_length=self.min_length)  # fmt: skip
        else:
            start = self.vocab.decode(prefix)
            sentences = [
                start + self.vocab.decode(
                    analysis.continue_sentence(self.model, self.vocab, prefix, rng, temperature)
                )
                for _ in range(self.amount.value)
            ]  # fmt: skip
        return "\n".join(sentence_text(words) for words in sentences)  # quotes as “ ”

    # --- drawing -----------------------------------------------------------------------------

    def redraw(self, *change) -> None:
        if self.is_char_model and not self.seed_text.value:
            self.show_message("type a seed text for the model to continue")
            return
        try:
            self.text = self.generate()
        except ValueError as e:  # typed text the model cannot read (e.g. an unknown character)
            self.show_message(f"<span style='color:#b00'>{html.escape(str(e))}</span>")
            return
        super().redraw(*change)
        font = "font-family:var(--jp-code-font-family,monospace);" if self.is_char_model else ""
        text = html.escape(self.text)
        self.text_html.value = f"<div class='rnnlib-text' style='{TEXT_STYLE};{font}'>{text}</div>"

    def describe(self) -> str:
        return f"temperature = {self.temperature.value:g}, seed = {self.seed.value}"

    def wrapped_text(self) -> list[str]:
        """The text's lines for the still picture: at most 10, wrapped between words."""
        lines = [wrapped for line in self.text.splitlines()
                 for wrapped in textwrap.wrap(line, 95, break_long_words=False)]  # fmt: skip
        return lines[:10]

    def draw(self, figure, with_text: bool = False) -> None:
        lines = self.wrapped_text() if with_text else []
        chart, *text_box = figure.subplots(
            1 + with_text,
            1,
            squeeze=False,
            height_ratios=[3.4, 0.2 + 0.2 * len(lines)][: 1 + with_text],
        )[:, 0]
        tokens, probs = self.next_token_probs()
        T = self.temperature.value
        # The model's own distribution (T = 1), and what is sampled when T is not 1.
        temperatures = [1.0] if np.isclose(T, 1.0) else [1.0, T]
        plots.plot_temperatures(probs, tokens, temperatures, top=SHOWN_TOKENS, ax=chart)
        for label in chart.get_xticklabels():  # words are long: slant them
            label.set(rotation=45, ha="right", rotation_mode="anchor")
        chart.set_title(f"the next token after “{self.seed_text.value[-30:] or 'SENTENCE_START'}”")
        if with_text:  # the still picture: the text is not beside it there, so draw it in
            text_box[0].set_axis_off()
            text_box[0].text(0, 1, "\n".join(lines), va="top", ha="left", fontsize=10,
                             transform=text_box[0].transAxes)  # fmt: skip

    def still_figure(self) -> Figure:
        """The bars and, below them, the text (where no widget runs, nothing else shows it)."""
        height = 3.6 + 0.2 + 0.2 * len(self.wrapped_text())  # inches: the bars, then the text
        figure = Figure(figsize=(9, height), dpi=self.figure.dpi, layout="constrained")
        with matplotlib.rc_context(READABLE_FONTS):
            self.draw(figure, with_text=True)
        return figure

    def still_png(self) -> bytes:
        return figure_png(self.still_figure())


def temperature_sampler(model, vocab=None, seed_text: str = "", **options) -> TemperatureSampler:
    """Sample text from a char-level model or a word model at a chosen temperature.

    Options: temperature (where the slider starts, e.g. 0.5), seed (of the random
    generator), length (characters, char models), sentences and min_length (word models).
    """
    return TemperatureSampler(model, vocab, seed_text, **options)
