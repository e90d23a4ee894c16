"""The mixin's configuration: defaults, validation, and the immutable object the rest reads.

Every key has an effect on the generated output (a test per key shows it). Bad input is
refused with one line per problem naming the key, the value and the fix.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from x509_mixin.catalogue.metrics import GATE_DEFAULTS, is_error_reason
from x509_mixin.catalogue.promql import is_label_name, parse_vector_selector, selector_matchers
from x509_mixin.mixin.overrides import CertificateLabels, Override
from x509_mixin.mixin.overrides import parse as parse_overrides

# Base names (without prefix) of every alert the mixin can generate; severities, alertFor
# and disabledAlerts are keyed by these.
ALERT_NAMES: tuple[str, ...] = (
    "SourceErrors",
    "SourceErrorsSustained",
    "SourceDown",
    "SourceAbsent",
    "KubeTransportErrors",
    "KubeTransportErrorsSustained",
    "KeystorePassphraseFailures",
    "CertificateError",
    "CertificateRenewal",
    "CertificateExpiration",
    "CertificateNotYetValid",
    "CertificateCollision",
    "CRLNeedsRefresh",
    "CRLStale",
    "ExporterDown",
    "ExporterAbsent",
    "SourceBundlesLost",
    "ExporterPanics",
    "KubeWatchResyncStorm",
    "ExporterSlowScrapes",
    "CertificateRenewalOverdue",
)

SEVERITIES = ("info", "warning", "critical")

# Ids of the checks of `x509-mixin lint`, which `lint.disabled` may name; the checks
# themselves live in x509_mixin.generator (alert_lint, dashboard_lint, lint), which asserts
# that it implements exactly these.
LINT_CHECKS: tuple[str, ...] = (
    "rules/promtool",
    "alerts/name",
    "alerts/severity",
    "alerts/summary",
    "alerts/description",
    "alerts/runbook-url",
    "alerts/runbook-anchor",
    "alerts/absent-for",
    "alerts/template-labels",
    "dashboards/template-datasource",
    "dashboards/template-variables",
    "dashboards/uid",
    "dashboards/grid-width",
    "dashboards/panel-overlap",
    "dashboards/panel-title",
    "dashboards/panel-description",
    "dashboards/panel-units",
    "dashboards/panel-datasource",
    "dashboards/panel-query",
    "dashboards/target-datasource",
    "dashboards/query-parses",
    "dashboards/selector",
    "dashboards/target-job",
    "dashboards/target-instance",
    "dashboards/target-cluster",
    "dashboards/emitted-metrics",
    "dashboards/counter-rate",
    "dashboards/rate-interval",
    "dashboards/unique-uid",
    "alertmanager/amtool",
)

# The error alerts that errorsByReason splits by `reason`.
ERROR_ALERTS = ("SourceErrors", "SourceErrorsSustained", "KubeTransportErrors", "KubeTransportErrorsSustained")

DEFAULT_SEVERITIES: dict[str, str] = {
    "SourceErrors": "warning",
    "SourceErrorsSustained": "critical",
    "SourceDown": "critical",
    "SourceAbsent": "warning",
    "KubeTransportErrors": "warning",
    "KubeTransportErrorsSustained": "critical",
    "KeystorePassphraseFailures": "warning",
    "CertificateError": "warning",
    "CertificateRenewal": "warning",
    "CertificateExpiration": "critical",
    "CertificateNotYetValid": "warning",
    "CertificateCollision": "warning",
    "CRLNeedsRefresh": "warning",
    "CRLStale": "critical",
    "ExporterDown": "warning",
    "ExporterAbsent": "critical",
    "SourceBundlesLost": "warning",
    "ExporterPanics": "warning",
    "KubeWatchResyncStorm": "warning",
    "ExporterSlowScrapes": "warning",
    "CertificateRenewalOverdue": "warning",
}

DEFAULT_FOR: dict[str, str] = {
    "SourceErrors": "5m",
    "SourceErrorsSustained": "30m",
    "SourceDown": "5m",
    "SourceAbsent": "15m",
    "KubeTransportErrors": "5m",
    "KubeTransportErrorsSustained": "30m",
    "KeystorePassphraseFailures": "15m",
    "CertificateError": "15m",
    "CertificateRenewal": "15m",
    "CertificateExpiration": "15m",
    "CertificateNotYetValid": "15m",
    "CertificateCollision": "15m",
    "CRLNeedsRefresh": "15m",
    "CRLStale": "15m",
    "ExporterDown": "10m",
    "ExporterAbsent": "15m",
    "SourceBundlesLost": "15m",
    "ExporterPanics": "0s",
    "KubeWatchResyncStorm": "15m",
    "ExporterSlowScrapes": "15m",
    "CertificateRenewalOverdue": "15m",
}

# Labels that identify the reporting exporter rather than the certificate: aggregated away
# so that replicas, or the same CA file on many nodes, give one alert per certificate.
DEFAULT_REPORTER_LABELS = ("job", "instance", "pod", "container", "endpoint", "service", "namespace", "node")

# Exporter gates that change nothing here: expiry and staleness are decided from
# x509_cert_not_after and x509_crl_next_update, which every exporter emits.
_UNUSED_GATES = {
    "exposeExpired": "the mixin decides expiry and CRL staleness from x509_cert_not_after and "
    "x509_crl_next_update, whatever the exporter's exposeExpired; remove the key",
}

DEFAULTS: dict[str, Any] = {
    "alertNamePrefix": "X509",
    "selector": 'job=~"x509-certificate-exporter.*"',
    "multiCluster": False,
    "clusterLabel": "cluster",
    "warningDaysLeft": 28,
    "criticalDaysLeft": 14,
    "crlWarningDaysLeft": 7,
    "certificateOverrides": [],
    "severities": {},
    "alertFor": {},
    "disabledAlerts": [],
    "extraAlertLabels": {},
    "extraAlertAnnotations": {},
    "runbookUrlPattern": "https://github.com/x509-mixin/x509-mixin/blob/main/docs/runbooks.md#%s",
    "deduplicateReporters": True,
    "reporterLabels": list(DEFAULT_REPORTER_LABELS),
    "localityLabels": ["node"],
    "errorsByReason": False,
    "missedScrapeTolerance": "10m",
    "scrapeTimeout": "10s",
    "renewalOverdueFraction": 0.8,
    "renewalOverdueMaxLifetime": "100d",
    "exporter": {gate: on for gate, on in GATE_DEFAULTS.items() if gate not in _UNUSED_GATES},
    "prometheusRule": {"name": "x509-certificate-exporter-mixin", "namespace": "monitoring", "labels": {}},
    "grafanaUrl": "",
    "dashboardUidPrefix": "x509-",
    "dashboardTags": ["x509", "certificates"],
    "dashboardFolder": "Certificates",
    "dashboardSidecarLabels": {"grafana_dashboard": "1"},
    "lint": {"disabled": []},
    "alertmanager": {
        "receivers": {"critical": "x509-page", "warning": "x509-ticket", "info": None},
        "groupWait": "30s",
        "groupInterval": "5m",
        "repeatInterval": "12h",
        "output": "config",
        "labelReceivers": {},
    },
}

# The receiver of the severities sent nowhere (`null` in alertmanager.receivers): it has no
# integration, so Alertmanager drops what reaches it.
NULL_RECEIVER = "x509-null"
ALERTMANAGER_OUTPUTS = ("config", "snippet")

_DURATION_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_DURATION_UNITS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)
_ALERT_PREFIX_RE = re.compile(r"^([A-Z][A-Za-z0-9]*)?$")
_K8S_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_URL_RE = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
# Grafana uids are at most 40 characters of [a-zA-Z0-9_-]; the longest dashboard suffix
# ("inventory") leaves 31 for the prefix.
_UID_PREFIX_RE = re.compile(r"^[a-zA-Z0-9_-]{0,31}$")
_K8S_LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
# Alertmanager takes any string; these keep the generated YAML and amtool's label syntax plain.
_RECEIVER_RE = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.:@/ -]*[A-Za-z0-9_])?$")
_K8S_LABEL_KEY_RE = re.compile(r"^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


class ConfigError(ValueError):
    """Invalid configuration; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def duration_seconds(text: str) -> float:
    """Seconds of a Prometheus duration such as `1h30m`; raises ValueError when malformed."""
    m = _DURATION_RE.match(text) if isinstance(text, str) else None
    if not m or not text:
        raise ValueError(text)
    return sum(int(v) * unit for v, unit in zip(m.groups(), _DURATION_UNITS, strict=True) if v)


