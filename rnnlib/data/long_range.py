"""A synthetic language with one dependency of known length, and its exact entropy (notebook 8, the long-range experiment).

Why it exists: truncated BPTT (`bptt_truncate=k`) lets each output's error flow back only
k steps, so a model trained that way is never told that a word further back mattered.
Real text cannot show this cleanly: nobody knows how far back its dependencies reach, or
how low its loss could go. This language has exactly one dependency, of a length you
choose, and its lowest possible loss is known exactly, so a plot can show a model with k
below the distance stuck above that floor and one with full BPTT reaching it.

A sentence is a key letter, `distance` more letters, and an answer that repeats the key:

    SENTENCE_START c a d b a a c b d =c SENTENCE_END        (distance 8, 4 kinds)

The answer is predicted at step d + 1 (reading the last letter); the key was read at step
1, d steps back. With bptt_truncate=k that prediction's error flows back to step d + 1 - k:
it reaches the key's step when k >= d, and stops short of it when k < d.

All the letters, the key included, are drawn independently from the same `kinds` letters
(uniformly, or with Zipf's law when `zipf` > 0). That the letters in between are of the
same kind as the key is what makes the lesson work. Had they been of another kind (fillers
between a pair of brackets), "remember the last bracket" would do, and a network can learn
that rule from one step of gradient, because W is the same at every step (in our runs an
RNN with bptt_truncate=0 got within 3% of such a bracket language's entropy). Here "the
last letter" is useless; only "the first letter" helps, and only the answer's error says
so. Position gives nothing away either: which answer comes depends on the key alone.

Exact entropy, in nats per predicted token (every target, SENTENCE_END included; a
sentence has d + 3 of them, and all but the answer and SENTENCE_END are uncertain):

    H = (d + 1) H_q / (d + 3),     H_q = -sum_i q_i log q_i   (one letter's entropy)

A model that can use only the last k + 1 tokens read (those whose steps a bptt_truncate=k
error reaches), k < d, is lost at the m = d + 1 - k steps whose window holds letters only
(the key perhaps among them, unrecognised): it knows neither the answer (H_q) nor whether
it comes now (one of m equally likely steps: m h(1/m), h the binary entropy):

    H_k = H + (H_q + m h(1/m)) / (d + 3),     and H_k = H for k >= d.

A truncated RNN does better than H_k, by leakage rather than learning: its forward pass
still carries older tokens in the state before the window, which the truncated gradient
reads but does not shape (RNNNumpy.truncated_total_loss holds it fixed). It usually learns
*when* the answer comes (counting from SENTENCE_START), and lands near the loss of a model
that knows when but not which, H + H_q / (d + 3) (`forgetful_entropy`).
"""

import math
import string
from collections.abc import Sequence
from functools import cached_property

import numpy as np

from rnnlib.data.vocab import SENTENCE_END, SENTENCE_START

MAX_KINDS = len(string.ascii_lowercase)  # one letter per kind of word


def _check_int(name: str, value, lowest: int, highest: int | None = None) -> int:
    """`value` as an int in [lowest, highest], or a ValueError naming it and the range."""
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if ok and lowest <= value and (highest is None or value <= highest):
        return int(value)
    expected = f">= {lowest}" if highest is None else f"in [{lowest}, {highest}]"
    raise ValueError(f"{name}={value!r}: expected an integer {expected}")


def _check_window(window) -> int:
    """A truncation length k >= 0, or -1 for no limit (None means -1 too)."""
    return -1 if window is None else _check_int("window", window, -1)


def _binary_entropy(p: float) -> float:
    """h(p) = -p log p - (1 - p) log(1 - p), in nats; h(0) = h(1) = 0."""
    return -math.fsum(x * math.log(x) for x in (p, 1.0 - p) if x > 0)


