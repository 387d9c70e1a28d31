"""Checkpoints: exact round trips, the model rebuilt from the file alone, clear errors, crafted files."""

import http.server
import importlib
import io
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

import rnnlib
from rnnlib.data.vocab import SENTENCE_END, SENTENCE_START, UNKNOWN_TOKEN, Vocabulary
from rnnlib.numpy_rnn import RNNNumpy
from rnnlib.training.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from rnnlib.training.optimizers import Adam

WORDS = [SENTENCE_START, SENTENCE_END, "the", "cat", "sat", "on", "mat", UNKNOWN_TOKEN]


@pytest.fixture
def trained():
    """A model whose weights differ from any freshly built one, and its vocabulary."""
    model = RNNNumpy(len(WORDS), 4, bptt_truncate=2, seed=3)
    model.sgd_step([0, 2, 3, 4], [2, 3, 4, 1], 0.5)
    return model, Vocabulary(WORDS)


def assert_same_params(a, b):
    pa, pb = a.get_params(), b.get_params()
    assert pa.keys() == pb.keys()
    for name in pa:
        assert pa[name].dtype == pb[name].dtype
        np.testing.assert_array_equal(pa[name], pb[name])


def test_round_trip_keeps_everything(tmp_path, trained):
    model, vocab = trained
    state = {"epoch": 3, "learning_rate": 0.0025, "history": {"evaluations": [[0, 0, 2.1, 0.005]]}}
    path = save_checkpoint(tmp_path / "model.npz", model, vocab, training_state=state)
    loaded = load_checkpoint(path)
    assert type(loaded.model) is RNNNumpy
    assert loaded.model.config() == model.config()
    assert_same_params(loaded.model, model)
    assert loaded.vocab == vocab and loaded.vocab.index_to_word == WORDS
    assert loaded.training_state == state
    assert loaded.version == rnnlib.__version__
    x = [0, 2, 5]
    np.testing.assert_array_equal(
        loaded.model.forward_propagation(x)[0], model.forward_propagation(x)[0]
    )


def test_optimizer_state_round_trips_without_pickle(tmp_path, trained):
    model, _ = trained
    optimizer = Adam(0.01)
    optimizer.update(model.get_params(), model.bptt([0, 2, 3], [2, 3, 1]))
    state = optimizer.state_dict()
    path = save_checkpoint(tmp_path / "m.npz", model, optimizer_state=state)
    loaded = load_checkpoint(path).optimizer_state  # read with allow_pickle=False
    assert loaded.keys() == state.keys()
    for key, value in state.items():
        assert loaded[key].dtype != object
        np.testing.assert_array_equal(loaded[key], value)
    assert load_checkpoint(save_checkpoint(tmp_path / "n.npz", model)).optimizer_state is None
    with pytest.raises(CheckpointError, match=r"missing optimizer state keys \['m/U'\]"):
        load_checkpoint(rewrite(path, tmp_path / "bad.npz", lambda a, m: a.pop("optimizer/m/U")))
    with pytest.raises(TypeError, match="optimizer state 'x'"):
        save_checkpoint(tmp_path / "o.npz", model, optimizer_state={"x": {"a": 1}})


def test_load_model_builds_the_saved_size_by_itself(tmp_path):
    model = RNNNumpy(11, 6, bptt_truncate=None, seed=4, dtype=np.float32)
    save_checkpoint(tmp_path / "m.npz", model)
    loaded = load_model(tmp_path / "m.npz")
    assert (loaded.word_dim, loaded.hidden_dim, loaded.bptt_truncate) == (11, 6, -1)
    assert loaded.U.dtype == np.float32
    assert_same_params(loaded, model)
    assert load_checkpoint(tmp_path / "m.npz").vocab is None


def test_npz_suffix_is_added_like_numpy_does(tmp_path, trained):
    model, vocab = trained
    written = save_checkpoint(tmp_path / "run1", model, vocab)
    assert written == tmp_path / "run1.npz" and written.is_file()
    assert_same_params(load_model(tmp_path / "run1"), model)  # either name loads it
    assert_same_params(load_model(written), model)


