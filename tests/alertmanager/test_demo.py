"""`make demo`: it starts the chain, prints URLs that answer and the notifications, and Ctrl-C
(SIGINT) stops every process it started."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading

import pytest

from x509_mixin.generator.chain import http_get, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("prometheus") and (shutil.which("alertmanager") or shutil.which("prometheus-alertmanager"))),
        reason="needs Debian's prometheus and prometheus-alertmanager (make tools)",
    ),
]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_demo_prints_urls_and_notifications_and_stops_everything_on_ctrl_c(tmp_path):
    demo = subprocess.Popen(
        [sys.executable, "-m", "x509_mixin.generator.demo", "--workdir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:
        for line in demo.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    pids: dict[str, int] = {}
    try:
        banner = wait_until("the demo's URLs", lambda: next((x for x in lines if x.startswith("  pids:")), None), 90)
        pids = {name: int(pid) for name, pid in re.findall(r"(\w+) (\d+)", banner)}
        assert set(pids) == {"alertmanager", "exporter", "prometheus"}
        urls = dict(re.findall(r"^  ([\w ]+):\s+(http://127\.0\.0\.1:\d+/\S*)", "".join(lines), re.M))
        assert set(urls) == {"Prometheus alerts", "Alertmanager UI", "Alertmanager API", "Exporter status"}
        for name, url in urls.items():
            assert http_get(url)[0] == 200, name
        assert b"X509CertificateExpiration" in http_get(urls["Prometheus alerts"])[1]
        assert b"<title>Alertmanager</title>" in http_get(urls["Alertmanager UI"])[1]
        assert http_get(urls["Alertmanager API"])[1].startswith(b"[")
        assert b"Sources" in http_get(urls["Exporter status"])[1]
        # The expired certificate's page, as Alertmanager sent it.
        wait_until(
            "a notification printed",
            lambda: any(re.search(r"\[x509-page\] FIRING: X509CertificateExpiration \(3 alerts\)", x) for x in lines),
            120,
        )
        assert any(
            re.search(r"firing +The certificate CN=expired\.example .* expired 1d 0h \d+m \d+s ago\.", x) for x in lines
        )
        demo.send_signal(signal.SIGINT)
        assert demo.wait(60) == 0
        reader.join(10)
        assert lines[-1].strip() == "stopped: alertmanager (exit 0), exporter (exit 0), prometheus (exit 0)"
        assert all(_gone(pid) for pid in pids.values())
        for url in urls.values():
            with pytest.raises(OSError):
                http_get(url, timeout=2)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        for pid in pids.values():  # only if the demo failed to stop what it started
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)
        print("".join(lines))
