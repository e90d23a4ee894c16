"""`migrate flags`: a v3 command line -> the v4 YAML configuration (`--config FILE`).

The v3 flags are those of cmd/x509-certificate-exporter/main.go at v3.21.0; the v4 schema is
internal/config/config.go at v4.2.0, whose ApplyCLI also gives the source names used here
(cli-files, cli-dir-<dir>, cli-kubeconf, cli-kube), so series keep the `source_name` the
deprecated v4 shortcuts would give them.
"""

from __future__ import annotations

import io
import shlex
from dataclasses import dataclass

from ruamel.yaml import YAML

from x509_mixin.migrate.report import InputError, Report

ARGV = "<argv>"


@dataclass(frozen=True)
class Flag:
    long: str
    short: str | None
    kind: str  # bool | value | list (repeatable)


V3_FLAGS: tuple[Flag, ...] = (
    Flag("help", "h", "bool"),
    Flag("version", "v", "bool"),
    Flag("listen-address", "b", "value"),
    Flag("web.systemd-socket", None, "bool"),
    Flag("web.config.file", None, "value"),
    Flag("debug", None, "bool"),
    Flag("trim-path-components", None, "value"),
    Flag("expose-relative-metrics", None, "bool"),
    Flag("expose-per-cert-error-metrics", None, "bool"),
    Flag("expose-labels", "l", "value"),
    Flag("profile", None, "bool"),
    Flag("skip-symlinks", None, "bool"),
    Flag("max-cache-duration", None, "value"),
    Flag("kube-api-rate-limit-qps", None, "value"),
    Flag("kube-api-rate-limit-burst", None, "value"),
    Flag("watch-file", "f", "list"),
    Flag("watch-dir", "d", "list"),
    Flag("watch-kubeconf", "k", "list"),
    Flag("watch-kube-secrets", None, "bool"),
    Flag("kubeconfig", None, "value"),
    Flag("secret-type", "s", "list"),
    Flag("configmap-keys", "c", "list"),
    Flag("include-namespace", None, "list"),
    Flag("exclude-namespace", None, "list"),
    Flag("include-namespace-label", None, "list"),
    Flag("exclude-namespace-label", None, "list"),
    Flag("include-label", None, "list"),
    Flag("exclude-label", None, "list"),
    Flag("expose-secret-label", None, "list"),
)
_BY_LONG = {f.long: f for f in V3_FLAGS}
_BY_SHORT = {f.short: f for f in V3_FLAGS if f.short}

# What the v4 exporter's command line still accepts (cmd/x509-certificate-exporter/main.go, v4.2.0).
V4_SHORTCUTS = frozenset(
    {
        "config",
        "C",
        "watch-file",
        "f",
        "watch-dir",
        "d",
        "watch-kubeconf",
        "k",
        "watch-kube-secrets",
        "listen-address",
        "b",
        "web.config.file",
        "probe.listen-address",
        "debug",
        "profile",
        "help",
        "h",
    }
)
KUBE_ONLY = (
    "kubeconfig",
    "secret-type",
    "configmap-keys",
    "include-namespace",
    "exclude-namespace",
    "include-namespace-label",
    "exclude-namespace-label",
    "include-label",
    "exclude-label",
    "expose-secret-label",
    "kube-api-rate-limit-qps",
    "kube-api-rate-limit-burst",
    "max-cache-duration",
)
_GO_REGEXP_SPECIAL = set("\\.+*?()|[]{}^$")


def flag_name(arg: str) -> str:
    """`--watch-dir=/x` -> `watch-dir`, `-d/x` -> `d`."""
    if arg.startswith("--"):
        return arg[2:].split("=", 1)[0]
    return arg[1:2]


def quote_meta(text: str) -> str:
    """Go's regexp.QuoteMeta: v3 matched ConfigMap keys exactly, v4 takes regular expressions."""
    return "".join("\\" + ch if ch in _GO_REGEXP_SPECIAL else ch for ch in text)


def sanitize(text: str) -> str:
    """v4's ApplyCLI source-name sanitizer: non-alphanumerics -> '-', trimmed, 'anon' if empty."""
    out = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in text).strip("-")
    return out or "anon"


