"""The unit search: Pearson r per unit against np.corrcoef, and the text features by hand.

Oracles: np.corrcoef on a constructed case with a planted unit; features written out by
hand for nested parentheses, unbalanced quotes and line ends.
"""

import numpy as np
import pytest

from rnnlib.analysis import unit_search
from rnnlib.data.vocab import SENTENCE_START
from rnnlib.numpy_rnn import RNNNumpy


def planted(rng, feature, unit, H=6, noise=0.3):
    """Random states (N, H) whose column `unit` is the feature plus noise."""
    states = rng.normal(size=(len(feature), H))
    states[:, unit] = feature + noise * rng.normal(size=len(feature))
    return states


def test_correlations_agree_with_corrcoef_and_find_the_planted_unit():
    rng = np.random.default_rng(0)
    feature = rng.integers(0, 2, size=200).astype(float)
    states = planted(rng, feature, unit=3)
    r = unit_search.correlations(states, feature)
    expected = [np.corrcoef(states[:, h], feature)[0, 1] for h in range(states.shape[1])]
    np.testing.assert_allclose(r, expected, rtol=1e-12, atol=1e-14)
    (match,) = unit_search.best_units(-states, {"planted": feature})
    assert match == ("planted", 3, pytest.approx(-expected[3]))  # the sign flips with the unit
    assert abs(match.r) > 0.8


def test_a_constant_unit_gives_r_zero_not_nan_and_is_never_best():
    rng = np.random.default_rng(1)
    feature = rng.normal(size=7)
    states = np.column_stack([np.full(7, 0.1), 1e-3 * rng.normal(size=7), np.zeros(7)])
    # 0.1 seven times: its rounded mean is not exactly 0.1, so a naive r would be noise / noise.
    r = unit_search.correlations(states, feature)
    assert r[0] == 0 and r[2] == 0 and not np.isnan(r).any()
    assert r[1] == pytest.approx(np.corrcoef(states[:, 1], feature)[0, 1])
    assert unit_search.best_units(states, {"f": feature})[0].unit == 1


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"inside quotes has the same value \(0\) at all 3"):
        unit_search.correlations(np.ones((3, 2)), np.zeros(3), "inside quotes")
    with pytest.raises(ValueError, match=r"states \(3, 2\) and feature \(4,\)"):
        unit_search.correlations(np.ones((3, 2)), np.arange(4.0))


def test_verdict_says_plainly_when_no_unit_tracks_the_feature():
    assert unit_search.UnitMatch("x", 17, 0.714).verdict() == "x: unit 17 tracks it, r = +0.71"
    assert unit_search.UnitMatch("x", 2, -0.31).verdict() == (
        "x: no unit reaches |r| >= 0.5; the best is unit 2, r = -0.31"
    )


def test_parentheses_nest_and_a_stray_closing_one_is_ignored():
    tokens = "f ( g ( x ) y ) ) z ( w".split()
    # the opening token is inside, the closing one outside; ")" at depth 0 changes nothing
    expected = [0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1]
    np.testing.assert_array_equal(unit_search.inside(tokens, "(", ")"), expected)
    text = "a(b\nc)d"  # a line end closes the open parenthesis
    np.testing.assert_array_equal(
        unit_search.inside(text, "(", ")", reset="\n"), [0, 1, 1, 0, 0, 0, 0]
    )


def test_plain_quotes_toggle_and_an_unbalanced_one_ends_at_the_line():
    text = 'a "b" "c\nd"e'
    expected = [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1]
    features = unit_search.char_features(text)
    np.testing.assert_array_equal(features["inside quotes"], expected)
    np.testing.assert_array_equal(
        features["position in the line"], [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3]
    )


def test_word_features_restart_with_each_sentence():
    s1 = [SENTENCE_START, "he", "said", "``", "hi", "(", "x", "''", "."]  # unbalanced (
    s2 = [SENTENCE_START, "''", "a", "``", "b"]  # a closing quote first, an unclosed one
    features = unit_search.word_features([s1, s2])
    np.testing.assert_array_equal(
        features["inside quotes"], [0, 0, 0, 1, 1, 1, 1, 0, 0] + [0, 0, 0, 1, 1]
    )
    np.testing.assert_array_equal(
        features["inside parentheses"], [0, 0, 0, 0, 0, 1, 1, 1, 1] + [0, 0, 0, 0, 0]
    )
    np.testing.assert_array_equal(features["position in the sentence"], [*range(9), *range(5)])


def test_states_over_sentences_stack_each_forward_pass():
    model = RNNNumpy(10, 4, seed=0)
    X = [np.array([0, 3, 4]), np.array([0, 5])]
    states = unit_search.states_over(model, X)
    assert states.shape == (5, 4)
    np.testing.assert_array_equal(states[3:], model.forward_propagation(X[1])[1])
    assert unit_search.share_saturated(np.array([[0.95, -0.2], [-0.99, 0.5]])) == 0.5
