"""Every configuration key changes the generated rules as documented; bad values are refused
with one line naming the key, the value and the fix."""

from __future__ import annotations

import dataclasses
import re

import pytest
import yaml

from x509_mixin.generator.build import render
from x509_mixin.mixin.alerts import alert_groups
from x509_mixin.mixin.config import ALERT_NAMES, DEFAULTS, ConfigError, load


def rules(overrides=None) -> dict[str, dict]:
    """Alerts and recording rules of the alerts' group, by name."""
    cfg = load(overrides or {})
    return {r.get("alert") or r["record"]: r for g in alert_groups(cfg) for r in g["rules"]}


NOT_AFTER = "certificate:x509_cert_not_after:max"


def flat(expr: str) -> str:
    return " ".join(expr.split())


DEFAULT = rules()
DEFAULT_ALERTS = [name for name in DEFAULT if ":" not in name]


def test_default_alert_set_and_chart_names_with_empty_prefix():
    gated = {"CertificateError", "CertificateNotYetValid", "CertificateRenewalOverdue"}
    assert {n for n in DEFAULT if ":" not in n} == {"X509" + n for n in ALERT_NAMES if n not in gated}
    chart = rules({"alertNamePrefix": "", "exporter": {"exposePerCertError": True, "exposeNotBefore": True}})
    chart_13 = {
        "SourceErrors",
        "SourceErrorsSustained",
        "SourceDown",
        "KubeTransportErrors",
        "KubeTransportErrorsSustained",
        "KeystorePassphraseFailures",
        "CertificateError",
        "CertificateRenewal",
        "CertificateExpiration",
        "CertificateNotYetValid",
        "CertificateCollision",
        "CRLNeedsRefresh",
        "CRLStale",
    }
    assert chart_13 <= set(chart)


def test_selector_is_in_every_metric_selector():
    out = rules({"selector": 'job="pki", namespace="monitoring"'})
    for name, rule in out.items():
        assert 'job=~"x509-certificate-exporter.*"' not in rule["expr"], name
        # Each selector of an exporter metric or `up` carries the configured matchers (prettified:
        # sorted, no spaces); the recorded series (level:metric:operations) are already selected.
        selectors = re.findall(r"\b[a-z0-9_]+\{[^}]*\}", rule["expr"])
        assert selectors or ":" in rule["expr"], name
        assert all('job="pki"' in s and 'namespace="monitoring"' in s for s in selectors), name


def test_multicluster_keeps_cluster_and_alerts_per_cluster():
    assert "group by" not in DEFAULT["X509ExporterAbsent"]["expr"]
    out = rules({"multiCluster": True, "clusterLabel": "k8s"})
    expr = flat(out["X509ExporterAbsent"]["expr"])
    assert "group by (k8s) (max_over_time(" in expr and "unless group by (k8s) (" in expr
    assert "unless on (k8s, job, instance)" in flat(out["target:x509_exporter_up:held"]["expr"])
    assert "on (k8s)" in flat(out["target:x509_exporter_up:held"]["expr"])
    assert "max without (job, instance, pod" in flat(out[NOT_AFTER]["expr"])


@pytest.mark.parametrize(
    "key,value,alert,fragment",
    [
        ("warningDaysLeft", 30, "X509CertificateRenewal", "30 * 86400"),
        ("criticalDaysLeft", 7.5, "X509CertificateExpiration", "7.5 * 86400"),
        ("crlWarningDaysLeft", 3, "X509CRLNeedsRefresh", "3 * 86400"),
        ("missedScrapeTolerance", "30m", NOT_AFTER, "[30m]"),
        ("missedScrapeTolerance", "30m", "X509SourceDown", "[30m]"),
        ("scrapeTimeout", "30s", "X509ExporterSlowScrapes", "> 24"),
        ("reporterLabels", ["instance", "pod"], NOT_AFTER, "max without (instance, pod)"),
    ],
)
def test_thresholds_and_windows(key, value, alert, fragment):
    assert fragment not in flat(DEFAULT[alert]["expr"])
    assert fragment in flat(rules({key: value})[alert]["expr"])


def test_deduplicate_reporters_off_keeps_reporters_and_names_them():
    out = rules({"deduplicateReporters": False})
    assert "max without" not in out[NOT_AFTER]["expr"]
    assert "(reported by {{ . }})" in out["X509CertificateExpiration"]["annotations"]["description"]
    assert "max without" in DEFAULT[NOT_AFTER]["expr"]
    # Without deduplication a gone target's certificates never stand in for its replacement.
    assert "target:x509_exporter_up:held_or_replaced" not in out and "held_or_replaced" in DEFAULT[NOT_AFTER]["expr"]
    assert rules({"reporterLabels": []})[NOT_AFTER] == out[NOT_AFTER]


