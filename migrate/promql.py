"""PromQL migration on the syntax tree (promql-parser), never on the text.

`migrate_expr` rewrites every use of v3's `x509_read_errors` gauge into the
`x509_source_errors_total` counter form of the migration guide and lists the metrics that
v4 only emits behind a `metrics.*` gate. An expression without `x509_read_errors` is
returned unchanged (the caller keeps its original bytes); one with it is printed whole by
`render`, because the parser keeps no source positions to splice with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta

import promql_parser as pp

from x509_mixin.catalogue.metrics import BY_NAME, CHART_GATE_KEYS, GATE_DEFAULTS, V3_REMOVED
from x509_mixin.catalogue.promql import matcher_text, quote

OLD = "x509_read_errors"
NEW = V3_REMOVED[OLD]
DEFAULT_WINDOW = "15m"

# v3's gauge held the errors of the latest read; its change over a range is the number of
# new errors, which the counter gives directly.
_INCREASE_LIKE = {"delta": "increase", "idelta": "increase", "increase": "increase"}
_RATE_LIKE = {"deriv": "rate", "rate": "rate", "irate": "irate"}

WHY_SELECTOR = (
    f"{OLD} was removed in v4; increase({NEW}[{{window}}]) counts the errors of the last "
    "{window}, per source and reason"
)
WHY_RANGE = f"{OLD} was removed in v4; {{fn}} over the {NEW} counter gives the change the v3 gauge showed"
WHY_OVER_TIME = (
    f"{OLD} was removed in v4; a range over it becomes a subquery over increase({NEW}[{{window}}]), "
    "the counter form of the v3 gauge's value"
)
WHY_ABSENT = f"{OLD} was removed in v4; absence of the exporter's error series is now absence of {NEW}"
WARN_LABELS = (
    f"{NEW} has the labels source_kind, source_name and reason that {OLD} had not: "
    "a binary operation matching on all labels may no longer match, use on(...)"
)


class PromQLError(ValueError):
    """The expression does not parse, or uses a construct the printer cannot reproduce."""


@dataclass
class ExprResult:
    text: str  # the migrated expression (the original text when nothing changed)
    changed: bool
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse(text: str):
    try:
        return pp.parse(text)
    except (ValueError, RuntimeError) as exc:
        raise PromQLError(f"invalid PromQL: {exc}") from None


def migrate_expr(text: str, window: str = DEFAULT_WINDOW) -> ExprResult:
    """Migrate one expression; raises PromQLError when it does not parse."""
    tree = parse(text)
    names = metric_names(tree)
    warnings = gate_warnings(names)
    if _has_name_regex(tree):
        warnings.append(f"a regular expression on __name__ may select {OLD}, which v4 removed: review it by hand")
    if OLD not in names:
        return ExprResult(text, False, [], warnings)
    printer = _Printer(window)
    new = printer.render(tree)
    parse(new)  # the printer's output must itself be valid PromQL
    warnings.extend(printer.warnings)
    return ExprResult(new, True, printer.reasons, warnings)


def render(tree, window: str = DEFAULT_WINDOW) -> str:
    """The printer's text of a tree (what a migrated expression looks like)."""
    return _Printer(window).render(tree)


def rename_selector(text: str) -> tuple[str, bool]:
    """A bare series selector (Grafana `label_values(selector, label)`): rename only."""
    tree = parse(text)
    if not isinstance(tree, pp.VectorSelector):
        raise PromQLError(f"not a series selector: {text}")
    if _name_of(tree) != OLD:
        return text, False
    return _Printer(DEFAULT_WINDOW).selector(tree, NEW), True


def metric_names(tree) -> set[str]:
    names: set[str] = set()

    def visit(node):
        if isinstance(node, pp.VectorSelector):
            name = _name_of(node)
            if name:
                names.add(name)

    pp.walk(tree, visit)
    return names


def gate_warnings(names: set[str]) -> list[str]:
    """One warning per metric that v4 emits only behind a gate, in a stable order."""
    out = []
    for name in sorted(names):
        base, _, suffix = name.rpartition("_")
        metric = BY_NAME.get(name) or (BY_NAME.get(base) if suffix in ("bucket", "sum", "count") else None)
        if metric is None or metric.gate is None:
            continue
        gate, chart = metric.gate, CHART_GATE_KEYS[metric.gate]
        if GATE_DEFAULTS[gate]:
            out.append(
                f"{name} needs metrics.{gate} (chart: {chart}) to stay on: v4 emits it by default, "
                f"setting it to false removes the series"
            )
        else:
            out.append(f"{name} needs metrics.{gate}: true (chart: {chart}: true): v4 does not emit it by default")
    return out


def _name_of(sel) -> str | None:
    if sel.name:
        return sel.name
    for m in sel.matchers.matchers:
        if m.name == "__name__" and m.op == pp.MatchOp.Equal:
            return m.value
    return None


def _has_name_regex(tree) -> bool:
    found: list[pp.Matcher] = []

    def visit(node):
        if isinstance(node, pp.VectorSelector) and not node.name:
            found.extend(m for m in node.matchers.matchers if m.name == "__name__" and m.op != pp.MatchOp.Equal)

    pp.walk(tree, visit)
    return bool(found)


# --- printing -------------------------------------------------------------------------------


def duration(delta: timedelta) -> str:
    if delta < timedelta(0):
        return "-" + pp.display_duration(-delta)
    return pp.display_duration(delta)


def number(val: float) -> str:
    if math.isnan(val):
        return "NaN"
    if math.isinf(val):
        return "Inf" if val > 0 else "-Inf"
    if val.is_integer() and abs(val) < 1e15:
        return str(int(val))
    return repr(val)


