"""What the benchmarks share: certificates, a tree of files, HTTP to a local process."""

from __future__ import annotations

import datetime as dt
import http.client
import os
import socket

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_pems(n: int = 500) -> list[bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    ca = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bench Org"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Bench CA"),
        ]
    )
    out = []
    for i in range(n):
        subj = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bench Org"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"host-{i}.bench.example"),
            ]
        )
        c = (
            x509.CertificateBuilder()
            .subject_name(subj)
            .issuer_name(ca)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=10 + i))
            .sign(key, hashes.SHA256())
        )
        out.append(c.public_bytes(serialization.Encoding.PEM))
    return out


def write_tree(root: str, n: int, pems: list[bytes]) -> None:
    per_dir = 1000
    for d in range((n + per_dir - 1) // per_dir):
        os.makedirs(os.path.join(root, f"d{d:03d}"), exist_ok=True)
    for i in range(n):
        with open(os.path.join(root, f"d{i // per_dir:03d}", f"cert-{i:06d}.pem"), "wb") as fh:
            fh.write(pems[i % len(pems)])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body
