"""Rule checks in the style of mixtool and pint, on the generated rule groups.

mixtool: CamelCase alert names up to 40 characters, a static summary sentence, a templated
description, a severity in info|warning|critical. pint: `absent()` needs a `for`; a template
must not use a label the query aggregates away; the runbook anchor must exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import promql_parser as p

from x509_mixin.mixin.config import SEVERITIES

MAX_NAME = 40
_NAME_RE = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_LABEL_REF_RE = re.compile(r"\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)")
_HEADING_RE = re.compile(r"^#+\s+(.*?)\s*$", re.M)

# (labels the result can only have, or None for "not restricted"; labels it cannot have)
_Shape = tuple[frozenset[str] | None, frozenset[str]]
_OPEN: _Shape = (None, frozenset())


def output_labels(node) -> _Shape:
    """What the query's result labels are restricted to, as far as the AST tells."""
    if isinstance(node, p.ParenExpr | p.UnaryExpr):
        return output_labels(node.expr)
    if isinstance(node, p.AggregateExpr):
        only, dropped = output_labels(node.expr)
        mod = node.modifier
        if mod is None:
            return frozenset(), frozenset()
        names = frozenset(mod.labels)
        if mod.type == p.AggModifierType.By:
            return names if only is None else names & only, frozenset()
        return (None if only is None else only - names), dropped | names
    if isinstance(node, p.Call):
        if node.func.name in ("absent", "absent_over_time"):
            sel = node.args[0]
            if isinstance(sel, p.MatrixSelector):
                sel = sel.vector_selector
            eq = [m.name for m in sel.matchers.matchers if m.op == p.MatchOp.Equal]
            return frozenset(eq), frozenset()
        if node.func.name in ("vector", "time", "scalar"):
            return frozenset(), frozenset()
        vectors = [a for a in node.args if not isinstance(a, p.StringLiteral | p.NumberLiteral)]
        return output_labels(vectors[0]) if vectors else _OPEN
    if isinstance(node, p.BinaryExpr):
        left, right = output_labels(node.lhs), output_labels(node.rhs)
        if isinstance(node.lhs, p.NumberLiteral) or _is_scalar(node.lhs):
            return right
        if str(node.op).strip() == "or":
            only = None if left[0] is None or right[0] is None else left[0] | right[0]
            return only, left[1] & right[1]
        return left
    return _OPEN


def _is_scalar(node) -> bool:
    return isinstance(node, p.Call) and node.func.name in ("time", "scalar")


def runbook_anchors(runbooks: Path) -> set[str]:
    """GitHub-style anchors of the runbook document's headings."""
    anchors = set()
    for heading in _HEADING_RE.findall(runbooks.read_text()):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def lint_groups(groups: list[dict], runbooks: Path | None = None) -> list[str]:
    """One line per problem, naming the alert."""
    problems: list[str] = []
    anchors = runbook_anchors(runbooks) if runbooks is not None and runbooks.exists() else None
    for group in groups:
        for rule in group.get("rules", []):
            name = rule.get("alert")
            if name is None:
                continue
            where = f"alert {name}"
            if not _NAME_RE.match(name) or len(name) > MAX_NAME:
                problems.append(f"{where}: the name must be CamelCase and at most {MAX_NAME} characters")
            labels, ann = rule.get("labels", {}), rule.get("annotations", {})
            if labels.get("severity") not in SEVERITIES:
                problems.append(f"{where}: label severity must be one of {', '.join(SEVERITIES)}")
            summary = ann.get("summary", "")
            if not summary or "{{" in summary or not summary[0].isupper() or not summary.endswith("."):
                problems.append(f"{where}: summary must be a static sentence starting upper-case and ending with '.'")
            description = ann.get("description", "")
            if "{{" not in description:
                problems.append(f"{where}: description must be templated (name the certificate or source)")
            url = ann.get("runbook_url", "")
            if not url:
                problems.append(f"{where}: runbook_url is missing")
            elif anchors is not None and "#" in url and url.rsplit("#", 1)[1] not in anchors:
                problems.append(f"{where}: runbook anchor #{url.rsplit('#', 1)[1]} is not a heading of {runbooks}")
            expr = p.parse(rule["expr"])
            if "absent(" in rule["expr"] and not rule.get("for"):
                problems.append(f"{where}: absent() without `for` fires on every restart of Prometheus")
            only, dropped = output_labels(expr)
            for label in sorted(set(_LABEL_REF_RE.findall(description + summary))):
                if label in dropped or (only is not None and label not in only):
                    problems.append(f"{where}: the description uses $labels.{label}, which the query drops")
    return problems