def test_locality_labels_keep_the_node_of_a_file_one_node_holds():
    assert "ignoring (node)" in flat(DEFAULT[NOT_AFTER]["expr"])
    assert (
        "{{ with $labels.node }} on node {{ . }}{{ end }}"
        in DEFAULT["X509CertificateExpiration"]["annotations"]["description"]
    )
    both = rules({"localityLabels": ["node", "instance"]})
    assert "ignoring (node, instance)" in flat(both[NOT_AFTER]["expr"])
    assert "on instance {{ . }}" in both["X509CertificateRenewal"]["annotations"]["description"]
    none = rules({"localityLabels": []})
    assert (
        "ignoring" not in none[NOT_AFTER]["expr"]
        and " on node " not in none["X509CRLStale"]["annotations"]["description"]
    )


def test_errors_by_reason_splits_the_error_alerts_by_reason():
    split = rules({"errorsByReason": True})
    for name in (
        "X509SourceErrors",
        "X509SourceErrorsSustained",
        "X509KubeTransportErrors",
        "X509KubeTransportErrorsSustained",
    ):
        assert "+ ignoring (reason) group_right ()" in flat(split[name]["expr"]), name
        assert "{{ $labels.reason }} among them" in split[name]["annotations"]["description"], name
        assert "reason" not in DEFAULT[name]["annotations"]["description"], name
        assert "group_right" not in DEFAULT[name]["expr"], name
    # The other alerts are untouched.
    assert split["X509ExporterDown"] == DEFAULT["X509ExporterDown"]


def test_severities_for_disabled_extra_labels_annotations_runbooks():
    out = rules(
        {
            "severities": {"CertificateRenewal": "info"},
            "alertFor": {"CertificateExpiration": "1h", "ExporterPanics": "5m"},
            "disabledAlerts": ["KubeWatchResyncStorm"],
            "extraAlertLabels": {"team": "pki"},
            "extraAlertAnnotations": {"dashboard": "https://grafana/d/x509"},
            "runbookUrlPattern": "https://wiki/x509/%s.html",
        }
    )
    assert out["X509CertificateRenewal"]["labels"] == {"severity": "info", "team": "pki"}
    assert out["X509CertificateExpiration"]["for"] == "1h"
    assert "for" not in DEFAULT["X509ExporterPanics"] and out["X509ExporterPanics"]["for"] == "5m"
    assert "X509KubeWatchResyncStorm" not in out
    assert out["X509SourceDown"]["annotations"]["dashboard"] == "https://grafana/d/x509"
    assert out["X509SourceDown"]["annotations"]["runbook_url"] == "https://wiki/x509/sourcedown.html"


@pytest.mark.parametrize(
    "gates,present,absent",
    [
        ({}, [], ["x509_cert_not_before", "x509_cert_error", "x509_cert_valid_since_seconds"]),
        ({"exposePerCertError": True}, ["x509_cert_error"], ["x509_cert_not_before"]),
        ({"exposeNotBefore": True}, ["x509_cert_not_before"], ["x509_cert_valid_since_seconds"]),
        (
            {"exposeRelative": True},
            ["x509_cert_valid_since_seconds", "x509_cert_expires_in_seconds"],
            ["x509_cert_not_before"],
        ),
        ({"exposeDiagnostics": True}, [], ["x509_parse_duration_seconds"]),
    ],
)
def test_exporter_gates_decide_which_metrics_rules_use(gates, present, absent):
    text = render(load({"exporter": gates}))["rules/prometheus_alerts.yaml"]
    for metric in present:
        assert metric in text
    for metric in absent:
        assert metric not in text
    # Expiry and staleness come from x509_cert_not_after and x509_crl_next_update alone.
    assert "x509_crl_stale" not in text and "x509_cert_expired" not in text


def test_exposediagnostics_records_latency_percentiles():
    names = [g["name"] for g in yaml.safe_load(render(load({}))["rules/prometheus_rules.yaml"])["groups"]]
    assert names == ["x509-certificates-dashboards"]
    groups = yaml.safe_load(render(load({"exporter": {"exposeDiagnostics": True}}))["rules/prometheus_rules.yaml"])
    assert groups["groups"][0]["name"] == "x509-certificates-dashboards"
    assert [r["record"] for r in groups["groups"][1]["rules"]] == [
        "format:x509_parse_duration_seconds:p99_rate5m",
        "verb_resource:x509_kube_request_duration_seconds:p99_rate5m",
    ]


