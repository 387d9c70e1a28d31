"""`python -m rnnlib.bench`: training throughput of every implementation, measured in one run.

Every implementation trains the same model (C words, H hidden units, no biases) from the
same weights on the same random batches: forward, backward and SGD update, timed in
tokens per second. Before any timing, each one's loss on the first batch must agree with
RNNNumpy's in float64 (the correctness guard), so the bench never times a wrong model.
Repeats are interleaved (A B C A B C ...) so a noisy neighbour slows every path alike;
the table shows the median and the spread (min-max) of the repeats.

Implementations are registered by a function each (`@register(name)`): it gets the
`Setup` and returns a `Runner`, or raises `Unavailable` with a note (missing module,
unsupported dtype). Optional ones are imported lazily.
"""

import argparse
import json
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rnnlib.cli import positive_float, positive_int, truncation
from rnnlib.fast_rnn import RNNNumpyFast
from rnnlib.numpy_rnn import RNNNumpy

MIB = 1 << 20


class Unavailable(Exception):
    """An implementation that cannot run here; the message says why (shown as a note)."""


class WrongModel(AssertionError):
    """An implementation whose loss disagrees with RNNNumpy's: it is never timed."""


@dataclass
class Setup:
    """One benchmark configuration: sizes, the shared initial weights and the batches."""

    word_dim: int = 8000  # C
    hidden_dim: int = 100  # H
    batch_size: int = 32
    length: int = 20  # words per sentence
    dtype: str = "float32"
    bptt_truncate: int = -1  # full BPTT, which is what the autograd peers compute
    learning_rate: float = 0.001
    n_batches: int = 4
    seed: int = 0
    params: dict = field(init=False)  # float64 U, V, W from RNNNumpy(seed)
    batches: list = field(init=False)  # [(xs, ys)]: lists of (length,) int64 arrays

    def __post_init__(self):
        self.params = RNNNumpy(self.word_dim, self.hidden_dim, seed=self.seed).get_params()
        rng = np.random.default_rng(self.seed)
        shape = (self.batch_size, self.length)
        self.batches = [
            (
                list(rng.integers(0, self.word_dim, shape)),
                list(rng.integers(0, self.word_dim, shape)),
            )
            for _ in range(self.n_batches)
        ]

    @property
    def tokens_per_batch(self) -> int:
        """Words predicted per training step."""
        return self.batch_size * self.length


@dataclass
class Runner:
    """What the bench needs of an implementation: a training step and a loss, per batch index."""

    step: Callable[[int], None]
    loss: Callable[[int], float]  # total (summed) cross-entropy on that batch
    # Waits until every step so far has really run: JAX returns before computing, so a
    # timing without it would measure only how fast work is queued.
    sync: Callable[[], object] = lambda: None


@dataclass
class Entry:
    """A registered implementation: how to build it, and how to read its figures."""

    name: str
    build: Callable[[Setup], Runner]
    peer: bool  # an outside library a learner would pick instead (torch, keras)
    traced: bool  # allocates through numpy, so tracemalloc sees its memory


REGISTRY: dict[str, Entry] = {}


def register(name: str, peer: bool = False, traced: bool = False):
    """Decorator: add a builder `Setup -> Runner` to the bench under `name`."""

    def add(build):
        REGISTRY[name] = Entry(name, build, peer, traced)
        return build

    return add


def interface_runner(model, setup: Setup, batched: bool) -> Runner:
    """A Runner for any model with the rnnlib interface (sgd_step or sgd_step_batch)."""
    model.set_params(setup.params)
    lr = setup.learning_rate

    def step(i):
        xs, ys = setup.batches[i]
        if batched:
            model.sgd_step_batch(xs, ys, lr)
        else:
            for x, y in zip(xs, ys, strict=True):
                model.sgd_step(x, y, lr)

    loss = lambda i: model.calculate_total_loss(*setup.batches[i])  # noqa: E731
    return Runner(step, loss, sync=model.get_params)  # copies to NumPy: the work is done


@register("numpy-readable", traced=True)
def _readable(setup):
    model = RNNNumpy(setup.word_dim, setup.hidden_dim, setup.bptt_truncate, dtype=setup.dtype)
    return interface_runner(model, setup, batched=False)


@register("numpy-fast", traced=True)
def _fast(setup):
    model = RNNNumpyFast(setup.word_dim, setup.hidden_dim, setup.bptt_truncate, dtype=setup.dtype)
    return interface_runner(model, setup, batched=True)


