"""PromQL migration on the syntax tree (promql-parser), never on the text.

`migrate_expr` rewrites every use of v3's `x509_read_errors` gauge into the
`x509_source_errors_total` counter form of the migration guide (the printer, `printer.py`,
says how each use keeps its meaning) and lists the metrics that v4 only emits behind a
`metrics.*` gate. An expression without `x509_read_errors` is returned unchanged (the caller
keeps its original bytes); one with it is printed whole, because the parser keeps no source
positions to splice with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import promql_parser as pp

from x509_mixin.catalogue.metrics import BY_NAME, CHART_GATE_KEYS, GATE_DEFAULTS
from x509_mixin.migrate.printer import ADD, NEW, OLD, PRES, Printer, PromQLError, name_of

__all__ = ["NEW", "OLD", "PromQLError"]

DEFAULT_WINDOW = "15m"
# What the top of an expression must keep (printer.py): an alert fires for the same exporters
# when pieces stand for them; a recorded or graphed value must add up to the exporter's.
# A dashboard annotation or template variable only needs the series to be there.
ROLE_NEEDS = {"alert": PRES, "record": ADD, "panel": ADD, "annotation": PRES, "variable": PRES}

# Prometheus 2.x's name for double_exponential_smoothing (3.x renamed it): other teams' rules
# still use it, and the parser knows only the new name.
_EXTRA_FUNCTIONS = [
    pp.Function("holt_winters", [pp.ValueType.Matrix, pp.ValueType.Scalar, pp.ValueType.Scalar], pp.ValueType.Vector)
]
_registered: list[bool] = []

_DURATION = re.compile(r"(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?")
_OLD_WORD = re.compile(r"(?<![\w:])" + OLD + r"(?![\w:])")


@dataclass
class ExprResult:
    text: str  # the migrated expression (the original text when nothing changed)
    changed: bool
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    due: bool = False  # a change is due that the migration could not make (see the warnings)


def check_window(text: str) -> str:
    """`text` when it is a positive PromQL duration with units (`15m`, `1h30m`); ValueError otherwise."""
    if not text or not _DURATION.fullmatch(text):
        raise ValueError(f"not a PromQL duration: {text!r} (a number and a unit: ms, s, m, h, d, w or y, e.g. 15m)")
    if not any(ch in "123456789" for ch in text):
        raise ValueError(f"not a positive duration: {text!r}")
    return text


def parse(text: str):
    if not _registered:
        pp.register_extra_functions(_EXTRA_FUNCTIONS)
        _registered.append(True)
    try:
        return pp.parse(text)
    except (ValueError, RuntimeError) as exc:
        raise PromQLError(f"invalid PromQL: {exc}") from None


def mentions_old(text: str) -> bool:
    """Whether a text names x509_read_errors (for text the parser cannot read)."""
    return bool(_OLD_WORD.search(text))


def comments(text: str) -> list[str]:
    """The `#` comments of an expression (outside string literals), in order."""
    out, i, quote = [], 0, None
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote != "`":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'`":
            quote = ch
        elif ch == "#":
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            out.append(text[i:end].rstrip())
            i = end
        i += 1
    return out


def migrate_expr(text: str, window: str = DEFAULT_WINDOW, role: str = "record") -> ExprResult:
    """Migrate one expression; raises PromQLError when it does not parse."""
    tree = parse(text)
    names = metric_names(tree)
    warnings = gate_warnings(names)
    if _has_name_regex(tree):
        warnings.append(f"a regular expression on __name__ may select {OLD}, which v4 removed: review it by hand")
    if OLD not in names:
        return ExprResult(text, False, [], warnings)
    printer = Printer(window)
    new = printer.render(tree, ROLE_NEEDS[role])[0]
    parse(new)  # the printer's output must itself be valid PromQL
    kept = comments(text)
    if kept:  # the printer drops comments; they still say something about the expression
        new += "\n" + "\n".join(kept)
    warnings.extend(printer.warnings)
    return ExprResult(new, True, printer.reasons, warnings)


def unparsed(text: str, exc: PromQLError) -> ExprResult:
    """An expression the parser cannot read: left as it is, with a warning naming it; a change
    is still due when it names x509_read_errors."""
    due = mentions_old(text)
    todo = f"it names {OLD}, which v4 removed: migrate it by hand" if due else "left as it is"
    return ExprResult(text, False, [], [f"{exc}; {todo}: {text}"], due=due)


def render(tree, window: str = DEFAULT_WINDOW) -> str:
    """The printer's text of a tree (what a migrated expression looks like)."""
    return Printer(window).render(tree, ADD)[0]


def rename_selector(text: str) -> tuple[str, bool]:
    """A bare series selector (Grafana `label_values(selector, label)`): rename only."""
    tree = parse(text)
    if not isinstance(tree, pp.VectorSelector):
        raise PromQLError(f"not a series selector: {text}")
    if name_of(tree) != OLD:
        return text, False
    return Printer(DEFAULT_WINDOW).selector(tree, NEW), True


def metric_names(tree) -> set[str]:
    names: set[str] = set()

    def visit(node):
        if isinstance(node, pp.VectorSelector):
            name = name_of(node)
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


def _has_name_regex(tree) -> bool:
    found: list[pp.Matcher] = []

    def visit(node):
        if isinstance(node, pp.VectorSelector) and not node.name:
            found.extend(m for m in node.matchers.matchers if m.name == "__name__" and m.op != pp.MatchOp.Equal)

    pp.walk(tree, visit)
    return bool(found)
