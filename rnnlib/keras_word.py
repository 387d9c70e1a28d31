"""Word-level Keras language models with the one rnnlib model interface.

Same vocabulary, same X/y and same calls as RNNNumpy (forward_propagation, calculate_loss,
bptt, sgd_step, get_params/set_params, config), so generate_sentence, train_with_sgd, the
checkpoints and the widgets work with them unchanged. The network:

    word ids (B, T) -> Embedding (B, T, H) -> recurrent layer (B, T, H) -> Dense (B, T, C) -> softmax

The embedding is the tutorial's U x_t: a matrix times a one-hot vector is one of its
columns, and Keras' Embedding looks that column up instead of multiplying by C-long
vectors. `KerasRNN` is Keras' SimpleRNN without biases, exactly the tutorial's RNN, and
RNNNumpy's weights transfer directly (U = embedding.T, W = recurrent_kernel.T,
V = output kernel.T). `KerasGRU` and `KerasLSTM` swap in a gated layer (the tutorial's
GRU design, part 4: embedding, then gates).

Two ways to train: `fit` (Keras' own loop: padded, masked batches, any Keras optimizer,
learning-rate halving and rnnlib's History) and `sgd_step`/`sgd_step_batch` (plain SGD on
gradients from jax.grad, for train_with_sgd). Gradients are always full BPTT: the
tutorial's truncation would need a hand-written backward pass, which is RNNNumpy's lesson.
These models need Keras' JAX backend (the default) for jax.grad; float64 works too (the
equivalence tests use it), through rnnlib.keras_common.precision.
"""

import numpy as np

from rnnlib import keras_word_fit
from rnnlib.history import History
from rnnlib.keras_common import (
    check_sentences,
    keras,
    load_keras,
    pad_sentences,
    padded_length,
    positive_int,
    precision,
    read_rnnlib_info,
    save_keras,
    tanh,
)
from rnnlib.keras_jax import JaxFunctions
from rnnlib.numpy_rnn import RNNNumpy, check_sentence, model_config, normalize_bptt_truncate
from rnnlib.vocab import Vocabulary


