"""`python -m rnnlib train --backend B --cell C`: every word model of the series, with its recipe."""

import json

import numpy as np
import pytest

from rnnlib.evaluation.recipes import RECIPES, recipe
from rnnlib.tools.cli import main
from rnnlib.training.checkpoint import load_checkpoint

SMALL = ["--corpus", "synthetic", "--sentences", "60", "--vocabulary-size", "30",
         "--hidden", "6", "--no-progress", "--epochs", "2"]  # fmt: skip


@pytest.mark.parametrize(
    "backend, cell", [("pytensor", "gru"), ("keras", "gru"), ("keras", "lstm")]
)
def test_each_gated_pair_trains_with_its_recipe_and_evaluates(backend, cell, tmp_path, capsys):
    path = tmp_path / "run.npz"
    # The benchmark split (C = 8000), so that `evaluate` can score the checkpoint on it.
    on_benchmark = ["--sentences", "40", "--hidden", "4", "--epochs", "2", "--no-progress"]
    argv = ["train", *on_benchmark, "--backend", backend, "--cell", cell, "--checkpoint", str(path)]
    assert main(argv) == 0
    saved = load_checkpoint(path)
    expected = recipe(backend, cell)
    assert type(saved.model) is expected.model_type()
    assert saved.model.config().get("dropout", 0.0) == expected.dropout  # the recipe's
    assert str(saved.optimizer_state["name"]) == expected.optimizer == "adam"
    assert saved.training_state["history"]["step_loss"] == "mean per target token"
    losses = [e[2] for e in saved.training_state["history"]["evaluations"]]
    assert min(losses) < losses[0]  # it learned
    capsys.readouterr()
    assert main(["evaluate", str(path), "--split", "validation", "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert np.isfinite(scored["loss"]) and scored["perplexity"] == pytest.approx(
        np.exp(scored["loss"])
    )


@pytest.mark.parametrize(
    "argv, words",
    [
        (
            ["--backend", "numpy-fast", "--cell", "gru"],
            "--backend numpy-fast --cell gru does not exist",
        ),
        (
            ["--backend", "pytensor", "--cell", "lstm"],
            "the pairs are numpy-readable/rnn, numpy-fast/rnn",
        ),
        (["--cell", "transformer"], "invalid choice: 'transformer'"),
        (["--dropout", "1"], "--dropout: expected a dropout rate in [0, 1), got '1'"),
        (["--dropout", "-0.1"], "expected a dropout rate in [0, 1), got '-0.1'"),
        (["--backend", "pytensor", "--dropout", "0.2"], "--dropout needs a model that has it"),
        (["--backend", "numpy-readable", "--tie-embeddings"], "--tie-embeddings needs a model"),
        (["--patience", "0"], "--patience: expected a positive integer, got '0'"),
        (
            ["--backend", "numpy-readable", "--optimizer", "rmsprop"],
            "needs a model with step_batch",
        ),
    ],
)
def test_pairs_and_options_a_model_lacks_are_one_line_before_training(
    argv, words, tmp_path, capsys
):
    with pytest.raises(SystemExit) as stopped:
        main(["train", *SMALL, *argv, "--checkpoint", str(tmp_path / "run.npz")])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not (tmp_path / "run.npz").exists()  # nothing written


def test_tied_embeddings_are_one_matrix_in_the_saved_model(tmp_path):
    path = tmp_path / "tied.npz"
    argv = ["train", *SMALL, "--tie-embeddings", "--dropout", "0", "--checkpoint", str(path)]
    assert main(argv) == 0
    model = load_checkpoint(path).model
    assert model.config()["tie_embeddings"] is True
    np.testing.assert_array_equal(model.get_params().get("V", model.V), model.U.T)


def test_every_recipe_with_an_optimizer_stops_early_and_keeps_its_best():
    for (backend, _cell), chosen in RECIPES.items():
        options = chosen.train_options()
        if chosen.optimizer is None:  # the tutorial's loop keeps the tutorial's behaviour
            assert "patience" not in options and backend == "numpy-readable"
        else:
            assert options["patience"] >= 1 and options["keep_best"]
            assert options["restore_best_on_halving"] and options["min_learning_rate"] > 0


def test_only_the_padded_models_take_batches_of_one_length():
    for (backend, _cell), chosen in RECIPES.items():
        if chosen.optimizer is not None:
            assert chosen.train_options()["length_batches"] == (backend in ("pytensor", "keras"))
