"""The dashboards tell the truth through the faults real systems have (issue 13): promtool runs
the generated rules on scenario timelines and evaluates each panel's own query, its variables
interpolated and escaped exactly as Grafana does (grafana_interpolate), at the time an on-call
engineer looks. A stat is checked at its last point, which is what its "last non-null" reduction
shows when the point exists. Each check aggregates the panel's result to the columns under test.

Each scenario is then broken back to the mechanism it guards, and must fail.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from dashboard_helpers import panels
from grafana_interpolate import from_model, interpolate
from grafanalib import core as G

from x509_mixin.generator import promtool
from x509_mixin.generator.build import ALERTS_FILE, RULES_FILE, render
from x509_mixin.mixin import dashboard_common as c
from x509_mixin.mixin import dashboard_inventory, dashboard_rules, policies, truth
from x509_mixin.mixin import promql as q
from x509_mixin.mixin.config import load
from x509_mixin.mixin.dashboards import dashboards

# $__rate_interval for 1-minute scrapes: max($__interval + scrape, 4 * scrape).
SCOPED = {"__rate_interval": "4m", "__interval": "1m", "__range": "1h"}
JOB = "x509-certificate-exporter"


@dataclass
class Check:
    dashboard: str  # overview, inventory, exporter
    panel: str
    at: str
    expected: list[tuple[str, float]]  # (labels, value) of `wrap` applied to the panel's query
    wrap: str = "{}"
    ref: int = 0
    chosen: dict | None = None


@dataclass
class Scenario:
    name: str
    series: list[tuple[str, str]]
    checks: list[Check]
    config: dict = field(default_factory=dict)


def target(n: str, **labels: str) -> str:
    body = ", ".join(f'{k}="{v}"' for k, v in {"job": JOB, "instance": f"10.0.0.{n}:9793", **labels}.items())
    return "{" + body + "}"


def cert(n: str, **labels: str) -> str:
    return "x509_cert_not_after" + target(n, **labels)


WEB = {"filename": "web.pem", "filepath": "/etc/ssl/web.pem", "subject_CN": "web.example"}
FIVE_DAYS, YEAR = "432000", "31536000"


def _query(model: dict, title: str, ref: int, chosen: dict | None) -> str:
    panel = next(p for p in panels(model) if p["title"] == title)
    return interpolate(panel["targets"][ref]["expr"], from_model(model, chosen), SCOPED)


def run(scn: Scenario, tmp_path: Path) -> promtool.Result:
    cfg = load(scn.config)
    files = render(cfg)
    for rel in (ALERTS_FILE, RULES_FILE):
        (tmp_path / Path(rel).name).write_text(files[rel])
    models = {m["uid"].removeprefix(cfg.dashboardUidPrefix): m for m in dashboards(cfg).values()}
    tests = []
    for check in scn.checks:
        expr = check.wrap.format(_query(models[check.dashboard], check.panel, check.ref, check.chosen))
        samples = [{"labels": labels, "value": value} for labels, value in check.expected]
        tests.append({"expr": expr, "eval_time": check.at, "exp_samples": samples})
    doc = {
        "rule_files": ["prometheus_alerts.yaml", "prometheus_rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "name": scn.name,
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in scn.series],
                "promql_expr_test": tests,
            }
        ],
    }
    (tmp_path / "truth.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return promtool.test_rules([tmp_path / "truth.yaml"])


CRITICAL = "Critical (< 14 days)"
STATES_FINE_ONLY = [(f'{{state="{s}"}}', 1 if s == "fine" else 0) for s in ("expired", "critical", "warning", "fine")]

SCENARIOS = {
    # 13.1 A Service and a headless Service (two jobs) scrape the same pod: one certificate.
    "two jobs": Scenario(
        "one certificate scraped under two job names counts once",
        [
            ("up" + target("1"), "1x20"),
            ("up" + target("1", job=JOB + "-headless"), "1x20"),
            (cert("1", **WEB), f"{FIVE_DAYS}x20"),
            (cert("1", job=JOB + "-headless", **WEB), f"{FIVE_DAYS}x20"),
        ],
        [
            Check("overview", CRITICAL, "10m", [("{}", 1)]),
            Check("inventory", "Matching certificates", "10m", [("{}", 1)]),
            Check("overview", "Certificates expiring soonest", "10m", [("{}", 1)], "count({})"),
        ],
    ),
    # 13.2 and 13.11: renewed at 10m (serial 1 gives way to serial 2), the scrape at 12m fails.
    "renewal then failed scrape": Scenario(
        "a renewal followed by a failed scrape neither brings the old serial back nor blanks the lists",
        [
            ("up" + target("1"), "1x11 0 1x8"),
            (cert("1", serial_number="1", **WEB), f"{FIVE_DAYS}x9 stale"),
            (cert("1", serial_number="2", **WEB), f"_x10 {YEAR} {YEAR} stale {YEAR}x8"),
        ],
        [
            Check("overview", CRITICAL, "12m", [("{}", 0)]),
            Check("overview", "Fine", "12m", [("{}", 1)]),
            Check("overview", "Certificates by state", "12m", STATES_FINE_ONLY),
            Check(
                "overview",
                "Certificates expiring soonest",
                "12m",
                [('{serial_number="2"}', 1)],
                "count by (serial_number) ({})",
            ),
            Check("inventory", "Certificates", "12m", [('{serial_number="2"}', 1)], "count by (serial_number) ({})"),
            Check("inventory", "Matching certificates", "12m", [("{}", 1)]),
        ],
    ),
    # 13.3 An exporter restarted in place answers before its source has synced (11m to 13m).
    "restart before sync": Scenario(
        "an exporter restarted in place keeps its certificates counted while it syncs",
        [
            ("up" + target("1"), "1x9 0 1x10"),
            ("x509_source_up" + target("1", source_kind="file", source_name="files"), "1x9 stale _x2 1x8"),
            (cert("1", serial_number="1", **WEB), f"{FIVE_DAYS}x9 stale _x2 {FIVE_DAYS}x8"),
        ],
        [
            Check("overview", CRITICAL, "11m", [("{}", 1)]),
            Check("overview", CRITICAL, "12m", [("{}", 1)]),
            Check("inventory", "Matching certificates", "12m", [("{}", 1)]),
        ],
    ),
    # 13.4 The last expired certificate is renewed at 10m: the stats say 0, not their last 1.
    "state empties": Scenario(
        "a state that empties shows 0",
        [
            ("up" + target("1"), "1x20"),
            (cert("1", serial_number="1", **WEB), "-86400x9 stale"),
            (cert("1", serial_number="2", **WEB), f"_x10 {YEAR}x10"),
        ],
        [
            Check("overview", "Expired", "9m", [("{}", 1)]),
            Check("overview", "Expired", "11m", [("{}", 0)]),
            Check("overview", "Certificates by state", "11m", STATES_FINE_ONLY),
            Check("inventory", "Expired", "11m", [("{}", 0)]),
        ],
    ),
    # 13.5 Each control-plane node holds its own apiserver.crt: one per bundle and node.
    "node-local files": Scenario(
        "a file holding a different certificate on each node is one per node",
        [("up" + target(n, node=f"cp-{n}"), "1x20") for n in "123"]
        + [
            (
                cert(
                    n,
                    node=f"cp-{n}",
                    filename="apiserver.crt",
                    filepath="/etc/kubernetes/pki/apiserver.crt",
                    serial_number=n,
                    subject_CN="kube-apiserver",
                ),
                f"{days}x20",
            )
            for n, days in (("1", YEAR), ("2", FIVE_DAYS), ("3", YEAR))
        ],
        [
            Check(
                "inventory",
                "Certificates per bundle",
                "10m",
                [(f'{{bundle="/etc/kubernetes/pki/apiserver.crt", node="cp-{n}"}}', 1) for n in "123"],
                "sum by (bundle, node) ({})",
            ),
            Check(
                "inventory",
                "Expiry date history",
                "10m",
                [(f'{{node="cp-{n}"}}', 1) for n in "123"],
                "count by (node) ({})",
            ),
            Check(
                "overview",
                "Certificates expiring soonest",
                "10m",
                [('{node="cp-2"}', 432000 - 600)],
                "min by (node) ({}) < 1e6",
            ),
        ],
    ),
    # 13.7 Counters created on first use at a value above 0 (10m) show in the panels.
    "born counters": Scenario(
        "a counter created at a value above 0 shows it",
        [
            ("up" + target("1"), "1x20"),
            ("x509_panic_total" + target("1", component="source/files"), "_x10 1x10"),
            (
                "x509_source_errors_total" + target("1", source_kind="file", source_name="files", reason="bad_pem"),
                "_x10 3x10",
            ),
        ],
        [
            Check("exporter", "Panics", "10m", [('{instance="10.0.0.1:9793", component="source/files"}', 1)]),
            Check(
                "overview",
                "Bundles that failed to parse",
                "10m",
                [('{instance="10.0.0.1:9793", source_name="files", reason="bad_pem"}', 3)],
            ),
            Check("exporter", "Panics", "12m", [('{instance="10.0.0.1:9793", component="source/files"}', 0)]),
        ],
    ),
    # 13.8 Two replicas hold the same 120 bundles and meet the same 6 errors.
    "replicas": Scenario(
        "replicas are not added up",
        [("up" + target(n), "1x20") for n in "12"]
        + [("x509_source_bundles" + target(n, source_kind="kube-secret", source_name="kube"), "120x20") for n in "12"]
        + [
            (
                "x509_source_errors_total" + target(n, source_kind="kube-secret", source_name="kube", reason="bad_pem"),
                "0x9 6x10",
            )
            for n in "12"
        ],
        [
            Check("exporter", "Bundles per source", "10m", [("{}", 120)], "max({})"),
            Check("exporter", "Bundles per source", "10m", [("{}", 2)], "count({})"),
            Check("exporter", "Source errors by reason", "11m", [("{}", 6)], "max({})"),
        ],
    ),
    # 13.9 Two clusters' targets at the same address stay two scrape-duration lines.
    "clusters": Scenario(
        "two clusters' targets with the same address stay apart",
        [
            ("x509_scrape_duration_seconds_bucket" + target("1", cluster=cl, le=le), f"0+{n}x20")
            for cl in ("east", "west")
            for le, n in (("0.005", "1"), ("+Inf", "1"))
        ],
        [
            Check(
                "exporter",
                "Scrape duration",
                "10m",
                [('{cluster="east"}', 1), ('{cluster="west"}', 1)],
                "count by (cluster) ({})",
                chosen={},
            )
        ],
        {"multiCluster": True},
    ),
    # 13.10 The selector names the exporter's own namespace: the by-namespace panel still shows
    # the Secrets' namespaces.
    "namespace selector": Scenario(
        "a namespace in the selector is not overwritten by the certificates' namespaces",
        [("up" + target("1", namespace="monitoring"), "1x20")]
        + [
            (
                cert(
                    "1",
                    namespace="monitoring",
                    secret_namespace=ns,
                    secret_name="tls",
                    secret_key="tls.crt",
                    serial_number=ns,
                ),
                f"{YEAR}x20",
            )
            for ns in ("prod", "dev")
        ],
        [
            Check(
                "overview",
                "Certificates by namespace",
                "10m",
                [('{object_namespace="dev"}', 1), ('{object_namespace="prod"}', 1)],
            )
        ],
        {
            "selector": f'job=~"{JOB}.*", namespace="monitoring"',
            "reporterLabels": ["job", "instance", "pod", "container", "endpoint", "service", "node"],
        },
    ),
    # 16: each certificate in its own entry's state, the ignored apart and out of the lists.
    "overrides": Scenario(
        "certificateOverrides decide each certificate's state, policy and listing",
        [
            ("up" + target("1"), "1x20"),
            (cert("1", issuer_O="Let's Encrypt", serial_number="1", **WEB), "864000x20"),
            (cert("1", filepath="/etc/ssl/certs/root.pem", serial_number="2", subject_CN="Root"), "-86400x20"),
            (cert("1", filepath="/srv/other.pem", serial_number="3", subject_CN="other"), f"{FIVE_DAYS}x20"),
        ],
        [
            Check("overview", "Expired", "10m", [("{}", 0)]),
            Check("overview", "Critical", "10m", [("{}", 1)]),
            Check("overview", "Warning", "10m", [("{}", 1)]),
            Check("overview", "Ignored", "10m", [("{}", 1)]),
            Check(
                "overview",
                "Certificates expiring soonest",
                "10m",
                [('{subject_CN="other"}', 1), ('{subject_CN="web.example"}', 1)],
                "count by (subject_CN) ({})",
            ),
            Check(
                "inventory",
                "Certificates",
                "10m",
                [('{subject_CN="Root"}', 2), ('{subject_CN="other"}', 0), ('{subject_CN="web.example"}', 1)],
                "max by (subject_CN) ({})",
                ref=2,
            ),
        ],
        {
            "certificateOverrides": [
                {
                    "matchers": 'issuer_O="Let\'s Encrypt"',
                    "warningDaysLeft": 20,
                    "criticalDaysLeft": 7,
                    "labels": {"team": "web"},
                },
                {"matchers": 'filepath=~"/etc/ssl/certs/.*"', "ignore": True},
            ]
        },
    ),
}


@pytest.mark.parametrize("key", SCENARIOS)
def test_dashboards_tell_the_truth(key, tmp_path):
    result = run(SCENARIOS[key], tmp_path)
    assert result.ok, result.output


def _lists_only_serial_0(chosen: dict) -> Check:
    """The inventory's table, with the variables a link set, lists exactly certificate 0."""
    return Check(
        "inventory", "Certificates", "10m", [('{serial_number="0"}', 1)], "count by (serial_number) ({})", chosen=chosen
    )


