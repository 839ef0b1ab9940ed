"""Benchmarks of tap-backstory-contacts against the fake API: ``python -m benchmarks``."""
