"""RNNNumpy: the recurrent language model from scratch in NumPy, written to be read (notebooks 2-4).

The equations (no biases), for a sentence of word ids x[0], ..., x[T-1]:

    s_t = tanh(U[:, x_t] + W s_{t-1}),   s_{-1} = 0       hidden state, (H,)
    o_t = softmax(V s_t)                                  next-word probabilities, (C,)
    L   = sum_t -log o_t[y_t]                             cross-entropy of the sentence

U (H, C) turns a word into a push on the state (indexing a column is the same as
multiplying by a one-hot vector), W (H, H) carries the state forward, V (C, H)
reads the state out into a score for every word of the vocabulary.

Every argument check is one line here; the checks themselves live in rnnlib.interface,
shared by every backend so that each rejects the same bad input with the same words.
"""

import numpy as np

from rnnlib.interface import (
    RNN_PARAM_NAMES,
    bptt_truncate_property,
    check_clip_norm,
    check_corpus,
    check_float_dtype,
    check_learning_rate,
    check_model_size,
    check_rnn_params,
    check_seed,
    check_sentence,
    model_config,
    model_repr,
    rnn_param_shapes,
)

PARAM_NAMES = RNN_PARAM_NAMES


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax along the last axis; subtracting the max first keeps exp() from overflowing."""
    z = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


def global_norm(grads) -> float:
    """The L2 norm of several gradient arrays taken together, as if they were one vector."""
    return float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads)))


def clip_gradients(grads: dict, clip_norm: float) -> dict:
    """Scale all gradients together so their global L2 norm is at most `clip_norm`."""
    clip_norm = check_clip_norm(clip_norm)
    norm = global_norm(grads.values())
    if norm <= clip_norm:  # also leaves a NaN norm alone: the trainer reports divergence
        return grads
    scale = clip_norm / norm
    return {name: g * scale for name, g in grads.items()}


# --- the model ---------------------------------------------------------------------------------


class RNNNumpy:
    """A vanilla RNN language model with a hand-written forward pass and BPTT."""

    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=4, seed: int = 0, dtype=np.float64):
        # C, the vocabulary size, and H, the hidden size: positive, and not absurdly large.
        C, H = self.word_dim, self.hidden_dim = check_model_size(word_dim, hidden_dim)
        self.bptt_truncate = bptt_truncate  # validated by the property below
        self.seed = check_seed(seed)
        self.dtype = check_float_dtype(dtype)
        rng = np.random.default_rng(self.seed)
        # Uniform in +-sqrt(1/n), n = the number of incoming connections, as in the tutorial:
        # small enough that tanh starts in its linear range.
        self.U = rng.uniform(-np.sqrt(1.0 / C), np.sqrt(1.0 / C), (H, C)).astype(self.dtype)
        self.V = rng.uniform(-np.sqrt(1.0 / H), np.sqrt(1.0 / H), (C, H)).astype(self.dtype)
        self.W = rng.uniform(-np.sqrt(1.0 / H), np.sqrt(1.0 / H), (H, H)).astype(self.dtype)

    bptt_truncate = bptt_truncate_property()  # an int >= 0, or -1 for full BPTT; checked
    param_shapes = staticmethod(rnn_param_shapes)  # U (H, C), V (C, H), W (H, H)

    def __repr__(self) -> str:
        return model_repr(self)

    # --- forward ---------------------------------------------------------------------------

    def forward_propagation(self, x):
        """Probabilities o (T, C) and hidden states s (T, H) for one sentence of word ids."""
        x = check_sentence(x, word_dim=self.word_dim)
        T = len(x)
        s = np.zeros((T, self.hidden_dim), dtype=self.dtype)  # (T, H): s[t] after reading x[t]
        o = np.zeros((T, self.word_dim), dtype=self.dtype)  # (T, C)
        s_prev = np.zeros(self.hidden_dim, dtype=self.dtype)  # s_{-1} = 0, not a row of s
        for t in range(T):
            s[t] = np.tanh(self.U[:, x[t]] + self.W @ s_prev)  # (H,)
            o[t] = softmax(self.V @ s[t])  # (C,)
            s_prev = s[t]
        return o, s

    def predict(self, x) -> np.ndarray:
        """The most probable next word at every step, (T,)."""
        o, _ = self.forward_propagation(x)
        return np.argmax(o, axis=1)

    def calculate_total_loss(self, X, Y) -> float:
        """Cross-entropy summed over every word of every sentence."""
        check_corpus(X, Y)
        total = 0.0
        for x, y in zip(X, Y, strict=True):
            x, y = check_sentence(x, y, self.word_dim)
            o, _ = self.forward_propagation(x)
            # Only the probability given to the word that really came next matters.
            total -= float(np.sum(np.log(o[np.arange(len(y)), y])))
        return total

    def calculate_loss(self, X, Y) -> float:
        """Cross-entropy per word: log(C) for a model that knows nothing."""
        check_corpus(X, Y)
        n_words = sum(len(y) for y in Y)
        return self.calculate_total_loss(X, Y) / n_words

    def truncated_total_loss(self, x, y, frozen_states) -> float:
        """The objective whose exact gradient truncated BPTT computes.

        For each output t the state s_{t-k-1} is taken from `frozen_states` (the states of
        a forward pass, held constant) and only the last k+1 steps are recomputed, so no
        gradient can reach further back. With full BPTT this is the ordinary total loss.
        """
        x, y = check_sentence(x, y, self.word_dim)
        frozen_states = np.asarray(frozen_states)
        if frozen_states.shape != (len(x), self.hidden_dim):
            raise ValueError(
                f"frozen_states has shape {frozen_states.shape}, expected {(len(x), self.hidden_dim)}"
            )
        k = len(x) if self.bptt_truncate == -1 else self.bptt_truncate
        total = 0.0
        for t in range(len(x)):
            first = max(0, t - k)  # the oldest step output t's error may reach
            s = frozen_states[first - 1] if first > 0 else np.zeros(self.hidden_dim, self.dtype)
            for step in range(first, t + 1):
                s = np.tanh(self.U[:, x[step]] + self.W @ s)
            total -= float(np.log(softmax(self.V @ s)[y[t]]))
        return total

    # --- backward ----------------------------------------------------------------------------

    def bptt(self, x, y) -> dict[str, np.ndarray]:
        """Gradients of the sentence's total loss, each output's error flowing back truncated."""
        x, y = check_sentence(x, y, self.word_dim)
        T = len(y)
        o, s = self.forward_propagation(x)  # (T, C), (T, H)
        dU = np.zeros_like(self.U)  # (H, C)
        dW = np.zeros_like(self.W)  # (H, H)
        zero_state = np.zeros(self.hidden_dim, dtype=self.dtype)

        def state_before(step):  # s_{step-1}; the state before the first word is zero
            return s[step - 1] if step > 0 else zero_state

        # Softmax + cross-entropy: dL_t/d(V s_t) = o_t - onehot(y_t).
        delta_o = o.copy()  # (T, C)
        delta_o[np.arange(T), y] -= 1.0
        # V touches each output directly, nothing flows through time: the sum over t of
        # np.outer(delta_o[t], s[t]) is one matrix product, far faster than T outer products.
        dV = delta_o.T @ s  # (C, H)
        k = T if self.bptt_truncate == -1 else self.bptt_truncate
        for t in reversed(range(T)):  # each output, last first
            # Error on the pre-activation of s_t (through tanh: 1 - s_t^2).
            delta = (self.V.T @ delta_o[t]) * (1.0 - s[t] ** 2)  # (H,)
            # Back through time: steps t, t-1, ..., max(0, t-k); the state before the
            # oldest visited step is treated as a constant, so older steps get nothing.
            for step in reversed(range(max(0, t - k), t + 1)):
                s_before = state_before(step)  # (H,)
                dW += np.outer(delta, s_before)  # (H, H)
                dU[:, x[step]] += delta  # only the column of the word read at `step`
                delta = (self.W.T @ delta) * (1.0 - s_before**2)  # error one step earlier
        return {"U": dU, "V": dV, "W": dW}

    def sgd_step(self, x, y, learning_rate, clip_norm=None) -> None:
        """One step of plain SGD on one sentence (gradients first clipped to `clip_norm`)."""
        learning_rate = check_learning_rate(learning_rate)
        grads = self.bptt(x, y)
        if clip_norm is not None:
            grads = clip_gradients(grads, clip_norm)
        self.U -= learning_rate * grads["U"]
        self.V -= learning_rate * grads["V"]
        self.W -= learning_rate * grads["W"]

    # --- parameters, for checkpoints and for moving weights between backends ----------------

    def get_params(self) -> dict[str, np.ndarray]:
        """Copies of U, V, W."""
        return {name: getattr(self, name).copy() for name in PARAM_NAMES}

    def set_params(self, params: dict) -> None:
        """Replace U, V, W (copied, cast to the model's dtype); new shapes resize the model."""
        arrays = check_rnn_params(params, self.dtype, self.word_dim, self.hidden_dim)
        H, C = arrays["U"].shape
        self.hidden_dim, self.word_dim = H, C
        for name in PARAM_NAMES:
            setattr(self, name, arrays[name])

    def config(self) -> dict:
        """Constructor arguments (JSON-safe), so that type(model)(**model.config()) rebuilds it."""
        return model_config(self)
