"""Published reference tables shipped with the package (no downloads at run time)."""
