"""Compiling the PyTensor models' functions: backend mode, static-shape buckets, function cache.

What every compiled model function needs around its graph: the mode it compiles in
(`compile_mode`, `fast_mode`), the padded shapes it is built for (`bucket_length`,
`bucket_rows`, `pad_sentences`, `length_groups`), validated arguments, aligned weights
(`aligned_copy`), and the cache that compiles each function once (`FunctionCache`).

Backend choice (PyTensor 3.0.7 from pip, 2-core machine, C=8000, H=100, cold cache):
- JAX: 0.3-3 s to compile a model function, and the fastest to run. It needs static
  shapes, so every function is built for one padded length (a *bucket*, `bucket_length`)
  and cached: a learner waits a second or two per new bucket, never minutes.
- Numba (PyTensor's default) took 6-49 s per function; the C backend 3-24 s, and pip's
  C backend has no BLAS (a batched step took 0.47 s, against ~0.03 s with JAX).
- JAX cannot run the gradient of `scan(truncate_gradient=k)`, so that one teaching graph
  compiles in FAST_COMPILE mode (Python ops: compiles in about a second, runs slowly).
`RNNLIB_PYTENSOR_MODE` (JAX, NUMBA, CVM, FAST_COMPILE, ...) overrides the fast backend.
"""

import functools
import os
import time

import numpy as np
import pytensor
from pytensor.compile.mode import Mode, get_mode
from pytensor.graph.rewriting.basic import in2out, node_rewriter
from pytensor.link.jax.linker import JAXLinker
from pytensor.tensor.math import Sum

from rnnlib.numpy_rnn import check_corpus, check_sentence

MODE_ENV = "RNNLIB_PYTENSOR_MODE"
SCAN_TRUNCATE_MODE = "FAST_COMPILE"


@node_rewriter([Sum])
def _sum_in_its_output_dtype(fgraph, node):
    """Make a float32 sum accumulate in float32.

    PyTensor sums float32 in float64 by default, and its JAX backend returns that float64
    result although the graph says float32: the rest of a float32 training step would then
    run in float64 (twice the memory traffic) and store float64 weights.
    """
    out_dtype = node.outputs[0].type.dtype
    if node.op.acc_dtype in (None, out_dtype) or not out_dtype.startswith("float"):
        return None
    return [Sum(axis=node.op.axis, dtype=node.op.dtype, acc_dtype=out_dtype)(node.inputs[0])]


@functools.cache
def compile_mode(name: str) -> Mode:
    """The PyTensor mode `name` (JAX, FAST_COMPILE, ...) with sums kept in their own dtype."""
    if name == "JAX":
        # PyTensor's light rewrite set: XLA optimises the graph again anyway. Compiles ~30%
        # faster than fast_run and ran as fast here (the graphs are written stable already).
        base = Mode(JAXLinker(), "fast_compile")
    else:
        base = get_mode(name)
    # Position 48.7: after the stabilising rewrites (which create such sums), before fusion.
    return base.register((in2out(_sum_in_its_output_dtype), 48.7))


def fast_mode_name() -> str:
    """The name of the fast mode: RNNLIB_PYTENSOR_MODE when set, else JAX."""
    return os.environ.get(MODE_ENV, "").strip() or "JAX"


def fast_mode() -> Mode:
    """The mode of the compiled model functions: JAX unless RNNLIB_PYTENSOR_MODE names another."""
    return compile_mode(fast_mode_name())


def bucket_length(n: int) -> int:
    """n rounded up to the next bucket: multiples of 4 up to 32, then steps of ~1/8 of n.

    Padding to buckets keeps the number of compiled shapes small (12 buckets cover 1-64
    words) while wasting at most a quarter of the work on padding.
    """
    if n < 1:
        raise ValueError(f"a bucket holds at least one position, got n={n}")
    step = max(4, 1 << max(0, n.bit_length() - 3))
    return -(-n // step) * step


def bucket_rows(n: int) -> int:
    """n sentences rounded up to a power of two (1, 2, 4, ...): few batch shapes to compile."""
    return 1 << (n - 1).bit_length()


def check_learning_rate(learning_rate) -> float:
    """A positive finite learning rate, or the same error as the NumPy model gives."""
    if not np.isfinite(learning_rate) or learning_rate <= 0:
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    return float(learning_rate)


def check_clip_norm(clip_norm) -> float:
    """A positive finite clip_norm as a float, or the same error as the NumPy model gives."""
    if not np.isfinite(clip_norm) or clip_norm <= 0:
        raise ValueError(f"clip_norm must be a positive number, got {clip_norm!r}")
    return float(clip_norm)


def checked_pairs(xs, ys, word_dim: int) -> list:
    """A list of sentences validated by the NumPy model's rules, as (x, y) int64 pairs."""
    check_corpus(xs, ys)
    return [check_sentence(x, y, word_dim) for x, y in zip(xs, ys, strict=True)]


def pad_sentences(pairs, length: int, rows: int, dtype):
    """(x, y) pairs as time-major (length, rows) arrays x, y and a mask of real positions.

    Padding is on the right and reads word 0; its mask is 0, so it adds nothing to the
    loss or the gradients, and it never feeds a real position (those only look back).
    """
    x = np.zeros((length, rows), dtype=np.int64)
    y = np.zeros((length, rows), dtype=np.int64)
    mask = np.zeros((length, rows), dtype=dtype)
    for b, (xb, yb) in enumerate(pairs):
        x[: len(xb), b], y[: len(yb), b], mask[: len(xb), b] = xb, yb, 1
    return x, y, mask


def length_groups(pairs, max_tokens: int = 2048):
    """Yield (length, pairs): sentences of one bucket length, ~max_tokens padded positions each.

    Grouping by length keeps padding small; the cap bounds the (N, C) score matrix.
    """
    buckets: dict[int, list] = {}
    for x, y in pairs:
        buckets.setdefault(bucket_length(len(x)), []).append((x, y))
    for length, group in sorted(buckets.items()):
        cap = 1 << (max(1, max_tokens // length).bit_length() - 1)  # a power of two
        for start in range(0, len(group), cap):
            yield length, group[start : start + cap]


def aligned_copy(a: np.ndarray, alignment: int = 64) -> np.ndarray:
    """A copy of `a` whose data starts on a 64-byte boundary.

    JAX (XLA) reads such host arrays in place; any other array it copies on every call,
    which made a forward pass at C=8000 three times slower.
    """
    buffer = np.empty(a.nbytes + alignment, dtype=np.uint8)
    start = -buffer.ctypes.data % alignment
    out = buffer[start : start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


class FunctionCache:
    """Compiled functions by key (name, shape, truncation, fast mode), built on first use, timed."""

    def __init__(self):
        self.functions: dict = {}
        self.compile_seconds: dict = {}  # key -> seconds spent in pytensor.function

    def get(self, key, build):
        """The function for `key`, from `build()` -> (inputs, outputs, updates, mode) once."""
        # build() reads RNNLIB_PYTENSOR_MODE, so a function compiled under another mode
        # must not serve: the mode in force is part of the key.
        key = (*key, fast_mode_name())
        if key not in self.functions:
            inputs, outputs, updates, mode = build()
            start = time.perf_counter()
            self.functions[key] = pytensor.function(
                inputs, outputs, updates=updates, mode=mode, on_unused_input="ignore"
            )
            self.compile_seconds[key] = time.perf_counter() - start
        return self.functions[key]

    def clear(self) -> None:
        """Forget every function (after the parameters were replaced by new shapes)."""
        self.functions.clear()
        self.compile_seconds.clear()
