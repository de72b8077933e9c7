"""Serving the registered champion with BentoML: model import, request schema, prediction."""
