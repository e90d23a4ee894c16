"""rules/alertmanager.yaml: which alerts it names, how it groups, routes and inhibits them, and
that Alertmanager's own amtool accepts every variant and routes each alert where it should."""

from __future__ import annotations

import shutil

import pytest
import yaml

from x509_mixin.generator import amtool, routes_tests
from x509_mixin.generator.build import ALERTMANAGER_FILE, alertmanager_text, render
from x509_mixin.generator.unittests import suites
from x509_mixin.mixin.alertmanager import inhibitions
from x509_mixin.mixin.alerts import alert_groups
from x509_mixin.mixin.config import ALERT_NAMES, load

needs_amtool = pytest.mark.skipif(shutil.which("amtool") is None, reason="needs amtool (make tools)")

CERT_IDENTITY = (
    "filename, filepath, embedded_kind, embedded_key, secret_namespace, secret_name, secret_key, "
    "configmap_namespace, configmap_name, configmap_key, cabundle_resource_kind, cabundle_resource_name, "
    "cabundle_entry, serial_number, crl_number, issuer_C, issuer_ST, issuer_L, issuer_O, issuer_OU, issuer_CN, "
    "subject_C, subject_ST, subject_L, subject_O, subject_OU, subject_CN, discriminator"
).split(", ")


def generated(overrides=None) -> dict:
    return yaml.safe_load(render(load(overrides or {}))[ALERTMANAGER_FILE])


def mixin_route(doc: dict) -> dict:
    return (doc["routes"] if "routes" in doc else doc["route"]["routes"])[0]


def test_the_mixin_route_names_exactly_the_generated_alerts():
    route = mixin_route(generated())
    assert route["matchers"] == [
        'alertname=~"^(X509SourceErrors|X509SourceErrorsSustained|X509SourceDown|X509SourceAbsent|'
        "X509KubeTransportErrors|X509KubeTransportErrorsSustained|X509KeystorePassphraseFailures|"
        "X509CertificateRenewal|X509CertificateExpiration|X509CertificateCollision|X509CRLNeedsRefresh|"
        "X509CRLStale|X509ExporterDown|X509ExporterAbsent|X509SourceBundlesLost|X509ExporterPanics|"
        'X509KubeWatchResyncStorm|X509ExporterSlowScrapes)$"'
    ]
    kinds = [r["matchers"] for r in route["routes"]]
    assert kinds == [
        ['alertname=~"^(X509CertificateRenewal|X509CertificateExpiration|X509CRLNeedsRefresh|X509CRLStale)$"'],
        [
            'alertname=~"^(X509SourceErrors|X509SourceErrorsSustained|X509SourceDown|X509SourceAbsent|'
            "X509KubeTransportErrors|X509KubeTransportErrorsSustained|X509KeystorePassphraseFailures|"
            "X509CertificateCollision|X509ExporterDown|X509ExporterAbsent|X509SourceBundlesLost|X509ExporterPanics|"
            'X509KubeWatchResyncStorm|X509ExporterSlowScrapes)$"'
        ],
    ]


def test_names_follow_the_prefix_and_disabled_or_gated_alerts_are_not_mentioned():
    text = render(load({"alertNamePrefix": "Pki", "disabledAlerts": ["KubeWatchResyncStorm", "CRLStale"]}))[
        ALERTMANAGER_FILE
    ]
    for absent in ("KubeWatchResyncStorm", "CRLStale", "X509", "CertificateRenewalOverdue", "CertificateError"):
        assert absent not in text
    doc = yaml.safe_load(text)
    assert mixin_route(doc)["routes"][0]["matchers"] == [
        'alertname=~"^(PkiCertificateRenewal|PkiCertificateExpiration|PkiCRLNeedsRefresh)$"'
    ]
    # CRLStale's inhibition is gone with it.
    assert [r["source_matchers"] for r in doc["inhibit_rules"]][:2] == [
        ['alertname="PkiCertificateExpiration"'],
        ['alertname="PkiSourceErrorsSustained"'],
    ]


def test_extra_alert_labels_narrow_every_matcher():
    doc = generated({"alertNamePrefix": "", "extraAlertLabels": {"team": "pki", "note": 'say "hi"'}})
    assert mixin_route(doc)["matchers"][1:] == ['team="pki"', 'note="say \\"hi\\""']
    for rule in doc["inhibit_rules"]:
        assert rule["source_matchers"][1:] == rule["target_matchers"][1:] == ['team="pki"', 'note="say \\"hi\\""']


