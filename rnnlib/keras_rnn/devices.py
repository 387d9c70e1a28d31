"""Training a Keras model data-parallel over several devices with keras.distribution (notebook 7).

`devices=N` (or "all") anywhere in rnnlib.keras_rnn means: copy the weights to the first
N devices JAX sees (every GPU, TPU core, or the CPU devices that
XLA_FLAGS=--xla_force_host_platform_device_count=N makes), cut each batch into N equal
slices along its rows, and let XLA run one slice per device and add their gradients up.
That is `keras.distribution.DataParallel`; nothing here averages gradients by hand.

The batch is the *global* batch: batch_size=32 on 2 devices is 16 rows per device, and
the step is the one a single device takes on those 32 rows, so the learning rate that
suits batch_size on one device suits it on N. (Growing batch_size with N, to keep each
device as busy as before, takes a larger learning rate, as any larger batch does.)

A batch whose rows N does not divide is padded with rows of weight 0 (`padded_rows`):
the losses divide by the number of real words, so padding changes no loss and no
gradient. One device is the default, and then nothing is moved or padded.
"""

from contextlib import nullcontext

import numpy as np

from rnnlib.keras_rnn.layers import keras

ALL = "all"


def visible_devices() -> list:
    """The devices JAX sees, in its order (GPUs first when there are any)."""
    import jax

    return jax.devices()


def describe(devices) -> str:
    """A device list in words: '2 devices (cpu:0, cpu:1)'."""
    names = ", ".join(str(d) for d in devices)
    return f"{len(devices)} {'device' if len(devices) == 1 else 'devices'} ({names})"


def resolve_devices(devices) -> list:
    """The first N devices JAX sees for devices=N, all of them for "all"; one clear error otherwise."""
    seen = visible_devices()
    if isinstance(devices, str) and devices.strip().lower() == ALL:
        return seen
    count = devices
    if isinstance(devices, str) and devices.strip().isdigit():
        count = int(devices)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= len(seen):
        counts = "1" if len(seen) == 1 else f"an integer from 1 to {len(seen)}"
        raise ValueError(
            f"devices={devices!r}: expected {counts} or {ALL!r}; JAX sees {describe(seen)}"
        )
    return seen[:count]


def data_parallel(devices):
    """keras.distribution.DataParallel over `devices` (N|"all"), or None for one device."""
    chosen = resolve_devices(devices)
    if len(chosen) == 1:
        return None
    return keras.distribution.DataParallel(devices=chosen)


def devices_of(distribution) -> list:
    """The devices a model with this distribution computes on (the first one without)."""
    if distribution is None:
        return visible_devices()[:1]
    return list(distribution.device_mesh.devices.flat)


def device_count(distribution) -> int:
    """How many devices a batch is split over (1 without a distribution)."""
    return 1 if distribution is None else distribution.device_mesh.devices.size


def padded_rows(rows: int, distribution) -> int:
    """`rows` rounded up to a multiple of the device count: what padding brings a batch to."""
    n = device_count(distribution)
    return -(-rows // n) * n


def place_variables(variables, distribution) -> None:
    """Copy every variable's value onto every device of `distribution` (in place).

    A model built before (on one device) has its values moved. Keras' jitted steps then
    keep each variable where it lies. Without a distribution, values spread over several
    devices come back to the first one, and values on one device stay where they are.
    """
    import jax

    if distribution is None:
        target = visible_devices()[0]
    else:
        target = jax.sharding.NamedSharding(
            distribution.device_mesh.backend_mesh, jax.sharding.PartitionSpec()
        )
    for variable in variables:
        if distribution is None and len(variable.value.sharding.device_set) == 1:
            continue
        # A variable made inside a distribution's scope remembers its layout, and Keras
        # puts every value assigned to it back on that layout's devices: forget it.
        if getattr(variable, "_layout", None) is not None:
            variable._layout = None
        variable.assign(jax.device_put(variable.value, target))


def move_model(keras_model, distribution) -> None:
    """Put a Keras model's weights, optimizer state and metrics on the distribution's devices.

    Its compiled steps name the devices of their outputs, so they are compiled again.
    """
    optimizer = getattr(keras_model, "optimizer", None)
    optimizer_variables = list(optimizer.variables) if optimizer is not None else []
    state = [*keras_model.variables, *optimizer_variables, *keras_model.metrics_variables]
    place_variables(state, distribution)
    keras_model.train_function = keras_model.test_function = None
    keras_model.predict_function = None


def scope(distribution):
    """The distribution's scope (Keras then cuts each batch over its devices), if any."""
    return nullcontext() if distribution is None else distribution.scope()


def weighted_batches(X, y, distribution):
    """rows -> (X[rows], y[rows]); on N devices, (X, y, weights) padded with rows of weight 0."""
    if distribution is None:
        return lambda rows: (X[rows], y[rows])

    def make_batch(rows):
        pad = padded_rows(len(rows), distribution) - len(rows)
        rows = np.concatenate([rows, np.zeros(pad, dtype=int)])  # copies of row 0 ...
        weights = np.ones(len(rows), dtype=np.float32)
        weights[len(rows) - pad :] = 0.0  # ... that weigh nothing
        return X[rows], y[rows], weights

    return make_batch


def shard_batch(arrays, distribution):
    """Place each (B, ...) array with its rows cut into one slice per device."""
    if distribution is None:
        return arrays
    import jax

    def place(array):
        layout = distribution.get_data_layout(array.shape).backend_layout
        return jax.device_put(array, layout)

    return tuple(place(a) for a in arrays)
