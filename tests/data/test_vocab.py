"""Tokens, vocabulary and X/y, checked against small hand-worked examples."""

import json
import random

import nltk
import numpy as np
import pytest

from rnnlib.data import corpus, vocab
from rnnlib.data.vocab import (
    SENTENCE_END,
    SENTENCE_START,
    UNKNOWN_TOKEN,
    Dataset,
    Vocabulary,
    build_xy,
    coverage_curve,
    split_dataset,
    split_sentences,
    tokenize_sentences,
    word_counts,
)

TEXT = [
    "The cat sat on the mat. The dog sat on the log.",
    "A cat and a dog! Where is the cat?",
]


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
    """The pipeline must never reach for nltk.download."""

    def refuse(*args, **kwargs):
        raise AssertionError("nltk.download was called")

    monkeypatch.setattr(nltk, "download", refuse)


def test_sentences_are_split_lowercased_and_wrapped():
    sentences = split_sentences(TEXT)
    assert sentences == [
        "The cat sat on the mat.",
        "The dog sat on the log.",
        "A cat and a dog!",
        "Where is the cat?",
    ]
    tokens = tokenize_sentences(sentences[:1])
    assert tokens == [[SENTENCE_START, "the", "cat", "sat", "on", "the", "mat", ".", SENTENCE_END]]


def test_vocabulary_keeps_most_frequent_words_and_specials_at_the_ends():
    tokens = tokenize_sentences(split_sentences(TEXT))
    # Hand count: the 5, cat 3, then ".", a, dog, on, sat 2 each (ties go alphabetically).
    vocab = Vocabulary.build(tokens, size=6)
    assert vocab.index_to_word == [SENTENCE_START, SENTENCE_END, "the", "cat", ".", UNKNOWN_TOKEN]
    assert (vocab.start_index, vocab.end_index, vocab.unknown_index) == (0, 1, 5)
    ids = vocab.encode(["the", "cat", "barked"])
    assert ids.dtype == np.int64 and ids.tolist() == [2, 3, 5]
    assert vocab.decode(ids) == ["the", "cat", UNKNOWN_TOKEN]


def test_coverage_counts_known_word_tokens():
    tokens = [[SENTENCE_START, "a", "a", "b", "c", SENTENCE_END]]
    vocab = Vocabulary.build(tokens, size=4)  # keeps only "a"
    assert vocab.coverage(tokens) == pytest.approx(2 / 4)


def test_build_xy_shifts_by_one_and_stays_ragged():
    X, y = build_xy([np.array([0, 5, 6, 1]), np.array([0, 7, 1])])
    assert [x.tolist() for x in X] == [[0, 5, 6], [0, 7]]
    assert [t.tolist() for t in y] == [[5, 6, 1], [7, 1]]


def test_split_is_deterministic_by_seed_and_a_partition():
    X = [np.array([i, i + 1]) for i in range(50)]
    y = [x + 1 for x in X]
    parts = split_dataset(X, y, (0.6, 0.2, 0.2), seed=3)
    again = split_dataset(X, y, (0.6, 0.2, 0.2), seed=3)
    other = split_dataset(X, y, (0.6, 0.2, 0.2), seed=4)
    firsts = [int(x[0]) for part in parts for x in part[0]]
    assert sorted(firsts) == list(range(50)) and [len(p[0]) for p in parts] == [30, 10, 10]
    assert firsts == [int(x[0]) for part in again for x in part[0]]
    assert firsts != [int(x[0]) for part in other for x in part[0]]
    for xs, ys in parts:  # pairs stay together
        assert all(np.array_equal(a + 1, b) for a, b in zip(xs, ys, strict=True))


def test_save_load_and_arrays_round_trip(tmp_path):
    vocab = Vocabulary([SENTENCE_START, SENTENCE_END, "héllo", "wörld", UNKNOWN_TOKEN])
    vocab.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json") == vocab
    np.savez(tmp_path / "v.npz", **vocab.to_arrays())
    with np.load(tmp_path / "v.npz", allow_pickle=False) as arrays:
        assert Vocabulary.from_arrays(arrays) == vocab


def test_dataset_runs_the_whole_pipeline():
    data = Dataset(TEXT, vocabulary_size=8)
    assert len(data.X) == 4 and len(data.vocab) == 8
    assert data.vocab.decode(data.X[0])[0] == SENTENCE_START
    assert data.vocab.decode(data.y[0])[-1] == SENTENCE_END


@pytest.mark.parametrize("size", [2, 0, -1, 2.5, "8000"])
def test_vocabulary_size_below_three_or_not_an_int_is_rejected(size):
    with pytest.raises(ValueError, match=f"vocabulary size must be an integer >= 3, got {size!r}"):
        Vocabulary.build([["a"]], size)


