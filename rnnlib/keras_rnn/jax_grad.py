"""A Keras language model as pure JAX functions: loss, gradients, SGD step, forward pass (notebook 7).

Keras layers keep their weights in variables. jax.grad needs a function *of* the weights,
and Keras provides one: `model.stateless_call(trainable, non_trainable, inputs)` runs the
model on weight values passed in. Everything here is built on it and compiled with
jax.jit once per model (JAX then compiles once per input shape, hence the padding).
"""

import numpy as np

from rnnlib.keras_rnn.devices import shard_batch
from rnnlib.keras_rnn.layers import keras


def _values(model):
    """The current weight values of a Keras model: (trainable, non-trainable) lists."""
    return (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
    )


class JaxFunctions:
    """Jitted losses and gradients of a Keras model that maps word ids (B, T) to logits.

    With a `distribution` (keras.distribution.DataParallel, rnnlib.keras_rnn.devices) each
    batch's rows are cut over its devices; the weights are already on all of them, so jit
    runs one slice per device and XLA sums the per-device losses and gradients.
    """

    distribution = None  # set by the model's use_devices

    def __init__(self, logits_model, probe):
        if keras.backend.backend() != "jax":
            raise RuntimeError(
                "gradients of Keras models need Keras' JAX backend, but Keras runs on "
                f"{keras.backend.backend()!r}: set KERAS_BACKEND=jax before importing Keras"
            )
        import jax
        import jax.numpy as jnp

        self.logits_model = logits_model  # ids (B, T) -> logits (B, T, C)
        self.probe = probe  # ids (B, T) -> [probabilities (B, T, C), states (B, T, H)]

        def total_loss(trainable, frozen, ids, targets, weights):
            logits, _ = logits_model.stateless_call(trainable, frozen, ids)  # (B, T, C)
            log_probs = jax.nn.log_softmax(logits, axis=-1)
            picked = jnp.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]  # (B, T)
            return -jnp.sum(picked * weights.astype(picked.dtype))  # padding weighs 0

        def sgd(trainable, frozen, ids, targets, weights, learning_rate, clip_norm):
            loss, grads = jax.value_and_grad(total_loss)(trainable, frozen, ids, targets, weights)
            step = jnp.asarray(learning_rate, dtype=grads[0].dtype)
            if clip_norm is not None:  # jit sees None as structure: two compiled versions
                norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in grads))  # all parameters
                step = step * jnp.where(norm > clip_norm, clip_norm / norm, 1.0)
            return [p - step * g for p, g in zip(trainable, grads, strict=True)], loss

        def forward(trainable, frozen, ids):
            return probe.stateless_call(trainable, frozen, ids)[0]

        self._total_loss = jax.jit(total_loss)
        self._gradients = jax.jit(jax.grad(total_loss))
        self._sgd = jax.jit(sgd)
        self._forward = jax.jit(forward)

    def on_devices(self, *arrays):
        """The batch arrays (B, ...), their rows cut over the distribution's devices if any."""
        return shard_batch(arrays, self.distribution)

    def total_loss(self, ids, targets, weights) -> float:
        """Summed cross-entropy of the targets whose weight is 1."""
        batch = self.on_devices(ids, targets, weights)
        return float(self._total_loss(*_values(self.logits_model), *batch))

    def gradients(self, ids, targets, weights) -> list[np.ndarray]:
        """Gradients of total_loss, in the order of logits_model.trainable_variables."""
        grads = self._gradients(
            *_values(self.logits_model), *self.on_devices(ids, targets, weights)
        )
        return [np.asarray(g) for g in grads]

    def sgd_step(self, ids, targets, weights, learning_rate, clip_norm=None) -> float:
        """Move the weights one SGD step down total_loss (clipped); return the loss before."""
        new_values, loss = self._sgd(
            *_values(self.logits_model),
            *self.on_devices(ids, targets, weights),
            learning_rate,
            clip_norm,
        )
        for variable, value in zip(self.logits_model.trainable_variables, new_values, strict=True):
            variable.assign(value)
        return float(loss)

    def forward(self, ids) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities (B, T, C) and hidden states (B, T, H)."""
        o, s = self._forward(*_values(self.probe), *self.on_devices(ids))
        return np.asarray(o), np.asarray(s)
