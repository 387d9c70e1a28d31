"""The series' models side by side: each trained with the same recipe, scored on one split (notebook 8).

`train_for` trains any word-level model of the series (NumPy, PyTensor, Keras) with
train_with_sgd on the benchmark split's training part until the recipe's patience ends it
(or a cap), and returns a `Trained` record: parameters, training and compile seconds, words
per second, the evaluation it kept, its History, its loss against training time, and its
validation score. The test part is scored only when asked, once, at the end (`Trained.test`).

`truncation_experiment` is the learning-side counterpart of the BPTT explorer: the same
small RNN trained on the long-range language with bptt_truncate below and above the
dependency's distance, beside the exact entropy.
"""

import math
import time
from dataclasses import dataclass, field

import numpy as np

from rnnlib.data.benchmark import BenchmarkSplit
from rnnlib.data.long_range import LongRangeLanguage
from rnnlib.data.vocab import SENTENCE_END, SENTENCE_START, Vocabulary, build_xy
from rnnlib.evaluation.scoring import Score, score
from rnnlib.numpy_rnn import RNNNumpyFast
from rnnlib.training.history import History
from rnnlib.training.train import train_with_sgd


def parameter_count(model) -> int:
    """Trained numbers in a model: its weights, not an optimiser's running averages."""
    names = getattr(model, "WEIGHT_NAMES", None)  # GRUPyTensor also holds RMSprop caches
    params = model.get_params()
    return int(sum(np.size(params[name]) for name in (names or params)))


@dataclass
class Trained:
    """One model trained with its recipe: what it cost, how good it got, and when."""

    name: str
    model: object
    history: History
    validation: Score  # of the model kept: the best evaluation's parameters
    split: BenchmarkSplit = field(repr=False)
    # (training seconds, validation loss) at each evaluation: quality against time.
    curve: list[tuple[float, float]] = field(default_factory=list)
    words_per_sentence: float = 0.0
    test_score: Score | None = None

    @property
    def parameters(self) -> int:
        """The model's parameter count."""
        return parameter_count(self.model)

    @property
    def train_seconds(self) -> float:
        """Seconds of training steps (compiling and evaluating not counted)."""
        return self.history.train_seconds

    @property
    def compile_seconds(self) -> float:
        """Seconds the model spent compiling (PyTensor, JAX); 0 for NumPy."""
        return self.history.compile_seconds

    @property
    def words_seen(self) -> int:
        """Predicted words trained on (every target, SENTENCE_END included), about."""
        return round(self.history.examples_seen * self.words_per_sentence)

    @property
    def words_per_second(self) -> float:
        """Predicted words trained on per second of training steps."""
        return self.words_seen / self.train_seconds if self.train_seconds > 0 else math.nan

    @property
    def best_epoch(self) -> int:
        """The epoch after which the best evaluation was made."""
        return min(self.history.evaluations, key=lambda e: e.loss).epoch

    @property
    def kept(self) -> str:
        """Which model was kept: an evaluation's ("epoch 3"), or the end of a capped run's."""
        best = min(e.loss for e in self.history.evaluations)
        if self.validation.loss < best:  # the end state, checked off the schedule, was better
            n_train = len(self.split.train.y)
            return f"end ({self.history.examples_seen / n_train:.1f} epochs)"
        return f"epoch {self.best_epoch}"

    @property
    def capped(self) -> bool:
        """Whether a cap (epochs, minutes) ended the run before patience or the rate floor."""
        return not self.history.stop_reason

    def test(self) -> Score:
        """The test score: computed once, when first asked, and kept."""
        if self.test_score is None:
            self.test_score = score(self.model, self.split, "test")
        return self.test_score


def train_for(name: str, model, split: BenchmarkSplit, minutes: float, nepoch: int | None = None,
              **options) -> Trained:  # fmt: skip
    """Train `model` on split.train with train_with_sgd, evaluating on validation; score it.

    The run ends when the recipe's patience or rate floor ends it, or at a cap: `nepoch`
    epochs or `minutes` of training (compiling and evaluating not counted). `options` are
    train_with_sgd's (rnnlib.evaluation.recipes.Recipe.train_options gives a recipe's).
    """
    train, validation = split.train, split.validation
    curve = []

    def record(model, history):
        curve.append((history.train_seconds, history.evaluations[-1].loss))

    history = train_with_sgd(
        model, train.X, train.y, nepoch=nepoch, minutes=minutes, X_val=validation.X,
        y_val=validation.y, progress=False, callbacks=[record], **options,
    )  # fmt: skip
    validation_score = score(model, split, "validation")
    if history.examples_seen > history.evaluations[-1].examples_seen:  # a cap stopped it mid-way
        curve.append((history.train_seconds, validation_score.loss))  # the model it ended with
    return Trained(
        name=name,
        model=model,
        history=history,
        validation=validation_score,
        split=split,
        curve=curve,
        words_per_sentence=sum(len(y) for y in train.y) / len(train.y),
    )


def comparison_table(rows: list[dict]) -> str:
    """A Markdown table from rows of {column: value}; floats get sensible rounding."""

    def show(value) -> str:
        if isinstance(value, float):
            if math.isnan(value):
                return "–"
            return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(show(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


# --- the long-range experiment ----------------------------------------------------------------


def long_range_data(language: LongRangeLanguage, n_train: int, n_val: int, seed: int = 0):
    """(vocab, X, y, X_val, y_val) of `language`: sentences wrapped in the markers, encoded."""
    wrap = [[SENTENCE_START, *words, SENTENCE_END] for words in language.sample(n_train, seed)]
    val = [[SENTENCE_START, *words, SENTENCE_END] for words in language.sample(n_val, seed + 1)]
    vocab = Vocabulary.build(wrap, len(language.words) + 3)
    X, y = build_xy(vocab.encode(s) for s in wrap)
    X_val, y_val = build_xy(vocab.encode(s) for s in val)
    return vocab, X, y, X_val, y_val


def truncation_experiment(
    language: LongRangeLanguage,
    truncations,
    hidden_dim: int = 16,
    n_train: int = 1000,
    n_val: int = 300,
    nepoch: int = 40,
    seed: int = 2,
) -> list[dict]:
    """Validation loss of the same RNN for each bptt_truncate, beside the exact floors.

    Each row: bptt_truncate, loss, the exact entropy, the best loss within the window
    (window_floor), history and seconds. Batched steps follow the mean loss per word, so
    the rate is large; the clip on the mean gradient's norm keeps the first steps small.
    """
    vocab, X, y, X_val, y_val = long_range_data(language, n_train, n_val, seed)
    rows = []
    for k in truncations:
        start = time.perf_counter()
        model = RNNNumpyFast(len(vocab), hidden_dim, bptt_truncate=k, seed=seed, dtype=np.float64)
        history = train_with_sgd(
            model, X, y, 7.0, nepoch=nepoch, evaluate_loss_after=max(1, nepoch // 8),
            X_val=X_val, y_val=y_val, batch_size=16, clip_norm=0.05, shuffle_seed=seed,
            progress=False,
        )  # fmt: skip
        rows.append({
            "bptt_truncate": k,
            "loss": model.calculate_loss(X_val, y_val),
            "exact entropy": language.entropy_per_token,
            "window_floor": language.window_entropy(k) if k >= 0 else language.entropy_per_token,
            "history": history,
            "seconds": time.perf_counter() - start,
        })  # fmt: skip
    return rows
