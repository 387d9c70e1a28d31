"""Where a train_with_sgd run stands: saved in checkpoints, restored to continue exactly (notebook 4).

The state is the epoch, the position in it, the learning rate, the History, the
shuffling generator as it was before this epoch's permutation was drawn (so a resumed run
draws the same order again), the optimiser (moments, step count) if the run uses one, the
best evaluation so far (its loss and index; its parameters and optimiser state when the run
returns to it: keep_best, restore_best_on_halving), and what the caller needs to rebuild
its data (`run`: the CLI's data options and corpus checksum), all saved in the same atomic
write. Every update happens with Ctrl-C held off,
so the state is never half updated when it is saved.
"""

import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from rnnlib.training.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from rnnlib.training.history import History, RateSet
from rnnlib.training.optimizers import check_state, optimizer_from_state

_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64")


@dataclass
class TrainingState:
    """Where training stands, complete enough to continue exactly (saved in checkpoints)."""

    epoch: int  # epochs completed
    position: int  # examples done in the current epoch
    examples_seen: int
    learning_rate: float
    history: History
    rng: np.random.Generator | None  # None: no shuffling
    epoch_rng_state: dict | None = None  # the rng before this epoch's permutation was drawn
    optimizer: object = (
        None  # an rnnlib.training.optimizers.Optimizer; its state goes in the arrays
    )
    run: dict | None = None  # the caller's JSON about the run (the CLI: its data options)
    best_loss: float | None = None  # the lowest evaluated loss so far
    best_evaluation: int | None = None  # its index in history.evaluations
    best_params: dict | None = None  # its parameters, kept when the run may return to them
    best_optimizer: dict | None = None  # and its optimiser's state_dict()

    def best(self) -> dict | None:
        """The best evaluation's arrays, as save_checkpoint takes them (None if not kept)."""
        if self.best_params is None:
            return None
        return {"params": self.best_params, "optimizer": self.best_optimizer}

    def to_dict(self, settings: dict) -> dict:
        """JSON-safe; the rng is saved as it was before this epoch's permutation."""
        rng_state = None if self.rng is None else self.epoch_rng_state or self.rng_state()
        return {
            "epoch": self.epoch,
            "position": self.position,
            "examples_seen": self.examples_seen,
            "learning_rate": self.learning_rate,
            "history": self.history.to_dict(),
            "rng_state": rng_state,
            "settings": settings,
            "run": self.run,
            "best": None
            if self.best_loss is None
            else {"loss": self.best_loss, "evaluation": self.best_evaluation},
        }

    def rng_state(self) -> dict:
        """The shuffling generator's state now."""
        return self.rng.bit_generator.state  # a fresh dict of plain ints for these generators

    @classmethod
    def from_dict(cls, saved: dict) -> "TrainingState":
        """The state `to_dict` saved, its generator rebuilt."""
        rng, rng_state = None, saved["rng_state"]
        if rng_state is not None:
            name = rng_state.get("bit_generator")
            if name not in _BIT_GENERATORS:
                raise ValueError(f"unknown bit generator {name!r}; expected {_BIT_GENERATORS}")
            bit_generator = getattr(np.random, name)()
            bit_generator.state = rng_state
            rng = np.random.Generator(bit_generator)
        history = History.from_dict(saved["history"])
        best = saved.get("best")  # absent in checkpoints saved before the best was kept
        best_loss = best_evaluation = None
        if best is not None:
            best_loss, best_evaluation = float(best["loss"]), int(best["evaluation"])
            if not 0 <= best_evaluation < len(history.evaluations):
                raise ValueError(
                    f"best evaluation {best_evaluation} is not one of the "
                    f"{len(history.evaluations)} in the history"
                )
        return cls(
            int(saved["epoch"]),
            int(saved["position"]),
            int(saved["examples_seen"]),
            float(saved["learning_rate"]),
            history,
            rng,  # as it was when this epoch began: it draws this epoch's permutation again
            run=saved.get("run"),
            best_loss=best_loss,
            best_evaluation=best_evaluation,
        )


