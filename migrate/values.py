"""`migrate values`: the Helm chart's values.yaml, v3.21 -> v4.2.

Key names checked against enix/x509-certificate-exporter: deploy/charts/x509-certificate-exporter/
values.yaml at v3.21.0, chart/values.yaml, chart/values.schema.json and chart/templates at v4.2.0;
image tags against v3.21.0's release workflow (busybox was the bare tag) and v4.2.0's
.goreleaser.yaml (scratch is the bare tag, busybox is -busybox; no alpine, no -scratch).
Changes that keep the user's intent are applied; changes of behaviour that need a choice are
reported as warnings. Edits are spliced, so comments, order and quoting stay as they were.
"""

from __future__ import annotations

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from x509_mixin.migrate import yamltext as yt
from x509_mixin.migrate.fileio import splice
from x509_mixin.migrate.flags import V4_SHORTCUTS, flag_name
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


def _registry_split(repository: str) -> tuple[str, str]:
    """(registry, path) of an image reference without tag: the first component is a registry
    host when it has a dot or a colon or is localhost; otherwise Docker Hub."""
    first, sep, rest = repository.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return "docker.io", repository


class _Values:
    def __init__(self, text: str, path: str, report: Report, window: str):
        self.text, self.path, self.report, self.window = text, path, report, window
        self.edits: list = []

    def warn(self, node: Node | None, text: str) -> None:
        """A warning at a node's line; at line 1 (the whole file) for a key that is missing."""
        self.report.warn(self.path, yt.line(node) if node is not None else 1, text)

    def source(self, node: Node) -> str:
        return self.text[node.start_mark.index : node.end_mark.index].strip()

    def set_scalar(self, node: ScalarNode, new: str, label: str, why: str) -> None:
        def shown(text: str) -> str:
            return text or '""'

        self.report.change(self.path, yt.line(node), f"{label}: {shown(node.value)}", f"{label}: {shown(new)}", why)
        self.edits.append(yt.scalar_edit(self.text, node, new))

    def run(self, root: MappingNode) -> None:
        self.rule_keys(yt.value(root, "prometheusRules"))
        self.images(root)
        self.top_level(root)
        secrets = yt.value(root, "secretsExporter")
        self.extra_args(secrets, "secretsExporter.extraArgs")
        cache = yt.get(secrets, "cache")
        if cache:
            # still in v4's values.yaml, read by none of its templates
            self.warn(
                cache[0],
                "secretsExporter.cache has no effect in v4 (the exporter watches the Kubernetes API "
                "instead of caching lists): remove it",
            )

    def rule_keys(self, rules: Node | None) -> None:
        if rules is None:
            return
        present = {k.value for k, _ in yt.items(rules)}
        for key, _val in yt.items(rules):
            if key.value not in RULE_KEY_RENAMES:
                continue
            new, why = RULE_KEY_RENAMES[key.value]
            if new in present:
                self.warn(
                    key,
                    f"prometheusRules.{key.value} and prometheusRules.{new} are both set: v4 reads only "
                    f"{new} and refuses {key.value}, remove it",
                )
                continue
            self.report.change(self.path, yt.line(key), f"prometheusRules.{key.value}", f"prometheusRules.{new}", why)
            self.edits.append((key.start_mark.index, key.end_mark.index, new))
        self.edits.extend(
            migrate_groups(
                self.text, yt.value(rules, "extraAlertGroups"), self.path, self.window, self.report, helm_templates=True
            )
        )

    def images(self, root: MappingNode) -> None:
        found = yt.get(root, "image")
        anchor, image = found if found else (None, None)
        if yt.get(image, "registry") is None:
            self.warn(
                anchor,
                "image.registry is not set: the chart's default registry is quay.io in v4 (docker.io "
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
                "image.tagSuffix is empty: v4's default image is scratch (no shell), v3's was "
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
                    f"migration.image.repository {repo.value}: v4 splits it into registry: {host} "
                    f"and repository: {rest}; edit it by hand (flow style)",
                )
                return
            why = "v4 splits migration.image into registry and repository"
            self.report.change(
                self.path,
                yt.line(repo),
                f"migration.image.repository: {repo.value}",
                f"migration.image.registry: {host}, migration.image.repository: {rest}",
                why,
            )
            self.edits.append(yt.scalar_edit(self.text, repo, rest))
            self.edits.append(yt.insert_before_edit(self.text, key, f"registry: {host}"))

    def top_level(self, root: MappingNode) -> None:
        found = yt.get(root, "kubeVersion")
        if found and not yt.own_line(self.text, found[0]):
            self.warn(found[0], "kubeVersion: v4 dropped it and refuses it; remove it by hand (flow style)")
        elif found:
            key, val = found
            shown = self.source(val) if isinstance(val, ScalarNode) else "..."
            self.report.change(
                self.path,
                yt.line(key),
                f"kubeVersion: {shown}",
                "(removed)",
                "v4 dropped kubeVersion; pass --kube-version to helm template instead",
            )
            self.edits.append(yt.delete_edit(self.text, key, val))
        service = yt.get(root, "service")
        if yt.get(service and service[1], "headless") is None:
            self.warn(
                service and service[0],
                "service.headless is not set: v4 makes the Service headless by default (v3: false); "
                "set service.headless: false if Prometheus scrapes the Service name (dns_sd_configs, "
                "static_configs)",
            )
        if yt.get(root, "exposeNotBeforeMetric") is None:
            self.warn(
                None,
                "exposeNotBeforeMetric is not set: v3 always emitted x509_cert_not_before, v4 only with "
                "exposeNotBeforeMetric: true (the v3 dashboard's validity-period panels use it)",
            )
        labels = yt.value(root, "metricLabelsFilterList")
        if labels is not None and (labels.tag or "").endswith(":seq"):
            self.warn(
                labels,
                "metricLabelsFilterList: v4 passes it to metrics.exposeSubjectFields and "
                "exposeIssuerFields, which take DN field names (C, ST, L, O, OU, CN); v3 label names "
                "such as subject_CN match none and drop every subject and issuer label, and other "
                "labels are always emitted: list DN fields instead",
            )
        if yt.get(root, "web") is None:
            self.warn(
                None,
                "web.enableStats is not set: v4 serves an HTML status page on / by default; "
                "set web.enableStats: false for metrics only",
            )

    def extra_args(self, exporter: Node | None, label: str) -> None:
        for item in yt.seq(yt.value(exporter, "extraArgs")):
            if not isinstance(item, ScalarNode) or not item.value.startswith("-"):
                continue
            if flag_name(item.value) not in V4_SHORTCUTS:
                self.warn(
                    item,
                    f"{label}: {item.value} is not accepted by the v4 exporter's command line; "
                    f"express it in the chart's values or the YAML configuration "
                    f"(x509-mixin migrate flags tells where)",
                )


def migrate(text: str, path: str, report: Report, window: str = DEFAULT_WINDOW) -> str:
    docs = [d for d in yt.compose_all(text, path) if d is not None]
    if not docs:
        return text
    root = docs[0]
    if len(docs) > 1 or not isinstance(root, MappingNode) or yt.get(root, "kind") is not None:
        raise InputError(path, yt.line(root), "unknown file shape: expected one Helm values mapping")
    migration = _Values(text, path, report, window)
    migration.run(root)
    return yt.verify(splice(text, migration.edits), path) if migration.edits else text
