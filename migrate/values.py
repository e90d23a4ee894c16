"""`migrate values`: the Helm chart's values.yaml, v3.21 -> v4.2.

Key names checked against enix/x509-certificate-exporter: deploy/charts/x509-certificate-exporter/
values.yaml at v3.21.0, chart/values.yaml, chart/values.schema.json and chart/templates at v4.2.0;
image tags against v3.21.0's release workflow (busybox was the bare tag) and v4.2.0's
.goreleaser.yaml (scratch is the bare tag, busybox is -busybox; no alpine, no -scratch).
Changes that keep the user's intent are applied; changes of behaviour that need a choice are
reported as warnings. Edits are spliced, so comments, order and quoting stay as they were.

The chart's values are found by their keys: at the top of each document, or under a parent
(umbrella) chart's key for this subchart, at any depth.
"""

from __future__ import annotations

import re

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from x509_mixin.migrate import yamltext as yt
from x509_mixin.migrate.flags import v4_argument
from x509_mixin.migrate.promql import DEFAULT_WINDOW
from x509_mixin.migrate.report import InputError, Report
from x509_mixin.migrate.rules import migrate_groups

# prometheusRules keys v4 renamed (v4's schema refuses the old ones).
RULE_KEY_RENAMES: dict[str, tuple[str, str]] = {
    "alertOnReadErrors": (
        "alertOnSourceErrors",
        "v4 replaces X509ExporterReadErrors with SourceErrors (more than 5 errors in 15m, for 5m) "
        "and SourceErrorsSustained (for 30m, critical), both behind this toggle",
    ),
    "readErrorsSeverity": (
        "sourceErrorsSeverity",
        "severity of SourceErrors, v4's replacement of X509ExporterReadErrors",
    ),
    "alertOnCertificateErrors": ("alertOnCertificateError", "renamed in v4"),
    "certificateErrorsSeverity": ("certificateErrorSeverity", "renamed in v4"),
}
ALPINE_REPLACEMENT = "-busybox"
NULL = "tag:yaml.org,2002:null"

# Keys only this chart has: a mapping holding one is this chart's values (maybe under a parent's key).
CHART_KEYS = {
    "secretsExporter",
    "hostPathsExporter",
    "exposePerCertificateErrorMetrics",
    "exposeRelativeMetrics",
    "metricLabelsFilterList",
    "rbacProxy",
    "webConfigurationExistingSecret",
    "prometheusPodMonitor",
}
CHART_RULE_KEYS = set(RULE_KEY_RENAMES) | {
    "certificateRenewalsSeverity",
    "certificateExpirationsSeverity",
    "warningDaysLeft",
    "criticalDaysLeft",
    "disableBuiltinAlertGroup",
    "rulePrefix",
    "alertExtraLabels",
    "alertExtraAnnotations",
    "extraAlertGroups",
}
# `.Values.prometheusRules.<old>` (or `index .Values.prometheusRules "<old>"`) in a tpl string.
_OLD_KEYS = "|".join(RULE_KEY_RENAMES)
_TPL_REFERENCE = re.compile(
    rf"(\.Values\.prometheusRules\.)({_OLD_KEYS})\b|(index\s+\$?\.Values\.prometheusRules\s+\")({_OLD_KEYS})(\")"
)
# v3 read a secretTypes key as an unanchored Go regular expression; these characters make it one.
_REGEXP_CHARS = set("\\+*?()|[]{}^$")


def _registry_split(repository: str) -> tuple[str, str]:
    """(registry, path) of an image reference without tag: the first component is a registry
    host when it has a dot or a colon or is localhost; otherwise Docker Hub."""
    first, sep, rest = repository.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return "docker.io", repository


def looks_like_chart(node: Node | None) -> bool:
    if not isinstance(node, MappingNode):
        return False
    if {k.value for k, _ in yt.items(node)} & CHART_KEYS:
        return True
    return bool({k.value for k, _ in yt.items(yt.value(node, "prometheusRules"))} & CHART_RULE_KEYS)


