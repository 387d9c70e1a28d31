"""rnnlib: a recurrent-network language model built three times."""

__version__ = "0.1.0"
