"""`python -m rnnlib train`: a run on the benchmark split (or another corpus), with checkpoints.

Not a lesson: the command line around `train_with_sgd` (notebook 4). With every option at
its default it trains RNNNumpyFast (H = 100, full BPTT) with Adam on the mean loss per word,
batches of 32, on the training part of the series' benchmark split, evaluating on its
validation part; each halving returns to the best evaluation first, the run ends after
PATIENCE evaluations without a better loss (or below MIN_LEARNING_RATE), and the final
checkpoint holds the parameters of the best evaluation.

A training run writes its checkpoint at every loss evaluation and when interrupted. What
`--resume` needs lives inside it, written in the same atomic save: the data options and a
SHA-256 of the corpus file (rnnlib.tools.rundata), beside the learning rate, history,
shuffling and optimiser state. A fresh run never replaces an existing checkpoint unless told
to (`--overwrite`).
"""

import sys
import tempfile
from pathlib import Path

from rnnlib.tools.args import (
    CommandFailed,
    load_or_fail,
    positive_float,
    positive_int,
    seed,
    truncation,
)
from rnnlib.tools.rundata import (
    DATA_OPTIONS,
    RunDataError,
    check_same_corpus,
    file_sha256,
    load_data,
    saved_data_options,
)

# Heavy modules (models, corpora, Keras...) are imported inside the commands that need them.

# --- backends and corpora ------------------------------------------------------------------


def _numpy_readable(**config):
    from rnnlib.numpy_rnn.readable import RNNNumpy

    return RNNNumpy(**config)


def _numpy_fast(**config):
    from rnnlib.numpy_rnn.fast import RNNNumpyFast

    return RNNNumpyFast(**config)


def _pytensor(**config):
    from rnnlib.pytensor_rnn.rnn import RNNPyTensor

    return RNNPyTensor(**config)


def _keras(**config):
    from rnnlib.keras_rnn.word import KerasRNN

    return KerasRNN(**config)


# name -> (builder taking RNNNumpy's config keywords, default batch size, default truncation,
# default learning rate, default clip norm, default optimiser). numpy-fast's batched steps
# follow the mean loss per word; Adam at 0.003 on batches of 32 learned fastest per second
# of the rates and optimisers tried. Keras' sgd_step_batch follows the summed loss, so a batch
# moves about as far as that many single steps: at the tutorial's 0.005, batches of 16 diverged
# on the built-in corpus (loss 7.6 -> 26 in one epoch); 0.002 with clipping at 5 trains steadily.
BACKENDS = {
    "numpy-readable": (_numpy_readable, 1, 4, 0.005, None, None),
    "numpy-fast": (_numpy_fast, 32, -1, 0.003, 5.0, "adam"),
    "pytensor": (_pytensor, 1, 4, 0.005, None, None),
    "keras": (_keras, 16, -1, 0.002, 5.0, None),  # Keras' autodiff computes full BPTT only
}
CORPORA = ("benchmark", "builtin", "synthetic", "text", "reddit")
# The recipe's early stopping (train_with_sgd has it all off, as the tutorial): end after
# PATIENCE evaluations without a better validation loss, return to the best before each
# halving, and end when halvings take the rate below MIN_LEARNING_RATE.
PATIENCE = 3
MIN_LEARNING_RATE = 1e-6
OPTIMIZERS = ("sgd", "momentum", "adam")


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


# --- commands ------------------------------------------------------------------------------


# Options of a fresh run. On --resume they come from the checkpoint,
# so they default to None, to tell "given" from "not given".
FRESH_DEFAULTS = {
    "backend": "numpy-fast",
    "corpus": "benchmark",
    "corpus_path": None,
    "sentences": None,
    "vocabulary_size": 8000,
    "hidden": 100,
    "bptt_truncate": None,  # the backend's default
    "optimizer": None,  # the backend's default
    "learning_rate": None,  # the backend's default
    "dtype": None,  # the backend's own default
    "seed": 0,
}


