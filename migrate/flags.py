"""`migrate flags`: a v3 command line -> the v4 YAML configuration (`--config FILE`).

The v3 flags are those of cmd/x509-certificate-exporter/main.go at v3.21.0; the v4 schema is
internal/config/config.go at v4.2.0, whose ApplyCLI also gives the source names used here
(cli-files, cli-dir-<dir>, cli-kubeconf, cli-kube), so series keep the `source_name` the
deprecated v4 shortcuts would give them.
"""

from __future__ import annotations

import io
import re
import shlex
from dataclasses import dataclass

from ruamel.yaml import YAML

from x509_mixin.catalogue.metrics import CLI_FILES_SOURCE, CLI_KUBECONF_SOURCE, cli_dir_source
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

# The v4 exporter's command line (cmd/x509-certificate-exporter/main.go, v4.2.0, parsed by kong):
# long name -> (short name, is a bool).
V4_FLAGS: dict[str, tuple[str | None, bool]] = {
    "config": ("C", False),
    "watch-file": ("f", False),
    "watch-dir": ("d", False),
    "watch-kubeconf": ("k", False),
    "watch-kube-secrets": (None, True),
    "listen-address": ("b", False),
    "web.config.file": (None, False),
    "probe.listen-address": (None, False),
    "debug": (None, True),
    "profile": (None, True),
    "version": ("v", True),
    "help": ("h", True),
}
KONG_BOOLS = ("true", "1", "yes", "false", "0", "no")  # what kong reads in `--flag=value`, any case
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


def v4_argument(arg: str) -> tuple[str | None, str | None]:
    """How the v4 exporter's command line (kong) takes a flag argument that v3 (getopt) took:
    (None, None) as it is; (the same flag as kong spells it, why) when only the spelling differs
    (`--f=x`, `--debug=on`); (None, "not accepted") for a flag v4 does not have."""
    if not arg.startswith("--"):
        shorts = {short for short, _ in V4_FLAGS.values()}
        return (None, None) if arg[1:2] in shorts else (None, "not accepted")
    name, eq, value = arg[2:].partition("=")
    if name not in V4_FLAGS:
        long = next((flag for flag, (short, _) in V4_FLAGS.items() if short == name), None)
        if long is None:
            return None, "not accepted"
        return f"--{long}{eq}{value}", f"kong takes -{name} or --{long}, not --{name}"
    if V4_FLAGS[name][1] and eq and value.lower() not in KONG_BOOLS:
        truth = go_bool(value)
        if truth is None:
            return None, "not accepted"
        return f"--{name}={str(truth).lower()}", f"kong reads a bool value as one of {', '.join(KONG_BOOLS)}"
    return None, None


def quote_meta(text: str) -> str:
    """Go's regexp.QuoteMeta: v3 matched ConfigMap keys exactly, v4 takes regular expressions."""
    return "".join("\\" + ch if ch in _GO_REGEXP_SPECIAL else ch for ch in text)


def go_bool(value: str) -> bool | None:
    """getopt v2's reading of a bool flag's value (`--debug=off`), None when it refuses it."""
    lowered = value.lower()
    if lowered in ("", "1", "true", "on", "t"):
        return True
    if lowered in ("0", "false", "off", "f"):
        return False
    return None


_GO_INT = re.compile(r"[+-]?(0[xX](_?[0-9a-fA-F])+|0[oO](_?[0-7])+|0[bB](_?[01])+|0(_?[0-7])*|[1-9](_?[0-9])*)")
_GO_DURATION = re.compile(r"[+-]?(0|((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)")


def go_int(value: str) -> int:
    """Go's strconv.ParseInt(value, 0, 64), which getopt's IntLong uses: 0x1f, 0o17, 017 (octal), 1_000."""
    if not _GO_INT.fullmatch(value):
        raise ValueError(value)
    sign = -1 if value.startswith("-") else 1
    digits = value.lstrip("+-").replace("_", "")
    if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
        number = int(digits, 8)
    else:
        number = int(digits, 0)
    number *= sign
    if not -(2**63) <= number < 2**63:
        raise ValueError(value)
    return number


@dataclass(frozen=True)
class Arg:
    pos: int  # position in the command line (1-based; the report's "line")
    flag: Flag
    value: str  # bools: "true" or "false"
    shown: str  # as the report names it: `--flag value`, `--flag=off`


