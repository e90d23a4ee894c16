"""The status page in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from exporter_helpers import file_source, make_cert, name

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium missing: run scripts/ensure-chromium.sh (make test does)")
def test_status_page_in_headless_chromium(tmp_path, exporter, ca):
    certs = tmp_path / "certs"
    certs.mkdir()
    evil = '<script>alert("x")</script> & "quotes"'
    (certs / "good.pem").write_bytes(make_cert(subject=name(O=evil, CN="good"), issuer=ca).pem)
    (certs / "bad<b>.pem").write_bytes(b"garbage")
    (certs / "empty.pem").write_bytes(b"")
    run = exporter({"sources": [file_source(certs / "*.pem", name="host <pki>")], "web": {"enableStats": True}})
    run.metrics_text()
    url = f"http://127.0.0.1:{run.port}/"
    out = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    dom = out.stdout
    assert "<h1>x509 certificate exporter" in dom, out.stderr[-2000:]
    assert 'id="readiness" class="ok">ready<' in dom
    # the source row, escaped names, bundle count
    assert 'data-name="host &lt;pki&gt;"' in dom and '<td class="bundles">3</td>' in dom
    # errors by reason
    assert '<td class="reason">bad_pem</td><td class="count">1</td>' in dom
    assert '<td class="reason">no_certificate_found</td><td class="count">1</td>' in dom
    # bundles, with the hostile file name escaped (no element was created from it)
    assert "bad&lt;b&gt;.pem" in dom and "<b>.pem" not in dom
    assert '<td id="cache-certificates">1</td>' in dom
    assert "<script>" not in dom


def test_status_page_off(tmp_path, exporter, ca):
    (tmp_path / "a.pem").write_bytes(make_cert("a", issuer=ca).pem)
    run = exporter({"sources": [file_source(tmp_path / "a.pem")], "web": {"enableStats": False}})
    status, body, _ = run.request("/")
    assert status == 200 and "Cache statistics" not in body and "/metrics" in body
