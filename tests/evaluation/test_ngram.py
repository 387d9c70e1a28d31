"""Kneser-Ney n-grams and model interpolation, each checked against an independent oracle:
hand-worked arithmetic, nltk.lm, a closed-form entropy, and a brute-force scan."""

from fractions import Fraction as F

import numpy as np
import pytest
from nltk.lm.models import InterpolatedLanguageModel
from nltk.lm.smoothing import KneserNey as NltkKneserNey

from rnnlib.evaluation.interpolation import (
    interpolate,
    target_probabilities,
    tune_interpolation_weight,
)
from rnnlib.evaluation.ngram import KneserNey
from rnnlib.numpy_rnn import RNNNumpy

# The hand-worked corpus: C = 5 words, S = SENTENCE_START, E = SENTENCE_END, U = UNKNOWN.
S, E, A, B, U = 0, 1, 2, 3, 4
SENTENCES = [[S, A, B, E], [S, A, A, E], [S, B, E]]
X_HAND = [np.array(s[:-1]) for s in SENTENCES]
Y_HAND = [np.array(s[1:]) for s in SENTENCES]


def xy(sentences):
    return [np.array(s[:-1]) for s in sentences], [np.array(s[1:]) for s in sentences]


def o_at_targets(model, X, Y):
    """o[t, y[t]] from each sentence's full distributions (forward_propagation): (N,)."""
    rows = [
        model.forward_propagation(x)[0][np.arange(len(y)), y] for x, y in zip(X, Y, strict=True)
    ]
    return np.concatenate(rows)


def markov_corpus(n_sentences, C=9, seed=0):
    """Sentences from one random second-order Markov chain: longer contexts really help."""
    table = np.random.default_rng(C).dirichlet(np.full(C - 2, 0.3), size=(C, C))  # (C, C, C-2)
    rng = np.random.default_rng(seed)  # the chain is fixed by C; the seed picks the sentences
    sentences = []
    for _ in range(n_sentences):
        s = [S, S]
        while s[-1] != E and len(s) < 14:
            s.append(1 + int(rng.choice(C - 2, p=table[s[-2], s[-1]])))
        sentences.append(s[1:] if s[-1] == E else [*s[1:], E])
    return xy(sentences)


# --- hand-worked probabilities ----------------------------------------------------------


def test_unigram_hand_worked():
    # Order 1, D = 1/2, raw target counts: A 3, B 2, E 3; N = 8 targets, 3 words seen.
    # P(w) = max(c(w) - D, 0) / N + D * 3 / N * 1/5
    model = KneserNey(5, order=1, discount=0.5).fit(X_HAND, Y_HAND)
    floor = F(1, 2) * 3 / 8 * F(1, 5)  # 3/80: the uniform share, all an unseen word gets
    expected = {A: F(5, 2) / 8 + floor, B: F(3, 2) / 8 + floor, E: F(5, 2) / 8 + floor}
    o, _ = model.forward_propagation([S, A])
    for w in range(5):
        assert o[0, w] == pytest.approx(float(expected.get(w, floor)), rel=1e-14)
        assert o[1, w] == o[0, w]  # a unigram ignores the history


def test_bigram_hand_worked():
    # Bigram counts c(h w): (S,A) 2, (S,B) 1, (A,B) 1, (A,A) 1, (A,E) 1, (B,E) 2.
    # Unigram continuation counts N1+(• w), over the 6 bigram types:
    #   A follows {S, A} -> 2; B follows {S, A} -> 2; E follows {A, B} -> 2; S, U -> 0.
    # P1(w) = max(N1+(• w) - 1/2, 0) / 6 + 1/2 * 3/6 * 1/5: 3/10 for A, B, E; 1/20 for S, U.
    D = F(1, 2)
    p1 = {A: F(3, 10), B: F(3, 10), E: F(3, 10), S: F(1, 20), U: F(1, 20)}
    assert (2 - D) / 6 + D * 3 / 6 / 5 == F(3, 10) and D * 3 / 6 / 5 == F(1, 20)
    # After S: c(S •) = 3, N1+(S •) = 2, so the lower order gets 1/2 * 2/3 = 1/3.
    p_after_s = {w: max(c - D, 0) / 3 + D * 2 / 3 * p1[w] for w, c in enumerate([0, 0, 2, 1, 0])}
    assert p_after_s[A] == F(3, 5)  # 3/2/3 + 1/3 * 3/10 = 1/2 + 1/10
    # After A: c(A •) = 3, N1+(A •) = 3: the lower order gets 1/2.
    p_after_a = {w: max(c - D, 0) / 3 + D * 3 / 3 * p1[w] for w, c in enumerate([0, 1, 1, 1, 0])}
    assert p_after_a[E] == F(19, 60)  # 1/6 + 3/20
    model = KneserNey(5, order=2, discount=0.5).fit(X_HAND, Y_HAND)
    # The history [S, A, E]: E was never a context, so after it the unigram P1 stands alone.
    o, _ = model.forward_propagation([S, A, E])
    for w in range(5):
        assert o[0, w] == pytest.approx(float(p_after_s[w]), rel=1e-14)
        assert o[1, w] == pytest.approx(float(p_after_a[w]), rel=1e-14)
        assert o[2, w] == pytest.approx(float(p1[w]), rel=1e-14)


