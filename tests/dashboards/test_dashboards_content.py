"""What each dashboard holds: uids, titles, variables, links, panels with their units and
queries, and how the configuration changes them."""

from __future__ import annotations

from dashboard_helpers import panels

from x509_mixin.mixin.config import load
from x509_mixin.mixin.dashboards import dashboards

SEL = 'job=~"x509-certificate-exporter.*", job=~"$job", instance=~"$instance"'
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
    # The inventory reads only the per-certificate truth: no job or instance to choose.
    assert names(model("inventory")) == ["datasource", "subject", "issuer", "namespace", "path", "serial"]
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
    inventory = {v["name"]: v for v in model("inventory")["templating"]["list"]}
    # Query variables with All: Grafana regex-escapes a chosen value, so it matches literally.
    assert inventory["subject"]["type"] == "query" and inventory["subject"]["includeAll"] is True
    assert inventory["subject"]["query"]["query"] == "label_values(certificate:x509_cert_not_after:max, subject_CN)"
    assert inventory["namespace"]["query"]["query"] == (
        "label_values(object_namespace:x509_cert_not_after:count, object_namespace)"
    )
    assert inventory["serial"]["type"] == "textbox" and inventory["serial"]["query"] == ".*"


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
        ("timeseries", "Bundles that failed to parse", "short"),
    ]
    m = model("overview")
    # Counts from the recording rules: the per-certificate truth has no job or instance.
    assert query(m, "Expired") == 'sum(state:x509_cert_not_after:count{state="expired"})'
    assert query(m, "Certificates by issuer") == "topk(20, sum by (issuer_CN) (issuer_CN:x509_cert_not_after:count))"
    assert query(m, "Certificates by namespace") == (
        "topk(20, sum by (object_namespace) (object_namespace:x509_cert_not_after:count))"
    )
    errors = (
        f"x509_source_errors_total{{{SEL}, "
        'reason=~"bad_pem|bad_der|bad_crl|bad_pkcs12|bad_jks|bad_passphrase|no_certificate_found|decode_failed|'
        'parse_timeout"}'
    )
    # Per target, never added up, and a counter born at its first failure shows it.
    assert query(m, "Bundles that failed to parse") == (
        f"max by (instance, source_name, reason) (increase({errors}[$__rate_interval]) or "
        f"({errors} unless last_over_time({errors}[1h] offset $__rate_interval)))"
    )
    soonest = query(m, "Certificates expiring soonest")
    assert soonest.startswith("bottomk(50, label_replace(") and soonest.endswith(" - time())")
    assert "(certificate:x509_cert_not_after:max, " in soonest


def test_descriptions_say_how_certificates_are_counted():
    def description(m):
        return next(p for p in panels(m) if p["title"] == "Expired")["description"]

    assert description(model("overview")).endswith("a certificate several exporters report counts once.")
    for key in ("overview", "inventory"):
        m = model(key, {"deduplicateReporters": False})
        title = "Expired" if key == "overview" else "Matching certificates"
        text = next(p for p in panels(m) if p["title"] == title)["description"]
        assert text.endswith("deduplicateReporters is off: each exporter's report counts."), text


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
    # 0, not the last value, once nothing matches any more.
    assert query(m, "Matching certificates") == (
        f'count((certificate:x509_cert_not_after:max{{{filters}, secret_namespace=~"$namespace"}} or '
        f'certificate:x509_cert_not_after:max{{{filters}, configmap_namespace=~"$namespace"}})) or vector(0)'
    )
    per_bundle = query(m, "Certificates per bundle")
    assert per_bundle.startswith("count by (bundle, place_kind, node) (")
    history = next(p for p in panels(m) if p["title"] == "Expiry date history")["targets"][0]
    assert history["legendFormat"] == "{{subject_CN}} ({{place_kind}} {{bundle}} {{node}})"
    table = next(p for p in panels(m) if p["title"] == "Certificates")
    assert [t["refId"] for t in table["targets"]] == ["A", "B"] and all(t["instant"] for t in table["targets"])
    assert "Not before" not in str(table)
    with_nb = next(
        p for p in panels(model("inventory", {"exporter": {"exposeNotBefore": True}})) if p["title"] == "Certificates"
    )
    assert "certificate:x509_cert_not_before:max{" in with_nb["targets"][2]["expr"]
    assert with_nb["fieldConfig"]["overrides"][0]["matcher"]["options"] == "Not before"


