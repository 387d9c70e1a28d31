"""The training recipe on the PyTensor models (step_batch: mean loss per target, a NumPy
optimiser, clipping, dropout, tied embeddings) against independent oracles: RNNNumpyFast on
the same weights, finite differences, the optimisers' formulas written out, and a GRU written
again in NumPy with the same dropout masks."""

import numpy as np
import pytest
from oracles import numeric_gradient, sgd_gradient

from rnnlib.numpy_rnn.dropout import dropout_masks
from rnnlib.numpy_rnn.fast import RNNNumpyFast
from rnnlib.pytensor_rnn.gru import WEIGHT_NAMES, GRUPyTensor
from rnnlib.pytensor_rnn.rnn import RNNPyTensor
from rnnlib.training.checkpoint import load_checkpoint, save_checkpoint
from rnnlib.training.optimizers import Adam, RMSprop

C, H = 14, 5


def sentences(seed, lengths):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, C, n) for n in lengths], [rng.integers(0, C, n) for n in lengths]


# --- the RNN: the same step as RNNNumpyFast ----------------------------------------------------


@pytest.fixture(scope="module")
def rnn():
    return RNNPyTensor(C, H, bptt_truncate=3, seed=2)  # compiled functions shared by the tests


@pytest.mark.parametrize("k", [3, -1])
def test_rnn_step_batch_equals_numpy_fast_on_the_same_batch(rnn, k):
    """Three Adam steps with clipping: the same weights and the same optimiser state."""
    rnn.set_params(RNNPyTensor(C, H, seed=2).get_params())
    rnn.bptt_truncate = k
    fast = RNNNumpyFast(C, H, bptt_truncate=k, seed=2, dtype=np.float64)
    ours, theirs = Adam(0.02), Adam(0.02)
    for seed in range(3):
        xs, ys = sentences(seed, [5, 7, 3])  # one bucket (8), 3 sentences padded to 4 rows
        loss = rnn.step_batch(xs, ys, ours, clip_norm=0.3)
        assert loss == pytest.approx(fast.calculate_loss(xs, ys), rel=1e-12)
        fast.step_batch(xs, ys, theirs, clip_norm=0.3)
    for name, value in fast.get_params().items():
        np.testing.assert_allclose(rnn.get_params()[name], value, rtol=1e-10, atol=1e-13)
    for key, value in theirs.state_dict().items():
        if key != "name":
            np.testing.assert_allclose(ours.state_dict()[key], value, rtol=1e-10, atol=1e-13)


def test_rnn_update_is_rmsprops_formula_on_the_finite_difference_gradient(rnn):
    rnn.set_params(RNNPyTensor(C, H, seed=4).get_params())
    rnn.bptt_truncate = -1
    xs, ys = sentences(5, [4, 6])
    params = rnn.get_params()

    def mean_loss(work):
        rnn.set_params(work)
        return rnn.calculate_loss(xs, ys)

    grads = {name: numeric_gradient(mean_loss, params, name) for name in params}
    rnn.set_params(params)
    lr, rho, eps = 0.01, 0.9, 1e-6
    rnn.step_batch(xs, ys, RMSprop(lr, rho=rho, eps=eps))
    for name, g in grads.items():  # first step: a = (1 - rho) g^2
        expected = -lr * g / np.sqrt((1 - rho) * g * g + eps)
        step = rnn.get_params()[name] - params[name]
        # The finite differences are good to ~1e-9; steps of gradients that small move
        # with them at up to lr / sqrt(eps) = 10 per unit of g.
        np.testing.assert_allclose(step, expected, rtol=1e-6, atol=1e-7 * lr)


