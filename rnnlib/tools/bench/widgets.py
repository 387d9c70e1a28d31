"""`python -m rnnlib.tools.bench.widgets`: how fast the BPTT explorer answers, measured in one run.

For each model (RNNNumpy, RNNPyTensor; C = 8000, H = 100, a sentence of 15 words, float64)
the explorer is opened once (its first draw, compilation included, is reported apart), then
each kind of control change is timed several times and its median reported:

- a cached redraw: `redraw()` with nothing changed (the floor every answer pays);
- a truncation-slider move: a new k, nothing recomputed;
- a W× change: a scale of W not seen before, so the gradients are computed afresh.

Ratios against the cached redraw are what to compare between machines; never a timed test.
On a machine shared with other work, BLAS threads fight for the cores: compare a run with
OPENBLAS_NUM_THREADS=1.
"""

import argparse
import statistics
import time

import numpy as np


def _median_seconds(action, values) -> float:
    times = []
    for value in values:
        start = time.perf_counter()
        action(value)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(model, x, y, repeats: int = 5) -> dict:
    """Seconds for the first draw, a cached redraw, a truncation move and a W× change."""
    from rnnlib.widgets import bptt_explorer

    start = time.perf_counter()
    explorer = bptt_explorer({"model": model}, x, y, k=4)
    first = time.perf_counter() - start
    cached = _median_seconds(lambda _: explorer.redraw(), range(repeats))
    ks = [1, 6, 2, 8, 3, 9, 0, 7][:repeats]

    def set_k(k):
        explorer.truncation.value = k

    truncation = _median_seconds(set_k, ks)
    scales = [2 ** (i / 4) for i in (1, -1, 2, -2, 3, -3, 5, -5)][:repeats]  # each one new

    def set_scale(scale):
        explorer.scale.value = scale

    scale = _median_seconds(set_scale, scales)
    return {"first draw": first, "cached redraw": cached, "truncation k": truncation,
            "W ×": scale, "how": getattr(explorer.flow()[0], "method", "bptt differences")}  # fmt: skip


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=15)
    parser.add_argument("--vocabulary", type=int, default=8000)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    from rnnlib.numpy_rnn.readable import RNNNumpy

    models = {"RNNNumpy": RNNNumpy}
    try:
        from rnnlib.pytensor_rnn.rnn import RNNPyTensor

        models["RNNPyTensor"] = RNNPyTensor
    except ImportError:  # PyTensor is an optional dependency
        pass
    C, H, T = args.vocabulary, args.hidden, args.words
    rng = np.random.default_rng(0)
    x = np.r_[0, rng.integers(2, C - 1, T - 1)]
    y = np.r_[x[1:], 1]
    print(f"BPTT explorer, C = {C}, H = {H}, {T} words; median of {args.repeats} changes each")
    header = ["model", "first draw", "cached redraw", "truncation k", "W ×", "W × / cached"]
    print(" | ".join(f"{h:>13}" for h in header))
    for name, cls in models.items():
        r = measure(cls(C, H, bptt_truncate=4, seed=0), x, y, args.repeats)
        ratio = r["W ×"] / r["cached redraw"]
        row = [name, *(f"{r[k]:.3f} s" for k in header[1:5]), f"{ratio:.1f}×"]
        print(" | ".join(f"{v:>13}" for v in row), f"  ({r['how']})", flush=True)


if __name__ == "__main__":
    main()
