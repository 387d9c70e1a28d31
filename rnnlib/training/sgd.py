"""The old home of train_with_sgd (notebook 4), kept so that `rnnlib.training.sgd` imports work.

The module is rnnlib.training.train now: it runs every optimiser, not only SGD.
"""

from rnnlib.training.train import *  # noqa: F403
from rnnlib.training.train import __all__  # noqa: F401
