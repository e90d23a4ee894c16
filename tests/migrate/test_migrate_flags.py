"""`x509-mixin migrate flags` on v3 command lines (a systemd unit's, a Kubernetes one)."""

from __future__ import annotations

import shlex

import pytest
from migrate_helpers import fixture_text
from ruamel.yaml import YAML

from x509_mixin.catalogue.metrics import cli_dir_source
from x509_mixin.migrate.flags import V3_FLAGS, go_bool, go_int, quote_meta, v4_argument

SETTINGS = "v4 reads its settings from the YAML file"


def unit_argv() -> list[str]:
    line = next(
        ln for ln in fixture_text("x509-certificate-exporter.service").splitlines() if ln.startswith("ExecStart=")
    )
    return shlex.split(line.removeprefix("ExecStart="))


def test_systemd_unit_command_line(migrate):
    run = migrate("flags", "--", *unit_argv())
    assert run.code == 0
    assert (
        run.out
        == """\
# x509-certificate-exporter v4 configuration (--config FILE), from the v3 command line:
#   /usr/local/bin/x509-certificate-exporter --listen-address=:9793 --watch-dir=/etc/ssl/certs/ -f /etc/kubernetes/pki/apiserver.crt -f /etc/kubernetes/pki/ca.crt -k /etc/kubernetes/admin.conf --trim-path-components=2 --expose-relative-metrics --skip-symlinks --debug
server:
  listen: :9793
log:
  level: debug
sources:
  - kind: file
    name: cli-files
    paths:
      - /etc/kubernetes/pki/apiserver.crt
      - /etc/kubernetes/pki/ca.crt
    formats:
      - pem
    followSymlinks: false
  - kind: file
    name: cli-dir-etc-ssl-certs
    paths:
      - /etc/ssl/certs/*
    formats:
      - pem
    followSymlinks: false
  - kind: kubeconfig
    name: cli-kubeconf
    paths:
      - /etc/kubernetes/admin.conf
    followSymlinks: false
metrics:
  trimPathComponents: 2
  exposeRelative: true
"""
    )
    assert run.err == [
        f"<argv>:2: --listen-address :9793 -> server.listen: :9793 ({SETTINGS})",
        "<argv>:3: --watch-dir /etc/ssl/certs/ -> sources[cli-dir-etc-ssl-certs].paths: /etc/ssl/certs/* "
        "(v4 watches globs; dir/* is v3's one-level directory scan)",
        f"<argv>:4: --watch-file /etc/kubernetes/pki/apiserver.crt -> sources[cli-files].paths: "
        f"/etc/kubernetes/pki/apiserver.crt ({SETTINGS})",
        f"<argv>:6: --watch-file /etc/kubernetes/pki/ca.crt -> sources[cli-files].paths: /etc/kubernetes/pki/ca.crt "
        f"({SETTINGS})",
        f"<argv>:8: --watch-kubeconf /etc/kubernetes/admin.conf -> sources[cli-kubeconf].paths: "
        f"/etc/kubernetes/admin.conf ({SETTINGS})",
        f"<argv>:10: --trim-path-components 2 -> metrics.trimPathComponents: 2 ({SETTINGS})",
        f"<argv>:11: --expose-relative-metrics -> metrics.exposeRelative: true ({SETTINGS})",
        "<argv>:12: --skip-symlinks -> sources[*].followSymlinks: false (v4 sets it per file and kubeconfig source)",
        f"<argv>:13: --debug -> log.level: debug ({SETTINGS})",
        "<argv>:0: warning: v3 always emitted x509_cert_not_before, v4 only with metrics.exposeNotBefore: true: add "
        "it if alerts or dashboards use it (x509-mixin migrate rules|dashboard says which)",
    ]


KUBE = [
    "--watch-kube-secrets",
    "-s",
    "kubernetes.io/tls:tls.crt",
    r"--secret-type=Opaque:^ca\.crt$",
    "-c",
    "ca-bundle.pem",
    "--include-namespace",
    "prod",
    "--exclude-namespace",
    "kube-*",
    "--include-namespace-label",
    "team=a",
    "--exclude-label",
    "skip",
    "--expose-secret-label",
    "app",
    "--kube-api-rate-limit-qps",
    "5",
    "--kube-api-rate-limit-burst=10",
    "--kubeconfig",
    "/etc/kube.conf",
    "-l",
    "subject_CN,issuer_CN,secret_name",
    "--profile",
    "--expose-per-cert-error-metrics",
    "--max-cache-duration",
    "5m",
]


