"""Grafana's variable interpolation, as the dashboards' tests need it to run panel queries and
follow data links exactly as Grafana would.

Reproduced from Grafana's template service and its Prometheus data source (Grafana 10-12):

- Syntaxes: `$name`, `${name}`, `${name:format}`, `[[name]]`, `[[name:format]]`, and for
  data links `${__value.raw}`, `${__data.fields.x}` (dotted names) with a format too.
- Without a format, a Prometheus query gets the data source's own formatting: a variable that
  is neither multi-value nor has an "All" option is only quote-escaped (backslash, single
  quote); otherwise each value is regex-escaped for a double-quoted PromQL string (`\\` and
  the metacharacters `$^*{}[]+?.()|` get two backslashes), several values are joined as
  `(a|b)`, and "All" gives the variable's `allValue` untouched (or every option, escaped).
- With a format: raw, regex, pipe, csv, distributed, doublequote, singlequote, sqlstring,
  json, lucene, glob, text, percentencode, queryparam (Grafana's format registry); an unknown
  format falls back to glob, as Grafana's does.

`tests/dashboards/test_grafana_interpolate.py` checks it against the examples of Grafana's
"Variable syntax" documentation.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field

_PATTERN = re.compile(
    r"\$(\w+)"  # $name
    r"|\[\[([\w.]+?)(?::(\w+))?\]\]"  # [[name]] [[name:format]]
    r"|\$\{([\w.\[\]\"]+?)(?::([^}]+))?\}"  # ${name} ${name:format}
)


@dataclass
class Variable:
    """A dashboard variable's state: its current values and how it was declared."""

    values: list[str]
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    all_selected: bool = False
    options: list[str] = field(default_factory=list)  # every option, for "All" without allValue


def prometheus_regular_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\\\'")


def prometheus_regex_escape(value: str) -> str:
    value = value.replace("\\", "\\\\\\\\")
    return re.sub(r"[$^*{}\[\]+?.()|]", lambda m: "\\\\" + m.group(0), value)


def regex_escape(value: str) -> str:
    """Grafana's kbn.regexEscape (the `regex` format)."""
    return re.sub(r"[-/\\^$*+?.()|\[\]{}]", lambda m: "\\" + m.group(0), value)


def _percent(value: str) -> str:
    # Grafana's encodeURIComponentStrict: encodeURIComponent, and !'()* encoded too.
    return urllib.parse.quote(value, safe="-_.~")


def _format(name: str, values: list[str], fmt: str) -> str:
    many = len(values) > 1
    if fmt == "raw":
        return ",".join(values)
    if fmt == "regex":
        escaped = [regex_escape(v) for v in values]
        return "(" + "|".join(escaped) + ")" if many else escaped[0]
    if fmt == "pipe":
        return "|".join(values)
    if fmt == "csv":
        return ",".join(values)
    if fmt == "distributed":
        return ",".join([values[0]] + [f"{name}={v}" for v in values[1:]])
    if fmt == "doublequote":
        return ",".join('"' + v.replace('"', '\\"') + '"' for v in values)
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if fmt == "sqlstring":
        return ",".join("'" + v.replace("'", "''") + "'" for v in values)
    if fmt == "json":
        return json.dumps(values if many else values[0], separators=(", ", ": "))
    if fmt == "lucene":
        if many:
            return "(" + " OR ".join(json.dumps(v) for v in values) + ")"
        return re.sub(r'([+\-&|!(){}\[\]^"~*?:\\/])', r"\\\1", values[0])
    if fmt == "text":
        return " + ".join(values)
    if fmt == "percentencode":
        return _percent(",".join(values))
    if fmt == "queryparam":
        return "&".join(f"var-{name}={_percent(v)}" for v in values)
    # glob, and Grafana's fallback for an unknown format
    return "{" + ",".join(values) + "}" if many else values[0]


def _prometheus(var: Variable) -> str:
    if var.all_selected and var.all_value is not None:
        return var.all_value
    values = var.options if var.all_selected else var.values
    if not var.multi and not var.include_all:
        return prometheus_regular_escape(values[0])
    escaped = [prometheus_regex_escape(v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def interpolate(text: str, variables: dict[str, Variable], scoped: dict[str, str] | None = None) -> str:
    """`text` with every variable replaced as Grafana does for a Prometheus query or a link.

    `scoped` holds the built-in and data-link values (`__rate_interval`, `__value.raw`,
    `__url_time_range`...), used as they are unless a format is given.
    """
    scoped = scoped or {}

    def replace(m: re.Match) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        fmt = m.group(3) or m.group(5)
        if name in scoped:
            return _format(name, [scoped[name]], fmt) if fmt else scoped[name]
        if name not in variables:
            return m.group(0)  # Grafana leaves unknown variables as they are
        var = variables[name]
        if fmt is None:
            return _prometheus(var)
        values = [var.all_value] if var.all_selected and var.all_value is not None and fmt != "queryparam" else None
        if fmt == "queryparam" and var.all_selected:
            values = ["$__all"]
        return _format(name, values or (var.options if var.all_selected else var.values), fmt)

    return _PATTERN.sub(replace, text)


def from_model(model: dict, chosen: dict[str, list[str] | str] | None = None) -> dict[str, Variable]:
    """The variables of a dashboard model: each at "All" (query variables) or its default
    (text boxes), unless `chosen` gives values."""
    chosen = chosen or {}
    out = {}
    for v in model["templating"]["list"]:
        name = v["name"]
        if v["type"] == "datasource":
            out[name] = Variable(["prometheus"])
        elif v["type"] == "textbox":
            picked = chosen.get(name, v["query"])
            out[name] = Variable([picked] if isinstance(picked, str) else picked)
        elif v["type"] == "query":
            picked = chosen.get(name)
            out[name] = Variable(
                [picked] if isinstance(picked, str) else list(picked or []),
                multi=bool(v.get("multi")),
                include_all=bool(v.get("includeAll")),
                all_value=v.get("allValue"),
                all_selected=picked is None,
            )
    return out
