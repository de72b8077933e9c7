"""Every generator of synthetic data, with known ground truth: multi-omics cohorts (``multiomics``), the
interaction signal, the somatic-variant simulator (``variants``) with its genome and cancer-type presets,
and the small bring-your-own example tables. This package imports nothing, so a stage that uses one
generator does not depend on the others."""
