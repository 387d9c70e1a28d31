"""Held-out scores on the benchmark split, against closed forms."""

import math

import numpy as np
import pytest

from rnnlib.data.benchmark import benchmark_split
from rnnlib.evaluation import Score, ngram_baselines, score
from rnnlib.numpy_rnn import RNNNumpyFast


@pytest.fixture(scope="module")
def split():
    return benchmark_split().prefix(train=1500, validation=300, test=300)


def uniform_model(word_dim: int) -> RNNNumpyFast:
    """All weights zero: every next word gets probability 1/C, so the loss is exactly log C."""
    model = RNNNumpyFast(word_dim, hidden_dim=4)
    model.set_params({name: np.zeros_like(p) for name, p in model.get_params().items()})
    return model


def test_a_uniform_model_scores_log_c_and_perplexity_c(split):
    C = len(split.vocab)
    result = score(uniform_model(C), split)
    assert result.split == "validation[:300]"
    assert result.loss == pytest.approx(math.log(C), rel=1e-6)
    assert result.perplexity == pytest.approx(C, rel=1e-5)
    assert result.tokens == sum(len(y) for y in split.validation.y)
    assert set(result.as_dict()) == {"split", "loss", "perplexity", "tokens"}
    assert "perplexity 8000.0" in str(result)
    test = score(uniform_model(C), split, "test")
    assert test.split == "test[:300]" and test.loss == pytest.approx(math.log(C), rel=1e-6)


def test_a_model_of_another_vocabulary_is_refused_naming_both_sizes(split):
    with pytest.raises(ValueError, match="vocabulary of 500 words, the benchmark split's has 8000"):
        score(uniform_model(500), split)
    with pytest.raises(ValueError, match="part must be one of"):
        score(uniform_model(8000), split, "train2")


def test_ngram_baselines_improve_with_order_and_beat_uniform(split):
    baselines = ngram_baselines(split, orders=(1, 2, 3))
    losses = [score(m, split).loss for m in baselines.values()]
    assert list(baselines) == ["KN unigram", "KN bigram", "KN trigram"]
    assert math.log(len(split.vocab)) > losses[0] > losses[1] >= losses[2] - 0.02
    assert isinstance(score(baselines["KN bigram"], split), Score)
