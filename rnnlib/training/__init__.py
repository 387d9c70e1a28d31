"""Notebook 4: training any backend's model.

- `history`: the record of a run (History), the halving rule and TrainingDiverged, which
  every trainer shares (Keras' fit loop included);
- `sgd`: train_with_sgd, the tutorial's outer loop, resumable; `loop`: what one call runs
  (evaluations, steps, saves, the time budget, early stopping);
- `optimizers`: SGD, momentum, RMSprop and Adam in NumPy;
- `state`: where a run stands, saved in its checkpoints;
- `checkpoint`: one .npz file with the weights, vocabulary, config and state;
- `history`: also the divergence rule (NaN/inf, or a loss above 1.5 log C).
"""