class KerasWordModel:
    """A word-level Keras language model; subclasses choose the recurrent layer."""

    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=-1, seed: int = 0, dtype="float32"):
        self.word_dim = positive_int(word_dim, "word_dim")  # C, the vocabulary size
        self.hidden_dim = positive_int(hidden_dim, "hidden_dim")  # H
        self.bptt_truncate = bptt_truncate
        self.seed = int(seed)
        self.dtype = np.dtype(dtype).name
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        self.vocab: Vocabulary | None = None  # set by load(), written by save()
        with precision(self.dtype):
            self._build()

    # --- the network --------------------------------------------------------------------------

    def _recurrent_layer(self):
        raise NotImplementedError

    def _variables(self) -> dict:
        """Parameter name -> (Keras variable, stored transposed?)."""
        raise NotImplementedError

    def _input_layer(self):
        """Word ids (B, T) -> vectors (B, T, H): the embedding E[:, x_t], the tutorial's U x_t.

        Multiplying a matrix by a one-hot vector picks one of its columns, so a lookup
        (Keras' Embedding) gives exactly what a one-hot input layer would, without the
        C-wide matrix product (which would cost as much as the output layer).
        """
        bound = float(np.sqrt(1.0 / self.word_dim))  # the tutorial's range for U
        return keras.layers.Embedding(
            self.word_dim,
            self.hidden_dim,
            embeddings_initializer=keras.initializers.RandomUniform(
                -bound, bound, seed=self.seed + 3
            ),
            dtype=self.dtype,
            name="embedding",
        )

    def _build(self) -> None:
        ids = keras.Input((None,), dtype="int32", name="word_ids")  # (B, T)
        vectors = self._input_layer()(ids)  # (B, T, H)
        states = self._recurrent_layer()(vectors)  # (B, T, H)
        logits = keras.layers.Dense(
            self.word_dim,
            use_bias=False,  # the tutorial's V has none
            kernel_initializer=keras.initializers.GlorotUniform(seed=self.seed + 2),
            dtype=self.dtype,
            name="output",
        )(states)  # (B, T, C)
        probs = keras.layers.Softmax(dtype=self.dtype, name="softmax")(logits)  # (B, T, C)
        self.keras_model = keras.Model(ids, probs, name=type(self).__name__)  # what is saved
        self.logits_model = keras.Model(ids, logits)  # what the losses start from
        probe = keras.Model(ids, [probs, states])  # o and s for forward_propagation
        self.jax = JaxFunctions(self.logits_model, probe)  # same layers, same weights

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(word_dim={self.word_dim}, hidden_dim={self.hidden_dim}, "
            f"dtype={self.dtype})"
        )

    @property
    def bptt_truncate(self) -> int:
        """Always -1: Keras models backpropagate through the whole sentence."""
        return self._bptt_truncate

    @bptt_truncate.setter
    def bptt_truncate(self, value) -> None:
        value = normalize_bptt_truncate(value)
        if value != -1:
            raise ValueError(
                f"bptt_truncate={value}: Keras models compute full BPTT only; "
                "use -1 or None (RNNNumpy implements the tutorial's truncation)"
            )
        self._bptt_truncate = value

    def config(self) -> dict:
        """Constructor arguments (JSON-safe), so that type(model)(**model.config()) rebuilds it."""
        return model_config(self)

    def padded(self, xs, ys, rows=None):
        """Right-padded (ids, targets, weights) for a list of sentences (see pad_sentences)."""
        length = padded_length(max(len(x) for x in xs))
        return pad_sentences(xs, ys, length, rows)

    # --- the model interface ------------------------------------------------------------------

    def forward_propagation(self, x):
        """Probabilities o (T, C) and hidden states s (T, H) for one sentence of word ids."""
        x = check_sentence(x, word_dim=self.word_dim)
        ids, _, _ = self.padded([x], [x])  # right padding leaves the real steps unchanged
        with precision(self.dtype):
            o, s = self.jax.forward(ids)  # (1, T', C), (1, T', H)
        return o[0, : len(x)], s[0, : len(x)]  # (T, C), (T, H)

    def hidden_states(self, x) -> np.ndarray:
        """Hidden states s (T, H) for one sentence."""
        return self.forward_propagation(x)[1]

    def predict(self, x) -> np.ndarray:
        """The most probable next word at every step, (T,)."""
        return np.argmax(self.forward_propagation(x)[0], axis=1)

    def calculate_total_loss(self, X, Y, batch_size: int = 32) -> float:
        """Cross-entropy summed over every word of every sentence."""
        X, Y = check_sentences(X, Y, self.word_dim)
        order = np.argsort([len(x) for x in X], kind="stable")  # similar lengths together
        total = 0.0
        with precision(self.dtype):
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                rows = padded_length(len(batch), smallest=4)  # few shapes: few compilations
                arrays = self.padded([X[i] for i in batch], [Y[i] for i in batch], rows)
                total += self.jax.total_loss(*arrays)
        return total

    def calculate_loss(self, X, Y) -> float:
        """Cross-entropy per word: log(C) for a model that knows nothing."""
        total = self.calculate_total_loss(X, Y)
        return total / sum(len(y) for y in Y)

    def bptt(self, x, y) -> dict[str, np.ndarray]:
        """Gradients of the sentence's total loss by jax.grad (full BPTT), keyed as get_params."""
        x, y = check_sentence(x, y, self.word_dim)
        with precision(self.dtype):
            grads = self.jax.gradients(*self.padded([x], [y]))
        by_variable = dict(zip(map(id, self.logits_model.trainable_variables), grads, strict=True))
        return {
            name: (by_variable[id(var)].T if transposed else by_variable[id(var)]).copy()
            for name, (var, transposed) in self._variables().items()
        }

    def sgd_step(self, x, y, learning_rate, clip_norm=None) -> None:
        """One step of plain SGD on one sentence (gradients first clipped to `clip_norm`)."""
        self.sgd_step_batch([x], [y], learning_rate, clip_norm)

    def sgd_step_batch(self, xs, ys, learning_rate, clip_norm=None) -> float:
        """One SGD step on the summed loss of a list of sentences; returns that loss (before)."""
        if not np.isfinite(learning_rate) or learning_rate <= 0:
            raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
        if clip_norm is not None and not (np.isfinite(clip_norm) and clip_norm > 0):
            raise ValueError(f"clip_norm must be a positive number, got {clip_norm!r}")
        xs, ys = check_sentences(xs, ys, self.word_dim)
        with precision(self.dtype):
            return self.jax.sgd_step(*self.padded(xs, ys), learning_rate, clip_norm)

    # --- parameters -----------------------------------------------------------------------------

    def get_params(self) -> dict[str, np.ndarray]:
        """Copies of the weights (for KerasRNN: U, V, W in the tutorial's layout)."""
        with precision(self.dtype):
            return {
                name: np.array(var.value).T.copy() if transposed else np.array(var.value)
                for name, (var, transposed) in self._variables().items()
            }

    def set_params(self, params: dict) -> None:
        """Replace the weights (copied, cast to the model's dtype); names and shapes must match."""
        expected = self._variables()
        if set(params) != set(expected):
            raise ValueError(
                f"expected parameters {sorted(expected)}; missing "
                f"{sorted(set(expected) - set(params))}, unexpected "
                f"{sorted(set(params) - set(expected))}"
            )
        arrays = {}
        for name, (var, transposed) in expected.items():
            array = np.asarray(params[name])
            if not (
                np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
            ):
                raise TypeError(f"parameter {name} must be numeric, got dtype {array.dtype}")
            shape = tuple(var.shape)[::-1] if transposed else tuple(var.shape)
            if array.shape != shape:
                raise ValueError(f"parameter {name} has shape {array.shape}, expected {shape}")
            arrays[name] = array.T if transposed else array
        with precision(self.dtype):
            for name, (var, _) in expected.items():
                var.assign(np.array(arrays[name], dtype=self.dtype))

    # --- training with Keras' fit (rnnlib.keras_word_fit) ---------------------------------------

    def compile(self, optimizer: str = "rmsprop", learning_rate: float = 0.001) -> None:
        """Choose the Keras optimizer of fit/train_on_batch: 'sgd', 'rmsprop' or 'adam'."""
        keras_word_fit.compile_model(self, optimizer, learning_rate)

    def train_on_batch(self, xs, ys) -> float:
        """One optimizer step on a padded, masked batch of sentences; returns its loss per word."""
        return keras_word_fit.train_on_batch(self, xs, ys)

    def fit(self, X, Y, nepoch: int = 1, batch_size: int = 32, **options) -> History:
        """Train with Keras' fit, halving the learning rate as train_with_sgd does.

        Options (learning_rate, optimizer, X_val, y_val, evaluate_loss_after, callbacks,
        history, shuffle_seed, verbose) are those of rnnlib.keras_word_fit.fit.
        """
        return keras_word_fit.fit(self, X, Y, nepoch, batch_size, **options)

    # --- saving ---------------------------------------------------------------------------------

    def save(self, path, vocab: Vocabulary | None = None) -> None:
        """Write the model (and its vocabulary) to a .keras file, atomically."""
        vocab = vocab if vocab is not None else self.vocab
        if vocab is not None and len(vocab) != self.word_dim:
            raise ValueError(
                f"vocabulary has {len(vocab)} words but the model's word_dim is {self.word_dim}"
            )
        info = {
            "class": type(self).__name__,
            "config": self.config(),
            "vocab": None if vocab is None else vocab.index_to_word,
        }
        with precision(self.dtype):
            save_keras(self.keras_model, path, info)

    @staticmethod
    def load(path) -> "KerasWordModel":
        """A model saved by `save`, with its vocabulary as `.vocab` (None if none was saved)."""
        info = read_rnnlib_info(path)
        classes = {cls.__name__: cls for cls in (KerasRNN, KerasGRU, KerasLSTM)}
        if info.get("class") not in classes:
            raise ValueError(f"{path} holds a {info.get('class')!r}, not one of {sorted(classes)}")
        model = classes[info["class"]](**info["config"])
        saved = load_keras(path, model.dtype)
        with precision(model.dtype):
            model.keras_model.set_weights([np.array(v.value) for v in saved.weights])
        model.vocab = None if info.get("vocab") is None else Vocabulary(info["vocab"])
        return model


