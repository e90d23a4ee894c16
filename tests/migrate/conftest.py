"""Fixtures of the migration tests: v3 inputs copied into a scratch directory, and a runner of
`x509-mixin migrate` that captures its exit status, stdout and stderr lines."""

from __future__ import annotations

import shutil

import pytest
from migrate_helpers import FIXTURES, Run

from x509_mixin.generator.cli import main


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """Copies of the fixtures in the current directory, so reports name files as typed."""
    for path in FIXTURES.iterdir():
        shutil.copy(path, tmp_path / path.name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def migrate(capsys):
    def run(*argv: str) -> Run:
        code = main(["migrate", *argv])
        out, err = capsys.readouterr()
        return Run(code, out, err.splitlines())

    return run
