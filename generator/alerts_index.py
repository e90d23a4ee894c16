"""docs/alerts-index.md: per alert, the facts the code holds (default severity and `for`, the
exporter gates it needs), where it is built, which promtool files test it and its runbook.

`make generate` rewrites the file; a test fails when it is stale, and another checks what
docs/runbooks.md and docs/configuration.md say about each alert against `facts()`.
"""

from __future__ import annotations

import inspect
import itertools
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from x509_mixin.generator.unittests import suites
from x509_mixin.mixin import alerts
from x509_mixin.mixin.config import ALERT_NAMES, DEFAULT_FOR, DEFAULT_SEVERITIES, DEFAULTS, load

GATES = tuple(DEFAULTS["exporter"])
SUITES_PATH = "tests/promtool"


@dataclass(frozen=True)
class AlertFacts:
    base: str
    severity: str
    default_for: str
    gates: tuple[str, ...]  # exporter gates any one of which generates the alert; () for always
    built_in: str  # "mixin/alerts.py: _certificate_expiration"
    tests: tuple[tuple[str, int], ...]  # (suite folder/file, how many alert_rule_test name the alert)

    @property
    def generated_when(self) -> str:
        return " or ".join(f"`exporter.{gate}`" for gate in self.gates) or "always"


def _generated(gates_on: frozenset[str]) -> set[str]:
    return {a.base for a in alerts.alerts(load({"exporter": {gate: gate in gates_on for gate in GATES}}))}


def alert_gates() -> dict[str, tuple[str, ...]]:
    """For each alert, the gates any one of which generates it, found by generating every
    combination of the exporter gates; an alert whose gating is not of that form is refused
    rather than described wrongly."""
    combos = [frozenset(c) for n in range(len(GATES) + 1) for c in itertools.combinations(GATES, n)]
    generated = {combo: _generated(combo) for combo in combos}
    found = {}
    for base in ALERT_NAMES:
        always = base in generated[frozenset()]
        needs = () if always else tuple(g for g in GATES if base in generated[frozenset({g})])
        for combo, names in generated.items():
            if (base in names) != (not needs or bool(combo & set(needs))):
                raise ValueError(f"{base}: generated with the gates {sorted(combo)} but not as any of {needs}")
        found[base] = needs
    return found


def built_in(base: str) -> str:
    """`module path: function` of the alert's builder (for a lambda, the function it calls)."""
    fn = alerts._BUILDERS[base]
    if fn.__name__ == "<lambda>":  # e.g. `lambda c: _source_errors(c, "SourceErrors")`
        fn = next(getattr(alerts, n) for n in fn.__code__.co_names if inspect.isfunction(getattr(alerts, n, None)))
    module = fn.__module__.removeprefix("x509_mixin.").replace(".", "/")
    return f"{module}.py: {fn.__name__}"


def promtool_tests() -> dict[str, Counter[str]]:
    """Per alert base name, how many alert_rule_test of each suite file name it."""
    found: dict[str, Counter[str]] = {base: Counter() for base in ALERT_NAMES}
    for suite in suites():
        prefix = load(suite.config).alertNamePrefix
        for path in suite.files:
            for test in yaml.safe_load(path.read_text(encoding="utf-8")).get("tests", []):
                for rule_test in test.get("alert_rule_test") or []:
                    base = rule_test["alertname"].removeprefix(prefix)
                    found[base][f"{suite.name}/{path.name}"] += 1
    return found


def facts() -> list[AlertFacts]:
    gates, tests = alert_gates(), promtool_tests()
    return [
        AlertFacts(
            base,
            DEFAULT_SEVERITIES[base],
            DEFAULT_FOR[base],
            gates[base],
            built_in(base),
            tuple(sorted(tests[base].items())),
        )
        for base in ALERT_NAMES
    ]


INTRO = """# Alerts index

Generated from the code by `make generate`; do not edit. One row per alert (base names,
without `alertNamePrefix`): its default severity and `for` (`severities` and `alertFor` change
them), the exporter gates under which it is generated (any one of them; `always`: whatever
the gates), the function that builds it, the promtool test files whose `alert_rule_test` name
it (with how many such tests), and its runbook section. `disabledAlerts` leaves any alert out.
"""


def render() -> str:
    out = [
        INTRO,
        "| alert | severity | for | generated when | built in | tested in | runbook |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in facts():
        module, function = f.built_in.split(": ")
        tested = ", ".join(f"[{name}](../{SUITES_PATH}/{name}) ({n})" for name, n in f.tests) or "none"
        runbook = f"[{f.base}](runbooks.md#{f.base.lower()})"
        out.append(
            f"| {f.base} | {f.severity} | {f.default_for} | {f.generated_when} | "
            f"`{module}`: `{function}` | {tested} | {runbook} |"
        )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"] and len(sys.argv) == 3:
        Path(sys.argv[2]).write_text(render())
    elif sys.argv[1:]:
        sys.exit("usage: python -m x509_mixin.generator.alerts_index [--write FILE]")
    else:
        sys.stdout.write(render())
