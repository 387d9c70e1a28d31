"""The optimisers against their formulas, run by hand on a quadratic whose gradient is exact.

f(p) = 1/2 p^T A p - b^T p, so grad f = A p - b: no finite differences, no model. The
parameters are a dict of two arrays (a vector and a matrix), flattened into one p for f.
"""

import io

import numpy as np
import pytest

from rnnlib.training.optimizers import (
    SGD,
    Adam,
    Momentum,
    NonFiniteGradient,
    RMSprop,
    check_state,
    make_optimizer,
    optimizer_from_state,
)

rng = np.random.default_rng(0)
M = rng.normal(size=(7, 7))
A = M @ M.T + 7 * np.eye(7)  # symmetric positive definite
B = rng.normal(size=7)
P0 = rng.normal(size=7)
STEPS = 6


def as_dict(p: np.ndarray) -> dict:
    """The flat p as the parameters: a (3,) vector and a (2, 2) matrix."""
    return {"a": p[:3].copy(), "W": p[3:].reshape(2, 2).copy()}


def flat(params: dict) -> np.ndarray:
    return np.concatenate([params["a"], params["W"].ravel()])


def gradient(p: np.ndarray) -> np.ndarray:
    return A @ p - B


def run(optimizer, steps=STEPS, params=None):
    """Iterates p_1 ... p_steps of `optimizer` on the quadratic, as flat vectors."""
    params = as_dict(P0) if params is None else params
    iterates = []
    for _ in range(steps):
        optimizer.update(params, as_dict(gradient(flat(params))))
        iterates.append(flat(params))
    return iterates


# --- each optimiser against its formula, written out again here -----------------------------


