"""From raw text to training data: sentences, tokens, the vocabulary, and X/y (notebook 1).

The pipeline is the original tutorial's: lower-case, split into sentences, wrap
each in SENTENCE_START ... SENTENCE_END, split into words, keep the most
frequent words and map the rest to UNKNOWN_TOKEN. It needs no downloaded data:
when nltk's punkt models are not installed, Punkt learns where sentences end
from the text itself (it is an unsupervised algorithm).
"""

import json
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
from nltk.tokenize import TreebankWordTokenizer
from nltk.tokenize.punkt import PunktSentenceTokenizer

from rnnlib._io import atomic_write_text
from rnnlib.interface import check_path, check_positive_int, check_seed

SENTENCE_START = "SENTENCE_START"
SENTENCE_END = "SENTENCE_END"
UNKNOWN_TOKEN = "UNKNOWN_TOKEN"
SPECIAL_TOKENS = (SENTENCE_START, SENTENCE_END, UNKNOWN_TOKEN)

# A "sentence" longer than this many words is cut into pieces: text without sentence
# punctuation would otherwise become one sentence of a million words. The longest sentence
# of the built-in corpus has 265 words.
MAX_SENTENCE_LENGTH = 300

# Treebank rules are plain regular expressions: no data files to download.
_word_tokenizer = TreebankWordTokenizer()


# --- sentences and words ------------------------------------------------------


def sentence_splitter(documents: Sequence[str]) -> PunktSentenceTokenizer:
    """Installed English punkt data if present, otherwise Punkt trained on `documents`."""
    try:
        from nltk.tokenize import PunktTokenizer

        return PunktTokenizer("english")
    except (LookupError, ImportError, OSError):
        return trained_sentence_splitter(documents)


def trained_sentence_splitter(documents: Sequence[str]) -> PunktSentenceTokenizer:
    """Punkt trained on `documents` themselves: it learns abbreviations from the text."""
    return PunktSentenceTokenizer("\n\n".join(documents))


def split_sentences(documents: Sequence[str], splitter=None) -> list[str]:
    """Split each document into sentences (in order), dropping empty ones."""
    documents = _check_documents(documents)
    splitter = splitter or sentence_splitter(documents)
    return [s.strip() for doc in documents for s in splitter.tokenize(doc) if s.strip()]


def tokenize(sentence: str) -> list[str]:
    """Lower-case one sentence and split it into words."""
    return _word_tokenizer.tokenize(sentence.lower())


def tokenize_sentences(
    sentences: Iterable[str], max_length: int | None = MAX_SENTENCE_LENGTH
) -> list[list[str]]:
    """Words of each sentence as SENTENCE_START ... SENTENCE_END; longer ones cut, with a warning."""
    tokens, cut = _tokenize_and_cut(sentences, max_length)
    _warn_if_cut(cut, max_length)
    return tokens


class LongSentenceWarning(UserWarning):
    """Some "sentences" were longer than max_length words, and were cut into pieces."""


def _tokenize_and_cut(sentences, max_length) -> tuple[list[list[str]], list[int]]:
    """Wrapped pieces of at most `max_length` words each, and the length of every sentence cut."""
    if max_length is not None:
        max_length = check_positive_int(max_length, "max_length")
    tokens, cut = [], []
    for sentence in sentences:
        words = tokenize(sentence)
        if max_length is None or len(words) <= max_length:
            tokens.append([SENTENCE_START, *words, SENTENCE_END])
            continue
        cut.append(len(words))
        for start in range(0, len(words), max_length):
            tokens.append([SENTENCE_START, *words[start : start + max_length], SENTENCE_END])
    return tokens, cut