def test_renewal_overdue_fraction_and_max_lifetime():
    out = rules(
        {"exporter": {"exposeNotBefore": True}, "renewalOverdueFraction": 0.7, "renewalOverdueMaxLifetime": "30d"}
    )
    rule = out["X509CertificateRenewalOverdue"]
    assert "0.7 *" in flat(rule["expr"]) and "<= 2592000" in flat(rule["expr"])
    assert "more than 70% of its lifetime" in rule["annotations"]["description"]


def test_prometheus_rule_metadata():
    doc = yaml.safe_load(
        render(load({"prometheusRule": {"name": "certs", "namespace": "obs", "labels": {"release": "kps"}}}))[
            "rules/prometheusrule.yaml"
        ]
    )
    assert doc["apiVersion"] == "monitoring.coreos.com/v1" and doc["kind"] == "PrometheusRule"
    assert doc["metadata"] == {"name": "certs", "namespace": "obs", "labels": {"release": "kps"}}
    files = render(load({}))
    plain = [
        yaml.safe_load(files[f])["groups"] for f in ("rules/prometheus_alerts.yaml", "rules/prometheus_rules.yaml")
    ]
    assert doc["spec"]["groups"] == plain[0] + plain[1]


def test_grafana_url_adds_dashboard_url_to_every_alert():
    assert all("dashboard_url" not in r.get("annotations", {}) for r in DEFAULT.values())
    out = rules({"grafanaUrl": "https://grafana.example.org/", "dashboardUidPrefix": "pki-"})
    assert out["X509CertificateExpiration"]["annotations"]["dashboard_url"] == (
        "https://grafana.example.org/d/pki-inventory?from=now-7d&to=now"
        "&var-subject={{ $labels.subject_CN | urlquery }}&var-issuer={{ $labels.issuer_CN | urlquery }}"
        "&var-namespace={{ with $labels.secret_namespace }}{{ . | urlquery }}{{ else }}"
        "{{ $labels.configmap_namespace | urlquery }}{{ end }}"
        "&var-path={{ $labels.filepath | urlquery }}&var-serial={{ $labels.serial_number | urlquery }}"
    )
    assert out["X509CRLStale"]["annotations"]["dashboard_url"].startswith(
        "https://grafana.example.org/d/pki-inventory?"
    )
    assert out["X509SourceDown"]["annotations"]["dashboard_url"] == (
        "https://grafana.example.org/d/pki-exporter?from=now-6h&to=now"
        "{{ with $labels.job }}&var-job={{ . | urlquery }}{{ end }}"
        "{{ with $labels.instance }}&var-instance={{ . | urlquery }}{{ end }}"
        "{{ with $labels.source_name }}&var-source={{ . | urlquery }}{{ end }}"
    )
    assert all("dashboard_url" in r["annotations"] for r in out.values() if "alert" in r)


def test_dashboard_uid_prefix_tags_folder_and_sidecar_labels():
    import json

    files = render(
        load(
            {
                "dashboardUidPrefix": "pki-",
                "dashboardTags": ["pki"],
                "dashboardFolder": "PKI",
                "dashboardSidecarLabels": {"grafana_dashboard": "x509", "team": "pki"},
            }
        )
    )
    overview = json.loads(files["dashboards/pki-overview.json"])
    assert overview["uid"] == "pki-overview" and overview["tags"] == ["pki"]
    assert [link["url"] for link in overview["links"]] == ["/d/pki-inventory", "/d/pki-exporter"]
    assert "dashboards/x509-overview.json" not in files
    assert yaml.safe_load(files["dashboards/provisioning/x509-mixin.yaml"])["providers"][0]["folder"] == "PKI"
    maps = list(yaml.safe_load_all(files["dashboards/configmaps.yaml"]))
    assert [m["metadata"]["name"] for m in maps] == [
        "pki-overview-dashboard",
        "pki-inventory-dashboard",
        "pki-exporter-dashboard",
    ]
    assert all(m["metadata"]["labels"] == {"grafana_dashboard": "x509", "team": "pki"} for m in maps)
    assert all(m["metadata"]["annotations"] == {"grafana_folder": "PKI"} for m in maps)
    default = json.loads(render(load({}))["dashboards/x509-overview.json"])
    assert default["tags"] == ["x509", "certificates"]


