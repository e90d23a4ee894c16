"""Grafana variables inside PromQL (`$__rate_interval`, `$var`, `${var}`, `${var:fmt}`, `[[var]]`).

The parser does not know them, so each one outside string literals and `#` comments is swapped
for a placeholder of the kind its place needs before parsing, and swapped back afterwards:
a duration in a range, a subquery step or after `offset` (`${__range_s}s` included, unit and
all), a name where a metric or label name goes (`${metric}{...}`, `sum by ($groupby)`,
`{$label="x"}`), a number elsewhere. When the expression still does not parse, the numbers
are tried as names (`sum($metric)`).
"""

from __future__ import annotations

import re
from datetime import timedelta

import promql_parser as pp

from x509_mixin.migrate.promql import ExprResult, PromQLError, migrate_expr, unparsed

# Grafana's own variable syntax (public/app/features/variables/utils.ts, variableRegex).
_VARIABLE = re.compile(r"\$(\w+)|\[\[(\s*[\w.]+\s*)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}", re.ASCII)
_UNIT = re.compile(r"(ms|[smhdwy])(?![\w])", re.ASCII)
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*$")
_MATCH_OP = re.compile(r"\s*(=~|!~|!=|=(?!=))")
_NUMBER_BASE = 987_654_321  # placeholders count up from here; no dashboard uses such values


class _Placeholders:
    def __init__(self, text: str):
        self.text = text
        self.mapping: dict[str, str] = {}
        self.numbers: list[str] = []

    def _fresh(self, make) -> str:
        k = len(self.mapping)
        while make(k) in self.text:
            k += 1000
        return make(k)

    def add(self, kind: str, variable: str) -> str:
        if kind == "duration":
            new = self._fresh(lambda k: pp.display_duration(timedelta(seconds=_NUMBER_BASE + k)))
        elif kind == "name":
            new = self._fresh(lambda k: f"grafana_var_{k}_")
        else:
            new = self._fresh(lambda k: str(_NUMBER_BASE + k))
            self.numbers.append(new)
        self.mapping[new] = variable
        return new


def substitute(text: str, names: bool = False) -> tuple[str, dict[str, str]]:
    """Text with placeholders, and placeholder text -> variable. With `names`, variables that
    would be numbers are names instead."""
    holders = _Placeholders(text)
    out: list[str] = []
    parens: list[bool] = []  # for each open parenthesis: is it a grouping list (by, on, ...)?
    brackets = braces = 0
    i, quote = 0, None
    while i < len(text):
        ch = text[i]
        if quote:
            out.append(ch)
            if ch == "\\" and quote != "`" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = None
            i += 1
            continue
        if ch == "#":
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            out.append(text[i:end])
            i = end
            continue
        found = _VARIABLE.match(text, i) if ch in "$[" else None
        if found:
            end, kind = found.end(), "number"
            unit = _UNIT.match(text, end) if not found.group(1) else None
            before = "".join(out).rstrip()
            after = text[end:].lstrip()
            if unit:
                end, kind = unit.end(), "duration"  # `${__range_s}s`: the unit belongs to the duration
            elif brackets and (before.endswith(("[", ":")) or re.search(r"\boffset$", before)):
                kind = "duration"
            elif re.search(r"\boffset$", before):
                kind = "duration"
            elif after.startswith(("{", "[")) or (parens and parens[-1]) or (braces and _MATCH_OP.match(text, end)):
                kind = "name"
            elif names:
                kind = "name"
            out.append(holders.add(kind, text[i:end]))
            i = end
            continue
        if ch in "\"'`":
            quote = ch
        elif ch == "(":
            parens.append(bool(_GROUPING.search("".join(out))))
        elif ch == ")" and parens:
            parens.pop()
        elif ch == "[":
            brackets += 1
        elif ch == "]" and brackets:
            brackets -= 1
        elif ch == "{":
            braces += 1
        elif ch == "}" and braces:
            braces -= 1
        out.append(ch)
        i += 1
    return "".join(out), holders.mapping


def restore(text: str, mapping: dict[str, str]) -> str:
    if not mapping:
        return text
    alternatives = "|".join(re.escape(p) for p in sorted(mapping, key=len, reverse=True))
    return re.sub(rf"(?<![\w.])(?:{alternatives})(?![\w.])", lambda m: mapping[m.group(0)], text)


def migrate_panel_expr(text: str, window: str, role: str = "panel") -> ExprResult:
    """migrate_expr for an expression that may hold Grafana variables; one the parser cannot
    read is left as it is, with a warning."""
    if not text.strip():
        return ExprResult(text, False)  # Grafana saves an empty expr for every blank query row
    error = PromQLError("invalid PromQL")
    for names in (False, True):
        swapped, mapping = substitute(text, names)
        try:
            result = migrate_expr(swapped, window, role)
        except PromQLError as exc:
            error = exc if not names else error
            continue
        warnings = [restore(w, mapping) for w in result.warnings]
        if not result.changed:
            return ExprResult(text, False, result.reasons, warnings)
        return ExprResult(restore(result.text, mapping), True, result.reasons, warnings)
    return unparsed(text, error)
