"""A small PKI for the web config tests: a CA, server and client certificates, and TLS clients."""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = dt.datetime.now(dt.UTC)


@dataclass
class Pair:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        crt, key = directory / f"{stem}.crt", directory / f"{stem}.key"
        crt.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        key.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return crt, key

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


def issue(
    cn: str,
    issuer: Pair | None = None,
    sans: list[x509.GeneralName] = (),
    ca: bool = False,
    usage=ExtendedKeyUsageOID.CLIENT_AUTH,
    serial: int | None = None,
) -> Pair:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    if not ca:
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return Pair(b.sign(issuer.key if issuer else key, hashes.SHA256()), key)


def server_pair(ca: Pair, serial: int | None = None) -> Pair:
    return issue(
        "127.0.0.1",
        ca,
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        serial=serial,
    )


def client_context(ca_file: Path, client: tuple[Path, Path] | None = None, **opts) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(ca_file))
    if client:
        ctx.load_cert_chain(str(client[0]), str(client[1]))
    if "max_version" in opts:
        ctx.maximum_version = opts["max_version"]
    if "min_version" in opts:
        ctx.minimum_version = opts["min_version"]
    if "ciphers" in opts:
        ctx.set_ciphers(opts["ciphers"])
    if "curve" in opts:
        ctx.set_ecdh_curve(opts["curve"])
    return ctx


REFUSED = "refused"


def tls_get(port: int, ctx: ssl.SSLContext, path: str = "/metrics", headers=None) -> tuple[int | str, dict]:
    """(status, details) of one HTTPS request, or (REFUSED, {"error": ...}) when TLS or the server says no.

    With TLS 1.3 the server checks a client certificate after the client's handshake is done,
    so a refusal can surface on the first read rather than in the handshake.
    """
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        sock = conn.sock
        r = conn.getresponse()
        r.read()
        return r.status, {"cipher": sock.cipher()[0], "version": sock.version(), "peer": sock.getpeercert(True)}
    except (ssl.SSLError, ConnectionError, http.client.RemoteDisconnected) as e:
        return REFUSED, {"error": repr(e)}
    finally:
        conn.close()