def fresh_state(
    learning_rate: float, n: int, history: History | None, start_epoch: int, shuffle_seed,
    run: dict | None = None,
) -> TrainingState:  # fmt: skip
    """The state at the start of `start_epoch`, continuing `history` if given."""
    history = history if history is not None else History()
    last = history.evaluations[-1] if history.evaluations else None
    seen = last.examples_seen if last and last.epoch == start_epoch else start_epoch * n
    if isinstance(shuffle_seed, np.random.Generator) or shuffle_seed is None:
        rng = shuffle_seed
    else:
        rng = np.random.default_rng(shuffle_seed)
    if last is not None and float(learning_rate) != last.learning_rate:  # e.g. a slider moved
        history.rate_changes.append(RateSet(seen, start_epoch, float(learning_rate)))
    return TrainingState(start_epoch, 0, seen, float(learning_rate), history, rng, run=run)


def state_from_checkpoint(path, model, n: int, optimizer=None, reset_optimizer: bool = False):
    """Load the checkpoint's weights into `model`; return its training state and vocabulary.

    The saved optimiser state is loaded into `optimizer` (or into a new optimiser of the
    saved kind when None); a run saved without one continues without one. A saved state
    that lacks a moment is a CheckpointError unless `reset_optimizer`: then the optimiser
    keeps its kind and hyperparameters but starts afresh (t = 0, no moments).
    """
    checkpoint = path if isinstance(path, Checkpoint) else load_checkpoint(path)
    saved = checkpoint.training_state
    if not saved:
        raise ValueError(f"{checkpoint.path} holds no training state to resume from")
    ours = {k: v for k, v in model.config().items() if k != "seed"}
    theirs = {k: v for k, v in checkpoint.model.config().items() if k != "seed"}
    if type(model) is not type(checkpoint.model) or ours != theirs:
        raise ValueError(
            f"{checkpoint.path} holds a {type(checkpoint.model).__name__} with "
            f"{theirs}, not this {type(model).__name__} with {ours}; "
            "resume_training(path, ...) rebuilds the saved model"
        )
    try:
        if saved["settings"]["n_train"] != n:
            raise ValueError(
                f"{checkpoint.path} was trained on {saved['settings']['n_train']} "
                f"examples, but X_train has {n}: resume with the same data"
            )
        state = TrainingState.from_dict(saved)
    except (KeyError, TypeError, AttributeError) as e:
        raise CheckpointError(f"{checkpoint.path}: incomplete training state: {e!r}") from e
    except ValueError as e:  # a history or generator state that is not one
        raise CheckpointError(f"{checkpoint.path}: broken training state: {e}") from e
    shapes = {name: p.shape for name, p in checkpoint.model.get_params().items()}
    saved_optimizer, best_optimizer = checkpoint.optimizer_state, checkpoint.best_optimizer_state
    if reset_optimizer and saved_optimizer is not None:
        saved_optimizer = {k: v for k, v in saved_optimizer.items() if "/" not in k}
        saved_optimizer["t"], best_optimizer = 0, None  # hyperparameters kept, moments not
    for what, arrays in (("optimizer/", saved_optimizer), ("best/optimizer/", best_optimizer)):
        try:
            if arrays is not None:
                check_state(arrays, shapes, complete=True)
        except ValueError as e:
            raise CheckpointError(
                f"{checkpoint.path}: {what}: {e} (reset_optimizer=True, or --reset-optimizer)"
            ) from e
    state.optimizer = _saved_optimizer(checkpoint.path, saved_optimizer, optimizer)
    state.best_params, state.best_optimizer = checkpoint.best_params, best_optimizer
    model.set_params(checkpoint.model.get_params())
    return state, checkpoint.vocab


def _saved_optimizer(path, saved: dict | None, optimizer):
    """The optimiser to continue with: `optimizer` (or a new one) holding the saved state."""
    if saved is None:
        if optimizer is not None:
            raise ValueError(
                f"{path} was saved by a run without an optimizer, so there is no "
                "optimizer state to continue: resume without optimizer="
            )
        return None
    if optimizer is None:
        return optimizer_from_state(saved)
    optimizer.load_state_dict(saved)  # says so when the saved state is of another kind
    return optimizer


@contextmanager
def hold_interrupts():
    """Let Ctrl-C land only after the block, so no update is ever left half done."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield  # signals only reach the main thread; elsewhere there is nothing to hold
        return
    received = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        previous(signal.SIGINT, received[0])  # the usual handler: raises KeyboardInterrupt
