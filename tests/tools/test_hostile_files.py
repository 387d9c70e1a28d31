"""Hostile files, each as a user could make it: one line naming the file and what is wrong,
status 1 for a bad file (2 for a bad argument), and nothing written."""

import json
import os
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import rnnlib
from rnnlib.data.corpus import download
from rnnlib.data.vocab import Vocabulary
from rnnlib.numpy_rnn.readable import RNNNumpy
from rnnlib.tools.cli import main
from rnnlib.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

SMALL = ["--corpus", "synthetic", "--sentences", "60", "--vocabulary-size", "30",
         "--hidden", "8", "--no-progress", "--epochs", "1", "--batch-size", "8"]  # fmt: skip


def cli(*argv, pythonpath=None):
    """`python -m rnnlib ...` in a child process: (status, stderr)."""
    site = pythonpath or Path(rnnlib.__file__).parents[1]
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-m", "rnnlib", *map(str, argv)],
        capture_output=True, text=True, env=env, timeout=300, cwd=site,  # -m imports from cwd
    )  # fmt: skip
    return done.returncode, done.stderr


def one_line(err: str, command: str) -> str:
    """The error line of stderr, after checking that it is ours and not a traceback."""
    assert "Traceback" not in err, err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"python -m rnnlib {command}: error: "), err
    return line


@pytest.fixture(scope="module")
def adam_run(tmp_path_factory):
    """A finished one-epoch Adam run on the synthetic corpus (copy it before changing it)."""
    path = tmp_path_factory.mktemp("run") / "run.npz"
    assert main(["train", *SMALL, "--checkpoint", str(path)]) == 0
    return path


def rewritten(src, dst, change):
    """A copy of checkpoint `src` at `dst`, its arrays and meta JSON passed through `change`."""
    with np.load(src) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["meta"]))
    meta = change(arrays, meta) or meta
    arrays["meta"] = np.array(meta if isinstance(meta, str) else json.dumps(meta))
    np.savez(dst, **arrays)
    return dst


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "argv",
    [["generate", "{}"], ["evaluate", "{}"], ["train", "--checkpoint", "{}", "--resume"]],
    ids=["generate", "evaluate", "resume"],
)
def test_meta_json_nested_100000_deep(adam_run, tmp_path, argv):
    """Before: a RecursionError traceback."""
    path = rewritten(adam_run, tmp_path / "deep.npz", lambda arrays, meta: DEEP)
    before = path.read_bytes()
    status, err = cli(*(a.format(path) for a in argv))
    line = one_line(err, argv[0])
    assert status == 1 and f"{path}: unreadable metadata: JSON nested too deeply" in line
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["deep.npz"]


def set_key(key, value):
    def change(arrays, meta):
        arrays[key] = value

    return change


MOMENTS = {  # what a user put in place of a moment (U is (8, 30), V (30, 8), W (8, 8))
    "m/U transposed": ("optimizer/m/U", np.zeros((30, 8)), "shape (30, 8)"),
    "v/V (1, 8)": ("optimizer/v/V", np.zeros((1, 8)), "shape (1, 8)"),
    "m/W 1-D": ("optimizer/m/W", np.zeros(8), "shape (8,)"),
    "v/U 0-d": ("optimizer/v/U", np.array(0.5), "shape ()"),
    "strings": ("optimizer/m/U", np.full((8, 30), "x"), "dtype <U1"),
    "NaN": ("optimizer/v/U", np.full((8, 30), np.nan), "holds NaN or inf"),
    "negative": ("optimizer/v/U", np.full((8, 30), -1.0), "holds negatives"),
}


@pytest.mark.parametrize("case", list(MOMENTS))
def test_optimizer_state_of_the_wrong_shape_dtype_or_value(adam_run, tmp_path, capsys, case):
    """Before: a ValueError traceback from optimizers.update, or "training diverged"."""
    key, value, words = MOMENTS[case]
    path = rewritten(adam_run, tmp_path / "bad.npz", set_key(key, value))
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match=f"bad.npz: optimizer/: .*{key[10:]}"):
        load_checkpoint(path)
    capsys.readouterr()
    assert main(["train", "--checkpoint", str(path), "--resume", "--epochs", "2"]) == 1
    line = one_line(capsys.readouterr().err, "train")
    assert str(path) in line and repr(key[10:]) in line and words in line
    assert path.read_bytes() == before


def test_integer_weights_are_refused(adam_run, tmp_path, capsys):
    """Before: int8 weights loaded silently as float32."""
    path = rewritten(adam_run, tmp_path / "int.npz", set_key("param/W", np.ones((8, 8), np.int8)))
    with pytest.raises(CheckpointError, match="param/W has dtype int8; a checkpoint's weights"):
        load_checkpoint(path)
    assert main(["generate", str(path)]) == 1
    assert "int.npz" in one_line(capsys.readouterr().err, "generate")


