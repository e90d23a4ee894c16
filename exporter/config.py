"""The exporter's YAML configuration (the v4 schema, file-shaped sources only).

`load_config(path)` / `parse_config(dict)` return an immutable `Config` or raise
`ConfigError` listing one line per problem (key, value, fix). Secrets (passphrases) are
never echoed in messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from x509_mixin.catalogue.metrics import DN_FIELDS
from x509_mixin.exporter.walk import PatternError, compile_pattern
from x509_mixin.exporter.yamlfile import YamlFileError, load_yaml

UPSTREAM = "https://github.com/enix/x509-certificate-exporter"
SUPPORTED_FORMATS = ("pem", "der", "pkcs12")
# Keys whose values may hold a passphrase: never shown in a message, at any depth.
SECRET_KEYS = {"passphrase", "pkcs12", "jks"}


class ConfigError(Exception):
    """One or more configuration problems; `problems` holds one line each."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """A Go duration ("30s", "1m30s", "500ms") in seconds; ValueError when malformed."""
    s = str(text).strip()
    if s == "0":
        return 0.0
    pos, total = 0, 0.0
    for m in _DURATION_RE.finditer(s):
        if m.start() != pos:
            raise ValueError(s)
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(s)
    return total


@dataclass(frozen=True)
class PathMapping:
    from_: str
    to: str


@dataclass(frozen=True)
class Pkcs12Config:
    passphrase: str | None = field(default=None, repr=False)
    passphrase_file: str | None = None
    try_empty_passphrase: bool = False


@dataclass(frozen=True)
class SourceConfig:
    kind: str
    name: str
    paths: tuple[str, ...]
    exclude_paths: tuple[str, ...] = ()
    follow_symlinks: bool = True
    follow_symlink_dirs: bool = False
    refresh_interval: float | None = None  # None: cache.filePoll.interval
    formats: tuple[str, ...] = ("pem",)
    pkcs12: Pkcs12Config = Pkcs12Config()
    path_mappings: tuple[PathMapping, ...] = ()


@dataclass(frozen=True)
class ServerConfig:
    listen: str = ":9793"
    web_config_file: str | None = None
    probe_listen: str | None = None
    read_timeout: float = 10.0  # 0: no timeout (as Go)
    write_timeout: float = 30.0
    max_connections: int = 64


@dataclass(frozen=True)
class LogConfig:
    level: str = "info"
    format: str = "text"


@dataclass(frozen=True)
class MetricsConfig:
    expose_relative: bool = False
    expose_per_cert_error: bool = False
    expose_not_before: bool = False
    expose_expired: bool = True
    expose_diagnostics: bool = False
    expose_subject_fields: tuple[str, ...] = DN_FIELDS
    expose_issuer_fields: tuple[str, ...] = DN_FIELDS
    trim_path_components: int = 0
    collision_discriminator: str = "auto"
    collision_discriminator_length: int = 8

    def gates(self) -> dict[str, bool]:
        return {
            "exposeExpired": self.expose_expired,
            "exposeNotBefore": self.expose_not_before,
            "exposeRelative": self.expose_relative,
            "exposePerCertError": self.expose_per_cert_error,
            "exposeDiagnostics": self.expose_diagnostics,
        }


@dataclass(frozen=True)
class CacheConfig:
    poll_interval: float = 30.0
    skip_unchanged: bool = True


@dataclass(frozen=True)
class Config:
    sources: tuple[SourceConfig, ...] = ()
    server: ServerConfig = ServerConfig()
    log: LogConfig = LogConfig()
    metrics: MetricsConfig = MetricsConfig()
    cache: CacheConfig = CacheConfig()
    enable_stats: bool = True

    def interval(self, source: SourceConfig) -> float:
        return source.refresh_interval if source.refresh_interval is not None else self.cache.poll_interval


# --------------------------------------------------------------------------------------

_KUBE_ONLY = {"kubeconfig", "rateLimit", "listPageSize", "namespaces", "secrets", "configMaps", "workers", "cabundles"}


def _redacted(value: Any) -> Any:
    """`value` with whatever sits under a secret key replaced (a whole source may be echoed)."""
    if isinstance(value, dict):
        return {k: "<redacted>" if k in SECRET_KEYS else _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, key: str, value: Any, fix: str) -> None:
        secret = any(part.split("[", 1)[0] in SECRET_KEYS for part in key.split("."))
        shown = "<redacted>" if secret else repr(_redacted(value))
        self.problems.append(f"config: {key}: invalid value {shown}; {fix}")

    def mapping(self, key: str, value: Any, known: set[str]) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(key, value, "expected a mapping")
            return {}
        for k in value:
            if k not in known:
                where = f"{key}.{k}" if key else k
                names = ", ".join(sorted(known))
                self.problems.append(f"config: {where}: unknown key; remove it (known keys: {names})")
        return value

    def boolean(self, key: str, d: dict, name: str, default: bool) -> bool:
        v = d.get(name, default)
        if not isinstance(v, bool):
            self.fail(f"{key}.{name}", v, "expected true or false")
            return default
        return v

    def string(self, key: str, d: dict, name: str, default: str | None) -> str | None:
        v = d.get(name, default)
        if v is not None and not isinstance(v, str):
            self.fail(f"{key}.{name}", v, "expected a string")
            return default
        return v

    def duration(self, key: str, d: dict, name: str, default: float | None) -> float | None:
        if name not in d:
            return default
        v = d[name]
        try:
            sec = parse_duration(v) if isinstance(v, str) else None
        except ValueError:
            sec = None
        if sec is None:
            self.fail(f"{key}.{name}", v, 'expected a duration such as "30s", "1m" or "500ms"')
            return default
        return sec

    def text(self, key: str, d: dict, name: str, default: str) -> str:
        value = self.string(key, d, name, default)
        return default if value is None else value

    def seconds(self, key: str, d: dict, name: str, default: float) -> float:
        value = self.duration(key, d, name, default)
        return default if value is None else value

    def strings(self, key: str, d: dict, name: str) -> tuple[str, ...]:
        v = d.get(name, [])
        if v is None:
            return ()
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            self.fail(f"{key}.{name}", v, "expected a list of strings")
            return ()
        return tuple(v)


def parse_config(data: Any) -> Config:
    c = _Checker()
    top = c.mapping("", data if data is not None else {}, {"web", "server", "log", "sources", "metrics", "cache"})

    web = c.mapping("web", top.get("web"), {"enableStats"})
    enable_stats = c.boolean("web", web, "enableStats", True)

    srv = c.mapping(
        "server",
        top.get("server"),
        {"listen", "webConfigFile", "probeListen", "readTimeout", "writeTimeout", "maxConnections"},
    )
    listen = c.string("server", srv, "listen", ":9793") or ":9793"
    if not _valid_listen(listen):
        c.fail("server.listen", listen, 'expected "host:port" or ":port", e.g. ":9793"')
    probe = c.string("server", srv, "probeListen", None)
    if probe is not None and not _valid_listen(probe):
        c.fail("server.probeListen", probe, 'expected "host:port" or ":port"')
    max_conns = srv.get("maxConnections", 64)
    if not isinstance(max_conns, int) or isinstance(max_conns, bool) or max_conns < 1:
        c.fail("server.maxConnections", max_conns, "expected an integer >= 1 (default 64)")
        max_conns = 64
    server = ServerConfig(
        listen=listen,
        web_config_file=c.string("server", srv, "webConfigFile", None),
        probe_listen=probe,
        read_timeout=c.seconds("server", srv, "readTimeout", 10.0),
        write_timeout=c.seconds("server", srv, "writeTimeout", 30.0),
        max_connections=max_conns,
    )

    lg = c.mapping("log", top.get("log"), {"level", "format"})
    level = c.text("log", lg, "level", "info")
    if level not in ("debug", "info", "warn", "warning", "error"):
        c.fail("log.level", level, "use one of debug, info, warn, error")
    fmt = c.text("log", lg, "format", "text")
    if fmt not in ("text", "json"):
        c.fail("log.format", fmt, "use text or json")
    log = LogConfig(level=level if level != "warning" else "warn", format=fmt)

    m = c.mapping(
        "metrics",
        top.get("metrics"),
        {
            "exposeRelative",
            "exposePerCertError",
            "exposeNotBefore",
            "exposeExpired",
            "exposeDiagnostics",
            "exposeSubjectFields",
            "exposeIssuerFields",
            "trimPathComponents",
            "collisionDiscriminator",
            "collisionDiscriminatorLength",
        },
    )
    subj = _dn_fields(c, "metrics.exposeSubjectFields", c.strings("metrics", m, "exposeSubjectFields"))
    iss = _dn_fields(c, "metrics.exposeIssuerFields", c.strings("metrics", m, "exposeIssuerFields"))
    trim = m.get("trimPathComponents", 0)
    if not isinstance(trim, int) or isinstance(trim, bool) or trim < 0:
        c.fail("metrics.trimPathComponents", trim, "expected an integer >= 0")
        trim = 0
    disc = m.get("collisionDiscriminator", "auto")
    if disc not in ("auto", "always", "never"):
        c.fail("metrics.collisionDiscriminator", disc, "use auto, always or never")
        disc = "auto"
    dlen = m.get("collisionDiscriminatorLength", 8)
    if not isinstance(dlen, int) or isinstance(dlen, bool) or not 4 <= dlen <= 64:
        c.fail("metrics.collisionDiscriminatorLength", dlen, "expected an integer between 4 and 64")
        dlen = 8
    metrics = MetricsConfig(
        expose_relative=c.boolean("metrics", m, "exposeRelative", False),
        expose_per_cert_error=c.boolean("metrics", m, "exposePerCertError", False),
        expose_not_before=c.boolean("metrics", m, "exposeNotBefore", False),
        expose_expired=c.boolean("metrics", m, "exposeExpired", True),
        expose_diagnostics=c.boolean("metrics", m, "exposeDiagnostics", False),
        expose_subject_fields=subj,
        expose_issuer_fields=iss,
        trim_path_components=trim,
        collision_discriminator=disc,
        collision_discriminator_length=dlen,
    )

    ca = c.mapping("cache", top.get("cache"), {"filePoll"})
    fp = c.mapping("cache.filePoll", ca.get("filePoll"), {"interval", "skipUnchanged"})
    interval = c.seconds("cache.filePoll", fp, "interval", 30.0)
    if interval <= 0:
        c.fail("cache.filePoll.interval", fp.get("interval"), "expected a positive duration")
        interval = 30.0
    cache = CacheConfig(poll_interval=interval, skip_unchanged=c.boolean("cache.filePoll", fp, "skipUnchanged", True))

    raw_sources = top.get("sources", [])
    sources: list[SourceConfig] = []
    if raw_sources is None:
        raw_sources = []
    if not isinstance(raw_sources, list):
        c.fail("sources", raw_sources, "expected a list of sources")
        raw_sources = []
    names: set[str] = set()
    for i, raw in enumerate(raw_sources):
        s = _parse_source(c, f"sources[{i}]", raw)
        if s is None:
            continue
        if s.name in names:
            c.fail(f"sources[{i}].name", s.name, "source names must be unique; rename one of them")
        names.add(s.name)
        sources.append(s)

    if c.problems:
        raise ConfigError(c.problems)
    return Config(
        sources=tuple(sources), server=server, log=log, metrics=metrics, cache=cache, enable_stats=enable_stats
    )


def _dn_fields(c: _Checker, key: str, values: tuple[str, ...]) -> tuple[str, ...]:
    if not values:
        return DN_FIELDS
    want = {v.strip().upper() for v in values}
    bad = sorted(want - set(DN_FIELDS))
    if bad:
        c.fail(key, list(values), f"use fields among {', '.join(DN_FIELDS)}")
    return tuple(f for f in DN_FIELDS if f in want)


def _valid_listen(s: str) -> bool:
    host, sep, port = s.rpartition(":")
    return bool(sep) and port.isdigit() and 0 <= int(port) <= 65535


def _parse_source(c: _Checker, key: str, raw: Any) -> SourceConfig | None:
    if not isinstance(raw, dict):
        c.fail(key, raw, "expected a mapping with kind, name and paths")
        return None
    kind = raw.get("kind")
    if kind in ("kubernetes", "cabundle"):
        c.problems.append(
            f"config: {key}.kind: {kind!r} is not supported by the bundled reference exporter, which only reads "
            f"files (kinds file and kubeconfig); run the upstream x509-certificate-exporter ({UPSTREAM}) "
            f"for Kubernetes Secrets, ConfigMaps and caBundles"
        )
        return None
    if kind not in ("file", "kubeconfig"):
        c.fail(f"{key}.kind", kind, "use file or kubeconfig")
        return None
    known = {"kind", "name", "paths", "excludePaths", "followSymlinks", "refreshInterval", "pathMappings"}
    if kind == "file":
        known |= {"formats", "pkcs12", "jks", "followSymlinkDirs"}
    for k in raw:
        if k in _KUBE_ONLY:
            c.problems.append(
                f"config: {key}.{k}: only applies to kind kubernetes, which this exporter does not "
                f"support; remove it or use the upstream exporter ({UPSTREAM})"
            )
    c.mapping(key, {k: v for k, v in raw.items() if k not in _KUBE_ONLY}, known)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        c.fail(f"{key}.name", name, "every source needs a non-empty name")
        name = f"source-{key}"
    paths = c.strings(key, raw, "paths")
    if not paths:
        c.fail(f"{key}.paths", raw.get("paths"), "list at least one path or glob, e.g. [/etc/ssl/certs/*.pem]")
    for p in paths:
        if not p.startswith("/"):
            c.fail(f"{key}.paths", p, "use absolute paths")
    excludes = c.strings(key, raw, "excludePaths")
    for field_name, globs in (("paths", paths), ("excludePaths", excludes)):
        for p in globs:
            try:
                compile_pattern(p)
            except PatternError as err:
                c.fail(f"{key}.{field_name}", p, f"{err} (globs take *, ?, [a-z], [!a-z] and ** as a whole segment)")
    formats: tuple[str, ...] = ("pem",)
    pk = Pkcs12Config()
    if kind == "file":
        formats = c.strings(key, raw, "formats") or ("pem",)
        for f in formats:
            if f == "jks":
                c.problems.append(
                    f"config: {key}.formats: 'jks' is not supported by the bundled reference exporter; "
                    f"use pem, der or pkcs12, or the upstream exporter ({UPSTREAM})"
                )
            elif f not in SUPPORTED_FORMATS:
                c.fail(f"{key}.formats", f, "use pem, der or pkcs12")
        if "jks" in raw:
            c.problems.append(
                f"config: {key}.jks: JKS keystores are not supported by the bundled reference "
                f"exporter; remove it or use the upstream exporter ({UPSTREAM})"
            )
        p12 = c.mapping(
            f"{key}.pkcs12",
            raw.get("pkcs12"),
            {"passphrase", "passphraseFile", "tryEmptyPassphrase", "passphraseKey", "passphraseSecretRef"},
        )
        for k in ("passphraseKey", "passphraseSecretRef"):
            if k in p12:
                c.problems.append(
                    f"config: {key}.pkcs12.{k}: only applies to Kubernetes Secrets; use passphrase "
                    f"or passphraseFile for files"
                )
        pk = Pkcs12Config(
            passphrase=c.string(f"{key}.pkcs12", p12, "passphrase", None),
            passphrase_file=c.string(f"{key}.pkcs12", p12, "passphraseFile", None),
            # upstream tries the empty passphrase too unless told not to, once a pkcs12 block exists
            try_empty_passphrase=c.boolean(
                f"{key}.pkcs12", p12, "tryEmptyPassphrase", isinstance(raw.get("pkcs12"), dict)
            ),
        )
        if pk.passphrase is not None and pk.passphrase_file is not None:
            c.problems.append(f"config: {key}.pkcs12: passphrase and passphraseFile are both set; keep only one")
        if p12 and "pkcs12" not in formats:
            c.problems.append(
                f"config: {key}.pkcs12: set but formats does not list pkcs12; add pkcs12 to formats "
                f"or remove the pkcs12 block"
            )
    mappings: list[PathMapping] = []
    pm = raw.get("pathMappings", [])
    if pm:
        if not isinstance(pm, list):
            c.fail(f"{key}.pathMappings", pm, "expected a list of {from, to}")
        else:
            for j, e in enumerate(pm):
                if not isinstance(e, dict) or set(e) - {"from", "to"} or not isinstance(e.get("to"), str):
                    c.fail(f"{key}.pathMappings[{j}]", e, "expected {from: /host/path, to: /local/path}")
                    continue
                mappings.append(PathMapping(from_=str(e.get("from", "")), to=e["to"]))
    refresh = c.duration(key, raw, "refreshInterval", None)
    if refresh is not None and refresh <= 0:
        c.fail(f"{key}.refreshInterval", raw.get("refreshInterval"), "expected a positive duration")
        refresh = None
    return SourceConfig(
        kind=kind,
        name=name,
        paths=paths,
        exclude_paths=excludes,
        follow_symlinks=c.boolean(key, raw, "followSymlinks", True),
        follow_symlink_dirs=c.boolean(key, raw, "followSymlinkDirs", False),
        refresh_interval=refresh,
        formats=tuple(formats),
        pkcs12=pk,
        path_mappings=tuple(mappings),
    )


def read_config_file(path: str) -> Any:
    """The YAML of `--config FILE`; ConfigError for an unreadable file, bad syntax or a duplicate key."""
    try:
        return load_yaml(path)
    except YamlFileError as e:
        raise ConfigError([f"config: --config {path}: {e}"]) from None


def load_config(path: str) -> Config:
    return parse_config(read_config_file(path))
