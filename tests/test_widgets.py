"""The widgets show what the models compute: set a control, read the figure, compare.

Oracles: the models' own forward_propagation; rnnlib.analysis's gradient_by_distance,
connectivity and truncation_error (tested against finite differences in test_analysis);
train_with_sgd and generate_sentences called directly; closed forms for temperature.
"""

import base64
import io
import re

import numpy as np
import PIL.Image
import pytest
from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from rnnlib import analysis, plots
from rnnlib.data.vocab import SENTENCE_END, SENTENCE_START, UNKNOWN_TOKEN, Vocabulary, tokenize
from rnnlib.numpy_rnn.readable import RNNNumpy
from rnnlib.sampling import generate_sentences, sentence_text
from rnnlib.training.history import Evaluation, Halving, History
from rnnlib.training.sgd import train_with_sgd
from rnnlib.widgets import bptt_explorer, hidden_state_explorer, loss_curve, temperature_sampler
from rnnlib.widgets._view import BUSY_CLASS, WIDTH_PX
from rnnlib.widgets.hidden_states import activation_color

C, H = 12, 6


@pytest.fixture
def vocab():
    return Vocabulary(
        [SENTENCE_START, SENTENCE_END, *[f"w{i}" for i in range(C - 3)], UNKNOWN_TOKEN]
    )


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = [np.r_[0, rng.integers(2, C - 1, n)] for n in (6, 4, 7, 5, 6, 3, 6, 5)]
    return X, [np.r_[x[1:], 1] for x in X]  # y: the next words, then SENTENCE_END


@pytest.fixture
def quotes():
    """A vocabulary with the tokenizer's quote tokens, and a sentence that uses them."""
    vocab = Vocabulary([SENTENCE_START, SENTENCE_END, "he", "said", "``", "hi", "''", ".",
                        UNKNOWN_TOKEN])  # fmt: skip
    x = vocab.encode([SENTENCE_START, *tokenize('he said "hi" .')])
    return vocab, x, np.r_[x[1:], vocab.end_index]


def contrast(png: bytes) -> float:
    """Spread of the grey levels: a dimmed picture (faded towards white) has less."""
    return float(np.std(np.asarray(PIL.Image.open(io.BytesIO(png)).convert("L"))))


