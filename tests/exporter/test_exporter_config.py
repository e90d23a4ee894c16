"""Configuration: the v4 schema, refusals with one clear line each, v3 shortcuts."""

from __future__ import annotations

import pytest

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
            str(tmp_path),
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
        ("watch-dir", "file", (f"{tmp_path}/*",)),
        ("watch-file", "file", ("/etc/a.pem",)),
        ("watch-kubeconf", "kubeconfig", ("/root/.kube/config",)),
    }
    assert cfg.server.listen == ":9100" and cfg.server.web_config_file == "/etc/web.yml"
    assert cfg.log.level == "debug"
    assert len(warnings) == 6 and all("deprecated" in w for w in warnings)
