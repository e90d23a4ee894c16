"""The promtool unit-test suites pass on the generated rules, under their own configuration and
adapted to non-default ones, and fail when a rule is wrong."""

from __future__ import annotations

import pytest

from x509_mixin.generator import unittests as ut
from x509_mixin.mixin import promql as q
from x509_mixin.mixin.config import load

SUITES = {s.name: s for s in ut.suites()}
PLAN = [(name, None) for name in SUITES] + [(name, v) for name, vs in ut.VARIANT_RUNS.items() for v in vs]


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
    cfg = ut.effective_config(s, ut.variant_config(s, variant) if variant else None)
    result = ut.run_suite(s, cfg, tmp_path)
    assert result.ok, result.output


def test_every_test_group_names_the_behaviour_it_proves():
    # promtool prints the name of a failing group: it must say what broke, once per file.
    import yaml

    for suite in SUITES.values():
        for path in suite.files:
            names = [t.get("name", "") for t in yaml.safe_load(path.read_text())["tests"]]
            assert all(len(n.split()) >= 4 for n in names), (path.name, names)
            assert len(set(names)) == len(names), (path.name, names)


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
    assert alert["exp_annotations"]["dashboard_url"] == (
        "https://grafana.example.org/d/pki-exporter?from=now-6h&to=now"
        "&var-job=x509-certificate-exporter&var-instance=10.0.0.2%3A9793"
    )
    sel = ut.adapt(doc, base, ut.effective_config(suite, load(ut.VARIANTS["selector"])))
    assert sel["tests"][0]["input_series"][0]["series"] == 'up{job="certs", instance="10.0.0.1:9793", env="prod"}'
    # Series of other jobs are left alone, so absence is still detected.
    assert sel["tests"][1]["input_series"][0]["series"] == 'up{job="node-exporter", instance="10.0.0.1:9100"}'
    absent = sel["tests"][1]["alert_rule_test"][1]["exp_alerts"][0]
    assert absent["exp_labels"] == {"severity": "critical", "job": "certs"}


@pytest.mark.parametrize(
    "overrides,file,failed",
    [
        ({"warningDaysLeft": 27}, "certificates.yaml", "renewal and expiration on both sides"),
        ({"criticalDaysLeft": 13}, "certificates.yaml", "renewal and expiration on both sides"),
        ({"alertFor": {"CertificateExpiration": "16m"}}, "certificates.yaml", "renewal and expiration on both sides"),
        ({"missedScrapeTolerance": "1s"}, "reporters-and-scrapes.yaml", "one failed scrape does not reset"),
        ({"deduplicateReporters": False}, "reporters-and-scrapes.yaml", "one certificate reported by many exporters"),
        ({"alertFor": {"SourceErrors": "4m"}}, "sources.yaml", "more than 5 source errors in 15 minutes"),
        ({"scrapeTimeout": "11s"}, "exporter.yaml", "scrapes above 80% of the timeout"),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_default_suite_catches_a_wrong_rule(overrides, file, failed, tmp_path):
    suite = SUITES["defaults"]
    result = ut.run_suite(suite, load({}), tmp_path, rules_cfg=load(overrides), files=[suite.path / file])
    assert f"name: {failed}" in result.output, result.output


def test_by_reason_suite_catches_error_alerts_that_drop_the_reason(tmp_path):
    suite = SUITES["by-reason"]
    result = ut.run_suite(suite, load(suite.config), tmp_path, rules_cfg=load({}))
    for name in ("each reason met while", "a reason that stops counting", "transport errors are one alert per"):
        assert f"name: {name}" in result.output, result.output


def _no_birth(cfg, counter, window):
    # Growth and resets only: a series born inside the window at 7 would count 0.
    return REAL_INCREASE(cfg, counter, window).replace(">= 0 or ", ">= 0 or 0 * ")


def _always_stand_in(cfg, m, held):
    # The last value stands in even for a target whose last scrape succeeded.
    return f"last_over_time({m}[{cfg.missedScrapeTolerance}])"


REAL_INCREASE = q.increase


@pytest.mark.parametrize(
    "patch,failed",
    [
        ((q, "increase", _no_birth), "name: a source error counter born at 7 counts its value"),
        ((q, "_stand_in", _always_stand_in), "name: a replaced certificate stops alerting at once"),
    ],
    ids=["lazy-counter", "rotation"],
)
def test_default_suite_catches_a_broken_mechanism(patch, failed, monkeypatch, tmp_path):
    monkeypatch.setattr(*patch)
    files = [SUITES["defaults"].path / f for f in ("sources.yaml", "reporters-and-scrapes.yaml")]
    result = ut.run_suite(SUITES["defaults"], load({}), tmp_path, files=files)
    assert failed in result.output, "the broken mechanism went unnoticed"


def test_default_suite_catches_a_renewal_window_that_includes_expired_certificates(tmp_path):
    # The Helm chart's renewal window excludes expired certificates.
    def mutation(text):
        assert "< 28 * 86400) > 0" in text
        return text.replace("< 28 * 86400) > 0", "< 28 * 86400) > -1e12")

    files = [SUITES["defaults"].path / "certificates.yaml"]
    result = ut.run_suite(SUITES["defaults"], load({}), tmp_path, mutate=mutation, files=files)
    assert "name: every source kind is named, and an expired certificate says expired ago" in result.output


def test_user_config_changing_thresholds_skips_suites_instead_of_passing():
    report = ut.run_suites(load({"warningDaysLeft": 30}))
    assert not report.ok
    assert report.ran == 0
    assert any(line.startswith("skipped defaults: the configuration changes warningDaysLeft") for line in report.lines)


def test_user_config_with_adaptable_keys_runs_every_compatible_suite(tmp_path):
    for name in ("dashboards", "diagnostics", "not-before"):  # a quick sample of suites
        (tmp_path / name).symlink_to(SUITES[name].path)
    report = ut.run_suites(load({"alertNamePrefix": "Pki", "extraAlertLabels": {"team": "sre"}}), root=tmp_path)
    assert report.ok, "\n".join(report.lines)
    assert report.lines == [
        "ok      dashboards (1 files)",
        "skipped diagnostics: the configuration changes exporter",
        "skipped not-before: the configuration changes exporter",
    ]
