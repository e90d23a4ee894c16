"""Alerting-rule checks in the style of mixtool and pint, on the generated rule groups.

mixtool: CamelCase alert names up to 40 characters, a static summary sentence, a templated
description, a severity in info|warning|critical. pint: `absent()` needs a `for`; a template
must not use a label the query aggregates away; the runbook anchor must exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Set
from dataclasses import dataclass
from importlib.resources import files

import promql_parser as p

from x509_mixin.generator.checks import Check, apply
from x509_mixin.mixin.config import SEVERITIES

# The runbooks ship inside the package, so an installed `x509-mixin lint` checks anchors too.
RUNBOOKS = files("x509_mixin.docs") / "runbooks.md"
RUNBOOKS_NAME = "docs/runbooks.md"

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
        card, included = (node.modifier.card, node.modifier.group_labels) if node.modifier else (None, [])
        # group_right: the right ("many") side's labels; either group adds the included ones.
        return _including(right if card == p.VectorMatchCardinality.OneToMany else left, included)
    return _OPEN


def _including(shape: _Shape, labels: list[str] | None) -> _Shape:
    only, dropped = shape
    added = frozenset(labels or ())
    return (None if only is None else only | added), dropped - added


def _is_scalar(node) -> bool:
    return isinstance(node, p.Call) and node.func.name in ("time", "scalar")


def runbook_anchors(text: str | None = None) -> frozenset[str]:
    """GitHub-style anchors of the headings of a runbook document (by default, the shipped one)."""
    text = RUNBOOKS.read_text(encoding="utf-8") if text is None else text
    return frozenset(
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in _HEADING_RE.findall(text)
    )


@dataclass(frozen=True)
class AlertRule:
    rule: dict
    anchors: Set[str]  # the runbooks' headings

    @property
    def annotations(self) -> dict:
        return self.rule.get("annotations", {})


def _name(a: AlertRule) -> Iterator[str]:
    name = a.rule["alert"]
    if not _NAME_RE.match(name) or len(name) > MAX_NAME:
        yield f"the name must be CamelCase and at most {MAX_NAME} characters"


def _severity(a: AlertRule) -> Iterator[str]:
    if a.rule.get("labels", {}).get("severity") not in SEVERITIES:
        yield f"label severity must be one of {', '.join(SEVERITIES)}"


def _summary(a: AlertRule) -> Iterator[str]:
    summary = a.annotations.get("summary", "")
    if not summary or "{{" in summary or not summary[0].isupper() or not summary.endswith("."):
        yield "summary must be a static sentence starting upper-case and ending with '.'"


def _description(a: AlertRule) -> Iterator[str]:
    if "{{" not in a.annotations.get("description", ""):
        yield "description must be templated (name the certificate or source)"


def _runbook_url(a: AlertRule) -> Iterator[str]:
    if not a.annotations.get("runbook_url"):
        yield "runbook_url is missing"


def _runbook_anchor(a: AlertRule) -> Iterator[str]:
    url = a.annotations.get("runbook_url", "")
    if "#" in url and url.rsplit("#", 1)[1] not in a.anchors:
        yield f"runbook anchor #{url.rsplit('#', 1)[1]} is not a heading of {RUNBOOKS_NAME}"


def _absent_for(a: AlertRule) -> Iterator[str]:
    if "absent(" in a.rule["expr"] and not a.rule.get("for"):
        yield "absent() without `for` fires on every restart of Prometheus"


def _template_labels(a: AlertRule) -> Iterator[str]:
    only, dropped = output_labels(p.parse(a.rule["expr"]))
    used = _LABEL_REF_RE.findall(a.annotations.get("description", "") + a.annotations.get("summary", ""))
    for label in sorted(set(used)):
        if label in dropped or (only is not None and label not in only):
            yield f"the description uses $labels.{label}, which the query drops"


ALERT_CHECKS: tuple[Check[AlertRule], ...] = (
    Check("alerts/name", f"alert names are CamelCase and at most {MAX_NAME} characters (mixtool)", _name),
    Check("alerts/severity", "the `severity` label is `info`, `warning` or `critical` (mixtool)", _severity),
    Check("alerts/summary", "summary is a static sentence, upper-case first, ending with a period (mixtool)", _summary),
    Check("alerts/description", "description is templated: it names the certificate or source (mixtool)", _description),
    Check("alerts/runbook-url", "every alert has a `runbook_url` annotation (mixtool)", _runbook_url),
    Check(
        "alerts/runbook-anchor",
        f"the `runbook_url`'s `#anchor` is a heading of {RUNBOOKS_NAME} (pint)",
        _runbook_anchor,
    ),
    Check(
        "alerts/absent-for",
        "a query with `absent()` has a `for`, or every Prometheus restart fires it (pint)",
        _absent_for,
    ),
    Check(
        "alerts/template-labels",
        "summary and description use only the `$labels` the query keeps (pint)",
        _template_labels,
    ),
)


def lint_alerts(groups: list[dict], disabled: Set[str] = frozenset()) -> list[str]:
    """One line per problem, naming the check and the alert."""
    anchors = runbook_anchors()
    problems: list[str] = []
    for group in groups:
        for rule in group.get("rules", []):
            if "alert" in rule:
                problems += apply(ALERT_CHECKS, AlertRule(rule, anchors), f"alert {rule['alert']}", disabled)
    return problems
