"""Training, evaluation, baselines (and, later, tuning) on cohorts."""
