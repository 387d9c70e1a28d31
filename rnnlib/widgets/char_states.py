"""The hidden-state explorer for a character model (RNNKeras): one column per character (notebook 7).

The explorer of rnnlib.widgets.hidden_states, with characters for words: the character table
is shown as a vocabulary of one-character words, blanks made visible (␣, ↵), and typed text
is read character by character, without a tokenizer or a start marker.
"""

import numpy as np
from matplotlib.patches import Rectangle

from rnnlib.sampling import readable_char
from rnnlib.widgets.hidden_states import HiddenStateExplorer, activation_color


class CharLabels:
    """A character table seen as a vocabulary of one-character "words" the explorer can show."""

    def __init__(self, table):
        self.table = table
        self.index_to_word = [readable_char(c) for c in table.chars]

    def __len__(self) -> int:
        return len(self.table)

    def decode(self, ids) -> list[str]:
        """The visible label of each character id."""
        return [self.index_to_word[i] for i in np.asarray(ids).tolist()]


class CharStateExplorer(HiddenStateExplorer):
    """The hidden-state explorer for a character model (RNNKeras): one column per character."""

    def __init__(self, models, table, texts=(), text: str = "", top_k: int = 5):
        self.table = table
        sentences = [table.encode(t) for t in texts]  # names any character not in the table
        super().__init__(models, CharLabels(table), sentences=sentences, text=text, top_k=top_k)
        self.text.placeholder = "type some text, then Enter"

    bottom = 0.16  # the strip of characters needs less room than slanted words

    def label_positions(self, curve, words, activations, limit) -> None:
        """Under the curve, a strip of upright characters coloured by the unit's activation.

        Forty slanted characters are too small to read in the saved still; upright in coloured
        cells they read like the text they are, and the colours show the unit without a kernel.
        """
        curve.set_xticks(range(len(words)), [""] * len(words))
        strip = curve.inset_axes([0, -0.42, 1, 0.28], sharex=curve)
        strip.set_axis_off()
        for t, (char, a) in enumerate(zip(words, activations, strict=True)):
            strip.add_patch(Rectangle((t - 0.5, 0), 1, 1, color=activation_color(a, limit)))
            strip.text(t, 0.5, char, ha="center", va="center", fontsize=11,
                       color="white" if abs(a) > 0.6 * limit else "black")  # fmt: skip
        strip.set_ylim(0, 1)

    def menu_label(self, x, limit: int = 70) -> str:
        text = self.table.decode(x).replace("\n", "↵")
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def encode_typed(self, text: str) -> np.ndarray | None:
        return self.table.encode(text) if text else None  # characters: no tokeniser, no START


def char_state_explorer(models, table, texts=(), text: str = "", top_k: int = 5):
    """Explore a character model's hidden states (e.g. RNNKeras) on texts or typed text.

    `texts` are strings of characters of `table`; each is read from its start, a window at a
    time (RNNKeras.forward_propagation). Display the returned explorer to see it.
    """
    return CharStateExplorer(models, table, texts=texts, text=text, top_k=top_k)