def test_sgd_follows_its_formula():
    p, expected = P0.copy(), []
    for _ in range(STEPS):
        p = p - 0.05 * gradient(p)
        expected.append(p)
    np.testing.assert_allclose(run(SGD(0.05)), expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_follows_its_formula(nesterov):
    lr, beta = 0.02, 0.8
    p, v, expected = P0.copy(), np.zeros(7), []
    for _ in range(STEPS):
        g = gradient(p)
        v = beta * v + g
        p = p - lr * (g + beta * v) if nesterov else p - lr * v
        expected.append(p)
    actual = run(Momentum(lr, beta=beta, nesterov=nesterov))
    np.testing.assert_allclose(actual, expected, rtol=1e-13, atol=1e-15)
    assert not np.allclose(actual, run(SGD(lr)))  # momentum really changed the path


def test_adam_follows_its_formula():
    lr, b1, b2, eps = 0.1, 0.8, 0.95, 1e-6
    p, m, v, expected = P0.copy(), np.zeros(7), np.zeros(7), []
    for t in range(1, STEPS + 1):
        g = gradient(p)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        expected.append(p)
    actual = run(Adam(lr, beta1=b1, beta2=b2, eps=eps))
    np.testing.assert_allclose(actual, expected, rtol=1e-13, atol=1e-15)


def test_rmsprop_follows_its_formula():
    lr, rho, eps = 0.05, 0.7, 1e-5
    p, a, expected = P0.copy(), np.zeros(7), []
    for _ in range(STEPS):
        g = gradient(p)
        a = rho * a + (1 - rho) * g**2
        p = p - lr * g / np.sqrt(a + eps)
        expected.append(p)
    actual = run(make_optimizer("rmsprop", learning_rate=lr, rho=rho, eps=eps))
    np.testing.assert_allclose(actual, expected, rtol=1e-13, atol=1e-15)
    assert not np.allclose(actual, run(Adam(lr, eps=eps)))  # not Adam under another name


def test_adams_first_step_is_the_learning_rate_times_the_sign_of_the_gradient():
    params = as_dict(P0)
    params["a"][0] = 0.0
    grads = as_dict(gradient(flat(params)))
    grads["W"][1, 1] = 0.0  # no gradient: no step
    before = flat(params)
    Adam(0.003).update(params, grads)
    step = flat(params) - before
    np.testing.assert_allclose(step, -0.003 * np.sign(flat(grads)), rtol=1e-6, atol=0)
    assert step[-1] == 0.0


def test_momentum_with_beta_0_is_sgd_exactly():
    np.testing.assert_array_equal(run(Momentum(0.05, beta=0.0)), run(SGD(0.05)))


def test_a_lowered_learning_rate_applies_from_the_next_step():
    optimizer, reference = Momentum(0.04), Momentum(0.04)
    params, ref_params = as_dict(P0), as_dict(P0)
    run(optimizer, 2, params)
    run(reference, 2, ref_params)
    optimizer.learning_rate = 0.02  # what the halving rule does
    g = gradient(flat(params))
    v = 0.9 * flat(reference.state["velocity"]) + g  # the formula by hand, at half the rate
    run(optimizer, 1, params)
    np.testing.assert_allclose(flat(params), flat(ref_params) - 0.02 * v, rtol=1e-13)


def test_float32_parameters_stay_float32():
    params = {k: v.astype(np.float32) for k, v in as_dict(P0).items()}
    optimizer = Adam(0.01)
    run(optimizer, 2, params)
    assert all(p.dtype == np.float32 for p in params.values())
    assert all(a.dtype == np.float32 for a in optimizer.state_dict().values() if np.ndim(a))


# --- saving and continuing ---------------------------------------------------------------------


def through_npz(state: dict) -> dict:
    """The state as an .npz without pickle returns it: arrays, 0-d for numbers and the name."""
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


@pytest.mark.fixtures
@pytest.mark.parametrize(
    "make",
    [
        lambda: SGD(0.05),
        lambda: Momentum(0.03, nesterov=True),
        lambda: RMSprop(0.02, rho=0.8),
        lambda: Adam(0.05, beta2=0.9),
    ],
)
def test_state_dict_round_trip_continues_bit_identically(make):
    straight = run(make(), 2 * STEPS)
    optimizer, params = make(), as_dict(P0)
    run(optimizer, STEPS, params)
    state = optimizer.state_dict()
    run(optimizer, 1, params)  # the saved state is a copy: later steps do not change it
    saved_params = as_dict(straight[STEPS - 1])
    # Into a new optimiser rebuilt from the state alone, and into one made by name.
    for resumed in (optimizer_from_state(through_npz(state)), make_optimizer(state["name"])):
        resumed.load_state_dict(through_npz(state))
        assert resumed.hyperparameters() == make().hyperparameters() and resumed.t == STEPS
        continued = run(resumed, STEPS, {k: v.copy() for k, v in saved_params.items()})
        np.testing.assert_array_equal(continued, straight[STEPS:])


def test_state_dict_holds_only_names_numbers_and_arrays():
    optimizer = Adam(0.01)
    run(optimizer, 1)
    state = optimizer.state_dict()
    assert set(state) == {"name", "learning_rate", "beta1", "beta2", "eps", "t"} | {
        f"{slot}/{name}" for slot in ("m", "v") for name in ("a", "W")
    }
    assert all(np.asarray(v).dtype != object for v in state.values())


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: SGD(0.0), "learning_rate must be a number > 0, got 0.0"),
        (lambda: SGD(float("nan")), "learning_rate must be a number > 0, got nan"),
        (lambda: SGD(True), "learning_rate must be a number > 0, got True"),
        (lambda: Momentum(0.1, beta=1.0), r"beta must be a number in \[0, 1\), got 1.0"),
        (lambda: Momentum(0.1, nesterov="yes"), "nesterov must be True or False, got 'yes'"),
        (lambda: Adam(beta1=-0.1), r"beta1 must be a number in \[0, 1\), got -0.1"),
        (lambda: Adam(beta2=1), r"beta2 must be a number in \[0, 1\), got 1"),
        (lambda: Adam(eps=0), "eps must be a number > 0, got 0"),
        (lambda: RMSprop(rho=1.0), r"rho must be a number in \[0, 1\), got 1.0"),
        (lambda: RMSprop(eps=-1e-6), "eps must be a number > 0, got -1e-06"),
        (lambda: make_optimizer("adagrad"), r"unknown optimizer 'adagrad': expected one of \["),
    ],
)
def test_bad_hyperparameters_are_named_with_what_was_expected(make, words):
    with pytest.raises(ValueError, match=words):
        make()


