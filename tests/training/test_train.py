"""train_with_sgd: the schedule against scripted models, learning against a toy language,
and resuming against the uninterrupted run."""

import json
import signal
import types

import numpy as np
import pytest

from rnnlib.data.corpus import grammar_entropy, synthetic_corpus
from rnnlib.data.vocab import SENTENCE_END, SENTENCE_START, Vocabulary, build_xy
from rnnlib.numpy_rnn import RNNNumpy
from rnnlib.numpy_rnn.fast import RNNNumpyFast
from rnnlib.training.checkpoint import load_checkpoint
from rnnlib.training.optimizers import Adam, Momentum
from rnnlib.training.train import (
    Evaluation,
    Halving,
    History,
    TrainingDiverged,
    resume_training,
    train_with_sgd,
)

N = 5  # examples in the scripted data set
X_IDS = [np.array([i]) for i in range(N)]  # example i is recognisable by its only word id


class ScriptedModel:
    """Loss values come from a script and every step is recorded: the loop's logic is all
    that is under test."""

    word_dim = 1000  # 1.5 log C = 10.4: the scripted losses stay below the divergence line

    def __init__(self, losses=()):
        self.losses = list(losses)
        self.steps = []  # (example id, learning rate, clip_norm)
        self.evaluated_on = []
        self.w = np.zeros(1)

    def calculate_loss(self, X, Y):
        self.evaluated_on.append(X)
        return self.losses.pop(0)

    def sgd_step(self, x, y, learning_rate, clip_norm=None):
        self.steps.append((int(x[0]), learning_rate, clip_norm))
        self.w = self.w + 1.0

    def get_params(self):
        return {"w": self.w.copy()}

    def set_params(self, params):
        self.w = params["w"].copy()


class BatchScriptedModel(ScriptedModel):
    def sgd_step_batch(self, xs, ys, learning_rate, clip_norm=None):
        self.steps.append(([int(x[0]) for x in xs], learning_rate, clip_norm))


class OptimizerScriptedModel(BatchScriptedModel):
    batch_loss = "mean of something"

    def step_batch(self, xs, ys, optimizer, clip_norm=None):
        self.steps.append(([int(x[0]) for x in xs], optimizer.learning_rate, clip_norm))


def scripted_run(losses, **kwargs):
    model = ScriptedModel(losses)
    options = {"learning_rate": 0.1, "progress": False, **kwargs}
    history = train_with_sgd(model, X_IDS, X_IDS, **options)
    return model, history


# --- the schedule ---------------------------------------------------------------------------


def test_learning_rate_halves_exactly_when_the_loss_rises():
    losses = [5.0, 4.0, 4.5, 4.2, 4.3, 4.3, 3.0]  # rises at evaluations 2 and 4; 4.3 -> 4.3 no
    model, history = scripted_run(losses, nepoch=6, evaluate_loss_after=1)
    assert history.halvings == [Halving(2 * N, 2, 0.1, 0.05), Halving(4 * N, 4, 0.05, 0.025)]
    rates = [0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.025]  # in force after each evaluation
    assert history.evaluations == [
        Evaluation(e * N, e, loss, rate)
        for e, (loss, rate) in enumerate(zip(losses, rates, strict=True))
    ]
    # Epoch e trains with the rate decided at the evaluation before it.
    used = [lr for _, lr, _ in model.steps]
    assert used == [r for r in rates[:6] for _ in range(N)]


def test_evaluations_follow_the_schedule_and_callbacks_fire_once_each():
    seen = []
    model, history = scripted_run(
        [3.0, 2.0, 1.0, 0.5],  # the last for the final check after epoch 5
        nepoch=5,
        evaluate_loss_after=2,
        callbacks=[lambda m, h: seen.append((m, h, len(h.evaluations)))],
    )
    assert [e.epoch for e in history.evaluations] == [0, 2, 4]  # not 5: off the schedule
    assert [e.examples_seen for e in history.evaluations] == [0, 2 * N, 4 * N]
    assert [n for _, _, n in seen] == [1, 2, 3]
    assert all(m is model and h is history for m, h, _ in seen)
    assert len(model.steps) == 5 * N and model.losses == []


def test_loss_is_evaluated_on_the_validation_set_when_given():
    X_val = [np.array([7]), np.array([8])]
    model, _ = scripted_run([2.0, 1.0], nepoch=1, evaluate_loss_after=1, X_val=X_val, y_val=X_val)
    assert all(X is X_val for X in model.evaluated_on) and len(model.evaluated_on) == 2
    with pytest.raises(ValueError, match="both X_val and y_val"):
        scripted_run([1.0], nepoch=1, X_val=X_val)


