"""Training with SGD for any backend: the original tutorial's outer loop, made resumable (notebook 4).

As in the tutorial, the loss is evaluated before epoch 0 and every `evaluate_loss_after`
epochs, and the learning rate is halved whenever it rose since the previous evaluation.
Added: a History to plot (the original returned nothing), callbacks after each evaluation,
a progress bar, seeded shuffling, gradient clipping, divergence detection, and checkpoints
from which training continues exactly as if it had never stopped (Ctrl-C included; what
a checkpoint saves to make that possible is rnnlib.training.state).
"""

import math
from collections.abc import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from rnnlib.interface import (
    check_clip_norm,
    check_int_at_least,
    check_learning_rate,
    check_positive_int,
    check_seed_or_generator,
)
from rnnlib.training.checkpoint import load_checkpoint, save_checkpoint
from rnnlib.training.history import (
    Evaluation,
    Halving,
    History,
    TrainingDiverged,
    evaluation_data,
    record_evaluation,
)
from rnnlib.training.state import TrainingState, fresh_state, hold_interrupts, state_from_checkpoint

__all__ = [
    "Evaluation",
    "Halving",
    "History",
    "TrainingDiverged",
    "resume_training",
    "train_with_sgd",
]


def _check_arguments(X, y, learning_rate, nepoch, evaluate_loss_after, batch_size, clip_norm):
    if len(X) != len(y):
        raise ValueError(f"X_train has {len(X)} sentences but y_train has {len(y)}")
    if len(X) == 0:
        raise ValueError("X_train is empty: expected at least one sentence")
    check_learning_rate(learning_rate)
    check_int_at_least(nepoch, "nepoch", 0)
    check_positive_int(batch_size, "batch_size")
    check_positive_int(evaluate_loss_after, "evaluate_loss_after")
    check_clip_norm(clip_norm)


def train_with_sgd(
    model,
    X_train: Sequence,
    y_train: Sequence,
    learning_rate: float = 0.005,
    nepoch: int = 100,
    evaluate_loss_after: int = 5,
    *,
    X_val=None,
    y_val=None,
    callbacks: Sequence[Callable] = (),
    shuffle_seed=None,
    clip_norm: float | None = None,
    batch_size: int = 1,
    checkpoint_path=None,
    vocab=None,
    progress: bool = True,
    history: History | None = None,
    start_epoch: int = 0,
    resume_from=None,
    run_info: dict | None = None,
) -> History:
    """Train `model` in place with SGD until `nepoch` epochs are done; return the History.

    The loss (on X_val/y_val when given) is evaluated after every `evaluate_loss_after`
    epochs, from epoch 0 on; when it rose, the learning rate is halved. Each evaluation
    saves a checkpoint (with `checkpoint_path`) and calls every `cb(model, history)`.
    `shuffle_seed` (an int or a Generator) reshuffles the examples every epoch.
    `resume_from` (a path or a loaded Checkpoint) continues a checkpoint's run exactly: its weights, learning rate,
    history, position and shuffling state replace those given here.
    `run_info` (JSON-safe) is saved in every checkpoint's training state as "run" (the CLI
    keeps its data options there); a resumed run keeps the saved one unless given anew.
    Raises TrainingDiverged on a NaN/inf loss or parameters (the model is left at its last
    good parameters); on KeyboardInterrupt a checkpoint is saved first, then it re-raises.
    """
    _check_arguments(
        X_train, y_train, learning_rate, nepoch, evaluate_loss_after, batch_size, clip_norm
    )
    check_seed_or_generator(shuffle_seed, "shuffle_seed")
    eval_data = evaluation_data(X_train, y_train, X_val, y_val)
    if batch_size > 1 and not hasattr(model, "sgd_step_batch"):
        raise TypeError(
            f"batch_size={batch_size} needs a model with sgd_step_batch; "
            f"{type(model).__name__} has none (use batch_size=1)"
        )
    n = len(X_train)
    if resume_from is not None:
        if history is not None or start_epoch or shuffle_seed is not None:
            raise ValueError(
                "resume_from brings its own history, epoch and shuffling state: "
                "do not pass history, start_epoch or shuffle_seed as well"
            )
        state, saved_vocab = state_from_checkpoint(resume_from, model, n)
        vocab = vocab if vocab is not None else saved_vocab
        state.run = run_info if run_info is not None else state.run
    else:
        state = fresh_state(learning_rate, n, history, start_epoch, shuffle_seed, run_info)
    settings = {"nepoch": nepoch, "evaluate_loss_after": evaluate_loss_after}
    settings.update(clip_norm=clip_norm, batch_size=batch_size, n_train=n)
    run = _Run(model, (X_train, y_train), eval_data, state, settings, callbacks)
    run.checkpoint_path, run.vocab = checkpoint_path, vocab
    run.run(progress)
    return state.history


