"""Data-parallel Keras training over 2 CPU devices equals training on one (rnnlib.keras_rnn.devices).

XLA reads XLA_FLAGS once, when JAX starts, so everything that needs two devices runs in
a fresh Python process with --xla_force_host_platform_device_count=2. Inside it, the
one-device run is the oracle: the same model, seed and global batch on one device, in the
same process. Checkpoints cross processes and device counts, so they are compared within
float tolerance (a sum over two devices adds in another order than one device does).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from rnnlib.keras_rnn import KerasWordModel, RNNKeras
from rnnlib.keras_rnn.devices import padded_rows, resolve_devices
from rnnlib.tools.cli import main
from rnnlib.training.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def python(code_or_args, devices: int = 1, cwd=None) -> subprocess.CompletedProcess:
    """Run Python (a -c program or arguments) in a process where JAX sees `devices` CPU devices."""
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    env.pop("XLA_FLAGS", None)
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else list(code_or_args)
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


# What the two-device process computes: each quantity once on 1 device, once on 2.
COMPARISONS = """
import json
import sys
import jax
import numpy as np
from rnnlib.keras_rnn import RNNKeras
from rnnlib.keras_rnn.word import KerasLSTM

rng = np.random.default_rng(0)
X = [rng.integers(0, 40, size=n) for n in rng.integers(2, 12, size=30)]
Y = [rng.integers(0, 40, size=len(x)) for x in X]
out = {"devices": jax.device_count()}

def params(model):
    return {k: v.tolist() for k, v in model.get_params().items()}

def pair():
    one, two = KerasLSTM(40, 12, seed=3), KerasLSTM(40, 12, seed=3)
    two.use_devices(2)
    return one, two

# The JAX gradient path (train_with_sgd): one SGD step on 3 sentences, which 2 does not
# divide (a padding row of weight 0 joins them on 2 devices).
one, two = pair()
out["sgd_loss"] = [one.sgd_step_batch(X[:3], Y[:3], 0.5), two.sgd_step_batch(X[:3], Y[:3], 0.5)]
out["sgd_params"] = [params(one), params(two)]
out["sharding"] = str(two.keras_model.weights[0].value.sharding)
out["eval_loss"] = [one.calculate_loss(X, Y), two.calculate_loss(X, Y)]

# Keras' own step and loop: one train_on_batch, then 3 epochs of fit with batches of 7.
one, two = pair()
out["keras_step"] = [one.train_on_batch(X[:4], Y[:4]), two.train_on_batch(X[:4], Y[:4])]
out["keras_step_params"] = [params(one), params(two)]
one, two = KerasLSTM(40, 12, seed=3), KerasLSTM(40, 12, seed=3)
runs = [m.fit(X, Y, nepoch=3, batch_size=7, verbose=0, devices=d) for m, d in ((one, 1), (two, "all"))]
out["fit_losses"] = [[e.loss for e in h.evaluations] for h in runs]
out["fit_devices"] = len(two.distribution.device_mesh.devices.flat)
# Back to one device: the weights and the optimizer's state return to the first device.
two.use_devices(1)
out["back_to_one"] = [one.train_on_batch(X[:4], Y[:4]), two.train_on_batch(X[:4], Y[:4])]
out["back_to_one_devices"] = sorted(
    len(v.value.sharding.device_set) for v in two.logits_model.optimizer.variables
)
two.save(f"{sys.argv[1]}/word.keras")  # saved from two devices, loaded on one by the test
out["word_saved_loss"] = two.calculate_loss(X, Y)

# The char LSTM: 2 epochs of train_model with batches of 7 windows.
windows = rng.integers(0, 6, size=(45, 5)).astype(np.int32)
following = rng.integers(0, 6, size=45).astype(np.int32)
out["char_losses"] = []
for devices in (None, 2):
    char = RNNKeras(5, 6, hidden_dim=8, chars="abcdef", seed=2)
    history = char.train_model(windows, following, 7, 2, verbose=0, devices=devices)
    out["char_losses"].append([e.loss for e in history.evaluations])