@dataclass(frozen=True)
class PrometheusRuleMeta:
    name: str
    namespace: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class LintSettings:
    disabled: frozenset[str]


@dataclass(frozen=True)
class AlertmanagerSettings:
    receivers: Mapping[str, str | None]  # severity -> receiver name, None: nowhere
    groupWait: str
    groupInterval: str
    repeatInterval: str
    output: str  # "config" (a whole Alertmanager configuration) or "snippet" (to merge)
    # a label certificateOverrides entries add, or `reason` (errorsByReason) -> its value ->
    # receiver (None: nowhere)
    labelReceivers: Mapping[str, Mapping[str, str | None]]


@dataclass(frozen=True)
class Config:
    alertNamePrefix: str
    selector: str
    multiCluster: bool
    clusterLabel: str
    warningDaysLeft: float
    criticalDaysLeft: float
    crlWarningDaysLeft: float
    certificateOverrides: tuple[Override, ...]
    severities: Mapping[str, str]
    alertFor: Mapping[str, str]
    disabledAlerts: frozenset[str]
    extraAlertLabels: Mapping[str, str]
    extraAlertAnnotations: Mapping[str, str]
    runbookUrlPattern: str
    deduplicateReporters: bool
    reporterLabels: tuple[str, ...]
    localityLabels: tuple[str, ...]
    errorsByReason: bool
    missedScrapeTolerance: str
    scrapeTimeout: str
    renewalOverdueFraction: float
    renewalOverdueMaxLifetime: str
    exporter: Mapping[str, bool]
    prometheusRule: PrometheusRuleMeta
    grafanaUrl: str
    dashboardUidPrefix: str
    dashboardTags: tuple[str, ...]
    dashboardFolder: str
    dashboardSidecarLabels: Mapping[str, str]
    lint: LintSettings
    alertmanager: AlertmanagerSettings
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def alert_name(self, base: str) -> str:
        return self.alertNamePrefix + base

    def runbook_url(self, base: str) -> str:
        return self.runbookUrlPattern.replace("%s", base.lower())

    @property
    def deduplicates(self) -> bool:
        """Whether certificate alerts aggregate the reporters away (an empty list cannot)."""
        return self.deduplicateReporters and bool(self.reporterLabels)

    def gate(self, name: str) -> bool:
        return self.exporter[name]


