"""The alerting rules: pure functions from a Config to Prometheus rule groups.

The Helm chart's thirteen alerts keep their names, severities and defaults; the others cover
what the chart misses (the exporter down or gone, a source gone, lost bundles, panics, watch
storms, slow scrapes, overdue renewals). Certificate alerts read the per-certificate truth
recorded in the same group (mixin.truth): one alert per certificate however many exporters
report it, carried through missed scrapes, restarts and replacements. docs/faults.md says
how each alert behaves through each fault.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import promql_parser

from x509_mixin.mixin import policies, truth
from x509_mixin.mixin import promql as q
from x509_mixin.mixin import templates as t
from x509_mixin.mixin.config import ALERT_NAMES, Config, duration_seconds
from x509_mixin.mixin.dashboards import dashboard_url

GROUP = "x509-certificate-exporter"
CERTIFICATE, EXPORTER = "certificate", "exporter"


@dataclass(frozen=True)
class Alert:
    base: str  # name without the prefix
    kind: str  # CERTIFICATE (a certificate, CRL or bundle) or EXPORTER (an exporter or a source)
    expr: str
    summary: str
    description: str


def _where(cfg: Config) -> str:
    """Which reporter: every one without deduplication, the node of a node-local file with it."""
    if not cfg.deduplicates:
        return t.REPORTER
    return t.locality(tuple(label for label in cfg.localityLabels if label in cfg.reporterLabels))


def _error_burst(
    cfg: Config,
    base: str,
    counter: str,
    summed: tuple[str, ...],
    summary: str,
    sustained_summary: str,
    met: str,
    consequence: str,
) -> Alert:
    """More than 5 errors per 15 minutes, counted over every reason (and the `summed` labels);
    the *Sustained twin is the same query with a longer `for`."""
    sustained = base.endswith("Sustained")
    counted = q.increase(cfg, counter, "15m")
    expr = f"sum without ({', '.join((*summed, 'reason'))}) ({counted}) > 5"
    among = ""
    if cfg.errorsByReason:
        # The same condition and value (the total), as one alert per reason met in the window,
        # so that Alertmanager can route on `reason`.
        per_reason = f"sum without ({', '.join(summed)}) ({counted})" if summed else counted
        expr = f"({expr}) + ignoring (reason) group_right () (0 * ({per_reason} > 0))"
        among = ", {{ $labels.reason }} among them"
    return Alert(
        base,
        EXPORTER,
        q.unless_gone(cfg, expr),
        sustained_summary if sustained else summary,
        met
        + " in the last 15 minutes"
        + among
        + (f", and more than 5 per 15 minutes for {cfg.alertFor[base]}" if sustained else "")
        + "; "
        + consequence,
    )


def _source_errors(cfg: Config, base: str) -> Alert:
    return _error_burst(
        cfg,
        base,
        "x509_source_errors_total",
        (),
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
        ("resource",),
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
        EXPORTER,
        f"{q.gauge(cfg, 'x509_source_up')} == 0",
        "A certificate source is down.",
        "Source {{ $labels.source_name }} ({{ $labels.source_kind }}) on {{ $labels.instance }} stopped after a "
        "fatal error; its certificates are no longer watched.",
    )


def _source_absent(cfg: Config) -> Alert:
    # A source that only exporters now gone reported, while others of its scope run: a
    # Deployment's pod left Pending while the DaemonSet runs. A replaced pod reports its
    # sources again within `for`; a live exporter that dropped a source did it on purpose.
    up, source_up, scope = q.sel(cfg, "up"), q.sel(cfg, "x509_source_up"), q.scope_labels(cfg)
    keys = (*scope, "source_name")
    seen = f"last_over_time({source_up}[1d])"
    expr = (
        f"{q.group_by(keys, seen)}"
        f" unless {q.on(keys)} {q.group_by(keys, f'{seen} and {q.on(q.target_labels(cfg))} {up}')}"
        f" and {q.on(scope)} {q.group_by(scope, f'{up} == 1')}"
    )
    return Alert(
        "SourceAbsent",
        EXPORTER,
        expr,
        "A certificate source is no longer reported by any exporter.",
        "Source {{ $labels.source_name }} was reported by exporters that are gone, and no running "
        "exporter reports it; its certificates are not monitored. If it was removed on purpose, this resolves "
        "a day after it was last seen.",
    )


def _keystore_passphrase(cfg: Config) -> Alert:
    # A keystore is re-parsed only when it changes (or its Secret is re-listed): a wrong
    # passphrase may be counted once. An hour's window outlasts `for` and the re-list period.
    pkcs12 = q.increase(cfg, "x509_pkcs12_passphrase_failures_total", "1h")
    jks = q.increase(cfg, "x509_jks_passphrase_failures_total", "1h")
    return Alert(
        "KeystorePassphraseFailures",
        EXPORTER,
        q.unless_gone(cfg, f"{pkcs12} > 0 or {jks} > 0"),
        "Keystores cannot be opened with the configured passphrase.",
        "Source {{ $labels.source_name }} on {{ $labels.instance }} met "
        + t.COUNT
        + " passphrase failures opening PKCS#12 or JKS keystores in the last hour.",
    )


def _certificate_error(cfg: Config) -> Alert | None:
    if not cfg.gate("exposePerCertError"):
        return None
    return Alert(
        "CertificateError",
        CERTIFICATE,
        policies.policed(cfg, truth.BUNDLE_ERROR, f"{truth.BUNDLE_ERROR} > 0"),
        "A certificate bundle cannot be read or parsed.",
        "The bundle in "
        + t.PLACE
        + _where(cfg)
        + " cannot be read or parsed; x509_source_errors_total gives the reason.",
    )


def _days_left(cfg: Config, threshold: str) -> str:
    """Time left, when below each certificate's own `threshold` (mixin.policies)."""
    return policies.join(cfg, f"({truth.NOT_AFTER} - time())", "<", policies.days_left(cfg, threshold))


