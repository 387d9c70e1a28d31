"""Notebooks 2-4: the recurrent language model from scratch in NumPy.

- `readable`: RNNNumpy, written to be read beside the original tutorial;
- `fast`: RNNNumpyFast, the same model trained on minibatches, for real training runs.
"""

from rnnlib.numpy_rnn.fast import RNNNumpyFast
from rnnlib.numpy_rnn.readable import RNNNumpy, softmax

__all__ = ["RNNNumpy", "RNNNumpyFast", "softmax"]
