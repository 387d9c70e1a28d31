"""The shared checks of rnnlib.interface, as every backend answers them: sizes, seeds, values, shapes."""

import re

import numpy as np
import pytest

from rnnlib.interface import MAX_MATRIX_SIZE, check_model_size, check_seed
from rnnlib.keras_rnn.char import RNNKeras
from rnnlib.keras_rnn.word import KerasGRU, KerasLSTM, KerasRNN
from rnnlib.numpy_rnn.fast import RNNNumpyFast
from rnnlib.numpy_rnn.readable import RNNNumpy
from rnnlib.pytensor_rnn.gru import GRUPyTensor
from rnnlib.pytensor_rnn.rnn import RNNPyTensor
from rnnlib.training.sgd import train_with_sgd

C, H = 9, 4
WORD_MODELS = [RNNNumpy, RNNNumpyFast, RNNPyTensor, GRUPyTensor, KerasRNN, KerasGRU, KerasLSTM]
RNN_MODELS = [RNNNumpy, RNNNumpyFast, RNNPyTensor, KerasRNN]  # U, V, W: the tutorial's RNN

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module", params=WORD_MODELS, ids=lambda cls: cls.__name__)
def model(request):
    return request.param(C, H, seed=1)


# --- sizes -----------------------------------------------------------------------------------


def test_the_size_limit_is_far_above_the_series_and_says_why():
    assert check_model_size(8000, 128) == (8000, 128)  # the series' largest
    assert check_model_size(10**6, 100) == (10**6, 100)  # C x H = 1e8: still allowed
    with pytest.raises(ValueError, match=r"a 1000001 x 100 matrix of 1e\+08 weights"):
        check_model_size(10**6 + 1, 100)
    with pytest.raises(ValueError, match=r"a 10001 x 10001 matrix"):  # W is H x H
        check_model_size(10, 10**4 + 1)
    assert MAX_MATRIX_SIZE == 10**8


