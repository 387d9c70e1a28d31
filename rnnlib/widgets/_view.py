"""What every view shares: a matplotlib figure drawn to PNG, controls, a status line (notebooks 2-7).

A view draws into its own `matplotlib.figure.Figure` (not pyplot: no global state, and
nothing is shown twice by the inline backend) and puts the PNG into an `ipywidgets.Image`.
After each redraw the status line says what was drawn ("drawn 3: k = 4, ..."), which is
what a browser test waits for: a slider sends every value it passes through, and only
the status of the last redraw names the final one.

Static copy: displaying a view gives Jupyter two representations at once, the live widget
and a PNG of the figure as it was drawn. JupyterLab and VS Code show the widget; GitHub,
which cannot show widgets, shows the PNG (so does nbviewer, unless the notebook was saved
with its widget state). So a saved notebook reads well everywhere without showing the figure
twice where a kernel runs. `static_figure()` returns the matplotlib figure itself.
"""

import base64
import io
import time

import ipywidgets as widgets
import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


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

    def __init__(self, figsize, dpi: int = 80, layout: str | None = "constrained", name=""):
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
        self.draw(self.figure)
        self.image.value = figure_png(self.figure)
        self.redraws += 1
        self.last_redraw_seconds = time.perf_counter() - start
        self.status.value = f"<small>drawn {self.redraws}: {self.describe()}</small>"

    def show_message(self, text: str) -> None:
        """Say what is going on (a long computation) in the status line."""
        self.status.value = f"<small>{text}</small>"

    def static_figure(self) -> Figure:
        """The matplotlib figure as last drawn (for a saved notebook, or to save to a file)."""
        return self.figure

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        bundle["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        bundle["text/plain"] = f"{type(self).__name__} ({self.describe()}): run it to interact"
        return bundle