OVERRIDES = [
    {"matchers": 'issuer_O="Let\'s Encrypt"', "warningDaysLeft": 20, "criticalDaysLeft": 7, "labels": {"team": "web"}},
    {
        "matchers": 'secret_namespace=~"payments|billing", subject_CN!=""',
        "warningDaysLeft": 60,
        "labels": {"owner": "p"},
    },
    {"matchers": 'filepath=~"/etc/ssl/certs/.*"', "ignore": True},
]


def test_certificate_overrides_are_one_rule_per_alert_with_the_entries_labels():
    # The promtool suite tests/promtool/overrides proves the behaviour; here, the shape.
    cfg = load({"certificateOverrides": OVERRIDES})
    assert [(o.index, o.warningDaysLeft, o.criticalDaysLeft, o.ignore) for o in cfg.certificateOverrides] == [
        (1, 20, 7, False),
        (2, 60, 14, False),
        (3, 28, 14, True),
    ]
    policed = rules({"certificateOverrides": OVERRIDES})
    thresholds = {
        "certificate:x509_cert_not_after:warning_threshold",
        "certificate:x509_cert_not_after:critical_threshold",
        "crl:x509_crl_next_update:warning_threshold",
    }
    assert set(policed) == set(DEFAULT) | thresholds
    warning = flat(policed["certificate:x509_cert_not_after:warning_threshold"]["expr"])
    # The entries in order, the global threshold last, their labels taken along.
    assert warning.count("label_replace(") == 2 and warning.count("+ -Inf") == 1
    assert (
        warning.index("20 * 86400") < warning.index("60 * 86400") < warning.index("-Inf") < warning.index("28 * 86400")
    )
    # One rule per alert, comparing with the recorded threshold and taking the entries' labels.
    assert flat(policed["X509CertificateRenewal"]["expr"]) == (
        f"( ({NOT_AFTER} - time()) < ignoring (owner, team) group_left (owner, team) "
        "certificate:x509_cert_not_after:warning_threshold ) > 0"
    )
    assert (
        '(threshold: {{ if eq $labels.issuer_O "Let\'s Encrypt" }}20 days'
        in policed["X509CertificateRenewal"]["annotations"]["description"]
    )
    # Every certificate and CRL alert reads a threshold (skips the ignored, carries the labels);
    # exporter alerts do not.
    for name, rule in policed.items():
        about_certificates = name.startswith(("X509Certificate", "X509CRL")) and name != "X509CertificateCollision"
        if name.startswith("X509"):
            assert ("_threshold" in rule["expr"]) == about_certificates, name
    # Without entries nothing changes.
    assert rules({"certificateOverrides": []}) == DEFAULT


def test_lint_disabled_turns_lint_checks_off_by_id_and_changes_no_output():
    from x509_mixin.generator.lint import lint

    own_runbooks = {"runbookUrlPattern": "https://wiki.example.org/x509#runbook-%s"}
    problems = lint(load(own_runbooks))
    assert len(problems) == len(DEFAULT_ALERTS) and all(
        p.startswith("alerts/runbook-anchor: alert X509") for p in problems
    )
    off = load({**own_runbooks, "lint": {"disabled": ["alerts/runbook-anchor"]}})
    assert off.lint.disabled == {"alerts/runbook-anchor"}
    assert lint(off) == []
    assert render(off) == render(load(own_runbooks))


def alertmanager_file(overrides=None) -> dict:
    return yaml.safe_load(render(load(overrides or {}))["rules/alertmanager.yaml"])


def severity_receivers(doc: dict) -> list[list[tuple[str, str]]]:
    """Per kind (certificates, then exporters): (severity matcher, receiver) of each route."""
    routes = doc["routes"] if "routes" in doc else doc["route"]["routes"]
    return [[(r["matchers"][0], r["receiver"]) for r in kind["routes"]] for kind in routes[0]["routes"]]


