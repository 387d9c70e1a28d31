"""KerasWordModel, the base of the word-level Keras models: the network and the interface (notebook 7).

The network around a recurrent layer, and the rnnlib model interface (forward_propagation,
calculate_loss, bptt, sgd_step, get_params/set_params, config) on top of it. The
architectures (KerasRNN, KerasGRU, KerasLSTM) are in rnnlib.keras_rnn.word.

The training recipe's `step_batch` takes the gradients of the mean loss per target word
from JAX (rnnlib.keras_rnn.jax_grad.MeanLossGradients, one compiled function per bucket
shape) and lets a NumPy optimiser (rnnlib.training.optimizers) apply them, so its state is
what checkpoints save. Two options, off by default: `dropout` (inverted, on the embedded
words and on the recurrent layer's output, in step_batch only) and `tie_embeddings` (the
output matrix V is the embedding's transpose: one matrix, trained by both gradients).
"""

import numpy as np

from rnnlib.data.batching import bucket_length, bucket_rows, pad_sentences
from rnnlib.data.vocab import Vocabulary
from rnnlib.interface import (
    check_clip_norm,
    check_dropout,
    check_float_dtype,
    check_learning_rate,
    check_model_size,
    check_numeric_array,
    check_param_names,
    check_seed,
    check_sentence,
    check_sentences,
    check_tie_embeddings,
    check_tied,
    model_config,
    model_repr,
    normalize_bptt_truncate,
)
from rnnlib.keras_rnn import fit as keras_fit
from rnnlib.keras_rnn import saving
from rnnlib.keras_rnn.devices import data_parallel, move_model, padded_rows, place_variables
from rnnlib.keras_rnn.jax_grad import JaxFunctions, MeanLossGradients
from rnnlib.keras_rnn.layers import keras, precision
from rnnlib.numpy_rnn.dropout import dropout_masks
from rnnlib.numpy_rnn.readable import clip_gradients
from rnnlib.training.history import History