def test_kubernetes_command_line(migrate):
    run = migrate("flags", "--", *KUBE)
    assert run.code == 0
    config = YAML(typ="safe").load(run.out)
    assert config == {
        "diagnostics": {"pprof": {"enabled": True}},
        "sources": [
            {
                "kind": "kubernetes",
                "name": "cli-kube",
                "kubeconfig": "/etc/kube.conf",
                "rateLimit": {"qps": 5, "burst": 10},
                "namespaces": {"include": ["prod"], "exclude": ["kube-*"], "includeLabels": ["team=a"]},
                "secrets": {
                    "excludeLabels": ["skip"],
                    "types": [
                        {"type": "kubernetes.io/tls", "keyPatterns": ["tls.crt"], "format": "pem"},
                        {"type": "Opaque", "keyPatterns": [r"^ca\.crt$"], "format": "pem"},
                    ],
                    "exposeLabels": ["app"],
                },
                "configMaps": {"keyPatterns": [r"^ca-bundle\.pem$"], "format": "pem"},
            }
        ],
        "metrics": {"exposeSubjectFields": ["CN"], "exposeIssuerFields": ["CN"], "exposePerCertError": True},
    }
    warnings = [line for line in run.err if ": warning: " in line]
    assert warnings == [
        "<argv>:0: warning: v3 always emitted x509_cert_not_before, v4 only with metrics.exposeNotBefore: true: add "
        "it if alerts or dashboards use it (x509-mixin migrate rules|dashboard says which)",
        "<argv>:9: warning: --exclude-namespace kube-*: v4 reads namespace names as shell globs",
        "<argv>:22: warning: --expose-labels subject_CN,issuer_CN,secret_name: v4 always emits the other "
        "per-certificate labels (secret_name included); no equivalent for restricting them",
        "<argv>:26: warning: --max-cache-duration 5m: no v4 equivalent (v4 watches the Kubernetes API instead of "
        "caching lists); dropped",
    ]
    assert (
        "<argv>:5: --configmap-keys ca-bundle.pem -> sources[cli-kube].configMaps.keyPatterns: "
        r"^ca-bundle\.pem$ (v3 matched ConfigMap keys exactly, v4 takes anchored regexps)" in run.err
    )


def test_every_v3_flag_is_mapped_or_reported(migrate):
    """Each flag of v3.21.0's main.go gives a change line or a warning naming it."""
    for flag in V3_FLAGS:
        value = {"bool": [], "value": ["1"], "list": ["a:b"]}[flag.kind]
        if flag.long == "max-cache-duration":
            value = ["1m"]  # a Go duration, as v3 required
        run = migrate("flags", "--", "--watch-kube-secrets", "-f", "/x.pem", f"--{flag.long}", *value)
        assert run.code == 0, (flag, run.err)
        assert any(f"--{flag.long}" in line for line in run.err), (flag, run.err)


def test_kube_flags_without_watch_kube_secrets_are_reported(migrate):
    run = migrate("flags", "--", "-d", "/pki", "--include-namespace", "a")
    assert "<argv>:3: warning: --include-namespace: ignored, v3 used it only with --watch-kube-secrets" in run.err
    assert "kubernetes" not in run.out


def test_check(migrate):
    assert migrate("flags", "--check", "--", "-d", "/pki").code == 1
    run = migrate("flags", "--check", "--")
    assert run.code == 0 and run.out == ""


@pytest.mark.parametrize(
    "argv,error",
    [
        (["--watch-everything"], "<argv>:1: error: unknown v3 flag --watch-everything: --watch-everything"),
        (["-f"], "<argv>:1: error: -f needs a value: -f"),
        (["-d", "/a", "stray"], "<argv>:3: error: unexpected argument 'stray' (v3 takes flags only): -d /a stray"),
        (["--trim-path-components", "two"], "<argv>:1: error: --trim-path-components takes an integer, not 'two'"),
        (
            ["--watch-kube-secrets", "--secret-type", "Opaque"],
            "<argv>:2: error: --secret-type Opaque: needs type:key-regexp (v3 refused it too)",
        ),
    ],
)
def test_bad_command_line(migrate, argv, error):
    run = migrate("flags", "--", *argv)
    assert run.code == 2
    assert run.err == [error]
    assert run.out == ""


def test_helpers():
    assert quote_meta("a.b+c*d?(e)|[f]{g}^$\\") == r"a\.b\+c\*d\?\(e\)\|\[f\]\{g\}\^\$\\"
    assert cli_dir_source("/etc/ssl/certs/") == "cli-dir-etc-ssl-certs"
    assert cli_dir_source("//") == "cli-dir-anon"


@pytest.mark.parametrize(
    "spelling,truth",
    [
        ("--debug", True),
        ("--debug=", True),
        ("--debug=1", True),
        ("--debug=t", True),
        ("--debug=TRUE", True),
        ("--debug=On", True),
        ("--debug=0", False),
        ("--debug=f", False),
        ("--debug=False", False),
        ("--debug=off", False),
    ],
)
def test_bool_values_as_getopt_read_them(migrate, spelling, truth):
    run = migrate("flags", "--", "-d", "/pki", spelling)
    assert run.code == 0
    level = "debug" if truth else "info"
    assert YAML(typ="safe").load(run.out)["log"] == {"level": level}
    assert f"<argv>:3: {spelling} -> log.level: {level} ({SETTINGS})" in run.err


