"""The bench: a --quick smoke run of every implementation, the correctness guard, the registry.

No timing is asserted anywhere: throughput depends on the machine and its neighbours.
"""

import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from rnnlib.numpy_rnn.readable import RNNNumpy
from rnnlib.tools import bench


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def test_quick_run_gives_well_formed_rows_for_every_available_implementation():
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax")}
    result = subprocess.run(
        [sys.executable, "-m", "rnnlib.tools.bench", "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr  # 1 would mean a model failed the guard
    rows = json.loads(result.stdout)
    names = {row["name"] for row in rows}
    expected = {"numpy-readable", "numpy-fast"}
    expected |= {"torch nn.RNN"} if available("torch") else set()
    expected |= {"keras SimpleRNN"} if available("keras") else set()
    if available("rnnlib.pytensor_rnn.rnn"):
        expected |= {"pytensor", "pytensor-batched"}
    if available("rnnlib.keras_rnn.word"):
        expected |= {"keras KerasRNN", "keras KerasGRU", "keras KerasLSTM"}
    expected |= {"torch nn.GRU", "torch nn.LSTM"} if available("torch") else set()
    assert expected <= names, result.stderr
    for row in rows:
        assert isinstance(row["name"], str)
        assert row["tokens_per_s"] > 0
        assert row["min"] <= row["tokens_per_s"] <= row["max"]
        assert len(row["repeats"]) == bench.QUICK["repeats"]
        assert row["roofline_share"] > 0
    for cell in ("rnn", "gru", "lstm"):  # the fastest peer of each cell is its rows' unit
        peers = [row for row in rows if row["peer"] and row["cell"] == cell]
        if peers:
            assert max(row["vs_best_peer"] for row in peers) == pytest.approx(1.0)
        else:
            assert all(row["vs_best_peer"] is None for row in rows if row["cell"] == cell)
    for row in rows:
        if row["name"].startswith("numpy"):
            assert row["peak_mib"] > 0
            # The same path timed again in a child process with the other BLAS kernel choice.
            other = row["other_kernel"]
            assert other["tokens_per_s"] > 0 and other["roofline_share"] > 0
        else:
            assert "other_kernel" not in row


def tiny_setup(**overrides):
    return bench.Setup(
        **{"word_dim": 30, "hidden_dim": 5, "batch_size": 3, "length": 4, **overrides}
    )


def test_guard_refuses_a_model_that_computes_something_else(monkeypatch):
    def subtly_wrong(setup):  # W transposed: a classic slip, same shapes, different loss
        model = RNNNumpy(setup.word_dim, setup.hidden_dim, dtype=setup.dtype)
        runner = bench.interface_runner(model, setup, batched=False)
        model.W = model.W.T.copy()
        return runner

    monkeypatch.setitem(bench.REGISTRY, "wrong", bench.Entry("wrong", subtly_wrong, False, True))
    rows, context = bench.run(
        tiny_setup(), ["numpy-fast", "wrong"], repeats=1, seconds=0.001, gemm_n=32
    )
    assert [row["name"] for row in rows] == ["numpy-fast"]
    assert len(context["refused"]) == 1 and "wrong" in context["refused"][0]
    assert "RNNNumpy says" in context["refused"][0]


def test_guard_accepts_the_same_model_in_float32_and_float64():
    for dtype in ("float32", "float64"):
        setup = tiny_setup(dtype=dtype)
        runner = bench.REGISTRY["numpy-fast"].build(setup)
        bench.guard("numpy-fast", runner, setup)  # raises WrongModel on a mismatch


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_gated_rows_compute_the_numpy_reference_model_in_float64(cell):
    """Keras' GRU/LSTM (and PyTorch's, where installed) against the cells written in NumPy:
    the guard's tolerance is 1e-9 in float64, so gate order or bias layout cannot slip."""
    setup = tiny_setup(dtype="float64")
    names = [name for name, entry in bench.REGISTRY.items() if entry.cell == cell]
    assert {entry.peer for name, entry in bench.REGISTRY.items() if name in names} == {
        True,
        False,
    }
    for name in names:
        try:
            runner = bench.REGISTRY[name].build(setup)
        except bench.Unavailable:
            assert "torch" in name and not available("torch")
            continue
        bench.guard(name, runner, setup, cell=cell)  # raises WrongModel on a mismatch
        before = runner.loss(0)
        for _ in range(3):
            runner.step(0)
        assert runner.loss(0) < before  # and a step trains it


def test_a_gated_model_with_its_gates_swapped_is_refused():
    """The GRU's update and reset gates exchanged: same shapes, another model."""
    setup = tiny_setup(dtype="float64")
    params = setup.cell_params("gru")
    H = setup.hidden_dim
    swapped = {k: v.copy() for k, v in params.items()}
    for name in ("kernel", "recurrent_kernel", "bias"):
        a = swapped[name]
        a[..., :H], a[..., H : 2 * H] = params[name][..., H : 2 * H], params[name][..., :H]
    runner = bench.REGISTRY["keras KerasGRU"].build(setup)
    bench.guard("keras KerasGRU", runner, setup, cell="gru")
    setup.cell_params = lambda cell: swapped
    with pytest.raises(bench.WrongModel, match="keras KerasGRU: loss"):
        bench.guard(
            "keras KerasGRU",
            bench.REGISTRY["keras KerasGRU"].build(setup),
            setup,
            expected=bench.reference_loss(tiny_setup(dtype="float64"), "gru"),
        )


def test_unavailable_implementations_are_skipped_with_a_note(monkeypatch):
    def missing(setup):
        raise bench.Unavailable("needs a library that is not here")

    monkeypatch.setitem(bench.REGISTRY, "absent", bench.Entry("absent", missing, True, False))
    rows, context = bench.run(
        tiny_setup(), ["absent", "numpy-fast"], repeats=2, seconds=0.001, gemm_n=32
    )
    assert [row["name"] for row in rows] == ["numpy-fast"]
    assert context["notes"] == ["skipped absent: needs a library that is not here"]
    assert rows[0]["vs_best_peer"] is None  # no peer ran, so no ratio
    table = bench.format_table(rows, context, tiny_setup())
    assert "numpy-fast" in table and "skipped absent" in table


def test_timing_waits_for_queued_work(monkeypatch):
    """An implementation that returns at once and works later (like JAX) is timed in full."""
    setup = tiny_setup()

    def lazy(setup):
        real = bench.REGISTRY["numpy-fast"].build(setup)
        return bench.Runner(step=lambda i: None, loss=real.loss, sync=lambda: time.sleep(0.05))

    monkeypatch.setitem(bench.REGISTRY, "lazy", bench.Entry("lazy", lazy, False, False))
    rows, _ = bench.run(setup, ["lazy"], repeats=2, seconds=0.001, gemm_n=32)
    # Each repeat holds at least one 0.05 s sync, so the rate cannot exceed this bound.
    steps = 1  # seconds=0.001 is shorter than one synced step
    assert rows[0]["max"] <= steps * setup.tokens_per_batch / 0.05


def test_every_runner_trains_the_shared_weights():
    """Each runner starts from the shared weights, and its steps lower the loss of a batch."""
    setup = tiny_setup(learning_rate=0.05, n_batches=1)
    for name in ("numpy-readable", "numpy-fast"):
        runner = bench.REGISTRY[name].build(setup)
        before = runner.loss(0)
        expected = RNNNumpy(setup.word_dim, setup.hidden_dim)
        expected.set_params(setup.params)
        assert before == pytest.approx(expected.calculate_total_loss(*setup.batches[0]), rel=1e-5)
        for _ in range(5):
            runner.step(0)
        assert runner.loss(0) < before - 0.1


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--batch", "0"], "expected a positive integer, got '0'"),
        (["--lr", "nan"], "expected a positive number, got 'nan'"),
        (["--bptt-truncate", "-2"], "or -1 for full BPTT, got '-2'"),
        (["--settle", "-1"], "expected a number >= 0, got '-1'"),
        (["--dtype", "float16"], "invalid choice: 'float16'"),
        (["--only", "numpy-fast,cuda"], "unknown implementation(s) ['cuda']"),
    ],
)
def test_bad_arguments_get_clear_errors(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2
    assert words in capsys.readouterr().err


def test_setup_batches_are_seeded_and_in_range():
    a, b = tiny_setup(seed=3), tiny_setup(seed=3)
    for (xa, ya), (xb, yb) in zip(a.batches, b.batches, strict=True):
        np.testing.assert_array_equal(np.array(xa), np.array(xb))
        np.testing.assert_array_equal(np.array(ya), np.array(yb))
    ids = np.array([x for xs, _ in a.batches for x in xs])
    assert ids.shape == (a.n_batches * 3, 4) and 0 <= ids.min() and ids.max() < 30


# --- the other BLAS kernel choice --------------------------------------------------------------


def test_other_kernel_env_unpins_a_pinned_machine_and_pins_an_unpinned_one():
    pinned = {"PATH": "/bin", "OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "1048576"}
    env, label = bench.blas.other_kernel_env(pinned)
    assert env == {"PATH": "/bin"}
    assert "OPENBLAS_CORETYPE=Haswell" in label and "OPENBLAS_L2_SIZE=1048576" in label
    assert pinned["OPENBLAS_CORETYPE"] == "Haswell"  # the caller's mapping is left alone
    env, label = bench.blas.other_kernel_env({"PATH": "/bin"})
    assert env == {"PATH": "/bin", "OPENBLAS_CORETYPE": "Haswell"}
    assert label == "AVX2 kernels (OPENBLAS_CORETYPE=Haswell)"


@pytest.mark.skipif(not available("threadpoolctl"), reason="threadpoolctl names the kernel")
def test_the_child_runs_with_the_kernel_its_environment_names():
    """OPENBLAS_CORETYPE really steers NumPy's OpenBLAS in the child (threadpoolctl says so)."""
    env = {**os.environ, "OPENBLAS_CORETYPE": "Haswell"}
    child = bench.blas.run_child(["--quick", "--only", "numpy-fast"], env, timeout=120)
    assert [row["name"] for row in child["rows"]] == ["numpy-fast"]
    numpy_blas = [part for part in child["context"]["blas"].split("; ") if "from numpy" in part]
    if not numpy_blas or not numpy_blas[0].startswith("openblas"):
        pytest.skip(f"NumPy does not use OpenBLAS here: {child['context']['blas']}")
    assert "(Haswell," in numpy_blas[0]


def test_a_failed_child_run_is_a_note_not_a_failure(monkeypatch, capsys):
    def broken(argv, env, timeout):
        raise RuntimeError("the child bench exited with 1: boom")

    monkeypatch.setattr(bench.command, "run_child", broken)
    status = bench.main(["--quick", "--only", "numpy-fast"])
    out = capsys.readouterr().out
    assert status == 0
    assert "numpy-fast" in out and "exited with 1: boom" in out


def test_merged_figures_compare_with_this_runs_best_peer():
    rows = [
        {"name": "numpy-fast", "numpy": True},
        {"name": "torch nn.RNN", "numpy": False},
    ]
    context = {"best_peer_tokens_per_s": 200.0}
    figures = {"sgemm_gflops": 2.0, "roofline_tokens_per_s": 900.0, "blas": "openblas (Haswell)"}
    child = {
        "rows": [{"name": "numpy-fast", "tokens_per_s": 300.0, "min": 290.0, "max": 310.0,
                  "roofline_share": 0.33}],
        "context": {**figures, "notes": []},
    }  # fmt: skip
    bench.merge_other_kernel(rows, context, child, "AVX2 kernels")
    assert rows[0]["other_kernel"]["vs_best_peer"] == pytest.approx(1.5)
    assert rows[0]["other_kernel"]["roofline_share"] == 0.33  # the child's own roofline
    assert "other_kernel" not in rows[1]
    assert context["other_kernel"] == {"label": "AVX2 kernels", **figures}


@pytest.mark.parametrize("share, warned", [(0.4, False), (1.0, False), (2.14, True)])
def test_a_share_above_the_roofline_is_called_untrustworthy(share, warned):
    # Seen in a saved notebook: a peak measured under load made a row run at 214% of it.
    row = {"name": "numpy-fast", "tokens_per_s": 5e3, "min": 4e3, "max": 6e3, "vs_best_peer": None,
           "roofline_share": share, "peak_mib": None}  # fmt: skip
    context = {"sgemm_gflops": 13.4, "roofline_tokens_per_s": 5e3 / share, "blas": "openblas",
               "notes": [], "refused": []}  # fmt: skip
    setup = bench.Setup(word_dim=8000, hidden_dim=100, batch_size=32, length=20)
    table = bench.format_table([row], context, setup)
    assert ("is impossible" in table) == warned
    assert (f"{share:.0%} is impossible" in table) == warned


def test_the_other_kernels_share_is_judged_against_its_own_peak():
    row = {"name": "numpy-fast", "tokens_per_s": 5e3, "min": 4e3, "max": 6e3, "vs_best_peer": None,
           "roofline_share": 0.5, "peak_mib": None,
           "other_kernel": {"tokens_per_s": 5e3, "min": 4e3, "max": 6e3, "vs_best_peer": None,
                            "roofline_share": 1.5}}  # fmt: skip
    other = {"label": "AVX2 kernels", "sgemm_gflops": 7.0, "roofline_tokens_per_s": 1.0,
             "blas": "openblas"}  # fmt: skip
    context = {"sgemm_gflops": 13.4, "roofline_tokens_per_s": 1e4, "blas": "openblas",
               "notes": [], "refused": [], "other_kernel": other}  # fmt: skip
    table = bench.format_table([row], context, bench.Setup(word_dim=8000, hidden_dim=100))
    assert "WARNING (AVX2 kernels): a roofline share of 150% is impossible" in table
    assert "(7 GFLOPS)" in table and "WARNING (this run)" not in table