def _pytensor_model(setup):
    try:
        from rnnlib.pytensor_rnn import RNNPyTensor
    except ImportError as e:
        raise Unavailable(f"rnnlib.pytensor_rnn not importable ({e})") from None
    return RNNPyTensor(
        word_dim=setup.word_dim,
        hidden_dim=setup.hidden_dim,
        bptt_truncate=setup.bptt_truncate,
        dtype=setup.dtype,
    )


@register("pytensor")  # JAX underneath: its arrays are not numpy's, untraced
def _pytensor(setup):
    return interface_runner(_pytensor_model(setup), setup, batched=False)


@register("pytensor-batched")
def _pytensor_batched(setup):
    model = _pytensor_model(setup)
    if not hasattr(model, "sgd_step_batch"):
        raise Unavailable("RNNPyTensor has no sgd_step_batch")
    return interface_runner(model, setup, batched=True)


@register("keras KerasRNN")
def _keras_word(setup):
    try:
        from rnnlib.keras_word import KerasRNN
    except ImportError as e:
        raise Unavailable(f"rnnlib.keras_word not importable ({e})") from None
    try:
        model = KerasRNN(setup.word_dim, setup.hidden_dim, setup.bptt_truncate, dtype=setup.dtype)
    except ValueError as e:  # e.g. a truncation, which Keras' autodiff does not do
        raise Unavailable(str(e)) from None
    return interface_runner(model, setup, batched=True)


@register("torch nn.RNN", peer=True)
def _torch(setup):
    try:
        import torch
    except ImportError:
        raise Unavailable("torch not installed (pip install -e '.[bench]')") from None
    C, H, dtype = setup.word_dim, setup.hidden_dim, getattr(torch, setup.dtype)

    class LanguageModel(torch.nn.Module):  # what a learner would write: no biases, tanh
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(C, H, dtype=dtype)
            self.rnn = torch.nn.RNN(H, H, nonlinearity="tanh", bias=False, dtype=dtype)
            self.out = torch.nn.Linear(H, C, bias=False, dtype=dtype)

        def forward(self, x):  # x (T, B) -> scores (T * B, C)
            return self.out(self.rnn(self.embed(x))[0]).reshape(-1, C)

    model = LanguageModel()
    p = {k: torch.tensor(v, dtype=dtype) for k, v in setup.params.items()}
    with torch.no_grad():
        model.embed.weight.copy_(p["U"].T)  # row x of the table = column x of U
        model.rnn.weight_ih_l0.copy_(torch.eye(H, dtype=dtype))  # the embedding is U's push
        model.rnn.weight_hh_l0.copy_(p["W"])
        model.out.weight.copy_(p["V"])
    optimizer = torch.optim.SGD(model.parameters(), lr=setup.learning_rate)
    data = [  # time-major (T, B) ids, (T * B,) targets
        (torch.tensor(np.array(xs).T), torch.tensor(np.array(ys).T).reshape(-1))
        for xs, ys in setup.batches
    ]

    def loss(i):
        return torch.nn.functional.cross_entropy(model(data[i][0]), data[i][1], reduction="sum")

    def step(i):
        optimizer.zero_grad(set_to_none=True)
        loss(i).backward()
        optimizer.step()

    def loss_value(i):
        with torch.no_grad():
            return float(loss(i))

    return Runner(step, loss_value)


@register("keras SimpleRNN", peer=True)
def _keras(setup):
    if setup.dtype != "float32":
        raise Unavailable("the Keras peer runs in float32 only")
    os.environ.setdefault("KERAS_BACKEND", "jax")  # the project's backend, unless chosen
    try:
        import keras
    except ImportError as e:
        raise Unavailable(f"keras not importable ({e})") from None
    C, H = setup.word_dim, setup.hidden_dim
    model = keras.Sequential(
        [
            keras.Input((setup.length,), dtype="int32"),
            keras.layers.Embedding(C, H),
            keras.layers.SimpleRNN(H, use_bias=False, return_sequences=True),
            keras.layers.Dense(C, use_bias=False),
        ]
    )
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
    model.compile(optimizer=keras.optimizers.SGD(setup.learning_rate), loss=loss_fn)
    p = setup.params  # SimpleRNN: h_t = tanh(e_t K + h_{t-1} R), so R = W^T; Dense: h V^T
    model.set_weights([p["U"].T, np.eye(H), p["W"].T, p["V"].T])
    data = [
        (np.array(xs, dtype=np.int32), np.array(ys, dtype=np.int32)) for xs, ys in setup.batches
    ]

    def step(i):
        model.train_on_batch(*data[i])

    return Runner(step, lambda i: float(loss_fn(data[i][1], model(data[i][0], training=False))))


