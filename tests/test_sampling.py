"""Sampling: temperature against closed forms, sentence generation against scripted models."""

import numpy as np
import pytest

from rnnlib.data.vocab import SENTENCE_END, SENTENCE_START, UNKNOWN_TOKEN, Vocabulary
from rnnlib.numpy_rnn.readable import RNNNumpy
from rnnlib.sampling import generate_sentence, generate_sentences, sample_index

WORDS = [SENTENCE_START, SENTENCE_END, "a", "b", "c", "d", UNKNOWN_TOKEN]
VOCAB = Vocabulary(WORDS)
END, UNK = VOCAB.end_index, VOCAB.unknown_index

# Upper 0.1% points of the chi-square distribution (tables), by degrees of freedom.
CHI2_999 = {4: 18.467}


def chi_square(counts, probs):
    expected = np.asarray(probs) * np.sum(counts)
    return float(np.sum((counts - expected) ** 2 / expected))


def test_temperature_one_draws_with_the_given_probabilities():
    probs = np.array([0.5, 0.2, 0.15, 0.1, 0.05])
    rng = np.random.default_rng(0)
    draws = [sample_index(probs, rng) for _ in range(20000)]
    counts = np.bincount(draws, minlength=5)
    assert chi_square(counts, probs) < CHI2_999[4]


def test_temperature_reshapes_as_a_power_of_the_probabilities():
    # p ∝ exp(log p / T) = p**(1/T); at T=2 that is the normalised square root.
    probs = np.array([0.5, 0.2, 0.15, 0.1, 0.05])
    target = np.sqrt(probs) / np.sqrt(probs).sum()
    rng = np.random.default_rng(1)
    counts = np.bincount([sample_index(probs, rng, 2.0) for _ in range(20000)], minlength=5)
    assert chi_square(counts, target) < CHI2_999[4]
    assert chi_square(counts, probs) > 100  # clearly not the untempered distribution


def test_small_temperature_approaches_argmax():
    rng = np.random.default_rng(2)
    for _ in range(200):
        probs = rng.dirichlet(np.ones(20))
        assert sample_index(probs, rng, temperature=1e-6) == int(np.argmax(probs))


def test_zero_probability_is_never_drawn():
    rng = np.random.default_rng(3)
    probs = np.array([0.0, 0.3, 0.0, 0.7, 0.0])
    draws = {sample_index(probs, rng, t) for t in (0.3, 1.0, 5.0) for _ in range(2000)}
    assert draws == {1, 3}


def test_sample_index_rejects_bad_input():
    rng = np.random.default_rng(4)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature must be a positive number"):
            sample_index([0.5, 0.5], rng, bad)
    with pytest.raises(ValueError, match="not all zero"):
        sample_index([0.0, 0.0], rng)
    with pytest.raises(ValueError, match="non-negative"):
        sample_index([0.5, -0.1, 0.6], rng)
    with pytest.raises(ValueError, match="1-D"):
        sample_index([[0.5, 0.5]], rng)
    with pytest.raises(TypeError, match="Generator"):
        sample_index([0.5, 0.5], 42)


# --- generation with scripted models --------------------------------------------------------


class ScriptedModel:
    """A language model whose next-word distribution is a function of the prefix read so far."""

    word_dim = len(WORDS)

    def __init__(self, next_probs):
        self.next_probs = next_probs  # prefix (list of ids) -> (C,) probabilities
        self.calls = 0

    def forward_propagation(self, x):
        self.calls += 1
        x = list(x)
        # Row t is the distribution after reading x[:t+1]; generation must use the last row.
        o = np.array([self.next_probs(x[: t + 1]) for t in range(len(x))])
        return o, np.zeros((len(x), 2))


def test_generation_reads_the_last_row_and_stops_at_sentence_end():
    # After reading n words the model is sure the next is WORDS[2 + n], then END after "d".
    def next_probs(prefix):
        n = len(prefix)
        p = np.zeros(len(WORDS))
        p[2 + n - 1 if n <= 4 else END] = 1.0
        return p

    words = generate_sentence(
        ScriptedModel(next_probs), VOCAB, np.random.default_rng(0), min_length=0
    )
    assert words == ["a", "b", "c", "d"]


def test_unknown_token_is_never_emitted():
    def next_probs(prefix):  # UNKNOWN_TOKEN is by far the likeliest word
        p = np.full(len(WORDS), 0.01)
        p[UNK] = 0.9
        p[END] = 0.05
        return p / p.sum()

    model, rng = ScriptedModel(next_probs), np.random.default_rng(1)
    sentences = generate_sentences(model, VOCAB, 40, rng, min_length=0, max_length=12)
    assert len(sentences) == 40
    used = {w for s in sentences for w in s}
    assert UNKNOWN_TOKEN not in used and SENTENCE_START not in used and SENTENCE_END not in used
    assert used <= {"a", "b", "c", "d"}