class KerasRNN(KerasWordModel):
    """The tutorial's RNN as Keras SimpleRNN (no biases); U, V, W transfer to and from RNNNumpy.

    U is the embedding (its column x_t is U's push for word x_t), W is SimpleRNN's
    recurrent kernel, V the output layer. SimpleRNN also multiplies its input by a kernel
    of its own; the embedding already is U x_t, so that kernel stays the identity (frozen,
    not a parameter): s_t = tanh(U[:, x_t] + W s_{t-1}) exactly.
    """

    def _recurrent_layer(self):
        return keras.layers.SimpleRNN(
            self.hidden_dim,
            activation=tanh,
            use_bias=False,
            kernel_initializer="identity",
            return_sequences=True,
            dtype=self.dtype,
            name="rnn",
        )

    def _build(self) -> None:
        super()._build()
        self.keras_model.get_layer("rnn").cell.kernel.trainable = False
        # The tutorial's initialisation, from the same seed: the same start as RNNNumpy.
        start = RNNNumpy(self.word_dim, self.hidden_dim, seed=self.seed, dtype=self.dtype)
        self.set_params(start.get_params())

    def _variables(self) -> dict:
        # Keras multiplies row vectors from the left (x @ kernel), the tutorial column
        # vectors from the right (U x): each matrix is the other's transpose.
        return {
            "U": (self.keras_model.get_layer("embedding").embeddings, True),  # (H, C)
            "V": (self.keras_model.get_layer("output").kernel, True),  # (C, H)
            "W": (self.keras_model.get_layer("rnn").cell.recurrent_kernel, True),  # (H, H)
        }

    def set_params(self, params: dict) -> None:
        """Replace U, V, W (RNNNumpy's rules and errors); new shapes rebuild the model."""
        readable = RNNNumpy(1, 1, dtype=self.dtype)
        readable.set_params(params)  # validates names, shapes and dtypes as RNNNumpy does
        if (readable.word_dim, readable.hidden_dim) != (self.word_dim, self.hidden_dim):
            self.word_dim, self.hidden_dim = readable.word_dim, readable.hidden_dim
            with precision(self.dtype):
                self._build()
        super().set_params(readable.get_params())


