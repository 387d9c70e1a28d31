"""RNNPyTensor: RNNNumpy's model as a PyTensor graph: `scan` runs the loop, `pytensor.grad` BPTT (notebook 5).

The same equations as RNNNumpy (U (H, C), V (C, H), W (H, H), no biases):

    s_t = tanh(U[:, x_t] + W s_{t-1}),   s_{-1} = 0
    o_t = softmax(V s_t),                L = sum_t -log o_t[y_t]

Instead of writing the backward pass by hand we describe the forward pass once, symbolically,
and let `pytensor.grad` derive the gradients. Two graphs of the same model:

- the readable per-sentence graph (`sentence_graph`): forward_propagation, bptt, sgd_step;
- a batched graph on time-major (L, B) batches with the softmax gradient written by hand:
  calculate_total_loss, sgd_step_batch and the recipe's step_batch (mean loss per word, a NumPy
  optimiser, see PyTensorLanguageModel), for real training speed. No dropout or tied
  embeddings here: it is RNNNumpy's model exactly (RNNNumpyFast and the Keras models have them).

Truncation: `bptt_truncate=k` means the tutorial's truncation (each output's error flows back
k steps, 0 keeps it at its own step; see `truncated_recurrence`). scan's own `truncate_gradient=k` is another thing: it
cuts the backward pass of the whole sentence to its last k steps. `bptt_scan_truncated` shows
it. The two agree exactly when T <= k: both are then full BPTT. For T = k + 1 they already
differ: scan's version never reaches step 0, so the column of U of the first word misses its
update (V's and W's gradients still agree, since s_{-1} = 0 gives W nothing at step 0).

Every function is compiled on first use for one padded length (see pytensor_compile), so
changing bptt_truncate or loading weights of another size simply builds new graphs.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt

from rnnlib.data.batching import bucket_length
from rnnlib.interface import (
    check_clip_norm,
    check_learning_rate,
    check_model_size,
    check_rnn_params,
    check_sentence,
    rnn_param_shapes,
)
from rnnlib.numpy_rnn.readable import RNNNumpy
from rnnlib.pytensor_rnn.base import PyTensorLanguageModel
from rnnlib.pytensor_rnn.compile import SCAN_TRUNCATE_MODE, compile_mode, fast_mode
from rnnlib.pytensor_rnn.graph import clip_scale, log_softmax, same_dtype_sum, truncated_recurrence


def rnn_step(pushed, s_before, W):
    """s_t = tanh(U[:, x_t] + W s_{t-1}), for one state (H,) or for rows of states (N, H)."""
    return pt.tanh(pushed + pt.dot(s_before, W.T))


class RNNPyTensor(PyTensorLanguageModel):
    """RNNNumpy's language model in PyTensor: same weights, losses and gradients."""

    WEIGHT_NAMES = ("U", "V", "W")
    param_shapes = staticmethod(rnn_param_shapes)  # U (H, C), V (C, H), W (H, H), as RNNNumpy's

    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=4, seed=0, dtype="float64"):
        self.word_dim, self.hidden_dim = check_model_size(word_dim, hidden_dim)  # C, H
        # RNNNumpy draws the initial weights: one seed means one model in every backend.
        initial = RNNNumpy(self.word_dim, self.hidden_dim, seed=seed).get_params()
        self._start(bptt_truncate, seed, dtype, initial)

    def _validated(self, params: dict) -> dict:
        # RNNNumpy's rules and messages
        arrays = check_rnn_params(params, self.dtype, self.word_dim, self.hidden_dim)
        self.hidden_dim, self.word_dim = arrays["U"].shape
        return arrays

    # --- the readable graph of one sentence -------------------------------------------------

    def sentence_graph(self, length=None, scan_truncate_gradient=None) -> dict:
        """The symbolic graph of one sentence: inputs x, y, mask; outputs o, s, loss.

        length: a static length (JAX needs one), or None for any length (then only with
        full BPTT or scan_truncate_gradient: the tutorial's truncation needs a static length).
        scan_truncate_gradient: k to use scan's own truncate_gradient=k for the gradient
        instead of the tutorial's bptt_truncate (None).
        """
        U, V, W = self._weights()
        dtype = self.dtype.name
        use_scan_truncation = scan_truncate_gradient is not None
        mode = compile_mode(SCAN_TRUNCATE_MODE) if use_scan_truncation else fast_mode()
        x = pt.tensor("x", dtype="int64", shape=(length,))  # (T,) word ids
        y = pt.tensor("y", dtype="int64", shape=(length,))  # (T,) the words that came next
        mask = pt.tensor("mask", dtype=dtype, shape=(length,))  # (T,) 0 on padding
        pushed = U[:, x].T  # (T, H): U[:, x_t] is what reading word x_t adds to the state
        s = pytensor.scan(
            rnn_step,
            sequences=[pushed],  # one row per step
            outputs_info=[pt.zeros(self.hidden_dim, dtype=dtype)],  # s_{-1} = 0
            non_sequences=[W],
            truncate_gradient=scan_truncate_gradient if use_scan_truncation else -1,
            mode=mode,
            return_updates=False,
        )  # (T, H)
        s_for_loss = s
        if not use_scan_truncation and self.bptt_truncate != -1:
            s = pt.specify_shape(s, (length, self.hidden_dim))
            (s_for_loss,) = truncated_recurrence(
                rnn_step, [pushed], [s], self.bptt_truncate, [W], mode
            )  # the same values; only its gradient is truncated
        o = pt.exp(log_softmax(pt.dot(s, V.T)))  # (T, C): o_t = softmax(V s_t)
        log_o = log_softmax(pt.dot(s_for_loss, V.T))  # (T, C)
        steps = pt.arange(length if length is not None else x.shape[0])
        loss = -same_dtype_sum(mask * log_o[steps, y])  # only the word that really came next counts
        return {"x": x, "y": y, "mask": mask, "o": o, "s": s, "loss": loss}

    def _sentence_function(self, kind: str, length: int):
        """The compiled per-sentence function `kind` (forward, grad, step, clipped step)."""
        key = ("sentence " + kind, length, None if kind == "forward" else self.bptt_truncate)

        def build():
            g = self.sentence_graph(length)
            if kind == "forward":
                return [g["x"]], [g["o"], g["s"]], None, fast_mode()
            grads = pytensor.grad(g["loss"], self._weights())
            inputs = [g["x"], g["y"], g["mask"]]
            if kind == "grad":
                return inputs, [g["loss"], *grads], None, fast_mode()
            lr = self._scalar("learning_rate")
            clip = [self._scalar("clip_norm")] if kind == "clipped step" else []
            if clip:
                scale = clip_scale(grads, clip[0])
                grads = [g * scale for g in grads]
            updates = [(p, p - lr * dp) for p, dp in zip(self._weights(), grads, strict=True)]
            return [*inputs, lr, *clip], [], updates, fast_mode()

        return self._functions.get(key, build)

    def _padded(self, x, y):
        """A validated sentence padded to its bucket: (length, x, y, mask), each (length,)."""
        x, y = check_sentence(x, y, self.word_dim)
        length = bucket_length(len(x))
        padded = np.zeros((2, length), dtype=np.int64)  # padding reads word 0, masked out
        padded[:, : len(x)] = x, y
        mask = (np.arange(length) < len(x)).astype(self.dtype)
        return length, padded[0], padded[1], mask

    def forward_propagation(self, x):
        """Probabilities o (T, C) and hidden states s (T, H) for one sentence of word ids."""
        x = check_sentence(x, word_dim=self.word_dim)
        length, padded, _, _ = self._padded(x, x)
        o, s = self._sentence_function("forward", length)(padded)
        return np.array(o[: len(x)], dtype=self.dtype), np.array(s[: len(x)], dtype=self.dtype)

    def bptt(self, x, y) -> dict[str, np.ndarray]:
        """Gradients of the sentence's total loss by pytensor.grad, with tutorial truncation."""
        length, x, y, mask = self._padded(x, y)
        _, *grads = self._sentence_function("grad", length)(x, y, mask)
        return {
            n: np.array(g, dtype=self.dtype) for n, g in zip(self.WEIGHT_NAMES, grads, strict=True)
        }

    def sgd_step(self, x, y, learning_rate, clip_norm=None) -> None:
        """One step of plain SGD on one sentence (gradients first clipped to `clip_norm`)."""
        scalars = [check_learning_rate(learning_rate)]
        if clip_norm is not None:
            scalars.append(check_clip_norm(clip_norm))
        length, x, y, mask = self._padded(x, y)
        kind = "step" if clip_norm is None else "clipped step"
        self._sentence_function(kind, length)(x, y, mask, *np.asarray(scalars, self.dtype))

    def bptt_scan_truncated(self, x, y, truncate_gradient) -> dict[str, np.ndarray]:
        """Gradients with scan's own truncate_gradient=k (not the tutorial's truncation).

        Compiled in FAST_COMPILE mode (JAX cannot run this graph) for any sentence length;
        no padding, since padding would be among the last k steps that scan keeps.
        """
        k = truncate_gradient
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or not (k == -1 or k >= 1):
            # k = 0 would be "keep no step", on which PyTensor's scan fails
            raise ValueError(
                f"truncate_gradient must be an int >= 1, or -1 for full BPTT; got {k!r}"
            )
        x, y = check_sentence(x, y, self.word_dim)

        def build():
            g = self.sentence_graph(None, scan_truncate_gradient=k)
            grads = pytensor.grad(g["loss"], self._weights())
            return [g["x"], g["y"], g["mask"]], grads, None, compile_mode(SCAN_TRUNCATE_MODE)

        function = self._functions.get(("scan truncate_gradient", k), build)
        grads = function(x, y, np.ones(len(x), dtype=self.dtype))
        return {
            n: np.array(g, dtype=self.dtype) for n, g in zip(self.WEIGHT_NAMES, grads, strict=True)
        }

    # --- the batched graph --------------------------------------------------------------------

    def _batch_logits(self, x, for_grad: bool):
        """Hidden states (L, B, H) and scores (L*B, C) of a time-major batch of word ids."""
        U, V, W = self._weights()
        length, rows = x.type.shape
        H = self.hidden_dim
        pushed = U.T[x]  # (L, B, H): row x of U.T is column x of U
        s = pytensor.scan(
            rnn_step,
            sequences=[pushed],
            outputs_info=[pt.zeros((rows, H), dtype=self.dtype.name)],  # (B, H) zero states
            non_sequences=[W],
            mode=fast_mode(),
            return_updates=False,
        )
        s = pt.specify_shape(s, (length, rows, H))  # (L, B, H)
        if for_grad and self.bptt_truncate != -1:
            (s,) = truncated_recurrence(
                rnn_step, [pushed], [s], self.bptt_truncate, [W], fast_mode()
            )
        return s, pt.dot(s.reshape((length * rows, H)), V.T)

    def _updates(self, weights, grads, learning_rate):
        return [(p, p - learning_rate * g) for p, g in zip(weights, grads, strict=True)]
