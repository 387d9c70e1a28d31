"""Notebooks 5-6: the language model as a PyTensor graph.

- `minimal`: the idea in twenty lines (one sentence, scan, loss, grad), for reading;
- `rnn`: RNNPyTensor, RNNNumpy's model with `scan` and `pytensor.grad`;
- `gru`: GRUPyTensor, the tutorial's two-layer GRU, trained with RMSprop;
- `base`: what both share (parameters, compiled functions, the batched path);
- `graph`: symbolic building blocks; `compile`: modes and the compiled-function cache.
"""

from rnnlib.pytensor_rnn.gru import GRUPyTensor
from rnnlib.pytensor_rnn.rnn import RNNPyTensor

__all__ = ["GRUPyTensor", "RNNPyTensor"]