def test_a_corpus_checksum_stored_as_a_number(tmp_path, capsys):
    """Before: a TypeError traceback from rundata.check_same_corpus."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(" ".join(f"The cat number {i} sat on the mat." for i in range(6)))
    path = tmp_path / "run.npz"
    argv = ["train", "--corpus", "text", "--corpus-path", str(corpus), "--vocabulary-size",
            "12", "--hidden", "4", "--epochs", "1", "--no-progress", "--checkpoint", str(path)]  # fmt: skip
    assert main(argv) == 0

    def change(arrays, meta):
        meta["training_state"]["run"]["data"]["corpus_sha256"] = 12345

    rewritten(path, path, change)
    before = path.read_bytes()
    capsys.readouterr()
    assert main(["train", "--checkpoint", str(path), "--resume", "--epochs", "2"]) == 1
    line = one_line(capsys.readouterr().err, "train")
    assert "corpus_sha256 12345: expected a path and 64 hexadecimal digits" in line
    assert path.read_bytes() == before


@pytest.fixture
def rnnlib_copy(tmp_path):
    """A copy of the rnnlib package whose frozen corpus file a test may break."""
    copy = tmp_path / "site"
    shutil.copytree(Path(rnnlib.__file__).parent, copy / "rnnlib")
    return copy, copy / "rnnlib" / "data" / "builtin_corpus_v1.json.gz"


@pytest.mark.parametrize("damage", ["directory", "tampered", "missing"])
def test_a_broken_frozen_corpus_file(rnnlib_copy, tmp_path, damage):
    """Before: IsADirectoryError tracebacks; `evaluate --ngram 1` a traceback for all three."""
    site, frozen = rnnlib_copy
    if damage == "directory":
        frozen.unlink()
        frozen.mkdir()
    elif damage == "tampered":
        frozen.write_bytes(frozen.read_bytes() + b"\0")
    else:
        frozen.unlink()
    words = {
        "directory": "cannot be read (Is a directory)",
        "tampered": "changed or damaged",
        "missing": "missing",
    }
    status, err = cli("evaluate", "--ngram", "1", pythonpath=site)
    assert status == 1 and words[damage] in one_line(err, "evaluate")
    assert str(frozen) in err
    path = tmp_path / "run.npz"
    status, err = cli("train", "--corpus", "builtin", "--checkpoint", path, pythonpath=site)
    assert status == 1 and words[damage] in one_line(err, "train")
    assert not path.exists()


def test_a_vocabulary_file_whose_words_are_a_string(tmp_path):
    """Before: "abc" was read letter by letter, and the error named no file."""
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps({"index_to_word": "abc"}))
    with pytest.raises(ValueError, match=f"{path}: index_to_word is str 'abc'; expected a list"):
        Vocabulary.load(path)
    path.write_text(DEEP)
    with pytest.raises(ValueError, match="vocab.json is not a vocabulary file.*nested too deeply"):
        Vocabulary.load(path)


def test_saving_something_that_is_no_model(tmp_path):
    """Before: an AttributeError about get_params."""
    with pytest.raises(TypeError, match="only the series' word-level models.*builtins:object"):
        save_checkpoint(tmp_path / "x.npz", object())
    assert os.listdir(tmp_path) == []


def test_a_download_url_of_another_scheme(tmp_path):
    """Before: "expected a URL", for a URL."""
    with pytest.raises(ValueError, match=r"a ftp:// URL; expected an http:// or https:// URL"):
        download("ftp://example.org/corpus.txt", cache_dir=tmp_path)
    assert os.listdir(tmp_path) == []


def test_a_sentence_whose_outputs_would_not_fit_is_refused_before_allocating():
    """Before: NumPy's "Unable to allocate 110 GiB"."""
    model = RNNNumpy(8000, 10)
    sentence = np.zeros(1_850_000, dtype=np.int64)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"x has 1850000 words: its \(1850000, 8000\) output"):
            model.forward_propagation(sentence)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20  # a few copies of the ids at most, never the (T, C) matrix


def test_a_removed_moment_needs_reset_optimizer(adam_run, tmp_path, capsys):
    """Before: --resume went on with rc 0 and a fresh m/U, silently."""

    def remove_m_u(arrays, meta):
        del arrays["optimizer/m/U"]
        meta["optimizer_keys"].remove("m/U")

    path = rewritten(adam_run, tmp_path / "lost.npz", remove_m_u)
    before = path.read_bytes()
    capsys.readouterr()
    assert main(["train", "--checkpoint", str(path), "--resume", "--epochs", "2"]) == 1
    line = one_line(capsys.readouterr().err, "train")
    assert f"{path}: optimizer/: optimizer state is missing ['m/U']" in line
    assert "--reset-optimizer" in line and path.read_bytes() == before
    argv = ["train", "--checkpoint", str(path), "--resume", "--epochs", "2", "--reset-optimizer"]
    assert main([*argv, "--no-progress"]) == 0
    saved = load_checkpoint(path)
    assert int(saved.optimizer_state["t"]) == 8  # one epoch of 60 / 8 batches, from zero
    assert saved.optimizer_state["m/U"].shape == (8, 30)
    with pytest.raises(SystemExit) as info:
        main(["train", *SMALL, "--checkpoint", str(tmp_path / "new.npz"), "--reset-optimizer"])
    assert info.value.code == 2 and "of a run continued with --resume" in capsys.readouterr().err
