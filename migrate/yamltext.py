"""YAML edits that keep every untouched byte: ruamel.yaml composes the document (nodes with
their exact start and end offsets and scalar styles) and edits are spliced into the text.

A full round-trip dump would re-indent sequences and re-wrap long lines of other people's
rules; splicing cannot.
"""

from __future__ import annotations

import json

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from x509_mixin.migrate.report import InputError


def compose_all(text: str, path: str) -> list[Node | None]:
    try:
        # The safe composer: the round-trip one marks folds of `>` blocks with \a inside values.
        return list(YAML(typ="safe", pure=True).compose_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise InputError(path, line, f"invalid YAML: {exc.problem or exc.context}") from None
    except YAMLError as exc:
        raise InputError(path, 0, f"invalid YAML: {exc}") from None


def verify(text: str, path: str) -> str:
    """The migrated text, once it is known to parse (a splice gone wrong is a bug: stop before
    anything is written)."""
    try:
        list(YAML(typ="safe", pure=True).compose_all(text))
    except YAMLError as exc:
        raise RuntimeError(f"{path}: the migrated YAML does not parse ({exc}); nothing written") from None
    return text


def line(node: Node) -> int:
    return node.start_mark.line + 1


def items(node: Node | None) -> list[tuple[ScalarNode, Node]]:
    """Key/value pairs of a mapping node (empty for anything else)."""
    if not isinstance(node, MappingNode):
        return []
    return [(k, v) for k, v in node.value if isinstance(k, ScalarNode)]


def get(node: Node | None, key: str) -> tuple[ScalarNode, Node] | None:
    for k, v in items(node):
        if k.value == key:
            return k, v
    return None


def value(node: Node | None, key: str) -> Node | None:
    found = get(node, key)
    return found[1] if found else None


def scalar(node: Node | None, key: str) -> str | None:
    found = value(node, key)
    return found.value if isinstance(found, ScalarNode) else None


def seq(node: Node | None) -> list[Node]:
    return list(node.value) if isinstance(node, SequenceNode) else []


def _plain_ok(new: str, in_flow: bool) -> bool:
    """Whether `new` reads back as itself when written plain in this context."""
    if not new or "\n" in new or new != new.strip():
        return False
    probe = f"{{k: {new}}}" if in_flow else f"k: {new}\n"
    try:
        node = YAML(typ="safe", pure=True).compose(probe)
    except YAMLError:
        return False
    found = value(node, "k")
    if not isinstance(found, ScalarNode):
        return False
    return found.style is None and found.value == new and (found.tag or "").endswith(":str")


def scalar_edit(text: str, node: ScalarNode, new: str, in_flow: bool = False) -> tuple[int, int, str]:
    """The splice that gives `node` the value `new` in the node's own style (plain, quoted,
    literal or folded block); plain falls back to double quotes only when plain cannot say it."""
    start, end = node.start_mark.index, node.end_mark.index
    style = node.style
    if style in ("|", ">"):
        span = text[start:end]
        header, _, body = span.partition("\n")
        first = next((ln for ln in body.split("\n") if ln.strip()), "")
        indent = first[: len(first) - len(first.lstrip(" "))] or " " * (node.start_mark.column + 2)
        tail = span[len(span.rstrip()) :]
        content = "\n".join(indent + ln if ln else "" for ln in new.rstrip("\n").split("\n"))
        return start, end, f"{header}\n{content}{tail}"
    if style == "'" and "\n" not in new:
        return start, end, "'" + new.replace("'", "''") + "'"
    if style is None and _plain_ok(new, in_flow):
        return start, end, new
    return start, end, json.dumps(new, ensure_ascii=False)


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """Offset just past the newline ending the line that holds `index` (or the text's end)."""
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def own_line(text: str, key: ScalarNode) -> bool:
    """Whether the key starts its line (a block mapping entry, not `- key:` or flow)."""
    return not text[_line_start(text, key.start_mark.index) : key.start_mark.index].strip()


def delete_edit(text: str, key: ScalarNode, val: Node) -> tuple[int, int, str]:
    """Remove a block mapping entry and the comment lines right above it at its indentation."""
    start = _line_start(text, key.start_mark.index)
    end_index = val.end_mark.index
    # Block values end at the start of the next line already; scalars end mid-line.
    end = end_index if end_index == _line_start(text, end_index) and end_index > start else _line_end(text, end_index)
    indent = text[start : key.start_mark.index]
    while start > 0:
        prev = _line_start(text, start - 1)
        if not text[prev:start].startswith(indent + "#"):
            break
        start = prev
    if end == len(text) and text.endswith("\n") and text[:start].endswith("\n\n"):
        start -= 1  # the blank line that separated the last entry
    return start, end, ""


def insert_before_edit(text: str, key: ScalarNode, line_text: str) -> tuple[int, int, str]:
    """Insert `line_text` as a sibling entry on its own line just before `key`."""
    start = _line_start(text, key.start_mark.index)
    return start, start, text[start : key.start_mark.index] + line_text + "\n"
