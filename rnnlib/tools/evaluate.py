"""`python -m rnnlib evaluate`: a checkpoint's (or an n-gram model's) held-out loss and perplexity.

    python -m rnnlib evaluate run.npz                    # validation part of the benchmark split
    python -m rnnlib evaluate run.npz --split test --json
    python -m rnnlib evaluate --ngram 3                  # the Kneser-Ney trigram baseline

Scores come from rnnlib.evaluation on the series' one benchmark split; a checkpoint whose
vocabulary is not the split's is refused, naming both sizes. JSON output has the keys
split, loss, perplexity and tokens.
"""

import json
from pathlib import Path

from rnnlib.tools.args import CommandFailed, load_or_fail, positive_int


def add_arguments(parser) -> None:
    """The evaluate command's options."""
    parser.add_argument("checkpoint", type=Path, nargs="?", help="a checkpoint (.npz)")
    parser.add_argument(
        "--ngram", type=positive_int, metavar="N", help="score a Kneser-Ney N-gram model instead"
    )
    parser.add_argument("--split", choices=["validation", "test"], default="validation")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")


def run(args, parser) -> int:
    """Print the held-out loss, perplexity and word count of the model asked for."""
    if (args.checkpoint is None) == (args.ngram is None):
        parser.error("give a CHECKPOINT or --ngram N (one of the two)")
    if args.ngram is not None and not 1 <= args.ngram <= 4:
        parser.error(f"--ngram {args.ngram}: expected an order from 1 to 4")
    from rnnlib.data.benchmark import benchmark_split
    from rnnlib.data.frozen import CorpusFileError
    from rnnlib.evaluation.scoring import ngram_baselines, score

    checkpoint = None if args.checkpoint is None else load_or_fail(args.checkpoint, parser)
    try:  # after the checkpoint: a broken file is said before the split is built
        split = benchmark_split()
    except (FileNotFoundError, CorpusFileError) as e:  # rnnlib's frozen corpus: gone, or damaged
        raise CommandFailed(str(e)) from e
    if checkpoint is None:  # an n-gram model, fitted on the split's training part
        ((name, model),) = ngram_baselines(split, orders=(args.ngram,)).items()
        vocab = None
    else:
        model, vocab, name = checkpoint.model, checkpoint.vocab, str(checkpoint.path)
    try:
        result = score(model, split, args.split, vocab=vocab)
    except ValueError as e:  # another vocabulary
        parser.error(f"{name}: {e}")
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        print(f"{name}: {result}")
    return 0
