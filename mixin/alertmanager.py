"""The Alertmanager half: routes, receivers and inhibitions for the mixin's alerts.

Pure functions from a Config to the data of `rules/alertmanager.yaml`, either a whole
Alertmanager configuration or a snippet to merge into one (`alertmanager.output`). Only the
alerts this configuration generates are mentioned, by their exact names. docs/alertmanager.md
explains each choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from x509_mixin.catalogue.metrics import CERT_LABELS, DISCRIMINATOR_LABEL, SOURCE_LABELS
from x509_mixin.mixin import policies
from x509_mixin.mixin import promql as q
from x509_mixin.mixin.alerts import CERTIFICATE, EXPORTER, Alert, alerts
from x509_mixin.mixin.config import NULL_RECEIVER, SEVERITIES, Config

# The part of a certificate's place that says who owns it (the namespace of a Secret or a
# ConfigMap, the kind of a cluster-scoped object holding a caBundle): certificate
# notifications are grouped on it, so that one certificate is one notification and hundreds
# expiring at once are one per namespace, each listing its certificates.
PLACE_GROUP_LABELS = ("secret_namespace", "configmap_namespace", "cabundle_resource_kind")
assert set(PLACE_GROUP_LABELS) <= set(CERT_LABELS)

# Exporter alerts about a scope (a source, every target of the selector) rather than one
# target: they carry no `instance`.
SCOPE_ALERTS = frozenset({"SourceAbsent", "ExporterAbsent"})


def _unique(*groups: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(label for group in groups for label in group))


def receiver(cfg: Config, severity: str) -> str:
    """Where alerts of this severity go: the configured receiver, or the one without integration."""
    return cfg.alertmanager.receivers[severity] or NULL_RECEIVER


def default_receiver(cfg: Config) -> str:
    """The receiver of anything else: a mixin alert with an unexpected severity, and in a whole
    configuration every other team's alert (tickets rather than pages or nothing)."""
    return receiver(cfg, "warning")


# ---- the labels that identify what an alert is about --------------------------------------


def _scope(cfg: Config) -> list[str]:
    # The cluster label always: alerts of Prometheus servers that add it as an external label
    # carry it even without multiCluster, and an inhibition must never cross clusters.
    return _unique([cfg.clusterLabel], q.scope_labels(cfg))


def _local(cfg: Config) -> tuple[str, ...]:
    """The reporters' labels a deduplicated certificate alert keeps (a node-local file's node)."""
    if not cfg.deduplicates:
        return ()
    return tuple(label for label in cfg.localityLabels if label in cfg.reporterLabels)


def certificate_identity(cfg: Config) -> list[str]:
    """Labels two alerts of the same certificate or CRL share, and two others do not all share:
    its place, serial, CRL number, issuer, subject, discriminator, cluster and scope, and the
    reporter labels the alerts keep (a node-local file's node; every reporter's without
    deduplication), and the labels of certificateOverrides entries. Optional `*_label_*` labels
    follow from the place: not needed."""
    reporters = _local(cfg) if cfg.deduplicates else cfg.reporterLabels
    # The labels certificateOverrides entries add: one certificate's alerts carry the same.
    return _unique(_scope(cfg), CERT_LABELS, [DISCRIMINATOR_LABEL], reporters, policies.label_names(cfg))


def target_identity(cfg: Config) -> list[str]:
    return _unique(_scope(cfg), ["job", "instance"])


def source_identity(cfg: Config) -> list[str]:
    return _unique(target_identity(cfg), SOURCE_LABELS)


def errors_identity(cfg: Config) -> list[str]:
    """A source's error alerts: per reason with errorsByReason (a sustained reason silences
    only its own warning; a new reason is news)."""
    return _unique(source_identity(cfg), ["reason"] if cfg.errorsByReason else [])


def certificate_group_by(cfg: Config) -> list[str]:
    return _unique(["alertname"], _scope(cfg), PLACE_GROUP_LABELS, _local(cfg))


def exporter_group_by(cfg: Config) -> list[str]:
    # Not per instance: a DaemonSet whose 50 pods fail alike is one notification listing them.
    return _unique(["alertname"], _scope(cfg), ["job", "source_name"])