def chart_values(root: MappingNode) -> list[tuple[str, MappingNode, ScalarNode | None]]:
    """(key path prefix, mapping, its key) of each mapping holding this chart's values."""
    if looks_like_chart(root):
        return [("", root, None)]
    found: list[tuple[str, MappingNode, ScalarNode | None]] = []
    seen: set[int] = set()

    def visit(node: MappingNode, prefix: str) -> None:
        seen.add(id(node))
        for key, value in yt.items(node):
            if not isinstance(value, MappingNode) or id(value) in seen:
                continue
            if looks_like_chart(value):
                found.append((f"{prefix}{key.value}.", value, key))
            else:
                visit(value, f"{prefix}{key.value}.")

    visit(root, "")
    return found or [("", root, None)]


def _null(node: Node | None) -> bool:
    return isinstance(node, ScalarNode) and node.tag == NULL


class _Values:
    """One mapping of this chart's values; `prefix` is its key path under a parent chart."""

    def __init__(
        self, text: str, path: str, report: Report, window: str, edits: yt.Edits, prefix: str, at: Node | None
    ):
        self.text, self.path, self.report, self.window, self.edits = text, path, report, window, edits
        self.prefix, self.at = prefix, at  # `at`: where to report a key that is missing

    def warn(self, node: Node | None, text: str) -> None:
        """A warning at a node's line; at the mapping's own line (line 1 at the top) for a missing key."""
        node = node if node is not None else self.at
        self.report.warn(self.path, yt.line(node) if node is not None else 1, text)

    def change(self, node: Node, before: str, after: str, why: str) -> None:
        self.report.change(self.path, yt.line(node), before, after, why)

    def source(self, node: Node) -> str:
        return self.text[node.start_mark.index : node.end_mark.index].strip()

    def set_scalar(self, node: ScalarNode, new: str, label: str, why: str) -> None:
        def shown(text: str) -> str:
            return text or '""'

        label = self.prefix + label
        self.change(node, f"{label}: {shown(node.value)}", f"{label}: {shown(new)}", why)
        self.edits.scalar(node, new)

    def run(self, root: MappingNode) -> None:
        self.rule_keys(yt.value(root, "prometheusRules"))
        self.images(root)
        self.top_level(root)
        secrets = yt.value(root, "secretsExporter")
        self.secret_types(secrets)
        self.extra_args(secrets, "secretsExporter.extraArgs")
        cache = yt.get(secrets, "cache")
        if cache:
            # still in v4's values.yaml, read by none of its templates
            self.warn(
                cache[0],
                f"{self.prefix}secretsExporter.cache has no effect in v4 (the exporter watches the Kubernetes API "
                "instead of caching lists): remove it",
            )
        self.tpl_references(root)

    def rule_keys(self, rules: Node | None) -> None:
        if rules is None:
            return
        present = {k.value for k, _ in yt.items(rules)}
        where = f"{self.prefix}prometheusRules"
        for key, val in yt.items(rules):
            if key.value not in RULE_KEY_RENAMES:
                continue
            new, why = RULE_KEY_RENAMES[key.value]
            if new in present:
                self.warn(
                    key,
                    f"{where}.{key.value} and {where}.{new} are both set: v4 reads only "
                    f"{new} and refuses {key.value}, remove it",
                )
            elif isinstance(val, ScalarNode) and _null(val):
                self.null_key(key, val, new)
            else:
                self.change(key, f"{where}.{key.value}", f"{where}.{new}", why)
                self.edits.raw((key.start_mark.index, key.end_mark.index, new))
        migrate_groups(
            yt.value(rules, "extraAlertGroups"),
            self.path,
            self.window,
            self.report,
            self.edits,
            helm_templates=True,
        )

    def null_key(self, key: ScalarNode, val: ScalarNode, new: str) -> None:
        """A renamed key set to null: Helm drops it, so v3's templates read it as empty. v4's
        schema refuses null there, so v3's meaning is written out, or the choice reported."""
        where = f"{self.prefix}prometheusRules"
        if new.startswith("alertOn"):  # v3: `if` of nothing, the alert was off
            end = (
                val.end_mark.index
                if val.end_mark.index > val.start_mark.index
                else self.text.index(":", key.end_mark.index) + 1
            )
            self.change(
                key,
                f"{where}.{key.value}: null",
                f"{where}.{new}: false",
                "v3 read a null toggle as off; v4's schema refuses null",
            )
            self.edits.raw((key.start_mark.index, end, f"{new}: false"))
            return
        self.change(
            key, f"{where}.{key.value}: null", "(removed)", "v4's schema refuses null; its default severity applies"
        )
        self.edits.raw(yt.delete_edit(self.text, key, val))
        self.warn(
            key,
            f"{where}.{key.value} was null: v3 gave its alert no severity label, v4 requires info, warning "
            f"or critical (default warning): set {where}.{new} if warning is not what you want",
        )

    def secret_types(self, secrets: Node | None) -> None:
        for index, item in enumerate(yt.seq(yt.value(secrets, "secretTypes"))):
            found = yt.get(item, "key")
            if found is None or yt.get(item, "keyPatterns") is not None:
                continue
            key, val = found
            if not isinstance(val, ScalarNode) or not set(val.value) & _REGEXP_CHARS:
                continue  # a plain data key name: v4's `key` names it exactly
            label = f"{self.prefix}secretsExporter.secretTypes[{index}]"
            self.change(
                key,
                f"{label}.key: {val.value}",
                f"{label}.keyPatterns: [{val.value}]",
                "v3 read key as a regular expression matched anywhere in the data key; v4 takes key "
                "literally (it builds ^key$): keyPatterns keeps v3's matching",
            )
            self.edits.raw(
                (key.start_mark.index, val.end_mark.index, f"keyPatterns: [{yt.flow_scalar(self.text, val)}]")
            )

    def tpl_references(self, root: MappingNode) -> None:
        """`{{ .Values.prometheusRules.readErrorsSeverity }}` in strings the chart runs through
        `tpl` (extraAlertGroups, among others): renamed keys are renamed there too."""
        for node in yt.scalars(root):
            current = self.edits.current(node)
            if "{{" not in current:
                continue

            def rename(found: re.Match) -> str:
                if found.group(1):
                    return found.group(1) + RULE_KEY_RENAMES[found.group(2)][0]
                return found.group(3) + RULE_KEY_RENAMES[found.group(4)][0] + found.group(5)

            new = _TPL_REFERENCE.sub(rename, current)
            if new != current:
                self.change(
                    node,
                    current,
                    new,
                    "a template reads a prometheusRules key that v4 renamed; it reads the new name",
                )
                self.edits.scalar(node, new)
            if re.search(r"\.Values\.kubeVersion\b", new):
                self.warn(node, "a template reads .Values.kubeVersion, which v4 dropped: use .Capabilities.KubeVersion")

    def images(self, root: MappingNode) -> None:
        found = yt.get(root, "image")
        anchor, image = found if found else (None, None)
        if yt.get(image, "registry") is None:
            self.warn(
                anchor,
                f"{self.prefix}image.registry is not set: the chart's default registry is quay.io in v4 (docker.io "
                "in v3); set image.registry: docker.io if pulls must stay on Docker Hub",
            )
        suffix = yt.value(image, "tagSuffix")
        if isinstance(suffix, ScalarNode) and suffix.value == "-alpine":
            self.set_scalar(
                suffix,
                ALPINE_REPLACEMENT,
                "image.tagSuffix",
                "v4 publishes no Alpine image; -busybox is the closest (it has a shell), "
                '"" gives the minimal scratch image',
            )
        elif isinstance(suffix, ScalarNode) and suffix.value == "-scratch":
            self.set_scalar(
                suffix,
                "",
                "image.tagSuffix",
                "v4 tags the scratch image without a suffix and publishes no -scratch tag",
            )
        elif suffix is None or (isinstance(suffix, ScalarNode) and suffix.value == ""):
            self.warn(
                suffix or anchor,
                f"{self.prefix}image.tagSuffix is empty: v4's default image is scratch (no shell), v3's was "
                "busybox; set image.tagSuffix: -busybox to keep a shell in the pod",
            )
        kubectl = yt.value(yt.value(root, "migration"), "image")
        found = yt.get(kubectl, "repository")
        repo = found[1] if found else None
        if found and isinstance(repo, ScalarNode) and yt.get(kubectl, "registry") is None:
            key = found[0]
            host, rest = _registry_split(repo.value)
            if not yt.own_line(self.text, key):
                self.warn(
                    key,
                    f"{self.prefix}migration.image.repository {repo.value}: v4 splits it into registry: {host} "
                    f"and repository: {rest}; edit it by hand (flow style)",
                )
                return
            label = f"{self.prefix}migration.image"
            self.change(
                repo,
                f"{label}.repository: {repo.value}",
                f"{label}.registry: {host}, {label}.repository: {rest}",
                "v4 splits migration.image into registry and repository",
            )
            self.edits.scalar(repo, rest)
            self.edits.raw(yt.insert_before_edit(self.text, key, f"registry: {host}"))

    def top_level(self, root: MappingNode) -> None:
        found = yt.get(root, "kubeVersion")
        if found and not yt.own_line(self.text, found[0]):
            self.warn(
                found[0], f"{self.prefix}kubeVersion: v4 dropped it and refuses it; remove it by hand (flow style)"
            )
        elif found:
            key, val = found
            shown = self.source(val) if isinstance(val, ScalarNode) else "..."
            self.change(
                key,
                f"{self.prefix}kubeVersion: {shown}",
                "(removed)",
                "v4 dropped kubeVersion; pass --kube-version to helm template instead",
            )
            self.edits.raw(yt.delete_edit(self.text, key, val))
        service = yt.get(root, "service")
        if yt.get(service and service[1], "headless") is None:
            self.warn(
                service and service[0],
                f"{self.prefix}service.headless is not set: v4 makes the Service headless by default (v3: false); "
                "set service.headless: false if Prometheus scrapes the Service name (dns_sd_configs, "
                "static_configs)",
            )
        if yt.get(root, "exposeNotBeforeMetric") is None:
            self.warn(
                None,
                f"{self.prefix}exposeNotBeforeMetric is not set: v3 always emitted x509_cert_not_before, v4 only "
                "with exposeNotBeforeMetric: true (the v3 dashboard's validity-period panels use it)",
            )
        labels = yt.value(root, "metricLabelsFilterList")
        if labels is not None and (labels.tag or "").endswith(":seq"):
            self.warn(
                labels,
                f"{self.prefix}metricLabelsFilterList: v4 passes it to metrics.exposeSubjectFields and "
                "exposeIssuerFields, which take DN field names (C, ST, L, O, OU, CN); v3 label names "
                "such as subject_CN match none and drop every subject and issuer label, and other "
                "labels are always emitted: list DN fields instead",
            )
        if yt.get(root, "web") is None:
            self.warn(
                None,
                f"{self.prefix}web.enableStats is not set: v4 serves an HTML status page on / by default; "
                "set web.enableStats: false for metrics only",
            )

    def extra_args(self, exporter: Node | None, label: str) -> None:
        for item in yt.seq(yt.value(exporter, "extraArgs")):
            if not isinstance(item, ScalarNode) or not item.value.startswith("-"):
                continue
            fixed, why = v4_argument(item.value)
            if fixed is not None and why is not None:
                self.set_scalar(item, fixed, label, f"v3 read it as getopt does; v4's {why}")
            elif why:
                self.warn(
                    item,
                    f"{self.prefix}{label}: {item.value} is not accepted by the v4 exporter's command line; "
                    f"express it in the chart's values or the YAML configuration "
                    f"(x509-mixin migrate flags tells where)",
                )


def migrate(text: str, path: str, report: Report, window: str = DEFAULT_WINDOW) -> str:
    edits = yt.Edits(text)
    for index, doc in enumerate(yt.documents(text, path)):
        if not isinstance(doc, MappingNode) or yt.get(doc, "kind") is not None:
            raise InputError(path, yt.line(doc), "unknown file shape: expected one Helm values mapping per document")
        for prefix, values, key in chart_values(doc):
            at = key if key is not None else (doc if index else None)  # None: line 1
            _Values(text, path, report, window, edits, prefix, at).run(values)
    return yt.apply(edits, path)
