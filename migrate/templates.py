"""PromQL inside alert templates: `{{ with query "x509_read_errors" }}` in an annotation or a label.

The query is a Go string literal (double-quoted with escapes, or back-quoted raw) given to
`query`, as an argument or through a pipe. Each one naming `x509_read_errors` is migrated
like a recording rule's expression (its values are printed) and written back in the same
quoting. A mention inside a template action that is not such a literal (a query built with
printf, say) is reported: a change is due that the migration cannot make.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from x509_mixin.migrate.promql import OLD, PromQLError, mentions_old, migrate_expr

_LITERAL = r'("(?:[^"\\]|\\.)*"|`[^`]*`)'
_QUERY_LITERALS = re.compile(rf"\bquery\s+{_LITERAL}|{_LITERAL}\s*\|\s*query\b")
_ACTION = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


@dataclass
class TemplateResult:
    text: str
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    due: bool = False


def _decode(literal: str) -> str:
    if literal.startswith("`"):
        return literal[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), literal[1:-1])


def _encode(value: str, like: str) -> str:
    if like.startswith("`") and "`" not in value:
        return f"`{value}`"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def migrate_template(text: str, window: str) -> TemplateResult:
    """The template with every `query` of x509_read_errors migrated."""
    result = TemplateResult(text)
    if not mentions_old(text):
        return result

    def replace(found: re.Match) -> str:
        literal = found.group(1) or found.group(2)
        query = _decode(literal)
        if not mentions_old(query):
            return found.group(0)
        try:
            migrated = migrate_expr(query, window, "record")
        except PromQLError as exc:
            result.warnings.append(f"query {query}: {exc}; migrate it by hand")
            result.due = True
            return found.group(0)
        result.reasons.extend(r for r in migrated.reasons if r not in result.reasons)
        result.warnings.extend(f"query {query}: {w}" for w in migrated.warnings)
        start, end = found.span(1 if found.group(1) else 2)
        whole = found.group(0)
        offset = found.start()
        return whole[: start - offset] + _encode(migrated.text, literal) + whole[end - offset :]

    result.text = _QUERY_LITERALS.sub(replace, text)
    leftover = [action for action in _ACTION.findall(result.text) if mentions_old(action)]
    if leftover and not result.due:
        result.warnings.append(
            f"{leftover[0]} names {OLD} in a way the migration cannot read (not a quoted query): migrate it by hand"
        )
        result.due = True
    return result
