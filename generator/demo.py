"""`make demo`: the whole chain on this machine, for a person to look at.

The bundled exporter over example certificates (expired, expiring, overdue, a chain whose
intermediate expires first, CRLs, a bad file, a keystore it cannot open), Prometheus with the
generated rules, Alertmanager with the generated configuration, and a receiver that prints each
notification here. Everything listens on 127.0.0.1 on ports the system picks; Ctrl-C stops it
all and removes the files (unless --workdir keeps them).
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from x509_mixin.generator import demo_pki
from x509_mixin.generator.chain import Chain, ChainError, Notification, Server, http_get, start_chain
from x509_mixin.mixin.config import ALERT_NAMES, load

# The defaults, but for time: alerts fire 10 seconds after their condition holds rather than a
# quarter of an hour, and Alertmanager groups for seconds rather than minutes.
CONFIG = {
    "alertFor": dict.fromkeys(ALERT_NAMES, "10s"),
    "exporter": {"exposeNotBefore": True, "exposePerCertError": True},  # as the example exporter
    "alertmanager": {"groupWait": "5s", "groupInterval": "10s", "repeatInterval": "1h"},
}


def describe(note: Notification) -> str:
    """A notification as a person reads it: when, where to, what, one line per alert."""
    when = time.strftime("%H:%M:%S", time.localtime(note.received))
    names = sorted({a["labels"]["alertname"] for a in note.alerts})
    count = f"{len(note.alerts)} alert" + ("s" if len(note.alerts) > 1 else "")
    lines = [f"{when} [{note.receiver}] {note.status.upper()}: {', '.join(names)} ({count})"]
    for alert in note.alerts:
        lines.append(f"    {alert['status']:8} {alert['annotations'].get('description', alert['labels'])}")
    return "\n".join(lines)


def _print(text: str) -> None:
    print(text, flush=True)


def _alerts_page(prometheus: Server) -> str:
    # Prometheus builds with the web UI serve /alerts; Debian's package only the classic pages.
    for path in ("/alerts", "/classic/alerts"):
        if http_get(prometheus.url + path)[0] == 200:
            return prometheus.url + path
    return prometheus.url + "/api/v1/alerts"


def _banner(chain: Chain) -> str:
    prometheus, alertmanager = chain.server("prometheus"), chain.server("alertmanager")
    exporter = chain.exporters[0]
    return "\n".join(
        [
            f"x509-mixin demo, working in {chain.workdir}",
            f"  Prometheus alerts:  {_alerts_page(prometheus)}",
            f"  Alertmanager UI:    {alertmanager.url}/#/alerts",
            f"  Alertmanager API:   {alertmanager.url}/api/v2/alerts"
            f"  (Debian's package has no UI: amtool --alertmanager.url={alertmanager.url} alert query --all)",
            f"  Exporter status:    {exporter.url}/",
            "  pids: " + ", ".join(f"{s.name} {s.proc.pid}" for s in chain.servers),
            f"  generated files:    {chain.workdir}/rules (prometheus_alerts.yaml, alertmanager.yaml)",
            "Notifications are printed below as Alertmanager sends them (within a minute). Ctrl-C stops everything.",
        ]
    )


def run(workdir: Path, stop: threading.Event) -> int:
    pki = workdir / "pki"
    demo_pki.write_examples(pki)
    chain = start_chain(
        load(CONFIG),
        workdir,
        demo_pki.exporter_config(pki, interval="5s"),
        on_notification=lambda note: _print(describe(note)),
    )
    try:
        _print(_banner(chain))
        while not stop.wait(0.5):
            dead = [s for s in chain.servers if not s.running()]
            if dead:
                _print(f"{dead[0].name} stopped unexpectedly; its log:\n{dead[0].log()}")
                return 1
    finally:
        chain.stop()
        _print("stopped: " + ", ".join(f"{s.name} (exit {s.proc.returncode})" for s in chain.servers))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m x509_mixin.generator.demo", description=__doc__)
    parser.add_argument("--workdir", type=Path, help="keep every file there (default: a temporary directory)")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if args.workdir:
            return run(args.workdir.resolve(), stop)
        with tempfile.TemporaryDirectory(prefix="x509-mixin-demo-") as tmp:
            return run(Path(tmp), stop)
    except ChainError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
