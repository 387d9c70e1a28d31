"""Saving a Keras model of the series to a .keras file, and loading it back (notebook 7).

The file is Keras' own (loadable without rnnlib, in safe mode) plus a member of rnnlib's,
`rnnlib.json`, naming the class, its constructor arguments and the vocabulary (or
character table). Loading never deserialises Keras' own config: rnnlib checks its JSON
(a class the caller names, known config keys, sizes within limits), builds that model
itself, and only then reads the weights into it, refusing any stored array larger than
the model's own. A damaged archive is an error naming the file.
"""

import json
import warnings
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np

from rnnlib._io import atomic_path
from rnnlib.data.vocab import Vocabulary
from rnnlib.interface import MODEL_CONFIG_KEYS, MODEL_SIZES, check_saved_config
from rnnlib.keras_rnn.layers import keras, precision

# The archive member beside Keras' own, holding what rnnlib needs to rebuild its wrapper.
RNNLIB_MEMBER = "rnnlib.json"


def _keras_path(path) -> Path:
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"a Keras model file must end in .keras, got {str(path)!r}")
    return path


def save_keras(keras_model, path, rnnlib_info: dict) -> Path:
    """Save a Keras model plus rnnlib's JSON (class, config, vocabulary) atomically."""
    path = _keras_path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot save {path}: no directory {path.parent}")
    info = json.dumps(rnnlib_info)
    # Keras insists on the .keras suffix, so the temporary name ends in it too.
    with atomic_path(path, keep_extension=True) as tmp:
        with warnings.catch_warnings():
            # Keras' own Variable.__array__ predates NumPy 2's copy keyword; nothing to fix here.
            warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
            keras.saving.save_model(keras_model, tmp)
        # Keras reads only its own members, so an extra one rides along safely.
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(RNNLIB_MEMBER, info)
    return path


def read_rnnlib_info(path) -> dict:
    """rnnlib's JSON from a file written by save_keras."""
    path = _keras_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no Keras model file at {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            info = json.loads(archive.read(RNNLIB_MEMBER))
    except KeyError as e:
        raise ValueError(f"{path} was not saved by rnnlib (no {RNNLIB_MEMBER} inside)") from e
    except (
        zipfile.BadZipFile,
        json.JSONDecodeError,
        UnicodeDecodeError,
        zlib.error,
        EOFError,
    ) as e:
        raise ValueError(f"{path} is not a readable .keras file: {e}") from e
    if not isinstance(info, dict):
        raise ValueError(f"{path}: {RNNLIB_MEMBER} must hold a JSON object, got {info!r:.80}")
    return info


# Keras keeps the weights (and the optimizer's state) in this member of the archive.
WEIGHTS_MEMBER = "model.weights.h5"
# What a damaged archive raises from zipfile, zlib, h5py or Keras while the weights are read.
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, ValueError)


def _check_stored_sizes(path: Path, keras_model) -> None:
    """Refuse an archive holding an array larger than any of the model's: reading it could
    allocate what the (possibly crafted, 4 KB) file does not even contain."""
    variables = list(keras_model.variables)
    if getattr(keras_model, "optimizer", None) is not None:
        variables += list(keras_model.optimizer.variables)
    largest = max(int(np.prod(v.shape)) for v in variables)
    too_big = []

    def visit(name, item):
        if isinstance(item, h5py.Dataset) and item.size > largest:
            too_big.append(f"{name} {item.shape}")

    with zipfile.ZipFile(path) as archive, archive.open(WEIGHTS_MEMBER) as member:
        with h5py.File(member, "r") as weights:
            weights.visititems(visit)
    if too_big:
        raise ValueError(
            f"{path} holds arrays larger than any of this model's ({largest} numbers): "
            f"{too_big[:3]}; its weights do not belong to the config it names"
        )


def load_weights(keras_model, path) -> None:
    """Fill `keras_model` (built by rnnlib, optimizer included) with the weights saved in `path`."""
    path = _keras_path(path)
    try:
        _check_stored_sizes(path, keras_model)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
            keras_model.load_weights(path)
    except _DAMAGE as e:
        raise ValueError(f"{path} is a damaged .keras file, or its weights do not fit: {e}") from e


def check_info(path, info: dict, classes, keys, sizes) -> tuple[type, dict]:
    """The class and config rnnlib's JSON names, checked (known class, keys, sizes) before building."""
    name = info.get("class")
    if not isinstance(name, str) or name not in classes:
        raise ValueError(f"{path} holds a {name!r}, not one of {sorted(classes)}")
    try:
        check_saved_config(info.get("config"), keys, sizes)
    except ValueError as e:
        raise ValueError(f"{path}: the saved config of {name} is not usable: {e}") from e
    return classes[name], info["config"]


def save_word_model(model, path, vocab: Vocabulary | None = None) -> None:
    """Write a word-level model (and `vocab`, else its own) to a .keras file, atomically."""
    vocab = vocab if vocab is not None else model.vocab
    if vocab is not None and len(vocab) != model.word_dim:
        raise ValueError(
            f"vocabulary has {len(vocab)} words but the model's word_dim is {model.word_dim}"
        )
    info = {
        "class": type(model).__name__,
        "config": model.config(),
        "vocab": None if vocab is None else vocab.index_to_word,
    }
    with precision(model.dtype):
        save_keras(model.keras_model, path, info)


def _saved_vocabulary(path, words, word_dim: int) -> Vocabulary | None:
    """The vocabulary in rnnlib's JSON (a list of word_dim strings), or None."""
    if words is None:
        return None
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ValueError(f"{path}: the saved vocabulary must be a list of words")
    if len(words) != word_dim:
        raise ValueError(f"{path}: vocabulary has {len(words)} words but word_dim is {word_dim}")
    try:
        return Vocabulary(words)
    except ValueError as e:
        raise ValueError(f"{path}: broken vocabulary: {e}") from e


def load_word_model(path, classes: dict):
    """A model saved by save_word_model, rebuilt as one of `classes` (name -> class)."""
    info = read_rnnlib_info(path)
    model_class, config = check_info(path, info, classes, MODEL_CONFIG_KEYS, MODEL_SIZES)
    vocab = _saved_vocabulary(path, info.get("vocab"), config["word_dim"])
    try:
        model = model_class(**config)  # its own checks (dtype, truncation, seed) come first
    except (ValueError, TypeError) as e:
        raise ValueError(f"{path}: cannot build {info['class']}(**{config}): {e}") from e
    with precision(model.dtype):
        load_weights(model.keras_model, path)
    model.vocab = vocab
    return model
