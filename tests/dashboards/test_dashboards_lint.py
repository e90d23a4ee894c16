"""The dashboard lint (`x509-mixin lint`): clean on every generated dashboard, and each rule
catches its breach."""

from __future__ import annotations

import copy

import pytest
from dashboard_helpers import CONFIGS, built

from x509_mixin.generator.dashboard_lint import lint_dashboard, lint_dashboards
from x509_mixin.mixin.config import load


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_generated_dashboards_are_clean(config):
    assert lint_dashboards(built(config), load(CONFIGS[config])) == []


def _overview() -> dict:
    return copy.deepcopy(built("defaults")["x509-overview.json"])


def _panel(model: dict, title: str) -> dict:
    return next(p for p in model["panels"] if p.get("title") == title)


def _problems(model: dict) -> list[str]:
    return lint_dashboard(model, load())


SELECTOR = 'job=~"x509-certificate-exporter.*", job=~"$job", instance=~"$instance"'


@pytest.mark.parametrize(
    "breach,expected",
    [
        (
            lambda m: m["templating"]["list"].pop(0),
            "template: a datasource variable of type datasource for prometheus is required",
        ),
        (lambda m: m["templating"]["list"].pop(2), "template: a instance query variable is required"),
        (lambda m: _panel(m, "Fine").update(description=""), "description is missing"),
        (lambda m: _panel(m, "Fine").update(title=""), "title is missing"),
        (lambda m: _panel(m, "Fine")["fieldConfig"]["defaults"].pop("unit"), "unit is missing"),
        (lambda m: _panel(m, "Fine").update(datasource="Prometheus"), "datasource must be ${datasource}"),
        (
            lambda m: _panel(m, "Fine")["targets"][0].update(datasource={"uid": "prom"}),
            "query A: datasource must be ${datasource}",
        ),
        (
            lambda m: _panel(m, "Fine")["targets"][0].update(expr="sum(up{"),
            "query A: the query does not parse: unexpected end of input inside braces",
        ),
        (
            lambda m: _panel(m, "Fine")["targets"][0].update(expr='up{job=~"$job", instance=~"$instance"}'),
            'query A: up lacks the configured selector {job=~"x509-certificate-exporter.*"}',
        ),
        (
            lambda m: _panel(m, "Fine")["targets"][0].update(
                expr='up{job=~"x509-certificate-exporter.*", job=~"$job"}'
            ),
            'query A: up lacks instance=~"$instance"',
        ),
        (
            lambda m: _panel(m, "Fine")["targets"][0].update(expr=f"rate(x509_panic_total{{{SELECTOR}}}[5m])"),
            "query A: rate() must use [$__rate_interval]",
        ),
        (
            lambda m: _panel(m, "Fine")["targets"][0].update(expr=f"x509_panic_total{{{SELECTOR}}}"),
            "query A: counter x509_panic_total must be read through rate() or increase()",
        ),
        (
            lambda m: _panel(m, "Fine")["targets"][0].update(expr=f"x509_cert_not_before{{{SELECTOR}}}"),
            "query A: x509_cert_not_before is not emitted with the configured exporter settings (exposeNotBefore is off)",
        ),
        (
            lambda m: _panel(m, "Fine")["targets"][0].update(expr=f"x509_read_errors{{{SELECTOR}}}"),
            "query A: x509_read_errors is neither an exporter metric nor one of our recording rules",
        ),
        (lambda m: _panel(m, "Fine")["gridPos"].update(x=0, y=1), "panels Expired and Fine overlap"),
        (lambda m: m.update(uid="x" * 41), "uid must be set and at most 40 characters"),
    ],
)
def test_each_rule_catches_its_breach(breach, expected):
    model = _overview()
    breach(model)
    problems = _problems(model)
    assert any(p.endswith(expected) for p in problems), problems


def test_uids_must_be_unique():
    models = built("defaults")
    models["copy.json"] = copy.deepcopy(models["x509-overview.json"])
    assert lint_dashboards(models, load()) == [
        "dashboards/unique-uid: dashboards: uid x509-overview is used more than once"
    ]
