"""RNNKeras: the original's third implementation, a character-level LSTM text generator (notebook 7).

From any text: cut windows of `maxlen` characters every `step` characters; the target of
each window is the character that follows it. LSTM(hidden_dim) reads the window as one-hot
characters, Dense + softmax gives the next character's distribution; RMSprop, cross-entropy.
Generation feeds the last `maxlen` characters back in and samples with a temperature.
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
from rnnlib.keras_rnn.fit import ShuffledBatches, fit_with_halving
from rnnlib.keras_rnn.layers import OneHot, keras
from rnnlib.keras_rnn.saving import check_info, load_weights, read_rnnlib_info, save_keras
from rnnlib.sampling import sample_index
from rnnlib.training.history import History, evaluation_data

# What RNNKeras.config() holds, and the two keys that size the network.
CONFIG_KEYS = ("sentence_len", "vector_size", "hidden_dim", "chars", "learning_rate", "seed")
SIZES = ("vector_size", "hidden_dim")

PAD_ID = -1  # left padding of a context shorter than the window; masked inside the model


class CharTable:
    """Character <-> id table: the char model's vocabulary, characters in sorted order."""

    def __init__(self, chars: Sequence[str]):
        chars = list(chars)
        bad = [c for c in chars if not (isinstance(c, str) and len(c) == 1)]
        if bad:
            raise ValueError(f"a character table holds single characters, got {bad[:5]!r}")
        if len(set(chars)) != len(chars):
            raise ValueError("duplicate characters in the table")
        if not chars:
            raise ValueError("a character table needs at least one character")
        self.chars = chars
        self.char_to_index = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharTable":
        """Every character that occurs in `text`, sorted (so the same text gives the same ids)."""
        _check_text(text)
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other) -> bool:
        return isinstance(other, CharTable) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"CharTable({len(self)} characters)"

    def encode(self, text: str) -> np.ndarray:
        """Ids of the characters of `text`; characters outside the table are an error."""
        _check_text(text, allow_empty=True)
        unknown = sorted(set(text) - self.char_to_index.keys())
        if unknown:
            raise ValueError(
                f"characters {''.join(unknown)!r} ({', '.join(map(repr, unknown))}) are not in "
                f"the character table of {len(self)} characters"
            )
        return np.array([self.char_to_index[c] for c in text], dtype=np.int32)

    def decode(self, ids) -> str:
        """The text of character ids."""
        ids = np.asarray(ids)
        bad = ids[(ids < 0) | (ids >= len(self))]
        if bad.size:
            raise ValueError(f"id {int(bad[0])} is outside the character table [0, {len(self)})")
        return "".join(self.chars[i] for i in ids.tolist())

    def one_hot(self, ids) -> np.ndarray:
        """One-hot vectors (..., n_chars) of ids: what the LSTM sees (for display)."""
        return np.eye(len(self), dtype=np.float32)[np.asarray(ids)]


def _check_text(text, allow_empty: bool = False) -> None:
    if not isinstance(text, str):
        raise TypeError(
            f"expected text as a str, got {type(text).__name__}; join documents first, "
            "e.g. '\\n'.join(documents)"
        )
    if not text and not allow_empty:
        raise ValueError("the text is empty")


def prepare_char_data(text: str, maxlen: int = 40, step: int = 3, table: CharTable | None = None):
    """Windows of `maxlen` characters every `step` characters, and the character after each.

    Returns (X (N, maxlen) int32 ids, y (N,) int32 ids, table). Ids, not one-hot vectors:
    the model expands them itself, which keeps X `n_chars` times smaller in memory.
    """
    check_positive_int(maxlen, "maxlen")
    check_positive_int(step, "step")
    _check_text(text)
    table = CharTable.from_text(text) if table is None else table
    if len(text) <= maxlen:
        raise ValueError(
            f"the text has {len(text)} characters: it needs more than maxlen={maxlen} "
            "to make one window and its target"
        )
    ids = table.encode(text)
    starts = np.arange(0, len(text) - maxlen, step)  # (N,) first character of each window
    X = ids[starts[:, None] + np.arange(maxlen)]  # (N, maxlen)
    y = ids[starts + maxlen]  # (N,)
    return X, y, table


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
        self.model = self._build()

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
        model.compile(
            optimizer=keras.optimizers.RMSprop(learning_rate=self.learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(),
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
    ) -> History:
        """Fit for `nepoch` epochs; return the History of evaluated losses (per character).

        The loss is evaluated (on X_val/y_val when given, else on X/y) before the first
        epoch and after each one; the learning rate halves when it rose.
        """
        X = self._check_windows(X)
        y = self._check_targets(y, len(X))
        check_positive_int(batch_size, "batch_size")
        rng = np.random.default_rng(check_seed_or_generator(shuffle_seed, "shuffle_seed"))
        X_val, y_val = evaluation_data(X, y, X_val, y_val)
        batches = ShuffledBatches(len(X), batch_size, lambda rows: (X[rows], y[rows]), rng)
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
        )

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
        # In chunks: the model expands each chunk to one-hot (chunk, T, V) floats.
        chunks = [self.model.predict_on_batch(X[i : i + 1024]) for i in range(0, len(X), 1024)]
        probs = np.concatenate(chunks).astype(np.float64)  # (N, V)
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
