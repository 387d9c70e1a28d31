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
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

RNN_PARAM_NAMES = ("U", "V", "W")


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
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def check_learning_rate(learning_rate) -> float:
    """A positive finite learning rate, as a float."""
    return check_positive_number(learning_rate, "learning_rate")


def check_clip_norm(clip_norm) -> float | None:
    """A positive finite clip_norm as a float, or None (no clipping)."""
    return None if clip_norm is None else check_positive_number(clip_norm, "clip_norm")


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
    """Constructor arguments of a word-level model (JSON-safe): type(m)(**model_config(m))."""
    return {
        "word_dim": model.word_dim,
        "hidden_dim": model.hidden_dim,
        "bptt_truncate": model.bptt_truncate,
        "seed": model.seed,
        "dtype": np.dtype(model.dtype).name,
    }


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
    """A copy of one parameter in `dtype`, or an error naming it when it is not numeric."""
    a = np.asarray(value)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"parameter {name} must be numeric, got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        kind = "a matrix" if ndim == 2 else f"a {ndim}-D array"
        raise ValueError(f"parameter {name} must be {kind}, got shape {a.shape}")
    return np.array(a, dtype=dtype)  # a copy: no aliasing with the caller


def check_rnn_params(params: dict, dtype) -> dict[str, np.ndarray]:
    """The tutorial RNN's U (H, C), V (C, H), W (H, H), checked and copied in `dtype`.

    U decides the sizes; V and W must agree with it. Every backend of that RNN (NumPy,
    PyTensor, Keras) accepts exactly what this accepts, with the same messages.
    """
    check_param_names(params, RNN_PARAM_NAMES)
    arrays = {name: check_numeric_array(params[name], name, dtype, 2) for name in RNN_PARAM_NAMES}
    H, C = arrays["U"].shape
    expected = {"U": (H, C), "V": (C, H), "W": (H, H)}
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise ValueError(
                f"parameter {name} has shape {arrays[name].shape}, expected {shape} "
                f"to match U of shape {(H, C)} (hidden_dim={H}, word_dim={C})"
            )
    return arrays


# --- paths ----------------------------------------------------------------------------------------


def check_path(value, name: str = "path", what: str = "a file path") -> Path:
    """`value` as a Path, or an error naming `name` when it is None, not a path, or empty."""
    if not isinstance(value, str | os.PathLike):
        raise TypeError(f"{name} must be {what} (str or pathlib.Path), got {value!r}")
    if os.fspath(value) == "":  # Path("") is ".", the current directory: never what was meant
        raise ValueError(f"{name} is an empty string: expected {what}")
    return Path(value).expanduser()