@pytest.mark.parametrize("subject", ["*.example.com", "ACME Device (G2)", "svc+canary"])
def test_a_link_from_the_soonest_table_opens_exactly_its_certificate(subject, tmp_path):
    # 13.6 Follow the link as Grafana builds it, set the inventory's variables from the URL as
    # Grafana does, and run the inventory's count: exactly the certificate clicked.
    cfg = load({})
    models = {m["uid"].removeprefix(cfg.dashboardUidPrefix): m for m in dashboards(cfg).values()}
    soonest = next(p for p in panels(models["overview"]) if p["title"] == "Certificates expiring soonest")
    url = soonest["fieldConfig"]["overrides"][1]["properties"][0]["value"][0]["url"]
    scoped = {"__value.raw": subject, "__url_time_range": "from=now-6h&to=now"}
    href = interpolate(url, from_model(models["overview"]), scoped)
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(href).query)
    assert params["var-subject"] == [subject] and params["var-datasource"] == ["prometheus"]
    others = [
        s for s in ("*.example.com", "ACME Device (G2)", "svc+canary", "x.example.com", "svc canary") if s != subject
    ]
    series = [("up" + target("1"), "1x20")] + [
        (cert("1", filename=f"{i}.pem", filepath=f"/etc/ssl/{i}.pem", serial_number=str(i), subject_CN=s), f"{YEAR}x20")
        for i, s in enumerate([subject, *others])
    ]
    chosen = {"subject": params["var-subject"]}
    scn = Scenario(
        "a link opens its certificate",
        series,
        [
            Check("inventory", "Matching certificates", "10m", [("{}", 1)], chosen=chosen),
            _lists_only_serial_0(chosen),
        ],
    )
    result = run(scn, tmp_path)
    assert result.ok, result.output


