"""`--web.config.file` in the Prometheus exporter-toolkit format: TLS and basic auth (bcrypt)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import ssl
import threading
from dataclasses import dataclass, field

import bcrypt
import yaml

from x509_mixin.exporter.config import ConfigError

_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_TLS_KEYS = {
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "min_version",
    "max_version",
    "cipher_suites",
    "curve_preferences",
    "prefer_server_cipher_suites",
    "client_allowed_sans",
}


@dataclass
class WebConfig:
    tls: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)  # user -> bcrypt hash
    headers: dict[str, str] = field(default_factory=dict)
    _ok: set = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def check(self, authorization: str | None) -> bool:
        """True when no users are configured or the Basic credentials match a bcrypt hash."""
        if not self.users:
            return True
        if not authorization or not authorization.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(authorization[6:].strip()).decode("utf-8").partition(":")
        except Exception:  # noqa: BLE001
            return False
        hashed = self.users.get(user)
        if hashed is None:
            return False
        # Cache successful checks (as the exporter-toolkit does): bcrypt is slow by design.
        token = hashlib.sha256(user.encode() + b"\0" + password.encode() + b"\0" + hashed).digest()
        with self._lock:
            if any(hmac.compare_digest(token, t) for t in self._ok):
                return True
        try:
            ok = bcrypt.checkpw(password.encode("utf-8"), hashed)
        except ValueError:
            ok = False
        if ok:
            with self._lock:
                self._ok.add(token)
        return ok


def load_web_config(path: str) -> WebConfig:
    problems: list[str] = []
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except OSError as e:
        raise ConfigError(
            [f"web config: {path}: cannot read the file ({e.strerror}); check --web.config.file"]
        ) from None
    except yaml.YAMLError:
        raise ConfigError([f"web config: {path}: not valid YAML; fix the syntax"]) from None
    if not isinstance(data, dict):
        raise ConfigError(
            [f"web config: {path}: expected a mapping with tls_server_config, http_server_config and basic_auth_users"]
        )
    for k in data:
        if k not in ("tls_server_config", "http_server_config", "basic_auth_users"):
            problems.append(
                f"web config: {k}: unknown key; remove it (known keys: basic_auth_users, "
                f"http_server_config, tls_server_config)"
            )
    base = os.path.dirname(os.path.abspath(path))

    def rel(p: str) -> str:
        return p if os.path.isabs(p) else os.path.join(base, p)

    wc = WebConfig()
    tls = data.get("tls_server_config")
    if tls:
        if not isinstance(tls, dict):
            problems.append("web config: tls_server_config: expected a mapping")
            tls = {}
        for k in tls:
            if k not in _TLS_KEYS:
                problems.append(f"web config: tls_server_config.{k}: unknown key; remove it")
        cert, key = tls.get("cert_file"), tls.get("key_file")
        if not cert or not key:
            problems.append("web config: tls_server_config: cert_file and key_file are both required for TLS")
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            try:
                ctx.load_cert_chain(rel(cert), rel(key))
            except (OSError, ssl.SSLError) as e:
                problems.append(
                    f"web config: tls_server_config.cert_file/key_file: cannot load {cert!r} / {key!r} "
                    f"({getattr(e, 'strerror', None) or e}); check the paths and that the key matches"
                )
            cat = tls.get("client_auth_type", "NoClientCert")
            if cat not in _CLIENT_AUTH:
                problems.append(
                    f"web config: tls_server_config.client_auth_type: invalid value {cat!r}; use one of "
                    f"{', '.join(_CLIENT_AUTH)}"
                )
            else:
                ctx.verify_mode = _CLIENT_AUTH[cat]
            ca = tls.get("client_ca_file")
            if ca:
                try:
                    ctx.load_verify_locations(rel(ca))
                except (OSError, ssl.SSLError):
                    problems.append(f"web config: tls_server_config.client_ca_file: cannot load {ca!r}; check the path")
            elif cat in ("RequireAndVerifyClientCert", "VerifyClientCertIfGiven"):
                problems.append(f"web config: tls_server_config.client_ca_file: required with client_auth_type {cat}")
            for k, attr in (("min_version", "minimum_version"), ("max_version", "maximum_version")):
                if k in tls:
                    if tls[k] not in _VERSIONS:
                        problems.append(
                            f"web config: tls_server_config.{k}: invalid value {tls[k]!r}; use one of "
                            f"{', '.join(_VERSIONS)}"
                        )
                    else:
                        setattr(ctx, attr, _VERSIONS[tls[k]])
            wc.tls = ctx
    http_cfg = data.get("http_server_config") or {}
    if not isinstance(http_cfg, dict):
        problems.append("web config: http_server_config: expected a mapping")
        http_cfg = {}
    for k in http_cfg:
        if k not in ("headers", "http2"):
            problems.append(f"web config: http_server_config.{k}: unknown key; remove it")
    headers = http_cfg.get("headers") or {}
    if not isinstance(headers, dict):
        problems.append("web config: http_server_config.headers: expected a mapping of header names to values")
    else:
        wc.headers = {str(k): str(v) for k, v in headers.items()}
    users = data.get("basic_auth_users") or {}
    if not isinstance(users, dict):
        problems.append("web config: basic_auth_users: expected a mapping of user names to bcrypt hashes")
        users = {}
    for user, h in users.items():
        hb = str(h).encode()
        if not (isinstance(h, str) and hb[:4] in (b"$2a$", b"$2b$", b"$2y$")):
            # the hash is a secret-equivalent: name the user, never the value
            problems.append(
                f"web config: basic_auth_users.{user}: not a bcrypt hash; generate one with "
                f"`htpasswd -nBC 10 \"\" | tr -d ':\\n'`"
            )
            continue
        wc.users[str(user)] = hb
    if problems:
        raise ConfigError(problems)
    return wc
