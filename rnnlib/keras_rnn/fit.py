"""Keras' own training loop with the tutorial's evaluation and learning-rate halving (notebook 7).

train_with_sgd evaluates the loss before the first epoch and after every
`evaluate_loss_after` epochs, and halves the learning rate whenever the loss rose since the
last evaluation. `LossHistory` does the same inside Keras' `fit`, with the same rule
(rnnlib.training.history.record_evaluation), fills the same History (so one loss-curve
plot serves every backend) and calls the same `cb(model, history)` callbacks after each
evaluation (the live loss-curve widget). `fit_with_halving` is the one loop both Keras
models train with: the character LSTM and the word-level models.

Word-level sentences are ragged; a Keras batch is a rectangle. Each batch holds sentences
of one bucket length (rnnlib.data.batching), padded on the right; the padded targets get
sample weight 0 and the loss divides by the number of real words, so what Keras minimises
and reports is exactly `calculate_loss`'s cross-entropy per word.
"""

import time
from collections.abc import Callable, Sequence

import numpy as np

from rnnlib.data.batching import length_batches
from rnnlib.interface import (
    check_learning_rate,
    check_positive_int,
    check_positive_number,
    check_seed_or_generator,
    check_sentences,
)
from rnnlib.keras_rnn.devices import scope
from rnnlib.keras_rnn.layers import keras, precision
from rnnlib.training.history import (
    History,
    TrainingDiverged,
    divergence,
    evaluation_data,
    record_evaluation,
)

OPTIMIZERS = {"sgd": "SGD", "rmsprop": "RMSprop", "adam": "Adam"}
clock = time.monotonic  # what a time budget is measured with (a test can stand in for it)


class ShuffledBatches(keras.utils.PyDataset):
    """Batches for Keras fit, reshuffled every epoch by our own Generator (not global state).

    `make_batch(indices)` turns example indices into a (inputs, targets[, weights]) tuple.
    With `group_sizes` (sentence lengths), each batch holds sentences of one bucket length.
    """

    def __init__(self, n_examples: int, batch_size: int, make_batch, rng, group_sizes=None):
        super().__init__()
        self.n_examples, self.batch_size = n_examples, batch_size
        self.make_batch, self.rng = make_batch, rng
        self.group_sizes = group_sizes
        self.on_epoch_end()

    def on_epoch_end(self):
        if self.group_sizes is not None:
            self.batches = length_batches(self.group_sizes, self.batch_size, self.rng)
        else:
            order = self.rng.permutation(self.n_examples)
            self.batches = [
                order[i : i + self.batch_size] for i in range(0, self.n_examples, self.batch_size)
            ]

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        return self.make_batch(self.batches[index])


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
        check_positive_int(examples_per_epoch, "examples_per_epoch")
        check_positive_int(evaluate_loss_after, "evaluate_loss_after")
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
        self._batches = 0  # batches run in the current epoch

    @property
    def learning_rate(self) -> float:
        """The optimizer's current learning rate."""
        rate = self.model.optimizer.learning_rate
        return float(getattr(rate, "value", rate))  # a Keras Variable, or a plain number

    def on_train_begin(self, logs=None):
        evaluations = self.history.evaluations
        if not (evaluations and evaluations[-1].epoch == self.epoch):
            self.record(float(self.evaluate()))

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1

    def on_epoch_end(self, epoch, logs=None):
        # An epoch cut short by a time budget counts the share of its batches it ran.
        steps = (self.params or {}).get("steps") or self._batches or 1
        self.examples_seen += round(self.examples_per_epoch * min(1.0, self._batches / steps))
        self.epoch, self._batches = self.epoch + 1, 0
        self.history.examples_seen = self.examples_seen
        if self.epoch % self.evaluate_loss_after == 0 or self.model.stop_training:
            self.record(float(self.evaluate()))

    def record(self, loss: float) -> None:
        """Add one evaluated loss: halve the rate if it rose, then call the callbacks."""
        # The one divergence rule (NaN/inf, or above 1.5 log C), C = words or characters.
        size = getattr(self.rnn_model, "word_dim", getattr(self.rnn_model, "vector_size", None))
        reason = divergence(loss, size)
        if reason is not None:
            if self._good_weights is not None:
                self.model.set_weights(self._good_weights)
            self.model.stop_training = True
            raise TrainingDiverged(
                f"training diverged: {reason} after {self.epoch} epochs (learning rate "
                f"{self.learning_rate:g}); the model holds the weights of the last good "
                "evaluation. Try a smaller learning rate.",
                self.history,
                self.epoch,
                self.examples_seen,
            )
        self._good_weights = [np.array(v.value) for v in self.model.weights]
        rate = self.learning_rate
        new_rate = record_evaluation(
            self.history, loss, rate, self.epoch, self.examples_seen, halve=self.halve_on_rise
        )
        if new_rate != rate:
            self.model.optimizer.learning_rate = new_rate
        for callback in self.rnn_callbacks:
            callback(self.rnn_model, self.history)


class Deadline(keras.callbacks.Callback):
    """Stop Keras' fit at the first batch that ends after `minutes` of wall-clock time."""

    def __init__(self, minutes: float):
        super().__init__()
        self.seconds = 60.0 * minutes
        self.start = None

    def on_train_begin(self, logs=None):
        self.start = clock()

    def on_train_batch_end(self, batch, logs=None):
        if clock() - self.start >= self.seconds:
            self.model.stop_training = True


