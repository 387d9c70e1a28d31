"""The loop of one train_with_sgd call: evaluate on schedule, step, save, stop (notebook 4).

`train_with_sgd` (rnnlib.training.train) checks its arguments and builds the run's state;
`Run` is what happens next, epoch by epoch: the tutorial's evaluations and halvings, one
step per batch (a step to NaN/inf is refused or rolled back), a checkpoint at every
evaluation and on Ctrl-C, the training-time budget, the final check, and early stopping
(keep_best, patience, a learning-rate floor, halvings that return to the best).

The best evaluation lives in the run's state, not in this call, and the end of a run is one
save: the final state and the kept best are written together, so no interruption, Ctrl-C
or SIGKILL, can leave a file whose weights are not the ones its state describes.
"""

import os
import time

import numpy as np
from tqdm.auto import tqdm

from rnnlib.data.batching import length_batches
from rnnlib.training.checkpoint import save_checkpoint
from rnnlib.training.history import TrainingDiverged, divergence, record_evaluation
from rnnlib.training.optimizers import NonFiniteGradient, finite
from rnnlib.training.state import TrainingState, hold_interrupts

clock = time.monotonic  # what a time budget is measured with (a test can stand in for it)
UNLIMITED_EPOCHS = 10**9  # nepoch of a run that only a time budget stops


def compile_seconds(model) -> float:
    """Seconds the model says it has spent compiling (a number, or a dict of them; 0 if none)."""
    reported = getattr(model, "compile_seconds", None)
    if reported is None:
        return 0.0
    return float(sum(reported.values()) if isinstance(reported, dict) else reported)


