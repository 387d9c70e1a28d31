"""Save a model with everything needed to use it alone: weights, vocabulary, config, state (notebook 4).

One `.npz` file, readable with `allow_pickle=False`:

    param/<name>   each array of model.get_params()
    vocab_*        the vocabulary's arrays (Vocabulary.to_arrays), when one is saved
    optimizer/<key>  the optimiser's state_dict() (moments, step count), when one is saved
    best/param/<name>, best/optimizer/<key>
                   the run's best evaluation so far (keep_best, restoring halvings): its
                   parameters and the optimiser state that goes with them, saved in the same
                   write as the rest, so a resumed run can return to a best from before
    meta           a 0-d unicode array holding JSON: the model class ("module:QualName"),
                   its config(), the training state, the rnnlib version

A file names its model class, and only the series' word-level models can be named: the
class is looked up in a fixed table (`MODEL_CLASSES`), never imported from whatever the
file says, so a crafted checkpoint cannot make rnnlib call a function of its choosing.
Nor can it make rnnlib allocate what it does not hold: the config's sizes are checked
against rnnlib's limit and every array's shape (read from its header alone) against the
config before any data is read or any model built.
Files written before the package moved into subpackages name the old module paths;
`LEGACY_CLASS_NAMES` maps them to today's.

The original saved bare weights, so a model was useless without the vocabulary it was
trained with, and loading needed a model of the right size built by hand. Here
`load_model(path)` rebuilds the model from the file alone.
"""

import importlib
import json
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import rnnlib
from rnnlib._io import atomic_path
from rnnlib.data.vocab import Vocabulary
from rnnlib.interface import check_numeric_array, check_saved_config
from rnnlib.training.optimizers import check_state

FORMAT = "rnnlib-checkpoint"
FORMAT_VERSION = 1
PARAM_PREFIX = "param/"
OPTIMIZER_PREFIX = "optimizer/"
BEST_PREFIX = "best/"  # before param/ and optimizer/: the best evaluation's copies
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
    best_params: dict | None = None  # the best evaluation's parameters, when saved
    best_optimizer_state: dict | None = None  # and its optimiser state


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


def save_checkpoint(
    path, model, vocab=None, training_state=None, optimizer_state=None, best=None
) -> Path:
    """Write model (+ vocab, + JSON training state, + an optimiser's state_dict(), + the best
    evaluation's {"params", "optimizer"}) to one .npz atomically; return its path.

    Missing parent directories are created.
    """
    model_class = _class_name(model)  # first: anything else is no model of ours
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
        "model_class": model_class,
        "config": model.config(),
        "param_names": list(params),
        "vocab_keys": [] if vocab is None else list(vocab.to_arrays()),
        "optimizer_keys": [] if optimizer_state is None else list(optimizer_state),
        "best_param_names": [] if best is None else list(best["params"]),
        "best_optimizer_keys": list((best or {}).get("optimizer") or {}),
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
    best = best or {}
    for name, value in (best.get("params") or {}).items():
        arrays[BEST_PREFIX + PARAM_PREFIX + name] = np.asarray(value)
    for prefix, state in (
        (OPTIMIZER_PREFIX, optimizer_state),
        (BEST_PREFIX + OPTIMIZER_PREFIX, best.get("optimizer")),
    ):
        for key, value in (state or {}).items():
            arrays[prefix + key] = np.asarray(value)
            if arrays[prefix + key].dtype == object:
                raise TypeError(f"optimizer state {key!r} is not an array of numbers or a string")
    arrays[META_KEY] = np.array(meta_json, dtype=np.str_)
    with atomic_path(path) as tmp:
        # An open file, not a name: np.savez would append ".npz" to the temporary name.
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return path


# The metadata's JSON may be long (a History of many evaluations), never this long.
MAX_META_CHARACTERS = 2**24
# Vocabulary arrays: generous for any real vocabulary (100 000 words of 600 characters).
MAX_VOCAB_BYTES = 2**28
_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def _open_archive(path: Path):
    """The .npz archive at `path`, opened lazily: nothing but its index is read yet."""
    with open(path, "rb") as f:
        if f.read(6) == b"\x93NUMPY":
            raise CheckpointError(f"{path} is a single .npy array, not an .npz checkpoint")
    if not zipfile.is_zipfile(path):  # an .npz is a zip; a truncated one loses its index
        raise CheckpointError(f"{path} is not an .npz archive: truncated, or not a checkpoint")
    try:
        return np.load(path, allow_pickle=False)
    except Exception as e:
        raise CheckpointError(f"{path} is a damaged .npz archive: {e}") from e


