"""Rule evaluation cost of certificateOverrides: 10,000 certificates, 5 entries, real Prometheus.

Method: the reference exporter serves 10,000 certificates (one per file); two Prometheus
servers scrape it every 10 s and evaluate, every 10 s, the rules generated for the defaults and
for five entries (three with thresholds and labels, one with labels only, one ignore). Once
every certificate is recorded and a minute has passed (the rules' one-minute subqueries have
data), /api/v1/rules is read after each evaluation: the median evaluation time of each rule
group and of each rule the entries change, side by side, with the ratio. Both servers run at
the same time on the same data, so the machine's noise falls on both.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from benchmarks.common import free_port, get, write_tree
from x509_mixin.generator.build import ALERTS_FILE, RULES_FILE, render
from x509_mixin.mixin.config import load

N = 10000
EVALUATIONS = 12
INTERVAL = 10  # seconds between scrapes and between evaluations
JOB = "x509-certificate-exporter"
ENTRIES = [
    {"matchers": 'subject_CN=~"host-1.*"', "warningDaysLeft": 20, "criticalDaysLeft": 7, "labels": {"team": "web"}},
    {"matchers": 'filepath=~".*/d00[23]/.*"', "warningDaysLeft": 60, "criticalDaysLeft": 30, "labels": {"team": "pay"}},
    {"matchers": 'issuer_CN="Bench CA", subject_CN=~"host-4[0-9][0-9][.].*"', "warningDaysLeft": 45},
    {"matchers": 'filepath=~".*/d009/.*"', "ignore": True},
    {"matchers": 'subject_CN=~"host-2.*"', "labels": {"owner": "ops"}, "crlWarningDaysLeft": 14},
]
CHANGED = (
    "certificate:x509_cert_not_after:warning_threshold",
    "certificate:x509_cert_not_after:critical_threshold",
    "crl:x509_crl_next_update:warning_threshold",
    "X509CertificateRenewal",
    "X509CertificateExpiration",
    "X509CRLNeedsRefresh",
    "X509CRLStale",
    "state:x509_cert_not_after:count",
)


def _api(port: int, path: str, **params: str) -> dict:
    url = f"http://127.0.0.1:{port}{path}" + ("?" + urllib.parse.urlencode(params) if params else "")
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)["data"]


def _wait(what: str, ok, deadline: float) -> None:
    while time.time() < deadline:
        try:
            if ok():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"waited too long for {what}")


def _prometheus(work: Path, name: str, rules: dict[str, str], target: str) -> tuple[subprocess.Popen, int]:
    d = work / name
    d.mkdir()
    for rel in (ALERTS_FILE, RULES_FILE):
        (d / Path(rel).name).write_text(rules[rel])
    (d / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {
                    "scrape_interval": f"{INTERVAL}s",
                    "evaluation_interval": f"{INTERVAL}s",
                    "scrape_timeout": f"{INTERVAL}s",
                },
                "rule_files": [Path(ALERTS_FILE).name, Path(RULES_FILE).name],
                "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [target]}]}],
            }
        )
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={d / 'prometheus.yml'}",
            f"--storage.tsdb.path={d / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(d / "prometheus.log", "w"),
    )
    return proc, port


def _sample(port: int) -> tuple[str, dict[str, float]]:
    """(last evaluation of the alerts' group, evaluation time of each group and changed rule)."""
    times, last = {}, ""
    for group in _api(port, "/api/v1/rules")["groups"]:
        times[f"group {group['name']}"] = group["evaluationTime"]
        if group["name"] == "x509-certificate-exporter":
            last = group["lastEvaluation"]
        for rule in group["rules"]:
            if rule["name"] in CHANGED:
                key = f"  {rule['name']}" + (
                    f"{{state={rule['labels']['state']}}}" if "state" in rule["labels"] else ""
                )
                times[key] = times.get(key, 0.0) + rule["evaluationTime"]
    return last, times


def run(pems: list[bytes]) -> int:
    print(f"\n== rule evaluation at {N:,} certificates: defaults vs {len(ENTRIES)} certificateOverrides entries")
    work = Path(tempfile.mkdtemp(prefix="x509-bench-rules-"))
    procs: list[subprocess.Popen] = []
    try:
        write_tree(str(work / "tree"), N, pems)
        port = free_port()
        (work / "exporter.yaml").write_text(
            f"server: {{listen: '127.0.0.1:{port}'}}\nlog: {{level: warn}}\ncache: {{filePoll: {{interval: 1h}}}}\n"
            f"sources:\n- kind: file\n  name: bench\n  paths: ['{work}/tree/*/*.pem']\n"
        )
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import sys; from x509_mixin.exporter.cli import main; sys.exit(main(sys.argv[1:]))",
                    "--config",
                    str(work / "exporter.yaml"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=open(work / "exporter.log", "w"),
            )
        )
        _wait("the exporter", lambda: get(port, "/readyz")[0] == 200, time.time() + 300)
        servers = {}
        for name, cfg in (("defaults", {}), ("overrides", {"certificateOverrides": ENTRIES})):
            proc, api = _prometheus(work, name, render(load(cfg)), f"127.0.0.1:{port}")
            procs.append(proc)
            servers[name] = api
        for name, api in servers.items():
            recorded = f"count(certificate:x509_cert_not_after:max) == {N}"
            _wait(
                f"{name}: every certificate recorded",
                lambda a=api, q=recorded: _api(a, "/api/v1/query", query=q)["result"],
                time.time() + 180,
            )
        time.sleep(60)  # the rules' one-minute subqueries reach back over real data
        samples: dict[str, dict[str, list[float]]] = {name: {} for name in servers}
        seen = dict.fromkeys(servers, "")
        deadline = time.time() + EVALUATIONS * INTERVAL * 4
        while min(len(s.get("group x509-certificate-exporter", [])) for s in samples.values()) < EVALUATIONS:
            if time.time() > deadline:
                got = {n: len(v.get("group x509-certificate-exporter", [])) for n, v in samples.items()}
                raise TimeoutError(f"too few evaluations: {got}; last times {_sample(servers['overrides'])[1]}")
            for name, api in servers.items():
                last, times = _sample(api)
                if last != seen[name]:
                    seen[name] = last
                    for key, value in times.items():
                        samples[name].setdefault(key, []).append(value)
            time.sleep(1)
        print(f"median evaluation time over {EVALUATIONS} evaluations (ms)")
        print(f"{'':58s}{'defaults':>10s}{'overrides':>11s}{'ratio':>8s}")
        for key in samples["overrides"]:
            over = statistics.median(samples["overrides"][key]) * 1000
            if key in samples["defaults"]:
                base = statistics.median(samples["defaults"][key]) * 1000
                print(f"{key:58s}{base:10.1f}{over:11.1f}{over / base:8.2f}")
            else:
                print(f"{key:58s}{'-':>10s}{over:11.1f}{'-':>8s}")
        return 0
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    from benchmarks.common import make_pems

    sys.exit(run(make_pems()))
