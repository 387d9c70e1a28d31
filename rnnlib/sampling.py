"""Generating text from a trained language model, with a temperature knob (notebooks 4-7).

Works for every backend through `forward_propagation(x) -> (o, s)`: the next word is
drawn from o[-1], the distribution after the last word read. (The original assumed one
backend's return shape and broke on the other.)

What a reader sees: the tokenizer writes quotation marks as the tokens `` and '' (so that
opening and closing quotes stay apart). `readable_words` and `sentence_text` show them as
“ and ” in everything a learner reads (sampled text, axis labels, widgets); the tokens
themselves, and the vocabulary, stay as they are.
"""

import numpy as np

QUOTE_TOKENS = {"``": "“", "''": "”"}  # the tokenizer's opening and closing quotes
BLANK_CHARACTERS = {" ": "␣", "\n": "↵", "\t": "⇥"}  # drawn as symbols, not left blank


def readable_words(words) -> list[str]:
    """Tokens as a reader should see them: `` and '' shown as “ and ”, the rest unchanged."""
    return [QUOTE_TOKENS.get(word, word) for word in words]


def readable_char(char: str) -> str:
    """A character as a readable label: space, newline and tab drawn as ␣ ↵ ⇥."""
    return BLANK_CHARACTERS.get(char, char)


def sentence_text(words) -> str:
    """Words joined into one line of text, each quote next to the words it encloses."""
    text = " ".join(readable_words(words))
    return text.replace("“ ", "“").replace(" ”", "”")


def _check_rng(rng) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {rng!r}"
        )


def sample_index(probs, rng, temperature: float = 1.0) -> int:
    """Draw an index with p ∝ exp(log(probs) / temperature); small temperature -> argmax."""
    _check_rng(rng)
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 1 or probs.size == 0:
        raise ValueError(f"probs must be a non-empty 1-D array, got shape {probs.shape}")
    if not np.all(np.isfinite(probs)) or np.any(probs < 0) or probs.sum() <= 0:
        raise ValueError(
            "probs must be finite, non-negative and not all zero, "
            f"got min {probs.min()!r}, max {probs.max()!r}, sum {probs.sum()!r}"
        )
    with np.errstate(divide="ignore"):  # log(0) = -inf: that word stays impossible
        logits = np.log(probs) / temperature
    weights = np.exp(logits - logits.max())  # the largest weight is exactly 1, never overflows
    # Inverse-CDF draw: zero-weight entries own an empty interval, so they are never picked.
    cdf = np.cumsum(weights)
    index = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    # Rounding can put the draw exactly on the total; fall back to the last possible word.
    return index if index < len(cdf) else int(np.flatnonzero(weights)[-1])


def _sample_words(model, vocab, rng, max_length, temperature) -> list[int]:
    """One attempt: word ids after SENTENCE_START, up to SENTENCE_END or max_length words."""
    ids = [vocab.start_index]
    while len(ids) - 1 < max_length:
        o, _ = model.forward_propagation(np.array(ids, dtype=np.int64))
        probs = np.array(o[-1], dtype=np.float64)  # (C,) next-word distribution
        # Never say UNKNOWN_TOKEN; SENTENCE_START is never a target, so drop it as well.
        probs[vocab.unknown_index] = 0.0
        probs[vocab.start_index] = 0.0
        next_id = sample_index(probs, rng, temperature)
        if next_id == vocab.end_index:
            break
        ids.append(next_id)
    return ids[1:]


def generate_sentence(
    model,
    vocab,
    rng,
    min_length: int = 7,
    max_length: int = 50,
    temperature: float = 1.0,
    max_tries: int = 100,
) -> list[str]:
    """Sample one sentence (words, without START/END); retry until it has >= min_length words.

    After `max_tries` short attempts the longest one is returned, so this always ends.
    """
    _check_rng(rng)
    if len(vocab) != model.word_dim:
        raise ValueError(
            f"vocabulary has {len(vocab)} words but the model's word_dim is {model.word_dim}"
        )
    for name, value, lowest in (("max_length", max_length, 1), ("max_tries", max_tries, 1)):
        if not isinstance(value, int) or value < lowest:
            raise ValueError(f"{name} must be an integer >= {lowest}, got {value!r}")
    if not isinstance(min_length, int) or not 0 <= min_length <= max_length:
        raise ValueError(
            f"min_length must be an integer in [0, max_length={max_length}], got {min_length!r}"
        )
    best: list[int] = []
    for _ in range(max_tries):
        ids = _sample_words(model, vocab, rng, max_length, temperature)
        if len(ids) >= min_length:
            return vocab.decode(ids)
        if len(ids) > len(best):
            best = ids
    return vocab.decode(best)


def generate_sentences(model, vocab, n: int, rng, **kwargs) -> list[list[str]]:
    """`n` sentences from generate_sentence (same keyword arguments)."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    return [generate_sentence(model, vocab, rng, **kwargs) for _ in range(n)]


class SamplesDuringTraining:
    """A training callback that samples the same seeded sentences after every evaluation.

    `cb(model, history)` for train_with_sgd and the Keras fit: after each evaluation it draws
    `n` sentences with a fresh generator of `seed`, so what changes from one entry to the
    next is the model, never the luck of the draw. `entries` holds (epoch, loss, sentences).
    """

    def __init__(self, vocab, n: int = 2, seed: int = 0, **options):
        self.vocab, self.n, self.seed, self.options = vocab, n, seed, options
        self.entries: list[tuple[int, float, list[str]]] = []

    def __call__(self, model, history) -> None:
        last = history.evaluations[-1]
        rng = np.random.default_rng(self.seed)
        sentences = generate_sentences(model, self.vocab, self.n, rng, **self.options)
        self.entries.append((last.epoch, last.loss, [sentence_text(s) for s in sentences]))

    def report(self) -> str:
        """One block per evaluation: its epoch and loss, then the sentences it sampled."""
        blocks = []
        for epoch, loss, sentences in self.entries:
            lines = "\n".join(f"    {s}" for s in sentences)
            blocks.append(f"after epoch {epoch} (validation loss {loss:.2f}):\n{lines}")
        return "\n".join(blocks)
