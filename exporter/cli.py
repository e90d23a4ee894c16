"""`x509-mixin exporter`: run the reference exporter.

`--config FILE` takes the v4 YAML schema. The deprecated v3 shortcuts map onto the same
schema (each logs a deprecation warning). Bad input: one line per problem on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time

from x509_mixin.catalogue.metrics import CLI_FILES_SOURCE, CLI_KUBECONF_SOURCE, cli_dir_source
from x509_mixin.exporter.config import UPSTREAM, ConfigError, parse_config, read_config_file

log = logging.getLogger("x509_mixin.exporter")

# v3 flags without a v4 shortcut: the YAML key to use instead.
_V3_YAML_ONLY = {
    "--expose-relative-metrics": "metrics.exposeRelative: true",
    "--expose-per-cert-error-metrics": "metrics.exposePerCertError: true",
    "--trim-path-components": "metrics.trimPathComponents: N",
    "--max-cache-duration": "cache.filePoll.interval",
    "--exclude-glob": "sources[].excludePaths",
    "--include-glob": "sources[].paths",
    "--secret-type": "a kubernetes source (upstream exporter)",
    "--include-namespace": "a kubernetes source (upstream exporter)",
    "--exclude-namespace": "a kubernetes source (upstream exporter)",
    "--include-label": "a kubernetes source (upstream exporter)",
    "--exclude-label": "a kubernetes source (upstream exporter)",
    "--configmap-keys": "a kubernetes source (upstream exporter)",
    "--expose-labels": "a kubernetes source (upstream exporter)",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line, exit status 2
        raise ConfigError([f"exporter: {message}; see `x509-mixin exporter --help`"])


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="x509-mixin exporter",
        description="Reference x509 certificate exporter (file and kubeconfig sources, v4 metric surface).",
    )
    p.add_argument("--config", metavar="FILE", help="YAML configuration (the v4 schema)")
    g = p.add_argument_group("deprecated v3 shortcuts (prefer --config)")
    g.add_argument("-f", "--watch-file", action="append", default=[], metavar="PATH")
    g.add_argument("-d", "--watch-dir", action="append", default=[], metavar="DIR")
    g.add_argument("-k", "--watch-kubeconf", action="append", default=[], metavar="PATH")
    g.add_argument("--watch-kube-secrets", action="store_true")
    g.add_argument("-b", "--listen-address", metavar="ADDR")
    g.add_argument("--web.config.file", dest="web_config_file", metavar="FILE")
    g.add_argument("--debug", action="store_true")
    g.add_argument("--profile", action="store_true")
    return p


def build_config(argv: list[str]):
    """(Config, list of deprecation warnings); raises ConfigError."""
    for a in argv:
        flag = a.split("=", 1)[0]
        if flag in _V3_YAML_ONLY:
            raise ConfigError(
                [
                    f"exporter: {flag}: a v3 flag with no v4 shortcut; set {_V3_YAML_ONLY[flag]} in the "
                    f"--config YAML instead (`x509-mixin migrate flags` converts a v3 command line)"
                ]
            )
    args = _parser().parse_args(argv)
    data: dict = {}
    if args.config:
        data = read_config_file(args.config) or {}
        if not isinstance(data, dict):
            raise ConfigError([f"config: {args.config}: expected a mapping at the top level"])
    warnings: list[str] = []

    def deprecated(flag: str, key: str) -> None:
        warnings.append(f"flag {flag} is deprecated: set {key} in a --config YAML file instead")

    sources = list(data.get("sources") or []) if isinstance(data.get("sources") or [], list) else data["sources"]
    # Named as upstream's ApplyCLI names them, so series keep their source_name when moving to v4.
    if args.watch_file:
        deprecated("--watch-file", "sources[] (kind: file, paths)")
        paths = [os.path.abspath(p) for p in args.watch_file]
        sources.append({"kind": "file", "name": CLI_FILES_SOURCE, "paths": paths})
    if args.watch_dir:
        deprecated("--watch-dir", "sources[] (kind: file, paths: [DIR/*])")
    for directory in args.watch_dir:
        paths = [os.path.join(os.path.abspath(directory), "*")]
        sources.append({"kind": "file", "name": cli_dir_source(directory), "paths": paths})
    if args.watch_kubeconf:
        deprecated("--watch-kubeconf", "sources[] (kind: kubeconfig, paths)")
        paths = [os.path.abspath(p) for p in args.watch_kubeconf]
        sources.append({"kind": "kubeconfig", "name": CLI_KUBECONF_SOURCE, "paths": paths})
    if args.watch_kube_secrets:
        raise ConfigError(
            [
                f"exporter: --watch-kube-secrets: Kubernetes sources are not supported by the bundled "
                f"reference exporter; run the upstream x509-certificate-exporter ({UPSTREAM})"
            ]
        )
    if sources:
        data["sources"] = sources
    if args.listen_address:
        deprecated("--listen-address", "server.listen")
        data.setdefault("server", {})
        if isinstance(data["server"], dict):
            data["server"]["listen"] = args.listen_address
    if args.web_config_file:
        deprecated("--web.config.file", "server.webConfigFile")
        data.setdefault("server", {})
        if isinstance(data["server"], dict):
            data["server"]["webConfigFile"] = args.web_config_file
    if args.debug:
        deprecated("--debug", "log.level: debug")
        data.setdefault("log", {})
        if isinstance(data["log"], dict):
            data["log"]["level"] = "debug"
    if args.profile:
        warnings.append("flag --profile is deprecated and has no effect in the reference exporter (no pprof)")
    cfg = parse_config(data)
    if not cfg.sources:
        raise ConfigError(
            [
                "config: sources: none configured; add a source of kind file, e.g. "
                "{kind: file, name: host, paths: [/etc/ssl/certs/*.pem]}, or pass --watch-dir DIR"
            ]
        )
    return cfg, warnings


class _JsonFormatter(logging.Formatter):
    def format(self, record):
        d = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(record.created)),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        if record.exc_info:
            d["error"] = self.formatException(record.exc_info)
        return json.dumps(d)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s level=%(levelname)s msg=%(message)s"))
    root = logging.getLogger("x509_mixin")
    root.handlers[:] = [handler]
    root.setLevel(
        {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}[level]
    )
    root.propagate = False


def main(argv: list[str]) -> int:
    try:
        cfg, warnings = build_config(list(argv))
    except ConfigError as e:
        for line in e.problems:
            print(line, file=sys.stderr)
        return 2
    except SystemExit as e:  # --help
        return int(e.code or 0)
    setup_logging(cfg.log.level, cfg.log.format)
    for w in warnings:
        log.warning(w)
    from x509_mixin.exporter.app import Exporter
    from x509_mixin.exporter.server import ListenError

    try:
        exporter = Exporter(cfg)
        exporter.start()
    except ConfigError as e:
        for line in e.problems:
            print(line, file=sys.stderr)
        return 2
    except ListenError as e:
        print(e, file=sys.stderr)
        return 2
    log.info("serving on port %d", exporter.port)
    stop = threading.Event()

    def _graceful(signum, _frame):
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _graceful)
    signal.signal(signal.SIGINT, _graceful)
    while not stop.wait(1.0):
        pass
    exporter.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
