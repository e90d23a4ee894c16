"""Shared by the dashboard tests: configurations to build under, panels and targets."""

from __future__ import annotations

import json
from pathlib import Path

from grafana_interpolate import from_model, interpolate

from x509_mixin.mixin.config import load
from x509_mixin.mixin.dashboards import dashboards

# Grafana version -> the JSON schema of its Dashboard type (scripts/gen-grafana-schema.sh).
SCHEMAS = {
    path.name.split("-")[2].removesuffix(".schema.json"): json.loads(path.read_text())
    for path in sorted((Path(__file__).parent / "schemas").glob("grafana-dashboard-*.schema.json"))
}

CONFIGS = {
    "defaults": {},
    "everything-on": {
        "multiCluster": True,
        "clusterLabel": "k8s_cluster",
        "deduplicateReporters": False,
        "exporter": {
            "exposeNotBefore": True,
            "exposePerCertError": True,
            "exposeDiagnostics": True,
            "exposeRelative": True,
        },
    },
    "selector": {"selector": 'job="certs", env=~"prod|staging"', "dashboardUidPrefix": "pki_"},
}


def built(name: str) -> dict[str, dict]:
    return dashboards(load(CONFIGS[name]))


def panels(model: dict) -> list[dict]:
    return [p for p in model["panels"] if p["type"] != "row"]


def targets(model: dict) -> list[tuple[dict, dict]]:
    return [(p, t) for p in panels(model) for t in p["targets"]]


# What Grafana puts in place of the built-in interval variables for a dashboard whose
# data source scrapes every second: $__rate_interval = max($__interval + scrape, 4 * scrape).
BUILT_INS = {"__rate_interval": "4s", "__interval": "1s", "__range": "30s"}


def substitute(expr: str, model: dict, chosen: dict | None = None) -> str:
    """A panel query as Grafana sends it: the dashboard's variables at "All" (or `chosen`),
    interpolated and escaped as Grafana does (grafana_interpolate)."""
    return interpolate(expr, from_model(model, chosen), BUILT_INS)