def test_examples_in_order_or_shuffled_by_the_seed():
    model, _ = scripted_run([1.0, 1.0, 1.0], nepoch=3, evaluate_loss_after=2)
    assert [i for i, _, _ in model.steps] == list(range(N)) * 3
    model, _ = scripted_run([1.0, 1.0, 1.0], nepoch=3, evaluate_loss_after=2, shuffle_seed=11)
    rng = np.random.default_rng(11)
    expected = [i for _ in range(3) for i in rng.permutation(N)]
    assert [i for i, _, _ in model.steps] == expected


def test_minibatches_cover_each_epoch_once():
    model = BatchScriptedModel([1.0, 1.0])
    X = [np.array([i]) for i in range(7)]
    train_with_sgd(model, X, X, 0.1, nepoch=2, evaluate_loss_after=2, batch_size=3, progress=False)
    batches = [b for b, _, _ in model.steps]
    assert [len(b) for b in batches] == [3, 3, 1, 3, 3, 1]
    assert sorted(sum(batches[:3], [])) == list(range(7))
    with pytest.raises(TypeError, match="sgd_step_batch"):
        scripted_run([1.0], nepoch=1, batch_size=2)


def test_an_optimizer_steps_through_step_batch_and_its_rate_is_halved():
    model = OptimizerScriptedModel([5.0, 6.0, 7.0])
    adam = Adam(0.01)
    history = train_with_sgd(
        model,
        X_IDS,
        X_IDS,
        nepoch=2,
        evaluate_loss_after=1,
        batch_size=2,
        optimizer=adam,
        progress=False,
    )
    assert [rate for _, rate, _ in model.steps] == [0.01] * 3 + [0.005] * 3
    assert adam.learning_rate == 0.0025  # halved at both evaluations after epoch 0
    assert [h.new_lr for h in history.halvings] == [0.005, 0.0025]
    assert history.step_loss == "mean of something"  # the model's batch_loss
    # By name, with the learning rate given to train_with_sgd; batch_size=1 still batches.
    model = OptimizerScriptedModel([5.0, 4.0])
    history = train_with_sgd(
        model, X_IDS, X_IDS, 0.3, nepoch=1, optimizer="momentum", progress=False
    )
    assert model.steps[0] == ([0], 0.3, None) and len(model.steps) == N
    assert history.step_loss == "mean of something"


def test_which_loss_a_run_steps_on_is_recorded():
    _, history = scripted_run([1.0], nepoch=0)
    assert history.step_loss == "sum per sentence"  # the tutorial's sgd_step
    model = BatchScriptedModel([1.0])
    history = train_with_sgd(model, X_IDS, X_IDS, 0.1, nepoch=0, batch_size=2, progress=False)
    assert history.step_loss == "sum per batch"  # a model that does not say otherwise
    fast = RNNNumpyFast(12, 4)
    x = [np.array([1, 2, 3])]
    for batch_size, expected in ((1, "sum per sentence"), (2, "mean per target token")):
        history = train_with_sgd(fast, x, x, nepoch=0, batch_size=batch_size, progress=False)
        assert history.step_loss == expected


def test_optimizer_arguments_are_checked():
    with pytest.raises(TypeError, match="needs a model with step_batch; RNNNumpy has none"):
        train_with_sgd(RNNNumpy(8, 4), X_IDS, X_IDS, optimizer="adam")
    with pytest.raises(ValueError, match="give the learning rate to the optimizer"):
        train_with_sgd(OptimizerScriptedModel(), X_IDS, X_IDS, 0.1, optimizer=Adam())
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'"):
        train_with_sgd(OptimizerScriptedModel(), X_IDS, X_IDS, optimizer="adagrad")
    with pytest.raises(TypeError, match="optimizer must be a name"):
        train_with_sgd(OptimizerScriptedModel(), X_IDS, X_IDS, optimizer=object())
    # Plain SGD by name on a model without step_batch: its own sgd_step at that rate.
    model = ScriptedModel([1.0, 1.0])
    train_with_sgd(model, X_IDS, X_IDS, 0.2, nepoch=1, optimizer="sgd", progress=False)
    assert {rate for _, rate, _ in model.steps} == {0.2}