# ---- validation -------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
        type(None): "null",
    }.get(type(value), type(value).__name__)


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, key: str, value: Any, fix: str) -> None:
        self.problems.append(f"config key {key!s}: invalid value {value!r}: {fix}")

    def expect(self, key: str, value: Any, kinds: tuple[type, ...], what: str) -> bool:
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if not ok:
            self.fail(key, value, f"expected {what}, got {_type_name(value)}")
        return ok

    def unknown(self, prefix: str, data: Mapping[str, Any], known: Mapping[str, Any] | tuple[str, ...]) -> None:
        for key in data:
            if key not in known:
                names = ", ".join(sorted(known))
                self.problems.append(f"config key {prefix}{key}: unknown key; known keys are: {names}")

    def duration(self, key: str, value: Any, allow_zero: bool = False) -> None:
        try:
            seconds = duration_seconds(value)
        except ValueError:
            self.fail(key, value, "expected a Prometheus duration such as 30s, 15m, 1h or 7d")
            return
        if seconds == 0 and not allow_zero:
            self.fail(key, value, "the duration must be greater than zero")

    def alert_map(self, key: str, value: Any, check_item) -> None:
        if not self.expect(key, value, (dict,), "a mapping of alert base names (e.g. CertificateExpiration)"):
            return
        for name, item in value.items():
            if name not in ALERT_NAMES:
                self.fail(f"{key}.{name}", item, "unknown alert; use one of: " + ", ".join(ALERT_NAMES))
            else:
                check_item(f"{key}.{name}", item)

    def string_map(self, key: str, value: Any) -> None:
        if not self.expect(key, value, (dict,), "a mapping of label names to strings"):
            return
        for name, item in value.items():
            if not is_label_name(name):
                self.fail(key, name, "label names must match [a-zA-Z_][a-zA-Z0-9_]*")
            elif name.startswith("__"):
                self.fail(f"{key}.{name}", item, "names starting with __ are reserved by Prometheus")
            self.expect(f"{key}.{name}", item, (str,), "a string")