# ---- matchers ---------------------------------------------------------------------------


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def names_matcher(cfg: Config, bases: Iterable[str]) -> str:
    """These alerts exactly, by their configured names: never a prefix that others' alerts match."""
    names = [cfg.alert_name(base) for base in bases]
    if len(names) == 1:
        return f"alertname={_quote(names[0])}"
    return f'alertname=~"^({"|".join(names)})$"'


def _extra_matchers(cfg: Config) -> list[str]:
    # The mixin's own labels narrow every matcher: with alertNamePrefix "" the names are as
    # generic as ExporterDown.
    return [f"{name}={_quote(value)}" for name, value in cfg.extraAlertLabels.items()]


# ---- routes -------------------------------------------------------------------------------


def _severity_routes(cfg: Config, members: list[Alert]) -> list[dict]:
    used = {cfg.severities[a.base] for a in members}
    return [
        {"matchers": [f'severity="{severity}"'], "receiver": receiver(cfg, severity)}
        for severity in reversed(SEVERITIES)
        if severity in used
    ]


def owners(cfg: Config, kind: str) -> list[tuple[str, str, str]]:
    """(label, value, receiver) of each route on a label the `kind`'s alerts carry
    (alertmanager.labelReceivers: certificateOverrides labels for certificate alerts, `reason`
    for the error alerts), in the order the routes are tried."""
    return [
        (label, value, name or NULL_RECEIVER)
        for label, receivers in sorted(cfg.alertmanager.labelReceivers.items())
        if (label == "reason") == (kind == EXPORTER)
        for value, name in sorted(receivers.items())
    ]


def owner_receiver(cfg: Config, severity: str, owner: str) -> str:
    """Where an alert routed on its label goes: that label value's receiver, unless its
    severity goes nowhere."""
    return NULL_RECEIVER if receiver(cfg, severity) == NULL_RECEIVER else owner


def _owner_routes(cfg: Config, kind: str, members: list[Alert]) -> list[dict]:
    used = {cfg.severities[a.base] for a in members}
    nowhere = [s for s in reversed(SEVERITIES) if s in used and receiver(cfg, s) == NULL_RECEIVER]
    out = []
    for label, value, name in owners(cfg, kind):
        route: dict = {"matchers": [f"{label}={_quote(value)}"], "receiver": name}
        if name != NULL_RECEIVER and nowhere:
            route["routes"] = [{"matchers": [f'severity="{s}"'], "receiver": NULL_RECEIVER} for s in nowhere]
        out.append(route)
    return out


def route(cfg: Config) -> dict | None:
    """The mixin's sub-tree: its alerts, split by kind (each grouped its own way), then by
    severity. None when the configuration generates no alert."""
    enabled = alerts(cfg)
    if not enabled:
        return None
    kinds = []
    for kind, group_by in ((CERTIFICATE, certificate_group_by), (EXPORTER, exporter_group_by)):
        members = [a for a in enabled if a.kind == kind]
        if members:
            # Routes on the alerts' labels first: certificateOverrides owners, error reasons.
            kinds.append(
                {
                    "matchers": [names_matcher(cfg, (a.base for a in members))],
                    "group_by": group_by(cfg),
                    "routes": _owner_routes(cfg, kind, members) + _severity_routes(cfg, members),
                }
            )
    am = cfg.alertmanager
    return {
        "receiver": default_receiver(cfg),
        "matchers": [names_matcher(cfg, (a.base for a in enabled)), *_extra_matchers(cfg)],
        "group_wait": am.groupWait,
        "group_interval": am.groupInterval,
        "repeat_interval": am.repeatInterval,
        "routes": kinds,
    }


def _receivers_in(tree: dict) -> list[str]:
    found = [tree["receiver"]] if "receiver" in tree else []
    for child in tree.get("routes", []):
        found += _receivers_in(child)
    return _unique(found)


# ---- inhibitions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Inhibition:
    source: str  # base names
    targets: tuple[str, ...]
    equal: tuple[str, ...]
    why: str


