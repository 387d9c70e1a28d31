"""rnnlib: a recurrent-network language model built three times, one notebook at a time.

The folders are the series' table of contents:

    data/          notebook 1     text -> sentences, tokens, vocabulary, X/y; the frozen
                                  built-in corpus and the benchmark split; synthetic
                                  languages; padded batches; WikiText-2/-103
    numpy_rnn/     notebooks 2-4  RNNNumpy (readable.py, read it beside the tutorial) and
                                  RNNNumpyFast (fast.py, minibatches)
    training/      notebook 4     the training loop for every backend, optimisers, History
                                  and the halving rule, early stopping, checkpoints
    pytensor_rnn/  notebooks 5-6  RNNPyTensor and GRUPyTensor as symbolic graphs; the
                                  tutorial's graph in twenty lines (minimal.py)
    keras_rnn/     notebook 7     the char-level LSTM and the word-level Keras models,
                                  data-parallel over devices (devices.py)
    analysis/      notebooks 2-7  the numbers behind the widgets: hidden states, gradients
                                  by distance, gradient checks, saturation, unit search,
                                  a GRU's gates
    evaluation/    notebook 8     Kneser-Ney baselines, every model scored alike, an RNN
                                  mixed with an n-gram model, the comparison of models
    sampling.py    notebooks 4-7  generating text, with a temperature
    diagrams.py    notebooks 2-7  the unrolled RNN, BPTT's window, GRU and LSTM cells, scan
    plots.py, widgets/            figures and interactive views
    interface.py                  the one model interface and every argument check
    config.py                     run sizes: full, or small under RNNLIB_QUICK=1
    tools/                        not a lesson: the command line, bench, book, lab,
                                  device_check

Arrows point one way: widgets/tools -> analysis/training -> models -> data/interface.
"""

__version__ = "0.1.0"
