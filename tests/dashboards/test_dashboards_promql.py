"""Every target's PromQL, with the dashboard's variables substituted, parses and names only
metrics of the exporter's catalogue (as gated by the configuration), Prometheus' own `up` and
`scrape_duration_seconds`, or our recording rules."""

from __future__ import annotations

import promql_parser
import pytest
from dashboard_helpers import CONFIGS, built, substitute, targets

from x509_mixin.catalogue.metrics import BY_NAME
from x509_mixin.generator.dashboard_lint import nodes, recorded_names
from x509_mixin.mixin.config import load


def metric_names(config: str) -> set[str]:
    names = set()
    for model in built(config).values():
        for panel, target in targets(model):
            expr = substitute(target["expr"], model)
            assert "$" not in expr.replace('"$1"', ""), (panel["title"], expr)
            tree = promql_parser.parse(expr)
            names |= {n.name for n, _ in nodes(tree) if isinstance(n, promql_parser.VectorSelector)}
    return names


def _base(name: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in BY_NAME:
            return name[: -len(suffix)]
    return name


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_every_target_parses_and_names_known_metrics(config):
    recorded = recorded_names(load(CONFIGS[config]))
    names = metric_names(config)
    unknown = {
        n for n in names if _base(n) not in BY_NAME and n not in recorded and n not in ("up", "scrape_duration_seconds")
    }
    assert unknown == set()


def test_default_dashboards_use_no_gated_metric():
    names = {_base(n) for n in metric_names("defaults")}
    assert names == {
        "up",
        "scrape_duration_seconds",
        "certificate:x509_cert_not_after:max",
        "crl:x509_crl_next_update:max",
        "x509_source_up",
        "x509_source_bundles",
        "x509_source_errors_total",
        "x509_scrape_duration_seconds",
        "x509_exporter_build_info",
        "x509_panic_total",
        "x509_pkcs12_passphrase_failures_total",
        "x509_jks_passphrase_failures_total",
        "x509_kube_watch_resyncs_total",
        "x509_kube_transport_errors_total",
        "x509_cert_collision_dropped_total",
        "state:x509_cert_not_after:count",
        "within:x509_cert_not_after:count",
        "issuer_CN:x509_cert_not_after:count",
        "object_namespace:x509_cert_not_after:count",
        "place_kind:x509_cert_not_after:count",
        "place_kind:x509_cert_not_after:min",
    }


def test_gates_add_their_panels_metrics():
    on = {_base(n) for n in metric_names("everything-on")} - {_base(n) for n in metric_names("defaults")}
    assert on == {
        "certificate:x509_cert_not_before:max",
        "bundle:x509_cert_error:max",
        "x509_informer_queue_depth",
        "x509_kube_informer_scope",
        "format:x509_parse_duration_seconds:p99_rate5m",
        "verb_resource:x509_kube_request_duration_seconds:p99_rate5m",
    }
