"""What each dashboard holds: uids, titles, variables, links, panels with their units and
queries, and how the configuration changes them."""

from __future__ import annotations

from dashboard_helpers import panels

from x509_mixin.mixin.config import load
from x509_mixin.mixin.dashboards import dashboards

SEL = 'job=~"x509-certificate-exporter.*", job=~"$job"'
DEFAULT = dashboards(load())


def model(name: str, overrides: dict | None = None) -> dict:
    models = DEFAULT if overrides is None else dashboards(load(overrides))
    return next(m for m in models.values() if m["uid"].endswith(name))


def layout(m: dict) -> list[tuple[str, str, str | None]]:
    return [(p["type"], p["title"], p.get("fieldConfig", {}).get("defaults", {}).get("unit")) for p in m["panels"]]


def query(m: dict, title: str, ref: int = 0) -> str:
    return next(p for p in panels(m) if p["title"] == title)["targets"][ref]["expr"]


def test_uids_titles_tags_and_links():
    assert {name: (m["uid"], m["title"]) for name, m in DEFAULT.items()} == {
        "x509-overview.json": ("x509-overview", "X509 / Certificates overview"),
        "x509-inventory.json": ("x509-inventory", "X509 / Certificate inventory"),
        "x509-exporter.json": ("x509-exporter", "X509 / Exporter and sources"),
    }
    for m in DEFAULT.values():
        assert m["tags"] == ["x509", "certificates"]
        assert m["schemaVersion"] == 38 and m["graphTooltip"] == 1
        others = {"/d/x509-overview", "/d/x509-inventory", "/d/x509-exporter"} - {f"/d/{m['uid']}"}
        assert {link["url"] for link in m["links"]} == others
        assert all(link["includeVars"] and link["keepTime"] for link in m["links"])


