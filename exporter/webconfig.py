"""`--web.config.file` in the Prometheus exporter-toolkit format: TLS, headers and basic auth.

`load_web_config` validates the file (one line per problem, never a hash or a key's bytes);
`LiveWebConfig` re-reads it, and the files it names, when one of them changes: exporter-toolkit
reads them on every request and connection, so a renewed serving certificate is used without a
restart. A change that does not load is logged and the last good configuration stays in force.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field

from OpenSSL import SSL

from x509_mixin.exporter.basicauth import BasicAuth, is_bcrypt_hash
from x509_mixin.exporter.config import ConfigError
from x509_mixin.exporter.tlsconfig import TLSSettings, build_context, file_signature, parse_tls
from x509_mixin.exporter.yamlfile import YamlFileError, load_yaml

log = logging.getLogger("x509_mixin.exporter")

TOP_KEYS = ("tls_server_config", "http_server_config", "basic_auth_users")
# exporter-toolkit's fixed set of settable response headers; None: any value.
HEADERS: dict[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}
HASH_FIX = "generate one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"


@dataclass
class WebConfig:
    tls: TLSSettings | None = None
    tls_context: SSL.Context | None = None
    auth: BasicAuth = field(default_factory=lambda: BasicAuth({}))
    headers: dict[str, str] = field(default_factory=dict)
    http2: bool = True

    def check(self, authorization: str | None) -> bool:
        return self.auth.check(authorization)


class WebConfigError(ConfigError):
    """The web config does not load; `files` are the files it names (watched for a fix)."""

    def __init__(self, problems: list[str], files: tuple[str, ...] = ()):
        super().__init__(problems)
        self.files = files


def _referenced_files(data: object, base: str) -> tuple[str, ...]:
    tls = data.get("tls_server_config") if isinstance(data, dict) else None
    if not isinstance(tls, dict):
        return ()
    names = (tls.get(k) for k in ("cert_file", "key_file", "client_ca_file"))
    return tuple(os.path.join(base, n) for n in names if isinstance(n, str) and n)


def load_web_config(path: str) -> WebConfig:
    return _load(path)[0]


def _load(path: str) -> tuple[WebConfig, tuple[str, ...]]:
    """The configuration and the files it names; WebConfigError when it does not load."""
    try:
        data = load_yaml(path)
    except YamlFileError as e:
        raise WebConfigError([f"web config: {path}: {e}"]) from None
    data = {} if data is None else data
    base = os.path.dirname(os.path.abspath(path))
    files = _referenced_files(data, base)
    problems: list[str] = []
    wc = WebConfig()
    if not isinstance(data, dict):
        problems.append(f"web config: {path}: expected a mapping with {', '.join(TOP_KEYS)}")
        data = {}
    for k in data:
        if k not in TOP_KEYS:
            problems.append(f"web config: {k}: unknown key; remove it (known keys: {', '.join(TOP_KEYS)})")

    tls = data.get("tls_server_config")
    if tls is not None and tls != {}:
        wc.tls = parse_tls(tls, lambda p: os.path.join(base, p), problems)
        if wc.tls is not None:
            wc.tls_context = build_context(wc.tls, problems)

    http_cfg = data.get("http_server_config") or {}
    if not isinstance(http_cfg, dict):
        problems.append("web config: http_server_config: expected a mapping")
        http_cfg = {}
    for k in http_cfg:
        if k not in ("headers", "http2"):
            problems.append(f"web config: http_server_config.{k}: unknown key; remove it (known keys: headers, http2)")
    wc.http2 = http_cfg.get("http2", True)
    if not isinstance(wc.http2, bool):
        problems.append("web config: http_server_config.http2: expected true or false")
    wc.headers = _headers(http_cfg.get("headers"), problems)

    users = data.get("basic_auth_users") or {}
    if not isinstance(users, dict):
        problems.append("web config: basic_auth_users: expected a mapping of user names to bcrypt hashes")
        users = {}
    hashes: dict[str, bytes] = {}
    for user, h in users.items():
        # the hash is secret-equivalent: name the user, never the value
        if not isinstance(h, str) or not is_bcrypt_hash(h.encode("utf-8", "replace")):
            problems.append(
                f"web config: basic_auth_users.{user}: not a valid bcrypt hash ($2a$, $2b$ or $2y$, a cost "
                f"from 04 to 31, then 53 characters); {HASH_FIX}"
            )
            continue
        hashes[str(user)] = h.encode()
    wc.auth = BasicAuth(hashes)
    if problems:
        raise WebConfigError(problems, files)
    return wc, files


def _headers(headers: object, problems: list[str]) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, dict):
        problems.append("web config: http_server_config.headers: expected a mapping of header names to values")
        return {}
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = f"web config: http_server_config.headers.{name}"
        if isinstance(value, bool):  # Go reads a YAML scalar into a string as written
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        if name not in HEADERS:
            problems.append(f"{key}: this header cannot be set; use one of {', '.join(HEADERS)}")
        elif not isinstance(value, str) or not all(0x20 <= ord(ch) < 0x7F for ch in value):
            # control characters would split the header; non-ASCII would fail every response
            problems.append(f"{key}: expected a one-line ASCII string")
        elif HEADERS[name] is not None and value and value not in (HEADERS[name] or ()):
            problems.append(f"{key}: invalid value {value!r}; use one of {', '.join(HEADERS[name] or ())}")
        elif value:  # blank: unset, as exporter-toolkit
            out[name] = value
    return out


class LiveWebConfig:
    """The web config in force, re-read when the file or a file it names changes."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._current, files = _load(path)  # ConfigError at start-up: refuse to run
        self._files = files
        self._sig = self._signature(files)
        self._failed_sig: tuple | None = None

    def _signature(self, files: tuple[str, ...]) -> tuple:
        return file_signature((self.path, *files))

    def current(self) -> WebConfig:
        sig = self._signature(self._files)
        if sig == self._sig or sig == self._failed_sig:
            return self._current
        with self._lock:
            sig = self._signature(self._files)
            if sig == self._sig or sig == self._failed_sig:
                return self._current
            try:
                new, files = _load(self.path)
                if (new.tls is None) != (self._current.tls is None):
                    raise WebConfigError(
                        [f"web config: {self.path}: tls_server_config: turning TLS on or off needs a restart"]
                    )
            except WebConfigError as e:
                for line in e.problems:
                    log.error("web config not reloaded, the previous one stays in force: %s", line)
                # watch the files the failed version names too, so fixing one of them is noticed
                self._files = tuple(dict.fromkeys((*self._files, *e.files)))
                self._failed_sig = self._signature(self._files)
                return self._current
            self._current, self._files = new, files
            self._sig = self._signature(files)
            self._failed_sig = None
            log.info("web config %s reloaded", self.path)
            return self._current