def test_numpy_rmsprop_on_the_mean_steps_as_the_grus_own_rmsprop_on_the_sum():
    """GRUPyTensor's in-graph RMSprop (notebook 6) on the summed loss, gradient N g, and
    RMSprop from training/optimizers on the mean loss, gradient g, with eps / N^2: the
    caches differ by N^2 and every step is the same, lr N g / sqrt(a_sum + eps)."""
    batches = [sentences(20 + i, [4, 6, 5]) for i in range(3)]  # N = 15 targets each
    N, lr, decay = 15, 0.01, 0.8
    summed, mean = GRUPyTensor(C, H, seed=5), GRUPyTensor(C, H, seed=5)
    optimizer = RMSprop(lr, rho=decay, eps=1e-6 / N**2)  # GRUPyTensor's eps is 1e-6
    for xs, ys in batches:
        summed.sgd_step_batch(xs, ys, lr, decay=decay)
        mean.step_batch(xs, ys, optimizer)
    after = summed.get_params()
    for name in WEIGHT_NAMES:
        np.testing.assert_allclose(mean.get_params()[name], after[name], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(
            optimizer.state["square"][name] * N**2, after["m" + name], rtol=1e-10, atol=1e-15
        )


def test_rnn_compiles_one_function_per_bucket_shape_and_reuses_it():
    model = RNNPyTensor(C, H, seed=0)
    optimizer = Adam()
    for lengths in ([5, 6, 7], [8, 2, 3, 4], [6], [7]):  # rows 4, 4, 1, 1; length bucket 8
        model.step_batch(*sentences(len(lengths), lengths), optimizer)
    keys = [key for key in model.compile_seconds if key[0] == "mean grad"]
    assert sorted(key[1:3] for key in keys) == [(8, 1), (8, 4)]
    assert all(seconds > 0 for seconds in model.compile_seconds.values())


# --- the GRU: gradients, dropout, tying ----------------------------------------------------------


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def gru_layer(p, x, s, first):
    U, W, b = p["U"], p["W"], p["b"]
    z = sigmoid(U[first] @ x + W[first] @ s + b[first])
    r = sigmoid(U[first + 1] @ x + W[first + 1] @ s + b[first + 1])
    h = np.tanh(U[first + 2] @ x + W[first + 2] @ (s * r) + b[first + 2])
    return (1 - z) * h + z * s


def gru_mean_loss(p, xs, ys, kept_in=None, kept_out=None):
    """The two-layer GRU's mean loss per target, with time-major (L, B, H) dropout masks."""
    total, count = 0.0, 0
    for b, (x, y) in enumerate(zip(xs, ys, strict=True)):
        s1 = s2 = np.zeros(H)
        for t, (word, target) in enumerate(zip(x, y, strict=True)):
            e = p["E"][:, word] * (1 if kept_in is None else kept_in[t, b])
            s1 = gru_layer(p, e, s1, 0)
            s2 = gru_layer(p, s1, s2, 3)
            z = p["V"] @ (s2 * (1 if kept_out is None else kept_out[t, b])) + p["c"]
            total += np.log(np.sum(np.exp(z - z.max()))) + z.max() - z[target]
            count += 1
    return total / count


def gru_weights(seed, tied=False):
    rng = np.random.default_rng(seed)
    p = {name: rng.uniform(-1, 1, shape) for name, shape in GRUPyTensor.param_shapes(C, H).items()}
    p = {name: p[name] for name in WEIGHT_NAMES}
    if tied:
        p["V"] = p["E"].T.copy()
    return p


@pytest.mark.parametrize("dropout", [0.0, 0.4])
def test_gru_step_follows_the_finite_difference_gradient_of_the_mean_loss(dropout):
    model = GRUPyTensor(C, H, seed=1, dropout=dropout)
    params = gru_weights(6)
    model.set_params(params)
    xs, ys = sentences(7, [3, 5, 4])  # bucket 8, rows 4
    t = 2
    shape = (8, 4, H)
    masks = dropout_masks(dropout, 1, t, [shape, shape], np.float64) if dropout else [None, None]
    grads = sgd_gradient(model, xs, ys, t)
    for name in WEIGHT_NAMES:
        expected = numeric_gradient(lambda p: gru_mean_loss(p, xs, ys, *masks), params, name)
        np.testing.assert_allclose(grads[name], expected, rtol=1e-5, atol=1e-8, err_msg=name)
    assert model.calculate_loss(xs, ys) == pytest.approx(gru_mean_loss(params, xs, ys), rel=1e-12)


def test_gru_tied_gradient_is_the_sum_of_the_two_uses_and_matches_finite_differences():
    tied = GRUPyTensor(C, H, seed=1, tie_embeddings=True)
    untied = GRUPyTensor(C, H, seed=1)
    params = gru_weights(8, tied=True)
    tied.set_params(params)
    untied.set_params(params)
    xs, ys = sentences(9, [4, 6])
    grads = sgd_gradient(tied, xs, ys)
    assert set(grads) == set(WEIGHT_NAMES) - {"V"}
    separate = untied.bptt_batch(xs, ys)
    tokens = sum(len(y) for y in ys)
    np.testing.assert_allclose(
        grads["E"], (separate["E"] + separate["V"].T) / tokens, rtol=1e-10, atol=1e-13
    )

    def tied_loss(work):
        return gru_mean_loss({**work, "V": work["E"].T}, xs, ys)

    expected = numeric_gradient(tied_loss, params, "E")
    np.testing.assert_allclose(grads["E"], expected, rtol=1e-5, atol=1e-8)


def test_gru_evaluation_is_deterministic_and_undropped():
    xs, ys = sentences(10, [5, 7])
    dropped, plain = GRUPyTensor(C, H, seed=3, dropout=0.5), GRUPyTensor(C, H, seed=3)
    assert dropped.calculate_loss(xs, ys) == dropped.calculate_loss(xs, ys)
    assert dropped.calculate_loss(xs, ys) == plain.calculate_loss(xs, ys)


def test_gru_recipe_options_survive_a_checkpoint(tmp_path):
    model = GRUPyTensor(C, H, seed=3, dropout=0.25, tie_embeddings=True)
    optimizer = Adam(0.01)
    model.step_batch(*sentences(11, [4, 5]), optimizer)
    loaded = load_checkpoint(save_checkpoint(tmp_path / "gru", model)).model
    assert (loaded.dropout, loaded.tie_embeddings) == (0.25, True)
    for name, value in model.get_params().items():
        np.testing.assert_array_equal(loaded.get_params()[name], value)
    with pytest.raises(ValueError, match=r"V must equal E\^T \(one matrix\)"):
        loaded.set_params(gru_weights(1))
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\), got 1"):
        GRUPyTensor(C, H, dropout=1)


def test_compile_seconds_count_the_first_call_where_jax_compiles():
    import pytensor.tensor as pt

    from rnnlib.pytensor_rnn.compile import FunctionCache, fast_mode

    cache = FunctionCache()

    def build():
        x = pt.tensor("x", dtype="float64", shape=(3,))
        return [x], pt.exp(x).sum(), None, fast_mode()

    function = cache.get(("probe",), build)
    (key,) = cache.compile_seconds
    traced = cache.compile_seconds[key]  # pytensor.function alone
    assert float(function(np.zeros(3))) == 3.0
    first = cache.compile_seconds[key]
    assert first > traced  # the first call (XLA's compile) was added
    assert float(function(np.ones(3))) == pytest.approx(3 * np.e)
    assert cache.compile_seconds[key] == first  # later calls are training time
    assert cache.get(("probe",), build) is function  # built once
