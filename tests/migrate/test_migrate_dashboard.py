"""`x509-mixin migrate dashboard` on a v3 dashboard: nested rows, annotations, label_values."""

from __future__ import annotations

import json
from pathlib import Path

import promql_parser as pp
import pytest
from migrate_helpers import fixture_text

from x509_mixin.migrate.dashboard import string_spans
from x509_mixin.migrate.datasources import Datasources
from x509_mixin.migrate.grafana import restore, substitute

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


# A team's own dashboard, exported for sharing (`__inputs`): Loki panels referenced in every
# form Grafana stores, Grafana variables and macros, a blank query row, a commented query, and
# queries the parser cannot read. Only the x509_read_errors queries change.
TEAM_DASH = r"""{
  "__inputs": [
    {"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource", "pluginId": "prometheus"},
    {"name": "DS_LOKI", "label": "Loki", "type": "datasource", "pluginId": "loki"}
  ],
  "templating": {"list": [
    {"type": "datasource", "name": "logs", "query": "loki"},
    {"type": "custom", "name": "groupby", "query": "instance,job"},
    {"type": "query", "name": "metric", "datasource": {"uid": "${DS_PROMETHEUS}"}, "query": "metrics(x509_.*)"}
  ]},
  "panels": [
    {"title": "Logs by name", "datasource": "Loki",
     "targets": [{"refId": "A", "expr": "sum by (pod) (count_over_time({app=\"x509\"} |= \"x509_read_errors\" [5m]))"}]},
    {"title": "Logs by input", "datasource": {"uid": "${DS_LOKI}"},
     "targets": [{"refId": "A", "expr": "{app=\"x509\"} |= \"error\" | logfmt"}]},
    {"title": "Logs by variable", "datasource": {"uid": "$logs"},
     "targets": [{"refId": "A", "expr": "{app=\"x509\"} |~ \"read (error|failure)\""}]},
    {"title": "Logs typed", "datasource": {"type": "loki", "uid": "P8E80F9AEF21F6940"},
     "targets": [{"refId": "A", "expr": "{app=\"x509\"} | json | level=\"error\""}]},
    {"title": "Logs by uid", "datasource": {"uid": "P8E80F9AEF21F6940"},
     "targets": [{"refId": "A", "expr": "{app=\"x509\"} | json"}]},
    {"title": "Errors", "datasource": {"uid": "${DS_PROMETHEUS}"}, "targets": [
      {"refId": "A", "expr": ""},
      {"refId": "B", "expr": "sum by ($groupby) (x509_read_errors{job=~\"$job\"})"},
      {"refId": "C", "expr": "sum(increase(x509_read_errors[${__range_s}s]))"},
      {"refId": "D", "expr": "${metric}{job=~\"$job\"} > $threshold"},
      {"refId": "E", "expr": "sum(x509_read_errors) # the exporter's total\n  > 0"},
      {"refId": "F", "expr": "sum(x509_read_errors > bool 0)"},
      {"refId": "G", "expr": "rate(node_cpu_seconds_total[5m]) smoothed"},
      {"refId": "H", "expr": "max_over_time(x509_read_errors[$__range] @ ${__to:date:seconds})"}
    ]},
    {"title": "Mixed", "datasource": {"type": "datasource", "uid": "-- Mixed --"}, "targets": [
      {"refId": "A", "datasource": "Loki", "expr": "rate({app=\"x509\"}[5m])"},
      {"refId": "B", "datasource": {"uid": "${DS_PROMETHEUS}"}, "expr": "topk(3, x509_read_errors"}
    ]},
    {"title": "Reuse", "datasource": {"type": "datasource", "uid": "-- Dashboard --"},
     "targets": [{"refId": "A", "panelId": 6}]}
  ]
}
"""


