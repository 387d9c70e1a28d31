"""Training a word-level Keras model with Keras' own loop: padded, masked batches.

Sentences are ragged; a Keras batch is a rectangle. Each batch holds sentences of one
padded length (so JAX compiles only a few shapes), padded on the right; the padded
targets get sample weight 0, and the loss divides by the number of real words, so what
Keras minimises and reports is exactly `calculate_loss`'s cross-entropy per word.
LossHistory adds the tutorial's evaluation and learning-rate halving.
"""

from collections.abc import Callable, Sequence

import numpy as np

from rnnlib.history import History, evaluation_data
from rnnlib.keras_common import (
    ShuffledBatches,
    check_sentences,
    keras,
    positive_int,
    precision,
)
from rnnlib.keras_history import LossHistory

OPTIMIZERS = {"sgd": "SGD", "rmsprop": "RMSprop", "adam": "Adam"}


def compile_model(model, optimizer: str = "rmsprop", learning_rate: float = 0.001) -> None:
    """Give `model` a Keras optimizer ('sgd', 'rmsprop' or 'adam') and the masked loss."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
    if not np.isfinite(learning_rate) or learning_rate <= 0:
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    with precision(model.dtype):
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
    if model.logits_model.optimizer is None:
        compile_model(model)
    xs, ys = check_sentences(xs, ys, model.word_dim)
    with precision(model.dtype):
        ids, targets, weights = model.padded(xs, ys)
        return float(model.logits_model.train_on_batch(ids, targets, sample_weight=weights))


def fit(
    model,
    X,
    Y,
    nepoch: int = 1,
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
) -> History:
    """Train with Keras' fit; evaluate, halve the learning rate, call cb(model, history).

    The loss is evaluated (on X_val/y_val when given) before the first epoch and after
    every `evaluate_loss_after` epochs, as train_with_sgd does; pass the History of an
    earlier run as `history` to continue its curve.
    """
    X, Y = check_sentences(X, Y, model.word_dim)
    positive_int(batch_size, "batch_size")
    positive_int(nepoch, "nepoch")
    eval_X, eval_Y = evaluation_data(X, Y, X_val, y_val)
    compile_model(model, optimizer, learning_rate)
    tracker = LossHistory(
        lambda: model.calculate_loss(eval_X, eval_Y),
        len(X),
        evaluate_loss_after=evaluate_loss_after,
        history=history,
        callbacks=callbacks,
        model=model,
    )

    def make_batch(rows):
        # Always batch_size rows (missing ones weigh 0), so each length compiles once.
        return model.padded([X[i] for i in rows], [Y[i] for i in rows], batch_size)

    batches = ShuffledBatches(
        len(X),
        batch_size,
        make_batch,
        np.random.default_rng(shuffle_seed),
        group_sizes=[len(x) for x in X],
    )
    with precision(model.dtype):
        # shuffle=False: our batches are already shuffled by a seeded Generator; Keras would
        # reshuffle them with Python's global random state and break reproducibility.
        model.logits_model.fit(
            batches, epochs=nepoch, callbacks=[tracker], verbose=verbose, shuffle=False
        )
    return tracker.history