def _warn_if_cut(cut: list[int], max_length) -> None:
    """A LongSentenceWarning, shown under the notebook cell that called, saying what was cut."""
    if cut:
        n, pieces = len(cut), sum(-(-length // max_length) for length in cut)
        sentences = "1 sentence" if n == 1 else f"{n} sentences"
        warnings.warn(
            f"{sentences} longer than {max_length} words {'was' if n == 1 else 'were'} cut "
            f"into {pieces} pieces of at most {max_length} words (the longest had {max(cut)}). "
            "Text without sentence punctuation (. ! ?) reads as one long sentence; pass "
            "max_length=None (max_sentence_length=None to Dataset) to keep sentences whole.",
            LongSentenceWarning,
            stacklevel=3,  # the caller of tokenize_sentences or Dataset
        )


def _check_documents(documents) -> list[str]:
    if isinstance(documents, str):
        raise TypeError("expected a list of documents (strings), got a single string")
    documents = [d for d in documents if d.strip()]
    if not documents:
        raise ValueError("the corpus is empty: expected at least one non-blank document")
    return documents


# --- the vocabulary ---------------------------------------------------------------


class Vocabulary:
    """Word <-> id table: SENTENCE_START is 0, SENTENCE_END 1, UNKNOWN_TOKEN last."""

    def __init__(self, words: Sequence[str]):
        words = [str(w) for w in words]
        if len(words) < 3:
            raise ValueError(f"a vocabulary needs at least the 3 special words, got {len(words)}")
        expected = {0: SENTENCE_START, 1: SENTENCE_END, len(words) - 1: UNKNOWN_TOKEN}
        for index, token in expected.items():
            if words[index] != token:
                raise ValueError(f"expected {token} at index {index}, found {words[index]!r}")
        duplicates = [w for w, n in Counter(words).items() if n > 1]
        if duplicates:
            raise ValueError(f"duplicate words in vocabulary: {duplicates[:5]}")
        self.index_to_word = words
        self.word_to_index = {w: i for i, w in enumerate(words)}

    @classmethod
    def build(cls, tokenized_sentences: Iterable[Sequence[str]], size: int) -> "Vocabulary":
        """The `size - 3` most frequent words plus the three special tokens."""
        if not isinstance(size, int | np.integer) or size < 3:
            raise ValueError(f"vocabulary size must be an integer >= 3, got {size!r}")
        counts = word_counts(tokenized_sentences)
        # Ties broken alphabetically, so the same text always gives the same ids.
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        kept = [w for w, _ in ranked[: size - 3]]
        return cls([SENTENCE_START, SENTENCE_END, *kept, UNKNOWN_TOKEN])

    def __len__(self) -> int:
        return len(self.index_to_word)

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and self.index_to_word == other.index_to_word

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)})"

    @property
    def start_index(self) -> int:
        return 0

    @property
    def end_index(self) -> int:
        return 1

    @property
    def unknown_index(self) -> int:
        return len(self) - 1

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Ids of `tokens`; words outside the vocabulary become UNKNOWN_TOKEN."""
        if isinstance(tokens, str):
            raise TypeError("encode expects a list of tokens, not a string: use tokenize() first")
        unknown = self.unknown_index
        return np.array([self.word_to_index.get(t, unknown) for t in tokens], dtype=np.int64)

    def decode(self, ids) -> list[str]:
        """Words of one sentence's `ids` (1-D); an id outside [0, size) is an error."""
        ids = np.asarray(ids)
        if ids.ndim != 1:
            raise ValueError(
                f"ids must be a 1-D sequence of word ids (one sentence), got shape {ids.shape}; "
                "decode a batch row by row"
            )
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"ids must be integers, got dtype {ids.dtype}")
        bad = ids[(ids < 0) | (ids >= len(self))]
        if bad.size:
            raise ValueError(f"id {int(bad[0])} is outside the vocabulary [0, {len(self)})")
        return [self.index_to_word[i] for i in ids.tolist()]

    def coverage(self, tokenized_sentences: Iterable[Sequence[str]]) -> float:
        """Fraction of word tokens (specials excluded) that the vocabulary knows."""
        counts = word_counts(tokenized_sentences)
        total = sum(counts.values())
        if total == 0:
            raise ValueError("no words to measure coverage on")
        return sum(n for w, n in counts.items() if w in self.word_to_index) / total

    # Saving: plain JSON on its own, a unicode array inside a checkpoint (no pickles).

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays to embed in an .npz file that loads with allow_pickle=False."""
        return {"vocab_words": np.array(self.index_to_word, dtype=np.str_)}

    @classmethod
    def from_arrays(cls, arrays) -> "Vocabulary":
        """Inverse of `to_arrays`."""
        if "vocab_words" not in arrays:
            raise ValueError("no 'vocab_words' array: this file holds no vocabulary")
        return cls(arrays["vocab_words"].tolist())

    def save(self, path) -> None:
        """Write the vocabulary to a JSON file, atomically."""
        path = check_path(path, "path", "a file path")
        atomic_write_text(path, json.dumps({"index_to_word": self.index_to_word}, indent=0))

    @classmethod
    def load(cls, path) -> "Vocabulary":
        """Read a vocabulary written by `save`."""
        path = check_path(path, "path", "a file path")
        if path.is_dir():
            raise ValueError(f"{path} is a directory: expected a vocabulary file (Vocabulary.save)")
        if not path.is_file():
            raise FileNotFoundError(f"no vocabulary file at {path}")
        try:
            words = json.loads(path.read_text(encoding="utf-8"))["index_to_word"]
        except RecursionError:
            raise ValueError(
                f"{path} is not a vocabulary file (Vocabulary.save): JSON nested too deeply"
            ) from None
        except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path} is not a vocabulary file (Vocabulary.save): {e}") from e
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ValueError(
                f"{path}: index_to_word is {type(words).__name__} {str(words)[:40]!r}; "
                "expected a list of words (strings)"
            )
        try:
            return cls(words)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e


# --- word statistics (for the plots in notebook 1) --------------------------------


def word_counts(tokenized_sentences: Iterable[Sequence[str]]) -> Counter:
    """How often each word occurs (the special tokens are not words)."""
    return Counter(w for s in tokenized_sentences for w in s if w not in SPECIAL_TOKENS)


def coverage_curve(counts: Counter, sizes: Sequence[int]) -> np.ndarray:
    """For each vocabulary size, the fraction of word tokens it knows (specials excluded)."""
    frequencies = np.sort(np.fromiter(counts.values(), dtype=np.int64))[::-1]
    if frequencies.size == 0:
        raise ValueError("no words to measure coverage on")
    covered = np.concatenate([[0], np.cumsum(frequencies)])  # covered[k]: tokens of the top k
    kept = np.clip(np.asarray(sizes) - len(SPECIAL_TOKENS), 0, len(frequencies))
    return covered[kept] / covered[-1]


# --- training data ------------------------------------------------------------------


def build_xy(encoded_sentences: Iterable[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Inputs and targets: X = sentence[:-1], y = sentence[1:] (ragged, so lists of arrays)."""
    X, y = [], []
    for s in encoded_sentences:
        s = np.asarray(s, dtype=np.int64)
        if s.ndim != 1 or len(s) < 2:
            raise ValueError(f"each sentence needs at least 2 ids (START and END), got {s!r}")
        X.append(s[:-1])
        y.append(s[1:])
    return X, y


