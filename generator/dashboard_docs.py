"""docs/dashboards.md: each dashboard's variables and panels with their queries, for the
default configuration. `make generate` rewrites it; a test fails when it is stale."""

from __future__ import annotations

import sys
from pathlib import Path

from x509_mixin.mixin import dashboard_rules
from x509_mixin.mixin.config import Config, load
from x509_mixin.mixin.dashboards import dashboards

DOC = Path(__file__).resolve().parent.parent / "docs" / "dashboards.md"

INTRO = """# Dashboards

Generated with grafanalib from the mixin's configuration by `x509-mixin build` into
`dashboards/` (one JSON file each), with `dashboards/import/` (the same dashboards with
`__inputs`/`__requires`, for Grafana's import form and grafana.com),
`dashboards/provisioning/x509-mixin.yaml` (a Grafana file-provisioning provider: copy the JSON
files to its `path`) and `dashboards/configmaps.yaml` (one ConfigMap per dashboard, labelled
for the Grafana sidecar: `kubectl apply -n <grafana's namespace> -f dashboards/configmaps.yaml`).

They are written for Grafana 10, 11 and 12 (schemaVersion 38, Grafana 10.0's) and validate
against the JSON schemas of Grafana's own `Dashboard` type (`@grafana/schema` 10.4.19, 11.6.16 and
12.4.11, see `scripts/gen-grafana-schema.sh`). Every query takes the configured selector and the
dashboard's `job` (and `cluster` with `multiCluster`) variables; queries of exporter series
also take `instance`. The certificate counts read the recording rules below, which aggregate
the reporters away, so `instance` does not apply to them. Rates use `$__rate_interval`.
Panels only use metrics that the configured `exporter.*` settings emit. Each dashboard links
to the other two, keeping the time range and the variables. With `grafanaUrl` set, every
alert carries a `dashboard_url`: certificate and CRL alerts open the inventory, the others
the exporter dashboard.

This page shows the default configuration; `make generate` rewrites it.
"""

RECORDS = {
    dashboard_rules.STATE: "certificates per `state` (expired, critical, warning, fine; by the configured days)",
    dashboard_rules.ISSUER: "certificates per issuer CN",
    dashboard_rules.NAMESPACE: (
        'certificates per namespace of their Secret or ConfigMap (`namespace=""` for the others)'
    ),
    dashboard_rules.PLACE_COUNT: (
        "certificates per kind of place (`place_kind`: file, kubeconfig, Secret, ConfigMap, caBundle)"
    ),
    dashboard_rules.PLACE_SOONEST: "the earliest `not_after` per kind of place",
    dashboard_rules.WITHIN: "certificates expiring `within` 7d, 30d, 90d, 180d, 365d (not yet expired)",
}


def render(cfg: Config) -> str:
    out = [
        INTRO,
        "## Recording rules (group `x509-certificates-dashboards`)",
        "",
        "Each certificate counts once however many exporters report it; the series keep `job`, the "
        "selector's labels and, with `multiCluster`, the cluster label.",
        "",
        "| record | what |",
        "|---|---|",
    ]
    out += [f"| `{name}` | {what} |" for name, what in RECORDS.items()]
    for name, model in dashboards(cfg).items():
        out += [
            "",
            f"## {model['title']}",
            "",
            f"uid `{model['uid']}`, file `dashboards/{name}`. {model['description']}",
            "",
            "Variables: " + ", ".join(f"`{v['name']}`" for v in model["templating"]["list"]) + ".",
            "",
        ]
        for panel in model["panels"]:
            if panel["type"] == "row":
                out += [f"### Row: {panel['title']}", ""]
                continue
            unit = panel["fieldConfig"]["defaults"]["unit"]
            out += [f"#### {panel['title']}", "", f"{panel['type']}, unit `{unit}`. {panel['description']}", ""]
            for target in panel["targets"]:
                kind = "instant" if target["instant"] else "range"
                out += [f"{target['refId']} ({kind}):", "", "```promql", target["expr"], "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


if __name__ == "__main__":
    text = render(load())
    if sys.argv[1:] == ["--write"]:
        DOC.write_text(text)
    else:
        sys.stdout.write(text)
