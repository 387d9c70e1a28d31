"""RNNKeras: the original's third implementation, a character-level LSTM text generator (notebook 7).

From any text: windows of `maxlen` characters and the character after each (char_data).
LSTM(hidden_dim) reads the window as one-hot
characters, Dense + softmax gives the next character's distribution; RMSprop, cross-entropy.
Generation feeds the last `maxlen` characters back in and samples with a temperature.
`forward_propagation` gives the hidden state at every character, for the explorer.
"""

from collections.abc import Callable, Sequence

import numpy as np

from rnnlib.interface import (
    check_learning_rate,
    check_model_size,
    check_positive_int,
    check_seed,
    check_seed_or_generator,
)
from rnnlib.keras_rnn.char_data import CharTable
from rnnlib.keras_rnn.devices import (
    data_parallel,
    move_model,
    scope,
    weighted_batches,
)
from rnnlib.keras_rnn.fit import ShuffledBatches, fit_with_halving
from rnnlib.keras_rnn.layers import OneHot, keras
from rnnlib.keras_rnn.saving import check_info, load_weights, read_rnnlib_info, save_keras
from rnnlib.sampling import sample_index
from rnnlib.training.history import History, evaluation_data

# What RNNKeras.config() holds, and the two keys that size the network.
CONFIG_KEYS = ("sentence_len", "vector_size", "hidden_dim", "chars", "learning_rate", "seed")
SIZES = ("vector_size", "hidden_dim")

PAD_ID = -1  # left padding of a context shorter than the window; masked inside the model


CHUNK = 1024  # windows per call: the model expands each to one-hot (CHUNK, T, V) floats


def _predict_in_chunks(model, X):
    """model.predict_on_batch over the rows of X, CHUNK at a time, joined (float64).

    A model with several outputs gives a tuple of them, each joined over the chunks.
    """
    chunks = [model.predict_on_batch(X[i : i + CHUNK]) for i in range(0, len(X), CHUNK)]
    if isinstance(chunks[0], list | tuple):
        return tuple(np.concatenate(c).astype(np.float64) for c in zip(*chunks, strict=True))
    return np.concatenate(chunks).astype(np.float64)