def test_trigram_hand_worked():
    # Contexts padded with two STARTs. Trigram counts c(h1 h2 w), 7 types:
    #   (S,S,A) 2, (S,S,B) 1, (S,A,B) 1, (S,A,A) 1, (A,B,E) 1, (A,A,E) 1, (S,B,E) 1.
    # Bigram continuation counts N1+(• h w) (drop the first word of each trigram type):
    #   (S,A) 1, (S,B) 1, (A,B) 1, (A,A) 1, (A,E) 1, (B,E) 2 (after A and after S).
    # Unigram continuation counts over those 6 bigram types: A 2, B 2, E 2, as above.
    D = F(1, 2)
    p1 = {A: F(3, 10), B: F(3, 10), E: F(3, 10), S: F(1, 20), U: F(1, 20)}
    # Middle order, continuation counts: after S total 2, 2 types; after A 3, 3; after B 2, 1.
    p2_s = {w: max(n - D, 0) / 2 + D * 2 / 2 * p1[w] for w, n in enumerate([0, 0, 1, 1, 0])}
    p2_a = {w: max(n - D, 0) / 3 + D * 3 / 3 * p1[w] for w, n in enumerate([0, 1, 1, 1, 0])}
    p2_b = {w: max(n - D, 0) / 2 + D * 1 / 2 * p1[w] for w, n in enumerate([0, 2, 0, 0, 0])}
    assert p2_b[E] == F(33, 40)  # 3/4 + 1/4 * 3/10
    # Top order, raw counts: after (S,S) total 3, 2 types; after (S,A) 2, 2; after (A,B) 1, 1.
    p3_ss_a = (2 - D) / 3 + D * 2 / 3 * p2_s[A]  # 1/2 + 1/3 * 2/5 = 19/30
    p3_sa_b = (1 - D) / 2 + D * 2 / 2 * p2_a[B]  # 1/4 + 1/2 * 19/60 = 49/120
    p3_ab_e = (1 - D) / 1 + D * 1 / 1 * p2_b[E]  # 1/2 + 1/2 * 33/40 = 73/80
    assert (p3_ss_a, p3_sa_b, p3_ab_e) == (F(19, 30), F(49, 120), F(73, 80))
    model = KneserNey(5, order=3, discount=0.5).fit(X_HAND, Y_HAND)
    p = model.target_probabilities([[S, A, B]], [[A, B, E]])[0]
    np.testing.assert_allclose(p, [19 / 30, 49 / 120, 73 / 80], rtol=1e-14)
    # (B, A) was never a trigram context; its last word A was: the middle order answers.
    # (E, E): neither it nor E was ever a context: the unigram answers.
    o, _ = model.forward_propagation([S, B, A, E, E])
    for w in range(5):
        assert o[2, w] == pytest.approx(float(p2_a[w]), rel=1e-14)
        assert o[4, w] == pytest.approx(float(p1[w]), rel=1e-14)
    # A history that does not begin with START still has STARTs before it: after [A] the
    # context is (S, A), a seen trigram context: P3(B | S, A) = 49/120 again.
    assert model.forward_propagation([A, B])[0][0, B] == pytest.approx(49 / 120, rel=1e-14)


def test_estimated_discounts_are_n1_over_n1_plus_2_n2():
    # Counts at each order of the hand-worked trigram (see above):
    #   top (raw): six 1s and one 2 -> 6 / (6 + 2) = 3/4
    #   middle (continuation): five 1s, one 2 -> 5 / 7
    #   unigram (continuation): no 1s -> the estimate would be 0: falls back to 0.75
    model = KneserNey(5, order=3, discount="estimate").fit(X_HAND, Y_HAND)
    assert model.discounts == pytest.approx((0.75, 5 / 7, 3 / 4), rel=1e-15)


