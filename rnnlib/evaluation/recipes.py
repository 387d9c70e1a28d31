"""One training recipe for every word model: what notebook 8 and `python -m rnnlib train` share (notebook 8).

A comparison of architectures means something only if every model learns as well as it
can with the same method. The recipe: batched steps on the mean loss per predicted word
(`step_batch`), Adam, gradient clipping, evaluation on validation after every epoch, the
halving rule returning to the best evaluation first, early stopping after `PATIENCE`
evaluations without a better loss, a learning-rate floor, and the best evaluation kept.
What differs between the recipes below is only what the models themselves differ in: the
learning rate a cell learns fastest with (measured on the benchmark split: Adam at 0.003 for
the RNNs and the Keras gated cells, 0.01 for the two-layer PyTensor GRU), and whether it
has dropout and tied embeddings. Both are off by default: in runs of a few epochs (notebook
8's caps) they slowed learning (tied embeddings crippled the tutorial RNN: perplexity 334
against 121 after two epochs); they pay in longer runs, where a model would otherwise
overfit, so `--dropout` and `--tie-embeddings` turn them on.

Batches: a PyTensor or Keras step pads its batch to a compiled shape, so those models take
batches of one bucket length (`length_batches`): with random batches of 32 the padding
took about two thirds of their work (Keras: 1.4k against 4k words/s). The NumPy path computes
real words only and keeps random batches, which learn better per epoch: on the benchmark
split RNNNumpyFast's best validation perplexity was 89.4 (epoch 5) with random batches
against 94.9 (epoch 6) with batches of one length.

The tutorial's own recipe (numpy-readable: SGD on one sentence's summed loss, truncation 4)
stays, as the teaching path of notebook 4.
"""

import importlib
from dataclasses import dataclass

PATIENCE = 3  # evaluations without a better validation loss before the run ends
MIN_LEARNING_RATE = 1e-6  # halvings below this end the run: nothing is left to learn
BACKENDS = ("numpy-readable", "numpy-fast", "pytensor", "keras")
CELLS = ("rnn", "gru", "lstm")


@dataclass(frozen=True)
class Recipe:
    """How one (backend, cell) pair trains: its model class and train_with_sgd's settings."""

    model_class: str  # "module:Class"
    batch_size: int
    bptt_truncate: int
    learning_rate: float
    optimizer: str | None  # None: the model's own SGD step (the tutorial's)
    clip_norm: float | None
    dropout: float | None = None  # None: the model has no dropout
    tie_embeddings: bool | None = None  # None: the model cannot tie its embeddings

    def model_type(self) -> type:
        """The model class, imported now (backends are heavy: only the one asked for)."""
        module, name = self.model_class.split(":")
        return getattr(importlib.import_module(module), name)

    def build(self, word_dim: int, hidden_dim: int = 100, seed: int = 0, **overrides):
        """A fresh model of this recipe; `overrides` (dropout, tie_embeddings, dtype, ...) win."""
        config = dict(word_dim=word_dim, hidden_dim=hidden_dim, seed=seed,
                      bptt_truncate=self.bptt_truncate)  # fmt: skip
        for name in ("dropout", "tie_embeddings"):
            if getattr(self, name) is not None:
                config[name] = getattr(self, name)
        config.update(overrides)
        return self.model_type()(**config)

    @property
    def pads(self) -> bool:
        """Whether a step pads its batch to a compiled shape (PyTensor, Keras): then batches of
        one bucket length save most of the work; the NumPy path computes real words only."""
        return not self.model_class.startswith("rnnlib.numpy_rnn")

    def train_options(self) -> dict:
        """train_with_sgd's keyword arguments for this recipe (early stopping included)."""
        options = dict(batch_size=self.batch_size, learning_rate=self.learning_rate,
                       optimizer=self.optimizer, clip_norm=self.clip_norm)  # fmt: skip
        if self.optimizer is not None:  # the recipe; the tutorial's loop keeps its behaviour
            options.update(keep_best=True, patience=PATIENCE, restore_best_on_halving=True,
                           min_learning_rate=MIN_LEARNING_RATE, length_batches=self.pads)  # fmt: skip
        return options


# The tutorial's loop: one sentence's summed loss, SGD, truncation 4 (notebook 4).
TUTORIAL = Recipe("rnnlib.numpy_rnn.readable:RNNNumpy", 1, 4, 0.005, None, None)
# The recipe: batches of 32, Adam, clipping at 5, full BPTT (the rate: what each cell took best).
ADAM = dict(batch_size=32, bptt_truncate=-1, optimizer="adam", clip_norm=5.0)
REGULARISED = dict(dropout=0.0, tie_embeddings=False)  # both off by default (see above)
RECIPES = {
    ("numpy-readable", "rnn"): TUTORIAL,
    ("numpy-fast", "rnn"): Recipe(
        "rnnlib.numpy_rnn.fast:RNNNumpyFast", learning_rate=0.003, **ADAM, **REGULARISED
    ),  # fmt: skip
    ("pytensor", "rnn"): Recipe(
        "rnnlib.pytensor_rnn.rnn:RNNPyTensor", learning_rate=0.003, **ADAM
    ),  # fmt: skip
    ("pytensor", "gru"): Recipe(
        "rnnlib.pytensor_rnn.gru:GRUPyTensor", learning_rate=0.01, **ADAM, **REGULARISED
    ),  # fmt: skip
    **{
        ("keras", cell): Recipe(
            f"rnnlib.keras_rnn.word:{name}", learning_rate=0.003, **ADAM, **REGULARISED
        )  # fmt: skip
        for cell, name in (("rnn", "KerasRNN"), ("gru", "KerasGRU"), ("lstm", "KerasLSTM"))
    },
}


def supported_pairs() -> str:
    """The (backend, cell) pairs that exist, as the CLI spells them."""
    return ", ".join(f"{backend}/{cell}" for backend, cell in RECIPES)


def recipe(backend: str, cell: str = "rnn") -> Recipe:
    """The recipe of a (backend, cell) pair; a pair that does not exist is one line listing them."""
    try:
        return RECIPES[(backend, cell)]
    except KeyError:
        raise ValueError(
            f"--backend {backend} --cell {cell} does not exist: the pairs are {supported_pairs()}"
        ) from None