def _fresh_run(args, parser):
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
    build, default_batch, default_truncation, default_rate, default_clip, default_optimizer = (
        BACKENDS[args.backend]
    )
    optimizer = args.optimizer or default_optimizer
    if optimizer not in (None, "sgd") and args.backend != "numpy-fast":
        parser.error(f"--optimizer {optimizer} needs --backend numpy-fast (the others step by SGD)")
    truncate = default_truncation if args.bptt_truncate is None else args.bptt_truncate
    config = dict(hidden_dim=args.hidden, bptt_truncate=truncate, seed=args.seed)
    if args.dtype:
        config["dtype"] = args.dtype
    try:
        model = build(word_dim=len(vocab), **config)
    except (ImportError, ValueError, TypeError) as e:  # a missing library, a bad combination
        parser.error(f"--backend {args.backend}: {e}")
    options = {
        # A time budget alone trains until it is spent; otherwise 10 epochs.
        "nepoch": args.epochs or (None if args.minutes else 10),
        "minutes": args.minutes,
        "evaluate_loss_after": args.evaluate_loss_after or 1,
        "batch_size": args.batch_size or default_batch,
        "clip_norm": args.clip_norm or default_clip,
        "learning_rate": args.learning_rate or default_rate,
        # "sgd" is the model's own SGD step (per sentence at batch size 1, else batched).
        "optimizer": None if optimizer == "sgd" else optimizer,
        "shuffle_seed": args.seed,
        "keep_best": True,  # the checkpoint ends at the best validation loss (early stopping)
        "patience": args.patience or PATIENCE,
        "restore_best_on_halving": True,
        "min_learning_rate": MIN_LEARNING_RATE,
        "run_info": {"data": data},  # saved inside every checkpoint, for --resume
    }
    if validation is not None:  # the benchmark split: evaluate on its validation part
        options["X_val"], options["y_val"] = validation
    return model, vocab, X, y, options


def _resumed_run(args, parser):
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


def _print_evaluation(model, history) -> None:
    last = history.evaluations[-1]
    print(
        f"epoch {last.epoch}: loss {last.loss:.6f}, perplexity {last.perplexity:.1f}, "
        f"learning rate {last.learning_rate:g}",
        file=sys.stderr,
    )


def _check_devices(devices, parser) -> None:
    """A bad --devices (0, more than JAX sees, a word) is one line naming what JAX sees."""
    if devices is not None:
        from rnnlib.keras_rnn.devices import resolve_devices

        try:
            resolve_devices(devices)
        except ValueError as e:
            parser.error(f"--devices: {e}")


def _use_devices(model, devices, parser) -> None:
    """--devices N|all: the Keras model trains data-parallel (rnnlib.keras_rnn.devices)."""
    if devices is None:
        return
    if not hasattr(model, "use_devices"):
        parser.error(f"--devices needs --backend keras; {type(model).__name__} runs on one CPU")
    from rnnlib.keras_rnn.devices import describe, devices_of

    model.use_devices(devices)  # checked by _check_devices
    print(f"training on {describe(devices_of(model.distribution))}", file=sys.stderr)


