"""RNNNumpy: the recurrent language model from scratch in NumPy, written to be read.

The equations (no biases), for a sentence of word ids x[0], ..., x[T-1]:

    s_t = tanh(U[:, x_t] + W s_{t-1}),   s_{-1} = 0       hidden state, (H,)
    o_t = softmax(V s_t)                                  next-word probabilities, (C,)
    L   = sum_t -log o_t[y_t]                             cross-entropy of the sentence

U (H, C) turns a word into a push on the state (indexing a column is the same as
multiplying by a one-hot vector), W (H, H) carries the state forward, V (C, H)
reads the state out into a score for every word of the vocabulary.

The small helpers at the top (`check_sentence`, `check_corpus`, `normalize_bptt_truncate`,
`clip_gradients`, `softmax`) are shared by the other backends, so every model rejects the
same bad input with the same words.
"""

import numpy as np

PARAM_NAMES = ("U", "V", "W")


# --- helpers shared by every backend ---------------------------------------------------------


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax along the last axis; subtracting the max first keeps exp() from overflowing."""
    z = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


def _as_ids(ids, name: str, word_dim: int | None) -> np.ndarray:
    """One sentence of word ids as a 1-D int64 array, or a clear error saying what is wrong."""
    if isinstance(ids, str | bytes):
        raise TypeError(f"{name} must be a 1-D array of integer word ids, got the string {ids!r}")
    arr = np.asarray(ids)
    if arr.size == 0:  # checked first: np.asarray([]) is float64, which would mislead below
        raise ValueError(f"{name} is an empty sentence: expected at least one word id")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer) and arr.dtype != bool):
        raise TypeError(
            f"{name} must hold integer word ids, got dtype {arr.dtype} "
            f"(e.g. {arr.ravel()[:3].tolist()}); encode words with Vocabulary.encode"
        )
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of word ids, got shape {arr.shape}")
    if word_dim is not None:
        bad = np.flatnonzero((arr < 0) | (arr >= word_dim))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"{name}[{i}] = {int(arr[i])} is not a word id: expected 0 <= id < {word_dim} "
                f"(word_dim)"
            )
    return arr.astype(np.int64, copy=False)


def check_sentence(x, y=None, word_dim: int | None = None):
    """Validate one sentence: x (and y, if given) as 1-D int64 ids in [0, word_dim), same length.

    Returns x when y is None, else the pair (x, y).
    """
    x = _as_ids(x, "x", word_dim)
    if y is None:
        return x
    y = _as_ids(y, "y", word_dim)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} words but y has {len(y)}: expected the same length")
    return x, y


def check_corpus(X, Y) -> None:
    """Validate the containers of a data set: two equally long, non-empty lists of sentences."""
    for name, data in (("X", X), ("Y", Y)):
        if isinstance(data, np.ndarray) and data.ndim == 1 and data.dtype != object:
            raise TypeError(
                f"{name} looks like a single sentence (a 1-D array of shape {data.shape}); "
                f"expected a list of sentences, e.g. [{name.lower()}]"
            )
    if len(X) != len(Y):
        raise ValueError(f"X has {len(X)} sentences but Y has {len(Y)}: expected the same number")
    if len(X) == 0:
        raise ValueError("the data set is empty: expected at least one sentence")


def normalize_bptt_truncate(bptt_truncate) -> int:
    """A truncation length k >= 0, or -1 for full BPTT (both -1 and None mean full).

    k = 0 is allowed: each output's error then stays at its own step (no flow through time),
    which the analysis of how far gradients reach needs as its first term.
    """
    if bptt_truncate is None:
        return -1
    if isinstance(bptt_truncate, bool) or not isinstance(bptt_truncate, int | np.integer):
        raise TypeError(f"bptt_truncate must be an int >= 0, -1 or None, got {bptt_truncate!r}")
    if bptt_truncate >= -1:
        return int(bptt_truncate)
    raise ValueError(
        f"bptt_truncate={bptt_truncate}: expected an int >= 0, or -1/None for full BPTT"
    )


def clip_gradients(grads: dict, clip_norm: float) -> dict:
    """Scale all gradients together so their global L2 norm is at most `clip_norm`."""
    if not np.isfinite(clip_norm) or clip_norm <= 0:
        raise ValueError(f"clip_norm must be a positive number, got {clip_norm!r}")
    norm = np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads.values()))
    if norm <= clip_norm:  # also leaves a NaN norm alone: the trainer reports divergence
        return grads
    scale = clip_norm / norm
    return {name: g * scale for name, g in grads.items()}


def model_config(model) -> dict:
    """Constructor arguments of a word-level model (JSON-safe): type(m)(**model_config(m))."""
    return {
        "word_dim": model.word_dim,
        "hidden_dim": model.hidden_dim,
        "bptt_truncate": model.bptt_truncate,
        "seed": model.seed,
        "dtype": np.dtype(model.dtype).name,
    }


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


# --- the model ---------------------------------------------------------------------------------


class RNNNumpy:
    """A vanilla RNN language model with a hand-written forward pass and BPTT."""

    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=4, seed: int = 0, dtype=np.float64):
        self.word_dim = _check_positive_int(word_dim, "word_dim")  # C, the vocabulary size
        self.hidden_dim = _check_positive_int(hidden_dim, "hidden_dim")  # H
        self.bptt_truncate = bptt_truncate  # validated by the property below
        self.seed = int(seed)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        C, H = self.word_dim, self.hidden_dim
        rng = np.random.default_rng(self.seed)
        # Uniform in +-sqrt(1/n), n = the number of incoming connections, as in the tutorial:
        # small enough that tanh starts in its linear range.
        self.U = rng.uniform(-np.sqrt(1.0 / C), np.sqrt(1.0 / C), (H, C)).astype(self.dtype)
        self.V = rng.uniform(-np.sqrt(1.0 / H), np.sqrt(1.0 / H), (C, H)).astype(self.dtype)
        self.W = rng.uniform(-np.sqrt(1.0 / H), np.sqrt(1.0 / H), (H, H)).astype(self.dtype)

    @property
    def bptt_truncate(self) -> int:
        """How many earlier steps each output's error flows back through (-1: all of them)."""
        return self._bptt_truncate

    @bptt_truncate.setter
    def bptt_truncate(self, value) -> None:
        self._bptt_truncate = normalize_bptt_truncate(value)

    def __repr__(self) -> str:
        return (
            f"RNNNumpy(word_dim={self.word_dim}, hidden_dim={self.hidden_dim}, "
            f"bptt_truncate={self.bptt_truncate}, dtype={self.dtype.name})"
        )

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
        if not np.isfinite(learning_rate) or learning_rate <= 0:
            raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
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
        names = set(params)
        if names != set(PARAM_NAMES):
            missing = sorted(set(PARAM_NAMES) - names)
            extra = sorted(names - set(PARAM_NAMES))
            raise ValueError(
                f"expected parameters {list(PARAM_NAMES)}; missing {missing}, unexpected {extra}"
            )
        arrays = {}
        for name in PARAM_NAMES:
            a = np.asarray(params[name])
            if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
                raise TypeError(f"parameter {name} must be numeric, got dtype {a.dtype}")
            if a.ndim != 2:
                raise ValueError(f"parameter {name} must be a matrix, got shape {a.shape}")
            arrays[name] = np.array(a, dtype=self.dtype)  # a copy: no aliasing with the caller
        H, C = arrays["U"].shape  # U decides the sizes; V and W must agree with it
        expected = {"U": (H, C), "V": (C, H), "W": (H, H)}
        for name, shape in expected.items():
            if arrays[name].shape != shape:
                raise ValueError(
                    f"parameter {name} has shape {arrays[name].shape}, expected {shape} "
                    f"to match U of shape {(H, C)} (hidden_dim={H}, word_dim={C})"
                )
        self.hidden_dim, self.word_dim = H, C
        for name in PARAM_NAMES:
            setattr(self, name, arrays[name])

    def config(self) -> dict:
        """Constructor arguments (JSON-safe), so that type(model)(**model.config()) rebuilds it."""
        return model_config(self)
