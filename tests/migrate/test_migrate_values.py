"""`x509-mixin migrate values` on a v3 values.yaml: applied changes and decisions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from migrate_helpers import fixture_text
from ruamel.yaml import YAML

from x509_mixin.migrate.values import RULE_KEY_RENAMES, chart_values, looks_like_chart

VALUES = "v3-values.yaml"


def expected_values() -> str:
    text = fixture_text(VALUES)
    for old, new in [
        ("  tagSuffix: -alpine\n", "  tagSuffix: -busybox\n"),
        (
            "    repository: registry.k8s.io/kubectl   # mirrored by our proxy\n",
            "    registry: registry.k8s.io\n    repository: kubectl   # mirrored by our proxy\n",
        ),
        ("  alertOnReadErrors: true\n", "  alertOnSourceErrors: true\n"),
        ("  readErrorsSeverity: critical\n", "  sourceErrorsSeverity: critical\n"),
        ("  alertOnCertificateErrors: true\n", "  alertOnCertificateError: true\n"),
        ('  certificateErrorsSeverity: "warning"\n', '  certificateErrorSeverity: "warning"\n'),
        ("      expr: x509_read_errors > 0\n", "      expr: increase(x509_source_errors_total[15m]) > 0\n"),
        ('\n\n# -- Override Kubernetes version detection ; useful with "helm template"\nkubeVersion: "1.28.3"\n', "\n"),
    ]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


REPORT = [
    "v3-values.yaml:4: image.tagSuffix: -alpine -> image.tagSuffix: -busybox (v4 publishes no Alpine image; "
    '-busybox is the closest (it has a shell), "" gives the minimal scratch image)',
    "v3-values.yaml:9: migration.image.repository: registry.k8s.io/kubectl -> migration.image.registry: "
    "registry.k8s.io, migration.image.repository: kubectl (v4 splits migration.image into registry and repository)",
    "v3-values.yaml:31: prometheusRules.alertOnReadErrors -> prometheusRules.alertOnSourceErrors (v4 replaces "
    "X509ExporterReadErrors with SourceErrors (more than 5 errors in 15m, for 5m) and SourceErrorsSustained "
    "(for 30m, critical), both behind this toggle)",
    "v3-values.yaml:32: prometheusRules.readErrorsSeverity -> prometheusRules.sourceErrorsSeverity (severity of "
    "SourceErrors, v4's replacement of X509ExporterReadErrors)",
    "v3-values.yaml:33: prometheusRules.alertOnCertificateErrors -> prometheusRules.alertOnCertificateError "
    "(renamed in v4)",
    "v3-values.yaml:34: prometheusRules.certificateErrorsSeverity -> prometheusRules.certificateErrorSeverity "
    "(renamed in v4)",
    "v3-values.yaml:41: x509_read_errors > 0 -> increase(x509_source_errors_total[15m]) > 0 (x509_read_errors was "
    "removed in v4; increase(x509_source_errors_total[15m]) counts the errors of the last 15m, per source and reason)",
    'v3-values.yaml:53: kubeVersion: "1.28.3" -> (removed) (v4 dropped kubeVersion; pass --kube-version to helm '
    "template instead)",
    "v3-values.yaml:1: warning: exposeNotBeforeMetric is not set: v3 always emitted x509_cert_not_before, v4 only "
    "with exposeNotBeforeMetric: true (the v3 dashboard's validity-period panels use it)",
    "v3-values.yaml:1: warning: web.enableStats is not set: v4 serves an HTML status page on / by default; set "
    "web.enableStats: false for metrics only",
    "v3-values.yaml:2: warning: image.registry is not set: the chart's default registry is quay.io in v4 (docker.io "
    "in v3); set image.registry: docker.io if pulls must stay on Docker Hub",
    "v3-values.yaml:23: warning: secretsExporter.extraArgs: --max-cache-duration=10m is not accepted by the v4 "
    "exporter's command line; express it in the chart's values or the YAML configuration (x509-mixin migrate "
    "flags tells where)",
]


def test_exact_output_and_report(workdir, migrate):
    run = migrate("values", VALUES)
    assert run.code == 0
    assert run.out == expected_values()
    assert run.err == REPORT


def test_second_run_changes_nothing_and_keeps_the_decisions(workdir, migrate):
    assert migrate("values", "-i", VALUES).code == 0
    assert Path(VALUES).read_text() == expected_values()
    run = migrate("values", "--check", VALUES)
    assert run.code == 0
    assert run.err == [line.replace("v3-values.yaml:23:", "v3-values.yaml:24:") for line in REPORT if "warning" in line]


def test_check_exit_1(workdir, migrate):
    run = migrate("values", "--check", VALUES)
    assert run.code == 1 and run.out == ""
    assert Path(VALUES).read_text() == fixture_text(VALUES)


def test_defaults_only_file_reports_every_default_that_changed(workdir, migrate):
    Path("small.yaml").write_text("service:\n  port: 9793\n")
    run = migrate("values", "small.yaml")
    assert run.code == 0 and run.out == "service:\n  port: 9793\n"
    assert run.err == [
        "small.yaml:1: warning: image.registry is not set: the chart's default registry is quay.io in v4 (docker.io "
        "in v3); set image.registry: docker.io if pulls must stay on Docker Hub",
        "small.yaml:1: warning: image.tagSuffix is empty: v4's default image is scratch (no shell), v3's was "
        "busybox; set image.tagSuffix: -busybox to keep a shell in the pod",
        "small.yaml:1: warning: service.headless is not set: v4 makes the Service headless by default (v3: false); "
        "set service.headless: false if Prometheus scrapes the Service name (dns_sd_configs, static_configs)",
        "small.yaml:1: warning: exposeNotBeforeMetric is not set: v3 always emitted x509_cert_not_before, v4 only "
        "with exposeNotBeforeMetric: true (the v3 dashboard's validity-period panels use it)",
        "small.yaml:1: warning: web.enableStats is not set: v4 serves an HTML status page on / by default; set "
        "web.enableStats: false for metrics only",
    ]


def test_other_changes(workdir, migrate):
    Path("other.yaml").write_text(
        "image:\n  registry: docker.io\n  tagSuffix: '-scratch'\nmigration:\n  image:\n    repository: myorg/kubectl\n"
        "exposeNotBeforeMetric: true\nweb: {enableStats: false}\nservice: {headless: true}\n"
        "metricLabelsFilterList: [filepath, subject_CN]\n"
        "prometheusRules:\n  alertOnReadErrors: false\n  alertOnSourceErrors: true\n  extraAlertGroups:\n"
        '  - name: g\n    rules:\n    - alert: A\n      expr: x509_read_errors{job="{{ .Release.Name }}"} > 0\n'
    )
    run = migrate("values", "other.yaml")
    assert run.code == 0
    assert run.out.startswith(
        "image:\n  registry: docker.io\n  tagSuffix: ''\nmigration:\n  image:\n"
        "    registry: docker.io\n    repository: myorg/kubectl\n"
    )
    assert run.err == [
        'other.yaml:3: image.tagSuffix: -scratch -> image.tagSuffix: "" (v4 tags the scratch image without a suffix '
        "and publishes no -scratch tag)",
        "other.yaml:6: migration.image.repository: myorg/kubectl -> migration.image.registry: docker.io, "
        "migration.image.repository: myorg/kubectl (v4 splits migration.image into registry and repository)",
        "other.yaml:10: warning: metricLabelsFilterList: v4 passes it to metrics.exposeSubjectFields and "
        "exposeIssuerFields, which take DN field names (C, ST, L, O, OU, CN); v3 label names such as subject_CN "
        "match none and drop every subject and issuer label, and other labels are always emitted: list DN fields "
        "instead",
        "other.yaml:12: warning: prometheusRules.alertOnReadErrors and prometheusRules.alertOnSourceErrors are both "
        "set: v4 reads only alertOnSourceErrors and refuses alertOnReadErrors, remove it",
        "other.yaml:18: warning: A: expr holds Helm template actions and was not parsed: check it by hand",
    ]


@pytest.mark.parametrize(
    "text,error",
    [
        ("image: [\n", "bad.yaml:2: error: invalid YAML: "),
        (
            "apiVersion: v1\nkind: ConfigMap\n",
            "bad.yaml:1: error: unknown file shape: expected one Helm values mapping per document",
        ),
    ],
)
def test_bad_input(workdir, migrate, text, error):
    Path("bad.yaml").write_text(text)
    run = migrate("values", "-i", "bad.yaml")
    assert run.code == 2
    assert len(run.err) == 1 and run.err[0].startswith(error), run.err
    assert Path("bad.yaml").read_text() == text


def test_secrets_exporter_cache_is_reported(workdir, migrate):
    Path("cache.yaml").write_text("secretsExporter:\n  cache:\n    enabled: true\n    maxDuration: 600\n")
    run = migrate("values", "cache.yaml")
    assert run.out == "secretsExporter:\n  cache:\n    enabled: true\n    maxDuration: 600\n"
    assert (
        "cache.yaml:2: warning: secretsExporter.cache has no effect in v4 (the exporter watches the Kubernetes "
        "API instead of caching lists): remove it"
    ) in run.err


# The parts of v4.2.0's chart/values.schema.json that this migration writes: the renamed rule
# keys (the old names refused), and secretTypes entries taking `key` or `keyPatterns`.
SEVERITY = {"enum": ["info", "warning", "critical"]}
V4_SCHEMA_PART = {
    "type": "object",
    "properties": {
        "prometheusRules": {
            "type": "object",
            "properties": {
                "alertOnSourceErrors": {"type": "boolean"},
                "sourceErrorsSeverity": SEVERITY,
                "alertOnCertificateError": {"type": "boolean"},
                "certificateErrorSeverity": SEVERITY,
            },
            "not": {"anyOf": [{"required": [old]} for old in RULE_KEY_RENAMES]},
        },
        "secretsExporter": {
            "type": "object",
            "properties": {
                "secretTypes": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["type"],
                        "oneOf": [{"required": ["key"]}, {"required": ["keyPatterns"]}],
                        "properties": {
                            "type": {"type": "string", "minLength": 1},
                            "key": {"type": "string"},
                            "keyPatterns": {"type": "array", "items": {"type": "string"}},
                            "format": {"enum": ["pem", "pkcs12", "der", "jks"]},
                        },
                    },
                },
                "extraArgs": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}

# A parent (umbrella) chart's values: this chart under its dependency's key, among others'.
UMBRELLA = r"""# Platform umbrella chart, production values. Owner: platform team.
global:
  imageRegistry: registry.example.org
