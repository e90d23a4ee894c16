"""The promtool unit-test suites pass on the generated rules, under their own configuration and
adapted to non-default ones, and fail when a rule is wrong."""

from __future__ import annotations

import pytest

from x509_mixin.generator import unittests as ut
from x509_mixin.mixin.config import load

SUITES = {s.name: s for s in ut.suites()}
PLAN = [(name, None) for name in SUITES] + [("defaults", v) for v in ut.VARIANTS]


def test_every_alert_has_a_suite_that_fires_it():
    from x509_mixin.mixin.config import ALERT_NAMES

    tested = set()
    for suite in SUITES.values():
        for path in suite.files:
            text = path.read_text()
            tested |= {n for n in ALERT_NAMES if f"alertname: X509{n}\n" in text and "exp_labels" in text}
    assert tested == set(ALERT_NAMES)


@pytest.mark.parametrize("suite,variant", PLAN, ids=[f"{s}-{v or 'own'}" for s, v in PLAN])
def test_suite_passes(suite, variant, tmp_path):
    s = SUITES[suite]
    cfg = ut.effective_config(s, load(ut.VARIANTS[variant]) if variant else None)
    result = ut.run_suite(s, cfg, tmp_path)
    assert result.ok, result.output


def test_variants_change_the_expectations():
    # An adapted suite is not the same file: names, labels and links really moved.
    import yaml

    suite = SUITES["defaults"]
    doc = yaml.safe_load((suite.path / "exporter.yaml").read_text())
    base = load({})
    chart = ut.adapt(doc, base, ut.effective_config(suite, load(ut.VARIANTS["chart-names"])))
    first = chart["tests"][0]["alert_rule_test"][1]
    assert first["alertname"] == "ExporterDown"
    alert = first["exp_alerts"][0]
    assert alert["exp_labels"]["team"] == "pki" and alert["exp_labels"]["page"] == "false"
    assert alert["exp_annotations"]["runbook_url"] == "https://wiki.example.org/runbooks/x509#exporterdown"
    assert alert["exp_annotations"]["dashboard"] == "https://grafana.example.org/d/x509"
    # grafanaUrl and dashboardUidPrefix: the alert links the dashboard that explains it.
    assert alert["exp_annotations"]["dashboard_url"] == "https://grafana.example.org/d/pki-exporter"
    sel = ut.adapt(doc, base, ut.effective_config(suite, load(ut.VARIANTS["selector"])))
    assert sel["tests"][0]["input_series"][0]["series"] == 'up{job="certs", instance="10.0.0.1:9793", env="prod"}'
    # Series of other jobs are left alone, so absence is still detected.
    assert sel["tests"][1]["input_series"][0]["series"] == 'up{job="node-exporter", instance="10.0.0.1:9100"}'
    absent = sel["tests"][1]["alert_rule_test"][1]["exp_alerts"][0]
    assert absent["exp_labels"] == {"severity": "critical", "job": "certs"}


@pytest.mark.parametrize(
    "overrides",
    [
        {"warningDaysLeft": 27},
        {"criticalDaysLeft": 13},
        {"alertFor": {"CertificateExpiration": "16m"}},
        {"missedScrapeTolerance": "1s"},
        {"deduplicateReporters": False},
        {"alertFor": {"SourceErrors": "4m"}},
        {"scrapeTimeout": "11s"},
    ],
    ids=lambda o: next(iter(o)),
)
def test_default_suite_catches_a_wrong_rule(overrides, tmp_path):
    result = ut.run_suite(SUITES["defaults"], load({}), tmp_path, rules_cfg=load(overrides))
    assert not result.ok
    assert "FAILED" in result.output


@pytest.mark.parametrize(
    "mutation",
    [
        # The lazy-counter branch: a series born inside the window must count.
        lambda text: text.replace(" offset 15m", " offset 1m"),
        # A successful scrape must drop a replaced certificate at once.
        lambda text: text.replace("== 1", "== 2"),
        # The Helm chart's renewal window excludes expired certificates.
        lambda text: text.replace(">\n        0\n    for: 15m", ">=\n        -1e12\n    for: 15m", 1),
    ],
    ids=["lazy-counter", "rotation", "renewal-excludes-expired"],
)
def test_default_suite_catches_a_mutated_rule(mutation, tmp_path):
    result = ut.run_suite(SUITES["defaults"], load({}), tmp_path, mutate=mutation)
    assert not result.ok, "the mutation went unnoticed"


def test_user_config_changing_thresholds_skips_suites_instead_of_passing():
    report = ut.run_suites(load({"warningDaysLeft": 30}))
    assert not report.ok
    assert report.ran == 0
    assert any(line.startswith("skipped defaults: the configuration changes warningDaysLeft") for line in report.lines)


def test_user_config_with_adaptable_keys_runs_every_compatible_suite():
    report = ut.run_suites(load({"alertNamePrefix": "Pki", "extraAlertLabels": {"team": "sre"}}))
    assert report.ok, "\n".join(report.lines)
    assert report.lines[:2] == ["ok      dashboards (1 files)", "ok      defaults (4 files)"]
    assert "skipped not-before: the configuration changes exporter" in report.lines
