"""The PromQL rewrite: exact v4 forms of every use of x509_read_errors, untouched
expressions, the printer, gate warnings, and Grafana variables."""

from __future__ import annotations

from pathlib import Path

import promql_parser as pp
import pytest
import yaml

from x509_mixin.migrate.grafana import migrate_panel_expr
from x509_mixin.migrate.promql import PromQLError, migrate_expr, render

REWRITES = {
    # the migration guide's own example, and the v3 chart's alert
    "x509_read_errors > 0": "increase(x509_source_errors_total[15m]) > 0",
    "delta(x509_read_errors[15m]) > 0": "increase(x509_source_errors_total[15m]) > 0",
    # range functions: change -> increase, slope -> rate
    "idelta(x509_read_errors[5m])": "increase(x509_source_errors_total[5m])",
    "increase(x509_read_errors[1h])": "increase(x509_source_errors_total[1h])",
    "deriv(x509_read_errors[10m]) > 0": "rate(x509_source_errors_total[10m]) > 0",
    "rate(x509_read_errors[5m])": "rate(x509_source_errors_total[5m])",
    "irate(x509_read_errors[5m])": "irate(x509_source_errors_total[5m])",
    # any other range function runs over a subquery of the gauge's counter form
    'max_over_time(x509_read_errors{job="a"}[1h]) > 0': 'max_over_time(increase(x509_source_errors_total{job="a"}[15m])[1h:]) > 0',
    "quantile_over_time(0.9, x509_read_errors[1h])": "quantile_over_time(0.9, increase(x509_source_errors_total[15m])[1h:])",
    "max_over_time(x509_read_errors[1h:5m])": "max_over_time(increase(x509_source_errors_total[15m])[1h:5m])",
    # aggregations, matchers, modifiers, binary operations
    "sum(x509_read_errors)": "sum(increase(x509_source_errors_total[15m]))",
    "sum (x509_read_errors > bool 0)": "sum(increase(x509_source_errors_total[15m]) > bool 0)",
    "topk(10, x509_read_errors)": "topk(10, increase(x509_source_errors_total[15m]))",
    'sum by (instance) (idelta(x509_read_errors{job=~"x.*"}[5m] offset 1h)) > bool on (instance) group_left (x) up': 'sum by (instance) (increase(x509_source_errors_total{job=~"x.*"}[5m] offset 1h)) '
    "> bool on (instance) group_left (x) up",
    "sum without(reason)(x509_read_errors) * 1e3": "sum without (reason) (increase(x509_source_errors_total[15m])) * 1000",
    '{__name__="x509_read_errors", job="a\\"b"} @ end()': 'increase(x509_source_errors_total{job="a\\"b"}[15m] @ end())',
    "x509_read_errors offset -5m": "increase(x509_source_errors_total[15m] offset -5m)",
    "-x509_read_errors": "-increase(x509_source_errors_total[15m])",
    "x509_read_errors[5m]": "increase(x509_source_errors_total[15m])[5m:]",
    'absent(x509_read_errors{job="x"})': 'absent(x509_source_errors_total{job="x"})',
    'label_replace(x509_read_errors, "a", "$1", "b", "(.*)")': 'label_replace(increase(x509_source_errors_total[15m]), "a", "$1", "b", "(.*)")',
    "x509_read_errors or vector(0)": "increase(x509_source_errors_total[15m]) or vector(0)",
    "(x509_read_errors) > 0": "(increase(x509_source_errors_total[15m])) > 0",
}


@pytest.mark.parametrize("before", sorted(REWRITES))
def test_exact_rewrite(before):
    result = migrate_expr(before)
    assert result.changed
    assert result.text == REWRITES[before]
    pp.parse(result.text)
    assert not migrate_expr(result.text).changed  # idempotent


def test_window_is_configurable():
    assert migrate_expr("x509_read_errors > 0", "1h").text == "increase(x509_source_errors_total[1h]) > 0"


UNTOUCHED = [
    "(x509_cert_not_after - time()) < (28 * 86400)",
    "sum by(secret_namespace)(x509_cert_not_after)   <   1e3",
    "x509_cert_not_after\n  - time()\n< 86400",
    'count_values("v", x509_exporter_build_info) or absent(up{job="x"} @ start()) unless on() vector(1)',
]


@pytest.mark.parametrize("text", UNTOUCHED)
def test_expression_without_read_errors_is_kept_byte_for_byte(text):
    result = migrate_expr(text)
    assert not result.changed and result.text is text