def test_clip_norm_reaches_the_step_and_bounds_the_update():
    model, _ = scripted_run([1.0, 1.0], nepoch=1, clip_norm=2.5)
    assert {c for _, _, c in model.steps} == {2.5}
    x, y = np.array([0, 3, 5, 2]), np.array([3, 5, 2, 1])
    grads = RNNNumpy(8, 4, seed=2).bptt(x, y)
    norm = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
    for clip, expected_step in ((norm / 10, 0.3 * norm / 10), (None, 0.3 * norm)):
        model = RNNNumpy(8, 4, seed=2)
        before = model.get_params()
        train_with_sgd(model, [x], [y], 0.3, nepoch=1, clip_norm=clip, progress=False)
        after = model.get_params()
        step = np.sqrt(sum(np.sum((after[k] - before[k]) ** 2) for k in before))
        assert step == pytest.approx(expected_step, rel=1e-9)


def test_a_step_to_nan_stops_with_the_last_good_parameters():
    rng = np.random.default_rng(0)
    X = [rng.integers(0, 8, 5) for _ in range(4)]
    model = RNNNumpy(8, 4, seed=3)
    calls = []

    def poisoned_step(self, x, y, learning_rate, clip_norm=None):
        RNNNumpy.sgd_step(self, x, y, learning_rate, clip_norm)
        calls.append(1)
        if len(calls) == 3:
            self.W[0, 0] = np.nan

    model.sgd_step = types.MethodType(poisoned_step, model)
    with pytest.raises(TrainingDiverged, match="NaN") as info:
        train_with_sgd(model, X, X, 0.1, nepoch=2, progress=False)
    assert info.value.examples_seen == 2 and info.value.epoch == 0
    assert str(info.value).count("training diverged") == 1
    # No copy per step: the model's own SGD step is undone by returning to the last
    # evaluation's parameters (epoch 0: the initial weights).
    reference = RNNNumpy(8, 4, seed=3)
    for name, value in model.get_params().items():
        np.testing.assert_array_equal(value, reference.get_params()[name])


def test_an_optimizer_refuses_a_nan_gradient_before_changing_anything():
    rng = np.random.default_rng(0)
    X = [rng.integers(0, 8, 5) for _ in range(4)]
    model = RNNNumpyFast(8, 4, seed=3, dtype=np.float64)
    before = {}

    def gradients_go_nan(self, xs, ys, optimizer, clip_norm=None):
        if optimizer.t == 2:  # the third step: NaN gradients reach the optimiser
            before.update(self.get_params(), t=optimizer.t, m=optimizer.state_dict()["m/U"])
            grads = {name: np.full_like(p, np.nan) for name, p in self.get_params().items()}
            optimizer.update({"U": self.U, "V": self.V, "W": self.W}, grads)
        RNNNumpyFast.step_batch(self, xs, ys, optimizer, clip_norm)

    model.step_batch = types.MethodType(gradients_go_nan, model)
    adam = Adam(0.01)
    with pytest.raises(TrainingDiverged, match="the gradient of .* holds NaN or inf") as info:
        train_with_sgd(model, X, X, nepoch=2, optimizer=adam, batch_size=1, progress=False)
    assert info.value.examples_seen == 2 and "from before it" in str(info.value)
    for name, value in model.get_params().items():  # the step before the refused one
        np.testing.assert_array_equal(value, before[name])
    assert adam.t == before["t"] == 2
    np.testing.assert_array_equal(adam.state_dict()["m/U"], before["m"])


def test_a_nan_loss_stops_with_the_parameters_of_the_last_evaluation():
    with pytest.raises(TrainingDiverged, match="the loss is nan after 1 epochs") as info:
        model, _ = scripted_run([5.0, float("nan")], nepoch=3, evaluate_loss_after=1)
    assert info.value.history.losses == [5.0]
    assert isinstance(info.value, RuntimeError)
    model = ScriptedModel([5.0, float("inf")])
    with pytest.raises(TrainingDiverged):
        train_with_sgd(model, X_IDS, X_IDS, 0.1, nepoch=3, evaluate_loss_after=1, progress=False)
    assert model.w[0] == 0.0 and len(model.steps) == N  # rolled back to the epoch-0 weights


def test_progress_bar_and_log_lines(capsys):
    scripted_run([2.0, 3.0], nepoch=1, evaluate_loss_after=1, progress=True)
    out = capsys.readouterr()
    assert "loss 2.000000" in out.out + out.err and "learning rate 0.05" in out.out + out.err


