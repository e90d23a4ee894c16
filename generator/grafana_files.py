"""Dashboard files: the JSON models, the variant for import through Grafana's UI or
grafana.com, a file-provisioning provider and ConfigMaps for the Grafana sidecar."""

from __future__ import annotations

import copy
import json
import re

from x509_mixin.generator.yamlfmt import HEADER, dump
from x509_mixin.mixin.config import Config
from x509_mixin.mixin.dashboards import dashboards

DASHBOARDS_DIR = "dashboards"
IMPORT_DIR = "dashboards/import"
PROVISIONING_FILE = "dashboards/provisioning/x509-mixin.yaml"
CONFIGMAPS_FILE = "dashboards/configmaps.yaml"
# Where the provider reads the JSON files: copy dashboards/*.json there.
PROVISIONING_PATH = "/var/lib/grafana/dashboards/x509-mixin"
MIN_GRAFANA = "10.0.0"
INPUT = "DS_PROMETHEUS"


def to_json(model: dict) -> str:
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


def import_variant(model: dict) -> dict:
    """The model with `__inputs`/`__requires`: the import form asks for the Prometheus data
    source and makes it the datasource variable's default."""
    panel_types = sorted({p["type"] for p in model["panels"] if p["type"] != "row"})
    out = {
        "__inputs": [
            {
                "name": INPUT,
                "label": "Prometheus",
                "description": "The Prometheus scraping the exporters",
                "type": "datasource",
                "pluginId": "prometheus",
                "pluginName": "Prometheus",
            }
        ],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": MIN_GRAFANA},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
        ]
        + [{"type": "panel", "id": t, "name": t, "version": ""} for t in panel_types],
        **copy.deepcopy(model),
    }
    for variable in out["templating"]["list"]:
        if variable["type"] == "datasource":
            variable["current"] = {"selected": True, "text": "${" + INPUT + "}", "value": "${" + INPUT + "}"}
    return out


def provisioning(cfg: Config) -> dict:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "x509-mixin",
                "orgId": 1,
                "folder": cfg.dashboardFolder,
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": PROVISIONING_PATH, "foldersFromFilesStructure": False},
            }
        ],
    }


def _k8s_name(uid: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", uid.lower()).strip("-")
    return f"{name}-dashboard" if name else "dashboard"


def configmaps(cfg: Config, models: dict[str, dict]) -> str:
    """One ConfigMap per dashboard, labelled for the sidecar; no namespace, so that
    `kubectl apply -n <grafana's namespace>` decides."""
    docs = [
        dump(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": _k8s_name(model["uid"]),
                    "labels": dict(cfg.dashboardSidecarLabels),
                    "annotations": {"grafana_folder": cfg.dashboardFolder},
                },
                "data": {name: to_json(model)},
            },
            header=False,
        )
        for name, model in models.items()
    ]
    return HEADER + "---\n".join(docs)


def render_dashboards(cfg: Config) -> dict[str, str]:
    models = dashboards(cfg)
    files = {f"{DASHBOARDS_DIR}/{name}": to_json(model) for name, model in models.items()}
    files.update({f"{IMPORT_DIR}/{name}": to_json(import_variant(model)) for name, model in models.items()})
    files[PROVISIONING_FILE] = dump(provisioning(cfg))
    files[CONFIGMAPS_FILE] = configmaps(cfg, models)
    return files
