"""rnnlib: a recurrent-network language model built three times, one notebook at a time.

The folders are the series' table of contents:

    data/          notebook 1     text -> sentences, tokens, vocabulary, X/y; the frozen
                                  built-in corpus and the benchmark split; synthetic
                                  languages; padded batches
    numpy_rnn/     notebooks 2-4  RNNNumpy (readable.py, read it beside the tutorial) and
                                  RNNNumpyFast (fast.py, minibatches)
    training/      notebook 4     the SGD loop, History and the halving rule, checkpoints
    pytensor_rnn/  notebooks 5-6  RNNPyTensor and GRUPyTensor as symbolic graphs; the
                                  tutorial's graph in twenty lines (minimal.py)
    keras_rnn/     notebook 7     the char-level LSTM and the word-level Keras models
    analysis.py    notebooks 2-6  the numbers behind the widgets (gradients by distance, ...)
    gradcheck.py   notebook 3     finite-difference gradient checks for any backend
    saturation.py  notebook 6     saturated tanh units: why a trained RNN's gradient fades
    unit_search.py notebooks 4, 7 hidden units that track quotes, parentheses, position
    ngram.py       notebook 8     Kneser-Ney n-gram baselines (counting, no training)
    evaluation.py  notebook 8     every model scored alike: loss, perplexity, baselines
    interpolation.py notebook 8   an RNN mixed with an n-gram model
    experiments.py notebook 8     the same budget for every model; the long-range experiment
    sampling.py    notebooks 4-7  generating text, with a temperature
    plots.py, widgets/            figures and interactive views
    interface.py                  the one model interface and every argument check
    config.py                     run sizes: full, or small under RNNLIB_QUICK=1
    tools/                        not a lesson: the command line, bench, book, lab

Arrows point one way: widgets/tools -> analysis/training -> models -> data/interface.
"""

__version__ = "0.1.0"