def _threshold(cfg: Config, threshold: str) -> str:
    """ " (threshold: 20 days)" under certificateOverrides, naming the entry's own."""
    if not cfg.certificateOverrides:
        return ""
    return " (threshold: " + policies.described(cfg, lambda o: f"{getattr(o or cfg, threshold):g} days") + ")"


def _certificate_renewal(cfg: Config) -> Alert:
    return Alert(
        "CertificateRenewal",
        CERTIFICATE,
        f"({_days_left(cfg, 'warningDaysLeft')}) > 0",
        "A certificate is due for renewal.",
        t.CERTIFICATE + _where(cfg) + " " + t.EXPIRES + _threshold(cfg, "warningDaysLeft") + ".",
    )


def _certificate_expiration(cfg: Config) -> Alert:
    return Alert(
        "CertificateExpiration",
        CERTIFICATE,
        _days_left(cfg, "criticalDaysLeft"),
        "A certificate is about to expire or has expired.",
        t.CERTIFICATE + _where(cfg) + " " + t.EXPIRES + _threshold(cfg, "criticalDaysLeft") + ".",
    )


def _certificate_not_yet_valid(cfg: Config) -> Alert | None:
    # $value: seconds until the certificate becomes valid.
    if cfg.gate("exposeNotBefore"):
        expr = f"({truth.NOT_BEFORE} - time()) > 0"
    elif cfg.gate("exposeRelative"):
        expr = f"-{truth.VALID_SINCE} > 0"
    else:
        return None
    return Alert(
        "CertificateNotYetValid",
        CERTIFICATE,
        policies.policed(cfg, truth.NOT_AFTER, expr),
        "A certificate is not valid yet.",
        t.CERTIFICATE + _where(cfg) + " becomes valid in {{ humanizeDuration $value }}.",
    )


