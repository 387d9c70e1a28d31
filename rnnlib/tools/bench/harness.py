"""The bench's core: one configuration, a registry of implementations, and interleaved timing.

Every implementation of a cell trains the same model (C words, H hidden units) from the
same weights on the same random batches: forward, backward and SGD update, timed in
tokens per second. The cells: the tutorial's RNN (no biases), and the gated GRU and LSTM
(rnnlib.tools.bench.cells). Before any timing, each one's loss on the first batch must
agree with a float64 NumPy reference (RNNNumpy, or the cells' own): the correctness guard,
so the bench never times a wrong model. Ratios compare each row with the fastest peer of
its own cell.
Repeats are interleaved (A B C A B C ...) so a noisy neighbour slows every path alike;
rows carry the median and the spread (min-max) of the repeats.

Implementations are registered by a function each (`@register(name)`, see
`rnnlib.tools.bench.implementations`): it gets the `Setup` and returns a `Runner`, or raises
`Unavailable` with a note (missing module, unsupported dtype).
"""

import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rnnlib.numpy_rnn.readable import RNNNumpy
from rnnlib.tools.bench.blas import blas_description, sgemm_gflops, square_operands
from rnnlib.tools.bench.cells import gated_params, gated_total_loss

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

    def cell_params(self, cell: str) -> dict:
        """The shared float64 weights of `cell`: 'rnn' (U, V, W), 'gru' or 'lstm' (Keras layout)."""
        if cell == "rnn":
            return self.params
        return gated_params(cell, self.word_dim, self.hidden_dim, self.seed)

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
    # Runs on NumPy: tracemalloc sees its memory, and NumPy's BLAS does its products (so
    # the BLAS kernel choice, see rnnlib.tools.bench.blas, changes its speed).
    numpy: bool
    cell: str = "rnn"  # the model it trains: 'rnn', 'gru' or 'lstm'


REGISTRY: dict[str, Entry] = {}


def register(name: str, peer: bool = False, numpy: bool = False, cell: str = "rnn"):
    """Decorator: add a builder `Setup -> Runner` of a `cell` model to the bench under `name`."""

    def add(build):
        REGISTRY[name] = Entry(name, build, peer, numpy, cell)
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


# --- measuring -------------------------------------------------------------------------------


def _time_steps(runner: Runner, first: int, n: int, n_batches: int) -> float:
    """Seconds for n training steps, cycling through the batches."""
    start = time.perf_counter()
    for i in range(first, first + n):
        runner.step(i % n_batches)
    runner.sync()
    return time.perf_counter() - start


def reference_loss(setup: Setup, cell: str = "rnn") -> float:
    """The total loss on batch 0 in float64 (RNNNumpy's, or the gated cell's in NumPy): what
    every implementation of that cell must reproduce."""
    if cell != "rnn":
        return gated_total_loss(cell, setup.cell_params(cell), *setup.batches[0])
    reference = RNNNumpy(setup.word_dim, setup.hidden_dim)
    reference.set_params(setup.params)
    return reference.calculate_total_loss(*setup.batches[0])


def guard(
    name: str, runner: Runner, setup: Setup, expected: float | None = None, cell: str = "rnn"
) -> None:
    """Raise WrongModel when the runner's loss on batch 0 differs from the NumPy reference's."""
    expected = reference_loss(setup, cell) if expected is None else expected
    got = runner.loss(0)
    rtol = 1e-4 if setup.dtype == "float32" else 1e-9
    reference = "RNNNumpy" if cell == "rnn" else f"the {cell.upper()} in NumPy"
    if not abs(got - expected) <= rtol * abs(expected):  # also catches NaN
        raise WrongModel(
            f"{name}: loss {got!r} on the shared batch, but {reference} says {expected!r} "
            f"(relative tolerance {rtol}); not timing a model that computes something else"
        )


