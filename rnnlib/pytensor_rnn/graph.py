"""Symbolic building blocks of the PyTensor models' graphs (notebooks 5-6).

Float32-safe sums and log softmax (`same_dtype_sum`, `log_softmax`), the hand-written
softmax cross-entropy gradient (`softmax_cross_entropy_grad`), global-norm clipping
(`clip_scale`), and the tutorial's truncated BPTT as a graph (`truncated_recurrence`).
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.gradient import disconnected_grad


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
