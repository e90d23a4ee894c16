"""Recording rules. The alerts query the exporter's series directly (they work on any
Prometheus, Thanos or Mimir ruler without depending on recorded series); what is recorded
here are the dashboards' certificate counts (dashboard_rules) and the exporter's diagnostic
latencies, emitted only with `exposeDiagnostics`."""

from __future__ import annotations

from x509_mixin.mixin import dashboard_rules
from x509_mixin.mixin import promql as q
from x509_mixin.mixin.config import Config

DIAGNOSTICS_GROUP = "x509-certificate-exporter-diagnostics"
PARSE_P99 = "format:x509_parse_duration_seconds:p99_rate5m"
KUBE_P99 = "verb_resource:x509_kube_request_duration_seconds:p99_rate5m"


def _p99(cfg: Config, histogram: str) -> str:
    return f"histogram_quantile(0.99, rate({q.sel(cfg, histogram + '_bucket')}[5m]))"


def recording_groups(cfg: Config) -> list[dict]:
    return dashboard_rules.recording_rules(cfg) + _diagnostics(cfg)


def _diagnostics(cfg: Config) -> list[dict]:
    if not cfg.gate("exposeDiagnostics"):
        return []
    rules = [
        {"record": PARSE_P99, "expr": _p99(cfg, "x509_parse_duration_seconds")},
        {"record": KUBE_P99, "expr": _p99(cfg, "x509_kube_request_duration_seconds")},
    ]
    return [{"name": DIAGNOSTICS_GROUP, "rules": rules}]