def _labels(labels) -> str:
    return "(" + ", ".join(labels) + ")"


class _Printer:
    """Prints a whole tree; `x509_read_errors` nodes come out in their v4 form."""

    def __init__(self, window: str):
        pp.parse_duration(window)  # refuse a malformed window early
        self.window = window
        self.reasons: list[str] = []
        self.warnings: list[str] = []

    def _why(self, text: str) -> None:
        if text not in self.reasons:
            self.reasons.append(text)

    def _warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def render(self, node) -> str:
        kind = type(node).__name__
        return getattr(self, "_" + kind)(node)

    # selectors ---------------------------------------------------------------------------

    def selector(self, sel, name: str | None, rng: str = "") -> str:
        matchers = [m for m in sel.matchers.matchers if not (name and m.name == "__name__")]
        text = name or ""
        if matchers or not text:
            text += "{" + ",".join(map(matcher_text, matchers))
            for group in sel.matchers.or_matchers or []:
                text += " or " + ",".join(map(matcher_text, group))
            text += "}"
        text += rng
        return text + self._modifiers(sel.offset, sel.at)

    def _modifiers(self, offset, at) -> str:
        text = ""
        if at is not None:
            if at.type == pp.AtModifierType.Start:
                text += " @ start()"
            elif at.type == pp.AtModifierType.End:
                text += " @ end()"
            else:
                text += " @ " + number(at.at.timestamp())
        if offset is not None:
            text += " offset " + duration(offset)
        return text

    def _counter(self, sel, rng: str) -> str:
        return self.selector(sel, NEW, f"[{rng}]")

    def _VectorSelector(self, node) -> str:
        name = _name_of(node)
        if name != OLD:
            return self.selector(node, node.name)
        self._why(WHY_SELECTOR.format(window=self.window))
        return f"increase({self._counter(node, self.window)})"

    def _MatrixSelector(self, node) -> str:
        sel, rng = node.vector_selector, duration(node.range)
        if _name_of(sel) != OLD:
            return self.selector(sel, sel.name, f"[{rng}]")
        # A range over the gauge becomes a subquery over the gauge's counter form.
        self._why(WHY_OVER_TIME.format(window=self.window))
        return f"increase({self.selector(sel, NEW, f'[{self.window}]')})[{rng}:]"

    # composite nodes --------------------------------------------------------------------

    def _Call(self, node) -> str:
        fn, args = node.func.name, node.args
        if (
            len(args) == 1
            and isinstance(args[0], pp.MatrixSelector)
            and _name_of(args[0].vector_selector) == OLD
            and (fn in _INCREASE_LIKE or fn in _RATE_LIKE)
        ):
            new_fn = _INCREASE_LIKE.get(fn) or _RATE_LIKE[fn]
            self._why(WHY_RANGE.format(fn=f"{new_fn}()"))
            return f"{new_fn}({self._counter(args[0].vector_selector, duration(args[0].range))})"
        if fn == "absent" and len(args) == 1 and isinstance(args[0], pp.VectorSelector) and _name_of(args[0]) == OLD:
            self._why(WHY_ABSENT)
            return f"absent({self.selector(args[0], NEW)})"
        return f"{fn}(" + ", ".join(self.render(a) for a in args) + ")"

    def _AggregateExpr(self, node) -> str:
        op = str(node.op)
        if op == "count" and OLD in metric_names(node.expr):
            self._warn(
                f"count(...) over {NEW} counts sources x reasons, not exporters as count({OLD}) did: "
                f"count by (job, instance) first if you meant exporters"
            )
        text = op
        if node.modifier is not None:
            kind = "by" if node.modifier.type == pp.AggModifierType.By else "without"
            text += f" {kind} {_labels(node.modifier.labels)} "
        args = ([self.render(node.param)] if node.param is not None else []) + [self.render(node.expr)]
        return text + "(" + ", ".join(args) + ")"

    def _BinaryExpr(self, node) -> str:
        op = str(node.op)
        mod = node.modifier
        parts = [self.render(node.lhs), op]
        sides = [metric_names(node.lhs), metric_names(node.rhs)]
        on = mod is not None and mod.matching is not None and mod.matching.type == pp.LabelModifierType.Include
        if op not in ("or",) and not on and all(sides) and any(OLD in side for side in sides):
            self._warn(WARN_LABELS)
        if mod is not None:
            fill = mod.fill_values
            if fill is not None and (fill.lhs is not None or fill.rhs is not None):
                raise PromQLError("fill modifiers are not supported by the migration printer")
            if mod.return_bool:
                parts.append("bool")
            if mod.matching is not None:
                kind = "on" if mod.matching.type == pp.LabelModifierType.Include else "ignoring"
                parts.append(kind + " " + _labels(mod.matching.labels))
            if mod.card == pp.VectorMatchCardinality.ManyToOne:
                parts.append("group_left" + (" " + _labels(mod.group_labels) if mod.group_labels else ""))
            elif mod.card == pp.VectorMatchCardinality.OneToMany:
                parts.append("group_right" + (" " + _labels(mod.group_labels) if mod.group_labels else ""))
        parts.append(self.render(node.rhs))
        return " ".join(parts)

    def _ParenExpr(self, node) -> str:
        return "(" + self.render(node.expr) + ")"

    def _UnaryExpr(self, node) -> str:
        return "-" + self.render(node.expr)

    def _SubqueryExpr(self, node) -> str:
        step = duration(node.step) if node.step else ""
        return f"{self.render(node.expr)}[{duration(node.range)}:{step}]" + self._modifiers(node.offset, node.at)

    def _NumberLiteral(self, node) -> str:
        return number(node.val)

    def _StringLiteral(self, node) -> str:
        return quote(node.val)
