"""Grafana panels built with grafanalib, turned into the dashboard JSON Grafana 10-12 import.

grafanalib writes many legacy fields (`rows`, `style`, `span`, string datasources, `null`
where Grafana's schema wants a value or nothing, the pre-7 bar gauge `fieldOptions`...).
`dashboard_json` keeps what the current dashboard model (the `Dashboard` type of @grafana/schema)
defines, in its current shape; the tests validate the result against that schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from grafanalib import core as G
from grafanalib._gen import DashboardEncoder

# Grafana 10.0's: every Grafana from 10.0 on reads it as it is (later ones migrate it on load).
SCHEMA_VERSION = 38
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
GRID_WIDTH = 24

Thresholds = list[tuple[str, float | None]]  # (colour, from value); the first from None


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False  # tables and bar gauges read one instant, the rest a range

    def target(self, ref_id: str) -> G.Target:
        return G.Target(
            expr=self.expr,
            legendFormat=self.legend,
            refId=ref_id,
            instant=self.instant,
            format="table" if self.instant else "time_series",
        )


def _targets(queries: list[Query]) -> list[G.Target]:
    return [q.target(chr(ord("A") + i)) for i, q in enumerate(queries)]


def steps(thresholds: Thresholds | None) -> list[dict]:
    return [{"color": c, "value": v} for c, v in (thresholds or [("green", None)])]


@dataclass
class Panel:
    """A grafanalib panel plus what grafanalib cannot express in the current model."""

    panel: G.Panel
    width: int
    height: int
    unit: str
    thresholds: Thresholds | None = None
    overrides: list[dict] | None = None
    options: dict | None = None
    no_value: str | None = None
    min: float | None = None
    max: float | None = None


def timeseries(
    title: str,
    description: str,
    unit: str,
    queries: list[Query],
    width: int = 12,
    height: int = 8,
    thresholds: Thresholds | None = None,
    threshold_line: bool = False,
    stack: bool = False,
    min: float | None = None,
    max: float | None = None,
) -> Panel:
    panel = G.TimeSeries(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=_targets(queries),
        unit=unit,
        legendDisplayMode="table",
        legendPlacement="right",
        tooltipMode="multi",
        stacking={"mode": "normal", "group": "A"} if stack else {"mode": "none", "group": "A"},
        thresholdsStyleMode="line" if threshold_line else "off",
        fillOpacity=10 if stack else 0,
        legendCalcs=["lastNotNull"],
    )
    return Panel(panel, width, height, unit, thresholds, min=min, max=max)


def stat(
    title: str,
    description: str,
    unit: str,
    query: Query,
    width: int = 6,
    height: int = 4,
    thresholds: Thresholds | None = None,
    no_value: str | None = "0",
) -> Panel:
    panel = G.Stat(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=_targets([query]),
        format=unit,
        reduceCalc="lastNotNull",
        graphMode="area",
        colorMode="value",
    )
    return Panel(panel, width, height, unit, thresholds, no_value=no_value)


def table(
    title: str,
    description: str,
    unit: str,
    queries: list[Query],
    width: int = 24,
    height: int = 10,
    overrides: list[dict] | None = None,
    transformations: list[dict] | None = None,
) -> Panel:
    panel = G.Table(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=_targets(queries),
        unit=unit,
        transformations=transformations or [],
        filterable=True,
    )
    return Panel(panel, width, height, unit, overrides=overrides)


def bargauge(
    title: str,
    description: str,
    unit: str,
    query: Query,
    width: int = 8,
    height: int = 8,
    thresholds: Thresholds | None = None,
) -> Panel:
    # grafanalib writes the pre-7 `fieldOptions` shape: the current options replace it.
    panel = G.BarGauge(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=_targets([query]),
        format=unit,
        orientation="horizontal",
        displayMode="gradient",
        calc="lastNotNull",
    )
    return Panel(
        panel,
        width,
        height,
        unit,
        thresholds,
        options={
            "displayMode": "gradient",
            "orientation": "horizontal",
            "showUnfilled": True,
            "valueMode": "color",
            "namePlacement": "auto",
            "sizing": "auto",
            "minVizHeight": 16,
            "minVizWidth": 8,
            "maxVizHeight": 300,
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        },
    )


def row(title: str) -> G.RowPanel:
    return G.RowPanel(title=title)


def override(field: str, **properties: Any) -> dict:
    """A field override by name: `unit`, `displayName`, `custom.cellOptions`..."""
    return {
        "matcher": {"id": "byName", "options": field},
        "properties": [{"id": k.replace("__", "."), "value": v} for k, v in properties.items()],
    }


def coloured_cells(field: str, unit: str, thresholds: Thresholds) -> dict:
    """A table column whose text takes the thresholds' colours."""
    return override(
        field,
        unit=unit,
        custom__cellOptions={"type": "color-text"},
        thresholds={"mode": "absolute", "steps": steps(thresholds)},
    )


