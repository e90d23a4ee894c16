"""Endpoints, --web.config.file (TLS, basic auth), the CLI process and SIGTERM."""

from __future__ import annotations

import base64
import http.client
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt
import pytest
from exporter_helpers import file_source, make_cert
from tls_helpers import issue, server_pair

from x509_mixin.exporter.webconfig import load_web_config


def test_healthz_readyz_syncing_then_ready(tmp_path, exporter, ca, monkeypatch):
    # The first poll is held at its first read, so the exporter is certainly still syncing:
    # /healthz answers at once, /readyz says "syncing" until the poll is released.
    from x509_mixin.exporter import sources

    gate = threading.Event()
    real = sources._read

    def held(path):
        gate.wait(10)
        return real(path)

    monkeypatch.setattr(sources, "_read", held)
    (tmp_path / "a.pem").write_bytes(make_cert("a", issuer=ca).pem)
    run = exporter({"sources": [file_source(tmp_path / "*.pem")]}, wait=False)
    assert run.request("/healthz")[:2] == (200, "ok")
    assert run.request("/readyz")[:2] == (503, "syncing")
    assert "x509_source_up" not in run.metrics_text()  # absent until the first sync
    gate.set()
    end = time.monotonic() + 10
    while run.request("/readyz")[0] != 200 and time.monotonic() < end:
        time.sleep(0.02)
    assert run.request("/readyz")[:2] == (200, "ready")
    assert 'x509_source_up{source_kind="file",source_name="files"} 1' in run.metrics_text()
    assert run.request("/nope")[0] == 404


def _server_cert(tmp_path) -> Path:
    """A serving pair at tls.crt/tls.key for 127.0.0.1, and the CA file a client trusts."""
    ca = issue("Test CA", ca=True)
    server_pair(ca).write(tmp_path, "tls")
    return ca.write(tmp_path, "ca")[0]


@pytest.mark.slow
def test_web_config_tls_and_basic_auth(tmp_path, exporter, ca):
    ca_file = _server_cert(tmp_path)
    (tmp_path / "c.pem").write_bytes(make_cert("c", issuer=ca).pem)
    hashed = bcrypt.hashpw(b"hunter2-secret", bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2y$")
    wc = tmp_path / "web.yml"
    wc.write_text(f"""tls_server_config:
  cert_file: tls.crt
  key_file: tls.key
http_server_config:
  headers:
    X-Frame-Options: deny
basic_auth_users:
  prometheus: '{hashed}'
""")
    ctx = ssl.create_default_context(cafile=str(ca_file))
    good = "Basic " + base64.b64encode(b"prometheus:hunter2-secret").decode()
    bad = "Basic " + base64.b64encode(b"prometheus:wrong").decode()
    run = exporter(
        {"sources": [file_source(tmp_path / "c.pem")], "server": {"listen": "127.0.0.1:0", "webConfigFile": str(wc)}},
        tls_ctx=ctx,
    )
    assert run.request("/metrics")[0] == 401
    status, _, headers = run.request("/metrics", {"Authorization": bad})
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    status, body, headers = run.request("/metrics", {"Authorization": good})
    assert status == 200 and "x509_cert_not_after{" in body and headers["X-Frame-Options"] == "deny"
    assert run.request("/", {"Authorization": good})[0] == 200
    # probes stay open (as kubelet probes need them)
    assert run.request("/healthz")[0] == 200
    # plain HTTP on the TLS port gets no metrics
    with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
        urllib.request.urlopen(f"http://127.0.0.1:{run.port}/metrics", timeout=3).read()
    assert "hunter2" not in body


def test_web_config_errors(tmp_path):
    from x509_mixin.exporter.config import ConfigError

    wc = tmp_path / "web.yml"
    wc.write_text("basic_auth_users:\n  bob: plaintext-password\nbogus: 1\n")
    with pytest.raises(ConfigError) as e:
        load_web_config(str(wc))
    text = "\n".join(e.value.problems)
    assert "basic_auth_users.bob: not a valid bcrypt hash" in text and "bogus: unknown key" in text
    assert "plaintext-password" not in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_cli_v3_flags_and_sigterm(tmp_path, ca):
    (tmp_path / "a.pem").write_bytes(make_cert("cli-cert", issuer=ca).pem)
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from x509_mixin.exporter.cli import main; sys.exit(main(sys.argv[1:]))",
            "--watch-dir",
            str(tmp_path),
            "--listen-address",
            f"127.0.0.1:{port}",
            "--debug",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        end = time.monotonic() + 15
        body = None
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
                        break
            except OSError:
                time.sleep(0.1)
        assert (
            body
            and 'subject_CN="cli-cert"' in body
            and f'source_name="cli-dir-{str(tmp_path).strip("/").replace("/", "-").replace("_", "-")}"' in body
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read()
    assert "--watch-dir is deprecated" in err and "--listen-address is deprecated" in err
    assert "--debug is deprecated" in err and "shutting down" in err
