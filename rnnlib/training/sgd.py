"""Training with SGD for any backend: the original tutorial's outer loop, made resumable (notebook 4).

As in the tutorial, the loss is evaluated before epoch 0 and every `evaluate_loss_after`
epochs, and the learning rate is halved whenever it rose since the previous evaluation.
Added: a History to plot (the original returned nothing), callbacks after each evaluation,
a progress bar, seeded shuffling, gradient clipping, divergence detection, other optimisers
(rnnlib.training.optimizers: momentum, Adam), and checkpoints from which training continues exactly
as if it had never stopped (Ctrl-C included; what a checkpoint saves to make that possible
is rnnlib.training.state).

Which loss a step follows (History.step_loss says it for every run):

- batch_size=1 without an optimizer: the tutorial's `sgd_step`, on the sentence's summed
  loss, so long sentences take bigger steps;
- batches (`sgd_step_batch`) and optimisers (`step_batch`): the model's batch loss,
  `model.batch_loss`; RNNNumpyFast's is the mean per target token, so one learning rate
  serves any batch size and sentence length. Models that do not say sum over the batch.
"""

import os
import time
from collections.abc import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from rnnlib.interface import (
    check_clip_norm,
    check_int_at_least,
    check_learning_rate,
    check_positive_int,
    check_positive_number,
    check_seed_or_generator,
)
from rnnlib.training.checkpoint import load_checkpoint, save_checkpoint
from rnnlib.training.history import (
    Evaluation,
    Halving,
    History,
    TrainingDiverged,
    divergence,
    evaluation_data,
    record_evaluation,
)
from rnnlib.training.optimizers import SGD, Optimizer, make_optimizer
from rnnlib.training.state import TrainingState, fresh_state, hold_interrupts, state_from_checkpoint

__all__ = [
    "Evaluation",
    "Halving",
    "History",
    "TrainingDiverged",
    "resume_training",
    "train_with_sgd",
]


clock = time.monotonic  # what a time budget is measured with (a test can stand in for it)
UNLIMITED_EPOCHS = 10**9  # nepoch of a run that only a time budget stops
SUMMED_PER_SENTENCE = "sum per sentence"  # History.step_loss of the tutorial's sgd_step
SUMMED_PER_BATCH = "sum per batch"  # of a model that does not give its batch_loss


def _check_arguments(X, y, learning_rate, nepoch, evaluate_loss_after, batch_size, clip_norm):
    if len(X) != len(y):
        raise ValueError(f"X_train has {len(X)} sentences but y_train has {len(y)}")
    if len(X) == 0:
        raise ValueError("X_train is empty: expected at least one sentence")
    if learning_rate is not None:  # None: the optimizer's own default
        check_learning_rate(learning_rate)
    check_int_at_least(nepoch, "nepoch", 0)
    check_positive_int(batch_size, "batch_size")
    check_positive_int(evaluate_loss_after, "evaluate_loss_after")
    check_clip_norm(clip_norm)


def _optimizer(optimizer, learning_rate, model) -> Optimizer | None:
    """The Optimizer a run uses (None: the model's own sgd_step / sgd_step_batch)."""
    if isinstance(optimizer, str):
        rate = {} if learning_rate is None else {"learning_rate": learning_rate}
        optimizer = make_optimizer(optimizer, **rate)
    elif optimizer is not None and learning_rate is not None:
        raise ValueError(
            f"learning_rate={learning_rate!r} and optimizer={optimizer!r}: give the learning "
            "rate to the optimizer, or the optimizer by name"
        )
    elif optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"optimizer must be a name or an rnnlib.training.optimizers one, got {optimizer!r}"
        )
    if optimizer is not None and type(optimizer) is not SGD and not hasattr(model, "step_batch"):
        raise TypeError(
            f"optimizer={optimizer!r} needs a model with step_batch; {type(model).__name__} "
            "has none (leave optimizer out, or use 'sgd')"
        )
    return optimizer