def test_bad_arguments():
    with pytest.raises(ValueError, match="X_train has 2 sentences but y_train has 1"):
        train_with_sgd(ScriptedModel(), X_IDS[:2], X_IDS[:1])
    with pytest.raises(ValueError, match="empty"):
        train_with_sgd(ScriptedModel(), [], [])
    for kwargs, match in (
        ({"learning_rate": 0.0}, "learning_rate must be a positive number, got 0.0"),
        ({"nepoch": -1}, "nepoch must be an integer >= 0, got -1"),
        ({"evaluate_loss_after": 0}, "evaluate_loss_after must be a positive integer, got 0"),
        ({"clip_norm": -1.0}, "clip_norm"),
    ):
        with pytest.raises(ValueError, match=match):
            train_with_sgd(ScriptedModel(), X_IDS, X_IDS, **kwargs)


def test_history_round_trips_through_json():
    history = History(
        [Evaluation(0, 0, 3.5, 0.01), Evaluation(10, 2, 3.75, 0.005)], [Halving(10, 2, 0.01, 0.005)]
    )
    again = History.from_dict(json.loads(json.dumps(history.to_dict())))
    assert again == history and again.losses == [3.5, 3.75]
    with pytest.raises(ValueError, match="not a training history"):
        History.from_dict({"evaluations": [[1, 2]]})


# --- learning ------------------------------------------------------------------------------


def toy_language(n_sentences, seed):
    tokens = [[SENTENCE_START, *s, SENTENCE_END] for s in synthetic_corpus(n_sentences, seed)]
    return tokens


def test_learns_a_toy_language_far_below_log_c():
    train_tokens, val_tokens = toy_language(250, seed=0), toy_language(60, seed=1)
    vocab = Vocabulary.build(train_tokens, 60)
    X, y = build_xy(vocab.encode(t) for t in train_tokens)
    X_val, y_val = build_xy(vocab.encode(t) for t in val_tokens)
    model = RNNNumpy(len(vocab), 16, seed=0)
    history = train_with_sgd(
        model,
        X,
        y,
        0.05,
        nepoch=4,
        evaluate_loss_after=2,
        X_val=X_val,
        y_val=y_val,
        shuffle_seed=0,
        progress=False,
    )
    log_c = np.log(len(vocab))
    assert abs(history.losses[0] - log_c) < 0.05  # untrained: about log C
    assert history.losses[-1] < 0.45 * log_c
    # ...and never below the grammar's true entropy by more than sampling noise allows.
    assert history.losses[-1] > grammar_entropy() - 0.2


# --- checkpoints and resuming -------------------------------------------------------------


@pytest.fixture
def data():
    rng = np.random.default_rng(42)
    sentences = [rng.integers(0, 12, rng.integers(3, 8)) for _ in range(9)]
    return [s[:-1] for s in sentences], [s[1:] for s in sentences]


RECIPES = {  # name -> (a fresh model, train_with_sgd options)
    "sgd": (lambda seed=7: RNNNumpy(12, 5, bptt_truncate=3, seed=seed), {"learning_rate": 0.05}),
    "adam": (
        lambda seed=7: RNNNumpyFast(12, 5, bptt_truncate=3, seed=seed, dtype=np.float64),
        {"learning_rate": 0.02, "optimizer": "adam", "batch_size": 2},
    ),
}


def straight_run(data, tmp_path, evaluate_loss_after, recipe="sgd"):
    make, options = RECIPES[recipe]
    model = make()
    history = train_with_sgd(
        model,
        *data,
        nepoch=4,
        evaluate_loss_after=evaluate_loss_after,
        shuffle_seed=5,
        checkpoint_path=tmp_path / "straight.npz",
        progress=False,
        **options,
    )
    return model, history


def assert_same_run(model_a, history_a, model_b, history_b):
    for name, value in model_a.get_params().items():
        np.testing.assert_array_equal(value, model_b.get_params()[name])
    assert history_a.without_timings() == history_b.without_timings()


@pytest.mark.fixtures
@pytest.mark.parametrize("recipe", list(RECIPES))
@pytest.mark.parametrize("evaluate_loss_after", [1, 3])
def test_resuming_continues_exactly_like_the_straight_run(
    data, tmp_path, evaluate_loss_after, recipe
):
    model, history = straight_run(data, tmp_path, evaluate_loss_after, recipe)
    make, options = RECIPES[recipe]
    path = tmp_path / "half.npz"
    train_with_sgd(
        make(),
        *data,
        nepoch=2,
        evaluate_loss_after=evaluate_loss_after,
        shuffle_seed=5,
        checkpoint_path=path,
        progress=False,
        **options,
    )
    resumed, resumed_history = resume_training(path, *data, nepoch=4, progress=False)
    assert_same_run(model, history, resumed, resumed_history)
    # The same through train_with_sgd(resume_from=...) into a freshly built model; the
    # optimiser is rebuilt from the checkpoint.
    fresh = make(seed=99)
    fresh_history = train_with_sgd(
        fresh,
        *data,
        nepoch=4,
        evaluate_loss_after=evaluate_loss_after,
        batch_size=options.get("batch_size", 1),
        resume_from=path,
        progress=False,
    )
    assert_same_run(model, history, fresh, fresh_history)


