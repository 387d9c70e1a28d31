"""Save a model with everything needed to use it alone: weights, vocabulary, config, state (notebook 4).

One `.npz` file, readable with `allow_pickle=False`:

    param/<name>   each array of model.get_params()
    vocab_*        the vocabulary's arrays (Vocabulary.to_arrays), when one is saved
    optimizer/<key>  the optimiser's state_dict() (moments, step count), when one is saved
    meta           a 0-d unicode array holding JSON: the model class ("module:QualName"),
                   its config(), the training state, the rnnlib version

A file names its model class, and only the series' word-level models can be named: the
class is looked up in a fixed table (`MODEL_CLASSES`), never imported from whatever the
file says, so a crafted checkpoint cannot make rnnlib call a function of its choosing.
Files written before the package moved into subpackages name the old module paths;
`LEGACY_CLASS_NAMES` maps them to today's.

The original saved bare weights, so a model was useless without the vocabulary it was
trained with, and loading needed a model of the right size built by hand. Here
`load_model(path)` rebuilds the model from the file alone.
"""

import importlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import rnnlib
from rnnlib._io import atomic_path
from rnnlib.data.vocab import Vocabulary

FORMAT = "rnnlib-checkpoint"
FORMAT_VERSION = 1
PARAM_PREFIX = "param/"
OPTIMIZER_PREFIX = "optimizer/"
META_KEY = "meta"


class CheckpointError(ValueError):
    """A checkpoint file that is missing pieces, corrupted, or inconsistent with itself."""


@dataclass
class Checkpoint:
    """What load_checkpoint returns: the rebuilt model and what was saved with it."""

    model: object
    vocab: Vocabulary | None
    training_state: dict | None
    version: str
    path: Path
    optimizer_state: dict | None = None  # key -> array (0-d for numbers and the name)


def checkpoint_file(path) -> Path:
    """The file name actually used: `.npz` is appended when missing, as numpy does."""
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


# The only classes a checkpoint may name ("module:QualName"): the series' word-level models.
MODEL_CLASSES = (
    "rnnlib.numpy_rnn.readable:RNNNumpy",
    "rnnlib.numpy_rnn.fast:RNNNumpyFast",
    "rnnlib.pytensor_rnn.rnn:RNNPyTensor",
    "rnnlib.pytensor_rnn.gru:GRUPyTensor",
    "rnnlib.keras_rnn.word:KerasRNN",
    "rnnlib.keras_rnn.word:KerasGRU",
    "rnnlib.keras_rnn.word:KerasLSTM",
)
# Where rnnlib 0.1.0 (one flat package) kept them.
LEGACY_CLASS_NAMES = {
    "rnnlib.numpy_rnn:RNNNumpy": "rnnlib.numpy_rnn.readable:RNNNumpy",
    "rnnlib.fast_rnn:RNNNumpyFast": "rnnlib.numpy_rnn.fast:RNNNumpyFast",
    "rnnlib.pytensor_rnn:RNNPyTensor": "rnnlib.pytensor_rnn.rnn:RNNPyTensor",
    "rnnlib.pytensor_gru:GRUPyTensor": "rnnlib.pytensor_rnn.gru:GRUPyTensor",
    "rnnlib.keras_word:KerasRNN": "rnnlib.keras_rnn.word:KerasRNN",
    "rnnlib.keras_word:KerasGRU": "rnnlib.keras_rnn.word:KerasGRU",
    "rnnlib.keras_word:KerasLSTM": "rnnlib.keras_rnn.word:KerasLSTM",
}


def _class_name(model) -> str:
    cls = type(model)
    name = f"{cls.__module__}:{cls.__qualname__}"
    if name not in MODEL_CLASSES:
        raise TypeError(
            f"only the series' word-level models can be checkpointed, got {name}; "
            f"expected one of {sorted(MODEL_CLASSES)}"
        )
    return name


