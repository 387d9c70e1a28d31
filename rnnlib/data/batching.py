"""Ragged sentences into a few padded rectangles: one bucketing rule, one padding (notebooks 4-7).

Sentences have different lengths; a batch for PyTensor or Keras is a rectangle, and their
JAX backends compile once per input shape. So each sentence is padded on the right to the
next *bucket* length (`bucket_length`) and each batch to a power-of-two number of rows
(`bucket_rows`): a handful of shapes to compile, and little work wasted on padding.
Padded positions get weight 0: right padding never changes what a real position sees
(an RNN only looks back), so the loss and gradients are exactly those of the real words.
"""

import numpy as np


def bucket_length(n: int) -> int:
    """n rounded up to the next bucket: multiples of 4 up to 32, then steps of ~1/8 of n.

    12 buckets cover 1-64 words, and padding wastes at most a quarter of the work.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"a bucket holds at least one position, got n={n!r}")
    step = max(4, 1 << max(0, int(n).bit_length() - 3))
    return -(-int(n) // step) * step


def bucket_rows(n: int) -> int:
    """n sentences rounded up to a power of two (1, 2, 4, ...): few batch shapes to compile."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"a batch holds at least one sentence, got n={n!r}")
    return 1 << (int(n) - 1).bit_length()


def pad_sentences(pairs, length: int, rows: int, id_dtype=np.int64, weight_dtype=np.float32):
    """(x, y) pairs as right-padded (rows, length) arrays: ids, targets, weights (1 real, 0 pad).

    Padding reads and predicts word 0 with weight 0. Rows beyond the pairs are all padding,
    so a short last batch keeps the shape of the others.
    """
    if len(pairs) > rows:
        raise ValueError(f"{len(pairs)} sentences do not fit in {rows} rows")
    ids = np.zeros((rows, length), dtype=id_dtype)  # (B, T)
    targets = np.zeros((rows, length), dtype=id_dtype)  # (B, T)
    weights = np.zeros((rows, length), dtype=weight_dtype)  # (B, T)
    for b, (x, y) in enumerate(pairs):
        if len(x) > length:
            raise ValueError(f"sentence {b} has {len(x)} words, more than the length {length}")
        ids[b, : len(x)], targets[b, : len(y)], weights[b, : len(y)] = x, y, 1
    return ids, targets, weights


def _by_bucket(lengths) -> dict[int, np.ndarray]:
    """Sentence indices grouped by bucket length, shortest bucket first."""
    buckets = np.array([bucket_length(int(n)) for n in lengths])
    return {int(b): np.flatnonzero(buckets == b) for b in np.unique(buckets)}


def length_batches(lengths, batch_size: int, rng: np.random.Generator | None = None):
    """Index batches of at most batch_size sentences of one bucket length.

    With `rng`, the members of each bucket and the order of the batches are shuffled:
    a new order every epoch, drawn from the caller's seeded Generator.
    """
    batches = []
    for members in _by_bucket(lengths).values():
        if rng is not None:
            members = rng.permutation(members)
        batches += [members[i : i + batch_size] for i in range(0, len(members), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def length_groups(pairs, max_tokens: int = 2048):
    """Yield (length, pairs): sentences of one bucket, ~max_tokens padded positions per group.

    For evaluation: the cap bounds the (N, C) score matrix, and a power-of-two group size
    matches bucket_rows, so groups compile no extra shapes.
    """
    for length, members in _by_bucket([len(x) for x, _ in pairs]).items():
        cap = 1 << (max(1, max_tokens // length).bit_length() - 1)  # a power of two
        for start in range(0, len(members), cap):
            yield length, [pairs[i] for i in members[start : start + cap]]
