"""The status page in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from exporter_helpers import file_source, make_cert, name

from x509_mixin.exporter.registry import STATUS_ROWS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium missing: run scripts/ensure-chromium.sh (make test does)"
)


def dump_dom(url: str, tmp_path) -> str:
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
        timeout=120,
    )
    assert "<h1>x509 certificate exporter" in out.stdout, out.stderr[-2000:]
    return out.stdout


@pytest.mark.slow
@needs_chromium
def test_status_page_in_headless_chromium(tmp_path, exporter, ca):
    certs = tmp_path / "certs"
    certs.mkdir()
    evil = '<script>alert("x")</script> & "quotes"'
    (certs / "good.pem").write_bytes(make_cert(subject=name(O=evil, CN="good"), issuer=ca).pem)
    (certs / "bad<b>.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n")
    (certs / "empty.pem").write_bytes(b"")
    run = exporter({"sources": [file_source(certs / "*.pem", name="host <pki>")], "web": {"enableStats": True}})
    run.metrics_text()
    dom = dump_dom(f"http://127.0.0.1:{run.port}/", tmp_path)
    assert 'id="readiness" class="ok">ready<' in dom
    # the source row, escaped names, bundle and failing counts
    assert 'data-name="host &lt;pki&gt;"' in dom and '<td class="bundles">3</td>' in dom
    assert '<td class="failing">2</td>' in dom and '<td class="state">idle</td>' in dom
    # errors by reason
    assert '<td class="reason">bad_pem</td><td class="count">1</td>' in dom
    assert '<td class="reason">no_certificate_found</td><td class="count">1</td>' in dom
    # bundles, failing first, with the hostile file name escaped (no element was created from it)
    places = re.findall(r'<td class="place">([^<]*)</td>', dom)
    assert [p.rsplit("/", 1)[1] for p in places] == ["bad&lt;b&gt;.pem", "empty.pem", "good.pem"]
    assert "<b>.pem" not in dom and "<script>" not in dom
    assert '<td id="cache-certificates">1</td>' in dom
    assert "3 of 3 bundles shown, failing first (2 failing)." in dom


@pytest.mark.slow
@needs_chromium
def test_status_page_stays_small_at_10000_bundles(tmp_path, exporter, ca):
    """A summary per source and a bounded list, failing bundles first, saying how many are not shown."""
    pem = make_cert("many", issuer=ca).pem
    for d in range(10):
        sub = tmp_path / f"d{d}"
        sub.mkdir()
        for i in range(1000):
            (sub / f"c{i:04d}.pem").write_bytes(pem)
    broken = [tmp_path / "d7" / f"c{i:04d}.pem" for i in (3, 500, 999)]
    for p in broken:
        p.write_bytes(b"not a certificate")
    run = exporter({"sources": [file_source(tmp_path / "*" / "*.pem", name="big")], "web": {"enableStats": True}})
    status, html, _ = run.request("/")
    assert status == 200 and len(html) < 150_000  # 10,000 unpaged rows would be several MB
    dom = dump_dom(f"http://127.0.0.1:{run.port}/", tmp_path)
    assert '<td class="bundles">10000</td>' in dom and '<td class="certificates">9997</td>' in dom
    assert '<td class="failing">3</td>' in dom
    places = re.findall(r'<td class="place">([^<]*)</td>', dom)
    assert len(places) == STATUS_ROWS
    assert places[:3] == [str(p) for p in broken]  # the failing ones first
    assert places[3:5] == [str(tmp_path / "d0" / "c0000.pem"), str(tmp_path / "d0" / "c0001.pem")]
    assert f"{STATUS_ROWS} of 10000 bundles shown, failing first (3 failing)" in dom
    assert f'<span id="bundles-hidden">{10000 - STATUS_ROWS}</span> not shown' in dom
    assert '<td class="reason">no_certificate_found</td><td class="count">3</td>' in dom


def test_status_page_off(tmp_path, exporter, ca):
    (tmp_path / "a.pem").write_bytes(make_cert("a", issuer=ca).pem)
    run = exporter({"sources": [file_source(tmp_path / "a.pem")], "web": {"enableStats": False}})
    status, body, _ = run.request("/")
    assert status == 200 and "Cache statistics" not in body and "/metrics" in body
