"""Cohort sources: synthetic generators now; tables, segments and PCAWG readers as their issues land."""
