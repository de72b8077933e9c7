"""Evaluation of a trained model: metrics, bootstrap intervals, baselines, ablations, repeats, label shift,
interpretation and figures. Nothing here writes files; the evaluate stage does."""
