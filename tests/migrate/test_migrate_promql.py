"""The PromQL rewrite: exact v4 forms of every use of x509_read_errors, untouched
expressions, the printer, gate warnings, and Grafana variables."""

from __future__ import annotations

from pathlib import Path

import promql_parser as pp
import pytest
import yaml

from x509_mixin.migrate.grafana import migrate_panel_expr
from x509_mixin.migrate.promql import PromQLError, migrate_expr, render

FOLD = "sum without (source_kind, source_name, reason)"  # v4's pieces back to v3's one series per exporter

# The rewrites of a recording rule's or a panel's expression (values must add up to v3's).
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
    # any other range function runs over a subquery of the gauge's counter form, per exporter
    # where the function is not a sum (a maximum over pieces is not the exporter's maximum)
    'max_over_time(x509_read_errors{job="a"}[1h]) > 0': f'max_over_time({FOLD} (increase(x509_source_errors_total{{job="a"}}[15m]))[1h:]) > 0',
    "quantile_over_time(0.9, x509_read_errors[1h])": f"quantile_over_time(0.9, {FOLD} (increase(x509_source_errors_total[15m]))[1h:])",
    "max_over_time(x509_read_errors[1h:5m])": f"max_over_time({FOLD} (increase(x509_source_errors_total[15m]))[1h:5m])",
    "sum_over_time(x509_read_errors[1h])": "sum_over_time(increase(x509_source_errors_total[15m])[1h:])",
    # `@` and `offset` of the range place the subquery, not each of its steps
    "max_over_time(x509_read_errors[1h] @ 3600)": f"max_over_time({FOLD} (increase(x509_source_errors_total[15m]))[1h:] @ 3600)",
    "avg_over_time(x509_read_errors[1h] offset 1d)": "avg_over_time(increase(x509_source_errors_total[15m])[1h:] offset 1d)",
    # functions of samples read the raw counter, whose samples are the gauge's
    "timestamp(x509_read_errors)": "max without (source_kind, source_name, reason) (timestamp(x509_source_errors_total))",
    "count_over_time(x509_read_errors[1h])": "max without (source_kind, source_name, reason) (count_over_time(x509_source_errors_total[1h]))",
    'absent_over_time(x509_read_errors{job="a"}[1h])': 'absent_over_time(x509_source_errors_total{job="a"}[1h])',
    "present_over_time(x509_read_errors[1h] @ 3600)": "max without (source_kind, source_name, reason) (present_over_time(x509_source_errors_total[1h] @ 3600))",
    "holt_winters(x509_read_errors[1h], 0.5, 0.1)": f"holt_winters({FOLD} (increase(x509_source_errors_total[15m]))[1h:], 0.5, 0.1)",
    "double_exponential_smoothing(x509_read_errors[1h], 0.5, 0.1)": f"double_exponential_smoothing({FOLD} (increase(x509_source_errors_total[15m]))[1h:], 0.5, 0.1)",
    "limitk(2, x509_read_errors)": f"limitk(2, {FOLD} (increase(x509_source_errors_total[15m])))",
    'sort_by_label(x509_read_errors, "instance")': 'sort_by_label(increase(x509_source_errors_total[15m]), "instance")',
    "info(x509_read_errors)": f"info({FOLD} (increase(x509_source_errors_total[15m])))",
    # aggregations, matchers, modifiers, binary operations
    "sum(x509_read_errors)": "sum(increase(x509_source_errors_total[15m]))",
    # counting and ranking exporters needs one series per exporter: two failing reasons are one exporter
    "sum (x509_read_errors > bool 0)": f"sum({FOLD} (increase(x509_source_errors_total[15m])) > bool 0)",
    "count(x509_read_errors)": f"count({FOLD} (increase(x509_source_errors_total[15m])))",
    "topk(10, x509_read_errors)": f"topk(10, {FOLD} (increase(x509_source_errors_total[15m])))",
    # joins match v3's labels: one-to-one stays one-to-one
    "x509_read_errors * on(instance) up": f"{FOLD} (increase(x509_source_errors_total[15m])) * on (instance) up",
    "x509_read_errors > 0 and up == 1": f"{FOLD} (increase(x509_source_errors_total[15m])) > 0 and up == 1",
    "x509_read_errors > 0 and on(instance) up == 1": "increase(x509_source_errors_total[15m]) > 0 and on (instance) up == 1",
    "x509_read_errors * on(instance) group_left(node) node_uname_info": "increase(x509_source_errors_total[15m]) * on (instance) group_left (node) node_uname_info",
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
    # Prometheus 2 and 3 functions of other teams' rules
    "holt_winters(node_load1[1h], 0.3, 0.3)",
    "double_exponential_smoothing(node_load1[1h], 0.3, 0.3)",
    'info(rate(http_requests_total[5m]), {k8s_cluster_name=~".+"})',
    "limitk(5, up) or limit_ratio(0.1, up)",
    'sort_by_label(up, "job", "instance")',
    "mad_over_time(node_load1[1h]) / ts_of_max_over_time(node_load1[1h])",
    "(x509_cert_not_after - time()) < (28 * 86400)",
    "sum by(secret_namespace)(x509_cert_not_after)   <   1e3",
    "x509_cert_not_after\n  - time()\n< 86400",
    'count_values("v", x509_exporter_build_info) or absent(up{job="x"} @ start()) unless on() vector(1)',
]


