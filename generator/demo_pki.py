"""Example certificates on disk, in every state the alerts tell apart: for `make demo` and the
end-to-end test of the whole chain. Dates are relative to the moment they are written."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

ROOT_CN = "Example Root CA"
INTERMEDIATE_CN = "Example Intermediate CA"
# The keystore is sealed with one passphrase and the exporter is given another.
KEYSTORE_PASSPHRASE = b"example-keystore-passphrase"
WRONG_PASSPHRASE = "not-the-keystore-passphrase"


@dataclass(frozen=True)
class Leaf:
    file: str
    cn: str
    start_days: float  # relative to now: negative in the past
    end_days: float
    what: str


# One certificate per file, issued by the root CA.
LEAVES = (
    Leaf("expired.pem", "expired.example", -30, -1, "expired a day ago"),
    Leaf("expiring-3d.pem", "expiring-3d.example", -87, 3, "a 90-day certificate expiring in 3 days"),
    Leaf("renewal-20d.pem", "renewal-20d.example", -345, 20, "a one-year certificate expiring in 20 days"),
    Leaf("renewal-overdue.pem", "renewal-overdue.example", -73, 17, "a 90-day certificate past 80% of its life"),
    Leaf("valid-1y.pem", "valid-1y.example", -1, 365, "valid for a year"),
    Leaf("not-yet-valid.pem", "not-yet-valid.example", 2, 400, "valid from the day after tomorrow"),
)
CHAIN_FILE = "chain.pem"  # a leaf valid for 11 months, then an intermediate expiring in 10 days
CHAIN_LEAF_CN = "chain-leaf.example"
CRL_SOON_FILE = "crl-soon.pem"  # next update in 2 days
CRL_STALE_FILE = "crl-stale.pem"  # next update a day ago
BROKEN_BLOCK_FILE = "broken-block.pem"  # a good certificate, then a CERTIFICATE block that is not one
BAD_FILE = "bad.pem"  # no certificate at all
KEYSTORE_FILE = "keystore.p12"  # PKCS#12 sealed with another passphrase than the exporter's


class _Pki:
    def __init__(self, now: dt.datetime):
        self.now = now
        # One key for every certificate: fast, and irrelevant to expiry.
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.root = self.cert(ROOT_CN, -400, 3650, issuer=None, ca=True)
        self.intermediate = self.cert(INTERMEDIATE_CN, -355, 10, issuer=self.root, ca=True)

    def at(self, days: float) -> dt.datetime:
        return self.now + dt.timedelta(days=days)

    def cert(
        self, cn: str, start: float, end: float, issuer: x509.Certificate | None, ca: bool = False
    ) -> x509.Certificate:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.subject if issuer else subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.at(start))
            .not_valid_after(self.at(end))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        return builder.sign(self.key, hashes.SHA256())

    def crl(self, next_days: float, number: int) -> x509.CertificateRevocationList:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.root.subject)
            .last_update(self.at(-5))
            .next_update(self.at(next_days))
            .add_extension(x509.CRLNumber(number), critical=False)
        )
        return builder.sign(self.key, hashes.SHA256())


def _pem(*items: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return b"".join(item.public_bytes(serialization.Encoding.PEM) for item in items)


def write_atomic(path: Path, data: bytes) -> None:
    """As certbot and Kubernetes volumes do: written elsewhere on the same filesystem, then
    renamed into place, so that a reader never sees half a file (nor the temporary one)."""
    staging = path.parent.parent / f".{path.parent.name}-staging"
    staging.mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=staging)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def write_examples(directory: Path, now: dt.datetime | None = None) -> None:
    """Every example file in `directory` (created when missing)."""
    pki = _Pki(now or dt.datetime.now(dt.UTC).replace(microsecond=0))
    directory.mkdir(parents=True, exist_ok=True)
    files = {leaf.file: _pem(pki.cert(leaf.cn, leaf.start_days, leaf.end_days, pki.root)) for leaf in LEAVES}
    files[CHAIN_FILE] = _pem(pki.cert(CHAIN_LEAF_CN, -30, 335, pki.intermediate), pki.intermediate)
    files[CRL_SOON_FILE] = _pem(pki.crl(2, 41))
    files[CRL_STALE_FILE] = _pem(pki.crl(-1, 40))
    broken = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    files[BROKEN_BLOCK_FILE] = _pem(pki.cert("broken-block.example", -1, 365, pki.root)) + broken
    files[BAD_FILE] = b"this file holds no certificate\n"
    files[KEYSTORE_FILE] = pkcs12.serialize_key_and_certificates(
        b"keystore",
        pki.key,
        pki.cert("keystore.example", -1, 365, pki.root),
        None,
        serialization.BestAvailableEncryption(KEYSTORE_PASSPHRASE),
    )
    for name, data in files.items():
        write_atomic(directory / name, data)


def renew(directory: Path, leaf_file: str, days: float = 365) -> str:
    """Replace one example certificate with a fresh one (same CN, new serial), atomically.
    Returns the new serial number in decimal, as the exporter labels it."""
    leaf = next(leaf for leaf in LEAVES if leaf.file == leaf_file)
    pki = _Pki(dt.datetime.now(dt.UTC).replace(microsecond=0))
    cert = pki.cert(leaf.cn, -1 / 24, days, pki.root)
    write_atomic(directory / leaf_file, _pem(cert))
    return str(cert.serial_number)


def exporter_config(directory: Path, interval: str = "1s") -> dict:
    """The bundled exporter's configuration for the examples: every gate the alerts use."""
    return {
        "server": {"listen": "127.0.0.1:0"},
        "cache": {"filePoll": {"interval": interval}},
        "metrics": {"exposeNotBefore": True, "exposePerCertError": True},
        "sources": [
            {"kind": "file", "name": "pki", "paths": [f"{directory}/*.pem"]},
            {
                "kind": "file",
                "name": "keystores",
                "paths": [f"{directory}/*.p12"],
                "formats": ["pkcs12"],
                "pkcs12": {"passphrase": WRONG_PASSPHRASE},
            },
        ],
    }