class LongRangeLanguage:
    """A key letter, `distance` more, the key again: sample it, predict it, know its entropy."""

    def __init__(self, distance: int = 8, kinds: int = 4, zipf: float = 0.0):
        self.distance = _check_int("distance", distance, 1)  # d
        self.kinds = _check_int("kinds", kinds, 2, MAX_KINDS)  # K
        if not (isinstance(zipf, int | float) and math.isfinite(zipf) and zipf >= 0):
            raise ValueError(f"zipf={zipf!r}: expected a finite number >= 0 (0: uniform)")
        self.zipf = float(zipf)
        self.letters = list(string.ascii_lowercase[: self.kinds])  # keys and words in between
        self.answers = [f"={c}" for c in self.letters]
        weights = np.arange(1, self.kinds + 1, dtype=np.float64) ** -self.zipf
        self.probs = weights / weights.sum()  # (K,) q_i, proportional to 1 / (i + 1)^zipf
        self._answer_of = dict(zip(self.letters, self.answers, strict=True))

    def __repr__(self) -> str:
        return (
            f"LongRangeLanguage(distance={self.distance}, kinds={self.kinds}, zipf={self.zipf:g})"
        )

    @property
    def words(self) -> list[str]:
        """Every word of the language (letters and answers), sorted."""
        return sorted(self.letters + self.answers)

    # --- sampling --------------------------------------------------------------------------

    def sample(self, n_sentences: int, seed) -> list[list[str]]:
        """Sentences as word lists (no START/END), reproducibly from `seed` (or a Generator)."""
        n = _check_int("n_sentences", n_sentences, 0)
        rng = np.random.default_rng(seed)
        ids = rng.choice(self.kinds, size=(n, self.distance + 1), p=self.probs)  # (n, d + 1)
        letters = np.array(self.letters)[ids].tolist()
        return [[*row, self._answer_of[row[0]]] for row in letters]

    # --- the true model --------------------------------------------------------------------

    def next_token_distribution(self, prefix: Sequence[str], window=-1) -> dict[str, float]:
        """P(next token | prefix), prefix from SENTENCE_START; window=k: knowing its last k + 1 tokens only."""
        t = self._check_prefix(prefix)  # the step of the last token read
        d, k = self.distance, _check_window(window)
        letters = dict(zip(self.letters, self.probs.tolist(), strict=True))
        if 0 <= k < d and t - k >= 1 and t <= d + 1:
            # The window holds letters only, so it could be at any of m steps, all equally
            # likely; the answer follows only the last of them, and its key is out of sight.
            m = d + 1 - k
            dist = {w: (1 - 1 / m) * q for w, q in letters.items()}
            dist.update({self._answer_of[w]: q / m for w, q in letters.items()})
            return {w: p for w, p in dist.items() if p > 0}
        if t <= d:  # the key and the letters after it
            return letters
        if t == d + 1:
            return {self._answer_of[prefix[1]]: 1.0}
        return {SENTENCE_END: 1.0}

    def _check_prefix(self, prefix) -> int:
        """len(prefix) - 1, after checking that `prefix` starts a sentence of the language."""
        if isinstance(prefix, str) or not isinstance(prefix, Sequence):
            raise TypeError(f"prefix must be a list of tokens, got {prefix!r}")
        d = self.distance
        if len(prefix) == 0 or prefix[0] != SENTENCE_START:
            raise ValueError(f"a prefix starts with {SENTENCE_START}, got {list(prefix[:1])}")
        if len(prefix) > d + 3:
            raise ValueError(
                f"the prefix has {len(prefix)} tokens, but {SENTENCE_END} comes after "
                f"{d + 3}: nothing comes next"
            )
        for t, token in enumerate(prefix[1:], start=1):
            if t <= d + 1:
                expected = self.letters
            else:
                expected = [self._answer_of.get(prefix[1])]
            if token not in expected:
                raise ValueError(f"prefix[{t}]={token!r}: expected one of {expected}")
        return len(prefix) - 1

    # --- exact entropies -------------------------------------------------------------------

    @cached_property
    def letter_entropy(self) -> float:
        """Entropy of one letter, in nats: H_q = -sum q log q."""
        return -math.fsum(q * math.log(q) for q in self.probs.tolist() if q > 0)

    @property
    def expected_length(self) -> int:
        """Predicted tokens per sentence: d + 1 letters, the answer, SENTENCE_END (always d + 3)."""
        return self.distance + 3

    @cached_property
    def sentence_entropy(self) -> float:
        """Entropy of a whole sentence, in nats: (d + 1) H_q."""
        return (self.distance + 1) * self.letter_entropy

    @cached_property
    def entropy_per_token(self) -> float:
        """The lowest per-token cross-entropy (nats) any language model of this text can reach."""
        return self.sentence_entropy / self.expected_length

    @cached_property
    def forgetful_entropy(self) -> float:
        """The lowest per-token loss of a model that knows the position but not the key."""
        return self.entropy_per_token + self.letter_entropy / self.expected_length

    def window_entropy(self, window) -> float:
        """The lowest per-token loss using only the last `window` + 1 tokens (-1: all of them)."""
        k = _check_window(window)
        if k == -1 or k >= self.distance:
            return self.entropy_per_token
        m = self.distance + 1 - k  # steps whose window holds letters only
        lost = self.letter_entropy + m * _binary_entropy(1 / m)  # which answer, and when
        return self.entropy_per_token + lost / self.expected_length