def organize(columns: tuple[str, ...], rename: dict[str, str]) -> dict:
    """A table transformation keeping only `columns` (labels or Value fields), in that order."""
    return {
        "id": "organize",
        "options": {
            "excludeByName": {"Time": True},
            "includeByName": {name: True for name in columns},
            "indexByName": {name: i for i, name in enumerate(columns)},
            "renameByName": {k: v for k, v in rename.items() if k in columns},
        },
    }


def sort_by(field: str) -> dict:
    return {"id": "sortBy", "options": {"sort": [{"field": field}]}}


# ---- variables --------------------------------------------------------------------------


def datasource_variable(description: str) -> tuple[G.Template, str]:
    return G.Template(name="datasource", label="Data source", type="datasource", query="prometheus"), description


def query_variable(name: str, label: str, query: str, description: str) -> tuple[G.Template, str]:
    return G.Template(
        name=name,
        label=label,
        query=query,
        dataSource=DATASOURCE,
        includeAll=True,
        multi=True,
        allValue=".*",
        refresh=2,
        sort=1,
    ), description


def textbox_variable(name: str, label: str, description: str) -> tuple[G.Template, str]:
    return G.Template(name=name, label=label, type="textbox", query=".*", default=".*"), description


# ---- JSON in the current model ----------------------------------------------------------


def _prune(value: Any) -> Any:
    """Drops None (and the empty strings grafanalib writes for "unset") recursively."""
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _raw(obj: Any) -> Any:
    return json.loads(json.dumps(obj.to_json_data(), cls=DashboardEncoder))


def _target(raw: dict) -> dict:
    out = {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": raw["expr"],
        "instant": raw["instant"],
        "legendFormat": raw["legendFormat"],
        "range": not raw["instant"],
        "refId": raw["refId"],
    }
    if raw["format"] == "table":
        out["format"] = "table"
    return out


