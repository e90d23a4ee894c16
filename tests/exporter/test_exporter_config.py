"""Configuration: the v4 schema, refusals with one clear line each, v3 shortcuts."""

from __future__ import annotations

import pytest
import yaml

from x509_mixin.exporter.cli import build_config, main
from x509_mixin.exporter.config import ConfigError, parse_config


def test_full_schema(tmp_path):
    cfg = parse_config(
        {
            "web": {"enableStats": False},
            "server": {"listen": "127.0.0.1:9999", "probeListen": ":9798", "readTimeout": "5s", "writeTimeout": "1m"},
            "log": {"level": "debug", "format": "json"},
            "metrics": {
                "exposeRelative": True,
                "exposeSubjectFields": ["cn", "O"],
                "trimPathComponents": 1,
                "collisionDiscriminator": "always",
                "collisionDiscriminatorLength": 10,
            },
            "cache": {"filePoll": {"interval": "1m30s", "skipUnchanged": False}},
            "sources": [
                {
                    "kind": "file",
                    "name": "a",
                    "paths": ["/etc/ssl/*.pem"],
                    "excludePaths": ["/etc/ssl/x*"],
                    "followSymlinks": False,
                    "refreshInterval": "10s",
                    "formats": ["pem", "pkcs12"],
                    "pkcs12": {"passphrase": "p", "tryEmptyPassphrase": True},
                },
                {"kind": "kubeconfig", "name": "k", "paths": ["/root/.kube/config"]},
            ],
        }
    )
    assert cfg.server.read_timeout == 5 and cfg.server.write_timeout == 60
    assert cfg.cache.poll_interval == 90 and not cfg.cache.skip_unchanged
    assert cfg.metrics.expose_subject_fields == ("O", "CN")
    assert cfg.interval(cfg.sources[0]) == 10 and cfg.interval(cfg.sources[1]) == 90
    assert "passphrase='p'" not in repr(cfg)


@pytest.mark.parametrize(
    "data,needle",
    [
        ({"sources": [{"kind": "kubernetes", "name": "k"}]}, "sources[0].kind: 'kubernetes' is not supported"),
        ({"sources": [{"kind": "cabundle", "name": "c"}]}, "github.com/enix/x509-certificate-exporter"),
        (
            {"sources": [{"kind": "file", "name": "a", "paths": ["/x"], "secrets": {}}]},
            "sources[0].secrets: only applies",
        ),
        ({"sources": [{"kind": "file", "name": "a", "paths": ["/x"], "formats": ["jks"]}]}, "'jks' is not supported"),
        ({"sources": [{"kind": "file", "name": "a", "paths": ["rel/x"]}]}, "use absolute paths"),
        (
            {"sources": [{"kind": "file", "name": "a", "paths": ["/x"], "refreshInterval": "soon"}]},
            "sources[0].refreshInterval: invalid value 'soon'",
        ),
        ({"metrics": {"collisionDiscriminator": "sometimes"}}, "use auto, always or never"),
        # Upstream drops unknown DN field names silently (docs/exporter.md, Differences).
        (
            {"metrics": {"exposeSubjectFields": ["CN", "email"]}},
            "metrics.exposeSubjectFields: invalid value ['CN', 'email']; use fields among",
        ),
        ({"metrics": {"exposeRelative": "yes"}}, "metrics.exposeRelative: invalid value 'yes'; expected true or false"),
        ({"cache": {"filePoll": {"intervall": "1s"}}}, "cache.filePoll.intervall: unknown key"),
        ({"server": {"listen": "nowhere"}}, "server.listen: invalid value 'nowhere'"),
        (
            {
                "sources": [
                    {
                        "kind": "file",
                        "name": "a",
                        "paths": ["/x"],
                        "pkcs12": {"passphrase": "TopSecret1"},
                        "formats": ["pem"],
                    }
                ]
            },
            "formats does not list pkcs12",
        ),
    ],
)
def test_refusals(data, needle):
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    text = "\n".join(e.value.problems)
    assert needle in text
    assert "TopSecret1" not in text