def inhibitions(cfg: Config) -> list[Inhibition]:
    """Which alert silences which, for the same certificate, CRL, source, target or scope;
    only between alerts this configuration generates."""
    enabled = {a.base: a for a in alerts(cfg)}
    per_target = tuple(
        base for base, a in enabled.items() if a.kind == EXPORTER and base not in SCOPE_ALERTS | {"ExporterDown"}
    )
    certificate, errors = tuple(certificate_identity(cfg)), tuple(errors_identity(cfg))
    candidates = [
        Inhibition(
            "CertificateExpiration",
            ("CertificateRenewal", "CertificateRenewalOverdue"),
            certificate,
            "the critical alert says it all; the warnings for the same certificate would only repeat it",
        ),
        Inhibition(
            "CertificateRenewalOverdue",
            ("CertificateRenewal",),
            certificate,
            f"both warn at {cfg.renewalOverdueFraction * 100:g}% of a short lifetime; the overdue one says more",
        ),
        Inhibition(
            "CRLStale",
            ("CRLNeedsRefresh",),
            certificate,
            "the refresh warning stays on until the CRL is refreshed, to hand over without a gap",
        ),
        Inhibition("SourceErrorsSustained", ("SourceErrors",), errors, "the same errors, for longer"),
        Inhibition("KubeTransportErrorsSustained", ("KubeTransportErrors",), errors, "the same errors, for longer"),
        Inhibition(
            "ExporterDown",
            per_target,
            tuple(target_identity(cfg)),
            "a target that cannot be scraped shows its last state; its source alerts are stale",
        ),
        Inhibition(
            "ExporterAbsent",
            (*per_target, "SourceAbsent"),
            (cfg.clusterLabel,),
            "no exporter runs in this cluster: its sources' alerts are stale",
        ),
    ]
    out = []
    for rule in candidates:
        targets = tuple(t for t in rule.targets if t in enabled)
        if rule.source in enabled and targets:
            out.append(Inhibition(rule.source, targets, rule.equal, rule.why))
    return out


def inhibit_rules(cfg: Config) -> list[dict]:
    extra = _extra_matchers(cfg)
    return [
        {
            "source_matchers": [names_matcher(cfg, [rule.source]), *extra],
            "target_matchers": [names_matcher(cfg, rule.targets), *extra],
            "equal": list(rule.equal),
        }
        for rule in inhibitions(cfg)
    ]


# ---- the file -----------------------------------------------------------------------------


def _used_receivers(cfg: Config, tree: dict | None, whole: bool) -> list[str]:
    """Receivers the routes name (and a whole configuration's root), by severity."""
    used = set(_receivers_in(tree) if tree else []) | ({default_receiver(cfg)} if whole else set())
    ordered = _unique(
        [receiver(cfg, s) for s in reversed(SEVERITIES)],
        [o[2] for kind in (CERTIFICATE, EXPORTER) for o in owners(cfg, kind)],
        [NULL_RECEIVER],
    )
    return [name for name in ordered if name in used]


def placeholders(cfg: Config) -> list[str]:
    """The receivers a user fills in (or, for a snippet, defines): all but the one sent nowhere."""
    whole = cfg.alertmanager.output == "config"
    return [name for name in _used_receivers(cfg, route(cfg), whole) if name != NULL_RECEIVER]


def alertmanager_config(cfg: Config) -> dict:
    """`rules/alertmanager.yaml`: a whole configuration, or the snippet to merge (its `routes`
    go first in your `route.routes`, its `receivers` and `inhibit_rules` after yours)."""
    tree = route(cfg)
    routes = [tree] if tree else []
    if cfg.alertmanager.output == "snippet":
        # Your configuration defines the named receivers; only the one sent nowhere is ours.
        nowhere = [name for name in _used_receivers(cfg, tree, False) if name == NULL_RECEIVER]
        return {"routes": routes, "receivers": [{"name": n} for n in nowhere], "inhibit_rules": inhibit_rules(cfg)}
    return {
        "route": {"receiver": default_receiver(cfg), "routes": routes},
        "receivers": [{"name": name} for name in _used_receivers(cfg, tree, True)],
        "inhibit_rules": inhibit_rules(cfg),
    }
