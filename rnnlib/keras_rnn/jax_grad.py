"""A Keras language model as pure JAX functions: loss, gradients, SGD step, forward pass (notebook 7).

Keras layers keep their weights in variables. jax.grad needs a function *of* the weights,
and Keras provides one: `model.stateless_call(trainable, non_trainable, inputs)` runs the
model on weight values passed in. Everything here is built on it and compiled with
jax.jit once per model (JAX then compiles once per input shape, hence the padding).
"""

import time

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
        self.compile_seconds: dict = {}  # ("loss", B, T) -> seconds of the shape's first call

    def on_devices(self, *arrays):
        """The batch arrays (B, ...), their rows cut over the distribution's devices if any."""
        return shard_batch(arrays, self.distribution)

    def total_loss(self, ids, targets, weights) -> float:
        """Summed cross-entropy of the targets whose weight is 1."""
        key = ("loss", *np.shape(ids))
        start = time.perf_counter()
        batch = self.on_devices(ids, targets, weights)
        loss = float(self._total_loss(*_values(self.logits_model), *batch))
        if key not in self.compile_seconds:  # JAX compiled this shape during the call
            self.compile_seconds[key] = time.perf_counter() - start
        return loss

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


class MeanLossGradients:
    """The training recipe's function: mean loss per target word and its gradients, jitted.

    `train_model` maps [ids (B, T), kept_in (B, T, H), kept_out (B, T, H)] to logits: the
    word model with dropout masks multiplied in. With `tied` = (embedding, kernel), two of
    its variables, the output kernel (H, C) is not a weight of its own but the embedding
    (C, H) transposed, so the gradients of both uses arrive in the embedding's (and the
    kernel's is zero).
    Each input shape is compiled ahead of its first call, and the seconds that took are
    kept in `compile_seconds`, apart from the seconds the steps take.
    """

    def __init__(self, train_model, tied: tuple | None = None):
        import jax
        import jax.numpy as jnp

        self.train_model = train_model

        def mean_loss(trainable, frozen, ids, targets, weights, kept_in, kept_out):
            if tied is not None:  # positions looked up when traced: after any freezing
                positions = [id(v) for v in train_model.trainable_variables]
                embedding, kernel = (positions.index(id(v)) for v in tied)
                trainable = list(trainable)
                trainable[kernel] = trainable[embedding].T
            logits, _ = train_model.stateless_call(trainable, frozen, [ids, kept_in, kept_out])
            log_probs = jax.nn.log_softmax(logits, axis=-1)  # (B, T, C)
            picked = jnp.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]  # (B, T)
            weights = weights.astype(picked.dtype)  # padding weighs 0
            return -jnp.sum(picked * weights) / jnp.sum(weights)

        self._jitted = jax.jit(jax.value_and_grad(mean_loss))
        self.distribution = None  # keras.distribution.DataParallel: rows cut over its devices
        self._compiled: dict = {}
        self.compile_seconds: dict = {}  # ("mean grad", B, T) -> seconds spent compiling

    def forget_compiled(self) -> None:
        """Compile again at the next call of each shape (the devices' layout changed)."""
        self._compiled.clear()

    def __call__(self, ids, targets, weights, kept_in, kept_out) -> tuple[float, list]:
        """(mean loss, gradients in the order of train_model.trainable_variables)."""
        batch = shard_batch((ids, targets, weights, kept_in, kept_out), self.distribution)
        args = (*_values(self.train_model), *batch)
        key = ("mean grad", *np.shape(ids))
        if key not in self._compiled:
            start = time.perf_counter()
            self._compiled[key] = self._jitted.lower(*args).compile()
            self.compile_seconds[key] = time.perf_counter() - start
        loss, grads = self._compiled[key](*args)
        return float(loss), [np.asarray(g) for g in grads]