def train_with_sgd(
    model,
    X_train: Sequence,
    y_train: Sequence,
    learning_rate: float | None = None,
    nepoch: int | None = None,
    evaluate_loss_after: int = 5,
    *,
    minutes: float | None = None,
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
    optimizer=None,
    run_info: dict | None = None,
    keep_best: bool = False,
) -> History:
    """Train `model` in place until `nepoch` epochs are done or `minutes` are spent; return the History.

    `nepoch` defaults to 100, or, with a wall-clock budget `minutes` and no nepoch, to as
    many epochs as the budget allows: the run stops at the first step after the budget is
    spent (so "trained for the same time" is a setting; results then depend on the
    machine's speed). The budget counts this call's time, evaluations included.

    `learning_rate` defaults to 0.005 (the tutorial's), or to the optimizer's own rate.
    `optimizer` ("sgd", "momentum", "adam", or an rnnlib.training.optimizers instance) steps with
    `model.step_batch` on the mean loss per target token; without one, steps are the
    model's `sgd_step` (batch_size=1: summed loss of the sentence) or `sgd_step_batch`
    (its batch_loss). History.step_loss records which. The halving rule lowers
    optimizer.learning_rate, and checkpoints carry the optimizer's state.

    The loss (on X_val/y_val when given) is evaluated after every `evaluate_loss_after`
    epochs, from epoch 0 on; when it rose, the learning rate is halved. Each evaluation
    saves a checkpoint (with `checkpoint_path`) and calls every `cb(model, history)`.
    `shuffle_seed` (an int or a Generator) reshuffles the examples every epoch.
    `resume_from` (a path or a loaded Checkpoint) continues a checkpoint's run exactly: its weights, learning rate,
    history, position, shuffling state and optimizer state replace those given here.
    `run_info` (JSON-safe) is saved in every checkpoint's training state as "run" (the CLI
    keeps its data options there); a resumed run keeps the saved one unless given anew.
    `keep_best`: at the end, if an earlier evaluation had a lower loss than the model has
    now, return to that evaluation's parameters (early stopping: past that point the model
    was learning its training sentences, not the language).
    The model is always checked at the end, also when the last epoch is not an evaluation
    epoch. Raises TrainingDiverged when an evaluated loss is NaN/inf or above 1.5 log C (half
    as bad again as a uniform guess), or a step makes the parameters NaN/inf: the model is
    left at its last good parameters. On KeyboardInterrupt a checkpoint is saved first,
    then it re-raises.
    """
    if minutes is not None:
        minutes = check_positive_number(minutes, "minutes")
    if nepoch is None:
        nepoch = 100 if minutes is None else UNLIMITED_EPOCHS
    _check_arguments(
        X_train, y_train, learning_rate, nepoch, evaluate_loss_after, batch_size, clip_norm
    )
    check_seed_or_generator(shuffle_seed, "shuffle_seed")
    eval_data = evaluation_data(X_train, y_train, X_val, y_val)
    optimizer = _optimizer(optimizer, learning_rate, model)
    if optimizer is not None:
        learning_rate = optimizer.learning_rate
    learning_rate = 0.005 if learning_rate is None else learning_rate
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
        state, saved_vocab = state_from_checkpoint(resume_from, model, n, optimizer)
        vocab = vocab if vocab is not None else saved_vocab
        state.run = run_info if run_info is not None else state.run
    else:
        state = fresh_state(learning_rate, n, history, start_epoch, shuffle_seed, run_info)
        state.optimizer = optimizer
    if state.optimizer is not None:
        state.optimizer.learning_rate = state.learning_rate  # the saved run's, when resumed
    state.history.step_loss = _step_loss(model, batch_size, state.optimizer)
    settings = {"nepoch": nepoch, "evaluate_loss_after": evaluate_loss_after, "minutes": minutes}
    settings["keep_best"] = keep_best
    settings.update(clip_norm=clip_norm, batch_size=batch_size, n_train=n)
    run = _Run(model, (X_train, y_train), eval_data, state, settings, callbacks)
    run.checkpoint_path, run.vocab = checkpoint_path, vocab
    run.run(progress)
    return state.history


def _step_loss(model, batch_size: int, optimizer) -> str:
    """Which loss the steps of a run follow (see the module's docstring)."""
    if batch_size == 1 and (optimizer is None or not hasattr(model, "step_batch")):
        return SUMMED_PER_SENTENCE
    return getattr(model, "batch_loss", SUMMED_PER_BATCH)


