"""YAML edits that keep every untouched byte: ruamel.yaml composes the document (nodes with
their exact start and end offsets and scalar styles) and edits are spliced into the text.

A full round-trip dump would re-indent sequences and re-wrap long lines of other people's
rules; splicing cannot.
"""

from __future__ import annotations

import json
import re

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from x509_mixin.migrate.fileio import splice
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


def documents(text: str, path: str) -> list[Node]:
    """The file's documents, without empty ones (a trailing `---` ends helm and kustomize output)."""
    empty = "tag:yaml.org,2002:null"
    return [d for d in compose_all(text, path) if d is not None and not (isinstance(d, ScalarNode) and d.tag == empty)]


def verify(text: str, path: str) -> str:
    """The migrated text, once it is known to parse (a splice gone wrong is a bug: stop before
    anything is written)."""
    try:
        list(YAML(typ="safe", pure=True).compose_all(text))
    except YAMLError as exc:
        raise RuntimeError(f"{path}: the migrated YAML does not parse ({exc}); nothing written") from None
    return text


def apply(edits: Edits, path: str) -> str:
    """The text with the edits spliced in, once it is known to parse."""
    return verify(splice(edits.text, edits.splices()), path) if edits else edits.text


def flow(node: Node | None) -> bool:
    """Whether a collection is written in flow style (`{a: 1}`), where plain scalars are stricter."""
    return bool(getattr(node, "flow_style", False))


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


def scalars(node: Node | None) -> list[ScalarNode]:
    """Every scalar value under a node (mapping values and sequence items, at any depth; each
    node once, however many aliases read it)."""
    out: list[ScalarNode] = []
    seen: set[int] = set()

    def visit(n: Node | None) -> None:
        if n is None or id(n) in seen:
            return
        seen.add(id(n))
        if isinstance(n, ScalarNode):
            out.append(n)
        elif isinstance(n, MappingNode):
            for _, v in n.value:
                visit(v)
        elif isinstance(n, SequenceNode):
            for v in n.value:
                visit(v)

    visit(node)
    return out


def flow_scalar(text: str, node: ScalarNode) -> str:
    """A scalar's text for a flow collection (`[...]`): as written when quoted or when plain
    still reads the same there, single-quoted otherwise."""
    if node.style in ("'", '"'):
        return text[value_start(text, node) : node.end_mark.index]
    if _plain_ok(node.value, in_flow=True):
        return node.value
    return "'" + node.value.replace("'", "''") + "'"


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


def value_start(text: str, node: Node) -> int:
    """Where a node's value starts, after its properties (`&anchor`, `!tag`): a node's marks
    include them, and an edit must keep them."""
    i, end = node.start_mark.index, node.end_mark.index
    while i < end and text[i] in "&!":
        while i < end and text[i] not in " \t\n":
            i += 1
        while i < end and text[i] in " \t":
            i += 1
    return i


def scalar_edit(text: str, node: ScalarNode, new: str, in_flow: bool = False) -> tuple[int, int, str]:
    """The splice that gives `node` the value `new` in the node's own style (plain, quoted,
    literal or folded block); plain falls back to double quotes only when plain cannot say it.
    An anchor or tag on the node stays."""
    start, end = value_start(text, node), node.end_mark.index
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


class Edits:
    """The splices of one text. A scalar gets at most one edit, whatever reads it (an anchored
    value read again through its aliases is one node: rewritten once, at the anchor), and later
    changes of the same scalar build on earlier ones."""

    def __init__(self, text: str):
        self.text = text
        self._scalars: dict[int, tuple[ScalarNode, str, bool]] = {}
        self._raw: list[tuple[int, int, str]] = []

    def current(self, node: ScalarNode) -> str:
        found = self._scalars.get(id(node))
        return found[1] if found else node.value

    def scalar(self, node: ScalarNode, new: str, in_flow: bool = False) -> None:
        self._scalars[id(node)] = (node, new, in_flow)

    def raw(self, edit: tuple[int, int, str]) -> None:
        if edit not in self._raw:
            self._raw.append(edit)

    def __bool__(self) -> bool:
        return bool(self._scalars or self._raw)

    def splices(self) -> list[tuple[int, int, str]]:
        out = list(self._raw)
        for node, new, in_flow in self._scalars.values():
            if new != node.value:
                out.append(scalar_edit(self.text, node, new, in_flow))
        return out


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """Offset just past the newline ending the line that holds `index` (or the text's end)."""
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def own_line(text: str, key: ScalarNode) -> bool:
    """Whether the key starts its line (a block mapping entry, not `- key:` or flow)."""
    return not text[_line_start(text, key.start_mark.index) : key.start_mark.index].strip()


def entry_end(text: str, key: ScalarNode, val: Node) -> int:
    """Offset just past the last line of a block mapping entry. A block value's marks run on to
    the next key, over the blank lines and comments in between: those belong to what follows."""
    if val.end_mark.index <= key.end_mark.index or val.start_mark.index == val.end_mark.index:
        return _line_end(text, key.end_mark.index)  # an empty value
    first, line = _line_start(text, key.start_mark.index), _line_start(text, val.end_mark.index - 1)
    while line > first:
        content = text[line : _line_end(text, line)]
        depth = len(content) - len(content.lstrip(" "))
        if content.strip() and not (content.lstrip().startswith("#") and depth <= key.start_mark.column):
            break
        line = _line_start(text, line - 1)
    return _line_end(text, line)


def _document_start(text: str, index: int) -> int:
    """Offset of the first line of the YAML document holding `index` (after a `---` line)."""
    found = 0
    for marker in re.finditer(r"^---[^\n]*\n?", text[:index], re.MULTILINE):
        found = marker.end()
    return found


def _blank_to_document_end(text: str, index: int) -> bool:
    for line in text[index:].split("\n"):
        if line.startswith(("---", "...")):
            return True
        if line.strip():
            return False
    return True


def delete_edit(text: str, key: ScalarNode, val: Node) -> tuple[int, int, str]:
    """Remove a block mapping entry and the comment lines right above it at its indentation,
    unless they open the document (the file's header comment stays)."""
    key_line = _line_start(text, key.start_mark.index)
    end = entry_end(text, key, val)
    indent = text[key_line : key.start_mark.index]
    start = key_line
    while start > 0:
        prev = _line_start(text, start - 1)
        if not text[prev:start].startswith(indent + "#"):
            break
        start = prev
    if not text[_document_start(text, start) : start].strip():
        start = key_line  # the comments above are the document's header, not the entry's
    if _blank_to_document_end(text, end) and text[:start].endswith("\n\n"):
        start -= 1  # the blank line that separated the last entry
    return start, end, ""


def insert_before_edit(text: str, key: ScalarNode, line_text: str) -> tuple[int, int, str]:
    """Insert `line_text` as a sibling entry on its own line just before `key`."""
    start = _line_start(text, key.start_mark.index)
    return start, start, text[start : key.start_mark.index] + line_text + "\n"