@pytest.mark.parametrize(
    "overrides,certificates,exporters",
    [
        (
            {},
            ["alertname", "cluster", "secret_namespace", "configmap_namespace", "cabundle_resource_kind", "node"],
            ["alertname", "cluster", "job", "source_name"],
        ),
        (
            {"multiCluster": True, "clusterLabel": "k8s_cluster", "selector": 'job="certs", env=~"prod|staging"'},
            [
                "alertname",
                "k8s_cluster",
                "env",
                "secret_namespace",
                "configmap_namespace",
                "cabundle_resource_kind",
                "node",
            ],
            ["alertname", "k8s_cluster", "env", "job", "source_name"],
        ),
        (
            {"deduplicateReporters": False, "localityLabels": []},
            ["alertname", "cluster", "secret_namespace", "configmap_namespace", "cabundle_resource_kind"],
            ["alertname", "cluster", "job", "source_name"],
        ),
        (
            {"localityLabels": ["node", "instance"]},
            [
                "alertname",
                "cluster",
                "secret_namespace",
                "configmap_namespace",
                "cabundle_resource_kind",
                "node",
                "instance",
            ],
            ["alertname", "cluster", "job", "source_name"],
        ),
    ],
    ids=["defaults", "multi-cluster-and-scope", "per-reporter", "locality"],
)
def test_grouping_per_kind(overrides, certificates, exporters):
    kinds = mixin_route(generated(overrides))["routes"]
    assert [k["group_by"] for k in kinds] == [certificates, exporters]


def test_inhibitions_of_the_default_configuration():
    rules = [(r.source, r.targets, r.equal) for r in inhibitions(load())]
    per_target = (
        "SourceErrors",
        "SourceErrorsSustained",
        "SourceDown",
        "KubeTransportErrors",
        "KubeTransportErrorsSustained",
        "KeystorePassphraseFailures",
        "CertificateCollision",
        "SourceBundlesLost",
        "ExporterPanics",
        "KubeWatchResyncStorm",
        "ExporterSlowScrapes",
    )
    certificate = ("cluster", *CERT_IDENTITY, "node")
    source = ("cluster", "job", "instance", "source_kind", "source_name")
    assert rules == [
        ("CertificateExpiration", ("CertificateRenewal",), certificate),
        ("CRLStale", ("CRLNeedsRefresh",), certificate),
        ("SourceErrorsSustained", ("SourceErrors",), source),
        ("KubeTransportErrorsSustained", ("KubeTransportErrors",), source),
        ("ExporterDown", per_target, ("cluster", "job", "instance")),
        ("ExporterAbsent", (*per_target, "SourceAbsent"), ("cluster",)),
    ]


def test_inhibition_labels_follow_the_configuration():
    everything = {"exporter": {"exposeNotBefore": True}}
    rules = {r.source: r for r in inhibitions(load(everything))}
    assert rules["CertificateExpiration"].targets == ("CertificateRenewal", "CertificateRenewalOverdue")
    assert rules["CertificateRenewalOverdue"].targets == ("CertificateRenewal",)
    multi = {
        r.source: r.equal
        for r in inhibitions(load({"multiCluster": True, "clusterLabel": "k8s", "selector": 'job="c", env="prod"'}))
    }
    assert multi["CertificateExpiration"] == ("k8s", "env", *CERT_IDENTITY, "node")
    assert multi["ExporterDown"] == ("k8s", "env", "job", "instance")
    assert multi["ExporterAbsent"] == ("k8s",)
    # Without deduplication an alert per reporter: every reporter label it keeps is compared.
    per_reporter = {r.source: r.equal for r in inhibitions(load({"deduplicateReporters": False}))}
    assert per_reporter["CertificateExpiration"] == (
        "cluster",
        *CERT_IDENTITY,
        "job",
        "instance",
        "pod",
        "container",
        "endpoint",
        "service",
        "namespace",
        "node",
    )
    # A rule goes with its source, or with all its targets.
    gone = {r.source for r in inhibitions(load({"disabledAlerts": ["ExporterDown", "CRLNeedsRefresh"]}))}
    assert "ExporterDown" not in gone and "CRLStale" not in gone and "ExporterAbsent" in gone