def test_alertmanager_receivers_name_the_receiver_of_each_severity():
    default = alertmanager_file()
    assert (
        severity_receivers(default)
        == [[('severity="critical"', "x509-page"), ('severity="warning"', "x509-ticket")]] * 2
    )
    assert default["receivers"] == [{"name": "x509-page"}, {"name": "x509-ticket"}]
    assert default["route"]["receiver"] == default["route"]["routes"][0]["receiver"] == "x509-ticket"
    # Merged per severity over the defaults; info gets a route once an alert is info.
    out = alertmanager_file(
        {
            "alertmanager": {"receivers": {"critical": "pagerduty-oncall", "info": "pki-chat"}},
            "severities": {"CertificateRenewal": "info"},
        }
    )
    assert severity_receivers(out)[0] == [
        ('severity="critical"', "pagerduty-oncall"),
        ('severity="warning"', "x509-ticket"),
        ('severity="info"', "pki-chat"),
    ]
    assert out["receivers"] == [{"name": "pagerduty-oncall"}, {"name": "x509-ticket"}, {"name": "pki-chat"}]
    # null: nowhere, through the receiver without integration, also the default one.
    nowhere = alertmanager_file({"alertmanager": {"receivers": {"warning": None}}})
    assert severity_receivers(nowhere)[1] == [('severity="critical"', "x509-page"), ('severity="warning"', "x509-null")]
    assert nowhere["route"]["receiver"] == "x509-null"
    assert nowhere["receivers"] == [{"name": "x509-page"}, {"name": "x509-null"}]


def test_alertmanager_group_timings_are_the_mixin_routes():
    route = alertmanager_file()["route"]["routes"][0]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == ("30s", "5m", "12h")
    out = alertmanager_file({"alertmanager": {"groupWait": "0s", "groupInterval": "1m", "repeatInterval": "1d"}})
    route = out["route"]["routes"][0]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == ("0s", "1m", "1d")
    assert set(out["route"]) == {"receiver", "routes"}  # the root keeps Alertmanager's defaults


def test_alertmanager_output_snippet_is_what_to_merge():
    text = render(load({"alertmanager": {"output": "snippet"}}))["rules/alertmanager.yaml"]
    assert "Your configuration\n# must define these receivers: x509-page, x509-ticket." in text
    snippet = yaml.safe_load(text)
    assert list(snippet) == ["routes", "receivers", "inhibit_rules"]
    assert snippet["routes"] == [alertmanager_file()["route"]["routes"][0]]
    assert snippet["receivers"] == [] and snippet["inhibit_rules"] == alertmanager_file()["inhibit_rules"]
    nowhere = alertmanager_file({"alertmanager": {"output": "snippet", "receivers": {"warning": None}}})
    assert nowhere["receivers"] == [{"name": "x509-null"}]


def test_every_default_key_is_covered_by_a_test_above():
    # Guard: a new key (and sub-key) needs a test showing its effect.
    import inspect
    import sys

    source = inspect.getsource(sys.modules[__name__])
    for key, value in DEFAULTS.items():
        assert f'"{key}"' in source, key
        for sub in value if isinstance(value, dict) and key != "dashboardSidecarLabels" else ():
            assert f'"{sub}"' in source, f"{key}.{sub}"


