"""gradient_check: passes right gradients, catches wrong ones, handles 0/0 and NaN."""

import numpy as np
import pytest

from rnnlib.analysis.gradcheck import gradient_check, relative_error
from rnnlib.numpy_rnn.readable import RNNNumpy

X = np.array([0, 3, 7, 7, 2, 9])
Y = np.array([3, 7, 7, 2, 9, 1])


class ScaledW(RNNNumpy):
    """A deliberately broken backend: dW is 10% too large."""

    def bptt(self, x, y):
        grads = super().bptt(x, y)
        grads["W"] = grads["W"] * 1.1
        return grads


class NanInV(RNNNumpy):
    """A backend whose bptt returns NaN in one entry of dV."""

    def bptt(self, x, y):
        grads = super().bptt(x, y)
        grads["V"][4, 2] = np.nan
        return grads


class FailsAfter(RNNNumpy):
    """A backend whose loss breaks after a few evaluations."""

    calls = 0

    def calculate_total_loss(self, X, Y):
        self.calls += 1
        if self.calls > 5:
            raise RuntimeError("backend crashed")
        return super().calculate_total_loss(X, Y)


def test_correct_full_bptt_passes():
    model = RNNNumpy(12, 5, bptt_truncate=-1, seed=1)
    result = gradient_check(model, X, Y)
    assert result.passed
    assert set(result.params) == {"U", "V", "W"}
    assert result.worst_error < 1e-4
    assert result.params["U"].n_checked == 60 and result.params["W"].n_checked == 25
    assert "PASSED" in str(result)


def test_scaled_gradient_fails_only_for_that_parameter():
    result = gradient_check(ScaledW(12, 5, bptt_truncate=-1, seed=1), X, Y)
    assert not result.passed
    assert result.params["U"].passed and result.params["V"].passed
    w = result.params["W"]
    assert not w.passed
    # The worst entry reports the two gradients it compared: analytic = 1.1 * numeric,
    # so the relative error is 0.1 / 2.1 (the (near-)zero entries count as agreement).
    assert w.analytic == pytest.approx(1.1 * w.numeric, rel=1e-4)
    assert w.worst_error == pytest.approx(0.1 / 2.1, rel=1e-3)
    assert "FAILED" in result.report() and "W (5, 5)" in result.report()


def test_truncated_bptt_fails_on_a_sentence_longer_than_the_truncation():
    # The lesson of the original's Theano check: a truncated gradient is not the derivative.
    result = gradient_check(RNNNumpy(12, 5, bptt_truncate=1, seed=1), X, Y)
    assert not result.params["W"].passed
    assert result.params["V"].passed


def test_zero_over_zero_counts_as_agreement():
    assert relative_error(0.0, 0.0) == 0.0
    assert relative_error(1e-14, -1e-14) == 0.0
    assert relative_error(1.0, 3.0) == pytest.approx(0.5)
    # Words 1, 4, 5, 6, 8, 10, 11 are never read: their columns of dU are exactly zero on both sides.
    model = RNNNumpy(12, 5, bptt_truncate=-1, seed=2)
    assert np.all(model.bptt(X, Y)["U"][:, 4] == 0.0)
    result = gradient_check(model, X, Y, params=["U"])
    assert result.passed and np.isfinite(result.params["U"].worst_error)


def test_nan_is_a_failure():
    assert relative_error(np.nan, 1.0) == np.inf
    result = gradient_check(NanInV(12, 5, bptt_truncate=-1, seed=3), X, Y)
    v = result.params["V"]
    assert not result.passed and not v.passed
    assert v.worst_index == (4, 2) and v.worst_error == np.inf


def test_nan_outside_the_checked_subset_still_fails():
    result = gradient_check(
        NanInV(12, 5, bptt_truncate=-1, seed=3), X, Y, params=["V"], max_entries=1, rng=0
    )
    assert result.params["V"].n_checked == 1
    assert not result.passed and result.params["V"].worst_index == (4, 2)


def test_random_subset_is_seeded():
    model = RNNNumpy(12, 5, bptt_truncate=-1, seed=4)
    a = gradient_check(model, X, Y, max_entries=7, rng=np.random.default_rng(5))
    b = gradient_check(model, X, Y, max_entries=7, rng=np.random.default_rng(5))
    assert all(p.n_checked == 7 for p in a.params.values())
    assert a.passed
    for name in a.params:
        assert a.params[name].worst_index == b.params[name].worst_index


def test_parameters_are_restored_exactly_even_on_error():
    model = RNNNumpy(12, 5, bptt_truncate=-1, seed=6)
    before = model.get_params()
    gradient_check(model, X, Y, max_entries=10)
    for name, value in model.get_params().items():
        np.testing.assert_array_equal(value, before[name])
    crashing = FailsAfter(12, 5, bptt_truncate=-1, seed=6)
    with pytest.raises(RuntimeError, match="crashed"):
        gradient_check(crashing, X, Y)
    for name, value in crashing.get_params().items():
        np.testing.assert_array_equal(value, before[name])


def test_bad_arguments():
    model = RNNNumpy(12, 5)
    with pytest.raises(ValueError, match="h must be a positive step"):
        gradient_check(model, X, Y, h=0.0)
    with pytest.raises(ValueError, match=r"unknown parameter names \['b'\]"):
        gradient_check(model, X, Y, params=["b"])
    with pytest.raises(ValueError, match="max_entries"):
        gradient_check(model, X, Y, max_entries=0)


@pytest.mark.parametrize("k", [1, 3])
def test_truncated_bptt_passes_against_the_truncated_objective(k):
    rng = np.random.default_rng(3)
    model = RNNNumpy(40, 6, bptt_truncate=k, seed=1)
    x, y = rng.integers(0, 40, 12), rng.integers(0, 40, 12)
    assert not gradient_check(model, x, y).passed  # not the derivative of the plain loss
    _, frozen = model.forward_propagation(x)
    result = gradient_check(model, x, y, loss=lambda m: m.truncated_total_loss(x, y, frozen))
    assert result.passed, result.report()