# --- measuring -------------------------------------------------------------------------------


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _time_steps(runner: Runner, first: int, n: int, n_batches: int) -> float:
    """Seconds for n training steps, cycling through the batches."""
    start = time.perf_counter()
    for i in range(first, first + n):
        runner.step(i % n_batches)
    runner.sync()
    return time.perf_counter() - start


def sgemm_gflops(n: int, dtype: str, repeats: int = 3) -> float:
    """The machine's matrix-multiply peak: best of `repeats` products of two (n, n) matrices."""
    a, b = np.random.default_rng(0).standard_normal((2, n, n)).astype(dtype)
    out = a @ b  # warm-up: threads started, pages touched
    return 2 * n**3 / min(_timed(lambda: np.matmul(a, b, out=out)) for _ in range(repeats)) / 1e9


def blas_description() -> str:
    """Which BLAS/OpenMP libraries are loaded: kernel, threads, and the package that brought each."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed (pip install -e '.[bench]'); BLAS kernel unknown"
    described = []
    for lib in threadpool_info():
        parts = lib.get("filepath", "").split("/")
        package = parts[parts.index("site-packages") + 1] if "site-packages" in parts else "?"
        described.append(
            f"{lib['internal_api']} {lib.get('version') or ''} ({lib.get('architecture') or '-'}"
            f", {lib['num_threads']} threads, from {package.removesuffix('.libs')})"
        )
    return "; ".join(described)


def reference_loss(setup: Setup) -> float:
    """RNNNumpy's total loss on batch 0 in float64: what every implementation must reproduce."""
    reference = RNNNumpy(setup.word_dim, setup.hidden_dim)
    reference.set_params(setup.params)
    return reference.calculate_total_loss(*setup.batches[0])


def guard(name: str, runner: Runner, setup: Setup, expected: float | None = None) -> None:
    """Raise WrongModel when the runner's loss on batch 0 differs from RNNNumpy's."""
    expected = reference_loss(setup) if expected is None else expected
    got = runner.loss(0)
    rtol = 1e-4 if setup.dtype == "float32" else 1e-9
    if not abs(got - expected) <= rtol * abs(expected):  # also catches NaN
        raise WrongModel(
            f"{name}: loss {got!r} on the shared batch, but RNNNumpy says {expected!r} "
            f"(relative tolerance {rtol}); not timing a model that computes something else"
        )


def prepare(entry: Entry, setup: Setup, expected: float, warmup: int):
    """Build, guard and warm up one implementation: (runner, seconds per step, peak MiB).

    For numpy-based implementations the peak memory is tracemalloc's peak over all of it:
    the model's parameters, its buffers and the temporaries of a training step.
    """
    if entry.traced:
        tracemalloc.start()
    try:
        runner = entry.build(setup)
        guard(entry.name, runner, setup, expected)
        # Warm-up: JIT compilation, buffers; its fastest step sizes the timed repeats.
        per_step = min(_time_steps(runner, i, 1, setup.n_batches) for i in range(warmup))
        peak = tracemalloc.get_traced_memory()[1] / MIB if entry.traced else None
    finally:
        tracemalloc.stop()
    return runner, per_step, peak


