"""`x509-mixin lint`'s checks: each id is broken once and reports exactly its message, which
carries the id; disabled by id, the same breach is not reported. The subjects are small
hand-built rules and dashboards that pass every check, so a case proves one check alone."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import promql_parser
import pytest

from x509_mixin.generator.alert_lint import lint_alerts, output_labels
from x509_mixin.generator.checks import apply
from x509_mixin.generator.dashboard_lint import lint_dashboard, lint_dashboards
from x509_mixin.generator.lint import AMTOOL, CHECKS, PROMTOOL
from x509_mixin.mixin.config import LINT_CHECKS, load
from x509_mixin.mixin.grafana import DATASOURCE

ROOT = Path(__file__).resolve().parent.parent

ALERT = {
    "alert": "X509Test",
    "expr": 'x509_cert_not_after{job="x"} - time() < 86400',
    "for": "15m",
    "labels": {"severity": "warning"},
    "annotations": {
        "summary": "A certificate expires soon.",
        "description": "{{ $labels.filepath }} expires in {{ $value }} seconds.",
        "runbook_url": "https://example.org/runbooks.md#certificaterenewal",
    },
}

SELECTOR = 'job=~"x509-certificate-exporter.*", job=~"$job", instance=~"$instance"'
GOOD_EXPR = f"sum(rate(x509_panic_total{{{SELECTOR}}}[$__rate_interval]))"


def _variable(name: str) -> dict:
    return {"name": name, "type": "query", "datasource": DATASOURCE, "multi": True, "includeAll": True}


def _panel(pid: int, title: str, y: int, expr: str = GOOD_EXPR) -> dict:
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "description": "What it shows.",
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": {"unit": "short"}},
        "gridPos": {"x": 0, "y": y, "w": 12, "h": 4},
        "targets": [{"refId": "A", "datasource": DATASOURCE, "expr": expr}],
    }


def dashboard(multi_cluster: bool = False) -> dict:
    expr = GOOD_EXPR.replace('job=~"$job"', 'job=~"$job", cluster=~"$cluster"') if multi_cluster else GOOD_EXPR
    return {
        "title": "Test",
        "uid": "test",
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus"},
                _variable("job"),
                _variable("instance"),
                *([_variable("cluster")] if multi_cluster else []),
            ]
        },
        "panels": [
            {"id": 1, "type": "row", "title": "Row", "gridPos": {"x": 0, "y": 0, "w": 24, "h": 1}},
            _panel(2, "Fine", 1, expr),
            _panel(3, "Other", 5, expr),
        ],
    }


@dataclass(frozen=True)
class Case:
    check: str
    breach: Callable[[dict], object]
    message: str
    config: tuple[tuple[str, object], ...] = ()


def _fine(model: dict) -> dict:
    return model["panels"][1]


def _expr(expr: str) -> Callable[[dict], object]:
    return lambda m: _fine(m)["targets"][0].update(expr=expr)


def _annotation(**changes: str) -> Callable[[dict], object]:
    return lambda r: r["annotations"].update(changes)


def _absent_without_for(rule: dict) -> None:
    rule.pop("for")
    rule.update(expr='absent(up{job="x"})')
    rule["annotations"]["description"] = "No target of {{ $labels.job }}."


AT = "dashboard Test, panel Fine"
ALERT_CASES = [
    Case(
        "alerts/name",
        lambda r: r.update(alert="x509_cert_expiring"),
        "alerts/name: alert x509_cert_expiring: the name must be CamelCase and at most 40 characters",
    ),
    Case(
        "alerts/severity",
        lambda r: r.update(labels={"severity": "page"}),
        "alerts/severity: alert X509Test: label severity must be one of info, warning, critical",
    ),
    Case(
        "alerts/summary",
        _annotation(summary="Expires in {{ $value }}."),
        "alerts/summary: alert X509Test: summary must be a static sentence starting upper-case and ending with '.'",
    ),
    Case(
        "alerts/description",
        _annotation(description="A certificate expires."),
        "alerts/description: alert X509Test: description must be templated (name the certificate or source)",
    ),
    Case(
        "alerts/runbook-url",
        lambda r: r["annotations"].pop("runbook_url"),
        "alerts/runbook-url: alert X509Test: runbook_url is missing",
    ),
    Case(
        "alerts/runbook-anchor",
        _annotation(runbook_url="https://example.org/runbooks.md#nothing"),
        "alerts/runbook-anchor: alert X509Test: runbook anchor #nothing is not a heading of docs/runbooks.md",
    ),
    Case(
        "alerts/absent-for",
        _absent_without_for,
        "alerts/absent-for: alert X509Test: absent() without `for` fires on every restart of Prometheus",
    ),
    Case(
        "alerts/template-labels",
        lambda r: r.update(expr="sum without (filepath) (x509_cert_not_after)"),
        "alerts/template-labels: alert X509Test: the description uses $labels.filepath, which the query drops",
    ),
]
DASHBOARD_CASES = [
    Case(
        "dashboards/template-datasource",
        lambda m: m["templating"]["list"].pop(0),
        "dashboards/template-datasource: dashboard Test: "
        "template: a datasource variable of type datasource for prometheus is required",
    ),
    Case(
        "dashboards/template-variables",
        lambda m: m["templating"]["list"][2].update(multi=False),
        "dashboards/template-variables: dashboard Test: "
        "template instance: must use ${datasource} and allow All and several values",
    ),
    Case(
        "dashboards/uid",
        lambda m: m.update(uid="x" * 41),
        "dashboards/uid: dashboard Test: uid must be set and at most 40 characters",
    ),
    Case(
        "dashboards/grid-width",
        lambda m: _fine(m)["gridPos"].update(w=25),
        "dashboards/grid-width: dashboard Test: panel Fine is wider than the 24 grid columns",
    ),
    Case(
        "dashboards/panel-overlap",
        lambda m: m["panels"][2]["gridPos"].update(y=3),
        "dashboards/panel-overlap: dashboard Test: panels Fine and Other overlap",
    ),
    Case(
        "dashboards/panel-title",
        lambda m: _fine(m).update(title=""),
        "dashboards/panel-title: dashboard Test, panel 2: title is missing",
    ),
    Case(
        "dashboards/panel-description",
        lambda m: _fine(m).pop("description"),
        f"dashboards/panel-description: {AT}: description is missing",
    ),
    Case(
        "dashboards/panel-units",
        lambda m: _fine(m)["fieldConfig"]["defaults"].pop("unit"),
        f"dashboards/panel-units: {AT}: unit is missing",
    ),
    Case(
        "dashboards/panel-datasource",
        lambda m: _fine(m).update(datasource="Prometheus"),
        f"dashboards/panel-datasource: {AT}: datasource must be ${{datasource}}",
    ),
    Case("dashboards/panel-query", lambda m: _fine(m).update(targets=[]), f"dashboards/panel-query: {AT}: no query"),
    Case(
        "dashboards/target-datasource",
        lambda m: _fine(m)["targets"][0].update(datasource={"uid": "prom"}),
        f"dashboards/target-datasource: {AT}, query A: datasource must be ${{datasource}}",
    ),
    Case(
        "dashboards/query-parses",
        _expr("sum(up{"),
        f"dashboards/query-parses: {AT}, query A: the query does not parse: unexpected end of input inside braces",
    ),
    Case(
        "dashboards/selector",
        _expr('sum(rate(x509_panic_total{job=~"$job", instance=~"$instance"}[$__rate_interval]))'),
        f"dashboards/selector: {AT}, query A: x509_panic_total lacks the configured selector "
        '{job=~"x509-certificate-exporter.*"}',
    ),
    Case(
        "dashboards/target-job",
        _expr(GOOD_EXPR.replace(', job=~"$job"', "")),
        f'dashboards/target-job: {AT}, query A: x509_panic_total lacks job=~"$job"',
    ),
    Case(
        "dashboards/target-instance",
        _expr(GOOD_EXPR.replace(', instance=~"$instance"', "")),
        f'dashboards/target-instance: {AT}, query A: x509_panic_total lacks instance=~"$instance"',
    ),
    Case(
        "dashboards/target-cluster",
        _expr(GOOD_EXPR),
        f'dashboards/target-cluster: {AT}, query A: x509_panic_total lacks cluster=~"$cluster"',
        (("multiCluster", True),),
    ),
    Case(
        "dashboards/emitted-metrics",
        _expr(f"x509_cert_not_before{{{SELECTOR}}}"),
        f"dashboards/emitted-metrics: {AT}, query A: "
        "x509_cert_not_before is not emitted with the configured exporter settings (exposeNotBefore is off)",
    ),
    Case(
        "dashboards/counter-rate",
        _expr(f"sum(x509_panic_total{{{SELECTOR}}})"),
        f"dashboards/counter-rate: {AT}, query A: counter x509_panic_total must be read through rate() or increase()",
    ),
    Case(
        "dashboards/rate-interval",
        _expr(GOOD_EXPR.replace("$__rate_interval", "5m")),
        f"dashboards/rate-interval: {AT}, query A: rate() must use [$__rate_interval]",
    ),
]


def test_every_check_has_one_case_and_the_ids_are_the_configurations():
    cases = [c.check for c in ALERT_CASES + DASHBOARD_CASES]
    cases += ["rules/promtool", "dashboards/unique-uid", "alertmanager/amtool"]
    assert sorted(cases) == sorted(LINT_CHECKS)
    assert tuple(c.id for c in CHECKS) == LINT_CHECKS


def test_the_unbroken_subjects_pass_every_check():
    assert lint_alerts([{"name": "g", "rules": [ALERT]}]) == []
    assert lint_dashboard(dashboard(), load()) == []
    assert lint_dashboard(dashboard(multi_cluster=True), load({"multiCluster": True})) == []


@pytest.mark.parametrize("case", ALERT_CASES, ids=lambda c: c.check)
def test_alert_check_reports_its_breach_unless_disabled(case):
    rule = copy.deepcopy(ALERT)
    case.breach(rule)
    assert lint_alerts([{"name": "g", "rules": [rule]}]) == [case.message]
    assert lint_alerts([{"name": "g", "rules": [rule]}], disabled={case.check}) == []


@pytest.mark.parametrize("case", DASHBOARD_CASES, ids=lambda c: c.check)
def test_dashboard_check_reports_its_breach_unless_disabled(case):
    config = dict(case.config)
    model = dashboard(multi_cluster=bool(config.get("multiCluster")))
    case.breach(model)
    assert lint_dashboard(model, load(config)) == [case.message]
    assert lint_dashboard(model, load({**config, "lint": {"disabled": [case.check]}})) == []


def test_metrics_outside_the_catalogue_and_the_recording_rules_are_refused():
    model = dashboard()
    _expr(f"x509_read_errors{{{SELECTOR}}}")(model)
    assert lint_dashboard(model, load()) == [
        f"dashboards/emitted-metrics: {AT}, query A: "
        "x509_read_errors is neither an exporter metric nor one of our recording rules"
    ]


def test_unique_uid_unless_disabled():
    models = {"a.json": dashboard(), "b.json": dashboard()}
    assert lint_dashboards(models, load()) == ["dashboards/unique-uid: dashboards: uid test is used more than once"]
    assert lint_dashboards(models, load({"lint": {"disabled": ["dashboards/unique-uid"]}})) == []


def test_promtool_check_reports_promtools_findings_unless_disabled(tmp_path):
    rules = tmp_path / "rules.yaml"
    rule = "      - record: job:up:sum\n        expr: sum by (job) (up)\n"
    rules.write_text("groups:\n  - name: g\n    rules:\n" + rule + rule)
    problems = apply((PROMTOOL,), [rules], "generated rules", frozenset())
    assert len(problems) == 1
    first, output = problems[0].split("\n", 1)
    assert first == "rules/promtool: generated rules: promtool check rules --lint=all --lint-fatal failed:"
    assert str(rules) in output and re.search(r"duplicate", output, re.I), output
    assert apply((PROMTOOL,), [rules], "generated rules", {"rules/promtool"}) == []


def test_amtool_check_reports_amtools_findings_unless_disabled(tmp_path):
    broken = tmp_path / "alertmanager.yaml"
    broken.write_text("route:\n  receiver: nobody\nreceivers: []\n")
    problems = apply((AMTOOL,), broken, "generated Alertmanager", frozenset())
    assert len(problems) == 1
    first, output = problems[0].split("\n", 1)
    assert first == "alertmanager/amtool: generated Alertmanager: amtool check-config failed:"
    assert 'undefined receiver "nobody"' in output, output
    assert apply((AMTOOL,), broken, "generated Alertmanager", {"alertmanager/amtool"}) == []


def test_configuration_doc_lists_every_check():
    text = (ROOT / "docs" / "configuration.md").read_text()
    rows = re.findall(r"^\| `([a-z]+/[a-z-]+)` \| (.*) \|$", text, re.M)
    assert rows == [(c.id, c.what) for c in CHECKS]


@pytest.mark.parametrize(
    "expr,only,dropped",
    [
        # group_right: the result carries the right side's labels (errorsByReason's `reason`).
        ("(sum without (reason) (c) > 5) + ignoring (reason) group_right () (0 * c)", None, set()),
        ("sum without (reason) (c) + ignoring (reason) group_left () c", None, {"reason"}),
        # group_left (team): the included label joins the left side's.
        ("sum by (a) (x) * on (a) group_left (team) y", {"a", "team"}, set()),
        ("sum by (a) (x) * on (a) y", {"a"}, set()),
    ],
)
def test_template_labels_follow_vector_matching(expr, only, dropped):
    got_only, got_dropped = output_labels(promql_parser.parse(expr))
    assert (got_only, got_dropped) == (None if only is None else frozenset(only), frozenset(dropped))
