"""`python -m rnnlib train|generate|bench`: runs, checkpoints, Ctrl-C and --resume, bad values."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from rnnlib.numpy_rnn.fast import RNNNumpyFast
from rnnlib.numpy_rnn.readable import RNNNumpy
from rnnlib.tools.cli import main
from rnnlib.training.checkpoint import load_checkpoint

# A small synthetic corpus: quick to build, and learnable.
SMALL = ["--corpus", "synthetic", "--sentences", "120", "--vocabulary-size", "30",
         "--hidden", "8", "--no-progress"]  # fmt: skip


def train(tmp_path, *extra, name="run.npz"):
    path = tmp_path / name
    assert main(["train", *SMALL, "--checkpoint", str(path), *extra]) == 0
    return load_checkpoint(path)


def test_train_writes_a_checkpoint_whose_loss_fell(tmp_path, capsys):
    checkpoint = train(tmp_path, "--epochs", "3", "--batch-size", "4", "--learning-rate", "0.01")
    model, vocab = checkpoint.model, checkpoint.vocab
    assert isinstance(model, RNNNumpyFast) and model.hidden_dim == 8
    assert len(vocab) == model.word_dim == 30
    state = checkpoint.training_state
    assert state["epoch"] == 3 and state["settings"]["batch_size"] == 4
    losses = [e[2] for e in state["history"]["evaluations"]]
    assert len(losses) == 4 and losses[-1] < losses[0] - 0.1
    err = capsys.readouterr().err
    assert "epoch 3" in err and f"final loss {losses[-1]:.4f}" in err  # the loss at evaluations
    saved = json.loads((tmp_path / "run.npz.args.json").read_text())
    assert saved["corpus"] == "synthetic" and saved["sentences"] == 120


def test_readable_backend_and_text_corpus(tmp_path):
    text = tmp_path / "tiny.txt"
    text.write_text("The cat sat on the mat. The dog sat on the log.\n\nA cat and a dog ran.\n")
    path = tmp_path / "readable.npz"
    argv = ["train", "--backend", "numpy-readable", "--corpus", "text", "--corpus-path",
            str(text), "--vocabulary-size", "8", "--hidden", "4", "--epochs", "1",
            "--no-progress", "--checkpoint", str(path)]  # fmt: skip
    assert main(argv) == 0
    checkpoint = load_checkpoint(path)
    assert isinstance(checkpoint.model, RNNNumpy)
    # Counted by hand: the 4, "." 3, then a/cat/dog/on/sat 2 each (ties alphabetical); 8 - 3
    # special tokens leaves room for 5 words.
    assert checkpoint.vocab.index_to_word[2:-1] == ["the", ".", "a", "cat", "dog"]


def test_reddit_csv_corpus(tmp_path):
    csv = tmp_path / "comments.csv"
    csv.write_text('body\n"Zebras run fast. Zebras sleep."\n"zebras &amp; lions run."\n')
    path = tmp_path / "reddit.npz"
    argv = ["train", "--corpus", "reddit", "--corpus-path", str(csv), "--vocabulary-size", "5",
            "--hidden", "4", "--epochs", "1", "--no-progress", "--checkpoint", str(path)]  # fmt: skip
    assert main(argv) == 0
    # Lower-cased, the body column only: "." and "zebras" (3 times each) lead; ties alphabetical.
    assert load_checkpoint(path).vocab.index_to_word[2:-1] == [".", "zebras"]


def test_generate_prints_sentences_of_vocabulary_words(tmp_path, capsys):
    checkpoint = train(tmp_path, "--epochs", "2")
    capsys.readouterr()
    path = str(tmp_path / "run.npz")
    assert main(["generate", path, "-n", "4", "--seed", "5", "--min-length", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    allowed = set(checkpoint.vocab.index_to_word[2:-1])  # never START, END or UNKNOWN
    for line in lines:
        assert set(line.split()) <= allowed and len(line.split()) >= 2
    assert main(["generate", path, "-n", "4", "--seed", "5", "--min-length", "2"]) == 0
    assert capsys.readouterr().out.splitlines() == lines  # the seed decides


def test_ctrl_c_leaves_a_checkpoint_that_resume_continues_exactly(tmp_path):
    """SIGINT mid-run, --resume to epoch E: the same weights as one uninterrupted run to E."""
    path = tmp_path / "interrupted.npz"
    argv = ["train", *SMALL, "--batch-size", "1", "--seed", "3", "--epochs", "100000"]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnlib", *argv, "--checkpoint", str(path)],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not path.exists() and time.monotonic() < deadline:  # the epoch-0 evaluation
            time.sleep(0.05)
        assert path.exists(), "training never wrote its first checkpoint"
        time.sleep(0.3)  # now somewhere in the middle of training
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "--resume" in err
    state = load_checkpoint(path).training_state
    stop = state["epoch"] + 2
    assert main(["train", "--checkpoint", str(path), "--resume", "--epochs", str(stop),
                 "--no-progress"]) == 0  # fmt: skip
    resumed = load_checkpoint(path)
    assert resumed.training_state["epoch"] == stop
    reference = train(tmp_path, "--batch-size", "1", "--seed", "3", "--epochs", str(stop),
                      name="reference.npz")  # fmt: skip
    for name, value in reference.model.get_params().items():
        np.testing.assert_array_equal(resumed.model.get_params()[name], value)
    assert resumed.training_state["history"] == reference.training_state["history"]


def test_bench_command_runs_quick(capsys):
    assert main(["bench", "--quick", "--only", "numpy-fast", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == ["numpy-fast"] and rows[0]["tokens_per_s"] > 0


@pytest.mark.parametrize(
    "argv, words",
    [
        (["train", "--hidden", "0"], "--hidden: expected a positive integer, got '0'"),
        (["train", "--learning-rate", "-1"], "expected a positive number, got '-1'"),
        (["train", "--bptt-truncate", "two"], "or -1 for full BPTT, got 'two'"),
        (["train", "--bptt-truncate", "-3"], "expected an integer >= 0, or -1 for full BPTT"),
        (["train", "--backend", "cuda"], "invalid choice: 'cuda'"),
        (["train", "--corpus", "text"], "--corpus text needs --corpus-path FILE"),
        (["train", "--corpus-path", "x.txt"], "--corpus-path is for --corpus text or reddit"),
        (["train", "--corpus", "reddit", "--corpus-path", "no.csv"], "no.csv: no such file"),
        (["generate", "nowhere.npz"], "no checkpoint file at nowhere.npz"),
        (["generate", "x.npz", "--temperature", "0"], "expected a positive number, got '0'"),
        (["generate", "x.npz", "-n", "many"], "expected a positive integer, got 'many'"),
        (["bench", "--vocab", "0"], "expected a positive integer, got '0'"),
        ([], "required: command"),
    ],
)
def test_bad_values_get_clear_argparse_errors(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert words in capsys.readouterr().err


def test_resume_refuses_new_data_or_model_options_and_missing_runs(tmp_path, capsys):
    train(tmp_path, "--epochs", "1")
    path = str(tmp_path / "run.npz")
    with pytest.raises(SystemExit):
        main(["train", "--checkpoint", path, "--resume", "--hidden", "20"])
    assert "leave out --hidden" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--checkpoint", str(tmp_path / "none.npz"), "--resume"])
    assert "--resume:" in capsys.readouterr().err
