"""Inverted dropout masks, drawn from (seed, step) so that a resumed run draws the same ones (notebook 4).

Dropout zeroes a random share `rate` of the units in each training step and scales the
others by 1 / (1 - rate), so that a unit's expected value is unchanged and evaluation needs
no rescaling ("inverted" dropout). Every word model applies it to the input of its recurrent
layer and to that layer's output, in `step_batch` only: evaluation, generation and the
gradient checks see the whole network.

The masks of a step come from `np.random.default_rng([seed, step])`, where `step` is the
optimiser's step count `t` (saved in checkpoints with the optimiser's state): a run stopped
and resumed draws exactly the masks of one that never stopped, with no generator to save.
"""

import numpy as np


def dropout_masks(rate: float, seed: int, step: int, shapes, dtype) -> list[np.ndarray]:
    """One mask per shape: 0 with probability `rate`, else 1 / (1 - rate); from (seed, step)."""
    rng = np.random.default_rng([seed, step])
    keep = 1.0 - rate
    scale = np.asarray(1.0 / keep, dtype=dtype)  # a kept unit is scaled up by 1 / (1 - rate)
    return [(rng.random(shape) < keep).astype(dtype) * scale for shape in shapes]
