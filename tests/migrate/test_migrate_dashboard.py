"""`x509-mixin migrate dashboard` on a v3 dashboard: nested rows, annotations, label_values."""

from __future__ import annotations

import json
from pathlib import Path

import promql_parser as pp
import pytest
from migrate_helpers import fixture_text

from x509_mixin.migrate.dashboard import string_spans
from x509_mixin.migrate.grafana import substitute

DASH = "v3-dashboard.json"

# line number -> (before, after) of the only lines that change
FOLD = "sum without (source_kind, source_name, reason)"
CHANGED_LINES = {
    22: (
        r'        "expr": "changes(x509_read_errors{instance=~\"$instance\"}[5m]) > 0",',
        rf'        "expr": "changes({FOLD} (increase(x509_source_errors_total{{instance=~\"$instance\"}}[15m]))[5m:]) > 0",',
    ),
    141: (
        '          "expr": "count(x509_read_errors)",',
        f'          "expr": "count({FOLD} (increase(x509_source_errors_total[15m])))",',
    ),
    175: (
        r'          "expr": "sum(x509_read_errors{instance=~\"$instance\"})",',
        r'          "expr": "sum(increase(x509_source_errors_total{instance=~\"$instance\"}[15m]))",',
    ),
    221: (
        '              "expr": "sum(rate(x509_read_errors[$__rate_interval]))",',
        '              "expr": "sum(rate(x509_source_errors_total[$__rate_interval]))",',
    ),
    255: (
        '              "expr": "topk(10, x509_read_errors)",',
        f'              "expr": "topk(10, {FOLD} (increase(x509_source_errors_total[15m])))",',
    ),
    361: (
        '        "definition": "label_values(x509_read_errors, instance)",',
        '        "definition": "label_values(x509_source_errors_total, instance)",',
    ),
    369: (
        '          "query": "label_values(x509_read_errors, instance)",',
        '          "query": "label_values(x509_source_errors_total, instance)",',
    ),
}

SELECTOR = "increase(x509_source_errors_total[15m]) counts the errors of the last 15m, per source and reason"
EXACT = (
    f"v4 has one series per source and reason where v3 had one per exporter: {FOLD} gives v3's series "
    "back where the query counts, ranks, compares or joins them"
)
REPORT = [
    'v3-dashboard.json:22: changes(x509_read_errors{instance=~"$instance"}[5m]) > 0 -> '
    f'changes({FOLD} (increase(x509_source_errors_total{{instance=~"$instance"}}[15m]))[5m:]) > 0 (x509_read_errors '
    "was removed in v4; a range over it becomes a subquery over increase(x509_source_errors_total[15m]), the counter "
    f"form of the v3 gauge's value; {EXACT})",
    f"v3-dashboard.json:141: count(x509_read_errors) -> count({FOLD} (increase(x509_source_errors_total[15m]))) "
    f"(x509_read_errors was removed in v4; {SELECTOR}; {EXACT})",
    'v3-dashboard.json:175: sum(x509_read_errors{instance=~"$instance"}) -> '
    f'sum(increase(x509_source_errors_total{{instance=~"$instance"}}[15m])) (x509_read_errors was removed in v4; '
    f"{SELECTOR})",
    "v3-dashboard.json:221: sum(rate(x509_read_errors[$__rate_interval])) -> "
    "sum(rate(x509_source_errors_total[$__rate_interval])) (x509_read_errors was removed in v4; rate() over the "
    "x509_source_errors_total counter gives the change the v3 gauge showed)",
    f"v3-dashboard.json:255: topk(10, x509_read_errors) -> topk(10, {FOLD} (increase(x509_source_errors_total[15m]))) "
    f"(x509_read_errors was removed in v4; {SELECTOR}; {EXACT})",
    "v3-dashboard.json:361: label_values(x509_read_errors, instance) -> label_values(x509_source_errors_total, "
    "instance) (x509_read_errors was removed in v4; its series are now x509_source_errors_total)",
    "v3-dashboard.json:369: label_values(x509_read_errors, instance) -> label_values(x509_source_errors_total, "
    "instance) (x509_read_errors was removed in v4; its series are now x509_source_errors_total)",
    'v3-dashboard.json:22: warning: annotations.list.1.expr: changes(x509_read_errors{instance=~"$instance"}[5m]): '
    "changes() counted changes of v3's per-read error count, which v4 does not expose; the rewrite applies it to "
    "the errors of the last 15m, which change far more often: decide by hand (e.g. "
    "increase(x509_source_errors_total[5m]) > 0 for new errors)",
    "v3-dashboard.json:289: warning: panels.5.panels.2.targets.0.expr: x509_cert_not_before needs "
    "metrics.exposeNotBefore: true (chart: exposeNotBeforeMetric: true): v4 does not emit it by default",
]