def _check_selector(c: _Checker, value: str) -> None:
    try:
        expr = parse_vector_selector(f"up{{{value}}}")
    except ValueError as exc:
        c.fail("selector", value, f'not a PromQL label selector ({exc}); example: job=~"x509-certificate-exporter.*"')
        return
    names = [m.name for m in expr.matchers.matchers]
    if expr.name != "up" or expr.offset is not None or expr.at is not None:
        c.fail("selector", value, 'expected label matchers only, with no braces or operators, e.g. job=~"x509-.*"')
    elif not names:
        c.fail("selector", value, 'expected at least one label matcher, e.g. job=~"x509-certificate-exporter.*"')
    elif "__name__" in names:
        c.fail("selector", value, "the selector must not match on __name__; select on job or other target labels")


def _check_locality(c: _Checker, m: dict[str, Any], explicit: bool) -> None:
    value, reporters = m["localityLabels"], m["reporterLabels"]
    if not c.expect("localityLabels", value, (list,), "a list of label names such as node"):
        return
    for name in value:
        if not is_label_name(name):
            c.fail("localityLabels", name, "expected Prometheus label names such as node")
        elif isinstance(reporters, list) and name not in reporters and explicit:
            c.fail("localityLabels", name, "only reporterLabels are aggregated away; add it there or remove it here")
    if explicit and value and m["deduplicateReporters"] is False:
        c.fail("localityLabels", value, "has no effect with deduplicateReporters: false (every label is kept)")


def _check_overrides(c: _Checker, m: dict[str, Any], days_ok: bool) -> tuple[Override, ...]:
    if not days_ok or not all(isinstance(m[k], str) for k in ("clusterLabel", "selector")):
        return ()  # refused above; the entries would be judged against a broken configuration
    try:
        scope = {mt.name for mt in selector_matchers(m["selector"])}
    except ValueError:
        return ()
    reporters = (
        {r for r in m["reporterLabels"] if isinstance(r, str)} if isinstance(m["reporterLabels"], list) else set()
    )
    locality = (
        {r for r in m["localityLabels"] if isinstance(r, str)} if isinstance(m["localityLabels"], list) else set()
    )
    kept = (scope - reporters) | locality | ({m["clusterLabel"]} if m["multiCluster"] is True else set())
    aggregated = reporters - kept
    if m["deduplicateReporters"] is False:
        kept, aggregated = kept | reporters, set()
    labels = CertificateLabels(
        kept=frozenset(kept),
        aggregated=frozenset(aggregated),
        on_every_alert=frozenset(m["extraAlertLabels"]) if isinstance(m["extraAlertLabels"], dict) else frozenset(),
    )
    defaults = {k: m[k] for k in ("warningDaysLeft", "criticalDaysLeft", "crlWarningDaysLeft")}
    return parse_overrides(m["certificateOverrides"], c.fail, defaults, labels)


