"""Cohort sources, grouped by where the data comes from: ``tables/`` (your own tables), ``segments/``
(CNV segment files), ``variants/`` (MAF/VCF + FASTA), ``synthetic/`` (every generator), plus the split,
sample-ID and ingest-decision helpers they share."""