class _Run:
    """One call of train_with_sgd: the loop and what it needs to evaluate, step and save."""

    def __init__(self, model, data, eval_data, state: TrainingState, settings: dict, callbacks):
        self.model, (self.X, self.y), self.eval_data = model, data, eval_data
        self.state, self.settings, self.callbacks = state, settings, list(callbacks)
        clip_norm = settings["clip_norm"]
        self.step_options = {} if clip_norm is None else {"clip_norm": clip_norm}
        self.good_params = model.get_params()  # restored if a step produces NaN/inf
        self.evaluated_params = None  # restored if an evaluation gives a NaN/inf loss
        self.best = None  # (loss, parameters) of the best evaluation of this call
        self.checkpoint_path = self.vocab = self.bar = None
        self.log = False

    def run(self, progress: bool) -> None:
        """The training loop under a progress bar; Ctrl-C saves a checkpoint, then re-raises."""
        minutes, n = self.settings["minutes"], len(self.X)
        self.deadline = None if minutes is None else clock() + 60 * minutes
        # A budget with no epoch count has no known end: the bar then counts examples only.
        budget_only = self.settings["nepoch"] >= UNLIMITED_EPOCHS
        total = None if budget_only else self.settings["nepoch"] * n
        self.log = progress
        # RNNLIB_PROGRESS=text (make book): no live bar, whose saved picture would stay at 0%,
        # but one line at the end.
        text_only = os.environ.get("RNNLIB_PROGRESS", "") == "text"
        started = time.perf_counter()
        bar_off = not progress or text_only
        with tqdm(total=total, disable=bar_off, unit="example", desc="SGD") as self.bar:
            done = self.state.epoch * n + self.state.position  # when resumed
            self.bar.update(done if total is None else min(done, total))
            try:
                self.train()
            except KeyboardInterrupt:
                self.save()  # every update was completed (interrupts are held): resumable
                raise
        if progress and text_only:
            seconds = time.perf_counter() - started
            print(f"SGD: {self.state.examples_seen:,} examples seen, {seconds:.0f} s", flush=True)

    def train(self) -> None:
        """Evaluate on schedule and train epoch by epoch until nepoch or the budget is done."""
        state, nepoch = self.state, self.settings["nepoch"]
        while True:
            if state.position == 0 and state.epoch % self.settings["evaluate_loss_after"] == 0:
                self.evaluate()
            if state.epoch >= nepoch or self.out_of_time():
                break
            self.train_epoch()
            if state.position < len(self.X):
                break  # the budget ran out inside the epoch
            with hold_interrupts():
                state.epoch, state.position, state.epoch_rng_state = state.epoch + 1, 0, None
        final_loss = None
        if not self._evaluated(state.epoch):
            final_loss = self.check_end()  # the end state is always checked, on the schedule or not
        if self.settings.get("keep_best") and self.best is not None:
            best_loss, best_params = self.best
            if final_loss is None:
                final_loss = state.history.evaluations[-1].loss
            if best_loss < final_loss:
                self.model.set_params(best_params)
                self.save()

    def check_end(self) -> float:
        """Apply the divergence rule to the final model, save it; return its loss.

        Off the evaluation schedule, so it is not recorded and halves nothing: a run stopped
        and resumed must take the same steps as one that never stopped.
        """
        loss = float(self.model.calculate_loss(*self.eval_data))
        self.raise_if_diverged(loss)
        self.save()
        return loss

    def raise_if_diverged(self, loss: float) -> None:
        """TrainingDiverged, with the last good parameters restored, if `loss` says so."""
        reason = divergence(loss, self.model.word_dim)
        if reason is None:
            return
        state = self.state
        if self.evaluated_params is not None:
            self.model.set_params(self.evaluated_params)
        raise TrainingDiverged(
            f"training diverged: {reason} after {state.epoch} epochs (learning rate "
            f"{state.learning_rate:g}); the model holds the parameters of the last good "
            "evaluation. Try a smaller learning_rate, or clip_norm.",
            state.history,
            state.epoch,
            state.examples_seen,
        )

    def out_of_time(self) -> bool:
        """Whether the wall-clock budget (minutes=) is spent."""
        return self.deadline is not None and clock() >= self.deadline

    def _evaluated(self, epoch: int) -> bool:
        evaluations = self.state.history.evaluations
        return (
            bool(evaluations)
            and evaluations[-1].epoch == epoch
            and evaluations[-1].examples_seen == self.state.examples_seen
        )

    def evaluate(self) -> None:
        """Evaluate the loss, halve the learning rate if it rose, save, call the callbacks."""
        state = self.state
        if self._evaluated(state.epoch):
            return  # resumed right after this evaluation
        loss = float(self.model.calculate_loss(*self.eval_data))
        self.raise_if_diverged(loss)
        self.evaluated_params = self.model.get_params()
        if self.best is None or loss < self.best[0]:
            self.best = (loss, self.evaluated_params)
        with hold_interrupts():
            state.learning_rate = record_evaluation(
                state.history, loss, state.learning_rate, state.epoch, state.examples_seen
            )
            if state.optimizer is not None:  # a halving lowers the optimiser's rate too
                state.optimizer.learning_rate = state.learning_rate
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
            if self.out_of_time():
                return
            batch = order[start : start + batch_size]
            with hold_interrupts():
                self.step(batch)
                state.position = start + len(batch)
                state.examples_seen += len(batch)
                state.history.examples_seen = state.examples_seen
            self.bar.update(len(batch))

    def step(self, batch: np.ndarray) -> None:
        """One SGD step on a batch of example indices; NaN/inf parameters are rolled back.

        (The optimiser's moments are not rolled back: after TrainingDiverged, start again
        with a fresh optimiser.)
        """
        model, lr, state = self.model, self.state.learning_rate, self.state
        xs, ys = [self.X[i] for i in batch], [self.y[i] for i in batch]
        if state.optimizer is not None and hasattr(model, "step_batch"):
            model.step_batch(xs, ys, state.optimizer, **self.step_options)
        elif len(batch) == 1 and self.settings["batch_size"] == 1:
            model.sgd_step(xs[0], ys[0], lr, **self.step_options)
        else:
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
            optimizer = self.state.optimizer
            optimizer_state = None if optimizer is None else optimizer.state_dict()
            save_checkpoint(
                self.checkpoint_path, self.model, self.vocab, training_state, optimizer_state
            )


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