def test_unigram_loss_is_the_entropy_when_every_word_was_seen():
    # Every one of the C = 4 words seen: the discounted mass D * 4 / N, spread as D / N on
    # each word, gives back exactly what the discount took, so P(w) = c(w) / N. Target
    # frequencies 1/2, 1/4, 1/8, 1/8: the loss on the same data is the entropy, 1.75 bits.
    y = np.array([3, 3, 3, 3, 2, 2, 1, 0])
    for discount in (0.75, 0.3, "estimate"):
        model = KneserNey(4, order=1, discount=discount).fit([np.zeros(8, int)], [y])
        assert model.calculate_loss([np.zeros(8, int)], [y]) == pytest.approx(1.75 * np.log(2))


# --- nltk as the oracle -----------------------------------------------------------------


class _NltkKneserNeyUniformFloor(NltkKneserNey):
    """nltk's KN with our bottom: its unigram is discounted and floored by the uniform 1/C.

    nltk's own unigram_score is N1+(• w) / N1+(• •), not discounted, with no uniform below
    it (an unseen word gets 0). Only this one method differs; the recursion, alpha, gamma
    and the continuation counts of the middle orders are nltk's code.
    """

    def __init__(self, vocabulary, counter, order, discount, word_dim):
        super().__init__(vocabulary, counter, order, discount)
        self.word_dim = word_dim  # C: nltk's vocab also holds an extra "<UNK>" label

    def unigram_score(self, word):
        count, total = self._continuation_counts(word)
        seen = sum(self._continuation_counts(str(w))[0] > 0 for w in range(self.word_dim))
        return max(count - self.discount, 0) / total + self.discount * seen / total / self.word_dim


def _nltk_model(X, Y, order, discount, C):
    """nltk fitted on exactly our n-grams: those ending at a target, contexts START-padded.

    nltk's usual pipeline (padded_everygram_pipeline) pads both ends and also counts the
    n-grams that end inside the padding ((<s>,), (<s>, <s>), (</s>, </s>), ...); we feed it
    instead, for every target, its n-grams of length 1..order with order-1 STARTs before x.
    """
    text = []
    for x, y in zip(X, Y, strict=True):
        history = [S] * (order - 1) + list(x)
        grams = []
        for t, w in enumerate(y):
            context = history[t + 1 : t + order]  # the last order-1 words up to x[t]
            for k in range(order):
                grams.append(tuple(str(i) for i in [*context[len(context) - k :], w]))
        text.append(grams)
    params = {"order": order, "discount": discount, "word_dim": C}
    lm = InterpolatedLanguageModel(_NltkKneserNeyUniformFloor, order, params=params)
    lm.fit(text, vocabulary_text=[str(i) for i in range(C)])
    return lm


@pytest.mark.parametrize("order", [2, 3, 4])
@pytest.mark.parametrize("discount", [0.75, 0.4])
def test_matches_nltk_on_every_word_after_every_context(order, discount):
    C = 7
    X, Y = markov_corpus(12, C=C, seed=order)
    lm = _nltk_model(X, Y, order, discount, C)
    model = KneserNey(C, order, discount).fit(X, Y)
    X_new, _ = markov_corpus(4, C=C, seed=100)  # new sentences: contexts seen and unseen
    X_new.append(np.array([S, C - 1, C - 1, 3]))  # UNK, never seen: contexts never seen
    for x in [*X[:4], *X_new]:
        o, _ = model.forward_propagation(x)  # (T, C)
        history = [S] * (order - 1) + list(x)
        for t in range(len(x)):
            context = tuple(str(i) for i in history[t + 1 : t + order])
            expected = [lm.unmasked_score(str(w), context) for w in range(C)]
            np.testing.assert_allclose(o[t], expected, rtol=1e-12, atol=0)


