"""The DNA language model: NT-compatible tokenizers, the ESM masked-LM, the MLM + contrastive module.

``transformers`` is quiet here: its progress bars and load reports would bury the pipeline's own
output, and nothing is ever downloaded, so there is no transfer to watch.
"""

from transformers.utils import logging as _hf_logging

_hf_logging.set_verbosity_error()
_hf_logging.disable_progress_bar()