def parse(argv: list[str]) -> list[Arg]:
    """The flags in order, read as v3's flag library (github.com/pborman/getopt/v2) read them:
    `--long value`, `--long=value`, `-s value`, `-svalue`, clustered bool shorts (`-hv`), the long
    spelling of a short name (`--f value`), and bool values `--flag=1|0|t|f|true|false|on|off`
    (any case; `--flag` alone is true). Parsing stops at `--`."""
    out: list[Arg] = []
    i = 0
    if argv and not argv[0].startswith("-"):
        i = 1  # the program name
    while i < len(argv):
        arg, pos = argv[i], i + 1
        if arg == "--":
            if argv[i + 1 :]:
                raise InputError(ARGV, pos + 1, "v3 read nothing after --: remove what follows it", " ".join(argv))
            break
        if arg.startswith("--"):
            name, eq, inline = arg[2:].partition("=")
            flag = _BY_LONG.get(name) or (_BY_SHORT.get(name) if len(name) == 1 else None)
            if flag is None:
                raise InputError(ARGV, pos, f"unknown v3 flag --{name}", " ".join(argv))
            if flag.kind == "bool":
                truth = go_bool(inline)
                if truth is None:
                    raise InputError(ARGV, pos, f"--{name}={inline}: not a bool (v3 refused it too)", " ".join(argv))
                shown = f"--{flag.long}" + (f"={inline}" if eq else "")
                out.append(Arg(pos, flag, "true" if truth else "false", shown))
            elif eq:
                out.append(Arg(pos, flag, inline, f"--{flag.long} {inline}"))
            elif i + 1 < len(argv):
                i += 1
                out.append(Arg(pos, flag, argv[i], f"--{flag.long} {argv[i]}"))
            else:
                raise InputError(ARGV, pos, f"--{name} needs a value", " ".join(argv))
        elif arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                flag = _BY_SHORT.get(arg[j])
                if flag is None:
                    raise InputError(ARGV, pos, f"unknown v3 flag -{arg[j]}", " ".join(argv))
                if flag.kind == "bool":
                    out.append(Arg(pos, flag, "true", f"--{flag.long}"))
                    j += 1
                    continue
                if j + 1 < len(arg):
                    value = arg[j + 1 :]
                elif i + 1 < len(argv):
                    i += 1
                    value = argv[i]
                else:
                    raise InputError(ARGV, pos, f"-{arg[j]} needs a value", " ".join(argv))
                out.append(Arg(pos, flag, value, f"--{flag.long} {value}"))
                break
        else:
            raise InputError(ARGV, pos, f"unexpected argument {arg!r} (v3 takes flags only)", " ".join(argv))
        i += 1
    for a in out:
        if a.flag.long == "max-cache-duration" and not _GO_DURATION.fullmatch(a.value):
            raise InputError(ARGV, a.pos, f"--max-cache-duration {a.value}: not a Go duration (v3 refused it too)")
    return out


def _int(pos: int, flag: Flag, value: str) -> int:
    try:
        return go_int(value)
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
    truth = {a.flag.long: a.value == "true" for a in parsed if a.flag.kind == "bool"}  # the last one counts
    lists: dict[str, list[tuple[int, str]]] = {}
    for a in parsed:
        pos, flag, value, shown, name = a.pos, a.flag, a.value, a.shown, a.flag.long
        if flag.kind == "list":
            lists.setdefault(name, []).append((pos, value))
            continue
        if name in ("help", "version"):
            b.warn(pos, f"{shown}: not a runtime setting, ignored")
        elif name in _SETTINGS:
            section, key, kind = _SETTINGS[name]
            setting: object = value
            if kind == "int":
                setting = _int(pos, flag, value)
            elif kind == "bool":
                setting = value == "true"
            b.section(section)[key] = setting
            b.change(pos, shown, f"{section}.{key}: {value if kind != 'int' else setting}")
        elif name == "debug":
            b.section("log")["level"] = "debug" if value == "true" else "info"
            b.change(pos, shown, f"log.level: {b.section('log')['level']}")
        elif name == "profile":
            b.config.setdefault("diagnostics", {}).setdefault("pprof", {})["enabled"] = value == "true"
            b.change(
                pos, shown, f"diagnostics.pprof.enabled: {value}", "v4 serves pprof on diagnostics.pprof.listen (:6060)"
            )
        elif name == "expose-labels":
            _expose_labels(b, pos, shown, value)
        elif name == "skip-symlinks":
            follow = "false" if value == "true" else "true"
            b.change(pos, shown, f"sources[*].followSymlinks: {follow}", "v4 sets it per file and kubeconfig source")
        elif name == "max-cache-duration":
            b.warn(pos, f"{shown}: no v4 equivalent (v4 watches the Kubernetes API instead of caching lists); dropped")
        elif name == "watch-kube-secrets" and value != "true":
            b.change(pos, shown, "(no kubernetes source)", "v3 watched no Secret with it false")
    _sources(b, parsed, lists, truth.get("watch-kube-secrets", False))
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
    if truth.get("skip-symlinks"):
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


def _sources(b: _Builder, parsed: list[Arg], lists: dict, kube: bool) -> None:
    files = lists.get("watch-file", [])
    if files:
        b.sources.append({"kind": "file", "name": CLI_FILES_SOURCE, "paths": [v for _, v in files], "formats": ["pem"]})
        for pos, value in files:
            b.change(pos, f"--watch-file {value}", f"sources[cli-files].paths: {value}")
            if any(ch in value for ch in "*?["):
                b.warn(pos, f"--watch-file {value}: v4 paths are globs, and this one has glob characters")
    for pos, value in lists.get("watch-dir", []):
        name = cli_dir_source(value)
        b.sources.append({"kind": "file", "name": name, "paths": [value.rstrip("/") + "/*"], "formats": ["pem"]})
        b.change(
            pos,
            f"--watch-dir {value}",
            f"sources[{name}].paths: {value.rstrip('/')}/*",
            "v4 watches globs; dir/* is v3's one-level directory scan",
        )
    kubeconfs = lists.get("watch-kubeconf", [])
    if kubeconfs:
        b.sources.append({"kind": "kubeconfig", "name": CLI_KUBECONF_SOURCE, "paths": [v for _, v in kubeconfs]})
        for pos, value in kubeconfs:
            b.change(pos, f"--watch-kubeconf {value}", f"sources[cli-kubeconf].paths: {value}")
    if not kube:
        for a in parsed:
            if a.flag.long in KUBE_ONLY:
                b.warn(a.pos, f"--{a.flag.long}: ignored, v3 used it only with --watch-kube-secrets")
        return
    _kubernetes(b, parsed, lists)


def _kubernetes(b: _Builder, parsed: list[Arg], lists: dict) -> None:
    source: dict = {"kind": "kubernetes", "name": "cli-kube"}
    values = {a.flag.long: (a.pos, a.value) for a in parsed if a.flag.kind != "list"}
    for a in parsed:
        if a.flag.long == "watch-kube-secrets" and a.value == "true":
            b.change(a.pos, a.shown, "sources[cli-kube] (kind: kubernetes)")
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