# --- properties every order must have ---------------------------------------------------


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("discount", [0.75, 1.0, "estimate"])
def test_distributions_sum_to_one_after_seen_partly_seen_and_unseen_contexts(order, discount):
    C = 9
    X, Y = markov_corpus(40, C=C)
    model = KneserNey(C, order, discount).fit(X, Y)
    unk = C - 1  # never in the training data: every context that contains it is new
    histories = {
        "seen": X[0],
        "partly seen": np.r_[X[1][:3], unk, X[1][3:]],  # a known sentence with UNK inside
        "never seen": np.array([S, unk, unk, unk, unk]),
        "no START": np.array([unk, 5, 5, unk]),
    }
    for name, x in histories.items():
        o, state = model.forward_propagation(x)
        assert state is None and o.shape == (len(x), C)
        assert np.all(o > 0), name
        np.testing.assert_allclose(o.sum(axis=1), 1.0, rtol=0, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("discount", [0.75, "estimate"])
def test_loss_is_the_mean_of_minus_log_o_at_the_targets(order, discount):
    # Two code paths: target look-ups (calculate_loss) and full distributions (forward).
    X, Y = markov_corpus(60, seed=1)
    X_val, Y_val = markov_corpus(15, seed=2)
    model = KneserNey(9, order, discount).fit(X, Y)
    expected = -np.log(o_at_targets(model, X_val, Y_val))  # (N,)
    assert model.calculate_loss(X_val, Y_val) == pytest.approx(expected.mean(), rel=1e-12)
    assert model.calculate_total_loss(X_val, Y_val) == pytest.approx(expected.sum(), rel=1e-12)
    p = model.target_probabilities(X_val, Y_val)
    assert [len(q) for q in p] == [len(y) for y in Y_val]
    np.testing.assert_allclose(-np.log(np.concatenate(p)), expected, rtol=1e-12)
    x = X_val[0]
    np.testing.assert_array_equal(model.predict(x), np.argmax(model.forward_propagation(x)[0], 1))


def test_longer_contexts_help_on_a_second_order_chain():
    # Not a tautology: on text from a second-order Markov chain the trigram must beat the
    # bigram, which must beat the unigram, on held-out sentences.
    X, Y = markov_corpus(3000, seed=3)
    X_val, Y_val = markov_corpus(300, seed=4)
    losses = [KneserNey(9, n).fit(X, Y).calculate_loss(X_val, Y_val) for n in (1, 2, 3)]
    assert losses[0] > losses[1] > losses[2]


def test_config_rebuilds_an_unfitted_model_and_repr_says_what_it_is():
    model = KneserNey(5, order=2, discount=0.5)
    assert "not fitted" in repr(model)
    model.fit(X_HAND, Y_HAND)
    assert repr(model) == (
        "KneserNey(word_dim=5, order=2, discount=0.5; "
        "fitted on 8 tokens, n-gram types by order: 3, 6)"
    )
    clone = type(model)(**model.config()).fit(X_HAND, Y_HAND)
    assert clone.calculate_loss(X_HAND, Y_HAND) == model.calculate_loss(X_HAND, Y_HAND)


# --- interpolation ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_orders():
    X, Y = markov_corpus(400, seed=5)
    X_val, Y_val = markov_corpus(100, seed=6)
    return KneserNey(9, 1).fit(X, Y), KneserNey(9, 3).fit(X, Y), X_val, Y_val


def test_weights_one_and_zero_give_each_model(two_orders):
    a, b, X_val, Y_val = two_orders
    assert interpolate(a, b, 1.0).calculate_loss(X_val, Y_val) == a.calculate_loss(X_val, Y_val)
    assert interpolate(a, b, 0).calculate_loss(X_val, Y_val) == b.calculate_loss(X_val, Y_val)


def test_mixture_loss_matches_its_mixed_distributions(two_orders):
    a, b, X_val, Y_val = two_orders
    mixed = interpolate(a, b, 0.3)
    rows = []
    for x, y in zip(X_val, Y_val, strict=True):
        o, _ = mixed.forward_propagation(x)
        o_a, o_b = a.forward_propagation(x)[0], b.forward_propagation(x)[0]
        np.testing.assert_allclose(o, 0.3 * o_a + 0.7 * o_b, rtol=1e-15)
        np.testing.assert_allclose(o.sum(axis=1), 1.0, atol=1e-13)
        rows.append(-np.log(o[np.arange(len(y)), y]))
    assert mixed.calculate_loss(X_val, Y_val) == pytest.approx(np.concatenate(rows).mean())


def test_tuned_weight_is_the_minimum_of_a_brute_force_scan(two_orders):
    a, b, X_val, Y_val = two_orders
    tuned = tune_interpolation_weight(a, b, X_val, Y_val, grid=5)
    # The oracle reads each model's full distributions, not the target look-ups tuning uses.
    p_a, p_b = o_at_targets(a, X_val, Y_val), o_at_targets(b, X_val, Y_val)
    weights = np.linspace(0, 1, 2001)
    brute = [-np.mean(np.log(w * p_a + (1 - w) * p_b)) for w in weights]
    assert tuned.loss <= min(brute) + 1e-9
    assert abs(tuned.weight - weights[np.argmin(brute)]) <= 1e-3
    assert tuned.loss_a == pytest.approx(a.calculate_loss(X_val, Y_val), rel=1e-12)
    assert tuned.loss_b == pytest.approx(b.calculate_loss(X_val, Y_val), rel=1e-12)
    assert tuned.model.calculate_loss(X_val, Y_val) == pytest.approx(tuned.loss, rel=1e-12)
    # Two different orders: the mixture beats or ties each on validation.
    assert tuned.loss <= min(tuned.loss_a, tuned.loss_b)
    assert 0 < tuned.weight < 1  # here a real mix: the unigram smooths the trigram a little


def test_interpolation_works_with_a_neural_model(two_orders):
    # The RNN has no target_probabilities: its o from forward_propagation is read instead.
    kn, _, X_val, Y_val = two_orders
    rnn = RNNNumpy(9, hidden_dim=4, seed=0)
    mixed = interpolate(kn, rnn, 0.25)
    p_rnn = np.concatenate(target_probabilities(rnn, X_val, Y_val))
    assert -np.sum(np.log(p_rnn)) == pytest.approx(rnn.calculate_total_loss(X_val, Y_val))
    expected = -np.log(0.25 * o_at_targets(kn, X_val, Y_val) + 0.75 * p_rnn)
    assert mixed.calculate_loss(X_val, Y_val) == pytest.approx(expected.mean())
    tuned = tune_interpolation_weight(kn, rnn, X_val, Y_val)
    assert tuned.loss <= min(tuned.loss_a, rnn.calculate_loss(X_val, Y_val)) + 1e-12


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"word_dim": 9, "order": 0}, "order=0: expected 1"),
        ({"word_dim": 9, "order": 5}, "order=5: expected 1"),
        ({"word_dim": 9, "order": 2.0}, "order=2.0"),
        ({"word_dim": 2}, "word_dim=2: expected an integer >= 3"),
        ({"word_dim": 100_000, "order": 4}, r"100000\*\*4 does not fit"),
        ({"word_dim": 9, "discount": 0}, "discount=0: expected 0 < D <= 1"),
        ({"word_dim": 9, "discount": 1.5}, "discount=1.5"),
        ({"word_dim": 9, "discount": "kn"}, "discount='kn'"),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KneserNey(**kwargs)


