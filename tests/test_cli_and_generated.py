"""The command line (build, lint, test) and the committed generated files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from x509_mixin.generator.alert_lint import runbook_anchors
from x509_mixin.generator.build import render
from x509_mixin.generator.unittests import suites
from x509_mixin.mixin.alerts import alert_groups
from x509_mixin.mixin.config import ALERT_NAMES, DEFAULTS, load

SUITES = [s.name for s in suites()]
ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "x509_mixin.generator.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_committed_generated_files_are_up_to_date():
    for rel, text in render(load()).items():
        committed = ROOT / rel
        assert committed.exists(), f"{rel} is missing: run make generate"
        assert committed.read_text() == text, f"{rel} is stale: run make generate"


def test_alerts_index_is_up_to_date():
    from x509_mixin.generator.alerts_index import render as render_index

    committed = (ROOT / "docs" / "alerts-index.md").read_text()
    assert committed == render_index(), "docs/alerts-index.md is stale: run make generate"


def test_build_is_deterministic_and_writes_rules_and_dashboards(tmp_path):
    first = cli("build", "--out", str(tmp_path / "a"))
    second = cli("build", "--out", str(tmp_path / "b"))
    assert first.returncode == 0 and second.returncode == 0, first.stderr
    names = sorted(p.relative_to(tmp_path / "a").as_posix() for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert names == [
        "dashboards/configmaps.yaml",
        "dashboards/import/x509-exporter.json",
        "dashboards/import/x509-inventory.json",
        "dashboards/import/x509-overview.json",
        "dashboards/provisioning/x509-mixin.yaml",
        "dashboards/x509-exporter.json",
        "dashboards/x509-inventory.json",
        "dashboards/x509-overview.json",
        "rules/alertmanager.yaml",
        "rules/prometheus_alerts.yaml",
        "rules/prometheus_rules.yaml",
        "rules/prometheusrule.yaml",
    ]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_bad_config_exits_2_with_one_line_per_problem_and_writes_nothing(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("warningDaysLeft: 10\ncriticalDaysLeft: 14\nseverity: {}\n")
    out = tmp_path / "out"
    result = cli("build", "--config", str(cfg), "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{cfg}: config key severity: unknown key; known keys are: " + ", ".join(sorted(DEFAULTS)),
        f"{cfg}: config key warningDaysLeft: invalid value 10: must be greater than criticalDaysLeft (14), "
        "or the warning never comes first",
    ]
    assert not out.exists()


def test_a_refused_certificate_override_exits_2_naming_the_entry_and_writes_nothing(tmp_path):
    cfg = tmp_path / "overrides.yaml"
    cfg.write_text(
        "certificateOverrides:\n"
        "  - matchers: 'issuer_O=\"Let''s Encrypt\"'\n"
        "    warningDaysLeft: 20\n"
        "  - matchers: 'team=\"web\"'\n"
        "    labels: {owner: web}\n"
    )
    out = tmp_path / "out"
    result = cli("build", "--config", str(cfg), "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{cfg}: config key certificateOverrides[1].matchers: invalid value 'team=\"web\"': no certificate series "
        "carries the label team; use the exporter's certificate labels (subject_CN, issuer_O, secret_namespace, "
        "filepath...) or secret_label_*/configmap_label_*"
    ]
    assert not out.exists()


def test_invalid_yaml_and_missing_file_exit_2(tmp_path):
    cfg = tmp_path / "broken.yaml"
    cfg.write_text("selector: [unclosed\n")
    result = cli("lint", "--config", str(cfg))
    assert result.returncode == 2
    assert result.stderr.startswith(f"config file {cfg}: invalid YAML at line 2, column 1:")
    missing = cli("test", "--config", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"config file {tmp_path / 'nope.yaml'}: cannot read it (No such file or directory)"


def test_missing_promtool_is_one_clear_line(tmp_path):
    import os

    env = {**os.environ, "PATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "x509_mixin.generator.cli", "lint"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "x509-mixin lint: promtool not found on PATH: install Debian's `prometheus` "
        "package (`make tools` does it as root)"
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {
            "multiCluster": True,
            "deduplicateReporters": False,
            "alertNamePrefix": "",
            "exporter": {"exposeNotBefore": True, "exposePerCertError": True, "exposeDiagnostics": True},
        },
        {"exporter": {"exposeRelative": True}},
    ],
    ids=["defaults", "everything-on", "relative"],
)
def test_lint_passes_on_generated_rules(overrides, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(overrides))
    result = cli("lint", "--config", str(cfg))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "lint: ok (promtool check rules --lint=all --lint-fatal, mixin rule checks, dashboard checks, "
        "amtool check-config)"
    )


def test_lint_lists_problems_with_their_check_ids_and_skips_disabled_checks(tmp_path):
    # Runbooks of one's own: their anchors are not headings of docs/runbooks.md.
    cfg = tmp_path / "c.yaml"
    cfg.write_text("runbookUrlPattern: https://wiki.example.org/x509#runbook-%s\n")
    result = cli("lint", "--config", str(cfg))
    assert result.returncode == 1 and result.stdout == ""
    default_alerts = [r["alert"] for r in alert_groups(load())[0]["rules"] if "alert" in r]
    assert result.stderr.splitlines() == [
        f"alerts/runbook-anchor: alert {name}: runbook anchor #runbook-{name[4:].lower()} "
        "is not a heading of docs/runbooks.md"
        for name in default_alerts
    ]
    cfg.write_text(
        "runbookUrlPattern: https://wiki.example.org/x509#runbook-%s\nlint: {disabled: [alerts/runbook-anchor]}\n"
    )
    result = cli("lint", "--config", str(cfg))
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.strip() == "lint: ok (29 of 30 checks; disabled: alerts/runbook-anchor)"


def test_runbooks_have_a_section_per_alert():
    anchors = runbook_anchors((ROOT / "docs" / "runbooks.md").read_text())
    assert runbook_anchors() == anchors  # the runbooks lint reads are the checkout's, shipped as package data
    assert {n.lower() for n in ALERT_NAMES} <= anchors
    text = (ROOT / "docs" / "runbooks.md").read_text()
    for name in ALERT_NAMES:
        section = text.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
        for part in ("### Meaning", "### Impact", "### Diagnosis", "### Mitigation", "```promql"):
            assert part in section, (name, part)


def test_prometheusrule_spec_passes_promtool(tmp_path):
    from x509_mixin.generator import promtool

    cli("build", "--out", str(tmp_path))
    spec = promtool.extract_spec(tmp_path / "rules/prometheusrule.yaml", tmp_path / "spec.yaml")
    groups = [
        yaml.safe_load((tmp_path / f"rules/prometheus_{kind}.yaml").read_text())["groups"]
        for kind in ("alerts", "rules")
    ]
    assert yaml.safe_load(spec.read_text())["groups"] == groups[0] + groups[1]
    assert promtool.check_rules([spec]).ok
    with pytest.raises(ValueError, match="not a PrometheusRule with a spec"):
        promtool.extract_spec(tmp_path / "rules/prometheus_alerts.yaml", tmp_path / "x.yaml")


def test_test_command_reports_every_suite(tmp_path):
    # A configuration only the diagnostics suite fits: that one runs, every other is reported
    # as skipped (the suites themselves are proven in test_promtool_suites.py).
    cfg = tmp_path / "c.yaml"
    cfg.write_text("exporter: {exposeDiagnostics: true}\n")
    result = cli("test", "--config", str(cfg))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "ok      diagnostics (1 files)" in lines
    assert "skipped defaults: the configuration changes exporter" in lines
    # Then the routing cases of that configuration's Alertmanager file (18 alerts, 4 other names).
    assert lines[-1] == "ok      alertmanager routes (22 cases, amtool config routes test)"
    assert len(lines) == len(SUITES) + 1 and sum(line.startswith("ok ") for line in lines) == 2
