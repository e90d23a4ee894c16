"""A stand-in for x509-certificate-exporter targets: the v4 metric surface as exposition text,
with counters and histograms that grow at every scrape (so rates are not all zero).

Certificates are spread over files, kubeconfigs, Secrets (two-certificate chains), ConfigMaps
and caBundles, in every expiry state. Cluster `east` has two replicas reporting the same
certificates; cluster `west` has one target with other certificates.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import ThreadingHTTPServer

from x509_mixin.catalogue.metrics import CERT_LABELS, SCRAPE_DURATION_BUCKETS
from x509_mixin.generator.chain import serve_metrics

STATE_DAYS = {"expired": -3, "critical": 5, "warning": 20, "fine": 90}
# One-year certificates: with the lifetime known the day thresholds decide, as without it
# (a shorter lifetime caps them, mixin.policies).
LIFETIME_DAYS = 365
STATES = tuple(STATE_DAYS)


@dataclass(frozen=True)
class Cert:
    labels: dict[str, str]
    days_left: float
    state: str


def _cert(place: dict[str, str], subject: str, issuer: str, serial: int, state: str, offset: int) -> Cert:
    labels = {name: "" for name in CERT_LABELS}
    labels.update(place)
    labels.update({"subject_CN": subject, "issuer_CN": issuer, "serial_number": str(serial), "subject_O": "Example"})
    return Cert(labels, STATE_DAYS[state] + offset * 0.5, state)


def certificates(cluster: str) -> list[Cert]:
    """A cluster's certificates; the i-th certificate of each kind cycles through the states."""
    certs: list[Cert] = []
    serial = 1000 if cluster == "east" else 5000
    for i in range(8):
        state = STATES[i % 4]
        serial += 1
        certs.append(
            _cert(
                {"filename": f"svc{i}.pem", "filepath": f"/etc/ssl/{cluster}/svc{i}.pem"},
                f"svc{i}.{cluster}.example.org",
                "Example File CA",
                serial,
                state,
                i,
            )
        )
    for i in range(6):  # each Secret holds a chain: the leaf and its intermediate
        state = STATES[i % 4]
        place = {"secret_namespace": f"team-{i % 3}", "secret_name": f"web{i}-tls", "secret_key": "tls.crt"}
        serial += 2
        certs.append(_cert(place, f"web{i}.{cluster}.example.org", "Example Intermediate CA", serial, state, i))
        certs.append(_cert(place, "Example Intermediate CA", "Example Root CA", serial + 1, "fine", 100))
    for i in range(4):
        serial += 1
        certs.append(
            _cert(
                {"configmap_namespace": "kube-system", "configmap_name": f"trust{i}", "configmap_key": "ca.crt"},
                f"Trust {i}",
                "Example Root CA",
                serial,
                STATES[i % 4],
                i,
            )
        )
    for i, kind in enumerate(("user", "cluster")):
        serial += 1
        certs.append(
            _cert(
                {
                    "filename": "config",
                    "filepath": f"/home/ops/.kube/{cluster}",
                    "embedded_kind": kind,
                    "embedded_key": f"{kind}-certificate-data",
                },
                f"kube-{kind}",
                "kubernetes",
                serial,
                STATES[(i + 1) % 4],
                i,
            )
        )
    for i in range(2):
        serial += 1
        certs.append(
            _cert(
                {
                    "cabundle_resource_kind": "ValidatingWebhookConfiguration",
                    "cabundle_resource_name": f"hook{i}",
                    "cabundle_entry": "0",
                },
                f"hook{i}-ca",
                "Example Webhook CA",
                serial,
                STATES[(i + 2) % 4],
                i,
            )
        )
    return certs


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


