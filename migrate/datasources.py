"""Which queries of a Grafana dashboard are PromQL: its datasource references, in every form
Grafana stores them.

A reference is an object `{"type": "loki", "uid": "..."}`, an object with a `uid` only, a
plain string (a datasource name, or `-- Mixed --`), a variable (`${DS_LOKI}` of an import's
`__inputs`, `$datasource` of a datasource template variable), or null (the default
datasource). A target's own reference wins over its panel's. What the dashboard itself says
resolves the rest: typed references elsewhere give each uid's type, `__inputs` and
`__requires` give the plugins of `${DS_...}` names, datasource variables give theirs. What
stays unknown is tried as PromQL (and reported if it does not parse).
"""

from __future__ import annotations

import re

PROMQL = "promql"
OTHER = "other"
MIXED = "mixed"

# Datasource plugins whose query language is PromQL (or a superset of it).
PROMQL_PLUGINS = {
    "prometheus",
    "grafana-amazonprometheus-datasource",
    "grafana-azureprometheus-datasource",
    "victoriametrics-datasource",
    "victoriametrics-metrics-datasource",
}
# Grafana's built-in pseudo datasources, by uid or name.
_PSEUDO = {"-- Mixed --": MIXED, "-- Dashboard --": OTHER, "-- Grafana --": OTHER, "grafana": OTHER}
_VARIABLE = re.compile(r"^(?:\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\])$", re.ASCII)
# Datasource names as Grafana gives them by default ("Loki", "loki-2", "Prometheus"): the last resort.
_NAME_HINTS = (
    ("prometheus", PROMQL),
    ("mimir", PROMQL),
    ("thanos", PROMQL),
    ("cortex", PROMQL),
    ("victoria", PROMQL),
    ("loki", OTHER),
    ("elastic", OTHER),
    ("opensearch", OTHER),
    ("influx", OTHER),
    ("tempo", OTHER),
    ("jaeger", OTHER),
    ("graphite", OTHER),
    ("mysql", OTHER),
    ("postgres", OTHER),
    ("cloudwatch", OTHER),
    ("clickhouse", OTHER),
)


def _plugin_kind(plugin: str) -> str:
    return PROMQL if plugin in PROMQL_PLUGINS else OTHER


class Datasources:
    def __init__(self, dash: dict):
        self.uids: dict[str, str] = {}  # uid -> plugin, from typed references
        self.variables: dict[str, str] = {}  # variable name -> plugin
        self.names: dict[str, str] = {}  # datasource name -> plugin
        for item in dash.get("__inputs") or []:
            if isinstance(item, dict) and item.get("type") == "datasource" and item.get("pluginId"):
                self.variables[str(item.get("name"))] = item["pluginId"]
                self.names[str(item.get("label"))] = item["pluginId"]
        for item in dash.get("__requires") or []:
            if isinstance(item, dict) and item.get("type") == "datasource" and item.get("id"):
                self.names[str(item.get("name"))] = item["id"]
        for var in (dash.get("templating") or {}).get("list") or []:
            if isinstance(var, dict) and var.get("type") == "datasource" and isinstance(var.get("query"), str):
                self.variables[str(var.get("name"))] = var["query"]
        self._learn(dash)

    def _learn(self, node) -> None:
        if isinstance(node, dict):
            ref = node.get("datasource")
            if isinstance(ref, dict) and isinstance(ref.get("type"), str) and isinstance(ref.get("uid"), str):
                if ref["type"] != "datasource" and not _VARIABLE.match(ref["uid"]):
                    self.uids.setdefault(ref["uid"], ref["type"])
            for child in node.values():
                self._learn(child)
        elif isinstance(node, list):
            for child in node:
                self._learn(child)

    def kind(self, ref) -> str | None:
        """PROMQL, OTHER, MIXED, or None when the dashboard does not say."""
        if ref is None:
            return None
        if isinstance(ref, dict):
            plugin, uid = ref.get("type"), ref.get("uid")
            if isinstance(uid, str) and uid in _PSEUDO:
                return _PSEUDO[uid]
            if isinstance(plugin, str) and plugin and plugin != "datasource":
                return _plugin_kind(plugin)
            return self.kind(uid) if isinstance(uid, str) else None
        if not isinstance(ref, str):
            return None
        if ref in _PSEUDO:
            return _PSEUDO[ref]
        found = _VARIABLE.match(ref)
        if found:
            name = next(g for g in found.groups() if g)
            plugin = self.variables.get(name)
            return _plugin_kind(plugin) if plugin else None
        plugin = self.uids.get(ref) or self.names.get(ref)
        if plugin:
            return _plugin_kind(plugin)
        lowered = ref.lower()
        return next((kind for hint, kind in _NAME_HINTS if hint in lowered), None)

    def at(self, dash: dict, path: tuple) -> str | None:
        """The kind of the innermost datasource reference on the way to a string: a target's own
        reference wins over its panel's, unless it is null or says nothing the dashboard can
        resolve (then the panel's holds, but for a mixed panel's)."""
        node, kind = dash, None
        for step in path[:-1]:
            node = node[step]
            if isinstance(node, dict) and node.get("datasource") is not None:
                found = self.kind(node["datasource"])
                if found is not None or kind == MIXED:
                    kind = found
        return None if kind == MIXED else kind
