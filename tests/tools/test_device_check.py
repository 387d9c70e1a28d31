"""`python -m rnnlib.tools.device_check`: its JSON against what JAX and the split say themselves."""

import json
import math

import jax
import keras
import numpy as np
import pytest

from rnnlib.data.batching import length_batches
from rnnlib.data.benchmark import benchmark_split
from rnnlib.tools import device_check


@pytest.fixture(scope="module")
def report():
    # Tiny on purpose: two timed steps of a small LSTM, scored on 10 validation sentences.
    argv = ["--steps", "2", "--batch-size", "4", "--hidden", "8", "--validation", "10"]
    printed = []
    assert device_check.main(argv, out=printed.append) == 0
    return json.loads(printed[0])


def test_it_names_the_devices_and_versions_jax_reports(report):
    assert report["devices"] == [f"{d.platform}:{d.id} {d.device_kind}" for d in jax.devices()]
    versions = report["versions"]
    assert versions["jax"] == jax.__version__ and versions["keras"] == keras.__version__


@pytest.mark.skipif(jax.devices()[0].platform != "cpu", reason="a machine with an accelerator")
def test_without_an_accelerator_it_says_so_and_measures_the_cpu_only(report):
    assert report["accelerator"] is None and "no accelerator" in report["note"]
    assert list(report["runs"]) == ["cpu"] and report["versions"]["cuda"] is None


def test_the_cpu_run_counts_the_words_of_its_steps_and_scores_validation(report):
    run = report["runs"]["cpu"]
    train = benchmark_split().train
    # Two batches of 4 sentences of one bucket length each (seed 0), their words counted here.
    batches = length_batches([len(x) for x in train.X], 4, np.random.default_rng(0))[:2]
    assert all(len(rows) == 4 for rows in batches)
    assert run["words"] == sum(len(train.y[i]) for rows in batches for i in rows)
    assert run["words_per_second"] == pytest.approx(run["words"] / run["seconds"], rel=0.01)
    assert run["validation"] == "validation[:10]"
    # Barely trained: about as unsure as a uniform guess over C = 8000 words, and no worse.
    assert 1000 < run["validation_perplexity"] < 1.5 * 8000
    hours = device_check.WIKITEXT103_TRAIN_WORDS / run["words_per_second"] / 3600
    assert math.isclose(run["wikitext103_epoch_hours"], hours, rel_tol=0.01)
