"""The synthetic multi-omics generator: methylation, cfDNA fragment lengths and copy number for classes
with known informative features, missing modalities at random, and an optional cross-modal interaction."""
