"""GRUPyTensor: a two-layer GRU language model in PyTensor, trained with RMSprop (notebook 6).

The model of the original tutorial's part 4. A word is looked up in an embedding E (H, C),
read by two stacked GRU layers, and V (C, H), c (C) turn the top state into word scores.
One GRU layer (the first uses U[0:3], W[0:3], b[0:3]; the second indices 3-5):

    z  = sigmoid(U0 x + W0 s + b0)             update gate: how much of the old state stays
    r  = sigmoid(U1 x + W1 s + b1)             reset gate: how much of it the candidate sees
    h  = tanh(U2 x + W2 (s * r) + b2)          candidate state
    s' = (1 - z) * h + z * s

Because the new state is mostly a gated copy of the old one, the error can flow back many
steps without vanishing: that is why the GRU trains with full BPTT (bptt_truncate=-1, the
default). The logistic sigmoid is used where the original used Theano's hard_sigmoid.

RMSprop scales each parameter's step by a running average of its squared gradient:
    m = decay m + (1 - decay) g^2,    p -= learning_rate g / sqrt(m + 1e-6)
The caches m are part of the model's state: get_params() returns them as "mE", "mU", ...
next to the weights, so checkpoints and the trainer's NaN rollback restore them and a
resumed run continues exactly. bptt() returns the gradients of the six weights only, so
check gradients with `gradient_check(model, x, y, params=GRUPyTensor.WEIGHT_NAMES)`.
set_params() without the caches starts them at zero (a fresh optimiser for new weights).

There is one graph, batched and time-major; a single sentence runs as a batch of one.

The training recipe (`step_batch`, any optimiser of rnnlib.training.optimizers) adds two
options, both off by default: `dropout` (inverted, on the embedded words the first layer
reads and on the top states before V; only in step_batch) and `tie_embeddings` (V is E^T:
the model keeps E only, the gradients of both uses flow into it; get_params still shows V).
With tying, bptt's E is that summed gradient and it has no V.
"""

import numbers

import numpy as np
import pytensor
import pytensor.tensor as pt

from rnnlib.interface import (
    check_dropout,
    check_model_size,
    check_numeric_array,
    check_param_shapes,
    check_seed,
    check_tie_embeddings,
    check_tied,
)
from rnnlib.pytensor_rnn.base import PyTensorLanguageModel
from rnnlib.pytensor_rnn.compile import fast_mode
from rnnlib.pytensor_rnn.graph import truncated_recurrence

WEIGHT_NAMES = ("E", "U", "W", "b", "V", "c")
CACHE_NAMES = tuple("m" + name for name in WEIGHT_NAMES)  # RMSprop's running averages
RMSPROP_EPSILON = 1e-6


def gru_layer(x, s, U, W, b, first: int):
    """One GRU layer's new state from input x and state s, each (H,) or rows (N, H)."""
    z = pt.sigmoid(pt.dot(x, U[first].T) + pt.dot(s, W[first].T) + b[first])
    r = pt.sigmoid(pt.dot(x, U[first + 1].T) + pt.dot(s, W[first + 1].T) + b[first + 1])
    h = pt.tanh(pt.dot(x, U[first + 2].T) + pt.dot(s * r, W[first + 2].T) + b[first + 2])
    return (1.0 - z) * h + z * s


def gru_step(embedded, s1, s2, U, W, b):
    """One time step of both layers: the first reads the word, the second reads the first."""
    s1 = gru_layer(embedded, s1, U, W, b, first=0)
    s2 = gru_layer(s1, s2, U, W, b, first=3)
    return s1, s2


# Each parameter's shape in symbols (C words, H hidden units); a cache has its weight's shape.
LAYOUT = {"E": ("H", "C"), "U": (6, "H", "H"), "W": (6, "H", "H"), "b": (6, "H")}
LAYOUT.update({"V": ("C", "H"), "c": ("C",)})
LAYOUT.update({"m" + name: dims for name, dims in LAYOUT.items()})


