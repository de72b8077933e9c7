"""Somatic-variant cohorts: MAF/VCF + a reference FASTA → variant windows and mutational catalogues.

The variant table (``variants.parquet``, see :mod:`.table`) is the one representation every reader
produces and every consumer (windows, catalogues, the gate, the DNA language model) reads.
"""
