"""Every panel query of every dashboard, run by a real Prometheus (Debian's) against realistic
exporter targets in two clusters, with our recording rules loaded, the way Grafana runs it:
variables substituted, range queries for graphs and instant queries for tables and bar gauges."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import fake_exporter as fx
import pytest
import yaml
from dashboard_helpers import CONFIGS, panels, substitute, targets

from x509_mixin.generator.build import ALERTS_FILE, RULES_FILE, render
from x509_mixin.mixin.config import Config, load
from x509_mixin.mixin.dashboards import dashboards

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs Debian's prometheus (make tools)"),
]
JOB = "x509-certificate-exporter"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Prom:
    url: str
    cfg: Config
    models: dict[str, dict]
    instances: dict[str, list[str]]  # cluster -> instances

    def get(self, path: str, **params) -> dict:
        query = urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=30) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        return body["data"]

    def run(self, target: dict, model: dict, chosen: dict | None = None) -> list[dict]:
        """One panel target as Grafana sends it, the variables at "All" or `chosen`; the series."""
        expr = substitute(target["expr"], model, chosen)
        now = time.time()
        if target["instant"]:
            return self.get("/api/v1/query", query=expr, time=now)["result"]
        return self.get("/api/v1/query_range", query=expr, start=now - 30, end=now, step=1)["result"]


def _wait(prom: Prom, expr: str, deadline: float) -> None:
    while time.time() < deadline:
        try:
            if prom.get("/api/v1/query", query=expr)["result"]:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"Prometheus never answered {expr}")


@pytest.fixture(scope="module", params=["defaults", "everything-on"])
def prom(request, tmp_path_factory):
    cfg = load(CONFIGS[request.param])
    work: Path = tmp_path_factory.mktemp(f"prom-{request.param}")
    now = time.time()
    fakes = {"east": [fx.Target("east", now), fx.Target("east", now)], "west": [fx.Target("west", now, False)]}
    servers = [fx.serve(t) for ts in fakes.values() for t in ts]
    addresses = iter(f"127.0.0.1:{s.server_address[1]}" for s in servers)
    instances = {cluster: [next(addresses) for _ in ts] for cluster, ts in fakes.items()}
    files = render(cfg)
    for rel in (ALERTS_FILE, RULES_FILE):
        (work / Path(rel).name).write_text(files[rel])
    (work / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
                "rule_files": ["prometheus_alerts.yaml", "prometheus_rules.yaml"],
                "scrape_configs": [
                    {
                        "job_name": JOB,
                        "static_configs": [
                            {"targets": addrs, "labels": {cfg.clusterLabel: cluster}}
                            for cluster, addrs in instances.items()
                        ],
                    }
                ],
            }
        )
    )
    port = _free_port()
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(work / "prometheus.log", "w"),
    )
    p = Prom(f"http://127.0.0.1:{port}", cfg, dashboards(cfg), instances)
    try:
        deadline = time.time() + 90
        _wait(p, f'count(up{{job="{JOB}"}} == 1) == 3', deadline)
        _wait(p, "state:x509_cert_not_after:count", deadline)
        # Counters need a few samples inside $__rate_interval before rates answer.
        time.sleep(5)
        _wait(p, "rate(x509_panic_total[4s]) > 0", deadline)
        yield p
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        for s in servers:
            s.shutdown()


def test_every_panel_query_returns_data(prom):
    failures = []
    for name, model in prom.models.items():
        for panel, target in targets(model):
            try:
                result = prom.run(target, model)
            except Exception as exc:  # an HTTP 400 names the PromQL error
                detail = exc.read().decode() if hasattr(exc, "read") else str(exc)
                failures.append(f"{name} / {panel['title']} / {target['refId']}: {detail}")
                continue
            if not result:
                failures.append(f"{name} / {panel['title']} / {target['refId']}: no data")
    assert failures == []


def test_every_query_variable_lists_values(prom):
    for model in prom.models.values():
        for variable in model["templating"]["list"]:
            if variable["type"] != "query":
                continue
            m = re.fullmatch(r"label_values\((.*), (\w+)\)", variable["query"]["query"])
            assert m, variable["query"]
            found = prom.get(f"/api/v1/label/{m[2]}/values", **{"match[]": substitute(m[1], model)})
            assert found, variable["name"]


def _expected_states(prom: Prom, clusters=("east", "west")) -> dict[str, int]:
    # Deduplication counts the two east replicas' certificates once.
    counts = dict.fromkeys(fx.STATES, 0)
    for cluster in clusters:
        reporters = 1 if prom.cfg.deduplicates else len(prom.instances[cluster])
        for cert in fx.certificates(cluster):
            counts[cert.state] += reporters
    return counts


def _stat(prom: Prom, dashboard: str, title: str, values: dict) -> float:
    model = prom.models[f"{prom.cfg.dashboardUidPrefix}{dashboard}.json"]
    panel = next(p for p in panels(model) if p["title"] == title)
    result = prom.run(panel["targets"][0], model, values)
    assert len(result) == 1, result
    return float(result[0]["values"][-1][1])


def test_overview_counts_each_certificate_once_per_state(prom):
    cfg = prom.cfg
    titles = {
        "expired": "Expired",
        "critical": f"Critical (< {cfg.criticalDaysLeft} days)",
        "warning": f"Warning (< {cfg.warningDaysLeft} days)",
        "fine": "Fine",
    }
    expected = _expected_states(prom)
    assert expected == (
        {"expired": 10, "critical": 12, "warning": 12, "fine": 22}
        if cfg.deduplicates
        else {"expired": 15, "critical": 18, "warning": 18, "fine": 33}
    )
    for state, title in titles.items():
        assert _stat(prom, "overview", title, {}) == expected[state], state
    if cfg.multiCluster:
        east = _expected_states(prom, ("east",))
        for state, title in titles.items():
            assert _stat(prom, "overview", title, {"cluster": ["east"]}) == east[state], state


def test_inventory_filters_and_chains(prom):
    dedup = prom.cfg.deduplicates
    web1 = ["web1.east.example.org", "web1.west.example.org"]
    matching = _stat(prom, "inventory", "Matching certificates", {"subject": web1})
    # web1 in both clusters; without deduplication, the two east replicas count twice.
    assert matching == (2 if dedup else 3)
    # Secrets web1-tls and web4-tls in team-1, two certificates each, in both clusters.
    assert _stat(prom, "inventory", "Matching certificates", {"namespace": ["team-1"]}) == (8 if dedup else 12)
    assert _stat(prom, "inventory", "Matching certificates", {"namespace": ["kube-system"]}) == (8 if dedup else 12)
    model = prom.models[f"{prom.cfg.dashboardUidPrefix}inventory.json"]
    panel = next(p for p in panels(model) if p["title"] == "Certificates per bundle")
    rows = prom.run(panel["targets"][0], model)
    cluster = prom.cfg.clusterLabel
    secrets = {
        (r["metric"].get(cluster), r["metric"]["bundle"]): float(r["value"][1])
        for r in rows
        if r["metric"]["place_kind"] == "Secret"
    }
    # A Secret's chain (leaf and intermediate) is one bundle of two certificates.
    if prom.cfg.multiCluster:  # per cluster; without deduplication east's two replicas count twice
        assert secrets[("west", "team-1 web1-tls tls.crt")] == 2
        assert secrets[("east", "team-1 web1-tls tls.crt")] == 4
    else:  # the same Secret name in both clusters is one bundle for a single-cluster configuration
        assert secrets[(None, "team-1 web1-tls tls.crt")] == 4
    files = {r["metric"]["bundle"] for r in rows if r["metric"]["place_kind"] == "file"}
    assert "/etc/ssl/east/svc0.pem" in files


def test_inventory_lists_the_crl(prom):
    model = prom.models[f"{prom.cfg.dashboardUidPrefix}inventory.json"]
    panel = next(p for p in panels(model) if p["title"] == "CRLs")
    rows = prom.run(panel["targets"][0], model)
    assert {(r["metric"]["bundle"], r["metric"]["crl_number"]) for r in rows} == {("/etc/ssl/crl.pem", "7")}
    # Next update 5 days after the fake exporter started.
    assert all(4.9 * 86400 < float(r["value"][1]) <= 5 * 86400 for r in rows)


def test_exporter_health_shows_the_failed_source(prom):
    model = prom.models[f"{prom.cfg.dashboardUidPrefix}exporter.json"]
    panel = next(p for p in panels(model) if p["title"] == "Sources up")
    result = prom.run(panel["targets"][0], model)
    down = {(r["metric"]["instance"], r["metric"]["source_name"]) for r in result if r["values"][-1][1] == "0"}
    assert down == {(prom.instances["west"][0], "kube")}


def test_every_rule_evaluates_without_error(prom):
    groups = prom.get("/api/v1/rules")["groups"]
    assert {g["name"] for g in groups} >= {"x509-certificates-dashboards", "x509-certificate-exporter"}
    broken = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r["health"] != "ok"]
    assert broken == []