def test_cli_exit_status_2_one_line_per_problem(tmp_path, capsys):
    p = tmp_path / "c.yaml"
    p.write_text("sources:\n- {kind: kubernetes, name: k}\nmetrics: {exposeRelative: 3, bogus: 1}\n")
    assert main(["--config", str(p)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("config: ") for line in err)
    assert main(["--config", str(tmp_path / "missing.yaml")]) == 2
    assert main(["--watch-kube-secrets"]) == 2
    assert main(["--expose-relative-metrics"]) == 2
    assert "metrics.exposeRelative" in capsys.readouterr().err
    assert main([]) == 2
    assert "none configured" in capsys.readouterr().err


def test_v3_shortcuts_map_onto_the_schema(tmp_path):
    cfg, warnings = build_config(
        [
            "-d",
            "/etc/ssl/certs/",
            "-f",
            "/etc/a.pem",
            "-k",
            "/root/.kube/config",
            "-b",
            ":9100",
            "--web.config.file",
            "/etc/web.yml",
            "--debug",
        ]
    )
    kinds = {(s.name, s.kind, s.paths) for s in cfg.sources}
    assert kinds == {
        ("cli-dir-etc-ssl-certs", "file", ("/etc/ssl/certs/*",)),
        ("cli-files", "file", ("/etc/a.pem",)),
        ("cli-kubeconf", "kubeconfig", ("/root/.kube/config",)),
    }
    assert cfg.server.listen == ":9100" and cfg.server.web_config_file == "/etc/web.yml"
    assert cfg.log.level == "debug"
    assert len(warnings) == 6 and all("deprecated" in w for w in warnings)


SECRET = "Zq7-Distinctive-Passphrase-0x5EC12E7"


@pytest.fixture
def run_main(capsys, caplog):
    """main(argv) -> (status, everything written to stderr and the log)."""
    import logging

    def run(argv):
        status = main(argv)
        root = logging.getLogger("x509_mixin")  # main() set up its own logging: give it back to pytest
        root.handlers[:] = []
        root.propagate = True
        root.setLevel(logging.NOTSET)
        return status, capsys.readouterr().err + caplog.text

    return run


@pytest.mark.parametrize(
    "yaml_text",
    [
        # the passphrase where a mapping, list or string should be: the whole source could be echoed
        f"sources: {{kind: file, name: a, paths: [/x], formats: [pkcs12], pkcs12: {{passphrase: {SECRET}}}}}\n",
        f"sources: [[{{kind: file, name: a, pkcs12: {{passphrase: {SECRET}}}}}]]\n",
        f"sources: [{{kind: file, name: a, paths: [/x], formats: [pkcs12], pkcs12: {SECRET}}}]\n",
        f"sources: [{{kind: file, name: a, paths: [/x], formats: [pkcs12], pkcs12: [{SECRET}]}}]\n",
        f"sources: [{{kind: file, name: a, paths: [/x], formats: [pkcs12], pkcs12: {{passphrase: [{SECRET}]}}}}]\n",
        f"sources: [{{kind: file, name: a, paths: [/x], formats: [pem], pkcs12: {{passphrase: {SECRET}}}}}]\n",
        f"sources: [{{kind: file, name: a, paths: [/x], pathMappings: [{{from: /a, to: 1, pkcs12: {{passphrase: {SECRET}}}}}]}}]\n",
        f"sources: [{{kind: file, name: [{{pkcs12: {{passphrase: {SECRET}}}}}], paths: [/x]}}]\n",
        # broken YAML on the passphrase's own line: the parser's message would quote it
        f'sources:\n- kind: file\n  pkcs12:\n    passphrase: "{SECRET}\n',
        f"sources:\n- kind: file\n  pkcs12: {{passphrase: {SECRET}, passphrase: {SECRET}}}\n",
        f"sources:\n- kind: file\n  pkcs12:\n    passphrase: {SECRET}\n   bad: indent\n",
    ],
)
def test_no_error_echoes_a_passphrase(tmp_path, run_main, yaml_text):
    p = tmp_path / "c.yaml"
    p.write_text(yaml_text)
    status, err = run_main(["--config", str(p)])
    assert status == 2 and err.strip()
    assert SECRET not in err and SECRET[:12] not in err


def _with_web_config(tmp_path, web) -> list[str]:
    p = tmp_path / "with-web.yaml"
    p.write_text(
        yaml.safe_dump(
            {"server": {"webConfigFile": str(web)}, "sources": [{"kind": "file", "name": "a", "paths": ["/x"]}]}
        )
    )
    return ["--config", str(p)]


def test_no_error_echoes_a_secret_file_given_by_mistake(tmp_path, run_main):
    """A passphraseFile or a bare bcrypt hash passed as --config or as the web config."""
    secret_file = tmp_path / "p12-passphrase"
    for content in (SECRET, f"{SECRET}: [", f"'{SECRET}", "$2y$10$" + SECRET):
        secret_file.write_text(content + "\n")
        status, err = run_main(["--config", str(secret_file)])
        assert status == 2 and SECRET not in err and err.startswith("config: ")
        status, err = run_main(_with_web_config(tmp_path, secret_file))
        assert status == 2 and SECRET not in err and err.startswith(f"web config: {secret_file}: ")


@pytest.mark.parametrize("value", [f"'{SECRET}'", f"'$2y$10${SECRET}'", f"'$2y$10${SECRET[:10]}'", "12345"])
def test_no_error_echoes_a_basic_auth_hash_or_password(tmp_path, run_main, value):
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  alice: {value}\n")
    status, err = run_main(_with_web_config(tmp_path, web))
    assert (status, err.count("\n")) == (2, 1) and "basic_auth_users.alice: not a valid bcrypt hash" in err
    assert value.strip("'") not in err


def test_duplicate_keys_are_refused_with_file_line_and_key(tmp_path, run_main):
    p = tmp_path / "c.yaml"
    p.write_text(
        "server:\n  listen: ':9793'\nsources:\n- kind: file\n  name: a\n  paths: [/x]\n  pkcs12:\n"
        f"    passphrase: {SECRET}\n    passphrase: {SECRET}\n"
    )
    status, err = run_main(["--config", str(p)])
    assert (status, err) == (
        2,
        f"config: --config {p}: line 9: duplicate key sources[0].pkcs12.passphrase (first set at line 8); "
        "keep only one\n",
    )
    p.write_text("server:\n  listen: ':1'\nlog: {level: info}\nserver: {}\n")
    assert run_main(["--config", str(p)]) == (
        2,
        f"config: --config {p}: line 4: duplicate key server (first set at line 1); keep only one\n",
    )
    web = tmp_path / "web.yml"
    web.write_text("http_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Frame-Options: sameorigin\n")
    assert run_main(_with_web_config(tmp_path, web)) == (
        2,
        f"web config: {web}: line 4: duplicate key http_server_config.headers.X-Frame-Options (first set at line 3); "
        "keep only one\n",
    )


@pytest.mark.parametrize("key", ["listen", "probeListen"])
def test_busy_port_names_its_key_and_address(tmp_path, run_main, key):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        address = f"127.0.0.1:{busy.getsockname()[1]}"
        server = {"listen": "127.0.0.1:0", key: address}
        p = tmp_path / "c.yaml"
        p.write_text(yaml.safe_dump({"server": server, "sources": [{"kind": "file", "name": "a", "paths": ["/x"]}]}))
        status, err = run_main(["--config", str(p)])
    assert status == 2
    assert (
        err.splitlines()[-1]
        == f"exporter: server.{key} {address}: cannot listen (Address already in use); pick a free address"
    )