def _check_grafana(c: _Checker, m: dict[str, Any]) -> None:
    if (
        c.expect("grafanaUrl", m["grafanaUrl"], (str,), "a string")
        and m["grafanaUrl"]
        and not _URL_RE.match(m["grafanaUrl"])
    ):
        c.fail("grafanaUrl", m["grafanaUrl"], 'expected "" or Grafana\'s base URL, e.g. https://grafana.example.org')
    if (
        m["grafanaUrl"]
        and isinstance(m["extraAlertAnnotations"], dict)
        and "dashboard_url" in m["extraAlertAnnotations"]
    ):
        c.fail(
            "extraAlertAnnotations.dashboard_url",
            m["extraAlertAnnotations"]["dashboard_url"],
            "generated from grafanaUrl; set one or the other",
        )
    if c.expect("dashboardUidPrefix", m["dashboardUidPrefix"], (str,), "a string") and not _UID_PREFIX_RE.match(
        m["dashboardUidPrefix"]
    ):
        c.fail(
            "dashboardUidPrefix",
            m["dashboardUidPrefix"],
            "expected at most 31 characters among letters, digits, - and _ (Grafana uids are at most 40)",
        )
    if c.expect("dashboardTags", m["dashboardTags"], (list,), "a list of strings"):
        for tag in m["dashboardTags"]:
            if not isinstance(tag, str) or not tag.strip():
                c.fail("dashboardTags", tag, "expected non-empty strings")
    if c.expect("dashboardFolder", m["dashboardFolder"], (str,), "a string") and not m["dashboardFolder"].strip():
        c.fail("dashboardFolder", m["dashboardFolder"], "expected a folder title, e.g. Certificates")
    labels = m["dashboardSidecarLabels"]
    if c.expect("dashboardSidecarLabels", labels, (dict,), "a mapping of Kubernetes label names to strings"):
        if not labels:
            c.fail(
                "dashboardSidecarLabels",
                labels,
                'the Grafana sidecar needs a label to find the ConfigMaps, e.g. {grafana_dashboard: "1"}',
            )
        for key, value in labels.items():
            if not isinstance(key, str) or not _K8S_LABEL_KEY_RE.match(key):
                c.fail("dashboardSidecarLabels", key, "expected a Kubernetes label name such as grafana_dashboard")
            elif not isinstance(value, str) or not _K8S_LABEL_VALUE_RE.match(value):
                c.fail(
                    f"dashboardSidecarLabels.{key}",
                    value,
                    'expected a Kubernetes label value (a string of at most 63 characters), e.g. "1"',
                )


def _check_receiver(c: _Checker, key: str, name: Any) -> None:
    if name is None:
        return
    if not isinstance(name, str) or not _RECEIVER_RE.match(name):
        c.fail(key, name, "expected a receiver name (letters, digits, spaces and -_.:@/), or null for nowhere")
    elif name == NULL_RECEIVER:
        c.fail(key, name, f"{NULL_RECEIVER} is the mixin's receiver for alerts sent nowhere; write null")


def _check_label_receivers(c: _Checker, m: dict[str, Any], overrides: tuple[Override, ...]) -> None:
    """Routes on a label the mixin's alerts carry: one certificateOverrides entries add (only
    the values they set), or `reason` with errorsByReason (the exporter's reasons); any other
    would never match."""
    am = m["alertmanager"]
    if not isinstance(am, dict) or not c.expect(
        "alertmanager.labelReceivers",
        am["labelReceivers"],
        (dict,),
        "a mapping of a certificateOverrides label to its values' receivers, e.g. {team: {payments: payments-oncall}}",
    ):
        return
    added: dict[str, set[str]] = {}
    for o in overrides:
        for name, value in o.labels.items():
            added.setdefault(name, set()).add(value)
    for label, receivers in am["labelReceivers"].items():
        key = f"alertmanager.labelReceivers.{label}"
        if label == "reason" and m["errorsByReason"] is not True:
            c.fail(key, receivers, "only the error alerts carry reason, with errorsByReason: true; set it")
        elif label not in added and label != "reason":
            known = ", ".join(sorted(added)) or "none"
            c.fail(
                key,
                receivers,
                f"no certificateOverrides entry adds this label (they add: {known}); it would never match",
            )
        elif c.expect(key, receivers, (dict,), "a mapping of the label's values to receiver names"):
            for value, name in receivers.items():
                if label == "reason" and not (isinstance(value, str) and is_error_reason(value)):
                    c.fail(
                        f"{key}.{value}",
                        name,
                        "not a reason of x509_source_errors_total or x509_kube_transport_errors_total, e.g. "
                        "bad_passphrase, permission_denied, http_403, watch_flapped",
                    )
                elif label != "reason" and value not in added[label]:
                    values = ", ".join(sorted(added[label]))
                    c.fail(
                        f"{key}.{value}", name, f"no certificateOverrides entry sets {label} to it (they set: {values})"
                    )
                else:
                    _check_receiver(c, f"{key}.{value}", name)