def fit_with_halving(
    keras_model,
    batches: ShuffledBatches,
    evaluate: Callable[[], float],
    n_examples: int,
    nepoch: int | None,
    *,
    minutes: float | None = None,
    evaluate_loss_after: int = 1,
    history: History | None = None,
    callbacks: Sequence[Callable] = (),
    model=None,
    halve_on_rise: bool = True,
    verbose="auto",
    distribution=None,
) -> History:
    """Keras' fit for `nepoch` epochs or `minutes` of wall-clock time, with LossHistory.

    Returns the History it filled. With `minutes` and no nepoch, fit runs until the time
    is spent; the model is evaluated where it stopped. With a `distribution`
    (rnnlib.keras_rnn.devices), Keras cuts each batch over its devices.
    """
    if minutes is not None:
        minutes = check_positive_number(minutes, "minutes")
    if nepoch is None:
        if minutes is None:
            raise ValueError("give nepoch, minutes or both")
        nepoch = 10**6  # the time budget ends the run
    check_positive_int(nepoch, "nepoch")
    tracker = LossHistory(
        evaluate,
        n_examples,
        evaluate_loss_after=evaluate_loss_after,
        history=history,
        callbacks=callbacks,
        model=model,
        halve_on_rise=halve_on_rise,
    )
    # shuffle=False: our batches are already shuffled by a seeded Generator; Keras would
    # reshuffle them with Python's global random state and break reproducibility.
    callbacks = [tracker] if minutes is None else [Deadline(minutes), tracker]
    with scope(distribution):
        keras_model.fit(batches, epochs=nepoch, callbacks=callbacks, verbose=verbose, shuffle=False)
    return tracker.history


# --- the word-level models -------------------------------------------------------------------


def compile_model(model, optimizer: str = "rmsprop", learning_rate: float = 0.001) -> None:
    """Give a word model a Keras optimizer ('sgd', 'rmsprop' or 'adam') and the masked loss."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
    learning_rate = check_learning_rate(learning_rate)
    with precision(model.dtype), scope(model.distribution):  # its state on every device
        model.logits_model.compile(
            optimizer=getattr(keras.optimizers, OPTIMIZERS[optimizer])(learning_rate),
            # Sum over real words / number of real words: padding (weight 0) counts for
            # nothing. Keras losses compute in float32 unless told the model's dtype.
            loss=keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, reduction="mean_with_sample_weight", dtype=model.dtype
            ),
        )


def train_on_batch(model, xs, ys) -> float:
    """One optimizer step on one padded, masked batch; returns its loss per word."""
    if getattr(model.logits_model, "optimizer", None) is None:  # never compiled
        compile_model(model)
    pairs = check_sentences(xs, ys, model.word_dim)
    with precision(model.dtype), scope(model.distribution):
        ids, targets, weights = model.padded(pairs)
        return float(model.logits_model.train_on_batch(ids, targets, sample_weight=weights))


def fit(
    model,
    X,
    Y,
    nepoch: int | None = 1,
    batch_size: int = 32,
    learning_rate: float = 0.001,
    optimizer: str = "rmsprop",
    *,
    X_val=None,
    y_val=None,
    evaluate_loss_after: int = 1,
    callbacks: Sequence[Callable] = (),
    history: History | None = None,
    shuffle_seed: int = 0,
    verbose="auto",
    minutes: float | None = None,
    devices=None,
) -> History:
    """Train a word model with Keras' fit; evaluate, halve the rate, call cb(model, history).

    With `minutes` (and nepoch=None), train for that much wall-clock time instead.

    `devices` (N or "all") first moves the model data-parallel onto that many devices
    (model.use_devices; None keeps it where it is, one device unless moved). `batch_size`
    is the global batch, cut into N slices of batch_size / N rows: a step is the one that
    one device takes on the whole batch, so the learning rate does not change with N.
    A batch_size that N does not divide gets rows of weight 0 (no effect on the loss).

    The loss is evaluated (on X_val/y_val when given) before the first epoch and after
    every `evaluate_loss_after` epochs, as train_with_sgd does; pass the History of an
    earlier run as `history` to continue its curve.
    """
    pairs = check_sentences(X, Y, model.word_dim)
    check_positive_int(batch_size, "batch_size")
    rng = np.random.default_rng(check_seed_or_generator(shuffle_seed, "shuffle_seed"))
    eval_X, eval_Y = evaluation_data(X, Y, X_val, y_val)
    if devices is not None:
        model.use_devices(devices)
    compile_model(model, optimizer, learning_rate)

    def make_batch(rows):
        # Always batch_size rows (missing ones weigh 0), so each length compiles once.
        return model.padded([pairs[i] for i in rows], batch_size)

    batches = ShuffledBatches(
        len(pairs),
        batch_size,
        make_batch,
        rng,
        group_sizes=[len(x) for x, _ in pairs],
    )
    with precision(model.dtype):
        return fit_with_halving(
            model.logits_model,
            batches,
            lambda: model.calculate_loss(eval_X, eval_Y),
            len(pairs),
            nepoch,
            minutes=minutes,
            evaluate_loss_after=evaluate_loss_after,
            history=history,
            callbacks=callbacks,
            model=model,
            verbose=verbose,
            distribution=model.distribution,
        )
