"""The Grafana interpolation the dashboard tests rely on, checked against the examples of
Grafana's "Variable syntax" documentation and its Prometheus data source's escaping."""

from __future__ import annotations

import pytest
from grafana_interpolate import Variable, interpolate

SERVERS = {"servers": Variable(["test1", "test2"], multi=True)}
DOTTED = {"servers": Variable(["test1.", "test2"], multi=True)}


@pytest.mark.parametrize(
    "text,variables,result",
    [
        # The documentation's table of formats, value for value.
        ("${servers:csv}", SERVERS, "test1,test2"),
        ("${servers:distributed}", SERVERS, "test1,servers=test2"),
        ("${servers:doublequote}", SERVERS, '"test1","test2"'),
        ("${servers:glob}", SERVERS, "{test1,test2}"),
        ("${servers:json}", SERVERS, '["test1", "test2"]'),
        ("${servers:lucene}", SERVERS, '("test1" OR "test2")'),
        (
            "${servers:percentencode}",
            {"servers": Variable(["foo()bar BAZ", "test2"], multi=True)},
            "foo%28%29bar%20BAZ%2Ctest2",
        ),
        ("${servers:pipe}", DOTTED, "test1.|test2"),
        ("${servers:raw}", DOTTED, "test1.,test2"),
        ("${servers:regex}", DOTTED, "(test1\\.|test2)"),
        ("${servers:singlequote}", SERVERS, "'test1','test2'"),
        ("${servers:sqlstring}", {"servers": Variable(["test'1", "test2"], multi=True)}, "'test''1','test2'"),
        ("${servers:text}", SERVERS, "test1 + test2"),
        ("${servers:queryparam}", SERVERS, "var-servers=test1&var-servers=test2"),
        # "If any invalid formatting option is specified, then glob is the default/fallback option."
        ("${servers:nonsense}", SERVERS, "{test1,test2}"),
        # The syntaxes: $name, ${name}, [[name]], in the middle of a word.
        ("apps.frontend.$server.requests.count", {"server": Variable(["web"])}, "apps.frontend.web.requests.count"),
        ("a${server}b [[server]]", {"server": Variable(["web"])}, "awebb web"),
    ],
)
def test_grafana_documentation_examples(text, variables, result):
    assert interpolate(text, variables) == result


def test_prometheus_data_source_escaping():
    # Multi-value and All variables: regex-escaped for a double-quoted PromQL string, joined
    # with | (Grafana's prometheusSpecialRegexEscape); a plain one only quote-escaped.
    multi = Variable(["test1.", "a(b)"], multi=True, include_all=True, all_value=".*")
    assert interpolate('x{a=~"$v"}', {"v": multi}) == 'x{a=~"(test1\\\\.|a\\\\(b\\\\))"}'
    one = Variable(["*.example.com"], include_all=True, all_value=".*")
    assert interpolate('x{a=~"$v"}', {"v": one}) == 'x{a=~"\\\\*\\\\.example\\\\.com"}'
    every = Variable([], multi=True, include_all=True, all_value=".*", all_selected=True)
    assert interpolate('x{a=~"$v"}', {"v": every}) == 'x{a=~".*"}'
    box = Variable(["it's a\\b"])
    assert interpolate('x{a=~"$v"}', {"v": box}) == 'x{a=~"it\\\\\'s a\\\\b"}'


def test_data_link_values_and_unknown_variables():
    scoped = {"__value.raw": "svc+canary (G2)", "__url_time_range": "from=1&to=2"}
    link = "/d/x?${__url_time_range}&var-subject=${__value.raw:percentencode}&$unknown"
    assert interpolate(link, {}, scoped) == "/d/x?from=1&to=2&var-subject=svc%2Bcanary%20%28G2%29&$unknown"
