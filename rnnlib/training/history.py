"""A training run's record, and the tutorial's halving rule, shared by every backend (notebook 4).

Every trainer (train_with_sgd, the Keras fit loop) fills the same History with the same
rule, `record_evaluation`, and stops with the same TrainingDiverged: one loss-curve plot
and one set of tests serve them all. Nothing here knows a framework.
"""

import math
from dataclasses import dataclass, field
from typing import NamedTuple


def perplexity(loss: float) -> float:
    """exp(loss per word in nats): a model that knows nothing over C words scores C."""
    return math.exp(loss) if loss < 700 else math.inf  # exp overflows a float past ~709


def evaluation_data(X, y, X_val=None, y_val=None) -> tuple:
    """The data every trainer evaluates its loss on: (X_val, y_val) when given, else (X, y)."""
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    return (X, y) if X_val is None else (X_val, y_val)


class Evaluation(NamedTuple):
    """One loss evaluation; learning_rate is the rate in force after it (halving included)."""

    examples_seen: int
    epoch: int
    loss: float
    learning_rate: float

    @property
    def perplexity(self) -> float:
        """exp(loss): the number of equally likely words the model is as unsure as."""
        return perplexity(self.loss)


class Halving(NamedTuple):
    """A learning-rate halving, decided at the evaluation after `epoch` epochs."""

    examples_seen: int
    epoch: int
    old_lr: float
    new_lr: float


class RateSet(NamedTuple):
    """A learning rate set by the caller when a run continues (not decided by the halving rule)."""

    examples_seen: int
    epoch: int
    learning_rate: float


class TrainingDiverged(RuntimeError):
    """The loss or the parameters became NaN/inf; the model holds its last good parameters."""

    def __init__(self, message: str, history: "History", epoch: int, examples_seen: int):
        super().__init__(message)
        self.history, self.epoch, self.examples_seen = history, epoch, examples_seen


@dataclass
class History:
    """Everything train_with_sgd decided: evaluations and halvings, in order."""

    evaluations: list[Evaluation] = field(default_factory=list)
    halvings: list[Halving] = field(default_factory=list)
    # Rates given anew when a run continued with another one than its last evaluation's (the
    # loss-curve widget's slider): the steps after it used that rate, whatever came before.
    rate_changes: list[RateSet] = field(default_factory=list)
    # The loss each step followed, e.g. "sum per sentence" or "mean per target token"
    # (train_with_sgd says which runs use which); "" when the trainer did not say.
    step_loss: str = ""
    examples_seen: int = 0  # examples trained on by the end of the run so far
    # The evaluated loss of the model a train_with_sgd call returned: its last evaluation,
    # the off-schedule check of its end state, or the best one kept (keep_best).
    final_loss: float | None = None
    # Why the run ended before its epochs or budget ran out ("" if it did not): patience,
    # or the learning-rate floor.
    stop_reason: str = ""
    # Seconds spent in training steps, and compiling (what the model reports as compile
    # time, in steps and evaluations), over every call of the run. Evaluations are in neither.
    # Measurements, not decisions: two runs of the same steps are equal whatever they took.
    train_seconds: float = field(default=0.0, compare=False)
    compile_seconds: float = field(default=0.0, compare=False)

    @property
    def losses(self) -> list[float]:
        """The evaluated losses, in order."""
        return [e.loss for e in self.evaluations]

    @property
    def perplexities(self) -> list[float]:
        """exp of each evaluated loss, in order."""
        return [e.perplexity for e in self.evaluations]

    def to_dict(self) -> dict:
        """Plain lists, for JSON."""
        return {
            "evaluations": [list(e) for e in self.evaluations],
            "halvings": [list(h) for h in self.halvings],
            "rate_changes": [list(r) for r in self.rate_changes],
            "step_loss": self.step_loss,
            "examples_seen": self.examples_seen,
            "final_loss": self.final_loss,
            "stop_reason": self.stop_reason,
            "train_seconds": self.train_seconds,
            "compile_seconds": self.compile_seconds,
        }

    def without_timings(self) -> dict:
        """to_dict() less the seconds: what two runs of the same steps share exactly."""
        return {
            k: v for k, v in self.to_dict().items() if k not in ("train_seconds", "compile_seconds")
        }

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        """Inverse of to_dict."""
        try:
            evaluations = [
                Evaluation(int(a), int(b), float(c), float(d)) for a, b, c, d in data["evaluations"]
            ]
            halvings = [
                Halving(int(a), int(b), float(c), float(d)) for a, b, c, d in data["halvings"]
            ]
            rate_changes = [  # absent in older checkpoints
                RateSet(int(a), int(b), float(c)) for a, b, c in data.get("rate_changes", [])
            ]
            step_loss = str(data.get("step_loss", ""))  # absent in older checkpoints
            examples_seen = int(data.get("examples_seen", 0))
            final = data.get("final_loss")  # absent in older checkpoints
            final_loss = None if final is None else float(final)
            stop_reason = str(data.get("stop_reason", ""))  # these three: absent in older ones
            train_seconds = float(data.get("train_seconds", 0.0))
            compile_seconds = float(data.get("compile_seconds", 0.0))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(f"not a training history (History.to_dict): {e!r}") from e
        return cls(
            evaluations, halvings, rate_changes, step_loss, examples_seen, final_loss,
            stop_reason, train_seconds, compile_seconds,
        )  # fmt: skip

    def rates_used(self) -> list[tuple[int, float]]:
        """(examples seen, rate) from each point on: every evaluation's rate and each rate set."""
        points = [(e.examples_seen, 0, e.learning_rate) for e in self.evaluations]
        points += [(r.examples_seen, 1, r.learning_rate) for r in self.rate_changes]
        return [(seen, rate) for seen, _, rate in sorted(points)]  # a rate set after its evaluation


DIVERGED_FACTOR = 1.5  # a loss this many times log C is half as bad again as a uniform guess


def divergence(loss: float, word_dim: int | None) -> str | None:
    """Why `loss` means the run diverged (None if it did not): NaN/inf, or above 1.5 log C.

    A model that knows nothing guesses uniformly and scores log C; one that has learned
    anything scores below. A loss half as bad again as that guess is no training run,
    even when it is finite (a huge learning rate can park the loss there). Without a
    vocabulary size (word_dim None) only NaN/inf counts.
    """
    if not math.isfinite(loss):
        return f"the loss is {loss}"
    if word_dim is None:
        return None
    limit = DIVERGED_FACTOR * math.log(word_dim)
    if loss > limit:
        return (
            f"the loss is {loss:.4g} nats per word, above {DIVERGED_FACTOR} x log C = {limit:.4g} "
            f"(a uniform guess over C = {word_dim} words scores {math.log(word_dim):.4g})"
        )
    return None


def record_evaluation(
    history: History,
    loss: float,
    learning_rate: float,
    epoch: int,
    examples_seen: int,
    halve: bool = True,
) -> float:
    """Add one evaluated loss; halve the learning rate if the loss rose since the last one.

    The tutorial's rule (`halve=False` only records). Returns the rate to use from now on.
    """
    evaluations = history.evaluations
    if halve and evaluations and loss > evaluations[-1].loss:
        new_rate = learning_rate * 0.5
        history.halvings.append(Halving(examples_seen, epoch, learning_rate, new_rate))
        learning_rate = new_rate
    evaluations.append(Evaluation(examples_seen, epoch, loss, learning_rate))
    return learning_rate