def test_saving_is_atomic_and_leaves_no_temporary_files(tmp_path, trained, monkeypatch):
    model, vocab = trained
    path = save_checkpoint(tmp_path / "runs" / "m.npz", model, vocab)  # creates runs/
    first = path.read_bytes()
    with pytest.raises(TypeError, match="JSON"):
        save_checkpoint(path, model, vocab, training_state={"bad": object()})

    def disk_full(file, **arrays):
        file.write(b"PK half an archive")
        raise OSError("No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(np, "savez", disk_full)
        with pytest.raises(OSError, match="No space"):
            save_checkpoint(path, model, vocab)
    assert path.read_bytes() == first  # neither failed save touched the old file
    model.sgd_step([0, 3], [3, 1], 0.5)
    save_checkpoint(path, model, vocab)
    assert_same_params(load_model(path), model)
    assert os.listdir(path.parent) == ["m.npz"]


def test_save_refuses_inconsistent_input(tmp_path, trained):
    model, _ = trained
    with pytest.raises(ValueError, match="vocabulary has 4 words but the model's word_dim is 8"):
        save_checkpoint(tmp_path / "m.npz", model, Vocabulary(WORDS[:2] + ["a", UNKNOWN_TOKEN]))
    with pytest.raises(TypeError, match="only the series. word-level models can be checkpointed"):
        save_checkpoint(tmp_path / "m.npz", NotOurs(8, 4))


class NotOurs(RNNNumpy):
    """A subclass defined outside rnnlib: its module could not be trusted at load time."""


# --- broken files -------------------------------------------------------------------------


def rewrite(src, dst, change):
    """Copy the arrays of checkpoint `src` to `dst` after `change(arrays, meta)`."""
    with np.load(src) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["meta"]))
    change(arrays, meta)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(dst, **arrays)
    return dst


@pytest.fixture
def good(tmp_path, trained):
    model, vocab = trained
    return save_checkpoint(tmp_path / "good.npz", model, vocab, training_state={"epoch": 1})


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing"):
        load_checkpoint(tmp_path / "nothing.npz")


def test_not_an_npz(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("just some text\n")
    with pytest.raises(CheckpointError, match="notes.npz"):
        load_checkpoint(path)
    np.save(tmp_path / "array.npy", np.arange(3))
    with pytest.raises(CheckpointError, match="single .npy array"):
        load_checkpoint(tmp_path / "array.npy")


def test_truncated_file(tmp_path, good):
    data = good.read_bytes()
    for cut in (len(data) // 2, len(data) - 30):
        broken = tmp_path / f"cut{cut}.npz"
        broken.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=f"cut{cut}.npz"):
            load_checkpoint(broken)
    # Flipped bytes inside a stored array (U's numbers): the zip's CRC check catches them.
    with zipfile.ZipFile(good) as archive:
        member = archive.getinfo("param/U.npy")
    header = data[member.header_offset : member.header_offset + 30]
    name_length, extra_length = (
        int.from_bytes(header[26:28], "little"),
        int.from_bytes(header[28:30], "little"),
    )
    start = member.header_offset + 30 + name_length + extra_length + member.compress_size // 2
    flipped = bytearray(data)
    flipped[start : start + 8] = bytes(255 - b for b in flipped[start : start + 8])
    (tmp_path / "flipped.npz").write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="flipped.npz"):
        load_checkpoint(tmp_path / "flipped.npz")


def test_parameter_shape_disagreeing_with_config(tmp_path, good):
    def change(arrays, meta):
        meta["config"]["hidden_dim"] = 5

    with pytest.raises(CheckpointError, match=r"U has shape \(4, 8\).*needs \(5, 8\)"):
        load_checkpoint(rewrite(good, tmp_path / "bad.npz", change))


def test_vocabulary_size_disagreeing_with_word_dim(tmp_path, good):
    def change(arrays, meta):
        arrays["vocab_words"] = np.array(WORDS[:-2] + [UNKNOWN_TOKEN])

    with pytest.raises(CheckpointError, match="7 words but the model's word_dim is 8"):
        load_checkpoint(rewrite(good, tmp_path / "bad.npz", change))


def test_missing_keys(tmp_path, good):
    with pytest.raises(CheckpointError, match="missing key 'param/W'"):
        load_checkpoint(rewrite(good, tmp_path / "a.npz", lambda a, m: a.pop("param/W")))
    with pytest.raises(CheckpointError, match="missing vocabulary keys"):
        load_checkpoint(rewrite(good, tmp_path / "b.npz", lambda a, m: a.pop("vocab_words")))
    with np.load(good) as f:
        arrays = {k: f[k] for k in f.files if k != "meta"}
    np.savez(tmp_path / "c.npz", **arrays)
    with pytest.raises(CheckpointError, match="missing key 'meta'"):
        load_checkpoint(tmp_path / "c.npz")


def test_only_rnnlib_classes_are_loaded(tmp_path, good):
    def change(arrays, meta):
        meta["model_class"] = "os:system"

    with pytest.raises(CheckpointError, match="refusing to load model class 'os:system'"):
        load_checkpoint(rewrite(good, tmp_path / "bad.npz", change))


