"""The HTTP server: /metrics, /healthz, /readyz and the status page `/`."""

from __future__ import annotations

import logging
import socket
import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from x509_mixin.exporter.statuspage import render_status

if TYPE_CHECKING:
    from x509_mixin.exporter.app import Exporter

log = logging.getLogger("x509_mixin.exporter")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    return host, int(port)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, handler, exporter: Exporter, probes_only: bool, tls: ssl.SSLContext | None):
        self.exporter = exporter
        self.probes_only = probes_only
        self.tls = tls
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the request's own thread, never in the accept loop.
        if self.tls is not None:
            try:
                request.settimeout(self.exporter.cfg.server.read_timeout)
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                log.debug("TLS handshake with %s failed: %s", client_address[0], e)
                try:
                    request.close()
                except OSError:
                    pass
                return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        log.debug("connection error from %s", client_address[0], exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "x509-mixin-exporter"
    sys_version = ""

    def setup(self):
        super().setup()
        self.connection.settimeout(self.server.exporter.cfg.server.read_timeout)

    def log_message(self, fmt, *args):  # quiet access log (debug only)
        log.debug("%s %s", self.address_string(), fmt % args)

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
        wc = self.server.exporter.web
        for k, v in wc.headers.items() if wc else ():
            self.send_header(k, v)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.connection.settimeout(self.server.exporter.cfg.server.write_timeout)
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
            return self._send(200, b"ready") if exp.ready() else self._send(503, b"syncing")
        if self.server.probes_only:
            return self._send(404, b"not found")
        wc = exp.web
        if wc is not None and not wc.check(self.headers.get("Authorization")):
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


def make_server(
    listen: str, exporter: Exporter, probes_only: bool = False, tls: ssl.SSLContext | None = None
) -> _Server:
    host, port = split_listen(listen)
    return _Server((host, port), _Handler, exporter, probes_only, tls)
