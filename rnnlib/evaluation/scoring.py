"""How good is a model: held-out loss and perplexity on the benchmark split, beside baselines (notebook 8).

A loss means something only beside another measured on the same words with the same
vocabulary. Every held-out number of the series comes from here: `score(model, split,
part)` measures any model of the common interface (neural, n-gram, interpolated) on a part
of the one benchmark split (rnnlib.data.benchmark), and `ngram_baselines` gives the
counting models to put beside it.
"""

import math
from dataclasses import asdict, dataclass

from rnnlib.data.benchmark import PARTS, BenchmarkSplit
from rnnlib.evaluation.ngram import KneserNey


@dataclass(frozen=True)
class Score:
    """Held-out loss (nats per predicted word), its perplexity and how many words it counts."""

    split: str  # the part's name: "validation", "test", or a prefix such as "validation[:500]"
    loss: float
    perplexity: float
    tokens: int  # predicted positions: every word and each SENTENCE_END

    def as_dict(self) -> dict:
        """The JSON form: keys split, loss, perplexity, tokens."""
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"{self.split}: loss {self.loss:.4f} nats/word, perplexity {self.perplexity:.1f} "
            f"({self.tokens:,} words)"
        )


def check_vocabulary(model, split: BenchmarkSplit, vocab=None) -> None:
    """A ValueError unless the model (and its vocabulary, if given) is the split's."""
    expected = len(split.vocab)
    if model.word_dim != expected:
        raise ValueError(
            f"the model has a vocabulary of {model.word_dim} words, the benchmark split's has "
            f"{expected}: held-out losses are comparable only over the same vocabulary "
            f"(train with the benchmark split, e.g. python -m rnnlib train)"
        )
    if vocab is not None and vocab != split.vocab:
        raise ValueError(
            f"the model's vocabulary ({len(vocab)} words) is not the benchmark split's "
            f"({expected} words): the same size, but other words"
        )


def score(model, split: BenchmarkSplit, part: str = "validation", vocab=None) -> Score:
    """Loss and perplexity of `model` on one part of the benchmark split (validation by default)."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {list(PARTS)}, got {part!r}")
    check_vocabulary(model, split, vocab)
    data = getattr(split, part)
    loss = float(model.calculate_loss(data.X, data.y))
    perplexity = math.exp(loss) if loss < 700 else math.inf
    return Score(data.name, loss, perplexity, sum(len(y) for y in data.y))


def ngram_baselines(split: BenchmarkSplit, orders=(1, 2, 3)) -> dict[str, KneserNey]:
    """Interpolated Kneser-Ney models of each order, fitted on the split's training part."""
    names = {1: "unigram", 2: "bigram", 3: "trigram", 4: "4-gram"}
    return {
        f"KN {names[n]}": KneserNey(len(split.vocab), order=n).fit(split.train.X, split.train.y)
        for n in orders
    }
