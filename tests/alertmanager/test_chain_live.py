"""The whole chain, live: the bundled exporter (two replicas) over example certificates, Debian's
Prometheus with the generated rules, Debian's Alertmanager with the generated configuration,
and a webhook receiver in this test. What a person would be sent is asserted on what the
webhook receives.

One scenario runs once (a module fixture) and records what happened; each test asserts one
part of it. The `for` of every alert is shortened with the normal `alertFor` key and the group
timers with the `alertmanager` keys: the generated files are used as they are.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509

from x509_mixin.catalogue.metrics import CERT_LABELS
from x509_mixin.generator import demo_pki
from x509_mixin.generator.chain import Chain, Notification, http_get, serve_metrics, start_chain, wait_until
from x509_mixin.mixin.config import ALERT_NAMES, load

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("prometheus") and (shutil.which("alertmanager") or shutil.which("prometheus-alertmanager"))),
        reason="needs Debian's prometheus and prometheus-alertmanager (make tools)",
    ),
]

CONFIG = {
    "alertFor": dict.fromkeys(ALERT_NAMES, "2s"),
    "severities": {"CertificateNotYetValid": "info"},  # info: sent nowhere
    "exporter": {"exposeNotBefore": True, "exposePerCertError": True},
    "alertmanager": {
        "receivers": {"critical": "page", "warning": "ticket"},
        # Long enough for Prometheus to send a burst of 1500 alerts (in batches of 64) before the
        # first flush: an inhibiting alert must be in before the alert it holds is flushed.
        "groupWait": "5s",
        "groupInterval": "1s",
        "repeatInterval": "1h",  # no repeat during the test: every notification is news
    },
}
RENEWED = "expiring-3d.pem"
STORM_NAMESPACES, STORM_PER_NAMESPACE = 5, 100

# ---- a storm: 500 certificates in Secrets of 5 namespaces, all expiring in 2 days ---------


def _storm_text(now: float) -> bytes:
    lines = []
    for metric, value in (("x509_cert_not_after", now + 2 * 86400), ("x509_cert_not_before", now - 88 * 86400)):
        lines.append(f"# TYPE {metric} gauge")
        for n in range(STORM_NAMESPACES):
            for i in range(STORM_PER_NAMESPACE):
                labels = dict.fromkeys(CERT_LABELS, "")
                labels.update(
                    secret_namespace=f"team-{n}",
                    secret_name=f"svc-{i}-tls",
                    secret_key="tls.crt",
                    serial_number=str(1000 * n + i),
                    issuer_CN="Storm CA",
                    subject_CN=f"svc-{i}.team-{n}.svc",
                )
                text = ",".join(f'{k}="{v}"' for k, v in labels.items())
                lines.append(f"{metric}{{{text}}} {value:.0f}")
    return ("\n".join(lines) + "\n").encode()


def _serve_storm() -> ThreadingHTTPServer:
    body = _storm_text(time.time())
    return serve_metrics(lambda: body)


# ---- the scenario -------------------------------------------------------------------------


def what(labels: dict[str, str]) -> str:
    """What an alert is about, in a word: its Secret, its target, its certificate or its file."""
    if "secret_name" in labels:
        return f"{labels['secret_namespace']}/{labels['secret_name']}"
    return labels.get("instance") or labels.get("subject_CN") or labels["filename"]


def deliveries(notes: list[Notification], status: str = "firing") -> set[tuple[str, str, str]]:
    return {
        (n.receiver, a["labels"]["alertname"], what(a["labels"]))
        for n in notes
        for a in n.alerts
        if a["status"] == status
    }


@dataclass
class Observed:
    chain: Chain
    pki: Path
    started: float
    renewed_at: float = 0.0
    resolved_at: float = 0.0
    stopped_at: float = 0.0
    exporter_down_at: float = 0.0
    before_stop: list[Notification] = field(default_factory=list)
    after_stop: list[Notification] = field(default_factory=list)
    alertmanager_alerts: list[dict] = field(default_factory=list)
    prometheus_before: dict[tuple[str, str], str] = field(default_factory=dict)
    prometheus_after: dict[tuple[str, str], str] = field(default_factory=dict)
    exit_codes: list[int] = field(default_factory=list)
    serial: str = ""  # of the certificate renewed, as first written

    def since(self, t: float) -> list[Notification]:
        return [n for n in self.chain.webhook.received if n.received >= t]


EXPECTED_CERTIFICATES = {
    ("page", "X509CertificateExpiration", "expired.example"),
    ("page", "X509CertificateExpiration", "expiring-3d.example"),
    ("page", "X509CertificateExpiration", demo_pki.INTERMEDIATE_CN),
    ("page", "X509CRLStale", demo_pki.CRL_STALE_FILE),
    ("ticket", "X509CertificateRenewal", "renewal-20d.example"),
    ("ticket", "X509CertificateRenewalOverdue", "renewal-overdue.example"),
    ("ticket", "X509CRLNeedsRefresh", demo_pki.CRL_SOON_FILE),
    ("ticket", "X509CertificateError", demo_pki.BROKEN_BLOCK_FILE),
}
EXPECTED_STORM = {
    ("page", "X509CertificateExpiration", f"team-{n}/svc-{i}-tls")
    for n in range(STORM_NAMESPACES)
    for i in range(STORM_PER_NAMESPACE)
}


# What Alertmanager held while the 3-day certificate's critical alert fired, listed resolved at most.
HELD_RESOLUTIONS = {
    ("X509CertificateRenewal", "expiring-3d.example", "resolved"),
    ("X509CertificateRenewalOverdue", "expiring-3d.example", "resolved"),
}


def _keystore(o: Observed) -> set[tuple[str, str, str]]:
    return {("ticket", "X509KeystorePassphraseFailures", f"127.0.0.1:{s.port}") for s in o.chain.exporters}


def _prometheus_alerts(chain: Chain) -> dict[tuple[str, str], str]:
    """Firing certificate alerts in Prometheus: (alertname, what) -> activeAt."""
    status, body = http_get(chain.server("prometheus").url + "/api/v1/alerts")
    assert status == 200
    return {
        (a["labels"]["alertname"], what(a["labels"])): a["activeAt"]
        for a in json.loads(body)["data"]["alerts"]
        if a["state"] == "firing" and "instance" not in a["labels"]
    }


def _next_minute(t: float) -> float:
    return (int(t) // 60 + 1) * 60


def _run(o: Observed) -> None:
    chain = o.chain
    # 1. What fires is delivered: the certificates, the storm.
    wait_until(
        "the certificate notifications",
        lambda: EXPECTED_CERTIFICATES | EXPECTED_STORM <= deliveries(chain.webhook.received),
        90,
    )
    # 2. The 3-day certificate is renewed on disk, as certbot does: its resolution is delivered.
    o.renewed_at = time.time()
    demo_pki.renew(o.pki, RENEWED)
    resolved = ("page", "X509CertificateExpiration", "expiring-3d.example")
    wait_until("the renewal's resolution", lambda: resolved in deliveries(o.since(o.renewed_at), "resolved"), 60)
    o.resolved_at = next(n.received for n in o.since(o.renewed_at) if resolved in deliveries([n], "resolved"))
    # 3. The keystore's passphrase failures: counted from the rules' first one-minute step on.
    wait_until("the keystore notification", lambda: _keystore(o) <= deliveries(chain.webhook.received), 90)
    # The rules compare sample times at one-minute steps (docs/faults.md, Limits): once a step
    # has passed since the renewal, a failing exporter's last good scrape is the renewed one.
    wait_until("a minute step after the renewal", lambda: time.time() > _next_minute(o.resolved_at) + 3, 70)
    status, body = http_get(chain.server("alertmanager").url + "/api/v2/alerts")
    o.alertmanager_alerts = json.loads(body)
    o.before_stop = chain.webhook.received
    o.prometheus_before = _prometheus_alerts(chain)
    # 4. Both exporters stop (SIGTERM): ExporterDown is delivered, nothing else changes.
    o.stopped_at = time.time()
    for server in chain.exporters:
        server.request_stop(signal.SIGTERM)
    o.exit_codes = [s.stop() for s in chain.exporters]
    down = {("ticket", "X509ExporterDown", f"127.0.0.1:{s.port}") for s in chain.exporters}
    wait_until("the exporter-down notification", lambda: down <= deliveries(o.since(o.stopped_at)), 60)
    o.exporter_down_at = time.time()
    # Watch a while longer for a certificate alert resolving or firing again: several group
    # flushes and evaluations, a dozen missed scrapes since the stop.
    wait_until("the watch to end", lambda: time.time() > o.exporter_down_at + 6, 10)
    o.after_stop = o.since(o.stopped_at)
    o.prometheus_after = _prometheus_alerts(chain)


@pytest.fixture(scope="module")
def observed(tmp_path_factory, request):
    work = tmp_path_factory.mktemp("chain")
    pki = work / "pki"
    demo_pki.write_examples(pki)
    storm = _serve_storm()
    jobs = {"x509-certificate-exporter-storm": [f"127.0.0.1:{storm.server_address[1]}"]}
    failed = request.session.testsfailed
    try:
        chain = start_chain(load(CONFIG), work / "run", demo_pki.exporter_config(pki), replicas=2, other_jobs=jobs)
    except BaseException:
        storm.shutdown()
        raise
    serial = str(x509.load_pem_x509_certificate((pki / RENEWED).read_bytes()).serial_number)
    o = Observed(chain, pki, time.time(), serial=serial)
    broke = True
    try:
        _run(o)
        broke = False
        yield o
    finally:
        chain.stop()
        storm.shutdown()
        if broke or request.session.testsfailed > failed:
            print(chain.logs())
        print("notifications received (seconds after start, receiver, status, alerts):")
        for n in chain.webhook.received:
            alerts = sorted(f"{a['labels']['alertname']} {what(a['labels'])} {a['status']}" for a in n.alerts)
            shown = alerts if len(alerts) <= 4 else [*alerts[:2], f"... {len(alerts)} alerts"]
            print(f"  {n.received - o.started:5.1f}s {n.receiver:6} {n.status:8} {shown}")


# ---- what was delivered -------------------------------------------------------------------


def test_exactly_the_expected_alerts_are_delivered(observed):
    fired = deliveries(observed.before_stop)
    assert fired == EXPECTED_CERTIFICATES | EXPECTED_STORM | _keystore(observed)


def test_labels_and_annotations_as_delivered(observed):
    alerts = {
        (a["labels"]["alertname"], what(a["labels"])): a
        for n in observed.before_stop
        for a in n.alerts
        if a["status"] == "firing"
    }
    path = observed.pki / RENEWED
    expiring = alerts[("X509CertificateExpiration", "expiring-3d.example")]
    assert expiring["labels"] == {
        "alertname": "X509CertificateExpiration",
        "severity": "critical",
        "filename": RENEWED,
        "filepath": str(path),
        "serial_number": observed.serial,
        "issuer_CN": demo_pki.ROOT_CN,
        "subject_CN": "expiring-3d.example",
    }
    assert set(expiring["annotations"]) == {"summary", "description", "runbook_url"}
    assert expiring["annotations"]["summary"] == "A certificate is about to expire or has expired."
    assert re.fullmatch(
        rf"The certificate CN=expiring-3d\.example \(issuer CN=Example Root CA\) in file {re.escape(str(path))} "
        r"expires in 2d 23h \d+m \d+s\.",
        expiring["annotations"]["description"],
    ), expiring["annotations"]["description"]
    assert expiring["annotations"]["runbook_url"] == (
        "https://github.com/x509-mixin/x509-mixin/blob/main/docs/runbooks.md#certificateexpiration"
    )
    stale = alerts[("X509CRLStale", demo_pki.CRL_STALE_FILE)]
    assert stale["labels"] == {
        "alertname": "X509CRLStale",
        "severity": "critical",
        "filename": demo_pki.CRL_STALE_FILE,
        "filepath": str(observed.pki / demo_pki.CRL_STALE_FILE),
        "crl_number": "40",
        "issuer_CN": demo_pki.ROOT_CN,
    }
    assert re.fullmatch(
        rf"The CRL of issuer CN=Example Root CA in file {re.escape(str(observed.pki / demo_pki.CRL_STALE_FILE))} "
        r"is stale: its next update was due 1d 0h \d+m \d+s ago\.",
        stale["annotations"]["description"],
    ), stale["annotations"]["description"]
    storm = alerts[("X509CertificateExpiration", "team-3/svc-42-tls")]
    assert storm["labels"] == {
        "alertname": "X509CertificateExpiration",
        "severity": "critical",
        "secret_namespace": "team-3",
        "secret_name": "svc-42-tls",
        "secret_key": "tls.crt",
        "serial_number": "3042",
        "issuer_CN": "Storm CA",
        "subject_CN": "svc-42.team-3.svc",
    }
    assert storm["annotations"]["description"].startswith(
        "The certificate CN=svc-42.team-3.svc (issuer CN=Storm CA) in Secret team-3/svc-42-tls key tls.crt expires in "
    )
    exporter = observed.chain.exporters[0]
    keystore = alerts[("X509KeystorePassphraseFailures", f"127.0.0.1:{exporter.port}")]
    assert keystore["labels"] == {
        "alertname": "X509KeystorePassphraseFailures",
        "severity": "warning",
        "instance": f"127.0.0.1:{exporter.port}",
        "job": "x509-certificate-exporter",
        "source_name": "keystores",
    }
    assert keystore["annotations"]["description"] == (
        f"Source keystores on 127.0.0.1:{exporter.port} met 1 passphrase failures opening PKCS#12 or JKS "
        "keystores in the last hour."
    )


def test_inhibited_and_info_alerts_are_never_delivered_firing(observed):
    """Alertmanager holds them (suppressed by the alert that says more, or routed to the receiver
    without integration) and no notification ever lists them firing. (When the certificate is
    renewed, both resolve together, and Alertmanager may list the held one's resolution in an
    update of its group: its known behaviour, docs/alertmanager.md.)"""
    held = {
        (a["labels"]["alertname"], what(a["labels"])): (a["status"]["state"], [r["name"] for r in a["receivers"]])
        for a in observed.alertmanager_alerts
    }
    inhibited = {
        ("X509CertificateRenewal", "renewal-overdue.example"),
        ("X509CertificateRenewal", demo_pki.INTERMEDIATE_CN),
        ("X509CRLNeedsRefresh", demo_pki.CRL_STALE_FILE),
    }
    inhibited |= {("X509CertificateRenewal", w) for _, _, w in EXPECTED_STORM}
    inhibited |= {("X509CertificateRenewalOverdue", w) for _, _, w in EXPECTED_STORM}
    for key in inhibited:
        assert held[key] == ("suppressed", ["ticket"]), key
    assert held[("X509CertificateNotYetValid", "not-yet-valid.example")] == ("active", ["x509-null"])
    fired = {(name, w) for _, name, w in deliveries(observed.before_stop)}
    never = inhibited | {
        ("X509CertificateRenewal", "expiring-3d.example"),
        ("X509CertificateRenewalOverdue", "expiring-3d.example"),
        ("X509CertificateNotYetValid", "not-yet-valid.example"),
    }
    assert fired & never == set()
    # Before the renewal, not even a resolution of them.
    early = [n for n in observed.before_stop if n.received < observed.renewed_at]
    listed = {(a["labels"]["alertname"], what(a["labels"])) for n in early for a in n.alerts}
    assert listed & never == set()
    assert {n.receiver for n in observed.chain.webhook.received} == {"page", "ticket"}


def test_two_replicas_and_a_storm_give_one_alert_per_certificate_and_a_handful_of_notifications(observed):
    early = [n for n in observed.before_stop if n.received < observed.renewed_at]
    per_certificate: dict[tuple[str, str, str], int] = {}
    for n in early:
        for key in deliveries([n]):
            per_certificate[key] = per_certificate.get(key, 0) + 1
    assert set(per_certificate) == EXPECTED_CERTIFICATES | EXPECTED_STORM
    assert set(per_certificate.values()) == {1}  # each certificate in one notification, once
    for n in early:  # deduplicated: the two replicas are not named
        assert all("instance" not in a["labels"] and "job" not in a["labels"] for a in n.alerts)
    # The 500 storm certificates: one notification per namespace, listing its 100 certificates.
    storm = [n for n in early if n.group_labels.get("secret_namespace")]
    assert sorted((n.group_labels["secret_namespace"], len(n.alerts)) for n in storm) == [
        (f"team-{i}", STORM_PER_NAMESPACE) for i in range(STORM_NAMESPACES)
    ]
    assert {n.receiver for n in storm} == {"page"}
    # Everything else: one notification per alert name (the files share no namespace).
    others = sorted((n.receiver, n.group_labels["alertname"], len(n.alerts)) for n in early if n not in storm)
    assert others == [
        ("page", "X509CRLStale", 1),
        ("page", "X509CertificateExpiration", 3),
        ("ticket", "X509CRLNeedsRefresh", 1),
        ("ticket", "X509CertificateError", 1),
        ("ticket", "X509CertificateRenewal", 1),
        ("ticket", "X509CertificateRenewalOverdue", 1),
    ]


def test_a_renewed_certificate_resolves_within_a_bounded_time(observed):
    latency = observed.resolved_at - observed.renewed_at
    print(f"renewal on disk -> resolution delivered: {latency:.1f}s")
    # Exporter poll (1s) + scrape (1s) + evaluation (1s) + group interval (1s), with slack.
    assert latency < 20
    resolved = {
        (a["labels"]["alertname"], what(a["labels"]), a["status"])
        for n in observed.since(observed.renewed_at)
        for a in n.alerts
        if a["status"] == "resolved"
    }
    # Only the renewed certificate's alerts resolve. Those Alertmanager held may be listed
    # resolved in an update of their group (Alertmanager's behaviour, docs/alertmanager.md).
    assert ("X509CertificateExpiration", "expiring-3d.example", "resolved") in resolved
    assert resolved <= HELD_RESOLUTIONS | {("X509CertificateExpiration", "expiring-3d.example", "resolved")}
    assert ("X509CertificateExpiration", "expiring-3d.example") not in observed.prometheus_before


def test_stopping_the_exporters_delivers_exporter_down_and_certificate_alerts_stay(observed):
    assert observed.exit_codes == [0, 0]
    down = {("ticket", "X509ExporterDown", f"127.0.0.1:{s.port}") for s in observed.chain.exporters}
    # Both targets down, in one group: one notification, or two when Prometheus saw the second
    # target fail an evaluation after the group's first flush. No certificate alert resolves or
    # fires again. (Prometheus re-sends resolved alerts a minute later: the renewed certificate's
    # held alerts may show up resolved, as in test_a_renewed_certificate_resolves_within_a_bounded_time.)
    notes = [n for n in observed.after_stop if n.group_labels.get("alertname") == "X509ExporterDown"]
    assert 1 <= len(notes) <= 2 and deliveries(notes[-1:]) == down
    assert all(n.receiver == "ticket" and n.status == "firing" and deliveries([n]) <= down for n in notes)
    others = {
        (a["labels"]["alertname"], what(a["labels"]), a["status"])
        for n in observed.after_stop
        if n not in notes
        for a in n.alerts
        if a["status"] == "resolved"
    }
    assert others <= HELD_RESOLUTIONS
    assert deliveries([n for n in observed.after_stop if n not in notes]) <= deliveries(observed.before_stop)
    note = notes[-1]
    port = observed.chain.exporters[0].port
    alert = next(a for a in note.alerts if a["labels"]["instance"] == f"127.0.0.1:{port}")
    assert alert["labels"] == {
        "alertname": "X509ExporterDown",
        "severity": "warning",
        "instance": f"127.0.0.1:{port}",
        "job": "x509-certificate-exporter",
    }
    assert alert["annotations"]["description"] == (
        f"The target 127.0.0.1:{port} of job x509-certificate-exporter cannot be scraped; the certificates it "
        "watches are not monitored."
    )
    # The certificate alerts did not flap: still firing in Prometheus since the same moment.
    before, after = observed.prometheus_before, observed.prometheus_after
    files = {key for key in before if "/" not in key[1]}
    assert files == {
        ("X509CertificateExpiration", "expired.example"),
        ("X509CertificateExpiration", demo_pki.INTERMEDIATE_CN),
        ("X509CertificateRenewal", "renewal-20d.example"),
        ("X509CertificateRenewal", "renewal-overdue.example"),
        ("X509CertificateRenewal", demo_pki.INTERMEDIATE_CN),
        ("X509CertificateRenewalOverdue", "renewal-overdue.example"),
        ("X509CRLStale", demo_pki.CRL_STALE_FILE),
        ("X509CRLNeedsRefresh", demo_pki.CRL_SOON_FILE),
        ("X509CRLNeedsRefresh", demo_pki.CRL_STALE_FILE),
        ("X509CertificateError", demo_pki.BROKEN_BLOCK_FILE),
        ("X509CertificateNotYetValid", "not-yet-valid.example"),
    }
    assert len(before) - len(files) == 3 * len(EXPECTED_STORM)  # expiration, renewal, overdue
    assert after == before
