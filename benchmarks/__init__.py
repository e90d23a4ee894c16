"""Benchmarks of the reference exporter (`make bench`, i.e. `python -m benchmarks`)."""