def test_a_checkpoint_is_saved_at_each_evaluation(data, tmp_path):
    path = tmp_path / "run.npz"
    saved = []

    def look(model, history):
        checkpoint = load_checkpoint(path)
        saved.append(len(checkpoint.training_state["history"]["evaluations"]))
        np.testing.assert_array_equal(checkpoint.model.W, model.W)

    vocab = Vocabulary([SENTENCE_START, SENTENCE_END, *"abcdefghi", "UNKNOWN_TOKEN"])
    train_with_sgd(
        RNNNumpy(12, 5),
        *data,
        nepoch=3,
        evaluate_loss_after=1,
        callbacks=[look],
        checkpoint_path=path,
        vocab=vocab,
        progress=False,
    )
    assert saved == [1, 2, 3, 4]
    assert load_checkpoint(path).vocab == vocab


@pytest.mark.fixtures
def test_ctrl_c_in_the_middle_of_an_update_saves_a_state_that_resumes_exactly(data, tmp_path):
    model, history = straight_run(data, tmp_path, 1)
    interrupted = RNNNumpy(12, 5, bptt_truncate=3, seed=7)
    calls = []

    def step_hit_by_ctrl_c(self, x, y, learning_rate, clip_norm=None):
        calls.append(1)
        grads = self.bptt(x, y)
        self.U -= learning_rate * grads["U"]
        if len(calls) == 13:  # epoch 1, fourth example: the signal lands between two updates
            signal.raise_signal(signal.SIGINT)
        self.V -= learning_rate * grads["V"]
        self.W -= learning_rate * grads["W"]

    interrupted.sgd_step = types.MethodType(step_hit_by_ctrl_c, interrupted)
    path = tmp_path / "interrupted.npz"
    with pytest.raises(KeyboardInterrupt):
        train_with_sgd(
            interrupted,
            *data,
            0.05,
            nepoch=4,
            evaluate_loss_after=1,
            shuffle_seed=5,
            checkpoint_path=path,
            progress=False,
        )
    state = load_checkpoint(path).training_state
    assert (state["epoch"], state["position"], state["examples_seen"]) == (1, 4, 13)
    resumed, resumed_history = resume_training(path, *data, progress=False)
    assert_same_run(model, history, resumed, resumed_history)


@pytest.mark.fixtures
def test_ctrl_c_during_an_adam_step_saves_the_moments_and_resumes_exactly(data, tmp_path):
    model, history = straight_run(data, tmp_path, 1, "adam")
    make, options = RECIPES["adam"]
    interrupted = make()
    calls = []

    def step_hit_by_ctrl_c(self, xs, ys, optimizer, clip_norm=None):
        calls.append(1)
        RNNNumpyFast.step_batch(self, xs, ys, optimizer, clip_norm)
        if len(calls) == 7:  # epoch 1, second batch: weights and moments moved, position not yet
            signal.raise_signal(signal.SIGINT)

    interrupted.step_batch = types.MethodType(step_hit_by_ctrl_c, interrupted)
    path = tmp_path / "interrupted.npz"
    with pytest.raises(KeyboardInterrupt):
        train_with_sgd(
            interrupted,
            *data,
            nepoch=4,
            evaluate_loss_after=1,
            shuffle_seed=5,
            checkpoint_path=path,
            progress=False,
            **options,
        )
    checkpoint = load_checkpoint(path)
    state = checkpoint.training_state
    assert (state["epoch"], state["position"], state["examples_seen"]) == (1, 4, 13)
    assert int(checkpoint.optimizer_state["t"]) == 7 and str(checkpoint.optimizer_state["name"])
    resumed, resumed_history = resume_training(path, *data, progress=False)
    assert_same_run(model, history, resumed, resumed_history)
    assert resumed_history.step_loss == "mean per target token"
    with pytest.raises(ValueError, match="state of a 'adam' optimiser, not of 'momentum'"):
        resume_training(path, *data, optimizer=Momentum(), progress=False)


