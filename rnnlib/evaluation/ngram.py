"""Interpolated Kneser-Ney n-gram models, the count-based baseline: notebook 8 teaches it.

A neural loss means little without a baseline beside it. The classic one counts which
words followed which n-1 words in the training text and smooths those counts so that
nothing unseen gets probability zero. Kneser-Ney smoothing (Kneser & Ney 1995, in the
interpolated form of Chen & Goodman 1998) does it in three steps:

1. Absolute discounting. Every n-gram seen after a context h gives up a fixed D of its
   count (0 < D <= 1). The mass set free, D times the number of different words seen
   after h, goes to the estimate from the shorter context h' (h without its first word):

       P_n(w | h) = max(c(h w) - D, 0) / c(h •)  +  D · N1+(h •) / c(h •) · P_{n-1}(w | h')

   c(h w): how often w followed h; c(h •) = sum over w; N1+(h •) = |{w : c(h w) > 0}|.

2. Continuation counts. The shorter contexts are asked about words the longer one has
   rarely seen, so below the top order c(h w) is replaced by "how many different words
   does h w follow": N1+(• h w) = |{v : c(v h w) > 0}|. ("Francisco" is frequent, but it
   follows almost only "San": a poor guess after a context never seen with it.)

3. The bottom. Below the unigram sits the uniform P_0(w) = 1/C, so every word of the
   vocabulary has p > 0. A context never seen in training (c(h •) = 0) hands all of its
   mass down: P_k(w | h) = P_{k-1}(w | h').

Each level sums to 1 over the vocabulary, for any context: the first term sums to
1 - D · N1+(h •) / c(h •) (every count is >= 1 >= D), exactly what the second one adds.

Conventions, chosen here:

- History. The target y[t] is predicted from x[:t+1] with n-1 SENTENCE_STARTs before it;
  the context is its last n-1 words. So the first word of a sentence has the context
  (START, ..., START), every target has a full context, and one (N, n-1) array holds them
  all. This is nltk's padding too. The price is small: the n-grams that begin inside the
  padding follow only START, so their continuation counts are all 1; the top order, which
  uses raw counts, still sees how often each word starts a sentence.
- Discount. A fixed D = 0.75 by default, the textbook value (Church & Gale 1991: a bigram
  seen c >= 2 times in one half of a corpus turns up about c - 0.75 times in the other);
  one number is easy to reason about, and on the built-in corpus it scores within 0.003
  nats of the per-order estimates. `discount="estimate"` uses instead
  D_k = n1 / (n1 + 2 n2) for each order k (Ney, Essen & Kneser 1994), n1 and n2 the numbers
  of k-grams whose (continuation) count is 1 and 2; where n1 = 0 (a tiny corpus) the
  estimate would be 0 and leave unseen words no probability, so 0.75 is used there.
- Order 1 is the same recursion stopped at the bottom: discounted unigram counts, the
  mass set free spread uniformly over all C words. When every word has been seen this is
  exactly the maximum-likelihood unigram c(w) / N.

Speed: an n-gram of ids (a_1, ..., a_k) is the int64 key sum_i a_i · C^(k-i), so counting
is np.unique and every look-up is np.searchsorted on sorted keys; no Python loop runs over
tokens.
"""

from dataclasses import dataclass

import numpy as np

from rnnlib.interface import check_corpus, check_sentence

START = 0  # the id of SENTENCE_START (rnnlib.vocab.Vocabulary puts it first)
MAX_ORDER = 4  # up to 4-grams; C**order must also fit the int64 keys
DEFAULT_DISCOUNT = 0.75  # the D of every order unless discount="estimate"


# --- counts of one order ------------------------------------------------------------------


@dataclass(frozen=True)
class _Level:
    """What order k needs: its k-grams (context h of k-1 words, then w) and their contexts."""

    keys: np.ndarray  # (M,) sorted keys of the k-grams h w: key(h) * C + w
    counts: np.ndarray  # (M,) c(h w) at the top order, N1+(• h w) below it
    context_keys: np.ndarray  # (K,) sorted keys of the contexts h
    context_start: np.ndarray  # (K,) where h's k-grams begin in `keys` (one block per h)
    context_types: np.ndarray  # (K,) N1+(h •): how many different words follow h
    context_total: np.ndarray  # (K,) c(h •): the sum of h's counts
    discount: float