class _GatedModel(KerasWordModel):
    """GRU/LSTM after a word embedding E, as in the tutorial's GRU (part 4).

    Parameters: E (H, C) in the tutorial's layout, Keras' own kernel (H, kH),
    recurrent_kernel (H, kH) and bias of the gates (k = 3 for GRU, 4 for LSTM), and the
    output matrix V (C, H).
    """

    layer_class = None

    def _recurrent_layer(self):
        return self.layer_class(
            self.hidden_dim,
            activation=tanh,
            kernel_initializer=keras.initializers.GlorotUniform(seed=self.seed),
            recurrent_initializer=keras.initializers.Orthogonal(seed=self.seed + 1),
            return_sequences=True,
            dtype=self.dtype,
            name="rnn",
        )

    def _variables(self) -> dict:
        cell = self.keras_model.get_layer("rnn").cell
        return {
            "E": (self.keras_model.get_layer("embedding").embeddings, True),  # (H, C)
            "kernel": (cell.kernel, False),  # (H, k H), the gates side by side
            "recurrent_kernel": (cell.recurrent_kernel, False),  # (H, k H)
            "bias": (cell.bias, False),
            "V": (self.keras_model.get_layer("output").kernel, True),  # (C, H)
        }


class KerasGRU(_GatedModel):
    """Word-level GRU language model in Keras."""

    layer_class = keras.layers.GRU


class KerasLSTM(_GatedModel):
    """Word-level LSTM language model in Keras."""

    layer_class = keras.layers.LSTM