def _stored(path: Path, archive, key: str) -> tuple[tuple, np.dtype]:
    """Shape and dtype of one array, from its header alone (its data is not read)."""
    if key not in archive.files:
        raise CheckpointError(f"{path}: missing key {key!r}")
    try:
        with archive.zip.open(key + ".npy") as member:
            version = np.lib.format.read_magic(member)
            shape, _, dtype = _NPY_HEADER_READERS[version](member)
    except Exception as e:  # a damaged member, or a header format rnnlib never writes
        raise CheckpointError(f"{path}: unreadable array {key!r}: {e!r}") from e
    return shape, dtype


def _read(path: Path, archive, key: str) -> np.ndarray:
    """One array's data, read now, so that corruption shows up here and not later."""
    try:
        return archive[key]
    except Exception as e:  # damaged members (zlib, CRC, EOF) or pickled objects we refuse
        raise CheckpointError(f"{path} is a damaged or unsafe .npz archive: {e}") from e


def _read_meta(path: Path, archive) -> dict:
    """The metadata JSON, its size checked before it is read."""
    if META_KEY not in archive.files:
        raise CheckpointError(f"{path}: missing key {META_KEY!r}; not an rnnlib checkpoint")
    shape, dtype = _stored(path, archive, META_KEY)
    if shape != () or dtype.kind != "U" or dtype.itemsize > 4 * MAX_META_CHARACTERS:
        raise CheckpointError(
            f"{path}: {META_KEY!r} must be one string of at most {MAX_META_CHARACTERS} "
            f"characters, got shape {shape} and dtype {dtype}"
        )
    try:
        meta = json.loads(str(_read(path, archive, META_KEY)))
        if meta.get("format") != FORMAT:
            raise ValueError(f"format is {meta.get('format')!r}, expected {FORMAT!r}")
        missing = [
            k for k in ("model_class", "config", "param_names", "vocab_keys") if k not in meta
        ]
        if missing:
            raise ValueError(f"no {missing} in it")
        if not all(isinstance(meta[key], list) for key in ("param_names", "vocab_keys")):
            raise ValueError("param_names and vocab_keys must be lists")
        if not isinstance(meta.get("best_param_names", []), list):
            raise ValueError("best_param_names must be a list")
    except RecursionError:  # JSON nested deeper than Python's parser goes
        raise CheckpointError(
            f"{path}: unreadable metadata: JSON nested too deeply (over "
            f"{sys.getrecursionlimit()} levels); rnnlib writes at most a few"
        ) from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(f"{path}: unreadable metadata: {e!r}") from e
    return meta


def _import_model_class(path: Path, name):
    """The class a checkpoint names, from the fixed table; anything else is refused."""
    name = LEGACY_CLASS_NAMES.get(name, name) if isinstance(name, str) else name
    if name not in MODEL_CLASSES:
        raise CheckpointError(
            f"{path}: refusing to load model class {name!r}: a checkpoint may name only one of "
            f"{sorted(MODEL_CLASSES)}"
        )
    module_name, _, qualname = name.partition(":")
    # Imported only now: a NumPy checkpoint must not pay for importing PyTensor or Keras.
    return getattr(importlib.import_module(module_name), qualname)


def _read_params(
    path: Path, archive, meta: dict, expected: dict, prefix: str = PARAM_PREFIX, names=None
) -> dict[str, np.ndarray]:
    """The parameters, each checked (shape and float dtype from its header, then finite)
    before a model exists."""
    class_name, config = meta["model_class"], meta["config"]
    param_names = meta["param_names"] if names is None else names
    if set(param_names) != set(expected):
        raise CheckpointError(
            f"{path}: parameters {sorted(map(str, param_names))} do not match {class_name}'s "
            f"{sorted(expected)}"
        )
    for name in param_names:  # every header first: no data is read for a file that lies
        shape, dtype = _stored(path, archive, prefix + name)
        if shape != expected[name]:
            raise CheckpointError(
                f"{path}: parameter {prefix + name} has shape {shape}, but the saved config "
                f"{config} needs {expected[name]}"
            )
        if dtype.kind != "f":  # an int8 array would load "fine" as float32, its values lost
            raise CheckpointError(
                f"{path}: parameter {prefix + name} has dtype {dtype}; a checkpoint's weights "
                "are floating point"
            )
    params = {}
    for name in param_names:
        array = _read(path, archive, prefix + name)
        try:
            params[name] = check_numeric_array(array, name, array.dtype)  # numeric, finite
        except (ValueError, TypeError) as e:
            raise CheckpointError(f"{path}: {e}") from e
    return params