def _suite_labels():
    """Per promtool suite: its configuration, and the labels each alert really carries there."""
    for suite in suites():
        cfg = load(suite.config)
        found: dict[str, list[set[str]]] = {}
        for path in suite.files:
            for test in yaml.safe_load(path.read_text()).get("tests", []):
                for rule in test.get("alert_rule_test", []):
                    base = rule["alertname"][len(cfg.alertNamePrefix) :]
                    for alert in rule.get("exp_alerts") or []:
                        found.setdefault(base, []).append(set(alert.get("exp_labels", {})) - {"severity"})
        yield suite.name, cfg, found


def test_inhibitions_compare_every_label_the_alerts_carry_and_that_both_sides_have():
    """Cross-checked with the labels the promtool suites prove: two alerts that differ in any
    label are about different things (inhibition never crosses certificates or sources), and the
    `equal` labels ExporterDown and ExporterAbsent carry are carried by their targets (or they
    could never match)."""
    checked = set()
    for name, cfg, carried in _suite_labels():
        for rule in inhibitions(cfg):
            sides = [b for b in (rule.source, *rule.targets) if b in carried]
            if rule.source not in ("ExporterDown", "ExporterAbsent"):
                for base in sides:
                    for labels in carried[base]:
                        assert labels <= set(rule.equal), (name, base, labels - set(rule.equal))
                        checked.add(base)
                continue
            # A target or a scope silences what it runs: each target carries what the source does.
            for source_labels in carried.get(rule.source, []):
                for target in rule.targets:
                    for labels in carried.get(target, []):
                        assert source_labels & set(rule.equal) <= labels, (name, rule.source, target)
                        checked.add(target)
    # Every alert an inhibition names was seen in some suite, but SourceAbsent beside ExporterAbsent:
    # they never fire together (SourceAbsent needs a running exporter in the scope).
    targets = {t for r in inhibitions(load({"exporter": {"exposeNotBefore": True}})) for t in r.targets}
    assert checked == targets - {"SourceAbsent"} | {
        "CertificateExpiration",
        "CertificateRenewalOverdue",
        "CRLStale",
        "SourceErrorsSustained",
        "KubeTransportErrorsSustained",
    }


# ---- amtool ----------------------------------------------------------------------------

VARIANTS = {
    "defaults": {},
    "snippet": {"alertmanager": {"output": "snippet"}},
    **routes_tests.VARIANTS,
    "multi-cluster, per reporter": {"multiCluster": True, "clusterLabel": "k8s", "deduplicateReporters": False},
    "chart names, extra labels": {"alertNamePrefix": "", "extraAlertLabels": {"team": "pki", "page": "false"}},
    "one alert": {"disabledAlerts": [n for n in ALERT_NAMES if n != "CertificateExpiration"]},
    "no alert": {"disabledAlerts": list(ALERT_NAMES)},
    "no alert, snippet": {"disabledAlerts": list(ALERT_NAMES), "alertmanager": {"output": "snippet"}},
}


@needs_amtool
@pytest.mark.parametrize("overrides", VARIANTS.values(), ids=VARIANTS.keys())
def test_amtool_check_config_accepts_every_variant(overrides, tmp_path):
    cfg = load(overrides)
    path = tmp_path / "alertmanager.yaml"
    path.write_text(alertmanager_text(cfg))
    result = amtool.check_config(amtool.loadable(cfg, path))
    assert result.ok, result.output


@needs_amtool
def test_amtool_check_config_refuses_a_broken_file(tmp_path):
    doc = generated()
    doc["receivers"] = doc["receivers"][:1]  # x509-ticket no longer defined
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = amtool.check_config(path)
    assert not result.ok and 'undefined receiver "x509-ticket" used in route' in result.output


def test_a_snippet_merges_first_into_the_host_routes():
    snippet = generated({"alertmanager": {"output": "snippet", "receivers": {"warning": None}}})
    host = {
        "route": {"receiver": "ops", "routes": [{"matchers": ['team="web"'], "receiver": "web"}]},
        "receivers": [{"name": "ops"}, {"name": "web"}, {"name": "x509-page"}],
        "inhibit_rules": [{"source_matchers": ['a="1"'], "target_matchers": ['b="1"']}],
    }
    merged = amtool.merge_snippet(snippet, host)
    assert merged["route"]["routes"] == [snippet["routes"][0], host["route"]["routes"][0]]
    assert [r["name"] for r in merged["receivers"]] == ["ops", "web", "x509-page", "x509-null"]
    assert merged["inhibit_rules"] == host["inhibit_rules"] + snippet["inhibit_rules"]


