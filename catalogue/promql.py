"""PromQL text shared by every package: quoting, matchers, selectors.

promql-parser reads PromQL; these helpers write it back and read the configured selectors
(label matchers such as `job=~"x509-.*"`), so that no package keeps its own copy.
"""

from __future__ import annotations

import re

import promql_parser as pp

# The binding's enums are not hashable: key by their names.
_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def quote(value: str) -> str:
    """A PromQL double-quoted string (Go escapes)."""
    return '"' + "".join(_ESCAPES.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x20 else ch) for ch in value) + '"'


def is_label_name(name: object) -> bool:
    """A valid Prometheus label name."""
    return isinstance(name, str) and _LABEL_NAME.fullmatch(name) is not None


def op(matcher: pp.Matcher) -> str:
    """The matcher's operator as written: =, !=, =~ or !~."""
    return _OPS[str(matcher.op)]


def matcher_text(matcher: pp.Matcher) -> str:
    return f"{matcher.name}{op(matcher)}{quote(matcher.value)}"


def matches(matcher: pp.Matcher, value: str) -> bool:
    """Whether a label value satisfies the matcher (regular expressions are anchored, as in PromQL)."""
    o = op(matcher)
    if o in ("=", "!="):
        return (value == matcher.value) == (o == "=")
    return (re.fullmatch(matcher.value, value) is not None) == (o == "=~")


def parse_vector_selector(text: str) -> pp.VectorSelector:
    """`text` parsed as one vector selector; ValueError when it is anything else or does not parse."""
    try:
        expr = pp.parse(text)
    except Exception as exc:  # the parser raises plain exceptions with a reason
        raise ValueError(str(exc)) from None
    if not isinstance(expr, pp.VectorSelector):
        raise ValueError("not a single vector selector")
    return expr


def selector_matchers(selector: str) -> list[pp.Matcher]:
    """The label matchers of a selector such as `job=~"x509-.*", env="prod"`."""
    return list(parse_vector_selector(f"up{{{selector}}}").matchers.matchers)


def selector_text(name: str, labels: dict[str, str]) -> str:
    """A series selector with equality matchers, e.g. `up{job="a"}`."""
    return name + "{" + ", ".join(f"{k}={quote(v)}" for k, v in labels.items()) + "}"