def test_halving_to_a_bad_rate_is_refused():
    optimizer = make_optimizer("adam", learning_rate=0.01)
    with pytest.raises(ValueError, match="learning_rate"):
        optimizer.learning_rate = -0.005
    assert optimizer.learning_rate == 0.01


def test_mismatched_gradients_and_foreign_states_are_refused():
    with pytest.raises(ValueError, match="do not match the parameters"):
        SGD(0.1).update(as_dict(P0), {"a": np.zeros(3)})
    with pytest.raises(ValueError, match="gradient W has shape"):
        SGD(0.1).update(as_dict(P0), {"a": np.zeros(3), "W": np.zeros(4)})
    adam = Adam()
    run(adam, 1)
    with pytest.raises(ValueError, match="state of a 'adam' optimiser, not of 'momentum'"):
        Momentum().load_state_dict(adam.state_dict())
    state = adam.state_dict()
    del state["beta2"]
    with pytest.raises(ValueError, match=r"missing \['beta2'\]"):
        Adam().load_state_dict(state)


# --- refusing what must not be continued from --------------------------------------------------


@pytest.mark.parametrize("make", [SGD, Momentum, Adam])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_gradient_is_refused_before_anything_changes(make, bad):
    optimizer = make()
    params = as_dict(P0)
    run(optimizer, 2, params)
    before, state = {k: v.copy() for k, v in params.items()}, optimizer.state_dict()
    grads = as_dict(gradient(flat(params)))
    grads["W"][1, 0] = bad  # the second array: the first would be updated first
    with pytest.raises(NonFiniteGradient, match="the gradient of W holds NaN or inf"):
        optimizer.update(params, grads)
    for name, value in before.items():
        np.testing.assert_array_equal(params[name], value)
    after = optimizer.state_dict()
    assert after.keys() == state.keys() and optimizer.t == 2
    for key, value in state.items():
        np.testing.assert_array_equal(after[key], value)


def test_a_finite_gradient_whose_sum_overflows_is_still_taken():
    params = {"w": np.zeros(4, dtype=np.float32)}
    huge = np.full(4, 3e38, dtype=np.float32)  # finite; their float32 sum is inf
    SGD(1e-38).update(params, {"w": huge})
    np.testing.assert_allclose(params["w"], -3.0, rtol=1e-6)


def test_a_saved_state_is_checked_against_the_parameters():
    shapes = {"a": (3,), "W": (2, 2)}
    adam = Adam()
    run(adam, 2)
    check_state(adam.state_dict(), shapes)  # the real thing passes
    state = adam.state_dict()
    del state["v/W"]
    with pytest.raises(ValueError, match=r"missing \['v/W'\] after 2 steps"):
        check_state(state, shapes)
    check_state(state, shapes, complete=False)  # at load: completeness is the resumer's call
    state = {**adam.state_dict(), "m/W": np.zeros((2, 2), dtype=np.int64)}
    with pytest.raises(ValueError, match=r"'m/W' has shape \(2, 2\) and dtype int64"):
        check_state(state, shapes)
    with pytest.raises(ValueError, match="'m/b' is not a moment of this model's weights"):
        check_state({**adam.state_dict(), "m/b": np.zeros(3)}, shapes)
    with pytest.raises(ValueError, match="'t' must be a whole number >= 0"):
        check_state({**adam.state_dict(), "t": np.array(-1)}, shapes)
    check_state(Adam().state_dict(), shapes)  # no steps yet: no moments either
