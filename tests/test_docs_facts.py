"""What the docs state about each alert (default `for`, severity, the exporter gates it
needs) is what the code does: docs/runbooks.md and the per-alert table of
docs/configuration.md are read and compared with the facts docs/alerts-index.md is generated
from (mixin.config's defaults; the gates found by generating every gate combination)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from x509_mixin.generator.alerts_index import AlertFacts, alert_gates, facts
from x509_mixin.mixin.config import ALERT_NAMES

ROOT = Path(__file__).resolve().parent.parent
FACTS = {f.base: f for f in facts()}
_FOR = re.compile(r"[Dd]efault `for`(?: of)? ([0-9]+[a-z]+)")
_SEVERITY = re.compile(r"(?:[Dd]efault `for`[^.]*?, |Default )severity `(\w+)`")
_NEEDS = re.compile(r"\*\*Needs the exporter gate (.*?)\*\*")


def runbook_sections() -> dict[str, str]:
    text = (ROOT / "docs" / "runbooks.md").read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    return {s.split("\n", 1)[0].strip(): " ".join(s.split("\n", 1)[1].split()) for s in sections}


def stated(section: str) -> tuple[str, str, tuple[str, ...]]:
    """(default `for`, severity, gates) as a runbook section states them."""
    for_, severity = _FOR.search(section), _SEVERITY.search(section)
    assert for_ and severity, "no 'Default `for` X, severity `Y`' sentence"
    needs = _NEEDS.search(section)
    if needs:
        gates = tuple(re.findall(r"`metrics\.(\w+)", needs.group(1)))
    else:
        assert "No exporter gate is needed" in section or "No other gate is needed" in section, "gates not stated"
        gates = ()
    return for_.group(1), severity.group(1), gates


@pytest.mark.parametrize("base", ALERT_NAMES)
def test_runbook_states_the_codes_default_for_severity_and_gates(base):
    f: AlertFacts = FACTS[base]
    assert stated(runbook_sections()[base]) == (f.default_for, f.severity, f.gates)


def test_configuration_per_alert_table_matches_the_code():
    text = (ROOT / "docs" / "configuration.md").read_text()
    table = text.split("### Per-alert defaults\n", 1)[1].strip().split("\n\n", 1)[0]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    assert [r[0] for r in rows] == list(ALERT_NAMES)
    for base, severity, for_, when in rows:
        f = FACTS[base]
        # The `for` column may add a word after the duration: "0s (no `for:`)".
        assert (severity, for_.split()[0], when) == (f.severity, f.default_for, f.generated_when), base


def test_every_alert_is_tested_by_a_promtool_file():
    assert [base for base, f in FACTS.items() if not f.tests] == []


def test_gates_are_found_by_generating_every_combination():
    gates = alert_gates()
    assert gates["CertificateError"] == ("exposePerCertError",)
    assert (
        gates["CertificateNotYetValid"] == gates["CertificateRenewalOverdue"] == ("exposeNotBefore", "exposeRelative")
    )
    assert {base for base, needed in gates.items() if needed} == {
        "CertificateError",
        "CertificateNotYetValid",
        "CertificateRenewalOverdue",
    }