def train(args, parser) -> int:
    """Train a model; checkpoints at each evaluation and on Ctrl-C; --resume continues."""
    from rnnlib.training.checkpoint import CheckpointError
    from rnnlib.training.history import perplexity
    from rnnlib.training.train import TrainingDiverged, train_with_sgd

    if args.reset_optimizer and not args.resume:
        parser.error("--reset-optimizer resets the optimiser of a run continued with --resume")
    _check_devices(args.devices, parser)  # before the (slow) data is loaded
    model, vocab, X, y, options = (_resumed_run if args.resume else _fresh_run)(args, parser)
    _use_devices(model, args.devices, parser)
    print(
        f"{type(model).__name__}: {len(X)} sentences, {sum(map(len, X))} words, "
        f"vocabulary {len(vocab)}",
        file=sys.stderr,
    )
    if args.no_progress:  # no bar to write on: print each evaluation's loss ourselves
        options["callbacks"] = [_print_evaluation]
    try:
        history = train_with_sgd(
            model,
            X,
            y,
            checkpoint_path=args.checkpoint,
            vocab=vocab,
            progress=not args.no_progress,
            **options,
        )
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: checkpoint saved to {args.checkpoint}; continue with "
            f"`python -m rnnlib train --checkpoint {args.checkpoint} --resume`",
            file=sys.stderr,
        )
        return 130
    except TrainingDiverged as e:
        message = str(e)  # the loop's messages say "training diverged" themselves
        if not message.startswith("training diverged"):
            message = f"training diverged: {message}"
        print(message, file=sys.stderr)
        return 1
    except CheckpointError as e:  # --resume of a state that cannot continue (a lost moment)
        raise CommandFailed(f"--resume: {e}") from e
    except OSError as e:  # a checkpoint that could not be saved: "cannot write {path}: ..."
        raise CommandFailed(str(e)) from e
    if args.no_progress and history.stop_reason:  # the progress bar has written it otherwise
        print(history.stop_reason, file=sys.stderr)
    print(
        f"{history.examples_seen:,} sentences trained on in {history.train_seconds:.0f} s "
        f"(compiling {history.compile_seconds:.0f} s more); checkpoint {args.checkpoint} holds "
        f"a model of loss {history.final_loss:.4f} "
        f"(perplexity {perplexity(history.final_loss):.1f})",
        file=sys.stderr,
    )
    return 0


def add_arguments(t) -> None:
    """The train command's options."""
    t.add_argument("--backend", choices=list(BACKENDS), help="numpy-fast (default)")
    t.add_argument(
        "--corpus", choices=CORPORA, help="benchmark (default: the series' split, C = 8000)"
    )
    t.add_argument("--corpus-path", help="the file for --corpus text or reddit")
    t.add_argument("--sentences", type=positive_int, help="use only the first N sentences")
    t.add_argument("--vocabulary-size", type=positive_int, help="C (8000)")
    t.add_argument("--hidden", type=positive_int, help="hidden size H (100)")
    t.add_argument("--bptt-truncate", type=truncation, help="-1: full BPTT (4; -1 for keras)")
    t.add_argument(
        "--learning-rate", type=positive_float, help="0.003 numpy-fast, 0.002 keras, else 0.005"
    )
    t.add_argument("--batch-size", type=positive_int, help="32 numpy-fast, 16 keras, else 1")
    t.add_argument("--epochs", type=positive_int, help="epochs in all (10, or as --minutes allow)")
    t.add_argument(
        "--minutes",
        type=positive_float,
        help="training minutes of this call (compiling and evaluating not counted)",
    )
    t.add_argument(
        "--patience",
        type=positive_int,
        help=f"stop after this many evaluations without a better loss ({PATIENCE})",
    )
    t.add_argument("--optimizer", choices=OPTIMIZERS, help="adam for numpy-fast, else sgd")
    t.add_argument("--evaluate-loss-after", type=positive_int, help="epochs between (1)")
    t.add_argument(
        "--clip-norm",
        type=positive_float,
        help="clip the gradient's norm (5 for numpy-fast, keras)",
    )
    t.add_argument("--dtype", choices=["float32", "float64"], help="backend's default if unset")
    t.add_argument("--checkpoint", type=Path, default=Path("rnnlib-model.npz"))
    t.add_argument("--resume", action="store_true", help="continue the run in --checkpoint")
    t.add_argument(
        "--reset-optimizer",
        action="store_true",
        help="with --resume: start the optimiser's moments afresh (e.g. a file lacking one)",
    )
    t.add_argument(
        "--overwrite", action="store_true", help="start afresh over an existing --checkpoint"
    )
    t.add_argument("--seed", type=seed, help="weights, shuffling, synthetic data (0)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--devices", help="keras: train data-parallel over N devices, or all")
