"""The long-range language: its closed forms against enumeration and Monte Carlo, its samples, its errors."""

import collections
import itertools
import math

import numpy as np
import pytest

from rnnlib.data.long_range import LongRangeLanguage
from rnnlib.data.vocab import SENTENCE_END, SENTENCE_START, Vocabulary, build_xy
from rnnlib.numpy_rnn import RNNNumpyFast
from rnnlib.training.sgd import train_with_sgd

SMALL = [(1, 3, 0.0), (3, 2, 1.0), (4, 3, 0.7)]  # (distance, kinds, zipf): small enough to list


def _with_ends(sentences):
    return [[SENTENCE_START, *s, SENTENCE_END] for s in sentences]


def _enumerate(language: LongRangeLanguage) -> dict[tuple, float]:
    """Every sentence (with START/END) and its probability, from the definition alone."""
    q = dict(zip(language.letters, language.probs.tolist(), strict=True))
    return {
        (SENTENCE_START, *letters, "=" + letters[0], SENTENCE_END): math.prod(map(q.get, letters))
        for letters in itertools.product(language.letters, repeat=language.distance + 1)
    }


def _window_entropy_by_counting(sentences: dict[tuple, float], k: int) -> float:
    """H(next token | last k + 1 tokens read), pooled over every step of every sentence."""
    joint, context = collections.Counter(), collections.Counter()
    for sentence, p in sentences.items():
        for t in range(len(sentence) - 1):
            window = sentence[max(0, t - k) : t + 1] if k >= 0 else sentence[: t + 1]
            joint[window, sentence[t + 1]] += p
            context[window] += p
    steps = len(next(iter(sentences))) - 1
    return -math.fsum(p * math.log(p / context[w]) for (w, _), p in joint.items()) / steps


# --- exact entropies ---------------------------------------------------------------------------


@pytest.mark.parametrize("distance, kinds, zipf", SMALL)
def test_closed_forms_match_the_enumerated_language(distance, kinds, zipf):
    language = LongRangeLanguage(distance, kinds, zipf)
    sentences = _enumerate(language)
    assert math.fsum(sentences.values()) == pytest.approx(1.0, abs=1e-12)
    # Every sentence has d + 3 targets: d + 1 letters, the answer, SENTENCE_END.
    assert {len(s) - 1 for s in sentences} == {language.expected_length}
    sentence_entropy = -math.fsum(p * math.log(p) for p in sentences.values())
    assert language.sentence_entropy == pytest.approx(sentence_entropy, rel=1e-12)
    assert language.entropy_per_token == pytest.approx(
        sentence_entropy / language.expected_length, rel=1e-12
    )
    # The truncated floor: the conditional entropy given only the last k + 1 tokens, counted.
    for k in [-1, *range(distance + 3)]:
        assert language.window_entropy(k) == pytest.approx(
            _window_entropy_by_counting(sentences, k), rel=1e-12
        ), f"window {k}"
    assert language.window_entropy(None) == language.entropy_per_token


def test_floors_are_ordered():
    language = LongRangeLanguage(8, 4)
    assert language.entropy_per_token == pytest.approx(9 * math.log(4) / 11, rel=1e-12)
    floors = [language.window_entropy(k) for k in range(12)]
    # Seeing further back never hurts, and from k = d on nothing is missing.
    assert all(a >= b for a, b in itertools.pairwise(floors))
    assert floors[7] > language.forgetful_entropy > floors[8] == language.entropy_per_token
    assert language.forgetful_entropy == pytest.approx(10 * math.log(4) / 11, rel=1e-12)


# --- the true next-token distribution ---------------------------------------------------------


@pytest.mark.parametrize("window", [-1, 0, 2, 5, 6, 9])
def test_distributions_sum_to_one_and_allow_what_comes(window):
    language = LongRangeLanguage(6, 5, zipf=1.0)
    allowed = set(language.words) | {SENTENCE_END}
    for sentence in _with_ends(language.sample(200, seed=3)):
        for t in range(1, len(sentence)):
            dist = language.next_token_distribution(sentence[:t], window=window)
            assert set(dist) <= allowed and min(dist.values()) > 0
            assert math.fsum(dist.values()) == pytest.approx(1.0, abs=1e-12)
            assert sentence[t] in dist


@pytest.mark.parametrize("window", [-1, 0, 3, 5])
def test_monte_carlo_loss_of_the_true_model_is_the_closed_form(window):
    """The mean -log p of the true model over samples estimates the exact entropy."""
    language = LongRangeLanguage(6, 5, zipf=1.0)
    n = 4000
    surprisals = []  # one total per sentence: independent draws
    for sentence in _with_ends(language.sample(n, seed=11)):
        surprisals.append(
            -math.fsum(
                math.log(language.next_token_distribution(sentence[:t], window)[sentence[t]])
                for t in range(1, len(sentence))
            )
        )
    per_token = np.array(surprisals) / language.expected_length
    # Five standard errors of the mean: a false failure about once in 1.7 million runs.
    tolerance = 5 * per_token.std(ddof=1) / math.sqrt(n)
    assert per_token.mean() == pytest.approx(language.window_entropy(window), abs=tolerance)
    if window == -1:
        # Here the standard error is known exactly: d + 1 independent letters per sentence.
        q = language.probs
        letter_variance = q @ np.log(q) ** 2 - language.letter_entropy**2
        exact = math.sqrt((language.distance + 1) * letter_variance / n) / language.expected_length
        assert 0.9 < per_token.std(ddof=1) / math.sqrt(n) / exact < 1.1
        assert tolerance < 0.02 * language.entropy_per_token  # the test can fail


