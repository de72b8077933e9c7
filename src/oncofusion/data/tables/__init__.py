"""Bring-your-own tables: one file per modality plus a labels file (CSV, TSV, Parquet), read into a cohort."""