def prepare(entry: Entry, setup: Setup, expected: float, warmup: int):
    """Build, guard and warm up one implementation: (runner, seconds per step, peak MiB).

    For numpy-based implementations the peak memory is tracemalloc's peak over all of it:
    the model's parameters, its buffers and the temporaries of a training step.
    """
    if entry.numpy:
        tracemalloc.start()
    try:
        runner = entry.build(setup)
        guard(entry.name, runner, setup, expected, entry.cell)
        # Warm-up: JIT compilation, buffers; its fastest step sizes the timed repeats.
        per_step = min(_time_steps(runner, i, 1, setup.n_batches) for i in range(warmup))
        peak = tracemalloc.get_traced_memory()[1] / MIB if entry.numpy else None
    finally:
        tracemalloc.stop()
    return runner, per_step, peak


def run(setup: Setup, names=None, repeats=5, warmup=2, seconds=0.5, gemm_n=2048, settle=0.2):
    """Guard, warm up and time each implementation, interleaved; return (rows, context).

    context holds the machine figures, `notes` (implementations skipped, and why) and
    `refused` (implementations that failed the correctness guard, never timed).
    """
    entries = [REGISTRY[name] for name in (names or REGISTRY)]
    expected = {cell: reference_loss(setup, cell) for cell in {e.cell for e in entries}}
    runners, steps, memory, notes, refused = {}, {}, {}, [], []
    for entry in entries:
        try:
            runner, per_step, memory[entry.name] = prepare(
                entry, setup, expected[entry.cell], warmup
            )
        except Unavailable as e:
            notes.append(f"skipped {entry.name}: {e}")
            continue
        except WrongModel as e:
            refused.append(str(e))
            continue
        runners[entry.name], steps[entry.name] = runner, max(1, round(seconds / per_step))
    rates = {name: [] for name in runners}
    # The matmul peak moves with the machine's clock and its neighbours just as the
    # implementations do, so it is measured in every round too, and the best one counts.
    operands = square_operands(gemm_n, setup.dtype)
    peaks = [sgemm_gflops(gemm_n, setup.dtype, operands=operands)]
    for _ in range(repeats):
        for name, runner in runners.items():  # interleaved: A B C A B C ...
            # BLAS and OpenMP worker threads spin for a while after their last product; a
            # pause lets the previous implementation's threads sleep before the next starts.
            time.sleep(settle)
            n = steps[name]
            elapsed = _time_steps(runner, 0, n, setup.n_batches)
            rates[name].append(n * setup.tokens_per_batch / elapsed)
        peaks.append(sgemm_gflops(gemm_n, setup.dtype, repeats=1, operands=operands))
    roofline = max(peaks) * 1e9 / (6 * setup.word_dim * setup.hidden_dim)  # tokens/s at peak
    medians = {name: statistics.median(r) for name, r in rates.items()}
    best_peers = {  # per cell: a GRU is compared with GRUs
        cell: max(
            (medians[e.name] for e in entries if e.peer and e.cell == cell and e.name in medians),
            default=None,
        )
        for cell in expected
    }
    rows = [
        {
            "name": name,
            "tokens_per_s": medians[name],
            "min": min(rates[name]),
            "max": max(rates[name]),
            "repeats": rates[name],
            "vs_best_peer": (
                medians[name] / best_peers[REGISTRY[name].cell]
                if best_peers[REGISTRY[name].cell]
                else None
            ),
            "cell": REGISTRY[name].cell,
            "roofline_share": medians[name] / roofline,
            "peak_mib": memory[name],
            "peer": REGISTRY[name].peer,
            "numpy": REGISTRY[name].numpy,
        }
        for name in rates
    ]
    context = dict(
        sgemm_gflops=max(peaks),
        sgemm_gflops_range=(min(peaks), max(peaks)),
        roofline_tokens_per_s=roofline,
        best_peer_tokens_per_s=best_peers.get("rnn"),  # the NumPy paths' unit (RNN only)
        best_peer_by_cell=best_peers,
        blas=blas_description(),
        notes=notes,
        refused=refused,
    )
    return rows, context