def parse(argv: list[str]) -> list[tuple[int, Flag, str]]:
    """(position, flag, value) in order; bools get "true"/"false". getopt syntax: --long value,
    --long=value, -s value, -svalue, clustered bool shorts (-hv)."""
    out: list[tuple[int, Flag, str]] = []
    i = 0
    if argv and not argv[0].startswith("-"):
        i = 1  # the program name
    while i < len(argv):
        arg, pos = argv[i], i + 1
        if arg.startswith("--") and len(arg) > 2:
            name, eq, inline = arg[2:].partition("=")
            flag = _BY_LONG.get(name)
            if flag is None:
                raise InputError(ARGV, pos, f"unknown v3 flag --{name}", " ".join(argv))
            if flag.kind == "bool":
                out.append((pos, flag, inline.lower() if eq else "true"))
            elif eq:
                out.append((pos, flag, inline))
            elif i + 1 < len(argv):
                i += 1
                out.append((pos, flag, argv[i]))
            else:
                raise InputError(ARGV, pos, f"--{name} needs a value", " ".join(argv))
        elif arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                flag = _BY_SHORT.get(arg[j])
                if flag is None:
                    raise InputError(ARGV, pos, f"unknown v3 flag -{arg[j]}", " ".join(argv))
                if flag.kind == "bool":
                    out.append((pos, flag, "true"))
                    j += 1
                    continue
                if j + 1 < len(arg):
                    out.append((pos, flag, arg[j + 1 :]))
                elif i + 1 < len(argv):
                    i += 1
                    out.append((pos, flag, argv[i]))
                else:
                    raise InputError(ARGV, pos, f"-{arg[j]} needs a value", " ".join(argv))
                break
        else:
            raise InputError(ARGV, pos, f"unexpected argument {arg!r} (v3 takes flags only)", " ".join(argv))
        i += 1
    return out


