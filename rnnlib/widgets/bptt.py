"""The BPTT truncation explorer: how far back each output's gradient reaches, and what k cuts (notebooks 3 and 6).

Three panels for one sentence, all from the model's own `bptt` (rnnlib.analysis):
1. the norm of the gradient that the chosen output sends back d steps (log scale), with the
   cut at `bptt_truncate = k` and the points truncation throws away;
2. the relative error of each parameter's truncated gradient against full BPTT, for every k;
3. the (T, T) connectivity map: output t (rows) against input step j (columns), with the
   part truncation removes greyed out.
A slider scales the recurrent weights W of a copy of the model (the user's model is never
changed): below spectral radius ~1 the gradient vanishes geometrically, above it can grow.

Everything the k and output sliders show is computed once per (model, scale of W), so
moving them only redraws. A new model or scale costs about T^2 / 2 calls of `bptt`. A
PyTensor model also compiles one gradient function per truncation and padded length the
first time (about T of them per length bucket): give it short sentences (max_words).
"""

import ipywidgets as widgets
import numpy as np

from rnnlib import analysis, plots
from rnnlib.numpy_rnn.readable import check_sentence
from rnnlib.widgets._view import FigureView, as_model_dict

FULL = -1  # the truncation slider's value for full BPTT


def _check_truncatable(name: str, model) -> None:
    """A clear error for models whose bptt_truncate is fixed (Keras: full BPTT only)."""
    saved = model.bptt_truncate
    try:
        model.bptt_truncate = 0
    except ValueError as e:
        raise ValueError(
            f"model {name!r} ({type(model).__name__}) cannot truncate BPTT ({e}); the "
            "explorer needs a model whose bptt_truncate can be set, e.g. RNNNumpy, "
            "RNNPyTensor or GRUPyTensor (an RNNNumpy can take a KerasRNN's get_params())"
        ) from None
    finally:
        model.bptt_truncate = saved