def test_bad_inputs_give_clear_errors(tmp_path):
    vocab = Vocabulary([SENTENCE_START, SENTENCE_END, "a", UNKNOWN_TOKEN])
    with pytest.raises(ValueError, match=r"id 4 is outside the vocabulary \[0, 4\)"):
        vocab.decode([0, 4])
    with pytest.raises(ValueError, match="id -1 is outside"):
        vocab.decode([-1])
    with pytest.raises(TypeError, match="ids must be integers"):
        vocab.decode([0.5])
    with pytest.raises(TypeError, match="not a string"):
        vocab.encode("a b")
    with pytest.raises(ValueError, match="empty"):
        split_sentences(["", "   "])
    with pytest.raises(TypeError, match="single string"):
        split_sentences("just one string")
    with pytest.raises(ValueError, match="expected UNKNOWN_TOKEN at index 2"):
        Vocabulary([SENTENCE_START, SENTENCE_END, "a"])
    with pytest.raises(ValueError, match="duplicate"):
        Vocabulary([SENTENCE_START, SENTENCE_END, "a", "a", UNKNOWN_TOKEN])
    with pytest.raises(FileNotFoundError, match="no vocabulary file"):
        Vocabulary.load(tmp_path / "missing.json")
    with pytest.raises(ValueError, match=f"{tmp_path} is a directory: expected a vocabulary"):
        Vocabulary.load(tmp_path)
    with pytest.raises(TypeError, match="path must be a file path .*got None"):
        Vocabulary.load(None)
    (tmp_path / "bad.json").write_text(json.dumps({"words": []}))
    with pytest.raises(ValueError, match="bad.json is not a vocabulary file"):
        Vocabulary.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="X has 2 sentences but y has 1"):
        split_dataset([1, 2], [1], seed=0)
    with pytest.raises(ValueError, match="sum to 1"):
        split_dataset([1], [1], (0.5, 0.2), seed=0)
    with pytest.raises(ValueError, match="at least 2 ids"):
        build_xy([np.array([0])])


def test_decoding_anything_but_one_sentence_of_ids_is_a_clear_error():
    """Before: 'list indices must be integers or slices, not list' from deep inside decode."""
    vocab = Vocabulary([SENTENCE_START, SENTENCE_END, "a", UNKNOWN_TOKEN])
    with pytest.raises(ValueError, match=r"1-D sequence of word ids .* got shape \(2, 2\)"):
        vocab.decode(np.array([[0, 2], [2, 1]]))
    with pytest.raises(ValueError, match=r"got shape \(\)"):
        vocab.decode(np.int64(2))
    assert vocab.decode([]) == []
    assert vocab.decode(np.array([0, 2, 1])) == [SENTENCE_START, "a", SENTENCE_END]


@pytest.mark.parametrize("seed", [-1, "abc", 0.5])
def test_split_seeds_are_checked(seed):
    words = rf"seed must be an integer in \[0, 2\*\*31\), got {seed!r}"
    with pytest.raises(ValueError, match=words):
        split_dataset([1, 2], [1, 2], seed=seed)


def test_coverage_curve_agrees_with_built_vocabularies():
    tokens = tokenize_sentences(split_sentences(TEXT))
    sizes = [3, 4, 6, 10, 100]
    curve = coverage_curve(word_counts(tokens), sizes)
    # Oracle: build each vocabulary for real and count the words it knows.
    assert curve == pytest.approx([Vocabulary.build(tokens, n).coverage(tokens) for n in sizes])
    assert curve[0] == 0 and curve[-1] == 1


# --- sentences too long to be sentences -------------------------------------------------


def test_a_sentence_over_max_length_is_cut_into_pieces_with_a_warning():
    sentences = ["a b c d e", "f g"]
    with pytest.warns(vocab.LongSentenceWarning, match=r"1 sentence longer than 2 words.*3 pieces"):
        tokens = tokenize_sentences(sentences, max_length=2)
    S, E = SENTENCE_START, SENTENCE_END
    assert tokens == [[S, "a", "b", E], [S, "c", "d", E], [S, "e", E], [S, "f", "g", E]]
    assert tokenize_sentences(sentences, max_length=None) == [
        [S, "a", "b", "c", "d", "e", E],
        [S, "f", "g", E],
    ]
    for bad in (0, -3, 2.5, "300"):
        with pytest.raises(ValueError, match=f"max_length must be a positive integer, got {bad!r}"):
            tokenize_sentences(sentences, max_length=bad)


def test_a_text_without_sentence_punctuation_is_cut_and_the_count_shown(tmp_path):
    # A real file of 60,000 words and no full stop: once one "sentence" of 60,000 tokens.
    rng = random.Random(0)
    words = "the river ran under old stone bridges and quiet fields in morning light".split()
    text = [rng.choice(words) for _ in range(60_000)]
    path = tmp_path / "no-punctuation.txt"
    path.write_text(" ".join(text) + "\n", encoding="utf-8")
    with pytest.warns(vocab.LongSentenceWarning) as record:
        data = Dataset(corpus.load_text_file(path), vocabulary_size=20)
    limit = vocab.MAX_SENTENCE_LENGTH
    assert 100 <= limit <= 1000  # "a few hundred"
    pieces = -(-len(text) // limit)
    assert len(record) == 1
    assert f"1 sentence longer than {limit} words was cut into {pieces} pieces" in str(
        record[0].message
    )
    assert data.sentences_cut == 1 and len(data.X) == pieces
    assert repr(data).endswith(f"; cut 1 sentence longer than {limit} words)")
    assert max(len(x) for x in data.X) == limit + 1  # SENTENCE_START and the words
    # Nothing lost: the pieces, unwrapped, are the words of the text in order.
    assert [w for t in data.tokens for w in t[1:-1]] == text


def test_ordinary_sentences_are_not_cut():
    data = Dataset(TEXT, vocabulary_size=8)
    assert data.sentences_cut == 0 and "cut" not in repr(data)