def _certificate_renewal_overdue(cfg: Config) -> Alert | None:
    # Elapsed share of the certificate's own lifetime, so 90-day ACME certificates and
    # one-year ones are both judged against their renewal point; long-lived certificates
    # (CAs, renewed by hand) are left to the day thresholds.
    known = truth.lifetime(cfg)
    if known is None:
        return None
    left, elapsed, life = known
    frac = q.number(cfg.renewalOverdueFraction)
    percent = f"{cfg.renewalOverdueFraction * 100:g}"
    return Alert(
        "CertificateRenewalOverdue",
        CERTIFICATE,
        policies.policed(
            cfg,
            truth.NOT_AFTER,
            f"{left} > 0 and {elapsed} > {frac} * {life} and {life} <= {q.seconds(cfg.renewalOverdueMaxLifetime)}",
        ),
        "A certificate was not renewed when automated renewal should have happened.",
        t.CERTIFICATE
        + _where(cfg)
        + f" has used more than {percent}% of its lifetime and "
        + t.EXPIRES
        + "; its automated renewal should already have happened.",
    )


def _certificate_collision(cfg: Config) -> Alert:
    dropped = q.increase(cfg, "x509_cert_collision_dropped_total", "1h")
    return Alert(
        "CertificateCollision",
        EXPORTER,
        q.unless_gone(cfg, f"{dropped} > 0"),
        "Certificates are invisible because their labels collide.",
        "The exporter on {{ $labels.instance }} dropped " + t.COUNT + " {{ $labels.source_kind }} certificates in the "
        "last hour because their labels collide; set collisionDiscriminator to auto or always.",
    )


def _next_update_in() -> str:
    return f"({truth.CRL_NEXT_UPDATE} - time())"


def _crl_needs_refresh(cfg: Config) -> Alert:
    # Stays active once the CRL is stale, until it is refreshed: CRLStale takes over after its
    # own `for` (Alertmanager inhibits this one meanwhile), and the resolution means a fix.
    return Alert(
        "CRLNeedsRefresh",
        CERTIFICATE,
        policies.join(cfg, _next_update_in(), "<", policies.crl_days_left(cfg)),
        "A CRL is close to its next update date.",
        t.CRL
        + _where(cfg)
        + " must be refreshed: its next update "
        + '{{ if lt $value 0.0 }}was due {{ reReplaceAll "^-" "" (humanizeDuration $value) }} ago'
        + "{{ else }}is due in {{ humanizeDuration $value }}{{ end }}"
        + _threshold(cfg, "crlWarningDaysLeft")
        + ".",
    )


def _crl_stale(cfg: Config) -> Alert:
    # The next update date alone decides, so the exporter's exposeExpired gate does not matter;
    # the value stays the time to the next update, for the description.
    return Alert(
        "CRLStale",
        CERTIFICATE,
        policies.policed(cfg, truth.CRL_NEXT_UPDATE, f"{_next_update_in()} < 0"),
        "A CRL is past its next update date.",
        t.CRL + _where(cfg) + " is stale: its next update was due "
        '{{ reReplaceAll "^-" "" (humanizeDuration $value) }} ago.',
    )


