"""`migrate rules`: Prometheus rule files and prometheus-operator PrometheusRule objects.

Every document of the file is one of: a rule file (`groups:`), a `PrometheusRule`, a
Kubernetes `List` of them, another Kubernetes object (left as it is), or empty (a trailing
`---`). Only `expr` values, and queries in annotation and label templates, that need a change
are rewritten; the rest of the file keeps its bytes. An expression the parser cannot read is
reported and left as it is.
"""

from __future__ import annotations

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from x509_mixin.migrate import yamltext as yt
from x509_mixin.migrate.promql import DEFAULT_WINDOW, PromQLError, migrate_expr, unparsed
from x509_mixin.migrate.report import InputError, Report
from x509_mixin.migrate.templates import migrate_template

SHAPE = "expected a Prometheus rule file (groups:) or a PrometheusRule object"


def _rules(groups: Node | None) -> list[Node]:
    return [rule for group in yt.seq(groups) for rule in yt.seq(yt.value(group, "rules"))]


def migrate_groups(
    groups: Node | None,
    path: str,
    window: str,
    report: Report,
    edits: yt.Edits,
    helm_templates: bool = False,
) -> None:
    """Edits for every rule `expr` under a `groups:` sequence, and for the queries of their
    annotation and label templates. With `helm_templates` (chart values, which go through
    Helm's `tpl`), an expression holding `{{` is reported, not parsed."""
    exprs: dict[int, tuple[ScalarNode, str, str, Node]] = {}  # an anchored expr is one node, however many read it
    for rule in _rules(groups):
        found = yt.get(rule, "expr")
        if found is None:
            continue
        node = found[1]
        name = yt.scalar(rule, "alert") or yt.scalar(rule, "record") or "rule"
        if not isinstance(node, ScalarNode):
            raise InputError(path, yt.line(node), f"{name}: expr is not a string")
        role = "alert" if yt.get(rule, "alert") else "record"
        if id(node) in exprs:  # read by an alert and a recording rule: the recorded values must hold
            first = exprs[id(node)]
            role = "record" if "record" in (role, first[2]) else "alert"
            name = first[1]
        exprs[id(node)] = (node, name, role, rule)
    for node, name, role, rule in exprs.values():
        if helm_templates and "{{" in node.value:
            report.warn(
                path,
                yt.line(node),
                f"{name}: expr holds Helm template actions and was not parsed: check it by hand",
            )
            continue
        if migrate_expr_node(node, path, name, window, report, edits, role, yt.flow(rule)):
            annotations = [v for _, v in yt.items(yt.value(rule, "annotations")) if isinstance(v, ScalarNode)]
            if any("$value" in v.value for v in annotations):
                report.warn(
                    path,
                    yt.line(node),
                    f"{name}: its annotations use $value, which is now the v4 "
                    "form's value (errors over the window): check the wording",
                )
    templates: dict[int, tuple[ScalarNode, str, Node | None]] = {}
    for rule in _rules(groups):
        name = yt.scalar(rule, "alert") or yt.scalar(rule, "record") or "rule"
        for field in ("annotations", "labels"):
            holder = yt.value(rule, field)
            for key, value in yt.items(holder):
                if isinstance(value, ScalarNode):
                    templates.setdefault(id(value), (value, f"{name}: {field}.{key.value}", holder))
    for node, where, holder in templates.values():
        result = migrate_template(edits.current(node), window)
        for warning in result.warnings:
            report.warn(path, yt.line(node), f"{where}: {warning}", due=result.due)
        if result.text != edits.current(node):
            report.change(path, yt.line(node), node.value, result.text, result.reasons)
            edits.scalar(node, result.text, yt.flow(holder))


def migrate_expr_node(
    node: ScalarNode, path: str, name: str, window: str, report: Report, edits: yt.Edits, role: str, in_flow: bool
) -> bool:
    """Migrate one PromQL scalar; whether it changed."""
    try:
        result = migrate_expr(node.value, window, role)
    except PromQLError as exc:
        result = unparsed(node.value, exc)
    for warning in result.warnings:
        report.warn(path, yt.line(node), f"{name}: {warning}", due=result.due)
    if not result.changed:
        return False
    report.change(path, yt.line(node), node.value, result.text, result.reasons)
    edits.scalar(node, result.text, in_flow)
    return True


def _rule_documents(doc: Node, path: str, report: Report) -> list[Node | None]:
    """The `groups` sequences of one document; other Kubernetes objects are skipped."""
    if not isinstance(doc, MappingNode):
        raise InputError(path, yt.line(doc), f"unknown file shape: {SHAPE}")
    kind = yt.scalar(doc, "kind")
    if yt.get(doc, "groups") is not None and kind is None:
        return [yt.value(doc, "groups")]
    if kind == "PrometheusRule":
        return [yt.value(yt.value(doc, "spec"), "groups")]
    if kind == "List":
        return [g for item in yt.seq(yt.value(doc, "items")) for g in _rule_documents(item, path, report)]
    if kind is not None and yt.scalar(doc, "apiVersion") is not None:
        report.warn(path, yt.line(doc), f"{kind} is not a PrometheusRule: left as it is")
        return []
    raise InputError(path, yt.line(doc), f"unknown file shape: {SHAPE}")


def migrate(text: str, path: str, report: Report, window: str = DEFAULT_WINDOW) -> str:
    docs = yt.documents(text, path)
    groups = [g for doc in docs for g in _rule_documents(doc, path, report)]
    if not groups:
        raise InputError(path, 1, f"unknown file shape: no rule groups found, {SHAPE}")
    edits = yt.Edits(text)
    for g in groups:
        migrate_groups(g, path, window, report, edits)
    return yt.apply(edits, path)
