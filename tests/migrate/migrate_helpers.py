"""Helpers of the migration tests (imported by tests; fixtures live in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Run:
    code: int
    out: str
    err: list[str]


def fixture_text(name: str) -> str:
    with open(FIXTURES / name, encoding="utf-8", newline="") as fh:
        return fh.read()


def replace_once(text: str, old: str, new: str) -> str:
    """The expected output: the input with exactly one known span changed."""
    assert text.count(old) == 1, old
    return text.replace(old, new)
