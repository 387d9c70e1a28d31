"""Compiling the PyTensor models' functions: backend mode, static-shape buckets, function cache (notebook 5).

What every compiled model function needs around its graph: the mode it compiles in
(`compile_mode`, `fast_mode`), aligned weights (`aligned_copy`), and the cache that
compiles each function once (`FunctionCache`). The padded shapes each function is built
for come from rnnlib.data.batching (`bucket_length`, `bucket_rows`).

Backend choice (PyTensor 3.0.7 from pip, 2-core machine, C=8000, H=100, cold cache):
- JAX: 0.3-3 s to compile a model function, and the fastest to run. It needs static
  shapes, so every function is built for one padded length (a *bucket*, rnnlib.data.batching)
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


class _FirstCallTimed:
    """A compiled function whose first call is added to its compile seconds.

    With the JAX backend, pytensor.function only traces: XLA compiles at the first call.
    """

    def __init__(self, function, key, compile_seconds: dict):
        self.function, self.key, self.compile_seconds = function, key, compile_seconds
        self.called = False

    def __getattr__(self, name):  # everything else is the compiled function's (maker, ...)
        return getattr(self.function, name)

    def __call__(self, *args):
        if self.called:
            return self.function(*args)
        start = time.perf_counter()
        result = self.function(*args)
        self.compile_seconds[self.key] += time.perf_counter() - start
        self.called = True
        return result


class FunctionCache:
    """Compiled functions by key (name, shape, truncation, fast mode), built on first use, timed."""

    def __init__(self):
        self.functions: dict = {}
        # key -> seconds spent in pytensor.function and in the first call (where JAX compiles)
        self.compile_seconds: dict = {}

    def get(self, key, build):
        """The function for `key`, from `build()` -> (inputs, outputs, updates, mode) once."""
        # build() reads RNNLIB_PYTENSOR_MODE, so a function compiled under another mode
        # must not serve: the mode in force is part of the key.
        key = (*key, fast_mode_name())
        if key not in self.functions:
            inputs, outputs, updates, mode = build()
            start = time.perf_counter()
            function = pytensor.function(
                inputs, outputs, updates=updates, mode=mode, on_unused_input="ignore"
            )
            self.compile_seconds[key] = time.perf_counter() - start
            self.functions[key] = _FirstCallTimed(function, key, self.compile_seconds)
        return self.functions[key]

    def clear(self) -> None:
        """Forget every function (after the parameters were replaced by new shapes)."""
        self.functions.clear()
        self.compile_seconds.clear()