class RNNKeras:
    """Character-level LSTM language model in Keras (the tutorial's third implementation)."""

    def __init__(
        self,
        sentence_len: int,
        vector_size: int,
        hidden_dim: int = 128,
        chars: Sequence[str] | None = None,
        learning_rate: float = 0.01,
        seed: int = 0,
    ):
        self.sentence_len = check_positive_int(
            sentence_len, "sentence_len"
        )  # characters per window
        # The one-hot length (n_chars) and the LSTM's size; the product is bounded like C x H.
        self.vector_size, self.hidden_dim = check_model_size(vector_size, hidden_dim, SIZES[0])
        self.table = None if chars is None else CharTable(chars)
        if self.table is not None and len(self.table) != vector_size:
            raise ValueError(
                f"the character table has {len(self.table)} characters but vector_size is "
                f"{vector_size}: they must be equal"
            )
        self.learning_rate = check_learning_rate(learning_rate)
        self.seed = check_seed(seed)
        self.distribution = None  # keras.distribution.DataParallel once trained on N > 1 devices
        self.model = self._build()
        self._states_model = None  # built when forward_propagation is first called

    @classmethod
    def for_table(cls, table: CharTable, sentence_len: int, **kwargs) -> "RNNKeras":
        """A model for the characters of `table` (vector_size = len(table))."""
        return cls(sentence_len, len(table), chars=table.chars, **kwargs)

    def _build(self):
        ids = keras.Input((self.sentence_len,), dtype="int32", name="char_ids")  # (B, T)
        one_hot = OneHot(self.vector_size, mask_negative=True, name="one_hot")(ids)  # (B, T, V)
        glorot = keras.initializers.GlorotUniform
        state = keras.layers.LSTM(
            self.hidden_dim,
            kernel_initializer=glorot(seed=self.seed),
            recurrent_initializer=keras.initializers.Orthogonal(seed=self.seed + 1),
            name="lstm",
        )(one_hot)  # (B, H): the state after the last character
        probs = keras.layers.Dense(
            self.vector_size,
            activation="softmax",
            kernel_initializer=glorot(seed=self.seed + 2),
            name="next_char",
        )(state)  # (B, V)
        model = keras.Model(ids, probs, name="char_lstm")
        self._compile(model)
        return model

    def _compile(self, model) -> None:
        # Sparse targets (ids) give exactly categorical cross-entropy against one-hot targets.
        # The mean over rows of weight 1: padding rows (weight 0, on several devices) count
        # for nothing; without weights it is the plain mean.
        model.compile(
            optimizer=keras.optimizers.RMSprop(learning_rate=self.learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(reduction="mean_with_sample_weight"),
        )

    def __repr__(self) -> str:
        return (
            f"RNNKeras(sentence_len={self.sentence_len}, vector_size={self.vector_size}, "
            f"hidden_dim={self.hidden_dim})"
        )

    def config(self) -> dict:
        """Constructor arguments (JSON-safe)."""
        return {
            "sentence_len": self.sentence_len,
            "vector_size": self.vector_size,
            "hidden_dim": self.hidden_dim,
            "chars": None if self.table is None else list(self.table.chars),
            "learning_rate": self.learning_rate,
            "seed": self.seed,
        }

    # --- data checks -----------------------------------------------------------------------

    def _check_windows(self, X, name="X") -> np.ndarray:
        X = np.asarray(X)
        if not np.issubdtype(X.dtype, np.integer):
            raise TypeError(f"{name} must hold integer character ids, got dtype {X.dtype}")
        if X.ndim != 2 or X.shape[1] != self.sentence_len:
            raise ValueError(
                f"{name} must have shape (N, {self.sentence_len}) (windows of sentence_len "
                f"character ids), got {X.shape}"
            )
        self._check_ids(X, name)
        return X.astype(np.int32)

    def _check_ids(self, ids, name) -> None:
        bad = np.flatnonzero((ids < 0) | (ids >= self.vector_size))
        if bad.size:
            raise ValueError(
                f"{name} holds id {int(ids.flat[bad[0]])}: expected 0 <= id < {self.vector_size}"
            )

    def _check_targets(self, y, n) -> np.ndarray:
        y = np.asarray(y)
        if not np.issubdtype(y.dtype, np.integer) or y.shape != (n,):
            raise ValueError(f"y must be {n} integer character ids, got {y.dtype} {y.shape}")
        self._check_ids(y, "y")
        return y.astype(np.int32)

    # --- training and prediction -------------------------------------------------------------

    def train_model(
        self,
        X,
        y,
        batch_size: int = 128,
        nepoch: int = 1,
        *,
        X_val=None,
        y_val=None,
        callbacks: Sequence[Callable] = (),
        history: History | None = None,
        halve_on_rise: bool = True,
        shuffle_seed: int = 0,
        verbose="auto",
        devices=None,
    ) -> History:
        """Fit for `nepoch` epochs; return the History of evaluated losses (per character).

        The loss is evaluated (on X_val/y_val when given, else on X/y) before the first
        epoch and after each one; the learning rate halves when it rose.

        `devices` (N or "all") trains data-parallel: `batch_size` is the global batch, cut
        into N slices, so the learning rate does not change with N; a batch that N does not
        divide gets rows of weight 0 (rnnlib.keras_rnn.devices).
        """
        X = self._check_windows(X)
        y = self._check_targets(y, len(X))
        check_positive_int(batch_size, "batch_size")
        rng = np.random.default_rng(check_seed_or_generator(shuffle_seed, "shuffle_seed"))
        X_val, y_val = evaluation_data(X, y, X_val, y_val)
        if devices is not None:
            self.use_devices(devices)
        batches = ShuffledBatches(
            len(X), batch_size, weighted_batches(X, y, self.distribution), rng
        )
        return fit_with_halving(
            self.model,
            batches,
            lambda: self.calculate_loss(X_val, y_val),
            len(X),
            nepoch,
            history=history,
            callbacks=callbacks,
            model=self,
            halve_on_rise=halve_on_rise,
            verbose=verbose,
            distribution=self.distribution,
        )

    def use_devices(self, devices=1) -> None:
        """Train data-parallel over `devices` (N or "all"); 1 is the default."""
        self.distribution = data_parallel(devices)
        with scope(self.distribution):  # the optimizer's state, made now, lies there too
            self.model.optimizer.build(self.model.trainable_variables)
        move_model(self.model, self.distribution)

    def calculate_loss(self, X, y) -> float:
        """Mean cross-entropy per predicted character (nats)."""
        X = self._check_windows(X)
        y = self._check_targets(y, len(X))
        picked = self.predict(X)[np.arange(len(y)), y]  # probability of the true next char
        return float(-np.mean(np.log(np.maximum(picked, np.finfo(np.float32).tiny))))

    def predict(self, x) -> np.ndarray:
        """Next-character probabilities: (V,) for one window (T,), (N, V) for windows (N, T)."""
        x = np.asarray(x)
        single = x.ndim == 1
        X = self._check_windows(x[None] if single else x, "x")
        probs = _predict_in_chunks(self.model, X)  # (N, V)
        return probs[0] if single else probs

    def next_char_probs(self, context: str) -> np.ndarray:
        """Distribution (V,) of the character after `context` (its last sentence_len chars)."""
        self._require_table()
        window = list(self.table.encode(context)[-self.sentence_len :])
        return self._next_probs(window)

    def _next_probs(self, window: list[int]) -> np.ndarray:
        if not window:
            raise ValueError("the context is empty: give at least one character")
        # A short context is padded on the left with masked ids: the LSTM skips them, so it
        # reads exactly the context, while the input keeps one shape (one compilation).
        padded = [PAD_ID] * (self.sentence_len - len(window)) + window
        probs = self.model.predict_on_batch(np.array([padded], dtype=np.int32))  # (1, V)
        return np.asarray(probs[0], dtype=np.float64)

    @property
    def word_dim(self) -> int:
        """The number of symbols predicted (characters here): the shared interface's name."""
        return self.vector_size

    def forward_propagation(self, x):
        """Next-character probabilities (T, V) and LSTM states (T, H) after each id of x.

        Position t reads the window of the last sentence_len characters up to t, as
        `generate` does: the state there is the one the model predicts the next character
        from. For x no longer than a window, that is one LSTM pass over x from the start.
        """
        ids = np.asarray(x)
        if ids.ndim != 1 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"x must be a non-empty 1-D array of character ids, got {x!r}")
        self._check_ids(ids, "x")
        L = self.sentence_len
        padded = np.concatenate([np.full(L - 1, PAD_ID), ids]).astype(np.int32)
        windows = padded[np.arange(len(ids))[:, None] + np.arange(L)]  # (T, L)
        if self._states_model is None:  # the same layers, with the LSTM's output shown
            lstm = self.model.get_layer("lstm").output
            self._states_model = keras.Model(self.model.input, [self.model.output, lstm])
        probs, states = _predict_in_chunks(self._states_model, windows)
        return probs, states  # (T, V), (T, H)

    def generate(self, seed_text: str, length: int, temperature: float, rng) -> str:
        """`length` characters that follow `seed_text`, each drawn with `temperature`."""
        self._require_table()
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise ValueError(f"length must be a non-negative integer, got {length!r}")
        ids = list(self.table.encode(seed_text))  # names unknown characters, if any
        if not ids:
            raise ValueError("seed_text is empty: give at least one character")
        start = len(ids)
        for _ in range(length):
            probs = self._next_probs(ids[-self.sentence_len :])
            ids.append(sample_index(probs, rng, temperature))
        return self.table.decode(ids[start:])

    def _require_table(self) -> None:
        if self.table is None:
            raise ValueError(
                "this model has no character table: build it with RNNKeras.for_table(table, ...)"
            )

    # --- saving --------------------------------------------------------------------------------

    def save(self, path) -> None:
        """Write the model with its character table to a .keras file, atomically."""
        save_keras(self.model, path, {"class": "RNNKeras", "config": self.config()})

    @classmethod
    def load(cls, path) -> "RNNKeras":
        """A model saved by `save`, weights, optimizer state and character table included."""
        info = read_rnnlib_info(path)
        _, config = check_info(path, info, {"RNNKeras": cls}, CONFIG_KEYS, SIZES)
        try:
            model = cls(**config)  # checks every value before building anything
        except (ValueError, TypeError) as e:
            raise ValueError(f"{path}: cannot build RNNKeras(**{config}): {e}") from e
        # Built now, so that the saved optimizer state has variables to load into.
        model.model.optimizer.build(model.model.trainable_variables)
        load_weights(model.model, path)
        return model
