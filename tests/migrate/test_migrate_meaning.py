"""Each rewrite keeps its query's meaning: the v3 query on v3 series and the migrated query on
the equivalent v4 series give the same answer, at the same times, in Prometheus itself (promtool).

Equivalent series: v3's exporter exposed one gauge per exporter, `x509_read_errors`, the failed
reads of the latest scrape; v4's counts each failed read in `x509_source_errors_total`, one
counter per source and reason. An exporter whose reads fail for two reasons shows 2 in v3 and
two counters growing by 1 per scrape in v4. Answers are compared through an observation both
sides share (which exporters are there, or the exact value when it is a count or a time).
Where the previous rewrite gave another answer, that rewrite is run too, and must fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from x509_mixin.generator import promtool
from x509_mixin.migrate.promql import migrate_expr

FOLD = "sum without (source_kind, source_name, reason)"
BY_INSTANCE = "group by (instance) ({})"


def expand(notation: str) -> list[int | None]:
    """promtool's value notation, constants only: `1x3` is 1 four times, `_` a missed scrape."""
    out: list[int | None] = []
    for token in notation.split():
        value, _, times = token.partition("x")
        out.extend([None if value == "_" else int(value)] * (int(times) + 1 if times else 1))
    return out


def _values(values: list[int | None]) -> str:
    return " ".join("_" if v is None else str(v) for v in values)


@dataclass
class Case:
    name: str
    v3: str
    role: str
    exporters: dict[str, dict[str, str]]  # instance -> reason -> failed reads per scrape (notation)
    checks: dict[str, list[tuple[str, float]]]  # eval time -> expected (labels, value) of the observation
    observe: str = BY_INSTANCE
    v4: str | None = None  # the exact migrated text
    old: str | None = None  # the previous rewrite, which gave another answer
    interval: str = "1m"
    other: dict[str, str] = field(default_factory=dict)  # other series both sides have


def series(case: Case) -> tuple[list[dict], list[dict]]:
    v3, v4 = [], []
    for instance, reasons in case.exporters.items():
        pieces = {reason: expand(notation) for reason, notation in reasons.items()}
        steps = max(map(len, pieces.values()))
        gauge: list[int | None] = []
        for i in range(steps):
            present = [v for v in (p[i] for p in pieces.values() if i < len(p)) if v is not None]
            gauge.append(sum(present) if present else None)
        v3.append({"series": f'x509_read_errors{{job="x509", instance="{instance}"}}', "values": _values(gauge)})
        for reason, reads in pieces.items():
            total, counter = 0, []
            for read in reads:
                total += read or 0
                counter.append(None if read is None else total)
            labels = f'job="x509", instance="{instance}", source_kind="file", source_name="pki", reason="{reason}"'
            v4.append({"series": f"x509_source_errors_total{{{labels}}}", "values": _values(counter)})
    others = [{"series": name, "values": values} for name, values in case.other.items()]
    return v3 + others, v4 + others


def run(tmp_path: Path, name: str, case: Case, expr: str, inputs: list[dict]) -> promtool.Result:
    checks = [
        {
            "expr": case.observe.format(expr),
            "eval_time": at,
            "exp_samples": [{"labels": labels, "value": value} for labels, value in samples],
        }
        for at, samples in case.checks.items()
    ]
    test = {"interval": case.interval, "input_series": inputs, "promql_expr_test": checks}
    path = tmp_path / f"{name}.promtool.yaml"
    path.write_text(yaml.safe_dump({"evaluation_interval": "1m", "tests": [test]}, sort_keys=False))
    return promtool.test_rules([path])


A = '{instance="a"}'
B = '{instance="b"}'
TEN_TO_TWENTY = "0x9 1x10 0x60"  # failed reads at 10m..20m, none before or after (81 scrapes)
NONE = "0x80"
UP = {'up{job="x509", instance="a"}': "1x200", 'up{job="x509", instance="b"}': "1x200"}