def _level(keys: np.ndarray, counts: np.ndarray, C: int, discount) -> _Level:
    """Group sorted k-gram keys by context; keys // C is the context, so each h is one block."""
    context_keys, start, types = np.unique(keys // C, return_index=True, return_counts=True)
    if discount == "estimate":
        n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
        discount = n1 / (n1 + 2 * n2) if n1 > 0 else DEFAULT_DISCOUNT
    return _Level(
        keys=keys,
        counts=counts.astype(np.float64),
        context_keys=context_keys,
        context_start=start,
        context_types=types,
        context_total=np.add.reduceat(counts, start).astype(np.float64),
        discount=float(discount),
    )


def _find(sorted_keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(found, index) of each query in sorted_keys; index is a valid index even if not found."""
    index = np.minimum(np.searchsorted(sorted_keys, queries), len(sorted_keys) - 1)
    return sorted_keys[index] == queries, index


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths)]), without a loop."""
    offsets = np.cumsum(lengths) - lengths  # where each range begins in the output
    return np.arange(lengths.sum()) + np.repeat(starts - offsets, lengths)


def contexts(X, order: int) -> np.ndarray:
    """The n-1 words before every target of every sentence in X, START-padded: (N, order-1)."""
    lengths = np.array([len(x) for x in X])
    padded = np.concatenate([np.r_[np.full(order - 1, START), x] for x in X])  # n-1 STARTs + x
    sentence_offset = np.cumsum(lengths + order - 1) - (lengths + order - 1)
    # Target t of a sentence follows x[t], which sits at offset + (order-1) + t in `padded`;
    # its context is the order-1 words ending there: offset + t + 1, ..., offset + t + order-1.
    t = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    base = np.repeat(sentence_offset, lengths) + t  # (N,)
    return padded[base[:, None] + np.arange(1, order)]  # (N, order-1)


# --- the model ----------------------------------------------------------------------------


class KneserNey:
    """An interpolated Kneser-Ney n-gram language model, with the neural models' interface."""

    def __init__(self, word_dim, order: int = 3, discount=DEFAULT_DISCOUNT):
        self.word_dim = _check_word_dim(word_dim)  # C, the vocabulary size
        self.order = _check_order(order, self.word_dim)  # n: a context of n-1 words
        self.discount = _check_discount(discount)  # D for every order, or "estimate"
        self._levels: list[_Level] | None = None  # orders 1..n, filled by fit
        self.n_tokens = 0  # how many targets fit counted

    def __repr__(self) -> str:
        head = f"KneserNey(word_dim={self.word_dim}, order={self.order}, discount={self.discount!r}"
        if self._levels is None:
            return head + "; not fitted)"
        sizes = ", ".join(f"{len(level.keys):,}" for level in self._levels)
        return f"{head}; fitted on {self.n_tokens:,} tokens, n-gram types by order: {sizes})"

    def config(self) -> dict:
        """Constructor arguments (JSON-safe): type(model)(**model.config()) is the unfitted model."""
        return {"word_dim": self.word_dim, "order": self.order, "discount": self.discount}

    @property
    def discounts(self) -> tuple[float, ...]:
        """The discount D used at each order 1..n (they differ with discount="estimate")."""
        return tuple(level.discount for level in self._fitted())

    # --- counting ---------------------------------------------------------------------------

    def fit(self, X, Y) -> "KneserNey":
        """Count the n-grams of X, Y (every target with its START-padded history); returns self."""
        X, Y = _check_data(X, Y, self.word_dim)
        C, n = self.word_dim, self.order
        grams = np.column_stack([contexts(X, n), np.concatenate(Y)])  # (N, n): context, target
        keys, counts = np.unique(_key(grams, C), return_counts=True)  # top order: raw counts
        levels = []
        for k in range(n, 0, -1):
            levels.append(_level(keys, counts, C, self.discount))
            if k > 1:
                # Drop the first word of every k-gram TYPE: how many types share the (k-1)-gram
                # left over is how many different words it follows, N1+(• h w).
                keys, counts = np.unique(keys % C ** (k - 1), return_counts=True)
        self._levels = levels[::-1]  # orders 1..n
        self.n_tokens = len(grams)
        return self

    @property
    def stored_ngrams(self) -> int:
        """How many counts the model keeps: one per distinct k-gram of each order k <= n.

        An n-gram model's size in the sense a neural model's parameters are: what it stores.
        """
        return int(sum(len(level.keys) for level in self._fitted()))

    def _fitted(self) -> list[_Level]:
        if self._levels is None:
            raise RuntimeError(f"{self!r} has no counts yet: call fit(X, y) first")
        return self._levels

    # --- probabilities ------------------------------------------------------------------------

    def _probabilities(self, context: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """P_n(target | context) for rows of context (N, n-1) and targets (N,): (N,)."""
        C = self.word_dim
        p = np.full(len(targets), 1.0 / C)  # P_0: uniform
        context_key = np.zeros(len(targets), dtype=np.int64)  # the empty context of order 1
        for k, level in enumerate(self._fitted(), start=1):
            if k > 1:  # one more word of history, in front: h = (context[-(k-1)], h')
                context_key = context[:, -(k - 1)] * C ** (k - 2) + context_key
            seen, i = _find(level.context_keys, context_key)
            found, j = _find(level.keys, context_key * C + targets)
            count = np.where(found, level.counts[j], 0.0)
            D, total = level.discount, level.context_total[i]
            mixed = np.maximum(count - D, 0) / total + D * level.context_types[i] / total * p
            p = np.where(seen, mixed, p)  # an unseen context hands all of its mass down
        return p

    def _distributions(self, context: np.ndarray) -> np.ndarray:
        """The whole next-word distribution after each row of context (T, n-1): (T, C)."""
        C = self.word_dim
        o = np.full((len(context), C), 1.0 / C)  # (T, C), P_0: uniform
        context_key = np.zeros(len(context), dtype=np.int64)
        for k, level in enumerate(self._fitted(), start=1):
            if k > 1:
                context_key = context[:, -(k - 1)] * C ** (k - 2) + context_key
            seen, i = _find(level.context_keys, context_key)
            rows, i = np.flatnonzero(seen), i[seen]  # only seen contexts change anything
            D, total, types = level.discount, level.context_total[i], level.context_types[i]
            o[rows] *= (D * types / total)[:, None]  # the lower order's share
            # Each seen context owns a block of k-grams in level.keys: add their discounted counts.
            entries = _ranges(level.context_start[i], types)
            o[np.repeat(rows, types), level.keys[entries] % C] += np.maximum(
                level.counts[entries] - D, 0
            ) / np.repeat(total, types)
        return o

    def forward_propagation(self, x):
        """Next-word distributions o (T, C) after each word of one sentence, and None (no state)."""
        x = check_sentence(x, word_dim=self.word_dim)
        return self._distributions(contexts([x], self.order)), None

    def predict(self, x) -> np.ndarray:
        """The most probable next word at every step, (T,)."""
        o, _ = self.forward_propagation(x)
        return np.argmax(o, axis=1)

    def target_probabilities(self, X, Y) -> list[np.ndarray]:
        """p(y[t] | x[:t+1]) for every target: one array (T,) per sentence."""
        X, Y = _check_data(X, Y, self.word_dim)
        p = self._probabilities(contexts(X, self.order), np.concatenate(Y))  # (N,)
        return np.split(p, np.cumsum([len(y) for y in Y])[:-1])

    def calculate_total_loss(self, X, Y) -> float:
        """Cross-entropy summed over every target of every sentence, in nats."""
        return -float(np.sum(np.log(np.concatenate(self.target_probabilities(X, Y)))))

    def calculate_loss(self, X, Y) -> float:
        """Cross-entropy per target word, in nats (perplexity = exp of it)."""
        return self.calculate_total_loss(X, Y) / sum(len(y) for y in Y)


# --- helpers ------------------------------------------------------------------------------


def _key(grams: np.ndarray, C: int) -> np.ndarray:
    """The int64 key of each row of ids (N, k): sum_i a_i · C^(k-1-i)."""
    key = np.zeros(len(grams), dtype=np.int64)
    for column in grams.T:
        key = key * C + column
    return key


def _check_data(X, Y, word_dim: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A corpus as lists of int64 arrays, or the error the neural models give for it."""
    check_corpus(X, Y)
    pairs = [check_sentence(x, y, word_dim) for x, y in zip(X, Y, strict=True)]
    return [x for x, _ in pairs], [y for _, y in pairs]


def _check_word_dim(word_dim) -> int:
    if isinstance(word_dim, bool) or not isinstance(word_dim, int | np.integer) or word_dim < 3:
        raise ValueError(
            f"word_dim={word_dim!r}: expected an integer >= 3 "
            "(the vocabulary size, SENTENCE_START, SENTENCE_END and UNKNOWN_TOKEN included)"
        )
    return int(word_dim)


def _check_order(order, word_dim: int) -> int:
    if isinstance(order, bool) or not isinstance(order, int | np.integer):
        raise ValueError(f"order={order!r}: expected an integer from 1 to {MAX_ORDER}")
    if not 1 <= order <= MAX_ORDER:
        raise ValueError(f"order={order}: expected 1 (unigram) to {MAX_ORDER} (4-gram)")
    if word_dim**order > np.iinfo(np.int64).max:
        raise ValueError(
            f"word_dim**order = {word_dim}**{order} does not fit the int64 n-gram keys: "
            "use a smaller vocabulary or a lower order"
        )
    return int(order)


def _check_discount(discount):
    if isinstance(discount, str) and discount == "estimate":
        return discount
    if isinstance(discount, bool) or not isinstance(discount, int | float | np.floating):
        raise ValueError(f"discount={discount!r}: expected a number in (0, 1] or 'estimate'")
    if not 0 < discount <= 1:
        raise ValueError(
            f"discount={discount!r}: expected 0 < D <= 1 (D = 0 leaves unseen words "
            "probability 0; D > 1 breaks the normalisation)"
        )
    return float(discount)
