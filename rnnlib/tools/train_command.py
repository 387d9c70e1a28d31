"""`python -m rnnlib train`: a run on the benchmark split (or another corpus), with checkpoints.

Not a lesson: the command line around `train_with_sgd` (notebook 4). `--backend` and `--cell`
pick one of the series' word models, which trains with its recipe (rnnlib.evaluation.recipes,
the one notebook 8 compares): with every option at its default, RNNNumpyFast (H = 100, full
BPTT) with Adam on the mean loss per word, batches of 32, on the training part of the series'
benchmark split, evaluating on its validation part; each halving returns to the best
evaluation first, the run ends after PATIENCE evaluations without a better loss (or below
MIN_LEARNING_RATE), and the final checkpoint holds the parameters of the best evaluation.

A training run writes its checkpoint at every loss evaluation and when interrupted. What
`--resume` needs lives inside it, written in the same atomic save: the data options and a
SHA-256 of the corpus file (rnnlib.tools.rundata), beside the learning rate, history,
shuffling and optimiser state. A fresh run never replaces an existing checkpoint unless told
to (`--overwrite`).
"""

import argparse
import sys
from pathlib import Path

from rnnlib.evaluation.recipes import BACKENDS, CELLS, PATIENCE, supported_pairs
from rnnlib.tools.args import (
    CommandFailed,
    dropout_rate,
    positive_float,
    positive_int,
    seed,
    truncation,
)
from rnnlib.tools.train_setup import check_devices, fresh_run, resumed_run, use_devices

# Heavy modules (models, corpora, Keras...) are imported inside the commands that need them.
# The models and their settings are rnnlib.evaluation.recipes': one recipe for every word model.

CORPORA = ("benchmark", "builtin", "synthetic", "text", "reddit")
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


def _print_evaluation(model, history) -> None:
    last = history.evaluations[-1]
    print(
        f"epoch {last.epoch}: loss {last.loss:.6f}, perplexity {last.perplexity:.1f}, "
        f"learning rate {last.learning_rate:g}",
        file=sys.stderr,
    )


def train(args, parser) -> int:
    """Train a model; checkpoints at each evaluation and on Ctrl-C; --resume continues."""
    from rnnlib.training.checkpoint import CheckpointError
    from rnnlib.training.history import perplexity
    from rnnlib.training.train import TrainingDiverged, train_with_sgd

    if args.reset_optimizer and not args.resume:
        parser.error("--reset-optimizer resets the optimiser of a run continued with --resume")
    check_devices(args.devices, parser)  # before the (slow) data is loaded
    model, vocab, X, y, options = (resumed_run if args.resume else fresh_run)(args, parser)
    use_devices(model, args.devices, parser)
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
    t.add_argument("--backend", choices=BACKENDS, help="numpy-fast (default)")
    t.add_argument(
        "--cell",
        choices=CELLS,
        help=f"the recurrent cell (rnn); the pairs that exist: {supported_pairs()}",
    )
    t.add_argument(
        "--dropout",
        type=dropout_rate,
        help="dropout on the recurrent layer's input and output, in [0, 1) (the recipe's)",
    )
    t.add_argument(
        "--tie-embeddings",
        action=argparse.BooleanOptionalAction,
        help="V is U transposed: one matrix for input and output words (the recipe's)",
    )
    t.add_argument(
        "--corpus", choices=CORPORA, help="benchmark (default: the series' split, C = 8000)"
    )
    t.add_argument("--corpus-path", help="the file for --corpus text or reddit")
    t.add_argument("--sentences", type=positive_int, help="use only the first N sentences")
    t.add_argument("--vocabulary-size", type=positive_int, help="C (8000)")
    t.add_argument("--hidden", type=positive_int, help="hidden size H (100)")
    t.add_argument(
        "--bptt-truncate",
        type=truncation,
        help="-1: full BPTT (the recipe's: 4 numpy-readable, else -1)",
    )
    t.add_argument(
        "--learning-rate",
        type=positive_float,
        help="the recipe's (0.005 numpy-readable, else about 0.003)",
    )
    t.add_argument("--batch-size", type=positive_int, help="32 (1 for numpy-readable)")
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
    t.add_argument("--optimizer", choices=OPTIMIZERS, help="adam (sgd for numpy-readable)")
    t.add_argument("--evaluate-loss-after", type=positive_int, help="epochs between (1)")
    t.add_argument(
        "--clip-norm",
        type=positive_float,
        help="clip the gradient's norm (5; none for numpy-readable)",
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
