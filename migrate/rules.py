"""`migrate rules`: Prometheus rule files and prometheus-operator PrometheusRule objects.

Every document of the file is one of: a rule file (`groups:`), a `PrometheusRule`, a
Kubernetes `List` of them, or another Kubernetes object (left as it is). Only `expr` values
that need a change are rewritten; the rest of the file keeps its bytes.
"""

from __future__ import annotations

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from x509_mixin.migrate import yamltext as yt
from x509_mixin.migrate.fileio import splice
from x509_mixin.migrate.promql import DEFAULT_WINDOW, PromQLError, migrate_expr
from x509_mixin.migrate.report import InputError, Report

SHAPE = "expected a Prometheus rule file (groups:) or a PrometheusRule object"


def migrate_groups(
    text: str, groups: Node | None, path: str, window: str, report: Report, helm_templates: bool = False
) -> list:
    """Edits for every rule `expr` under a `groups:` sequence. With `helm_templates` (chart
    values, which go through Helm's `tpl`), an expression holding `{{` is reported, not parsed."""
    edits = []
    for group in yt.seq(groups):
        for rule in yt.seq(yt.value(group, "rules")):
            found = yt.get(rule, "expr")
            if found is None:
                continue
            node = found[1]
            name = yt.scalar(rule, "alert") or yt.scalar(rule, "record") or "rule"
            if not isinstance(node, ScalarNode):
                raise InputError(path, yt.line(node), f"{name}: expr is not a string")
            if helm_templates and "{{" in node.value:
                report.warn(
                    path,
                    yt.line(node),
                    f"{name}: expr holds Helm template actions and was not parsed: check it by hand",
                )
                continue
            edit = migrate_expr_node(
                text, node, path, name, window, report, in_flow=bool(getattr(rule, "flow_style", False))
            )
            if edit:
                edits.append(edit)
                annotations = [v for _, v in yt.items(yt.value(rule, "annotations")) if isinstance(v, ScalarNode)]
                if any("$value" in v.value for v in annotations):
                    report.warn(
                        path,
                        yt.line(node),
                        f"{name}: its annotations use $value, which is now the v4 "
                        "form's value (errors over the window): check the wording",
                    )
    return edits


def migrate_expr_node(
    text: str, node: ScalarNode, path: str, name: str, window: str, report: Report, in_flow: bool = False
):
    """Migrate one PromQL scalar; returns its splice, or None when it needs no change."""
    try:
        result = migrate_expr(node.value, window)
    except PromQLError as exc:
        raise InputError(path, yt.line(node), f"{name}: {exc}", node.value) from None
    for warning in result.warnings:
        report.warn(path, yt.line(node), f"{name}: {warning}")
    if not result.changed:
        return None
    report.change(path, yt.line(node), node.value, result.text, result.reasons)
    return yt.scalar_edit(text, node, result.text, in_flow)


def _rule_documents(doc: Node | None, path: str, report: Report) -> list[Node | None]:
    """The `groups` sequences of one document; other Kubernetes objects are skipped."""
    if doc is None:
        return []
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
    docs = yt.compose_all(text, path)
    groups = [g for doc in docs for g in _rule_documents(doc, path, report)]
    if not groups:
        raise InputError(path, 1, f"unknown file shape: no rule groups found, {SHAPE}")
    edits = [e for g in groups for e in migrate_groups(text, g, path, window, report)]
    return yt.verify(splice(text, edits), path) if edits else text