char.save(f"{sys.argv[1]}/char.keras")
out["char_saved_loss"] = char.calculate_loss(windows, following)
np.savez(f"{sys.argv[1]}/data.npz", windows=windows, following=following)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return tmp_path_factory.mktemp("saved")


@pytest.fixture(scope="module")
def compared(saved):
    result = python(["-c", COMPARISONS, str(saved)], devices=2)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def relative(a, b) -> float:
    return abs(a - b) / abs(a)


def assert_same_params(pair, rtol):
    one, two = pair
    for name in one:
        np.testing.assert_allclose(two[name], one[name], rtol=rtol, atol=1e-7, err_msg=name)


def test_the_process_sees_two_devices_and_the_weights_lie_on_both(compared):
    assert compared["devices"] == 2
    assert "'batch': 2" in compared["sharding"]  # a mesh over both devices, replicated


def test_one_data_parallel_sgd_step_equals_the_single_device_step(compared):
    assert relative(*compared["sgd_loss"]) < 1e-5
    assert_same_params(compared["sgd_params"], rtol=1e-5)
    assert relative(*compared["eval_loss"]) < 1e-5


def test_one_keras_step_on_two_devices_equals_the_single_device_step(compared):
    assert relative(*compared["keras_step"]) < 1e-5
    assert_same_params(compared["keras_step_params"], rtol=1e-5)


def test_a_short_keras_fit_gives_the_same_losses_on_two_devices(compared):
    assert compared["fit_devices"] == 2  # "all" in a process that sees two
    one, two = compared["fit_losses"]
    assert len(one) == len(two) == 4 and one[-1] < one[0]  # it trained
    for a, b in zip(one, two, strict=True):
        assert relative(a, b) < 1e-4


def test_a_model_moved_back_to_one_device_trains_on_there(compared):
    assert set(compared["back_to_one_devices"]) == {1}
    assert relative(*compared["back_to_one"]) < 1e-4


def test_the_char_lstm_trains_on_two_devices_with_the_same_losses(compared):
    one, two = compared["char_losses"]
    assert len(one) == len(two) == 3 and one[-1] < one[0]
    for a, b in zip(one, two, strict=True):
        assert relative(a, b) < 1e-4


def test_models_saved_on_two_devices_load_on_one(compared, saved):
    # Another process, another device count: equal within float tolerance, not bit for bit.
    word = KerasWordModel.load(saved / "word.keras")
    rng = np.random.default_rng(0)  # the comparison script's data, drawn again
    X = [rng.integers(0, 40, size=n) for n in rng.integers(2, 12, size=30)]
    Y = [rng.integers(0, 40, size=len(x)) for x in X]
    assert relative(compared["word_saved_loss"], word.calculate_loss(X, Y)) < 1e-5
    char = RNNKeras.load(saved / "char.keras")
    data = np.load(saved / "data.npz")
    loss = char.calculate_loss(data["windows"], data["following"])
    assert relative(compared["char_saved_loss"], loss) < 1e-5


# --- choosing devices ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, len(jax.devices()) + 1, "many", -1, True, 1.0])
def test_a_bad_device_count_is_one_line_naming_what_jax_sees(bad):
    with pytest.raises(ValueError) as caught:
        resolve_devices(bad)
    message = str(caught.value)
    assert "\n" not in message and f"devices={bad!r}" in message
    assert f"JAX sees {len(jax.devices())} device" in message and str(jax.devices()[0]) in message


def test_device_counts_and_all_resolve_to_jax_devices():
    assert resolve_devices("all") == jax.devices()
    assert resolve_devices(1) == jax.devices()[:1] == resolve_devices("1")


