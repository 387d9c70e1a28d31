"""The numbers behind the widgets and the notebooks' measurements (notebooks 2-7).

    states.py             notebooks 2, 4   hidden states, next-word probabilities, continuations
    gradient_distance.py  notebooks 3, 6   the part of output t's gradient at each distance
    gradient_map.py       notebooks 3, 5   every output at every distance at once (BPTT explorer)
    recurrent_weights.py  notebooks 3, 6   which weights are W, rho(W), a copy with W scaled
    gradcheck.py          notebooks 3, 5   finite-difference gradient checks for any backend
    saturation.py         notebook 6       saturated tanh units: why a trained RNN's gradient fades
    gates.py              notebook 6       a trained GRU's update and reset gates along a sentence
    unit_search.py        notebooks 4, 7   hidden units that track quotes, parentheses, position

Everything is computed through the common model interface (`forward_propagation`, `bptt`,
`bptt_truncate`), so it works for every backend. Nothing here draws or imports ipywidgets:
rnnlib.plots and rnnlib.widgets show these numbers. The names below are importable from
`rnnlib.analysis` itself, as before the package was split into modules.
"""

from rnnlib.analysis.gradient_distance import (
    RECURRENT,
    GradientSpread,
    connectivity,
    decay_per_step,
    gradient_by_distance,
    gradient_spread,
    truncation,
    truncation_error,
)
from rnnlib.analysis.gradient_map import (
    DIFFERENCES,
    OUTPUT_LAYER,
    SWEEP,
    GradientFlow,
    NotTheTutorialRNN,
    gradient_flow,
    gradient_flow_by_bptt,
    gradient_flow_by_sweep,
    is_tutorial_rnn,
)
from rnnlib.analysis.recurrent_weights import (
    RECURRENT_WEIGHTS,
    model_copy,
    recurrent_weight_name,
    set_recurrent_scale,
    spectral_radius,
)
from rnnlib.analysis.states import (
    continue_sentence,
    hidden_states,
    next_word_probs,
    top_predictions,
    top_words,
)

__all__ = [
    "DIFFERENCES",
    "OUTPUT_LAYER",
    "RECURRENT",
    "RECURRENT_WEIGHTS",
    "SWEEP",
    "GradientFlow",
    "GradientSpread",
    "NotTheTutorialRNN",
    "connectivity",
    "continue_sentence",
    "decay_per_step",
    "gradient_by_distance",
    "gradient_flow",
    "gradient_flow_by_bptt",
    "gradient_flow_by_sweep",
    "gradient_spread",
    "hidden_states",
    "is_tutorial_rnn",
    "model_copy",
    "next_word_probs",
    "recurrent_weight_name",
    "set_recurrent_scale",
    "spectral_radius",
    "top_predictions",
    "top_words",
    "truncation",
    "truncation_error",
]
