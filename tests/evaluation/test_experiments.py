"""Side-by-side training helpers: parameter counts in closed form, budgets, the long-range rows."""

import math

import numpy as np
import pytest

from rnnlib.data.benchmark import benchmark_split
from rnnlib.data.long_range import LongRangeLanguage
from rnnlib.evaluation import score
from rnnlib.evaluation.experiments import (
    comparison_table,
    parameter_count,
    train_for,
    truncation_experiment,
)
from rnnlib.numpy_rnn import RNNNumpy, RNNNumpyFast


def test_parameter_count_is_the_closed_form():
    C, H = 50, 7
    assert parameter_count(RNNNumpy(C, H)) == 2 * C * H + H * H  # U, V and W
    from rnnlib.pytensor_rnn import GRUPyTensor

    # E (H, C), U and W (6, H, H), b (6, H), V (C, H), c (C,); its RMSprop caches excluded.
    gru = GRUPyTensor(C, H)
    assert parameter_count(gru) == H * C + 2 * 6 * H * H + 6 * H + C * H + C
    assert len(gru.get_params()) > len(gru.WEIGHT_NAMES)


def test_train_for_runs_the_recipe_and_keeps_test_for_later():
    split = benchmark_split().prefix(train=300, validation=100, test=100)
    model = RNNNumpyFast(len(split.vocab), 8, seed=0)
    trained = train_for(
        "fast", model, split, minutes=5, nepoch=3, optimizer="adam", batch_size=16,
        evaluate_loss_after=1, keep_best=True, patience=2,
    )  # fmt: skip
    assert trained.validation == score(model, split, "validation")
    assert trained.validation.loss < math.log(len(split.vocab))  # it learned something
    losses = trained.history.losses
    assert [loss for _, loss in trained.curve] == losses  # one point per evaluation
    seconds = [t for t, _ in trained.curve]
    assert seconds[0] == 0 and seconds == sorted(seconds) and seconds[-1] > 0
    assert trained.train_seconds == pytest.approx(seconds[-1], rel=0.5)  # the last steps
    assert trained.best_epoch == int(np.argmin(losses))  # every epoch evaluated
    assert trained.validation.loss == pytest.approx(min(losses), rel=1e-5)  # the best kept
    sentences = sum(len(y) for y in split.train.y) / len(split.train.y)
    assert trained.words_seen == round(3 * 300 * sentences)
    assert trained.capped == (trained.history.stop_reason == "")
    assert trained.test_score is None  # not looked at until asked
    assert trained.test() is trained.test() and trained.test().split == "test[:100]"
    assert trained.parameters == parameter_count(model)


def test_comparison_table_rounds_and_aligns():
    table = comparison_table([{"model": "a", "params": 12345, "ppl": 106.23, "loss": 4.6651}])
    assert table.splitlines() == [
        "| model | params | ppl | loss |",
        "|---|---|---|---|",
        "| a | 12,345 | 106.2 | 4.665 |",
    ]


def test_truncation_experiment_rows_carry_the_exact_floors():
    language = LongRangeLanguage(4, 3)
    rows = truncation_experiment(language, [1, -1], hidden_dim=4, n_train=60, n_val=30, nepoch=2)
    assert [r["bptt_truncate"] for r in rows] == [1, -1]
    assert rows[0]["window_floor"] == pytest.approx(language.window_entropy(1))
    assert rows[1]["window_floor"] == rows[1]["exact entropy"] == language.entropy_per_token
    assert all(np.isfinite(r["loss"]) and r["loss"] > r["exact entropy"] * 0.9 for r in rows)


def test_a_run_a_cap_stops_mid_epoch_ends_its_curve_with_the_model_it_kept():
    split = benchmark_split().prefix(train=300, validation=100, test=100)
    model = RNNNumpyFast(len(split.vocab), 8, seed=0)
    trained = train_for("fast", model, split, minutes=0.005, optimizer="adam", batch_size=8,
                        evaluate_loss_after=1, keep_best=True)  # fmt: skip
    evaluations = trained.history.evaluations
    # 0.3 s of training: the cap lands inside an epoch (at its very end only by rare chance).
    assert trained.history.examples_seen % 300 != 0, "the cap fell on an epoch's end: rerun"
    assert len(trained.curve) == len(evaluations) + 1  # the end, after the last evaluation
    assert trained.curve[-1] == (trained.train_seconds, trained.validation.loss)
    assert trained.capped and trained.kept.startswith("end (")  # better than any evaluation