def run(setup: Setup, names=None, repeats=5, warmup=2, seconds=0.5, gemm_n=2048):
    """Guard, warm up and time each implementation, interleaved; return (rows, context).

    context holds the machine figures, `notes` (implementations skipped, and why) and
    `refused` (implementations that failed the correctness guard, never timed).
    """
    entries = [REGISTRY[name] for name in (names or REGISTRY)]
    peak = sgemm_gflops(gemm_n, setup.dtype)
    roofline = peak * 1e9 / (6 * setup.word_dim * setup.hidden_dim)  # tokens/s at the peak
    expected = reference_loss(setup)
    runners, steps, memory, notes, refused = {}, {}, {}, [], []
    for entry in entries:
        try:
            runner, per_step, memory[entry.name] = prepare(entry, setup, expected, warmup)
        except Unavailable as e:
            notes.append(f"skipped {entry.name}: {e}")
            continue
        except WrongModel as e:
            refused.append(str(e))
            continue
        runners[entry.name], steps[entry.name] = runner, max(1, round(seconds / per_step))
    rates = {name: [] for name in runners}
    for _ in range(repeats):
        for name, runner in runners.items():  # interleaved: A B C A B C ...
            n = steps[name]
            elapsed = _time_steps(runner, 0, n, setup.n_batches)
            rates[name].append(n * setup.tokens_per_batch / elapsed)
    medians = {name: statistics.median(r) for name, r in rates.items()}
    peers = [medians[e.name] for e in entries if e.peer and e.name in medians]
    rows = [
        {
            "name": name,
            "tokens_per_s": medians[name],
            "min": min(rates[name]),
            "max": max(rates[name]),
            "repeats": rates[name],
            "vs_best_peer": medians[name] / max(peers) if peers else None,
            "roofline_share": medians[name] / roofline,
            "peak_mib": memory[name],
            "peer": REGISTRY[name].peer,
        }
        for name in rates
    ]
    context = dict(
        sgemm_gflops=peak,
        roofline_tokens_per_s=roofline,
        blas=blas_description(),
        notes=notes,
        refused=refused,
    )
    return rows, context


def format_table(rows, context, setup: Setup) -> str:
    """The human-readable report."""
    lines = [
        f"C={setup.word_dim} H={setup.hidden_dim} batch={setup.batch_size} length="
        f"{setup.length} {setup.dtype} bptt_truncate={setup.bptt_truncate}",
        f"sgemm peak {context['sgemm_gflops']:.3g} GFLOPS -> roofline "
        f"{context['roofline_tokens_per_s'] / 1e3:.1f}k tokens/s (6*C*H flops per token)",
        f"BLAS: {context['blas']}",
        "",
        f"{'implementation':<18}{'tokens/s':>10}{'min-max':>16}{'vs best peer':>14}"
        f"{'roofline':>10}{'peak MiB':>10}",
    ]
    for r in rows:
        ratio = "-" if r["vs_best_peer"] is None else f"{r['vs_best_peer']:.2f}x"
        memory = "-" if r["peak_mib"] is None else f"{r['peak_mib']:.1f}"
        spread = f"{r['min'] / 1e3:.1f}k-{r['max'] / 1e3:.1f}k"
        lines.append(
            f"{r['name']:<18}{r['tokens_per_s'] / 1e3:>9.1f}k{spread:>16}{ratio:>14}"
            f"{r['roofline_share']:>10.0%}{memory:>10}"
        )
    lines.append(
        "tokens/s: median of the repeats. peak MiB: tracemalloc's peak while building the "
        "model and taking its warm-up steps (numpy allocations); '-': not numpy"
    )
    lines += context["notes"] + [f"REFUSED {message}" for message in context["refused"]]
    return "\n".join(lines)


# --- command line ----------------------------------------------------------------------------

QUICK = dict(vocab=200, hidden=16, batch=4, length=6, repeats=2, seconds=0.02, gemm_n=128)


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
    add("--gemm-n", type=positive_int, default=2048, help="matrix size for the sgemm peak")
    add("--only", help=f"comma-separated names among: {', '.join(REGISTRY)}")
    add("--quick", action="store_true", help="tiny sizes, a smoke test: " + str(QUICK))
    add("--json", action="store_true", help="print the rows as JSON")
    add("--seed", type=int, default=0, help="seed of the weights and the batches")
    return parser


def main(argv=None) -> int:
    """`python -m rnnlib.bench`: print the table (or JSON rows); exit 1 if a guard failed."""
    parser = add_arguments(
        argparse.ArgumentParser(prog="python -m rnnlib.bench", description=__doc__.split("\n")[0])
    )
    return run_command(parser.parse_args(argv), parser)


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
    rows, context = run(setup, names, args.repeats, seconds=args.seconds, gemm_n=args.gemm_n)
    if args.json:
        print(json.dumps(rows, indent=1))
        print("\n".join(context["notes"] + context["refused"]), file=sys.stderr)
    else:
        print(format_table(rows, context, setup))
    return 1 if context["refused"] else 0


if __name__ == "__main__":
    sys.exit(main())
