"""`python -m rnnlib train|evaluate|generate|bench`: training runs outside Jupyter.

    python -m rnnlib train --minutes 10 --checkpoint run.npz  # the benchmark split, the recipe
    python -m rnnlib train --checkpoint run.npz --resume     # after Ctrl-C, or for more epochs
    python -m rnnlib evaluate run.npz --split validation      # loss and perplexity, held out
    python -m rnnlib evaluate --ngram 3                       # the Kneser-Ney trigram baseline
    python -m rnnlib generate run.npz -n 10 --temperature 0.8 --seed 1
    python -m rnnlib bench --quick

`train` is rnnlib.tools.train_command (its defaults: the series' recipe on the benchmark
split), `evaluate` rnnlib.tools.evaluate, `bench` rnnlib.tools.bench. Failures a user can
fix (a checkpoint in the way, an unwritable place, a changed corpus, a broken file) end with
one line on stderr and status 1; bad arguments (a missing file among them) with status 2.
"""

import argparse
import sys
from pathlib import Path

from rnnlib.tools import train_command
from rnnlib.tools.args import (
    CommandFailed,
    load_or_fail,
    non_negative_int,
    positive_float,
    positive_int,
    seed,
)


def generate(args, parser) -> int:
    """Print sentences sampled from a checkpoint's model."""
    import numpy as np

    from rnnlib.sampling import generate_sentences, sentence_text

    checkpoint = load_or_fail(args.checkpoint, parser)
    if checkpoint.vocab is None:
        parser.error(f"{args.checkpoint} holds no vocabulary, so its ids cannot become words")
    rng = np.random.default_rng(args.seed)
    try:
        sentences = generate_sentences(
            checkpoint.model,
            checkpoint.vocab,
            args.n,
            rng,
            temperature=args.temperature,
            min_length=args.min_length,
        )
    except ValueError as e:  # e.g. --min-length above the longest sentence generated
        parser.error(str(e))
    for words in sentences:
        print(sentence_text(words))  # `` and '' shown as the quotes they stand for
    return 0


def bench(args, parser) -> int:
    """Throughput of every implementation (see rnnlib.tools.bench)."""
    from rnnlib.tools.bench import run_command

    return run_command(args, parser)


def build_parser() -> argparse.ArgumentParser:
    """All three commands and their options."""
    parser = argparse.ArgumentParser(prog="python -m rnnlib", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    t = commands.add_parser("train", help="train a language model, with checkpoints")
    t.set_defaults(run=train_command.train)
    train_command.add_arguments(t)

    from rnnlib.tools import evaluate as evaluate_command  # cheap: heavy imports run later

    e = commands.add_parser("evaluate", help="held-out loss and perplexity on the benchmark split")
    e.set_defaults(run=evaluate_command.run)
    evaluate_command.add_arguments(e)

    g = commands.add_parser("generate", help="sample sentences from a checkpoint")
    g.set_defaults(run=generate)
    g.add_argument("checkpoint", type=Path)
    g.add_argument("-n", type=positive_int, default=10, help="how many sentences (10)")
    g.add_argument("--temperature", type=positive_float, default=1.0)
    g.add_argument(
        "--min-length", type=non_negative_int, default=7, help="words, as the tutorial (7)"
    )
    g.add_argument("--seed", type=seed, default=0)

    from rnnlib.tools.bench import add_arguments  # numpy only: cheap

    b = commands.add_parser("bench", help="training throughput of every implementation")
    b.set_defaults(run=bench)
    add_arguments(b)
    return parser


def main(argv=None) -> int:
    """Parse the command line and run the command; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args, parser)
    except CommandFailed as e:
        print(f"{parser.prog} {args.command}: error: {e}", file=sys.stderr)
        return 1
