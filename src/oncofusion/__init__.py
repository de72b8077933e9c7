"""oncofusion: from multi-modal cancer cohorts to a validated, tracked, registered and served classifier."""

__version__ = "0.1.0"
