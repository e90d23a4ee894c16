"""server.probeListen, server.readTimeout, log.format/level, pathMappings translation."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time

from exporter_helpers import file_source, make_cert

from x509_mixin.exporter.cli import setup_logging


def test_probe_listen_serves_only_probes(tmp_path, exporter, ca):
    (tmp_path / "a.pem").write_bytes(make_cert("a", issuer=ca).pem)
    run = exporter(
        {
            "sources": [file_source(tmp_path / "a.pem")],
            "server": {"listen": "127.0.0.1:0", "probeListen": "127.0.0.1:0"},
        }
    )
    port = run.exp.probe_port
    assert port and port != run.port

    def get(path):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()

    assert get("/healthz") == (200, "ok") and get("/readyz") == (200, "ready")
    assert get("/metrics")[0] == 404


def test_read_timeout_drops_idle_clients(tmp_path, exporter, ca):
    run = exporter(
        {"sources": [file_source(tmp_path / "*.pem")], "server": {"listen": "127.0.0.1:0", "readTimeout": "300ms"}}
    )
    with socket.create_connection(("127.0.0.1", run.port), timeout=5) as s:
        t0 = time.monotonic()
        assert s.recv(10) == b""  # closed by the server, not by our 5 s timeout
        assert time.monotonic() - t0 < 3
    assert run.request("/healthz")[0] == 200


def test_log_format_json_and_level(capsys):
    setup_logging("warn", "json")
    log = logging.getLogger("x509_mixin.exporter")
    log.info("hidden")
    log.warning("shown %s", "here")
    lines = [json.loads(x) for x in capsys.readouterr().err.strip().splitlines()]
    assert [(x["level"], x["msg"]) for x in lines] == [("warning", "shown here")]
    setup_logging("debug", "text")
    log.debug("dbg")
    assert "level=DEBUG msg=dbg" in capsys.readouterr().err
    root = logging.getLogger("x509_mixin")  # back to pytest's capture for the other tests
    root.handlers[:] = []
    root.propagate = True
    root.setLevel(logging.NOTSET)


def test_path_mappings_translate_absolute_targets(tmp_path, exporter, ca):
    """A link written for the host (/host-root/...) read where the host is mounted (tmp/mnt)."""
    mnt = tmp_path / "mnt"
    (mnt / "pki").mkdir(parents=True)
    (mnt / "pki" / "real.pem").write_bytes(make_cert("mapped", issuer=ca).pem)
    watched = tmp_path / "watched"
    watched.mkdir()
    (watched / "link.pem").symlink_to("/host-root/pki/real.pem")
    run = exporter({"sources": [file_source(watched / "*.pem", pathMappings=[{"from": "/host-root", "to": str(mnt)}])]})
    assert [x.labels["subject_CN"] for x in run.samples("x509_cert_not_after")] == ["mapped"]
    assert all(v == 0 for v in run.errors().values())