def test_a_teams_dashboard_is_migrated_around_what_it_cannot_read(workdir, migrate):
    Path("team.json").write_text(TEAM_DASH)
    run = migrate("dashboard", "team.json")
    assert run.code == 0
    expected = TEAM_DASH
    for old, new in [
        (
            r'"sum by ($groupby) (x509_read_errors{job=~\"$job\"})"',
            r'"sum by ($groupby) (increase(x509_source_errors_total{job=~\"$job\"}[15m]))"',
        ),
        (
            '"sum(increase(x509_read_errors[${__range_s}s]))"',
            '"sum(increase(x509_source_errors_total[${__range_s}s]))"',
        ),
        (
            r'"sum(x509_read_errors) # the exporter\'s total\n  > 0"'.replace("\\'", "'"),
            r'"sum(increase(x509_source_errors_total[15m])) > 0\n# the exporter\'s total"'.replace("\\'", "'"),
        ),
        ('"sum(x509_read_errors > bool 0)"', f'"sum({FOLD} (increase(x509_source_errors_total[15m])) > bool 0)"'),
        (
            '"max_over_time(x509_read_errors[$__range] @ ${__to:date:seconds})"',
            f'"max_over_time({FOLD} (increase(x509_source_errors_total[15m]))[$__range:] @ ${{__to:date:seconds}})"',
        ),
    ]:
        assert expected.count(old) == 1, old
        expected = expected.replace(old, new)
    assert run.out == expected
    assert run.err == [
        'team.json:24: sum by ($groupby) (x509_read_errors{job=~"$job"}) -> sum by ($groupby) '
        '(increase(x509_source_errors_total{job=~"$job"}[15m])) (x509_read_errors was removed in v4; '
        f"{SELECTOR})",
        "team.json:25: sum(increase(x509_read_errors[${__range_s}s])) -> "
        "sum(increase(x509_source_errors_total[${__range_s}s])) (x509_read_errors was removed in v4; increase() "
        "over the x509_source_errors_total counter gives the change the v3 gauge showed)",
        "team.json:27: sum(x509_read_errors) # the exporter's total > 0 -> "
        "sum(increase(x509_source_errors_total[15m])) > 0 # the exporter's total (x509_read_errors was removed in "
        f"v4; {SELECTOR})",
        f"team.json:28: sum(x509_read_errors > bool 0) -> sum({FOLD} (increase(x509_source_errors_total[15m])) > "
        f"bool 0) (x509_read_errors was removed in v4; {SELECTOR}; {EXACT})",
        "team.json:30: max_over_time(x509_read_errors[$__range] @ ${__to:date:seconds}) -> "
        f"max_over_time({FOLD} (increase(x509_source_errors_total[15m]))[$__range:] @ ${{__to:date:seconds}}) "
        "(x509_read_errors was removed in v4; a range over it becomes a subquery over "
        f"increase(x509_source_errors_total[15m]), the counter form of the v3 gauge's value; {EXACT})",
        "team.json:29: warning: panels.5.targets.6.expr: invalid PromQL: invalid promql query; left as it is: "
        "rate(node_cpu_seconds_total[5m]) smoothed",
        "team.json:34: warning: panels.6.targets.1.expr: invalid PromQL: unclosed left parenthesis; it names "
        "x509_read_errors, which v4 removed: migrate it by hand: topk(3, x509_read_errors",
    ]
    # --check: the changes, and the query only a human can migrate, are due
    assert migrate("dashboard", "-i", "team.json").code == 0
    again = migrate("dashboard", "--check", "team.json")
    assert again.code == 1
    assert [line for line in again.err if "->" in line] == []


def test_a_query_that_cannot_be_parsed_is_left_alone_and_named(workdir, migrate):
    text = '{\n"panels": [{"targets": [\n{"expr": "sum(x509_read_errors"},\n{"expr": "x509_read_errors > 0"}]}]}'
    Path("bad.json").write_text(text)
    run = migrate("dashboard", "bad.json")
    assert run.code == 0
    assert run.out == text.replace('"x509_read_errors > 0"', '"increase(x509_source_errors_total[15m]) > 0"')
    assert run.err[-1] == (
        "bad.json:3: warning: panels.0.targets.0.expr: invalid PromQL: unclosed left parenthesis; it names "
        "x509_read_errors, which v4 removed: migrate it by hand: sum(x509_read_errors"
    )


