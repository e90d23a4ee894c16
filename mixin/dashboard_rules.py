"""Recording rules behind the dashboards' certificate counts.

They count the per-certificate truth the alerts read (mixin.truth): each certificate once
whatever the job, replica or reporter layout, carried through missed scrapes, restarts and
replacements, with no renewed serial coming back. A refresh then reads a handful of series
instead of every certificate. Each count keeps the scope labels (the cluster with
multiCluster, the selector's own labels that are not reporter labels), and the state and
window counts record 0 when a state empties, so a stat shows 0 rather than its last value.
"""

from __future__ import annotations

from x509_mixin.mixin import policies, truth
from x509_mixin.mixin import promql as q
from x509_mixin.mixin.config import Config

GROUP = "x509-certificates-dashboards"

STATE = "state:x509_cert_not_after:count"
ISSUER = "issuer_CN:x509_cert_not_after:count"
NAMESPACE = "object_namespace:x509_cert_not_after:count"
PLACE_COUNT = "place_kind:x509_cert_not_after:count"
PLACE_SOONEST = "place_kind:x509_cert_not_after:min"
WITHIN = "within:x509_cert_not_after:count"
RECORDS = (STATE, ISSUER, NAMESPACE, PLACE_COUNT, PLACE_SOONEST, WITHIN)

# Upcoming-expiry windows, in days, for the overview's timeline.
WINDOWS = (7, 30, 90, 180, 365)
# The namespace of a certificate's Secret or ConfigMap; its own name, so that it never
# overwrites a `namespace` label the selector relies on.
OBJECT_NAMESPACE = "object_namespace"


def kept_labels(cfg: Config) -> tuple[str, ...]:
    """Labels every recorded count keeps: the scope (cluster, the selector's own labels)."""
    return q.scope_labels(cfg)


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


def with_object_namespace(expr: str) -> str:
    """`object_namespace` = the Secret's or ConfigMap's namespace (absent for the others)."""
    for label in ("secret_namespace", "configmap_namespace"):
        expr = f'label_replace({expr}, "{OBJECT_NAMESPACE}", "$1", "{label}", "(.+)")'
    return expr


def _zero_when_empty(cfg: Config, expr: str) -> str:
    """The count, or 0 in each scope that has certificates but none counted."""
    return f"count {q.by_scope(cfg)} ({expr}) or 0 * count {q.by_scope(cfg)} ({truth.NOT_AFTER})"


def _states(cfg: Config, left: str) -> dict[str, str]:
    """Each state's certificates by their own thresholds, the alerts' (mixin.policies)."""
    crit, warn = policies.days_left(cfg, "criticalDaysLeft"), policies.days_left(cfg, "warningDaysLeft")
    return {
        "expired": f"{left} < 0",
        "critical": f"({left} < {crit}) >= 0",
        "warning": f"({left} < {warn}) >= {crit}",
        "fine": f"{left} >= {warn}",
    }


def recording_rules(cfg: Config) -> list[dict]:
    certs = truth.NOT_AFTER
    # Time left of each certificate no entry ignores; the ignored ones are counted apart.
    left = "(" + policies.policed(cfg, certs, f"{certs} - time()") + ")"
    states = _states(cfg, left)
    ignored = policies.ignored(cfg)
    if ignored is not None:
        states["ignored"] = ignored
    rules = [
        {"record": STATE, "expr": _zero_when_empty(cfg, expr), "labels": {"state": s}} for s, expr in states.items()
    ]
    rules += [
        {"record": ISSUER, "expr": f"count {q.by_scope(cfg, 'issuer_CN')} ({certs})"},
        {"record": NAMESPACE, "expr": f"count {q.by_scope(cfg, OBJECT_NAMESPACE)} ({with_object_namespace(certs)})"},
        {"record": PLACE_COUNT, "expr": f"count {q.by_scope(cfg, 'place_kind')} ({with_place_kind(certs)})"},
        {"record": PLACE_SOONEST, "expr": f"min {q.by_scope(cfg, 'place_kind')} ({with_place_kind(certs)})"},
    ]
    rules += [
        {
            "record": WITHIN,
            "expr": _zero_when_empty(cfg, f"({left} < {q.days(d)}) >= 0"),
            "labels": {"within": f"{d}d"},
        }
        for d in WINDOWS
    ]
    return [{"name": GROUP, "rules": rules}]
