"""Saving a Keras model of the series to a .keras file, and loading it back (notebook 7).

The file is Keras' own (loadable without rnnlib, in safe mode) plus a member of rnnlib's,
`rnnlib.json`, naming the class, its constructor arguments and the vocabulary (or
character table), from which a model is rebuilt before its weights are filled in. Only
classes the caller names can be rebuilt: the file chooses among them, never beyond.
"""

import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

from rnnlib.data.vocab import Vocabulary
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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            # Keras' own Variable.__array__ predates NumPy 2's copy keyword; nothing to fix here.
            warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
            keras.saving.save_model(keras_model, tmp)
        # Keras reads only its own members, so an extra one rides along safely.
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(RNNLIB_MEMBER, info)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def read_rnnlib_info(path) -> dict:
    """rnnlib's JSON from a file written by save_keras."""
    path = _keras_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no Keras model file at {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(RNNLIB_MEMBER))
    except KeyError as e:
        raise ValueError(f"{path} was not saved by rnnlib (no {RNNLIB_MEMBER} inside)") from e
    except (zipfile.BadZipFile, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not a readable .keras file: {e}") from e


def load_keras(path, dtype):
    """The Keras model in `path`, loaded in safe mode (no arbitrary code) at `dtype`."""
    with precision(dtype):
        return keras.saving.load_model(_keras_path(path), safe_mode=True)


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


def load_word_model(path, classes: dict):
    """A model saved by save_word_model, rebuilt as one of `classes` (name -> class)."""
    info = read_rnnlib_info(path)
    if info.get("class") not in classes:
        raise ValueError(f"{path} holds a {info.get('class')!r}, not one of {sorted(classes)}")
    model = classes[info["class"]](**info["config"])
    saved = load_keras(path, model.dtype)
    with precision(model.dtype):
        model.keras_model.set_weights([np.array(v.value) for v in saved.weights])
    model.vocab = None if info.get("vocab") is None else Vocabulary(info["vocab"])
    return model