ingress-nginx:
  controller:
    replicaCount: 2

certs:
  # the x509-certificate-exporter dependency (alias: certs)
  image:
    registry: docker.io
    tagSuffix: -busybox
  service: {headless: false}
  exposeNotBeforeMetric: true
  web: {enableStats: true}
  secretsExporter:
    secretTypes:
      - type: kubernetes.io/tls
        key: tls.crt
      - type: Opaque
        key: ^ca\.(crt|pem)$   # CA bundles of the mesh
      - {type: Opaque, key: '.*\.crt'}
    extraArgs:
      - --debug=on
      - --f=/etc/extra/ca.pem
  prometheusRules:
    alertOnReadErrors: ~
    readErrorsSeverity: null
    alertOnCertificateErrors:
    certificateErrorsSeverity: &sev critical
    certificateExpirationsSeverity: *sev
    extraAlertGroups:
      - name: certs.custom
        rules:
          - alert: CertificateReadErrorsCustom
            expr: x509_read_errors > 0
            labels:
              severity: '{{ .Values.prometheusRules.certificateErrorsSeverity }}'
            annotations:
              summary: 'Read errors ({{ index .Values.prometheusRules "readErrorsSeverity" | default "warning" }})'
---
"""

UMBRELLA_REPORT = [
    r"umbrella.yaml:21: certs.secretsExporter.secretTypes[1].key: ^ca\.(crt|pem)$ -> "
    r"certs.secretsExporter.secretTypes[1].keyPatterns: [^ca\.(crt|pem)$] (v3 read key as a regular expression "
    "matched anywhere in the data key; v4 takes key literally (it builds ^key$): keyPatterns keeps v3's matching)",
    r"umbrella.yaml:22: certs.secretsExporter.secretTypes[2].key: .*\.crt -> "
    r"certs.secretsExporter.secretTypes[2].keyPatterns: [.*\.crt] (v3 read key as a regular expression matched "
    "anywhere in the data key; v4 takes key literally (it builds ^key$): keyPatterns keeps v3's matching)",
    "umbrella.yaml:24: certs.secretsExporter.extraArgs: --debug=on -> certs.secretsExporter.extraArgs: "
    "--debug=true (v3 read it as getopt does; v4's kong reads a bool value as one of true, 1, yes, false, 0, no)",
    "umbrella.yaml:25: certs.secretsExporter.extraArgs: --f=/etc/extra/ca.pem -> certs.secretsExporter.extraArgs: "
    "--watch-file=/etc/extra/ca.pem (v3 read it as getopt does; v4's kong takes -f or --watch-file, not --f)",
    "umbrella.yaml:27: certs.prometheusRules.alertOnReadErrors: null -> certs.prometheusRules.alertOnSourceErrors: "
    "false (v3 read a null toggle as off; v4's schema refuses null)",
    "umbrella.yaml:28: certs.prometheusRules.readErrorsSeverity: null -> (removed) (v4's schema refuses null; its "
    "default severity applies)",
    "umbrella.yaml:29: certs.prometheusRules.alertOnCertificateErrors: null -> "
    "certs.prometheusRules.alertOnCertificateError: false (v3 read a null toggle as off; v4's schema refuses null)",
    "umbrella.yaml:30: certs.prometheusRules.certificateErrorsSeverity -> certs.prometheusRules."
    "certificateErrorSeverity (renamed in v4)",
    "umbrella.yaml:36: x509_read_errors > 0 -> increase(x509_source_errors_total[15m]) > 0 (x509_read_errors was "
    "removed in v4; increase(x509_source_errors_total[15m]) counts the errors of the last 15m, per source and "
    "reason)",
    "umbrella.yaml:38: {{ .Values.prometheusRules.certificateErrorsSeverity }} -> "
    "{{ .Values.prometheusRules.certificateErrorSeverity }} (a template reads a prometheusRules key that v4 "
    "renamed; it reads the new name)",
    'umbrella.yaml:40: Read errors ({{ index .Values.prometheusRules "readErrorsSeverity" | default "warning" }}) '
    '-> Read errors ({{ index .Values.prometheusRules "sourceErrorsSeverity" | default "warning" }}) (a template '
    "reads a prometheusRules key that v4 renamed; it reads the new name)",
    "umbrella.yaml:28: warning: certs.prometheusRules.readErrorsSeverity was null: v3 gave its alert no severity "
    "label, v4 requires info, warning or critical (default warning): set certs.prometheusRules.sourceErrorsSeverity "
    "if warning is not what you want",
]


def umbrella_expected() -> str:
    text = UMBRELLA
    for old, new in [
        ("        key: ^ca\\.(crt|pem)$   #", "        keyPatterns: [^ca\\.(crt|pem)$]   #"),
        ("{type: Opaque, key: '.*\\.crt'}", "{type: Opaque, keyPatterns: ['.*\\.crt']}"),
        ("      - --debug=on\n", "      - --debug=true\n"),
        ("      - --f=/etc/extra/ca.pem\n", "      - --watch-file=/etc/extra/ca.pem\n"),
        ("    alertOnReadErrors: ~\n    readErrorsSeverity: null\n", "    alertOnSourceErrors: false\n"),
        ("    alertOnCertificateErrors:\n", "    alertOnCertificateError: false\n"),
        ("    certificateErrorsSeverity: &sev", "    certificateErrorSeverity: &sev"),
        ("            expr: x509_read_errors > 0", "            expr: increase(x509_source_errors_total[15m]) > 0"),
        ("prometheusRules.certificateErrorsSeverity }}", "prometheusRules.certificateErrorSeverity }}"),
        ('"readErrorsSeverity" | default', '"sourceErrorsSeverity" | default'),
    ]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def test_values_under_a_parent_charts_key(workdir, migrate):
    Path("umbrella.yaml").write_text(UMBRELLA)
    run = migrate("values", "umbrella.yaml")
    assert run.code == 0
    assert run.out == umbrella_expected()
    assert run.err == UMBRELLA_REPORT
    assert migrate("values", "--check", "umbrella.yaml").code == 1
    # what v4 reads validates against its schema; the anchor and its alias are still there
    certs = yaml.safe_load(run.out.split("\n---\n")[0])["certs"]
    jsonschema.validate(certs, V4_SCHEMA_PART)
    assert [t.get("keyPatterns") for t in certs["secretsExporter"]["secretTypes"]] == [
        None,
        [r"^ca\.(crt|pem)$"],
        [r".*\.crt"],
    ]
    assert "certificateErrorSeverity: &sev critical" in run.out and "certificateExpirationsSeverity: *sev" in run.out
    # the v3 input does not: this check can fail
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(yaml.safe_load(UMBRELLA.split("\n---\n")[0])["certs"], V4_SCHEMA_PART)
    Path("umbrella.yaml").write_text(run.out)
    again = migrate("values", "--check", "umbrella.yaml")
    assert again.code == 0 and [line for line in again.err if "->" in line] == []


def test_a_values_mapping_is_found_by_its_keys():
    def mapping(text):
        return YAML(typ="safe", pure=True).compose(text)

    assert looks_like_chart(mapping("secretsExporter: {enabled: false}"))
    assert looks_like_chart(mapping("prometheusRules: {readErrorsSeverity: info}"))
    assert not looks_like_chart(mapping("prometheusRules: {create: true}"))  # any chart may have that
    nested = mapping("a:\n  b:\n    hostPathsExporter: {}\nc: {exposeRelativeMetrics: true}\n")
    assert [prefix for prefix, _, _ in chart_values(nested)] == ["a.b.", "c."]
    assert [prefix for prefix, _, _ in chart_values(mapping("service: {port: 9793}"))] == [""]


def test_removing_the_first_key_keeps_the_files_header_comment(workdir, migrate):
    text = (
        "# Values for the x509 exporter in staging.\n# Reviewed by the platform team.\n"
        'kubeVersion: "1.28.3"\nexposeNotBeforeMetric: true\nweb: {enableStats: true}\n'
        "image: {registry: docker.io, tagSuffix: -busybox}\nservice: {headless: false}\n---\n"
    )
    Path("header.yaml").write_text(text)
    run = migrate("values", "header.yaml")
    assert run.out == text.replace('kubeVersion: "1.28.3"\n', "")
    assert run.err == [
        'header.yaml:3: kubeVersion: "1.28.3" -> (removed) (v4 dropped kubeVersion; pass --kube-version to helm '
        "template instead)"
    ]


def test_removing_a_block_keeps_the_comments_of_the_next_key(workdir, migrate):
    text = (
        "exposeNotBeforeMetric: true\nkubeVersion:\n  major: 1\n  minor: 28\n\n# -- the exporter's image\n"
        "image: {registry: docker.io, tagSuffix: -busybox}\nweb: {enableStats: true}\nservice: {headless: false}\n"
    )
    Path("block.yaml").write_text(text)
    assert migrate("values", "block.yaml").out == text.replace("kubeVersion:\n  major: 1\n  minor: 28\n", "")


def test_several_documents(workdir, migrate):
    text = "prometheusRules:\n  readErrorsSeverity: info\n---\nprometheusRules:\n  alertOnReadErrors: false\n---\n"
    Path("docs.yaml").write_text(text)
    run = migrate("values", "docs.yaml")
    assert run.code == 0
    assert run.out == text.replace("readErrorsSeverity", "sourceErrorsSeverity").replace(
        "alertOnReadErrors", "alertOnSourceErrors"
    )
    # a key missing from the second document is reported at that document's first line
    assert (
        "docs.yaml:4: warning: web.enableStats is not set: v4 serves an HTML status page on / by default; set "
        "web.enableStats: false for metrics only" in run.err
    )


def test_keys_missing_under_a_parent_chart_are_reported_at_its_key(workdir, migrate):
    text = "global: {}\nx509:\n  secretsExporter:\n    enabled: true\n"
    Path("parent.yaml").write_text(text)
    run = migrate("values", "parent.yaml")
    assert run.out == text
    assert run.err[0] == (
        "parent.yaml:2: warning: x509.image.registry is not set: the chart's default registry is quay.io in v4 "
        "(docker.io in v3); set image.registry: docker.io if pulls must stay on Docker Hub"
    )
    assert all(line.startswith("parent.yaml:2: warning: x509.") for line in run.err)


UPSTREAM = Path(__file__).resolve().parents[3] / "shared" / "upstream"


def _over(defaults, values):
    # Helm's merge of a user's values over the chart's defaults (mappings deep, the rest replaced).
    if isinstance(defaults, dict) and isinstance(values, dict):
        return {**defaults, **{k: _over(defaults[k], v) if k in defaults else v for k, v in values.items()}}
    return values


@pytest.mark.skipif(
    not (UPSTREAM / "v4-values.schema.json").exists(),
    reason="the charts' real values and v4 schema come from ../shared/upstream, absent here",
)
def test_the_real_v3_values_against_the_real_v4_schema(workdir, migrate):
    # docs/migration.md: v3.21.0's values.yaml over v4.2.0's defaults is refused for exactly the
    # five keys migration rewrites, and validates once migrated.
    schema = json.loads((UPSTREAM / "v4-values.schema.json").read_text())
    defaults = yaml.safe_load((UPSTREAM / "v4-values.yaml").read_text())
    v3_text = (UPSTREAM / "v3-values.yaml").read_text()
    validator = jsonschema.validators.validator_for(schema)(schema)
    refused = sorted(
        re.findall(r"'(\w+)'", e.message)
        for e in validator.iter_errors(_over(defaults, yaml.safe_load(v3_text)))
        if e.validator == "additionalProperties"
    )
    assert refused == [
        ["alertOnCertificateErrors", "alertOnReadErrors", "certificateErrorsSeverity", "readErrorsSeverity"],
        ["kubeVersion"],
    ]
    assert len(list(validator.iter_errors(_over(defaults, yaml.safe_load(v3_text))))) == 2
    Path("v3-values.yaml").write_text(v3_text)
    run = migrate("values", "v3-values.yaml")
    assert run.code == 0, run.err
    assert list(validator.iter_errors(_over(defaults, yaml.safe_load(run.out)))) == []
