"""What the model reads and says: hidden states, next-word probabilities, continuations (notebooks 2, 4).

The hidden-state explorer and the temperature sampler show these; generation samples its
next word from `next_word_probs`, never UNKNOWN_TOKEN or SENTENCE_START.
"""

import numpy as np

from rnnlib.sampling import sample_index


def hidden_states(model, x) -> np.ndarray:
    """The hidden state after each word, (T, H)."""
    return np.asarray(model.forward_propagation(x)[1])


def top_predictions(model, vocab, x, position: int, k: int = 5) -> list[tuple[str, float]]:
    """The k most probable next words after reading x[: position + 1], with probabilities."""
    if not 0 <= position < len(x):
        raise ValueError(f"position {position} is outside the sentence [0, {len(x)})")
    probs = np.asarray(model.forward_propagation(x)[0])[position]  # (C,)
    best = np.argsort(probs)[::-1][:k]
    return [(vocab.index_to_word[i], float(probs[i])) for i in best]


def next_word_probs(model, vocab, ids) -> np.ndarray:
    """What generation samples the next word from after `ids`: o[-1] without UNKNOWN and START."""
    probs = np.array(model.forward_propagation(np.asarray(ids, dtype=np.int64))[0][-1], np.float64)
    probs[vocab.unknown_index] = 0.0  # never said, as in rnnlib.sampling
    probs[vocab.start_index] = 0.0  # never a target
    return probs  # (C,)


def continue_sentence(model, vocab, prefix, rng, temperature=1.0, max_length=50) -> list[int]:
    """Word ids sampled after SENTENCE_START + prefix, up to SENTENCE_END or max_length words."""
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
    ids = [vocab.start_index, *np.asarray(prefix, dtype=np.int64).tolist()]
    new: list[int] = []
    while len(new) < max_length:
        next_id = sample_index(next_word_probs(model, vocab, ids), rng, temperature)
        if next_id == vocab.end_index:
            break
        ids.append(next_id)
        new.append(next_id)
    return new


def top_words(probs, vocab, k: int = 5) -> list[tuple[str, float]]:
    """The k most probable words of one distribution (C,), best first, with probabilities."""
    probs = np.asarray(probs)
    best = np.argsort(probs)[::-1][:k]
    return [(vocab.index_to_word[i], float(probs[i])) for i in best]