def text_sizes_px(figure) -> list[float]:
    """Height in pixels of every piece of text in the figure (1 pt = dpi/72 px)."""
    texts = [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return [t.get_fontsize() * figure.dpi / 72 for t in texts]


def colorbar_labels(figure) -> list[str]:
    return [ax.get_ylabel() for ax in figure.axes if hasattr(ax, "_colorbar")]


def large_w_model(seed=3, scale=3.0):
    """An RNN whose gradients reach far back (W scaled up), so every distance is visible."""
    model = RNNNumpy(C, H, bptt_truncate=4, seed=seed)
    model.W *= scale
    return model


def drawn_distance_curve(explorer) -> np.ndarray:
    """The left panel's points, kept and cut together, in order of distance."""
    lines = explorer.panels[0].get_lines()
    points = sorted((x, y) for line in lines[:2] for x, y in zip(*line.get_data(), strict=True))
    return np.array([y for x, y in points if np.ndim(x) == 0])


# --- the numbers: one pass over prefixes and truncations ------------------------------------


def test_gradient_flow_equals_the_per_output_analysis_functions(data):
    model, (X, Y) = large_w_model(), data
    x, y = X[2], Y[2]
    # The sweep (what the explorer uses for this model) and the bptt differences alike.
    for flow in (analysis.gradient_flow(model, x, y), analysis.gradient_flow_by_bptt(model, x, y)):
        assert flow.connectivity == pytest.approx(analysis.connectivity(model, x, y), rel=1e-9)
        errors = analysis.truncation_error(model, x, y, range(len(x)))
        for name, err in errors.items():
            assert flow.truncation_error[name] == pytest.approx(err, rel=1e-9, abs=1e-15)
        assert flow.params == ("U", "W") and model.bptt_truncate == 4  # restored
    assert analysis.gradient_flow(model, x, y).method == analysis.SWEEP


def test_scaling_w_goes_through_a_copy_and_sets_the_spectral_radius():
    model = large_w_model(scale=1.0)
    params = model.get_params()
    copy = analysis.model_copy(model)
    radius = analysis.set_recurrent_scale(copy, params, 2.5)
    assert radius == pytest.approx(np.max(np.abs(np.linalg.eigvals(2.5 * params["W"]))))
    assert np.array_equal(copy.W, 2.5 * params["W"]) and np.array_equal(copy.U, params["U"])
    assert np.array_equal(model.W, params["W"])  # the original is untouched
    with pytest.raises(ValueError, match="scale must be a positive number, got -1"):
        analysis.set_recurrent_scale(copy, params, -1)
    with pytest.raises(ValueError, match=r"no recurrent weights among the parameters \['E'\]"):
        analysis.recurrent_weight_name({"E": 0})


def test_decay_per_step_recovers_a_geometric_rate():
    norms = 3.0 * 0.4 ** np.arange(8)
    assert analysis.decay_per_step(norms) == pytest.approx(0.4)
    noisy_tail = np.r_[norms[:5], 1e-17, 3e-17, 2e-17]  # below the rounding level: ignored
    assert analysis.decay_per_step(noisy_tail, rounding=1e-15) == pytest.approx(0.4)
    assert np.isnan(analysis.decay_per_step([1.0, 1e-20], rounding=1e-15))


# --- the BPTT explorer ---------------------------------------------------------------------


def test_bptt_explorer_draws_the_models_gradient_by_distance(data, vocab):
    model, (X, Y) = large_w_model(), data
    x, y = X[0], Y[0]
    explorer = bptt_explorer(model, x, y, vocab, k=2)
    for t, k in [(6, 2), (4, 0), (6, -1), (3, 5)]:
        explorer.output.value, explorer.truncation.value = t, k
        expected = analysis.gradient_by_distance(model, x, y, t)
        assert drawn_distance_curve(explorer) == pytest.approx(expected, rel=1e-9)
        kept = explorer.panels[0].get_lines()[0]
        assert len(kept.get_xdata()) == (t + 1 if k == -1 else min(k, t) + 1)
        assert f"k = {'full' if k == -1 else k}, t = {t}" in explorer.status.value
        # The picture below: the unrolled graph up to output t, and the current window.
        window = " ".join(explorer.window_labels)
        assert f"$o_{{{t}}}$" in window and f"$x_{{{max(t - 6, 0)}}}$" in window
        assert ("full BPTT" in window) == (k == -1) and (f"k = {k} steps" in window) == (k >= 0)
        assert explorer.window.value[:4] == b"\x89PNG"
    grid = explorer.panels[2].images[0].get_array()  # the map, log10 of the norms
    with np.errstate(divide="ignore"):
        expected_grid = np.log10(analysis.connectivity(model, x, y))
    assert np.allclose(grid.filled(-np.inf), expected_grid)


def test_moving_truncation_and_output_only_redraws(data, vocab):
    (X, Y) = data
    explorer = bptt_explorer(large_w_model(), X[0], Y[0], vocab)
    copy = explorer._copies[explorer.model_choice.value][0]
    calls = []
    original_bptt = copy.bptt
    copy.bptt = lambda x, y: calls.append(len(x)) or original_bptt(x, y)
    before, image = explorer.redraws, explorer.image.value
    explorer.truncation.value = 1
    explorer.output.value = 3
    assert calls == [] and explorer.redraws == before + 2  # nothing recomputed
    assert explorer.image.value != image
    # A new W: one backward sweep (it was checked against bptt at the first draw), where it
    # took T(T+1)/2 + 1 calls of bptt before.
    explorer.scale.value = 2.0
    assert calls == [] and explorer.flow()[0].method == analysis.SWEEP
    assert explorer.redraws == before + 3


def test_scale_slider_scales_w_and_never_changes_the_users_model(data, vocab):
    model, (X, Y) = large_w_model(scale=1.0), data
    x, y = X[2], Y[2]
    saved = model.get_params()
    explorer = bptt_explorer({"rnn": model}, x, y, vocab)
    explorer.scale.value = 4.0
    reference = RNNNumpy(C, H, bptt_truncate=4, seed=3)
    reference.set_params({**saved, "W": 4.0 * saved["W"]})
    t = explorer.output.value
    expected = analysis.gradient_by_distance(reference, x, y, t)
    assert drawn_distance_curve(explorer) == pytest.approx(expected, rel=1e-9)
    radius = np.max(np.abs(np.linalg.eigvals(4.0 * saved["W"])))
    assert f"spectral radius {radius:.2f}" in explorer.figure.texts[0].get_text()
    assert all(np.array_equal(model.get_params()[n], saved[n]) for n in saved)
    assert model.bptt_truncate == 4


def test_model_menu_switches_between_models(data, vocab):
    (X, Y) = data
    models = {"small W": large_w_model(scale=0.5), "large W": large_w_model(scale=4.0)}
    explorer = bptt_explorer(models, X[0], Y[0], vocab)
    t = explorer.output.value
    for name, model in models.items():
        explorer.model_choice.value = name
        expected = analysis.gradient_by_distance(model, X[0], Y[0], t)
        assert drawn_distance_curve(explorer) == pytest.approx(expected, rel=1e-9)
        assert explorer.figure.texts[0].get_text().startswith(name)


def test_the_model_menu_shows_only_when_there_is_a_choice(data, vocab):
    (X, Y) = data
    one = bptt_explorer({"RNN, untrained": large_w_model()}, X[0], Y[0], vocab)
    assert one.model_choice.layout.display == "none"
    assert one.figure.texts[0].get_text().startswith("RNN, untrained: W × 1")  # named here
    two = bptt_explorer({"a": large_w_model(), "b": large_w_model(4)}, X[0], Y[0], vocab)
    assert two.model_choice.layout.display != "none"


def test_scale_of_w_is_rounded_in_the_title_and_status(data, vocab):
    (X, Y) = data
    explorer = bptt_explorer(large_w_model(scale=1.0), X[0], Y[0], vocab)
    explorer.scale.value = 2**0.75  # 1.681792830507429
    title = explorer.figure.texts[0].get_text()
    assert "W × 1.68 (spectral radius" in title and "1.6817" not in title
    assert "W × 1.68" in explorer.status.value and "1.6817" not in explorer.status.value


def test_bptt_explorer_is_readable_at_the_width_a_notebook_shows(data, quotes):
    (X, Y), (vocab, x, y) = data, quotes
    explorer = bptt_explorer(large_w_model(scale=1.0), X[0], Y[0])
    width, _ = PIL.Image.open(io.BytesIO(explorer.image.value)).size
    assert width <= WIDTH_PX  # never shrunk by the browser (~970 px of output column)
    assert min(text_sizes_px(explorer.figure)) >= 10
    assert colorbar_labels(explorer.figure) == ["log10 gradient norm"]
    quoted = bptt_explorer(RNNNumpy(len(vocab), 4), x, y, vocab)
    ticks = [label.get_text() for label in quoted.panels[2].get_xticklabels()]
    assert ticks == [SENTENCE_START, "he", "said", "“", "hi", "”", "."]


def test_axis_labels_stay_inside_the_figure_for_every_scale_of_w(data, vocab):
    (X, Y) = data
    explorer = bptt_explorer(large_w_model(scale=1.0), X[0], Y[0], vocab)
    for i in range(-8, 9):  # every value of the slider: 2^(i/4)
        explorer.scale.value = 2 ** (i / 4)
        renderer = explorer.figure.canvas.get_renderer()  # as drawn into the PNG
        previous_right = 0.0
        for ax in explorer.panels:
            # matplotlib puts the label left of the tick labels: inside means both are.
            label = ax.yaxis.label.get_window_extent(renderer)
            assert label.x0 > max(0, previous_right), (explorer.describe(), ax.get_ylabel())
            previous_right = ax.bbox.x1


def test_bptt_explorer_works_with_the_pytensor_gru(monkeypatch):
    pytest.importorskip("pytensor")
    from rnnlib.pytensor_rnn.gru import GRUPyTensor

    # Each truncation compiles a graph; PyTensor's quick-to-compile mode keeps this test short.
    monkeypatch.setenv("RNNLIB_PYTENSOR_MODE", "FAST_COMPILE")
    gru = GRUPyTensor(C, 4, seed=0)
    x, y = np.array([0, 5, 7]), np.array([5, 7, 1])
    explorer = bptt_explorer({"GRU": gru}, x, y, k=0)
    copy = explorer._copies["GRU"][0]  # the explorer's copy: its compiled graphs serve again
    assert all(np.array_equal(copy.get_params()[n], p) for n, p in gru.get_params().items())
    params = ("E", "U", "W", "b")  # everything before the output layer
    expected = analysis.gradient_by_distance(copy, x, y, 2, params=params)
    assert drawn_distance_curve(explorer) == pytest.approx(expected, rel=1e-7)
    assert explorer.figure.texts[0].get_text().endswith("norms over E, U, W, b")
    # Not the tutorial RNN: its own bptt, T(T+1)/2 + 1 calls, with the picture dimmed and the
    # status saying what is computed until the new picture comes.
    assert explorer.flow()[0].method == analysis.DIFFERENCES
    shown, said = [], []
    explorer.image.observe(lambda change: shown.append(change["new"]), names="value")
    explorer.status.observe(
        lambda change: said.append((change["new"], explorer.widget._dom_classes)), names="value"
    )
    before = explorer.image.value
    explorer.scale.value = 2.0
    dimmed, after = shown
    assert contrast(dimmed) < 0.5 * contrast(before) and after != before
    assert PIL.Image.open(io.BytesIO(dimmed)).size == PIL.Image.open(io.BytesIO(before)).size
    (busy, busy_classes), (done, done_classes) = said
    assert "computing the gradients of GRU with W × 2: 7 calls of its bptt" in busy
    assert BUSY_CLASS in busy_classes and BUSY_CLASS not in done_classes
    assert done.startswith("<small>drawn") and "W × 2" in done


def test_bptt_explorer_rejects_what_it_cannot_show(data, vocab):
    (X, Y), model = data, large_w_model()
    with pytest.raises(ValueError, match="k must be an integer >= 0, or -1 for full BPTT, got -2"):
        bptt_explorer(model, X[0], Y[0], k=-2)
    with pytest.raises(ValueError, match="max_words must be an integer >= 2, got 1"):
        bptt_explorer(model, X[0], Y[0], max_words=1)
    with pytest.raises(
        ValueError, match="the vocabulary has 12 words but model 'm' has word_dim 7"
    ):
        bptt_explorer({"m": RNNNumpy(7, 3)}, X[0] % 7, Y[0] % 7, vocab)
    with pytest.raises(ValueError, match="x has 7 words but y has 6"):
        bptt_explorer(model, X[0], Y[0][:-1])
    with pytest.raises(TypeError, match="got list"):
        bptt_explorer([model], X[0], Y[0])


def test_bptt_explorer_names_the_keras_limit():
    keras_models = pytest.importorskip("rnnlib.keras_rnn")
    model = keras_models.KerasRNN(C, 3, seed=0)
    with pytest.raises(ValueError, match="model 'keras' .KerasRNN. cannot truncate BPTT"):
        bptt_explorer({"keras": model}, np.array([0, 3, 4]), np.array([3, 4, 1]))


# --- the hidden-state explorer ----------------------------------------------------------


def test_heatmap_shows_each_models_hidden_states(data, vocab):
    (X, _), models = data, {"untrained": RNNNumpy(C, H, seed=1), "other": large_w_model()}
    explorer = hidden_state_explorer(models, vocab, X)
    for choice in (0, 2):
        explorer.sentence.value = choice
        for heatmap, model in zip(explorer.heatmaps, models.values(), strict=True):
            states = model.forward_propagation(X[choice])[1]  # (T, H)
            assert np.array_equal(heatmap.images[0].get_array(), states.T)


def test_typed_sentence_is_tokenised_and_encoded(vocab):
    model = large_w_model()
    explorer = hidden_state_explorer(model, vocab, text="W1 w2")
    explorer.text.value = "w3, w4 zebra w5"
    ids = vocab.encode([SENTENCE_START, *tokenize("w3, w4 zebra w5")])
    assert vocab.unknown_index in ids  # "zebra" and "," are not in the vocabulary
    states = explorer.heatmaps[0].images[0].get_array()
    assert np.array_equal(states, model.forward_propagation(ids)[1].T)
    assert "sentence = typed" in explorer.status.value


def test_unit_is_drawn_and_coloured_over_the_words(data, vocab):
    (X, _), model = data, large_w_model()
    explorer = hidden_state_explorer({"m": model}, vocab, X)
    explorer.sentence.value = 2
    explorer.unit.value = 4
    s = model.forward_propagation(X[2])[1]
    curve = explorer.unit_curves[0].get_lines()[0]
    assert np.array_equal(curve.get_ydata(), s[:, 4])
    heatmap = explorer.heatmaps[0].images[0]  # the words take the heatmap's own colours
    from matplotlib.colors import to_hex

    colours = [to_hex(heatmap.cmap(heatmap.norm(a))) for a in s[:, 4]]
    spans = explorer.words_html.value.split("<span")[1:]
    assert [span.split("background:")[1][:7] for span in spans] == colours
    assert explorer.redraws == 3  # first sentence, then the sentence, then the unit


def test_sentence_menu_shows_the_words_not_the_start_marker(data, vocab, quotes):
    (X, _), model = data, large_w_model()
    explorer = hidden_state_explorer(model, vocab, X[:3])
    labels = [label for label, _ in explorer.sentence.options]
    assert labels[:3] == [" ".join(vocab.decode(x[1:])) for x in X[:3]]  # X[i][0] is START
    assert not any(label.startswith(SENTENCE_START) for label in labels)
    quote_vocab, x, _ = quotes
    quoted = hidden_state_explorer(RNNNumpy(len(quote_vocab), 4), quote_vocab, [x])
    assert quoted.sentence.options[0][0] == "he said “hi” ."
    assert "“" in quoted.words_html.value and "``" not in quoted.words_html.value
    ticks = [label.get_text() for label in quoted.unit_curves[0].get_xticklabels()]
    assert ticks == [SENTENCE_START, "he", "said", "“", "hi", "”", "."]


def test_chosen_unit_is_pointed_at_not_drawn_as_a_dark_row(data, vocab):
    (X, _), model = data, large_w_model()
    explorer = hidden_state_explorer({"a": model, "b": model}, vocab, X)
    explorer.unit.value = 4
    for heatmap in explorer.heatmaps:
        boxes = [p for p in heatmap.patches if isinstance(p, Rectangle) and p.get_height() == 1]
        assert boxes == []  # no box around the unit's row (3 px high: it read as a dark row)
        (pointer,) = [line for line in heatmap.get_lines() if line.get_marker() == "<"]
        assert list(pointer.get_ydata()) == [4] and pointer.get_xdata()[0] > 1  # right of it
    assert min(text_sizes_px(explorer.figure)) >= 10
    assert explorer.figure.get_figwidth() * explorer.figure.dpi <= WIDTH_PX
    limit = analysis.hidden_states(model, X[0]).__abs__().max()
    assert colorbar_labels(explorer.figure) == [f"activation (tanh), colours ±{limit:.2g}"] * 2


def top_k_tables(html: str) -> list[list[tuple[str, float]]]:
    """(word, probability) rows of each model's top-k table in the explorer's HTML."""
    tables = html.split("<i>")[1:]  # one per model, after its name
    rows = [re.findall(r"<tr><td>(.*?)</td><td[^>]*>([0-9.]+)</td></tr>", t) for t in tables]
    return [[(word, float(p)) for word, p in table] for table in rows]


def test_top_predictions_are_the_most_probable_next_words(data, vocab):
    (X, _), model = data, large_w_model()
    explorer = hidden_state_explorer({"m": model}, vocab, X, top_k=3)
    explorer.sentence.value = 2
    explorer.position.value = 4
    probs = model.forward_propagation(X[2])[0][4]
    best = np.argsort(probs)[::-1][:3]
    (shown,) = top_k_tables(explorer.predictions_html.value)
    assert shown == [(vocab.index_to_word[i], pytest.approx(probs[i], abs=5e-5)) for i in best]


def test_keras_and_numpy_models_with_the_same_weights_show_the_same_states(data, vocab):
    keras_models = pytest.importorskip("rnnlib.keras_rnn")
    (X, _), numpy_model = data, large_w_model()
    keras_model = keras_models.KerasRNN(C, H, seed=0, dtype="float64")
    keras_model.set_params(numpy_model.get_params())
    explorer = hidden_state_explorer({"NumPy": numpy_model, "Keras": keras_model}, vocab, X)
    explorer.sentence.value, explorer.position.value = 2, 3
    numpy_states, keras_states = (ax.images[0].get_array() for ax in explorer.heatmaps)
    assert np.allclose(keras_states, numpy_states, atol=1e-12)
    assert np.array_equal(numpy_states, numpy_model.forward_propagation(X[2])[1].T)
    numpy_top, keras_top = top_k_tables(explorer.predictions_html.value)
    assert [w for w, _ in numpy_top] == [w for w, _ in keras_top]
    assert [p for _, p in numpy_top] == pytest.approx([p for _, p in keras_top], abs=1e-4)


def test_char_explorer_shows_the_char_models_states_one_column_per_character():
    keras_models = pytest.importorskip("rnnlib.keras_rnn")
    from rnnlib.widgets import char_state_explorer

    table = keras_models.CharTable(list(" ()ab\n"))
    model = keras_models.RNNKeras.for_table(table, sentence_len=5, hidden_dim=3, seed=0)
    explorer = char_state_explorer({"lstm": model}, table, ["a (b)\nab"], top_k=2)
    assert explorer.sentence.options[0][0] == "a (b)↵ab"
    explorer.unit.value = 2
    probs, states = model.forward_propagation(table.encode("a (b)\nab"))  # (T, V), (T, H)
    assert np.array_equal(explorer.heatmaps[0].images[0].get_array(), states.T)
    # Under the curve: a strip of upright characters (blanks made visible), each cell coloured
    # by the unit's activation there, the colours of the word explorer's HTML line.
    (strip,) = explorer.unit_curves[0].child_axes
    assert [t.get_text() for t in strip.texts] == ["a", "␣", "(", "b", ")", "↵", "a", "b"]
    assert all(t.get_rotation() == 0 for t in strip.texts)
    limit = plots.colour_limit(states)
    cells = [to_hex(patch.get_facecolor()) for patch in strip.patches]
    assert cells == [activation_color(a, limit) for a in states[:, 2]]
    assert np.array_equal(explorer.unit_curves[0].get_lines()[0].get_ydata(), states[:, 2])
    (shown,) = top_k_tables(explorer.predictions_html.value)  # after the first character
    best = np.argsort(probs[0])[::-1][:2]
    assert [w for w, _ in shown] == [explorer.vocab.index_to_word[i] for i in best]
    explorer.text.value = "b(a"  # typed: characters, no tokeniser and no START marker
    typed_states = explorer.heatmaps[0].images[0].get_array()
    assert np.array_equal(typed_states, model.forward_propagation(table.encode("b(a"))[1].T)
    explorer.text.value = "bZa"  # a character outside the table: said, nothing redrawn
    assert "&#x27;Z&#x27;" in explorer.status.value and "not in the character table" in (
        explorer.status.value
    )
    assert np.array_equal(explorer.heatmaps[0].images[0].get_array(), typed_states)
    with pytest.raises(ValueError, match="'z' .* not in the character table"):
        char_state_explorer(model, table, ["az"])


def test_hidden_state_explorer_rejects_bad_input(data, vocab):
    (X, _), model = data, large_w_model()
    with pytest.raises(ValueError, match="give some sentences"):
        hidden_state_explorer(model, vocab)
    with pytest.raises(ValueError, match="the vocabulary has 12 words but model 'RNNNumpy'"):
        hidden_state_explorer(RNNNumpy(7, 3), vocab, X)
    with pytest.raises(ValueError, match=r"sentences\[1\] holds ids outside the vocabulary"):
        hidden_state_explorer(model, vocab, [X[0], np.array([0, 99])])


# --- the loss curve ------------------------------------------------------------------------


def halving_markers(view) -> list:
    ax = view.figure.axes[0]
    return [x for line in ax.get_lines()[1:] if line.get_marker() == "v" for x in line.get_xdata()]


def test_replay_shows_the_history_evaluation_by_evaluation():
    history = History(
        [Evaluation(0, 0, 5.0, 0.1), Evaluation(10, 1, 5.5, 0.05), Evaluation(20, 2, 4.0, 0.05),
         Evaluation(30, 3, 4.2, 0.025)],
        [Halving(10, 1, 0.1, 0.05), Halving(30, 3, 0.05, 0.025)],
    )  # fmt: skip
    view = loss_curve(history=history)
    assert list(view.figure.axes[0].get_lines()[0].get_xdata()) == [0, 10, 20, 30]
    assert halving_markers(view) == [10, 30]
    view.shown.value = 2
    assert list(view.figure.axes[0].get_lines()[0].get_ydata()) == [5.0, 5.5]
    assert halving_markers(view) == [10]
    assert "2 of 4 evaluations, 1 halvings" in view.status.value


def test_log_scale_box_redraws_the_same_points_on_a_log_axis():
    history = History([Evaluation(0, 0, 9.0, 0.1), Evaluation(10, 1, 4.0, 0.1)], [])
    view = loss_curve(history=history)
    assert view.figure.axes[0].get_yscale() == "linear"
    view.log_scale.value = True
    ax = view.figure.axes[0]
    assert ax.get_yscale() == "log" and list(ax.get_lines()[0].get_ydata()) == [9.0, 4.0]
    assert view.status.value.endswith("log scale") or "log scale" in view.status.value
    assert loss_curve(history=history, log_scale=True).figure.axes[0].get_yscale() == "log"


def test_train_button_trains_like_train_with_sgd_and_redraws_at_each_evaluation(data):
    X, Y = data
    model = RNNNumpy(C, H, seed=1)
    view = loss_curve(model, X, Y)
    view.learning_rate.value, view.evaluate_loss_after.value, view.epochs.value = 0.5, 1, 4
    frames = []  # the number of points drawn, each time a new image is shown
    loss_points = lambda: len(view.figure.axes[0].get_lines()[0].get_xdata())  # noqa: E731
    view.image.observe(lambda change: frames.append(loss_points()), names="value")
    view.train_button.click()
    twin = RNNNumpy(C, H, seed=1)
    expected = train_with_sgd(twin, X, Y, 0.5, nepoch=4, evaluate_loss_after=1, progress=False)
    assert view.history == expected and len(expected.halvings) >= 1
    assert frames == [1, 2, 3, 4, 5]  # live: one redraw per evaluation
    drawn = view.figure.axes[0].get_lines()[0]
    assert list(drawn.get_ydata()) == expected.losses
    assert halving_markers(view) == [h.examples_seen for h in expected.halvings]
    assert np.array_equal(model.W, twin.W)
    assert view.learning_rate.value == pytest.approx(expected.evaluations[-1].learning_rate)
    # A second click continues the same run, from the rate it ended with.
    view.epochs.value = 2
    view.train_button.click()
    rate = expected.evaluations[-1].learning_rate
    train_with_sgd(twin, X, Y, rate, 6, 1, history=expected, start_epoch=4, progress=False)
    assert view.history == expected and [e.epoch for e in expected.evaluations] == list(range(7))


def test_the_rate_line_shows_the_slider_rate_a_continued_run_used(data):
    """Before: after a run that ended at 0.02, Train at 0.1 drew 0.02 until the next evaluation."""
    X, Y = data
    view = loss_curve(RNNNumpy(C, H, seed=1), X, Y)
    view.learning_rate.value, view.epochs.value = 0.02, 2
    view.train_button.click()
    resumed_at = view.history.evaluations[-1].examples_seen
    view.learning_rate.value = 0.1  # the learner moves the slider, then trains on
    view.train_button.click()
    rate_axis = next(ax for ax in view.figure.axes if ax.get_ylabel() == "learning rate")
    (line,) = rate_axis.get_lines()
    steps = list(zip(line.get_xdata(), line.get_ydata(), strict=True))
    # From where the second click started: 0.1, the slider's rate, until an evaluation halves it.
    at_resume = [rate for seen, rate in steps if seen == resumed_at]
    assert at_resume == pytest.approx([0.02, 0.1])  # the evaluation's rate, then the one set
    first_eval_after = next(e for e in view.history.evaluations if e.examples_seen > resumed_at)
    assert first_eval_after.learning_rate in (pytest.approx(0.1), pytest.approx(0.05))
    assert view.history.rate_changes[-1].learning_rate == pytest.approx(0.1)


def test_curve_follows_any_trainer_through_its_callback(data):
    X, Y = data
    view = loss_curve()
    history = train_with_sgd(
        RNNNumpy(C, H, seed=2), X, Y, 0.05, nepoch=3, callbacks=[view.callback], progress=False
    )
    assert list(view.figure.axes[0].get_lines()[0].get_ydata()) == history.losses
    assert view.redraws == 1 + len(history.evaluations)


def test_curve_follows_keras_fit(data):
    keras_models = pytest.importorskip("rnnlib.keras_rnn")
    X, Y = data
    model = keras_models.KerasRNN(C, 4, seed=0)
    view = loss_curve()
    history = model.fit(X, Y, nepoch=2, batch_size=4, callbacks=[view.callback], verbose=0)
    assert list(view.figure.axes[0].get_lines()[0].get_ydata()) == history.losses
    assert len(history.losses) == 3 and view.redraws == 4


def test_loss_curve_rejects_half_given_training_data(data):
    X, _ = data
    with pytest.raises(ValueError, match="give model, X_train and y_train together"):
        loss_curve(RNNNumpy(C, H), X)
    with pytest.raises(TypeError, match="history must be an rnnlib History, got list"):
        loss_curve(history=[1.0, 2.0])


# --- the temperature sampler ---------------------------------------------------------------


def test_word_sampler_text_is_generate_sentences_with_the_same_seed(vocab):
    model = large_w_model(scale=1.0)
    sampler = temperature_sampler(model, vocab, temperature=0.7, seed=5, sentences=2)
    for temperature, seed in [(0.7, 5), (1.5, 5), (1.5, 9)]:
        sampler.temperature.value, sampler.seed.value = temperature, seed
        rng = np.random.default_rng(seed)
        expected = generate_sentences(model, vocab, 2, rng, temperature=temperature, min_length=5)
        assert sampler.text == "\n".join(" ".join(s) for s in expected)
        assert sampler.text in sampler.text_html.value


def test_word_sampler_continues_the_seed_text(vocab):
    model = large_w_model()
    sampler = temperature_sampler(model, vocab, seed_text="w2 w5", temperature=0.05, sentences=1)
    sampler.temperature.value = 0.05  # nearly greedy: must follow the argmax, word by word
    ids = list(vocab.encode([SENTENCE_START, "w2", "w5"]))
    while len(ids) < 53:
        probs = model.forward_propagation(np.array(ids))[0][-1].copy()
        probs[[vocab.unknown_index, vocab.start_index]] = 0
        if np.argmax(probs) == vocab.end_index:
            break
        ids.append(int(np.argmax(probs)))
    assert sampler.text == " ".join(vocab.decode(ids[1:]))


def test_sampler_bars_are_the_model_and_tempered_distributions(vocab):
    model = large_w_model()
    sampler = temperature_sampler(model, vocab, seed_text="w4", temperature=0.5)
    model_bars, sampled_bars = sampler.figure.axes[0].containers
    probs = model.forward_propagation(vocab.encode([SENTENCE_START, "w4"]))[0][-1].copy()
    probs[[vocab.unknown_index, vocab.start_index]] = 0  # never sampled
    probs /= probs.sum()
    top = np.argsort(probs)[::-1][: len(model_bars)]
    assert [b.get_height() for b in model_bars] == pytest.approx(probs[top])
    squared = probs**2 / np.sum(probs**2)  # p^(1/T) normalised, T = 1/2
    assert [b.get_height() for b in sampled_bars] == pytest.approx(squared[top])
    labels = [label.get_text() for label in sampler.figure.axes[0].get_xticklabels()]
    assert labels == [vocab.index_to_word[i] for i in top]


def test_sampler_at_temperature_one_draws_one_set_of_bars(vocab):
    model = large_w_model()
    sampler = temperature_sampler(model, vocab, seed_text="w4")  # T = 1 by default
    chart = sampler.figure.axes[0]
    assert len(chart.containers) == 1  # the model's own distribution, once
    assert [t.get_text() for t in chart.get_legend().get_texts()] == ["T = 1"]
    sampler.temperature.value = 1.9000000000000001  # what the slider sends
    assert [t.get_text() for t in sampler.figure.axes[0].get_legend().get_texts()] == [
        "T = 1", "T = 1.9"
    ]  # fmt: skip
    half = temperature_sampler(model, vocab, temperature=0.5)  # where notebook 4 starts
    assert half.temperature.value == 0.5 and len(half.figure.axes[0].containers) == 2


def test_sampled_text_is_shown_once_readable_and_wrapped_between_words(quotes):
    vocab, _, _ = quotes
    model = RNNNumpy(len(vocab), 4, seed=0)
    sampler = temperature_sampler(model, vocab, seed=2, sentences=4, temperature=1.5)
    rng = np.random.default_rng(2)
    expected = generate_sentences(model, vocab, 4, rng, temperature=1.5, min_length=5)
    assert any("``" in s or "''" in s for s in expected)  # the quotes are there to be shown
    assert sampler.text == "\n".join(sentence_text(s) for s in expected)
    assert "``" not in sampler.text and "''" not in sampler.text
    # Once: below the figure, not inside it too; as text that wraps between words.
    drawn = "\n".join(t.get_text() for t in sampler.figure.findobj(Text))
    assert not any(line in drawn for line in sampler.text.splitlines())
    assert "word-break:normal" in sampler.text_html.value and "<pre" not in sampler.text_html.value
    assert html_unescape(re.sub("<[^>]+>", "", sampler.text_html.value)) == sampler.text
    assert min(text_sizes_px(sampler.figure)) >= 10
    # The still picture (a saved notebook) has the text, at a readable size, words whole.
    (text,) = [t for t in sampler.still_figure().findobj(Text) if "\n" in t.get_text()]
    assert text.get_text().split() == sampler.text.split() and text.get_fontsize() >= 9


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)


