"""User-facing errors. The CLI prints their message without a traceback, so each must say what and where."""


class OncofusionError(Exception):
    """Base class for errors caused by input or configuration, not by a bug."""


class ConfigError(OncofusionError):
    """params.yaml (or a config passed in code) is invalid."""


class CohortError(OncofusionError):
    """A cohort directory is missing, unreadable, or breaks the Cohort contract."""


class SplitError(OncofusionError):
    """The cohort cannot be split as asked (too few samples of a class, or an unvalidated cohort)."""


class OutputError(OncofusionError):
    """An output path cannot be written (read-only, a file where a directory must be, disk full)."""
