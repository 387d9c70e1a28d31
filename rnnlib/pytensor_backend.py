"""Compiling the PyTensor models: backend, static shapes and buckets, tutorial truncation.

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
import pytensor.tensor as pt
from pytensor.compile.mode import Mode, get_mode
from pytensor.gradient import disconnected_grad
from pytensor.graph.rewriting.basic import in2out, node_rewriter
from pytensor.link.jax.linker import JAXLinker
from pytensor.tensor.math import Sum

from rnnlib.numpy_rnn import check_corpus, check_sentence, model_config, normalize_bptt_truncate

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


def fast_mode() -> Mode:
    """The mode of the compiled model functions: JAX unless RNNLIB_PYTENSOR_MODE names another."""
    return compile_mode(os.environ.get(MODE_ENV, "").strip() or "JAX")


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


def clip_scale(grads, clip_norm):
    """Factor that brings the global L2 norm of `grads` down to clip_norm (1 if already below).

    A NaN norm gives 1 and leaves the NaN in place, as the NumPy model does: the trainer
    reports the divergence instead of hiding it.
    """
    norm = pt.sqrt(sum(same_dtype_sum(pt.sqr(g)) for g in grads))
    return pt.switch(pt.gt(norm, clip_norm), clip_norm / norm, pt.ones_like(norm))


def truncated_recurrence(step, sequences, states, bptt_truncate: int, non_sequences=(), mode=None):
    """States equal to `states` whose gradient follows the tutorial's truncated BPTT.

    The tutorial lets the error of output t flow back through steps t, t-1, ..., t-k only.
    Here every s_t is recomputed from s_{t-k-1}, held constant (disconnected_grad), by
    k+1 applications of `step`: `pytensor.grad` then gives exactly that truncation. All T
    windows run side by side, so the extra scan has k+1 steps on (T x batch) rows, cheap
    next to the output layer. (scan's own truncate_gradient=k instead cuts the backward
    pass of the whole sequence to its last k steps.)

    sequences: per-step inputs, each (T, ..., D) with a static T; states: the full forward
    pass's states, each (T, ..., H); step(*inputs_t, *states_before, *non_sequences).
    """
    T = states[0].type.shape[0]
    if T is None:
        raise ValueError("truncated_recurrence needs a static sequence length")
    n = min(bptt_truncate + 1, T)  # steps per window; n = T means full BPTT

    def shifted(a, by):  # row t -> a[t - by], zeros where t - by < 0
        if by == 0:
            return a
        return pt.concatenate([pt.zeros_like(a[:by]), a[: T - by]], axis=0)

    def flat(a):  # (T, ..., D) -> (T * ..., D): the windows are independent rows
        return a.reshape((-1, a.type.shape[-1]))

    rows = int(np.prod(states[0].type.shape[:-1]))
    # Window step j of output t reads step t - (n-1) + j; steps before 0 keep the zero state.
    active = np.arange(T)[None, :] - (n - 1) + np.arange(n)[:, None] >= 0  # (n, T)
    active = np.repeat(active, rows // T, axis=1)[:, :, None]  # (n, rows, 1), time-major
    windows = [pt.stack([flat(shifted(seq, n - 1 - j)) for j in range(n)]) for seq in sequences]
    starts = [flat(shifted(disconnected_grad(s), n)) for s in states]  # s_{t-n}, a constant

    def window_step(*args):
        n_seq, n_states = len(sequences), len(states)
        inputs, is_active = args[:n_seq], args[n_seq]
        before = args[n_seq + 1 : n_seq + 1 + n_states]
        after = step(*inputs, *before, *args[n_seq + 1 + n_states :])
        after = after if isinstance(after, list | tuple) else [after]
        return [pt.switch(is_active, new, old) for new, old in zip(after, before, strict=True)]

    final = pytensor.scan(
        window_step,
        sequences=[*windows, pt.constant(active)],
        outputs_info=starts,
        non_sequences=list(non_sequences),
        mode=mode,
        return_list=True,
        return_updates=False,
    )
    return [f[-1].reshape(tuple(s.type.shape)) for f, s in zip(final, states, strict=True)]


def softmax_cross_entropy_grad(logits, targets, mask):
    """Loss sum_i mask_i * -log softmax(logits_i)[y_i], and its gradient, written by hand.

    d loss / d logits = mask * (softmax - onehot(y)): handing this to pytensor.grad
    (known_grads) spares autodiff the generic softmax backward over the (N, C) scores.
    """
    n, C = logits.type.shape
    top = pt.max(logits, axis=-1, keepdims=True)  # (N, 1): subtracted so exp cannot overflow
    exp = pt.exp(logits - top)  # (N, C)
    total = same_dtype_sum(exp, axis=-1, keepdims=True)  # (N, 1)
    log_norm = (top + pt.log(total))[:, 0]  # (N,) log sum_c exp(logits)
    loss = same_dtype_sum(mask * (log_norm - logits[pt.arange(n), targets]))
    onehot = pt.eq(targets[:, None], pt.arange(C)[None, :])  # (N, C)
    return loss, (exp / total - onehot) * mask[:, None]


def same_dtype_sum(a, axis=None, keepdims=False):
    """pt.sum accumulating in a's own dtype.

    PyTensor sums float32 in float64, and its JAX backend keeps that float64 result,
    which would turn the whole float32 training step into float64.
    """
    return pt.sum(a, axis=axis, acc_dtype=a.dtype, keepdims=keepdims)


def log_softmax(z):
    """log softmax along the last axis, written out (shifted by the max: exp cannot overflow).

    Written with elementary ops on purpose: PyTensor 3's own Softmax/LogSoftmax are
    OpFromGraph ops, which FAST_COMPILE runs through a Numba-compiled inner function
    (tens of seconds to compile cold).
    """
    shifted = z - pt.max(z, axis=-1, keepdims=True)
    return shifted - pt.log(same_dtype_sum(pt.exp(shifted), axis=-1, keepdims=True))


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
    """Compiled functions by key (name, shape, truncation), built on first use and timed."""

    def __init__(self):
        self.functions: dict = {}
        self.compile_seconds: dict = {}  # key -> seconds spent in pytensor.function

    def get(self, key, build):
        """The function for `key`, from `build()` -> (inputs, outputs, updates, mode) once."""
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


class PyTensorLanguageModel:
    """What the PyTensor models share: parameters in shared variables, the compiled-function
    cache, and the batched path (time-major (L, B) batches, hand-written softmax gradient).

    A subclass sets WEIGHT_NAMES and defines `_validated(params) -> arrays` (setting word_dim
    and hidden_dim), `_batch_logits(x, for_grad) -> (top states (L, B, H), logits (L*B, C))`
    and `_updates(weights, grads, learning_rate, *options)`; its __init__ calls `_start`.
    """

    WEIGHT_NAMES: tuple = ()
    STEP_OPTIONS: tuple = ()  # names of extra scalar inputs of the update (RMSprop's decay)

    def _start(self, bptt_truncate, seed, dtype, params: dict) -> None:
        self.bptt_truncate = bptt_truncate
        self.seed = int(seed)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self._functions = FunctionCache()
        self._shared: dict = {}
        self.set_params(params)

    @property
    def bptt_truncate(self) -> int:
        """How many earlier steps each output's error flows back through (-1: all of them).

        Compiled gradient functions are cached per truncation, so a new value takes effect
        at the next call (the original's compiled Theano graph silently kept the old one).
        """
        return self._bptt_truncate

    @bptt_truncate.setter
    def bptt_truncate(self, value) -> None:
        self._bptt_truncate = normalize_bptt_truncate(value)

    @property
    def compile_seconds(self) -> dict:
        """Seconds pytensor.function took, per compiled function (JAX traces at first call)."""
        return dict(self._functions.compile_seconds)

    # --- parameters ------------------------------------------------------------------------

    def set_params(self, params: dict) -> None:
        """Replace the parameters (validated, copied, cast); new shapes resize the model."""
        arrays = {name: aligned_copy(a) for name, a in self._validated(params).items()}
        same_shapes = set(arrays) == set(self._shared) and all(
            self._shared[name].type.shape == a.shape for name, a in arrays.items()
        )
        if same_shapes:
            for name, a in arrays.items():
                self._shared[name].set_value(a, borrow=True)
            return
        # Static shapes are baked into every compiled graph: forget them all, rebuild lazily.
        self._functions.clear()
        self._shared = {
            name: pytensor.shared(a, name=name, shape=a.shape, borrow=True)
            for name, a in arrays.items()
        }

    def get_params(self) -> dict[str, np.ndarray]:
        """Copies of every array the model holds (NumPy, the model's dtype), keyed by name."""
        return {
            name: np.array(var.get_value(borrow=True), dtype=self.dtype)
            for name, var in self._shared.items()
        }

    def config(self) -> dict:
        """Constructor arguments (JSON-safe), so that type(model)(**model.config()) rebuilds it."""
        return model_config(self)

    def _weights(self) -> list:
        return [self._shared[name] for name in self.WEIGHT_NAMES]

    def _scalar(self, name: str):
        return pt.tensor(name, dtype=self.dtype.name, shape=())

    # --- the batched graph ------------------------------------------------------------------

    def _batch_function(self, kind: str, length: int, rows: int):
        """The compiled batched function `kind` for one shape: forward, loss, grad, or
        step / clipped step (an update; the loss is not computed, it would cost ~20%)."""
        with_grad = kind in ("grad", "step", "clipped step")
        key = (kind, length, rows, self.bptt_truncate if with_grad else None)

        def build():
            x = pt.tensor("x", dtype="int64", shape=(length, rows))  # (L, B) word ids
            y = pt.tensor("y", dtype="int64", shape=(length, rows))  # (L, B) next words
            mask = pt.tensor("mask", dtype=self.dtype.name, shape=(length, rows))  # 1: real
            states, logits = self._batch_logits(x, for_grad=with_grad)
            if kind == "forward":
                probs = pt.exp(log_softmax(logits)).reshape((length, rows, -1))
                return [x], [probs, states], None, fast_mode()
            loss, dlogits = softmax_cross_entropy_grad(logits, y.ravel(), mask.ravel())
            if kind == "loss":
                return [x, y, mask], loss, None, fast_mode()
            grads = pytensor.grad(None, self._weights(), known_grads={logits: dlogits})
            if kind == "grad":
                return [x, y, mask], [loss, *grads], None, fast_mode()
            lr = self._scalar("learning_rate")
            clip = [self._scalar("clip_norm")] if kind == "clipped step" else []
            options = [self._scalar(name) for name in self.STEP_OPTIONS]
            if clip:
                scale = clip_scale(grads, clip[0])
                grads = [g * scale for g in grads]
            updates = self._updates(self._weights(), grads, lr, *options)
            return [x, y, mask, lr, *clip, *options], [], updates, fast_mode()

        return self._functions.get(key, build)

    def _run_batch(self, kind: str, xs, ys, *scalars):
        """Pad the sentences to a bucket shape and run the batched function `kind` on them."""
        pairs = checked_pairs(xs, ys, self.word_dim)
        length = bucket_length(max(len(x) for x, _ in pairs))
        rows = bucket_rows(len(pairs))
        x, y, mask = pad_sentences(pairs, length, rows, self.dtype)
        scalars = [np.asarray(v, dtype=self.dtype) for v in scalars]
        return self._batch_function(kind, length, rows)(x, y, mask, *scalars)

    def calculate_total_loss(self, X, Y) -> float:
        """Cross-entropy summed over every word of every sentence (batched by length)."""
        total = 0.0
        for length, pairs in length_groups(checked_pairs(X, Y, self.word_dim)):
            rows = bucket_rows(len(pairs))
            x, y, mask = pad_sentences(pairs, length, rows, self.dtype)
            total += float(self._batch_function("loss", length, rows)(x, y, mask))
        return total

    def calculate_loss(self, X, Y) -> float:
        """Cross-entropy per word: log(C) for a model that knows nothing."""
        check_corpus(X, Y)
        return self.calculate_total_loss(X, Y) / sum(len(y) for y in Y)

    def bptt_batch(self, xs, ys) -> dict[str, np.ndarray]:
        """Gradients of the summed loss of a list of sentences, keyed like the weights."""
        _, *grads = self._run_batch("grad", xs, ys)
        return {
            n: np.array(g, dtype=self.dtype) for n, g in zip(self.WEIGHT_NAMES, grads, strict=True)
        }

    def _step_batch(self, xs, ys, learning_rate, clip_norm, *options) -> None:
        lr = check_learning_rate(learning_rate)
        if clip_norm is None:
            self._run_batch("step", xs, ys, lr, *options)
        else:
            self._run_batch("clipped step", xs, ys, lr, check_clip_norm(clip_norm), *options)

    def sgd_step_batch(self, xs, ys, learning_rate, clip_norm=None) -> None:
        """One update on the summed loss of a list of sentences (gradients norm-clipped first)."""
        self._step_batch(xs, ys, learning_rate, clip_norm)

    # --- one sentence: a batch of one ---------------------------------------------------------

    def forward_propagation(self, x):
        """Probabilities o (T, C) and top-layer hidden states s (T, H) for one sentence."""
        x = check_sentence(x, word_dim=self.word_dim)
        length = bucket_length(len(x))
        padded = np.zeros((length, 1), dtype=np.int64)
        padded[: len(x), 0] = x
        probs, states = self._batch_function("forward", length, 1)(padded)
        return (
            np.array(probs[: len(x), 0], dtype=self.dtype),  # (T, C)
            np.array(states[: len(x), 0], dtype=self.dtype),  # (T, H)
        )

    def predict(self, x) -> np.ndarray:
        """The most probable next word at every step, (T,)."""
        o, _ = self.forward_propagation(x)
        return np.argmax(o, axis=1)

    def bptt(self, x, y) -> dict[str, np.ndarray]:
        """Gradients of one sentence's total loss (tutorial truncation), keyed like the weights."""
        return self.bptt_batch([x], [y])

    def sgd_step(self, x, y, learning_rate, clip_norm=None) -> None:
        """One update on one sentence (gradients norm-clipped first when clip_norm is given)."""
        self.sgd_step_batch([x], [y], learning_rate, clip_norm)