def _exporter_down(cfg: Config) -> Alert:
    return Alert(
        "ExporterDown",
        EXPORTER,
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
        by = f"by ({cfg.clusterLabel})"
        expr += f" or (group {by} (max_over_time({up}[1d])) unless group {by} ({up}))"
    # Single cluster: absent() has no labels, but the Prometheus' external labels may name it.
    source = "$labels" if cfg.multiCluster else "$externalLabels"
    where = "{{ with " + source + "." + cfg.clusterLabel + " }} in cluster {{ . }}{{ end }}"
    return Alert(
        "ExporterAbsent",
        EXPORTER,
        expr,
        "The x509 certificate exporter has disappeared.",
        f"No target matching {{{cfg.selector}}} is scraped{where}; no certificate is monitored there.",
    )


def _source_bundles_lost(cfg: Config) -> Alert:
    # The exporter emits the gauge from the first bundle on, so 0 means "had some, now none".
    return Alert(
        "SourceBundlesLost",
        EXPORTER,
        f"{q.gauge(cfg, 'x509_source_bundles')} == 0",
        "A certificate source has lost all its bundles.",
        "Source {{ $labels.source_name }} ({{ $labels.source_kind }}) on {{ $labels.instance }} held certificates "
        "and now holds none; check that the watched paths or objects still exist.",
    )


def _exporter_panics(cfg: Config) -> Alert:
    panics = q.increase(cfg, "x509_panic_total", "15m")
    return Alert(
        "ExporterPanics",
        EXPORTER,
        q.unless_gone(cfg, f"{panics} > 0"),
        "The exporter recovered from a panic.",
        "The exporter on {{ $labels.instance }} recovered from "
        + t.COUNT
        + " panics in {{ $labels.component }} in the last 15 minutes.",
    )


def _kube_watch_resync_storm(cfg: Config) -> Alert:
    resyncs = q.increase(cfg, "x509_kube_watch_resyncs_total", "15m")
    return Alert(
        "KubeWatchResyncStorm",
        EXPORTER,
        q.unless_gone(cfg, f"{resyncs} > 10"),
        "Kubernetes watches of the exporter restart too often.",
        "The watch of {{ $labels.resource }} by source {{ $labels.source_name }} on {{ $labels.instance }} "
        "restarted " + t.COUNT + " times in the last 15 minutes; each restart lists every object again.",
    )


def _exporter_slow_scrapes(cfg: Config) -> Alert:
    limit = 0.8 * duration_seconds(cfg.scrapeTimeout)
    return Alert(
        "ExporterSlowScrapes",
        EXPORTER,
        f"avg_over_time({q.sel(cfg, 'scrape_duration_seconds')}[5m]) > {limit:g}",
        "Scrapes of the exporter approach the scrape timeout.",
        "Scrapes of {{ $labels.instance }} took {{ humanizeDuration $value }} on average over 5 minutes, "
        f"close to the {cfg.scrapeTimeout} scrape timeout.",
    )


_BUILDERS: dict[str, Callable[[Config], Alert | None]] = {
    "SourceErrors": lambda c: _source_errors(c, "SourceErrors"),
    "SourceErrorsSustained": lambda c: _source_errors(c, "SourceErrorsSustained"),
    "SourceDown": _source_down,
    "SourceAbsent": _source_absent,
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
    url = dashboard_url(cfg, alert.kind)
    if url:
        out["annotations"]["dashboard_url"] = url
    return out


# Alerts that silence others in Alertmanager (mixin.alertmanager) come after every alert they
# silence: Prometheus sends each rule's alerts as soon as that rule is evaluated, so when a
# certificate is renewed the silenced alert's resolution reaches Alertmanager before the
# silencing one's, and is never left firing unsilenced in between.
_SILENCING_LAST = ("CertificateExpiration", "CRLStale", "ExporterDown", "ExporterAbsent")


def evaluation_order(generated: list[Alert]) -> list[Alert]:
    last = [a for base in _SILENCING_LAST for a in generated if a.base == base]
    return [a for a in generated if a.base not in _SILENCING_LAST] + last


def alert_groups(cfg: Config) -> list[dict]:
    """One rule group: the recorded per-target state, per-certificate truth and thresholds, then
    every alert, evaluated in this order at the same time."""
    recorded = truth.truth_rules(cfg) + policies.threshold_rules(cfg)
    records = [{"record": r["record"], "expr": pretty(r["expr"])} for r in recorded]
    return [{"name": GROUP, "rules": records + [rule(cfg, a) for a in evaluation_order(alerts(cfg))]}]