@pytest.mark.parametrize("cls", WORD_MODELS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize(
    "word_dim, hidden_dim, words",
    [
        # Before: NumPy's "Unable to allocate 745 GiB", or Keras/JAX's own error.
        (10**9, 100, r"word_dim=1000000000 and hidden_dim=100 ask for .* at most 1e\+08"),
        (50, 10**5, r"word_dim=50 and hidden_dim=100000 ask for a 100000 x 100000 matrix"),
        (1e9, 100, r"word_dim must be a positive integer, got 1000000000.0"),
        (100, "8", r"hidden_dim must be a positive integer, got '8'"),
    ],
)
def test_every_model_refuses_an_absurd_size_with_our_message(cls, word_dim, hidden_dim, words):
    with pytest.raises(ValueError, match=words):
        cls(word_dim, hidden_dim)


def test_the_char_model_has_the_same_limit():
    with pytest.raises(ValueError, match=r"vector_size=1000000000 and hidden_dim=128 ask for"):
        RNNKeras(40, 10**9)


# --- seeds -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [-1, "abc", 1.5, True, None, 2**31])
def test_check_seed_names_the_value_and_what_was_expected(seed):
    with pytest.raises(
        ValueError, match=rf"seed must be an integer in \[0, 2\*\*31\), got {seed!r}"
    ):
        check_seed(seed)


@pytest.mark.parametrize("cls", [*WORD_MODELS, RNNKeras], ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("seed", [-1, "abc"])
def test_every_model_checks_its_seed(cls, seed):
    """Before: NumPy's 'expected non-negative integer' or int()'s 'invalid literal'."""
    with pytest.raises(
        ValueError, match=rf"seed must be an integer in \[0, 2\*\*31\), got {seed!r}"
    ):
        cls(C, H, seed=seed)
    assert cls(C, H, seed=np.int64(3)).seed == 3


def test_shuffle_seeds_are_checked_by_every_training_loop():
    """Before: 'SeedSequence expects int or sequence of ints for entropy not x'."""
    X, Y = [np.array([0, 1, 2])], [np.array([1, 2, 3])]
    words = r"shuffle_seed must be an integer in \[0, 2\*\*31\), a numpy Generator or None, got 'x'"
    with pytest.raises(ValueError, match=words):
        train_with_sgd(RNNNumpy(C, H), X, Y, nepoch=1, shuffle_seed="x", progress=False)
    with pytest.raises(ValueError, match=words):
        KerasRNN(C, H).fit(X, Y, nepoch=1, batch_size=1, shuffle_seed="x", verbose=0)
    char = RNNKeras(3, 5, 4)
    with pytest.raises(ValueError, match=words.replace("'x'", "-1")):
        char.train_model(np.zeros((4, 3), dtype=int), np.zeros(4, dtype=int), shuffle_seed=-1)


# --- numbers given as strings ------------------------------------------------------------------


def test_a_string_learning_rate_or_clip_norm_is_named_by_every_model(model):
    x, y = [0, 1, 2], [1, 2, 3]
    with pytest.raises(ValueError, match="learning_rate must be a positive number, got '0.1'"):
        model.sgd_step(x, y, "0.1")
    with pytest.raises(ValueError, match="clip_norm must be a positive number, got '5'"):
        model.sgd_step(x, y, 0.1, clip_norm="5")


def test_the_char_model_and_the_gru_check_their_numbers():
    """Before: NumPy's "ufunc 'isfinite' not supported for the input types"."""
    with pytest.raises(ValueError, match="learning_rate must be a positive number, got '0.01'"):
        RNNKeras(3, 5, learning_rate="0.01")
    with pytest.raises(ValueError, match=r"decay must be a number in \[0, 1\), got 'x'"):
        GRUPyTensor(C, H).sgd_step([0, 1], [1, 2], 0.1, decay="x")


# --- parameter values ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_set_params_refuses_non_finite_values_naming_the_parameter(model, bad):
    """Before: accepted; generation failed far away with "probs must be finite"."""
    params = model.get_params()
    name = sorted(params)[-1]
    before = params[name].copy()
    params[name] = params[name].copy()
    params[name].flat[1] = bad
    index = re.escape(str(tuple(int(i) for i in np.unravel_index(1, params[name].shape))))
    with pytest.raises(ValueError, match=rf"parameter {name} holds 1 NaN or infinite .*{index}"):
        model.set_params(params)
    np.testing.assert_array_equal(model.get_params()[name], before)  # nothing changed


def test_a_float32_model_refuses_a_value_that_overflows_it():
    model = RNNNumpyFast(C, H)  # float32
    params = {**model.get_params(), "W": np.full((H, H), 1e300)}
    with (
        np.errstate(over="ignore"),
        pytest.raises(ValueError, match="parameter W holds 16 NaN or infinite"),
    ):
        model.set_params(params)


# --- parameter shapes: the odd one out is named ------------------------------------------------


@pytest.mark.parametrize("cls", RNN_MODELS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("shape", [(H, C + 1), (H + 1, C)])
def test_a_wrong_shaped_u_is_reported_as_u(cls, shape):
    """Before: 'parameter V has shape (9, 4), expected (10, 4) to match U ...'."""
    model = cls(C, H)
    params = {**model.get_params(), "U": np.zeros(shape)}
    words = rf"parameter U has shape {re.escape(str(shape))}, expected \({H}, {C}\)"
    with pytest.raises(ValueError, match=words):
        model.set_params(params)
    assert (model.word_dim, model.hidden_dim) == (C, H)


def test_all_shapes_changing_together_still_resize_the_model():
    model = RNNPyTensor(C, H)
    model.set_params(RNNNumpy(C + 3, H + 2).get_params())
    assert (model.word_dim, model.hidden_dim) == (C + 3, H + 2)


@pytest.mark.parametrize("shape", [(H, C + 1), (H + 1, C)])
def test_a_wrong_shaped_e_in_the_gru_is_reported_as_e(shape):
    """Before: E of the wrong H was reported as U, E of the wrong C as V."""
    model = GRUPyTensor(C, H)
    params = {**model.get_params(), "E": np.zeros(shape)}
    words = rf"parameter E has shape {re.escape(str(shape))}, expected \({H}, {C}\)"
    with pytest.raises(ValueError, match=words):
        model.set_params(params)
