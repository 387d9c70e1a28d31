"""What a `python -m rnnlib train` run starts from: a fresh model and data, or a saved run's.

Not a lesson. A fresh run builds the model of --backend/--cell with its recipe
(rnnlib.evaluation.recipes) and loads the data; --resume reads everything from the
checkpoint, and only the training settings given on the command line change.
"""

import sys
import tempfile
from pathlib import Path

from rnnlib.tools.args import CommandFailed, load_or_fail
from rnnlib.tools.rundata import (
    DATA_OPTIONS,
    RunDataError,
    check_same_corpus,
    file_sha256,
    load_data,
    saved_data_options,
)


def _check_writable(path: Path) -> None:
    """Fail now, before the data is loaded, when the checkpoint could not be saved there."""
    if path.is_dir():
        raise CommandFailed(f"cannot write {path}: it is a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent):
            pass
    except OSError as e:
        raise CommandFailed(f"cannot write {path}: {e.strerror or e}") from e


# Options of a fresh run. On --resume they come from the checkpoint,
# so they default to None, to tell "given" from "not given".
FRESH_DEFAULTS = {
    "backend": "numpy-fast",
    "cell": "rnn",
    "corpus": "benchmark",
    "corpus_path": None,
    "sentences": None,
    "vocabulary_size": 8000,
    "hidden": 100,
    "bptt_truncate": None,  # the backend's default
    "optimizer": None,  # the backend's default
    "learning_rate": None,  # the backend's default
    "dtype": None,  # the backend's own default
    "dropout": None,  # the recipe's
    "tie_embeddings": None,  # the recipe's
    "seed": 0,
}


def fresh_run(args, parser):
    """Model, vocabulary, data and train_with_sgd options of a new run."""
    from rnnlib.data.frozen import CorpusFileError
    from rnnlib.training.checkpoint import checkpoint_file

    for name, default in FRESH_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.corpus in ("text", "reddit") and args.corpus_path is None:
        parser.error(f"--corpus {args.corpus} needs --corpus-path FILE")
    if args.corpus not in ("text", "reddit") and args.corpus_path is not None:
        parser.error(f"--corpus-path is for --corpus text or reddit, not {args.corpus}")
    path = checkpoint_file(args.checkpoint)  # checked before the (slow) data is loaded
    if path.exists() and not args.overwrite:
        raise CommandFailed(
            f"{path} already holds a checkpoint: continue its run with --resume, or pass "
            "--overwrite to replace it with a new run"
        )
    _check_writable(path)
    data = {k: getattr(args, k) for k in DATA_OPTIONS}
    try:
        if args.corpus_path is not None:  # absolute, so --resume works from anywhere
            data["corpus_path"] = str(Path(args.corpus_path).resolve())
            X, y, vocab, validation = load_data(**data)
            data["corpus_sha256"] = file_sha256(data["corpus_path"])  # what --resume compares
        else:
            X, y, vocab, validation = load_data(**data)
    except CorpusFileError as e:  # rnnlib's own frozen corpus, damaged: a bad file, not argument
        raise CommandFailed(f"--corpus {args.corpus}: {e}") from e
    except (FileNotFoundError, ValueError) as e:  # a missing, empty or malformed file
        if args.corpus_path is None:  # not the user's file: rnnlib's own is missing
            raise CommandFailed(f"--corpus {args.corpus}: {e}") from e
        parser.error(f"--corpus {args.corpus}: {e}")
    model, recipe_options = model_and_recipe(args, parser, len(vocab))
    options = {
        # A time budget alone trains until it is spent (or patience ends it); else 10 epochs.
        "nepoch": args.epochs or (None if args.minutes else 10),
        "minutes": args.minutes,
        "evaluate_loss_after": args.evaluate_loss_after or 1,
        **recipe_options,
        "shuffle_seed": args.seed,
        "keep_best": True,  # the checkpoint ends at the best validation loss (early stopping)
        "run_info": {"data": data},  # saved inside every checkpoint, for --resume
    }
    if validation is not None:  # the benchmark split: evaluate on its validation part
        options["X_val"], options["y_val"] = validation
    return model, vocab, X, y, options


def model_and_recipe(args, parser, word_dim: int):
    """The model of --backend/--cell and train_with_sgd's options: the recipe, as overridden."""
    from rnnlib.evaluation.recipes import MIN_LEARNING_RATE, PATIENCE, recipe

    try:
        chosen = recipe(args.backend, args.cell)
    except ValueError as e:
        parser.error(str(e))
    optimizer = args.optimizer or chosen.optimizer or "sgd"
    if optimizer != "sgd" and chosen.optimizer is None:
        parser.error(
            f"--optimizer {optimizer} needs a model with step_batch; --backend {args.backend} "
            "steps by its own SGD (leave out --optimizer, or use sgd)"
        )
    overrides = {}
    for flag, name in (("--dropout", "dropout"), ("--tie-embeddings", "tie_embeddings")):
        value = getattr(args, name)
        if value is None:
            continue
        if getattr(chosen, name) is None:  # the model has no such option
            parser.error(f"{flag} needs a model that has it; --backend {args.backend} "
                         f"--cell {args.cell} has none")  # fmt: skip
        overrides[name] = value
    if args.bptt_truncate is not None:
        overrides["bptt_truncate"] = args.bptt_truncate
    if args.dtype:
        overrides["dtype"] = args.dtype
    try:
        model = chosen.build(word_dim, hidden_dim=args.hidden, seed=args.seed, **overrides)
    except (ImportError, ValueError, TypeError) as e:  # a missing library, a bad combination
        parser.error(f"--backend {args.backend} --cell {args.cell}: {e}")
    options = chosen.train_options()
    options.update(
        batch_size=args.batch_size or chosen.batch_size,
        clip_norm=args.clip_norm or chosen.clip_norm,
        learning_rate=args.learning_rate or chosen.learning_rate,
        # "sgd" is the model's own SGD step (per sentence at batch size 1, else batched).
        optimizer=None if optimizer == "sgd" else optimizer,
        # The recipe's early stopping, for the tutorial's backend too: the CLI is a run to keep.
        patience=args.patience or PATIENCE,
        restore_best_on_halving=True,
        min_learning_rate=MIN_LEARNING_RATE,
    )
    return model, options


def resumed_run(args, parser):
    """The saved run's model, vocabulary and data; only the training settings given change."""
    given = [name for name in FRESH_DEFAULTS if getattr(args, name) is not None]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        parser.error(
            f"--resume continues the saved run with its own data and model: leave out {flags}"
        )
    if args.overwrite:
        parser.error("--resume continues the run in --checkpoint; --overwrite would replace it")
    checkpoint = load_or_fail(args.checkpoint, parser, "--resume: ")
    if not checkpoint.training_state:
        parser.error(f"--resume: {checkpoint.path} holds no training state to continue")
    _check_writable(checkpoint.path)
    try:
        saved = saved_data_options(checkpoint)
        check_same_corpus(saved)
    except RunDataError as e:
        raise CommandFailed(f"--resume: {e}") from e
    data = {k: saved[k] for k in DATA_OPTIONS}
    try:
        X, y, vocab, validation = load_data(**data, vocab=checkpoint.vocab)
    except (FileNotFoundError, ValueError, OSError) as e:
        raise CommandFailed(f"--resume: the run's data cannot be loaded again: {e}") from e
    if data["corpus_path"] is not None and "corpus_sha256" not in saved:  # an older run
        saved = {**data, "corpus_sha256": file_sha256(data["corpus_path"])}
    options = dict(checkpoint.training_state["settings"])  # the saved run's settings ...
    options.pop("n_train", None)
    given = {
        "nepoch": args.epochs,
        "evaluate_loss_after": args.evaluate_loss_after,
        "batch_size": args.batch_size,
        "clip_norm": args.clip_norm,
        "patience": args.patience,
    }
    options.update({k: v for k, v in given.items() if v is not None})  # ... unless given
    options.update(resume_from=checkpoint, run_info={"data": saved})  # carried into new saves
    if args.minutes is not None:
        options["minutes"] = args.minutes
    if args.reset_optimizer:
        options["reset_optimizer"] = True
    if validation is not None:
        options["X_val"], options["y_val"] = validation
    return checkpoint.model, vocab, X, y, options


def check_devices(devices, parser) -> None:
    """A bad --devices (0, more than JAX sees, a word) is one line naming what JAX sees."""
    if devices is not None:
        from rnnlib.keras_rnn.devices import resolve_devices

        try:
            resolve_devices(devices)
        except ValueError as e:
            parser.error(f"--devices: {e}")


def use_devices(model, devices, parser) -> None:
    """--devices N|all: the Keras model trains data-parallel (rnnlib.keras_rnn.devices)."""
    if devices is None:
        return
    if not hasattr(model, "use_devices"):
        parser.error(f"--devices needs --backend keras; {type(model).__name__} runs on one CPU")
    from rnnlib.keras_rnn.devices import describe, devices_of

    model.use_devices(devices)  # checked by check_devices
    print(f"training on {describe(devices_of(model.distribution))}", file=sys.stderr)
