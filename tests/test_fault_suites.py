"""The fault suites (tests/promtool/faults, not-before/short-lived.yaml) catch the
regressions they guard, and the same timelines run against the Helm chart's own rules show
where the chart is wrong, as docs/faults.md records."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from x509_mixin.generator import promtool
from x509_mixin.generator import unittests as ut
from x509_mixin.mixin import alerts as a
from x509_mixin.mixin import promql as q
from x509_mixin.mixin import templates as t
from x509_mixin.mixin.config import load

ROOT = Path(__file__).resolve().parents[1]
SUITES = {s.name: s for s in ut.suites()}
STATE_RULES = q.state_rules


def _old_increase(cfg, counter, window):
    # The lazily-born-counter branch before: falls back to the lifetime value after any gap.
    s = q.sel(cfg, counter)
    return f"(increase({s}[{window}]) and {s} offset {window}) or {s}"


def _extrapolating_increase(cfg, counter, window):
    return f"increase({q.sel(cfg, counter)}[{window}])"


def _old_state_rules(cfg):
    # The missed-scrape fallback before: any target whose last scrape did not succeed, gone
    # or not, and no notion of a target that has not synced.
    up, target = q.sel(cfg, "up"), q.on(q.target_labels(cfg))
    seen = q.group_by(q.target_labels(cfg), f"last_over_time({up}[{cfg.missedScrapeTolerance}])")
    return [
        {"record": q.GOOD, "expr": q.group_by(q.target_labels(cfg), f"{up} == 1")},
        {"record": q.HELD, "expr": f"{seen} unless {target} {q.GOOD}"},
        {"record": q.GONE, "expr": f"{seen} unless {target} {seen}"},
        {"record": q.HELD_OR_REPLACED, "expr": q.HELD},
    ]


def _unsynced_state_rules(cfg):
    # Without x509_source_up: a restarted exporter counts as good before it has synced.
    rules = STATE_RULES(cfg)
    rules[0] = {"record": q.GOOD, "expr": q.group_by(q.target_labels(cfg), f"{q.sel(cfg, 'up')} == 1")}
    return rules


def _no_replacement_state_rules(cfg):
    # Gone targets never stand in, not even while their replacement syncs.
    rules = STATE_RULES(cfg)
    return [r if r["record"] != q.HELD_OR_REPLACED else {"record": q.HELD_OR_REPLACED, "expr": q.HELD} for r in rules]


def _last_value_stand_in(cfg, m, held):
    # Any series seen lately stands in, even one replaced before the failed scrape.
    tol, target = cfg.missedScrapeTolerance, q.on(q.target_labels(cfg))
    return f"(last_over_time({m}[{tol}]) and {target} {held})"


# (what regressed, how, which suite file, what promtool must report failing)
REGRESSIONS = [
    (
        "counter after a gap",
        (q, "increase", _old_increase),
        "faults",
        "counters.yaml",
        "name: a failed scrape does not bring back",
    ),
    (
        "counter after a gap",
        (q, "increase", _old_increase),
        "faults",
        "counters.yaml",
        "name: a Prometheus restart or a scrape outage",
    ),
    (
        "extrapolated increase",
        (q, "increase", _extrapolating_increase),
        "faults",
        "counters.yaml",
        "name: exactly five errors",
    ),
    (
        "deleted target lives on",
        (q, "state_rules", _old_state_rules),
        "faults",
        "targets.yaml",
        "name: a replaced pod's SourceDown ends",
    ),
    (
        "deleted target lives on",
        (q, "state_rules", _old_state_rules),
        "faults",
        "targets.yaml",
        "name: a certificate only a deleted pod",
    ),
    (
        "rollout resets alerts",
        (q, "state_rules", _no_replacement_state_rules),
        "faults",
        "targets.yaml",
        "name: a rolled-out single exporter",
    ),
    (
        "restart before sync",
        (q, "state_rules", _unsynced_state_rules),
        "faults",
        "targets.yaml",
        "name: an exporter restarted in place",
    ),
    (
        "resurrected serial",
        (q, "_stand_in", _last_value_stand_in),
        "faults",
        "certificates.yaml",
        'expr: "certificate:x509_cert_not_after:max", time: 22m',
    ),
    (
        "empty caBundle entry",
        (
            t,
            "CERTIFICATE",
            t.CERTIFICATE.replace(
                "caBundle{{ with $labels.cabundle_entry }} entry {{ . }}{{ end }}",
                "caBundle entry {{ $labels.cabundle_entry }}",
            ),
        ),
        "faults",
        "certificates.yaml",
        "name: a caBundle with one certificate",
    ),
]


@pytest.mark.parametrize("what,patch,suite,file,failed", REGRESSIONS, ids=[r[0] for r in REGRESSIONS])
def test_fault_suite_catches_the_regression(what, patch, suite, file, failed, monkeypatch, tmp_path):
    module, attr, value = patch
    monkeypatch.setattr(module, attr, value)
    output = _run_one(SUITES[suite], file, load(SUITES[suite].config), tmp_path)
    assert failed in output, f"{what} went unnoticed:\n{output}"


@pytest.mark.parametrize(
    "what,overrides,suite,file,test_name",
    [
        ("passphrase window of 15m", None, "faults", "counters.yaml", "a passphrase failure counted once"),
        ("CRL refresh resolves when stale", None, "faults", "certificates.yaml", "CRL alerts hand over"),
        (
            "node dropped from a node-local file",
            {"localityLabels": []},
            "faults",
            "certificates.yaml",
            "names its node",
        ),
        ("day thresholds for short-lived certificates", None, "not-before", "short-lived.yaml", "judged against"),
        (
            "a vanished source goes unnoticed",
            {"disabledAlerts": ["SourceAbsent"]},
            "faults",
            "targets.yaml",
            "only exporter vanished",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v else None,
)
def test_fault_suite_catches_a_config_or_rule_regression(
    what, overrides, suite, file, test_name, monkeypatch, tmp_path
):
    s = SUITES[suite]
    if what == "passphrase window of 15m":
        real = q.increase
        monkeypatch.setattr(q, "increase", lambda cfg, c, w: real(cfg, c, "15m" if "passphrase" in c else w))
    elif what == "CRL refresh resolves when stale":
        monkeypatch.setattr(a, "_next_update_in", lambda: "((crl:x509_crl_next_update:max - time()) >= 0)")
    elif what == "day thresholds for short-lived certificates":
        monkeypatch.setattr(a.truth, "lifetime", lambda cfg: None)
        monkeypatch.setattr(a, "_certificate_renewal_overdue", lambda cfg: None)
    rules_cfg = load({**s.config, **(overrides or {})})
    output = _run_one(s, file, load(s.config), tmp_path, rules_cfg)
    assert test_name in output, f"{what} went unnoticed:\n{output}"


def _run_one(suite, file, cfg, tmp_path, rules_cfg=None) -> str:
    one = ut.Suite(suite.name, suite.path, suite.config)
    only = [p for p in suite.files if p.name == file]
    assert only, file
    result = ut.run_suite(one, cfg, tmp_path, rules_cfg=rules_cfg, files=only)
    assert not result.ok, "the suite passed on the regressed rules"
    return result.output


# ---- the same timelines against the Helm chart's rules -----------------------------------

CHART_RULES = ROOT.parent / "shared" / "upstream" / "v4-chart-prometheusrule.yaml"
FAULT_FILES = [*(SUITES["faults"].files), SUITES["not-before"].path / "short-lived.yaml"]


def _chart_verdicts(tmp_path: Path) -> dict[tuple[str, str], bool]:
    """(scenario name, checkpoint) -> whether the chart's rules give the right number of
    firing alerts there. Only checkpoints of alerts the chart has are asked."""
    doc = yaml.safe_load(CHART_RULES.read_text())
    (tmp_path / "chart.yaml").write_text(yaml.safe_dump(doc["spec"]))
    chart_alerts = {r["alert"] for g in doc["spec"]["groups"] for r in g["rules"] if "alert" in r}
    verdicts = {}
    for path in FAULT_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            checks = []
            for check in test.get("alert_rule_test", []):
                base = check["alertname"].removeprefix("X509")
                if base in chart_alerts:
                    checks.append((check["eval_time"], base, len(check.get("exp_alerts") or [])))
            for when, base, expected in checks:
                unit = {
                    "rule_files": ["chart.yaml"],
                    "evaluation_interval": "1m",
                    "tests": [
                        {
                            "interval": test["interval"],
                            "input_series": test["input_series"],
                            "promql_expr_test": [
                                {
                                    "expr": f'count(ALERTS{{alertname="{base}", alertstate="firing"}}) or vector(0)',
                                    "eval_time": when,
                                    "exp_samples": [{"labels": "{}", "value": expected}],
                                }
                            ],
                        }
                    ],
                }
                f = tmp_path / "unit.yaml"
                f.write_text(yaml.safe_dump(unit))
                verdicts[(test["name"], f"{base} at {when}")] = promtool.test_rules([f]).ok
    return verdicts


@pytest.mark.slow
@pytest.mark.skipif(not CHART_RULES.exists(), reason="the chart's rules come from ../shared/upstream, absent here")
def test_the_chart_rules_are_wrong_where_docs_faults_md_says(tmp_path):
    verdicts = _chart_verdicts(tmp_path)
    wrong = {f"{name}: {check}" for (name, check), ok in verdicts.items() if not ok}
    section = (ROOT / "docs" / "faults.md").read_text().split("## Where the Helm chart's rules are wrong", 1)[1]
    documented = set(re.findall(r"^- `([^`]+)`", section.split("\n## ", 1)[0], re.M))
    assert wrong == documented, f"chart wrong but undocumented: {sorted(wrong - documented)}\n" + (
        f"documented but right: {sorted(documented - wrong)}"
    )
    assert len(verdicts) > 20
