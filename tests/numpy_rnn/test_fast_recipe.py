"""RNNNumpyFast's recipe extras, dropout and tied embeddings, against independent oracles:
a forward pass written again here with the same masks (differenced numerically), the untied
model's gradients, and Monte Carlo averages."""

import numpy as np
import pytest
from oracles import numeric_gradient, sgd_gradient

from rnnlib.numpy_rnn.dropout import dropout_masks
from rnnlib.numpy_rnn.fast import RNNNumpyFast
from rnnlib.numpy_rnn.readable import RNNNumpy
from rnnlib.pytensor_rnn.rnn import RNNPyTensor
from rnnlib.training.checkpoint import load_checkpoint, save_checkpoint
from rnnlib.training.optimizers import Adam

C, H = 20, 6


def sentences(seed, lengths):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, C, n) for n in lengths], [rng.integers(0, C, n) for n in lengths]


def masked_mean_loss(params, xs, ys, input_mask, output_mask):
    """The dropped network's mean loss per target, written out sentence by sentence.

    Masks are time-major (T, B, H), as the model draws them for its padded batch.
    """
    U, V, W = params["U"], params["V"], params["W"]
    total, count = 0.0, 0
    for b, (x, y) in enumerate(zip(xs, ys, strict=True)):
        s = np.zeros(H)
        for t, (word, target) in enumerate(zip(x, y, strict=True)):
            s = np.tanh(input_mask[t, b] * U[:, word] + W @ s)
            z = V @ (output_mask[t, b] * s)
            total += np.log(np.sum(np.exp(z - z.max()))) + z.max() - z[target]
            count += 1
    return total / count


# --- dropout ---------------------------------------------------------------------------------


def test_inverted_dropout_keeps_every_activation_in_expectation():
    """Monte Carlo: the mean of mask * a over many steps' masks is a, to within 5 sigma."""
    rate, draws = 0.3, 4000
    activation = np.linspace(-1, 1, 12)
    dropped = np.array(
        [dropout_masks(rate, 7, step, [(12,)], np.float64)[0] * activation for step in range(draws)]
    )  # (draws, 12)
    sigma = np.abs(activation) * np.sqrt(rate / (1 - rate)) / np.sqrt(draws)  # std of the mean
    assert np.all(np.abs(dropped.mean(axis=0) - activation) <= 5 * sigma + 1e-12)
    assert abs(np.mean(dropped == 0) - rate) < 0.02  # and it really drops that share
    assert not np.array_equal(dropped[0], dropped[1])  # a new mask every step


def test_dropout_step_follows_the_gradient_of_the_masked_network():
    """step_batch with dropout = the finite-difference gradient of the network with those
    masks (from the model's seed and the optimiser's step count) in the forward pass."""
    model = RNNNumpyFast(C, H, bptt_truncate=-1, seed=3, dtype=np.float64, dropout=0.4)
    xs, ys = sentences(1, [4, 6, 3])
    t = 5
    shape = (6, 3, H)  # (T, B, H): the padded batch
    input_mask, output_mask = dropout_masks(0.4, 3, t, [shape, shape], np.float64)
    params = model.get_params()
    grads = sgd_gradient(model, xs, ys, t)
    for name in ("U", "V", "W"):
        expected = numeric_gradient(
            lambda p: masked_mean_loss(p, xs, ys, input_mask, output_mask), params, name
        )
        np.testing.assert_allclose(grads[name], expected, rtol=1e-5, atol=1e-9, err_msg=name)
    undropped = sgd_gradient(RNNNumpyFast(C, H, -1, seed=3, dtype=np.float64), xs, ys)
    assert not np.allclose(grads["V"], undropped["V"])  # the masks did change the step


def test_evaluation_and_generation_see_the_whole_network():
    xs, ys = sentences(2, [5, 7])
    plain = RNNNumpyFast(C, H, seed=4, dtype=np.float64)
    dropped = RNNNumpyFast(C, H, seed=4, dtype=np.float64, dropout=0.5)
    assert dropped.calculate_loss(xs, ys) == dropped.calculate_loss(xs, ys)
    assert dropped.calculate_loss(xs, ys) == plain.calculate_loss(xs, ys)
    np.testing.assert_array_equal(
        dropped.forward_propagation(xs[0])[0], plain.forward_propagation(xs[0])[0]
    )
    for name, grad in dropped.bptt(xs[0], ys[0]).items():
        np.testing.assert_array_equal(grad, plain.bptt(xs[0], ys[0])[name])