def test_the_answer_is_certain_only_when_the_key_is_in_view():
    language = LongRangeLanguage(4, 3)
    prefix = [SENTENCE_START, "c", "a", "b", "a", "b"]  # the answer comes next
    assert language.next_token_distribution(prefix) == {"=c": 1.0}
    assert language.next_token_distribution(prefix, window=4) == {"=c": 1.0}  # sees "c"
    blind = language.next_token_distribution(prefix, window=3)  # two steps look alike
    assert blind == pytest.approx(
        {**dict.fromkeys("abc", 1 / 6), **dict.fromkeys(language.answers, 1 / 6)}
    )
    assert language.next_token_distribution([*prefix, "=c"], window=0) == {SENTENCE_END: 1.0}


# --- sampling ---------------------------------------------------------------------------------


def test_sampling_is_reproducible_from_its_seed():
    language = LongRangeLanguage(5, 4)
    first = language.sample(300, seed=1)
    assert first == language.sample(300, seed=1)
    assert first != language.sample(300, seed=2)
    assert language.sample(300, seed=np.random.default_rng(1)) == first
    assert language.sample(0, seed=1) == []


def test_samples_have_the_shape_and_letter_frequencies_of_the_definition():
    language = LongRangeLanguage(5, 4, zipf=1.0)
    n = 20_000
    sentences = language.sample(n, seed=5)
    assert all(len(s) == 7 and s[-1] == "=" + s[0] for s in sentences)
    counts = collections.Counter(w for s in sentences for w in s[:-1])
    observed = np.array([counts[c] for c in language.letters])
    expected = language.probs * n * 6
    chi2 = ((observed - expected) ** 2 / expected).sum()
    dof = language.kinds - 1
    assert chi2 < dof + 5 * math.sqrt(2 * dof)  # five standard deviations above the mean


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"distance": 0}, r"distance=0: expected an integer >= 1"),
        ({"distance": 2.5}, r"distance=2.5: expected an integer >= 1"),
        ({"distance": True}, r"distance=True: expected an integer >= 1"),
        ({"kinds": 1}, r"kinds=1: expected an integer in \[2, 26\]"),
        ({"kinds": 27}, r"kinds=27: expected an integer in \[2, 26\]"),
        ({"zipf": -1.0}, r"zipf=-1.0: expected a finite number >= 0"),
        ({"zipf": math.nan}, r"zipf=nan: expected a finite number >= 0"),
    ],
)
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LongRangeLanguage(**kwargs)


def test_bad_calls_are_named():
    language = LongRangeLanguage(3, 2)
    with pytest.raises(ValueError, match=r"n_sentences=-1: expected an integer >= 0"):
        language.sample(-1, seed=0)
    with pytest.raises(ValueError, match=r"window=-2: expected an integer >= -1"):
        language.window_entropy(-2)
    with pytest.raises(ValueError, match=r"window=1.5: expected an integer >= -1"):
        language.next_token_distribution([SENTENCE_START], window=1.5)
    with pytest.raises(TypeError, match="list of tokens"):
        language.next_token_distribution("SENTENCE_START a")
    with pytest.raises(ValueError, match=r"starts with SENTENCE_START, got \['a'\]"):
        language.next_token_distribution(["a"])
    with pytest.raises(ValueError, match=r"prefix\[2\]='c': expected one of \['a', 'b'\]"):
        language.next_token_distribution([SENTENCE_START, "a", "c"])
    with pytest.raises(ValueError, match=r"prefix\[5\]='=b': expected one of \['=a'\]"):
        language.next_token_distribution([SENTENCE_START, "a", "b", "b", "b", "=b"])
    ended = [SENTENCE_START, "a", "b", "b", "b", "=a", SENTENCE_END]
    with pytest.raises(ValueError, match="nothing comes next"):
        language.next_token_distribution(ended)


# --- the lesson, in miniature -------------------------------------------------------------------


def test_full_bptt_learns_the_answer_and_truncation_below_the_distance_does_not():
    """A few seconds of training: full BPTT ends near the exact entropy, bptt_truncate=2 near
    the loss of a model that has forgotten the key (d=6). Over seeds 0-9 the two ended at
    0.12-0.36 and 0.84-5.8 of the way from the one to the other."""
    language = LongRangeLanguage(6, 4)
    train, val = (
        _with_ends(language.sample(1000, seed=2)),
        _with_ends(language.sample(300, seed=1002)),
    )
    vocab = Vocabulary.build(train, len(language.words) + 3)
    X, y = build_xy(vocab.encode(s) for s in train)
    X_val, y_val = build_xy(vocab.encode(s) for s in val)
    floor, forgetful = language.entropy_per_token, language.forgetful_entropy
    progress = {}  # 0 at the exact entropy, 1 at the forgetful floor
    for k in (2, -1):
        model = RNNNumpyFast(len(vocab), 16, bptt_truncate=k, seed=2, dtype=np.float64)
        # Batched steps follow the mean loss per word (~140 words a batch): a large rate, and
        # a clip on the mean gradient's norm that keeps the first steps small.
        options = {"batch_size": 16, "clip_norm": 0.05, "shuffle_seed": 2, "progress": False}
        train_with_sgd(model, X, y, 7.0, nepoch=40, evaluate_loss_after=40, **options)
        progress[k] = (model.calculate_loss(X_val, y_val) - floor) / (forgetful - floor)
    assert progress[-1] < 0.5 < progress[2], progress
