"""`python -m rnnlib bench` (and `python -m rnnlib bench`): options, the run, the output."""

import argparse
import json
import sys

from rnnlib.tools.args import non_negative_float, positive_float, positive_int, seed, truncation
from rnnlib.tools.bench.blas import other_kernel_env, run_child
from rnnlib.tools.bench.harness import REGISTRY, Setup, run
from rnnlib.tools.bench.report import format_table, merge_other_kernel

QUICK = dict(
    vocab=200, hidden=16, batch=4, length=6, repeats=2, seconds=0.02, gemm_n=128, settle=0.0
)

# Options that fix what is measured: passed on unchanged to the child run.
SIZE_OPTIONS = (
    "vocab", "hidden", "batch", "length", "dtype", "bptt_truncate", "lr", "repeats", "seconds",
    "settle", "gemm_n", "seed",
)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The bench's options (shared with `python -m rnnlib bench`)."""
    add = parser.add_argument
    add("--vocab", "-C", type=positive_int, default=8000, help="vocabulary size C (8000)")
    add("--hidden", "-H", type=positive_int, default=100, help="hidden size H (100)")
    add("--batch", type=positive_int, default=32, help="sentences per step (32)")
    add("--length", type=positive_int, default=20, help="words per sentence (20)")
    add("--dtype", choices=["float32", "float64"], default="float32")
    add("--bptt-truncate", type=truncation, default=-1, help="-1: full BPTT (default)")
    add("--lr", type=positive_float, default=0.001, help="learning rate (0.001)")
    add("--repeats", type=positive_int, default=5, help="timed repeats of each (5)")
    add("--seconds", type=positive_float, default=0.5, help="length of one repeat (0.5)")
    add(
        "--settle",
        type=non_negative_float,
        default=0.2,
        help="pause before each timed repeat, so that the previous implementation's idle "
        "BLAS/OpenMP threads stop spinning (0.2 s)",
    )
    add("--gemm-n", type=positive_int, default=2048, help="matrix size for the sgemm peak")
    add("--only", help=f"comma-separated names among: {', '.join(REGISTRY)}")
    add(
        "--other-kernel",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the NumPy paths with the other OpenBLAS kernel choice, in a child "
        "process (default: on)",
    )
    add("--quick", action="store_true", help="tiny sizes, a smoke test: " + str(QUICK))
    add("--json", action="store_true", help="print the rows as JSON")
    add("--seed", type=seed, default=0, help="seed of the weights and the batches")
    add("--child-json", action="store_true", help=argparse.SUPPRESS)  # rows and context
    return parser


def main(argv=None) -> int:
    """`python -m rnnlib.tools.bench`: print the table (or JSON rows); exit 1 if a guard failed."""
    parser = add_arguments(
        argparse.ArgumentParser(
            prog="python -m rnnlib.tools.bench",
            description="Training throughput of every implementation, measured in one run.",
        )
    )
    return run_command(parser.parse_args(argv), parser)


def _other_kernel(args, rows: list, context: dict) -> None:
    """Time the NumPy rows again in a child with the other kernel choice; merge its figures."""
    names = [row["name"] for row in rows if row["numpy"]]
    if not names:
        return
    argv = []
    for option in SIZE_OPTIONS:
        argv += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
    argv += ["--only", ",".join(names), "--no-other-kernel"]
    env, label = other_kernel_env()
    timeout = 120 + 10 * args.repeats * args.seconds * len(names)
    try:
        child = run_child(argv, env, timeout)
    except (RuntimeError, ValueError) as e:  # ValueError: the child printed no JSON
        context["notes"].append(f"no run with {label}: {e}")
        return
    merge_other_kernel(rows, context, child, label)


def run_command(args, parser) -> int:
    """Run the bench for parsed arguments (see add_arguments)."""
    names = None
    if args.only:
        names = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in names if name not in REGISTRY]
        if unknown:
            parser.error(f"--only: unknown implementation(s) {unknown}; known: {list(REGISTRY)}")
    if args.quick:
        vars(args).update(QUICK)
    setup = Setup(
        args.vocab,
        args.hidden,
        args.batch,
        args.length,
        args.dtype,
        args.bptt_truncate,
        args.lr,
        seed=args.seed,
    )
    rows, context = run(
        setup, names, args.repeats, seconds=args.seconds, gemm_n=args.gemm_n, settle=args.settle
    )
    if args.child_json:
        print(json.dumps({"rows": rows, "context": context}))
        return 1 if context["refused"] else 0
    if args.other_kernel:
        _other_kernel(args, rows, context)
    if args.json:
        print(json.dumps(rows, indent=1))
        print("\n".join(context["notes"] + context["refused"]), file=sys.stderr)
    else:
        print(format_table(rows, context, setup))
    return 1 if context["refused"] else 0
