"""Fixtures of the exporter tests (defined in exporter_helpers)."""

from exporter_helpers import ca, exporter  # noqa: F401 - pytest fixtures
