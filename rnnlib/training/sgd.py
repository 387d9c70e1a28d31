"""The old home of train_with_sgd, kept so that `from rnnlib.training.sgd import ...` works.

The module is rnnlib.training.train now (it runs every optimiser, not only SGD).
"""

from rnnlib.training.train import *  # noqa: F403
from rnnlib.training.train import __all__  # noqa: F401
