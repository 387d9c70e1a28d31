"""KerasWordModel, the base of the word-level Keras models: the network and the interface (notebook 7).

The network around a recurrent layer, and the rnnlib model interface (forward_propagation,
calculate_loss, bptt, sgd_step, get_params/set_params, config) on top of it. The
architectures (KerasRNN, KerasGRU, KerasLSTM) are in rnnlib.keras_rnn.word.
"""

import numpy as np

from rnnlib.data.batching import bucket_length, bucket_rows, pad_sentences
from rnnlib.data.vocab import Vocabulary
from rnnlib.interface import (
    check_clip_norm,
    check_float_dtype,
    check_learning_rate,
    check_model_size,
    check_numeric_array,
    check_param_names,
    check_seed,
    check_sentence,
    check_sentences,
    model_config,
    model_repr,
    normalize_bptt_truncate,
)
from rnnlib.keras_rnn import fit as keras_fit
from rnnlib.keras_rnn import saving
from rnnlib.keras_rnn.devices import data_parallel, move_model, padded_rows, place_variables
from rnnlib.keras_rnn.jax_grad import JaxFunctions
from rnnlib.keras_rnn.layers import keras, precision
from rnnlib.training.history import History


class KerasWordModel:
    """A word-level Keras language model; subclasses choose the recurrent layer."""

    architectures: dict = {}  # name -> subclass, filled as subclasses are defined

    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=-1, seed: int = 0, dtype="float32"):
        self.word_dim, self.hidden_dim = check_model_size(word_dim, hidden_dim)  # C, H
        self.bptt_truncate = bptt_truncate
        self.seed = check_seed(seed)
        self.dtype = check_float_dtype(dtype).name
        self.vocab: Vocabulary | None = None  # set by load(), written by save()
        self.distribution = None  # keras.distribution.DataParallel once use_devices(N > 1)
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
        self.jax.distribution = self.distribution
        place_variables(self.keras_model.variables, self.distribution)

    def __repr__(self) -> str:
        return model_repr(self)

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

    def padded(self, pairs, rows=None):
        """Right-padded (ids, targets, weights), each (B, T), for (x, y) pairs (see pad_sentences)."""
        length = bucket_length(max(len(x) for x, _ in pairs))
        rows = len(pairs) if rows is None else rows
        rows = padded_rows(rows, self.distribution)  # weight-0 rows, so N devices divide it
        return pad_sentences(pairs, length, rows, id_dtype=np.int32)

    # --- the model interface ------------------------------------------------------------------

    def forward_propagation(self, x):
        """Probabilities o (T, C) and hidden states s (T, H) for one sentence of word ids."""
        x = check_sentence(x, word_dim=self.word_dim)
        ids, _, _ = self.padded([(x, x)])  # right padding leaves the real steps unchanged
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
        pairs = check_sentences(X, Y, self.word_dim)
        order = np.argsort([len(x) for x, _ in pairs], kind="stable")  # similar lengths together
        total = 0.0
        with precision(self.dtype):
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                rows = bucket_rows(len(batch))  # few shapes: few compilations
                arrays = self.padded([pairs[i] for i in batch], rows)
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
            grads = self.jax.gradients(*self.padded([(x, y)]))
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
        learning_rate, clip_norm = check_learning_rate(learning_rate), check_clip_norm(clip_norm)
        pairs = check_sentences(xs, ys, self.word_dim)
        with precision(self.dtype):
            return self.jax.sgd_step(*self.padded(pairs), learning_rate, clip_norm)

    # --- parameters -----------------------------------------------------------------------------

    def get_params(self) -> dict[str, np.ndarray]:
        """Copies of the weights (for KerasRNN: U, V, W in the tutorial's layout)."""
        with precision(self.dtype):
            return {
                name: np.array(var.value).T.copy() if transposed else np.array(var.value)
                for name, (var, transposed) in self._variables().items()
            }

    def set_params(self, params: dict) -> None:
        """Replace the weights (copied, cast, finite); names and shapes must match."""
        expected = self._variables()
        check_param_names(params, sorted(expected))
        arrays = {}
        for name, (var, transposed) in expected.items():
            array = check_numeric_array(params[name], name, self.dtype)
            shape = tuple(var.shape)[::-1] if transposed else tuple(var.shape)
            if array.shape != shape:
                raise ValueError(f"parameter {name} has shape {array.shape}, expected {shape}")
            arrays[name] = array.T if transposed else array
        with precision(self.dtype):
            for name, (var, _) in expected.items():
                var.assign(np.array(arrays[name], dtype=self.dtype))
        place_variables(self.keras_model.variables, self.distribution)  # back on every device

    # --- devices (rnnlib.keras_rnn.devices) -------------------------------------------------------

    def use_devices(self, devices=1) -> None:
        """Train and evaluate data-parallel over `devices` (N or "all"); 1 is the default."""
        self.distribution = data_parallel(devices)
        self.jax.distribution = self.distribution
        move_model(self.logits_model, self.distribution)

    # --- training with Keras' fit (rnnlib.keras_rnn.fit) ---------------------------------------

    def compile(self, optimizer: str = "rmsprop", learning_rate: float = 0.001) -> None:
        """Choose the Keras optimizer of fit/train_on_batch: 'sgd', 'rmsprop' or 'adam'."""
        keras_fit.compile_model(self, optimizer, learning_rate)

    def train_on_batch(self, xs, ys) -> float:
        """One optimizer step on a padded, masked batch of sentences; returns its loss per word."""
        return keras_fit.train_on_batch(self, xs, ys)

    def fit(self, X, Y, nepoch: int = 1, batch_size: int = 32, **options) -> History:
        """Train with Keras' fit, halving the learning rate as train_with_sgd does.

        Options (learning_rate, optimizer, X_val, y_val, evaluate_loss_after, callbacks,
        history, shuffle_seed, verbose, minutes, devices) are those of rnnlib.keras_rnn.fit.fit.
        """
        return keras_fit.fit(self, X, Y, nepoch, batch_size, **options)

    # --- saving (rnnlib.keras_rnn.saving) --------------------------------------------------------

    def save(self, path, vocab: Vocabulary | None = None) -> None:
        """Write the model (and its vocabulary) to a .keras file, atomically."""
        saving.save_word_model(self, path, vocab)

    @staticmethod
    def load(path) -> "KerasWordModel":
        """A model saved by `save`, with its vocabulary as `.vocab` (None if none was saved)."""
        return saving.load_word_model(path, KerasWordModel.architectures)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):  # what a saved file may name: KerasRNN, ...
            KerasWordModel.architectures[cls.__name__] = cls
