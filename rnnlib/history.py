"""A training run's record: the evaluated losses and the learning-rate halvings.

Every backend's trainer fills the same History, so one loss-curve plot serves them all.
"""

from dataclasses import dataclass, field
from typing import NamedTuple


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


class Halving(NamedTuple):
    """A learning-rate halving, decided at the evaluation after `epoch` epochs."""

    examples_seen: int
    epoch: int
    old_lr: float
    new_lr: float


@dataclass
class History:
    """Everything train_with_sgd decided: evaluations and halvings, in order."""

    evaluations: list[Evaluation] = field(default_factory=list)
    halvings: list[Halving] = field(default_factory=list)
    # The loss each step followed, e.g. "sum per sentence" or "mean per target token"
    # (rnnlib.train says which runs use which); "" when the trainer did not say.
    step_loss: str = ""

    @property
    def losses(self) -> list[float]:
        """The evaluated losses, in order."""
        return [e.loss for e in self.evaluations]

    def to_dict(self) -> dict:
        """Plain lists, for JSON."""
        return {
            "evaluations": [list(e) for e in self.evaluations],
            "halvings": [list(h) for h in self.halvings],
            "step_loss": self.step_loss,
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
            step_loss = str(data.get("step_loss", ""))  # absent in older checkpoints
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not a training history (History.to_dict): {e!r}") from e
        return cls(evaluations, halvings, step_loss)
