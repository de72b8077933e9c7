"""One module per DVC stage: the only code that reads paths and writes outputs.

Each module is imported on its own (``oncofusion.stages.train``); this package imports nothing, so a
stage's dependencies in ``dvc.yaml`` are the modules it really runs and nothing more.
"""