# ---- each scenario catches the mechanism it guards -----------------------------------------


def _raw_counts(cfg):
    # The recording rules before: raw gauges, job kept, missed-scrape fallback only on up == 0.
    rules = REAL_RECORDING(cfg)
    certs = (
        f"max without (instance, pod, container, endpoint, service, namespace, node) "
        f"(x509_cert_not_after{{{cfg.selector}}})"
    )
    for rule in rules[0]["rules"]:
        rule["expr"] = rule["expr"].replace("certificate:x509_cert_not_after:max", certs)
    return rules


REAL_RECORDING = dashboard_rules.recording_rules


def _raw_certificates(cfg, record="certificate:x509_cert_not_after:max", extra=""):
    metric = record.split(":")[1]
    return f"max without (job, instance, pod, container, endpoint, service, namespace, node) ({c.target_series(cfg, metric, extra)})"


def _plain_count(cfg, expr):
    return f"count ({expr})"


def _unborn_increase(cfg, metric, labels, extra=""):
    return f"max by (instance, {', '.join(labels)}) (increase({c.target_series(cfg, metric, extra)}[$__rate_interval]))"


def _summed_increase(cfg, metric, labels, extra=""):
    return f"sum by ({', '.join(labels)}) (increase({c.target_series(cfg, metric, extra)}[$__rate_interval]))"


