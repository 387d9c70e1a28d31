"""The tutorial's learning-rate halving as a Keras callback, filling rnnlib's History.

train_with_sgd evaluates the loss before the first epoch and after every
`evaluate_loss_after` epochs, and halves the learning rate whenever the loss rose since
the last evaluation. This callback does the same inside Keras' `fit`, writes the same
History (so one loss-curve plot serves every backend), and calls the same
`cb(model, history)` callbacks after each evaluation (the live loss-curve widget).
"""

import math
from collections.abc import Callable, Sequence

import numpy as np

from rnnlib.history import Evaluation, Halving, History

# keras comes through keras_common, which chooses the backend before Keras loads.
from rnnlib.keras_common import keras, positive_int
from rnnlib.train import TrainingDiverged


class LossHistory(keras.callbacks.Callback):
    """Evaluate, halve the learning rate when the loss rose, record, call cb(model, history)."""

    def __init__(
        self,
        evaluate: Callable[[], float],
        examples_per_epoch: int,
        *,
        evaluate_loss_after: int = 1,
        history: History | None = None,
        callbacks: Sequence[Callable] = (),
        model=None,
        halve_on_rise: bool = True,
    ):
        super().__init__()
        positive_int(examples_per_epoch, "examples_per_epoch")
        positive_int(evaluate_loss_after, "evaluate_loss_after")
        self.evaluate = evaluate
        self.examples_per_epoch = examples_per_epoch
        self.evaluate_loss_after = evaluate_loss_after
        self.history = history if history is not None else History()
        self.rnn_callbacks = list(callbacks)
        self.rnn_model = model  # what cb(model, history) receives: the rnnlib wrapper
        self.halve_on_rise = halve_on_rise
        # Continue where an earlier history stopped, so several fit calls make one curve.
        last = self.history.evaluations[-1] if self.history.evaluations else None
        self.epoch = last.epoch if last else 0
        self.examples_seen = last.examples_seen if last else 0
        self._good_weights = None  # the Keras weights at the last finite evaluation

    @property
    def learning_rate(self) -> float:
        """The optimizer's current learning rate."""
        rate = self.model.optimizer.learning_rate
        return float(getattr(rate, "value", rate))  # a Keras Variable, or a plain number

    def on_train_begin(self, logs=None):
        evaluations = self.history.evaluations
        if not (evaluations and evaluations[-1].epoch == self.epoch):
            self.record(float(self.evaluate()))

    def on_epoch_end(self, epoch, logs=None):
        self.epoch += 1
        self.examples_seen += self.examples_per_epoch
        if self.epoch % self.evaluate_loss_after == 0:
            self.record(float(self.evaluate()))

    def record(self, loss: float) -> None:
        """Add one evaluated loss: halve the rate if it rose, then call the callbacks."""
        if not math.isfinite(loss):
            if self._good_weights is not None:
                self.model.set_weights(self._good_weights)
            self.model.stop_training = True
            raise TrainingDiverged(
                f"the loss is {loss} after {self.epoch} epochs (learning rate "
                f"{self.learning_rate:g}); the model holds the weights of the last finite "
                "evaluation. Try a smaller learning rate.",
                self.history,
                self.epoch,
                self.examples_seen,
            )
        self._good_weights = [np.array(v.value) for v in self.model.weights]
        evaluations = self.history.evaluations
        rate = self.learning_rate
        if self.halve_on_rise and evaluations and loss > evaluations[-1].loss:
            self.model.optimizer.learning_rate = rate * 0.5
            self.history.halvings.append(
                Halving(self.examples_seen, self.epoch, rate, self.learning_rate)
            )
            rate = self.learning_rate
        evaluations.append(Evaluation(self.examples_seen, self.epoch, loss, rate))
        for callback in self.rnn_callbacks:
            callback(self.rnn_model, self.history)