def _routes(overrides) -> dict[str, str]:
    outcomes = routes_tests.run(load(overrides))
    assert all(o.ok for o in outcomes), [(o.case, o.got) for o in outcomes if not o.ok]
    return {
        o.case.labels["alertname"] + (f" ({o.case.note})" if o.case.note else ""): ",".join(o.got) for o in outcomes
    }


@needs_amtool
def test_routes_of_the_default_configuration():
    page, ticket = "x509-page", "x509-ticket"
    assert _routes({}) == {
        "X509SourceErrors": ticket,
        "X509SourceErrorsSustained": page,
        "X509SourceDown": page,
        "X509SourceAbsent": ticket,
        "X509KubeTransportErrors": ticket,
        "X509KubeTransportErrorsSustained": page,
        "X509KeystorePassphraseFailures": ticket,
        "X509CertificateRenewal": ticket,
        "X509CertificateExpiration": page,
        "X509CertificateCollision": ticket,
        "X509CRLNeedsRefresh": ticket,
        "X509CRLStale": page,
        "X509ExporterDown": ticket,
        "X509ExporterAbsent": page,
        "X509SourceBundlesLost": ticket,
        "X509ExporterPanics": ticket,
        "X509KubeWatchResyncStorm": ticket,
        "X509ExporterSlowScrapes": ticket,
        # A critical alert that is not the mixin's goes to the default receiver, not the pager.
        "X509CertificateExpirationSoon (not generated)": ticket,
        "X509CertificateError (not generated)": ticket,
        "X509CertificateNotYetValid (not generated)": ticket,
        "X509CertificateRenewalOverdue (not generated)": ticket,
    }


@needs_amtool
def test_routes_of_a_snippet_with_chart_names_and_own_receivers():
    page, jira, null, host = "pagerduty-oncall", "jira-pki", "x509-null", amtool.HOST_RECEIVER
    assert _routes(routes_tests.VARIANTS["snippet, chart names"]) == {
        "SourceErrors": jira,
        "SourceErrorsSustained": page,
        "SourceDown": page,
        "SourceAbsent": jira,
        "KubeTransportErrors": jira,
        "KubeTransportErrorsSustained": page,
        "KeystorePassphraseFailures": jira,
        "CertificateRenewal": null,  # info: nowhere
        "CertificateExpiration": page,
        "CertificateCollision": jira,
        "CRLNeedsRefresh": null,
        "CRLStale": page,
        "ExporterDown": page,  # made critical
        "ExporterAbsent": page,
        "SourceBundlesLost": jira,
        "ExporterPanics": jira,
        "ExporterSlowScrapes": jira,
        "CertificateExpirationSoon (not generated)": host,
        "CertificateError (not generated)": host,
        "CertificateNotYetValid (not generated)": host,
        "KubeWatchResyncStorm (not generated)": host,
        "CertificateRenewalOverdue (not generated)": host,
        "CertificateExpiration (without team=pki)": host,
    }


@needs_amtool
def test_routes_with_every_alert_warnings_nowhere_and_info_to_chat():
    routes = _routes(routes_tests.VARIANTS["every alert, warnings nowhere, info to chat"])
    assert routes["X509CertificateNotYetValid"] == "pki-chat"
    assert {name for name, r in routes.items() if r == "x509-page"} == {
        "X509SourceErrorsSustained",
        "X509SourceDown",
        "X509KubeTransportErrorsSustained",
        "X509CertificateExpiration",
        "X509CRLStale",
        "X509ExporterAbsent",
    }
    nowhere = {name for name, r in routes.items() if r == "x509-null"}
    assert len(routes) == 22 and nowhere == set(routes) - {"X509CertificateNotYetValid"} - {
        name for name, r in routes.items() if r == "x509-page"
    }