def _field_defaults(p: Panel, raw: dict) -> dict:
    defaults = _prune(raw.get("fieldConfig", {}).get("defaults", {}))
    defaults.pop("mappings", None)
    if raw["type"] == "stat":
        defaults.pop("custom", None)
    if raw["type"] == "bargauge":
        defaults = {}
    defaults["unit"] = p.unit
    defaults["thresholds"] = {"mode": "absolute", "steps": steps(p.thresholds)}
    defaults["color"] = (
        {"mode": "thresholds"}
        if p.thresholds and raw["type"] != "timeseries"
        else (defaults.get("color") or {"mode": "palette-classic"})
    )
    if p.no_value is not None:
        defaults["noValue"] = p.no_value
    for key in ("min", "max"):
        if getattr(p, key) is not None:
            defaults[key] = getattr(p, key)
    if raw["type"] == "table":
        defaults["custom"] = {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": True}
    return defaults


def _options(p: Panel, raw: dict) -> dict:
    if p.options is not None:
        return p.options
    options = _prune(raw.get("options", {}))
    if raw["type"] == "table":
        options = {"cellHeight": "sm", "showHeader": True, "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
    if raw["type"] == "stat":
        options["reduceOptions"]["fields"] = ""
        options.update({"showPercentChange": False, "wideLayout": True})
    return options


def panel_json(p: Panel, panel_id: int, grid: dict) -> dict:
    raw = _raw(p.panel)
    return {
        "datasource": DATASOURCE,
        "description": raw["description"],
        "fieldConfig": {"defaults": _field_defaults(p, raw), "overrides": p.overrides or []},
        "gridPos": grid,
        "id": panel_id,
        "options": _options(p, raw),
        "targets": [_target(t) for t in raw["targets"]],
        "title": raw["title"],
        "transformations": raw.get("transformations") or [],
        "type": raw["type"],
    }


def _row_json(r: G.RowPanel, panel_id: int, y: int) -> dict:
    return {
        "collapsed": False,
        "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
        "id": panel_id,
        "panels": [],
        "title": r.title,
        "type": "row",
    }


def layout(items: list[Panel | G.RowPanel]) -> list[dict]:
    """Panels left to right, wrapping at Grafana's 24 columns; a row starts a new line."""
    out: list[dict] = []
    x = y = line_height = 0
    for i, item in enumerate(items, start=1):
        if isinstance(item, G.RowPanel):
            y, x, line_height = y + line_height, 0, 0
            out.append(_row_json(item, i, y))
            y += 1
            continue
        if x + item.width > GRID_WIDTH:
            y, x, line_height = y + line_height, 0, 0
        out.append(panel_json(item, i, {"h": item.height, "w": item.width, "x": x, "y": y}))
        x += item.width
        line_height = max(line_height, item.height)
    return out


def variable_json(template: G.Template, description: str = "") -> dict:
    raw = _raw(template)
    out: dict[str, Any] = {"name": raw["name"], "label": raw["label"], "type": raw["type"], "hide": 0}
    if description:
        out["description"] = description
    if raw["type"] == "datasource":
        out.update(
            {"query": raw["query"], "options": [], "refresh": 1, "regex": "", "includeAll": False, "multi": False}
        )
    elif raw["type"] == "textbox":
        out.update(
            {
                "query": raw["query"],
                "current": {"text": raw["query"], "value": raw["query"]},
                "options": [{"selected": True, "text": raw["query"], "value": raw["query"]}],
            }
        )
    else:
        out.update(
            {
                "datasource": DATASOURCE,
                # The object form Grafana 10-12 save (qryType 1: label values); the string is what runs.
                "query": {"qryType": 1, "query": raw["query"], "refId": "PrometheusVariableQueryEditor-VariableQuery"},
                "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
                "options": [],
                "refresh": raw["refresh"],
                "regex": "",
                "sort": raw["sort"],
                "includeAll": raw["includeAll"],
                "multi": raw["multi"],
                "allValue": raw["allValue"],
            }
        )
    return out


BUILT_IN_ANNOTATION = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}


def dashboard_json(
    dashboard: G.Dashboard, panels: list[Panel | G.RowPanel], variables: list[tuple[G.Template, str]]
) -> dict:
    raw = _raw(dashboard)
    return {
        "annotations": {"list": [BUILT_IN_ANNOTATION]},
        "description": raw["description"],
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "links": [_prune(link) for link in raw["links"]],
        "liveNow": False,
        "panels": layout(panels),
        "refresh": raw["refresh"],
        "schemaVersion": SCHEMA_VERSION,
        "tags": raw["tags"],
        "templating": {"list": [variable_json(t, d) for t, d in variables]},
        "time": raw["time"],
        "timepicker": {"refresh_intervals": raw["timepicker"]["refresh_intervals"]},
        "timezone": raw["timezone"],
        "title": raw["title"],
        "uid": raw["uid"],
        "version": 1,
        "weekStart": "",
    }
