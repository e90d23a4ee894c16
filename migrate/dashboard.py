"""`migrate dashboard`: Grafana dashboard JSON.

Every `expr` string anywhere in the dashboard (panel targets at any depth of nested rows,
annotation queries) and the query of each `query` template variable (`label_values(...)`,
`query_result(...)` or plain PromQL, and its `definition`) is migrated, unless its datasource
is not Prometheus. Changed strings are spliced into the original text, so key order,
indentation and every other byte are kept. A query the parser cannot read is reported and left
as it is: one odd query never stops the file.
"""

from __future__ import annotations

import json

from x509_mixin.migrate.datasources import OTHER, Datasources
from x509_mixin.migrate.fileio import line_of, splice
from x509_mixin.migrate.grafana import migrate_panel_expr, restore, substitute
from x509_mixin.migrate.promql import (
    DEFAULT_WINDOW,
    ExprResult,
    PromQLError,
    gate_warnings,
    metric_names,
    parse,
    rename_selector,
    unparsed,
)
from x509_mixin.migrate.report import InputError, Report

_WS = " \t\n\r"
_DECODER = json.JSONDecoder()


def string_spans(text: str) -> list[tuple[tuple, int, int, str]]:
    """(path, start, end, value) of every string value of a valid JSON text."""
    spans = []

    def skip(i: int) -> int:
        while i < len(text) and text[i] in _WS:
            i += 1
        return i

    def value(i: int, path: tuple) -> int:
        i = skip(i)
        ch = text[i]
        if ch == '"':
            s, end = _DECODER.raw_decode(text, i)
            spans.append((path, i, end, s))
            return end
        if ch in "{[":
            close, index = ("}" if ch == "{" else "]"), 0
            i = skip(i + 1)
            while text[i] != close:
                if ch == "{":
                    key, i = _DECODER.raw_decode(text, skip(i))
                    i = skip(i) + 1  # the colon
                    i = skip(value(i, path + (key,)))
                else:
                    i = skip(value(i, path + (index,)))
                    index += 1
                if text[i] == ",":
                    i = skip(i + 1)
            return i + 1
        return _DECODER.raw_decode(text, i)[1]

    value(0, ())
    return spans


def _template_query(query: str, window: str) -> ExprResult:
    """A query variable: Grafana's label_values()/query_result() or plain PromQL."""
    stripped = query.strip()
    if stripped.startswith("label_values(") and stripped.endswith(")"):
        inner = stripped[len("label_values(") : -1]
        if "," not in inner:
            return ExprResult(query, False)  # label_values(label): no metric
        selector, label = inner.rsplit(",", 1)
        swapped, mapping = substitute(selector.strip())
        try:
            new, changed = rename_selector(swapped)
            warnings = gate_warnings(metric_names(parse(swapped)))
        except PromQLError as exc:
            return unparsed(query, exc)
        if not changed:
            return ExprResult(query, False, [], warnings)
        return ExprResult(
            f"label_values({restore(new, mapping)},{label})",
            True,
            ["x509_read_errors was removed in v4; its series are now x509_source_errors_total"],
            warnings,
        )
    if stripped.startswith("query_result(") and stripped.endswith(")"):
        result = migrate_panel_expr(stripped[len("query_result(") : -1], window, "variable")
        result.text = f"query_result({result.text})" if result.changed else query
        return result
    if stripped.startswith(("label_names(", "metrics(")):
        return ExprResult(query, False)
    return migrate_panel_expr(query, window, "variable")


def _unwrap(doc, path: str):
    """The dashboard object (also inside the {"dashboard": ..., "meta": ...} API envelope)."""
    if isinstance(doc, dict) and isinstance(doc.get("dashboard"), dict):
        return doc["dashboard"], ("dashboard",)
    if isinstance(doc, dict) and any(k in doc for k in ("panels", "rows", "templating")):
        return doc, ()
    raise InputError(path, 1, "unknown file shape: expected a Grafana dashboard (panels, rows or templating)")


def _is_query_variable(dash: dict, rest: tuple) -> bool:
    if rest[:2] != ("templating", "list") or len(rest) < 4:
        return False
    var = dash["templating"]["list"][rest[2]]
    return var.get("type") == "query" and rest[3:] in (("query",), ("query", "query"), ("definition",))


def migrate(text: str, path: str, report: Report, window: str = DEFAULT_WINDOW) -> str:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    dash, prefix = _unwrap(doc, path)
    datasources = Datasources(dash)
    edits = []
    for spath, start, end, value in string_spans(text):
        rest = spath[len(prefix) :]
        if spath[: len(prefix)] != prefix:
            continue
        is_expr = rest[-1] == "expr"
        if not is_expr and not _is_query_variable(dash, rest):
            continue
        if datasources.at(dash, rest) == OTHER:
            continue  # a Loki or Elasticsearch query has an `expr` too
        line = line_of(text, start)
        where = ".".join(map(str, rest))
        if not is_expr:
            result = _template_query(value, window)
        else:
            result = migrate_panel_expr(value, window, "annotation" if rest[0] == "annotations" else "panel")
        for warning in result.warnings:
            report.warn(path, line, f"{where}: {warning}", due=result.due)
        if result.changed:
            report.change(path, line, value, result.text, result.reasons)
            edits.append((start, end, json.dumps(result.text, ensure_ascii=False)))
    out = splice(text, edits)
    json.loads(out)  # a splice gone wrong is a bug: fail before anything is written
    return out