def _int(pos: int, flag: Flag, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InputError(ARGV, pos, f"--{flag.long} takes an integer, not {value!r}") from None


def _dump(config: dict) -> str:
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 1 << 16
    buf = io.StringIO()
    yaml.dump(config, buf)
    return buf.getvalue()


# v3 flags that set one v4 key directly: flag -> (section, key, value type).
_SETTINGS: dict[str, tuple[str, str, str]] = {
    "listen-address": ("server", "listen", "str"),
    "web.systemd-socket": ("server", "systemdSocket", "bool"),
    "web.config.file": ("server", "webConfigFile", "str"),
    "trim-path-components": ("metrics", "trimPathComponents", "int"),
    "expose-relative-metrics": ("metrics", "exposeRelative", "bool"),
    "expose-per-cert-error-metrics": ("metrics", "exposePerCertError", "bool"),
}


class _Builder:
    def __init__(self, report: Report):
        self.report = report
        self.config: dict = {}
        self.sources: list[dict] = []
        self.kube: dict | None = None

    def section(self, name: str) -> dict:
        return self.config.setdefault(name, {})

    def change(self, pos: int, arg: str, where: str, why: str = "v4 reads its settings from the YAML file") -> None:
        self.report.change(ARGV, pos, arg, where, why)

    def warn(self, pos: int, text: str) -> None:
        self.report.warn(ARGV, pos, text)


def migrate(argv: list[str], report: Report) -> tuple[str, bool]:
    """The v4 YAML configuration, and whether the command line needs a change at all."""
    parsed = parse(argv)
    b = _Builder(report)
    seen = {flag.long for _, flag, _ in parsed}
    lists: dict[str, list[tuple[int, str]]] = {}
    for pos, flag, value in parsed:
        shown = f"--{flag.long}" + ("" if flag.kind == "bool" and value == "true" else f" {value}")
        truth = value == "true"
        name = flag.long
        if flag.kind == "list":
            lists.setdefault(name, []).append((pos, value))
            continue
        if name in ("help", "version"):
            b.warn(pos, f"{shown}: not a runtime setting, ignored")
        elif name in _SETTINGS:
            section, key, kind = _SETTINGS[name]
            if kind == "int":
                b.section(section)[key] = _int(pos, flag, value)
            else:
                b.section(section)[key] = truth if kind == "bool" else value
            b.change(pos, shown, f"{section}.{key}: {value}")
        elif name == "debug":
            b.section("log")["level"] = "debug" if truth else "info"
            b.change(pos, shown, f"log.level: {b.section('log')['level']}")
        elif name == "profile":
            b.config.setdefault("diagnostics", {}).setdefault("pprof", {})["enabled"] = truth
            b.change(
                pos, shown, f"diagnostics.pprof.enabled: {value}", "v4 serves pprof on diagnostics.pprof.listen (:6060)"
            )
        elif name == "expose-labels":
            _expose_labels(b, pos, shown, value)
        elif name == "skip-symlinks":
            b.change(pos, shown, "sources[*].followSymlinks: false", "v4 sets it per file and kubeconfig source")
        elif name == "max-cache-duration":
            b.warn(pos, f"{shown}: no v4 equivalent (v4 watches the Kubernetes API instead of caching lists); dropped")
        elif name in ("kube-api-rate-limit-qps", "kube-api-rate-limit-burst", "kubeconfig"):
            pass  # with the kubernetes source below
    _sources(b, parsed, lists, seen)
    b.config["sources"] = b.sources
    order = ("web", "server", "log", "diagnostics", "sources", "metrics", "cache")  # v4's schema order
    b.config = {key: b.config[key] for key in order if key in b.config}
    if not b.sources:
        b.warn(0, "no source: v4 refuses to start without one; add sources to the configuration")
    elif b.config.get("metrics", {}).get("exposeNotBefore") is None:
        b.warn(
            0,
            "v3 always emitted x509_cert_not_before, v4 only with metrics.exposeNotBefore: true: add it if "
            "alerts or dashboards use it (x509-mixin migrate rules|dashboard says which)",
        )
    if "skip-symlinks" in seen:
        for source in b.sources:
            if source["kind"] in ("file", "kubeconfig"):
                source["followSymlinks"] = False
    header = "# x509-certificate-exporter v4 configuration (--config FILE), from the v3 command line:\n"
    header += "#   " + shlex.join(argv) + "\n"
    return header + _dump(b.config), bool(parsed)


def _expose_labels(b: _Builder, pos: int, shown: str, value: str) -> None:
    labels = [label.strip() for label in value.split(",") if label.strip()]
    for prefix, key in (("subject_", "exposeSubjectFields"), ("issuer_", "exposeIssuerFields")):
        fields = [label[len(prefix) :] for label in labels if label.startswith(prefix)]
        if fields:
            b.section("metrics")[key] = fields
            b.change(pos, shown, f"metrics.{key}: [{', '.join(fields)}]", "v4 narrows DN fields only")
        else:
            b.warn(
                pos,
                f"{shown}: no {prefix}* label listed, but v4 cannot drop them all: metrics.{key} empty "
                "means every field",
            )
    others = [label for label in labels if not label.startswith(("subject_", "issuer_"))]
    if others:
        b.warn(
            pos,
            f"{shown}: v4 always emits the other per-certificate labels ({', '.join(others)} included); "
            "no equivalent for restricting them",
        )


def _sources(b: _Builder, parsed, lists: dict, seen: set) -> None:
    files = lists.get("watch-file", [])
    if files:
        b.sources.append({"kind": "file", "name": "cli-files", "paths": [v for _, v in files], "formats": ["pem"]})
        for pos, value in files:
            b.change(pos, f"--watch-file {value}", f"sources[cli-files].paths: {value}")
            if any(ch in value for ch in "*?["):
                b.warn(pos, f"--watch-file {value}: v4 paths are globs, and this one has glob characters")
    for pos, value in lists.get("watch-dir", []):
        name = "cli-dir-" + sanitize(value)
        b.sources.append({"kind": "file", "name": name, "paths": [value.rstrip("/") + "/*"], "formats": ["pem"]})
        b.change(
            pos,
            f"--watch-dir {value}",
            f"sources[{name}].paths: {value.rstrip('/')}/*",
            "v4 watches globs; dir/* is v3's one-level directory scan",
        )
    kubeconfs = lists.get("watch-kubeconf", [])
    if kubeconfs:
        b.sources.append({"kind": "kubeconfig", "name": "cli-kubeconf", "paths": [v for _, v in kubeconfs]})
        for pos, value in kubeconfs:
            b.change(pos, f"--watch-kubeconf {value}", f"sources[cli-kubeconf].paths: {value}")
    if "watch-kube-secrets" not in seen:
        for pos, flag, _value in parsed:
            if flag.long in KUBE_ONLY:
                b.warn(pos, f"--{flag.long}: ignored, v3 used it only with --watch-kube-secrets")
        return
    _kubernetes(b, parsed, lists)


def _kubernetes(b: _Builder, parsed, lists: dict) -> None:
    source: dict = {"kind": "kubernetes", "name": "cli-kube"}
    values = {flag.long: (pos, value) for pos, flag, value in parsed if flag.kind != "list"}
    for pos, flag, _value in parsed:
        if flag.long == "watch-kube-secrets":
            b.change(pos, "--watch-kube-secrets", "sources[cli-kube] (kind: kubernetes)")
    if "kubeconfig" in values:
        pos, value = values["kubeconfig"]
        source["kubeconfig"] = value
        b.change(pos, f"--kubeconfig {value}", f"sources[cli-kube].kubeconfig: {value}")
    qps, burst = values.get("kube-api-rate-limit-qps"), values.get("kube-api-rate-limit-burst")
    if qps and burst:
        q, r = (
            _int(qps[0], _BY_LONG["kube-api-rate-limit-qps"], qps[1]),
            _int(burst[0], _BY_LONG["kube-api-rate-limit-burst"], burst[1]),
        )
        if q > 0 and r > 0:
            source["rateLimit"] = {"qps": q, "burst": r}
            b.change(
                qps[0],
                f"--kube-api-rate-limit-qps {qps[1]} --kube-api-rate-limit-burst {burst[1]}",
                f"sources[cli-kube].rateLimit: {{qps: {q}, burst: {r}}}",
            )
    elif qps or burst:
        pos = next(found for found in (qps, burst) if found)[0]
        b.warn(
            pos,
            "v3 rate-limited the Kubernetes API only with both --kube-api-rate-limit-qps and "
            "--kube-api-rate-limit-burst; ignored",
        )
    namespaces: dict[str, list[str]] = {}
    for flag, key in (
        ("include-namespace", "include"),
        ("exclude-namespace", "exclude"),
        ("include-namespace-label", "includeLabels"),
        ("exclude-namespace-label", "excludeLabels"),
    ):
        for pos, value in lists.get(flag, []):
            namespaces.setdefault(key, []).append(value)
            b.change(pos, f"--{flag} {value}", f"sources[cli-kube].namespaces.{key}: {value}")
            if key in ("include", "exclude") and any(ch in value for ch in "*?["):
                b.warn(pos, f"--{flag} {value}: v4 reads namespace names as shell globs")
    if namespaces:
        source["namespaces"] = namespaces
    secrets: dict = {}
    for flag, key in (("include-label", "includeLabels"), ("exclude-label", "excludeLabels")):
        for pos, value in lists.get(flag, []):
            secrets.setdefault(key, []).append(value)
            b.change(pos, f"--{flag} {value}", f"sources[cli-kube].secrets.{key}: {value}")
    types = []
    for pos, value in lists.get("secret-type", []):
        kind, sep, pattern = value.partition(":")
        if not sep:
            raise InputError(ARGV, pos, f"--secret-type {value}: needs type:key-regexp (v3 refused it too)")
        types.append({"type": kind, "keyPatterns": [pattern], "format": "pem"})
        b.change(
            pos,
            f"--secret-type {value}",
            f"sources[cli-kube].secrets.types: {{type: {kind}, keyPatterns: [{pattern}]}}",
            "the v3 key was already a regexp",
        )
    if not types:
        b.warn(0, "--watch-kube-secrets without --secret-type: v3 watched no Secret; secrets.types is left empty")
    secrets["types"] = types
    for pos, value in lists.get("expose-secret-label", []):
        secrets.setdefault("exposeLabels", []).append(value)
        b.change(pos, f"--expose-secret-label {value}", f"sources[cli-kube].secrets.exposeLabels: {value}")
    source["secrets"] = secrets
    keys = lists.get("configmap-keys", [])
    if keys:
        source["configMaps"] = {"keyPatterns": [f"^{quote_meta(v)}$" for _, v in keys], "format": "pem"}
        for pos, value in keys:
            b.change(
                pos,
                f"--configmap-keys {value}",
                f"sources[cli-kube].configMaps.keyPatterns: ^{quote_meta(value)}$",
                "v3 matched ConfigMap keys exactly, v4 takes anchored regexps",
            )
    b.sources.append(source)
