"""`x509-mixin migrate values` on a v3 values.yaml: applied changes and decisions."""

from __future__ import annotations

from pathlib import Path

import pytest
from migrate_helpers import fixture_text

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