def _check_alertmanager(c: _Checker, am: Any) -> None:
    if not c.expect(
        "alertmanager", am, (dict,), "a mapping with receivers, groupWait, groupInterval, repeatInterval, output"
    ):
        return
    receivers = am["receivers"]
    if c.expect(
        "alertmanager.receivers", receivers, (dict,), "a mapping of severities (critical, warning, info) to names"
    ):
        for severity, name in receivers.items():
            key = f"alertmanager.receivers.{severity}"
            if severity not in SEVERITIES:
                c.fail(key, name, "unknown severity; use critical, warning or info")
            else:
                _check_receiver(c, key, name)
    for key in ("groupWait", "groupInterval", "repeatInterval"):
        if c.expect(f"alertmanager.{key}", am[key], (str,), "a duration string such as 5m"):
            c.duration(f"alertmanager.{key}", am[key], allow_zero=key == "groupWait")
    try:
        interval, repeat = duration_seconds(am["groupInterval"]), duration_seconds(am["repeatInterval"])
    except ValueError:
        pass  # reported above
    else:
        if 0 < repeat < interval:
            c.fail(
                "alertmanager.repeatInterval",
                am["repeatInterval"],
                f"must be at least groupInterval ({am['groupInterval']}): Alertmanager repeats only at a group flush",
            )
    if am["output"] not in ALERTMANAGER_OUTPUTS:
        c.fail(
            "alertmanager.output",
            am["output"],
            "expected config (a whole Alertmanager configuration) or snippet (routes, receivers and "
            "inhibit_rules to merge into yours)",
        )