class KerasWordModel:
    """A word-level Keras language model; subclasses choose the recurrent layer."""

    architectures: dict = {}  # name -> subclass, filled as subclasses are defined
    step_batch_loss = "mean per target token"  # what step_batch descends (sgd_step_batch: sum)
    embedding_name = "E"  # the get_params name of the input embedding (KerasRNN: U)

    def __init__(
        self,
        word_dim,
        hidden_dim=100,
        bptt_truncate=-1,
        seed: int = 0,
        dtype="float32",
        dropout=0.0,
        tie_embeddings=False,
    ):
        self.word_dim, self.hidden_dim = check_model_size(word_dim, hidden_dim)  # C, H
        self.bptt_truncate = bptt_truncate
        self.seed = check_seed(seed)
        self.dtype = check_float_dtype(dtype).name
        self.dropout = check_dropout(dropout)
        self.tie_embeddings = check_tie_embeddings(tie_embeddings)
        self.vocab: Vocabulary | None = None  # set by load(), written by save()
        self.distribution = None  # keras.distribution.DataParallel once use_devices(N > 1)
        with precision(self.dtype):
            self._build()
            if self.tie_embeddings:  # start as one matrix: the output side copies the input's
                params = self.get_params()
                params["V"] = params[self.embedding_name].T
                self.set_params(params)

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
        embedding, recurrent = self._input_layer(), self._recurrent_layer()
        output = keras.layers.Dense(
            self.word_dim,
            use_bias=False,  # the tutorial's V has none
            kernel_initializer=keras.initializers.GlorotUniform(seed=self.seed + 2),
            dtype=self.dtype,
            name="output",
        )
        vectors = embedding(ids)  # (B, T, H)
        states = recurrent(vectors)  # (B, T, H)
        logits = output(states)  # (B, T, C)
        probs = keras.layers.Softmax(dtype=self.dtype, name="softmax")(logits)  # (B, T, C)
        self.keras_model = keras.Model(ids, probs, name=type(self).__name__)  # what is saved
        self.logits_model = keras.Model(ids, logits)  # what the losses start from
        probe = keras.Model(ids, [probs, states])  # o and s for forward_propagation
        self.jax = JaxFunctions(self.logits_model, probe)  # same layers, same weights
        # The same layers again, with dropout masks (1 / (1 - rate) or 0) multiplied into
        # the embedded words and the states: the network step_batch trains.
        kept_in = keras.Input((None, self.hidden_dim), dtype=self.dtype, name="kept_in")
        kept_out = keras.Input((None, self.hidden_dim), dtype=self.dtype, name="kept_out")
        dropped_logits = output(recurrent(vectors * kept_in) * kept_out)  # (B, T, C)
        train_model = keras.Model([ids, kept_in, kept_out], dropped_logits)
        tied = (embedding.embeddings, output.kernel) if self.tie_embeddings else None
        self._mean_loss_gradients = MeanLossGradients(train_model, tied)
        self.jax.distribution = self._mean_loss_gradients.distribution = self.distribution
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

    @property
    def compile_seconds(self) -> dict:
        """Seconds spent compiling, per (function, batch rows, padded length): the recipe's
        step compiled ahead of its first call; the loss timed on its shape's first call."""
        return {**self.jax.compile_seconds, **self._mean_loss_gradients.compile_seconds}

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

    def step_batch(self, xs, ys, optimizer, clip_norm=None) -> float:
        """One step of `optimizer` (rnnlib.training.optimizers) on the mean loss per target
        token, gradients clipped to a global norm of `clip_norm` first; returns the mean loss
        before the step. Dropout (if any) applies here, masks from (seed, optimizer.t)."""
        clip_norm = check_clip_norm(clip_norm)
        pairs = check_sentences(xs, ys, self.word_dim)
        ids, targets, weights = self.padded(pairs, bucket_rows(len(pairs)))  # each (B, T)
        shape = (*ids.shape, self.hidden_dim)  # (B, T, H)
        if self.dropout > 0:
            masks = dropout_masks(self.dropout, self.seed, optimizer.t, [shape, shape], self.dtype)
        else:
            masks = [np.ones(shape, dtype=self.dtype)] * 2
        with precision(self.dtype):
            loss, grads = self._mean_loss_gradients(ids, targets, weights, *masks)
        trained = self._mean_loss_gradients.train_model.trainable_variables
        by_variable = dict(zip(map(id, trained), grads, strict=True))
        names = self.trainable_names()
        variables = self._variables()
        grads = {}
        for name in names:
            var, transposed = variables[name]
            grads[name] = by_variable[id(var)].T if transposed else by_variable[id(var)]
        if clip_norm is not None:
            grads = clip_gradients(grads, clip_norm)
        params = self.get_params()
        trainable = {name: params[name] for name in names}
        optimizer.update(trainable, grads)  # in place
        if self.tie_embeddings:
            params["V"] = params[self.embedding_name].T
        self._assign(params)
        return loss

    def trainable_names(self) -> tuple:
        """The parameters an optimiser updates: those of get_params, but V when tied."""
        return tuple(n for n in self._variables() if not (self.tie_embeddings and n == "V"))

    # --- parameters -----------------------------------------------------------------------------

    def get_params(self) -> dict[str, np.ndarray]:
        """Copies of the weights (for KerasRNN: U, V, W in the tutorial's layout)."""
        with precision(self.dtype):
            return {
                name: np.array(var.value).T.copy() if transposed else np.array(var.value)
                for name, (var, transposed) in self._variables().items()
            }

    def set_params(self, params: dict) -> None:
        """Replace the weights (copied, cast, finite); names and shapes must match.

        A tied model takes only params whose V equals the embedding's transpose.
        """
        expected = self._variables()
        check_param_names(params, sorted(expected))
        arrays = {}
        for name, (var, transposed) in expected.items():
            array = check_numeric_array(params[name], name, self.dtype)
            shape = tuple(var.shape)[::-1] if transposed else tuple(var.shape)
            if array.shape != shape:
                raise ValueError(f"parameter {name} has shape {array.shape}, expected {shape}")
            arrays[name] = array
        if self.tie_embeddings:
            check_tied(arrays[self.embedding_name], arrays["V"], (self.embedding_name, "V"))
        self._assign(arrays)

    def _assign(self, params: dict) -> None:
        """Write checked arrays in get_params' layout into the Keras variables."""
        with precision(self.dtype):
            for name, (var, transposed) in self._variables().items():
                value = params[name].T if transposed else params[name]
                var.assign(np.array(value, dtype=self.dtype))
        place_variables(self.keras_model.variables, self.distribution)  # back on every device

    # --- devices (rnnlib.keras_rnn.devices) -------------------------------------------------------

    def use_devices(self, devices=1) -> None:
        """Train and evaluate data-parallel over `devices` (N or "all"); 1 is the default."""
        self.distribution = data_parallel(devices)
        self.jax.distribution = self._mean_loss_gradients.distribution = self.distribution
        self._mean_loss_gradients.forget_compiled()  # compiled for the old devices' layout
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