@pytest.mark.parametrize(
    "expr,placeholder_kind",
    [
        ("sum by ($groupby) (up)", "name"),
        ("sum by (${groupby:csv}, job) (up)", "name"),
        ("rate(up[${__range_s}s])", "duration"),
        ("rate(up[$__rate_interval])", "duration"),
        ("max_over_time(up[1h:$__interval])", "duration"),
        ("up offset $shift", "duration"),
        ('${metric}{job="a"}', "name"),
        ('up{$label="a"}', "name"),
        ("up > $threshold", "number"),
        ("topk([[n]], up)", "number"),
        ("rate(up[[[interval]]])", "duration"),
    ],
)
def test_variables_get_placeholders_of_their_kind(expr, placeholder_kind):
    swapped, mapping = substitute(expr)
    pp.parse(swapped)
    assert len(mapping) == 1
    placeholder = next(iter(mapping))
    kind = "name" if placeholder.startswith("grafana_var_") else "number" if placeholder.isdigit() else "duration"
    assert kind == placeholder_kind
    assert restore(swapped, mapping) == expr


def test_datasources_in_every_form():
    dash = json.loads(TEAM_DASH)
    ds = Datasources(dash)
    assert ds.kind("Loki") == "other"  # a name, from __inputs
    assert ds.kind({"uid": "${DS_LOKI}"}) == "other"
    assert ds.kind({"uid": "${DS_PROMETHEUS}"}) == "promql"
    assert ds.kind({"uid": "$logs"}) == "other"  # a datasource variable
    assert ds.kind({"uid": "P8E80F9AEF21F6940"}) == "other"  # typed elsewhere in the dashboard
    assert ds.kind("-- Mixed --") == "mixed"
    assert ds.kind({"type": "datasource", "uid": "-- Dashboard --"}) == "other"
    assert ds.kind({"type": "grafana", "uid": "-- Grafana --"}) == "other"
    assert ds.kind(None) is None  # the default datasource: tried as PromQL
    assert ds.kind({"uid": "unknown-uid"}) is None
    assert ds.kind("My Elasticsearch") == "other"  # default names of other plugins
    assert ds.kind({"type": "victoriametrics-metrics-datasource", "uid": "vm"}) == "promql"
    # a target's own datasource wins over its panel's; a mixed panel's target without one is unknown
    mixed = {"panels": [{"datasource": "-- Mixed --", "targets": [{"expr": "x"}, {"datasource": "Loki", "expr": "y"}]}]}
    assert Datasources(mixed).at(mixed, ("panels", 0, "targets", 0, "expr")) is None
    assert Datasources(mixed).at(mixed, ("panels", 0, "targets", 1, "expr")) == "other"
    loki = {
        "panels": [{"datasource": {"type": "loki", "uid": "l"}, "targets": [{"datasource": {"uid": "x"}, "expr": "y"}]}]
    }
    assert Datasources(loki).at(loki, ("panels", 0, "targets", 0, "expr")) == "other"


def test_a_comment_with_an_apostrophe_in_a_query_that_needs_nothing_is_left_alone(workdir, migrate):
    # A `#` comment's apostrophe is not a string quote to the placeholder swap: the query (with
    # a Grafana variable, so it is swapped and parsed) is read, needs nothing, and is kept.
    text = json.dumps(
        {
            "panels": [
                {
                    "targets": [
                        {"expr": "sum by ($groupby) (up) # the team's total\n > 0"},
                        {"expr": "x509_read_errors > 0 # it's v3"},
                    ]
                }
            ]
        },
        indent=2,
    )
    Path("c.json").write_text(text)
    run = migrate("dashboard", "c.json")
    assert run.code == 0
    assert run.err == [
        "c.json:9: x509_read_errors > 0 # it's v3 -> increase(x509_source_errors_total[15m]) > 0 # it's v3 "
        "(x509_read_errors was removed in v4; increase(x509_source_errors_total[15m]) counts the errors of the "
        "last 15m, per source and reason)"
    ]
    out = json.loads(run.out)["panels"][0]["targets"]
    assert out[0]["expr"] == "sum by ($groupby) (up) # the team's total\n > 0"
    assert out[1]["expr"] == "increase(x509_source_errors_total[15m]) > 0\n# it's v3"
