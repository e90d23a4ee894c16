"""`tls_server_config` of the web config, with exporter-toolkit's meaning (Go's crypto/tls).

`parse_tls` validates the mapping; `build_context` loads the files into a pyOpenSSL context.
pyOpenSSL rather than the standard `ssl` module because Go's `RequestClientCert` and
`RequireAnyClientCert` ask for a certificate without verifying it, which needs a verify
callback that `ssl` does not offer. Where OpenSSL cannot do what Go does, the difference is
listed in docs/exporter.md ("Differences from x509-certificate-exporter").
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from OpenSSL import SSL, crypto

# Go's crypto/tls CipherSuites() (the only names exporter-toolkit accepts) -> OpenSSL's names.
# Listed in Go's preference order, which is also our default when cipher_suites is not set.
CIPHERS_TLS12 = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
}
# Go accepts these names but never applies them: TLS 1.3 suites are not configurable in Go.
CIPHERS_TLS13 = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
CURVES = {"CurveP256": "P-256", "CurveP384": "P-384", "CurveP521": "P-521", "X25519": "X25519"}
VERSIONS = {
    "TLS10": SSL.TLS1_VERSION,
    "TLS11": SSL.TLS1_1_VERSION,
    "TLS12": SSL.TLS1_2_VERSION,
    "TLS13": SSL.TLS1_3_VERSION,
}
# name -> (ask for a certificate, require one, verify its chain)
CLIENT_AUTH = {
    "NoClientCert": (False, False, False),
    "RequestClientCert": (True, False, False),
    "RequireAnyClientCert": (True, True, False),
    "VerifyClientCertIfGiven": (True, False, True),
    "RequireAndVerifyClientCert": (True, True, True),
}
CLIENT_AUTH_ALIASES = {"RequireClientCert": "RequireAnyClientCert"}  # kept by exporter-toolkit for old configs
TLS_KEYS = (
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "client_allowed_sans",
    "cipher_suites",
    "curve_preferences",
    "min_version",
    "max_version",
    "prefer_server_cipher_suites",
)


@dataclass(frozen=True)
class TLSSettings:
    cert_file: str
    key_file: str
    client_auth: str = "NoClientCert"
    client_ca_file: str | None = None
    allowed_sans: tuple[str, ...] | None = None
    ciphers: tuple[str, ...] = tuple(CIPHERS_TLS12.values())  # OpenSSL names, TLS 1.2 and below
    curves: tuple[str, ...] = ()  # OpenSSL group names
    min_version: int = SSL.TLS1_2_VERSION
    max_version: int = SSL.TLS1_3_VERSION
    prefer_server_ciphers: bool = True


def _strings(tls: dict, key: str, problems: list[str]) -> list[str] | None:
    v = tls.get(key)
    if v is None:
        return None
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        problems.append(f"web config: tls_server_config.{key}: expected a list of strings")
        return None
    return v


def _version(tls: dict, key: str, default: str, problems: list[str]) -> int:
    name = tls.get(key, default)
    if name not in VERSIONS:
        problems.append(
            f"web config: tls_server_config.{key}: invalid value {name!r}; use one of {', '.join(VERSIONS)}"
        )
        return VERSIONS[default]
    return VERSIONS[name]


def parse_tls(tls: Any, rel: Callable[[str], str], problems: list[str]) -> TLSSettings | None:
    """The validated settings, or None with the problems appended (one line each)."""
    if not isinstance(tls, dict):
        problems.append("web config: tls_server_config: expected a mapping")
        return None
    start = len(problems)
    for k in tls:
        if k not in TLS_KEYS:
            problems.append(
                f"web config: tls_server_config.{k}: unknown key; remove it (known keys: {', '.join(TLS_KEYS)})"
            )
    files = {}
    for k in ("cert_file", "key_file", "client_ca_file"):
        v = tls.get(k)
        if v is not None and (not isinstance(v, str) or not v):
            problems.append(f"web config: tls_server_config.{k}: expected a file name")
        elif v:
            files[k] = rel(v)
    for k in ("cert_file", "key_file"):
        if k not in tls:
            problems.append(f"web config: tls_server_config.{k}: required for TLS; name a PEM file")

    auth = tls.get("client_auth_type", "NoClientCert") or "NoClientCert"
    auth = CLIENT_AUTH_ALIASES.get(auth, auth) if isinstance(auth, str) else auth
    if auth not in CLIENT_AUTH:
        problems.append(
            f"web config: tls_server_config.client_auth_type: invalid value {auth!r}; "
            f"use one of {', '.join(CLIENT_AUTH)}"
        )
        auth = "NoClientCert"
    asks, _, verifies = CLIENT_AUTH[auth]
    if "client_ca_file" in files and not asks:
        # exporter-toolkit: "client CA's have been configured without a Client Auth Policy"
        problems.append(
            "web config: tls_server_config.client_ca_file: set but client_auth_type is NoClientCert; "
            "set client_auth_type: RequireAndVerifyClientCert or remove client_ca_file"
        )
    if verifies and "client_ca_file" not in files:
        problems.append(
            f"web config: tls_server_config.client_ca_file: required with client_auth_type {auth}; "
            f"name the PEM file of the CAs that sign client certificates"
        )
    sans = _strings(tls, "client_allowed_sans", problems)
    if sans is not None and not asks:
        problems.append(
            "web config: tls_server_config.client_allowed_sans: has no effect with client_auth_type "
            "NoClientCert (no certificate is asked for); use RequireAndVerifyClientCert"
        )

    ciphers: tuple[str, ...] = tuple(CIPHERS_TLS12.values())
    names = _strings(tls, "cipher_suites", problems)
    if names:
        unknown = [n for n in names if n not in CIPHERS_TLS12 and n not in CIPHERS_TLS13]
        if unknown:
            problems.append(
                f"web config: tls_server_config.cipher_suites: unknown cipher suite {unknown[0]!r}; use Go's names: "
                f"{', '.join([*CIPHERS_TLS12, *CIPHERS_TLS13])}"
            )
        ciphers = tuple(dict.fromkeys(CIPHERS_TLS12[n] for n in names if n in CIPHERS_TLS12))
    curves: tuple[str, ...] = ()
    cnames = _strings(tls, "curve_preferences", problems)
    if cnames:
        bad = [n for n in cnames if n not in CURVES]
        if bad:
            problems.append(
                f"web config: tls_server_config.curve_preferences: unknown curve {bad[0]!r}; use {', '.join(CURVES)}"
            )
        curves = tuple(dict.fromkeys(CURVES[n] for n in cnames if n in CURVES))

    lo = _version(tls, "min_version", "TLS12", problems)
    hi = _version(tls, "max_version", "TLS13", problems)
    if lo > hi:
        problems.append(
            f"web config: tls_server_config.min_version: {tls.get('min_version', 'TLS12')} is above max_version "
            f"{tls.get('max_version', 'TLS13')}, so no connection could succeed; lower min_version or raise max_version"
        )
    if names and not ciphers:
        # Go: only TLS 1.3 suites listed, so TLS 1.2 and below have no suite left.
        if hi < SSL.TLS1_3_VERSION:
            problems.append(
                "web config: tls_server_config.cipher_suites: lists only TLS 1.3 suites, which apply to no TLS "
                "version up to max_version; list TLS 1.2 suites too or raise max_version to TLS13"
            )
        lo = SSL.TLS1_3_VERSION
    prefer = tls.get("prefer_server_cipher_suites", True)
    if not isinstance(prefer, bool):
        problems.append("web config: tls_server_config.prefer_server_cipher_suites: expected true or false")
        prefer = True
    if len(problems) > start:
        return None
    return TLSSettings(
        cert_file=files["cert_file"],
        key_file=files["key_file"],
        client_auth=auth,
        client_ca_file=files.get("client_ca_file"),
        allowed_sans=tuple(sans) if sans is not None else None,
        ciphers=ciphers,
        curves=curves,
        min_version=lo,
        max_version=hi,
        prefer_server_ciphers=prefer,
    )


def _read(path: str, key: str, problems: list[str]) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as e:
        problems.append(f"web config: tls_server_config.{key}: cannot read {path} ({e.strerror}); check the path")
        return None


def build_context(s: TLSSettings, problems: list[str]) -> SSL.Context | None:
    """A server context for these settings, or None with the problems appended (never a key's bytes)."""
    cert_pem = _read(s.cert_file, "cert_file", problems)
    key_pem = _read(s.key_file, "key_file", problems)
    ca_pem = _read(s.client_ca_file, "client_ca_file", problems) if s.client_ca_file else None
    if cert_pem is None or key_pem is None or (s.client_ca_file and ca_pem is None):
        return None
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        problems.append(f"web config: tls_server_config.cert_file: {s.cert_file} holds no PEM certificate")
        return None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        problems.append(
            f"web config: tls_server_config.key_file: {s.key_file} is encrypted; give the key without a passphrase"
        )
        return None
    except (ValueError, UnsupportedAlgorithm):
        problems.append(f"web config: tls_server_config.key_file: {s.key_file} holds no PEM private key")
        return None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        problems.append(f"web config: tls_server_config.key_file: {s.key_file}: use an RSA, ECDSA or Ed25519 key")
        return None
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    try:
        ctx.use_certificate(chain[0])
        for extra in chain[1:]:
            ctx.add_extra_chain_cert(extra)
        ctx.use_privatekey(key)
        ctx.check_privatekey()
    except SSL.Error:
        problems.append(
            f"web config: tls_server_config.key_file: {s.key_file} does not match the certificate of {s.cert_file}"
        )
        return None
    ctx.set_min_proto_version(s.min_version)
    ctx.set_max_proto_version(s.max_version)
    options = SSL.OP_NO_COMPRESSION | SSL.OP_NO_RENEGOTIATION
    if s.prefer_server_ciphers:
        options |= SSL.OP_CIPHER_SERVER_PREFERENCE
    ctx.set_options(options)
    # OpenSSL 3 refuses TLS 1.0/1.1 handshakes at its default security level; Go allows them when asked.
    seclevel = ":@SECLEVEL=0" if s.min_version < SSL.TLS1_2_VERSION else ""
    ctx.set_cipher_list((":".join(s.ciphers) + seclevel).encode() if s.ciphers else b"DEFAULT")
    if s.curves and not _set_curves(ctx, s.curves):
        problems.append("web config: tls_server_config.curve_preferences: not supported by this OpenSSL; remove it")
        return None
    asks, requires, verifies = CLIENT_AUTH[s.client_auth]
    if ca_pem is not None:
        try:
            cas = x509.load_pem_x509_certificates(ca_pem)
        except ValueError:
            problems.append(
                f"web config: tls_server_config.client_ca_file: {s.client_ca_file} holds no PEM certificate"
            )
            return None
        store = ctx.get_cert_store()
        assert store is not None  # a server context always has one
        for ca in cas:
            store.add_cert(crypto.X509.from_cryptography(ca))
            ctx.add_client_ca(ca)  # named in the CertificateRequest, as Go does
    if asks:
        mode = SSL.VERIFY_PEER | (SSL.VERIFY_FAIL_IF_NO_PEER_CERT if requires else 0)
        ctx.set_verify(mode, _verifier(verifies, s.allowed_sans))
    return ctx


def _set_curves(ctx: SSL.Context, curves: tuple[str, ...]) -> bool:
    # pyOpenSSL has no public call for an ordered group list (set_tmp_ecdh takes one EC curve, and
    # not X25519); the OpenSSL binding it is built on has SSL_CTX_set1_curves_list.
    from OpenSSL._util import lib

    setter = getattr(lib, "SSL_CTX_set1_curves_list", None)
    return setter is not None and setter(ctx._context, ":".join(curves).encode()) == 1


def san_values(cert: x509.Certificate) -> list[str]:
    """The SAN values Go compares with client_allowed_sans: DNS names, e-mails, IPs, URIs."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    out: list[str] = [*san.get_values_for_type(x509.DNSName), *san.get_values_for_type(x509.RFC822Name)]
    out += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    out += san.get_values_for_type(x509.UniformResourceIdentifier)
    return out


def _verifier(verify_chain: bool, allowed_sans: tuple[str, ...] | None):
    def verify(_conn: SSL.Connection, cert, _errno: int, depth: int, ok: int) -> bool:
        if verify_chain and not ok:
            return False
        if depth == 0 and allowed_sans is not None:
            # exporter-toolkit's VerifyPeerCertificate: some SAN of the client's leaf must be listed
            return any(v in allowed_sans for v in san_values(cert.to_cryptography()))
        return True

    return verify


def file_signature(paths: tuple[str, ...]) -> tuple:
    """Changes when any file is replaced or rewritten (symlinks followed, as a Secret volume swaps them)."""
    sig: list[tuple[int, ...] | None] = []
    for p in paths:
        try:
            st = os.stat(p)
            sig.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        except OSError:
            sig.append(None)
    return tuple(sig)