def test_char_sampler_text_is_the_models_generate(vocab):
    keras_models = pytest.importorskip("rnnlib.keras_rnn")
    table = keras_models.CharTable.from_text("the cat sat on the mat.")
    model = keras_models.RNNKeras.for_table(table, 8, hidden_dim=6, seed=0)
    sampler = temperature_sampler(model, seed_text="the ", temperature=0.8, seed=3, length=20)
    expected = model.generate("the ", 20, 0.8, np.random.default_rng(3))
    assert sampler.text == "the " + expected
    with pytest.raises(ValueError, match="needs a non-empty seed_text"):
        temperature_sampler(model)
    sampler.seed_text.value = "the dog"  # no "d" in the text the table was built from
    assert "not in the character table" in sampler.status.value  # said, not raised
    assert sampler.text == "the " + expected  # the last good text stays


def test_sampler_rejects_a_mismatched_vocabulary(vocab):
    with pytest.raises(
        ValueError, match="the vocabulary has 12 words but the model's word_dim is 7"
    ):
        temperature_sampler(RNNNumpy(7, 3), vocab)
    with pytest.raises(TypeError, match="with its Vocabulary"):
        temperature_sampler(RNNNumpy(7, 3))


# --- the static copy for saved notebooks -------------------------------------------------


def test_display_carries_the_widget_and_a_still_png_of_its_figure(data, vocab):
    (X, Y) = data
    explorer = bptt_explorer(large_w_model(), X[0], Y[0], vocab)
    # Three outputs: the rules choosing between still and widget, the still, the widget.
    rules, still, bundle = explorer.display_outputs()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert "image/png" not in bundle  # JupyterLab would never show it: the widget wins
    png = base64.b64decode(still["image/png"])
    assert png.startswith(b"\x89PNG") and png == explorer.image.value
    assert explorer.static_figure() is explorer.figure
    assert bundle["text/plain"].startswith("BPTTExplorer (model = RNNNumpy, k = 4")
    assert still["text/plain"].startswith("still picture of BPTTExplorer (model = RNNNumpy")
    css = rules["text/html"]
    assert "<style>" in css and ":has(.rnnlib-view)" in css and "rnnlib-still-rules" in css
