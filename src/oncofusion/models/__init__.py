"""The multi-modal transformer: modality-specific encoders, cross-modal attention fusion, focal loss."""
