"""What the network learned: a search for hidden units that track a feature of the text (notebooks 4 and 7).

A feature is one number per position of the text the model read: 1 inside parentheses and 0
outside, the position in the sentence, and so on. For each feature we correlate it with
every hidden unit's activation at the same positions (Pearson's r) and report the unit with
the largest |r|. A unit with |r| near 1 moves with the feature; the sign only says whether
it goes up or down. Correlation is not understanding: a unit can track "inside quotes"
because quoted words are rare words, say. The explorer then shows the unit on a sentence.

Word models read sentences (each starting with SENTENCE_START, cut off before SENTENCE_END),
the character LSTM reads plain text; both have their features here.
"""

from typing import NamedTuple

import numpy as np

from rnnlib.analysis.states import hidden_states
from rnnlib.sampling import QUOTE_TOKENS

OPEN_QUOTE, CLOSE_QUOTE = QUOTE_TOKENS  # the word tokenizer's quote tokens, in that order
STRONG = 0.5  # |r| from which the notebooks say a unit tracks a feature


class UnitMatch(NamedTuple):
    """The unit whose activation correlates best with one feature, and its Pearson r."""

    feature: str
    unit: int
    r: float

    def verdict(self, threshold: float = STRONG) -> str:
        """One line for a notebook: which unit tracks the feature, or that none does."""
        if abs(self.r) >= threshold:
            return f"{self.feature}: unit {self.unit} tracks it, r = {self.r:+.2f}"
        return (
            f"{self.feature}: no unit reaches |r| >= {threshold}; the best is unit {self.unit}, "
            f"r = {self.r:+.2f}"
        )


# --- correlation ----------------------------------------------------------------------------


def correlations(states, feature, name: str = "feature") -> np.ndarray:
    """Pearson r of each unit's activation with the feature, (H,); 0 for a constant unit.

    A unit that never changes carries no information, and its r is 0/0: we report 0 rather
    than NaN, so it is never the "best" unit. A constant feature is an error (nothing to
    correlate with: e.g. a text with no parentheses).
    """
    states = np.asarray(states, dtype=np.float64)  # (N, H)
    feature = np.asarray(feature, dtype=np.float64)  # (N,)
    if states.ndim != 2 or feature.shape != states.shape[:1]:
        raise ValueError(
            f"expected states (N, H) and {name} (N,) over the same positions, got states "
            f"{states.shape} and {name} {feature.shape}"
        )
    if np.ptp(feature) == 0:
        raise ValueError(
            f"{name} has the same value ({feature[0]:g}) at all {len(feature)} positions: "
            "choose a text where it varies"
        )
    # ptp is exact; a centred constant column need not be exactly 0 (its mean is rounded).
    varies = np.ptp(states, axis=0) > 0  # (H,)
    s = states - states.mean(axis=0)  # (N, H)
    f = feature - feature.mean()  # (N,)
    spread = np.sqrt((s**2).sum(axis=0)) * np.sqrt((f**2).sum())  # (H,)
    r = np.zeros(states.shape[1])
    r[varies] = (f @ s[:, varies]) / spread[varies]
    return np.clip(r, -1.0, 1.0)  # rounding can step just past ±1


def best_units(states, features: dict) -> list[UnitMatch]:
    """For each feature (name -> (N,) values), the unit with the highest |r| and its r."""
    matches = []
    for name, values in features.items():
        r = correlations(states, values, name)
        unit = int(np.argmax(np.abs(r)))
        matches.append(UnitMatch(name, unit, float(r[unit])))
    return matches


# --- features of a sequence of tokens (words or characters) --------------------------------


def inside(tokens, opening: str, closing: str, reset=()) -> np.ndarray:
    """1.0 where the tokens read so far leave a pair (opening ... closing) open, else 0.0.

    The opening token counts as inside (having read it, the model could know), the closing
    one as outside. Pairs nest, e.g. "f ( g ( x ) )": a closing token without an opening
    one is ignored, and a token in `reset` (a line end) closes every open pair.
    """
    depth, values = 0, []
    for token in tokens:
        if token in reset:
            depth = 0
        elif token == opening:
            depth += 1
        elif token == closing and depth > 0:
            depth -= 1
        values.append(float(depth > 0))
    return np.array(values)


def inside_toggled(tokens, mark: str, reset=()) -> np.ndarray:
    """1.0 between a mark and the next one (plain-text quotes: one character opens and closes).

    The opening mark counts as inside, the closing one as outside; a token in `reset` closes
    an unmatched quote, so one stray mark cannot make the rest of the text "quoted".
    """
    open_, values = False, []
    for token in tokens:
        if token in reset:
            open_ = False
        elif token == mark:
            open_ = not open_
        values.append(float(open_))
    return np.array(values)


def position_since(tokens, boundary: str) -> np.ndarray:
    """How many tokens since the last `boundary` token (the boundary itself is at 0)."""
    position, values = 0, []
    for token in tokens:
        position = 0 if token == boundary else position + 1
        values.append(float(position))
    return np.array(values)


def word_features(sentences) -> dict[str, np.ndarray]:
    """Features of word sentences (token lists, each read from its start), concatenated.

    Each sentence starts afresh, as the model does: its first token is at position 0.
    """
    parts = {"inside quotes": [], "inside parentheses": [], "position in the sentence": []}
    for tokens in sentences:
        parts["inside quotes"].append(inside(tokens, OPEN_QUOTE, CLOSE_QUOTE))
        parts["inside parentheses"].append(inside(tokens, "(", ")"))
        parts["position in the sentence"].append(np.arange(len(tokens), dtype=np.float64))
    return {name: np.concatenate(values) for name, values in parts.items()}


def char_features(text: str) -> dict[str, np.ndarray]:
    """Features of each character of a text: quotes and parentheses close at a line end."""
    return {
        "inside quotes": inside_toggled(text, '"', reset="\n"),
        "inside parentheses": inside(text, "(", ")", reset="\n"),
        "position in the line": position_since(text, "\n"),
    }


def states_over(model, sentences) -> np.ndarray:
    """Hidden states of a word model over encoded sentences, stacked: (sum of lengths, H)."""
    return np.concatenate([hidden_states(model, x) for x in sentences])


def share_saturated(states, level: float = 0.9) -> float:
    """The share of activations with |a| >= level: near 1, tanh is flat and learns slowly."""
    return float(np.mean(np.abs(np.asarray(states)) >= level))
