"""The benchmark split: by source, about 80/10/10, reproducible, vocabulary from train only."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rnnlib.data.benchmark import (
    FRACTIONS,
    BenchmarkSplit,
    assign_units,
    benchmark_split,
    split_unit,
)
from rnnlib.data.frozen import frozen_corpus
from rnnlib.data.vocab import SENTENCE_END, SENTENCE_START, UNKNOWN_TOKEN, Vocabulary

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def split() -> BenchmarkSplit:
    return benchmark_split()


def _words(part) -> list[str]:
    return [w for t in part.tokens for w in t[1:-1]]


# --- which source goes where -------------------------------------------------------------


class _NoShuffle:
    """A stand-in generator that keeps the (sorted) order, so cuts can be worked by hand."""

    def permutation(self, n):
        return np.arange(n)


def test_a_unit_goes_where_its_middle_word_falls():
    # Words laid end to end: a 0-8 (middle 4), b 8-9 (8.5), c 9-10 (9.5); cuts at 8 and 9.
    assert assign_units({"c": 1, "a": 8, "b": 1}, (0.8, 0.1, 0.1), _NoShuffle()) == {
        "a": 0,
        "b": 1,
        "c": 2,
    }
    # a 0-6 (middle 3), b 6-10 (8); cut at 5: a big unit is never cut, it lands on one side.
    assert assign_units({"a": 6, "b": 4}, (0.5, 0.5), _NoShuffle()) == {"a": 0, "b": 1}
    sizes = {f"u{i}": i + 1 for i in range(30)}
    reversed_input = dict(reversed(list(sizes.items())))
    rng = np.random.default_rng
    assert assign_units(sizes, FRACTIONS, rng(5)) == assign_units(reversed_input, FRACTIONS, rng(5))


def test_a_package_goes_whole_and_a_topic_alone():
    assert split_unit("module:email.mime.text") == "module:email"
    assert split_unit("module:email") == "module:email"
    assert split_unit("topic:assert") == "topic:assert"
    assert split_unit("topic:atom-identifiers") == "topic:atom-identifiers"


# --- the split of the frozen corpus ----------------------------------------------------------


def test_no_source_or_package_is_in_two_parts_and_nothing_is_lost(split):
    sources = [set(p.sources) for p in split.parts]
    packages = [set(map(split_unit, s)) for s in sources]
    for a in range(3):
        for b in range(a + 1, 3):
            assert not sources[a] & sources[b]
            assert not packages[a] & packages[b]
    # A partition of the corpus's sentences: every one in exactly one part, with its source.
    corpus = frozen_corpus()
    everything = Counter(zip(corpus.sentence_sources, corpus.sentences, strict=True))
    parts = Counter(
        (source, tuple(t[1:-1]))
        for p in split.parts
        for source, t in zip(p.sources, p.tokens, strict=True)
    )
    assert parts == everything
    assert [p.stats.documents for p in split.parts] == [len(s) for s in sources]


def test_the_parts_hold_about_80_10_10_of_the_words(split):
    counts = np.array([len(_words(p)) for p in split.parts])
    assert counts.tolist() == [p.stats.tokens for p in split.parts]
    assert counts.sum() == sum(map(len, frozen_corpus().sentences))
    np.testing.assert_allclose(counts / counts.sum(), FRACTIONS, atol=0.02)
    for seed in range(1, 6):  # other seeds are near too: whole units miss by little
        other = benchmark_split(seed=seed)
        shares = np.array([p.stats.tokens for p in other.parts]) / counts.sum()
        np.testing.assert_allclose(shares, FRACTIONS, atol=0.03)


def test_same_seed_same_split_other_seed_other_split(split):
    again = benchmark_split(seed=0)
    assert again.vocab == split.vocab
    for p, q in zip(split.parts, again.parts, strict=True):
        assert p.tokens == q.tokens and p.sources == q.sources
        assert all(np.array_equal(a, b) for a, b in zip(p.X, q.X, strict=True))
    other = benchmark_split(seed=1)
    assert set(other.test.sources) != set(split.test.sources)
    assert other.vocab != split.vocab


def test_the_vocabulary_comes_from_the_training_part_only(split):
    vocab = split.vocab
    assert len(vocab) == 8000
    assert vocab == Vocabulary.build(split.train.tokens, 8000)  # recounted from train alone
    train_words = set(_words(split.train))
    assert set(vocab.index_to_word[2:-1]) <= train_words
    # Words that only the held-out parts use are UNKNOWN there, however often they occur.
    for part in (split.validation, split.test):
        held_out_only = Counter(w for w in _words(part) if w not in train_words)
        word, count = held_out_only.most_common(1)[0]
        assert count >= 5 and word not in vocab.word_to_index
        ids = [
            i
            for t, x in zip(part.tokens, part.X, strict=True)
            for w, i in zip(t[:-1], x, strict=True)
            if w == word
        ]
        assert len(ids) == count and set(ids) == {vocab.unknown_index}


def test_x_and_y_follow_the_build_xy_conventions(split):
    C = len(split.vocab)
    assert split.vocab.index_to_word[0] == SENTENCE_START
    assert split.vocab.index_to_word[1] == SENTENCE_END
    assert split.vocab.index_to_word[C - 1] == UNKNOWN_TOKEN
    for part in split.parts:
        assert len(part) == len(part.X) == len(part.y) == len(part.tokens) == len(part.sources)
        for t, x, y in zip(part.tokens, part.X, part.y, strict=True):
            assert x.dtype == np.int64 and x[0] == 0 and y[-1] == 1
            assert np.array_equal(x[1:], y[:-1]) and len(x) == len(t) - 1
            known = [w if w in split.vocab.word_to_index else UNKNOWN_TOKEN for w in t]
            assert split.vocab.decode(np.append(x, y[-1])) == known
        assert 0 <= min(map(np.min, part.X)) and max(map(np.max, part.y)) <= C - 1


def test_stats_count_what_they_say(split):
    for part in split.parts:
        words = _words(part)
        unknown = sum(w not in split.vocab.word_to_index for w in words)
        s = part.stats
        assert (s.sentences, s.tokens, s.types) == (len(part), len(words), len(set(words)))
        assert s.unknown_rate == pytest.approx(unknown / len(words))
        assert s.targets == sum(len(y) for y in part.y) == s.tokens + s.sentences
    assert split.train.stats.unknown_rate < 0.02 < split.validation.stats.unknown_rate
    table = split.table()
    assert table.count("\n") == 4 and f"{split.validation.stats.sentences:,}" in table
    assert table in README.read_text(encoding="utf-8")  # the README states these sizes


def test_a_prefix_is_the_first_sentences_and_says_so(split):
    small = split.prefix(train=300, validation=100)
    assert [p.name for p in small.parts] == ["train[:300]", "validation[:100]", "test"]
    assert small.vocab is split.vocab and small.test is split.test
    assert small.train.tokens == split.train.tokens[:300]
    assert all(
        np.array_equal(a, b)
        for a, b in zip(small.validation.y, split.validation.y[:100], strict=True)
    )
    assert small.validation.prefix(10).name == "validation[:10]"
    # The order within a part is shuffled: a short prefix already spans many sources.
    assert small.validation.stats.documents > split.validation.stats.documents / 2
    assert split.prefix().train is split.train
    for bad in (0, -1, len(split.test) + 1, 2.5):
        with pytest.raises(ValueError, match="cannot take the first"):
            split.test.prefix(bad)


def test_a_vocabulary_larger_than_the_training_words_is_refused(split):
    n_words = len(set(_words(split.train)))
    with pytest.raises(ValueError, match=f"only {n_words} distinct words.*at most {n_words + 3}"):
        benchmark_split(vocabulary_size=n_words + 4)
    assert len(benchmark_split(vocabulary_size=n_words + 3).vocab) == n_words + 3