CASES = [
    Case(
        "bare gauge in an alert",
        "x509_read_errors > 0",
        "alert",
        {"a": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY}, "b": {"bad_pem": NONE}},
        {"5m": [], "15m": [(A, 1)], "50m": []},
        v4="increase(x509_source_errors_total[15m]) > 0",
    ),
    Case(
        "the v3 chart's delta",
        "delta(x509_read_errors[15m]) > 0",
        "alert",
        {"a": {"bad_pem": TEN_TO_TWENTY}, "b": {"bad_pem": NONE}},
        {"5m": [], "12m": [(A, 1)], "50m": []},
        v4="increase(x509_source_errors_total[15m]) > 0",
    ),
    Case(
        "deriv becomes rate",
        "deriv(x509_read_errors[10m]) > 0",
        "alert",
        {"a": {"bad_pem": TEN_TO_TWENTY}, "b": {"bad_pem": NONE}},
        {"5m": [], "12m": [(A, 1)], "50m": []},
        v4="rate(x509_source_errors_total[10m]) > 0",
    ),
    Case(
        "increase",
        "increase(x509_read_errors[10m]) > 0",
        "alert",
        {"a": {"bad_pem": TEN_TO_TWENTY}, "b": {"bad_pem": NONE}},
        {"5m": [], "12m": [(A, 1)], "50m": []},
        v4="increase(x509_source_errors_total[10m]) > 0",
    ),
    Case(
        "idelta",
        "idelta(x509_read_errors[5m]) > 0",
        "alert",
        {"a": {"bad_pem": TEN_TO_TWENTY}, "b": {"bad_pem": NONE}},
        {"5m": [], "10m": [(A, 1)], "50m": []},
        v4="increase(x509_source_errors_total[5m]) > 0",
    ),
    Case(
        "rate and irate",
        "rate(x509_read_errors[5m]) > 0 and irate(x509_read_errors[5m]) > 0",
        "alert",
        {"a": {"bad_pem": TEN_TO_TWENTY}, "b": {"bad_pem": NONE}},
        {"5m": [], "10m": [(A, 1)], "50m": []},
        v4=f"{FOLD} (rate(x509_source_errors_total[5m])) > 0 and {FOLD} (irate(x509_source_errors_total[5m])) > 0",
    ),
    Case(
        "sum per exporter",
        "sum by (instance) (x509_read_errors)",
        "record",
        {"a": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY}, "b": {"bad_pem": NONE}},
        {"15m": [(A, 1)], "50m": []},
        observe="group by (instance) ({} > 0)",
        v4="sum by (instance) (increase(x509_source_errors_total[15m]))",
    ),
    Case(
        "max keeps an exporter above 0 in an alert",
        "max by (instance) (x509_read_errors) > 0",
        "alert",
        {"a": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY}, "b": {"bad_pem": NONE}},
        {"15m": [(A, 1)], "50m": []},
        v4="max by (instance) (increase(x509_source_errors_total[15m])) > 0",
    ),
    Case(
        "avg over exporters",
        "avg(x509_read_errors) > 0",
        "panel",
        {"a": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY}, "b": {"bad_pem": NONE}},
        {"15m": [("{}", 1)], "50m": []},
        observe="group({})",
        v4=f"avg({FOLD} (increase(x509_source_errors_total[15m]))) > 0",
    ),
    Case(
        "bottomk ranks exporters",
        "bottomk(1, x509_read_errors)",
        "panel",
        {
            "a": {"bad_pem": "0x9 2x10 0x60"},
            "b": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY, "read_failed": TEN_TO_TWENTY},
        },
        {"15m": [(A, 1)]},
        v4=f"bottomk(1, {FOLD} (increase(x509_source_errors_total[15m])))",
        old="bottomk(1, increase(x509_source_errors_total[15m]))",
    ),
    Case(
        "a value scaled by a number",
        "x509_read_errors * 100 > 0",
        "alert",
        {"a": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY}, "b": {"bad_pem": NONE}},
        {"15m": [(A, 1)], "50m": []},
        v4="increase(x509_source_errors_total[15m]) * 100 > 0",
    ),
    Case(
        "max_over_time in a panel is the exporter's",
        "max_over_time(x509_read_errors[30m])",
        "panel",
        {"a": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY}, "b": {"bad_pem": "0x9 3x10 0x60"}},
        {"25m": [(B, 1)]},
        observe="group by (instance) (topk(1, {}))",
        v4=f"max_over_time({FOLD} (increase(x509_source_errors_total[15m]))[30m:])",
    ),
    Case(
        "the v3 dashboard's sum of bools counts exporters",
        "sum(x509_read_errors > bool 0)",
        "panel",
        {
            "a": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY},
            "b": {"bad_pem": TEN_TO_TWENTY},
            "c": {"bad_pem": NONE},
        },
        {"15m": [("{}", 2)], "50m": [("{}", 0)]},
        observe="{}",
        v4=f"sum({FOLD} (increase(x509_source_errors_total[15m])) > bool 0)",
        old="sum(increase(x509_source_errors_total[15m]) > bool 0)",
    ),
    Case(
        "count counts exporters",
        "count(x509_read_errors)",
        "panel",
        {"a": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY}, "b": {"bad_pem": NONE}},
        {"15m": [("{}", 2)]},
        observe="{}",
        v4=f"count({FOLD} (increase(x509_source_errors_total[15m])))",
        old="count(increase(x509_source_errors_total[15m]))",
    ),
    Case(
        "count of failing exporters",
        "count(x509_read_errors > 0)",
        "panel",
        {"a": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY}, "b": {"bad_pem": TEN_TO_TWENTY}},
        {"15m": [("{}", 2)]},
        observe="{}",
        v4=f"count({FOLD} (increase(x509_source_errors_total[15m])) > 0)",
        old="count(increase(x509_source_errors_total[15m]) > 0)",
    ),
    Case(
        "topk ranks exporters",
        "topk(1, x509_read_errors)",
        "panel",
        {
            "a": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY, "read_failed": TEN_TO_TWENTY},
            "b": {"bad_pem": "0x9 2x10 0x60"},
        },
        {"15m": [(A, 1)]},
        v4=f"topk(1, {FOLD} (increase(x509_source_errors_total[15m])))",
        old="topk(1, increase(x509_source_errors_total[15m]))",
    ),
    Case(
        "a one-to-one join on instance stays one-to-one",
        "x509_read_errors * on(instance) up",
        "panel",
        {"a": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY}, "b": {"bad_pem": NONE}},
        {"15m": [(A, 1)]},
        observe="group by (instance) ({} > 0)",
        v4=f"{FOLD} (increase(x509_source_errors_total[15m])) * on (instance) up",
        old="increase(x509_source_errors_total[15m]) * on (instance) up",
        other=UP,
    ),
    Case(
        "matching on all labels finds v3's labels",
        "x509_read_errors > 0 and up == 1",
        "alert",
        {"a": {"bad_pem": TEN_TO_TWENTY}, "b": {"bad_pem": NONE}},
        {"15m": [(A, 1)]},
        v4=f"{FOLD} (increase(x509_source_errors_total[15m])) > 0 and up == 1",
        old="increase(x509_source_errors_total[15m]) > 0 and up == 1",
        other=UP,
    ),
    Case(
        "and on instance keeps the pieces",
        "x509_read_errors > 0 and on(instance) up == 1",
        "alert",
        {"a": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY}, "b": {"bad_pem": NONE}},
        {"15m": [(A, 1)], "50m": []},
        v4="increase(x509_source_errors_total[15m]) > 0 and on (instance) up == 1",
        other=UP,
    ),
    Case(
        "group_left with the pieces on the many side",
        "x509_read_errors * on(instance) group_left(nodename) node_uname_info",
        "panel",
        {"a": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY}, "b": {"bad_pem": NONE}},
        {"15m": [('{instance="a", nodename="n1"}', 1)]},
        observe="group by (instance, nodename) ({} > 0)",
        v4="increase(x509_source_errors_total[15m]) * on (instance) group_left (nodename) node_uname_info",
        other={
            'node_uname_info{instance="a", nodename="n1"}': "1x200",
            'node_uname_info{instance="b", nodename="n2"}': "1x200",
        },
    ),
    Case(
        "bool against another vector",
        "x509_read_errors > bool on(instance) (up * 0)",
        "panel",
        {"a": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY}, "b": {"bad_pem": NONE}},
        {"15m": [(A, 1), (B, 0)]},
        observe="sum by (instance) ({})",
        v4=f"{FOLD} (increase(x509_source_errors_total[15m])) > bool on (instance) (up * 0)",
        other=UP,
    ),
    Case(
        "@ places the range, not each step of the subquery",
        "max_over_time(x509_read_errors[1h] @ 3600) > 0",
        "alert",
        {"a": {"bad_pem": "0x19 1x10 0x200"}, "b": {"bad_pem": "0x119 1x10 0x100"}},
        {"90m": [(A, 1)], "3h": [(A, 1)]},
        v4="max_over_time(increase(x509_source_errors_total[15m])[1h:] @ 3600) > 0",
        old="max_over_time(increase(x509_source_errors_total[15m] @ 3600)[1h:]) > 0",
    ),
    Case(
        "offset places the range",
        "max_over_time(x509_read_errors[30m] offset 1h) > 0",
        "alert",
        {"a": {"bad_pem": "0x19 1x10 0x200"}},
        {"50m": [], "100m": [(A, 1)], "150m": []},
        v4="max_over_time(increase(x509_source_errors_total[15m])[30m:] offset 1h) > 0",
    ),
    Case(
        "timestamp is the latest scrape's",
        "timestamp(x509_read_errors)",
        "record",
        {"a": {"bad_pem": "0x9 1x10 _x30", "not_found": "0x9 1x10 _x30"}},
        {"22m": [(A, 1200)], "30m": []},
        observe="max by (instance) ({})",
        v4="max without (source_kind, source_name, reason) (timestamp(x509_source_errors_total))",
        old="timestamp(increase(x509_source_errors_total[15m]))",
    ),
    Case(
        "count_over_time counts scrapes",
        "count_over_time(x509_read_errors[10m])",
        "record",
        {"a": {"bad_pem": "0x100", "not_found": "0x100"}},
        {"20m": [(A, 21)]},
        observe="max by (instance) ({})",
        v4="max without (source_kind, source_name, reason) (count_over_time(x509_source_errors_total[10m]))",
        old="count_over_time(increase(x509_source_errors_total[15m])[10m:])",
        interval="30s",
    ),
    Case(
        "absent_over_time sees the exporter go",
        'absent_over_time(x509_read_errors{instance="a"}[10m])',
        "alert",
        {"a": {"bad_pem": "0x20 _x40", "not_found": "0x20 _x40"}},
        {"15m": [], "35m": [(A, 1)]},
        observe="{}",
        v4='absent_over_time(x509_source_errors_total{instance="a"}[10m])',
        old='absent_over_time(increase(x509_source_errors_total{instance="a"}[15m])[10m:])',
    ),
    Case(
        "present_over_time",
        "present_over_time(x509_read_errors[10m])",
        "record",
        {"a": {"bad_pem": "0x20 _x40", "not_found": "0x20 _x40"}},
        {"15m": [('{instance="a", job="x509"}', 1)], "35m": []},
        observe="{}",
        v4="max without (source_kind, source_name, reason) (present_over_time(x509_source_errors_total[10m]))",
    ),
    Case(
        "sum_over_time",
        "sum_over_time(x509_read_errors[30m]) > 0",
        "alert",
        {"a": {"bad_pem": TEN_TO_TWENTY}},
        {"5m": [], "25m": [(A, 1)], "80m": []},
        v4="sum_over_time(increase(x509_source_errors_total[15m])[30m:]) > 0",
    ),
    Case(
        "quantile_over_time",
        "quantile_over_time(0.5, x509_read_errors[20m]) > 0",
        "alert",
        {"a": {"bad_pem": "0x9 1x30 0x60", "not_found": "0x9 1x30 0x60"}},
        {"35m": [(A, 1)], "100m": []},
        v4=f"quantile_over_time(0.5, {FOLD} (increase(x509_source_errors_total[15m]))[20m:]) > 0",
    ),
    Case(
        "a subquery of the user's",
        "max_over_time(rate(x509_read_errors[5m])[30m:1m]) > 0",
        "alert",
        {"a": {"bad_pem": TEN_TO_TWENTY}},
        {"5m": [], "25m": [(A, 1)], "100m": []},
        v4="max_over_time(rate(x509_source_errors_total[5m])[30m:1m]) > 0",
    ),
    Case(
        "absent",
        'absent(x509_read_errors{instance="a"})',
        "alert",
        {"a": {"bad_pem": "0x20 _x40"}},
        {"15m": [], "40m": [(A, 1)]},
        observe="{}",
        v4='absent(x509_source_errors_total{instance="a"})',
    ),
    Case(
        "label_replace",
        'label_replace(x509_read_errors, "host", "$1", "instance", "(.*)") > 0',
        "alert",
        {"a": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY}},
        {"15m": [('{host="a"}', 1)], "50m": []},
        observe="group by (host) ({})",
    ),
    Case(
        "holt_winters (Prometheus 2)",
        "holt_winters(x509_read_errors[30m], 0.5, 0.5) > 0",
        "alert",
        {"a": {"bad_pem": "0x9 1x30 0x100", "not_found": "0x9 1x30 0x100"}},
        {"35m": [(A, 1)], "120m": []},
        v4=f"holt_winters({FOLD} (increase(x509_source_errors_total[15m]))[30m:], 0.5, 0.5) > 0",
    ),
    Case(
        "unary minus",
        "-x509_read_errors < 0",
        "alert",
        {"a": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY}},
        {"15m": [(A, 1)], "50m": []},
        v4=f"-{FOLD} (increase(x509_source_errors_total[15m])) < 0",
    ),
    Case(
        "or vector(0)",
        "sum(x509_read_errors or vector(0))",
        "panel",
        {"a": {"bad_pem": TEN_TO_TWENTY, "not_found": TEN_TO_TWENTY}},
        {"15m": [("{}", 1)], "50m": []},
        observe="group({} > 0)",
        v4="sum(increase(x509_source_errors_total[15m]) or vector(0))",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_meaning_is_kept(tmp_path, case):
    migrated = migrate_expr(case.v3, role=case.role)
    assert migrated.changed
    if case.v4 is not None:
        assert migrated.text == case.v4
    v3_series, v4_series = series(case)
    v3 = run(tmp_path, "v3", case, case.v3, v3_series)
    assert v3.ok, v3.output
    v4 = run(tmp_path, "v4", case, migrated.text, v4_series)
    assert v4.ok, v4.output
    if case.old is not None:
        assert not run(tmp_path, "old", case, case.old, v4_series).ok


def test_equivalent_series():
    case = Case("x", "x509_read_errors", "record", {"a": {"bad_pem": "0 1x1 _ 2"}, "b": {"r": "1 1"}}, {})
    v3, v4 = series(case)
    assert v3 == [
        {"series": 'x509_read_errors{job="x509", instance="a"}', "values": "0 1 1 _ 2"},
        {"series": 'x509_read_errors{job="x509", instance="b"}', "values": "1 1"},
    ]
    assert [s["values"] for s in v4] == ["0 1 2 _ 4", "1 2"]
