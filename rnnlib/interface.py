"""The one interface every word-level model answers, and every argument check, written once (notebooks 2-7).

Notebooks 2-7 build the same language model in NumPy, PyTensor and Keras. Each answers the
calls of `LanguageModel` (named as in the original tutorial), so training, sampling,
checkpoints, analysis and the widgets never ask which backend they hold. Each rejects bad
input here, in one line, with the same words: the teaching code that a notebook prints
stays free of validation.
"""

import math
import numbers
import os
from collections import Counter
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

RNN_PARAM_NAMES = ("U", "V", "W")
# The tutorial RNN's parameters, in symbols: C the vocabulary size, H the hidden size.
RNN_LAYOUT = {"U": ("H", "C"), "V": ("C", "H"), "W": ("H", "H")}

# The most weights one matrix of a model may hold: C x H (U, V) and H x H (W) each at most
# 1e8. The series trains C = 8000 and H <= 128, about 1e6: a hundred times that is still a
# model a laptop can hold (U and V at 1e8 each take 1.6 GB in float64), while a config
# beyond it is a typo or a crafted file, and is refused before anything is allocated.
MAX_MATRIX_SIZE = 10**8
# Seeds are integers in [0, 2**31): Keras' initializers take uint32 seeds, and the Keras
# models derive a few from one (seed + 1, + 2, + 3), so this keeps every one of them valid.
SEED_LIMIT = 2**31


@runtime_checkable
class LanguageModel(Protocol):
    """What every word-level model offers (RNNNumpy, RNNNumpyFast, the PyTensor and Keras ones)."""

    word_dim: int  # C, the vocabulary size
    hidden_dim: int  # H
    bptt_truncate: int  # how far back each output's error flows (-1: all the way)

    def forward_propagation(self, x):
        """Probabilities o (T, C) and hidden states for one sentence of word ids."""

    def predict(self, x) -> np.ndarray:
        """The most probable next word at every step, (T,)."""

    def calculate_total_loss(self, X, Y) -> float:
        """Cross-entropy summed over every predicted word."""

    def calculate_loss(self, X, Y) -> float:
        """Cross-entropy per predicted word, in nats."""

    def bptt(self, x, y) -> dict:
        """Gradients of one sentence's total loss, by parameter name."""

    def sgd_step(self, x, y, learning_rate, clip_norm=None) -> None:
        """One plain SGD step on one sentence."""

    def get_params(self) -> dict:
        """Copies of the parameters, by name."""

    def set_params(self, params: dict) -> None:
        """Replace the parameters."""

    def config(self) -> dict:
        """Constructor arguments: type(model)(**model.config()) rebuilds it."""

    @classmethod
    def param_shapes(cls, word_dim: int, hidden_dim: int) -> dict:
        """The shape of every parameter of a model of that size (checkpoints check files by it)."""


# --- numbers ------------------------------------------------------------------------------


def check_positive_int(value, name: str) -> int:
    """`value` as an int, or a ValueError naming `name` when it is not an integer >= 1."""
    return check_int_at_least(value, name, 1)


def check_int_at_least(value, name: str, lowest: int) -> int:
    """`value` as an int, or a ValueError naming `name` when it is not an integer >= lowest."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lowest:
        expected = "a positive integer" if lowest == 1 else f"an integer >= {lowest}"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value)


def check_positive_number(value, name: str) -> float:
    """`value` as a float, or a ValueError naming `name` when it is not a finite number > 0."""
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (is_number and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def check_seed(seed, name: str = "seed") -> int:
    """`seed` as an int, or a ValueError naming `name` unless it is an integer in [0, 2**31)."""
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not 0 <= seed < SEED_LIMIT
    ):
        raise ValueError(f"{name} must be an integer in [0, 2**31), got {seed!r}")
    return int(seed)


def check_seed_or_generator(seed, name: str = "seed"):
    """A seed (as check_seed), a numpy Generator, or None, unchanged; else a ValueError naming `name`."""
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    try:
        return check_seed(seed, name)
    except ValueError:
        raise ValueError(
            f"{name} must be an integer in [0, 2**31), a numpy Generator or None, got {seed!r}"
        ) from None


def check_model_size(word_dim, hidden_dim, word_name: str = "word_dim") -> tuple[int, int]:
    """(C, H) as ints, or a ValueError when either is not a positive int or C x H, H x H > 1e8."""
    C = check_positive_int(word_dim, word_name)
    H = check_positive_int(hidden_dim, "hidden_dim")
    if max(C, H) * H > MAX_MATRIX_SIZE:
        raise ValueError(
            f"{word_name}={C} and hidden_dim={H} ask for a {max(C, H)} x {H} matrix of "
            f"{max(C, H) * H:.3g} weights; rnnlib builds at most {MAX_MATRIX_SIZE:.0e} per matrix "
            "(the series' models have about 1e6): check the sizes"
        )
    return C, H


def check_learning_rate(learning_rate) -> float:
    """A positive finite learning rate, as a float."""
    return check_positive_number(learning_rate, "learning_rate")


def check_clip_norm(clip_norm) -> float | None:
    """A positive finite clip_norm as a float, or None (no clipping)."""
    return None if clip_norm is None else check_positive_number(clip_norm, "clip_norm")


def check_dropout(dropout) -> float:
    """A dropout rate in [0, 1) as a float: the share of units zeroed in each training step."""
    is_number = isinstance(dropout, numbers.Real) and not isinstance(dropout, bool)
    if not (is_number and math.isfinite(dropout) and 0 <= dropout < 1):
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
    return float(dropout)


def check_tie_embeddings(tie_embeddings) -> bool:
    """True or False: whether the output matrix V is the input embedding's transpose."""
    if not isinstance(tie_embeddings, bool | np.bool_):
        raise ValueError(f"tie_embeddings must be True or False, got {tie_embeddings!r}")
    return bool(tie_embeddings)