def load(data: Mapping[str, Any] | None = None) -> Config:
    """Validate a user configuration (merged over the defaults) and return the Config."""
    data = {} if data is None else data
    c = _Checker()
    if not isinstance(data, Mapping):
        raise ConfigError([f"config: expected a mapping at the top level, got {_type_name(data)}"])
    c.unknown("", data, DEFAULTS)
    merged = copy.deepcopy(DEFAULTS)
    for key, value in data.items():
        if key in ("exporter", "prometheusRule", "lint", "alertmanager") and isinstance(value, Mapping):
            unused = {k: v for k, v in value.items() if key == "exporter" and k in _UNUSED_GATES}
            for gate, v in unused.items():
                c.fail(f"exporter.{gate}", v, _UNUSED_GATES[gate])
            c.unknown(f"{key}.", {k: v for k, v in value.items() if k not in unused}, DEFAULTS[key])
            merged[key].update({k: v for k, v in value.items() if k in DEFAULTS[key]})
            if key == "alertmanager" and isinstance(value.get("receivers"), Mapping):
                # Per severity over the defaults, like `severities`.
                merged[key]["receivers"] = {**DEFAULTS[key]["receivers"], **value["receivers"]}
        elif key in DEFAULTS:
            merged[key] = value
    m = merged

    if c.expect("alertNamePrefix", m["alertNamePrefix"], (str,), "a string") and not _ALERT_PREFIX_RE.match(
        m["alertNamePrefix"]
    ):
        c.fail(
            "alertNamePrefix",
            m["alertNamePrefix"],
            'use CamelCase letters and digits starting with a capital (e.g. X509), or "" for the Helm chart\'s names',
        )
    if c.expect("selector", m["selector"], (str,), "a string"):
        _check_selector(c, m["selector"])
    c.expect("multiCluster", m["multiCluster"], (bool,), "true or false")
    if c.expect("clusterLabel", m["clusterLabel"], (str,), "a string") and not is_label_name(m["clusterLabel"]):
        c.fail("clusterLabel", m["clusterLabel"], "expected a Prometheus label name such as cluster")
    days_ok = True
    for key in ("warningDaysLeft", "criticalDaysLeft", "crlWarningDaysLeft"):
        if not c.expect(key, m[key], (int, float), "a number of days"):
            days_ok = False
        elif m[key] <= 0:
            c.fail(key, m[key], "expected a number of days greater than 0")
            days_ok = False
    if days_ok and m["warningDaysLeft"] <= m["criticalDaysLeft"]:
        c.fail(
            "warningDaysLeft",
            m["warningDaysLeft"],
            f"must be greater than criticalDaysLeft ({m['criticalDaysLeft']}), or the warning never comes first",
        )

    def check_severity(key: str, value: Any) -> None:
        if value not in SEVERITIES:
            c.fail(key, value, "expected one of info, warning, critical")

    c.alert_map("severities", m["severities"], check_severity)

    def check_for(key: str, value: Any) -> None:
        if c.expect(key, value, (str,), "a duration string such as 15m"):
            c.duration(key, value, allow_zero=True)

    c.alert_map("alertFor", m["alertFor"], check_for)
    if c.expect("disabledAlerts", m["disabledAlerts"], (list,), "a list of alert base names"):
        for name in m["disabledAlerts"]:
            if name not in ALERT_NAMES:
                c.fail("disabledAlerts", name, "unknown alert; use one of: " + ", ".join(ALERT_NAMES))
    c.string_map("extraAlertLabels", m["extraAlertLabels"])
    if isinstance(m["extraAlertLabels"], dict):
        for reserved in ("severity", "alertname"):
            if reserved in m["extraAlertLabels"]:
                c.fail(
                    f"extraAlertLabels.{reserved}",
                    m["extraAlertLabels"][reserved],
                    "set severities per alert with the `severities` key instead",
                )
    c.string_map("extraAlertAnnotations", m["extraAlertAnnotations"])
    if isinstance(m["extraAlertAnnotations"], dict):
        for reserved in ("summary", "description", "runbook_url"):
            if reserved in m["extraAlertAnnotations"]:
                c.fail(
                    f"extraAlertAnnotations.{reserved}",
                    m["extraAlertAnnotations"][reserved],
                    "this annotation is generated; use runbookUrlPattern for runbook links",
                )
    if c.expect("runbookUrlPattern", m["runbookUrlPattern"], (str,), "a string") and (
        m["runbookUrlPattern"].count("%s") != 1
    ):
        c.fail(
            "runbookUrlPattern",
            m["runbookUrlPattern"],
            "expected exactly one %s, replaced by the lower-case alert base name",
        )
    c.expect("deduplicateReporters", m["deduplicateReporters"], (bool,), "true or false")
    if c.expect("reporterLabels", m["reporterLabels"], (list,), "a list of label names"):
        for name in m["reporterLabels"]:
            if not is_label_name(name):
                c.fail("reporterLabels", name, "expected Prometheus label names such as instance or pod")
            elif isinstance(m["clusterLabel"], str) and name == m["clusterLabel"] and m["multiCluster"] is True:
                c.fail("reporterLabels", name, "the cluster label must not be aggregated away when multiCluster is on")
    _check_locality(c, m, explicit="localityLabels" in data)
    if c.expect("errorsByReason", m["errorsByReason"], (bool,), "true or false") and m["errorsByReason"]:
        if isinstance(m["disabledAlerts"], list) and set(ERROR_ALERTS) <= set(m["disabledAlerts"]):
            c.fail("errorsByReason", True, "every alert it splits by reason is in disabledAlerts; remove the key")
    for key in ("missedScrapeTolerance", "scrapeTimeout", "renewalOverdueMaxLifetime"):
        c.duration(key, m[key])
    if c.expect("renewalOverdueFraction", m["renewalOverdueFraction"], (int, float), "a fraction between 0 and 1") and (
        not 0 < m["renewalOverdueFraction"] < 1
    ):
        c.fail(
            "renewalOverdueFraction",
            m["renewalOverdueFraction"],
            "expected a fraction of the lifetime between 0 and 1 (exclusive), e.g. 0.8",
        )
    exp = m["exporter"]
    if c.expect("exporter", exp, (dict,), "a mapping of the exporter's metrics gates"):
        for key in DEFAULTS["exporter"]:
            c.expect(f"exporter.{key}", exp[key], (bool,), "true or false (the exporter's metrics." + key + ")")
    pr = m["prometheusRule"]
    if c.expect("prometheusRule", pr, (dict,), "a mapping with name, namespace, labels"):
        for key in ("name", "namespace"):
            if c.expect(f"prometheusRule.{key}", pr[key], (str,), "a string") and not _K8S_NAME_RE.match(pr[key]):
                c.fail(
                    f"prometheusRule.{key}", pr[key], "expected a Kubernetes name: lower-case letters, digits, - and ."
                )
        c.expect("prometheusRule.labels", pr["labels"], (dict,), "a mapping of strings") and all(
            c.expect(f"prometheusRule.labels.{k}", v, (str,), "a string") for k, v in pr["labels"].items()
        )
    _check_grafana(c, m)
    if c.expect("lint", m["lint"], (dict,), "a mapping such as {disabled: [alerts/runbook-anchor]}") and c.expect(
        "lint.disabled", m["lint"]["disabled"], (list,), "a list of lint check ids"
    ):
        for check in m["lint"]["disabled"]:
            if check not in LINT_CHECKS:
                c.fail("lint.disabled", check, "unknown lint check; known checks are: " + ", ".join(LINT_CHECKS))
    overrides = _check_overrides(c, m, days_ok)
    _check_label_receivers(c, m, overrides)
    _check_alertmanager(c, m["alertmanager"])
    if c.problems:
        raise ConfigError(c.problems)

    severities = dict(DEFAULT_SEVERITIES, **m["severities"])
    alert_for = dict(DEFAULT_FOR, **m["alertFor"])
    freeze = MappingProxyType
    am = m["alertmanager"]
    return Config(
        alertNamePrefix=m["alertNamePrefix"],
        selector=m["selector"],
        multiCluster=m["multiCluster"],
        clusterLabel=m["clusterLabel"],
        warningDaysLeft=m["warningDaysLeft"],
        criticalDaysLeft=m["criticalDaysLeft"],
        crlWarningDaysLeft=m["crlWarningDaysLeft"],
        certificateOverrides=overrides,
        severities=freeze(severities),
        alertFor=freeze(alert_for),
        disabledAlerts=frozenset(m["disabledAlerts"]),
        extraAlertLabels=freeze(dict(m["extraAlertLabels"])),
        extraAlertAnnotations=freeze(dict(m["extraAlertAnnotations"])),
        runbookUrlPattern=m["runbookUrlPattern"],
        deduplicateReporters=m["deduplicateReporters"],
        reporterLabels=tuple(m["reporterLabels"]),
        localityLabels=tuple(m["localityLabels"]),
        errorsByReason=m["errorsByReason"],
        missedScrapeTolerance=m["missedScrapeTolerance"],
        scrapeTimeout=m["scrapeTimeout"],
        renewalOverdueFraction=m["renewalOverdueFraction"],
        renewalOverdueMaxLifetime=m["renewalOverdueMaxLifetime"],
        exporter=freeze(dict(exp)),
        prometheusRule=PrometheusRuleMeta(pr["name"], pr["namespace"], freeze(dict(pr["labels"]))),
        grafanaUrl=m["grafanaUrl"].rstrip("/"),
        dashboardUidPrefix=m["dashboardUidPrefix"],
        dashboardTags=tuple(m["dashboardTags"]),
        dashboardFolder=m["dashboardFolder"],
        dashboardSidecarLabels=freeze(dict(m["dashboardSidecarLabels"])),
        lint=LintSettings(frozenset(m["lint"]["disabled"])),
        alertmanager=AlertmanagerSettings(
            receivers=freeze(dict(am["receivers"])),
            groupWait=am["groupWait"],
            groupInterval=am["groupInterval"],
            repeatInterval=am["repeatInterval"],
            output=am["output"],
            labelReceivers=freeze({k: freeze(dict(v)) for k, v in am["labelReceivers"].items()}),
        ),
        raw=freeze(dict(data)),
    )


DEFAULT = load()