@needs_amtool
def test_alerts_go_to_the_receiver_their_labels_name():
    # Issue 16: entries add team=payments / team=web; alertmanager.labelReceivers routes on them.
    # Issue 17: with errorsByReason the error alerts carry `reason`, and route on it too.
    routes = _routes(routes_tests.VARIANTS["owners and error reasons"])
    assert {name: r for name, r in routes.items() if "team=" in name} == {
        "X509CertificateRenewal (team=payments)": "payments-oncall",
        "X509CertificateRenewal (team=web)": "x509-null",
        "X509CertificateExpiration (team=payments)": "payments-oncall",
        "X509CertificateExpiration (team=web)": "x509-null",
        # info goes nowhere, owner or not
        "X509CRLNeedsRefresh (team=payments)": "x509-null",
        "X509CRLNeedsRefresh (team=web)": "x509-null",
        "X509CRLStale (team=payments)": "payments-oncall",
        "X509CRLStale (team=web)": "x509-null",
    }
    assert {name: r for name, r in routes.items() if "reason=" in name} == {
        f"{alert} (reason={reason})": receiver
        for alert in (
            "X509SourceErrors",
            "X509SourceErrorsSustained",
            "X509KubeTransportErrors",
            "X509KubeTransportErrorsSustained",
        )
        for reason, receiver in (("bad_passphrase", "keystore-owners"), ("http_403", "platform-rbac"))
    }
    # Without the label, the severity's receiver; exporter alerts never go to an owner.
    assert routes["X509CertificateExpiration"] == "x509-page" and routes["X509CertificateRenewal"] == "x509-ticket"
    assert routes["X509ExporterDown"] == "x509-ticket" and routes["X509SourceErrors"] == "x509-ticket"
    doc = generated(routes_tests.VARIANTS["owners and error reasons"])
    assert [r["name"] for r in doc["receivers"]] == [
        "x509-page",
        "x509-ticket",
        "x509-null",
        "payments-oncall",
        "keystore-owners",
        "platform-rbac",
    ]
    exporter_route = doc["route"]["routes"][0]["routes"][1]
    assert exporter_route["routes"][:2] == [
        {"matchers": ['reason="bad_passphrase"'], "receiver": "keystore-owners"},
        {"matchers": ['reason="http_403"'], "receiver": "platform-rbac"},
    ]


def test_error_alerts_split_by_reason_silence_per_reason():
    cfg = load({"errorsByReason": True})
    rule = next(r for r in inhibitions(cfg) if r.source == "SourceErrorsSustained")
    assert rule.equal == ("cluster", "job", "instance", "source_kind", "source_name", "reason")
    assert "reason" not in next(r for r in inhibitions(load()) if r.source == "SourceErrorsSustained").equal


@needs_amtool
def test_a_wrong_route_tree_is_caught(monkeypatch):
    # A prefix regex (the mistake this design avoids) sends another team's alert to the pager.
    from x509_mixin.mixin import alertmanager

    real = alertmanager.names_matcher
    monkeypatch.setattr(alertmanager, "names_matcher", lambda cfg, bases: real(cfg, bases).replace(")$", ").*"))
    outcomes = routes_tests.run(load())
    wrong = {o.case.labels["alertname"]: o.got for o in outcomes if not o.ok}
    assert wrong == {"X509CertificateExpirationSoon": ["x509-page"], "X509CertificateRenewalOverdue": ["x509-page"]}


@pytest.mark.parametrize("overrides", [{}, {"exporter": {"exposeNotBefore": True}}, {"alertNamePrefix": ""}])
def test_every_silenced_alert_is_evaluated_before_the_alert_that_silences_it(overrides):
    # Prometheus sends each rule's alerts right after evaluating it: on a renewal, the held
    # alert's resolution then reaches Alertmanager first and never fires unsilenced meanwhile.
    cfg = load(overrides)
    order = [r["alert"][len(cfg.alertNamePrefix) :] for r in alert_groups(cfg)[0]["rules"] if "alert" in r]
    for rule in inhibitions(cfg):
        assert all(order.index(t) < order.index(rule.source) for t in rule.targets), rule.source


def test_docs_generated_part_is_up_to_date():
    from x509_mixin.generator.alertmanager_docs import BEGIN, DOC, updated

    text = DOC.read_text()
    assert text.count(BEGIN) == 1 and updated(text) == text, "docs/alertmanager.md is stale: run make generate"
    # It shows the committed file itself.
    assert render(load())[ALERTMANAGER_FILE].rstrip("\n") in text
