"""Input monitoring for a served model: a training reference stored in the model, and the drift of
recent inputs against it (population-stability index per modality)."""
