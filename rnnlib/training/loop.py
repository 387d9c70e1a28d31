"""The loop of one train_with_sgd call: evaluate on schedule, step, save, stop on time (notebook 4).

`train_with_sgd` (rnnlib.training.sgd) checks its arguments and builds the run's state;
`Run` is what happens next, epoch by epoch: the tutorial's evaluations and halvings, one
step per batch with NaN/inf parameters rolled back, a checkpoint at every evaluation and on
Ctrl-C, the wall-clock budget, the final check, and early stopping (keep_best).
"""

import os
import time

import numpy as np
from tqdm.auto import tqdm

from rnnlib.training.checkpoint import save_checkpoint
from rnnlib.training.history import TrainingDiverged, divergence, record_evaluation
from rnnlib.training.state import TrainingState, hold_interrupts

clock = time.monotonic  # what a time budget is measured with (a test can stand in for it)
UNLIMITED_EPOCHS = 10**9  # nepoch of a run that only a time budget stops


class Run:
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
        # The end state is always checked, on the schedule (just evaluated) or not. Off the
        # schedule the check is not recorded and halves nothing: a run stopped and resumed
        # must take the same steps as one that never stopped.
        checked = self._evaluated(state.epoch)
        if checked:
            final_loss = state.history.evaluations[-1].loss
        else:
            final_loss = float(self.model.calculate_loss(*self.eval_data))
            self.raise_if_diverged(final_loss)
        kept_best = self.settings.get("keep_best") and self.best and self.best[0] < final_loss
        if kept_best:
            final_loss, best_params = self.best
            self.model.set_params(best_params)
        state.history.final_loss = final_loss
        if kept_best or not checked:  # an evaluation has just saved the end state otherwise
            self.save()

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
