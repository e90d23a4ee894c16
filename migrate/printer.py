"""Printing a PromQL tree back to text, with v3's `x509_read_errors` in its v4 form.

v3's gauge had one series per exporter (the target's labels only); v4's counter
`x509_source_errors_total` has one per source and reason ("pieces"). The guide's form,
`increase(x509_source_errors_total[15m])`, gives pieces whose values add up to the exporter's.
Whether pieces can stand where v3 had one series depends on what reads them, so each node is
printed for what its reader needs of it (a `Need`, weakest last):

- EXACT: v3's series, with v3's labels and one value per exporter;
- ADD: pieces are fine if they are not negative and add up to the exporter's value
  (`sum`, `rate`, a `> 0` filter, a recording rule, a panel);
- POS: pieces are fine if an exporter is above 0 exactly when one of its pieces is
  (`max`, `max_over_time` read by `> 0`);
- PRES: pieces are fine if an exporter is present exactly when one of its pieces is
  (an alert's expression, `absent`, the right side of `and on (instance)`).

A counter leaf is ADD; where EXACT is needed it is summed back to v3's series first,
`sum without (source_kind, source_name, reason) (...)`. Functions that look at samples rather
than values (`count_over_time`, `timestamp`, ...) read the raw counter, whose samples are the
gauge's. What cannot keep its meaning is printed as close as it gets and reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

import promql_parser as pp

from x509_mixin.catalogue.metrics import BY_NAME, V3_REMOVED
from x509_mixin.catalogue.promql import matcher_text, quote

OLD = "x509_read_errors"
NEW = V3_REMOVED[OLD]
PIECE_LABELS: tuple[str, ...] = tuple(label for label in BY_NAME[NEW].labels)

EXACT, ADD, POS, PRES = 0, 1, 2, 3  # needs and kinds: a kind satisfies a need when kind <= need


@dataclass(frozen=True)
class Shape:
    kind: int  # EXACT, ADD, POS or PRES: what the printed text is, per exporter
    scaled: bool = False  # its values come from the error counter (not counts of series or times)
    negated: bool = False  # pieces that add up, but below 0 (`-x`): a `> 0` filter cannot keep them


CONST = Shape(EXACT)

# Range functions over the gauge that become the same function over the counter.
COUNTER_FNS = {
    "delta": "increase",
    "idelta": "increase",
    "increase": "increase",
    "deriv": "rate",
    "rate": "rate",
    "irate": "irate",
}
# Functions of samples (their number or times), not values: over the raw counter, folded per
# exporter with this aggregation (every piece has the exporter's samples).
SAMPLE_FNS = {
    "count_over_time": "max",
    "present_over_time": "max",
    "ts_of_last_over_time": "max",
    "ts_of_first_over_time": "min",
}
LINEAR_OVER_TIME = {"sum_over_time", "avg_over_time", "last_over_time", "first_over_time"}
NO_EQUIVALENT = {"changes", "resets"}
# Functions whose values are times, not error figures.
TIME_FNS = {
    "timestamp",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "hour",
    "minute",
    "month",
    "year",
    "ts_of_max_over_time",
    "ts_of_min_over_time",
}
LABEL_FNS = {"label_replace", "label_join", "sort", "sort_desc", "sort_by_label", "sort_by_label_desc"}
SELECTING_AGGS = {"topk", "bottomk", "limitk", "limit_ratio", "count_values"}
PRESENCE_AGGS = {"min", "avg", "stddev", "stdvar", "quantile", "count", "group"}
UNSCALED_AGGS = {"count", "group", "count_values"}
COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}
SET_OPS = {"and", "or", "unless"}

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
WHY_SAMPLES = (
    f"{OLD} was removed in v4; {{fn}}() reads samples, not values: the raw {NEW} series have the "
    "gauge's samples, folded to one series per exporter"
)
WHY_EXACT = (
    f"v4 has one series per source and reason where v3 had one per exporter: sum without "
    f"({', '.join(PIECE_LABELS)}) gives v3's series back where the query counts, ranks, compares or "
    "joins them"
)
WARN_NO_EQUIVALENT = (
    "{call}: {fn}() counted changes of v3's per-read error count, which v4 does not expose; the "
    "rewrite applies it to the errors of the last {window}, which change far more often: decide "
    f"by hand (e.g. increase({NEW}[5m]) > 0 for new errors)"
)
WARN_THRESHOLD = (
    "{cmp}: {other} was a threshold on v3's gauge (failed reads at the latest scrape); the v4 form "
    f"counts errors of {NEW} (over {{window}}, or per second for rate()): check the threshold"
)


class PromQLError(ValueError):
    """The expression does not parse, or uses a construct the printer cannot reproduce."""


def name_of(sel) -> str | None:
    if sel.name:
        return sel.name
    for m in sel.matchers.matchers:
        if m.name == "__name__" and m.op == pp.MatchOp.Equal:
            return m.value
    return None


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


def _is_old(node) -> bool:
    if isinstance(node, pp.MatrixSelector):
        node = node.vector_selector
    return isinstance(node, pp.VectorSelector) and name_of(node) == OLD


def _is_scalar(node) -> bool:
    if isinstance(node, pp.NumberLiteral | pp.StringLiteral):
        return True
    if isinstance(node, pp.ParenExpr | pp.UnaryExpr):
        return _is_scalar(node.expr)
    if isinstance(node, pp.BinaryExpr):
        return _is_scalar(node.lhs) and _is_scalar(node.rhs)
    if isinstance(node, pp.Call):
        return node.func.return_type == pp.ValueType.Scalar
    return False


def _label_free(node) -> bool:
    """Whether a vector expression has no labels at all (`vector(1)`, `sum(x)`)."""
    if isinstance(node, pp.ParenExpr):
        return _label_free(node.expr)
    if isinstance(node, pp.Call):
        return node.func.name == "vector"
    if isinstance(node, pp.AggregateExpr):
        mod = node.modifier
        by_nothing = mod is None or (mod.type == pp.AggModifierType.By and not mod.labels)
        return by_nothing and str(node.op) not in SELECTING_AGGS
    if isinstance(node, pp.BinaryExpr):
        sides = [node.lhs, node.rhs]
        return all(_label_free(s) or _is_scalar(s) for s in sides) and not all(map(_is_scalar, sides))
    return False


def _zero(node) -> bool:
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    return isinstance(node, pp.NumberLiteral) and node.val == 0


def _positive(node) -> bool:
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    return isinstance(node, pp.NumberLiteral) and node.val > 0


def _keeps_pieces(labels, include: bool) -> bool:
    """Whether grouping `by (labels)` (include) or `without (labels)` keeps some piece label."""
    return bool(set(labels) & set(PIECE_LABELS)) if include else not set(PIECE_LABELS) <= set(labels)


class Printer:
    """Prints a whole tree; with `rewrite`, `x509_read_errors` comes out in its v4 form."""

    def __init__(self, window: str, rewrite: bool = True):
        self.window = window
        self.rewrite = rewrite
        self.reasons: list[str] = []
        self.warnings: list[str] = []

    def _why(self, text: str) -> None:
        if text not in self.reasons:
            self.reasons.append(text)

    def _warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def text(self, node) -> str:
        return self.render(node, PRES)[0]

    def plain(self, node) -> str:
        """The original text of a subtree (for naming it in a warning)."""
        return Printer(self.window, rewrite=False).text(node)

    def render(self, node, need: int) -> tuple[str, Shape]:
        handler = getattr(self, "_" + type(node).__name__)
        marks = len(self.reasons), len(self.warnings)
        text, shape = handler(node, need)
        if shape.kind > need:  # a rule asked too little of a child: ask every child for v3's series
            del self.reasons[marks[0] :], self.warnings[marks[1] :]
            text, shape = handler(node, EXACT)
        return text, shape

    # selectors and leaves ---------------------------------------------------------------

    def selector(self, sel, name: str | None, rng: str = "", modifiers: bool = True) -> str:
        matchers = [m for m in sel.matchers.matchers if not (name and m.name == "__name__")]
        text = name or ""
        if matchers or not text:
            text += "{" + ",".join(map(matcher_text, matchers))
            for group in sel.matchers.or_matchers or []:
                text += " or " + ",".join(map(matcher_text, group))
            text += "}"
        text += rng
        return text + (self._modifiers(sel.offset, sel.at) if modifiers else "")

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

    def _exact(self, text: str, scaled: bool = True, fold: str = "sum") -> tuple[str, Shape]:
        """Pieces folded back to v3's series (one per exporter, v3's labels)."""
        self._why(WHY_EXACT)
        return f"{fold} without {_labels(PIECE_LABELS)} ({text})", Shape(EXACT, scaled)

    def _leaf(self, text: str, need: int) -> tuple[str, Shape]:
        """A counter-form text (pieces that add up), folded when v3's series are needed."""
        return self._exact(text) if need == EXACT else (text, Shape(ADD, True))

    def _increase(self, sel, need: int, modifiers: bool = True) -> tuple[str, Shape]:
        return self._leaf(f"increase({self.selector(sel, NEW, f'[{self.window}]', modifiers)})", need)

    def _VectorSelector(self, node, need: int) -> tuple[str, Shape]:
        if not (self.rewrite and _is_old(node)):
            return self.selector(node, node.name), CONST
        self._why(WHY_SELECTOR.format(window=self.window))
        return self._increase(node, need)

    def _MatrixSelector(self, node, need: int) -> tuple[str, Shape]:
        return self._range(node, need)

    def _range(self, node, need: int) -> tuple[str, Shape]:
        """A range vector read by a function of values: over the gauge, a subquery of its counter
        form. The range's `@` and `offset` move to the subquery: they place the range, not each
        step of it."""
        if isinstance(node, pp.SubqueryExpr):
            return self._SubqueryExpr(node, need)
        sel, rng = node.vector_selector, duration(node.range)
        if not (self.rewrite and _is_old(sel)):
            return self.selector(sel, sel.name, f"[{rng}]"), CONST
        self._why(WHY_OVER_TIME.format(window=self.window))
        inner, shape = self._increase(sel, need, modifiers=False)
        return f"{inner}[{rng}:]" + self._modifiers(sel.offset, sel.at), shape

    # functions --------------------------------------------------------------------------

    def _Call(self, node, need: int) -> tuple[str, Shape]:
        fn, args = node.func.name, list(node.args)
        ranged = [i for i, a in enumerate(args) if isinstance(a, pp.MatrixSelector | pp.SubqueryExpr)]
        if self.rewrite and ranged and _is_old(args[ranged[0]]):
            special = self._over_gauge(fn, args, ranged[0], need)
            if special is not None:
                return special
        if self.rewrite and fn in ("timestamp", "absent") and args and _is_old(args[0]):
            sel = args[0]
            if fn == "absent":
                self._why(WHY_ABSENT)
                return f"absent({self.selector(sel, NEW)})", CONST
            self._why(WHY_SAMPLES.format(fn=fn))
            return self._exact(f"timestamp({self.selector(sel, NEW)})", scaled=False, fold="max")
        if ranged:
            return self._range_call(node, ranged[0], need)
        return self._instant_call(fn, args, need)

    def _args(self, fn: str, parts: list[str]) -> str:
        return f"{fn}(" + ", ".join(parts) + ")"

    def _over_gauge(self, fn: str, args: list, at: int, need: int) -> tuple[str, Shape] | None:
        """Functions whose v4 form reads the raw counter (not a subquery of its counter form)."""
        mat = args[at]
        if not isinstance(mat, pp.MatrixSelector):
            return None
        sel, rng = mat.vector_selector, duration(mat.range)
        raw = self.selector(sel, NEW, f"[{rng}]")
        if fn in COUNTER_FNS and len(args) == 1:
            new_fn = COUNTER_FNS[fn]
            self._why(WHY_RANGE.format(fn=f"{new_fn}()"))
            return self._leaf(f"{new_fn}({raw})", need)
        if fn in SAMPLE_FNS:
            self._why(WHY_SAMPLES.format(fn=fn))
            return self._exact(self._args(fn, [raw]), scaled=False, fold=SAMPLE_FNS[fn])
        if fn == "absent_over_time":
            self._why(WHY_SAMPLES.format(fn=fn))
            return self._args(fn, [raw]), CONST
        return None

    def _range_call(self, node, at: int, need: int) -> tuple[str, Shape]:
        """A function of a range vector (a range over the gauge, a subquery, another metric's range)."""
        fn, args = node.func.name, list(node.args)
        if fn in LINEAR_OVER_TIME:
            inner_need = need  # a sum (or mean, or last value) over time of pieces adds up as they do
        elif fn == "max_over_time":
            inner_need = POS if need >= POS else EXACT
        elif fn in SAMPLE_FNS or fn == "absent_over_time":
            inner_need = PRES if need == PRES or fn == "absent_over_time" else EXACT
        else:
            inner_need = PRES if need == PRES else EXACT
        if fn in NO_EQUIVALENT and self.rewrite and self._involves_old(args[at]):
            self._warn(WARN_NO_EQUIVALENT.format(call=self.plain(node), fn=fn, window=self.window))
        parts, shape = [], CONST
        for i, arg in enumerate(args):
            if i == at:
                text, inner = self._range(arg, inner_need)
                if fn == "max_over_time" and inner.kind in (ADD, POS):
                    inner = Shape(POS, inner.scaled)
                shape = inner
            else:
                text = self.render(arg, EXACT)[0]
            parts.append(text)
        scaled = shape.scaled and fn not in TIME_FNS and fn not in SAMPLE_FNS and fn not in NO_EQUIVALENT
        kind = EXACT if fn == "absent_over_time" else shape.kind
        return self._args(fn, parts), Shape(kind, scaled and fn != "absent_over_time")

    def _instant_call(self, fn: str, args: list, need: int) -> tuple[str, Shape]:
        if fn in LABEL_FNS and args:
            first, shape = self.render(args[0], need)
            return self._args(fn, [first] + [self.render(a, EXACT)[0] for a in args[1:]]), shape
        if fn == "absent":
            return self._args(fn, [self.render(a, PRES)[0] for a in args]), CONST
        arg_need = PRES if need == PRES and fn != "scalar" else EXACT
        parts, kind, scaled = [], EXACT, False
        for arg in args:
            text, shape = self.render(arg, arg_need)
            parts.append(text)
            kind, scaled = max(kind, shape.kind), scaled or shape.scaled
        return self._args(fn, parts), Shape(kind, scaled and fn not in TIME_FNS)

    def _involves_old(self, node) -> bool:
        found: list = []
        pp.walk(node, lambda n: found.append(n) if _is_old(n) else None)
        return bool(found)

    # aggregations -----------------------------------------------------------------------

    def _AggregateExpr(self, node, need: int) -> tuple[str, Shape]:
        op, mod = str(node.op), node.modifier
        keeps = mod is not None and _keeps_pieces(mod.labels, mod.type == pp.AggModifierType.By)
        if op == "sum":
            child_need = EXACT if need == EXACT and keeps else (ADD if need <= ADD else need)
        elif op == "max":
            child_need = need if need >= POS else EXACT
        elif op in PRESENCE_AGGS:
            child_need = PRES if need == PRES else EXACT
        else:
            child_need = EXACT
        text, shape = self.render(node.expr, child_need)
        kind = shape.kind
        if op == "sum" and kind == ADD and not keeps:
            kind = EXACT  # the pieces of each exporter are summed: v3's series and values
        elif op == "max" and kind == ADD:
            kind = POS
        elif op not in ("sum", "max") and kind != EXACT:
            kind = PRES  # e.g. count of pieces: only whether each group is there holds
        head = op
        if mod is not None:
            kind_word = "by" if mod.type == pp.AggModifierType.By else "without"
            head += f" {kind_word} {_labels(mod.labels)} "
        parts = ([self.render(node.param, EXACT)[0]] if node.param is not None else []) + [text]
        return head + "(" + ", ".join(parts) + ")", Shape(kind, shape.scaled and op not in UNSCALED_AGGS)

    # binary operations ------------------------------------------------------------------

    def _BinaryExpr(self, node, need: int) -> tuple[str, Shape]:
        op, mod = str(node.op), node.modifier
        if mod is not None and mod.fill_values is not None:
            fill = mod.fill_values
            if fill.lhs is not None or fill.rhs is not None:
                raise PromQLError("fill modifiers are not supported by the migration printer")
        bool_ = mod is not None and mod.return_bool
        lhs_scalar, rhs_scalar = _is_scalar(node.lhs), _is_scalar(node.rhs)
        if lhs_scalar and rhs_scalar:
            needs = (EXACT, EXACT)
        elif lhs_scalar or rhs_scalar:
            needs = self._scalar_operation(node, op, bool_, need, vector_left=rhs_scalar)
        else:
            needs = self._vector_matching(node, op, need)
        lhs, lshape = self.render(node.lhs, needs[0])
        rhs, rshape = self.render(node.rhs, needs[1])
        if op in COMPARISONS and (lshape.negated or rshape.negated):
            lhs, lshape = self.render(node.lhs, EXACT)
            rhs, rshape = self.render(node.rhs, EXACT)
        if op in COMPARISONS:
            self._threshold(node, lshape, rshape)
        shape = self._binary_shape(op, bool_, lshape, rshape, lhs_scalar, rhs_scalar)
        parts = [lhs, op]
        if mod is not None:
            if bool_:
                parts.append("bool")
            if mod.matching is not None:
                word = "on" if mod.matching.type == pp.LabelModifierType.Include else "ignoring"
                parts.append(word + " " + _labels(mod.matching.labels))
            for card, word in (
                (pp.VectorMatchCardinality.ManyToOne, "group_left"),
                (pp.VectorMatchCardinality.OneToMany, "group_right"),
            ):
                if mod.card == card:
                    # `()` is written when the other side opens a parenthesis, which would
                    # otherwise read as the label list: `group_right () (0 * x)`.
                    listed = mod.group_labels or rhs.startswith("(")
                    parts.append(word + (" " + _labels(mod.group_labels or []) if listed else ""))
        parts.append(rhs)
        return " ".join(parts), shape

    def _scalar_operation(self, node, op: str, bool_: bool, need: int, vector_left: bool) -> tuple[int, int]:
        """Needs of (lhs, rhs) when one side is a scalar."""
        scalar = node.rhs if vector_left else node.lhs
        if need == EXACT:
            vec = EXACT
        elif op in COMPARISONS and not bool_:
            # `> 0` keeps the pieces above 0: an exporter passes exactly when one of its pieces does.
            above_zero = _zero(scalar) and (op == "!=" or op == (">" if vector_left else "<"))
            vec = (ADD if need == ADD else POS) if above_zero else EXACT
        elif op in COMPARISONS:
            vec = PRES if need == PRES else EXACT
        elif op == "*" or (op == "/" and vector_left):
            vec = need if _positive(scalar) or need == PRES else EXACT
        else:
            vec = PRES if need == PRES else EXACT
        return (vec, EXACT) if vector_left else (EXACT, vec)

    def _vector_matching(self, node, op: str, need: int) -> tuple[int, int]:
        """Needs of (lhs, rhs) between two vectors: matching on labels needs v3's labels, unless
        the match ignores the piece labels and the side may hold several series per match."""
        mod = node.modifier
        matching = mod.matching if mod is not None else None
        if matching is None:
            key_has_pieces = True
        else:
            key_has_pieces = _keeps_pieces(matching.labels, matching.type == pp.LabelModifierType.Include)
        if op in SET_OPS:
            if _label_free(node.rhs) or _label_free(node.lhs) or not key_has_pieces:
                return (need, need) if op == "or" else (need, PRES)
            return EXACT, EXACT
        card = mod.card if mod is not None else None
        many_left = card == pp.VectorMatchCardinality.ManyToOne
        many_right = card == pp.VectorMatchCardinality.OneToMany
        if op in COMPARISONS or key_has_pieces or not (many_left or many_right):
            return EXACT, EXACT
        # The many side of group_left/right, matched per exporter: each piece meets its exporter's
        # one series. Scaling by it keeps pieces adding up; any operation keeps them present.
        linear = op == "*" or (op == "/" and many_left)
        many_need = need if need == PRES or (need == ADD and linear) else EXACT
        return (many_need, EXACT) if many_left else (EXACT, many_need)

    def _binary_shape(self, op, bool_, lshape: Shape, rshape: Shape, lhs_scalar: bool, rhs_scalar: bool) -> Shape:
        kind = max(lshape.kind, rshape.kind)
        if op in ("and", "unless"):
            return lshape
        if op in COMPARISONS and not bool_:
            vec = rshape if lhs_scalar else lshape  # a filter returns its vector side's values
            return Shape(kind, vec.scaled)
        if op in COMPARISONS:
            return Shape(kind, False)
        if op == "/" and lshape.scaled and rshape.scaled:
            return Shape(kind, False)  # a ratio of two error figures has no scale
        # pieces times another vector's values add up, but may be below 0
        negated = lshape.negated or rshape.negated or (not lhs_scalar and not rhs_scalar and kind != EXACT)
        return Shape(kind, lshape.scaled or rshape.scaled, negated)

    def _threshold(self, node, lshape: Shape, rshape: Shape) -> None:
        """A comparison of a value from the error counter with anything on another scale."""
        if lshape.scaled == rshape.scaled:
            return
        other = node.rhs if lshape.scaled else node.lhs
        if _zero(other):
            return
        self._warn(WARN_THRESHOLD.format(cmp=self.plain(node), other=self.plain(other), window=self.window))

    # the rest ---------------------------------------------------------------------------

    def _ParenExpr(self, node, need: int) -> tuple[str, Shape]:
        text, shape = self.render(node.expr, need)
        return "(" + text + ")", shape

    def _UnaryExpr(self, node, need: int) -> tuple[str, Shape]:
        text, shape = self.render(node.expr, need if need in (ADD, PRES) else EXACT)
        return "-" + text, Shape(shape.kind, shape.scaled, negated=shape.kind != EXACT)

    def _SubqueryExpr(self, node, need: int) -> tuple[str, Shape]:
        text, shape = self.render(node.expr, need)
        step = duration(node.step) if node.step else ""
        return f"{text}[{duration(node.range)}:{step}]" + self._modifiers(node.offset, node.at), shape

    def _NumberLiteral(self, node, need: int) -> tuple[str, Shape]:
        return number(node.val), CONST

    def _StringLiteral(self, node, need: int) -> tuple[str, Shape]:
        return quote(node.val), CONST
