"""The HTTP server: /metrics, /healthz, /readyz and the status page `/`.

One thread per connection, at most `server.maxConnections` of them (see connections.py for the
deadlines and the eviction of slow clients). TLS, response headers and basic auth come from the
web config in force when the connection or request arrives.
"""

from __future__ import annotations

import io
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any, cast

from OpenSSL import SSL

from x509_mixin.exporter.connections import Conn, ConnReader, ConnTable, ConnWriter, deadline
from x509_mixin.exporter.statuspage import render_status

if TYPE_CHECKING:
    from x509_mixin.exporter.app import Exporter

log = logging.getLogger("x509_mixin.exporter")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ListenError(Exception):
    """A listener could not be opened; names the configuration key and the address."""

    def __init__(self, key: str, address: str, reason: str):
        self.key, self.address, self.reason = key, address, reason
        super().__init__(f"exporter: {key} {address}: cannot listen ({reason}); pick a free address")


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    return host, int(port)


class _Server(HTTPServer):
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, exporter: Exporter, probes_only: bool, tls: bool):
        self.exporter = exporter
        self.probes_only = probes_only
        self.tls = tls
        self.conns = ConnTable(exporter.cfg.server.max_connections)
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, _Handler)

    def process_request(self, request, client_address):
        # Runs in the accept loop: no I/O here; the TLS handshake runs in the connection's thread.
        conn = Conn(request, deadline(self.exporter.cfg.server.read_timeout))
        if not self.conns.admit(conn):
            log.debug("refused a connection from %s: %d connections busy", client_address[0], self.conns.cap)
            conn.close()
            return
        threading.Thread(target=self._serve, args=(conn, client_address), daemon=True).start()

    def _serve(self, conn: Conn, client_address) -> None:
        try:
            if self.tls:
                web = self.exporter.web.current() if self.exporter.web else None
                assert web is not None and web.tls_context is not None and web.tls is not None
                conn.start_tls(web.tls_context)
                if web.tls.allowed_sans is not None and conn.tls and conn.tls.get_peer_certificate() is None:
                    # Go calls VerifyPeerCertificate with no certificate and exporter-toolkit then fails
                    log.debug("TLS client %s sent no certificate but client_allowed_sans is set", client_address[0])
                    return
            _Handler(cast(Any, conn), client_address, self)  # a socket-like Conn, read through setup()
        except (OSError, SSL.Error) as e:
            log.debug("connection from %s ended: %s", client_address[0], e)
        except Exception:  # noqa: BLE001 - one connection never stops the server
            log.debug("connection error from %s", client_address[0], exc_info=True)
        finally:
            self.conns.release(conn)
            conn.close()

    def server_close(self):
        super().server_close()
        self.conns.abort_all()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    request: Conn
    rfile: io.BufferedReader
    protocol_version = "HTTP/1.1"
    server_version = "x509-mixin-exporter"
    sys_version = ""

    def setup(self):
        self.rfile = io.BufferedReader(ConnReader(self.request), 65536)
        self.wfile = ConnWriter(self.request)

    def handle(self):
        cfg = self.server.exporter.cfg.server
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection:
            # Keep-alive, as Go: wait up to readTimeout for the next request, then readTimeout to read it.
            self.server.conns.waiting(self.request, deadline(cfg.read_timeout))
            try:
                if not self.rfile.peek(1):
                    return
            except (TimeoutError, OSError):
                return
            self.server.conns.waiting(self.request, deadline(cfg.read_timeout))
            self.handle_one_request()

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        # The request header is in: the response has writeTimeout from now, and the connection is busy.
        self.server.conns.serving(self.request, deadline(self.server.exporter.cfg.server.write_timeout))
        if self.headers.get("Content-Length", "0").strip() != "0" or "Transfer-Encoding" in self.headers:
            self.close_connection = True  # a body we do not read: never parse it as the next request
        return True

    def log_message(self, format, *args):  # quiet access log (debug only)
        log.debug("%s %s", self.address_string(), format % args)

    def _send(
        self,
        code: int,
        body: bytes | list[bytes],
        ctype: str = "text/plain; charset=utf-8",
        extra: dict[str, str] | None = None,
    ) -> None:
        chunks = body if isinstance(body, list) else [body]
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(sum(len(c) for c in chunks)))
        web = self.server.exporter.web.current() if self.server.exporter.web else None
        for k, v in web.headers.items() if web else ():
            self.send_header(k, v)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            for c in chunks:
                self.wfile.write(c)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        exp = self.server.exporter
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            return self._send(200, b"ok")
        if path == "/readyz":
            state = exp.readiness()
            return self._send(200 if state == "ready" else 503, state.encode())
        if self.server.probes_only:
            return self._send(404, b"not found")
        web = exp.web.current() if exp.web else None
        if web is not None and not web.check(self.headers.get("Authorization")):
            return self._send(401, b"Unauthorized", extra={"WWW-Authenticate": 'Basic realm="x509-exporter"'})
        if path == "/metrics":
            try:
                body = exp.registry.render()
            except Exception:  # noqa: BLE001 - never stop serving
                log.exception("rendering /metrics failed")
                exp.registry.mark_panic("metrics")
                return self._send(500, b"internal error")
            return self._send(200, body, CONTENT_TYPE)
        if path == "/":
            if exp.cfg.enable_stats:
                page = render_status(exp.registry.snapshot(), exp.ready())
            else:
                page = (
                    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>x509 certificate exporter</title>'
                    '</head><body><h1>x509 certificate exporter</h1><p><a href="/metrics">Metrics</a></p>'
                    "</body></html>"
                )
            return self._send(200, page.encode("utf-8"), "text/html; charset=utf-8")
        return self._send(404, b"not found")


def make_server(key: str, listen: str, exporter: Exporter, probes_only: bool = False, tls: bool = False) -> _Server:
    """A bound server for `listen`; ListenError naming `key` (server.listen, server.probeListen) if it cannot."""
    host, port = split_listen(listen)
    try:
        return _Server((host, port), exporter, probes_only, tls)
    except OSError as e:
        raise ListenError(key, listen, e.strerror or str(e)) from None
