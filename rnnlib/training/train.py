"""Training any backend's model: the original tutorial's outer loop, made resumable (notebook 4).

`train_with_sgd` keeps the tutorial's name although it runs every optimiser of
rnnlib.training.optimizers (SGD, momentum, Adam); `resume_training` continues a saved run.

As in the tutorial, the loss is evaluated before epoch 0 and every `evaluate_loss_after`
epochs, and the learning rate is halved whenever it rose since the previous evaluation.
Added: a History to plot (the original returned nothing), callbacks after each evaluation,
a progress bar, seeded shuffling, gradient clipping, divergence detection, other optimisers
(rnnlib.training.optimizers: momentum, Adam), and checkpoints from which training continues exactly
as if it had never stopped (Ctrl-C included; what a checkpoint saves to make that possible
is rnnlib.training.state). The loop itself, once the arguments are checked, is
rnnlib.training.loop.

Early stopping, all off by default (the tutorial's behaviour; the CLI's recipe turns them
on): `keep_best` returns to the best evaluation at the end, `patience` ends a run whose loss
has not improved for that many evaluations, `restore_best_on_halving` returns to the best
parameters and optimiser state before each halving, and `min_learning_rate` ends a run whose
halvings took the rate below it.

Which loss a step follows (History.step_loss says it for every run):

- batch_size=1 without an optimizer: the tutorial's `sgd_step`, on the sentence's summed
  loss, so long sentences take bigger steps;
- optimisers (`step_batch`, every word model but RNNNumpy): `model.step_batch_loss`, the
  mean per target token, so one learning rate serves any batch size and sentence length;
- batches without an optimizer (`sgd_step_batch`): `model.batch_loss`; RNNNumpyFast's is
  the mean per target token. Models that do not say sum over the batch.
"""

from collections.abc import Callable, Sequence

from rnnlib.interface import (
    check_clip_norm,
    check_int_at_least,
    check_learning_rate,
    check_positive_int,
    check_positive_number,
    check_seed_or_generator,
)
from rnnlib.training.checkpoint import load_checkpoint
from rnnlib.training.history import (
    Evaluation,
    Halving,
    History,
    TrainingDiverged,
    evaluation_data,
)
from rnnlib.training.loop import UNLIMITED_EPOCHS, Run
from rnnlib.training.optimizers import SGD, Optimizer, make_optimizer
from rnnlib.training.state import fresh_state, state_from_checkpoint

__all__ = [
    "Evaluation",
    "Halving",
    "History",
    "TrainingDiverged",
    "resume_training",
    "train_with_sgd",
]


SUMMED_PER_SENTENCE = "sum per sentence"  # History.step_loss of the tutorial's sgd_step
SUMMED_PER_BATCH = "sum per batch"  # of a model that does not give its batch_loss