def check_tied(embedding: np.ndarray, output: np.ndarray, names=("U", "V")) -> None:
    """With tied embeddings the output matrix (C, H) must be the embedding (H, C) transposed."""
    first, second = names
    if output.shape != embedding.shape[::-1]:
        raise ValueError(
            f"tie_embeddings=True needs {second} of shape {embedding.shape[::-1]} "
            f"({first} transposed), got {output.shape}"
        )
    if not np.array_equal(output, embedding.T):
        raise ValueError(
            f"tie_embeddings=True: {second} must equal {first}^T (one matrix), but they differ "
            f"by up to {float(np.max(np.abs(output - embedding.T))):.3g}"
        )


def check_float_dtype(dtype) -> np.dtype:
    """float32 or float64 as a NumPy dtype, or a ValueError naming what was given."""
    try:
        checked = np.dtype(dtype)
    except TypeError as e:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}") from e
    if checked not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return checked


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


def bptt_truncate_property() -> property:
    """The `bptt_truncate` attribute of every model, checked by normalize_bptt_truncate on each set."""

    def get(model) -> int:
        return model._bptt_truncate

    def set_(model, value) -> None:
        model._bptt_truncate = normalize_bptt_truncate(value)

    doc = "How many earlier steps each output's error flows back through (-1: all of them)."
    return property(get, set_, doc=doc)


def model_repr(model) -> str:
    """`ClassName(word_dim=..., hidden_dim=..., bptt_truncate=..., dtype=...)` for any model."""
    return (
        f"{type(model).__name__}(word_dim={model.word_dim}, hidden_dim={model.hidden_dim}, "
        f"bptt_truncate={model.bptt_truncate}, dtype={np.dtype(model.dtype).name})"
    )


def model_config(model) -> dict:
    """Constructor arguments of a word-level model (JSON-safe): type(m)(**model_config(m)).

    dropout and tie_embeddings appear only when not at their defaults (0.0, False): a model
    trained without them opens in any backend, and checkpoints written before they existed
    still load.
    """
    config = {
        "word_dim": model.word_dim,
        "hidden_dim": model.hidden_dim,
        "bptt_truncate": model.bptt_truncate,
        "seed": model.seed,
        "dtype": np.dtype(model.dtype).name,
    }  # the keys of MODEL_CONFIG_KEYS
    if getattr(model, "dropout", 0.0):
        config["dropout"] = float(model.dropout)
    if getattr(model, "tie_embeddings", False):
        config["tie_embeddings"] = True
    return config


# --- sentences and data sets ------------------------------------------------------------------


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
    if word_dim is not None and len(x) * word_dim > MAX_MATRIX_SIZE:  # its (T, C) outputs
        raise ValueError(
            f"x has {len(x)} words: its ({len(x)}, {word_dim}) output probabilities would be "
            f"{len(x) * word_dim:.3g} numbers, over rnnlib's {MAX_MATRIX_SIZE:.0e} per matrix; "
            "split it into sentences"
        )
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


def check_sentences(X, Y, word_dim: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """A whole data set validated sentence by sentence, as a list of (x, y) int64 pairs."""
    check_corpus(X, Y)
    return [check_sentence(x, y, word_dim) for x, y in zip(X, Y, strict=True)]


# --- parameters ---------------------------------------------------------------------------------


def check_param_names(params: dict, expected) -> None:
    """A ValueError listing what is missing and what is unexpected, unless the names match."""
    names, expected = set(params), tuple(expected)
    if names != set(expected):
        missing = sorted(set(expected) - names)
        extra = sorted(names - set(expected))
        raise ValueError(
            f"expected parameters {list(expected)}; missing {missing}, unexpected {extra}"
        )


def check_numeric_array(value, name: str, dtype, ndim: int | None = None) -> np.ndarray:
    """A copy of one parameter in `dtype`, or an error naming it when not numeric or not finite."""
    a = np.asarray(value)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"parameter {name} must be numeric, got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        kind = "a matrix" if ndim == 2 else f"a {ndim}-D array"
        raise ValueError(f"parameter {name} must be {kind}, got shape {a.shape}")
    with np.errstate(over="ignore", invalid="ignore"):  # what overflows is reported below
        a = np.array(a, dtype=dtype)  # a copy: no aliasing with the caller
    bad = ~np.isfinite(a)
    if bad.any():  # after the cast: float32 overflows to inf too
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"parameter {name} holds {int(bad.sum())} NaN or infinite values of {a.size} "
            f"(the first, {a[first]}, at index {first}): expected finite numbers"
        )
    return a


