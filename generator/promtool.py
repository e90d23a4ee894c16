"""The promtool wrapper: `check rules`, `test rules`, and the `spec` of a PrometheusRule."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

INSTALL_HINT = "install Debian's `prometheus` package (`make tools` does it as root)"


class PromtoolMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Result:
    ok: bool
    returncode: int
    output: str


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        raise PromtoolMissing(f"promtool not found on PATH: {INSTALL_HINT}")
    return path


def _run(args: list[str], cwd: Path | None = None) -> Result:
    proc = subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    return Result(proc.returncode == 0, proc.returncode, (proc.stdout + proc.stderr).strip())


def check_rules(paths: list[Path]) -> Result:
    """Syntax, PromQL and every lint promtool knows; lint findings are fatal (exit 3)."""
    return _run(["check", "rules", "--lint=all", "--lint-fatal", *map(str, paths)])


def test_rules(test_files: list[Path]) -> Result:
    """Run unit-test files; their `rule_files` resolve relative to each file."""
    return _run(["test", "rules", *map(str, test_files)])


def extract_spec(prometheus_rule: Path, out: Path) -> Path:
    """Write the `spec` of a PrometheusRule as a plain rule file promtool can read."""
    doc = yaml.safe_load(prometheus_rule.read_text())
    if not isinstance(doc, dict) or doc.get("kind") != "PrometheusRule" or not isinstance(doc.get("spec"), dict):
        raise ValueError(f"{prometheus_rule}: not a PrometheusRule with a spec")
    out.write_text(yaml.safe_dump(doc["spec"], sort_keys=False))
    return out