def split_dataset(X, y, fractions=(0.8, 0.1, 0.1), seed: int = 0):
    """Shuffle by `seed` and cut into train/validation/test parts of (X, y)."""
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} sentences but y has {len(y)}")
    fractions = np.asarray(fractions, dtype=float)
    if fractions.ndim != 1 or np.any(fractions < 0) or not np.isclose(fractions.sum(), 1.0):
        raise ValueError(f"fractions must be non-negative and sum to 1, got {fractions.tolist()}")
    order = np.random.default_rng(check_seed(seed)).permutation(len(X))
    cuts = np.round(np.cumsum(fractions)[:-1] * len(X)).astype(int)
    return tuple(([X[i] for i in part], [y[i] for i in part]) for part in np.split(order, cuts))


class Dataset:
    """Everything one corpus gives a language model: sentences, vocabulary, X and y.

    A sentence longer than `max_sentence_length` words is cut into pieces (see
    `tokenize_sentences`): a LongSentenceWarning says so, `sentences_cut` counts them, and
    the repr shows the count.
    """

    def __init__(
        self,
        documents: Sequence[str],
        vocabulary_size: int,
        max_sentence_length: int | None = MAX_SENTENCE_LENGTH,
    ):
        self.sentences = split_sentences(documents)
        self.tokens, cut = _tokenize_and_cut(self.sentences, max_sentence_length)
        _warn_if_cut(cut, max_sentence_length)
        self.sentences_cut, self.max_sentence_length = len(cut), max_sentence_length
        self.vocab = Vocabulary.build(self.tokens, vocabulary_size)
        self.X, self.y = build_xy(self.vocab.encode(t) for t in self.tokens)

    def __repr__(self) -> str:
        n_tokens = sum(len(x) for x in self.X)
        cut = ""
        if self.sentences_cut:
            n = self.sentences_cut
            cut = f"; cut {n} sentence{'s' * (n > 1)} longer than {self.max_sentence_length} words"
        return (
            f"Dataset({len(self.X)} sentences, {n_tokens} tokens, "
            f"vocabulary {len(self.vocab)}{cut})"
        )