class GRUPyTensor(PyTensorLanguageModel):
    """Two-layer GRU language model with an embedding, trained with RMSprop."""

    WEIGHT_NAMES = WEIGHT_NAMES
    STEP_OPTIONS = ("decay",)

    def __init__(
        self,
        word_dim,
        hidden_dim=128,
        bptt_truncate=-1,
        seed=0,
        dtype="float64",
        dropout=0.0,
        tie_embeddings=False,
    ):
        C, H = self.word_dim, self.hidden_dim = check_model_size(word_dim, hidden_dim)
        self.dropout = check_dropout(dropout)
        self.tie_embeddings = check_tie_embeddings(tie_embeddings)
        rng = np.random.default_rng(check_seed(seed))
        # Uniform in +-sqrt(1/n), n = incoming connections, as in the tutorial; biases zero.
        weights = {
            "E": rng.uniform(-np.sqrt(1.0 / C), np.sqrt(1.0 / C), (H, C)),
            "U": rng.uniform(-np.sqrt(1.0 / H), np.sqrt(1.0 / H), (6, H, H)),
            "W": rng.uniform(-np.sqrt(1.0 / H), np.sqrt(1.0 / H), (6, H, H)),
            "b": np.zeros((6, H)),
            "V": rng.uniform(-np.sqrt(1.0 / H), np.sqrt(1.0 / H), (C, H)),
            "c": np.zeros(C),
        }
        if self.tie_embeddings:  # one matrix: E's start, read from both sides
            weights["V"] = weights["E"].T
        self._start(bptt_truncate, seed, dtype, weights)

    @staticmethod
    def param_shapes(word_dim: int, hidden_dim: int) -> dict:
        """Every parameter's shape, RMSprop caches included, for C = word_dim, H = hidden_dim."""
        sizes = {"C": word_dim, "H": hidden_dim}
        return {n: tuple(sizes.get(d, d) for d in dims) for n, dims in LAYOUT.items()}

    def _validated(self, params: dict) -> dict:
        names = set(params)
        caches = names & set(CACHE_NAMES)
        if (
            not set(WEIGHT_NAMES) <= names
            or names - set(WEIGHT_NAMES) - set(CACHE_NAMES)
            or (caches and caches != set(CACHE_NAMES))
        ):
            raise ValueError(
                f"expected parameters {list(WEIGHT_NAMES)}, optionally with all RMSprop caches "
                f"{list(CACHE_NAMES)}; got {sorted(names)}"
            )
        arrays = {
            name: check_numeric_array(params[name], name, self.dtype)  # finite, copied, cast
            for name in sorted(names, key=(WEIGHT_NAMES + CACHE_NAMES).index)
        }
        current = {"C": self.word_dim, "H": self.hidden_dim}
        sizes = check_param_shapes(arrays, LAYOUT, current)  # names the odd one out
        for name in CACHE_NAMES:  # no caches given: a fresh optimiser
            arrays.setdefault(name, np.zeros_like(arrays[name[1:]]))
        if self.tie_embeddings:  # V is E^T, not a weight of its own
            check_tied(arrays["E"], arrays.pop("V"), names=("E", "V"))
        self.hidden_dim, self.word_dim = sizes["H"], sizes["C"]
        return arrays

    def get_params(self) -> dict[str, np.ndarray]:
        """Copies of the weights and RMSprop caches; a tied model's V is E^T (the same numbers)."""
        params = super().get_params()
        if self.tie_embeddings:
            params["V"] = params["E"].T.copy()
        return {name: params[name] for name in WEIGHT_NAMES + CACHE_NAMES}

    def _batch_logits(self, x, for_grad: bool, dropout_masks=None):
        """Top-layer states (L, B, H) and scores (L*B, C) of a time-major batch of word ids.

        dropout_masks: (kept_in, kept_out), each (L, B, H), multiplied into the embedded
        words and the top states (the recipe's training step), or None.
        """
        E, U, W, b, c = (self._shared[name] for name in ("E", "U", "W", "b", "c"))
        V = E.T if self.tie_embeddings else self._shared["V"]
        length, rows = x.type.shape
        H = self.hidden_dim
        embedded = E.T[x]  # (L, B, H): row x of E.T is word x's embedding
        if dropout_masks is not None:
            embedded = embedded * dropout_masks[0]
        zeros = pt.zeros((rows, H), dtype=self.dtype.name)
        s1, s2 = pytensor.scan(
            gru_step,
            sequences=[embedded],
            outputs_info=[zeros, zeros],  # both layers start at zero
            non_sequences=[U, W, b],
            mode=fast_mode(),
            return_updates=False,
        )
        states = [pt.specify_shape(s, (length, rows, H)) for s in (s1, s2)]  # (L, B, H) each
        if for_grad and self.bptt_truncate != -1:
            states = truncated_recurrence(
                gru_step, [embedded], states, self.bptt_truncate, [U, W, b], fast_mode()
            )
        top = states[1]
        if dropout_masks is not None:
            top = top * dropout_masks[1]
        return top, pt.dot(top.reshape((length * rows, H)), V.T) + c

    def _updates(self, weights, grads, learning_rate, decay):
        """RMSprop: each step divided by the root of a running mean of squared gradients."""
        updates, epsilon = [], np.asarray(RMSPROP_EPSILON, dtype=self.dtype)  # not float64
        for p, g in zip(weights, grads, strict=True):
            m = self._shared["m" + p.name]
            m_new = decay * m + (1.0 - decay) * pt.sqr(g)
            updates += [(m, m_new), (p, p - learning_rate * g / pt.sqrt(m_new + epsilon))]
        return updates

    @staticmethod
    def _check_decay(decay) -> float:
        if isinstance(decay, bool) or not isinstance(decay, numbers.Real) or not 0 <= decay < 1:
            raise ValueError(f"decay must be a number in [0, 1), got {decay!r}")
        return float(decay)

    def sgd_step(self, x, y, learning_rate, clip_norm=None, decay=0.9) -> None:
        """One RMSprop step on one sentence (gradients first norm-clipped to clip_norm)."""
        self._step_batch([x], [y], learning_rate, clip_norm, self._check_decay(decay))

    def sgd_step_batch(self, xs, ys, learning_rate, clip_norm=None, decay=0.9) -> None:
        """One RMSprop step on the summed loss of a list of sentences."""
        self._step_batch(xs, ys, learning_rate, clip_norm, self._check_decay(decay))