def test_bad_data_is_named():
    model = KneserNey(5, order=2)
    with pytest.raises(RuntimeError, match="call fit"):
        model.calculate_loss(X_HAND, Y_HAND)
    with pytest.raises(ValueError, match="empty"):
        model.fit([], [])
    with pytest.raises(ValueError, match=r"y\[1\] = 5 is not a word id: expected 0 <= id < 5"):
        model.fit([np.array([0, 2])], [np.array([2, 5])])
    model.fit(X_HAND, Y_HAND)
    with pytest.raises(ValueError, match=r"x\[0\] = -1 is not a word id"):
        model.forward_propagation([-1, 2])
    with pytest.raises(ValueError, match="2 words but y has 1"):
        model.calculate_loss([np.array([0, 2])], [np.array([2])])


@pytest.mark.parametrize("weight", [-0.1, 1.5, float("nan"), "0.5"])
def test_weights_outside_zero_one_are_named(weight):
    a = KneserNey(5, order=1).fit(X_HAND, Y_HAND)
    with pytest.raises(ValueError, match=r"weight=.*: expected a number in \[0, 1\]"):
        interpolate(a, a, weight)
    with pytest.raises(ValueError, match=r"weight=.*: expected a number in \[0, 1\]"):
        tune_interpolation_weight(a, a, X_HAND, Y_HAND, grid=[0.5, weight])


def test_models_over_different_vocabularies_do_not_mix():
    a = KneserNey(5, order=1).fit(X_HAND, Y_HAND)
    b = KneserNey(6, order=1).fit(X_HAND, Y_HAND)
    with pytest.raises(ValueError, match="word_dim 5 but model_b has 6"):
        interpolate(a, b, 0.5)


def test_stored_ngrams_counts_the_distinct_grams_of_each_order():
    # The hand-worked data: 6 bigram types, and 3 words (A, B, E) that follow anything.
    assert KneserNey(5, order=2).fit(X_HAND, Y_HAND).stored_ngrams == 6 + 3
    assert KneserNey(5, order=1).fit(X_HAND, Y_HAND).stored_ngrams == 3
    with pytest.raises(RuntimeError, match="no counts yet"):
        _ = KneserNey(5, order=2).stored_ngrams
