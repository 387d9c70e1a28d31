"""Notebook 7: the language model in Keras: the char-level LSTM and the word-level models.

    from rnnlib.keras_rnn import RNNKeras, prepare_char_data, KerasRNN, KerasGRU, KerasLSTM

- `char`: RNNKeras, the original's character-level LSTM text generator, on `char_data`;
- `word` on `network`: KerasRNN, KerasGRU, KerasLSTM, with the one model interface;
- `fit`: Keras' own loop with the tutorial's evaluation and learning-rate halving;
- `devices`: training data-parallel over N devices (keras.distribution.DataParallel);
- `layers`, `jax_grad`, `saving`: the pieces they are made of.

Keras needs a backend, chosen once, before Keras is first imported. This package chooses
JAX here (unless KERAS_BACKEND is already set): the word models take their gradients with
jax.grad. Every module of the package is imported after this line has run.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

from rnnlib.keras_rnn.char import RNNKeras  # noqa: E402
from rnnlib.keras_rnn.char_data import CharTable, prepare_char_data  # noqa: E402
from rnnlib.keras_rnn.fit import LossHistory  # noqa: E402
from rnnlib.keras_rnn.layers import OneHot  # noqa: E402
from rnnlib.keras_rnn.word import KerasGRU, KerasLSTM, KerasRNN, KerasWordModel  # noqa: E402

__all__ = [
    "CharTable",
    "KerasGRU",
    "KerasLSTM",
    "KerasRNN",
    "KerasWordModel",
    "LossHistory",
    "OneHot",
    "RNNKeras",
    "prepare_char_data",
]
