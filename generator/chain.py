"""The whole chain on this machine: the bundled exporter, Debian's Prometheus and Alertmanager
with the generated rules and configuration, and a webhook receiver that collects what
Alertmanager sends. Everything listens on 127.0.0.1 on a port the system picks (each server
logs the one it got). Used by `make demo` and by the end-to-end test.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import yaml

from x509_mixin.generator.amtool import as_loaded
from x509_mixin.generator.build import ALERTMANAGER_FILE, ALERTS_FILE, RULES_FILE, render
from x509_mixin.mixin.config import NULL_RECEIVER, Config

JOB = "x509-certificate-exporter"
# What each server logs once it listens (the exporter: its own line; Prometheus and
# Alertmanager: the exporter-toolkit's).
_EXPORTER_PORT = re.compile(r"serving on port (\d+)")
_TOOLKIT_PORT = re.compile(r'msg="Listening on" address=127\.0\.0\.1:(\d+)')


T = TypeVar("T")


class ChainError(RuntimeError):
    pass


def binary(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise ChainError(f"{names[0]} not found on PATH: install Debian's Prometheus packages (`make tools`)")


def wait_until(what: str, condition: Callable[[], T | None], timeout: float, step: float = 0.2) -> T:
    """Poll `condition` until it returns something true; ChainError naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
        except OSError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise ChainError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(step)


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass
class Server:
    """A started program: its process, its log, the port it listens on."""

    name: str
    proc: subprocess.Popen
    log_path: Path
    port: int = 0
    signalled: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def running(self) -> bool:
        return self.proc.poll() is None

    def request_stop(self, sig: int = signal.SIGTERM) -> None:
        """Ask it once to stop (a second signal could land after its handlers are gone)."""
        if self.proc.poll() is None and not self.signalled:
            self.proc.send_signal(sig)
            self.signalled = True

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Ask it to stop, wait, kill it if it will not; its exit status."""
        if self.proc.poll() is None:
            self.request_stop(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start(name: str, argv: list[str], log_path: Path, port_line: re.Pattern, timeout: float = 60) -> Server:
    """Start a program with its output in `log_path`, and read its port from its log."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        # Its own session: a Ctrl-C in the terminal reaches the caller, which stops it in order.
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    server = Server(name, proc, log_path)

    def port() -> int | None:
        if not server.running():
            raise ChainError(f"{name} exited with status {proc.returncode}:\n{server.log()}")
        m = port_line.search(server.log())
        return int(m[1]) if m else None

    try:
        server.port = wait_until(f"{name} to listen", port, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def wait_ready(server: Server, path: str, timeout: float = 60) -> None:
    wait_until(f"{server.name} to be ready ({path})", lambda: http_get(server.url + path)[0] == 200, timeout)


def start_exporter(config: dict, workdir: Path, name: str = "exporter") -> Server:
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    argv = [sys.executable, "-m", "x509_mixin.generator.cli", "exporter", "--config", str(path)]
    return start(name, argv, workdir / f"{name}.log", _EXPORTER_PORT)


def start_alertmanager(config: dict, workdir: Path) -> Server:
    path = workdir / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    argv = [
        binary("alertmanager", "prometheus-alertmanager"),
        f"--config.file={path}",
        f"--storage.path={workdir / 'alertmanager-data'}",
        "--web.listen-address=127.0.0.1:0",
        "--cluster.listen-address=",  # no gossip: a single Alertmanager, no port to share
        "--log.level=debug",  # what it received, inhibited and sent: for a failing test's report
    ]
    return start("alertmanager", argv, workdir / "alertmanager.log", _TOOLKIT_PORT)


def start_prometheus(
    workdir: Path, rule_files: list[Path], jobs: dict[str, list[str]], alertmanager: str | None, interval: str
) -> Server:
    """Prometheus scraping `jobs` and evaluating `rule_files` every `interval`, sending alerts to
    `alertmanager` (host:port) when there is one."""
    config: dict = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": targets}]} for job, targets in jobs.items()
        ],
    }
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    argv = [
        binary("prometheus"),
        f"--config.file={path}",
        f"--storage.tsdb.path={workdir / 'prometheus-data'}",
        "--web.listen-address=127.0.0.1:0",
    ]
    return start("prometheus", argv, workdir / "prometheus.log", _TOOLKIT_PORT)


