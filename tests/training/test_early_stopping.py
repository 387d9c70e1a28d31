"""Early stopping that survives interruptions: keep_best, patience, restoring the best on
halving and the learning-rate floor, each resumed against the uninterrupted run."""

import json

import numpy as np
import pytest
from test_train import X_IDS, ScriptedModel, assert_same_run, scripted_run

from rnnlib.numpy_rnn.fast import RNNNumpyFast
from rnnlib.training.checkpoint import CheckpointError, load_checkpoint
from rnnlib.training.train import resume_training, train_with_sgd


@pytest.fixture
def data():
    """Training and validation sentences on which Adam at 0.02 overfits: the validation loss
    is lowest at evaluation 3 (epoch 3) and rises through epoch 8."""
    rng = np.random.default_rng(42)
    train = [rng.integers(0, 12, rng.integers(3, 8)) for _ in range(9)]
    held_out = [rng.integers(0, 12, rng.integers(3, 8)) for _ in range(6)]
    return {
        "X_train": [s[:-1] for s in train],
        "y_train": [s[1:] for s in train],
        "X_val": [s[:-1] for s in held_out],
        "y_val": [s[1:] for s in held_out],
    }


def adam_run(data, path, callbacks=(), **options):
    model = RNNNumpyFast(12, 5, bptt_truncate=3, seed=7, dtype=np.float64)
    settings = dict(nepoch=8, evaluate_loss_after=1, shuffle_seed=5, optimizer="adam")
    settings.update(learning_rate=0.02, batch_size=2, progress=False, **options)
    history = train_with_sgd(model, **data, checkpoint_path=path, callbacks=callbacks, **settings)
    return model, history


def interrupted_at(evaluation: int):
    """A callback that presses Ctrl-C right after the given evaluation (0-based)."""

    def press_ctrl_c(model, history):
        if len(history.evaluations) == evaluation + 1:
            raise KeyboardInterrupt

    return press_ctrl_c


def resume(path, data):
    held_out = {"X_val": data["X_val"], "y_val": data["y_val"]}
    return resume_training(path, data["X_train"], data["y_train"], progress=False, **held_out)


def assert_same_file(a, b):
    saved_a, saved_b = load_checkpoint(a), load_checkpoint(b)
    for name, value in saved_a.model.get_params().items():
        np.testing.assert_array_equal(value, saved_b.model.get_params()[name])
    for key, value in saved_a.optimizer_state.items():
        np.testing.assert_array_equal(value, saved_b.optimizer_state[key])
    state_a, state_b = saved_a.training_state, saved_b.training_state
    for state in (state_a, state_b):
        state["history"].pop("train_seconds"), state["history"].pop("compile_seconds")
    assert state_a == state_b


# --- keep_best ------------------------------------------------------------------------------


@pytest.mark.fixtures
@pytest.mark.parametrize("stop", [3, 8], ids=["after-the-best", "after-the-last"])
def test_ctrl_c_then_resume_returns_to_the_same_best(data, tmp_path, stop):
    """Before: resumed after Ctrl-C, the run forgot its best and ended at a worse loss."""
    model, history = adam_run(data, tmp_path / "straight.npz", keep_best=True)
    assert (
        history.losses.index(min(history.losses)) == 3 and history.final_loss < history.losses[-1]
    )
    path = tmp_path / "stopped.npz"
    with pytest.raises(KeyboardInterrupt):
        adam_run(data, path, callbacks=[interrupted_at(stop)], keep_best=True)
    resumed, resumed_history = resume(path, data)
    assert_same_run(model, history, resumed, resumed_history)
    assert resumed_history.final_loss == history.final_loss == min(history.losses)
    assert_same_file(tmp_path / "straight.npz", path)


@pytest.mark.fixtures
def test_resuming_a_finished_run_says_the_loss_the_file_holds(data, tmp_path):
    path = tmp_path / "done.npz"
    adam_run(data, path, keep_best=True)
    model, history = resume(path, data)
    held = load_checkpoint(path).model
    assert history.final_loss == held.calculate_loss(data["X_val"], data["y_val"])
    assert history.final_loss == min(history.losses)


def test_the_best_is_saved_with_its_optimizer_state(data, tmp_path):
    seen = []

    def remember(model, history):
        seen.append(model.get_params())

    path = tmp_path / "run.npz"
    adam_run(data, path, callbacks=[remember], nepoch=5, keep_best=True)
    saved = load_checkpoint(path)
    assert saved.training_state["best"] == {"loss": saved.training_state["history"]
                                            ["evaluations"][3][2], "evaluation": 3}  # fmt: skip
    for name, value in seen[3].items():
        np.testing.assert_array_equal(saved.best_params[name], value)
        np.testing.assert_array_equal(saved.model.get_params()[name], value)  # kept at the end
    # Batches of 2 over 9 sentences: 5 steps an epoch, so the best (epoch 3) is step 15.
    assert int(saved.best_optimizer_state["t"]) == int(saved.optimizer_state["t"]) == 15


def test_a_checkpoint_saved_before_the_best_was_kept_still_resumes(data, tmp_path):
    path = tmp_path / "old.npz"
    with pytest.raises(KeyboardInterrupt):
        adam_run(data, path, callbacks=[interrupted_at(2)], keep_best=True)
    old = tmp_path / "older.npz"
    with np.load(path) as f:  # what an rnnlib of last week wrote: no best in it
        arrays = {k: f[k] for k in f.files if not k.startswith("best/")}
    meta = json.loads(str(arrays["meta"]))
    del meta["best_param_names"], meta["best_optimizer_keys"], meta["training_state"]["best"]
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(old, **arrays)
    model, history = resume(old, data)
    assert len(history.evaluations) == 9  # the best of the resumed part (epoch 3) is kept
    assert history.final_loss == min(history.losses[3:])