def test_keyboard_interrupt_from_a_callback_saves_and_reraises(data, tmp_path):
    model, history = straight_run(data, tmp_path, 1)

    def stop_at_third_evaluation(model, history):
        if len(history.evaluations) == 3:
            raise KeyboardInterrupt

    path = tmp_path / "stopped.npz"
    with pytest.raises(KeyboardInterrupt):
        train_with_sgd(
            RNNNumpy(12, 5, bptt_truncate=3, seed=7),
            *data,
            0.05,
            nepoch=4,
            evaluate_loss_after=1,
            shuffle_seed=5,
            checkpoint_path=path,
            callbacks=[stop_at_third_evaluation],
            progress=False,
        )
    resumed, resumed_history = resume_training(path, *data, progress=False)
    assert_same_run(model, history, resumed, resumed_history)


def test_continuing_with_history_and_start_epoch(data):
    straight = RNNNumpy(12, 5, seed=8)
    expected = train_with_sgd(
        straight, *data, 0.05, nepoch=4, evaluate_loss_after=2, progress=False
    )
    model = RNNNumpy(12, 5, seed=8)
    history = train_with_sgd(model, *data, 0.05, nepoch=2, evaluate_loss_after=2, progress=False)
    history = train_with_sgd(
        model,
        *data,
        0.05,
        nepoch=4,
        evaluate_loss_after=2,
        history=history,
        start_epoch=2,
        progress=False,
    )
    assert_same_run(straight, expected, model, history)


def test_resuming_refuses_mismatches(data, tmp_path):
    path = tmp_path / "run.npz"
    train_with_sgd(RNNNumpy(12, 5), *data, nepoch=1, checkpoint_path=path, progress=False)
    with pytest.raises(ValueError, match="trained on 9 examples, but X_train has 8"):
        resume_training(path, data[0][:8], data[1][:8], progress=False)
    with pytest.raises(ValueError, match="do not pass history, start_epoch or shuffle_seed"):
        train_with_sgd(RNNNumpy(12, 5), *data, resume_from=path, shuffle_seed=1)
    with pytest.raises(ValueError, match="not this RNNNumpy"):
        train_with_sgd(RNNNumpy(12, 6), *data, resume_from=path, progress=False)
    from rnnlib.training.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "bare.npz", RNNNumpy(12, 5))
    with pytest.raises(ValueError, match="no training state"):
        resume_training(tmp_path / "bare.npz", *data)


# --- the end of a run: divergence, the last evaluation, a time budget --------------------------


def test_a_finite_loss_above_one_and_a_half_log_c_is_divergence():
    # With C = 10, 1.5 log C = 3.45: a finite 5.0 after a good 2.0 is divergence.
    class TenWords(ScriptedModel):
        word_dim = 10

    model = TenWords([2.0, 5.0])
    with pytest.raises(TrainingDiverged, match=r"above 1.5 x log C = 3.454") as caught:
        train_with_sgd(model, X_IDS, X_IDS, 0.1, nepoch=3, evaluate_loss_after=1, progress=False)
    assert caught.value.epoch == 1 and caught.value.history.losses == [2.0]
    assert model.w[0] == 0.0  # back to the parameters of the last good evaluation (epoch 0)
    # Just below the line is training, not divergence.
    history = train_with_sgd(TenWords([3.4, 3.45]), X_IDS, X_IDS, 0.1, 1, 1, progress=False)
    assert history.losses == [3.4, 3.45]


def test_the_last_epoch_is_always_checked():
    # nepoch = 7 is not a multiple of evaluate_loss_after = 5: evaluations at epochs 0 and 5,
    # then the final model is checked, off the schedule (not recorded: it halves nothing).
    model, history = scripted_run([5.0, 4.0, 3.0], nepoch=7, evaluate_loss_after=5)
    assert [e.epoch for e in history.evaluations] == [0, 5]
    assert model.losses == []  # the third loss was asked for: the end was checked
    # A divergence at that last evaluation is caught, not returned as a finished run.
    with pytest.raises(TrainingDiverged, match="the loss is inf"):
        scripted_run([5.0, 4.0, float("inf")], nepoch=7, evaluate_loss_after=5)


