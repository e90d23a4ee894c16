"""Fixtures for the reference exporter's tests: a tiny PKI and an exporter on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import http.client
import time
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from prometheus_client.parser import text_string_to_metric_families

from x509_mixin.exporter.app import Exporter
from x509_mixin.exporter.config import parse_config

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
_KEY = ec.generate_private_key(ec.SECP256R1())  # one key for every test certificate: fast


def name(**attrs) -> x509.Name:
    oids = {
        "C": NameOID.COUNTRY_NAME,
        "ST": NameOID.STATE_OR_PROVINCE_NAME,
        "L": NameOID.LOCALITY_NAME,
        "O": NameOID.ORGANIZATION_NAME,
        "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "CN": NameOID.COMMON_NAME,
    }
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in attrs.items()])


@dataclass
class Cert:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def not_after(self) -> int:
        return int(self.cert.not_valid_after_utc.timestamp())

    @property
    def not_before(self) -> int:
        return int(self.cert.not_valid_before_utc.timestamp())


def make_cert(
    cn="leaf.example", issuer: Cert | None = None, serial=None, days=30, start_days=-1, ca=False, subject=None, **_
) -> Cert:
    subj = subject if subject is not None else name(CN=cn)
    b = (
        x509.CertificateBuilder()
        .subject_name(subj)
        .issuer_name(issuer.cert.subject if issuer else subj)
        .public_key(_KEY.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(NOW + dt.timedelta(days=start_days))
        .not_valid_after(NOW + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return Cert(b.sign(_KEY, hashes.SHA256()), _KEY)


def make_crl(issuer: Cert, number: int | None = 7, next_days=7, this_days=-1) -> x509.CertificateRevocationList:
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(NOW + dt.timedelta(days=this_days))
        .next_update(NOW + dt.timedelta(days=next_days))
    )
    if number is not None:
        b = b.add_extension(x509.CRLNumber(number), critical=False)
    return b.sign(_KEY, hashes.SHA256())


def make_p12(cert: Cert, extra: list[Cert] = (), passphrase: bytes | None = b"s3cret-Pass") -> bytes:
    enc = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    return pkcs12.serialize_key_and_certificates(b"test", cert.key, cert.cert, [c.cert for c in extra], enc)


@pytest.fixture(scope="session")
def ca() -> Cert:
    return make_cert("Test Root CA", ca=True, days=3650, serial=1000)


class Running:
    def __init__(self, exporter: Exporter, tls_ctx=None, auth=None):
        self.exp = exporter
        self.tls_ctx = tls_ctx
        self.auth = auth

    @property
    def port(self) -> int:
        return self.exp.port

    def request(self, path: str, headers=None) -> tuple[int, str, dict]:
        if self.tls_ctx is not None:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls_ctx, timeout=10)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = dict(headers or {})
        if self.auth and "Authorization" not in h:
            h["Authorization"] = self.auth
        conn.request("GET", path, headers=h)
        r = conn.getresponse()
        body = r.read().decode("utf-8")
        conn.close()
        return r.status, body, dict(r.getheaders())

    def metrics_text(self) -> str:
        status, body, _ = self.request("/metrics")
        assert status == 200
        return body

    def families(self) -> dict:
        # keyed by the exposed family name (the parser drops a counter's _total suffix)
        return {
            (f.name + "_total" if f.type == "counter" else f.name): f
            for f in text_string_to_metric_families(self.metrics_text())
        }

    def samples(self, name: str) -> list:
        text = self.metrics_text()
        return [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]

    def poll(self) -> None:
        """Run one poll of every source now (deterministic tests)."""
        for s in self.exp.sources:
            s.poll_once()

    def errors(self) -> dict[str, float]:
        return {s.labels["reason"]: s.value for s in self.samples("x509_source_errors_total")}


def wait_ready(exp: Exporter, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not exp.ready():
        if time.monotonic() > end:
            raise AssertionError("exporter not ready")
        time.sleep(0.01)


@pytest.fixture
def exporter():
    """exporter(config_dict) -> Running; an hour-long poll interval so tests poll explicitly."""
    started: list[Exporter] = []

    def start(data: dict, web=None, tls_ctx=None, auth=None, wait=True) -> Running:
        data = dict(data)
        data.setdefault("server", {}).setdefault("listen", "127.0.0.1:0")
        data.setdefault("cache", {}).setdefault("filePoll", {}).setdefault("interval", "1h")
        exp = Exporter(parse_config(data), web=web)
        started.append(exp)
        exp.start()
        if wait:
            wait_ready(exp)
        return Running(exp, tls_ctx, auth)

    yield start
    for e in started:
        e.stop()


def file_source(*paths, **extra) -> dict:
    d = {"kind": "file", "name": extra.pop("name", "files"), "paths": [str(p) for p in paths]}
    d.update(extra)
    return d


def series(samples, **labels) -> list:
    return [s for s in samples if all(s.labels.get(k) == v for k, v in labels.items())]