def _check_flag(value, name: str) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def _check_stopping(patience, min_learning_rate, keep_best, restore_best_on_halving, reset):
    """The early-stopping options: one line each when wrong, before anything is trained."""
    if patience is not None:
        check_positive_int(patience, "patience")
    if min_learning_rate is not None:
        check_positive_number(min_learning_rate, "min_learning_rate")
    _check_flag(keep_best, "keep_best")
    _check_flag(restore_best_on_halving, "restore_best_on_halving")
    _check_flag(reset, "reset_optimizer")


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
    patience: int | None = None,
    restore_best_on_halving: bool = False,
    min_learning_rate: float | None = None,
    reset_optimizer: bool = False,
    length_batches: bool = False,
) -> History:
    """Train `model` in place until `nepoch` epochs are done or `minutes` are spent; return the History.

    `nepoch` defaults to 100, or, with a training-time budget `minutes` and no nepoch, to as
    many epochs as the budget allows: the run stops at the first step after the budget is
    spent (so "trained for the same time" is a setting; results then depend on the
    machine's speed). The budget counts this call's training steps only: neither
    evaluations nor what the model reports as compiling (`model.compile_seconds`);
    History.train_seconds and History.compile_seconds record both over the whole run.

    `learning_rate` defaults to 0.005 (the tutorial's), or to the optimizer's own rate.
    `optimizer` ("sgd", "momentum", "rmsprop", "adam", or an rnnlib.training.optimizers one) steps with
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
    now, return to that evaluation's parameters and optimiser state (early stopping: past
    that point the model was learning its training sentences, not the language). The best
    is saved in the checkpoint, so a resumed run returns to a best from before it stopped.
    `patience` (None: off): end the run when the loss has not improved for that many
    evaluations; History.stop_reason says so and which evaluation was best.
    `length_batches`: each batch holds sentences of one bucket length (rnnlib.data.batching),
    shuffled within buckets and in batch order every epoch, instead of batch_size sentences
    in a random order; padding then wastes little of a padded model's work (PyTensor, Keras).
    `restore_best_on_halving`: each halving first returns to the best evaluation's
    parameters and optimiser state. `min_learning_rate` (None: no floor): end the run when
    halvings take the rate below it. `reset_optimizer` (with resume_from): continue with the
    saved optimiser's kind and rates but fresh moments, e.g. when a moment is missing from
    the file (otherwise a CheckpointError).
    The model is always checked at the end, also when the last epoch is not an evaluation
    epoch. Raises TrainingDiverged when an evaluated loss is NaN/inf or above 1.5 log C (half
    as bad again as a uniform guess), or a step goes to NaN/inf: an optimiser refuses NaN/inf
    gradients before changing anything (the model keeps the parameters from before the
    step); a model's own SGD step that made the parameters NaN/inf is undone by returning to
    the last evaluation's parameters (no copy is made at every step). On KeyboardInterrupt a
    checkpoint is saved first, then it re-raises.
    """
    if minutes is not None:
        minutes = check_positive_number(minutes, "minutes")
    if nepoch is None:
        nepoch = 100 if minutes is None else UNLIMITED_EPOCHS
    _check_arguments(
        X_train, y_train, learning_rate, nepoch, evaluate_loss_after, batch_size, clip_norm
    )
    check_seed_or_generator(shuffle_seed, "shuffle_seed")
    _check_stopping(
        patience, min_learning_rate, keep_best, restore_best_on_halving, reset_optimizer
    )
    if reset_optimizer and resume_from is None:
        raise ValueError("reset_optimizer=True resets a resumed run's optimiser: give resume_from")
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
        state, saved_vocab = state_from_checkpoint(
            resume_from, model, n, optimizer, reset_optimizer
        )
        vocab = vocab if vocab is not None else saved_vocab
        state.run = run_info if run_info is not None else state.run
    else:
        state = fresh_state(learning_rate, n, history, start_epoch, shuffle_seed, run_info)
        state.optimizer = optimizer
    if state.optimizer is not None:
        state.optimizer.learning_rate = state.learning_rate  # the saved run's, when resumed
    state.history.step_loss = _step_loss(model, batch_size, state.optimizer)
    settings = {"nepoch": nepoch, "evaluate_loss_after": evaluate_loss_after, "minutes": minutes}
    settings.update(keep_best=keep_best, restore_best_on_halving=restore_best_on_halving)
    settings.update(patience=patience, min_learning_rate=min_learning_rate)
    settings.update(clip_norm=clip_norm, batch_size=batch_size, n_train=n)
    settings.update(length_batches=bool(length_batches))
    run = Run(model, (X_train, y_train), eval_data, state, settings, callbacks)
    run.checkpoint_path, run.vocab = checkpoint_path, vocab
    run.run(progress)
    return state.history


def _step_loss(model, batch_size: int, optimizer) -> str:
    """Which loss the steps of a run follow (see the module's docstring)."""
    steps_batches = optimizer is not None and hasattr(model, "step_batch")
    if batch_size == 1 and not steps_batches:
        return SUMMED_PER_SENTENCE
    if steps_batches:  # step_batch: every word model says what it descends
        return getattr(model, "step_batch_loss", getattr(model, "batch_loss", SUMMED_PER_BATCH))
    return getattr(model, "batch_loss", SUMMED_PER_BATCH)


def resume_training(path, X_train, y_train, **overrides):
    """Continue the run saved at `path` on the same data; return (model, History).

    The saved settings (nepoch, evaluate_loss_after, clip_norm, batch_size, keep_best,
    patience, ...) are reused unless given in `overrides` (reset_optimizer=True among them); checkpoints keep going to `path` unless checkpoint_path says
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
