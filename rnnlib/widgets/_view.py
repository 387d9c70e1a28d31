"""What every view shares: a matplotlib figure drawn to PNG, controls, a status line (notebooks 2-7).

A view draws into its own `matplotlib.figure.Figure` (not pyplot: no global state, and
nothing is shown twice by the inline backend) and puts the PNG into an `ipywidgets.Image`.
After each redraw the status line says what was drawn ("drawn 3: k = 4, ..."), which is
what a browser test waits for: a slider sends every value it passes through, and only
the status of the last redraw names the final one.

Readable where it is shown: a notebook's output column is about 970 px wide, so figures are
drawn at most WIDTH_PX wide (never shrunk by the browser) with text of at least 9 pt at
80 dpi, i.e. 10 px (READABLE_FONTS). A long computation dims the picture and says what it
is computing (`busy`) until the next redraw.

Still picture: displaying a view gives three outputs. A still PNG of the figure as first
drawn, the live widget, and before them a few CSS rules (an HTML output) that show one of
the two: the widget while it is alive, the still once it is gone (a saved notebook reopened,
a restarted kernel), where JupyterLab would otherwise print "Error displaying widget: model
not found". Where the rules do not apply (GitHub, an untrusted notebook) the still shows,
with the widget's text line. `static_figure()` returns the matplotlib figure itself.
"""

import base64
import io
import time

import ipywidgets as widgets
import matplotlib
import numpy as np
import PIL.Image
from IPython.display import display
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 80
WIDTH_PX = 960  # widest figure a view draws: a notebook's output column is ~970 px
READABLE_FONTS = {  # points; at DPI 80 a point is 80/72 px, so 9 pt is 10 px
    "font.size": 10, "axes.titlesize": 10.5, "axes.labelsize": 10, "figure.titlesize": 11,
    "xtick.labelsize": 9, "ytick.labelsize": 9, "legend.fontsize": 9,
}  # fmt: skip
BUSY_CLASS = "rnnlib-busy"  # on a view's widget while it computes (a browser test can wait)

# The rules that choose between the still and the live widget (JupyterLab's output classes;
# :has() is in every current browser). Outputs, in order: these rules, still, widget.
_RULES = "jp-OutputArea-child:has(.rnnlib-still-rules)"
STILL_CSS = f"""<style>
.{_RULES} {{ display: none; }}
.{_RULES} + .jp-OutputArea-child:has(+ .jp-OutputArea-child .rnnlib-view) {{ display: none; }}
.{_RULES} + * + .jp-OutputArea-child:not(:has(.rnnlib-view)) {{ display: none; }}
</style><div class="rnnlib-still-rules"></div>"""


def as_model_dict(models, what: str = "models") -> dict:
    """A dict name -> model, from one model or a dict of them (names say which is which)."""
    if isinstance(models, dict):
        if not models:
            raise ValueError(f"{what} is an empty dict: give at least one model")
        bad = [name for name in models if not isinstance(name, str)]
        if bad:
            raise TypeError(f"the names of {what} must be strings, got {bad[0]!r}")
        return dict(models)
    if not hasattr(models, "forward_propagation"):
        raise TypeError(
            f"{what} must be a model (with forward_propagation) or a dict name -> model, "
            f"got {type(models).__name__}"
        )
    return {type(models).__name__: models}


def figure_png(figure: Figure) -> bytes:
    """The figure as PNG bytes (never SVG: PNG is what notebooks store and GitHub shows).

    Drawn on an Agg canvas and encoded by Pillow: about a third faster than savefig,
    which matters when a slider redraws on every step.
    """
    canvas = (
        figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    )
    canvas.draw()
    buffer = io.BytesIO()
    PIL.Image.fromarray(np.asarray(canvas.buffer_rgba())).save(buffer, format="png")
    return buffer.getvalue()


class FigureView:
    """A figure redrawn from the controls' values, shown as a PNG in an Image widget."""

    def __init__(self, figsize, dpi: int = DPI, layout: str | None = "constrained", name=""):
        # layout=None: the subclass places its axes itself, which redraws about twice as fast
        self.figure = Figure(figsize=figsize, dpi=dpi, layout=layout)
        # flex-start: a VBox would otherwise stretch the image (blurring it) to its full width
        self.image = widgets.Image(format="png", layout=widgets.Layout(align_self="flex-start"))
        self.status = widgets.HTML().add_class("rnnlib-status")
        self.redraws = 0  # how many times the figure was drawn: one per control change
        self.last_redraw_seconds = float("nan")
        self.widget = widgets.VBox()  # subclasses fill it: controls, image, status
        self.widget.add_class("rnnlib-view")  # CSS classes: what a browser test can find
        if name:
            self.widget.add_class(f"rnnlib-{name}")

    def draw(self, figure: Figure) -> None:
        """Draw the current state into the cleared figure (subclasses)."""
        raise NotImplementedError

    def describe(self) -> str:
        """The control values that were drawn, for the status line (subclasses)."""
        return ""

    def redraw(self, *_change) -> None:
        """Draw the figure again and show it; usable as a traitlets observer."""
        start = time.perf_counter()
        self.figure.clear()
        with matplotlib.rc_context(READABLE_FONTS):  # sizes are fixed when text is made
            self.draw(self.figure)
        self.image.value = figure_png(self.figure)
        self.redraws += 1
        self.last_redraw_seconds = time.perf_counter() - start
        self.widget.remove_class(BUSY_CLASS)
        self.status.value = f"<small>drawn {self.redraws}: {self.describe()}</small>"

    def show_message(self, text: str) -> None:
        """Say what is going on (a long computation) in the status line."""
        self.status.value = f"<small>{text}</small>"

    def busy(self, text: str) -> None:
        """Dim the picture and say what is being computed, until the next redraw."""
        if self.image.value and BUSY_CLASS not in self.widget._dom_classes:
            self.image.value = dimmed_png(self.image.value)
        self.widget.add_class(BUSY_CLASS)
        self.status.value = f"<b>⏳ {text}</b>"

    def static_figure(self) -> Figure:
        """The matplotlib figure as last drawn (for a saved notebook, or to save to a file)."""
        return self.figure

    def still_png(self) -> bytes:
        """The still picture a saved notebook keeps: the figure as shown (subclasses add)."""
        return self.image.value

    def display_outputs(self) -> list[dict]:
        """The three outputs displaying a view gives: the rules, the still, the live widget."""
        widget = self.widget._repr_mimebundle_() or {}
        widget["text/plain"] = f"{type(self).__name__} ({self.describe()}): run it to interact"
        still = {
            "image/png": base64.b64encode(self.still_png()).decode("ascii"),
            "text/plain": f"still picture of {type(self).__name__} ({self.describe()})",
        }
        rules = {"text/html": STILL_CSS, "text/plain": ""}
        return [rules, still, widget]

    def _ipython_display_(self) -> None:
        for bundle in self.display_outputs():
            display(bundle, raw=True)


def dimmed_png(png: bytes) -> bytes:
    """The picture faded towards white: what is shown while a new one is computed."""
    image = PIL.Image.open(io.BytesIO(png)).convert("RGB")
    faded = PIL.Image.blend(image, PIL.Image.new("RGB", image.size, "white"), 0.6)
    buffer = io.BytesIO()
    faded.save(buffer, format="png")
    return buffer.getvalue()
