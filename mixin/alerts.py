"""The alerting rules: pure functions from a Config to Prometheus rule groups.

The Helm chart's thirteen alerts keep their semantics and defaults; the others cover what the
chart misses (the exporter down or gone, lost bundles, panics, watch storms, slow scrapes,
overdue renewals). Every query takes the configured selector, survives a missed scrape,
and gives one alert per certificate however many exporters report it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import promql_parser

from x509_mixin.mixin import promql as q
from x509_mixin.mixin import templates as t
from x509_mixin.mixin.config import ALERT_NAMES, Config, duration_seconds
from x509_mixin.mixin.dashboards import dashboard_url

CERTIFICATES_GROUP = "x509-certificates"
EXPORTER_GROUP = "x509-certificate-exporter"


@dataclass(frozen=True)
class Alert:
    base: str  # name without the prefix
    group: str
    expr: str
    summary: str
    description: str


def _per_cert_reporter(cfg: Config) -> str:
    # Without deduplication the alert is per reporter: say which one.
    return "" if cfg.deduplicates else t.REPORTER


def _error_burst(
    cfg: Config, base: str, counter: str, without: str, summary: str, sustained_summary: str, met: str, consequence: str
) -> Alert:
    """More than 5 errors per 15 minutes; the *Sustained twin is the same query with a longer `for`."""
    sustained = base.endswith("Sustained")
    return Alert(
        base,
        EXPORTER_GROUP,
        f"sum without ({without}) ({q.increase(cfg, counter, '15m')}) > 5",
        sustained_summary if sustained else summary,
        met
        + " in the last 15 minutes"
        + (f", and more than 5 per 15 minutes for {cfg.alertFor[base]}" if sustained else "")
        + "; "
        + consequence,
    )


def _source_errors(cfg: Config, base: str) -> Alert:
    return _error_burst(
        cfg,
        base,
        "x509_source_errors_total",
        "reason",
        "A certificate source keeps failing to read bundles.",
        "A certificate source has been failing for a long time.",
        "Source {{ $labels.source_name }} ({{ $labels.source_kind }}) on {{ $labels.instance }} met "
        + t.COUNT
        + " errors",
        "its certificates may be missing or out of date.",
    )


def _kube_transport_errors(cfg: Config, base: str) -> Alert:
    return _error_burst(
        cfg,
        base,
        "x509_kube_transport_errors_total",
        "resource, reason",
        "The exporter fails to talk to the Kubernetes API.",
        "The exporter has failed to talk to the Kubernetes API for a long time.",
        "Kubernetes source {{ $labels.source_name }} on {{ $labels.instance }} met "
        + t.COUNT
        + " API transport errors",
        "Secrets, ConfigMaps and caBundles may be out of date.",
    )


def _source_down(cfg: Config) -> Alert:
    return Alert(
        "SourceDown",
        EXPORTER_GROUP,
        f"{q.gauge(cfg, 'x509_source_up')} == 0",
        "A certificate source is down.",
        "Source {{ $labels.source_name }} ({{ $labels.source_kind }}) on {{ $labels.instance }} stopped after a "
        "fatal error; its certificates are no longer watched.",
    )


def _keystore_passphrase(cfg: Config) -> Alert:
    pkcs12 = q.increase(cfg, "x509_pkcs12_passphrase_failures_total", "15m")
    jks = q.increase(cfg, "x509_jks_passphrase_failures_total", "15m")
    return Alert(
        "KeystorePassphraseFailures",
        EXPORTER_GROUP,
        f"({pkcs12}) > 0 or ({jks}) > 0",
        "Keystores cannot be opened with the configured passphrase.",
        "Source {{ $labels.source_name }} on {{ $labels.instance }} met "
        + t.COUNT
        + " passphrase failures opening PKCS#12 or JKS keystores in the last 15 minutes.",
    )


def _certificate_error(cfg: Config) -> Alert | None:
    if not cfg.gate("exposePerCertError"):
        return None
    return Alert(
        "CertificateError",
        CERTIFICATES_GROUP,
        f"{q.cert_gauge(cfg, 'x509_cert_error')} > 0",
        "A certificate bundle cannot be read or parsed.",
        "The bundle in "
        + t.PLACE
        + _per_cert_reporter(cfg)
        + " cannot be read or parsed; x509_source_errors_total gives the reason.",
    )


def _expires_in(cfg: Config) -> str:
    return f"({q.cert_gauge(cfg, 'x509_cert_not_after')} - time())"


def _certificate_renewal(cfg: Config) -> Alert:
    left = _expires_in(cfg)
    return Alert(
        "CertificateRenewal",
        CERTIFICATES_GROUP,
        f"({left} < {q.days(cfg.warningDaysLeft)}) > 0",
        "A certificate is due for renewal.",
        t.CERTIFICATE + _per_cert_reporter(cfg) + " " + t.EXPIRES + ".",
    )


def _certificate_expiration(cfg: Config) -> Alert:
    return Alert(
        "CertificateExpiration",
        CERTIFICATES_GROUP,
        f"{_expires_in(cfg)} < {q.days(cfg.criticalDaysLeft)}",
        "A certificate is about to expire or has expired.",
        t.CERTIFICATE + _per_cert_reporter(cfg) + " " + t.EXPIRES + ".",
    )


def _certificate_not_yet_valid(cfg: Config) -> Alert | None:
    # $value: seconds until the certificate becomes valid.
    if cfg.gate("exposeNotBefore"):
        expr = f"({q.cert_gauge(cfg, 'x509_cert_not_before')} - time()) > 0"
    elif cfg.gate("exposeRelative"):
        expr = f"-{q.cert_gauge(cfg, 'x509_cert_valid_since_seconds')} > 0"
    else:
        return None
    return Alert(
        "CertificateNotYetValid",
        CERTIFICATES_GROUP,
        expr,
        "A certificate is not valid yet.",
        t.CERTIFICATE + _per_cert_reporter(cfg) + " becomes valid in {{ humanizeDuration $value }}.",
    )


def _certificate_renewal_overdue(cfg: Config) -> Alert | None:
    # Elapsed share of the certificate's own lifetime, so 90-day ACME certificates and
    # one-year ones are both judged against their renewal point; long-lived certificates
    # (CAs, renewed by hand) are left to the day thresholds.
    frac = repr(float(cfg.renewalOverdueFraction))
    max_life = q.seconds(cfg.renewalOverdueMaxLifetime)
    if cfg.gate("exposeNotBefore"):
        not_after = q.cert_gauge(cfg, "x509_cert_not_after")
        not_before = q.cert_gauge(cfg, "x509_cert_not_before")
        left, elapsed, life = f"({not_after} - time())", f"(time() - {not_before})", f"({not_after} - {not_before})"
    elif cfg.gate("exposeRelative"):
        left = q.cert_gauge(cfg, "x509_cert_expires_in_seconds")
        elapsed = q.cert_gauge(cfg, "x509_cert_valid_since_seconds")
        life = f"({left} + {elapsed})"
    else:
        return None
    percent = f"{cfg.renewalOverdueFraction * 100:g}"
    return Alert(
        "CertificateRenewalOverdue",
        CERTIFICATES_GROUP,
        f"{left} > 0 and {elapsed} > {frac} * {life} and {life} <= {max_life}",
        "A certificate was not renewed when automated renewal should have happened.",
        t.CERTIFICATE
        + _per_cert_reporter(cfg)
        + f" has used more than {percent}% of its lifetime and "
        + t.EXPIRES
        + "; its automated renewal should already have happened.",
    )


def _certificate_collision(cfg: Config) -> Alert:
    dropped = q.increase(cfg, "x509_cert_collision_dropped_total", "1h")
    return Alert(
        "CertificateCollision",
        EXPORTER_GROUP,
        f"({dropped}) > 0",
        "Certificates are invisible because their labels collide.",
        "The exporter on {{ $labels.instance }} dropped " + t.COUNT + " {{ $labels.source_kind }} certificates in the "
        "last hour because their labels collide; set collisionDiscriminator to auto or always.",
    )


def _next_update_in(cfg: Config) -> str:
    return f"({q.cert_gauge(cfg, 'x509_crl_next_update')} - time())"


def _crl_needs_refresh(cfg: Config) -> Alert:
    left = _next_update_in(cfg)
    soon = f"{left} < {q.days(cfg.crlWarningDaysLeft)}"
    expr = f"{soon} and {q.cert_gauge(cfg, 'x509_crl_stale')} == 0" if cfg.gate("exposeExpired") else f"({soon}) >= 0"
    return Alert(
        "CRLNeedsRefresh",
        CERTIFICATES_GROUP,
        expr,
        "A CRL is close to its next update date.",
        t.CRL
        + _per_cert_reporter(cfg)
        + " must be refreshed: its next update is due in {{ humanizeDuration $value }}.",
    )


def _crl_stale(cfg: Config) -> Alert:
    # With exposeExpired the exporter's own flag decides, as in the chart; the value stays the
    # time to the next update, for the description.
    left = _next_update_in(cfg)
    expr = f"{left} and {q.cert_gauge(cfg, 'x509_crl_stale')} > 0" if cfg.gate("exposeExpired") else f"{left} < 0"
    return Alert(
        "CRLStale",
        CERTIFICATES_GROUP,
        expr,
        "A CRL is past its next update date.",
        t.CRL + _per_cert_reporter(cfg) + " is stale: its next update was due "
        '{{ reReplaceAll "^-" "" (humanizeDuration $value) }} ago.',
    )


def _exporter_down(cfg: Config) -> Alert:
    return Alert(
        "ExporterDown",
        EXPORTER_GROUP,
        f"{q.sel(cfg, 'up')} == 0",
        "An x509 certificate exporter target is down.",
        "The target {{ $labels.instance }} of job {{ $labels.job }} cannot be scraped; the certificates it "
        "watches are not monitored.",
    )


def _exporter_absent(cfg: Config) -> Alert:
    up = q.sel(cfg, "up")
    expr = f"absent({up})"
    if cfg.multiCluster:
        # absent() cannot tell which cluster lost its exporter: compare with the clusters that
        # had one during the last day.
        by = q.by_cluster(cfg)
        expr += f" or (group {by}(max_over_time({up}[1d])) unless group {by}({up}))"
    # Single cluster: absent() has no labels, but the Prometheus' external labels may name it.
    source = "$labels" if cfg.multiCluster else "$externalLabels"
    where = "{{ with " + source + "." + cfg.clusterLabel + " }} in cluster {{ . }}{{ end }}"
    return Alert(
        "ExporterAbsent",
        EXPORTER_GROUP,
        expr,
        "The x509 certificate exporter has disappeared.",
        f"No target matching {{{cfg.selector}}} is scraped{where}; no certificate is monitored there.",
    )


def _source_bundles_lost(cfg: Config) -> Alert:
    # The exporter emits the gauge from the first bundle on, so 0 means "had some, now none".
    return Alert(
        "SourceBundlesLost",
        EXPORTER_GROUP,
        f"{q.gauge(cfg, 'x509_source_bundles')} == 0",
        "A certificate source has lost all its bundles.",
        "Source {{ $labels.source_name }} ({{ $labels.source_kind }}) on {{ $labels.instance }} held certificates "
        "and now holds none; check that the watched paths or objects still exist.",
    )


def _exporter_panics(cfg: Config) -> Alert:
    panics = q.increase(cfg, "x509_panic_total", "15m")
    return Alert(
        "ExporterPanics",
        EXPORTER_GROUP,
        f"({panics}) > 0",
        "The exporter recovered from a panic.",
        "The exporter on {{ $labels.instance }} recovered from "
        + t.COUNT
        + " panics in {{ $labels.component }} in the last 15 minutes.",
    )


def _kube_watch_resync_storm(cfg: Config) -> Alert:
    resyncs = q.increase(cfg, "x509_kube_watch_resyncs_total", "15m")
    return Alert(
        "KubeWatchResyncStorm",
        EXPORTER_GROUP,
        f"({resyncs}) > 10",
        "Kubernetes watches of the exporter restart too often.",
        "The watch of {{ $labels.resource }} by source {{ $labels.source_name }} on {{ $labels.instance }} "
        "restarted " + t.COUNT + " times in the last 15 minutes; each restart lists every object again.",
    )


def _exporter_slow_scrapes(cfg: Config) -> Alert:
    limit = 0.8 * duration_seconds(cfg.scrapeTimeout)
    return Alert(
        "ExporterSlowScrapes",
        EXPORTER_GROUP,
        f"avg_over_time({q.sel(cfg, 'scrape_duration_seconds')}[5m]) > {limit:g}",
        "Scrapes of the exporter approach the scrape timeout.",
        "Scrapes of {{ $labels.instance }} took {{ humanizeDuration $value }} on average over 5 minutes, "
        f"close to the {cfg.scrapeTimeout} scrape timeout.",
    )


_BUILDERS: dict[str, Callable[[Config], Alert | None]] = {
    "SourceErrors": lambda c: _source_errors(c, "SourceErrors"),
    "SourceErrorsSustained": lambda c: _source_errors(c, "SourceErrorsSustained"),
    "SourceDown": _source_down,
    "KubeTransportErrors": lambda c: _kube_transport_errors(c, "KubeTransportErrors"),
    "KubeTransportErrorsSustained": lambda c: _kube_transport_errors(c, "KubeTransportErrorsSustained"),
    "KeystorePassphraseFailures": _keystore_passphrase,
    "CertificateError": _certificate_error,
    "CertificateRenewal": _certificate_renewal,
    "CertificateExpiration": _certificate_expiration,
    "CertificateNotYetValid": _certificate_not_yet_valid,
    "CertificateCollision": _certificate_collision,
    "CRLNeedsRefresh": _crl_needs_refresh,
    "CRLStale": _crl_stale,
    "ExporterDown": _exporter_down,
    "ExporterAbsent": _exporter_absent,
    "SourceBundlesLost": _source_bundles_lost,
    "ExporterPanics": _exporter_panics,
    "KubeWatchResyncStorm": _kube_watch_resync_storm,
    "ExporterSlowScrapes": _exporter_slow_scrapes,
    "CertificateRenewalOverdue": _certificate_renewal_overdue,
}
assert tuple(_BUILDERS) == ALERT_NAMES


def alerts(cfg: Config) -> list[Alert]:
    """The alerts this configuration generates, in catalogue order."""
    built = (_BUILDERS[base](cfg) for base in ALERT_NAMES if base not in cfg.disabledAlerts)
    return [a for a in built if a is not None]


def pretty(expr: str) -> str:
    """Prometheus' own multi-line layout of a query (also proves it parses)."""
    return promql_parser.parse(expr).prettify().strip("\n") + "\n"


def rule(cfg: Config, alert: Alert) -> dict:
    """One alerting rule in Prometheus' rule-file shape."""
    out: dict = {"alert": cfg.alert_name(alert.base), "expr": pretty(alert.expr)}
    if duration_seconds(cfg.alertFor[alert.base]) > 0:
        out["for"] = cfg.alertFor[alert.base]
    out["labels"] = {"severity": cfg.severities[alert.base], **cfg.extraAlertLabels}
    out["annotations"] = {
        "summary": alert.summary,
        "description": alert.description,
        "runbook_url": cfg.runbook_url(alert.base),
        **cfg.extraAlertAnnotations,
    }
    url = dashboard_url(cfg, alert.base)
    if url:
        out["annotations"]["dashboard_url"] = url
    return out


def alert_groups(cfg: Config) -> list[dict]:
    """The alerting rule groups (empty groups are left out)."""
    built = alerts(cfg)
    groups = []
    for name in (CERTIFICATES_GROUP, EXPORTER_GROUP):
        rules = [rule(cfg, a) for a in built if a.group == name]
        if rules:
            groups.append({"name": name, "rules": rules})
    return groups