# --- a missing moment ------------------------------------------------------------------------


def test_an_optimizer_state_missing_a_moment_is_refused_unless_reset(data, tmp_path):
    """Before: the missing moment silently restarted at zero."""
    path = tmp_path / "run.npz"
    with pytest.raises(KeyboardInterrupt):
        adam_run(data, path, callbacks=[interrupted_at(2)])
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files if k != "optimizer/m/U"}
    meta = json.loads(str(arrays["meta"]))
    meta["optimizer_keys"].remove("m/U")
    arrays["meta"] = np.array(json.dumps(meta))
    broken = tmp_path / "broken.npz"
    np.savez(broken, **arrays)
    with pytest.raises(CheckpointError, match=r"broken.npz: optimizer/: .*missing \['m/U'\]"):
        resume(broken, data)
    held_out = {"X_val": data["X_val"], "y_val": data["y_val"]}
    model, history = resume_training(
        broken, data["X_train"], data["y_train"], progress=False, reset_optimizer=True, **held_out
    )
    saved = load_checkpoint(broken)
    # Fresh moments from the resumed position: 6 epochs of 5 steps, not 10 + 30.
    assert int(saved.optimizer_state["t"]) == 30 and len(history.evaluations) == 9


# --- patience, restoring on halving, the rate floor -------------------------------------------


def test_patience_ends_the_run_and_says_which_evaluation_was_best():
    losses = [5.0, 4.0, 4.5, 4.2, 4.1, 3.0]  # no improvement on 4.0 for three evaluations
    model, history = scripted_run(losses, nepoch=10, evaluate_loss_after=1, patience=3)
    assert history.losses == [5.0, 4.0, 4.5, 4.2, 4.1]
    assert len(model.steps) == 4 * len(X_IDS)  # no epoch after the fourth
    assert history.stop_reason == (
        "stopped: the loss has not improved for 3 evaluations (patience 3); the best was "
        "evaluation 1 (epoch 1, loss 4.000000)"
    )
    model, history = scripted_run(losses, nepoch=5, evaluate_loss_after=1)
    assert history.losses == losses and history.stop_reason == ""  # off by default


@pytest.mark.fixtures
def test_patience_and_restoring_resume_exactly(data, tmp_path):
    options = dict(patience=2, restore_best_on_halving=True, keep_best=True)
    model, history = adam_run(data, tmp_path / "straight.npz", **options)
    assert len(history.evaluations) == 6 and "patience 2" in history.stop_reason
    path = tmp_path / "stopped.npz"
    with pytest.raises(KeyboardInterrupt):
        adam_run(data, path, callbacks=[interrupted_at(4)], **options)
    resumed, resumed_history = resume(path, data)
    assert_same_run(model, history, resumed, resumed_history)
    assert_same_file(tmp_path / "straight.npz", path)


def test_a_halving_returns_to_the_best_parameters_and_optimizer_state(data, tmp_path):
    seen = []

    def remember(model, history):
        seen.append((model.get_params(), history.evaluations[-1].learning_rate))

    adam_run(data, tmp_path / "a.npz", callbacks=[remember], nepoch=4)
    plain = list(seen)
    seen.clear()
    adam_run(data, tmp_path / "b.npz", callbacks=[remember], nepoch=4, restore_best_on_halving=True)
    # Evaluation 4's loss rose above evaluation 3's: halved, and back to evaluation 3's weights.
    assert plain[4][1] == seen[4][1] == 0.01
    for name, value in seen[3][0].items():
        np.testing.assert_array_equal(seen[4][0][name], value)
        assert not np.array_equal(plain[4][0][name], value)
    saved = load_checkpoint(tmp_path / "b.npz")
    assert int(saved.optimizer_state["t"]) == 15  # the best's step count came back too
    assert float(saved.optimizer_state["learning_rate"]) == 0.01


def test_the_learning_rate_floor_ends_the_run():
    losses = [5.0, 6.0, 7.0, 8.0]  # every evaluation rises: halved each time
    _, history = scripted_run(losses, nepoch=10, evaluate_loss_after=1, min_learning_rate=0.03)
    assert [e.learning_rate for e in history.evaluations] == [0.1, 0.05, 0.025]
    assert history.stop_reason == (
        "stopped: the learning rate 0.025 fell below its floor 0.03 (min_learning_rate)"
    )


@pytest.mark.parametrize(
    "option, words",
    [
        ({"patience": 0}, "patience must be a positive integer, got 0"),
        ({"patience": 1.5}, "patience must be a positive integer, got 1.5"),
        ({"min_learning_rate": -1}, "min_learning_rate must be a positive number, got -1"),
        ({"restore_best_on_halving": "yes"}, "restore_best_on_halving must be True or False"),
        ({"reset_optimizer": True}, "reset_optimizer=True resets a resumed run's optimiser"),
    ],
)
def test_bad_stopping_options_are_one_line_before_training(option, words):
    model = ScriptedModel([5.0])
    with pytest.raises(ValueError, match=words):
        train_with_sgd(model, X_IDS, X_IDS, 0.1, nepoch=1, progress=False, **option)
    assert model.steps == [] and model.losses == [5.0]
