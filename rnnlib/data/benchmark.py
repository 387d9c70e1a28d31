"""One benchmark split of the built-in corpus, by source: train, validation, test (notebooks 4-8).

Two held-out losses can be compared only when they are measured on the same text with
the same vocabulary. `benchmark_split()` is that one split for the whole series: the
frozen built-in corpus (`rnnlib.data.frozen`, the same on every machine) cut into
train, validation and test parts of about 80/10/10 of the words, with a fixed seed.

The cut never runs through a source. A pydoc topic goes to one side whole, and so does
a package with all its modules (`email.mime.text` goes with `email`): a module's
docstrings repeat their own phrases, and a model that has read half of them looks
better on the other half than it would on new text. The vocabulary is built from the
training part only; a word that only the held-out parts use becomes UNKNOWN_TOKEN there,
as it would in text the model has never seen.

Within each part the sentences come in a seeded random order, so that the first n
sentences are a fair sample of the part: a notebook that needs a small slice takes
`split.prefix(train=..., validation=...)`, whose parts say so in their names
("validation[:500]").
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnnlib.data.frozen import FrozenCorpus, frozen_corpus
from rnnlib.data.vocab import SENTENCE_END, SENTENCE_START, UNKNOWN_TOKEN, Vocabulary, build_xy

PARTS = ("train", "validation", "test")
FRACTIONS = (0.8, 0.1, 0.1)  # of the words, roughly: whole sources cannot cut exactly


# --- which source goes where -----------------------------------------------------------


def split_unit(source: str) -> str:
    """What goes to one side whole: a pydoc topic, or a package with all its modules."""
    return source if source.startswith("topic:") else source.split(".")[0]


def assign_units(sizes: dict[str, int], fractions: Sequence[float], rng) -> dict[str, int]:
    """The part (0, 1, 2, ...) of each unit, given its number of words.

    Shuffle the units, lay their words end to end, and cut the line at the fractions;
    a unit goes to the part in which its middle word falls, so each part misses its
    share by at most half a unit at each end.
    """
    units = sorted(sizes)  # the input's order must not matter, only the seed
    units = [units[i] for i in rng.permutation(len(units))]
    words = np.array([sizes[u] for u in units], dtype=float)
    middles = np.cumsum(words) - words / 2
    cuts = np.cumsum(fractions)[:-1] * words.sum()
    return dict(zip(units, np.searchsorted(cuts, middles, side="right").tolist(), strict=True))


# --- the parts ------------------------------------------------------------------------


@dataclass(frozen=True)
class PartStats:
    """How big one part is."""

    documents: int  # sources (pydoc topics and modules) with a sentence in the part
    sentences: int
    tokens: int  # words, the sentence markers not counted
    types: int  # distinct words
    unknown_rate: float  # share of the words that the vocabulary maps to UNKNOWN_TOKEN
    targets: int  # predicted positions, every word and each SENTENCE_END: a loss's count


@dataclass(frozen=True, repr=False)
class Part:
    """One part of the split: its sentences as words and as ids (X, y), and their sources."""

    name: str  # "train", or "train[:2000]" for a prefix
    tokens: list[list[str]]  # SENTENCE_START word ... word SENTENCE_END, per sentence
    sources: list[str]  # the source of each sentence
    X: list[np.ndarray]  # ids of SENTENCE_START word ... word, per sentence (build_xy)
    y: list[np.ndarray]  # ids of word ... word SENTENCE_END: X shifted by one
    vocab: Vocabulary
    stats: PartStats

    def __len__(self) -> int:
        return len(self.X)

    def __repr__(self) -> str:
        s = self.stats
        return (
            f"Part({self.name!r}: {s.sentences} sentences, {s.tokens} tokens, "
            f"{s.documents} documents, unknown rate {s.unknown_rate:.1%})"
        )

    def prefix(self, n: int | None) -> "Part":
        """The first `n` sentences (a fair sample: the order is random); None: all of them."""
        if n is None:
            return self
        if not isinstance(n, int | np.integer) or not 0 < n <= len(self):
            raise ValueError(f"{self.name} has {len(self)} sentences: cannot take the first {n!r}")
        name = f"{self.name.split('[')[0]}[:{n}]"
        return make_part(name, self.tokens[:n], self.sources[:n], self.vocab)


def make_part(name: str, tokens, sources, vocab: Vocabulary) -> Part:
    """A Part with its X, y and stats, from sentences already wrapped in the markers."""
    X, y = build_xy(vocab.encode(t) for t in tokens)
    words = [w for t in tokens for w in t[1:-1]]
    # A corpus's own unknown-word token (WikiText's <unk>, read as UNKNOWN_TOKEN) counts too.
    unknown = sum(w not in vocab.word_to_index or w == UNKNOWN_TOKEN for w in words)
    stats = PartStats(
        documents=len(set(sources)),
        sentences=len(tokens),
        tokens=len(words),
        types=len(set(words)),
        unknown_rate=unknown / len(words) if words else 0.0,
        targets=sum(map(len, y)),
    )
    return Part(name, list(tokens), list(sources), X, y, vocab, stats)


@dataclass(frozen=True, repr=False)
class BenchmarkSplit:
    """The benchmark: train, validation and test parts over one vocabulary."""

    vocab: Vocabulary  # built from the training part only
    train: Part
    validation: Part
    test: Part
    seed: int

    @property
    def parts(self) -> tuple[Part, Part, Part]:
        return self.train, self.validation, self.test

    def __repr__(self) -> str:
        sizes = ", ".join(f"{p.name} {p.stats.sentences}" for p in self.parts)
        return f"BenchmarkSplit(seed={self.seed}, vocabulary {len(self.vocab)}; sentences: {sizes})"

    def prefix(self, train=None, validation=None, test=None) -> "BenchmarkSplit":
        """The first sentences of each part (None: the whole part), same vocabulary."""
        return BenchmarkSplit(
            self.vocab,
            self.train.prefix(train),
            self.validation.prefix(validation),
            self.test.prefix(test),
            self.seed,
        )

    def table(self) -> str:
        """The sizes of the parts as a Markdown table (the one in the README)."""
        total = sum(p.stats.tokens for p in self.parts)
        lines = [
            "| part | documents (sources) | sentences | tokens | share of tokens | types "
            "| unknown rate |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for p in self.parts:
            s = p.stats
            lines.append(
                f"| {p.name} | {s.documents:,} | {s.sentences:,} | {s.tokens:,} | "
                f"{s.tokens / total:.1%} | {s.types:,} | {s.unknown_rate:.2%} |"
            )
        return "\n".join(lines)


# --- the split --------------------------------------------------------------------------


def benchmark_split(
    vocabulary_size: int = 8000, seed: int = 0, corpus: FrozenCorpus | None = None
) -> BenchmarkSplit:
    """The benchmark split of the frozen built-in corpus (or of `corpus`), by source.

    Same arguments, same split, on every machine. The vocabulary holds the
    `vocabulary_size - 3` most frequent training words and the three special tokens.
    """
    corpus = frozen_corpus() if corpus is None else corpus
    units = [split_unit(source) for source in corpus.sentence_sources]
    sizes = dict.fromkeys(units, 0)
    for unit, words in zip(units, corpus.sentences, strict=True):
        sizes[unit] += len(words)
    rng = np.random.default_rng(seed)
    part_of = assign_units(sizes, FRACTIONS, rng)

    members = [[] for _ in PARTS]  # sentence indices of each part, in corpus order
    for i, unit in enumerate(units):
        members[part_of[unit]].append(i)
    members = [[m[j] for j in rng.permutation(len(m))] for m in members]

    tokens = [[SENTENCE_START, *words, SENTENCE_END] for words in corpus.sentences]
    vocab = Vocabulary.build([tokens[i] for i in members[0]], vocabulary_size)
    if len(vocab) < vocabulary_size:
        raise ValueError(
            f"vocabulary_size={vocabulary_size}, but the training part has only "
            f"{len(vocab) - 3} distinct words: at most {len(vocab)} is possible"
        )
    parts = [
        make_part(name, [tokens[i] for i in m], [corpus.sentence_sources[i] for i in m], vocab)
        for name, m in zip(PARTS, members, strict=True)
    ]
    return BenchmarkSplit(vocab, *parts, seed=seed)