def test_variables():
    def names(m):
        return [v["name"] for v in m["templating"]["list"]]

    assert names(model("overview")) == ["datasource", "job", "instance"]
    assert names(model("inventory")) == [
        "datasource",
        "job",
        "instance",
        "subject",
        "issuer",
        "namespace",
        "path",
        "serial",
    ]
    assert names(model("exporter")) == ["datasource", "job", "instance", "source"]
    multi = model("overview", {"multiCluster": True, "clusterLabel": "k8s"})
    assert names(multi) == ["datasource", "cluster", "job", "instance"]
    variables = {v["name"]: v for v in multi["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["cluster"]["query"]["query"] == 'label_values(up{job=~"x509-certificate-exporter.*"}, k8s)'
    assert variables["job"]["query"]["query"] == (
        'label_values(up{job=~"x509-certificate-exporter.*", k8s=~"$cluster"}, job)'
    )
    assert variables["instance"]["query"]["query"] == (
        'label_values(up{job=~"x509-certificate-exporter.*", k8s=~"$cluster", job=~"$job"}, instance)'
    )
    assert variables["instance"]["allValue"] == ".*" and variables["instance"]["multi"] is True
    subject = next(v for v in model("inventory")["templating"]["list"] if v["name"] == "subject")
    assert subject["type"] == "textbox" and subject["query"] == ".*"


def test_overview_panels():
    assert layout(model("overview")) == [
        ("row", "Expiry", None),
        ("stat", "Expired", "none"),
        ("stat", "Critical (< 14 days)", "none"),
        ("stat", "Warning (< 28 days)", "none"),
        ("stat", "Fine", "none"),
        ("timeseries", "Certificates by state", "none"),
        ("timeseries", "Upcoming expiries", "none"),
        ("table", "Certificates expiring soonest", "s"),
        ("row", "Where the certificates are", None),
        ("bargauge", "Certificates by issuer", "none"),
        ("bargauge", "Certificates by namespace", "none"),
        ("bargauge", "Certificates by place", "none"),
        ("bargauge", "Soonest expiry by place", "s"),
        ("row", "Failures", None),
        ("timeseries", "Bundles that failed to parse", "cps"),
    ]
    m = model("overview")
    assert query(m, "Expired") == f'sum(state:x509_cert_not_after:count{{{SEL}, state="expired"}})'
    assert query(m, "Certificates by issuer") == (
        f"topk(20, sum by (issuer_CN) (issuer_CN:x509_cert_not_after:count{{{SEL}}}))"
    )
    assert query(m, "Bundles that failed to parse") == (
        f'sum by (source_name, reason) (rate(x509_source_errors_total{{{SEL}, instance=~"$instance", '
        'reason=~"bad_pem|bad_der|bad_crl|bad_pkcs12|bad_jks|bad_passphrase|no_certificate_found|decode_failed|'
        'parse_timeout"}[$__rate_interval]))'
    )
    soonest = query(m, "Certificates expiring soonest")
    assert soonest.startswith("bottomk(50, label_replace(") and soonest.endswith(" - time())")
    assert "max without (job, instance, pod, container, endpoint, service, namespace, node)" in soonest


def test_descriptions_say_how_certificates_are_counted():
    def description(m):
        return next(p for p in panels(m) if p["title"] == "Expired")["description"]

    assert description(model("overview")).endswith("a certificate reported by several exporters counts once.")
    assert description(model("overview", {"deduplicateReporters": False})).endswith(
        "deduplicateReporters is off: each exporter's report counts."
    )


def test_thresholds_follow_the_configured_days():
    def steps(m):
        table = next(p for p in panels(m) if p["title"] == "Certificates expiring soonest")
        props = {p["id"]: p["value"] for p in table["fieldConfig"]["overrides"][0]["properties"]}
        return props["thresholds"]["steps"]

    assert steps(model("overview")) == [
        {"color": "red", "value": None},
        {"color": "orange", "value": 14 * 86400},
        {"color": "green", "value": 28 * 86400},
    ]
    other = model("overview", {"warningDaysLeft": 30, "criticalDaysLeft": 7})
    assert steps(other)[1:] == [{"color": "orange", "value": 7 * 86400}, {"color": "green", "value": 30 * 86400}]
    assert [p["title"] for p in panels(other)][1:3] == ["Critical (< 7 days)", "Warning (< 30 days)"]


def test_inventory_panels_and_filters():
    m = model("inventory")
    assert layout(m) == [
        ("stat", "Matching certificates", "none"),
        ("stat", "Expired", "none"),
        ("stat", "Soonest expiry", "s"),
        ("stat", "Issuers", "none"),
        ("table", "Certificates", "s"),
        ("timeseries", "Expiry date history", "dateTimeAsIso"),
        ("table", "CRLs", "s"),
        ("table", "Certificates per bundle", "none"),
    ]
    crls = next(p for p in panels(m) if p["title"] == "CRLs")
    steps = crls["fieldConfig"]["overrides"][0]["properties"][2]["value"]["steps"]
    assert steps == [
        {"color": "red", "value": None},
        {"color": "orange", "value": 0},
        {"color": "green", "value": 7 * 86400},
    ]
    filters = 'subject_CN=~"$subject", issuer_CN=~"$issuer", filepath=~"$path", serial_number=~"$serial"'
    assert query(m, "Matching certificates") == (
        "count(max without (job, instance, pod, container, endpoint, service, namespace, node) ("
        f'(x509_cert_not_after{{{SEL}, instance=~"$instance", {filters}, secret_namespace=~"$namespace"}} or '
        f'x509_cert_not_after{{{SEL}, instance=~"$instance", {filters}, configmap_namespace=~"$namespace"}})))'
    )
    table = next(p for p in panels(m) if p["title"] == "Certificates")
    assert [t["refId"] for t in table["targets"]] == ["A", "B"] and all(t["instant"] for t in table["targets"])
    assert "Not before" not in str(table)
    with_nb = next(
        p for p in panels(model("inventory", {"exporter": {"exposeNotBefore": True}})) if p["title"] == "Certificates"
    )
    assert "x509_cert_not_before" in with_nb["targets"][2]["expr"]
    assert with_nb["fieldConfig"]["overrides"][0]["matcher"]["options"] == "Not before"


def test_exporter_panels_and_diagnostics_gate():
    m = model("exporter")
    assert layout(m) == [
        ("row", "Targets and sources", None),
        ("timeseries", "Exporter targets up", "none"),
        ("timeseries", "Sources up", "none"),
        ("timeseries", "Bundles per source", "none"),
        ("timeseries", "Source errors by reason", "cps"),
        ("timeseries", "Scrape duration", "s"),
        ("table", "Exporter versions", "none"),
        ("row", "Failures", None),
        ("timeseries", "Panics", "cps"),
        ("timeseries", "Passphrase failures", "cps"),
        ("timeseries", "Kubernetes watch resyncs", "cps"),
        ("timeseries", "Kubernetes transport errors", "cps"),
        ("timeseries", "Label collisions dropped", "cps"),
    ]
    scrape = next(p for p in panels(m) if p["title"] == "Scrape duration")
    assert [s["value"] for s in scrape["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 8.0, 10.0]
    assert scrape["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {"mode": "line"}
    assert query(m, "Sources up") == (
        f'max by (instance, source_kind, source_name) (x509_source_up{{{SEL}, instance=~"$instance", '
        'source_name=~"$source"})'
    )
    diag = model("exporter", {"exporter": {"exposeDiagnostics": True}})
    assert [p["title"] for p in diag["panels"]][len(m["panels"]) :] == [
        "Diagnostics",
        "Parse duration p99",
        "Kubernetes request p99",
        "Informer queue depth",
        "Informer scope",
    ]


def test_multicluster_keeps_the_cluster_apart():
    m = model("overview", {"multiCluster": True})
    assert query(m, "Certificates by state and cluster") == (
        'sum by (cluster, state) (state:x509_cert_not_after:count{job=~"x509-certificate-exporter.*", '
        'cluster=~"$cluster", job=~"$job"})'
    )
    panel = next(p for p in panels(m) if p["title"] == "Certificates by state and cluster")
    assert panel["targets"][0]["legendFormat"] == "{{cluster}} {{state}}"


def test_per_certificate_errors_gate_adds_the_failing_bundles_table():
    titles = [p["title"] for p in panels(model("overview", {"exporter": {"exposePerCertError": True}}))]
    assert titles[-2:] == ["Bundles that failed to parse", "Bundles in error"]


def test_soonest_table_links_each_subject_to_the_inventory():
    table = next(p for p in panels(model("overview")) if p["title"] == "Certificates expiring soonest")
    link = table["fieldConfig"]["overrides"][1]
    assert link["matcher"]["options"] == "Subject CN"
    assert link["properties"][0]["value"][0]["url"] == (
        "/d/x509-inventory?${__url_time_range}&${job:queryparam}&var-subject=${__value.raw}"
    )


def test_certificate_alerts_open_the_inventory_and_the_others_the_exporter_dashboard():
    from x509_mixin.mixin.alerts import CERTIFICATE, alerts
    from x509_mixin.mixin.dashboards import INVENTORY_ALERTS, dashboard_key

    every = load({"exporter": {"exposeNotBefore": True, "exposePerCertError": True}})
    kinds = {a.base: a.kind for a in alerts(every)}
    assert INVENTORY_ALERTS == {base for base, kind in kinds.items() if kind == CERTIFICATE}
    assert {dashboard_key(base) for base, kind in kinds.items() if kind != CERTIFICATE} == {"exporter"}


def test_every_panel_has_an_id_a_description_and_a_unit():
    for m in DEFAULT.values():
        ids = [p["id"] for p in m["panels"]]
        assert ids == list(range(1, len(ids) + 1))
        for p in panels(m):
            assert p["description"].endswith(".") or p["description"].endswith(")"), p["title"]
            assert p["fieldConfig"]["defaults"]["unit"]