def test_exporter_panels_and_diagnostics_gate():
    m = model("exporter")
    assert layout(m) == [
        ("row", "Targets and sources", None),
        ("timeseries", "Exporter targets up", "none"),
        ("timeseries", "Sources up", "none"),
        ("timeseries", "Bundles per source", "none"),
        ("timeseries", "Source errors by reason", "short"),
        ("timeseries", "Scrape duration", "s"),
        ("table", "Exporter versions", "none"),
        ("row", "Failures", None),
        ("timeseries", "Panics", "short"),
        ("timeseries", "Passphrase failures", "short"),
        ("timeseries", "Kubernetes watch resyncs", "short"),
        ("timeseries", "Kubernetes transport errors", "short"),
        ("timeseries", "Label collisions dropped", "short"),
    ]
    scrape = next(p for p in panels(m) if p["title"] == "Scrape duration")
    assert [s["value"] for s in scrape["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 8.0, 10.0]
    assert scrape["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {"mode": "line"}
    assert query(m, "Sources up") == (
        f'max by (instance, source_kind, source_name) (x509_source_up{{{SEL}, source_name=~"$source"}})'
    )
    # Replicas holding the same bundles are not added up: one line per exporter and source.
    assert query(m, "Bundles per source") == (
        f'max by (instance, source_kind, source_name) (x509_source_bundles{{{SEL}, source_name=~"$source"}})'
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
        'sum by (cluster, state) (state:x509_cert_not_after:count{cluster=~"$cluster"})'
    )
    panel = next(p for p in panels(m) if p["title"] == "Certificates by state and cluster")
    assert panel["targets"][0]["legendFormat"] == "{{cluster}} {{state}}"
    # Two clusters' targets with the same address stay two lines.
    scrape = query(model("exporter", {"multiCluster": True}), "Scrape duration")
    assert scrape.startswith("histogram_quantile(0.5, sum by (cluster, le, instance) (")


def test_per_certificate_errors_gate_adds_the_failing_bundles_table():
    titles = [p["title"] for p in panels(model("overview", {"exporter": {"exposePerCertError": True}}))]
    assert titles[-2:] == ["Bundles that failed to parse", "Bundles in error"]


def test_soonest_table_links_each_subject_to_the_inventory():
    table = next(p for p in panels(model("overview")) if p["title"] == "Certificates expiring soonest")
    link = table["fieldConfig"]["overrides"][1]
    assert link["matcher"]["options"] == "Subject CN"
    # The subject percent-encoded (the inventory's query variable then matches it literally),
    # with the data source (and the cluster) the table was read from.
    assert link["properties"][0]["value"][0]["url"] == (
        "/d/x509-inventory?${__url_time_range}&${datasource:queryparam}&var-subject=${__value.raw:percentencode}"
    )
    multi = next(
        p for p in panels(model("overview", {"multiCluster": True})) if p["title"] == "Certificates expiring soonest"
    )
    assert (
        "&${datasource:queryparam}&${cluster:queryparam}&"
        in multi["fieldConfig"]["overrides"][1]["properties"][0]["value"][0]["url"]
    )


def test_alert_links_open_the_dashboard_of_their_kind_and_set_only_its_variables():
    import re

    from x509_mixin.mixin.alerts import CERTIFICATE, alert_groups, alerts
    from x509_mixin.mixin.dashboards import dashboard_key

    every = load(
        {
            "grafanaUrl": "https://grafana.example.org",
            "multiCluster": True,
            "exporter": {"exposeNotBefore": True, "exposePerCertError": True},
        }
    )
    kinds = {a.base: a.kind for a in alerts(every)}
    assert {base for base, kind in kinds.items() if dashboard_key(kind) == "inventory"} == {
        "CertificateError",
        "CertificateRenewal",
        "CertificateExpiration",
        "CertificateNotYetValid",
        "CertificateRenewalOverdue",
        "CRLNeedsRefresh",
        "CRLStale",
    }
    models = {m["uid"]: m for m in dashboards(every).values()}
    for rule in alert_groups(every)[0]["rules"]:
        if "alert" not in rule:
            continue
        url = rule["annotations"]["dashboard_url"]
        uid = re.match(r"https://grafana\.example\.org/d/([\w-]+)\?", url)[1]
        names = {v["name"] for v in models[uid]["templating"]["list"]}
        assert set(re.findall(r"var-(\w+)=", url)) <= names, (rule["alert"], url)
        expected = "x509-inventory" if kinds[rule["alert"].removeprefix("X509")] == CERTIFICATE else "x509-exporter"
        assert uid == expected


def test_every_panel_has_an_id_a_description_and_a_unit():
    for m in DEFAULT.values():
        ids = [p["id"] for p in m["panels"]]
        assert ids == list(range(1, len(ids) + 1))
        for p in panels(m):
            assert p["description"].endswith(".") or p["description"].endswith(")"), p["title"]
            assert p["fieldConfig"]["defaults"]["unit"]