@pytest.mark.parametrize(
    "data,line",
    [
        ({"warningDayLeft": 3}, "config key warningDayLeft: unknown key; known keys are: "),
        (
            {"warningDaysLeft": "28"},
            "config key warningDaysLeft: invalid value '28': expected a number of days, got a string",
        ),
        (
            {"warningDaysLeft": 14},
            "config key warningDaysLeft: invalid value 14: must be greater than criticalDaysLeft (14)",
        ),
        (
            {"missedScrapeTolerance": "10 minutes"},
            "config key missedScrapeTolerance: invalid value '10 minutes': expected a Prometheus duration",
        ),
        (
            {"severities": {"CertificateRenewal": "page"}},
            "config key severities.CertificateRenewal: invalid value 'page': expected one of info, warning, critical",
        ),
        (
            {"severities": {"CertRenewal": "info"}},
            "config key severities.CertRenewal: invalid value 'info': unknown alert",
        ),
        ({"selector": 'job=~"('}, "config key selector: invalid value 'job=~\"(': not a PromQL label selector"),
        ({"selector": 'job="a"} or vector(1'}, "config key selector: invalid value"),
        ({"multiCluster": "yes"}, "config key multiCluster: invalid value 'yes': expected true or false"),
        ({"exporter": {"exposeNotBefor": True}}, "config key exporter.exposeNotBefor: unknown key"),
        (
            {"exporter": {"exposeExpired": False}},
            "config key exporter.exposeExpired: invalid value False: the mixin decides expiry and CRL staleness",
        ),
        ({"localityLabels": ["zone"]}, "config key localityLabels: invalid value 'zone': only reporterLabels"),
        (
            {"deduplicateReporters": False, "localityLabels": ["node"]},
            "config key localityLabels: invalid value ['node']: has no effect with deduplicateReporters: false",
        ),
        (
            {"extraAlertLabels": {"severity": "x"}},
            "config key extraAlertLabels.severity: invalid value 'x': set severities",
        ),
        (
            {"runbookUrlPattern": "https://x"},
            "config key runbookUrlPattern: invalid value 'https://x': expected exactly one %s",
        ),
        ({"renewalOverdueFraction": 1.5}, "config key renewalOverdueFraction: invalid value 1.5: expected a fraction"),
        ({"alertNamePrefix": "x509_"}, "config key alertNamePrefix: invalid value 'x509_': use CamelCase"),
        ({"prometheusRule": {"name": "Bad_Name"}}, "config key prometheusRule.name: invalid value 'Bad_Name'"),
        (
            {"multiCluster": True, "reporterLabels": ["cluster", "instance"]},
            "config key reporterLabels: invalid value 'cluster'",
        ),
        (
            {"grafanaUrl": "grafana.example.org"},
            "config key grafanaUrl: invalid value 'grafana.example.org': expected \"\" or Grafana's base URL",
        ),
        (
            {"dashboardUidPrefix": "x509 "},
            "config key dashboardUidPrefix: invalid value 'x509 ': expected at most 31 characters",
        ),
        ({"dashboardUidPrefix": "x" * 32}, "config key dashboardUidPrefix: invalid value 'xxxxxxxx"),
        ({"dashboardTags": "x509"}, "config key dashboardTags: invalid value 'x509': expected a list of strings"),
        ({"dashboardTags": [""]}, "config key dashboardTags: invalid value '': expected non-empty strings"),
        ({"dashboardFolder": ""}, "config key dashboardFolder: invalid value '': expected a folder title"),
        (
            {"dashboardSidecarLabels": {}},
            "config key dashboardSidecarLabels: invalid value {}: the Grafana sidecar needs a label",
        ),
        (
            {"dashboardSidecarLabels": {"grafana_dashboard": 1}},
            "config key dashboardSidecarLabels.grafana_dashboard: invalid value 1",
        ),
        ({"dashboardSidecarLabels": {"bad key": "1"}}, "config key dashboardSidecarLabels: invalid value 'bad key'"),
        (
            {"grafanaUrl": "https://g", "extraAlertAnnotations": {"dashboard_url": "x"}},
            "config key extraAlertAnnotations.dashboard_url: invalid value 'x': generated from grafanaUrl",
        ),
        # certificateOverrides: each refusal names the entry, the key, the value and the fix.
        ({"certificateOverrides": {"matchers": "x"}}, "config key certificateOverrides: invalid value {'matchers'"),
        ({"certificateOverrides": ["x"]}, "config key certificateOverrides[0]: invalid value 'x': expected a mapping"),
        (
            {"certificateOverrides": [{"warningDaysLeft": 20}]},
            "config key certificateOverrides[0].matchers: invalid value None: expected PromQL label matchers",
        ),
        (
            {"certificateOverrides": [{"matchers": 'issuer_O="Let', "warningDaysLeft": 20}]},
            "config key certificateOverrides[0].matchers: invalid value 'issuer_O=\"Let': not PromQL label matchers",
        ),
        (
            {"certificateOverrides": [{"matchers": '{issuer_O="x"}', "warningDaysLeft": 20}]},
            "config key certificateOverrides[0].matchers: invalid value '{issuer_O=\"x\"}': not PromQL label matchers",
        ),
        (
            {"certificateOverrides": [{"matchers": 'team="x"', "warningDaysLeft": 20}]},
            "config key certificateOverrides[0].matchers: invalid value 'team=\"x\"': no certificate series carries "
            "the label team",
        ),
        (
            {"certificateOverrides": [{"matchers": 'instance="x"', "warningDaysLeft": 20}]},
            "config key certificateOverrides[0].matchers: invalid value 'instance=\"x\"': instance names the "
            "exporter that reports a certificate",
        ),
        (
            {"certificateOverrides": [{"matchers": 'cluster="x"', "warningDaysLeft": 20}]},
            "config key certificateOverrides[0].matchers: invalid value 'cluster=\"x\"': no certificate series",
        ),
        (
            {"certificateOverrides": [{"matchers": 'issuer_O="x"', "warningDaysLeft": 10}]},
            "config key certificateOverrides[0].warningDaysLeft: invalid value 10: must be greater than "
            "criticalDaysLeft (14) for this entry",
        ),
        (
            {"certificateOverrides": [{"matchers": 'issuer_O="x"', "criticalDaysLeft": 30}]},
            "config key certificateOverrides[0].warningDaysLeft: invalid value 28: must be greater than "
            "criticalDaysLeft (30)",
        ),
        (
            {"certificateOverrides": [{"matchers": 'issuer_O="x"', "crlWarningDaysLeft": 0}]},
            "config key certificateOverrides[0].crlWarningDaysLeft: invalid value 0: expected a number of days",
        ),
        (
            {
                "certificateOverrides": [
                    {"matchers": 'issuer_O="x"', "labels": {"team": "a"}},
                    {"matchers": 'issuer_O="y"', "warningDays": 5},
                ]
            },
            "config key certificateOverrides[1].warningDays: invalid value 5: unknown key; known keys are: matchers, ",
        ),
        (
            {"certificateOverrides": [{"matchers": 'issuer_O="x"', "warningDaysLeft": 28}]},
            "config key certificateOverrides[0]: invalid value {'matchers': 'issuer_O=\"x\"', 'warningDaysLeft': 28}: "
            "this entry changes nothing",
        ),
        (
            {"certificateOverrides": [{"matchers": 'issuer_O="x"', "ignore": True, "warningDaysLeft": 40}]},
            "config key certificateOverrides[0].ignore: invalid value True: an ignored certificate raises no alert",
        ),
        (
            {"certificateOverrides": [{"matchers": 'issuer_O="x"', "ignore": "yes"}]},
            "config key certificateOverrides[0].ignore: invalid value 'yes': expected true or false",
        ),
        (
            {"certificateOverrides": [{"matchers": 'issuer_O="x"', "labels": {"severity": "page"}}]},
            "config key certificateOverrides[0].labels.severity: invalid value 'page': set severities",
        ),
        (
            {"certificateOverrides": [{"matchers": 'issuer_O="x"', "labels": {"subject_CN": "a"}}]},
            "config key certificateOverrides[0].labels.subject_CN: invalid value 'a': a certificate already carries",
        ),
        (
            {"certificateOverrides": [{"matchers": 'issuer_O="x"', "labels": {"bad-name": "a"}}]},
            "config key certificateOverrides[0].labels: invalid value 'bad-name': expected a Prometheus label name",
        ),
        (
            {"certificateOverrides": [{"matchers": 'issuer_O="x"', "labels": {"team": 1}}]},
            "config key certificateOverrides[0].labels.team: invalid value 1: expected a string",
        ),
        (
            {
                "extraAlertLabels": {"team": "pki"},
                "certificateOverrides": [{"matchers": 'issuer_O="x"', "labels": {"team": "a"}}],
            },
            "config key certificateOverrides[0].labels.team: invalid value 'a': extraAlertLabels sets this label",
        ),
        (
            {"lint": {"disabled": ["alerts/summery"]}},
            "config key lint.disabled: invalid value 'alerts/summery': unknown lint check; known checks are: "
            "rules/promtool, alerts/name, alerts/severity, alerts/summary,",
        ),
        ({"lint": {"disable": []}}, "config key lint.disable: unknown key; known keys are: disabled"),
        (
            {"lint": {"disabled": "alerts/name"}},
            "config key lint.disabled: invalid value 'alerts/name': expected a list",
        ),
        ({"alertmanager": {"receiver": {}}}, "config key alertmanager.receiver: unknown key; known keys are: "),
        (
            {"alertmanager": {"receivers": {"page": "oncall"}}},
            "config key alertmanager.receivers.page: invalid value 'oncall': unknown severity; use critical, "
            "warning or info",
        ),
        (
            {"alertmanager": {"receivers": {"info": ""}}},
            "config key alertmanager.receivers.info: invalid value '': expected a receiver name (letters, digits, "
            "spaces and -_.:@/), or null for nowhere",
        ),
        (
            {"alertmanager": {"receivers": {"warning": "x509-null"}}},
            "config key alertmanager.receivers.warning: invalid value 'x509-null': x509-null is the mixin's "
            "receiver for alerts sent nowhere; write null",
        ),
        (
            {"alertmanager": {"receivers": ["x509-page"]}},
            "config key alertmanager.receivers: invalid value ['x509-page']: expected a mapping of severities",
        ),
        (
            {"alertmanager": {"groupWait": "30 seconds"}},
            "config key alertmanager.groupWait: invalid value '30 seconds': expected a Prometheus duration",
        ),
        (
            {"alertmanager": {"groupInterval": "0s"}},
            "config key alertmanager.groupInterval: invalid value '0s': the duration must be greater than zero",
        ),
        (
            {"alertmanager": {"repeatInterval": "1m"}},
            "config key alertmanager.repeatInterval: invalid value '1m': must be at least groupInterval (5m)",
        ),
        (
            {"alertmanager": {"output": "file"}},
            "config key alertmanager.output: invalid value 'file': expected config (a whole Alertmanager "
            "configuration) or snippet",
        ),
        ({"alertmanager": "x509-page"}, "config key alertmanager: invalid value 'x509-page': expected a mapping"),
        (
            {"alertmanager": {"labelReceivers": {"team": {"payments": "payments-oncall"}}}},
            "config key alertmanager.labelReceivers.team: invalid value {'payments': 'payments-oncall'}: no "
            "certificateOverrides entry adds this label (they add: none); it would never match",
        ),
        (
            {
                "certificateOverrides": [{"matchers": 'issuer_O="x"', "labels": {"team": "web"}}],
                "alertmanager": {"labelReceivers": {"team": {"payment": "payments-oncall"}}},
            },
            "config key alertmanager.labelReceivers.team.payment: invalid value 'payments-oncall': no "
            "certificateOverrides entry sets team to it (they set: web)",
        ),
        (
            {
                "certificateOverrides": [{"matchers": 'issuer_O="x"', "labels": {"team": "web"}}],
                "alertmanager": {"labelReceivers": {"team": {"web": "x509-null"}}},
            },
            "config key alertmanager.labelReceivers.team.web: invalid value 'x509-null': x509-null is the mixin's",
        ),
        (
            {"errorsByReason": "yes"},
            "config key errorsByReason: invalid value 'yes': expected true or false",
        ),
        (
            {
                "errorsByReason": True,
                "disabledAlerts": [
                    "SourceErrors",
                    "SourceErrorsSustained",
                    "KubeTransportErrors",
                    "KubeTransportErrorsSustained",
                ],
            },
            "config key errorsByReason: invalid value True: every alert it splits by reason is in disabledAlerts",
        ),
        (
            {"alertmanager": {"labelReceivers": {"reason": {"bad_passphrase": "keystore-owners"}}}},
            "config key alertmanager.labelReceivers.reason: invalid value {'bad_passphrase': 'keystore-owners'}: "
            "only the error alerts carry reason, with errorsByReason: true; set it",
        ),
        (
            {"errorsByReason": True, "alertmanager": {"labelReceivers": {"reason": {"bad_passwd": "keystore"}}}},
            "config key alertmanager.labelReceivers.reason.bad_passwd: invalid value 'keystore': not a reason of "
            "x509_source_errors_total or x509_kube_transport_errors_total",
        ),
        (
            {"certificateOverrides": [{"matchers": 'issuer_O="x"', "labels": {"reason": "acme"}}]},
            "config key certificateOverrides[0].labels.reason: invalid value 'acme': the error alerts' label",
        ),
    ],
)
def test_bad_values_are_refused_with_one_line(data, line):
    with pytest.raises(ConfigError) as err:
        load(data)
    assert len(err.value.problems) == 1
    assert err.value.problems[0].startswith(line), err.value.problems[0]


def test_config_is_immutable():
    cfg = load({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.warningDaysLeft = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.severities["CertificateRenewal"] = "info"  # type: ignore[index]


def test_the_documented_overrides_examples_generate_the_documented_rule():
    # docs/configuration.md shows CertificateRenewal for its three examples together.
    import re
    from pathlib import Path

    import yaml

    doc = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()
    section = doc.split("### Per-certificate policies (certificateOverrides)")[1].split("\n### ")[0]
    entries = [
        e
        for block in re.findall(r"```yaml\n(.*?)```", section, re.S)
        for e in yaml.safe_load(block)["certificateOverrides"]
    ]
    assert len(entries) == 3
    recorded, alert = re.findall(r"\n```\n(.*?)```", section, re.S)[:2]
    generated = rules({"certificateOverrides": entries})
    assert recorded == generated["certificate:x509_cert_not_after:warning_threshold"]["expr"]
    assert alert == generated["X509CertificateRenewal"]["expr"]