class BPTTExplorer(FigureView):
    """Truncation k, chosen output, scale of W and model: the gradient's reach, live."""

    def __init__(self, models, x, y, vocab=None, k: int = 4, max_words: int = 15):
        self.models = as_model_dict(models)
        if isinstance(k, bool) or not isinstance(k, int) or k < FULL:
            raise ValueError(f"k must be an integer >= 0, or -1 for full BPTT, got {k!r}")
        if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 2:
            raise ValueError(f"max_words must be an integer >= 2, got {max_words!r}")
        for name, model in self.models.items():
            _check_truncatable(name, model)
            if vocab is not None and len(vocab) != model.word_dim:
                raise ValueError(
                    f"the vocabulary has {len(vocab)} words but model {name!r} has "
                    f"word_dim {model.word_dim}"
                )
        x, y = check_sentence(x, y)
        if len(x) < 2:
            raise ValueError(f"the sentence has {len(x)} word: the explorer needs at least 2")
        self.x, self.y = x[:max_words], y[:max_words]  # (T,), (T,): a readable map
        T = len(self.x)
        self.words = vocab.decode(self.x) if vocab is not None else [str(i) for i in self.x]
        self._flows: dict = {}  # (name, scale) -> (GradientFlow, spectral radius)
        self._copies: dict = {}  # name -> (a copy of the model, the original's parameters)
        super().__init__((15, 5), layout=None, name="bptt-explorer")  # fixed layout: fast

        ks = [(str(d), d) for d in range(T - 1)] + [("full", FULL)]  # k >= T-1 is full
        self.model_choice = widgets.Dropdown(options=list(self.models), description="model")
        # continuous_update=False: a drag sends one value when released, not one redraw
        # (~0.2 s each) per step passed on the way.
        self.truncation = widgets.SelectionSlider(
            options=ks, value=k if k < T - 1 else FULL, description="truncation k",
            continuous_update=False,
        )  # fmt: skip
        self.output = widgets.IntSlider(
            T - 1, min=0, max=T - 1, description="output t", continuous_update=False
        )
        self.scale = widgets.FloatLogSlider(
            1.0, base=2, min=-2, max=2, step=0.25, description="W ×", continuous_update=False,
            readout_format=".3g",
        )  # fmt: skip
        for control in (self.model_choice, self.truncation, self.output, self.scale):
            control.observe(self.redraw, names="value")
        first_row = widgets.HBox([self.model_choice, self.scale])
        second_row = widgets.HBox([self.truncation, self.output])
        self.widget.children = [first_row, second_row, self.image, self.status]
        self.redraw()

    # --- the numbers, cached per (model, scale) ------------------------------------------------

    def _working_model(self, name: str, scale: float):
        """The explorer's own copy of the model, with W scaled; and W's spectral radius.

        One copy per model, made on first use: its W is set again for each scale, and
        the user's model is never touched. (A PyTensor copy keeps its compiled functions
        across scales, since set_params with the same shapes reuses them.)
        """
        if name not in self._copies:
            original = self.models[name]
            self._copies[name] = (analysis.model_copy(original), original.get_params())
        copy, params = self._copies[name]
        return copy, analysis.set_recurrent_scale(copy, params, scale)

    def flow(self, name: str | None = None, scale: float | None = None):
        """(GradientFlow, spectral radius of W) for a model and scale of W (computed once)."""
        name = self.model_choice.value if name is None else name
        scale = float(self.scale.value if scale is None else scale)
        key = (name, scale)
        if key not in self._flows:
            T = len(self.x)
            self.show_message(
                f"computing the gradients of {name} with W × {scale:g} "
                f"({T * (T + 1) // 2 + 1} calls of bptt)…"
            )
            model, radius = self._working_model(name, scale)
            self._flows[key] = (analysis.gradient_flow(model, self.x, self.y), radius)
        return self._flows[key]

    def gradient_norms(self) -> np.ndarray:
        """norms[d]: what the chosen output sends back d steps (the left panel's points)."""
        t = self.output.value
        return self.flow()[0].connectivity[t, : t + 1][::-1]

    # --- the figure ---------------------------------------------------------------------------

    def describe(self) -> str:
        return (
            f"model = {self.model_choice.value}, k = {self.truncation.label}, "
            f"t = {self.output.value}, W × {self.scale.value:g}"
        )

    def draw(self, figure) -> None:
        flow, radius = self.flow()
        k, t = self.truncation.value, self.output.value
        by_distance, by_k, by_pair = figure.subplots(
            1, 3, width_ratios=[1, 1, 1.15],
            gridspec_kw=dict(left=0.05, right=0.97, bottom=0.27, top=0.86, wspace=0.3),
        )  # fmt: skip
        self.panels = (by_distance, by_k, by_pair)
        norms, rounding = self.gradient_norms(), flow.rounding_level[t]
        plots.plot_gradient_by_distance(norms, k, ax=by_distance, rounding=rounding)
        factor = analysis.decay_per_step(norms, rounding)
        per_step = "" if np.isnan(factor) else f": × {factor:.2f} per step back"
        title = f"from output t = {t} (after “{self.words[t]}”){per_step}"
        by_distance.set_title(title, fontsize=10)
        plots.plot_truncation_error(flow.truncation_error, k, ax=by_k, rounding=16 * flow.eps)
        by_k.set_title("truncated vs full gradient, whole sentence", fontsize=10)
        plots.plot_connectivity(flow.connectivity, k, ax=by_pair, words=self.words, output=t)
        by_pair.set_title("how much output t reaches step j", fontsize=10)
        for ax in (by_distance, by_k):
            low, high = ax.get_ylim()
            if high > 100 * low:  # decades are labels enough; each tick costs time to redraw
                ax.minorticks_off()
        cut = "full BPTT" if k == FULL else f"bptt_truncate = {k}"
        figure.suptitle(
            f"{self.model_choice.value}: W × {self.scale.value:g} (spectral radius "
            f"{radius:.2f}), {cut}; norms over {', '.join(flow.params)}",
            fontsize=11,
        )


def bptt_explorer(models, x, y, vocab=None, k: int = 4, max_words: int = 15) -> BPTTExplorer:
    """Explore truncated BPTT on one sentence (x, y) for a model or a dict name -> model.

    Display the returned explorer (last line of a cell) to see it; the sentence is cut to
    its first `max_words` words so the connectivity map stays readable and quick.
    """
    return BPTTExplorer(models, x, y, vocab=vocab, k=k, max_words=max_words)
