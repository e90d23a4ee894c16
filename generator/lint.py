"""`x509-mixin lint`: promtool's own rule checks, the mixin's alert and dashboard checks, and
amtool's check of the Alertmanager configuration.

Every check has a stable id (mixin.config.LINT_CHECKS); `lint.disabled` in the configuration
turns checks off by id.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

from x509_mixin.generator import amtool, promtool
from x509_mixin.generator.alert_lint import ALERT_CHECKS, lint_alerts
from x509_mixin.generator.build import ALERTMANAGER_FILE, ALERTS_FILE, PROMETHEUSRULE_FILE, RULES_FILE, write
from x509_mixin.generator.checks import Check, apply
from x509_mixin.generator.dashboard_lint import DASHBOARD_CHECKS, lint_dashboards
from x509_mixin.mixin.alerts import alert_groups
from x509_mixin.mixin.config import LINT_CHECKS, Config
from x509_mixin.mixin.dashboards import dashboards


def _promtool(rule_files: list[Path]) -> Iterator[str]:
    result = promtool.check_rules(rule_files)
    if not result.ok:
        yield f"promtool check rules --lint=all --lint-fatal failed:\n{result.output}"


PROMTOOL = Check(
    "rules/promtool",
    "`promtool check rules --lint=all --lint-fatal` passes on the rule files and the PrometheusRule's spec",
    _promtool,
)


def _amtool(config_file: Path) -> Iterator[str]:
    result = amtool.check_config(config_file)
    if not result.ok:
        yield f"amtool check-config failed:\n{result.output}"


AMTOOL = Check(
    "alertmanager/amtool",
    "`amtool check-config` passes on rules/alertmanager.yaml (a snippet merged into a minimal configuration)",
    _amtool,
)
CHECKS: tuple[Check, ...] = (PROMTOOL, *ALERT_CHECKS, *DASHBOARD_CHECKS, AMTOOL)
assert tuple(c.id for c in CHECKS) == LINT_CHECKS


def lint(cfg: Config) -> list[str]:
    """Every problem of the artifacts generated for `cfg`, one line each (promtool's output
    follows its line), the disabled checks left out."""
    problems = lint_alerts(alert_groups(cfg), cfg.lint.disabled)
    problems += lint_dashboards(dashboards(cfg), cfg)
    off = cfg.lint.disabled
    if PROMTOOL.id not in off or AMTOOL.id not in off:
        with tempfile.TemporaryDirectory(prefix="x509-mixin-lint-") as tmp:
            out = Path(tmp)
            write(cfg, out)
            if PROMTOOL.id not in off:
                spec = promtool.extract_spec(out / PROMETHEUSRULE_FILE, out / "prometheusrule-spec.yaml")
                files = [out / ALERTS_FILE, out / RULES_FILE, spec]
                problems += apply((PROMTOOL,), files, "generated rules", off)
            problems += apply((AMTOOL,), amtool.loadable(cfg, out / ALERTMANAGER_FILE), "generated Alertmanager", off)
    return problems
