"""Notebook 4: training any backend's model.

- `history`: the record of a run (History), the halving rule and TrainingDiverged, which
  every trainer shares (Keras' fit loop included);
- `train`: train_with_sgd, the tutorial's outer loop (any optimiser), resumable, and
  resume_training (`sgd` is its old name, still importable); `loop`: what one call runs
  (evaluations, steps, saves, the training-time budget, early stopping);
- `optimizers`: SGD, momentum, RMSprop and Adam in NumPy;
- `state`: where a run stands, saved in its checkpoints;
- `checkpoint`: one .npz file with the weights, vocabulary, config and state;
- `history`: also the divergence rule (NaN/inf, or a loss above 1.5 log C).
"""