# ---- the receiver -------------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    receiver: str
    status: str
    alerts: list[dict]
    group_labels: dict[str, str]
    received: float  # time.time()


class Webhook:
    """An HTTP server on 127.0.0.1 that records each notification Alertmanager posts to it."""

    def __init__(self, on_notification: Callable[[Notification], None] | None = None):
        self._lock = threading.Condition()
        self._received: list[Notification] = []
        self._on = on_notification
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.end_headers()
                webhook._record(body)

            def log_message(self, *args):  # quiet: the caller prints what it wants
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, receiver: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{receiver}"

    def _record(self, body: dict) -> None:
        note = Notification(body["receiver"], body["status"], body["alerts"], body.get("groupLabels", {}), time.time())
        with self._lock:
            self._received.append(note)
            self._lock.notify_all()
        if self._on:
            self._on(note)

    @property
    def received(self) -> list[Notification]:
        with self._lock:
            return list(self._received)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_metrics(body: Callable[[], bytes]) -> ThreadingHTTPServer:
    """A scrape target on 127.0.0.1 (free port) answering every GET with `body()` in the text
    exposition format: stands in for an exporter of other certificates."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            data = body()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # quiet: the caller prints what it wants
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def fill_receivers(config: dict, integrations: Callable[[str], dict]) -> dict:
    """The generated configuration with its placeholder receivers filled in, as a user does;
    the receiver sent nowhere stays without integration."""
    filled = copy.deepcopy(config)
    for receiver in filled["receivers"]:
        if receiver["name"] != NULL_RECEIVER:
            receiver.update(integrations(receiver["name"]))
    return filled


# ---- the chain ----------------------------------------------------------------------------


@dataclass
class Chain:
    workdir: Path
    webhook: Webhook
    servers: list[Server] = field(default_factory=list)

    def server(self, name: str) -> Server:
        return next(s for s in self.servers if s.name == name)

    @property
    def exporters(self) -> list[Server]:
        return [s for s in self.servers if s.name.startswith("exporter")]

    def logs(self, lines: int = 150) -> str:
        """The end of every server's log (the whole log stays in its file)."""
        return "\n".join(
            f"==== {s.name}: last {lines} lines of {s.log_path}\n" + "\n".join(s.log().splitlines()[-lines:])
            for s in self.servers
        )

    def stop(self) -> None:
        """Prometheus first (no alert is sent to a stopped Alertmanager), then the others."""
        for server in sorted(self.servers, key=lambda s: s.name != "prometheus"):
            server.stop()
        self.webhook.stop()


def start_chain(
    cfg: Config,
    workdir: Path,
    exporter_config: dict,
    replicas: int = 1,
    other_jobs: dict[str, list[str]] | None = None,
    interval: str = "1s",
    on_notification: Callable[[Notification], None] | None = None,
) -> Chain:
    """Receiver, Alertmanager, `replicas` exporters (same configuration) and Prometheus, all
    ready. Whatever started is stopped again if a later step fails."""
    workdir.mkdir(parents=True, exist_ok=True)
    files = render(cfg)
    for rel in (ALERTS_FILE, RULES_FILE, ALERTMANAGER_FILE):
        (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
        (workdir / rel).write_text(files[rel])
    generated = as_loaded(cfg, yaml.safe_load(files[ALERTMANAGER_FILE]))
    chain = Chain(workdir, Webhook(on_notification))
    try:
        config = fill_receivers(generated, lambda name: {"webhook_configs": [{"url": chain.webhook.url(name)}]})
        chain.servers.append(start_alertmanager(config, workdir))
        for i in range(replicas):
            name = "exporter" if replicas == 1 else f"exporter-{i + 1}"
            chain.servers.append(start_exporter(exporter_config, workdir, name))
        targets = [f"127.0.0.1:{s.port}" for s in chain.exporters]
        jobs = {JOB: targets, **(other_jobs or {})}
        alertmanager = f"127.0.0.1:{chain.server('alertmanager').port}"
        rules = [workdir / ALERTS_FILE, workdir / RULES_FILE]
        chain.servers.append(start_prometheus(workdir, rules, jobs, alertmanager, interval))
        for server, path in _readiness(chain.servers):
            wait_ready(server, path)
    except BaseException:
        chain.stop()
        raise
    return chain


def _readiness(servers: Iterable[Server]) -> list[tuple[Server, str]]:
    return [(s, "/readyz" if s.name.startswith("exporter") else "/-/ready") for s in servers]