def test_max_length_caps_a_model_that_never_ends():
    def never_ends(prefix):
        p = np.full(len(WORDS), 1.0)
        p[END] = 0.0
        return p / p.sum()

    words = generate_sentence(
        ScriptedModel(never_ends), VOCAB, np.random.default_rng(2), min_length=3, max_length=9
    )
    assert len(words) == 9


def test_min_length_is_respected_by_resampling():
    def often_ends(prefix):  # ends with probability 0.4 at every step
        p = np.full(len(WORDS), 0.6 / 4)
        p[[0, UNK]] = 0.0
        p[END] = 0.4
        return p

    rng = np.random.default_rng(3)
    lengths = [
        len(s) for s in generate_sentences(ScriptedModel(often_ends), VOCAB, 30, rng, min_length=5)
    ]
    assert min(lengths) >= 5


def test_gives_up_after_max_tries_with_the_longest_attempt():
    def two_words_or_one(prefix):  # attempts end after 1 or 2 words, never 5
        p = np.zeros(len(WORDS))
        if len(prefix) == 1:
            p[2] = 1.0
        elif len(prefix) == 2:
            p[[3, END]] = 0.5
        else:
            p[END] = 1.0
        return p

    model = ScriptedModel(two_words_or_one)
    words = generate_sentence(model, VOCAB, np.random.default_rng(4), min_length=5, max_tries=6)
    assert words == ["a", "b"]
    assert model.calls <= 6 * 3  # at most three forward passes per attempt, six attempts


def test_generation_with_a_real_model():
    model = RNNNumpy(len(WORDS), 5, seed=5)
    rng = np.random.default_rng(6)
    for words in generate_sentences(model, VOCAB, 10, rng, min_length=2, max_length=8):
        assert 2 <= len(words) <= 8 and UNKNOWN_TOKEN not in words


def test_generation_rejects_bad_arguments():
    rng = np.random.default_rng(7)
    with pytest.raises(ValueError, match="vocabulary has 7 words but the model's word_dim is 9"):
        generate_sentence(RNNNumpy(9, 3), VOCAB, rng)
    model = RNNNumpy(len(WORDS), 3)
    with pytest.raises(ValueError, match="min_length must be an integer in \\[0, max_length=5\\]"):
        generate_sentence(model, VOCAB, rng, min_length=6, max_length=5)
    with pytest.raises(ValueError, match="max_tries"):
        generate_sentence(model, VOCAB, rng, max_tries=0)
    with pytest.raises(TypeError, match="Generator"):
        generate_sentence(model, VOCAB, 0)
    with pytest.raises(ValueError, match="temperature"):
        generate_sentence(model, VOCAB, rng, temperature=0)


def test_quote_tokens_are_shown_as_quotes_and_the_tokens_are_kept():
    from rnnlib.sampling import readable_words, sentence_text

    words = ["he", "said", "``", "hi", "there", "''", "."]
    assert readable_words(words) == ["he", "said", "“", "hi", "there", "”", "."]
    assert sentence_text(words) == "he said “hi there” ."
    assert words[2] == "``"  # the list given is not changed


def test_samples_during_training_draw_the_same_seed_after_each_evaluation():
    from rnnlib.sampling import SamplesDuringTraining, sentence_text
    from rnnlib.training.train import train_with_sgd

    rng = np.random.default_rng(8)
    X = [np.r_[VOCAB.start_index, rng.integers(2, 6, 4)] for _ in range(20)]
    Y = [np.r_[x[1:], END] for x in X]
    model = RNNNumpy(len(WORDS), 5, seed=5)
    snapshots = []  # the weights at each evaluation: the oracle samples from them

    def keep(model, history):
        snapshots.append(model.get_params())

    samples = SamplesDuringTraining(VOCAB, n=3, seed=4, min_length=2, max_length=6)
    history = train_with_sgd(model, X, Y, 0.05, nepoch=3, evaluate_loss_after=1,
                             callbacks=[keep, samples], progress=False)  # fmt: skip
    assert [(e, loss) for e, loss, _ in samples.entries] == [
        (e.epoch, e.loss) for e in history.evaluations
    ]
    for params, (_, _, sentences) in zip(snapshots, samples.entries, strict=True):
        twin = RNNNumpy(len(WORDS), 5, seed=0)
        twin.set_params(params)
        again = generate_sentences(
            twin, VOCAB, 3, np.random.default_rng(4), min_length=2, max_length=6
        )
        assert sentences == [sentence_text(s) for s in again]
    assert samples.entries[0][2] != samples.entries[-1][2]  # the model changed, not the seed
    assert samples.report().splitlines()[0].startswith("after epoch 0 (validation loss ")
