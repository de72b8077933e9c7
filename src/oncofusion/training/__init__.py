"""Fitting the fusion model: data tensors, the training loop and its parts, calibration, tuning, resume."""