def test_a_resumed_run_draws_the_same_masks(tmp_path):
    """Four Adam steps straight = two, a checkpoint, a fresh model and optimiser, two more."""
    batches = [sentences(10 + i, [5, 3]) for i in range(4)]
    straight, optimizer = RNNNumpyFast(C, H, seed=6, dropout=0.3), Adam(0.01)
    for xs, ys in batches:
        straight.step_batch(xs, ys, optimizer)
    first, optimizer = RNNNumpyFast(C, H, seed=6, dropout=0.3), Adam(0.01)
    for xs, ys in batches[:2]:
        first.step_batch(xs, ys, optimizer)
    path = save_checkpoint(tmp_path / "half", first, optimizer_state=optimizer.state_dict())
    saved = load_checkpoint(path)
    resumed, optimizer = saved.model, Adam()
    optimizer.load_state_dict(saved.optimizer_state)
    assert resumed.dropout == 0.3 and resumed.config()["dropout"] == 0.3
    for xs, ys in batches[2:]:
        resumed.step_batch(xs, ys, optimizer)
    for name, value in straight.get_params().items():
        np.testing.assert_array_equal(resumed.get_params()[name], value)


# --- tied embeddings ------------------------------------------------------------------------------


def tied_pair(seed=8):
    """A tied model and an untied one holding the same numbers (V = U^T), float64."""
    tied = RNNNumpyFast(C, H, bptt_truncate=2, seed=seed, dtype=np.float64, tie_embeddings=True)
    untied = RNNNumpyFast(C, H, bptt_truncate=2, seed=seed, dtype=np.float64)
    untied.set_params(tied.get_params())
    return tied, untied


def test_tied_gradient_is_the_sum_of_the_input_and_output_gradients():
    tied, untied = tied_pair()
    xs, ys = sentences(3, [4, 7, 5])
    tokens = sum(len(y) for y in ys)
    separate = untied.bptt_batch(xs, ys)
    grads = sgd_gradient(tied, xs, ys)
    np.testing.assert_allclose(
        grads["U"], (separate["U"] + separate["V"].T) / tokens, rtol=1e-10, atol=1e-13
    )
    np.testing.assert_allclose(grads["V"], grads["U"].T, rtol=1e-10, atol=1e-13)  # one matrix


def test_tied_gradient_matches_finite_differences_of_the_tied_loss():
    tied, _ = tied_pair()
    tied.bptt_truncate = -1
    xs, ys = sentences(4, [3, 5])
    params = tied.get_params()

    def loss(work):  # moving U moves V with it
        tied.set_params({"U": work["U"], "V": work["U"].T.copy(), "W": work["W"]})
        return tied.calculate_loss(xs, ys)

    expected = {name: numeric_gradient(loss, params, name) for name in ("U", "W")}
    tied.set_params(params)
    grads = sgd_gradient(tied, xs, ys)
    for name, value in expected.items():
        np.testing.assert_allclose(grads[name], value, rtol=1e-5, atol=1e-9, err_msg=name)


def test_tied_model_stays_tied_through_steps_and_checkpoints(tmp_path):
    tied, _ = tied_pair()
    optimizer = Adam(0.02)
    for seed in range(3):
        tied.step_batch(*sentences(seed, [4, 6]), optimizer, clip_norm=0.5)
    assert set(optimizer.state_dict()) >= {"m/U", "m/W"} and "m/V" not in optimizer.state_dict()
    params = tied.get_params()
    np.testing.assert_array_equal(params["V"], params["U"].T)
    loaded = load_checkpoint(save_checkpoint(tmp_path / "tied", tied)).model
    assert loaded.tie_embeddings and loaded.config()["tie_embeddings"] is True
    xs, ys = sentences(9, [5])
    assert loaded.calculate_loss(xs, ys) == tied.calculate_loss(xs, ys)


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\), got 1.0"),
        ({"dropout": -0.1}, r"dropout must be a number in \[0, 1\), got -0.1"),
        ({"dropout": "0.5"}, r"dropout must be a number in \[0, 1\), got '0.5'"),
        ({"tie_embeddings": "yes"}, "tie_embeddings must be True or False, got 'yes'"),
    ],
)
def test_bad_recipe_arguments_are_one_line(kwargs, words):
    with pytest.raises(ValueError, match=words):
        RNNNumpyFast(C, H, **kwargs)


def test_models_without_dropout_or_tying_refuse_them():
    for model_class in (RNNNumpy, RNNPyTensor):
        for key, value in (("dropout", 0.2), ("tie_embeddings", True)):
            with pytest.raises(TypeError, match=f"unexpected keyword argument '{key}'"):
                model_class(C, H, **{key: value})


def test_a_tied_model_refuses_an_untied_v():
    tied, untied = tied_pair()
    params = RNNNumpyFast(C, H, seed=1, dtype=np.float64).get_params()
    with pytest.raises(ValueError, match=r"V must equal U\^T \(one matrix\), but they differ"):
        tied.set_params(params)
    untied.set_params(params)  # the untied model takes them
