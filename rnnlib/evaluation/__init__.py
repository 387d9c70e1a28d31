"""How good is each model: baselines, scores, mixtures and the comparisons of notebook 8.

    ngram.py          Kneser-Ney n-gram baselines (counting, no training)
    scoring.py        every model scored alike on the benchmark split: loss, perplexity
    interpolation.py  an RNN mixed with an n-gram model, its weight tuned on validation
    experiments.py    the same recipe for every model; the long-range experiment

`Score`, `score` and `ngram_baselines` are importable from `rnnlib.evaluation` itself (as
before the package was split); the experiments are imported from their module, since they
bring in every backend.
"""

from rnnlib.evaluation.scoring import Score, ngram_baselines, score

__all__ = ["Score", "ngram_baselines", "score"]
