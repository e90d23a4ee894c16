"""Recording rules behind the dashboards' certificate counts.

Counting certificates per state, issuer, namespace or place scans every certificate series;
recorded once per evaluation, a dashboard refresh reads a handful of series instead. The
recorded series are per certificate (reporters aggregated away, as in the alerts) but keep
the cluster label, `job` and every label the configured selector names, so the dashboards
can still apply the selector and their cluster and job variables to them.
"""

from __future__ import annotations

from x509_mixin.catalogue.promql import selector_matchers
from x509_mixin.mixin import promql as q
from x509_mixin.mixin.config import Config

GROUP = "x509-certificates-dashboards"

STATE = "state:x509_cert_not_after:count"
ISSUER = "issuer_CN:x509_cert_not_after:count"
NAMESPACE = "namespace:x509_cert_not_after:count"
PLACE_COUNT = "place_kind:x509_cert_not_after:count"
PLACE_SOONEST = "place_kind:x509_cert_not_after:min"
WITHIN = "within:x509_cert_not_after:count"
RECORDS = (STATE, ISSUER, NAMESPACE, PLACE_COUNT, PLACE_SOONEST, WITHIN)

STATES = ("expired", "critical", "warning", "fine")
# Upcoming-expiry windows, in days, for the overview's timeline.
WINDOWS = (7, 30, 90, 180, 365)


def kept_labels(cfg: Config) -> tuple[str, ...]:
    """Labels every recorded series keeps: cluster (multi-cluster), job, the selector's labels."""
    names = [m.name for m in selector_matchers(cfg.selector)]
    kept = ([cfg.clusterLabel] if cfg.multiCluster else []) + ["job"]
    return tuple(dict.fromkeys(kept + names))


def _certificates(cfg: Config) -> str:
    """Every certificate once: the reporters' labels other than the kept ones aggregated away."""
    expr = q.gauge(cfg, "x509_cert_not_after")
    dropped = [label for label in cfg.reporterLabels if label not in kept_labels(cfg)]
    if not cfg.deduplicates or not dropped:
        return expr
    return f"max without ({', '.join(dropped)}) ({expr})"


def with_place_kind(expr: str) -> str:
    """Adds `place_kind` (file, kubeconfig, Secret, ConfigMap, caBundle) from the filled slots.

    The exporter has no source label per certificate; exactly one place's labels are filled,
    except that kubeconfig certificates also carry their file path, so kubeconfig comes after file.
    """
    for kind, label in (
        ("file", "filepath"),
        ("kubeconfig", "embedded_kind"),
        ("Secret", "secret_name"),
        ("ConfigMap", "configmap_name"),
        ("caBundle", "cabundle_resource_name"),
    ):
        expr = f'label_replace({expr}, "place_kind", "{kind}", "{label}", ".+")'
    return expr


def with_namespace(expr: str) -> str:
    """`namespace` = the Secret's or ConfigMap's namespace ("" for files); a scrape target's own
    `namespace` label (kept when deduplication is off) is cleared first."""
    expr = f'label_replace({expr}, "namespace", "", "namespace", ".*")'
    for label in ("secret_namespace", "configmap_namespace"):
        expr = f'label_replace({expr}, "namespace", "$1", "{label}", "(.+)")'
    return expr


def _by(cfg: Config, *labels: str) -> str:
    return f"by ({', '.join(kept_labels(cfg) + labels)})"


def recording_rules(cfg: Config) -> list[dict]:
    certs = _certificates(cfg)
    left = f"({certs} - time())"
    crit, warn = q.days(cfg.criticalDaysLeft), q.days(cfg.warningDaysLeft)
    by = _by(cfg)
    state_exprs = {
        "expired": f"{left} < 0",
        "critical": f"({left} < {crit}) >= 0",
        "warning": f"({left} < {warn}) >= {crit}",
        "fine": f"{left} >= {warn}",
    }
    rules = [{"record": STATE, "expr": f"count {by} ({state_exprs[s]})", "labels": {"state": s}} for s in STATES]
    rules += [
        {"record": ISSUER, "expr": f"count {_by(cfg, 'issuer_CN')} ({certs})"},
        {"record": NAMESPACE, "expr": f"count {_by(cfg, 'namespace')} ({with_namespace(certs)})"},
        {"record": PLACE_COUNT, "expr": f"count {_by(cfg, 'place_kind')} ({with_place_kind(certs)})"},
        {"record": PLACE_SOONEST, "expr": f"min {_by(cfg, 'place_kind')} ({with_place_kind(certs)})"},
    ]
    rules += [
        {"record": WITHIN, "expr": f"count {by} (({left} < {q.days(d)}) >= 0)", "labels": {"within": f"{d}d"}}
        for d in WINDOWS
    ]
    return [{"name": GROUP, "rules": rules}]