@pytest.mark.parametrize("text", UNTOUCHED)
def test_expression_without_read_errors_is_kept_byte_for_byte(text):
    result = migrate_expr(text)
    assert not result.changed and result.text is text
    assert result.warnings == []


CORPUS = UNTOUCHED + [
    'topk(10, sort_desc(count by (issuer_CN) (x509_cert_not_after{a!~"x",b=~"y\\\\.z"})))',
    "a ^ b ^ c - (d - e) / -f % 2",
    "max_over_time(rate(x[5m])[1h:30s] offset 1d) > bool ignoring(a, b) group_right(c) y",
    "histogram_quantile(0.99, sum by (le) (rate(x509_scrape_duration_seconds_bucket[5m])))",
    'quantile(0.9, x) atan2 y and z{a="\\n"} @ 1609746000',
    "sum(x) by (a) + on() group_left b",
    "a + ignoring (node) group_right () (0 * b)",  # the empty list must stay: `(0 * b)` is no list
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


# An alert only needs the same exporters to fire: pieces above 0 stand for their exporter.
ALERT_REWRITES = {
    "max_over_time(x509_read_errors[1h]) > 0": "max_over_time(increase(x509_source_errors_total[15m])[1h:]) > 0",
    "max by (job) (x509_read_errors) > 0": "max by (job) (increase(x509_source_errors_total[15m])) > 0",
    # a threshold above 0 is the exporter's total, not a piece's
    "x509_read_errors > 3": f"{FOLD} (increase(x509_source_errors_total[15m])) > 3",
    "x509_read_errors == 0": f"{FOLD} (increase(x509_source_errors_total[15m])) == 0",
}


@pytest.mark.parametrize("before", sorted(ALERT_REWRITES))
def test_alert_rewrite(before):
    result = migrate_expr(before, role="alert")
    assert result.text == ALERT_REWRITES[before]
    assert not migrate_expr(result.text, role="alert").changed


def test_meaning_warnings():
    assert migrate_expr("count(x509_read_errors)").warnings == []  # counted per exporter, as in v3
    assert migrate_expr("x509_read_errors > 0 and up == 1").warnings == []  # matched on v3's labels
    assert migrate_expr('{__name__=~"x509_.*"}').warnings == [
        "a regular expression on __name__ may select x509_read_errors, which v4 removed: review it by hand"
    ]
    assert migrate_expr("x509_read_errors > 3", role="alert").warnings == [
        "x509_read_errors > 3: 3 was a threshold on v3's gauge (failed reads at the latest scrape); the v4 form "
        "counts errors of x509_source_errors_total (over 15m, or per second for rate()): check the threshold"
    ]
    assert migrate_expr("x509_read_errors > on(instance) x509_errors_budget").warnings == [
        "x509_read_errors > on (instance) x509_errors_budget: x509_errors_budget was a threshold on v3's gauge "
        "(failed reads at the latest scrape); the v4 form counts errors of x509_source_errors_total (over 15m, or "
        "per second for rate()): check the threshold"
    ]
    # no threshold to check: 0, a ratio of two error figures, a count of exporters
    assert migrate_expr("rate(x509_read_errors[5m]) / rate(x509_read_errors[1h]) > 2").warnings == []
    assert migrate_expr("count(x509_read_errors) > 2").warnings == []
    assert migrate_expr("changes(x509_read_errors[5m]) > 0").warnings == [
        "changes(x509_read_errors[5m]): changes() counted changes of v3's per-read error count, which v4 does not "
        "expose; the rewrite applies it to the errors of the last 15m, which change far more often: decide by hand "
        "(e.g. increase(x509_source_errors_total[5m]) > 0 for new errors)"
    ]


def test_resets_is_a_decision_too():
    assert migrate_expr("resets(x509_read_errors[1h])").warnings == [
        "resets(x509_read_errors[1h]): resets() counted changes of v3's per-read error count, which v4 does not "
        "expose; the rewrite applies it to the errors of the last 15m, which change far more often: decide by hand "
        "(e.g. increase(x509_source_errors_total[5m]) > 0 for new errors)"
    ]


def test_comments_are_kept_after_a_rewrite():
    result = migrate_expr("sum(x509_read_errors) # it's the exporter's total\n  > 0 # any")
    assert result.text == "sum(increase(x509_source_errors_total[15m])) > 0\n# it's the exporter's total\n# any"


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
