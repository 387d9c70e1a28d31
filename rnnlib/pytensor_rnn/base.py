"""PyTensorLanguageModel: the base class of the PyTensor models (RNNPyTensor, GRUPyTensor) (notebooks 5-6).

It holds the parameters in shared variables and the compiled functions, and runs the batched
path: sentences padded to bucket shapes (time-major (L, B)), a loss with a hand-written softmax
gradient, SGD-style updates compiled into the graph (the tutorial's sgd_step), and the
training recipe's `step_batch`: a compiled function per bucket shape gives the gradients of
the mean loss per target word, and a NumPy optimiser (rnnlib.training.optimizers) applies
them, so its state is what checkpoints save. How the functions compile is in `rnnlib.pytensor_rnn.compile`,
the graph pieces in `rnnlib.pytensor_rnn.graph`.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt

from rnnlib.data.batching import bucket_length, bucket_rows, length_groups, pad_sentences
from rnnlib.interface import (
    bptt_truncate_property,
    check_clip_norm,
    check_corpus,
    check_float_dtype,
    check_learning_rate,
    check_seed,
    check_sentence,
    check_sentences,
    model_config,
    model_repr,
)
from rnnlib.numpy_rnn.dropout import dropout_masks
from rnnlib.numpy_rnn.readable import clip_gradients
from rnnlib.pytensor_rnn.compile import FunctionCache, aligned_copy, fast_mode
from rnnlib.pytensor_rnn.graph import (
    clip_scale,
    log_softmax,
    same_dtype_sum,
    softmax_cross_entropy_grad,
)


class PyTensorLanguageModel:
    """What the PyTensor models share: parameters in shared variables, the compiled-function
    cache, and the batched path (time-major (L, B) batches, hand-written softmax gradient).

    A subclass sets WEIGHT_NAMES and defines `_validated(params) -> arrays` (setting word_dim
    and hidden_dim), `_batch_logits(x, for_grad) -> (top states (L, B, H), logits (L*B, C))`
    and `_updates(weights, grads, learning_rate, *options)`; its __init__ calls `_start`.
    """

    WEIGHT_NAMES: tuple = ()
    # What step_batch descends. (`batch_loss`, what sgd_step_batch descends, is not set:
    # the summed loss, as train_with_sgd assumes of a model that does not say.)
    step_batch_loss = "mean per target token"
    dropout = 0.0  # a model with dropout sets its own rate (GRUPyTensor)
    STEP_OPTIONS: tuple = ()  # names of extra scalar inputs of the update (RMSprop's decay)

    def _start(self, bptt_truncate, seed, dtype, params: dict) -> None:
        self.bptt_truncate = bptt_truncate
        self.seed = check_seed(seed)
        self.dtype = check_float_dtype(dtype)
        self._functions = FunctionCache()
        self._shared: dict = {}
        self.set_params(params)

    # The same rule and checks as every model. Compiled gradient functions are cached per
    # truncation, so a new value takes effect at the next call (the original's compiled
    # Theano graph silently kept the old one).
    bptt_truncate = bptt_truncate_property()

    @property
    def compile_seconds(self) -> dict:
        """Seconds spent compiling, per function: pytensor.function, plus the first call, where
        JAX compiles (that call's own run is counted too: a small share)."""
        return dict(self._functions.compile_seconds)

    def __repr__(self) -> str:
        return model_repr(self)

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

    def trainable_names(self) -> tuple:
        """The weights the gradients are taken of (a tied model has no V of its own)."""
        return tuple(name for name in self.WEIGHT_NAMES if name in self._shared)

    def _weights(self) -> list:
        return [self._shared[name] for name in self.trainable_names()]

    def _scalar(self, name: str):
        return pt.tensor(name, dtype=self.dtype.name, shape=())

    # --- the batched graph ------------------------------------------------------------------

    def _batch_function(self, kind: str, length: int, rows: int):
        """The compiled batched function `kind` for one shape: forward, loss, grad, mean grad
        (the recipe's: dropout masks in, mean loss and gradients out), or step / clipped step
        (an update; the loss is not computed, it would cost ~20%)."""
        with_grad = kind in ("grad", "mean grad", "step", "clipped step")
        key = (kind, length, rows, self.bptt_truncate if with_grad else None)

        def build():
            x = pt.tensor("x", dtype="int64", shape=(length, rows))  # (L, B) word ids
            y = pt.tensor("y", dtype="int64", shape=(length, rows))  # (L, B) next words
            mask = pt.tensor("mask", dtype=self.dtype.name, shape=(length, rows))  # 1: real
            dropped = kind == "mean grad" and self.dropout > 0
            shape = (length, rows, self.hidden_dim)
            masks = [
                pt.tensor(n, dtype=self.dtype.name, shape=shape) for n in ("kept_in", "kept_out")
            ]
            options = {"dropout_masks": masks} if dropped else {}
            states, logits = self._batch_logits(x, for_grad=with_grad, **options)
            if kind == "forward":
                probs = pt.exp(log_softmax(logits)).reshape((length, rows, -1))
                return [x], [probs, states], None, fast_mode()
            loss, dlogits = softmax_cross_entropy_grad(logits, y.ravel(), mask.ravel())
            if kind == "loss":
                return [x, y, mask], loss, None, fast_mode()
            if kind == "mean grad":  # every gradient of the mean is the sum's over the count
                count = same_dtype_sum(mask)
                loss, dlogits = loss / count, dlogits / count
            grads = pytensor.grad(None, self._weights(), known_grads={logits: dlogits})
            if kind == "mean grad":
                return [x, y, mask, *(masks if dropped else [])], [loss, *grads], None, fast_mode()
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
        pairs = check_sentences(xs, ys, self.word_dim)
        length = bucket_length(max(len(x) for x, _ in pairs))
        rows = bucket_rows(len(pairs))
        x, y, mask = self._time_major(pairs, length, rows)
        scalars = [np.asarray(v, dtype=self.dtype) for v in scalars]
        return self._batch_function(kind, length, rows)(x, y, mask, *scalars)

    def _time_major(self, pairs, length: int, rows: int):
        """Padded ids, targets and mask as time-major (length, rows) arrays: scan runs over time."""
        padded = pad_sentences(pairs, length, rows, weight_dtype=self.dtype)  # each (B, L)
        return tuple(np.ascontiguousarray(a.T) for a in padded)  # each (L, B)

    def calculate_total_loss(self, X, Y) -> float:
        """Cross-entropy summed over every word of every sentence (batched by length)."""
        total = 0.0
        for length, pairs in length_groups(check_sentences(X, Y, self.word_dim)):
            rows = bucket_rows(len(pairs))
            x, y, mask = self._time_major(pairs, length, rows)
            total += float(self._batch_function("loss", length, rows)(x, y, mask))
        return total

    def calculate_loss(self, X, Y) -> float:
        """Cross-entropy per word: log(C) for a model that knows nothing."""
        check_corpus(X, Y)
        return self.calculate_total_loss(X, Y) / sum(len(y) for y in Y)

    def bptt_batch(self, xs, ys) -> dict[str, np.ndarray]:
        """Gradients of the summed loss of a list of sentences, keyed like the weights."""
        _, *grads = self._run_batch("grad", xs, ys)
        names = self.trainable_names()
        return {n: np.array(g, dtype=self.dtype) for n, g in zip(names, grads, strict=True)}

    def step_batch(self, xs, ys, optimizer, clip_norm=None) -> float:
        """One step of `optimizer` (rnnlib.training.optimizers) on the mean loss per target
        token, gradients clipped to a global norm of `clip_norm` first; returns the mean loss
        before the step. Dropout (if any) applies here, masks from (seed, optimizer.t)."""
        clip_norm = check_clip_norm(clip_norm)
        pairs = check_sentences(xs, ys, self.word_dim)
        length = bucket_length(max(len(x) for x, _ in pairs))
        rows = bucket_rows(len(pairs))
        inputs = list(self._time_major(pairs, length, rows))  # x, y, mask, each (L, B)
        if self.dropout > 0:
            shape = (length, rows, self.hidden_dim)
            inputs += dropout_masks(
                self.dropout, self.seed, optimizer.t, [shape, shape], self.dtype
            )
        loss, *grads = self._batch_function("mean grad", length, rows)(*inputs)
        names = self.trainable_names()
        grads = {n: np.asarray(g, dtype=self.dtype) for n, g in zip(names, grads, strict=True)}
        if clip_norm is not None:
            grads = clip_gradients(grads, clip_norm)
        params = {name: self._writable_value(name) for name in names}
        optimizer.update(params, grads)  # in place
        for name, value in params.items():
            self._shared[name].set_value(value, borrow=True)
        return float(loss)

    def _writable_value(self, name: str) -> np.ndarray:
        """The shared variable's own array if NumPy may change it in place, else an aligned copy."""
        value = self._shared[name].get_value(borrow=True)
        if isinstance(value, np.ndarray) and value.flags.writeable and value.flags.c_contiguous:
            return value
        return aligned_copy(np.asarray(value, dtype=self.dtype))

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
