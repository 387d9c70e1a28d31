"""Pieces shared by the Keras models: backend choice, one-hot layer, padding, saving.

Importing this module picks the JAX backend for Keras unless the user already chose one
(KERAS_BACKEND), so it must be imported before Keras is; every rnnlib Keras module does.
"""

import json
import os
import tempfile
import warnings
import zipfile
from contextlib import nullcontext
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from rnnlib.numpy_rnn import check_corpus, check_sentence  # noqa: E402

# The archive member beside Keras' own, holding what rnnlib needs to rebuild its wrapper.
RNNLIB_MEMBER = "rnnlib.json"


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


def positive_int(value, name: str) -> int:
    """`value` as an int, or a ValueError naming `name` when it is not an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


# --- ragged sentences -> a few padded shapes ----------------------------------------------------


def padded_length(n: int, smallest: int = 8) -> int:
    """The length to pad a sequence of n to: one of 8, 10, 13, 16, 20, 25, 32, 40, 51, 64, ...

    JAX compiles once per input shape, so sentences are padded to a few lengths only:
    three per doubling (ratio 2**(1/3)), so padding adds at most 26%, 11% on average.
    """
    k = 0
    while (length := round(smallest * 2 ** (k / 3))) < n:
        k += 1
    return length


def pad_sentences(xs, ys, length: int, rows: int | None = None):
    """Right-pad sentences to (rows, length): ids, targets, and weights (1 real, 0 padding).

    Right padding never changes the outputs at real positions (the RNN only looks back),
    so a zero weight on the padded targets makes the loss exactly that of the real words.
    """
    rows = len(xs) if rows is None else rows
    ids = np.zeros((rows, length), dtype=np.int32)  # (B, T)
    targets = np.zeros((rows, length), dtype=np.int32)  # (B, T)
    weights = np.zeros((rows, length), dtype=np.float32)  # (B, T)
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        ids[i, : len(x)] = x
        targets[i, : len(y)] = y
        weights[i, : len(y)] = 1.0
    return ids, targets, weights


def check_sentences(X, Y, word_dim: int):
    """Validate a data set as RNNNumpy does; return it as lists of int64 arrays."""
    check_corpus(X, Y)
    pairs = [check_sentence(x, y, word_dim) for x, y in zip(X, Y, strict=True)]
    return [x for x, _ in pairs], [y for _, y in pairs]


def length_batches(lengths, batch_size: int, rng: np.random.Generator | None = None):
    """Index batches of sentences with the same padded length (shuffled when rng is given)."""
    lengths = np.asarray(lengths)
    padded = np.array([padded_length(int(n)) for n in lengths])
    batches = []
    for length in np.unique(padded):
        members = np.flatnonzero(padded == length)
        if rng is not None:
            members = rng.permutation(members)
        batches += [members[i : i + batch_size] for i in range(0, len(members), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


class ShuffledBatches(keras.utils.PyDataset):
    """Batches for Keras fit, reshuffled every epoch by our own Generator (not global state).

    `make_batch(indices)` turns example indices into a (inputs, targets[, weights]) tuple.
    """

    def __init__(self, n_examples: int, batch_size: int, make_batch, rng, group_sizes=None):
        super().__init__()
        self.n_examples, self.batch_size = n_examples, batch_size
        self.make_batch, self.rng = make_batch, rng
        self.group_sizes = group_sizes  # sentence lengths: batch by padded length
        self.on_epoch_end()

    def on_epoch_end(self):
        if self.group_sizes is not None:
            self.batches = length_batches(self.group_sizes, self.batch_size, self.rng)
        else:
            order = self.rng.permutation(self.n_examples)
            self.batches = [
                order[i : i + self.batch_size] for i in range(0, self.n_examples, self.batch_size)
            ]

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        return self.make_batch(self.batches[index])


# --- saving ---------------------------------------------------------------------------------


def _keras_path(path) -> Path:
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"a Keras model file must end in .keras, got {str(path)!r}")
    return path


def save_keras(keras_model, path, rnnlib_info: dict) -> Path:
    """Save a Keras model plus rnnlib's JSON (class, config, vocabulary) atomically."""
    path = _keras_path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot save {path}: no directory {path.parent}")
    info = json.dumps(rnnlib_info)
    # Keras insists on the .keras suffix, so the temporary name ends in it too.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            # Keras' own Variable.__array__ predates NumPy 2's copy keyword; nothing to fix here.
            warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
            keras.saving.save_model(keras_model, tmp)
        # Keras reads only its own members, so an extra one rides along safely.
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(RNNLIB_MEMBER, info)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def read_rnnlib_info(path) -> dict:
    """rnnlib's JSON from a file written by save_keras."""
    path = _keras_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no Keras model file at {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(RNNLIB_MEMBER))
    except KeyError as e:
        raise ValueError(f"{path} was not saved by rnnlib (no {RNNLIB_MEMBER} inside)") from e
    except (zipfile.BadZipFile, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not a readable .keras file: {e}") from e


def load_keras(path, dtype):
    """The Keras model in `path`, loaded in safe mode (no arbitrary code) at `dtype`."""
    with precision(dtype):
        return keras.saving.load_model(_keras_path(path), safe_mode=True)