def test_pickled_content_is_refused(tmp_path, good):
    def change(arrays, meta):
        arrays["param/U"] = np.array([{"a": 1}], dtype=object)

    with pytest.raises(CheckpointError, match="bad.npz"):
        load_checkpoint(rewrite(good, tmp_path / "bad.npz", change))


def test_garbled_metadata(tmp_path, good):
    with np.load(good) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["meta"] = np.array("{not json")
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(CheckpointError, match="unreadable metadata"):
        load_checkpoint(tmp_path / "bad.npz")


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.mark.parametrize(
    "file, module, class_name",
    [
        ("rnn_numpy_v0.1.0.npz", "rnnlib.numpy_rnn", "RNNNumpy"),
        ("rnn_numpy_fast_v0.1.0.npz", "rnnlib.numpy_rnn", "RNNNumpyFast"),
        ("rnn_pytensor_v0.1.0.npz", "rnnlib.pytensor_rnn", "RNNPyTensor"),
        ("gru_pytensor_v0.1.0.npz", "rnnlib.pytensor_rnn", "GRUPyTensor"),
    ],
)
@pytest.mark.fixtures
def test_checkpoints_written_before_the_layout_change_still_load(
    file, module, class_name, assert_close_across_machines
):
    """Files of rnnlib 0.1.0 name the old flat modules (rnnlib.numpy_rnn.readable:RNNNumpy, ...)."""
    with np.load(FIXTURES / file) as archive:
        assert ":" in (old_name := json.loads(str(archive["meta"]))["model_class"])
    assert old_name.split(":")[0].count(".") == 1  # e.g. rnnlib.numpy_rnn.fast: the old layout
    checkpoint = load_checkpoint(FIXTURES / file)
    model_class = getattr(importlib.import_module(module), class_name)
    assert type(checkpoint.model) is model_class
    # The fixture holds a fresh model of seed 7: the same class today draws the same weights.
    fresh = model_class(12, hidden_dim=4, bptt_truncate=3, seed=7)
    assert checkpoint.model.config() == fresh.config()
    # Written on another machine: compared within float tolerance (see conftest.py).
    assert_close_across_machines(checkpoint.model.get_params(), fresh.get_params())
    assert checkpoint.vocab.index_to_word[2] == "w0" and len(checkpoint.vocab) == 12
    assert checkpoint.training_state["epoch"] == 1


# --- crafted files: nothing of the file's choosing runs ---------------------------------------


class CountingServer:
    """A real local HTTP server that counts the requests it gets."""

    def __init__(self):
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the http.server name)
                outer.requests += 1
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"body\nfetched\n")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/data.csv"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def crafted_calls(tmp_path, server):
    """(class name, config, what would show it ran) for functions a crafted file might name."""
    written = tmp_path / "written.txt"
    notebook = tmp_path / "evil.ipynb"
    ran = tmp_path / "notebook-ran.txt"
    code = f"open({str(ran)!r}, 'w').write('ran')"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), notebook)
    touched = tmp_path / "system-ran.txt"
    return [
        ("rnnlib._io:atomic_write_text", {"path": str(written), "text": "pwned"}, written.exists),
        ("rnnlib.tools.book:execute_notebook", {"path": str(notebook)}, ran.exists),
        ("rnnlib.book:execute_notebook", {"path": str(notebook)}, ran.exists),  # the old path
        (
            "rnnlib.data.corpus:download",
            {"name_or_url": server.url, "cache_dir": str(tmp_path / "cache")},
            lambda: server.requests > 0,
        ),
        ("rnnlib.corpus:download", {"name_or_url": server.url}, lambda: server.requests > 0),
        ("os:system", {"command": f"touch {touched}"}, touched.exists),
        ("rnnlib.numpy_rnn.readable:np.save", {"file": str(written), "arr": 1}, written.exists),
    ]


@pytest.fixture
def server():
    server = CountingServer()
    yield server
    server.close()


def test_a_crafted_checkpoint_runs_nothing_of_its_choosing(tmp_path, good, server):
    """Files naming a writer, a notebook runner, a downloader, os.system: all refused, none run.

    (rnnlib before the layout change imported any rnnlib.* attribute a file named and called
    it with the file's config: the atomic_write_text file wrote written.txt.)
    """
    for i, (name, config, ran) in enumerate(crafted_calls(tmp_path, server)):

        def change(arrays, meta, name=name, config=config):
            meta["model_class"], meta["config"] = name, config

        crafted = rewrite(good, tmp_path / f"crafted{i}.npz", change)
        with pytest.raises(CheckpointError, match=f"refusing to load model class '{name}'"):
            load_checkpoint(crafted)
        assert not ran(), f"{name} ran"