class Run:
    """One call of train_with_sgd: the loop and what it needs to evaluate, step and save."""

    def __init__(self, model, data, eval_data, state: TrainingState, settings: dict, callbacks):
        self.model, (self.X, self.y), self.eval_data = model, data, eval_data
        self.state, self.settings, self.callbacks = state, settings, list(callbacks)
        clip_norm = settings["clip_norm"]
        self.step_options = {} if clip_norm is None else {"clip_norm": clip_norm}
        # Restored if a step or an evaluation goes to NaN/inf: this call's start, then each
        # evaluation's parameters (one copy per evaluation, none per step).
        self.evaluated_params = model.get_params()
        self.param_names = list(self.evaluated_params)
        # The run returns to its best (at the end, or at a halving): keep its arrays.
        self.keeps_best = settings["keep_best"] or settings["restore_best_on_halving"]
        self.checkpoint_path = self.vocab = self.bar = None
        self.log = False
        self.train_seconds = 0.0  # this call's, for the budget

    def run(self, progress: bool) -> None:
        """The training loop under a progress bar; Ctrl-C saves a checkpoint, then re-raises."""
        minutes, n = self.settings["minutes"], len(self.X)
        self.budget = None if minutes is None else 60 * minutes
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
        """Evaluate on schedule and train epoch by epoch until a stop; then finish."""
        state = self.state
        while True:
            evaluated_now = False
            if state.position == 0 and state.epoch % self.settings["evaluate_loss_after"] == 0:
                evaluated_now = self.evaluate()
            if self.should_stop():
                break
            if evaluated_now:  # not the last evaluation: its save and callbacks now
                self.save()
                self.call_back()
                evaluated_now = False
            self.train_epoch()
            if state.position < len(self.X):
                break  # the budget ran out inside the epoch
            with hold_interrupts():
                state.epoch, state.position, state.epoch_rng_state = state.epoch + 1, 0, None
        self.finish(evaluated_now)

    def should_stop(self) -> bool:
        """Whether the run ends here: its epochs, its budget, its patience or its rate floor."""
        state, settings = self.state, self.settings
        if state.epoch >= settings["nepoch"] or self.out_of_time():
            return True
        reason = ""
        patience, floor = settings["patience"], settings["min_learning_rate"]
        since_best = len(state.history.evaluations) - 1 - (state.best_evaluation or 0)
        if patience is not None and state.best_evaluation is not None and since_best >= patience:
            best = state.history.evaluations[state.best_evaluation]
            reason = (
                f"stopped: the loss has not improved for {since_best} evaluations "
                f"(patience {patience}); the best was evaluation {state.best_evaluation} "
                f"(epoch {best.epoch}, loss {best.loss:.6f})"
            )
        elif floor is not None and state.learning_rate < floor:
            reason = (
                f"stopped: the learning rate {state.learning_rate:g} fell below its floor "
                f"{floor:g} (min_learning_rate)"
            )
        if reason and not state.history.stop_reason:
            state.history.stop_reason = reason
            if self.log:
                self.bar.write(reason)
        return bool(reason)

    def finish(self, evaluated_now: bool) -> None:
        """Check the end state, return to the best if kept, and save it all in one write."""
        state = self.state
        # The end state is always checked, on the schedule (just evaluated) or not. Off the
        # schedule the check is not recorded and halves nothing: a run stopped and resumed
        # must take the same steps as one that never stopped.
        if self._evaluated(state.epoch):
            final_loss = state.history.evaluations[-1].loss
        else:
            final_loss = float(self.model.calculate_loss(*self.eval_data))
            self.raise_if_diverged(final_loss)
        with hold_interrupts():
            if self.settings["keep_best"] and state.best_params is not None:
                if state.best_loss < final_loss:
                    final_loss = state.best_loss
                    self.return_to_best()
            state.history.final_loss = final_loss
        self.save()
        if evaluated_now:
            self.call_back()

    def return_to_best(self) -> None:
        """Put the best evaluation's parameters (and optimiser state) back; keep today's rate."""
        state = self.state
        self.model.set_params(state.best_params)
        self.evaluated_params = state.best_params
        if state.optimizer is not None and state.best_optimizer is not None:
            state.optimizer.load_state_dict(state.best_optimizer)  # copies: best stays intact
            state.optimizer.learning_rate = state.learning_rate

    def raise_if_diverged(self, loss: float) -> None:
        """TrainingDiverged, with the last good parameters restored, if `loss` says so."""
        reason = divergence(loss, self.model.word_dim)
        if reason is None:
            return
        state = self.state
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
        """Whether the training-time budget (minutes=) is spent."""
        return self.budget is not None and self.train_seconds >= self.budget

    def _evaluated(self, epoch: int) -> bool:
        evaluations = self.state.history.evaluations
        return (
            bool(evaluations)
            and evaluations[-1].epoch == epoch
            and evaluations[-1].examples_seen == self.state.examples_seen
        )

    def evaluate(self) -> bool:
        """Evaluate the loss, keep the best, halve the learning rate if it rose (returning to
        the best first, if asked). False when resumed right after this evaluation."""
        state, model = self.state, self.model
        if self._evaluated(state.epoch):
            return False
        compiled = compile_seconds(model)
        loss = float(model.calculate_loss(*self.eval_data))
        state.history.compile_seconds += compile_seconds(model) - compiled
        self.raise_if_diverged(loss)
        self.evaluated_params = model.get_params()
        with hold_interrupts():
            rate = record_evaluation(
                state.history, loss, state.learning_rate, state.epoch, state.examples_seen
            )
            if state.best_loss is None or loss < state.best_loss:
                state.best_loss, state.best_evaluation = loss, len(state.history.evaluations) - 1
                if self.keeps_best:
                    state.best_params = self.evaluated_params
                    optimizer = state.optimizer
                    state.best_optimizer = None if optimizer is None else optimizer.state_dict()
            halved = rate < state.learning_rate
            state.learning_rate = rate
            restore = self.settings["restore_best_on_halving"] and state.best_params is not None
            if halved and restore:
                self.return_to_best()  # the best parameters and moments, at the halved rate
            if state.optimizer is not None:  # a halving lowers the optimiser's rate too
                state.optimizer.learning_rate = state.learning_rate
        if self.log:
            self.bar.set_postfix(loss=f"{loss:.4f}", lr=f"{state.learning_rate:g}")
            self.bar.write(
                f"epoch {state.epoch}, {state.examples_seen} examples seen: "
                f"loss {loss:.6f}, learning rate {state.learning_rate:g}"
            )
        return True

    def call_back(self) -> None:
        for callback in self.callbacks:
            callback(self.model, self.state.history)

    def epoch_batches(self) -> list[np.ndarray]:
        """This epoch's batches of example indices, drawn from the shuffling generator."""
        state, n, batch_size = self.state, len(self.X), self.settings["batch_size"]
        if state.rng is not None:
            state.epoch_rng_state = state.rng_state()  # saved, to redraw them on resuming
        if self.settings.get("length_batches"):  # one bucket length per batch: little padding
            return length_batches([len(x) for x in self.X], batch_size, state.rng)
        order = np.arange(n) if state.rng is None else state.rng.permutation(n)
        return [order[start : start + batch_size] for start in range(0, n, batch_size)]

    def train_epoch(self) -> None:
        """Steps over the rest of the current epoch, in this epoch's (shuffled) batches."""
        state, done = self.state, 0
        for batch in self.epoch_batches():
            start, done = done, done + len(batch)
            if done <= state.position:  # resumed: this batch was trained on before the stop
                continue
            if self.out_of_time():
                return
            with hold_interrupts():
                began, compiled = clock(), compile_seconds(self.model)
                self.step(batch)
                compiling = compile_seconds(self.model) - compiled
                training = clock() - began - compiling
                self.train_seconds += training
                state.history.train_seconds += training
                state.history.compile_seconds += compiling
                state.position = start + len(batch)
                state.examples_seen += len(batch)
                state.history.examples_seen = state.examples_seen
            self.bar.update(len(batch))

    def step(self, batch: np.ndarray) -> None:
        """One step on a batch of example indices; a step to NaN/inf is refused or undone.

        An optimiser refuses NaN/inf gradients before it changes anything. Other steps (the
        model's own SGD) are checked afterwards, without a copy per step: the model goes
        back to the last evaluation's parameters (or this call's start).
        """
        model, lr, state = self.model, self.state.learning_rate, self.state
        xs, ys = [self.X[i] for i in batch], [self.y[i] for i in batch]
        where = f"a step on examples {batch.tolist()} in epoch {state.epoch}"
        try:
            if state.optimizer is not None and hasattr(model, "step_batch"):
                model.step_batch(xs, ys, state.optimizer, **self.step_options)
            elif len(batch) == 1 and self.settings["batch_size"] == 1:
                model.sgd_step(xs[0], ys[0], lr, **self.step_options)
            else:
                model.sgd_step_batch(xs, ys, lr, **self.step_options)
        except NonFiniteGradient as e:
            raise TrainingDiverged(
                f"training diverged: {where} was refused: {e} (learning rate {lr:g}); the "
                "model holds the parameters from before it. Try a smaller learning_rate, or "
                "clip_norm.",
                state.history,
                state.epoch,
                state.examples_seen,
            ) from None
        arrays = [getattr(model, name, None) for name in self.param_names]
        if not all(isinstance(a, np.ndarray) for a in arrays):
            arrays = list(model.get_params().values())  # no arrays of that name to look at
        if not all(map(finite, arrays)):
            model.set_params(self.evaluated_params)
            raise TrainingDiverged(
                f"training diverged: {where} made the parameters NaN/inf (learning rate "
                f"{lr:g}); the model holds the parameters of its last evaluation (or of this "
                "call's start). Try a smaller learning_rate, or clip_norm.",
                state.history,
                state.epoch,
                state.examples_seen,
            )

    def save(self) -> None:
        if self.checkpoint_path is not None:
            training_state = self.state.to_dict(self.settings)
            optimizer = self.state.optimizer
            optimizer_state = None if optimizer is None else optimizer.state_dict()
            save_checkpoint(
                self.checkpoint_path,
                self.model,
                self.vocab,
                training_state,
                optimizer_state,
                self.state.best(),
            )