def test_a_time_budget_stops_the_run_and_evaluates_where_it_stopped(monkeypatch):
    import rnnlib.training.loop as loop

    clock = {"now": 1000.0}
    monkeypatch.setattr(loop, "clock", lambda: clock["now"])

    class SlowModel(ScriptedModel):
        def sgd_step(self, x, y, learning_rate, clip_norm=None):
            super().sgd_step(x, y, learning_rate, clip_norm)
            clock["now"] += 7.0  # each step takes 7 s of the (fake) wall clock

    model = SlowModel([5.0, 4.5, 4.0])
    history = train_with_sgd(
        model, X_IDS, X_IDS, 0.1, minutes=1, evaluate_loss_after=1, progress=False
    )
    # 60 s allow 9 steps (the 9th starts at 56 s): epoch 0 (5 steps), then 4 of epoch 1.
    assert len(model.steps) == 9
    assert [(e.epoch, e.examples_seen) for e in history.evaluations] == [(0, 0), (1, 5)]
    assert model.losses == []  # and the model where it stopped was checked
    with pytest.raises(ValueError, match="minutes must be a positive number, got 0"):
        train_with_sgd(ScriptedModel([1.0]), X_IDS, X_IDS, minutes=0, progress=False)
    # nepoch and minutes together: whichever comes first.
    model = SlowModel([5.0, 4.0])
    train_with_sgd(model, X_IDS, X_IDS, 0.1, nepoch=1, minutes=60, progress=False)
    assert len(model.steps) == N


def test_the_budget_counts_training_steps_not_compiling_or_evaluating(monkeypatch):
    import rnnlib.training.loop as loop

    clock = {"now": 1000.0}
    monkeypatch.setattr(loop, "clock", lambda: clock["now"])

    class CompilingModel(ScriptedModel):
        """Compiles for 100 s at its first step; every step takes 7 s, every evaluation 50 s."""

        compile_seconds = {}  # what PyTensor models report: seconds per compiled function

        def sgd_step(self, x, y, learning_rate, clip_norm=None):
            super().sgd_step(x, y, learning_rate, clip_norm)
            if not self.compile_seconds:
                self.compile_seconds = {"step": 100.0}
                clock["now"] += 100.0
            clock["now"] += 7.0

        def calculate_loss(self, X, Y):
            clock["now"] += 50.0
            return super().calculate_loss(X, Y)

    model = CompilingModel([5.0, 4.5, 4.0])
    history = train_with_sgd(
        model, X_IDS, X_IDS, 0.1, minutes=1, evaluate_loss_after=1, progress=False
    )
    # As without compiling or evaluating: 60 s of training allow 9 steps of 7 s.
    assert len(model.steps) == 9
    assert history.compile_seconds == 100.0 and history.train_seconds == 9 * 7.0


def test_a_pytensor_models_compile_seconds_are_recorded_apart():
    from rnnlib.pytensor_rnn.rnn import RNNPyTensor

    rng = np.random.default_rng(0)
    X = [rng.integers(0, 8, 5) for _ in range(4)]
    model = RNNPyTensor(8, 4, seed=1)
    assert model.compile_seconds == {}  # compiled on first use: inside the run
    history = train_with_sgd(model, X, X, 0.01, nepoch=1, progress=False)
    reported = sum(model.compile_seconds.values())  # the model's own stopwatch
    assert reported > 0 and history.compile_seconds == pytest.approx(reported, rel=1e-9)
    assert history.train_seconds > 0


def test_a_budget_with_nothing_left_to_learn_ends_by_patience(monkeypatch):
    import rnnlib.training.loop as loop

    clock = {"now": 0.0}
    monkeypatch.setattr(loop, "clock", lambda: clock["now"])

    class SlowModel(ScriptedModel):
        def sgd_step(self, x, y, learning_rate, clip_norm=None):
            super().sgd_step(x, y, learning_rate, clip_norm)
            clock["now"] += 1.0

    model = SlowModel([5.0, 4.0] + [4.0] * 100)  # learns nothing after the first epoch
    history = train_with_sgd(
        model, X_IDS, X_IDS, 0.1, minutes=10, evaluate_loss_after=1, patience=3, progress=False
    )
    assert len(history.evaluations) == 5 and clock["now"] == 4 * N  # not 600 s
    assert "patience 3" in history.stop_reason and "evaluation 1" in history.stop_reason


def test_a_history_saved_before_the_timings_still_loads():
    old = {"evaluations": [[0, 0, 5.0, 0.1]], "halvings": [], "step_loss": "", "examples_seen": 0}
    history = History.from_dict(old)
    assert history.train_seconds == history.compile_seconds == 0.0
    assert history.stop_reason == "" and history.final_loss is None