def test_the_cli_refuses_a_crafted_checkpoint_without_running_it(tmp_path, good, server):
    """`python -m rnnlib generate evil.npz`, as the issue's attacker ran it: nothing written."""
    target = tmp_path / "written.txt"

    def change(arrays, meta):
        meta["model_class"] = "rnnlib._io:atomic_write_text"
        meta["config"] = {"path": str(target), "text": "pwned"}

    evil = rewrite(good, tmp_path / "evil.npz", change)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    done = subprocess.run(
        [sys.executable, "-m", "rnnlib", "generate", str(evil)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr  # a bad file, not argument
    assert "refusing to load model class 'rnnlib._io:atomic_write_text'" in done.stderr
    assert not target.exists()


# --- sizes: checked before anything is allocated ---------------------------------------------


def peak_bytes(call) -> int:
    """The most memory Python and NumPy held at once during call() (tracemalloc sees both)."""
    tracemalloc.start()
    try:
        call()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


def refused(path, match):
    def call():
        with pytest.raises(CheckpointError, match=match):
            load_checkpoint(path)

    return call


def test_a_config_asking_for_a_huge_model_is_refused_before_building_it(tmp_path, good):
    """The issue's 4 KB file whose config says word_dim = 1_000_000: refused, nothing allocated.

    (Before: the model was built first, 2 x 4e6 float64 weights here, then rejected.)
    """

    def change(arrays, meta):
        meta["config"]["word_dim"] = 1_000_000

    crafted = rewrite(good, tmp_path / "huge.npz", change)
    assert crafted.stat().st_size < 8000
    start = time.perf_counter()
    peak = peak_bytes(refused(crafted, r"U has shape \(4, 8\).*needs \(4, 1000000\)"))
    assert peak < 4_000_000 and time.perf_counter() - start < 2


@pytest.mark.parametrize(
    "word_dim, words",
    [
        (10**9, r"refused: word_dim=1000000000 and hidden_dim=4 ask for .* at most 1e\+08"),
        (1e9, r"refused: word_dim must be a positive integer, got 1000000000.0"),
        ("8", r"refused: word_dim must be a positive integer, got '8'"),
        (True, r"refused: word_dim must be a positive integer, got True"),
    ],
)
def test_config_sizes_are_checked_against_the_limit(tmp_path, good, word_dim, words):
    def change(arrays, meta):
        meta["config"]["word_dim"] = word_dim

    assert peak_bytes(refused(rewrite(good, tmp_path / "bad.npz", change), words)) < 4_000_000


def npy_header_only(shape, dtype="<f8") -> bytes:
    """An .npy member whose header promises `shape` but that holds no data at all."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": dtype, "fortran_order": False, "shape": shape}
    )
    return out.getvalue()


def test_array_headers_are_checked_before_their_data_is_read(tmp_path, good):
    """A member whose header claims (4, 10**8) floats: refused before NumPy allocates 3.2 GB.

    (Before, np.load allocated the whole promised array, then found the data missing.)
    """
    crafted = tmp_path / "liar.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(crafted, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "param/U.npy":
                data = npy_header_only((4, 10**8))
            dst.writestr(item, data)
    match = r"U has shape \(4, 100000000\), but the saved config .* needs \(4, 8\)"
    assert peak_bytes(refused(crafted, match)) < 4_000_000
    meta = tmp_path / "long-meta.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(meta, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "meta.npy":
                data = npy_header_only((), "<U100000000")  # a 400 MB string, promised
            dst.writestr(item, data)
    assert peak_bytes(refused(meta, "'meta' must be one string of at most")) < 4_000_000


# --- values: NaN and inf are refused, naming the parameter ---------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_in_a_file_are_refused_naming_the_parameter(tmp_path, good, bad):
    def change(arrays, meta):
        arrays["param/V"] = arrays["param/V"].copy()
        arrays["param/V"][3, 1] = bad

    with pytest.raises(CheckpointError, match=r"parameter V holds 1 NaN or infinite .*\(3, 1\)"):
        load_checkpoint(rewrite(good, tmp_path / "bad.npz", change))


# --- a real full disk ------------------------------------------------------------------------


def test_a_real_full_disk_keeps_the_old_checkpoint(small_tmpfs, trained):
    """A 96 KB tmpfs holds the small checkpoint but not a bigger one: the old stays, intact."""
    model, vocab = trained
    path = save_checkpoint(small_tmpfs(96) / "m.npz", model, vocab)
    first = path.read_bytes()
    with pytest.raises(OSError) as info:
        save_checkpoint(path, RNNNumpy(2000, 20))
    assert str(info.value) == f"cannot write {path}: No space left on device"
    assert path.read_bytes() == first and os.listdir(path.parent) == ["m.npz"]
    assert_same_params(load_model(path), model)
