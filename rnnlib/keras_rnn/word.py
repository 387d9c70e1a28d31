"""Word-level Keras language models with the one rnnlib model interface (notebook 7).

Same vocabulary, same X/y and same calls as RNNNumpy (forward_propagation, calculate_loss,
bptt, sgd_step, get_params/set_params, config), so generate_sentence, train_with_sgd, the
checkpoints and the widgets work with them unchanged. The network:

    word ids (B, T) -> Embedding (B, T, H) -> recurrent layer (B, T, H) -> Dense (B, T, C) -> softmax

The embedding is the tutorial's U x_t: a matrix times a one-hot vector is one of its
columns, and Keras' Embedding looks that column up instead of multiplying by C-long
vectors. `KerasRNN` is Keras' SimpleRNN without biases, exactly the tutorial's RNN, and
RNNNumpy's weights transfer directly (U = embedding.T, W = recurrent_kernel.T,
V = output kernel.T). `KerasGRU` and `KerasLSTM` swap in a gated layer (the tutorial's
GRU design, part 4: embedding, then gates).

Three ways to train: `fit` (Keras' own loop: padded, masked batches, any Keras optimizer,
learning-rate halving and rnnlib's History), `sgd_step`/`sgd_step_batch` (plain SGD on the
summed loss, gradients from jax.grad), and the recipe every word model shares, `step_batch`
(the mean loss per word, an optimiser of rnnlib.training.optimizers, optional `dropout`
and `tie_embeddings`; see rnnlib.keras_rnn.network), which train_with_sgd uses when given
an optimizer. Gradients are always full BPTT: the
tutorial's truncation would need a hand-written backward pass, which is RNNNumpy's lesson.
These models need Keras' JAX backend (the default) for jax.grad; float64 works too (the
equivalence tests use it), through rnnlib.keras_rnn.layers.precision.

This module holds the architectures; their common base is rnnlib.keras_rnn.network, and
saving and loading is rnnlib.keras_rnn.saving.
"""

from rnnlib.interface import check_rnn_params, rnn_param_shapes
from rnnlib.keras_rnn.layers import keras, precision, tanh
from rnnlib.keras_rnn.network import KerasWordModel
from rnnlib.numpy_rnn.readable import RNNNumpy

__all__ = ["KerasGRU", "KerasLSTM", "KerasRNN", "KerasWordModel"]


class KerasRNN(KerasWordModel):
    """The tutorial's RNN as Keras SimpleRNN (no biases); U, V, W transfer to and from RNNNumpy.

    U is the embedding (its column x_t is U's push for word x_t), W is SimpleRNN's
    recurrent kernel, V the output layer. SimpleRNN also multiplies its input by a kernel
    of its own; the embedding already is U x_t, so that kernel stays the identity (frozen,
    not a parameter): s_t = tanh(U[:, x_t] + W s_{t-1}) exactly.
    """

    param_shapes = staticmethod(rnn_param_shapes)  # U (H, C), V (C, H), W (H, H), as RNNNumpy's
    embedding_name = "U"  # the tutorial's U is the embedding

    def _recurrent_layer(self):
        return keras.layers.SimpleRNN(
            self.hidden_dim,
            activation=tanh,
            use_bias=False,
            kernel_initializer="identity",
            return_sequences=True,
            dtype=self.dtype,
            name="rnn",
        )

    def _build(self) -> None:
        super()._build()
        self.keras_model.get_layer("rnn").cell.kernel.trainable = False
        # The tutorial's initialisation, from the same seed: the same start as RNNNumpy.
        start = RNNNumpy(self.word_dim, self.hidden_dim, seed=self.seed, dtype=self.dtype)
        params = start.get_params()
        if self.tie_embeddings:  # one matrix: U's start, read from both sides
            params["V"] = params["U"].T
        self.set_params(params)

    def _variables(self) -> dict:
        # Keras multiplies row vectors from the left (x @ kernel), the tutorial column
        # vectors from the right (U x): each matrix is the other's transpose.
        return {
            "U": (self.keras_model.get_layer("embedding").embeddings, True),  # (H, C)
            "V": (self.keras_model.get_layer("output").kernel, True),  # (C, H)
            "W": (self.keras_model.get_layer("rnn").cell.recurrent_kernel, True),  # (H, H)
        }

    def set_params(self, params: dict) -> None:
        """Replace U, V, W (RNNNumpy's rules and errors); new shapes rebuild the model."""
        # RNNNumpy's rules and messages
        arrays = check_rnn_params(params, self.dtype, self.word_dim, self.hidden_dim)
        hidden_dim, word_dim = arrays["U"].shape
        if (word_dim, hidden_dim) != (self.word_dim, self.hidden_dim):
            self.word_dim, self.hidden_dim = word_dim, hidden_dim
            with precision(self.dtype):
                self._build()
        super().set_params(arrays)


class _GatedModel(KerasWordModel):
    """GRU/LSTM after a word embedding E, as in the tutorial's GRU (part 4).

    Parameters: E (H, C) in the tutorial's layout, Keras' own kernel (H, kH),
    recurrent_kernel (H, kH) and bias of the gates (k = 3 for GRU, 4 for LSTM), and the
    output matrix V (C, H).
    """

    layer_class = None
    gates = 0  # k: how many gates the layer stacks side by side in its kernels

    @classmethod
    def param_shapes(cls, word_dim: int, hidden_dim: int) -> dict:
        """Every parameter's shape for C = word_dim, H = hidden_dim (without building Keras layers)."""
        C, H, kH = word_dim, hidden_dim, cls.gates * hidden_dim
        # Keras' GRU keeps two biases per gate (reset_after=True, its default), the LSTM one.
        bias = (2, kH) if cls.layer_class is keras.layers.GRU else (kH,)
        return {"E": (H, C), "kernel": (H, kH), "recurrent_kernel": (H, kH), "bias": bias,
                "V": (C, H)}  # fmt: skip

    def _recurrent_layer(self):
        return self.layer_class(
            self.hidden_dim,
            activation=tanh,
            kernel_initializer=keras.initializers.GlorotUniform(seed=self.seed),
            recurrent_initializer=keras.initializers.Orthogonal(seed=self.seed + 1),
            return_sequences=True,
            dtype=self.dtype,
            name="rnn",
        )

    def _variables(self) -> dict:
        cell = self.keras_model.get_layer("rnn").cell
        return {
            "E": (self.keras_model.get_layer("embedding").embeddings, True),  # (H, C)
            "kernel": (cell.kernel, False),  # (H, k H), the gates side by side
            "recurrent_kernel": (cell.recurrent_kernel, False),  # (H, k H)
            "bias": (cell.bias, False),
            "V": (self.keras_model.get_layer("output").kernel, True),  # (C, H)
        }


class KerasGRU(_GatedModel):
    """Word-level GRU language model in Keras."""

    layer_class = keras.layers.GRU
    gates = 3  # update, reset, candidate


class KerasLSTM(_GatedModel):
    """Word-level LSTM language model in Keras."""

    layer_class = keras.layers.LSTM
    gates = 4  # input, forget, cell, output