def test_bools_of_a_real_command_line(migrate):
    run = migrate(
        "flags",
        "--",
        "--watch-kube-secrets=false",
        "--expose-relative-metrics=on",
        "--expose-per-cert-error-metrics=0",
        "--skip-symlinks=F",
        "--profile=t",
        "-d",
        "/etc/pki",
        "--secret-type",
        "kubernetes.io/tls:tls.crt",
    )
    assert run.code == 0
    assert YAML(typ="safe").load(run.out) == {
        "diagnostics": {"pprof": {"enabled": True}},
        "sources": [{"kind": "file", "name": "cli-dir-etc-pki", "paths": ["/etc/pki/*"], "formats": ["pem"]}],
        "metrics": {"exposeRelative": True, "exposePerCertError": False},
    }
    assert run.err[:5] == [
        "<argv>:1: --watch-kube-secrets=false -> (no kubernetes source) (v3 watched no Secret with it false)",
        f"<argv>:2: --expose-relative-metrics=on -> metrics.exposeRelative: true ({SETTINGS})",
        f"<argv>:3: --expose-per-cert-error-metrics=0 -> metrics.exposePerCertError: false ({SETTINGS})",
        "<argv>:4: --skip-symlinks=F -> sources[*].followSymlinks: true (v4 sets it per file and kubeconfig source)",
        "<argv>:5: --profile=t -> diagnostics.pprof.enabled: true (v4 serves pprof on diagnostics.pprof.listen "
        "(:6060))",
    ]
    assert "<argv>:8: warning: --secret-type: ignored, v3 used it only with --watch-kube-secrets" in run.err


def test_long_spelling_of_a_short_flag(migrate):
    """getopt reads `--f` as `-f` when no long flag is named f (so `--f=x`, `--d x`, `--s=a:b`)."""
    run = migrate("flags", "--", "--f", "/a.pem", "--d=/pki", "--k=/kube.conf", "--b", ":9999", "--watch-kube-secrets")
    config = YAML(typ="safe").load(run.out)
    assert [(s["name"], s.get("paths")) for s in config["sources"]] == [
        ("cli-files", ["/a.pem"]),
        ("cli-dir-pki", ["/pki/*"]),
        ("cli-kubeconf", ["/kube.conf"]),
        ("cli-kube", None),
    ]
    assert config["server"] == {"listen": ":9999"}


@pytest.mark.parametrize("value,number", [("2", 2), ("0x10", 16), ("010", 8), ("0o10", 8), ("0b11", 3), ("1_0", 10)])
def test_integers_as_go_parses_them(migrate, value, number):
    run = migrate("flags", "--", "-d", "/pki", f"--trim-path-components={value}")
    assert YAML(typ="safe").load(run.out)["metrics"] == {"trimPathComponents": number}


@pytest.mark.parametrize(
    "argv,error",
    [
        (["--debug=maybe"], "<argv>:1: error: --debug=maybe: not a bool (v3 refused it too): --debug=maybe"),
        (["--trim-path-components", "08"], "<argv>:1: error: --trim-path-components takes an integer, not '08'"),
        (["--trim-path-components", " 2"], "<argv>:1: error: --trim-path-components takes an integer, not ' 2'"),
        (
            ["--max-cache-duration", "10"],
            "<argv>:1: error: --max-cache-duration 10: not a Go duration (v3 refused it too)",
        ),
        (
            ["-d", "/a", "--", "-f", "/b"],
            "<argv>:4: error: v3 read nothing after --: remove what follows it: -d /a -- -f /b",
        ),
        (["--x=1"], "<argv>:1: error: unknown v3 flag --x: --x=1"),
    ],
)
def test_values_v3_refused(migrate, argv, error):
    run = migrate("flags", "--", *argv)
    assert run.code == 2
    assert run.err == [error]


def test_a_trailing_double_dash_is_fine(migrate):
    assert migrate("flags", "--", "-d", "/a", "--").code == 0


def test_go_helpers():
    assert [go_bool(v) for v in ("", "1", "T", "oN", "0", "F", "OFF", "yes")] == [True] * 4 + [False] * 3 + [None]
    assert go_int("-0x1F") == -31
    with pytest.raises(ValueError):
        go_int("1__0")
    with pytest.raises(ValueError):
        go_int(str(2**63))


@pytest.mark.parametrize(
    "arg,taken",
    [
        ("--watch-file=/a", (None, None)),
        ("-f", (None, None)),
        ("--debug=true", (None, None)),
        ("--debug=YES", (None, None)),
        ("--debug=on", ("--debug=true", "kong reads a bool value as one of true, 1, yes, false, 0, no")),
        ("--profile=f", ("--profile=false", "kong reads a bool value as one of true, 1, yes, false, 0, no")),
        ("--f=/a", ("--watch-file=/a", "kong takes -f or --watch-file, not --f")),
        ("--max-cache-duration=5m", (None, "not accepted")),
        ("-l", (None, "not accepted")),
    ],
)
def test_what_v4_takes(arg, taken):
    assert v4_argument(arg) == taken