def _textbox_subject(cfg):
    out = REAL_VARIABLES(cfg)
    return [
        (G.Template(name="subject", label="Subject CN", type="textbox", query=".*", default=".*"), d)
        if t.name == "subject"
        else (t, d)
        for t, d in out
    ]


REAL_VARIABLES = dashboard_inventory.variables


def _by_without_scope(cfg, *labels):
    # Aggregations before: grouped by their own labels only, the cluster dropped.
    return f"by ({', '.join(labels)})" if labels else ""


def _global_days_left(cfg, threshold):
    # The entries still chained (labels, ignore), but every certificate on the global days.
    return policies.chain(cfg, truth.NOT_AFTER, lambda o: q.days(getattr(cfg, threshold)))


MUTATIONS = [
    ("two jobs", (dashboard_rules, "recording_rules", _raw_counts)),
    ("renewal then failed scrape", (c, "certificates", _raw_certificates)),
    ("restart before sync", (c, "certificates", _raw_certificates)),
    ("state empties", (dashboard_rules, "_zero_when_empty", _plain_count)),
    ("born counters", (c, "increase", _unborn_increase)),
    ("replicas", (c, "increase", _summed_increase)),
    ("clusters", (q, "by_scope", _by_without_scope)),
    ("namespace selector", (dashboard_rules, "OBJECT_NAMESPACE", "namespace")),
    ("overrides", (policies, "days_left", _global_days_left)),
]