class _Run:
    """One call of train_with_sgd: the loop and what it needs to evaluate, step and save."""

    def __init__(self, model, data, eval_data, state: TrainingState, settings: dict, callbacks):
        self.model, (self.X, self.y), self.eval_data = model, data, eval_data
        self.state, self.settings, self.callbacks = state, settings, list(callbacks)
        clip_norm = settings["clip_norm"]
        self.step_options = {} if clip_norm is None else {"clip_norm": clip_norm}
        self.good_params = model.get_params()  # restored if a step produces NaN/inf
        self.evaluated_params = None  # restored if an evaluation gives a NaN/inf loss
        self.checkpoint_path = self.vocab = self.bar = None
        self.log = False

    def run(self, progress: bool) -> None:
        """The training loop under a progress bar; Ctrl-C saves a checkpoint, then re-raises."""
        total, n = self.settings["nepoch"] * len(self.X), len(self.X)
        self.log = progress
        with tqdm(total=total, disable=not progress, unit="example", desc="SGD") as self.bar:
            self.bar.update(min(self.state.epoch * n + self.state.position, total))  # resumed
            try:
                self.train()
            except KeyboardInterrupt:
                self.save()  # every update was completed (interrupts are held): resumable
                raise

    def train(self) -> None:
        """Evaluate on schedule and train epoch by epoch until `nepoch` epochs are done."""
        state, nepoch = self.state, self.settings["nepoch"]
        while True:
            if state.position == 0 and state.epoch % self.settings["evaluate_loss_after"] == 0:
                self.evaluate()
            if state.epoch >= nepoch:
                break
            self.train_epoch()
            with hold_interrupts():
                state.epoch, state.position, state.epoch_rng_state = state.epoch + 1, 0, None
        if not self._evaluated(nepoch):
            self.save()  # the end state, when the last epoch was not an evaluation epoch

    def _evaluated(self, epoch: int) -> bool:
        evaluations = self.state.history.evaluations
        return bool(evaluations) and evaluations[-1].epoch == epoch

    def evaluate(self) -> None:
        """Evaluate the loss, halve the learning rate if it rose, save, call the callbacks."""
        state = self.state
        if self._evaluated(state.epoch):
            return  # resumed right after this evaluation
        loss = float(self.model.calculate_loss(*self.eval_data))
        if not math.isfinite(loss):
            if self.evaluated_params is not None:
                self.model.set_params(self.evaluated_params)
            raise TrainingDiverged(
                f"the loss is {loss} after {state.epoch} epochs (learning rate "
                f"{state.learning_rate:g}); the model holds the parameters of the last "
                "evaluation with a finite loss. Try a smaller learning_rate, or clip_norm.",
                state.history,
                state.epoch,
                state.examples_seen,
            )
        self.evaluated_params = self.model.get_params()
        with hold_interrupts():
            state.learning_rate = record_evaluation(
                state.history, loss, state.learning_rate, state.epoch, state.examples_seen
            )
        if self.log:
            self.bar.set_postfix(loss=f"{loss:.4f}", lr=f"{state.learning_rate:g}")
            self.bar.write(
                f"epoch {state.epoch}, {state.examples_seen} examples seen: "
                f"loss {loss:.6f}, learning rate {state.learning_rate:g}"
            )
        self.save()
        for callback in self.callbacks:
            callback(self.model, state.history)

    def train_epoch(self) -> None:
        """SGD steps over the rest of the current epoch, in this epoch's (shuffled) order."""
        state, n, batch_size = self.state, len(self.X), self.settings["batch_size"]
        order = np.arange(n)
        if state.rng is not None:
            state.epoch_rng_state = state.rng_state()  # saved, to redraw `order` on resuming
            order = state.rng.permutation(n)
        for start in range(state.position, n, batch_size):
            batch = order[start : start + batch_size]
            with hold_interrupts():
                self.step(batch)
                state.position = start + len(batch)
                state.examples_seen += len(batch)
            self.bar.update(len(batch))

    def step(self, batch: np.ndarray) -> None:
        """One SGD step on a batch of example indices; NaN/inf parameters are rolled back."""
        model, lr, state = self.model, self.state.learning_rate, self.state
        if len(batch) == 1 and self.settings["batch_size"] == 1:
            model.sgd_step(self.X[batch[0]], self.y[batch[0]], lr, **self.step_options)
        else:
            xs, ys = [self.X[i] for i in batch], [self.y[i] for i in batch]
            model.sgd_step_batch(xs, ys, lr, **self.step_options)
        new_params = model.get_params()
        if not all(np.all(np.isfinite(p)) for p in new_params.values()):
            model.set_params(self.good_params)
            raise TrainingDiverged(
                f"a step on examples {batch.tolist()} in epoch {state.epoch} made the parameters "
                f"NaN/inf (learning rate {lr:g}); the model holds the parameters from before it. "
                "Try a smaller learning_rate, or clip_norm.",
                state.history,
                state.epoch,
                state.examples_seen,
            )
        self.good_params = new_params

    def save(self) -> None:
        if self.checkpoint_path is not None:
            training_state = self.state.to_dict(self.settings)
            save_checkpoint(self.checkpoint_path, self.model, self.vocab, training_state)


def resume_training(path, X_train, y_train, **overrides):
    """Continue the run saved at `path` on the same data; return (model, History).

    The saved settings (nepoch, evaluate_loss_after, clip_norm, batch_size) are reused unless
    given in `overrides`; checkpoints keep going to `path` unless checkpoint_path says
    otherwise. Other keyword arguments are train_with_sgd's.
    """
    checkpoint = load_checkpoint(path)
    if not checkpoint.training_state or "settings" not in checkpoint.training_state:
        raise ValueError(f"{checkpoint.path} holds no training state to resume from")
    settings = dict(checkpoint.training_state["settings"])
    settings.pop("n_train", None)
    options = {**settings, "checkpoint_path": checkpoint.path, **overrides}
    history = train_with_sgd(checkpoint.model, X_train, y_train, resume_from=checkpoint, **options)
    return checkpoint.model, history
