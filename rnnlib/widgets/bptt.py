"""The BPTT truncation explorer: how far back each output's gradient reaches, and what k cuts (notebooks 3 and 6).

Three panels for one sentence, all from the model's own `bptt` (rnnlib.analysis):
1. the norm of the gradient that the chosen output sends back d steps (log scale), with the
   cut at `bptt_truncate = k` and the points truncation throws away;
2. the relative error of each parameter's truncated gradient against full BPTT, for every k;
3. the (T, T) connectivity map: output t (rows) against input step j (columns), with the
   part truncation removes greyed out.
A slider scales the recurrent weights W of a copy of the model (the user's model is never
changed): below spectral radius ~1 the gradient vanishes geometrically, above it can grow.
Below the panels, rnnlib.diagrams draws the network unrolled over the last steps up to the
chosen output, with the window that truncation k keeps.

Everything the k and output sliders show is computed once per (model, scale of W), so
moving them only redraws. For the tutorial's RNN (RNNNumpy, RNNNumpyFast, RNNPyTensor) a
new scale is one backward sweep over the forward states (rnnlib.analysis.gradient_flow;
checked once per model against its own full bptt), so it answers about as fast as a
redraw. Any other model (the GRU) costs T(T+1)/2 + 1 calls of its bptt, and a PyTensor
model compiles a gradient function per truncation the first time: the picture is dimmed
and the status line says what is being computed meanwhile. Give it short sentences.
"""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from rnnlib import analysis, diagrams, plots
from rnnlib.numpy_rnn.readable import check_sentence
from rnnlib.sampling import readable_words
from rnnlib.widgets._view import FigureView, as_model_dict, figure_png

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
        words = vocab.decode(self.x) if vocab is not None else [str(i) for i in self.x]
        self.words = readable_words(words)  # quote tokens shown as quotes
        self._flows: dict = {}  # (name, scale) -> (GradientFlow, spectral radius)
        self._copies: dict = {}  # name -> (a copy of the model, the original's parameters)
        self._swept: dict = {}  # name -> True once its sweep agreed with its own bptt
        super().__init__((12, 5.6), layout=None, name="bptt-explorer")  # 960 px; fixed: fast

        ks = [(str(d), d) for d in range(T - 1)] + [("full", FULL)]  # k >= T-1 is full
        self.model_choice = widgets.Dropdown(options=list(self.models), description="model")
        if len(self.models) == 1:  # nothing to choose: the title names the model
            self.model_choice.layout.display = "none"
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
        # Below the panels: the unrolled graph with the window of the current k, as a picture.
        self.window = widgets.Image(format="png", layout=widgets.Layout(align_self="flex-start"))
        self.widget.children = [first_row, second_row, self.image, self.window, self.status]
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
            model, radius = self._working_model(name, scale)
            what = f"computing the gradients of {name} with W × {scale:.3g}"
            swept = self._swept.get(name)  # None: not tried yet
            if swept:  # its sweep was checked: quick, no need to dim
                self.show_message(f"{what}: one backward sweep…")
            elif swept is None and analysis.is_tutorial_rnn(model):  # PyTensor compiles first
                self.busy(f"{what}: one backward sweep, checked against its own bptt…")
            else:  # slow: dim the picture and say what is being computed
                self.busy(f"{what}: {T * (T + 1) // 2 + 1} calls of its bptt…")
            if name not in self._swept:  # first use: a sweep is checked against its bptt
                flow = analysis.gradient_flow(model, self.x, self.y)
                self._swept[name] = flow.method == analysis.SWEEP
            elif self._swept[name]:  # checked before; another W changes no equation
                flow = analysis.gradient_flow_by_sweep(model, self.x, self.y, check=False)
            else:
                flow = analysis.gradient_flow_by_bptt(model, self.x, self.y)
            self._flows[key] = (flow, radius)
        return self._flows[key]

    def gradient_norms(self) -> np.ndarray:
        """norms[d]: what the chosen output sends back d steps (the left panel's points)."""
        t = self.output.value
        return self.flow()[0].connectivity[t, : t + 1][::-1]

    # --- the figure ---------------------------------------------------------------------------

    def describe(self) -> str:
        return (
            f"model = {self.model_choice.value}, k = {self.truncation.label}, "
            f"t = {self.output.value}, W × {self.scale.value:.3g}"
        )

    def draw(self, figure) -> None:
        flow, radius = self.flow()
        k, t = self.truncation.value, self.output.value
        # Placed by hand (a fixed layout redraws twice as fast as a constrained one), with room
        # for the widest log-axis label (plots.short_log_labels) and the words under the map.
        grid = figure.add_gridspec(
            1, 4, width_ratios=[1, 1, 0.3, 1.45],  # the third: room for the map's word labels
            left=0.075, right=0.92, bottom=0.3, top=0.8, wspace=0.34,
        )  # fmt: skip
        by_distance, by_k, by_pair = (figure.add_subplot(grid[0, i]) for i in (0, 1, 3))
        self.panels = (by_distance, by_k, by_pair)
        norms, rounding = self.gradient_norms(), flow.rounding_level[t]
        plots.plot_gradient_by_distance(norms, k, ax=by_distance, rounding=rounding)
        factor = analysis.decay_per_step(norms, rounding)
        per_step = "" if np.isnan(factor) else f"\n× {factor:.2f} per step back"
        by_distance.set_title(f"from output t = {t} (“{self.words[t]}”){per_step}")
        # A difference of two gradients is only known to ~16 eps; a swept part is exact.
        noise = 16 * flow.eps if flow.method == analysis.DIFFERENCES else None
        plots.plot_truncation_error(flow.truncation_error, k, ax=by_k, rounding=noise)
        by_k.set_title("truncated vs full gradient\n(whole sentence)")
        plots.plot_connectivity(flow.connectivity, k, ax=by_pair, words=self.words, output=t)
        by_pair.set_title("how much output t\nreaches step j")
        for ax in (by_distance, by_k):
            low, high = ax.get_ylim()
            if high > 100 * low:  # decades are labels enough; each tick costs time to redraw
                ax.minorticks_off()
            plots.short_log_labels(ax)
            # Below the axes, where nothing is drawn: a legend inside would hide points.
            ax.legend(loc="upper left", bbox_to_anchor=(-0.1, -0.17), frameon=False,
                      handlelength=1.5, borderaxespad=0, labelspacing=0.25)  # fmt: skip
        self.draw_window(t, k)
        cut = "full BPTT" if k == FULL else f"bptt_truncate = {k}"
        figure.suptitle(
            f"{self.model_choice.value}: W × {self.scale.value:.3g} (spectral radius "
            f"{radius:.2f}), {cut}; norms over {', '.join(flow.params)}"
        )

    WINDOW_STEPS = 7  # columns of the unrolled graph: the steps up to the chosen output

    def draw_window(self, t: int, k: int) -> None:
        """The unrolled graph of the last steps up to output t, with truncation k's window."""
        columns = min(t + 1, self.WINDOW_STEPS)
        first = t + 1 - columns
        picture = diagrams.truncation_window(columns, columns - 1, k, first=first)
        picture.set_size_inches(1.1 + 1.05 * columns, 3.1)
        self.window_labels = diagrams.labels(picture)
        self.window.value = figure_png(picture)
        plt.close(picture)


def bptt_explorer(models, x, y, vocab=None, k: int = 4, max_words: int = 15) -> BPTTExplorer:
    """Explore truncated BPTT on one sentence (x, y) for a model or a dict name -> model.

    Display the returned explorer (last line of a cell) to see it; the sentence is cut to
    its first `max_words` words so the connectivity map stays readable and quick.
    """
    return BPTTExplorer(models, x, y, vocab=vocab, k=k, max_words=max_words)