@pytest.mark.parametrize("key,patch", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_each_scenario_catches_its_regression(key, patch, monkeypatch, tmp_path):
    monkeypatch.setattr(*patch)
    result = run(SCENARIOS[key], tmp_path)
    assert not result.ok, "the regression went unnoticed"


def test_node_local_scenario_needs_the_locality_labels(tmp_path):
    scn = SCENARIOS["node-local files"]
    result = run(Scenario(scn.name, scn.series, scn.checks, {"localityLabels": []}), tmp_path)
    assert not result.ok


def test_link_scenario_catches_a_regex_textbox(monkeypatch, tmp_path):
    monkeypatch.setattr(dashboard_inventory, "variables", _textbox_subject)
    with pytest.raises(AssertionError):
        test_a_link_from_the_soonest_table_opens_exactly_its_certificate("*.example.com", tmp_path)


@pytest.mark.parametrize(
    "labels",
    [
        {
            "subject_CN": "*.example.com",
            "issuer_CN": "ACME Device (G2)",
            "secret_namespace": "prod",
            "secret_name": "web-tls",
            "secret_key": "tls.crt",
            "serial_number": "0",
        },
        {
            "subject_CN": "svc+canary",
            "issuer_CN": "Example CA",
            "filename": "c.pem",
            "filepath": "/etc/ssl/c+d.pem",
            "serial_number": "0",
        },
    ],
    ids=["secret", "file"],
)
def test_an_alerts_dashboard_link_opens_exactly_its_certificate(labels, tmp_path):
    # Issue 17's notifications: the dashboard_url a certificate alert renders (the same rendering
    # the promtool suites check against Prometheus) sets the inventory's variables so that it
    # shows exactly that certificate, whatever characters its labels hold.
    from x509_mixin.mixin.dashboards import rendered_dashboard_url

    cfg = load({"grafanaUrl": "https://grafana.example.org"})
    url = rendered_dashboard_url(cfg, "certificate", labels)
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query, keep_blank_values=True)
    chosen = {k.removeprefix("var-"): v for k, v in params.items() if k.startswith("var-")}
    chosen["serial"] = chosen["serial"][0]  # a text box
    near = dict(labels, serial_number="1", subject_CN=labels["subject_CN"] + "x")
    series = [("up" + target("1"), "1x20"), (cert("1", **labels), f"{YEAR}x20"), (cert("1", **near), f"{YEAR}x20")]
    scn = Scenario(
        "an alert's link opens its certificate",
        series,
        [_lists_only_serial_0(chosen)],
    )
    result = run(scn, tmp_path)
    assert result.ok, result.output