def check_param_shapes(arrays: dict, layout: dict, sizes: dict) -> dict[str, int]:
    """The sizes the parameters agree on ({"C": ..., "H": ...}), or a ValueError naming the odd one.

    `layout` gives each parameter's shape in symbols and numbers, e.g. {"U": ("H", "C"),
    "b": (6, "H")}; `sizes` the model's current sizes. Each parameter votes for the sizes
    its shape implies, and most votes win (the current sizes break ties), so a wrong-shaped
    U is reported as U, not as the V that disagrees with it.
    """
    votes = {symbol: Counter() for symbol in sizes}
    for name, dims in layout.items():
        if name in arrays:
            shape = arrays[name].shape
            if len(shape) != len(dims):
                kind = "a matrix" if len(dims) == 2 else f"a {len(dims)}-D array"
                symbols = ", ".join(map(str, dims))
                raise ValueError(f"parameter {name} must be {kind} ({symbols}), got shape {shape}")
            for dim, n in zip(dims, shape, strict=True):
                if isinstance(dim, str):
                    votes[dim][n] += 2
    for symbol, n in sizes.items():
        if n is not None:
            votes[symbol][n] += 1
    agreed = {symbol: count.most_common(1)[0][0] for symbol, count in votes.items() if count}
    for name, dims in layout.items():
        if name in arrays:
            expected = tuple(agreed[d] if isinstance(d, str) else d for d in dims)
            if arrays[name].shape != expected:
                raise ValueError(
                    f"parameter {name} has shape {arrays[name].shape}, expected {expected} "
                    f"as the other parameters say (hidden_dim={agreed.get('H')}, "
                    f"word_dim={agreed.get('C')})"
                )
    return agreed


def rnn_param_shapes(word_dim: int, hidden_dim: int) -> dict[str, tuple]:
    """The tutorial RNN's U (H, C), V (C, H), W (H, H) for C = word_dim, H = hidden_dim."""
    sizes = {"C": word_dim, "H": hidden_dim}
    return {name: tuple(sizes[d] for d in dims) for name, dims in RNN_LAYOUT.items()}


def check_rnn_params(params: dict, dtype, word_dim=None, hidden_dim=None) -> dict[str, np.ndarray]:
    """The tutorial RNN's U (H, C), V (C, H), W (H, H), checked (finite) and copied in `dtype`.

    The sizes are those most parameters agree on (the model's current word_dim and
    hidden_dim break ties); a parameter that disagrees is named. Every backend of that RNN
    (NumPy, PyTensor, Keras) accepts exactly what this accepts, with the same messages.
    """
    check_param_names(params, RNN_PARAM_NAMES)
    arrays = {name: check_numeric_array(params[name], name, dtype, 2) for name in RNN_PARAM_NAMES}
    check_param_shapes(arrays, RNN_LAYOUT, {"C": word_dim, "H": hidden_dim})
    return arrays


# --- paths ----------------------------------------------------------------------------------------


def check_path(value, name: str = "path", what: str = "a file path") -> Path:
    """`value` as a Path, or an error naming `name` when it is None, not a path, or empty."""
    if not isinstance(value, str | os.PathLike):
        raise TypeError(f"{name} must be {what} (str or pathlib.Path), got {value!r}")
    if os.fspath(value) == "":  # Path("") is ".", the current directory: never what was meant
        raise ValueError(f"{name} is an empty string: expected {what}")
    return Path(value).expanduser()


# --- saved configurations -----------------------------------------------------------------------

MODEL_CONFIG_KEYS = (
    *("word_dim", "hidden_dim", "bptt_truncate", "seed", "dtype"),
    *("dropout", "tie_embeddings"),  # only in the configs of models that have them
)
MODEL_SIZES = ("word_dim", "hidden_dim")  # the config keys that decide how much is allocated


def check_saved_config(config, keys=MODEL_CONFIG_KEYS, sizes=MODEL_SIZES) -> tuple[int, int]:
    """A saved config's two sizes (C, H), checked before anything is built: known keys, sizes in range."""
    if not isinstance(config, dict):
        raise ValueError(f"the config must be a JSON object, got {type(config).__name__}")
    unknown = sorted(set(config) - set(keys))
    if unknown:
        raise ValueError(f"unknown config keys {unknown}: expected some of {list(keys)}")
    missing = [key for key in sizes if key not in config]
    if missing:
        raise ValueError(f"the config lacks {missing}")
    return check_model_size(config[sizes[0]], config[sizes[1]], word_name=sizes[0])
