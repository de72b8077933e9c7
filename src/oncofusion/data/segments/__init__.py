"""CNV segment files (.seg, .pgxseg) binned onto the genome into a copy-number cohort."""