def _read_optimizer_state(
    path: Path, archive, keys, expected: dict, prefix: str = OPTIMIZER_PREFIX
) -> dict | None:
    """An optimiser's saved state (None if none): each moment a finite float array of its
    parameter's shape (checked from its header first), each other entry a number.

    Whether every moment is there is checked when a run resumes (state_from_checkpoint),
    where the caller may choose to reset the optimiser instead.
    """
    keys = keys or []  # absent in older checkpoints
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise CheckpointError(f"{path}: optimizer keys must be a list of strings, got {keys!r}")
    missing = [k for k in keys if prefix + k not in archive.files]
    if missing:
        raise CheckpointError(f"{path}: missing optimizer state keys {missing}")
    largest = max(int(np.prod(shape)) for shape in expected.values())
    for key in keys:  # headers first: nothing oversized is read
        shape, dtype = _stored(path, archive, prefix + key)
        if int(np.prod(shape)) > largest or dtype.kind not in "fiuUb":
            raise CheckpointError(
                f"{path}: optimizer state {prefix + key!r} ({shape}, {dtype}) is not a moment "
                "of this model's weights or a number"
            )
    state = {key: _read(path, archive, prefix + key) for key in keys}
    try:
        if state:
            check_state(state, expected, complete=False)
    except ValueError as e:
        raise CheckpointError(f"{path}: {prefix}: {e}") from e
    return state or None


def _read_vocab(path: Path, archive, vocab_keys: list, word_dim: int) -> Vocabulary | None:
    """The saved vocabulary (None if none), its size checked against word_dim before it is read."""
    if not vocab_keys:
        return None
    missing = [k for k in vocab_keys if k not in archive.files]
    if missing:
        raise CheckpointError(f"{path}: missing vocabulary keys {missing}")
    for key in vocab_keys:
        shape, dtype = _stored(path, archive, key)
        if dtype.itemsize * int(np.prod(shape)) > MAX_VOCAB_BYTES:
            raise CheckpointError(
                f"{path}: vocabulary array {key!r} {shape} of {dtype} is too large"
            )
        if key == "vocab_words" and shape != (word_dim,):
            words = shape[0] if len(shape) == 1 else shape
            raise CheckpointError(
                f"{path}: vocabulary has {words} words but the model's word_dim is {word_dim}"
            )
    try:
        return Vocabulary.from_arrays({k: _read(path, archive, k) for k in vocab_keys})
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: broken vocabulary: {e}") from e


def load_checkpoint(path) -> Checkpoint:
    """Read a checkpoint and rebuild its model (right class, size and weights) and vocabulary.

    Everything the file says is checked before the model is built: the class against the
    fixed table, the config's sizes against rnnlib's limit, each array's shape (from its
    header, before its data is read) against the config, and every value for NaN or inf.
    """
    given = Path(path)
    path = given if given.is_file() else checkpoint_file(given)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {given}")
    with _open_archive(path) as archive:
        meta = _read_meta(path, archive)
        class_name, config = meta["model_class"], meta["config"]
        model_class = _import_model_class(path, class_name)
        try:
            word_dim, hidden_dim = check_saved_config(config)
        except ValueError as e:
            raise CheckpointError(
                f"{path}: the saved config of {class_name} is refused: {e}"
            ) from e
        expected = model_class.param_shapes(word_dim, hidden_dim)
        params = _read_params(path, archive, meta, expected)
        vocab = _read_vocab(path, archive, meta["vocab_keys"], word_dim)
        optimizer_state = _read_optimizer_state(path, archive, meta.get("optimizer_keys"), expected)
        best_names = meta.get("best_param_names") or []  # absent in older checkpoints
        best_params = best_optimizer_state = None
        if best_names:
            best_prefix = BEST_PREFIX + PARAM_PREFIX
            best_params = _read_params(path, archive, meta, expected, best_prefix, best_names)
            best_optimizer_state = _read_optimizer_state(
                path, archive, meta.get("best_optimizer_keys"), expected,
                BEST_PREFIX + OPTIMIZER_PREFIX,
            )  # fmt: skip

    try:  # the size is known to be within limits, and to be that of the arrays read
        model = model_class(**config)
    except Exception as e:
        raise CheckpointError(f"{path}: cannot build {class_name}(**{config}): {e}") from e
    try:
        model.set_params(params)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: parameters rejected by {class_name}: {e}") from e
    return Checkpoint(
        model=model,
        vocab=vocab,
        training_state=meta.get("training_state"),
        version=str(meta.get("rnnlib_version", "unknown")),
        path=path,
        optimizer_state=optimizer_state,
        best_params=best_params,
        best_optimizer_state=best_optimizer_state,
    )


def load_model(path):
    """Just the model of a checkpoint, built at the saved size with the saved weights."""
    return load_checkpoint(path).model