def test_keep_best_returns_to_the_best_evaluation_at_the_end():
    # Losses at epochs 0, 1, 2: the best is after epoch 1, when the model had taken N steps.
    model, history = scripted_run([5.0, 3.0, 4.0], nepoch=2, evaluate_loss_after=1, keep_best=True)
    assert history.losses == [5.0, 3.0, 4.0] and model.w[0] == N
    model, _ = scripted_run([5.0, 3.0, 4.0], nepoch=2, evaluate_loss_after=1)
    assert model.w[0] == 2 * N  # without keep_best: the end state
    # The best is the end: nothing changes. An off-schedule end is compared too.
    model, _ = scripted_run([5.0, 4.0, 3.0], nepoch=2, evaluate_loss_after=1, keep_best=True)
    assert model.w[0] == 2 * N
    model, _ = scripted_run([5.0, 3.0, 3.5], nepoch=3, evaluate_loss_after=2, keep_best=True)
    assert model.w[0] == 2 * N  # epoch 2's evaluation (3.0) beat the end of epoch 3 (3.5)


def test_text_progress_leaves_one_finished_line(monkeypatch, capsys):
    """What `make book` saves: no bar frozen at 0%, one line at the end."""
    monkeypatch.setenv("RNNLIB_PROGRESS", "text")
    model = ScriptedModel([2.0, 1.5])
    train_with_sgd(model, X_IDS, X_IDS, 0.1, nepoch=1, evaluate_loss_after=1, progress=True)
    captured = capsys.readouterr()
    assert "%|" not in captured.err and "%|" not in captured.out  # no tqdm bar drawn
    assert captured.out.strip().splitlines()[-1].startswith(f"SGD: {N} examples seen")


def test_history_says_the_loss_of_the_model_returned():
    # On the schedule: the last evaluation; off it: the end check; keep_best: the best kept.
    _, history = scripted_run([5.0, 3.0, 4.0], nepoch=2, evaluate_loss_after=1)
    assert history.final_loss == 4.0
    _, history = scripted_run([5.0, 3.0, 3.5], nepoch=3, evaluate_loss_after=2)
    assert history.final_loss == 3.5 and history.losses == [5.0, 3.0]
    _, history = scripted_run([5.0, 3.0, 3.5], nepoch=3, evaluate_loss_after=2, keep_best=True)
    assert history.final_loss == 3.0


# --- batches of one bucket length ------------------------------------------------------------


def test_length_batches_cover_each_epoch_once_one_bucket_per_batch():
    from rnnlib.data.batching import bucket_length

    lengths = [1, 2, 9, 9, 10, 17, 3, 30, 31, 4, 12, 2]  # buckets 4, 12, 20, 32
    X = [np.r_[i, np.zeros(n - 1, dtype=int)] for i, n in enumerate(lengths)]
    model = BatchScriptedModel([1.0, 1.0, 1.0])
    train_with_sgd(model, X, X, 0.1, nepoch=2, evaluate_loss_after=1, batch_size=3,
                   shuffle_seed=4, length_batches=True, progress=False)  # fmt: skip
    batches = [b for b, _, _ in model.steps]
    per_epoch = len(batches) // 2
    for epoch in (batches[:per_epoch], batches[per_epoch:]):
        assert sorted(sum(epoch, [])) == list(range(len(X)))  # every example once
        for batch in epoch:
            assert len({bucket_length(lengths[i]) for i in batch}) == 1 and len(batch) <= 3
    assert batches[:per_epoch] != batches[per_epoch:]  # reshuffled every epoch


@pytest.mark.fixtures
def test_ctrl_c_with_length_batches_resumes_exactly(data, tmp_path):
    """The batches of the epoch a run stopped in are drawn again from the saved generator."""
    options = dict(nepoch=3, evaluate_loss_after=1, shuffle_seed=5, batch_size=2,
                   optimizer="adam", learning_rate=0.01, length_batches=True, progress=False)  # fmt: skip
    straight = RNNNumpyFast(12, 5, bptt_truncate=3, seed=7)
    straight_history = train_with_sgd(straight, *data, **options)
    interrupted = RNNNumpyFast(12, 5, bptt_truncate=3, seed=7)
    steps = []
    original = interrupted.step_batch

    def stop_after_seven(*args, **kwargs):
        original(*args, **kwargs)
        steps.append(1)
        if len(steps) == 7:  # in epoch 1: a real Ctrl-C, held until the update is complete
            signal.raise_signal(signal.SIGINT)

    interrupted.step_batch = stop_after_seven
    path = tmp_path / "stopped.npz"
    with pytest.raises(KeyboardInterrupt):
        train_with_sgd(interrupted, *data, checkpoint_path=path, **options)
    state = load_checkpoint(path).training_state
    assert state["epoch"] == 1 and 0 < state["position"] < len(data[0])
    resumed, history = resume_training(path, *data, progress=False)
    for name, value in straight.get_params().items():
        np.testing.assert_array_equal(resumed.get_params()[name], value)
    assert history.without_timings() == straight_history.without_timings()
