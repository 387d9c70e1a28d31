"""The Keras pieces of our own that the models are made of: dtype-true tanh, one-hot input (notebook 7).

`keras` is imported here for the other modules of rnnlib.keras_rnn, after the package has
chosen the backend (rnnlib/keras_rnn/__init__.py).
"""

from contextlib import nullcontext

import keras
from keras import ops


def precision(dtype):
    """Context in which a model of `dtype` computes in that dtype.

    JAX computes in 32 bits unless 64-bit mode is on. Turning it on for the whole process
    would change every other JAX user's integer and float types, so float64 models switch
    it on only around their own work (their weights are created and used inside it).
    """
    if str(dtype) == "float64" and keras.backend.backend() == "jax":
        import jax

        return jax.enable_x64(True)
    return nullcontext()


@keras.saving.register_keras_serializable(package="rnnlib")
def tanh(x):
    """tanh that keeps its input's dtype.

    Keras' ops.tanh on JAX returns float32 even for float64 input (its type rules follow
    JAX's 32-bit default), which would spoil the float64 equivalence with RNNNumpy.
    """
    if keras.backend.backend() == "jax":
        import jax.numpy as jnp

        return jnp.tanh(x)
    return ops.tanh(x)


@keras.saving.register_keras_serializable(package="rnnlib")
class OneHot(keras.layers.Layer):
    """Token ids (batch, T) -> one-hot vectors (batch, T, depth), inside the model.

    Keeping ids in memory and expanding them here costs `depth` times less memory than
    one-hot training data, and the network still sees one-hot vectors. With
    `mask_negative`, ids < 0 are padding: their vectors are zero and they are masked, so a
    recurrent layer skips them (its state passes through unchanged).
    """

    def __init__(self, depth: int, mask_negative: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.depth = int(depth)
        self.mask_negative = bool(mask_negative)

    def call(self, ids):
        return ops.one_hot(ops.cast(ids, "int32"), self.depth, dtype=self.compute_dtype)

    def compute_mask(self, ids, mask=None):
        return ops.greater_equal(ids, 0) if self.mask_negative else None

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.depth)

    def get_config(self):
        return {**super().get_config(), "depth": self.depth, "mask_negative": self.mask_negative}
