"""From a Config to the generated files: path -> text, then written all at once."""

from __future__ import annotations

from pathlib import Path

from x509_mixin.generator.grafana_files import render_dashboards
from x509_mixin.generator.yamlfmt import dump, write_atomic
from x509_mixin.mixin.alerts import alert_groups
from x509_mixin.mixin.config import Config
from x509_mixin.mixin.rules import recording_groups

ALERTS_FILE = "rules/prometheus_alerts.yaml"
RULES_FILE = "rules/prometheus_rules.yaml"
PROMETHEUSRULE_FILE = "rules/prometheusrule.yaml"


def prometheus_rule(cfg: Config) -> dict:
    """The prometheus-operator object carrying the same groups."""
    meta: dict = {"name": cfg.prometheusRule.name, "namespace": cfg.prometheusRule.namespace}
    if cfg.prometheusRule.labels:
        meta["labels"] = dict(cfg.prometheusRule.labels)
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": meta,
        "spec": {"groups": alert_groups(cfg) + recording_groups(cfg)},
    }


def render(cfg: Config) -> dict[str, str]:
    """Every generated file, relative path -> content."""
    return {
        ALERTS_FILE: dump({"groups": alert_groups(cfg)}),
        RULES_FILE: dump({"groups": recording_groups(cfg)}),
        PROMETHEUSRULE_FILE: dump(prometheus_rule(cfg)),
        **render_dashboards(cfg),
    }


def write(cfg: Config, out: Path) -> list[Path]:
    """Render everything first, so a failure writes nothing; then write each file atomically."""
    files = render(cfg)
    written = []
    for rel, text in files.items():
        write_atomic(out / rel, text)
        written.append(out / rel)
    return written
