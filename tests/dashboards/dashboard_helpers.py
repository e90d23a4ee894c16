"""Shared by the dashboard tests: configurations to build under, panels and targets."""

from __future__ import annotations

import json
from pathlib import Path

from x509_mixin.mixin.config import load
from x509_mixin.mixin.dashboards import dashboards

SCHEMA = json.loads((Path(__file__).parent / "grafana-dashboard.schema.json").read_text())

CONFIGS = {
    "defaults": {},
    "everything-on": {"multiCluster": True, "clusterLabel": "k8s_cluster", "deduplicateReporters": False,
                      "exporter": {"exposeNotBefore": True, "exposePerCertError": True, "exposeDiagnostics": True,
                                   "exposeRelative": True}},
    "selector": {"selector": 'job="certs", env=~"prod|staging"', "dashboardUidPrefix": "pki_"},
}


def built(name: str) -> dict[str, dict]:
    return dashboards(load(CONFIGS[name]))


def panels(model: dict) -> list[dict]:
    return [p for p in model["panels"] if p["type"] != "row"]


def targets(model: dict) -> list[tuple[dict, dict]]:
    return [(p, t) for p in panels(model) for t in p["targets"]]