def save_checkpoint(path, model, vocab=None, training_state=None, optimizer_state=None) -> Path:
    """Write model (+ vocab, + JSON training state, + an optimiser's state_dict()) to one .npz
    atomically; return its path.

    Missing parent directories are created.
    """
    path = checkpoint_file(path)
    word_dim = getattr(model, "word_dim", None)
    if vocab is not None and word_dim is not None and len(vocab) != word_dim:
        raise ValueError(
            f"vocabulary has {len(vocab)} words but the model's word_dim is {word_dim}"
        )
    params = model.get_params()
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_class": _class_name(model),
        "config": model.config(),
        "param_names": list(params),
        "vocab_keys": [] if vocab is None else list(vocab.to_arrays()),
        "optimizer_keys": [] if optimizer_state is None else list(optimizer_state),
        "training_state": training_state,
        "rnnlib_version": rnnlib.__version__,
    }
    try:
        meta_json = json.dumps(meta)
    except (TypeError, ValueError) as e:
        raise TypeError(f"config and training_state must be JSON-serialisable: {e}") from e
    arrays = {PARAM_PREFIX + name: np.asarray(value) for name, value in params.items()}
    if vocab is not None:
        arrays.update(vocab.to_arrays())
    for key, value in (optimizer_state or {}).items():
        arrays[OPTIMIZER_PREFIX + key] = np.asarray(value)
        if arrays[OPTIMIZER_PREFIX + key].dtype == object:
            raise TypeError(f"optimizer state {key!r} is not an array of numbers or a string")
    arrays[META_KEY] = np.array(meta_json, dtype=np.str_)
    with atomic_path(path) as tmp:
        # An open file, not a name: np.savez would append ".npz" to the temporary name.
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return path


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive, read now, so corruption shows up here and not later."""
    with open(path, "rb") as f:
        if f.read(6) == b"\x93NUMPY":
            raise CheckpointError(f"{path} is a single .npy array, not an .npz checkpoint")
    if not zipfile.is_zipfile(path):  # an .npz is a zip; a truncated one loses its index
        raise CheckpointError(f"{path} is not an .npz archive: truncated, or not a checkpoint")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except Exception as e:  # damaged members (zlib, CRC, EOF) or pickled objects we refuse
        raise CheckpointError(f"{path} is a damaged or unsafe .npz archive: {e}") from e


def _import_model_class(path: Path, name: str):
    """The class a checkpoint names, from the fixed table; anything else is refused."""
    name = LEGACY_CLASS_NAMES.get(name, name)
    if name not in MODEL_CLASSES:
        raise CheckpointError(
            f"{path}: refusing to load model class {name!r}: a checkpoint may name only one of "
            f"{sorted(MODEL_CLASSES)}"
        )
    module_name, _, qualname = name.partition(":")
    # Imported only now: a NumPy checkpoint must not pay for importing PyTensor or Keras.
    return getattr(importlib.import_module(module_name), qualname)


def load_checkpoint(path) -> Checkpoint:
    """Read a checkpoint and rebuild its model (right class, size and weights) and vocabulary."""
    given = Path(path)
    path = given if given.is_file() else checkpoint_file(given)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {given}")
    arrays = _read_arrays(path)
    if META_KEY not in arrays:
        raise CheckpointError(f"{path}: missing key {META_KEY!r}; not an rnnlib checkpoint")
    try:
        meta = json.loads(str(arrays[META_KEY]))
        if meta.get("format") != FORMAT:
            raise ValueError(f"format is {meta.get('format')!r}, expected {FORMAT!r}")
        class_name, config = meta["model_class"], meta["config"]
        param_names, vocab_keys = meta["param_names"], meta["vocab_keys"]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(f"{path}: unreadable metadata: {e!r}") from e

    model_class = _import_model_class(path, class_name)
    try:
        model = model_class(**config)
    except Exception as e:
        raise CheckpointError(f"{path}: cannot build {class_name}(**{config}): {e}") from e

    expected = model.get_params()
    if set(param_names) != set(expected):
        raise CheckpointError(
            f"{path}: parameters {sorted(param_names)} do not match {class_name}'s "
            f"{sorted(expected)}"
        )
    params = {}
    for name in param_names:
        key = PARAM_PREFIX + name
        if key not in arrays:
            raise CheckpointError(f"{path}: missing key {key!r}")
        if arrays[key].shape != expected[name].shape:
            raise CheckpointError(
                f"{path}: parameter {name} has shape {arrays[key].shape}, but the saved config "
                f"{config} needs {expected[name].shape}"
            )
        params[name] = arrays[key]
    try:
        model.set_params(params)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: parameters rejected by {class_name}: {e}") from e

    vocab = None
    if vocab_keys:
        missing = [k for k in vocab_keys if k not in arrays]
        if missing:
            raise CheckpointError(f"{path}: missing vocabulary keys {missing}")
        try:
            vocab = Vocabulary.from_arrays({k: arrays[k] for k in vocab_keys})
        except (ValueError, TypeError) as e:
            raise CheckpointError(f"{path}: broken vocabulary: {e}") from e
        word_dim = getattr(model, "word_dim", None)
        if word_dim is not None and len(vocab) != word_dim:
            raise CheckpointError(
                f"{path}: vocabulary has {len(vocab)} words but the model's word_dim is {word_dim}"
            )
    optimizer_keys = meta.get("optimizer_keys") or []  # absent in older checkpoints
    missing = [k for k in optimizer_keys if OPTIMIZER_PREFIX + k not in arrays]
    if missing:
        raise CheckpointError(f"{path}: missing optimizer state keys {missing}")
    return Checkpoint(
        model=model,
        vocab=vocab,
        training_state=meta.get("training_state"),
        version=str(meta.get("rnnlib_version", "unknown")),
        path=path,
        optimizer_state={k: arrays[OPTIMIZER_PREFIX + k] for k in optimizer_keys} or None,
    )


def load_model(path):
    """Just the model of a checkpoint, built at the saved size with the saved weights."""
    return load_checkpoint(path).model
