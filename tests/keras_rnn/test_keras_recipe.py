"""The training recipe on the Keras word models (step_batch: mean loss per target, a NumPy
optimiser, clipping, dropout, tied embeddings) against independent oracles: RNNNumpyFast on
the same weights (float64), finite differences of the loss, the untied model's gradients."""

import numpy as np
import pytest
from oracles import numeric_gradient, sgd_gradient

from rnnlib.keras_rnn import KerasGRU, KerasLSTM, KerasRNN, KerasWordModel
from rnnlib.numpy_rnn.fast import RNNNumpyFast
from rnnlib.training.checkpoint import load_checkpoint, save_checkpoint
from rnnlib.training.optimizers import Adam

C, H = 10, 3


def sentences(seed, lengths):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, C, n) for n in lengths], [rng.integers(0, C, n) for n in lengths]


def test_keras_rnn_step_batch_equals_numpy_fast_on_the_same_batch():
    """Three Adam steps with clipping, float64: the same weights and optimiser state."""
    model = KerasRNN(C, H, dtype="float64", seed=2)
    fast = RNNNumpyFast(C, H, bptt_truncate=-1, seed=2, dtype=np.float64)
    ours, theirs = Adam(0.02), Adam(0.02)
    for seed in range(3):
        xs, ys = sentences(seed, [5, 7, 3])
        loss = model.step_batch(xs, ys, ours, clip_norm=0.3)
        assert loss == pytest.approx(fast.calculate_loss(xs, ys), rel=1e-12)
        fast.step_batch(xs, ys, theirs, clip_norm=0.3)
    for name, value in fast.get_params().items():
        np.testing.assert_allclose(model.get_params()[name], value, rtol=1e-10, atol=1e-13)
    for key, value in theirs.state_dict().items():
        if key != "name":
            np.testing.assert_allclose(ours.state_dict()[key], value, rtol=1e-10, atol=1e-13)
    assert model.step_batch_loss == fast.step_batch_loss == "mean per target token"


@pytest.mark.parametrize("cls", [KerasGRU, KerasLSTM])
def test_gated_step_follows_the_finite_difference_gradient_of_the_mean_loss(cls):
    model = cls(C, H, dtype="float64", seed=4)
    xs, ys = sentences(5, [4, 6, 2])
    params = model.get_params()

    def mean_loss(work):
        model.set_params(work)
        return model.calculate_loss(xs, ys)

    expected = {name: numeric_gradient(mean_loss, params, name) for name in params}
    model.set_params(params)
    grads = sgd_gradient(model, xs, ys)
    for name, value in expected.items():
        np.testing.assert_allclose(grads[name], value, rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("cls", [KerasRNN, KerasGRU])
def test_tied_gradient_is_the_sum_of_the_two_uses_and_matches_finite_differences(cls):
    tied = cls(C, H, dtype="float64", seed=6, tie_embeddings=True)
    untied = cls(C, H, dtype="float64", seed=6)
    params = tied.get_params()
    E = tied.embedding_name
    np.testing.assert_array_equal(params["V"], params[E].T)
    untied.set_params(params)
    xs, ys = sentences(7, [5, 3])
    grads = sgd_gradient(tied, xs, ys)
    assert "V" not in grads
    tokens = sum(len(y) for y in ys)
    separate = untied.bptt(xs[0], ys[0])
    separate = {n: g + untied.bptt(xs[1], ys[1])[n] for n, g in separate.items()}
    np.testing.assert_allclose(
        grads[E], (separate[E] + separate["V"].T) / tokens, rtol=1e-10, atol=1e-13
    )

    def tied_loss(work):
        tied.set_params({**work, "V": work[E].T.copy()})
        return tied.calculate_loss(xs, ys)

    expected = numeric_gradient(tied_loss, params, E)
    np.testing.assert_allclose(grads[E], expected, rtol=1e-5, atol=1e-8)


def test_dropout_steps_differ_by_step_but_evaluation_is_deterministic():
    xs, ys = sentences(8, [6, 4])
    dropped = KerasLSTM(C, H, dtype="float64", seed=1, dropout=0.5)
    plain = KerasLSTM(C, H, dtype="float64", seed=1)
    assert dropped.calculate_loss(xs, ys) == dropped.calculate_loss(xs, ys)
    assert dropped.calculate_loss(xs, ys) == plain.calculate_loss(xs, ys)
    np.testing.assert_array_equal(
        dropped.forward_propagation(xs[0])[0], plain.forward_propagation(xs[0])[0]
    )
    at_0, at_0_again, at_1 = (sgd_gradient(dropped, xs, ys, t) for t in (0, 0, 1))
    undropped = sgd_gradient(plain, xs, ys)
    np.testing.assert_array_equal(at_0["V"], at_0_again["V"])  # masks from (seed, step)
    assert not np.allclose(at_0["V"], at_1["V"])
    assert not np.allclose(at_0["V"], undropped["V"])


def test_compiles_one_step_per_bucket_shape_and_reuses_it():
    model = KerasGRU(C, H, seed=0)
    optimizer = Adam()
    for lengths in ([5, 6, 7], [8, 2, 3, 4], [6], [7]):  # rows 4, 4, 1, 1; length bucket 8
        model.step_batch(*sentences(len(lengths), lengths), optimizer)
    keys = [key for key in model.compile_seconds if key[0] == "mean grad"]
    assert sorted(keys) == [("mean grad", 1, 8), ("mean grad", 4, 8)]
    assert all(seconds > 0 for seconds in model.compile_seconds.values())


def test_recipe_options_survive_checkpoints_and_keras_files(tmp_path):
    model = KerasGRU(C, H, seed=3, dropout=0.25, tie_embeddings=True)
    model.step_batch(*sentences(9, [4, 5]), Adam(0.01))
    xs, ys = sentences(10, [6])
    for loaded in (
        load_checkpoint(save_checkpoint(tmp_path / "gru", model)).model,
        (model.save(tmp_path / "gru.keras"), KerasWordModel.load(tmp_path / "gru.keras"))[1],
    ):
        assert (loaded.dropout, loaded.tie_embeddings) == (0.25, True)
        assert loaded.calculate_loss(xs, ys) == model.calculate_loss(xs, ys)
    with pytest.raises(ValueError, match=r"V must equal E\^T \(one matrix\)"):
        loaded.set_params(KerasGRU(C, H, seed=1).get_params())
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\), got -0.5"):
        KerasLSTM(C, H, dropout=-0.5)
