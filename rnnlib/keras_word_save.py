"""Saving a word-level Keras model to a .keras file, and loading it back with its vocabulary.

The file is Keras' own (loadable without rnnlib, in safe mode) plus rnnlib's member naming
the class, its constructor arguments and the vocabulary, from which `load` rebuilds the
wrapper before filling in the weights.
"""

import numpy as np

from rnnlib.keras_common import load_keras, precision, read_rnnlib_info, save_keras
from rnnlib.vocab import Vocabulary


def save(model, path, vocab: Vocabulary | None = None) -> None:
    """Write `model` (and `vocab`, else its own) to a .keras file, atomically."""
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


def load(path):
    """A model saved by `save`, with its vocabulary as `.vocab` (None if none was saved)."""
    # Imported here: rnnlib.keras_word imports this module (through its base class) first.
    from rnnlib.keras_word import KerasGRU, KerasLSTM, KerasRNN

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
