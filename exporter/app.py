"""Wiring: config -> registry + sources (one thread each) + HTTP server(s)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from x509_mixin.exporter.config import Config, SourceConfig
from x509_mixin.exporter.kubeconfig import KubeconfigSource
from x509_mixin.exporter.memory import tune_malloc
from x509_mixin.exporter.registry import Registry
from x509_mixin.exporter.server import ListenError, make_server
from x509_mixin.exporter.sources import Source
from x509_mixin.exporter.webconfig import LiveWebConfig

log = logging.getLogger("x509_mixin.exporter")


def make_source(scfg: SourceConfig, cfg: Config, registry: Registry) -> Source:
    return (KubeconfigSource if scfg.kind == "kubeconfig" else Source)(scfg, cfg, registry)


class Exporter:
    def __init__(self, cfg: Config, web: LiveWebConfig | None = None):
        self.cfg = cfg
        if web is None and cfg.server.web_config_file:
            web = LiveWebConfig(cfg.server.web_config_file)  # ConfigError: refused before anything listens
        self.web = web
        self.registry = Registry(
            cfg.metrics, [(s.kind, s.name, s.formats) for s in cfg.sources], enable_stats=cfg.enable_stats
        )
        self.sources = [make_source(s, cfg, self.registry) for s in cfg.sources]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._servers: list[Any] = []

    def readiness(self) -> str:
        """`ready` once every source finished its first poll; `stalled` while a poll has overrun
        its bound; `syncing` before."""
        now = time.monotonic()
        stats = [s.stats for s in self.sources if s.stats is not None]
        if any(st.stuck(now) for st in stats):
            return "stalled"
        return "ready" if all(st.synced for st in stats) else "syncing"

    def ready(self) -> bool:
        return self.readiness() == "ready"

    @property
    def port(self) -> int:
        return self._servers[0].server_address[1]

    @property
    def probe_port(self) -> int | None:
        return self._servers[1].server_address[1] if len(self._servers) > 1 else None

    def start(self) -> Exporter:
        tune_malloc()
        tls = self.web is not None and self.web.current().tls is not None
        self._servers.append(make_server("server.listen", self.cfg.server.listen, self, tls=tls))
        if self.cfg.server.probe_listen:
            try:
                self._servers.append(make_server("server.probeListen", self.cfg.server.probe_listen, self, True))
            except ListenError:
                self._servers.pop().server_close()
                raise
        for srv in self._servers:
            t = threading.Thread(
                target=srv.serve_forever,
                kwargs={"poll_interval": 0.2},
                daemon=True,
                name=f"http-{srv.server_address[1]}",
            )
            t.start()
            self._threads.append(t)
        log.info("listening on %s (%s)", self.cfg.server.listen, "https" if tls else "http")
        for src in self.sources:
            t = threading.Thread(target=src.run, args=(self._stop,), daemon=True, name=f"source-{src.name}")
            t.start()
            self._threads.append(t)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and polling; a source stuck in a read is left behind after `timeout` (daemon threads)."""
        self._stop.set()
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        log.info("stopped")

    def __enter__(self) -> Exporter:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
