"""The Keras implementations in one place: the char-level LSTM and the word-level models.

    from rnnlib.keras_models import RNNKeras, prepare_char_data, KerasRNN, KerasGRU, KerasLSTM

Importing this module selects Keras' JAX backend unless KERAS_BACKEND is already set.
"""

from rnnlib.keras_char import CharTable, RNNKeras, prepare_char_data
from rnnlib.keras_common import OneHot, padded_length
from rnnlib.keras_history import LossHistory
from rnnlib.keras_word import KerasGRU, KerasLSTM, KerasRNN, KerasWordModel

__all__ = [
    "CharTable",
    "KerasGRU",
    "KerasLSTM",
    "KerasRNN",
    "KerasWordModel",
    "LossHistory",
    "OneHot",
    "RNNKeras",
    "padded_length",
    "prepare_char_data",
]
