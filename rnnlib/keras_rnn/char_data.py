"""Text as characters for the char-level LSTM: the character table and training windows (notebook 7).

The model reads windows of `maxlen` character ids cut every `step` characters from a text;
the target of each window is the character that follows it.
"""

from collections.abc import Sequence

import numpy as np

from rnnlib.interface import check_positive_int


class CharTable:
    """Character <-> id table: the char model's vocabulary, characters in sorted order."""

    def __init__(self, chars: Sequence[str]):
        chars = list(chars)
        bad = [c for c in chars if not (isinstance(c, str) and len(c) == 1)]
        if bad:
            raise ValueError(f"a character table holds single characters, got {bad[:5]!r}")
        if len(set(chars)) != len(chars):
            raise ValueError("duplicate characters in the table")
        if not chars:
            raise ValueError("a character table needs at least one character")
        self.chars = chars
        self.char_to_index = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharTable":
        """Every character that occurs in `text`, sorted (so the same text gives the same ids)."""
        _check_text(text)
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other) -> bool:
        return isinstance(other, CharTable) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"CharTable({len(self)} characters)"

    def encode(self, text: str) -> np.ndarray:
        """Ids of the characters of `text`; characters outside the table are an error."""
        _check_text(text, allow_empty=True)
        unknown = sorted(set(text) - self.char_to_index.keys())
        if unknown:
            raise ValueError(
                f"characters {''.join(unknown)!r} ({', '.join(map(repr, unknown))}) are not in "
                f"the character table of {len(self)} characters"
            )
        return np.array([self.char_to_index[c] for c in text], dtype=np.int32)

    def decode(self, ids) -> str:
        """The text of character ids."""
        ids = np.asarray(ids)
        bad = ids[(ids < 0) | (ids >= len(self))]
        if bad.size:
            raise ValueError(f"id {int(bad[0])} is outside the character table [0, {len(self)})")
        return "".join(self.chars[i] for i in ids.tolist())

    def one_hot(self, ids) -> np.ndarray:
        """One-hot vectors (..., n_chars) of ids: what the LSTM sees (for display)."""
        return np.eye(len(self), dtype=np.float32)[np.asarray(ids)]


def _check_text(text, allow_empty: bool = False) -> None:
    if not isinstance(text, str):
        raise TypeError(
            f"expected text as a str, got {type(text).__name__}; join documents first, "
            "e.g. '\\n'.join(documents)"
        )
    if not text and not allow_empty:
        raise ValueError("the text is empty")


def prepare_char_data(text: str, maxlen: int = 40, step: int = 3, table: CharTable | None = None):
    """Windows of `maxlen` characters every `step` characters, and the character after each.

    Returns (X (N, maxlen) int32 ids, y (N,) int32 ids, table). Ids, not one-hot vectors:
    the model expands them itself, which keeps X `n_chars` times smaller in memory.
    """
    check_positive_int(maxlen, "maxlen")
    check_positive_int(step, "step")
    _check_text(text)
    table = CharTable.from_text(text) if table is None else table
    if len(text) <= maxlen:
        raise ValueError(
            f"the text has {len(text)} characters: it needs more than maxlen={maxlen} "
            "to make one window and its target"
        )
    ids = table.encode(text)
    starts = np.arange(0, len(text) - maxlen, step)  # (N,) first character of each window
    X = ids[starts[:, None] + np.arange(maxlen)]  # (N, maxlen)
    y = ids[starts + maxlen]  # (N,)
    return X, y, table
