"""server.readTimeout / writeTimeout / maxConnections: slow and idle clients cannot starve a scrape."""

from __future__ import annotations

import http.client
import socket
import time

import pytest
from exporter_helpers import file_source, make_cert
from tls_helpers import client_context, issue, server_pair, tls_get


def _closed_by_server(sock: socket.socket, within: float, trickle: bytes = b"") -> float:
    """Seconds until the server closes `sock`, sending `trickle` every 50 ms meanwhile (a slow client)."""
    sock.settimeout(0.05)
    t0 = time.monotonic()
    while time.monotonic() - t0 < within:
        try:
            if sock.recv(1024) == b"":
                return time.monotonic() - t0
        except TimeoutError:
            pass
        except ConnectionError:
            return time.monotonic() - t0
        if trickle:
            try:
                sock.sendall(trickle)
            except (BrokenPipeError, ConnectionError):
                return time.monotonic() - t0
    raise AssertionError(f"the server kept the connection open for {within} s")


@pytest.fixture
def served(tmp_path, ca):
    (tmp_path / "a.pem").write_bytes(make_cert("a", issuer=ca).pem)
    return [file_source(tmp_path / "a.pem")]


def test_read_timeout_bounds_the_whole_request_header(exporter, served):
    """A client sending one header line every 50 ms never lets a single read time out, yet is cut."""
    run = exporter({"sources": served, "server": {"listen": "127.0.0.1:0", "readTimeout": "600ms"}})
    with socket.create_connection(("127.0.0.1", run.port)) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        elapsed = _closed_by_server(s, 10, trickle=b"X-Slow: 1\r\n")
    assert 0.5 < elapsed < 5


def test_read_timeout_bounds_the_tls_handshake(exporter, served, tmp_path):
    ca = issue("CA", ca=True)
    server_pair(ca).write(tmp_path, "server")
    (tmp_path / "web.yml").write_text("tls_server_config: {cert_file: server.crt, key_file: server.key}\n")
    run = exporter(
        {
            "sources": served,
            "server": {"listen": "127.0.0.1:0", "readTimeout": "600ms", "webConfigFile": str(tmp_path / "web.yml")},
        }
    )
    with socket.create_connection(("127.0.0.1", run.port)) as s:
        # a handshake record of 512 bytes holding a ClientHello of 508, then its body a byte at a time
        s.sendall(b"\x16\x03\x01\x02\x00" + b"\x01\x00\x01\xfc")
        elapsed = _closed_by_server(s, 10, trickle=b"\x03")
    assert 0.5 < elapsed < 5


def test_keep_alive_serves_several_requests_then_closes_when_idle(exporter, served):
    run = exporter({"sources": served, "server": {"listen": "127.0.0.1:0", "readTimeout": "600ms"}})
    conn = http.client.HTTPConnection("127.0.0.1", run.port, timeout=10)
    for _ in range(3):
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, b"ok")
    elapsed = _closed_by_server(conn.sock, 10)  # idle: closed after readTimeout, as Go's IdleTimeout default
    assert 0.5 < elapsed < 5
    conn.close()


@pytest.mark.parametrize("tls", [False, True])
def test_timeout_zero_means_no_timeout(exporter, served, tmp_path, tls):
    """readTimeout/writeTimeout "0" (Go: none): TLS handshakes and requests split in pieces work."""
    server = {"listen": "127.0.0.1:0", "readTimeout": "0", "writeTimeout": "0"}
    ca = issue("CA", ca=True)
    if tls:
        server_pair(ca).write(tmp_path, "server")
        (tmp_path / "web.yml").write_text("tls_server_config: {cert_file: server.crt, key_file: server.key}\n")
        server["webConfigFile"] = str(tmp_path / "web.yml")
    run = exporter({"sources": served, "server": server})
    raw = socket.create_connection(("127.0.0.1", run.port), timeout=10)
    if tls:
        ca_file, _ = ca.write(tmp_path, "ca")
        raw = client_context(ca_file).wrap_socket(raw, server_hostname="127.0.0.1")
    with raw:
        for piece in (b"GET /metr", b"ics HTTP/1.1\r\nHo", b"st: x\r\n", b"\r\n"):
            raw.sendall(piece)
            time.sleep(0.05)  # let the server read each piece alone (a short pause never makes it fail)
        response = b""
        while b"x509_exporter_build_info" not in response:
            chunk = raw.recv(65536)
            assert chunk, response
            response += chunk
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")


def _slow_clients(port: int, n: int, kind: str) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if kind == "partial-request":
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    return socks


@pytest.mark.parametrize("kind", ["idle", "partial-request"])
def test_scrapes_succeed_while_slow_clients_hold_connections(exporter, served, kind):
    """Three times as many slow clients as maxConnections, with a long readTimeout: scrapes still succeed."""
    run = exporter({"sources": served, "server": {"listen": "127.0.0.1:0", "readTimeout": "60s", "maxConnections": 8}})
    table = run.exp._servers[0].conns
    slow = _slow_clients(run.port, 24, kind)
    try:
        for _ in range(5):
            t0 = time.monotonic()
            status, body, _ = run.request("/metrics")
            assert status == 200 and 'subject_CN="a"' in body
            assert time.monotonic() - t0 < 5
        assert len(table) <= 8
        # the oldest slow clients were closed to make room; the newest still wait
        assert _closed_by_server(slow[0], 5) < 5
    finally:
        for s in slow:
            s.close()


def test_scrapes_succeed_while_slow_tls_clients_hold_connections(exporter, served, tmp_path):
    """The default cap (64) and 100 clients that connect and never finish their TLS handshake."""
    ca = issue("CA", ca=True)
    server_pair(ca).write(tmp_path, "server")
    ca_file, _ = ca.write(tmp_path, "ca")
    (tmp_path / "web.yml").write_text("tls_server_config: {cert_file: server.crt, key_file: server.key}\n")
    run = exporter({"sources": served, "server": {"listen": "127.0.0.1:0", "webConfigFile": str(tmp_path / "web.yml")}})
    slow = _slow_clients(run.port, 100, "idle")
    try:
        for _ in range(3):
            status, info = tls_get(run.port, client_context(ca_file))
            assert status == 200, info
        assert len(run.exp._servers[0].conns) <= 64
    finally:
        for s in slow:
            s.close()


def test_max_connections_refusals():
    from x509_mixin.exporter.config import ConfigError, parse_config

    for bad in (0, -1, "10", True, 1.5):
        with pytest.raises(ConfigError) as e:
            parse_config({"server": {"maxConnections": bad}})
        assert e.value.problems == [
            f"config: server.maxConnections: invalid value {bad!r}; expected an integer >= 1 (default 64)"
        ]
    assert parse_config({}).server.max_connections == 64
    assert parse_config({"server": {"maxConnections": 3}}).server.max_connections == 3