def test_only_the_read_error_queries_change(workdir, migrate):
    run = migrate("dashboard", DASH)
    assert run.code == 0
    before, after = fixture_text(DASH).split("\n"), run.out.split("\n")
    assert len(before) == len(after)
    diff = {n + 1: (a, b) for n, (a, b) in enumerate(zip(before, after, strict=True)) if a != b}
    assert diff == CHANGED_LINES  # everything else, indentation and key order included, byte-identical
    assert run.err == REPORT


def test_migrated_queries_parse_and_no_read_errors_remain(workdir, migrate):
    out = migrate("dashboard", DASH).out
    exprs = [value for path, _, _, value in string_spans(out) if path[-1] == "expr"]
    assert len(exprs) == 9  # nested rows and annotations included
    for expr in exprs:
        pp.parse(substitute(expr)[0])
    assert "x509_read_errors" not in out
    assert (
        json.loads(out)["panels"][5]["panels"][0]["targets"][0]["expr"]
        == "sum(rate(x509_source_errors_total[$__rate_interval]))"
    )


def test_second_run_changes_nothing(workdir, migrate):
    assert migrate("dashboard", "-i", DASH).code == 0
    migrated = Path(DASH).read_bytes()
    run = migrate("dashboard", "--check", DASH)
    assert run.code == 0
    assert [line for line in run.err if "->" in line] == []
    assert Path(DASH).read_bytes() == migrated


def test_check(workdir, migrate):
    run = migrate("dashboard", "--check", DASH)
    assert run.code == 1 and run.out == ""
    assert Path(DASH).read_text() == fixture_text(DASH)


def test_api_envelope_and_compact_json(workdir, migrate):
    Path("api.json").write_text(
        '{"meta":{"slug":"x"},"dashboard":{"panels":[{"targets":[{"expr":"x509_read_errors>0",'
        '"refId":"A"}]}],"title":"t"}}'
    )
    run = migrate("dashboard", "api.json")
    assert run.out == (
        '{"meta":{"slug":"x"},"dashboard":{"panels":[{"targets":[{"expr":'
        '"increase(x509_source_errors_total[15m]) > 0","refId":"A"}]}],"title":"t"}}'
    )


@pytest.mark.parametrize(
    "text,error",
    [
        ('{"panels": [}', "bad.json:1: error: invalid JSON: Expecting value (column 13)"),
        (
            '{"title": "x"}',
            "bad.json:1: error: unknown file shape: expected a Grafana dashboard (panels, rows or templating)",
        ),
    ],
)
def test_bad_input(workdir, migrate, text, error):
    Path("bad.json").write_text(text)
    run = migrate("dashboard", "-i", DASH, "bad.json")
    assert run.code == 2
    assert run.err[0].startswith(error)
    assert Path(DASH).read_text() == fixture_text(DASH)
    assert Path("bad.json").read_text() == text


def test_template_variables(workdir, migrate):
    Path("vars.json").write_text(
        '{"templating": {"list": [\n'
        '{"type": "query", "query": "label_values(x509_cert_not_before{job=\\"$job\\"}, subject_CN)"},\n'
        '{"type": "query", "query": "query_result(topk(5, x509_read_errors))"},\n'
        '{"type": "query", "query": "label_values(instance)"},\n'
        '{"type": "custom", "query": "x509_read_errors"}]}}'
    )
    run = migrate("dashboard", "vars.json")
    assert run.code == 0
    assert (
        run.out.split("\n")[2]
        == '{"type": "query", "query": "query_result(topk(5, sum without (source_kind, source_name, reason) '
        '(increase(x509_source_errors_total[15m]))))"},'
    )
    assert '"query": "x509_read_errors"' in run.out  # not a query variable
    assert run.err[-1] == (
        "vars.json:2: warning: templating.list.0.query: x509_cert_not_before needs "
        "metrics.exposeNotBefore: true (chart: exposeNotBeforeMetric: true): v4 does not emit it "
        "by default"
    )


def test_queries_of_other_datasources_are_not_promql(workdir, migrate):
    text = (
        '{"panels": [{"datasource": {"type": "loki", "uid": "l"}, "targets": [{"expr": "{app=\\"x\\"} |= \\"err\\""}]},'
        '{"datasource": {"type": "datasource", "uid": "-- Mixed --"}, "targets": ['
        '{"datasource": {"type": "loki"}, "expr": "rate({app=\\"x\\"}[5m])"},'
        '{"datasource": {"type": "prometheus"}, "expr": "x509_read_errors"}]}]}'
    )
    Path("mixed.json").write_text(text)
    run = migrate("dashboard", "mixed.json")
    assert run.code == 0
    assert run.out == text.replace('"expr": "x509_read_errors"', '"expr": "increase(x509_source_errors_total[15m])"')
