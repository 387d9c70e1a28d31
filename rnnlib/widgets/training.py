"""The live loss curve: redrawn at each evaluation while a model trains (notebooks 4 and 7).

`curve.callback` has the trainers' callback signature, cb(model, history): pass it to
`train_with_sgd(..., callbacks=[curve.callback])` or to a Keras word model's
`fit(..., callbacks=[curve.callback])` (rnnlib.keras_rnn.fit.LossHistory calls it), and the
figure follows training. With a model and data, the view also has its own controls (learning
rate, evaluate_loss_after, epochs) and a Train button, which continues the same History.
A finished History can be replayed: the slider (or its play button) shows it evaluation by
evaluation. The figure is rnnlib.plots.plot_history: one point per evaluation, ▼ at each
learning-rate halving, the rate in force on the right axis; the "log scale" box redraws the
loss on a log axis, which keeps the rest of the curve readable after a spike.
"""

import ipywidgets as widgets

from rnnlib import plots
from rnnlib.training.history import History
from rnnlib.training.sgd import TrainingDiverged, train_with_sgd
from rnnlib.widgets._view import FigureView


def history_until(history: History, n: int) -> History:
    """The first n evaluations of a history, with the halvings decided up to the last of them."""
    evaluations = history.evaluations[:n]
    if not evaluations:
        return History()
    last = (evaluations[-1].epoch, evaluations[-1].examples_seen)
    halvings = [h for h in history.halvings if (h.epoch, h.examples_seen) <= last]
    rate_changes = [r for r in history.rate_changes if r.examples_seen <= last[1]]
    return History(list(evaluations), halvings, rate_changes)


class LossCurve(FigureView):
    """A History's loss curve, redrawn live by a training callback; train and replay controls."""

    def __init__(
        self,
        model=None,
        X_train=None,
        y_train=None,
        history: History | None = None,
        *,
        learning_rate: float = 0.005,
        nepoch: int = 5,
        evaluate_loss_after: int = 1,
        title: str = "",
        floor: float | None = None,
        log_scale: bool = False,
        **train_options,
    ):
        if (model is None) != (X_train is None) or (X_train is None) != (y_train is None):
            raise ValueError("give model, X_train and y_train together (to train), or none")
        if history is not None and not isinstance(history, History):
            raise TypeError(f"history must be an rnnlib History, got {type(history).__name__}")
        self.model, self.X_train, self.y_train = model, X_train, y_train
        self.history = history if history is not None else History()
        self.train_options = train_options  # passed on to train_with_sgd (X_val, y_val, ...)
        self.title, self.floor = title, floor
        self.last_error: Exception | None = None
        last = self.history.evaluations[-1] if self.history.evaluations else None
        self.epochs_done = last.epoch if last else 0  # the Train button continues from here
        super().__init__((8, 4.2), name="loss-curve")

        n = len(self.history.evaluations)
        self.shown = widgets.IntSlider(n, min=0, max=n, description="evaluations")
        self.play = widgets.Play(n, min=0, max=n, interval=400, description="replay")
        widgets.jslink((self.play, "value"), (self.shown, "value"))
        self.shown.observe(self.redraw, names="value")
        self.log_scale = widgets.Checkbox(log_scale, description="log scale", indent=False)
        self.log_scale.observe(self.redraw, names="value")
        rows = [widgets.HBox([self.play, self.shown, self.log_scale])]
        wide = {"description_width": "initial"}  # show the whole description
        if model is not None:
            self.learning_rate = widgets.FloatLogSlider(
                learning_rate, base=10, min=-5, max=0, step=0.05, description="learning rate",
                readout_format=".2g", style=wide,
            )  # fmt: skip
            self.evaluate_loss_after = widgets.IntSlider(
                evaluate_loss_after, min=1, max=10, description="evaluate every", style=wide
            )
            self.epochs = widgets.IntSlider(nepoch, min=1, max=50, description="epochs")
            self.train_button = widgets.Button(description="Train", button_style="primary")
            self.train_button.on_click(self.train)
            controls = [self.learning_rate, self.evaluate_loss_after, self.epochs]
            rows.append(widgets.HBox([*controls, self.train_button]))
        self.widget.children = [*rows, self.image, self.status]
        self.redraw()

    def callback(self, model, history: History) -> None:
        """cb(model, history) for train_with_sgd and the Keras LossHistory: show every point."""
        self.history = history
        n = len(history.evaluations)
        with self.shown.hold_trait_notifications():  # one redraw, below, not one per trait
            self.shown.max = self.play.max = n
        self._show_all()

    def _show_all(self) -> None:
        n = len(self.history.evaluations)
        if self.shown.value == n:
            self.redraw()
        else:
            self.shown.value = n  # observed: redraws

    def train(self, *_button) -> None:
        """Continue training self.model with the controls' settings (the Train button)."""
        if self.model is None:
            raise ValueError("this loss curve has no model to train: give model, X_train, y_train")
        start = self.epochs_done
        self.train_button.disabled = True
        self.show_message(f"training epochs {start} to {start + self.epochs.value}…")
        try:
            train_with_sgd(
                self.model, self.X_train, self.y_train,
                learning_rate=self.learning_rate.value, nepoch=start + self.epochs.value,
                evaluate_loss_after=self.evaluate_loss_after.value, callbacks=[self.callback],
                history=self.history, start_epoch=start, progress=False, **self.train_options,
            )  # fmt: skip
            self.epochs_done, self.last_error = start + self.epochs.value, None
        except (TrainingDiverged, ValueError, TypeError) as e:
            # A button's handler has nowhere to raise to but the browser's console: say it here.
            self.last_error = e
            if isinstance(e, TrainingDiverged):
                self.epochs_done = e.epoch
            self.show_message(f"<span style='color:#b00'>training stopped: {e}</span>")
        finally:
            self.train_button.disabled = False
        if self.history.evaluations:  # continue at the rate the run ended with (halvings kept)
            self.learning_rate.value = self.history.evaluations[-1].learning_rate

    def describe(self) -> str:
        shown = history_until(self.history, self.shown.value)
        return (
            f"{len(shown.evaluations)} of {len(self.history.evaluations)} evaluations, "
            f"{len(shown.halvings)} halvings" + (", log scale" if self.log_scale.value else "")
        )

    def draw(self, figure) -> None:
        ax = figure.subplots()
        shown = history_until(self.history, self.shown.value)
        if not shown.evaluations:
            ax.text(0.5, 0.5, "no evaluations yet", ha="center", va="center")
            ax.set_axis_off()
            return
        plots.plot_history(shown, ax=ax, floor=self.floor, log_scale=self.log_scale.value)
        if len(shown.evaluations) < len(self.history.evaluations):  # a replay: keep the frame
            seen = [e.examples_seen for e in self.history.evaluations]
            losses = self.history.losses
            x_pad, y_pad = (
                0.04 * (max(seen) - min(seen) or 1),
                0.06 * (max(losses) - min(losses) or 1),
            )
            ax.set_xlim(min(seen) - x_pad, max(seen) + x_pad)
            ax.set_ylim(min(losses) - y_pad, max(losses) + y_pad)
        if self.title:
            ax.set_title(self.title)


def loss_curve(model=None, X_train=None, y_train=None, history=None, **options) -> LossCurve:
    """A live loss curve: trains `model` with its own controls, follows a callback, or replays.

    Keyword options: learning_rate, nepoch, evaluate_loss_after (the controls' start values),
    title, floor (a best possible loss to draw), log_scale (the box's start value), and
    train_with_sgd's (X_val, y_val, ...).
    """
    return LossCurve(model, X_train, y_train, history, **options)