class Target:
    """One exporter target: renders its exposition text, counting its scrapes."""

    def __init__(self, cluster: str, now: float, healthy_source: bool = True):
        self.cluster = cluster
        self.now = now
        self.healthy_source = healthy_source
        self.scrapes = 0
        self.lock = threading.Lock()

    def render(self) -> str:
        with self.lock:
            self.scrapes += 1
            n = self.scrapes
        lines: list[str] = []
        add = lines.append
        certs = certificates(self.cluster)
        for metric, value in (
            ("x509_cert_not_after", lambda c: self.now + c.days_left * 86400),
            ("x509_cert_not_before", lambda c: self.now + (c.days_left - LIFETIME_DAYS) * 86400),
            ("x509_cert_expired", lambda c: 1 if c.days_left < 0 else 0),
            ("x509_cert_expires_in_seconds", lambda c: c.days_left * 86400),
            ("x509_cert_valid_since_seconds", lambda c: (LIFETIME_DAYS - c.days_left) * 86400),
        ):
            add(f"# TYPE {metric} gauge")
            for c in certs:
                add(f"{metric}{_labels(c.labels)} {value(c):.0f}")
        add("# TYPE x509_cert_error gauge")
        broken = {name: "" for name in CERT_LABELS} | {
            "filename": "broken.pem",
            "filepath": f"/etc/ssl/{self.cluster}/broken.pem",
        }
        add(f"x509_cert_error{_labels(broken)} 1")
        crl = {name: "" for name in CERT_LABELS} | {
            "filepath": "/etc/ssl/crl.pem",
            "crl_number": "7",
            "issuer_CN": "Example Root CA",
        }
        for metric, value in (
            ("x509_crl_next_update", self.now + 5 * 86400),
            ("x509_crl_this_update", self.now - 86400),
            ("x509_crl_number", 7),
            ("x509_crl_stale", 0),
        ):
            add(f"# TYPE {metric} gauge\n{metric}{_labels(crl)} {value:.0f}")
        add("# TYPE x509_source_up gauge")
        add('x509_source_up{source_kind="file",source_name="files"} 1')
        add(f'x509_source_up{{source_kind="kubernetes",source_name="kube"}} {1 if self.healthy_source else 0}')
        add("# TYPE x509_source_bundles gauge")
        add('x509_source_bundles{source_kind="file",source_name="files"} 10')
        add('x509_source_bundles{source_kind="kube-secret",source_name="kube"} 6')
        add('x509_source_bundles{source_kind="kube-configmap",source_name="kube"} 4')
        add("# TYPE x509_source_errors_total counter")
        add(f'x509_source_errors_total{{source_kind="file",source_name="files",reason="bad_pem"}} {n}')
        add(f'x509_source_errors_total{{source_kind="kube-secret",source_name="kube",reason="api_error"}} {2 * n}')
        add('x509_source_errors_total{source_kind="file",source_name="files",reason="not_found"} 0')
        for metric, labels in (
            ("x509_kube_watch_resyncs_total", 'source_name="kubernetes",resource="secrets"'),
            (
                "x509_kube_transport_errors_total",
                'source_name="kubernetes",resource="secrets",reason="watch_error_event"',
            ),
            ("x509_pkcs12_passphrase_failures_total", 'source_name="files"'),
            ("x509_jks_passphrase_failures_total", 'source_name="files"'),
            ("x509_cert_collision_total", 'source_kind="file"'),
            ("x509_cert_collision_dropped_total", 'source_kind="file"'),
            ("x509_panic_total", 'component="source/files"'),
        ):
            add(f"# TYPE {metric} counter\n{metric}{{{labels}}} {n}")
        add("# TYPE x509_exporter_build_info gauge")
        add(
            'x509_exporter_build_info{version="4.2.0",built="2026-08-01",git_commit="abc1234",go_runtime="go1.24",'
            'go_os="linux",go_arch="amd64"} 1'
        )
        self._histogram(add, "x509_scrape_duration_seconds", "", SCRAPE_DURATION_BUCKETS, n, 0.04)
        for fmt in ("pem", "pkcs12"):
            self._histogram(
                add,
                "x509_parse_duration_seconds",
                f'format="{fmt}"',
                (0.001, 0.01, 0.1, 1),
                n,
                0.005,
                header=fmt == "pem",
            )
        self._histogram(
            add, "x509_kube_request_duration_seconds", 'verb="GET",resource="secrets"', (0.01, 0.1, 1), n, 0.05
        )
        add('# TYPE x509_kube_informer_scope gauge\nx509_kube_informer_scope{source_name="kube",scope="cluster"} 1')
        add(
            '# TYPE x509_informer_queue_depth gauge\nx509_informer_queue_depth{source_name="kube",resource="secrets"} 3'
        )
        return "\n".join(lines) + "\n"

    @staticmethod
    def _histogram(add, name: str, labels: str, buckets, n: int, typical: float, header: bool = True) -> None:
        # Every observation at `typical` seconds, ten per scrape.
        sep = "," if labels else ""
        if header:
            add(f"# TYPE {name} histogram")
        for le in buckets:
            add(f'{name}_bucket{{{labels}{sep}le="{le}"}} {10 * n if le >= typical else 0}')
        add(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {10 * n}')
        braces = f"{{{labels}}}" if labels else ""
        add(f"{name}_sum{braces} {10 * n * typical}")
        add(f"{name}_count{braces} {10 * n}")


def serve(target: Target) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1 (free port) serving the target at /metrics."""
    return serve_metrics(lambda: target.render().encode())
