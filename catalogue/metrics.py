"""The metric surface of x509-certificate-exporter v4, in one place.

The mixin, the reference exporter and the migration all read these facts; none of them
reads the others. Source: the exporter's code at v4.2.0 (see the project's reference notes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# Per-certificate labels, in the exporter's fixed order; every slot is always present
# ("" when it does not apply). Optional `<kind>_label_<x>` labels and `discriminator`
# follow them.
CERT_LABELS: tuple[str, ...] = (
    "filename",
    "filepath",
    "embedded_kind",
    "embedded_key",
    "secret_namespace",
    "secret_name",
    "secret_key",
    "configmap_namespace",
    "configmap_name",
    "configmap_key",
    "cabundle_resource_kind",
    "cabundle_resource_name",
    "cabundle_entry",
    "serial_number",
    "crl_number",
    "issuer_C",
    "issuer_ST",
    "issuer_L",
    "issuer_O",
    "issuer_OU",
    "issuer_CN",
    "subject_C",
    "subject_ST",
    "subject_L",
    "subject_O",
    "subject_OU",
    "subject_CN",
)
DN_FIELDS: tuple[str, ...] = ("C", "ST", "L", "O", "OU", "CN")
DISCRIMINATOR_LABEL = "discriminator"
SOURCE_LABELS: tuple[str, ...] = ("source_kind", "source_name")

# Gates of the exporter's `metrics:` section, with the exporter's defaults.
GATE_DEFAULTS: dict[str, bool] = {
    "exposeExpired": True,
    "exposeNotBefore": False,
    "exposeRelative": False,
    "exposePerCertError": False,
    "exposeDiagnostics": False,
}

# The Helm chart's top-level value for each gate (chart/values.yaml and templates/configmap.yaml
# at v4.2.0).
CHART_GATE_KEYS: dict[str, str] = {
    "exposeExpired": "exposeExpiredMetric",
    "exposeNotBefore": "exposeNotBeforeMetric",
    "exposeRelative": "exposeRelativeMetrics",
    "exposePerCertError": "exposePerCertificateErrorMetrics",
    "exposeDiagnostics": "exposeDiagnosticMetrics",
}


@dataclass(frozen=True)
class Metric:
    name: str
    type: str  # gauge | counter | histogram
    help: str
    labels: tuple[str, ...]
    gate: str | None = None  # a key of GATE_DEFAULTS, or None when always emitted
    note: str = ""


_CERT = CERT_LABELS
METRICS: tuple[Metric, ...] = (
    Metric("x509_cert_not_after", "gauge", "Certificate expiration date (seconds since epoch)", _CERT),
    Metric(
        "x509_cert_not_before",
        "gauge",
        "Certificate validity start date (seconds since epoch)",
        _CERT,
        "exposeNotBefore",
    ),
    Metric("x509_cert_expired", "gauge", "1 if the certificate has expired, 0 otherwise", _CERT, "exposeExpired"),
    Metric(
        "x509_cert_expires_in_seconds",
        "gauge",
        "Seconds until the certificate expires (negative once expired)",
        _CERT,
        "exposeRelative",
    ),
    Metric(
        "x509_cert_valid_since_seconds", "gauge", "Seconds since the certificate became valid", _CERT, "exposeRelative"
    ),
    Metric(
        "x509_cert_error",
        "gauge",
        "1 if the bundle could not be read or parsed, 0 otherwise",
        _CERT,
        "exposePerCertError",
    ),
    Metric(
        "x509_crl_next_update",
        "gauge",
        "CRL next update date (seconds since epoch)",
        _CERT,
        None,
        "when a CRL is parsed",
    ),
    Metric(
        "x509_crl_this_update", "gauge", "CRL issue date (seconds since epoch)", _CERT, None, "when a CRL is parsed"
    ),
    Metric("x509_crl_number", "gauge", "CRL number", _CERT, None, "when a CRL is parsed"),
    Metric("x509_crl_stale", "gauge", "1 if the CRL is past its next update date, 0 otherwise", _CERT, "exposeExpired"),
    Metric("x509_crl_stale_in_seconds", "gauge", "Seconds until the CRL becomes stale", _CERT, "exposeRelative"),
    Metric("x509_crl_fresh_since_seconds", "gauge", "Seconds since the CRL was issued", _CERT, "exposeRelative"),
    Metric(
        "x509_source_up",
        "gauge",
        "1 if the source synced successfully, 0 after a fatal error",
        SOURCE_LABELS,
        None,
        "absent until the first sync; carries the config kind (file, kubeconfig, kubernetes, cabundle)",
    ),
    Metric(
        "x509_source_bundles",
        "gauge",
        "Number of bundles currently held by the source",
        SOURCE_LABELS,
        None,
        "from the first bundle on; stays at 0 after deletions",
    ),
    Metric(
        "x509_source_errors_total",
        "counter",
        "Errors met by the source, by reason",
        SOURCE_LABELS + ("reason",),
        None,
        "pre-created at 0 per static reason, or lazily: rules must work either way",
    ),
    Metric("x509_kube_watch_resyncs_total", "counter", "Kubernetes watch resyncs", ("source_name", "resource")),
    Metric(
        "x509_kube_transport_errors_total",
        "counter",
        "Kubernetes API transport errors",
        ("source_name", "resource", "reason"),
    ),
    Metric(
        "x509_pkcs12_passphrase_failures_total",
        "counter",
        "PKCS#12 passphrase failures",
        ("source_name",),
        None,
        "only when some source declares format pkcs12",
    ),
    Metric(
        "x509_jks_passphrase_failures_total",
        "counter",
        "JKS passphrase failures",
        ("source_name",),
        None,
        "only when some source declares format jks",
    ),
    Metric(
        "x509_cert_collision_total",
        "counter",
        "Scrapes that met two certificates with the same label set",
        ("source_kind",),
    ),
    Metric(
        "x509_cert_collision_dropped_total",
        "counter",
        "Certificates dropped because of a label collision",
        ("source_kind",),
        None,
        ">0 only with collisionDiscriminator: never",
    ),
    Metric("x509_scrape_duration_seconds", "histogram", "Time spent serving a /metrics request", ()),
    Metric(
        "x509_panic_total",
        "counter",
        "Recovered panics by component",
        ("component",),
        None,
        "lazily, after a first panic",
    ),
    Metric(
        "x509_exporter_build_info",
        "gauge",
        "Build information of the exporter",
        ("version", "built", "git_commit", "go_runtime", "go_os", "go_arch"),
    ),
    Metric(
        "x509_parse_duration_seconds",
        "histogram",
        "Time spent parsing a bundle, by format",
        ("format",),
        "exposeDiagnostics",
    ),
    Metric(
        "x509_kube_request_duration_seconds",
        "histogram",
        "Kubernetes API request latency",
        ("verb", "resource"),
        "exposeDiagnostics",
    ),
    Metric(
        "x509_kube_informer_scope",
        "gauge",
        "Scope of the Kubernetes source",
        ("source_name", "scope"),
        "exposeDiagnostics",
    ),
    Metric(
        "x509_informer_queue_depth",
        "gauge",
        "Event queue depth of the Kubernetes source",
        ("source_name", "resource"),
        "exposeDiagnostics",
    ),
)
BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}

SCRAPE_DURATION_BUCKETS: tuple[float, ...] = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30)
PARSE_DURATION_BUCKETS: tuple[float, ...] = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5)

# `source_kind` of x509_source_up (the config kind) differs from the one of bundles and
# errors (below): never join them on source_kind, join on source_name.
SOURCE_UP_KINDS: tuple[str, ...] = ("file", "kubeconfig", "kubernetes", "cabundle")
SOURCE_KINDS: tuple[str, ...] = ("file", "kubeconfig", "kube-secret", "kube-configmap", "kube-cabundle", "kubernetes")


class Reason(StrEnum):
    """The bundle reasons of `x509_source_errors_total` (pkg/cert/reason.go, `BundleReasons`), in upstream order."""

    BAD_PEM = "bad_pem"
    BAD_CRL = "bad_crl"
    BAD_DER = "bad_der"
    BAD_JKS = "bad_jks"
    BAD_PKCS12 = "bad_pkcs12"
    BAD_PASSPHRASE = "bad_passphrase"
    NO_CERTIFICATE_FOUND = "no_certificate_found"
    READ_FAILED = "read_failed"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    API_ERROR = "api_error"
    DECODE_FAILED = "decode_failed"
    BROKEN_SYMLINK = "broken_symlink"
    OUT_OF_SCOPE_SYMLINK = "out_of_scope_symlink"
    PARSE_TIMEOUT = "parse_timeout"
    WALK_ERROR = "walk_error"
    RATE_LIMITED = "rate_limited"


# Every one of them is pre-created at 0 per configured source (registry.PreInitBundleSource).
BUNDLE_REASONS: tuple[str, ...] = tuple(r.value for r in Reason)
# The reasons that say a bundle was read but could not be parsed (not a read or API failure).
PARSE_REASONS: tuple[str, ...] = tuple(
    r.value
    for r in (
        Reason.BAD_PEM,
        Reason.BAD_DER,
        Reason.BAD_CRL,
        Reason.BAD_PKCS12,
        Reason.BAD_JKS,
        Reason.BAD_PASSPHRASE,
        Reason.NO_CERTIFICATE_FOUND,
        Reason.DECODE_FAILED,
        Reason.PARSE_TIMEOUT,
    )
)
# Transport reasons (source_kind "kubernetes", source_name "kube-api"); http_5xx stands for the
# real code, e.g. http_503.
TRANSPORT_REASONS: tuple[str, ...] = ("rate_limited", "http_401", "http_403", "http_5xx")
KUBE_TRANSPORT_REASONS: tuple[str, ...] = (
    "list_failed",
    "watch_start_failed",
    "watch_error_event",
    "watch_flapped",
    "namespace_sync_failed",
)


def is_error_reason(value: str) -> bool:
    """A `reason` value of x509_source_errors_total or x509_kube_transport_errors_total (an
    HTTP status code stands for itself, e.g. http_503)."""
    return (
        value in BUNDLE_REASONS or value in KUBE_TRANSPORT_REASONS or re.fullmatch(r"http_[1-5]\d\d", value) is not None
    )


# v3 names that v4 removed, with the v4 replacement.
V3_REMOVED: dict[str, str] = {"x509_read_errors": "x509_source_errors_total"}

# The sources v4 makes of the deprecated v3 shortcut flags (ApplyCLI): their names are the
# `source_name` of every series they produce.
CLI_FILES_SOURCE = "cli-files"
CLI_KUBECONF_SOURCE = "cli-kubeconf"


def cli_dir_source(directory: str) -> str:
    """`cli-dir-<dir>` for `--watch-dir DIR`: non-alphanumerics become '-', trimmed, `anon` if empty."""
    name = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in directory).strip("-")
    return "cli-dir-" + (name or "anon")


def family(name: str) -> Metric | None:
    """The exporter metric a series name belongs to (a histogram's `_bucket`, `_sum` and
    `_count` series included), or None."""
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in BY_NAME:
            return BY_NAME[name[: -len(suffix)]]
    return BY_NAME.get(name)


def metric_enabled(name: str, gates: dict[str, bool]) -> bool:
    """Whether an exporter with these `metrics:` gates emits the metric (histogram suffixes allowed)."""
    metric = family(name)
    if metric is None:
        raise KeyError(name)
    return metric.gate is None or gates.get(metric.gate, GATE_DEFAULTS[metric.gate])