CORPUS = UNTOUCHED + [
    'topk(10, sort_desc(count by (issuer_CN) (x509_cert_not_after{a!~"x",b=~"y\\\\.z"})))',
    "a ^ b ^ c - (d - e) / -f % 2",
    "max_over_time(rate(x[5m])[1h:30s] offset 1d) > bool ignoring(a, b) group_right(c) y",
    "histogram_quantile(0.99, sum by (le) (rate(x509_scrape_duration_seconds_bucket[5m])))",
    'quantile(0.9, x) atan2 y and z{a="\\n"} @ 1609746000',
    "sum(x) by (a) + on() group_left b",
]


@pytest.mark.parametrize("text", CORPUS)
def test_printer_reproduces_the_tree(text):
    tree = pp.parse(text)
    assert str(pp.parse(render(tree))) == str(tree)


@pytest.mark.parametrize(
    "metric,warning",
    [
        (
            "x509_cert_not_before",
            "x509_cert_not_before needs metrics.exposeNotBefore: true (chart: exposeNotBeforeMetric: "
            "true): v4 does not emit it by default",
        ),
        (
            "x509_cert_expires_in_seconds",
            "x509_cert_expires_in_seconds needs metrics.exposeRelative: true (chart: "
            "exposeRelativeMetrics: true): v4 does not emit it by default",
        ),
        (
            "x509_cert_valid_since_seconds",
            "x509_cert_valid_since_seconds needs metrics.exposeRelative: true (chart: "
            "exposeRelativeMetrics: true): v4 does not emit it by default",
        ),
        (
            "x509_cert_error",
            "x509_cert_error needs metrics.exposePerCertError: true (chart: "
            "exposePerCertificateErrorMetrics: true): v4 does not emit it by default",
        ),
        (
            "x509_cert_expired",
            "x509_cert_expired needs metrics.exposeExpired (chart: exposeExpiredMetric) to stay on: "
            "v4 emits it by default, setting it to false removes the series",
        ),
    ],
)
def test_gated_metric_warning(metric, warning):
    assert migrate_expr(f"max({metric}) > 0").warnings == [warning]


def test_histogram_series_carry_their_gate():
    assert migrate_expr("histogram_quantile(0.99, rate(x509_parse_duration_seconds_bucket[5m]))").warnings == [
        "x509_parse_duration_seconds_bucket needs metrics.exposeDiagnostics: true (chart: exposeDiagnosticMetrics: "
        "true): v4 does not emit it by default"
    ]


def test_always_emitted_metrics_give_no_warning():
    assert migrate_expr("x509_cert_not_after - time() and on() x509_source_up == 1").warnings == []


def test_meaning_warnings():
    assert migrate_expr("count(x509_read_errors)").warnings == [
        "count(...) over x509_source_errors_total counts sources x reasons, not exporters as "
        "count(x509_read_errors) did: count by (job, instance) first if you meant exporters"
    ]
    assert migrate_expr("x509_read_errors > 0 and up == 1").warnings == [
        "x509_source_errors_total has the labels source_kind, source_name and reason that x509_read_errors had "
        "not: a binary operation matching on all labels may no longer match, use on(...)"
    ]
    assert migrate_expr("x509_read_errors > 0 and on(instance) up == 1").warnings == []
    assert migrate_expr('{__name__=~"x509_.*"}').warnings == [
        "a regular expression on __name__ may select x509_read_errors, which v4 removed: review it by hand"
    ]


@pytest.mark.parametrize("text", ["sum(x509_read_errors", "x509_read_errors >", "rate(x509_read_errors)"])
def test_invalid_promql_is_refused(text):
    with pytest.raises(PromQLError, match="invalid PromQL"):
        migrate_expr(text)


def test_grafana_variables_survive():
    result = migrate_panel_expr(
        'sum(rate(x509_read_errors{instance=~"$instance"}[$__rate_interval])) > ${threshold} '
        "or x509_read_errors offset [[shift]]",
        "1h",
    )
    assert result.text == (
        'sum(rate(x509_source_errors_total{instance=~"$instance"}[$__rate_interval])) > ${threshold} '
        "or increase(x509_source_errors_total[1h] offset [[shift]])"
    )
    assert not migrate_panel_expr("x509_cert_not_after < bool $critical_threshold", "15m").changed


def _mixin_exprs() -> list[str]:
    """Every expression of the mixin's own generated rules: a realistic corpus for the printer."""
    rules = Path(__file__).resolve().parents[2] / "rules"
    out = []
    for name in ("prometheus_alerts.yaml", "prometheus_rules.yaml"):
        for group in yaml.safe_load((rules / name).read_text())["groups"]:
            out.extend(rule["expr"] for rule in group["rules"])
    return out


def test_printer_reproduces_the_mixins_own_rules():
    exprs = _mixin_exprs()
    assert len(exprs) >= 15
    for text in exprs:
        tree = pp.parse(text)
        assert str(pp.parse(render(tree))) == str(tree), text
