"""Rule evaluation cost of certificateOverrides: 10,000 certificates, 5 entries, real Prometheus.

Method: the reference exporter serves 10,000 certificates (one per file); two Prometheus
servers scrape it every 10 s and evaluate, every 10 s, the rules generated for the defaults and
for five entries (three with thresholds and labels, one with labels only, one ignore). Once
every certificate is recorded and a minute has passed (the rules' one-minute subqueries have
data), /api/v1/rules is read after each evaluation: the median evaluation time of each rule
group and of each rule the entries add or change, side by side, with the ratio. Both servers
run at the same time on the same data, so the machine's noise falls on both.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from benchmarks.common import write_tree
from x509_mixin.generator import chain
from x509_mixin.generator.build import ALERTS_FILE, RULES_FILE, render
from x509_mixin.mixin.config import load

N = 10000
EVALUATIONS = 12
INTERVAL = "10s"
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


def _api(server: chain.Server, path: str, **params: str) -> dict:
    status, body = chain.http_get(server.url + path + ("?" + urllib.parse.urlencode(params) if params else ""), 30)
    if status != 200:
        raise chain.ChainError(f"{path}: HTTP {status}")
    return json.loads(body)["data"]


def _sample(server: chain.Server) -> tuple[str, dict[str, float]]:
    """(last evaluation of the alerts' group, evaluation time of each group and changed rule)."""
    times, last = {}, ""
    for group in _api(server, "/api/v1/rules")["groups"]:
        times[f"group {group['name']}"] = group["evaluationTime"]
        if group["name"] == "x509-certificate-exporter":
            last = group["lastEvaluation"]
        for rule in group["rules"]:
            if rule["name"] in CHANGED:
                state = rule.get("labels", {}).get("state")
                key = f"  {rule['name']}" + (f"{{state={state}}}" if state else "")
                times[key] = times.get(key, 0.0) + rule["evaluationTime"]
    return last, times


def run(pems: list[bytes]) -> int:
    print(f"\n== rule evaluation at {N:,} certificates: defaults vs {len(ENTRIES)} certificateOverrides entries")
    work = Path(tempfile.mkdtemp(prefix="x509-bench-rules-"))
    servers: list[chain.Server] = []
    try:
        write_tree(str(work / "tree"), N, pems)
        exporter = chain.start_exporter(
            {
                "server": {"listen": "127.0.0.1:0"},
                "cache": {"filePoll": {"interval": "1h"}},
                "sources": [{"kind": "file", "name": "bench", "paths": [f"{work}/tree/*/*.pem"]}],
            },
            work,
        )
        servers.append(exporter)
        chain.wait_ready(exporter, "/readyz", timeout=300)
        proms = {}
        for name, cfg in (("defaults", {}), ("overrides", {"certificateOverrides": ENTRIES})):
            d = work / name
            d.mkdir()
            files = render(load(cfg))
            for rel in (ALERTS_FILE, RULES_FILE):
                (d / Path(rel).name).write_text(files[rel])
            rule_files = [d / Path(rel).name for rel in (ALERTS_FILE, RULES_FILE)]
            target = f"127.0.0.1:{exporter.port}"
            proms[name] = chain.start_prometheus(d, rule_files, {JOB: [target]}, None, INTERVAL)
            servers.append(proms[name])
        recorded = f"count(certificate:x509_cert_not_after:max) == {N}"
        for name, prom in proms.items():
            chain.wait_until(
                f"{name}: every certificate recorded",
                lambda p=prom: _api(p, "/api/v1/query", query=recorded)["result"] or None,
                timeout=300,
            )
        time.sleep(60)  # the rules' one-minute subqueries reach back over real data
        samples: dict[str, dict[str, list[float]]] = {name: {} for name in proms}
        seen = dict.fromkeys(proms, "")

        def enough() -> bool | None:
            for name, prom in proms.items():
                last, times = _sample(prom)
                if last != seen[name]:
                    seen[name] = last
                    for key, value in times.items():
                        samples[name].setdefault(key, []).append(value)
            return (
                all(len(s.get("group x509-certificate-exporter", [])) >= EVALUATIONS for s in samples.values()) or None
            )

        chain.wait_until(f"{EVALUATIONS} evaluations", enough, timeout=EVALUATIONS * 10 * 6, step=1)
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
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    from benchmarks.common import make_pems

    sys.exit(run(make_pems()))
