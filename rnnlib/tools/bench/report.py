"""The bench's report: the table people read, and the other BLAS kernel's figures merged in."""

from rnnlib.tools.bench.harness import Setup


def merge_other_kernel(rows: list[dict], context: dict, child: dict, label: str) -> None:
    """Add the child run's figures (same NumPy paths, other BLAS kernel) to rows and context.

    Each NumPy row gains `other_kernel`: its tokens/s there, its share of that run's own
    roofline, and its ratio to the best peer of this run (the peers do not use NumPy's
    BLAS, so their speed does not depend on the kernel choice).
    """
    best_peer = context.get("best_peer_tokens_per_s")
    theirs = {row["name"]: row for row in child["rows"]}
    for row in rows:
        if row["name"] in theirs:
            other = theirs[row["name"]]
            row["other_kernel"] = {
                "tokens_per_s": other["tokens_per_s"],
                "min": other["min"],
                "max": other["max"],
                "roofline_share": other["roofline_share"],
                "vs_best_peer": other["tokens_per_s"] / best_peer if best_peer else None,
            }
    figures = ("sgemm_gflops", "roofline_tokens_per_s", "blas")
    context["other_kernel"] = {"label": label, **{k: child["context"][k] for k in figures}}


def _line(name: str, figures: dict, memory=None) -> str:
    ratio = "-" if figures["vs_best_peer"] is None else f"{figures['vs_best_peer']:.2f}x"
    spread = f"{figures['min'] / 1e3:.1f}k-{figures['max'] / 1e3:.1f}k"
    return (
        f"{name:<18}{figures['tokens_per_s'] / 1e3:>9.1f}k{spread:>16}{ratio:>14}"
        f"{figures['roofline_share']:>10.0%}{'-' if memory is None else f'{memory:.1f}':>10}"
    )


def _machine(context: dict) -> list[str]:
    return [
        f"sgemm peak {context['sgemm_gflops']:.3g} GFLOPS -> roofline "
        f"{context['roofline_tokens_per_s'] / 1e3:.1f}k tokens/s (6*C*H flops per token)",
        f"BLAS: {context['blas']}",
    ]


def format_table(rows, context, setup: Setup) -> str:
    """The human-readable report."""
    header = (
        f"{'implementation':<18}{'tokens/s':>10}{'min-max':>16}{'vs best peer':>14}"
        f"{'roofline':>10}{'peak MiB':>10}"
    )
    lines = [
        f"C={setup.word_dim} H={setup.hidden_dim} batch={setup.batch_size} length="
        f"{setup.length} {setup.dtype} bptt_truncate={setup.bptt_truncate}",
        *_machine(context),
        "",
        header,
        *(_line(r["name"], r, r["peak_mib"]) for r in rows),
        "tokens/s: median of the repeats. vs best peer: against the fastest peer training the "
        "same cell (RNN, GRU or LSTM). roofline: share of the best sgemm peak measured "
        "during the run. peak MiB: tracemalloc's peak while building the model and taking its "
        "warm-up steps (numpy allocations); '-': not numpy",
    ]
    other = context.get("other_kernel")
    if other:
        lines += [
            "",
            f"The NumPy paths again with {other['label']}, in a child process",
            *_machine(other),
            "",
            header,
            *(_line(r["name"], r["other_kernel"]) for r in rows if "other_kernel" in r),
            "vs best peer: against the peers above (their libraries bring their own BLAS); "
            "roofline: this run's own sgemm peak",
        ]
    lines += _impossible_shares(rows, context)
    lines += context["notes"] + [f"REFUSED {message}" for message in context["refused"]]
    return "\n".join(lines)


def _impossible_shares(rows, context) -> list[str]:
    """A warning where a row ran above its roofline: that peak was measured on a busy machine."""
    runs = [(rows, context, "this run")]
    if "other_kernel" in context:
        others = [r["other_kernel"] for r in rows if "other_kernel" in r]
        runs.append((others, context["other_kernel"], context["other_kernel"]["label"]))
    warnings = []
    for run_rows, figures, label in runs:
        share = max((r["roofline_share"] for r in run_rows), default=0.0)
        if share > 1.0:
            warnings.append(
                f"WARNING ({label}): a roofline share of {share:.0%} is impossible: the sgemm "
                f"peak ({figures['sgemm_gflops']:.3g} GFLOPS) was measured while something else "
                "ran on this machine, so the shares are not to be trusted; run the bench again "
                "on a quiet machine"
            )
    return warnings
