"""Interactive views for the notebooks (ipywidgets + matplotlib), built on rnnlib.analysis (notebooks 2-7).

Each function returns a view; make it the last line of a cell to display it:

- `hidden_state_explorer(models, vocab, sentences)`: hidden states over a sentence, one
  unit coloured over the words, the top-k next words (untrained vs trained side by side);
  `char_state_explorer(model, table, texts)`: the same for a character model (RNNKeras);
- `bptt_explorer(models, x, y, vocab)`: how far each output's gradient reaches back, what
  truncating BPTT at k cuts, and how the scale of W makes gradients vanish or explode;
- `loss_curve(model, X, y)` / `loss_curve(history=h)`: a loss curve redrawn live by the
  training callback (train_with_sgd or Keras fit), with a Train button, or replayed;
- `temperature_sampler(model, vocab)`: sampled text at a chosen temperature and seed.

Every view works with any model of the common interface (NumPy, PyTensor, Keras word
models); the BPTT explorer needs one whose bptt_truncate can be set (Keras computes full
BPTT only, and says so). Models given in a dict are shown side by side or chosen from a menu.

In a saved notebook: displaying a view stores the live widget and a still PNG of its figure
as first drawn, with a few CSS rules that show one of the two (rnnlib.widgets._view): the
widget while it runs, the still once it is gone (a reopened notebook, a new kernel) instead
of JupyterLab's "Error displaying widget: model not found"; GitHub shows the still. Every
figure is drawn at most 960 px wide with text of at least 10 px, so the notebook shows it
unshrunk. `view.static_figure()` returns the matplotlib figure.
"""

from rnnlib.widgets.bptt import BPTTExplorer, bptt_explorer
from rnnlib.widgets.char_states import CharStateExplorer, char_state_explorer
from rnnlib.widgets.hidden_states import HiddenStateExplorer, hidden_state_explorer
from rnnlib.widgets.sampler import TemperatureSampler, temperature_sampler
from rnnlib.widgets.training import LossCurve, loss_curve

__all__ = [
    "BPTTExplorer",
    "CharStateExplorer",
    "HiddenStateExplorer",
    "LossCurve",
    "TemperatureSampler",
    "bptt_explorer",
    "char_state_explorer",
    "hidden_state_explorer",
    "loss_curve",
    "temperature_sampler",
]
