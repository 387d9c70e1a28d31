"""One bucketing rule and one padding for every backend that pads (PyTensor, Keras)."""

import numpy as np
import pytest

from rnnlib.data.batching import (
    bucket_length,
    bucket_rows,
    length_batches,
    length_groups,
    pad_sentences,
)


def test_buckets_bound_the_padding_and_the_number_of_shapes():
    lengths = range(1, 129)
    buckets = [bucket_length(n) for n in lengths]
    assert all(n <= b for n, b in zip(lengths, buckets, strict=True))
    assert all(b - n < max(4, n / 4) for n, b in zip(lengths, buckets, strict=True))
    assert len(set(buckets[:64])) <= 12  # 1 to 64 words: at most 12 compiled shapes
    assert [bucket_length(n) for n in (1, 4, 5, 20, 21, 33, 60)] == [4, 4, 8, 20, 24, 40, 64]
    assert [bucket_rows(n) for n in (1, 2, 3, 5, 32, 33)] == [1, 2, 4, 8, 32, 64]
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="at least one"):
            bucket_length(bad)
        with pytest.raises(ValueError, match="at least one"):
            bucket_rows(bad)


def test_padding_puts_real_words_first_with_weight_one():
    pairs = [([5, 6], [6, 1]), ([7], [1])]
    ids, targets, weights = pad_sentences(pairs, length=3, rows=3)
    np.testing.assert_array_equal(ids, [[5, 6, 0], [7, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(targets, [[6, 1, 0], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(weights, [[1, 1, 0], [1, 0, 0], [0, 0, 0]])
    assert ids.dtype == np.int64 and weights.dtype == np.float32
    ids32, _, weights64 = pad_sentences(pairs, 3, 2, id_dtype=np.int32, weight_dtype=np.float64)
    assert ids32.dtype == np.int32 and weights64.dtype == np.float64
    with pytest.raises(ValueError, match="3 sentences do not fit in 2 rows"):
        pad_sentences([*pairs, ([1], [1])], length=3, rows=2)
    with pytest.raises(ValueError, match="sentence 0 has 2 words, more than the length 1"):
        pad_sentences(pairs, length=1, rows=2)


def test_length_batches_shuffle_within_buckets_reproducibly():
    lengths = np.random.default_rng(0).integers(1, 40, 100)
    epochs = [length_batches(lengths, 8, np.random.default_rng(1)) for _ in range(2)]
    for batches in epochs:
        assert sorted(np.concatenate(batches).tolist()) == list(range(100))  # each once
        assert all(len(b) <= 8 for b in batches)
        assert all(len({bucket_length(int(n)) for n in lengths[b]}) == 1 for b in batches)
    # The same seed gives the same order; the order is not simply sorted by length.
    assert [b.tolist() for b in epochs[0]] == [b.tolist() for b in epochs[1]]
    assert np.concatenate(epochs[0]).tolist() != np.argsort(lengths, kind="stable").tolist()
    # Without a Generator: buckets in order, members in order.
    plain = length_batches(lengths, 8)
    assert (
        np.concatenate(plain).tolist()
        == np.argsort([bucket_length(int(n)) for n in lengths], kind="stable").tolist()
    )


def test_length_groups_cover_every_sentence_once_within_the_token_cap():
    rng = np.random.default_rng(3)
    pairs = [(rng.integers(0, 9, n), rng.integers(0, 9, n)) for n in rng.integers(1, 70, 300)]
    seen = []
    for length, group in length_groups(pairs, max_tokens=256):
        assert all(bucket_length(len(x)) == length for x, _ in group)
        assert len(group) * length <= max(256, length)  # one long sentence still gets a group
        seen += [id(x) for x, _ in group]
    assert sorted(seen) == sorted(id(x) for x, _ in pairs)
