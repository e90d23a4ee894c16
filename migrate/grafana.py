"""Grafana variables inside PromQL (`$__rate_interval`, `$threshold`, `${var}`, `[[var]]`).

The parser does not know them, so each one outside a string literal is swapped for a
placeholder of the right kind (a duration inside `[...]` or after `offset`, a number
elsewhere) before parsing, and swapped back in the printed result.
"""

from __future__ import annotations

from datetime import timedelta

import promql_parser as pp

from x509_mixin.migrate.promql import ExprResult, migrate_expr, number

_BASE = 987_654_321  # placeholders start here: no dashboard uses such values
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _variable_end(text: str, i: int) -> int:
    """End offset of the variable starting at text[i] ('$' or '[['), or i when there is none."""
    if text[i] == "[":
        end = text.find("]]", i) if text.startswith("[[", i) else -1
        return end + 2 if end > i else i
    if text.startswith("${", i):
        end = text.find("}", i)
        return end + 1 if end > i else i
    j = i + 1
    while j < len(text) and text[j] in _NAME_CHARS:
        j += 1
    return j if j > i + 1 else i


def _is_duration_slot(text: str, i: int) -> bool:
    before = text[:i].rstrip()
    return before.endswith(("[", ":")) or before.endswith("offset")


def substitute(text: str) -> tuple[str, dict[str, str]]:
    """Text with placeholders, and placeholder text -> variable."""
    out: list[str] = []
    mapping: dict[str, str] = {}
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
        if ch in "\"'`":
            quote = ch
        elif ch in "$[":
            end = _variable_end(text, i)
            if end > i:
                k = len(mapping)
                if _is_duration_slot(text, i):
                    placeholder = pp.display_duration(timedelta(seconds=_BASE + k))
                else:
                    placeholder = number(float(_BASE + k))
                mapping[placeholder] = text[i:end]
                out.append(placeholder)
                i = end
                continue
        out.append(ch)
        i += 1
    return "".join(out), mapping


def restore(text: str, mapping: dict[str, str]) -> str:
    for placeholder, variable in mapping.items():
        text = text.replace(placeholder, variable)
    return text


def migrate_panel_expr(text: str, window: str) -> ExprResult:
    """migrate_expr for an expression that may hold Grafana variables."""
    swapped, mapping = substitute(text)
    result = migrate_expr(swapped, window)
    if not result.changed:
        return ExprResult(text, False, result.reasons, result.warnings)
    return ExprResult(restore(result.text, mapping), True, result.reasons, result.warnings)