def test_padding_rounds_rows_up_to_a_multiple_of_the_device_count():
    class Two:  # what padded_rows reads of a DataParallel distribution
        class device_mesh:
            devices = np.empty(2)

    assert [padded_rows(r, Two) for r in (1, 2, 7, 8)] == [2, 2, 8, 8]
    assert [padded_rows(r, None) for r in (1, 7)] == [1, 7]


# --- the command line ------------------------------------------------------------------------

CLI = ["-m", "rnnlib", "train", "--backend", "keras", "--corpus", "synthetic", "--sentences",
       "60", "--vocabulary-size", "30", "--hidden", "8", "--no-progress"]  # fmt: skip


def losses(checkpoint) -> list[float]:
    return [e[2] for e in checkpoint.training_state["history"]["evaluations"]]


def devices_flag(devices: int) -> list[str]:
    return ["--devices", str(devices)] if devices > 1 else []  # one device: the default


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The oracles of the resume tests: 2 epochs in one go, on 1 and on 2 devices."""
    runs = {}
    for devices in (1, 2):
        path = tmp_path_factory.mktemp("cli") / f"on-{devices}.npz"
        argv = [*CLI, "--epochs", "2", *devices_flag(devices), "--checkpoint", str(path)]
        result = python(argv, devices)
        assert result.returncode == 0, result.stderr
        runs[devices] = load_checkpoint(path)
    return runs


def resumed_run(path, first: int, then: int):
    """1 epoch on `first` devices, then --resume to epoch 2 on `then`; the checkpoint."""
    argv = [*CLI, "--epochs", "1", "--devices", str(first), "--checkpoint", str(path)]
    start = python(argv, first)
    assert start.returncode == 0, start.stderr
    assert f"training on {first} device" in start.stderr  # it says how many it used
    argv = [*CLI[:3], "--checkpoint", str(path), "--resume", "--epochs", "2", "--no-progress"]
    finish = python([*argv, *devices_flag(then)], then)
    assert finish.returncode == 0, finish.stderr
    return load_checkpoint(path)


@pytest.mark.parametrize("first, then", [(2, 1), (1, 2)])
def test_a_cli_run_on_n_devices_resumes_on_m_with_the_same_losses(
    tmp_path, uninterrupted, first, then
):
    got, expected = resumed_run(tmp_path / "run.npz", first, then), uninterrupted[1]
    assert len(losses(got)) == len(losses(expected)) == 3
    for a, b in zip(losses(expected), losses(got), strict=True):
        assert relative(a, b) < 1e-4


def test_a_cli_run_on_two_devices_resumes_on_two_bit_for_bit(tmp_path, uninterrupted):
    # Same machine, same device count, same computations: exactly the uninterrupted run.
    got, expected = resumed_run(tmp_path / "run.npz", 2, 2), uninterrupted[2]
    assert losses(got) == losses(expected)
    for name, value in expected.model.get_params().items():
        np.testing.assert_array_equal(got.model.get_params()[name], value, err_msg=name)


@pytest.mark.parametrize("bad", ["0", str(len(jax.devices()) + 1), "many"])
def test_a_bad_devices_flag_exits_2_with_one_line_naming_what_jax_sees(tmp_path, capsys, bad):
    argv = ["train", *CLI[3:], "--devices", bad, "--checkpoint", str(tmp_path / "x.npz")]
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith(f"JAX sees {len(jax.devices())} device ({jax.devices()[0]})")
    assert f"--devices: devices={bad!r}" in error
    assert not (tmp_path / "x.npz").exists()


def test_devices_on_a_numpy_backend_is_refused(tmp_path, capsys):
    argv = ["train", *CLI[5:], "--backend", "numpy-fast", "--devices", "1", "--epochs", "1"]
    with pytest.raises(SystemExit) as caught:
        main([*argv, "--checkpoint", str(tmp_path / "x.npz")])
    assert caught.value.code == 2
    assert "--devices needs --backend keras" in capsys.readouterr().err
